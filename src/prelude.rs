//! `use interprim::prelude::*;` brings in what a notebook or script needs to extract and inspect
//! interactions.

pub use crate::api::{
    compare_with, extract_generalizable, extract_generalizable_with, extract_traditional,
    extract_traditional_with, sentence_values, Comparison, ExplicitPlayers, ExtractOptions,
    GeneralizableResult, LrScale, ModelResult, NamedInteraction, SentenceValues, TextClassifier,
    TraditionalResult,
};
pub use crate::coalition::{Coalition, MAX_PLAYERS};
pub use crate::decomposition::{
    decompose_generalizable, decompose_traditional, gamma_bounds_over_samples, Decomposition,
    GeneralizableOptions, LrSchedule, Optimizer, TraditionalOptions,
};
pub use crate::digits::{
    explain_digit, masked_images, patch_svg, patch_values, patches_html, replicate_digits,
    seeded_threes, select_patches, top_shared, DigitsArgs, Patch, PatchFigure, PatchFigureItem,
    PatchOptions,
};
pub use crate::display::highlight_sentence;
pub use crate::display::{Figure, InteractionsView, MimeBundle, Report, Table};
pub use crate::error::{Error, Result};
pub use crate::interactions::{Interaction, Interactions, Kind};
pub use crate::metrics::{
    generalization_curve, generalization_power_topk, shared_and_distinctive, GeneralizationCurve,
    SharedSplit,
};
pub use crate::metrics::{MatchingError, OrderSums, SalientCount};
pub use crate::models::digit_net::{DigitClassifier, DigitModel};
pub use crate::replication::{PaperNumbers, SampleResult, Summary};
pub use crate::sentiment::{
    load_default_model, load_default_models, replicate_sentiment, SentimentArgs,
};
pub use crate::study::{alpha_figures, alpha_table, notebook_samples, AlphaRun, Progress, Study};
pub use crate::text::baseline::Baseline;
pub use crate::text::value::ValueCache;
pub use crate::train::SentimentModel;
pub use crate::transform::{and_interactions, or_interactions, reconstruct, shapley_values};
