//! The paper's measures (method §4): sparsity, generalization power, per-order distributions,
//! shared vs distinctive interactions, universal-matching error, Jaccard similarity; sharing
//! against chance and nulls in [`sharing`].

pub mod sharing;

use std::collections::HashSet;

use crate::coalition::Coalition;
use crate::interactions::{Interaction, Interactions, Kind};
use crate::{Error, Result};

/// The paper's salience threshold: 5% of the largest strength.
pub const SALIENCE_RATIO: f64 = 0.05;

/// The strengths |I(S)| of all AND and OR interactions of all given interaction sets (e.g. every
/// sample of one model), pooled and sorted in decreasing order: the curve of Fig. 2.
pub fn strength_curve<'a>(sets: impl IntoIterator<Item = &'a Interactions>) -> Vec<f64> {
    let mut all: Vec<f64> = sets
        .into_iter()
        .flat_map(|s| s.and.iter().chain(&s.or).map(|x| x.abs()))
        .collect();
    all.sort_by(|a, b| b.total_cmp(a));
    all
}

/// How many strengths lie strictly above a threshold.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SalientCount {
    pub threshold: f64,
    pub count: usize,
    pub total: usize,
}

/// Count of a sorted-or-not strength list above `tau`.
pub fn salient_count_at(strengths: &[f64], tau: f64) -> SalientCount {
    SalientCount {
        threshold: tau,
        count: strengths.iter().filter(|x| x.abs() > tau).count(),
        total: strengths.len(),
    }
}

/// Count above `ratio`·max (the paper: 0.05·max).
pub fn salient_count_relative(strengths: &[f64], ratio: f64) -> SalientCount {
    let max = strengths.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    salient_count_at(strengths, ratio * max)
}

/// k = ⌊2^n·t⌋ for each t (the paper's t = 0.05, 0.10, …, 0.45), at least 1 (for n ≤ 4 the
/// paper's formula gives k = 0 at small t, for which top-k sharing is undefined).
pub fn k_grid(n: usize, ts: &[f64]) -> Vec<usize> {
    ts.iter()
        .map(|t| (((1u64 << n) as f64 * t).floor() as usize).max(1))
        .collect()
}

/// The k grid a run reports: ⌊2^n·t⌋ for each t, raised to at least 1 (for tiny games, where
/// ⌊2^n·t⌋ = 0 for n ≤ 4), without repeats, in increasing order.
pub fn k_grid_checked(n: usize, ts: &[f64]) -> Vec<usize> {
    let mut ks: Vec<usize> = k_grid(n, ts)
        .into_iter()
        .map(|k| k.clamp(1, 1usize << n))
        .collect();
    ks.sort_unstable();
    ks.dedup();
    ks
}

/// The paper's t grid 0.05, 0.10, …, 0.45.
pub fn paper_t_grid() -> Vec<f64> {
    (1..=9).map(|i| 0.05 * i as f64).collect()
}

fn key_set(list: &[Interaction]) -> HashSet<(Kind, Coalition)> {
    list.iter().map(|i| (i.kind, i.coalition)).collect()
}

fn check_same_n(models: &[&Interactions]) -> Result<usize> {
    let first = models
        .first()
        .ok_or_else(|| Error::WrongModelCount("no models given".into()))?;
    for m in models {
        if m.n != first.n {
            return Err(Error::MismatchedLengths {
                first: 1 << first.n,
                other: 1 << m.n,
            });
        }
    }
    Ok(first.n)
}

/// Generalization power by top-k (Definition 1): |∩_i topk^(i)| / k, separately for AND and OR.
/// Returns (s_and, s_or) for one sample. The top-k sets are taken among the candidates of
/// [`crate::metrics::sharing`] (reorganised interactions; OR terms of order ≤ 1, and an all-zero OR part,
/// are structural zeros and never shared), and k is clipped to their number M (dividing by
/// min(k, M)); a kind without candidates has s = 0. See [`crate::metrics::sharing::sharing_topk`] for the
/// signed form and chance.
pub fn generalization_power_topk(models: &[&Interactions], k: usize) -> Result<(f64, f64)> {
    let n = check_same_n(models)?;
    if k == 0 || k > 1 << n {
        return Err(Error::Invalid(format!(
            "k = {k} must lie in 1..={} (the number of coalitions)",
            1u64 << n
        )));
    }
    let s = crate::metrics::sharing::sharing_topk(models, k)?;
    Ok((s.s_and, s.s_or))
}

/// s_and and s_or against k, averaged over samples (Fig. 3).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeneralizationCurve {
    pub k: Vec<usize>,
    pub s_and: Vec<f64>,
    pub s_or: Vec<f64>,
}

/// Average of [`generalization_power_topk`] over samples; `samples[s]` holds every model's
/// interactions on sample s.
pub fn generalization_curve(
    samples: &[Vec<&Interactions>],
    ks: &[usize],
) -> Result<GeneralizationCurve> {
    if samples.is_empty() {
        return Err(Error::Invalid("no samples given".into()));
    }
    let mut s_and = vec![0.0; ks.len()];
    let mut s_or = vec![0.0; ks.len()];
    for models in samples {
        for (i, &k) in ks.iter().enumerate() {
            let (a, o) = generalization_power_topk(models, k)?;
            s_and[i] += a;
            s_or[i] += o;
        }
    }
    let count = samples.len() as f64;
    s_and
        .iter_mut()
        .chain(s_or.iter_mut())
        .for_each(|x| *x /= count);
    Ok(GeneralizationCurve {
        k: ks.to_vec(),
        s_and,
        s_or,
    })
}

/// Threshold form: s^(i) = |Ω_shared| / |Ω^(i)| for one kind, where Ω^(i) are the interactions of
/// model i with |I| > `taus[i]` and Ω_shared those salient in every model. 0 when Ω^(i) is empty.
pub fn generalization_power_threshold(
    models: &[&Interactions],
    taus: &[f64],
    kind: Kind,
) -> Result<Vec<f64>> {
    check_same_n(models)?;
    if taus.len() != models.len() {
        return Err(Error::WrongModelCount(format!(
            "{} thresholds for {} models",
            taus.len(),
            models.len()
        )));
    }
    let sets: Vec<HashSet<Coalition>> = models
        .iter()
        .zip(taus)
        .map(|(m, &t)| {
            m.get(kind)
                .iter()
                .enumerate()
                .filter(|(_, x)| x.abs() > t)
                .map(|(s, _)| Coalition(s as u32))
                .collect()
        })
        .collect();
    let shared = sets.iter().skip(1).fold(sets[0].clone(), |acc, s| {
        acc.intersection(s).copied().collect()
    });
    Ok(sets
        .iter()
        .map(|s| {
            if s.is_empty() {
                0.0
            } else {
                shared.len() as f64 / s.len() as f64
            }
        })
        .collect())
}

/// Sums of the positive and negative parts of salient interactions of one order (Fig. 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderSums {
    pub order: usize,
    pub all_pos: f64,
    pub all_neg: f64,
    pub shared_pos: f64,
    pub shared_neg: f64,
}

/// For each model and each order o = 0..=n: sums over salient S (|I| > `taus[i]`) of the positive
/// and negative parts, for all salient interactions and for the shared ones (salient, same kind
/// and coalition, in every model). `kinds` selects AND, OR or both.
pub fn order_distribution(
    models: &[&Interactions],
    taus: &[f64],
    kinds: &[Kind],
) -> Result<Vec<Vec<OrderSums>>> {
    let n = check_same_n(models)?;
    if taus.len() != models.len() {
        return Err(Error::WrongModelCount(format!(
            "{} thresholds for {} models",
            taus.len(),
            models.len()
        )));
    }
    let salient: Vec<HashSet<(Kind, Coalition)>> = models
        .iter()
        .zip(taus)
        .map(|(m, &t)| {
            m.iter()
                .filter(|i| kinds.contains(&i.kind) && i.effect.abs() > t)
                .map(|i| (i.kind, i.coalition))
                .collect()
        })
        .collect();
    let shared: HashSet<_> = salient.iter().skip(1).fold(salient[0].clone(), |acc, s| {
        acc.intersection(s).copied().collect()
    });
    Ok(models
        .iter()
        .zip(&salient)
        .map(|(m, sal)| {
            let mut sums: Vec<OrderSums> = (0..=n)
                .map(|order| OrderSums {
                    order,
                    ..Default::default()
                })
                .collect();
            for it in m.iter().filter(|i| sal.contains(&(i.kind, i.coalition))) {
                let s = &mut sums[it.coalition.order()];
                let (pos, neg) = (it.effect.max(0.0), it.effect.min(0.0));
                s.all_pos += pos;
                s.all_neg += neg;
                if shared.contains(&(it.kind, it.coalition)) {
                    s.shared_pos += pos;
                    s.shared_neg += neg;
                }
            }
            sums
        })
        .collect())
}

/// One model's top-k interactions split into those in every model's top-k and the others
/// (Figs. 1, 5, 9).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SharedSplit {
    pub shared: Vec<Interaction>,
    pub distinctive: Vec<Interaction>,
}

/// Split each model's top-k (AND and OR together, by strength) into shared and distinctive. The
/// top-k are taken among the candidates of [`crate::metrics::sharing::top_k_candidates`]
/// (reorganised values; structural zeros never listed), and interactions of effect exactly 0 are
/// left out (an absent interaction is not shared), so a list may hold fewer than k.
pub fn shared_and_distinctive(models: &[&Interactions], k: usize) -> Result<Vec<SharedSplit>> {
    check_same_n(models)?;
    // an interaction whose effect is exactly 0 is absent, never "shared"
    let tops: Vec<Vec<Interaction>> = models
        .iter()
        .map(|m| {
            let mut top = crate::metrics::sharing::top_k_candidates(m, None, k);
            top.retain(|i| i.effect != 0.0);
            top
        })
        .collect();
    let sets: Vec<_> = tops.iter().map(|t| key_set(t)).collect();
    let shared: HashSet<_> = sets.iter().skip(1).fold(sets[0].clone(), |acc, s| {
        acc.intersection(s).copied().collect()
    });
    Ok(tops
        .into_iter()
        .map(|top| {
            let (shared, distinctive) = top
                .into_iter()
                .partition(|i| shared.contains(&(i.kind, i.coalition)));
            SharedSplit {
                shared,
                distinctive,
            }
        })
        .collect())
}

/// How far a reconstruction is from the true values (universal matching, Figs. 6/13).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MatchingError {
    pub max_abs: f64,
    pub mean_abs: f64,
    pub rmse: f64,
    /// mean_abs / mean |v|.
    pub relative: f64,
}

/// Compare a reconstruction with the true values v(x_T).
pub fn matching_error(truth: &[f64], reconstruction: &[f64]) -> Result<MatchingError> {
    if truth.len() != reconstruction.len() || truth.is_empty() {
        return Err(Error::MismatchedLengths {
            first: truth.len(),
            other: reconstruction.len(),
        });
    }
    let count = truth.len() as f64;
    let (mut max_abs, mut sum_abs, mut sum_sq, mut sum_v) = (0.0f64, 0.0, 0.0, 0.0);
    for (t, r) in truth.iter().zip(reconstruction) {
        let d = (t - r).abs();
        max_abs = max_abs.max(d);
        sum_abs += d;
        sum_sq += d * d;
        sum_v += t.abs();
    }
    let mean_abs = sum_abs / count;
    Ok(MatchingError {
        max_abs,
        mean_abs,
        rmse: (sum_sq / count).sqrt(),
        relative: if sum_v > 0.0 {
            mean_abs / (sum_v / count)
        } else {
            0.0
        },
    })
}

/// Jaccard index |A ∩ B| / |A ∪ B| of two sets of interactions (by kind and coalition).
pub fn jaccard(a: &[Interaction], b: &[Interaction]) -> f64 {
    let (a, b) = (key_set(a), key_set(b));
    let union = a.union(&b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

/// Weighted Jaccard similarity of two interaction vectors (Li & Zhang 2023): each I is split into
/// [max(I,0), max(−I,0)] over AND and OR, then Σ min / Σ max. 1 for identical interactions.
pub fn jaccard_weighted(a: &Interactions, b: &Interactions) -> Result<f64> {
    check_same_n(&[a, b])?;
    let (mut num, mut den) = (0.0, 0.0);
    for (x, y) in a.and.iter().chain(&a.or).zip(b.and.iter().chain(&b.or)) {
        for (p, q) in [(x.max(0.0), y.max(0.0)), ((-x).max(0.0), (-y).max(0.0))] {
            num += p.min(q);
            den += p.max(q);
        }
    }
    Ok(if den > 0.0 { num / den } else { 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inter(and: Vec<f64>, or: Vec<f64>) -> Interactions {
        Interactions::new(and, or).unwrap()
    }

    #[test]
    fn paper_k_grid_for_n10() {
        assert_eq!(
            k_grid(10, &paper_t_grid()),
            vec![51, 102, 153, 204, 256, 307, 358, 409, 460]
        );
        // never 0, even where 2^n·t < 1
        assert_eq!(k_grid(2, &paper_t_grid()), vec![1; 9]);
    }

    #[test]
    fn topk_generalization_power_counts_common_coalitions() {
        let a = inter(vec![0.0, 5.0, 4.0, 0.1], vec![0.0, 0.0, 3.0, 2.0]);
        let b = inter(vec![0.0, 5.0, 0.1, 4.0], vec![0.0, 0.0, 3.0, 2.0]);
        let (s_and, s_or) = generalization_power_topk(&[&a, &b], 2).unwrap();
        assert_eq!(s_and, 0.5);
        assert_eq!(s_or, 1.0);
        assert!(generalization_power_topk(&[&a, &b], 5).is_err());
        let c = generalization_curve(&[vec![&a, &b], vec![&a, &a]], &[2]).unwrap();
        assert_eq!(c.s_and, vec![0.75]);
    }

    #[test]
    fn structural_zeros_are_never_shared() {
        // plain Harsanyi interactions have no OR part: nothing to share (the all-zero OR terms
        // used to fill both top-k sets in mask order and count as shared)
        let h = Interactions::harsanyi(&[0.0, 1.0, 2.0, 4.0]).unwrap();
        // I(∅) = v(∅) = 0: a zero effect is never shared, so 3 of the top 4 AND terms
        assert_eq!(
            generalization_power_topk(&[&h, &h], 4).unwrap(),
            (0.75, 0.0)
        );
        // I(∅) = v(∅) = 0 here: a zero effect is never shared, the three non-zero ones are
        let split = shared_and_distinctive(&[&h, &h], 8).unwrap();
        assert_eq!(split[0].shared.len(), 3);
        assert!(split[0]
            .shared
            .iter()
            .all(|i| i.kind == Kind::And && i.effect != 0.0));
        // all four AND effects non-zero (1, 1, 3, 3): all four shared
        let g = Interactions::harsanyi(&[1.0, 2.0, 4.0, 8.0]).unwrap();
        let split = shared_and_distinctive(&[&g, &g], 8).unwrap();
        assert_eq!(split[0].shared.len(), 4);
    }

    #[test]
    fn threshold_power_and_counts() {
        let a = inter(vec![0.0, 5.0, 4.0, 0.1], vec![0.0; 4]);
        let b = inter(vec![0.0, 5.0, 0.1, 0.1], vec![0.0; 4]);
        assert_eq!(
            generalization_power_threshold(&[&a, &b], &[1.0, 1.0], Kind::And).unwrap(),
            vec![0.5, 1.0]
        );
        let curve = strength_curve([&a, &b]);
        assert_eq!(curve[0], 5.0);
        assert_eq!(curve.len(), 16);
        assert_eq!(salient_count_relative(&curve, 0.05).count, 3);
    }

    #[test]
    fn order_sums_split_positive_negative_and_shared() {
        let a = inter(vec![0.0, 2.0, -3.0, 1.0], vec![0.0; 4]);
        let b = inter(vec![0.0, 2.0, 0.0, -1.0], vec![0.0; 4]);
        let d = order_distribution(&[&a, &b], &[0.5, 0.5], &[Kind::And, Kind::Or]).unwrap();
        assert_eq!(
            d[0][1],
            OrderSums {
                order: 1,
                all_pos: 2.0,
                all_neg: -3.0,
                shared_pos: 2.0,
                shared_neg: 0.0
            }
        );
        assert_eq!(
            d[0][2],
            OrderSums {
                order: 2,
                all_pos: 1.0,
                all_neg: 0.0,
                shared_pos: 1.0,
                shared_neg: 0.0
            }
        );
        assert_eq!(d[1][2].shared_neg, -1.0);
    }

    #[test]
    fn jaccards_and_matching() {
        let a = inter(vec![1.0, -1.0, 0.0, 0.0], vec![0.0; 4]);
        assert_eq!(jaccard_weighted(&a, &a).unwrap(), 1.0);
        let b = inter(vec![1.0, 1.0, 0.0, 0.0], vec![0.0; 4]);
        assert_eq!(jaccard_weighted(&a, &b).unwrap(), 1.0 / 3.0);
        let ta = a.top_k_all(2);
        let tb = b.top_k_all(2);
        assert_eq!(jaccard(&ta, &tb), 1.0);
        let e = matching_error(&[1.0, 2.0], &[1.0, 3.0]).unwrap();
        assert_eq!(e.max_abs, 1.0);
        assert_eq!(e.mean_abs, 0.5);
        let split = shared_and_distinctive(&[&a, &b], 2).unwrap();
        assert_eq!(split[0].shared.len(), 2);
    }
}
