//! The text side: sentence → word players ([`players`]) → masked inputs ([`masking`], with the
//! baselines of [`baseline`], learned through the differentiable copy of the classifier in
//! [`diff`]). The games that turn them into values are in [`crate::games`]: a classifier's
//! log-odds ([`crate::games::text`]) and a language model's next word ([`crate::games::lm`]).

pub mod baseline;
pub mod diff;
pub mod masking;
pub mod players;

pub use baseline::{learn_baseline, Baseline, LearnBaselineOptions, LearnedBaseline, SpecialToken};
pub use masking::{log_odds, MaskedSentence, ProgressFn, ResolvedBaseline, DEFAULT_BATCH};
pub use players::{split_words, PlayerSelection, Players, Word, DEFAULT_PLAYERS, STOP_WORDS};
