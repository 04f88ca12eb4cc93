//! The value function of a text classifier on masked sentences (SPEC §1):
//! v(x_T) = log p_y(x_T) − log(1 − p_y(x_T)), p = softmax(logits), optionally centred so that
//! v(x_∅) = 0 (the authors' "gt-log-odds-v0"; on by default).
//!
//! All 2^n masked inputs of a sentence have the sentence's own token length (no padding to a fixed
//! length, so the attention mask is all ones) and are evaluated in batches. What the network
//! returns is kept as the full logits matrix, so any target label and either centring can be
//! derived later without running the network again; [`ValueCache`] stores these matrices on disk.

use std::ops::Range;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use super::baseline::ResolvedBaseline;
use super::players::Players;
use crate::coalition::Coalition;
use crate::export::{npy_bytes, read_npy, write_atomic};
use crate::models::bert::BertClassifier;
use crate::models::tokenizer::{Encoded, TextTokenizer};
use crate::models::ModelError;
use crate::{Error, Result};

/// Default number of masked inputs per forward pass.
pub const DEFAULT_BATCH: usize = 128;

/// Called after every batch with (masked inputs done, total): for progress bars and text lines.
pub type ProgressFn<'a> = &'a mut dyn FnMut(usize, usize);

/// Which class's log-odds is the value.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The class the model predicts on the full (unmasked) sentence.
    #[default]
    Predicted,
    /// A given class index.
    Label(usize),
}

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

/// The logits of every masked input: `data[mask * classes + c]`, mask bit i = player i present.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Logits {
    pub n: usize,
    pub classes: usize,
    pub data: Vec<f64>,
}

/// A value vector v(x_T) for all T, with what it was derived from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValueVector {
    /// The class whose log-odds v is.
    pub target: usize,
    /// Whether lo(x_∅) was subtracted.
    pub centred: bool,
    /// v(x_T) indexed by mask (bit i = player i present).
    pub v: Vec<f64>,
    /// Uncentred log-odds of the target on the fully masked and on the full sentence.
    pub log_odds_empty: f64,
    pub log_odds_full: f64,
    /// The class predicted on the full sentence.
    pub predicted: usize,
}

impl Logits {
    /// The logits of masked input `mask`.
    pub fn row(&self, mask: usize) -> &[f64] {
        &self.data[mask * self.classes..(mask + 1) * self.classes]
    }

    /// The most likely class of masked input `mask` (the first one on ties).
    pub fn argmax(&self, mask: usize) -> usize {
        let row = self.row(mask);
        (0..row.len()).fold(0, |best, c| if row[c] > row[best] { c } else { best })
    }

    /// The value vector for `target`, centred or not. Errors: fewer than two classes, a label out
    /// of range, a non-finite log-odds.
    pub fn values(&self, target: Target, centre: bool) -> Result<ValueVector> {
        if self.classes < 2 {
            return Err(Error::Invalid(format!(
                "the model has {} output class(es): log-odds need at least two; use a classifier head with ≥ 2 labels",
                self.classes
            )));
        }
        let full = Coalition::full(self.n).mask();
        let predicted = self.argmax(full);
        let y = match target {
            Target::Predicted => predicted,
            Target::Label(y) if y < self.classes => y,
            Target::Label(y) => {
                return Err(Error::InvalidSetting {
                    name: "target label",
                    value: y.to_string(),
                    why: "the label is out of range: it must be a class index of the model (0 ..= number of labels − 1)",
                })
            }
        };
        let raw: Vec<f64> = (0..1usize << self.n)
            .map(|m| log_odds(self.row(m), y))
            .collect();
        if let Some((mask, &value)) = raw.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Error::NonFinite {
                what: format!("the log-odds of class {y}"),
                mask,
                value,
            });
        }
        let (empty, top) = (raw[0], raw[full]);
        let v = if centre {
            raw.iter().map(|x| x - empty).collect()
        } else {
            raw
        };
        Ok(ValueVector {
            target: y,
            centred: centre,
            v,
            log_odds_empty: empty,
            log_odds_full: top,
            predicted,
        })
    }
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

    /// Logits `(masks.len(), classes)` of the masked inputs, in one forward pass.
    pub fn logits(&self, model: &BertClassifier, masks: &[u32]) -> Result<Tensor> {
        let device = model.device();
        let ones = Tensor::ones((masks.len(), self.len()), candle_core::DType::U32, device)
            .map_err(ModelError::from)?;
        Ok(match &self.baseline {
            ResolvedBaseline::TokenId(_) => {
                let ids =
                    Tensor::from_vec(self.masked_ids(masks), (masks.len(), self.len()), device)
                        .map_err(ModelError::from)?;
                model.forward_ids(&ids, &ones)?
            }
            ResolvedBaseline::Embedding(b) => {
                model.forward_embeds(&self.masked_embeds(model, masks, b)?, &ones)?
            }
        })
    }

    /// Logits of all 2^n masked inputs, `batch_size` per forward pass, calling `progress` after
    /// each. Returns them with the number of forward passes run. Non-finite logits are an error.
    pub fn all_logits(
        &self,
        model: &BertClassifier,
        batch_size: usize,
        mut progress: Option<ProgressFn<'_>>,
    ) -> Result<(Logits, usize)> {
        if batch_size == 0 {
            return Err(Error::InvalidSetting {
                name: "batch_size",
                value: "0".into(),
                why: "at least one input per batch",
            });
        }
        let total = 1usize << self.n();
        let classes = model.num_labels();
        let mut data = Vec::with_capacity(total * classes);
        let mut calls = 0;
        let masks: Vec<u32> = (0..total as u32).collect();
        for chunk in masks.chunks(batch_size) {
            let out = self.logits(model, chunk)?;
            let rows: Vec<Vec<f32>> = out.to_vec2().map_err(ModelError::from)?;
            calls += 1;
            for (r, row) in rows.iter().enumerate() {
                if let Some(&bad) = row.iter().find(|x| !x.is_finite()) {
                    return Err(Error::NonFinite {
                        what: "the model's logits (check the weights and the baseline)".into(),
                        mask: chunk[r] as usize,
                        value: bad as f64,
                    });
                }
                data.extend(row.iter().map(|&x| x as f64));
            }
            if let Some(p) = progress.as_mut() {
                p(data.len() / classes, total);
            }
        }
        Ok((
            Logits {
                n: self.n(),
                classes,
                data,
            },
            calls,
        ))
    }
}

/// What identifies a logits matrix: the model, the sentence, the players (by byte span) and the
/// baseline. Target and centring are not part of it: they are derived from the logits.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CacheKey {
    pub version: u32,
    /// [`crate::api::TextClassifier::identity`]: name, file hashes, head.
    pub model: String,
    pub sentence: String,
    pub players: Vec<Range<usize>>,
    /// [`super::baseline::Baseline::identity`].
    pub baseline: String,
}

impl CacheKey {
    pub const VERSION: u32 = 1;

    pub fn new(model: &str, players: &Players, baseline: String) -> Self {
        CacheKey {
            version: Self::VERSION,
            model: model.to_string(),
            sentence: players.sentence.clone(),
            players: players.words.iter().map(|w| w.bytes.clone()).collect(),
            baseline,
        }
    }

    /// Hex SHA-256 of the key's JSON: the cache file name.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex(&Sha256::digest(json))
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CacheMeta {
    key: CacheKey,
    n: usize,
    classes: usize,
}

/// A directory of logits matrices: `<hash>.npy` (f64, row-major 2^n × classes, mask order bit i =
/// player i) and `<hash>.json` (the full key, n, classes), both written atomically, the JSON last.
/// An entry whose JSON does not hold the same key, or whose sizes disagree, is a miss.
#[derive(Clone, Debug)]
pub struct ValueCache {
    dir: PathBuf,
}

impl ValueCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ValueCache { dir: dir.into() }
    }

    /// `$INTERPRIM_CACHE/values`, else `<crate root>/.cache/values`.
    pub fn default_dir() -> PathBuf {
        match std::env::var_os("INTERPRIM_CACHE") {
            Some(d) if !d.is_empty() => PathBuf::from(d).join("values"),
            _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join(".cache")
                .join("values"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, key: &CacheKey) -> (PathBuf, PathBuf) {
        let h = key.hash();
        (
            self.dir.join(format!("{h}.npy")),
            self.dir.join(format!("{h}.json")),
        )
    }

    /// The cached logits for `key`, if present and consistent.
    pub fn load(&self, key: &CacheKey) -> Result<Option<Logits>> {
        let (npy, json) = self.paths(key);
        let Ok(text) = std::fs::read_to_string(&json) else {
            return Ok(None);
        };
        let Ok(meta) = serde_json::from_str::<CacheMeta>(&text) else {
            return Ok(None);
        };
        if meta.key != *key || meta.classes == 0 || meta.n > crate::MAX_PLAYERS {
            return Ok(None);
        }
        let Ok(data) = read_npy(&npy) else {
            return Ok(None);
        };
        if data.len() != meta.classes << meta.n {
            return Ok(None);
        }
        Ok(Some(Logits {
            n: meta.n,
            classes: meta.classes,
            data,
        }))
    }

    /// Store `logits` under `key`.
    pub fn store(&self, key: &CacheKey, logits: &Logits) -> Result<()> {
        let (npy, json) = self.paths(key);
        write_atomic(&npy, &npy_bytes(&logits.data)?)?;
        let meta = CacheMeta {
            key: key.clone(),
            n: logits.n,
            classes: logits.classes,
        };
        let text = serde_json::to_vec_pretty(&meta)
            .map_err(|e| Error::Invalid(format!("cannot encode cache entry: {e}")))?;
        write_atomic(&json, &text)
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

    #[test]
    fn values_centre_and_check_labels() {
        let l = Logits {
            n: 1,
            classes: 2,
            data: vec![0.0, 1.0, 3.0, 0.0],
        };
        let v = l.values(Target::Predicted, true).unwrap();
        assert_eq!(v.target, 0);
        assert_eq!(v.v, vec![0.0, 4.0]);
        assert_eq!((v.log_odds_empty, v.log_odds_full), (-1.0, 3.0));
        let u = l.values(Target::Label(1), false).unwrap();
        assert_eq!(u.v, vec![1.0, -3.0]);
        assert!(l
            .values(Target::Label(2), true)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        let one = Logits {
            n: 1,
            classes: 1,
            data: vec![0.0, 1.0],
        };
        assert!(one.values(Target::Predicted, true).is_err());
    }

    #[test]
    fn cache_round_trips_exactly_and_rejects_other_keys() {
        let dir = std::env::temp_dir().join(format!("interprim-cache-test-{}", std::process::id()));
        let cache = ValueCache::new(&dir);
        let players = Players::select(
            "good food",
            &super::super::players::PlayerSelection::Indices(vec![0]),
        )
        .unwrap();
        let key = CacheKey::new("m", &players, "zero".into());
        assert!(cache.load(&key).unwrap().is_none());
        let l = Logits {
            n: 1,
            classes: 2,
            data: vec![0.1, 1.0 / 3.0, -2.5e-7, std::f64::consts::PI],
        };
        cache.store(&key, &l).unwrap();
        assert_eq!(cache.load(&key).unwrap(), Some(l));
        let other = CacheKey {
            baseline: "mean".into(),
            ..key
        };
        assert!(cache.load(&other).unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
