//! The high-level API: text classifiers, a sentence in, interactions with words out.
//!
//! ```no_run
//! use interprim::api::{extract_generalizable, TextClassifier};
//! use interprim::models::assets;
//! let a = TextClassifier::load("MiniLM-L6", &assets::minilm_l6_dir(), None)?;
//! let b = TextClassifier::load("MiniLM-L3", &assets::minilm_l3_dir(), None)?;
//! let r = extract_generalizable(&[&a, &b], "A gorgeous, witty, seductive movie.")?;
//! for it in &r.models[0].top {
//!     println!("{} {} {:+.3}", it.kind.name(), it.label, it.effect);
//! }
//! # Ok::<(), interprim::Error>(())
//! ```
//!
//! The pipeline: the sentence's players are selected ([`crate::text::players`]); every model
//! evaluates all 2^n masked sentences ([`crate::text::value`], cached on disk when
//! [`ExtractOptions::cache_dir`] is set); then traditional (one model) or generalizable (several
//! models) AND-OR extraction ([`crate::decomposition`]) runs on the value vectors, and the results
//! are labelled with words. The expensive step, the network, is separate
//! ([`sentence_values`]) so that runs over many sentences can compute γ̂ bounds over all of them
//! ([`gamma_bounds`]) before extracting ([`extract_generalizable_from_values`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use candle_core::Device;
use sha2::{Digest, Sha256};

use crate::coalition::Coalition;
use crate::decomposition::{
    decompose_generalizable_observed, decompose_traditional_observed, gamma_bounds_over_samples,
    Decomposition, GeneralizableOptions, TraditionalOptions,
};
use crate::interactions::{Interaction, Interactions, Kind};
use crate::metrics::{self, GeneralizationCurve, MatchingError};
use crate::models::bert::{BertClassifier, BertFiles, HeadSource, Pooling};
use crate::models::tokenizer::TextTokenizer;
use crate::text::baseline::{learn_baseline, Baseline, LearnBaselineOptions, LearnedBaseline};
use crate::text::diff::DiffBert;
use crate::text::players::{PlayerSelection, Players, Word, DEFAULT_PLAYERS};
use crate::text::value::{
    hex, CacheKey, Logits, MaskedSentence, Target, ValueCache, ValueVector, DEFAULT_BATCH,
};
use crate::{Error, Result};

/// A BERT sentence classifier with its tokenizer and a name.
pub struct TextClassifier {
    name: String,
    tokenizer: TextTokenizer,
    model: BertClassifier,
    source: Option<(BertFiles, HeadSource)>,
    identity: OnceLock<String>,
    learned: Option<LearnedBaseline>,
    forward_calls: AtomicUsize,
}

impl std::fmt::Debug for TextClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextClassifier")
            .field("name", &self.name)
            .field("model", &self.model)
            .finish()
    }
}

/// The head used when no fine-tuned file is given: mean pooling, two labels, seed 0.
pub fn fresh_head() -> HeadSource {
    HeadSource::Fresh {
        pooling: Pooling::Mean,
        num_labels: 2,
        seed: 0,
    }
}

fn file_hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(hex(&Sha256::digest(bytes)))
}

impl TextClassifier {
    /// Load `dir/{config.json, tokenizer.json, model.safetensors}` on the CPU with the fine-tuned
    /// head file `head`, or, without one, a fresh seeded head ([`fresh_head`]).
    pub fn load(name: &str, dir: &Path, head: Option<&Path>) -> Result<Self> {
        let head = head
            .map(|p| HeadSource::FineTuned(p.to_path_buf()))
            .unwrap_or_else(fresh_head);
        Self::load_with(name, BertFiles::in_dir(dir), head, &Device::Cpu)
    }

    /// Load from explicit files and head source.
    pub fn load_with(
        name: &str,
        files: BertFiles,
        head: HeadSource,
        device: &Device,
    ) -> Result<Self> {
        let tokenizer = TextTokenizer::from_file(&files.tokenizer)?;
        let model = BertClassifier::load(&files, &head, device)?;
        let mut c = Self::from_parts(name, tokenizer, model, None);
        c.source = Some((files, head));
        Ok(c)
    }

    /// Wrap a model built elsewhere (e.g. in memory after training). `identity` names its weights
    /// in cache keys: give a string that changes whenever the weights do, or `None` to disable
    /// the value cache for this model. Such a model cannot learn a baseline (that needs its files).
    pub fn from_parts(
        name: &str,
        tokenizer: TextTokenizer,
        model: BertClassifier,
        identity: Option<String>,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(id) = identity {
            let _ = cell.set(id);
        }
        TextClassifier {
            name: name.to_string(),
            tokenizer,
            model,
            source: None,
            identity: cell,
            learned: None,
            forward_calls: AtomicUsize::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    pub fn model(&self) -> &BertClassifier {
        &self.model
    }

    /// The files and head it was loaded from, if it was loaded from files.
    pub fn source(&self) -> Option<&(BertFiles, HeadSource)> {
        self.source.as_ref()
    }

    /// What identifies the weights in cache keys: SHA-256 of the config, tokenizer and weight
    /// files and of the fine-tuned head file (or the fresh head's settings), computed once.
    /// `None` for a model from [`Self::from_parts`] without an identity.
    pub fn identity(&self) -> Result<Option<String>> {
        if let Some(id) = self.identity.get() {
            return Ok(Some(id.clone()));
        }
        let Some((files, head)) = &self.source else {
            return Ok(None);
        };
        let head = match head {
            HeadSource::Fresh {
                pooling,
                num_labels,
                seed,
            } => {
                format!("fresh:{}:{num_labels}:{seed}", pooling.as_str())
            }
            HeadSource::FineTuned(p) => format!("fine-tuned:{}", file_hash(p)?),
        };
        let id = format!(
            "config:{} tokenizer:{} weights:{} head:{head}",
            file_hash(&files.config)?,
            file_hash(&files.tokenizer)?,
            file_hash(&files.weights)?
        );
        Ok(Some(self.identity.get_or_init(|| id).clone()))
    }

    /// How many batched forward passes this classifier has run for value functions.
    pub fn forward_calls(&self) -> usize {
        self.forward_calls.load(Ordering::Relaxed)
    }

    pub fn learned_baseline(&self) -> Option<&LearnedBaseline> {
        self.learned.as_ref()
    }

    /// Set (or clear) the baseline that [`Baseline::Learned`] uses for this model.
    pub fn set_learned_baseline(&mut self, baseline: Option<LearnedBaseline>) {
        self.learned = baseline;
    }

    /// Learn a baseline embedding on sample sentences (see [`crate::text::baseline`]).
    pub fn learn_baseline(
        &self,
        sentences: &[&str],
        opts: &LearnBaselineOptions,
    ) -> Result<LearnedBaseline> {
        let (files, head) = self.source.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "model {} was not loaded from files, so it cannot be differentiated: load it with TextClassifier::load",
                self.name
            ))
        })?;
        let diff = DiffBert::new(files, head, &self.model)?;
        learn_baseline(&self.model, &self.tokenizer, &diff, sentences, opts)
    }

    /// The model's logits on the unmasked sentence.
    pub fn logits(&self, sentence: &str) -> Result<Vec<f64>> {
        let enc = self.tokenizer.encode(sentence)?;
        let ce = |e| Error::from(crate::models::ModelError::Candle(e));
        let ids =
            candle_core::Tensor::from_vec(enc.ids.clone(), (1, enc.len()), self.model.device())
                .map_err(ce)?;
        let mask = ids.ones_like().map_err(ce)?;
        let out = self.model.forward_ids(&ids, &mask)?;
        let row: Vec<f32> = out.get(0).and_then(|r| r.to_vec1()).map_err(ce)?;
        Ok(row.into_iter().map(f64::from).collect())
    }

    /// The value function of this model on `players`: all 2^n masked sentences, from the cache
    /// when possible.
    pub fn values(
        &self,
        players: &Players,
        opts: &ExtractOptions,
        progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<ModelValues> {
        let start = Instant::now();
        let learned = self.learned.as_ref().map(|l| l.values.as_slice());
        let encoded = self.tokenizer.encode(&players.sentence)?;
        let player_tokens = players.token_sets(&encoded)?;
        let cache = match (&opts.cache_dir, self.identity()?) {
            (Some(dir), Some(id)) => Some((
                ValueCache::new(dir),
                CacheKey::new(&id, players, opts.baseline.identity(learned)?),
            )),
            _ => None,
        };
        let cached = match &cache {
            Some((c, key)) => c.load(key)?,
            None => None,
        };
        let from_cache = cached.is_some();
        let logits: Logits = match cached {
            Some(l) if l.n == players.n() => {
                let total = 1usize << l.n;
                if let Some(p) = progress {
                    p(total, total);
                }
                l
            }
            _ => {
                let baseline = opts
                    .baseline
                    .resolve(&self.model, &self.tokenizer, learned)?;
                let ms = MaskedSentence::new(&self.model, &self.tokenizer, players, baseline)?;
                let (l, calls) = ms.all_logits(&self.model, opts.batch_size, progress)?;
                self.forward_calls.fetch_add(calls, Ordering::Relaxed);
                if let Some((c, key)) = &cache {
                    c.store(key, &l)?;
                }
                l
            }
        };
        let values = logits
            .values(opts.target, opts.centre)
            .map_err(|e| match e {
                Error::InvalidSetting {
                    name: "target label",
                    value,
                    ..
                } => Error::Invalid(format!(
                    "target label {value} is out of range for model {}: it has {} labels (0..={})",
                    self.name,
                    logits.classes,
                    logits.classes - 1
                )),
                other => other,
            })?;
        Ok(ModelValues {
            model: self.name.clone(),
            baseline: opts.baseline.describe(),
            tokens: encoded.tokens,
            player_tokens,
            label_name: self
                .model
                .labels()
                .and_then(|l| l.get(values.target).cloned()),
            values,
            logits,
            from_cache,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// How the learning rates of [`ExtractOptions`] are applied.
///
/// The loss is positively homogeneous in (v, γ, ε) and its subgradient is scale-free, so the
/// optimal γ and ε grow with the scale of v while the steps do not: multiplying lr by a scale of v
/// makes one lr suit every sentence and model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrScale {
    /// As given.
    Absolute,
    /// Multiplied by the span max over models of |v(x_N) − v(x_∅)| (what the ε and γ̂ bounds
    /// use). Fragile: the span can be near zero while v varies by several units in between.
    ValueSpan,
    /// Multiplied by the range max over models and T of |v(x_T) − v(x_∅)| (≥ the span).
    /// Measured on 12 sentences × 2 models (n = 10, probe heads), best mean final/initial loss:
    /// traditional 0.385 (range) vs 0.400 (span), generalizable 0.220 vs 0.226, with the same
    /// best lr per unit; one sentence had span 0.04 but range 3.4.
    #[default]
    ValueRange,
}

/// Explicit players, overriding [`ExtractOptions::n_players`] and [`ExtractOptions::seed`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplicitPlayers {
    /// Words of the sentence (case-insensitive; repeated words take successive occurrences).
    Words(Vec<String>),
    /// Indices into [`crate::text::split_words`] of the sentence (punctuation counts).
    Indices(Vec<usize>),
}

/// Every setting of an extraction from a sentence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExtractOptions {
    /// Players per sentence when chosen at random among content words (default 10).
    pub n_players: usize,
    /// Seed of that choice.
    pub seed: u64,
    /// Given players instead of a seeded choice.
    pub explicit_players: Option<ExplicitPlayers>,
    /// What replaces a masked word (default: the `[MASK]` embedding).
    pub baseline: Baseline,
    /// Whose log-odds v is (default: the class predicted on the full sentence, per model).
    pub target: Target,
    /// v(x_T) − v(x_∅) (default on, as the authors).
    pub centre: bool,
    /// Masked sentences per forward pass.
    pub batch_size: usize,
    /// Directory of the value cache; `None`: no cache. See [`ValueCache::default_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Traditional extraction (one model). Its lr is scaled by `lr_scale`.
    pub traditional: TraditionalOptions,
    /// Generalizable extraction (α, bounds, optimiser). Its lr is scaled by `lr_scale`.
    pub generalizable: GeneralizableOptions,
    pub lr_scale: LrScale,
    /// How many interactions per model are listed and split into shared and distinctive.
    pub top_k: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        let mut traditional = TraditionalOptions::default();
        let mut generalizable = GeneralizableOptions::default();
        traditional.optimizer.lr = DEFAULT_LR_TRADITIONAL;
        generalizable.optimizer.lr = DEFAULT_LR_GENERALIZABLE;
        ExtractOptions {
            n_players: DEFAULT_PLAYERS,
            seed: 0,
            explicit_players: None,
            baseline: Baseline::default(),
            target: Target::Predicted,
            centre: true,
            batch_size: DEFAULT_BATCH,
            cache_dir: None,
            traditional,
            generalizable,
            lr_scale: LrScale::ValueRange,
            top_k: 50,
        }
    }
}

/// Default traditional lr per unit of value range ([`LrScale::ValueRange`]), decaying to a
/// tenth over the run (the reference schedule).
///
/// Measured (n = 10, 20000 iterations, 12 movie-review sentences, MiniLM-L6 and -L3 with linear
/// probe heads, ranges 1.9–8.0), mean final/initial loss by lr per unit range: 1e-8: 0.502,
/// 3e-8: 0.457, 1e-7: 0.411, 3e-7: 0.385, 1e-6: 0.431, 3e-6: 0.821 (oscillating). The reference
/// lr 1e-6 without scaling does move the loss at the scale of real log-odds (ranges 2–8 make it
/// 1.3e-7–5e-7 per unit), but is 10× too large where v varies by 0.1 (fresh heads).
pub const DEFAULT_LR_TRADITIONAL: f64 = 3e-7;
/// Default generalizable lr per unit of value range (max over the models), constant (the
/// reference schedule).
///
/// Measured as for [`DEFAULT_LR_TRADITIONAL`], mean final/initial loss: 1e-8: 0.256,
/// 3e-8: 0.223, 5e-8: 0.220, 1e-7: 0.231, 3e-7: 0.387, 1e-6: 1.76. A decaying schedule does better
/// (per unit span on 6 sentences: 2e-6 → 2e-8 geometric 0.194 vs 0.246 for the best constant), at
/// about the same s_and/s_or.
pub const DEFAULT_LR_GENERALIZABLE: f64 = 5e-8;

impl ExtractOptions {
    /// The player selection these options describe.
    pub fn selection(&self) -> PlayerSelection {
        match &self.explicit_players {
            Some(ExplicitPlayers::Words(w)) => PlayerSelection::Words(w.clone()),
            Some(ExplicitPlayers::Indices(i)) => PlayerSelection::Indices(i.clone()),
            None => PlayerSelection::Seeded {
                n: self.n_players,
                seed: self.seed,
            },
        }
    }

    /// The factor `lr_scale` multiplies the learning rates by for these value vectors.
    pub fn lr_factor(&self, values: &[&[f64]]) -> f64 {
        let per_model = |v: &[f64]| match self.lr_scale {
            LrScale::Absolute => 1.0,
            LrScale::ValueSpan => (v[v.len() - 1] - v[0]).abs(),
            LrScale::ValueRange => v.iter().map(|x| (x - v[0]).abs()).fold(0.0, f64::max),
        };
        let s = values.iter().map(|v| per_model(v)).fold(0.0, f64::max);
        if s > 0.0 && s.is_finite() {
            s
        } else {
            1.0
        }
    }
}

/// One model's value function on one sentence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelValues {
    pub model: String,
    pub baseline: String,
    /// The model's tokens of the sentence, `[CLS]` and `[SEP]` included.
    pub tokens: Vec<String>,
    /// Token indices of each player.
    pub player_tokens: Vec<Vec<usize>>,
    pub values: ValueVector,
    /// Name of the target class, when the model has label names.
    pub label_name: Option<String>,
    /// The logits of all masked sentences, from which `values` was derived.
    pub logits: Logits,
    pub from_cache: bool,
    pub seconds: f64,
}

impl ModelValues {
    /// v(x_T) for all T.
    pub fn v(&self) -> &[f64] {
        &self.values.v
    }
}

/// Every model's value function on one sentence with the same players.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SentenceValues {
    pub sentence: String,
    pub players: Players,
    pub models: Vec<ModelValues>,
}

/// Progress of an extraction, for bars and log lines.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stage<'a> {
    /// Masked sentences evaluated by one model.
    Values {
        model: &'a str,
        done: usize,
        total: usize,
    },
    /// Decomposition iterations (`what`: "generalizable" or the model's name for traditional).
    Decomposition {
        what: &'a str,
        iteration: usize,
        niter: usize,
        loss: f64,
    },
}

/// Receives [`Stage`]s.
pub type Observer<'a> = &'a mut dyn FnMut(Stage<'_>);

/// Select the players of `sentence` and evaluate every model on all its masked versions.
pub fn sentence_values(
    models: &[&TextClassifier],
    sentence: &str,
    opts: &ExtractOptions,
) -> Result<SentenceValues> {
    sentence_values_observed(models, sentence, opts, None)
}

/// [`sentence_values`] reporting progress.
pub fn sentence_values_observed(
    models: &[&TextClassifier],
    sentence: &str,
    opts: &ExtractOptions,
    mut observer: Option<Observer<'_>>,
) -> Result<SentenceValues> {
    if models.is_empty() {
        return Err(Error::WrongModelCount("no models given".into()));
    }
    let players = Players::select(sentence, &opts.selection())?;
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let values = match observer.as_mut() {
            Some(obs) => {
                let name = m.name().to_string();
                let mut p = |done, total| {
                    obs(Stage::Values {
                        model: &name,
                        done,
                        total,
                    })
                };
                m.values(&players, opts, Some(&mut p))?
            }
            None => m.values(&players, opts, None)?,
        };
        out.push(values);
    }
    Ok(SentenceValues {
        sentence: sentence.to_string(),
        players,
        models: out,
    })
}

/// τ_γ per model over many sentences (SPEC §3.2): ratio·mean |v(x_N) − v(x_∅)|. Set the result
/// as `opts.generalizable.gamma_bounds` before extracting from each sentence of the run.
pub fn gamma_bounds(samples: &[SentenceValues], ratio: f64) -> Result<Vec<f64>> {
    let per: Vec<Vec<&[f64]>> = samples
        .iter()
        .map(|s| s.models.iter().map(|m| m.v()).collect())
        .collect();
    gamma_bounds_over_samples(&per, ratio)
}

/// An interaction labelled with its words.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NamedInteraction {
    pub kind: Kind,
    pub coalition: Coalition,
    pub words: Vec<String>,
    /// E.g. `{black, dog}`.
    pub label: String,
    pub effect: f64,
}

fn named(players: &Players, list: &[Interaction]) -> Vec<NamedInteraction> {
    list.iter()
        .map(|i| NamedInteraction {
            kind: i.kind,
            coalition: i.coalition,
            words: players.words_of(i.coalition),
            label: players.label(i.coalition),
            effect: i.effect,
        })
        .collect()
}

/// One model's extraction on one sentence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelResult {
    pub model: String,
    pub values: ModelValues,
    /// Plain Harsanyi interactions of v: AND only, no decomposition.
    pub harsanyi: Interactions,
    /// This model's raw interactions from the decomposition (OR terms of order ≤ 1 not moved):
    /// their reconstruction is v + ε.
    pub raw: Interactions,
    /// This model's ε, its bound, and its γ (γ̄ + γ̂ for a generalizable extraction).
    pub eps: Vec<f64>,
    pub eps_bound: f64,
    pub gamma: Vec<f64>,
    /// This model's interactions, reorganised (OR terms of order ≤ 1 moved into AND).
    pub interactions: Interactions,
    /// The `top_k` strongest interactions, AND and OR together.
    pub top: Vec<NamedInteraction>,
    /// 0.05·max |I| and how many interactions exceed it.
    pub salient_threshold: f64,
    pub salient_count: usize,
    /// v against the reconstruction from all interactions: the ε gap (≤ the ε bound).
    pub matching_error: MatchingError,
    /// v against the reconstruction from the salient interactions only (Figs. 6/13).
    pub salient_matching_error: MatchingError,
}

/// Shared and distinctive interactions of one model among several (Figs. 1, 5, 9).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SharedDistinctive {
    pub model: String,
    pub shared: Vec<NamedInteraction>,
    pub distinctive: Vec<NamedInteraction>,
}

/// How several models' interactions on one sentence agree.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Agreement {
    /// s_and, s_or at k = ⌊2^n·t⌋, t = 0.05 … 0.45 (Fig. 3).
    pub generalization: GeneralizationCurve,
    /// Each model's top-k split into shared (in every model's top-k) and distinctive.
    pub split: Vec<SharedDistinctive>,
}

/// Generalizable extraction on one sentence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeneralizableResult {
    pub sentence: String,
    pub players: Vec<Word>,
    pub n: usize,
    pub models: Vec<ModelResult>,
    /// The joint decomposition (all models' interactions, ε, γ̄, γ̂, bounds, losses).
    pub decomposition: Decomposition,
    pub agreement: Agreement,
    pub seconds: f64,
}

/// Traditional extraction of one model on one sentence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TraditionalResult {
    pub sentence: String,
    pub players: Vec<Word>,
    pub n: usize,
    pub model: ModelResult,
    /// The decomposition (interactions, ε, γ, bound, losses).
    pub decomposition: Decomposition,
    pub seconds: f64,
}

/// Both extractions from the same values: generalizable on all models, traditional on each.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Comparison {
    pub generalizable: GeneralizableResult,
    pub traditional: Vec<TraditionalResult>,
    /// Agreement of the traditional extractions (the paper's baseline in Figs. 3 and 5).
    pub traditional_agreement: Agreement,
}

fn model_result(
    players: &Players,
    values: ModelValues,
    d: &Decomposition,
    index: usize,
    top_k: usize,
) -> Result<ModelResult> {
    let interactions = d.interactions[index].reorganised();
    let v = values.v();
    let harsanyi = Interactions::harsanyi(v)?;
    let tau = metrics::SALIENCE_RATIO * interactions.max_abs();
    let salient_count = interactions.iter().filter(|i| i.effect.abs() > tau).count();
    let matching_error = metrics::matching_error(v, &interactions.reconstruct())?;
    let salient_matching_error =
        metrics::matching_error(v, &interactions.reconstruct_from(|i| i.effect.abs() > tau))?;
    Ok(ModelResult {
        model: values.model.clone(),
        top: named(players, &interactions.top_k_all(top_k)),
        values,
        harsanyi,
        raw: d.interactions[index].clone(),
        eps: d.eps[index].clone(),
        eps_bound: d.eps_bounds[index],
        gamma: d.gamma(index),
        interactions,
        salient_threshold: tau,
        salient_count,
        matching_error,
        salient_matching_error,
    })
}

/// s_and/s_or on the paper's k grid and the shared/distinctive split of the top-k.
pub fn agreement(players: &Players, results: &[&ModelResult], top_k: usize) -> Result<Agreement> {
    let sets: Vec<&Interactions> = results.iter().map(|r| &r.interactions).collect();
    let n = players.n();
    let mut ks: Vec<usize> = metrics::k_grid(n, &metrics::paper_t_grid())
        .into_iter()
        .filter(|&k| k >= 1)
        .collect();
    ks.dedup();
    let generalization = if ks.is_empty() {
        GeneralizationCurve {
            k: vec![],
            s_and: vec![],
            s_or: vec![],
        }
    } else {
        metrics::generalization_curve(std::slice::from_ref(&sets), &ks)?
    };
    let split = metrics::shared_and_distinctive(&sets, top_k)?
        .into_iter()
        .zip(results)
        .map(|(s, r)| SharedDistinctive {
            model: r.model.clone(),
            shared: named(players, &s.shared),
            distinctive: named(players, &s.distinctive),
        })
        .collect();
    Ok(Agreement {
        generalization,
        split,
    })
}

fn scaled_generalizable(opts: &ExtractOptions, values: &[&[f64]]) -> GeneralizableOptions {
    let mut g = opts.generalizable.clone();
    g.optimizer.lr *= opts.lr_factor(values);
    g
}

fn scaled_traditional(opts: &ExtractOptions, v: &[f64]) -> TraditionalOptions {
    let mut t = opts.traditional.clone();
    t.optimizer.lr *= opts.lr_factor(&[v]);
    t
}

fn decomposition_observer<'a, 'b>(
    observer: &'a mut Option<Observer<'b>>,
    what: &'a str,
) -> Option<impl FnMut(usize, usize, f64) + use<'a, 'b>> {
    observer.as_mut().map(move |obs| {
        move |iteration, niter, loss| {
            obs(Stage::Decomposition {
                what,
                iteration,
                niter,
                loss,
            })
        }
    })
}

/// Generalizable extraction from values already computed.
pub fn extract_generalizable_from_values(
    values: &SentenceValues,
    opts: &ExtractOptions,
    mut observer: Option<Observer<'_>>,
) -> Result<GeneralizableResult> {
    let start = Instant::now();
    let vs: Vec<&[f64]> = values.models.iter().map(|m| m.v()).collect();
    let g = scaled_generalizable(opts, &vs);
    let d = match decomposition_observer(&mut observer, "generalizable") {
        Some(mut f) => decompose_generalizable_observed(&vs, &g, Some(&mut f))?,
        None => decompose_generalizable_observed(&vs, &g, None)?,
    };
    let models: Vec<ModelResult> = values
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| model_result(&values.players, m.clone(), &d, i, opts.top_k))
        .collect::<Result<_>>()?;
    let refs: Vec<&ModelResult> = models.iter().collect();
    let agreement = agreement(&values.players, &refs, opts.top_k)?;
    Ok(GeneralizableResult {
        sentence: values.sentence.clone(),
        players: values.players.words.clone(),
        n: values.players.n(),
        models,
        decomposition: d,
        agreement,
        seconds: start.elapsed().as_secs_f64()
            + values.models.iter().map(|m| m.seconds).sum::<f64>(),
    })
}

/// Traditional extraction of model `index` of `values`.
pub fn extract_traditional_from_values(
    values: &SentenceValues,
    index: usize,
    opts: &ExtractOptions,
    mut observer: Option<Observer<'_>>,
) -> Result<TraditionalResult> {
    let start = Instant::now();
    let m = values.models.get(index).ok_or_else(|| {
        Error::WrongModelCount(format!(
            "model index {index} is out of range: {} models",
            values.models.len()
        ))
    })?;
    let t = scaled_traditional(opts, m.v());
    let d = match decomposition_observer(&mut observer, &m.model) {
        Some(mut f) => decompose_traditional_observed(m.v(), &t, Some(&mut f))?,
        None => decompose_traditional_observed(m.v(), &t, None)?,
    };
    Ok(TraditionalResult {
        sentence: values.sentence.clone(),
        players: values.players.words.clone(),
        n: values.players.n(),
        model: model_result(&values.players, m.clone(), &d, 0, opts.top_k)?,
        decomposition: d,
        seconds: start.elapsed().as_secs_f64() + m.seconds,
    })
}

fn check_generalizable(models: &[&TextClassifier]) -> Result<()> {
    if models.len() < 2 {
        return Err(Error::WrongModelCount(format!(
            "generalizable extraction needs at least 2 models, got {}; use extract_traditional for one model",
            models.len()
        )));
    }
    Ok(())
}

/// Generalizable extraction with the default options.
pub fn extract_generalizable(
    models: &[&TextClassifier],
    sentence: &str,
) -> Result<GeneralizableResult> {
    extract_generalizable_with(models, sentence, &ExtractOptions::default())
}

/// Generalizable extraction of ≥ 2 models on one sentence.
pub fn extract_generalizable_with(
    models: &[&TextClassifier],
    sentence: &str,
    opts: &ExtractOptions,
) -> Result<GeneralizableResult> {
    extract_generalizable_observed(models, sentence, opts, None)
}

/// [`extract_generalizable_with`] reporting progress.
pub fn extract_generalizable_observed(
    models: &[&TextClassifier],
    sentence: &str,
    opts: &ExtractOptions,
    mut observer: Option<Observer<'_>>,
) -> Result<GeneralizableResult> {
    check_generalizable(models)?;
    let values = sentence_values_observed(
        models,
        sentence,
        opts,
        observer.as_mut().map(|o| &mut **o as Observer<'_>),
    )?;
    extract_generalizable_from_values(&values, opts, observer)
}

/// Traditional extraction with the default options.
pub fn extract_traditional(model: &TextClassifier, sentence: &str) -> Result<TraditionalResult> {
    extract_traditional_with(model, sentence, &ExtractOptions::default())
}

/// Traditional extraction of one model on one sentence.
pub fn extract_traditional_with(
    model: &TextClassifier,
    sentence: &str,
    opts: &ExtractOptions,
) -> Result<TraditionalResult> {
    extract_traditional_observed(model, sentence, opts, None)
}

/// [`extract_traditional_with`] reporting progress.
pub fn extract_traditional_observed(
    model: &TextClassifier,
    sentence: &str,
    opts: &ExtractOptions,
    mut observer: Option<Observer<'_>>,
) -> Result<TraditionalResult> {
    let values = sentence_values_observed(
        &[model],
        sentence,
        opts,
        observer.as_mut().map(|o| &mut **o as Observer<'_>),
    )?;
    extract_traditional_from_values(&values, 0, opts, observer)
}

/// Generalizable extraction on all models and traditional on each, from one evaluation of the
/// networks.
pub fn compare_with(
    models: &[&TextClassifier],
    sentence: &str,
    opts: &ExtractOptions,
) -> Result<Comparison> {
    compare_observed(models, sentence, opts, None)
}

/// [`compare_with`] reporting progress.
pub fn compare_observed(
    models: &[&TextClassifier],
    sentence: &str,
    opts: &ExtractOptions,
    mut observer: Option<Observer<'_>>,
) -> Result<Comparison> {
    check_generalizable(models)?;
    let values = sentence_values_observed(
        models,
        sentence,
        opts,
        observer.as_mut().map(|o| &mut **o as Observer<'_>),
    )?;
    compare_from_values(&values, opts, observer)
}

/// [`compare_with`] from values already computed.
pub fn compare_from_values(
    values: &SentenceValues,
    opts: &ExtractOptions,
    mut observer: Option<Observer<'_>>,
) -> Result<Comparison> {
    let generalizable = extract_generalizable_from_values(
        values,
        opts,
        observer.as_mut().map(|o| &mut **o as Observer<'_>),
    )?;
    let traditional: Vec<TraditionalResult> = (0..values.models.len())
        .map(|i| {
            extract_traditional_from_values(
                values,
                i,
                opts,
                observer.as_mut().map(|o| &mut **o as Observer<'_>),
            )
        })
        .collect::<Result<_>>()?;
    let refs: Vec<&ModelResult> = traditional.iter().map(|t| &t.model).collect();
    let traditional_agreement = agreement(&values.players, &refs, opts.top_k)?;
    Ok(Comparison {
        generalizable,
        traditional,
        traditional_agreement,
    })
}
