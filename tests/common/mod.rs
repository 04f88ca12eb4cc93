//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod compare;
pub mod dense;
pub mod tiny_bert;

use std::path::PathBuf;

use interprim::models::assets;

/// True when every path exists. Otherwise: a panic under `INTERPRIM_REQUIRE_ASSETS` (the test
/// suite of scripts/test.sh), else a SKIPPED note naming the fetch command, and false.
pub fn assets_present(test: &str, paths: &[PathBuf], fetch: &str) -> bool {
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: assets missing ({}); run scripts/fetch-assets.sh {fetch}",
        missing.join(", ")
    );
    if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
        panic!("INTERPRIM_REQUIRE_ASSETS is set but {msg}");
    }
    eprintln!("SKIPPED {msg}");
    false
}

/// The MiniLM models, their fine-tuned weights and the sentences.
pub fn sentiment_assets(test: &str) -> bool {
    assets_present(
        test,
        &[
            assets::minilm_l6_dir().join("model.safetensors"),
            assets::minilm_l3_dir().join("model.safetensors"),
            assets::sentences_dir().join("movieReviewSnippets_GroundTruth.txt"),
        ],
        "sentiment",
    )
}

/// The two GGUF language models and the NYT prompts.
pub fn lm_assets(test: &str) -> bool {
    assets_present(
        test,
        &[
            assets::smollm2_gguf(),
            assets::gemma3_gguf(),
            assets::sentences_dir().join("nytEditorialSnippets_GroundTruth.txt"),
        ],
        "sentiment lm",
    )
}

/// The MNIST digits (the CNNs are committed).
pub fn digits_assets(test: &str) -> bool {
    assets_present(
        test,
        &[interprim::data::digits::default_dir().join("3.json")],
        "digits",
    )
}

/// Largest |a − b| over all elements of two tensors of the same shape (panics on a shape mismatch).
pub fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Cases per proptest: `default`, or `PROPTEST_CASES` when set (to run a property harder).
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
