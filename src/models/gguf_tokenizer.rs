//! Tokenizers of GGUF language models, built from the GGUF metadata alone (no tokenizer.json):
//! `tokenizer.ggml.{model, tokens, merges, scores, token_type, bos_token_id, …}`.
//!
//! Two kinds are supported, as llama.cpp names them in `tokenizer.ggml.model`:
//!
//! * `gpt2`: byte-level BPE (SmolLM2). The vocabulary and the ranked merges are in the file; the
//!   pre-tokenizer is the one of `tokenizer.ggml.pre`: `smollm` (and `default`/`gpt2`) splits every
//!   digit off (`\p{N}`) and then applies the GPT-2 regex, which is HF's
//!   `Sequence[Digits(individual), ByteLevel(add_prefix_space = false)]`.
//! * `llama`: SentencePiece BPE (Gemma 3): pieces with scores, `▁` for a space, `<0xXX>` byte
//!   fallback, no pre-tokenizer. The file has no merges, so they are derived from the scores as
//!   HF's `SentencePieceExtractor` does: every split `l + r` of a normal piece into two pieces of the
//!   vocabulary is a merge, ranked by the merged piece's score (higher first). SentencePiece merges
//!   the pair whose result has the highest score, leftmost first, so the two agree except where two
//!   different splits of one piece compete at the same position (rare; see the tests).
//!   Control, unused and user-defined pieces (token types 3, 5, 4) never take part in merges, so
//!   plain text never produces `<bos>` or `<start_of_turn>`; user-defined pieces are not matched
//!   atomically (llama.cpp does, for text that contains them; the prompts here never do).
//!
//! `add_space_prefix` (false for both models here) would prepend a space; `add_bos_token` decides
//! whether [`LmTokenizer::encode`] puts the BOS id first. Offsets are byte ranges of the input:
//! players are mapped onto tokens with them, never by tokenizing decoded text.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use candle_core::quantized::gguf_file;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::DecoderWrapper;

use super::tokenizer::{Encoded, WordSpan};
use super::ModelError;

/// Which tokenizer algorithm a GGUF file describes (`tokenizer.ggml.model`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TokenizerKind {
    /// `gpt2`: byte-level BPE with ranked merges.
    ByteLevelBpe,
    /// `llama`: SentencePiece BPE with scores and byte fallback.
    SentencePieceBpe,
}

/// SentencePiece token types as GGUF stores them.
pub mod token_type {
    pub const NORMAL: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const CONTROL: i32 = 3;
    pub const USER_DEFINED: i32 = 4;
    pub const UNUSED: i32 = 5;
    pub const BYTE: i32 = 6;
}

/// A language model's tokenizer with its special ids.
#[derive(Clone)]
pub struct LmTokenizer {
    inner: tokenizers::Tokenizer,
    kind: TokenizerKind,
    tokens: Vec<String>,
    token_types: Vec<i32>,
    bos: Option<u32>,
    eos: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
}

impl std::fmt::Debug for LmTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmTokenizer")
            .field("kind", &self.kind)
            .field("vocab_size", &self.tokens.len())
            .field("bos", &self.bos)
            .field("add_bos", &self.add_bos)
            .finish()
    }
}

fn md<'a>(
    ct: &'a gguf_file::Content,
    key: &str,
    path: &Path,
) -> Result<&'a gguf_file::Value, ModelError> {
    ct.metadata.get(key).ok_or_else(|| {
        ModelError::bad_file(
            path,
            format!("the GGUF metadata has no {key}: it does not describe a tokenizer"),
            super::assets::FETCH_HINT,
        )
    })
}

fn opt_u32(ct: &gguf_file::Content, key: &str) -> Option<u32> {
    ct.metadata.get(key).and_then(|v| v.to_u32().ok())
}

fn opt_bool(ct: &gguf_file::Content, key: &str) -> Option<bool> {
    ct.metadata.get(key).and_then(|v| v.to_bool().ok())
}

fn strings(v: &gguf_file::Value, path: &Path, key: &str) -> Result<Vec<String>, ModelError> {
    let bad = |e: candle_core::Error| {
        ModelError::bad_file(
            path,
            format!("{key}: {e}"),
            "the GGUF file is damaged or not a language model",
        )
    };
    v.to_vec()
        .map_err(bad)?
        .iter()
        .map(|x| x.to_string().cloned().map_err(bad))
        .collect()
}

fn numbers<T>(
    v: &gguf_file::Value,
    path: &Path,
    key: &str,
    f: impl Fn(&gguf_file::Value) -> candle_core::Result<T>,
) -> Result<Vec<T>, ModelError> {
    let bad = |e: candle_core::Error| {
        ModelError::bad_file(
            path,
            format!("{key}: {e}"),
            "the GGUF file is damaged or not a language model",
        )
    };
    v.to_vec()
        .map_err(bad)?
        .iter()
        .map(|x| f(x).map_err(bad))
        .collect()
}

/// Merges of a SentencePiece BPE vocabulary derived from its scores (HF's
/// `SentencePieceExtractor`): every split of a normal piece into two normal/byte pieces, ordered by
/// the merged piece's score, highest first; within one piece by the ids of (left, right).
pub fn merges_from_scores(
    tokens: &[String],
    scores: &[f32],
    types: &[i32],
) -> Vec<(String, String)> {
    let usable = |t: usize| matches!(types[t], token_type::NORMAL | token_type::BYTE);
    let index: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .filter(|&(i, _)| usable(i))
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut merges: Vec<(f32, usize, usize, usize)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        if types[id] != token_type::NORMAL {
            continue;
        }
        let mut local = Vec::new();
        for (split, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(split);
            if let (Some(&li), Some(&ri)) = (index.get(l), index.get(r)) {
                local.push((scores[id], id, li, ri));
            }
        }
        local.sort_by_key(|&(_, _, l, r)| (l, r));
        merges.extend(local);
    }
    // stable: equal scores keep vocabulary order, as the Python extractor's sorted() does
    merges.sort_by(|a, b| b.0.total_cmp(&a.0));
    merges
        .into_iter()
        .map(|(_, _, l, r)| (tokens[l].clone(), tokens[r].clone()))
        .collect()
}

impl LmTokenizer {
    /// Build the tokenizer from parsed GGUF metadata (`path` only names the file in errors).
    pub fn from_gguf(ct: &gguf_file::Content, path: &Path) -> Result<Self, ModelError> {
        let model = md(ct, "tokenizer.ggml.model", path)?
            .to_string()
            .map_err(|e| ModelError::bad_file(path, e, "damaged GGUF metadata"))?
            .clone();
        let tokens = strings(md(ct, "tokenizer.ggml.tokens", path)?, path, "tokens")?;
        let token_types = match ct.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => numbers(v, path, "token_type", |x| x.to_i32())?,
            None => vec![token_type::NORMAL; tokens.len()],
        };
        if token_types.len() != tokens.len() {
            return Err(ModelError::bad_file(
                path,
                format!(
                    "{} token types for {} tokens",
                    token_types.len(),
                    tokens.len()
                ),
                "damaged GGUF metadata",
            ));
        }
        let vocab: tokenizers::models::bpe::Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let bad = |e: Box<dyn std::error::Error + Send + Sync>| {
            ModelError::Tokenizer(format!(
                "cannot build the tokenizer of {}: {e}",
                path.display()
            ))
        };
        let add_space_prefix = opt_bool(ct, "tokenizer.ggml.add_space_prefix").unwrap_or(false);
        let (kind, mut inner) = match model.as_str() {
            "gpt2" => {
                let merges: Vec<(String, String)> =
                    strings(md(ct, "tokenizer.ggml.merges", path)?, path, "merges")?
                        .into_iter()
                        .map(|m| match m.split_once(' ') {
                            Some((a, b)) => Ok((a.to_string(), b.to_string())),
                            None => Err(ModelError::bad_file(
                                path,
                                format!("merge {m:?} is not two tokens separated by a space"),
                                "damaged GGUF metadata",
                            )),
                        })
                        .collect::<Result<_, _>>()?;
                let pre = ct
                    .metadata
                    .get("tokenizer.ggml.pre")
                    .and_then(|v| v.to_string().ok().cloned())
                    .unwrap_or_else(|| "default".into());
                if !matches!(pre.as_str(), "smollm" | "default" | "gpt2") {
                    return Err(ModelError::bad_file(
                        path,
                        format!("pre-tokenizer {pre:?} is not supported (supported: smollm, gpt2, default)"),
                        "use a model whose GGUF has one of these, or add its regex to gguf_tokenizer.rs",
                    ));
                }
                let bpe = BPE::builder()
                    .vocab_and_merges(vocab, merges)
                    .build()
                    .map_err(bad)?;
                let mut t = tokenizers::Tokenizer::new(bpe);
                let byte_level = tokenizers::pre_tokenizers::byte_level::ByteLevel::new(
                    add_space_prefix,
                    false,
                    true,
                );
                let mut steps = Vec::new();
                if pre != "gpt2" {
                    steps.push(Digits::new(true).into());
                }
                steps.push(byte_level.into());
                t.with_pre_tokenizer(Some(PreSequence::new(steps)));
                t.with_decoder(Some(ByteLevel::default()));
                (TokenizerKind::ByteLevelBpe, t)
            }
            "llama" => {
                let scores = numbers(
                    md(ct, "tokenizer.ggml.scores", path)?,
                    path,
                    "scores",
                    |x| x.to_f32(),
                )?;
                if scores.len() != tokens.len() {
                    return Err(ModelError::bad_file(
                        path,
                        format!("{} scores for {} tokens", scores.len(), tokens.len()),
                        "damaged GGUF metadata",
                    ));
                }
                let merges = merges_from_scores(&tokens, &scores, &token_types);
                let unk = opt_u32(ct, "tokenizer.ggml.unknown_token_id")
                    .and_then(|i| tokens.get(i as usize).cloned())
                    .unwrap_or_else(|| "<unk>".into());
                let bpe = BPE::builder()
                    .vocab_and_merges(vocab, merges)
                    .unk_token(unk)
                    .fuse_unk(true)
                    .byte_fallback(true)
                    .build()
                    .map_err(bad)?;
                let mut t = tokenizers::Tokenizer::new(bpe);
                let mut norms: Vec<tokenizers::NormalizerWrapper> = Vec::new();
                if add_space_prefix {
                    norms.push(tokenizers::normalizers::prepend::Prepend::new("▁".into()).into());
                }
                norms.push(
                    Replace::new(" ", "▁")
                        .map_err(|e| ModelError::Tokenizer(e.to_string()))?
                        .into(),
                );
                t.with_normalizer(Some(tokenizers::normalizers::Sequence::new(norms)))
                    .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
                let decoders: Vec<DecoderWrapper> = vec![
                    tokenizers::normalizers::replace::Replace::new("▁", " ")
                        .map_err(|e| ModelError::Tokenizer(e.to_string()))?
                        .into(),
                    ByteFallback::new().into(),
                    Fuse::new().into(),
                ];
                t.with_decoder(Some(DecoderSequence::new(decoders)));
                (TokenizerKind::SentencePieceBpe, t)
            }
            other => {
                return Err(ModelError::bad_file(
                    path,
                    format!("tokenizer model {other:?} is not supported (supported: gpt2, llama)"),
                    "use a GGUF with a byte-level BPE or SentencePiece tokenizer",
                ))
            }
        };
        inner.with_padding(None);
        let _ = inner.with_truncation(None);
        let id = |key: &str| opt_u32(ct, key).filter(|&i| (i as usize) < tokens.len());
        Ok(LmTokenizer {
            inner,
            kind,
            bos: id("tokenizer.ggml.bos_token_id"),
            eos: id("tokenizer.ggml.eos_token_id"),
            unk: id("tokenizer.ggml.unknown_token_id"),
            pad: id("tokenizer.ggml.padding_token_id"),
            add_bos: opt_bool(ct, "tokenizer.ggml.add_bos_token").unwrap_or(false),
            tokens,
            token_types,
        })
    }

    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// Vocabulary size (the number of rows of the output layer).
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The token string of an id, as stored in the vocabulary (`Ġthe`, `▁the`, `<0x0A>`).
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of a vocabulary entry.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// GGUF token type of an id (see [`token_type`]).
    pub fn token_type(&self, id: u32) -> Option<i32> {
        self.token_types.get(id as usize).copied()
    }

    pub fn bos(&self) -> Option<u32> {
        self.bos
    }
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }
    pub fn unk(&self) -> Option<u32> {
        self.unk
    }
    pub fn pad(&self) -> Option<u32> {
        self.pad
    }
    /// Whether the model expects BOS first (`tokenizer.ggml.add_bos_token`).
    pub fn adds_bos(&self) -> bool {
        self.add_bos
    }

    /// The underlying `tokenizers` tokenizer (encodes without BOS).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Encode `text` as the model sees it: BOS first when the model wants it (a special token with
    /// an empty offset), then the text's tokens with their byte ranges in `text`.
    pub fn encode(&self, text: &str) -> Result<Encoded, ModelError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| ModelError::Tokenizer(format!("cannot encode {text:?}: {e}")))?;
        let mut out = Encoded {
            ids: Vec::new(),
            tokens: Vec::new(),
            offsets: Vec::new(),
            special: Vec::new(),
            words: Vec::new(),
        };
        if let (true, Some(b)) = (self.add_bos, self.bos) {
            out.ids.push(b);
            out.tokens.push(self.tokens[b as usize].clone());
            out.offsets.push(0..0);
            out.special.push(true);
        }
        let first = out.ids.len();
        out.ids.extend_from_slice(enc.get_ids());
        out.tokens.extend(enc.get_tokens().iter().cloned());
        out.offsets
            .extend(enc.get_offsets().iter().map(|&(a, b)| a..b));
        out.special.extend(std::iter::repeat_n(false, enc.len()));
        // words: the pre-tokenizer's splits (byte-level) or whitespace-led pieces (SentencePiece)
        let mut current: Option<u32> = None;
        for (k, w) in enc.get_word_ids().iter().enumerate() {
            let t = first + k;
            let r: Range<usize> = out.offsets[t].clone();
            let starts_word = match self.kind {
                TokenizerKind::ByteLevelBpe => *w != current || w.is_none(),
                TokenizerKind::SentencePieceBpe => {
                    k == 0 || out.tokens[t].starts_with('▁') || out.words.is_empty()
                }
            };
            match out.words.last_mut() {
                Some(last) if !starts_word => {
                    last.tokens.end = t + 1;
                    last.bytes.end = last.bytes.end.max(r.end);
                }
                _ => out.words.push(WordSpan {
                    text: String::new(),
                    bytes: r,
                    tokens: t..t + 1,
                }),
            }
            current = *w;
        }
        for w in &mut out.words {
            w.text = text.get(w.bytes.clone()).unwrap_or_default().to_string();
        }
        Ok(out)
    }

    /// Token ids of `text` without BOS.
    pub fn encode_ids(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(|e| ModelError::Tokenizer(format!("cannot encode {text:?}: {e}")))?
            .get_ids()
            .to_vec())
    }

    /// Decode ids to text; special (control) tokens are dropped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        let keep: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&i| self.token_type(i) != Some(token_type::CONTROL))
            .collect();
        self.inner
            .decode(&keep, false)
            .map_err(|e| ModelError::Tokenizer(format!("cannot decode {ids:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_are_ranked_by_the_merged_score() {
        let tokens: Vec<String> = ["<unk>", "a", "b", "c", "ab", "bc", "abc", "<0x41>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let scores = [0.0, -1.0, -1.0, -1.0, -3.0, -2.0, -4.0, 0.0];
        let types = [2, 1, 1, 1, 1, 1, 1, 6];
        let m = merges_from_scores(&tokens, &scores, &types);
        let pairs: Vec<(&str, &str)> = m.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            pairs,
            [("b", "c"), ("a", "b"), ("a", "bc"), ("ab", "c")],
            "bc (score −2) before ab (−3) before abc (−4)"
        );
    }
}
