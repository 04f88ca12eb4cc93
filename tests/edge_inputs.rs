//! Edge inputs that users of attribution and interaction tools report (tiny and huge n, values at
//! the edge of f64, cost surprises, model order), each kind as a table or property test over its
//! whole class, plus the reported cases as regression tests.

mod common;

use std::path::Path;
use std::process::Command;

use interprim::decomposition::{decompose, DecompositionOptions, Method, Optimizer, SolverKind};
use interprim::export::{read_json, read_npy, write_atomic, write_npy, MaskOrder};
use interprim::run::summary::summarize;
use interprim::run::{Run, RunSettings, SampleValues};
use interprim::{Error, Interactions, Kind};
use proptest::prelude::*;

fn interprim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_interprim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A deterministic game of n players: a few AND and OR primitives and a little noise.
fn game(n: usize, seed: u64) -> Vec<f64> {
    let len = 1usize << n;
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut rnd = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    let prims: Vec<(usize, f64, bool)> = (0..4)
        .map(|_| {
            let mask = ((rnd() + 1.0) * 0.5 * len as f64) as usize % len;
            (mask, 2.0 * rnd(), rnd() > 0.0)
        })
        .collect();
    let mut v: Vec<f64> = (0..len)
        .map(|t| {
            prims
                .iter()
                .map(|&(m, w, and)| {
                    let on = if and { t & m == m } else { t & m != 0 };
                    w * on as u8 as f64
                })
                .sum::<f64>()
                + 0.01 * rnd()
        })
        .collect();
    let v0 = v[0];
    v.iter_mut().for_each(|x| *x -= v0);
    v
}

fn fast(solver: SolverKind) -> DecompositionOptions {
    let mut o = DecompositionOptions::sgd(300);
    o.solver = solver;
    o.optimal.tol = 1e-6;
    o
}

/// Every n from 1 to 12 runs through a run's extraction and metrics: k ≥ 1, numbers finite, no
/// structural zero (OR of order ≤ 1) and no zero effect counted as shared.
#[test]
fn every_n_from_1_to_12_runs_through_the_run_metrics() {
    for n in 1..=12usize {
        let dir = tempfile::tempdir().unwrap();
        let solver = if n <= 6 {
            SolverKind::Optimal
        } else {
            SolverKind::Sgd
        };
        let settings = RunSettings {
            task: format!("n = {n}"),
            models: vec!["A".into(), "B".into()],
            decomposition: fast(solver),
            t_grid: interprim::metrics::paper_t_grid(),
            null: interprim::run::NullSettings {
                replicates: 1,
                seed: n as u64,
            },
        };
        let run = Run::new(dir.path(), settings);
        let samples: Vec<SampleValues> = (0..2)
            .map(|s| SampleValues {
                id: format!("s{s}"),
                text: String::new(),
                players: (0..n).map(|i| format!("p{i}")).collect(),
                values: vec![game(n, s), game(n, s + 100)],
                value_seconds: 0.0,
            })
            .collect();
        let bounds = run.gamma_bounds(&samples).unwrap();
        let results: Vec<_> = samples
            .iter()
            .map(|s| run.process(s, &bounds).unwrap().0)
            .collect();
        let ks = interprim::metrics::k_grid_checked(n, &run.settings.t_grid);
        let nulls = run.nulls(&results, &bounds, &ks, &mut None).unwrap();
        let summary = summarize(
            &run.settings,
            &results,
            &bounds,
            Default::default(),
            Some(&nulls),
        )
        .unwrap();
        assert!(
            !summary.k.is_empty() && summary.k.iter().all(|&k| k >= 1),
            "n = {n}"
        );
        assert!(
            summary.k.windows(2).all(|w| w[0] < w[1]),
            "n = {n}: {:?}",
            summary.k
        );
        for s in [&summary.generalizable, &summary.traditional] {
            assert!(s.s_and.iter().chain(&s.s_or).all(|x| x.is_finite()));
            assert!(s.shared_top50.is_finite());
            // both nulls exist (two samples of the same n) and every number is a proportion
            for cross in [false, true] {
                for kind_or in [false, true] {
                    if kind_or && s.s_or.is_empty() {
                        // no OR interaction at all (n = 1): no OR null either
                        assert!(s.null(true, cross).is_none(), "n = {n}");
                        continue;
                    }
                    let (mean, sd) = s.null(kind_or, cross).expect("a null");
                    assert_eq!(mean.len(), summary.k.len(), "n = {n}");
                    assert!(mean.iter().all(|x| (0.0..=1.0).contains(x)), "n = {n}");
                    assert!(sd.iter().all(|x| x.is_finite() && *x >= 0.0), "n = {n}");
                    let e = s.excess(kind_or, cross).unwrap();
                    assert!(e.iter().all(|x| (-1.0..=1.0).contains(x)), "n = {n}");
                }
            }
        }
        for r in &results {
            for method in ["generalizable", "traditional", "harsanyi"] {
                let its: Vec<&Interactions> = r.method(method).iter().collect();
                let split = interprim::metrics::shared_and_distinctive(&its, 50).unwrap();
                for it in split.iter().flat_map(|s| &s.shared) {
                    assert!(it.effect != 0.0, "n = {n} {method}: a zero is shared");
                    assert!(
                        !(it.kind == Kind::Or && it.coalition.order() <= 1),
                        "n = {n} {method}: structural zero {it:?} shared"
                    );
                }
            }
        }
    }
}

#[test]
fn no_players_is_refused_with_the_rule() {
    let e = decompose(&[&[0.0]], Method::Traditional, &fast(SolverKind::Sgd), None).unwrap_err();
    assert!(e.to_string().contains("n ≥ 1"), "{e}");
    // the replication refuses n = 0 and a budget-breaking n before loading any model
    for (n, expect) in [("0", "choose --n in 1..=24"), ("22", "over the budget")] {
        let o = interprim(&[
            "replicate",
            "sentiment",
            "--n",
            n,
            "--out",
            "/nonexistent/x",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(err.contains(expect), "--n {n}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let o = interprim(&[
        "replicate",
        "digits",
        "--n",
        "17",
        "--out",
        "/nonexistent/x",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("choose --n in 1..=16"));
}

proptest! {
    // 48 cases per run; PROPTEST_CASES=N runs more (the release check ran 2,000)
    #![proptest_config(ProptestConfig::with_cases(common::proptest_cases(48)))]

    /// A huge finite value anywhere: every result is finite, or the error names the value range.
    #[test]
    fn huge_values_give_finite_results_or_a_value_range_error(
        n in 1usize..=5,
        pos in 0usize..32,
        exp in 280i32..=308,
        negative in any::<bool>(),
        sgd in any::<bool>(),
    ) {
        let len = 1usize << n;
        let mut v = game(n, 7);
        let x = 10f64.powi(exp).min(f64::MAX);
        v[pos % len] = if negative { -x } else { x };
        let check = |r: interprim::Result<Vec<f64>>| -> Result<(), TestCaseError> {
            match r {
                Ok(out) => prop_assert!(out.iter().all(|x| x.is_finite())),
                Err(Error::ValueRange(_)) => {}
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
            Ok(())
        };
        check(interprim::transform::and_interactions(&v))?;
        check(interprim::transform::or_interactions(&v))?;
        let solver = if sgd { SolverKind::Sgd } else { SolverKind::Optimal };
        let w = game(n, 8);
        for (method, vals) in [(Method::Traditional, vec![&v[..]]), (Method::Generalizable, vec![&v[..], &w[..]])] {
            match decompose(&vals, method, &fast(solver), None) {
                Ok(d) => {
                    prop_assert!(d.final_loss.is_finite() && d.initial_loss.is_finite());
                    for it in &d.interactions {
                        prop_assert!(it.and.iter().chain(&it.or).all(|x| x.is_finite()));
                    }
                    prop_assert!(d.eps.iter().flatten().chain(d.gamma_specific.iter().flatten()).all(|x| x.is_finite()));
                }
                Err(Error::ValueRange(_)) => {}
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }

    /// Permuting the models permutes the output, for both solvers (ties split evenly).
    #[test]
    fn model_order_does_not_change_the_result(seed in 0u64..1000, sgd in any::<bool>()) {
        let n = 4;
        let vals = [game(n, seed), game(n, seed + 1), game(n, seed + 2)];
        let solver = if sgd { SolverKind::Sgd } else { SolverKind::Optimal };
        let mut opts = fast(solver);
        opts.sgd_generalizable = Optimizer { niter: 500, ..Optimizer::generalizable() }.with_lr(1e-3);
        let order = [2usize, 0, 1];
        let a = decompose(&[&vals[0], &vals[1], &vals[2]], Method::Generalizable, &opts, None).unwrap();
        let permuted: Vec<&[f64]> = order.iter().map(|&i| vals[i].as_slice()).collect();
        let b = decompose(&permuted, Method::Generalizable, &opts, None).unwrap();
        let scale = a.interactions.iter().map(|i| i.max_abs()).fold(1e-12, f64::max);
        // the optimal solver is exact to its certified gap; SGD to float rounding
        let tol = if sgd { 1e-9 } else { 1e-4 };
        prop_assert!((a.final_loss - b.final_loss).abs() <= tol * a.final_loss.max(1.0));
        if sgd {
            for (j, &i) in order.iter().enumerate() {
                for (x, y) in a.interactions[i].and.iter().zip(&b.interactions[j].and) {
                    prop_assert!((x - y).abs() <= tol * scale, "model {i}: {x} vs {y}");
                }
            }
        }
    }

    /// shapiq JSON and .npy files round-trip exactly, in both mask orders.
    #[test]
    fn export_round_trips(n in 0usize..=8, seed in any::<u64>()) {
        let len = 1usize << n;
        let v: Vec<f64> = (0..len).map(|t| ((t as u64 ^ seed) % 1000) as f64 / 7.0 - 50.0).collect();
        for kind in [Kind::And, Kind::Or] {
            let json = interprim::export::shapiq_json(&v, kind, 0.5).unwrap();
            prop_assert_eq!(interprim::export::from_shapiq_json(&json).unwrap(), v.clone());
        }
        let dir = tempfile::tempdir().unwrap();
        for order in [MaskOrder::LsbFirst, MaskOrder::MsbFirst] {
            let path = dir.path().join("v.npy");
            write_npy(&path, &v, order).unwrap();
            let back = interprim::export::from_order(&read_npy(&path).unwrap(), order).unwrap();
            prop_assert_eq!(back, v.clone());
        }
    }
}

/// Identical models get identical interactions (the reported case: v(T) = |T|², n = 4, SGD at
/// lr 1e-4 for 5000 steps used to differ by 0.0104 between model 1 and model 2).
#[test]
fn identical_models_get_identical_interactions() {
    let v: Vec<f64> = (0..16u32)
        .map(|t| (t.count_ones() * t.count_ones()) as f64)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.npy");
    write_npy(&file, &v, MaskOrder::LsbFirst).unwrap();
    for solver in ["sgd", "optimal"] {
        let out = dir.path().join(solver);
        let o = interprim(&[
            "extract-values",
            "--mode",
            "generalizable",
            "--solver",
            solver,
            "--values",
            p(&file),
            "--values",
            p(&file),
            "--niter",
            "5000",
            "--lr",
            "1e-4",
            "--out",
            p(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for kind in ["I_and", "I_or"] {
            let a = read_npy(&out.join(format!("{kind}_1.npy"))).unwrap();
            let b = read_npy(&out.join(format!("{kind}_2.npy"))).unwrap();
            assert_eq!(a, b, "{solver} {kind}");
        }
    }
}

/// Finite input, non-finite output: refused with the cause, nothing written.
#[test]
fn values_too_large_for_f64_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.npy");
    write_npy(&file, &[-1e308, 1e308, 0.0, 0.0], MaskOrder::LsbFirst).unwrap();
    let out = dir.path().join("out");
    for args in [
        vec!["interactions", "--values", p(&file), "--out", p(&out)],
        vec![
            "extract-values",
            "--mode",
            "traditional",
            "--values",
            p(&file),
            "--niter",
            "100",
            "--out",
            p(&out),
        ],
        vec![
            "extract-values",
            "--mode",
            "traditional",
            "--solver",
            "sgd",
            "--values",
            p(&file),
            "--niter",
            "100",
            "--out",
            p(&out),
        ],
    ] {
        let o = interprim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            err.contains("value range too large for f64 arithmetic"),
            "{args:?}: {err}"
        );
        assert!(!out.exists());
    }
}

/// An SGD run whose loss ends above its start says so (a warning and a summary field).
#[test]
fn a_diverging_sgd_is_reported_as_not_converged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.npy");
    write_npy(&file, &game(8, 3), MaskOrder::LsbFirst).unwrap();
    let out = dir.path().join("out");
    let o = interprim(&[
        "extract-values",
        "--mode",
        "traditional",
        "--solver",
        "sgd",
        "--values",
        p(&file),
        "--niter",
        "300",
        "--lr",
        "10",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("WARNING: not converged"));
    let summary: serde_json::Value = read_json(&out.join("summary.json")).unwrap();
    assert_eq!(summary["converged"], false);
    assert!(summary["final_loss"].as_f64().unwrap() > summary["initial_loss"].as_f64().unwrap());
}

/// The memory check reads the .npy headers, before any data is loaded: eleven files announcing
/// 2^24 values each are refused at once (their data is not even there), and the limit is a flag.
#[test]
fn memory_is_checked_from_the_headers_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.npy");
    let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (16777216,), }".to_string();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    write_atomic(&big, &bytes).unwrap();
    let mut args = vec!["extract-values", "--mode", "generalizable"];
    for _ in 0..11 {
        args.extend(["--values", p(&big)]);
    }
    let o_dir = dir.path().join("o");
    args.extend(["--out", p(&o_dir)]);
    let start = std::time::Instant::now();
    let o = interprim(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("MiB, over the limit") && err.contains("raise the limit"),
        "{err}"
    );
    assert!(start.elapsed().as_secs_f64() < 5.0);
    // a small problem over a lowered limit is refused too
    let small = dir.path().join("small.npy");
    write_npy(&small, &game(14, 1), MaskOrder::LsbFirst).unwrap();
    let o = interprim(&[
        "extract-values",
        "--mode",
        "traditional",
        "--values",
        p(&small),
        "--memory-limit-mib",
        "1",
        "--out",
        p(&dir.path().join("o2")),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("over the limit of 1 MiB"));
}
