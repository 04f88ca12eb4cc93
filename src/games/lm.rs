//! Causal language models as games (task 2): the next word on a masked prompt.
//!
//! The value function of a causal language model on masked prompts:
//! v(x_T) = log p_y(x_T) − log(1 − p_y(x_T)), p = softmax over the vocabulary of the next-token
//! logits, y = the first token of the target word (the word the model predicts greedily on the
//! full prompt, [`greedy_next_word`]). Only the first token of a multi-token target counts: v is
//! the log-odds that the model starts the target word.
//!
//! Masking is token-id masking: every token of an absent player is replaced by the baseline token
//! ([`LmBaseline`], default the model's unknown token), one baseline token per original token, so
//! all 2^n masked prompts have the prompt's length and are evaluated in equal-length batches.
//!
//! [`MaskedPrompt::log_odds`] (what [`LmGame`]'s `all_values` runs) shares computation between masked prompts: players are in prompt
//! order, and the tokens before player j's first token depend only on players 0..j−1, so the
//! prompt is cut at each player's first token and segment j (player j−1's tokens up to player j)
//! is run once for each of the 2^j presence patterns of players 0..j−1, continuing the KV cache of
//! its parent pattern. Only the last segment runs for all 2^n masks. The cost is Σ_j len_j·2^j
//! tokens instead of len·2^n; [`MaskedPrompt::log_odds_unshared`] runs every masked prompt whole
//! and the tests check that both agree.

use crate::coalition::Coalition;
use crate::game::Game;
use crate::models::causal_lm::CausalLm;
use crate::models::decoder::KvCache;
use crate::models::tokenizer::Encoded;
use crate::models::ModelError;
use crate::text::players::Players;
use crate::{Error, Result};

/// Default number of masked prompts per forward pass.
pub const DEFAULT_LM_BATCH: usize = 64;

/// What replaces each token of an absent word.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LmBaseline {
    /// The model's unknown token (`tokenizer.ggml.unknown_token_id`): SmolLM2 `<|endoftext|>`
    /// (id 0), Gemma 3 `<unk>` (id 3).
    #[default]
    Unk,
    /// The model's padding token (`tokenizer.ggml.padding_token_id`).
    Pad,
    /// A vocabulary entry given as the model stores it (e.g. `Ġ` or `▁`).
    Token(String),
}

impl LmBaseline {
    /// The baseline's token id in `lm`'s vocabulary.
    pub fn resolve(&self, lm: &CausalLm) -> Result<u32> {
        let t = lm.tokenizer();
        let (id, what) = match self {
            LmBaseline::Unk => (t.unk(), "an unknown token"),
            LmBaseline::Pad => (t.pad(), "a padding token"),
            LmBaseline::Token(s) => (t.token_id(s), "this token"),
        };
        id.ok_or_else(|| {
            Error::Invalid(format!(
                "{} has no {what} ({self:?}): choose another baseline (unk, pad or a token of its vocabulary)",
                lm.name()
            ))
        })
    }

    /// A short description, part of the value cache key.
    pub fn identity(&self, lm: &CausalLm) -> Result<String> {
        let id = self.resolve(lm)?;
        Ok(format!(
            "{self:?} = token {id} {:?}",
            lm.tokenizer().token(id).unwrap_or("?")
        ))
    }
}

/// log(p_y / (1 − p_y)) for p = softmax(logits), as z_y − logsumexp_{c≠y} z_c in f64.
pub fn log_odds_f32(logits: &[f32], y: usize) -> f64 {
    let mut max = f64::NEG_INFINITY;
    for (c, &z) in logits.iter().enumerate() {
        if c != y {
            max = max.max(z as f64);
        }
    }
    let mut sum = 0.0;
    for (c, &z) in logits.iter().enumerate() {
        if c != y {
            sum += (z as f64 - max).exp();
        }
    }
    logits[y] as f64 - (max + sum.ln())
}

/// The next word a model predicts greedily after a prompt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NextWord {
    /// The word, trimmed (empty when the model starts with punctuation or a line break).
    pub word: String,
    /// Its tokens, greedy; the first one is the target y of v.
    pub tokens: Vec<u32>,
    /// Whether the first token begins a new word (a space first). When false the model
    /// continues the prompt's last word, and there is no next word.
    pub starts_new_word: bool,
}

impl NextWord {
    /// A new word with at least one letter.
    pub fn is_word(&self) -> bool {
        self.starts_new_word && self.word.chars().any(char::is_alphabetic)
    }
}

/// Greedy decoding after `prompt` until the next word ends (a token that starts with whitespace or
/// a character that is neither a letter nor a digit), at most `max_tokens` tokens.
pub fn greedy_next_word(lm: &CausalLm, prompt: &str, max_tokens: usize) -> Result<NextWord> {
    let enc = encode_prompt(lm, prompt)?;
    let (mut logits, mut cache) = lm.forward(&enc.ids, 1, None)?;
    let mut tokens = Vec::new();
    let mut starts_new_word = false;
    for step in 0..max_tokens.max(1) {
        let row: Vec<f32> = logits
            .squeeze(0)
            .and_then(|r| r.to_vec1())
            .map_err(ModelError::from)?;
        let tok = argmax(&row) as u32;
        let piece = lm.tokenizer().decode(&[tok])?;
        let first = piece.chars().next();
        if step == 0 {
            starts_new_word = first.is_some_and(char::is_whitespace)
                && piece
                    .trim_start()
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric);
            tokens.push(tok);
            if !starts_new_word {
                break;
            }
        } else {
            let continues = first.is_some_and(|c| c.is_alphanumeric() || c == '\'' || c == '-')
                && !first.is_some_and(char::is_whitespace);
            if !continues {
                break;
            }
            tokens.push(tok);
        }
        let (l, c) = lm.forward(&[tok], 1, Some(&cache))?;
        logits = l;
        cache = c;
    }
    let word = lm.tokenizer().decode(&tokens)?.trim().to_string();
    Ok(NextWord {
        word,
        tokens,
        starts_new_word,
    })
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len()).fold(0, |best, c| if row[c] > row[best] { c } else { best })
}

/// Encode a prompt, refusing empty ones.
pub fn encode_prompt(lm: &CausalLm, prompt: &str) -> Result<Encoded> {
    if prompt.trim().is_empty() {
        return Err(Error::Invalid(
            "the prompt is empty: give a prompt with at least as many content words as players"
                .into(),
        ));
    }
    let enc = lm.tokenizer().encode(prompt)?;
    if enc.is_empty() {
        return Err(Error::Invalid(format!(
            "{} encodes the prompt {prompt:?} to no tokens",
            lm.name()
        )));
    }
    Ok(enc)
}

/// One prompt prepared for masking by one model.
#[derive(Clone, Debug)]
pub struct MaskedPrompt {
    pub encoded: Encoded,
    /// Token indices of each player, in prompt order; each set is contiguous.
    pub player_tokens: Vec<Vec<usize>>,
    /// For each token, its player (None: background, never masked).
    token_player: Vec<Option<usize>>,
    pub baseline: u32,
}

impl MaskedPrompt {
    /// Encode `players.sentence` with `lm`'s tokenizer and map the players onto its tokens by
    /// byte offsets.
    pub fn new(lm: &CausalLm, players: &Players, baseline: &LmBaseline) -> Result<Self> {
        let encoded = encode_prompt(lm, &players.sentence)?;
        let player_tokens = players.token_sets(&encoded)?;
        let mut token_player = vec![None; encoded.len()];
        for (p, set) in player_tokens.iter().enumerate() {
            for &t in set {
                token_player[t] = Some(p);
            }
            let contiguous = set.windows(2).all(|w| w[1] == w[0] + 1);
            let ordered = p == 0 || player_tokens[p - 1].last() < set.first();
            if !contiguous || !ordered {
                return Err(Error::InvalidPlayers(format!(
                    "the tokens of player {:?} are not one run after the previous player's in {}'s tokenization",
                    players.words[p].text,
                    lm.name()
                )));
            }
        }
        Ok(MaskedPrompt {
            encoded,
            player_tokens,
            token_player,
            baseline: baseline.resolve(lm)?,
        })
    }

    /// Number of players n.
    pub fn n(&self) -> usize {
        self.player_tokens.len()
    }

    /// Tokens per masked prompt (BOS included).
    pub fn len(&self) -> usize {
        self.encoded.len()
    }

    pub fn is_empty(&self) -> bool {
        self.encoded.is_empty()
    }

    /// Token ids of the masked prompt `mask` (bit i set: player i present), tokens `range`.
    pub fn masked_ids_range(&self, mask: u32, range: std::ops::Range<usize>) -> Vec<u32> {
        range
            .map(|t| match self.token_player[t] {
                Some(p) if mask >> p & 1 == 0 => self.baseline,
                _ => self.encoded.ids[t],
            })
            .collect()
    }

    /// Token ids of the masked prompt `mask`.
    pub fn masked_ids(&self, mask: u32) -> Vec<u32> {
        self.masked_ids_range(mask, 0..self.len())
    }

    pub(crate) fn check(&self, lm: &CausalLm, target: u32, batch_size: usize) -> Result<()> {
        if batch_size == 0 {
            return Err(Error::InvalidSetting {
                name: "batch_size",
                value: "0".into(),
                why: "at least one masked prompt per batch",
            });
        }
        if target as usize >= lm.tokenizer().vocab_size() {
            return Err(Error::InvalidSetting {
                name: "target token",
                value: target.to_string(),
                why: "outside the model's vocabulary",
            });
        }
        if self.n() > crate::MAX_PLAYERS {
            return Err(Error::TooManyPlayers {
                n: self.n(),
                max: crate::MAX_PLAYERS,
            });
        }
        Ok(())
    }

    fn rows_to_log_odds(
        &self,
        logits: candle_core::Tensor,
        target: u32,
        masks: &[u32],
        out: &mut [f64],
    ) -> Result<()> {
        let rows: Vec<Vec<f32>> = logits.to_vec2().map_err(ModelError::from)?;
        for (row, &m) in rows.iter().zip(masks) {
            let lo = log_odds_f32(row, target as usize);
            if !lo.is_finite() {
                return Err(Error::NonFinite {
                    what: "the log-odds of the target token (check the model and the baseline)"
                        .into(),
                    mask: m as usize,
                    value: lo,
                });
            }
            out[m as usize] = lo;
        }
        Ok(())
    }

    /// Uncentred log-odds of token `target` after every masked prompt, indexed by mask, with the
    /// prefix sharing described in the module docs. `progress(done, total)` is called with the
    /// masked-token work done so far.
    pub fn log_odds(
        &self,
        lm: &CausalLm,
        target: u32,
        batch_size: usize,
        mut progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<Vec<f64>> {
        self.check(lm, target, batch_size)?;
        let n = self.n();
        let starts: Vec<usize> = self.player_tokens.iter().map(|s| s[0]).collect();
        // segment j (0..=n) covers bounds[j]..bounds[j+1] and has 2^j variants
        let mut bounds = vec![0];
        bounds.extend(&starts);
        bounds.push(self.len());
        let work: usize = (0..=n).map(|j| (bounds[j + 1] - bounds[j]) << j).sum();
        let mut done = 0;
        let mut cache: Option<KvCache> = None;
        let mut out = vec![0.0; 1 << n];
        for j in 0..=n {
            let range = bounds[j]..bounds[j + 1];
            let variants = 1u32 << j;
            let last = j == n;
            if range.is_empty() {
                // only segment 0 can be empty (a player at the first token)
                continue;
            }
            let masks: Vec<u32> = (0..variants).collect();
            let mut parts = Vec::new();
            for chunk in masks.chunks(batch_size) {
                let ids: Vec<u32> = chunk
                    .iter()
                    .flat_map(|&m| self.masked_ids_range(m, range.clone()))
                    .collect();
                let parent = match &cache {
                    Some(c) => {
                        let keep = if j == 0 { 0 } else { (1u32 << (j - 1)) - 1 };
                        let rows: Vec<u32> = chunk.iter().map(|&m| m & keep).collect();
                        Some(c.select(&rows).map_err(ModelError::from)?)
                    }
                    None => None,
                };
                if last {
                    let (logits, _) = lm.forward(&ids, chunk.len(), parent.as_ref())?;
                    self.rows_to_log_odds(logits, target, chunk, &mut out)?;
                } else {
                    parts.push(lm.extend_cache(&ids, chunk.len(), parent.as_ref())?);
                }
                done += range.len() * chunk.len();
                if let Some(p) = progress.as_mut() {
                    p(done, work);
                }
            }
            if !last {
                cache = Some(KvCache::cat(&parts).map_err(ModelError::from)?);
            }
        }
        Ok(out)
    }

    /// As [`Self::log_odds`] but every masked prompt is run whole, `batch_size` at a time (the
    /// reference the tests compare with, and what the authors' code does).
    pub fn log_odds_unshared(
        &self,
        lm: &CausalLm,
        target: u32,
        batch_size: usize,
    ) -> Result<Vec<f64>> {
        self.check(lm, target, batch_size)?;
        let masks: Vec<u32> = (0..1u32 << self.n()).collect();
        let mut out = vec![0.0; masks.len()];
        for chunk in masks.chunks(batch_size) {
            let ids: Vec<u32> = chunk.iter().flat_map(|&m| self.masked_ids(m)).collect();
            let logits = lm.next_token_logits(&ids, chunk.len())?;
            self.rows_to_log_odds(logits, target, chunk, &mut out)?;
        }
        Ok(out)
    }

    /// Uncentred log-odds of `target` after the masked prompts `masks` only, each run whole,
    /// `batch_size` at a time, in the order given.
    pub fn log_odds_of(
        &self,
        lm: &CausalLm,
        target: u32,
        masks: &[u32],
        batch_size: usize,
    ) -> Result<Vec<f64>> {
        self.check(lm, target, batch_size)?;
        let total = 1u64 << self.n();
        if let Some(bad) = masks.iter().find(|&&m| m as u64 >= total) {
            return Err(Error::InvalidPlayers(format!(
                "coalition mask {bad} names players beyond n = {}",
                self.n()
            )));
        }
        let mut out = Vec::with_capacity(masks.len());
        for chunk in masks.chunks(batch_size) {
            let ids: Vec<u32> = chunk.iter().flat_map(|&m| self.masked_ids(m)).collect();
            let logits = lm.next_token_logits(&ids, chunk.len())?;
            let rows: Vec<Vec<f32>> = logits.to_vec2().map_err(ModelError::from)?;
            for (row, &m) in rows.iter().zip(chunk) {
                let lo = log_odds_f32(row, target as usize);
                if !lo.is_finite() {
                    return Err(Error::NonFinite {
                        what: "the log-odds of the target token (check the model and the baseline)"
                            .into(),
                        mask: m as usize,
                        value: lo,
                    });
                }
                out.push(lo);
            }
        }
        Ok(out)
    }

    /// Tokens the shared evaluation runs, and those the unshared one would (both models' cost).
    pub fn token_work(&self) -> (usize, usize) {
        let n = self.n();
        let mut bounds = vec![0];
        bounds.extend(self.player_tokens.iter().map(|s| s[0]));
        bounds.push(self.len());
        let shared = (0..=n).map(|j| (bounds[j + 1] - bounds[j]) << j).sum();
        (shared, self.len() << n)
    }
}

/// A causal language model on one prompt as a [`Game`]: word players, token-id masking with
/// `baseline`, v(x_T) = the log-odds of the `target` token (uncentred; [`crate::game::evaluate`]
/// centres). Its `all_values` shares prefixes through the KV cache.
pub struct LmGame<'a> {
    lm: &'a CausalLm,
    players: Players,
    masked: MaskedPrompt,
    baseline: LmBaseline,
    target: u32,
    batch_size: usize,
}

impl<'a> LmGame<'a> {
    /// `lm` on the prompt `players.sentence`. Errors: players that do not map onto one run of
    /// tokens each in `lm`'s tokenization, a baseline the model lacks, a target outside the
    /// vocabulary, a zero batch.
    pub fn new(
        lm: &'a CausalLm,
        players: &Players,
        baseline: &LmBaseline,
        target: u32,
        batch_size: usize,
    ) -> Result<Self> {
        let masked = MaskedPrompt::new(lm, players, baseline)?;
        masked.check(lm, target, batch_size)?;
        Ok(LmGame {
            lm,
            players: players.clone(),
            masked,
            baseline: baseline.clone(),
            target,
            batch_size,
        })
    }

    /// The target token's id and its vocabulary entry.
    pub fn target(&self) -> (u32, String) {
        (
            self.target,
            self.lm
                .tokenizer()
                .token(self.target)
                .unwrap_or("?")
                .to_string(),
        )
    }

    pub fn masked(&self) -> &MaskedPrompt {
        &self.masked
    }

    pub fn players(&self) -> &Players {
        &self.players
    }

    /// The baseline's description, e.g. `Unk = token 0 "<|endoftext|>"`.
    pub fn baseline(&self) -> Result<String> {
        self.baseline.identity(self.lm)
    }
}

impl Game for LmGame<'_> {
    fn name(&self) -> String {
        self.lm.name().to_string()
    }

    fn n_players(&self) -> usize {
        self.players.n()
    }

    fn player_names(&self) -> Vec<String> {
        self.players.names()
    }

    fn values(&self, coalitions: &[Coalition]) -> Result<Vec<f64>> {
        let masks: Vec<u32> = coalitions.iter().map(|c| c.0).collect();
        self.masked
            .log_odds_of(self.lm, self.target, &masks, self.batch_size)
    }

    fn identity(&self) -> Result<Option<String>> {
        let spans: Vec<_> = self.players.words.iter().map(|w| w.bytes.clone()).collect();
        Ok(Some(format!(
            "next-word log-odds v1\nmodel: {}\nprompt: {}\nplayers: {spans:?}\nbaseline: {}\ntarget token: {}",
            self.lm.identity()?,
            self.players.sentence,
            self.baseline.identity(self.lm)?,
            self.target
        )))
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn shares_work(&self) -> bool {
        true
    }

    fn all_values(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<f64>> {
        self.masked
            .log_odds(self.lm, self.target, self.batch_size, Some(progress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_odds_f32_matches_the_definition() {
        let z = [0.3f32, -1.2, 2.0, 0.0];
        let e: Vec<f64> = z.iter().map(|&x| (x as f64).exp()).collect();
        let p = e[2] / e.iter().sum::<f64>();
        assert!((log_odds_f32(&z, 2) - (p / (1.0 - p)).ln()).abs() < 1e-12);
        // a confident prediction stays finite
        assert!((log_odds_f32(&[200.0, 0.0], 0) - 200.0).abs() < 1e-9);
    }
}
