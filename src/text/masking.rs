//! Masked sentences for a BERT classifier (the masking of method §1): a sentence's tokens, which
//! tokens each word player covers, and what replaces an absent player — a token id (token-id
//! masking) or a vector in place of the word-embedding rows (embedding masking, as the authors).
//! [`crate::games::text::TextGame`] turns the logits into values.
//!
//! All masked inputs of a sentence have the sentence's own token length (no padding to a fixed
//! length, so the attention mask is all ones).

use candle_core::{Device, Tensor};

use super::players::Players;
use crate::models::bert::BertClassifier;
use crate::models::tokenizer::{Encoded, TextTokenizer};
use crate::models::ModelError;
use crate::{Error, Result};

/// Default number of masked inputs per forward pass.
pub const DEFAULT_BATCH: usize = 128;

/// Called after every batch with (masked inputs done, total): for progress bars and text lines.
pub type ProgressFn<'a> = &'a mut dyn FnMut(usize, usize);

/// log(p_y / (1 − p_y)) with p = softmax(logits), computed as z_y − logsumexp_{c≠y} z_c, which
/// stays finite and accurate for confident predictions (p_y → 1) where 1 − p_y underflows.
/// Needs at least two classes and y < the number of classes.
pub fn log_odds(logits: &[f64], y: usize) -> f64 {
    let others = logits
        .iter()
        .enumerate()
        .filter(|&(c, _)| c != y)
        .map(|(_, &z)| z);
    let max = others.clone().fold(f64::NEG_INFINITY, f64::max);
    let lse = max + others.map(|z| (z - max).exp()).sum::<f64>().ln();
    logits[y] - lse
}

/// A baseline made concrete for one model.
#[derive(Clone, Debug)]
pub enum ResolvedBaseline {
    TokenId(u32),
    /// `(hidden,)` f32.
    Embedding(Tensor),
}

/// One sentence prepared for masking by one model: its tokens, which tokens each player covers,
/// and the baseline that replaces them.
pub struct MaskedSentence {
    pub encoded: Encoded,
    /// Token indices of each player (into `encoded.ids`).
    pub player_tokens: Vec<Vec<usize>>,
    /// For each token, the player it belongs to (None: background, never masked).
    token_player: Vec<Option<usize>>,
    baseline: ResolvedBaseline,
    /// `(1, len, hidden)` word-embedding rows of the sentence (embedding baselines only).
    base_embeds: Option<Tensor>,
}

impl MaskedSentence {
    /// Encode `players.sentence` with `tokenizer` and map the players onto its tokens.
    pub fn new(
        model: &BertClassifier,
        tokenizer: &TextTokenizer,
        players: &Players,
        baseline: ResolvedBaseline,
    ) -> Result<Self> {
        let encoded = tokenizer.encode(&players.sentence)?;
        let max = model.config().max_position_embeddings;
        if encoded.len() > max {
            return Err(Error::Invalid(format!(
                "the sentence has {} tokens, more than the model's {max} positions: use a shorter sentence",
                encoded.len()
            )));
        }
        let player_tokens = players.token_sets(&encoded)?;
        let mut token_player = vec![None; encoded.len()];
        for (p, set) in player_tokens.iter().enumerate() {
            for &t in set {
                token_player[t] = Some(p);
            }
        }
        let base_embeds = match &baseline {
            ResolvedBaseline::Embedding(_) => {
                let ids = Tensor::from_vec(encoded.ids.clone(), (1, encoded.len()), model.device())
                    .map_err(ModelError::from)?;
                Some(model.embed_ids(&ids)?)
            }
            ResolvedBaseline::TokenId(_) => None,
        };
        Ok(MaskedSentence {
            encoded,
            player_tokens,
            token_player,
            baseline,
            base_embeds,
        })
    }

    /// Number of players n.
    pub fn n(&self) -> usize {
        self.player_tokens.len()
    }

    /// Tokens per input, `[CLS]` and `[SEP]` included.
    pub fn len(&self) -> usize {
        self.encoded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.encoded.is_empty()
    }

    fn kept(&self, mask: u32, t: usize) -> bool {
        self.token_player[t].is_none_or(|p| mask >> p & 1 == 1)
    }

    /// Token ids of masked inputs (token-id masking: absent players' tokens become the baseline
    /// id; with an embedding baseline the ids are unchanged).
    pub fn masked_ids(&self, masks: &[u32]) -> Vec<u32> {
        let fill = match self.baseline {
            ResolvedBaseline::TokenId(id) => Some(id),
            ResolvedBaseline::Embedding(_) => None,
        };
        let mut ids = Vec::with_capacity(masks.len() * self.len());
        for &m in masks {
            for (t, &id) in self.encoded.ids.iter().enumerate() {
                ids.push(match fill {
                    Some(b) if !self.kept(m, t) => b,
                    _ => id,
                });
            }
        }
        ids
    }

    /// `(masks.len(), len)` indicator, 1 where the token is kept, 0 where it is replaced.
    pub fn keep_matrix(&self, masks: &[u32], device: &Device) -> Result<Tensor> {
        let mut keep = Vec::with_capacity(masks.len() * self.len());
        for &m in masks {
            keep.extend((0..self.len()).map(|t| if self.kept(m, t) { 1f32 } else { 0f32 }));
        }
        Ok(Tensor::from_vec(keep, (masks.len(), self.len()), device).map_err(ModelError::from)?)
    }

    /// Input embeddings `(masks.len(), len, hidden)` of masked inputs, with `baseline` `(hidden,)`
    /// in place of absent players' rows (a tensor, so that it may be a trainable variable).
    pub fn masked_embeds(
        &self,
        model: &BertClassifier,
        masks: &[u32],
        baseline: &Tensor,
    ) -> Result<Tensor> {
        let base = match &self.base_embeds {
            Some(b) => b.clone(),
            None => {
                let ids =
                    Tensor::from_vec(self.encoded.ids.clone(), (1, self.len()), model.device())
                        .map_err(ModelError::from)?;
                model.embed_ids(&ids)?
            }
        };
        let keep = self
            .keep_matrix(masks, model.device())?
            .unsqueeze(2)
            .map_err(ModelError::from)?;
        let drop = (1.0 - &keep).map_err(ModelError::from)?;
        let row = baseline.reshape((1, 1, ())).map_err(ModelError::from)?;
        let x = (base.broadcast_mul(&keep).map_err(ModelError::from)?
            + drop.broadcast_mul(&row).map_err(ModelError::from)?)
        .map_err(ModelError::from)?;
        Ok(x)
    }

    /// Logits `(masks.len(), classes)` of the masked inputs, in one forward pass
    /// ([`BertClassifier::masked_logits`]: on the CPU the inputs share the work that does not
    /// depend on the mask; equal to the forward pass of [`Self::masked_embeds`] or
    /// [`Self::masked_ids`] up to float rounding).
    pub fn logits(&self, model: &BertClassifier, masks: &[u32]) -> Result<Tensor> {
        let device = model.device();
        let ids = Tensor::from_vec(self.encoded.ids.clone(), (1, self.len()), device)
            .map_err(ModelError::from)?;
        let words = match &self.base_embeds {
            Some(b) => b.clone(),
            None => model.embed_ids(&ids)?,
        };
        let replacements = match &self.baseline {
            ResolvedBaseline::TokenId(id) => {
                let fill = Tensor::from_vec(vec![*id], (1, 1), device).map_err(ModelError::from)?;
                model
                    .embed_ids(&fill)?
                    .reshape(((),))
                    .map_err(ModelError::from)?
            }
            ResolvedBaseline::Embedding(b) => b.clone(),
        };
        let mut keep = Vec::with_capacity(masks.len() * self.len());
        for &m in masks {
            keep.extend((0..self.len()).map(|t| self.kept(m, t)));
        }
        Ok(model.masked_logits(&words, &replacements, &keep)?)
    }

    /// Logits of all 2^n masked inputs (row `mask`, bit i = player i present), `batch_size` per
    /// forward pass, calling `progress` after each. Returns them with the number of forward passes
    /// run. Non-finite logits are an error.
    pub fn all_logits(
        &self,
        model: &BertClassifier,
        batch_size: usize,
        mut progress: Option<ProgressFn<'_>>,
    ) -> Result<(Vec<Vec<f64>>, usize)> {
        if batch_size == 0 {
            return Err(Error::InvalidSetting {
                name: "batch_size",
                value: "0".into(),
                why: "at least one input per batch",
            });
        }
        let total = 1usize << self.n();
        let mut out = Vec::with_capacity(total);
        let mut calls = 0;
        let masks: Vec<u32> = (0..total as u32).collect();
        for chunk in masks.chunks(batch_size) {
            let logits = self.logits(model, chunk)?;
            let rows: Vec<Vec<f32>> = logits.to_vec2().map_err(ModelError::from)?;
            calls += 1;
            for (r, row) in rows.iter().enumerate() {
                if let Some(&bad) = row.iter().find(|x| !x.is_finite()) {
                    return Err(Error::NonFinite {
                        what: "the model's logits (check the weights and the baseline)".into(),
                        mask: chunk[r] as usize,
                        value: bad as f64,
                    });
                }
                out.push(row.iter().map(|&x| x as f64).collect());
            }
            if let Some(p) = progress.as_mut() {
                p(out.len(), total);
            }
        }
        Ok((out, calls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_odds_is_stable_and_matches_the_definition() {
        let z = [0.3, -1.2, 2.0];
        let e: Vec<f64> = z.iter().map(|x: &f64| x.exp()).collect();
        let p = e[2] / e.iter().sum::<f64>();
        assert!((log_odds(&z, 2) - (p / (1.0 - p)).ln()).abs() < 1e-12);
        // two classes: the logit difference, even where 1 − p underflows
        assert_eq!(log_odds(&[800.0, 0.0], 0), 800.0);
        assert_eq!(log_odds(&[0.0, 800.0], 0), -800.0);
    }
}
