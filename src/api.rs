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
//! A thin layer over the library's one path for text: the sentence's players are selected
//! ([`crate::text::players`]); each model becomes a [`TextGame`] on them and is evaluated on all
//! 2^n masked sentences ([`crate::game::evaluate`], cached on disk when
//! [`ExtractOptions::cache_dir`] is set); then [`crate::explain::explain_values`] runs the
//! extractions and the results are labelled with words. The expensive step, the network, is separate
//! ([`sentence_values`]) so that runs over many sentences can compute γ̂ bounds over all of them
//! ([`gamma_bounds`]) before extracting ([`extract_generalizable_from_values`]). Any other model
//! goes through [`crate::explain::explain`] with its own [`crate::game::Game`].

use std::path::PathBuf;

use crate::coalition::Coalition;
use crate::decomposition::{gamma_bounds_over_samples, Decomposition, DecompositionOptions};
use crate::explain::{explain_values, Methods};
use crate::game::{evaluate, Budget, EvalOptions, GameValues, ValueCache};
use crate::interactions::{Interaction, Interactions, Kind};
use crate::metrics::sharing::{self, NullCurve, SharedCounts, SharingCurve};
use crate::metrics::{self, GeneralizationCurve, MatchingError};
use crate::progress::Observer;
use crate::text::baseline::Baseline;
use crate::text::masking::DEFAULT_BATCH;
use crate::text::players::{PlayerSelection, Players, Word, DEFAULT_PLAYERS};
use crate::{Error, Result};

pub use crate::games::text::{fresh_head, Target, TextClassifier, TextGame};

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
    /// Masked sentences per forward pass.
    pub batch_size: usize,
    /// Directory of the value cache; `None`: no cache. See [`ValueCache::default_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Cost limits of evaluating the masked sentences.
    pub budget: Budget,
    /// The decomposition (solver, α, bounds, learning rates): the same options type the runs and
    /// the command line use.
    pub decomposition: DecompositionOptions,
    /// How many interactions per model are listed and split into shared and distinctive.
    pub top_k: usize,
    /// Replicates R of the permutation null of the models' agreement
    /// ([`Agreement::permutation_null`]); 0 (the default): none. Each replicate of the
    /// generalizable agreement re-runs the joint extraction on relabelled values (R more
    /// extractions); the traditional agreement relabels its interactions (no extraction).
    #[serde(default)]
    pub null_permutations: usize,
    /// Seed of the permutation null.
    #[serde(default)]
    pub null_seed: u64,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            n_players: DEFAULT_PLAYERS,
            seed: 0,
            explicit_players: None,
            baseline: Baseline::default(),
            target: Target::Predicted,
            batch_size: DEFAULT_BATCH,
            cache_dir: None,
            budget: Budget::default(),
            decomposition: DecompositionOptions::default(),
            top_k: 50,
            null_permutations: 0,
            null_seed: 0,
        }
    }
}

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

    fn eval(&self) -> EvalOptions {
        EvalOptions {
            centre: true,
            cache: self.cache_dir.clone().map(ValueCache::new),
            budget: self.budget,
        }
    }
}

/// One model's value function on one sentence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelValues {
    pub model: String,
    pub baseline: String,
    /// The model's tokens of the sentence (special tokens included).
    pub tokens: Vec<String>,
    /// Token indices of each player.
    pub player_tokens: Vec<Vec<usize>>,
    /// v(x_T) for every T, centred, with where it came from.
    pub values: GameValues,
    /// The class (or token) whose log-odds v is, and its name when known.
    pub target: usize,
    pub label_name: Option<String>,
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
    mut observer: Option<&mut Observer<'_>>,
) -> Result<SentenceValues> {
    if models.is_empty() {
        return Err(Error::WrongModelCount("no models given".into()));
    }
    let players = Players::select(sentence, &opts.selection())?;
    let eval = opts.eval();
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let game = m.game(&players, &opts.baseline, opts.target, opts.batch_size)?;
        let o = observer.as_mut().map(|o| &mut **o as &mut Observer<'_>);
        let values = evaluate(&game, &eval, o)?;
        out.push(ModelValues {
            model: m.name().to_string(),
            baseline: game.baseline(),
            tokens: game.tokens().to_vec(),
            player_tokens: game.player_tokens().to_vec(),
            values,
            target: game.target(),
            label_name: game.target_name(),
        });
    }
    Ok(SentenceValues {
        sentence: sentence.to_string(),
        players,
        models: out,
    })
}

/// τ_γ per model over many sentences (method §3.2): ratio·mean |v(x_N) − v(x_∅)|. Set the result
/// as `opts.decomposition.gamma_bounds` before extracting from each sentence of the run.
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
    /// The same k with signed sharing (same sign in every model) and the chance level.
    pub sharing: Option<SharingCurve>,
    /// Among each model's `top_k` of both kinds: how many are shared by all models, how many of
    /// those with the same sign in every model, and the count expected by chance.
    pub shared: SharedCounts,
    /// Each model's top-k split into shared (in every model's top-k) and distinctive.
    pub split: Vec<SharedDistinctive>,
    /// The permutation null of the sharing on the same k (mean and sd over R replicates), when
    /// asked for ([`ExtractOptions::null_permutations`]).
    pub permutation_null: Option<NullCurve>,
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
    let (generalization, sharing) = if ks.is_empty() {
        (
            GeneralizationCurve {
                k: vec![],
                s_and: vec![],
                s_or: vec![],
            },
            None,
        )
    } else {
        (
            metrics::generalization_curve(std::slice::from_ref(&sets), &ks)?,
            Some(sharing::sharing_curve(std::slice::from_ref(&sets), &ks)?),
        )
    };
    let shared = sharing::shared_counts(&sets, top_k.max(1))?;
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
        sharing,
        shared,
        split,
        permutation_null: None,
    })
}

/// The permutation null of an agreement's sharing on its k (R = `opts.null_permutations`), or
/// `None` when not asked for (R = 0) or without k. `values`: the models' value vectors; the
/// generalizable null re-runs the joint extraction with `opts.decomposition` on relabelled
/// values, the traditional one relabels `interactions` (traditional extraction commutes with
/// relabelling).
fn agreement_null(
    ks: &[usize],
    values: &[&[f64]],
    interactions: &[&Interactions],
    generalizable: bool,
    opts: &ExtractOptions,
) -> Result<Option<NullCurve>> {
    let r = opts.null_permutations;
    if r == 0 || ks.is_empty() || values.len() < 2 {
        return Ok(None);
    }
    let seed = opts.null_seed;
    Ok(Some(if generalizable {
        let ext = sharing::generalizable_extractor(opts.decomposition.clone());
        sharing::permutation_null(&[values.to_vec()], &ext, ks, r, seed)?
    } else {
        sharing::permutation_null_interactions(&[interactions.to_vec()], ks, r, seed)?
    }))
}

/// The one extraction path ([`explain_values`]) on a sentence's values.
fn explain_sentence(
    values: &SentenceValues,
    models: &[usize],
    opts: &ExtractOptions,
    methods: Methods,
    observer: Option<&mut Observer<'_>>,
) -> Result<crate::explain::Explanation> {
    let vs = models
        .iter()
        .map(|&i| {
            values
                .models
                .get(i)
                .map(|m| m.values.clone())
                .ok_or_else(|| {
                    Error::WrongModelCount(format!(
                        "model index {i} is out of range: {} models",
                        values.models.len()
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    explain_values(vs, &opts.decomposition, methods, observer)
}

fn generalizable_result(
    values: &SentenceValues,
    d: Decomposition,
    opts: &ExtractOptions,
    seconds: f64,
) -> Result<GeneralizableResult> {
    let models: Vec<ModelResult> = values
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| model_result(&values.players, m.clone(), &d, i, opts.top_k))
        .collect::<Result<_>>()?;
    let refs: Vec<&ModelResult> = models.iter().collect();
    let mut agreement = agreement(&values.players, &refs, opts.top_k)?;
    let vs: Vec<&[f64]> = values.models.iter().map(|m| m.v()).collect();
    let sets: Vec<&Interactions> = models.iter().map(|m| &m.interactions).collect();
    agreement.permutation_null =
        agreement_null(&agreement.generalization.k, &vs, &sets, true, opts)?;
    Ok(GeneralizableResult {
        sentence: values.sentence.clone(),
        players: values.players.words.clone(),
        n: values.players.n(),
        models,
        decomposition: d,
        agreement,
        seconds: seconds + values.models.iter().map(|m| m.values.seconds).sum::<f64>(),
    })
}

fn traditional_result(
    values: &SentenceValues,
    index: usize,
    d: Decomposition,
    opts: &ExtractOptions,
    seconds: f64,
) -> Result<TraditionalResult> {
    let m = &values.models[index];
    Ok(TraditionalResult {
        sentence: values.sentence.clone(),
        players: values.players.words.clone(),
        n: values.players.n(),
        model: model_result(&values.players, m.clone(), &d, 0, opts.top_k)?,
        decomposition: d,
        seconds: seconds + m.values.seconds,
    })
}

/// Generalizable extraction from values already computed.
pub fn extract_generalizable_from_values(
    values: &SentenceValues,
    opts: &ExtractOptions,
    observer: Option<&mut Observer<'_>>,
) -> Result<GeneralizableResult> {
    if values.models.len() < 2 {
        return Err(Error::WrongModelCount(format!(
            "generalizable extraction needs at least 2 models, got {}; use extract_traditional for one model",
            values.models.len()
        )));
    }
    let all: Vec<usize> = (0..values.models.len()).collect();
    let methods = Methods {
        generalizable: true,
        traditional: false,
    };
    let e = explain_sentence(values, &all, opts, methods, observer)?;
    let d = e
        .generalizable
        .ok_or_else(|| Error::Invalid("the generalizable extraction did not run".into()))?;
    generalizable_result(values, d, opts, e.seconds.generalizable)
}

/// Traditional extraction of model `index` of `values`.
pub fn extract_traditional_from_values(
    values: &SentenceValues,
    index: usize,
    opts: &ExtractOptions,
    observer: Option<&mut Observer<'_>>,
) -> Result<TraditionalResult> {
    let methods = Methods {
        generalizable: false,
        traditional: true,
    };
    let e = explain_sentence(values, &[index], opts, methods, observer)?;
    let d = e
        .traditional
        .into_iter()
        .next()
        .ok_or_else(|| Error::Invalid("the traditional extraction did not run".into()))?;
    traditional_result(values, index, d, opts, e.seconds.traditional)
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
    mut observer: Option<&mut Observer<'_>>,
) -> Result<GeneralizableResult> {
    check_generalizable(models)?;
    let values = sentence_values_observed(
        models,
        sentence,
        opts,
        observer.as_mut().map(|o| &mut **o as &mut Observer<'_>),
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
    mut observer: Option<&mut Observer<'_>>,
) -> Result<TraditionalResult> {
    let values = sentence_values_observed(
        &[model],
        sentence,
        opts,
        observer.as_mut().map(|o| &mut **o as &mut Observer<'_>),
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
    mut observer: Option<&mut Observer<'_>>,
) -> Result<Comparison> {
    check_generalizable(models)?;
    let values = sentence_values_observed(
        models,
        sentence,
        opts,
        observer.as_mut().map(|o| &mut **o as &mut Observer<'_>),
    )?;
    compare_from_values(&values, opts, observer)
}

/// [`compare_with`] from values already computed: one call of the extraction path for both
/// methods.
pub fn compare_from_values(
    values: &SentenceValues,
    opts: &ExtractOptions,
    observer: Option<&mut Observer<'_>>,
) -> Result<Comparison> {
    if values.models.len() < 2 {
        return Err(Error::WrongModelCount(format!(
            "a comparison needs at least 2 models, got {}",
            values.models.len()
        )));
    }
    let all: Vec<usize> = (0..values.models.len()).collect();
    let e = explain_sentence(values, &all, opts, Methods::default(), observer)?;
    let per = e.seconds.traditional / values.models.len() as f64;
    let d = e
        .generalizable
        .ok_or_else(|| Error::Invalid("the generalizable extraction did not run".into()))?;
    let generalizable = generalizable_result(values, d, opts, e.seconds.generalizable)?;
    let traditional: Vec<TraditionalResult> = e
        .traditional
        .into_iter()
        .enumerate()
        .map(|(i, d)| traditional_result(values, i, d, opts, per))
        .collect::<Result<_>>()?;
    let refs: Vec<&ModelResult> = traditional.iter().map(|t| &t.model).collect();
    let mut traditional_agreement = agreement(&values.players, &refs, opts.top_k)?;
    let vs: Vec<&[f64]> = values.models.iter().map(|m| m.v()).collect();
    let sets: Vec<&Interactions> = refs.iter().map(|m| &m.interactions).collect();
    traditional_agreement.permutation_null = agreement_null(
        &traditional_agreement.generalization.k,
        &vs,
        &sets,
        false,
        opts,
    )?;
    Ok(Comparison {
        generalizable,
        traditional,
        traditional_agreement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomposition::Optimizer;

    /// Two "models" (the demo's noisy Boolean functions) on the five words of a sentence.
    fn values() -> SentenceValues {
        let players = Players::select(
            "one two three four five",
            &PlayerSelection::Seeded { n: 5, seed: 0 },
        )
        .unwrap();
        let models = crate::demo::noisy_models(2, 0.05)
            .into_iter()
            .enumerate()
            .map(|(i, v)| ModelValues {
                model: format!("M{i}"),
                baseline: "mask".into(),
                tokens: vec![],
                player_tokens: vec![],
                values: GameValues {
                    game: format!("M{i}"),
                    players: players.words.iter().map(|w| w.text.clone()).collect(),
                    raw_full: v[31],
                    v,
                    centred: true,
                    raw_empty: 0.0,
                    from_cache: false,
                    seconds: 0.0,
                },
                target: 1,
                label_name: None,
            })
            .collect();
        SentenceValues {
            sentence: players.sentence.clone(),
            players,
            models,
        }
    }

    fn options(nulls: usize) -> ExtractOptions {
        let mut d = DecompositionOptions::sgd(300);
        d.sgd_generalizable = Optimizer {
            niter: 300,
            ..Optimizer::generalizable()
        }
        .with_lr(1e-4);
        ExtractOptions {
            decomposition: d,
            top_k: 10,
            null_permutations: nulls,
            null_seed: 3,
            ..Default::default()
        }
    }

    #[test]
    fn agreement_reports_signed_counts_and_the_null_on_request() {
        let v = values();
        let plain = compare_from_values(&v, &options(0), None).unwrap();
        for a in [&plain.generalizable.agreement, &plain.traditional_agreement] {
            assert!(a.permutation_null.is_none());
            assert_eq!(a.shared.k, 10);
            assert!(a.shared.shared_signed <= a.shared.shared);
            assert_eq!(a.shared.shared, a.split[0].shared.len());
            let s = a.sharing.as_ref().unwrap();
            assert_eq!(s.k, a.generalization.k);
            assert_eq!(s.s_and, a.generalization.s_and);
            assert!(s.s_and_signed.iter().zip(&s.s_and).all(|(x, y)| x <= y));
        }
        let with = compare_from_values(&v, &options(2), None).unwrap();
        let g = with
            .generalizable
            .agreement
            .permutation_null
            .as_ref()
            .unwrap();
        assert_eq!(
            (g.replicates, &g.k),
            (2, &with.generalizable.agreement.generalization.k)
        );
        // the generalizable null re-extracts, the traditional one relabels
        let ext = sharing::generalizable_extractor(options(2).decomposition);
        let vs: Vec<&[f64]> = v.models.iter().map(|m| m.v()).collect();
        assert_eq!(
            g,
            &sharing::permutation_null(&[vs], &ext, &g.k, 2, 3).unwrap()
        );
        let t = with
            .traditional_agreement
            .permutation_null
            .as_ref()
            .unwrap();
        let sets: Vec<&Interactions> = with
            .traditional
            .iter()
            .map(|t| &t.model.interactions)
            .collect();
        assert_eq!(
            t,
            &sharing::permutation_null_interactions(&[sets], &t.k, 2, 3).unwrap()
        );
        // the options without the new fields still read
        let json = serde_json::to_value(ExtractOptions::default()).unwrap();
        let mut o = json.as_object().unwrap().clone();
        o.remove("null_permutations");
        o.remove("null_seed");
        let back: ExtractOptions = serde_json::from_value(serde_json::Value::Object(o)).unwrap();
        assert_eq!(back, ExtractOptions::default());
    }
}
