//! The text side of the pipeline: sentence → word players → masked inputs → v(x_T).
//!
//! [`players`] chooses the words, [`baseline`] what replaces a masked word (and learns a baseline),
//! [`value`] runs a classifier on all 2^n masked sentences and caches what it returns, [`diff`] is a
//! differentiable copy of the classifier for learning baselines. [`lm_value`] is the same for
//! causal language models (task 2): the log-odds of the predicted next word's first token on all
//! 2^n masked prompts, with prefix sharing between masks. [`crate::api`] puts them together
//! with the decompositions.

pub mod baseline;
pub mod diff;
pub mod lm_value;
pub mod players;
pub mod value;

pub use baseline::{
    learn_baseline, Baseline, LearnBaselineOptions, LearnedBaseline, ResolvedBaseline, SpecialToken,
};
pub use players::{split_words, PlayerSelection, Players, Word, DEFAULT_PLAYERS, STOP_WORDS};
pub use value::{
    log_odds, CacheKey, Logits, MaskedSentence, ProgressFn, Target, ValueCache, ValueVector,
    DEFAULT_BATCH,
};
