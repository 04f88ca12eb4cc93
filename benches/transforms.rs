//! AND/OR transforms, butterfly vs the dense 2^n×2^n matrices (where they fit), n = 8…20.

#[path = "../tests/common/dense.rs"]
mod dense;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn values(n: usize) -> Vec<f64> {
    (0..1usize << n)
        .map(|t| ((t * 2654435761) % 1000) as f64 / 100.0)
        .collect()
}

fn transforms(c: &mut Criterion) {
    let mut g = c.benchmark_group("transform");
    g.sample_size(20);
    for n in (8..=20).step_by(2) {
        let v = values(n);
        g.bench_with_input(BenchmarkId::new("and_butterfly", n), &v, |b, v| {
            b.iter(|| interprim::transform::and_interactions(black_box(v)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("or_butterfly", n), &v, |b, v| {
            b.iter(|| interprim::transform::or_interactions(black_box(v)).unwrap())
        });
        if n <= 12 {
            let a = dense::and_matrix(n);
            g.bench_with_input(BenchmarkId::new("and_dense", n), &v, |b, v| {
                b.iter(|| dense::matvec(&a, black_box(v)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, transforms);
criterion_main!(benches);
