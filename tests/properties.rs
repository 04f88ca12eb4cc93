//! Property tests of every identity in method §2-3 over random value functions, with the dense
//! matrices of tests/common/dense.rs as the oracle.

mod common;

use common::dense::{self, Dense};
use interprim::decomposition::{
    decompose_generalizable, decompose_traditional, DecompositionOptions, Objective, Optimizer,
    Params,
};
use interprim::transform::*;
use interprim::{Coalition, Interactions};
use proptest::prelude::*;

fn values(max_n: usize) -> impl Strategy<Value = Vec<f64>> {
    (0..=max_n).prop_flat_map(|n| prop::collection::vec(-10.0f64..10.0, 1usize << n))
}

fn values_n(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-10.0f64..10.0, 1usize << n)
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs())))
}

proptest! {
    // 48 cases per run; PROPTEST_CASES=N runs more (the release check ran 2,000)
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(48)))]

    /// Identity 1: Σ_{S⊆T} I_and(S) = v(x_T), checked by explicit subset sums.
    #[test]
    fn and_interactions_sum_to_values(v in values(12)) {
        let a = and_interactions(&v).unwrap();
        prop_assert!(close(&values_from_and(&a).unwrap(), &v, 1e-9));
        let n = v.len().trailing_zeros() as usize;
        for t in Coalition::all(n).step_by(1 + v.len() / 64) {
            let s: f64 = t.subsets().map(|s| a[s.mask()]).sum();
            prop_assert!((s - v[t.mask()]).abs() < 1e-8);
        }
        prop_assert_eq!(a[0], v[0]);
    }

    /// Identity 2: efficiency.
    #[test]
    fn efficiency(v in values(12)) {
        let a = and_interactions(&v).unwrap();
        let total: f64 = a[1..].iter().sum();
        prop_assert!((total - (v[v.len() - 1] - v[0])).abs() < 1e-8);
    }

    /// Identity 3: φ(i) = Σ_{S∋i} I_and(S)/|S| equals the Shapley value (permutation weights).
    #[test]
    fn shapley_from_harsanyi(v in values(8)) {
        prop_assert!(close(&shapley_values(&v).unwrap(), &dense::shapley_bruteforce(&v), 1e-9));
    }

    /// OR interactions reconstruct v: v(T) = I_or(∅) + Σ_{S∩T≠∅} I_or(S), checked explicitly.
    #[test]
    fn or_interactions_reconstruct(v in values(10)) {
        let o = or_interactions(&v).unwrap();
        prop_assert!(close(&values_from_or(&o).unwrap(), &v, 1e-9));
        let n = v.len().trailing_zeros() as usize;
        for t in Coalition::all(n).step_by(1 + v.len() / 32) {
            let s: f64 = o[0] + Coalition::all(n).filter(|s| s.intersects(t)).map(|s| o[s.mask()]).sum::<f64>();
            prop_assert!((s - v[t.mask()]).abs() < 1e-8);
        }
    }

    /// The butterflies equal the dense matrices of the authors' code.
    #[test]
    fn butterflies_match_dense_matrices(v in values(7)) {
        let n = v.len().trailing_zeros() as usize;
        let d = Dense::new(n);
        prop_assert!(close(&and_interactions(&v).unwrap(), &dense::matvec(&d.a, &v), 1e-9));
        prop_assert!(close(&or_interactions(&v).unwrap(), &dense::matvec(&d.b, &v), 1e-9));
        let mut g = v.clone();
        mobius_transpose_rows(&mut g, 1);
        prop_assert!(close(&g, &dense::matvec_t(&d.a, &v), 1e-9));
        let mut z = v.clone();
        zeta_transpose_rows(&mut z, 1);
        let mut back = z.clone();
        mobius_transpose_rows(&mut back, 1);
        prop_assert!(close(&back, &v, 1e-9));
    }

    /// Reorganising (moving |S| ≤ 1 OR terms into AND) never changes the reconstruction.
    #[test]
    fn reorganise_preserves_reconstruction(a in values(10), seed in any::<u64>()) {
        let o: Vec<f64> = a.iter().enumerate().map(|(i, x)| (x * 1.7 + (seed % 7) as f64 + i as f64).sin()).collect();
        let it = Interactions::new(a, o).unwrap();
        prop_assert!(close(&it.reconstruct(), &it.reorganised().reconstruct(), 1e-9));
    }

    /// Universal matching after traditional extraction: the reconstruction is v + ε, with
    /// |ε| within its bound, so the reconstruction error never exceeds τ_ε.
    #[test]
    fn traditional_universal_matching(v in values_n(6), lr in 1e-4f64..1e-2, niter in 2usize..200) {
        let opts = DecompositionOptions { sgd_traditional: Optimizer { niter, ..Optimizer::traditional() }.with_lr(lr), eps_ratio: 0.05, ..DecompositionOptions::sgd(niter) };
        let d = decompose_traditional(&v, &opts).unwrap();
        let recon = d.interactions[0].reconstruct();
        let bound = d.eps_bounds[0];
        for t in 0..v.len() {
            prop_assert!((recon[t] - v[t] - d.eps[0][t]).abs() < 1e-9);
            prop_assert!(d.eps[0][t].abs() <= bound + 1e-12);
        }
        let recon_r = d.reorganised()[0].reconstruct();
        prop_assert!(close(&recon, &recon_r, 1e-9));
    }

    /// Universal matching for every model of a generalizable extraction (m = 2 or 3), and the
    /// γ̂, ε bounds hold.
    #[test]
    fn generalizable_universal_matching(
        vs in (2usize..=3).prop_flat_map(|m| prop::collection::vec(values_n(5), m)),
        lr in 1e-4f64..1e-2, niter in 2usize..200, alpha in 0.0f64..=1.0,
    ) {
        let refs: Vec<&[f64]> = vs.iter().map(|v| v.as_slice()).collect();
        let opts = DecompositionOptions { sgd_generalizable: Optimizer { niter, ..Optimizer::generalizable() }.with_lr(lr), alpha, ..DecompositionOptions::sgd(niter) };
        let d = decompose_generalizable(&refs, &opts).unwrap();
        let gb = d.gamma_bounds.clone().unwrap();
        for (j, v) in vs.iter().enumerate() {
            let recon = d.interactions[j].reconstruct();
            for t in 0..v.len() {
                prop_assert!((recon[t] - v[t] - d.eps[j][t]).abs() < 1e-9);
                prop_assert!(d.eps[j][t].abs() <= d.eps_bounds[j] + 1e-12);
                prop_assert!(d.gamma_specific[j][t].abs() <= gb[j] + 1e-12);
            }
        }
    }

    /// The Θ(m·n·2^n) loss and subgradient equal the dense-matrix ones at random parameters.
    #[test]
    fn fast_gradient_equals_dense_gradient(
        vs in (1usize..=3).prop_flat_map(|m| (1usize..=5).prop_flat_map(move |n| prop::collection::vec(values_n(n), m))),
        alpha in 0.0f64..=1.0, seed in any::<u64>(),
    ) {
        let m = vs.len();
        let n = vs[0].len().trailing_zeros() as usize;
        let len = 1 << n;
        let r = |k: usize| ((seed.wrapping_mul(6364136223846793005).wrapping_add((k as u64).wrapping_mul(1442695040888963407))) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let mut p = Params::zeros(n, m, m > 1);
        let mut k = 0;
        for arr in p.eps.iter_mut().chain(std::iter::once(&mut p.gamma_shared)).chain(p.gamma_specific.iter_mut()) {
            for x in arr.iter_mut() { *x = r(k); k += 1; }
        }
        let refs: Vec<&[f64]> = vs.iter().map(|v| v.as_slice()).collect();
        let mut obj = Objective::new(&refs, alpha).unwrap();
        let mut g = Params::zeros(n, m, m > 1);
        let loss = obj.loss_and_gradient(&p, &mut g);
        let dense = Dense::new(n).eval(&vs, alpha, &p.eps, &p.gamma_shared, &p.gamma_specific);
        prop_assert!((loss - dense.loss).abs() < 1e-8 * (1.0 + loss.abs()));
        for j in 0..m {
            prop_assert!(close(&g.eps[j], &dense.d_eps[j], 1e-9));
            if m > 1 { prop_assert!(close(&g.gamma_specific[j], &dense.d_specific[j], 1e-9)); }
        }
        prop_assert!(close(&g.gamma_shared, &dense.d_shared, 1e-9));
        let ints = obj.interactions(&p);
        for (it, (and, or)) in ints.iter().zip(dense.and.iter().zip(&dense.or)) {
            prop_assert!(close(&it.and, and, 1e-9));
            prop_assert!(close(&it.or, or, 1e-9));
        }
        prop_assert_eq!(len, ints[0].and.len());
    }
}

/// Central finite differences of the (piecewise linear) loss agree with the analytic gradient
/// away from kinks.
#[test]
fn fast_gradient_equals_finite_differences() {
    let n = 4;
    let len = 1 << n;
    let vals: Vec<Vec<f64>> = (0..2)
        .map(|j| {
            (0..len)
                .map(|t| ((t * 7 + j * 3) as f64).sin() * 3.0)
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
    let mut obj = Objective::new(&refs, 0.3).unwrap();
    let mut p = Params::zeros(n, 2, true);
    for (k, x) in p
        .eps
        .iter_mut()
        .chain(std::iter::once(&mut p.gamma_shared))
        .chain(p.gamma_specific.iter_mut())
        .flatten()
        .enumerate()
    {
        *x = ((k as f64) * 0.731).cos() * 0.4;
    }
    let mut g = Params::zeros(n, 2, true);
    obj.loss_and_gradient(&p, &mut g);
    let h = 1e-7;
    let mut checked = 0;
    for which in 0..3 {
        for idx in 0..len {
            let get = |q: &mut Params| -> *mut f64 {
                match which {
                    0 => &mut q.eps[1][idx],
                    1 => &mut q.gamma_shared[idx],
                    _ => &mut q.gamma_specific[0][idx],
                }
            };
            let (mut plus, mut minus) = (p.clone(), p.clone());
            unsafe {
                *get(&mut plus) += h;
                *get(&mut minus) -= h;
            }
            let fd = (obj.loss(&plus) - obj.loss(&minus)) / (2.0 * h);
            let an = match which {
                0 => g.eps[1][idx],
                1 => g.gamma_shared[idx],
                _ => g.gamma_specific[0][idx],
            };
            assert!(
                (fd - an).abs() < 1e-5,
                "param {which}/{idx}: finite difference {fd} vs analytic {an}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * len);
}

/// The fast optimiser follows the dense reference optimiser step for step.
#[test]
fn optimiser_matches_dense_reference() {
    let n = 4;
    let len = 1 << n;
    let vals: Vec<Vec<f64>> = (0..2)
        .map(|j| {
            (0..len)
                .map(|t| ((t * 5 + j * 11) as f64).cos() * 2.0 + t as f64 * 0.1)
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
    let opt = Optimizer {
        niter: 300,
        ..Optimizer::generalizable()
    }
    .with_lr(1e-3);
    let opts = DecompositionOptions {
        sgd_generalizable: opt.clone(),
        alpha: 0.2,
        ..DecompositionOptions::sgd(300)
    };
    let fast = decompose_generalizable(&refs, &opts).unwrap();
    let span = |v: &Vec<f64>| (v[len - 1] - v[0]).abs();
    let eps_b: Vec<f64> = vals.iter().map(|v| 0.02 * span(v)).collect();
    let gam_b: Vec<f64> = vals.iter().map(|v| 0.5 * span(v)).collect();
    let dense = Dense::new(n).optimise(
        &vals,
        0.2,
        &eps_b,
        Some(&gam_b),
        |it| opt.lr_at(1e-3, it),
        opt.niter,
        0.9,
    );
    assert!((fast.final_loss - dense.loss).abs() < 1e-9 * (1.0 + dense.loss));
    for j in 0..2 {
        assert!(close(&fast.interactions[j].and, &dense.and[j], 1e-8));
        assert!(close(&fast.interactions[j].or, &dense.or[j], 1e-8));
    }
    // traditional, with the decaying schedule
    let topt = Optimizer {
        niter: 300,
        ..Optimizer::traditional()
    }
    .with_lr(1e-3);
    let trad = decompose_traditional(
        &vals[0],
        &DecompositionOptions {
            sgd_traditional: topt.clone(),
            ..DecompositionOptions::sgd(300)
        },
    )
    .unwrap();
    let dense = Dense::new(n).optimise(
        &vals[..1],
        1.0,
        &eps_b[..1],
        None,
        |it| topt.lr_at(1e-3, it),
        topt.niter,
        0.9,
    );
    assert!((trad.final_loss - dense.loss).abs() < 1e-9 * (1.0 + dense.loss));
    assert!(close(&trad.interactions[0].and, &dense.and[0], 1e-8));
}

/// The optimiser reduces the loss on a real problem (and the loss is recorded as promised).
#[test]
fn extraction_reduces_the_loss_and_records_the_trajectory() {
    let [a, b] = interprim::demo::noisy_models(1, 0.05);
    let opts = DecompositionOptions {
        sgd_generalizable: Optimizer {
            niter: 5000,
            ..Optimizer::generalizable()
        }
        .with_lr(1e-3),
        ..DecompositionOptions::sgd(5000)
    };
    let d = decompose_generalizable(&[&a, &b], &opts).unwrap();
    assert!(
        d.final_loss < 0.8 * d.initial_loss,
        "{} → {}",
        d.initial_loss,
        d.final_loss
    );
    let its: Vec<usize> = d.solver.trajectory.iter().map(|p| p.iteration).collect();
    assert_eq!(its, vec![0, 1000, 2000, 3000, 4000, 4999]);
}
