//! AND-OR decomposition with learned γ and ε (docs/method.md §3):
//! traditional extraction for one model (paper Eq. 4, Li & Zhang 2023) and generalizable
//! extraction for m ≥ 2 models (paper Eq. 5-6, Chen et al. 2024).
//!
//! For model j on a sample: v_and = ½(v + ε_j) + γ_j and v_or = ½(v + ε_j) − γ_j, with
//! γ_j = γ̄ + γ̂_j; |ε_j| ≤ τ_ε,j = `eps_ratio`·|v_j(x_N) − v_j(x_∅)| and |γ̂_j| ≤ τ_γ,j. The loss
//! ([`Objective`]) is, per coalition S and separately for AND and OR,
//! (1 − α)·max_j |I^j(S)| + α·Σ_j |I^j(S)|, summed over all S. This is the authors' code's
//! weighting of the paper's Eq. 6 (α_paper = α/(1 − α), scaled); α = 0 is pure row-max, α = 1
//! independent L1 per model. For one model both terms are |I(S)|: Eq. 4.
//!
//! One entry point, [`decompose`], for any m ≥ 1 and either [`Method`]; one options type,
//! [`DecompositionOptions`], used by the library, the CLI, the notebooks and the runs alike; one
//! learning-rate rule ([`Optimizer`]).

mod decompose;
mod objective;
pub mod optimal;
mod options;
mod result;
mod sgd;

pub use decompose::{
    check_inputs, decompose, decompose_generalizable, decompose_traditional, memory_mib, Observer,
};
pub use objective::{Objective, Params};
pub use optimal::{GapPoint, OptimalOptions};
pub use options::{
    gamma_bounds_over_samples, span, value_range, DecompositionOptions, Method, SolverKind,
};
pub use result::{Decomposition, SolverReport};
pub use sgd::{
    LossPoint, LrSchedule, Optimizer, SgdObserver, DEFAULT_LR_GENERALIZABLE, DEFAULT_LR_TRADITIONAL,
};

/// Bumped whenever a change of this module changes extraction results, so that a resumed run
/// never reuses a result computed by another version (part of every run fingerprint).
pub const ALGORITHM_VERSION: u32 = 3;
