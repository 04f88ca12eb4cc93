//! What a decomposition returns: the interactions, the learned parameters and how the solver
//! did.

use super::optimal::GapPoint;
use super::options::{Method, SolverKind};
use super::sgd::LossPoint;
use crate::interactions::Interactions;

/// How the solver did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SolverReport {
    pub solver: SolverKind,
    /// The absolute learning rate SGD used (after the learning-rate rule).
    pub lr: Option<f64>,
    /// The optimal solver's requested relative gap.
    pub tol: Option<f64>,
    /// The optimal solver's certified relative primal-dual gap
    /// (loss − dual bound)/max(loss, 10⁻⁶·initial loss) ≥ 0 ([`crate::decomposition::optimal`],
    /// "The certificate").
    pub duality_gap: Option<f64>,
    /// The optimal solver's certified lower bound of the optimal loss.
    pub dual_bound: Option<f64>,
    pub iterations: usize,
    pub seconds: f64,
    /// SGD: the loss did not end above its start (a run that ends higher than it began is
    /// reported as not converged: a warning in the CLI, a field in summary.json). Optimal: the
    /// gap reached the tolerance within the iteration and time limits.
    pub converged: bool,
    /// Loss (SGD) every `record_every` iterations.
    pub trajectory: Vec<LossPoint>,
    /// Loss, dual bound and gap against iterations and seconds (optimal solver).
    pub gap_trajectory: Vec<GapPoint>,
}

/// The outcome of a decomposition: interactions of every model and the learned parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decomposition {
    pub n: usize,
    pub method: Method,
    /// Raw interactions per model (OR terms of order ≤ 1 not yet moved; see [`Self::reorganised`]).
    pub interactions: Vec<Interactions>,
    /// ε^(i) per model.
    pub eps: Vec<Vec<f64>>,
    /// γ̄ (generalizable extraction only).
    pub gamma_shared: Option<Vec<f64>>,
    /// γ̂^(i) per model; for traditional extraction the model's whole γ.
    pub gamma_specific: Vec<Vec<f64>>,
    pub eps_bounds: Vec<f64>,
    /// τ_γ^(i) (generalizable extraction only).
    pub gamma_bounds: Option<Vec<f64>>,
    /// α of the loss (traditional: 1, the plain L1).
    pub alpha: f64,
    pub initial_loss: f64,
    pub final_loss: f64,
    pub solver: SolverReport,
}

impl Decomposition {
    pub fn models(&self) -> usize {
        self.interactions.len()
    }

    /// Interactions with every OR term of order ≤ 1 moved into AND (the authors' presentation).
    pub fn reorganised(&self) -> Vec<Interactions> {
        self.interactions
            .iter()
            .map(Interactions::reorganised)
            .collect()
    }

    /// γ^(i) = γ̄ + γ̂^(i) of model i.
    pub fn gamma(&self, model: usize) -> Vec<f64> {
        let spec = &self.gamma_specific[model];
        match &self.gamma_shared {
            Some(sh) => sh.iter().zip(spec).map(|(a, b)| a + b).collect(),
            None => spec.clone(),
        }
    }
}
