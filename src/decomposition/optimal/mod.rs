//! Certified optimal solver for the decomposition losses (paper Eq. 4 and Eq. 6; method §3.3).
//!
//! # The problem
//! For m models with value vectors v_i (length 2^n), the variables are, per coalition T, the AND
//! and OR inputs a_i(T) = v_and_i(T) and o_i(T) = v_or_i(T). They are feasible when
//! s_i = a_i + o_i ∈ [v_i − τε_i, v_i + τε_i] (the ε box) and d_i = (a_i − o_i)/2 = γ̄ + γ̂_i with
//! |γ̂_i| ≤ τγ_i and γ̄ free (traditional extraction: one model, d free). The feasible set C is a
//! product of small polyhedra C_T, one per coalition. The loss is a sum over coalitions S, for AND
//! and OR separately, of the group norm N(z) = (1 − α)·max_i |z_i| + α·Σ_i |z_i| of the m
//! interactions z_i(S) = (K w)_i(S), with K = Möbius (AND) and the OR map. It is the same loss
//! as [`Objective::loss`](crate::decomposition::Objective::loss), and a linear program.
//!
//! # Method: restarted Halpern Peaceman–Rachford on the graph of K, plus a face polish
//! We split min F(z) + G(w) s.t. z = K w (F = the loss, separable per S; G = indicator of C,
//! separable per T) over the pair u = (w, z). One iteration is the prox of F and the projection
//! onto C (`problem.rs`), then the projection onto the graph {(w, K w)}, which is exact in
//! Θ(m·n·2^n) with O(m·2^n) memory because the Möbius matrix is a Kronecker product (`graph.rs`);
//! no matrix is ever formed. The iteration is Peaceman–Rachford (the reflected Douglas–Rachford
//! operator) made convergent by Halpern anchoring, restarted when the fixed-point residual has
//! dropped enough, with the step ρ re-balanced between primal and dual movement at every restart
//! (HPR-LP, Chen, Sun, Toh 2024; the restart and weight rules of PDLP) (`halpern.rs`). Plain
//! ADMM/Douglas–Rachford, plain PDHG and a general LP solver are all slower on this problem
//! (BENCHMARKS.md, "Optimal solver").
//!
//! First-order methods identify the optimal face long before they converge on it, so every
//! `polish_every` iterations (doubling while it does not close the gap) the solver **polishes**:
//! it reads the pattern of zeros, ties and active boxes off the prox outputs and solves the
//! face's primal and dual equations in least squares with matrix-free LSQR (`polish.rs`,
//! `lsqr.rs`). A right pattern gives an exact primal–dual pair; a wrong one a worse candidate,
//! since every candidate is re-checked exactly.
//!
//! # The certificate
//! The dual of min F(Kw) + G(w) is max −σ_C(−Kᵀλ) over λ in the dual-norm ball of F (per group:
//! Σ of the k largest |λ_i| ≤ (1 − α) + α·k for every k), and σ_C(c) is finite only if
//! Σ_i (c_a,i − c_o,i)(T) = 0 for every T (γ̄ free; for one model, c_a = c_o). Candidates: (a) λ
//! from the prox of F (in the ball exactly), its c repaired by shifting the AND multipliers
//! by Zᵀr/m; (b) c from the projection onto C (satisfies the condition by construction) with
//! λ = −K⁻ᵀc; (c) the polished pair. Each λ is scaled into the ball, and
//! dual_bound = −σ_C(c)/scale is a lower bound of the optimum up to floating-point rounding of
//! the butterflies (the equality above holds exactly by construction, not up to a tolerance)
//! (`certificate.rs`). The reported gap is (loss − dual_bound)/max(loss, [`LOSS_FLOOR`]·L₀) ≥ 0,
//! loss being [`Objective::loss`](crate::decomposition::Objective::loss) at the returned
//! parameters, which are exactly feasible (ε and γ̂ clipped into their boxes), and L₀ the loss
//! at γ = ε = 0 (the decomposition's initial loss). For every ordinary problem the optimum is
//! far above 10⁻⁶·L₀ and the gap is the plain relative gap (loss − dual_bound)/loss; the floor
//! only keeps a zero or tiny optimum certifiable, where a relative gap would ask for digits that
//! f64 does not hold: there "converged" means an absolute gap of at most tol·10⁻⁶·L₀.
//!
//! # Degenerate inputs
//! * **Zero optimum.** All interactions vanish iff v_and = v_or = 0, i.e. γ = 0 and ε = −v, which
//!   is feasible iff every |v_i(T)| ≤ τε_i (e.g. a large `eps_ratio`). [`solve`] checks this
//!   first and returns that point, loss 0 and gap 0, at iteration 0.
//! * **Boxes too wide to bind.** At any point whose loss is at most L₀ (so at every optimum),
//!   each model's interactions have ‖I_and‖₁ + ‖I_or‖₁ ≤ L₀, hence |ε_i| ≤ L₀ + max|v_i| and the
//!   γ̂_i can be chosen with |γ̂_i| ≤ L₀. A bound τε_i above 2·(L₀ + max|v_i|) or τγ_i above
//!   2·L₀ is therefore solved as that cap: the optimum is the same (the returned parameters
//!   satisfy the bound given), and a huge bound such as 10²⁰⁰ acts as a free variable instead of
//!   setting the scale the problem is solved at.
//! * **Extreme magnitudes.** The loss is positively homogeneous in the values and bounds, so
//!   values whose largest magnitude leaves [2⁻⁶⁴, 2⁶⁴] are solved scaled by an exact power of
//!   two and the result scaled back. Values of subnormal magnitude (not all zero, but all below
//!   2.2·10⁻³⁰⁸) are refused by [`Objective::new`](crate::decomposition::Objective::new): f64
//!   holds them with fewer than 52 bits.
//!
//! # Uniqueness (tie-break)
//! The LP optimum is often a face, not a point. With `tie_break` = t > 0 the first-order phase
//! minimises F + μ/2·‖z‖² with μ = t/rms(z₀) (z₀ the interactions at γ = ε = 0), whose solution
//! is unique and tends to the least-norm point of the optimal face as t → 0; the polish then
//! moves it onto the LP face by the least-norm correction, so the LP gap is unaffected. The
//! default is t = 0: the tie-break does not make the returned point more stable, because the
//! polish, not the regularised first-order point, fixes where on the face the answer lands, and
//! larger t slows the certificate. A true least-norm selection would need the polish to minimise
//! ‖z‖ over the face (a QP), which this solver does not do.
//!
//! Nor would any selection make the answer continuous in the values: the solution set of a
//! linear program moves discontinuously with its data when the optimum is not unique, so no
//! selection from it (least-norm, or the limit of a vanishing tie-break) is continuous in the
//! values, and a fixed tie-break trades the paper's optimum for a Lipschitz constant that grows
//! as 1/t. Under 10⁻⁵ relative noise on real values single interactions move by up to about
//! 10⁻² of the largest one at any tolerance (BENCHMARKS.md, "Optimal solver"), so runs report
//! their headline numbers with their spread under such noise ([`crate::run::spread`]).
//!
//! # Limits
//! Memory is O(m·2^n): about 20·m arrays of 2^n doubles (40 MiB at n = 16, m = 2). One iteration
//! costs four to five SGD steps (four butterflies per model and kind, the proxes and the
//! projections), and the certificate needs 10⁴ to 4·10⁴ iterations on real values at n = 10,
//! m = 2, so the solver is several times slower than the reference SGD's 20,000 steps, and far
//! more accurate (BENCHMARKS.md, "Optimal solver"; `cargo bench --bench optimal`).

// Index loops over coalitions and models read clearer than zipped iterators in this numeric code.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

mod certificate;
mod graph;
mod halpern;
mod lsqr;
mod options;
mod polish;
mod problem;
mod solve;
#[cfg(test)]
mod testing;

pub use certificate::{GapObserver, GapPoint, LOSS_FLOOR};
pub use options::OptimalOptions;
pub use solve::{solve, OptimalSolution};
