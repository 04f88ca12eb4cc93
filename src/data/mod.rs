//! Data sets the models are trained and evaluated on, loaded from the asset cache of
//! scripts/fetch-assets.sh, with seeded splits so that every run sees the same held-out sentences.

pub mod digits;
pub mod prompts;
pub mod sentences;
