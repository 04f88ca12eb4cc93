//! Causal language models from GGUF files: the LLaMA architecture ([`super::llama`], SmolLM2) and
//! Gemma 3 ([`super::gemma3`]), with the tokenizer of the same file ([`super::gguf_tokenizer`]).
//!
//! What the interaction code needs is [`CausalLm::forward`]: a batch of token sequences of one
//! length (and optionally the KV cache of a common-length prefix of each), the logits of the next
//! token after each sequence out, `(batch, vocab)`. [`CausalLm::next_token_logits`] is the
//! no-cache case. The model is immutable during a forward pass, so `CausalLm` is shared by
//! reference. The tests check that a batch of different sequences gives the logits of each
//! sequence alone, and that a forward split at a prefix with its cache gives those of the whole.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use super::checkpoint::read_gguf;
use super::decoder::KvCache;
use super::gemma3::{Activation, Gemma3};
use super::gguf_tokenizer::LmTokenizer;
use super::llama::Llama;
use super::ModelError;

/// The model families that can be loaded (`general.architecture` of the GGUF).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LmFamily {
    /// `llama` (SmolLM2, LLaMA, Mistral-style files).
    Llama,
    /// `gemma3`.
    Gemma3,
}

enum Weights {
    Llama(Llama),
    Gemma3(Gemma3),
}

/// Positions the rotary tables are built for (prompts here are ~40 tokens).
pub const DEFAULT_MAX_LEN: usize = 2048;

/// A causal LM with its tokenizer.
pub struct CausalLm {
    name: String,
    family: LmFamily,
    path: PathBuf,
    tokenizer: LmTokenizer,
    weights: Weights,
    device: Device,
    max_len: usize,
    identity: OnceLock<String>,
}

impl std::fmt::Debug for CausalLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CausalLm")
            .field("name", &self.name)
            .field("family", &self.family)
            .field("path", &self.path)
            .field("tokenizer", &self.tokenizer)
            .finish()
    }
}

impl CausalLm {
    /// Load a GGUF file: weights (dequantised only where candle does so) and tokenizer.
    pub fn load(name: &str, path: &Path, device: &Device) -> Result<Self, ModelError> {
        let hint = super::assets::FETCH_HINT;
        let (mut f, ct) = read_gguf(path)?;
        let arch = ct
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_default();
        let tokenizer = LmTokenizer::from_gguf(&ct, path)?;
        let (family, weights) = match arch.as_str() {
            "llama" => {
                let w = Llama::from_gguf(&ct, &mut f, DEFAULT_MAX_LEN, device)
                    .map_err(|e| ModelError::bad_file(path, e, hint))?;
                (LmFamily::Llama, Weights::Llama(w))
            }
            "gemma3" => {
                let w = Gemma3::from_gguf(&ct, &mut f, DEFAULT_MAX_LEN, device)
                    .map_err(|e| ModelError::bad_file(path, e, hint))?;
                (LmFamily::Gemma3, Weights::Gemma3(w))
            }
            other => {
                return Err(ModelError::bad_file(
                    path,
                    format!("architecture {other:?} is not supported (supported: llama, gemma3)"),
                    "use a LLaMA-architecture or Gemma 3 GGUF",
                ))
            }
        };
        let max_len = match &weights {
            Weights::Llama(m) => m.max_len(),
            Weights::Gemma3(m) => m.max_len(),
        };
        Ok(CausalLm {
            name: name.to_string(),
            family,
            path: path.to_path_buf(),
            tokenizer,
            weights,
            device: device.clone(),
            max_len,
            identity: OnceLock::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn family(&self) -> LmFamily {
        self.family
    }
    pub fn tokenizer(&self) -> &LmTokenizer {
        &self.tokenizer
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn device(&self) -> &Device {
        &self.device
    }
    /// Longest sequence the model accepts.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// What identifies the model's outputs for caching: name, family and the file's sha256
    /// (computed once, on first use).
    pub fn identity(&self) -> Result<String, ModelError> {
        if let Some(s) = self.identity.get() {
            return Ok(s.clone());
        }
        let mut f = std::fs::File::open(&self.path)
            .map_err(|e| ModelError::bad_file(&self.path, e, super::assets::FETCH_HINT))?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h)
            .map_err(|e| ModelError::bad_file(&self.path, e, super::assets::FETCH_HINT))?;
        let sha = hex::encode(h.finalize());
        let id = format!("{} ({:?}, sha256 {sha})", self.name, self.family);
        Ok(self.identity.get_or_init(|| id).clone())
    }

    /// Logits `(batch, vocab)` (f32) of the token following each of `batch` sequences of equal
    /// length, given row-major in `ids` (`batch × len`).
    pub fn next_token_logits(&self, ids: &[u32], batch: usize) -> Result<Tensor, ModelError> {
        Ok(self.forward(ids, batch, None)?.0)
    }

    /// As [`Self::forward`], but only the extended cache (no output projection: for prefixes).
    pub fn extend_cache(
        &self,
        ids: &[u32],
        batch: usize,
        cache: Option<&KvCache>,
    ) -> Result<KvCache, ModelError> {
        Ok(self.run(ids, batch, cache, false)?.1)
    }

    /// Continue `batch` sequences: `ids` (`batch × len`, row-major) are the tokens at positions
    /// `p..p+len`, where `p` is the length of `cache` (the keys and values of the first `p` tokens
    /// of the same `batch` sequences; `None`: p = 0). Returns the next-token logits `(batch,
    /// vocab)` and the cache of all `p + len` tokens.
    pub fn forward(
        &self,
        ids: &[u32],
        batch: usize,
        cache: Option<&KvCache>,
    ) -> Result<(Tensor, KvCache), ModelError> {
        let (logits, cache) = self.run(ids, batch, cache, true)?;
        let logits = logits.ok_or_else(|| ModelError::Input("no logits were computed".into()))?;
        Ok((logits.to_dtype(candle_core::DType::F32)?, cache))
    }

    fn run(
        &self,
        ids: &[u32],
        batch: usize,
        cache: Option<&KvCache>,
        logits: bool,
    ) -> Result<(Option<Tensor>, KvCache), ModelError> {
        if batch == 0 || ids.is_empty() {
            return Err(ModelError::Input(
                "an empty batch: give at least one non-empty token sequence".into(),
            ));
        }
        if ids.len() % batch != 0 {
            return Err(ModelError::Input(format!(
                "{} ids do not split into {batch} sequences of equal length",
                ids.len()
            )));
        }
        let len = ids.len() / batch;
        let pos = cache.map_or(0, |c| c.len());
        if let Some(c) = cache {
            if c.batch() != batch {
                return Err(ModelError::Input(format!(
                    "the cache holds {} sequences but {batch} are continued",
                    c.batch()
                )));
            }
        }
        if pos + len > self.max_len {
            return Err(ModelError::Input(format!(
                "sequences of {} tokens are longer than the {} this model was loaded for: shorten the prompt",
                pos + len,
                self.max_len
            )));
        }
        let vocab = self.tokenizer.vocab_size() as u32;
        if let Some(&bad) = ids.iter().find(|&&i| i >= vocab) {
            return Err(ModelError::Input(format!(
                "token id {bad} is outside the vocabulary (size {vocab})"
            )));
        }
        let x = Tensor::from_slice(ids, (batch, len), &self.device)?;
        Ok(match &self.weights {
            Weights::Llama(m) => m.forward(&x, pos, cache, logits)?,
            Weights::Gemma3(m) => m.forward(&x, pos, cache, logits)?,
        })
    }

    /// Switch a Gemma 3 model's MLP activation (GELU by default; SiLU is what
    /// candle-transformers 0.11.1's `quantized_gemma3` uses). No effect on other families.
    pub fn set_gemma_activation(&mut self, a: Activation) {
        if let Weights::Gemma3(m) = &mut self.weights {
            m.set_activation(a);
        }
    }

    /// Logits (f32) of the next token after one sequence.
    pub fn next_token_logits_one(&self, ids: &[u32]) -> Result<Vec<f32>, ModelError> {
        Ok(self
            .next_token_logits(ids, 1)?
            .squeeze(0)?
            .to_vec1::<f32>()?)
    }
}
