//! The paper's measures over all samples of a run (summary.json) and the rows that put our numbers
//! next to the paper's.

use std::collections::BTreeMap;

use super::null::{MethodNulls, RunNulls};
use super::{RunSettings, SampleResult};
use crate::decomposition::SolverKind;
use crate::explain::Timings;
use crate::interactions::{Interactions, Kind};
use crate::metrics::sharing::{self, ExtractionCost, SharingCurve};
use crate::metrics::{self, OrderSums, SalientCount, SALIENCE_RATIO};
use crate::{Error, Result};

/// Numbers the paper reports for a task, to print next to ours.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PaperNumbers {
    pub models: Vec<String>,
    /// (first k, last k) of s_and and s_or, generalizable and traditional.
    pub s_and_generalizable: Option<(f64, f64)>,
    pub s_and_traditional: Option<(f64, f64)>,
    pub s_or_generalizable: Option<(f64, f64)>,
    pub s_or_traditional: Option<(f64, f64)>,
    /// Count above 0.05·max of pooled generalizable interactions, per model, and the pool size.
    pub salient_generalizable: Option<(Vec<usize>, usize)>,
    /// Shared interactions among each model's top 50 on one sentence (generalizable, traditional).
    pub shared_top50: Option<(usize, usize)>,
    pub seconds_per_sample: Option<f64>,
    pub accuracy: Vec<(String, f64)>,
}

/// Measures of one method over all samples. The null fields are absent when the run computed no
/// such null (R = 0, or the cross-sample null without two samples of the same n: see
/// [`NullsInfo::notes`]); the OR fields are absent for plain Harsanyi.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MethodSummary {
    /// The paper's s_and per k (sign-blind, mean over samples).
    pub s_and: Vec<f64>,
    /// Empty (and left out of the JSON) for plain Harsanyi, which has no OR part: its all-zero OR
    /// interactions would tie in every top k and read as a meaningless s_or = 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub s_or: Vec<f64>,
    /// Sign-aware sharing: a coalition counts only when it is in every model's top-k with the
    /// same non-zero sign (≤ the sign-blind s).
    #[serde(default)]
    pub s_and_signed: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub s_or_signed: Vec<f64>,
    /// Permutation null: mean and sd over R replicates of the sharing after relabelling the
    /// players of models 2..m (generalizable: re-extracted; traditional, Harsanyi: relabelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_and_null: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_and_null_sd: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_or_null: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_or_null_sd: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_and_signed_null: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_or_signed_null: Option<Vec<f64>>,
    /// Excess over the permutation null, s − s_null, per k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_and_excess: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_or_excess: Option<Vec<f64>>,
    /// Cross-sample null: model 1 on sample i with the other models on another sample σ(i) of
    /// the same n; mean and sd over R derangements σ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_and_null_cross: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_and_null_cross_sd: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_or_null_cross: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_or_null_cross_sd: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_and_signed_null_cross: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_or_signed_null_cross: Option<Vec<f64>>,
    /// Excess over the cross-sample null, per k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_and_excess_cross: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s_or_excess_cross: Option<Vec<f64>>,
    /// Per model: pooled strengths above 0.05·max of the pool.
    pub salient: Vec<SalientCount>,
    /// Per model, per order: sums of salient interactions, averaged over samples.
    pub orders: Vec<Vec<OrderSums>>,
    /// Mean number of interactions among every model's top 50 that all models share.
    pub shared_top50: f64,
    /// Of those, the mean number with the same sign in every model.
    #[serde(default)]
    pub shared_top50_signed: f64,
}

/// Mean over k of a curve (0 for an empty one).
pub(crate) fn mean_over_k(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

impl MethodSummary {
    /// s_and or s_or.
    pub fn s(&self, kind_or: bool) -> &[f64] {
        if kind_or {
            &self.s_or
        } else {
            &self.s_and
        }
    }

    /// Signed s_and or s_or.
    pub fn s_signed(&self, kind_or: bool) -> &[f64] {
        if kind_or {
            &self.s_or_signed
        } else {
            &self.s_and_signed
        }
    }

    /// The null of one kind: (mean, sd) per k, permutation or cross-sample.
    pub fn null(&self, kind_or: bool, cross: bool) -> Option<(&[f64], &[f64])> {
        let (m, sd) = match (kind_or, cross) {
            (false, false) => (&self.s_and_null, &self.s_and_null_sd),
            (true, false) => (&self.s_or_null, &self.s_or_null_sd),
            (false, true) => (&self.s_and_null_cross, &self.s_and_null_cross_sd),
            (true, true) => (&self.s_or_null_cross, &self.s_or_null_cross_sd),
        };
        Some((m.as_deref()?, sd.as_deref()?))
    }

    /// The excess s − s_null per k of one kind over one null.
    pub fn excess(&self, kind_or: bool, cross: bool) -> Option<&[f64]> {
        match (kind_or, cross) {
            (false, false) => self.s_and_excess.as_deref(),
            (true, false) => self.s_or_excess.as_deref(),
            (false, true) => self.s_and_excess_cross.as_deref(),
            (true, true) => self.s_or_excess_cross.as_deref(),
        }
    }

    /// Mean over k of the excess of one kind over one null.
    pub fn mean_excess(&self, kind_or: bool, cross: bool) -> Option<f64> {
        self.excess(kind_or, cross).map(mean_over_k)
    }
}

/// Top-k sharing expected by chance per k (method §4.1): m independent uniformly random top-k sets
/// of the M candidates overlap (k/M)^(m−1) (M = 2^n for AND, 2^n − n − 1 for OR), mean over
/// samples.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Chance {
    pub chance_and: Vec<f64>,
    pub chance_or: Vec<f64>,
}

/// How the run's nulls were computed.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NullsInfo {
    /// R (0: no nulls).
    pub replicates: usize,
    pub seed: u64,
    /// Which nulls exist.
    pub permutation: bool,
    pub cross_sample: bool,
    /// Why a null is missing or weak.
    pub notes: Vec<String>,
    /// Generalizable re-extractions (R per sample and null) and their seconds as recorded when
    /// each was computed; how many of them this call computed and reused.
    pub extractions: usize,
    pub seconds: f64,
    pub computed: usize,
    pub reused: usize,
    pub not_converged: usize,
    pub max_duality_gap: Option<f64>,
}

/// Generalizable against traditional excess over one null: means over k of s − s_null.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExcessComparison {
    /// "permutation" or "cross-sample".
    pub null: String,
    pub generalizable_and: f64,
    pub traditional_and: f64,
    /// generalizable − traditional.
    pub difference_and: f64,
    pub generalizable_or: f64,
    pub traditional_or: f64,
    pub difference_or: f64,
    /// Whether the generalizable excess (mean over k) is larger for both s_and and s_or.
    pub generalizable_exceeds_traditional: bool,
}

/// What replaces the paper's bare claim "generalizable sharing exceeds traditional": whether the
/// generalizable *excess* over each null exceeds the traditional excess, and by how much.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExcessVsTraditional {
    pub permutation: Option<ExcessComparison>,
    pub cross_sample: Option<ExcessComparison>,
}

/// Means over samples of one model's [`ExtractionCost`].
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CostMeans {
    /// Interactions above 0.05·max of the sample's own interactions.
    pub salient: f64,
    /// ‖I‖₁ (AND and OR, reorganised), in units of v.
    pub l1: f64,
    /// Interactions the reconstruction keeps: min(50, candidates).
    pub top: f64,
    /// Mean |v(x_T) − v̂(x_T)| over all T of the reconstruction from the top interactions.
    pub matching_error: f64,
    /// The same relative to mean |v(x_T)|.
    pub matching_relative: f64,
}

impl CostMeans {
    fn of(costs: &[ExtractionCost]) -> CostMeans {
        let c = costs.len().max(1) as f64;
        let sum = |f: &dyn Fn(&ExtractionCost) -> f64| costs.iter().map(f).sum::<f64>() / c;
        CostMeans {
            salient: sum(&|x| x.salient as f64),
            l1: sum(&|x| x.l1),
            top: sum(&|x| x.top as f64),
            matching_error: sum(&|x| x.matching.mean_abs),
            matching_relative: sum(&|x| x.matching.relative),
        }
    }
}

/// What sharing costs one model ([`sharing::sharing_cost`]): its generalizable interactions
/// against its own traditional ones, means over samples.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelCost {
    pub model: String,
    pub generalizable: CostMeans,
    pub traditional: CostMeans,
}

/// The run's summary (summary.json).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub task: String,
    pub models: Vec<String>,
    pub k: Vec<usize>,
    pub generalizable: MethodSummary,
    pub traditional: MethodSummary,
    pub harsanyi: MethodSummary,
    /// Chance level of top-k sharing per k.
    #[serde(default)]
    pub chance: Chance,
    /// How the nulls were computed.
    #[serde(default)]
    pub nulls: NullsInfo,
    /// Whether the generalizable excess over each null exceeds the traditional excess.
    #[serde(default)]
    pub excess_vs_traditional: ExcessVsTraditional,
    /// What sharing costs each model (top-50 reconstruction).
    #[serde(default)]
    pub sharing_cost: Vec<ModelCost>,
    pub accuracy: BTreeMap<String, f64>,
    pub samples: usize,
    pub seconds_per_sample: f64,
    pub seconds: Timings,
    pub gamma_bounds: Vec<f64>,
    /// Which solver produced the interactions.
    pub solver: SolverKind,
    /// The optimal solver's requested relative duality gap (`None` for SGD).
    pub tol: Option<f64>,
    /// Extractions whose solver did not converge (SGD: loss ended above its start).
    pub not_converged: usize,
    /// The largest certified relative duality gap over all extractions (optimal solver).
    pub max_duality_gap: Option<f64>,
    pub settings: RunSettings,
}

impl Summary {
    /// What the run measured in place of the paper's bare claim, one line per null: the
    /// generalizable and traditional excess s − s_null (mean over k) for s_and and s_or, their
    /// difference and whether the generalizable excess is larger for both; or why there is none.
    pub fn excess_lines(&self) -> Vec<String> {
        let r = self.nulls.replicates;
        let mut lines = Vec::new();
        for (what, c) in [
            ("permutation", &self.excess_vs_traditional.permutation),
            ("cross-sample", &self.excess_vs_traditional.cross_sample),
        ] {
            let Some(c) = c else { continue };
            lines.push(format!(
                "excess over the {what} null (R = {r}, mean over k): s_and generalizable {:+.3} vs traditional {:+.3} ({:+.3}), s_or {:+.3} vs {:+.3} ({:+.3}); generalizable excess larger for both: {}",
                c.generalizable_and,
                c.traditional_and,
                c.difference_and,
                c.generalizable_or,
                c.traditional_or,
                c.difference_or,
                if c.generalizable_exceeds_traditional { "yes" } else { "no" }
            ));
        }
        if lines.is_empty() {
            lines.push(format!(
                "no excess over a null: {}",
                if self.nulls.notes.is_empty() {
                    "no null was computed".to_string()
                } else {
                    self.nulls.notes.join("; ")
                }
            ));
        }
        lines
    }
}

/// Write the nulls and excess into a method's summary: the permutation null's excess over
/// `observed`, the cross-sample null's over `observed_cross` (the samples it pairs).
fn set_nulls(
    s: &mut MethodSummary,
    observed: &SharingCurve,
    observed_cross: &SharingCurve,
    nulls: &MethodNulls,
) -> Result<()> {
    let has_or = !s.s_or.is_empty();
    let or = |v: &Vec<f64>| has_or.then(|| v.clone());
    if let Some(p) = &nulls.permutation {
        let e = sharing::excess(observed, p)?;
        s.s_and_null = Some(p.s_and_mean.clone());
        s.s_and_null_sd = Some(p.s_and_sd.clone());
        s.s_or_null = or(&p.s_or_mean);
        s.s_or_null_sd = or(&p.s_or_sd);
        s.s_and_signed_null = Some(p.s_and_signed_mean.clone());
        s.s_or_signed_null = or(&p.s_or_signed_mean);
        s.s_and_excess = Some(e.s_and);
        s.s_or_excess = or(&e.s_or);
    }
    if let Some(c) = &nulls.cross_sample {
        let e = sharing::excess(observed_cross, c)?;
        s.s_and_null_cross = Some(c.s_and_mean.clone());
        s.s_and_null_cross_sd = Some(c.s_and_sd.clone());
        s.s_or_null_cross = or(&c.s_or_mean);
        s.s_or_null_cross_sd = or(&c.s_or_sd);
        s.s_and_signed_null_cross = Some(c.s_and_signed_mean.clone());
        s.s_or_signed_null_cross = or(&c.s_or_signed_mean);
        s.s_and_excess_cross = Some(e.s_and);
        s.s_or_excess_cross = or(&e.s_or);
    }
    Ok(())
}

fn compare_excess(g: &MethodSummary, t: &MethodSummary, cross: bool) -> Option<ExcessComparison> {
    let (ga, ta) = (g.mean_excess(false, cross)?, t.mean_excess(false, cross)?);
    let (go, to) = (g.mean_excess(true, cross)?, t.mean_excess(true, cross)?);
    Some(ExcessComparison {
        null: if cross { "cross-sample" } else { "permutation" }.into(),
        generalizable_and: ga,
        traditional_and: ta,
        difference_and: ga - ta,
        generalizable_or: go,
        traditional_or: to,
        difference_or: go - to,
        generalizable_exceeds_traditional: ga > ta && go > to,
    })
}

/// The paper's measures over all sample results of a run with `settings`, with the sharing
/// measures of method §4.1: signed sharing, chance, the cost of sharing, and — when `nulls` are
/// given ([`super::Run::nulls`], on the same k) — each method's nulls, its excess and the
/// comparison of the generalizable and traditional excess.
pub fn summarize(
    settings: &RunSettings,
    results: &[SampleResult],
    gamma_bounds: &[f64],
    accuracy: BTreeMap<String, f64>,
    nulls: Option<&RunNulls>,
) -> Result<Summary> {
    let first = results
        .first()
        .ok_or_else(|| Error::Invalid("no samples were processed".into()))?;
    let n = first.values[0].len().trailing_zeros() as usize;
    let ks = metrics::k_grid_checked(n, &settings.t_grid);
    if let Some(nl) = nulls {
        if nl.k != ks {
            return Err(Error::Invalid(format!(
                "the nulls are at k = {:?}, the summary at k = {ks:?}",
                nl.k
            )));
        }
    }
    let m = settings.models.len();
    let method = |name: &str| -> Result<MethodSummary> {
        let per: Vec<Vec<&Interactions>> = results
            .iter()
            .map(|r| r.method(name).iter().collect())
            .collect();
        let curve: SharingCurve = sharing::sharing_curve(&per, &ks)?;
        let salient = (0..m)
            .map(|i| {
                metrics::salient_count_relative(
                    &metrics::strength_curve(per.iter().map(|s| s[i])),
                    SALIENCE_RATIO,
                )
            })
            .collect();
        let mut orders = vec![vec![OrderSums::default(); n + 1]; m];
        let (mut shared, mut shared_signed) = (0.0, 0.0);
        for models in &per {
            let taus: Vec<f64> = models
                .iter()
                .map(|s| SALIENCE_RATIO * s.max_abs())
                .collect();
            let dist = metrics::order_distribution(models, &taus, &[Kind::And, Kind::Or])?;
            for (acc, d) in orders.iter_mut().zip(&dist) {
                for (a, o) in acc.iter_mut().zip(d) {
                    a.order = o.order;
                    a.all_pos += o.all_pos / results.len() as f64;
                    a.all_neg += o.all_neg / results.len() as f64;
                    a.shared_pos += o.shared_pos / results.len() as f64;
                    a.shared_neg += o.shared_neg / results.len() as f64;
                }
            }
            shared += metrics::shared_and_distinctive(models, 50.min(1 << n))?[0]
                .shared
                .len() as f64;
            shared_signed +=
                sharing::shared_counts(models, sharing::DEFAULT_TOP)?.shared_signed as f64;
        }
        let has_or = per
            .iter()
            .flatten()
            .any(|s| s.get(Kind::Or).iter().any(|&x| x != 0.0));
        let or = |v: Vec<f64>| if has_or { v } else { Vec::new() };
        let mut s = MethodSummary {
            s_and: curve.s_and.clone(),
            s_or: or(curve.s_or.clone()),
            s_and_signed: curve.s_and_signed.clone(),
            s_or_signed: or(curve.s_or_signed.clone()),
            s_and_null: None,
            s_and_null_sd: None,
            s_or_null: None,
            s_or_null_sd: None,
            s_and_signed_null: None,
            s_or_signed_null: None,
            s_and_excess: None,
            s_or_excess: None,
            s_and_null_cross: None,
            s_and_null_cross_sd: None,
            s_or_null_cross: None,
            s_or_null_cross_sd: None,
            s_and_signed_null_cross: None,
            s_or_signed_null_cross: None,
            s_and_excess_cross: None,
            s_or_excess_cross: None,
            salient,
            orders,
            shared_top50: shared / per.len() as f64,
            shared_top50_signed: shared_signed / per.len() as f64,
        };
        if let Some(nl) = nulls {
            let mn = nl.method(name);
            // the cross-sample null may leave out samples alone of their n: its excess is over
            // the observed sharing of the samples it pairs
            let sub = match &mn.cross_sample {
                Some(c) if !c.skipped.is_empty() => {
                    let used: Vec<Vec<&Interactions>> =
                        c.samples_used.iter().map(|&i| per[i].clone()).collect();
                    Some(sharing::sharing_curve(&used, &ks)?)
                }
                _ => None,
            };
            set_nulls(&mut s, &curve, sub.as_ref().unwrap_or(&curve), mn)?;
        }
        Ok(s)
    };
    let (generalizable, traditional, harsanyi) = (
        method("generalizable")?,
        method("traditional")?,
        method("harsanyi")?,
    );
    let excess_vs_traditional = ExcessVsTraditional {
        permutation: compare_excess(&generalizable, &traditional, false),
        cross_sample: compare_excess(&generalizable, &traditional, true),
    };
    let chance = {
        let mut c = Chance {
            chance_and: vec![0.0; ks.len()],
            chance_or: vec![0.0; ks.len()],
        };
        for r in results {
            let n = r.values[0].len().trailing_zeros() as usize;
            for (i, &k) in ks.iter().enumerate() {
                let of = |kind| {
                    sharing::chance_level(k, sharing::structural_candidates(n, kind), m)
                        / results.len() as f64
                };
                c.chance_and[i] += of(Kind::And);
                c.chance_or[i] += of(Kind::Or);
            }
        }
        c
    };
    let sharing_cost = (0..m)
        .map(|i| -> Result<ModelCost> {
            let mut g = Vec::with_capacity(results.len());
            let mut t = Vec::with_capacity(results.len());
            for r in results {
                let c = sharing::sharing_cost(
                    &r.values[i],
                    &r.generalizable[i],
                    &r.traditional[i],
                    sharing::DEFAULT_TOP,
                )?;
                g.push(c.generalizable);
                t.push(c.traditional);
            }
            Ok(ModelCost {
                model: settings.models[i].clone(),
                generalizable: CostMeans::of(&g),
                traditional: CostMeans::of(&t),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let null_info = match nulls {
        Some(nl) => NullsInfo {
            replicates: nl.settings.replicates,
            seed: nl.settings.seed,
            permutation: nl.generalizable.permutation.is_some(),
            cross_sample: nl.generalizable.cross_sample.is_some(),
            notes: nl.notes.clone(),
            extractions: nl.extractions + nl.reused,
            seconds: nl.recorded_seconds,
            computed: nl.extractions,
            reused: nl.reused,
            not_converged: nl.not_converged,
            max_duality_gap: nl.max_duality_gap,
        },
        None => NullsInfo {
            replicates: 0,
            seed: settings.null.seed,
            notes: vec!["no nulls were computed for this summary".into()],
            ..Default::default()
        },
    };
    let mut seconds = Timings::default();
    for r in results {
        seconds.values += r.seconds.values / results.len() as f64;
        seconds.generalizable += r.seconds.generalizable / results.len() as f64;
        seconds.traditional += r.seconds.traditional / results.len() as f64;
    }
    Ok(Summary {
        task: settings.task.clone(),
        models: settings.models.clone(),
        k: ks,
        generalizable,
        traditional,
        harsanyi,
        chance,
        nulls: null_info,
        excess_vs_traditional,
        sharing_cost,
        accuracy,
        samples: results.len(),
        seconds_per_sample: seconds.values + seconds.generalizable + seconds.traditional,
        seconds,
        gamma_bounds: gamma_bounds.to_vec(),
        solver: settings.decomposition.solver,
        tol: (settings.decomposition.solver == SolverKind::Optimal)
            .then_some(settings.decomposition.optimal.tol),
        not_converged: results
            .iter()
            .flat_map(|r| &r.extractions)
            .filter(|e| !e.converged)
            .count(),
        max_duality_gap: results
            .iter()
            .flat_map(|r| &r.extractions)
            .filter_map(|e| e.duality_gap)
            .reduce(f64::max),
        settings: settings.clone(),
    })
}

fn ends(v: &[f64]) -> String {
    match (v.first(), v.last()) {
        (Some(a), Some(b)) => format!("{a:.2} → {b:.2}"),
        _ => "—".into(),
    }
}

/// "a → b (sd ≤ x)" of a null's mean and sd per k.
fn null_ends(null: Option<(&[f64], &[f64])>) -> String {
    match null {
        Some((m, sd)) => format!(
            "{} (sd ≤ {:.3})",
            ends(m),
            sd.iter().copied().fold(0.0f64, f64::max)
        ),
        None => "not computed".into(),
    }
}

fn signed_number(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{x:+.3}"))
}

/// Rows of signed sharing, chance, the nulls and the excess of every method.
fn sharing_rows(s: &Summary, k: &str) -> Vec<Vec<String>> {
    let dash = || "—".to_string();
    let r = s.nulls.replicates;
    let mut rows = vec![vec![
        format!("chance level s_and / s_or ({k})"),
        format!(
            "{} / {}",
            ends(&s.chance.chance_and),
            ends(&s.chance.chance_or)
        ),
        dash(),
    ]];
    for kind_or in [false, true] {
        let what = if kind_or { "s_or" } else { "s_and" };
        for (name, m) in [
            ("generalizable", &s.generalizable),
            ("traditional", &s.traditional),
            ("Harsanyi", &s.harsanyi),
        ] {
            if m.s(kind_or).is_empty() {
                continue;
            }
            rows.push(vec![
                format!("{what} signed (same sign in every model), {name}"),
                ends(m.s_signed(kind_or)),
                dash(),
            ]);
            rows.push(vec![
                format!("{what} permutation null (R = {r}), {name}"),
                null_ends(m.null(kind_or, false)),
                dash(),
            ]);
            rows.push(vec![
                format!("{what} cross-sample null (R = {r}), {name}"),
                null_ends(m.null(kind_or, true)),
                dash(),
            ]);
            rows.push(vec![
                format!(
                    "{what} excess over the permutation / cross-sample null, {name} (mean over k)"
                ),
                format!(
                    "{} / {}",
                    signed_number(m.mean_excess(kind_or, false)),
                    signed_number(m.mean_excess(kind_or, true))
                ),
                dash(),
            ]);
        }
    }
    for (what, c) in [
        ("permutation", &s.excess_vs_traditional.permutation),
        ("cross-sample", &s.excess_vs_traditional.cross_sample),
    ] {
        rows.push(vec![
            format!(
                "generalizable − traditional excess over the {what} null, s_and / s_or (mean over k)"
            ),
            c.as_ref().map_or("not computed".into(), |c| {
                format!("{:+.3} / {:+.3}", c.difference_and, c.difference_or)
            }),
            "paper: generalizable sharing is higher (no null)".into(),
        ]);
    }
    rows
}

/// Rows of the cost of sharing per model.
fn cost_rows(s: &Summary) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for c in &s.sharing_cost {
        let (g, t) = (&c.generalizable, &c.traditional);
        rows.push(vec![
            format!(
                "cost of sharing, {}: salient interactions (0.05·max) per sample, generalizable / traditional",
                c.model
            ),
            format!("{:.1} / {:.1}", g.salient, t.salient),
            "—".into(),
        ]);
        rows.push(vec![
            format!(
                "cost of sharing, {}: ‖I‖₁ per sample, generalizable / traditional",
                c.model
            ),
            format!("{:.3} / {:.3}", g.l1, t.l1),
            "—".into(),
        ]);
        rows.push(vec![
            format!(
                "cost of sharing, {}: matching error of the top {} (mean |v − v̂| / mean |v|), generalizable / traditional",
                c.model,
                sharing::DEFAULT_TOP
            ),
            format!(
                "{:.4} / {:.4}",
                g.matching_relative, t.matching_relative
            ),
            "—".into(),
        ]);
    }
    rows
}

fn paper_ends(p: Option<(f64, f64)>) -> String {
    p.map_or("—".into(), |(a, b)| format!("{a:.2} → {b:.2}"))
}

/// Rows of the comparison table.
pub fn comparison_rows(s: &Summary, p: &PaperNumbers) -> Vec<Vec<String>> {
    let k = match (s.k.first(), s.k.last()) {
        (Some(a), Some(b)) => format!("k = {a} → {b}"),
        _ => String::new(),
    };
    let mut rows = vec![
        vec![
            format!("s_and generalizable ({k})"),
            ends(&s.generalizable.s_and),
            paper_ends(p.s_and_generalizable),
        ],
        vec![
            format!("s_and traditional ({k})"),
            ends(&s.traditional.s_and),
            paper_ends(p.s_and_traditional),
        ],
        vec![
            format!("s_or generalizable ({k})"),
            ends(&s.generalizable.s_or),
            paper_ends(p.s_or_generalizable),
        ],
        vec![
            format!("s_or traditional ({k})"),
            ends(&s.traditional.s_or),
            paper_ends(p.s_or_traditional),
        ],
        vec![
            "s_and Harsanyi (no decomposition)".into(),
            ends(&s.harsanyi.s_and),
            "—".into(),
        ],
    ];
    rows.extend(sharing_rows(s, &k));
    for (i, model) in s.models.iter().enumerate() {
        let c = &s.generalizable.salient[i];
        let paper = p
            .salient_generalizable
            .as_ref()
            .and_then(|(v, total)| v.get(i).map(|x| format!("{x} / {total}")))
            .unwrap_or("—".into());
        rows.push(vec![
            format!("above 0.05·max, generalizable, {model}"),
            format!("{} / {}", c.count, c.total),
            paper,
        ]);
        let t = &s.traditional.salient[i];
        rows.push(vec![
            format!("above 0.05·max, traditional, {model}"),
            format!("{} / {}", t.count, t.total),
            "—".into(),
        ]);
    }
    rows.push(vec![
        "shared among top 50 (generalizable / traditional), mean per sample".into(),
        format!(
            "{:.1} / {:.1}",
            s.generalizable.shared_top50, s.traditional.shared_top50
        ),
        p.shared_top50
            .map_or("—".into(), |(g, t)| format!("{g} / {t} (one sentence)")),
    ]);
    rows.push(vec![
        "of those, with the same sign in every model (generalizable / traditional)".into(),
        format!(
            "{:.1} / {:.1}",
            s.generalizable.shared_top50_signed, s.traditional.shared_top50_signed
        ),
        "—".into(),
    ]);
    rows.extend(cost_rows(s));
    rows.push(vec![
        "seconds per sample (values + both extractions)".into(),
        format!("{:.2}", s.seconds_per_sample),
        p.seconds_per_sample
            .map_or("—".into(), |x| format!("{x:.2} (hardware not given)")),
    ]);
    if s.nulls.extractions > 0 {
        rows.push(vec![
            format!(
                "seconds per sample of the nulls' generalizable re-extractions ({} in all)",
                s.nulls.extractions
            ),
            format!("{:.2}", s.nulls.seconds / s.samples.max(1) as f64),
            "—".into(),
        ]);
    }
    for (key, acc) in &s.accuracy {
        // Keys that name a model are its test accuracy; any other key describes itself (e.g. the
        // next-word task's agreement rate of the two models).
        let label = if s.models.contains(key) {
            format!("test accuracy, {key}")
        } else {
            key.clone()
        };
        rows.push(vec![label, format!("{:.2}%", 100.0 * acc), "—".into()]);
    }
    for (model, acc) in &p.accuracy {
        rows.push(vec![
            format!("test accuracy, {model} (paper)"),
            "—".into(),
            format!("{:.2}%", 100.0 * acc),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::tests::{samples, settings};
    use crate::run::Run;

    fn small_run(dir: &std::path::Path) -> (Run, Vec<SampleResult>, Vec<f64>) {
        let run = Run::new(dir, settings());
        let samples = samples();
        let bounds = run.gamma_bounds(&samples).unwrap();
        let results: Vec<SampleResult> = samples
            .iter()
            .map(|s| run.process(s, &bounds).unwrap().0)
            .collect();
        (run, results, bounds)
    }

    fn curve(v: &serde_json::Value, len: usize) -> Vec<f64> {
        let a = v
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect::<Vec<_>>();
        assert_eq!(a.len(), len, "{v}");
        a
    }

    #[test]
    fn summary_of_a_small_run() {
        let dir = tempfile::tempdir().unwrap();
        let (run, results, bounds) = small_run(dir.path());
        let ks = metrics::k_grid_checked(5, &run.settings.t_grid);
        let nulls = run.nulls(&results, &bounds, &ks, &mut None).unwrap();
        let summary = summarize(
            &run.settings,
            &results,
            &bounds,
            BTreeMap::from([("A".to_string(), 0.9), ("agreement rate".to_string(), 0.3)]),
            Some(&nulls),
        )
        .unwrap();
        assert_eq!(summary.k, vec![1, 3, 4, 6, 8, 9, 11, 12, 14]);
        assert_eq!(summary.samples, 3);
        assert_eq!(summary.generalizable.orders[0].len(), 6);
        assert!(summary
            .generalizable
            .s_and
            .iter()
            .all(|x| (0.0..=1.0).contains(x)));
        // plain Harsanyi has no OR part: no s_or, rather than a tie-made 1.0
        assert!(summary.harsanyi.s_or.is_empty() && !summary.generalizable.s_or.is_empty());
        let rows = comparison_rows(&summary, &PaperNumbers::default());
        assert!(rows
            .iter()
            .any(|r| r[0] == "test accuracy, A" && r[1] == "90.00%"));
        assert!(rows
            .iter()
            .any(|r| r[0] == "agreement rate" && r[1] == "30.00%"));
        for what in [
            "s_and signed (same sign in every model), generalizable",
            "s_or permutation null (R = 2), traditional",
            "s_and cross-sample null (R = 2), Harsanyi",
            "s_and excess over the permutation / cross-sample null, generalizable (mean over k)",
            "generalizable − traditional excess over the permutation null, s_and / s_or (mean over k)",
            "cost of sharing, B: ‖I‖₁ per sample, generalizable / traditional",
        ] {
            let row = rows.iter().find(|r| r[0].starts_with(what));
            assert!(row.is_some_and(|r| !r[1].contains("not computed")), "{what}: {rows:?}");
        }

        // summary.json's layout
        let json = serde_json::to_value(&summary).unwrap();
        let nk = ks.len();
        assert!(json.get("generalizable_beats_traditional").is_none());
        let chance_and = curve(&json["chance"]["chance_and"], nk);
        let chance_or = curve(&json["chance"]["chance_or"], nk);
        for (i, &k) in ks.iter().enumerate() {
            assert!((chance_and[i] - k as f64 / 32.0).abs() < 1e-12);
            assert!((chance_or[i] - (k as f64 / 26.0).min(1.0)).abs() < 1e-12);
        }
        for method in ["generalizable", "traditional", "harsanyi"] {
            let m = &json[method];
            let kinds: &[&str] = if method == "harsanyi" {
                assert!(m.get("s_or_null").is_none() && m.get("s_or_signed").is_none());
                &["s_and"]
            } else {
                &["s_and", "s_or"]
            };
            for kind in kinds {
                let s = curve(&m[*kind], nk);
                let signed = curve(&m[format!("{kind}_signed")], nk);
                assert!(signed.iter().zip(&s).all(|(a, b)| a <= b));
                for null in ["null", "null_cross"] {
                    let mean = curve(&m[format!("{kind}_{null}")], nk);
                    let sd = curve(&m[format!("{kind}_{null}_sd")], nk);
                    assert!(mean.iter().all(|x| (0.0..=1.0).contains(x)));
                    assert!(sd.iter().all(|x| *x >= 0.0));
                    let suffix = if null == "null" { "" } else { "_cross" };
                    let excess = curve(&m[format!("{kind}_excess{suffix}")], nk);
                    for i in 0..nk {
                        assert!((excess[i] - (s[i] - mean[i])).abs() < 1e-12);
                    }
                }
            }
        }
        // the nulls of traditional extraction are those of its interactions, relabelled
        let per: Vec<Vec<&Interactions>> = results
            .iter()
            .map(|r| r.traditional.iter().collect())
            .collect();
        let p = sharing::permutation_null_interactions(&per, &ks, 2, 1).unwrap();
        assert_eq!(summary.traditional.s_or_null.as_ref(), Some(&p.s_or_mean));
        let c = &summary.excess_vs_traditional.permutation.as_ref().unwrap();
        let mean = |v: &Option<Vec<f64>>| mean_over_k(v.as_ref().unwrap());
        assert_eq!(
            c.generalizable_and,
            mean(&summary.generalizable.s_and_excess)
        );
        assert_eq!(c.traditional_or, mean(&summary.traditional.s_or_excess));
        assert_eq!(c.difference_and, c.generalizable_and - c.traditional_and);
        assert_eq!(
            c.generalizable_exceeds_traditional,
            c.difference_and > 0.0 && c.difference_or > 0.0
        );
        assert!(summary.excess_vs_traditional.cross_sample.is_some());
        assert_eq!(summary.excess_lines().len(), 2);
        assert!(summary.excess_lines()[0].starts_with("excess over the permutation null (R = 2"));
        let info = &json["nulls"];
        assert_eq!(info["replicates"], 2);
        // 2 replicates × 3 samples × 2 nulls, all of them computed now
        assert_eq!(info["extractions"], 12);
        assert_eq!(info["computed"], 12);
        // the cost of sharing: per model, both extractions
        let cost = json["sharing_cost"].as_array().unwrap();
        assert_eq!(cost.len(), 2);
        assert_eq!(cost[1]["model"], "B");
        for method in ["generalizable", "traditional"] {
            let c = &cost[0][method];
            for f in [
                "salient",
                "l1",
                "top",
                "matching_error",
                "matching_relative",
            ] {
                assert!(c[f].as_f64().unwrap() >= 0.0, "{method} {f}: {c}");
            }
            assert!(c["salient"].as_f64().unwrap() >= 1.0);
        }
        assert_eq!(cost[0]["traditional"]["top"], 50.0f64.min(32.0 + 26.0));
    }

    #[test]
    fn without_nulls_the_null_fields_are_absent() {
        let dir = tempfile::tempdir().unwrap();
        let (mut run, results, bounds) = small_run(dir.path());
        let summary = summarize(&run.settings, &results, &bounds, BTreeMap::new(), None).unwrap();
        let json = serde_json::to_value(&summary).unwrap();
        for f in [
            "s_and_null",
            "s_or_null_sd",
            "s_and_null_cross",
            "s_or_excess",
        ] {
            assert!(json["generalizable"].get(f).is_none(), "{f}");
        }
        assert!(json["generalizable"]["s_and_signed"].is_array());
        assert!(summary.excess_vs_traditional.permutation.is_none());
        assert!(summary.excess_lines()[0].starts_with("no excess over a null"));
        let rows = comparison_rows(&summary, &PaperNumbers::default());
        assert!(rows
            .iter()
            .any(|r| r[0].contains("permutation null") && r[1] == "not computed"));
        // R = 0: the same, with the reason
        run.settings.null.replicates = 0;
        let ks = summary.k.clone();
        let nulls = run.nulls(&results, &bounds, &ks, &mut None).unwrap();
        assert!(nulls.notes[0].contains("R = 0"));
        let s = summarize(
            &run.settings,
            &results,
            &bounds,
            BTreeMap::new(),
            Some(&nulls),
        )
        .unwrap();
        assert!(s.generalizable.s_and_null.is_none());
        assert!(s.excess_lines()[0].contains("R = 0"));
        // nulls on another k are refused
        run.settings.null.replicates = 1;
        let nulls = run.nulls(&results, &bounds, &[1, 2], &mut None).unwrap();
        assert!(summarize(
            &run.settings,
            &results,
            &bounds,
            BTreeMap::new(),
            Some(&nulls)
        )
        .is_err());
    }

    #[test]
    fn tiny_games_never_panic_anywhere_in_the_summary() {
        use crate::run::SampleValues;
        // n = 0 (no players) is refused before any extraction, so no null ever sees it
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(dir.path(), settings());
        let empty = SampleValues {
            id: "empty".into(),
            text: String::new(),
            players: vec![],
            values: vec![vec![0.0], vec![0.0]],
            value_seconds: 0.0,
        };
        assert!(run
            .gamma_bounds(std::slice::from_ref(&empty))
            .and_then(|b| run.process(&empty, &b))
            .is_err());
        for n in 1..=4usize {
            let dir = tempfile::tempdir().unwrap();
            let mut settings = settings();
            settings.decomposition.sgd_generalizable.niter = 50;
            settings.decomposition.sgd_traditional.niter = 50;
            let run = Run::new(dir.path(), settings);
            // two samples of n players and one of another n (alone: left out of the
            // cross-sample null)
            let samples: Vec<SampleValues> = [n, n, n + 1]
                .iter()
                .enumerate()
                .map(|(s, &n)| SampleValues {
                    id: format!("t{s}"),
                    text: String::new(),
                    players: (0..n).map(|p| format!("p{p}")).collect(),
                    values: (0..2)
                        .map(|m| {
                            (0..1usize << n)
                                .map(|t| {
                                    if t == 0 {
                                        0.0
                                    } else {
                                        ((t * 7 + m * 3 + s) % 5) as f64 - 1.5
                                    }
                                })
                                .collect()
                        })
                        .collect(),
                    value_seconds: 0.0,
                })
                .collect();
            let bounds = run.gamma_bounds(&samples).unwrap();
            let results: Vec<SampleResult> = samples
                .iter()
                .map(|s| run.process(s, &bounds).unwrap().0)
                .collect();
            let ks = metrics::k_grid_checked(n, &run.settings.t_grid);
            assert!(ks.iter().all(|&k| k >= 1), "n = {n}: {ks:?}");
            let nulls = run.nulls(&results, &bounds, &ks, &mut None).unwrap();
            let cross = nulls.generalizable.cross_sample.as_ref().unwrap();
            assert_eq!(cross.skipped, vec![2]);
            assert!(
                nulls.notes.iter().any(|x| x.contains("t2")),
                "{:?}",
                nulls.notes
            );
            let s = summarize(
                &run.settings,
                &results,
                &bounds,
                BTreeMap::new(),
                Some(&nulls),
            )
            .unwrap();
            for m in [&s.generalizable, &s.traditional, &s.harsanyi] {
                for v in [&m.s_and, &m.s_or, &m.s_and_signed, &m.s_or_signed] {
                    assert!(v.iter().all(|x| (0.0..=1.0).contains(x)), "n = {n}: {v:?}");
                }
                if n == 1 {
                    // no OR candidates in the two samples of n = 1 (2^1 − 1 − 1 = 0): nothing
                    // shared there, so at most the third sample's share of the mean
                    assert!(
                        m.s_or.iter().all(|x| *x <= 1.0 / 3.0 + 1e-12),
                        "{:?}",
                        m.s_or
                    );
                }
            }
            if n == 1 {
                // chance per sample, averaged: 0, 0 and min(k/1, 1) = 1 (n = 2: one OR candidate)
                assert!(s
                    .chance
                    .chance_or
                    .iter()
                    .all(|x| (x - 1.0 / 3.0).abs() < 1e-12));
            }
            comparison_rows(&s, &PaperNumbers::default());
            s.excess_lines();
            serde_json::to_string(&s).unwrap();
        }
        // one sample: no cross-sample null, with a note
        let dir = tempfile::tempdir().unwrap();
        let (run, results, bounds) = small_run(dir.path());
        let ks = metrics::k_grid_checked(5, &run.settings.t_grid);
        let nulls = run.nulls(&results[..1], &bounds, &ks, &mut None).unwrap();
        assert!(nulls.generalizable.cross_sample.is_none());
        assert!(nulls.traditional.cross_sample.is_none());
        assert!(nulls
            .notes
            .iter()
            .any(|x| x.contains("cross-sample null not computed")));
        let s = summarize(
            &run.settings,
            &results[..1],
            &bounds,
            BTreeMap::new(),
            Some(&nulls),
        )
        .unwrap();
        assert!(s.generalizable.s_and_null.is_some() && s.generalizable.s_and_null_cross.is_none());
        assert!(s.excess_vs_traditional.cross_sample.is_none());
    }
}
