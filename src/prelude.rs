//! `use interprim::prelude::*;` brings in what a notebook or script needs to extract and inspect
//! interactions.

pub use crate::coalition::{Coalition, MAX_PLAYERS};
pub use crate::decomposition::{
    decompose, decompose_generalizable, decompose_traditional, gamma_bounds_over_samples,
    Decomposition, DecompositionOptions, LrSchedule, Method, Optimizer, SolverKind,
};
pub use crate::error::{Error, Result};
pub use crate::explain::{explain, explain_values, ExplainOptions, Explanation, Methods};
pub use crate::game::{evaluate, Budget, EvalOptions, FnGame, Game, GameValues, VectorGame};
pub use crate::interactions::{Interaction, Interactions, Kind};
pub use crate::metrics::{
    generalization_curve, generalization_power_topk, shared_and_distinctive, GeneralizationCurve,
    MatchingError, OrderSums, SalientCount, SharedSplit,
};
pub use crate::transform::{and_interactions, or_interactions, reconstruct, shapley_values};

#[cfg(feature = "models")]
pub use crate::api::{
    compare_from_values, compare_with, extract_generalizable, extract_generalizable_from_values,
    extract_generalizable_with, extract_traditional, extract_traditional_with, sentence_values,
    Comparison, ExplicitPlayers, ExtractOptions, GeneralizableResult, ModelResult,
    NamedInteraction, SentenceValues, TraditionalResult,
};
#[cfg(feature = "models")]
pub use crate::games::{
    image::{masked_images, patch_values, select_patches, ImageGame, Patch, PatchOptions},
    lm::{LmBaseline, LmGame},
    text::{Target, TextClassifier, TextGame},
};
#[cfg(feature = "models")]
pub use crate::models::digit_net::DigitClassifier;
#[cfg(feature = "models")]
pub use crate::models::registry::{DigitModel, SentimentModel};
#[cfg(feature = "models")]
pub use crate::text::baseline::Baseline;

#[cfg(all(feature = "plot", feature = "models"))]
pub use crate::display::highlight_sentence;
#[cfg(feature = "plot")]
pub use crate::display::{InteractionsView, MimeBundle, Report, Table};
#[cfg(all(feature = "plot", feature = "models"))]
pub use crate::plot::patches::{patch_svg, patches_html, top_shared, PatchFigure, PatchFigureItem};
#[cfg(feature = "plot")]
pub use crate::plot::Figure;

pub use crate::game::ValueCache;
pub use crate::progress::{progress_line, Event, Observer};
pub use crate::run::{PaperNumbers, SampleResult, Summary};

#[cfg(feature = "tasks")]
pub use crate::run::spread::{Spread, SpreadLine};
#[cfg(feature = "tasks")]
pub use crate::run::study::{alpha_figures, alpha_table, AlphaRun, Study};
#[cfg(feature = "tasks")]
pub use crate::tasks::digits::{explain_digit, replicate_digits, seeded_threes, DigitsArgs};
#[cfg(feature = "tasks")]
pub use crate::tasks::next_word::{replicate_next_word, NextWordArgs};
#[cfg(feature = "tasks")]
pub use crate::tasks::sentiment::{
    load_default_model, load_default_models, replicate_sentiment, SentimentArgs,
};
#[cfg(feature = "tasks")]
pub use crate::tasks::{notebook_samples, RunOptions};
