//! Pretrained networks behind the value functions, one file per network as in candle-transformers
//! (a `Config`, the network built from a `VarBuilder`, its forward passes):
//!
//! - [`bert`]: a BERT sequence classifier that can be driven by token ids or by (maskable) input
//!   embeddings, with its fused CPU inference path (internal `bert_cpu`), and its tokenizer with
//!   word spans ([`tokenizer`]);
//! - [`llama`], [`gemma3`] (shared parts in [`decoder`]): causal language models from GGUF files,
//!   behind [`causal_lm`], with tokenizers built from the GGUF metadata ([`gguf_tokenizer`]);
//! - [`resnet`], [`vgg`] (shared layers in [`cnn`]): the digit CNNs of the image task, behind
//!   [`digit_net`], with their fused CPU path (internal `cnn_cpu`).
//!
//! Everything that reads or writes a file is in [`checkpoint`]; the project's default models of
//! each task and where their files are, in [`registry`]; the locations of the cached assets that
//! scripts/fetch-assets.sh installs, in [`assets`].

pub mod assets;
pub mod bert;
mod bert_cpu;
pub mod causal_lm;
pub mod checkpoint;
pub mod cnn;
mod cnn_cpu;
mod cpu_kernels;
pub mod decoder;
pub mod digit_net;
pub mod gemma3;
pub mod gguf_tokenizer;
pub mod llama;
pub mod registry;
pub mod resnet;
pub mod tokenizer;
pub mod vgg;

use std::path::PathBuf;

/// Errors of model and tokenizer loading and inference. Every file error names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{} not found; {hint}", path.display())]
    MissingFile { path: PathBuf, hint: String },
    #[error("cannot use {}: {msg}; {hint}", path.display())]
    BadFile {
        path: PathBuf,
        msg: String,
        hint: String,
    },
    #[error("invalid input: {0}")]
    Input(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl ModelError {
    /// Check that `path` is an existing file, with `hint` saying how to get it.
    pub(crate) fn require_file(path: &std::path::Path, hint: &str) -> Result<(), ModelError> {
        if path.is_file() {
            Ok(())
        } else {
            Err(ModelError::MissingFile {
                path: path.to_path_buf(),
                hint: hint.to_string(),
            })
        }
    }

    pub(crate) fn bad_file(path: &std::path::Path, msg: impl ToString, hint: &str) -> ModelError {
        ModelError::BadFile {
            path: path.to_path_buf(),
            msg: msg.to_string(),
            hint: hint.to_string(),
        }
    }
}
