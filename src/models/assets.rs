//! Where scripts/fetch-assets.sh puts the pinned models and data (method §6), so code and tests find
//! them without configuration: `$INTERPRIM_CACHE/assets`, else `<crate root>/.cache/assets`.

use std::path::PathBuf;

/// The fix to print when an asset is missing or corrupt.
pub const FETCH_HINT: &str =
    "run scripts/fetch-assets.sh (downloads the pinned packages and verifies their sha256)";

/// Root of the asset cache.
pub fn asset_root() -> PathBuf {
    match std::env::var_os("INTERPRIM_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("assets"),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(".cache")
            .join("assets"),
    }
}

/// all-MiniLM-L6-v2: config.json, tokenizer.json, model.safetensors.
pub fn minilm_l6_dir() -> PathBuf {
    asset_root().join("minilm-l6")
}

/// paraphrase-MiniLM-L3-v2 converted from ONNX: config.json, tokenizer.json, model.safetensors.
pub fn minilm_l3_dir() -> PathBuf {
    asset_root().join("minilm-l3")
}

/// The ONNX export that minilm-l3 is converted from.
pub fn minilm_l3_onnx() -> PathBuf {
    asset_root()
        .join("onnx")
        .join("paraphrase-MiniLM-L3-v2.onnx")
}

/// movieReviewSnippets_GroundTruth.txt and nytEditorialSnippets_GroundTruth.txt.
pub fn sentences_dir() -> PathBuf {
    asset_root().join("sentences")
}

/// SmolLM2-135M-Instruct, GGUF Q4_1 (LLaMA architecture; `scripts/fetch-assets.sh lm`).
pub fn smollm2_gguf() -> PathBuf {
    asset_root()
        .join("lm")
        .join("SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Gemma-3-270M (base), GGUF Q4_K_M, joined from its four PyPI parts (`scripts/fetch-assets.sh lm`).
pub fn gemma3_gguf() -> PathBuf {
    asset_root().join("lm").join("gemma-3-270m-q4_k_m.gguf")
}
