//! Generalizable extraction, m = 2 models: the butterfly optimiser vs the dense-matrix reference.
//! Full 20000-iteration runs at n = 10, 12; per-iteration cost at n = 10…16 (and the dense
//! reference's where its matrices fit), from which BENCHMARKS.md reports ratios.

#[path = "../tests/common/dense.rs"]
mod dense;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use interprim::decomposition::{decompose_generalizable, DecompositionOptions, Optimizer};
use std::hint::black_box;
use std::time::Duration;

fn pair(n: usize) -> Vec<Vec<f64>> {
    (0..2)
        .map(|j| {
            (0..1usize << n)
                .map(|t| (((t * 2654435761 + j * 97) % 1000) as f64 / 100.0).sin() * 3.0)
                .collect()
        })
        .collect()
}

fn run(vals: &[Vec<f64>], niter: usize) -> f64 {
    let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
    let opts = DecompositionOptions {
        sgd_generalizable: Optimizer {
            niter,
            ..Optimizer::generalizable()
        }
        .with_lr(1e-7),
        ..DecompositionOptions::sgd(niter)
    };
    decompose_generalizable(&refs, &opts).unwrap().final_loss
}

fn full_runs(c: &mut Criterion) {
    let mut g = c.benchmark_group("generalizable_20000");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for n in [10, 12] {
        let vals = pair(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &vals, |b, v| {
            b.iter(|| run(black_box(v), 20000))
        });
    }
    g.finish();
}

fn per_iteration(c: &mut Criterion) {
    let mut g = c.benchmark_group("generalizable_100_iterations");
    g.sample_size(10);
    for n in [10, 12, 14, 16] {
        let vals = pair(n);
        g.bench_with_input(BenchmarkId::new("butterfly", n), &vals, |b, v| {
            b.iter(|| run(black_box(v), 100))
        });
    }
    for n in [10, 12] {
        let vals = pair(n);
        let d = dense::Dense::new(n);
        let len = 1usize << n;
        let span = |v: &Vec<f64>| (v[len - 1] - v[0]).abs();
        let eb: Vec<f64> = vals.iter().map(|v| 0.02 * span(v)).collect();
        let gb: Vec<f64> = vals.iter().map(|v| 0.5 * span(v)).collect();
        g.bench_with_input(BenchmarkId::new("dense", n), &vals, |b, v| {
            b.iter(|| {
                d.optimise(black_box(v), 0.1, &eb, Some(&gb), |_| 1e-7, 100, 0.9)
                    .loss
            })
        });
    }
    g.finish();
}

criterion_group!(benches, per_iteration, full_runs);
criterion_main!(benches);
