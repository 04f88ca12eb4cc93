//! The AND and OR interactions of one model on one sample, and what can be read off them.

use crate::coalition::{players_for_len, Coalition};
use crate::transform;
use crate::Result;

/// Which kind of interaction.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    And,
    Or,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::And => "AND",
            Kind::Or => "OR",
        }
    }
}

/// One interaction: a kind, a coalition S and its effect I(S).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interaction {
    pub kind: Kind,
    pub coalition: Coalition,
    pub effect: f64,
}

/// AND and OR interactions of one model, indexed by coalition mask (bit i = player i).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interactions {
    pub n: usize,
    pub and: Vec<f64>,
    pub or: Vec<f64>,
}

impl Interactions {
    /// Wrap two vectors of length 2^n.
    pub fn new(and: Vec<f64>, or: Vec<f64>) -> Result<Self> {
        let n = players_for_len(and.len())?;
        if or.len() != and.len() {
            return Err(crate::Error::MismatchedLengths {
                first: and.len(),
                other: or.len(),
            });
        }
        Ok(Interactions { n, and, or })
    }

    /// Plain Harsanyi interactions: AND only, no decomposition (the "Harsanyi" series of Fig. 2).
    pub fn harsanyi(v: &[f64]) -> Result<Self> {
        let and = transform::and_interactions(v)?;
        let or = vec![0.0; and.len()];
        Self::new(and, or)
    }

    pub fn get(&self, kind: Kind) -> &[f64] {
        match kind {
            Kind::And => &self.and,
            Kind::Or => &self.or,
        }
    }

    /// Move every OR term of order ≤ 1 into AND (the authors' "reorganise" step, method §3): the
    /// reconstruction is unchanged, since for |S| ≤ 1 "S ⊆ T" and "S ∩ T ≠ ∅" coincide (and both
    /// ∅ terms are added to every T).
    pub fn reorganised(&self) -> Interactions {
        let mut out = self.clone();
        out.and[0] += out.or[0];
        out.or[0] = 0.0;
        for p in 0..self.n {
            let m = 1 << p;
            out.and[m] += out.or[m];
            out.or[m] = 0.0;
        }
        out
    }

    /// v(x_T) (+ ε_T) for every T, reconstructed from these interactions.
    pub fn reconstruct(&self) -> Vec<f64> {
        transform::reconstruct(&self.and, &self.or).expect("lengths checked at construction")
    }

    /// Reconstruction from the interactions selected by `keep` only (the rest set to zero), as in
    /// the universal-matching figures where only salient interactions are kept.
    pub fn reconstruct_from(&self, keep: impl Fn(&Interaction) -> bool) -> Vec<f64> {
        let mut kept = Interactions {
            n: self.n,
            and: vec![0.0; self.and.len()],
            or: vec![0.0; self.or.len()],
        };
        for it in self.iter() {
            if keep(&it) {
                match it.kind {
                    Kind::And => kept.and[it.coalition.mask()] = it.effect,
                    Kind::Or => kept.or[it.coalition.mask()] = it.effect,
                }
            }
        }
        kept.reconstruct()
    }

    /// Every interaction, AND first, in mask order.
    pub fn iter(&self) -> impl Iterator<Item = Interaction> + '_ {
        let ands = self.and.iter().enumerate().map(|(m, &e)| Interaction {
            kind: Kind::And,
            coalition: Coalition(m as u32),
            effect: e,
        });
        let ors = self.or.iter().enumerate().map(|(m, &e)| Interaction {
            kind: Kind::Or,
            coalition: Coalition(m as u32),
            effect: e,
        });
        ands.chain(ors)
    }

    /// The largest |I(S)| over AND and OR.
    pub fn max_abs(&self) -> f64 {
        self.and
            .iter()
            .chain(&self.or)
            .fold(0.0f64, |m, x| m.max(x.abs()))
    }

    /// Interactions with |I(S)| > τ, strongest first.
    pub fn salient(&self, tau: f64) -> Vec<Interaction> {
        let mut out: Vec<_> = self.iter().filter(|i| i.effect.abs() > tau).collect();
        sort_by_strength(&mut out);
        out
    }

    /// The k strongest interactions of one kind (ties broken by the smaller mask).
    pub fn top_k(&self, kind: Kind, k: usize) -> Vec<Interaction> {
        let mut all: Vec<_> = self.iter().filter(|i| i.kind == kind).collect();
        sort_by_strength(&mut all);
        all.truncate(k);
        all
    }

    /// The k strongest interactions of both kinds together.
    pub fn top_k_all(&self, k: usize) -> Vec<Interaction> {
        let mut all: Vec<_> = self.iter().collect();
        sort_by_strength(&mut all);
        all.truncate(k);
        all
    }
}

/// Check that every interaction is finite; the error ([`crate::Error::ValueRange`]) names `what`,
/// the kind and the coalition.
pub fn check_finite_interactions(it: &Interactions, what: &str) -> Result<()> {
    if let Some(bad) = it.iter().find(|i| !i.effect.is_finite()) {
        return Err(crate::Error::ValueRange(format!(
            "the {} interaction of coalition mask {} of {what} is {}: rescale the values",
            bad.kind.name(),
            bad.coalition.0,
            bad.effect
        )));
    }
    Ok(())
}

/// Sort strongest first; equal strengths keep AND before OR and the smaller mask first, so top-k
/// sets are deterministic.
pub fn sort_by_strength(v: &mut [Interaction]) {
    v.sort_by(|a, b| {
        b.effect
            .abs()
            .total_cmp(&a.effect.abs())
            .then(a.kind.cmp(&b.kind))
            .then(a.coalition.cmp(&b.coalition))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorganise_keeps_reconstruction() {
        let it = Interactions::new(vec![7.0, 1.0, 2.0, 3.0], vec![0.5, 4.0, 5.0, -3.0]).unwrap();
        let r = it.reorganised();
        assert_eq!(r.or[..3], [0.0, 0.0, 0.0]);
        assert_eq!(r.or[3], -3.0);
        let a = it.reconstruct();
        let b = r.reconstruct();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn top_k_orders_by_strength() {
        let it = Interactions::new(vec![0.0, -5.0, 2.0, 3.0], vec![0.0, 1.0, -4.0, 0.0]).unwrap();
        let top = it.top_k(Kind::And, 2);
        assert_eq!(
            top.iter().map(|i| i.coalition.0).collect::<Vec<_>>(),
            vec![1, 3]
        );
        let all = it.top_k_all(2);
        assert_eq!(all[0].effect, -5.0);
        assert_eq!(all[1].kind, Kind::Or);
        assert_eq!(it.salient(2.5).len(), 3);
    }
}
