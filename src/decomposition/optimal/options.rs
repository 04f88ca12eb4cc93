//! The settings of the optimal solver.

use crate::{Error, Result};

/// Settings of [`solve`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimalOptions {
    /// Stop when the certified relative gap (loss − dual_bound)/loss is at most this (a loss
    /// below [`LOSS_FLOOR`](super::LOSS_FLOOR) times the initial loss is measured against that
    /// floor instead); in (0, 1).
    pub tol: f64,
    /// At most this many first-order iterations.
    pub max_iter: usize,
    /// Stop after this many seconds (checked at every certificate check).
    pub max_seconds: Option<f64>,
    /// Strength t of the strictly convex tie-break μ/2·‖interactions‖², μ = t/rms(z₀); 0: none.
    pub tie_break: f64,
    /// Keep a trajectory point (and call the observer) every this many iterations (rounded up to
    /// a certificate check).
    pub record_every: usize,
    /// Compute the certificate every this many iterations.
    pub check_every: usize,
    /// Polish on the identified face every this many iterations; 0: never.
    pub polish_every: usize,
    /// Initial step ρ; `None`: from the problem's scale.
    pub rho: Option<f64>,
}

impl Default for OptimalOptions {
    fn default() -> Self {
        OptimalOptions {
            tol: 1e-6,
            max_iter: 100_000,
            max_seconds: None,
            tie_break: 0.0,
            record_every: 100,
            check_every: 25,
            polish_every: 100,
            rho: None,
        }
    }
}

impl OptimalOptions {
    /// Errors: [`Error::InvalidSetting`] naming the first setting out of its range.
    pub(super) fn validate(&self) -> Result<()> {
        if !(self.tol.is_finite() && self.tol > 0.0 && self.tol < 1.0) {
            return Err(bad("tol", self.tol, "the relative gap must lie in (0, 1)"));
        }
        if !(self.tie_break.is_finite() && self.tie_break >= 0.0) {
            return Err(bad("tie_break", self.tie_break, "must be finite and ≥ 0"));
        }
        if let Some(s) = self.max_seconds {
            if !(s.is_finite() && s >= 0.0) && s != f64::INFINITY {
                return Err(bad("max_seconds", s, "must be ≥ 0"));
            }
        }
        if let Some(r) = self.rho {
            if !(r.is_finite() && r > 0.0) {
                return Err(bad("rho", r, "the step must be finite and > 0"));
            }
        }
        Ok(())
    }
}

/// An [`Error::InvalidSetting`] for `name` = `value`.
pub(super) fn bad(name: &'static str, value: f64, why: &'static str) -> Error {
    Error::InvalidSetting {
        name,
        value: value.to_string(),
        why,
    }
}
