//! The certified optimal solver (src/decomposition/optimal/) against the reference SGD, in the same run:
//! n = 10, m = 2 on log-odds-like games (a few shared low-order AND/OR primitives plus each
//! model's own, squashed to ±8, plus noise): the SGD's 20,000 iterations vs the solver to a
//! certified relative gap of 1e-6 (and to 1e-4); then the solver's cost per 100 iterations at
//! n = 12, 14, 16. BENCHMARKS.md ("Optimal solver") reports the ratios. `real_n10`: the same
//! comparison on real values, MiniLM-L3 and MiniLM-L6 on the first sentence (in identity order) of
//! the notebooks' pinned network outputs (notebooks/values/, committed, so no asset is needed).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use interprim::decomposition::optimal::{solve, OptimalOptions};
use interprim::decomposition::{decompose_generalizable, DecompositionOptions};
use std::hint::black_box;
use std::time::Duration;

fn rnd(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Two models sharing 2n low-order primitives (coefficients perturbed by 20 %) plus n of their
/// own, log-odds-like (8·tanh(raw/8)) with noise 0.05.
fn realistic_pair(n: usize) -> Vec<Vec<f64>> {
    let mut r = rnd(n as u64);
    let prim = |r: &mut dyn FnMut() -> f64| {
        let order = 1 + ((r() + 1.0) * 1.5) as usize % 3;
        let mut s = 0usize;
        while (s.count_ones() as usize) < order.min(n) {
            s |= 1 << (((r() + 1.0) * 0.5 * n as f64) as usize % n);
        }
        (s, 3.0 * r() / order as f64, r() > -0.4)
    };
    let shared: Vec<_> = (0..2 * n).map(|_| prim(&mut r)).collect();
    (0..2)
        .map(|_| {
            let own: Vec<_> = (0..n).map(|_| prim(&mut r)).collect();
            let base = r();
            let prims: Vec<_> = shared
                .iter()
                .map(|&(s, c, a)| (s, c * (1.0 + 0.2 * r()), a))
                .chain(own)
                .collect();
            (0..1usize << n)
                .map(|t| {
                    let raw: f64 = base
                        + prims
                            .iter()
                            .map(|&(s, c, and)| {
                                let on = if and { t & s == s } else { t & s != 0 };
                                if on {
                                    c
                                } else {
                                    0.0
                                }
                            })
                            .sum::<f64>();
                    8.0 * (raw / 8.0).tanh() + 0.05 * r()
                })
                .collect()
        })
        .collect()
}

fn bounds(vals: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let span = |v: &Vec<f64>| (v[v.len() - 1] - v[0]).abs();
    (
        vals.iter().map(|v| 0.02 * span(v)).collect(),
        vals.iter().map(|v| 0.5 * span(v)).collect(),
    )
}

fn optimal(vals: &[Vec<f64>], opts: &OptimalOptions) -> (f64, f64) {
    let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
    let (eb, gb) = bounds(vals);
    let s = solve(&refs, 0.1, &eb, Some(&gb), opts, None).unwrap();
    (s.loss, s.gap)
}

fn n10(c: &mut Criterion) {
    let vals = realistic_pair(10);
    let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
    // one run of each outside the timing, to print what the timed runs reach
    let sgd = sgd_20000(&refs);
    let (loss, gap) = optimal(&vals, &OptimalOptions::default());
    eprintln!(
        "n = 10: SGD 20000 final loss {sgd:.6}; optimal loss {loss:.6}, certified gap {gap:.1e} (SGD {:.1}% above)",
        100.0 * (sgd / loss - 1.0)
    );
    let mut g = c.benchmark_group("n10_m2");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("sgd_20000", |b| b.iter(|| sgd_20000(black_box(&refs))));
    for tol in [1e-4, 1e-6] {
        let opts = OptimalOptions {
            tol,
            ..Default::default()
        };
        g.bench_with_input(BenchmarkId::new("optimal_gap", tol), &vals, |b, v| {
            b.iter(|| optimal(black_box(v), &opts))
        });
    }
    g.finish();
}

fn larger(c: &mut Criterion) {
    let mut g = c.benchmark_group("optimal_100_iterations");
    g.sample_size(10);
    let opts = OptimalOptions {
        max_iter: 100,
        polish_every: 0,
        ..Default::default()
    };
    for n in [12, 14, 16] {
        let vals = realistic_pair(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &vals, |b, v| {
            b.iter(|| optimal(black_box(v), &opts))
        });
    }
    g.finish();
}

/// The reference: the authors' SGD, 20,000 iterations, on the models' values `refs`; its final
/// loss.
fn sgd_20000(refs: &[&[f64]]) -> f64 {
    decompose_generalizable(refs, &DecompositionOptions::sgd(20000))
        .unwrap()
        .final_loss
}

/// MiniLM-L3 and MiniLM-L6 on one sentence of the pinned notebook values, centred (v(x_∅) = 0):
/// the entries whose identities differ only in their `model:` line, first group in identity order.
fn pinned_sentence_pair() -> Vec<Vec<f64>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks/values");
    let mut groups: std::collections::BTreeMap<String, Vec<(String, std::path::PathBuf)>> =
        Default::default();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let meta: serde_json::Value = interprim::export::read_json(&path).unwrap();
            let identity = meta["identity"].as_str().unwrap();
            if !identity.starts_with("text classifier log-odds") {
                continue;
            }
            let (model, rest): (Vec<&str>, Vec<&str>) =
                identity.lines().partition(|l| l.starts_with("model:"));
            groups
                .entry(rest.join("\n"))
                .or_default()
                .push((model.join(""), path.with_extension("npy")));
        }
    }
    let (_, mut pair) = groups
        .into_iter()
        .find(|(_, g)| g.len() == 2)
        .expect("two text classifiers on one sentence in notebooks/values");
    pair.sort();
    pair.iter()
        .map(|(_, npy)| {
            let v = interprim::export::read_npy(npy).unwrap();
            v.iter().map(|x| x - v[0]).collect()
        })
        .collect()
}

fn real_n10(c: &mut Criterion) {
    let vals = pinned_sentence_pair();
    let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
    let sgd = sgd_20000(&refs);
    let opt = decompose_generalizable(&refs, &DecompositionOptions::optimal(1e-6)).unwrap();
    eprintln!(
        "real n = {}: SGD 20000 final loss {:.6}; optimal loss {:.6} in {} iterations, certified gap {:.1e} (SGD {:.1}% above)",
        refs[0].len().trailing_zeros(),
        sgd,
        opt.final_loss,
        opt.solver.iterations,
        opt.solver.duality_gap.unwrap_or(f64::NAN),
        100.0 * (sgd / opt.final_loss - 1.0)
    );
    let mut g = c.benchmark_group("real_n10_m2");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function("sgd_20000", |b| b.iter(|| sgd_20000(black_box(&refs))));
    g.bench_function("optimal_gap_1e-6", |b| {
        b.iter(|| {
            decompose_generalizable(black_box(&refs), &DecompositionOptions::optimal(1e-6))
                .unwrap()
                .final_loss
        })
    });
    g.finish();
}

criterion_group!(benches, n10, real_n10, larger);
criterion_main!(benches);
