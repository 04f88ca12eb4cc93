//! The BERT WordPiece tokenizer (a HF tokenizer.json) with word spans: players of the sentiment task
//! are words, and a word may cover several tokens, so every encoding carries, for each word the
//! pre-tokenizer produced (split on whitespace and punctuation), the range of its tokens and its
//! byte span in the original text. Spans come from the encoder's own word ids and offsets; decoded
//! text is never tokenized again.

use std::ops::Range;
use std::path::Path;

use candle_core::{Device, Tensor};

use super::ModelError;

/// Ids of the special tokens a BERT vocabulary has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokens {
    pub cls: u32,
    pub sep: u32,
    pub pad: u32,
    pub mask: u32,
    pub unk: u32,
}

/// A word of the input and the tokens that encode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordSpan {
    /// The word as it appears in the input (not normalised).
    pub text: String,
    /// Byte range of the word in the input.
    pub bytes: Range<usize>,
    /// Range of its tokens in [`Encoded::ids`] (which include \[CLS\] and \[SEP\]).
    pub tokens: Range<usize>,
}

/// One encoded sentence: `[CLS] tokens… [SEP]`, no padding, no truncation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// Byte range of each token in the input; empty for special tokens.
    pub offsets: Vec<Range<usize>>,
    /// Whether each token is a special token (\[CLS\], \[SEP\]).
    pub special: Vec<bool>,
    /// The words, in order; their token ranges partition the non-special tokens.
    pub words: Vec<WordSpan>,
}

impl Encoded {
    /// Number of tokens, special tokens included.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens at all.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The index of the word that token `t` belongs to (None for special tokens).
    pub fn word_of_token(&self, t: usize) -> Option<usize> {
        self.words.iter().position(|w| w.tokens.contains(&t))
    }
}

/// A batch of encodings padded to the longest: `input_ids` and `attention_mask` are u32 `(b, len)`.
#[derive(Debug, Clone)]
pub struct Batch {
    pub input_ids: Tensor,
    pub attention_mask: Tensor,
    /// Unpadded length of each row.
    pub lengths: Vec<usize>,
}

/// Pad id sequences to a common length with `pad_id` and build the attention mask.
pub fn pad_batch(seqs: &[&[u32]], pad_id: u32, device: &Device) -> Result<Batch, ModelError> {
    if seqs.is_empty() {
        return Err(ModelError::Input("empty batch".into()));
    }
    let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
    if len == 0 {
        return Err(ModelError::Input(
            "all sequences of the batch are empty".into(),
        ));
    }
    let mut ids = Vec::with_capacity(seqs.len() * len);
    let mut mask = Vec::with_capacity(seqs.len() * len);
    for s in seqs {
        ids.extend_from_slice(s);
        ids.extend(std::iter::repeat_n(pad_id, len - s.len()));
        mask.extend(std::iter::repeat_n(1u32, s.len()));
        mask.extend(std::iter::repeat_n(0u32, len - s.len()));
    }
    Ok(Batch {
        input_ids: Tensor::from_vec(ids, (seqs.len(), len), device)?,
        attention_mask: Tensor::from_vec(mask, (seqs.len(), len), device)?,
        lengths: seqs.iter().map(|s| s.len()).collect(),
    })
}

/// A BERT tokenizer loaded from tokenizer.json.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    special: SpecialTokens,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("special", &self.special)
            .finish()
    }
}

impl TextTokenizer {
    /// Load tokenizer.json. The fixed padding (to 128) and truncation that sentence-transformers
    /// exports carry are switched off: batches are padded by [`pad_batch`], inputs never cut.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let hint = super::assets::FETCH_HINT;
        ModelError::require_file(path, hint)?;
        let mut inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| ModelError::bad_file(path, e, hint))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| ModelError::bad_file(path, e, hint))?;
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| {
                ModelError::bad_file(path, format!("the vocabulary has no {t} token"), hint)
            })
        };
        let special = SpecialTokens {
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            pad: id("[PAD]")?,
            mask: id("[MASK]")?,
            unk: id("[UNK]")?,
        };
        Ok(Self { inner, special })
    }

    /// The special token ids.
    pub fn special(&self) -> SpecialTokens {
        self.special
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token of the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Encode one sentence with \[CLS\] and \[SEP\], and compute its word spans.
    pub fn encode(&self, text: &str) -> Result<Encoded, ModelError> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| ModelError::Tokenizer(format!("cannot encode {text:?}: {e}")))?;
        let special: Vec<bool> = enc
            .get_special_tokens_mask()
            .iter()
            .map(|&m| m == 1)
            .collect();
        let offsets: Vec<Range<usize>> = enc
            .get_offsets()
            .iter()
            .zip(&special)
            .map(|(&(a, b), &s)| if s { 0..0 } else { a..b })
            .collect();
        let word_ids = enc.get_word_ids();
        let mut words: Vec<WordSpan> = Vec::new();
        let mut current: Option<u32> = None;
        for (t, (&w, &s)) in word_ids.iter().zip(&special).enumerate() {
            let w = match (w, s) {
                (Some(w), false) => w,
                _ => {
                    current = None;
                    continue;
                }
            };
            let r = offsets[t].clone();
            match words.last_mut() {
                Some(last) if current == Some(w) && last.tokens.end == t => {
                    last.tokens.end = t + 1;
                    last.bytes.end = last.bytes.end.max(r.end);
                }
                _ => words.push(WordSpan {
                    text: String::new(),
                    bytes: r,
                    tokens: t..t + 1,
                }),
            }
            current = Some(w);
        }
        for w in &mut words {
            w.text = text.get(w.bytes.clone()).unwrap_or_default().to_string();
        }
        Ok(Encoded {
            ids: enc.get_ids().to_vec(),
            tokens: enc.get_tokens().to_vec(),
            offsets,
            special,
            words,
        })
    }
}
