//! Wall-clock seconds of one full generalizable extraction (m = 2 models, reference settings,
//! 20000 iterations) at n = 10, 12, 14, 16, and of the dense-matrix reference per iteration where
//! its matrices fit; the figures of BENCHMARKS.md. Run with
//! `cargo run --release --example time_extraction [-- n1 n2 ...]`.

#[path = "../tests/common/dense.rs"]
mod dense;

use interprim::decomposition::{decompose_generalizable, DecompositionOptions, Optimizer};
use std::time::Instant;

fn pair(n: usize) -> Vec<Vec<f64>> {
    (0..2)
        .map(|j| {
            (0..1usize << n)
                .map(|t| (((t * 2654435761 + j * 97) % 1000) as f64 / 100.0).sin() * 3.0)
                .collect()
        })
        .collect()
}

fn main() {
    let ns: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let ns = if ns.is_empty() {
        vec![10, 12, 14, 16]
    } else {
        ns
    };
    println!("| n | butterfly, 20000 iterations (s) | dense, per iteration (ms) | dense, 20000 iterations (s, extrapolated) | ratio |");
    println!("|---|---|---|---|---|");
    for n in ns {
        let vals = pair(n);
        let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
        let opts = DecompositionOptions {
            sgd_generalizable: Optimizer::generalizable().with_lr(1e-7),
            ..DecompositionOptions::sgd(20000)
        };
        let start = Instant::now();
        let d = decompose_generalizable(&refs, &opts).unwrap();
        let fast = start.elapsed().as_secs_f64();
        assert!(d.final_loss.is_finite());
        if n <= 12 {
            let dn = dense::Dense::new(n);
            let len = 1usize << n;
            let span = |v: &Vec<f64>| (v[len - 1] - v[0]).abs();
            let eb: Vec<f64> = vals.iter().map(|v| 0.02 * span(v)).collect();
            let gb: Vec<f64> = vals.iter().map(|v| 0.5 * span(v)).collect();
            let iters = if n <= 10 { 200 } else { 10 };
            let start = Instant::now();
            dn.optimise(&vals, 0.1, &eb, Some(&gb), |_| 1e-7, iters, 0.9);
            let per = start.elapsed().as_secs_f64() / iters as f64;
            println!(
                "| {n} | {fast:.3} | {:.2} | {:.0} | {:.0}× |",
                per * 1e3,
                per * 20000.0,
                per * 20000.0 / fast
            );
        } else {
            println!(
                "| {n} | {fast:.3} | — (matrices of {} GiB) | — | — |",
                ((1u64 << (2 * n)) * 8 * 2) >> 30
            );
        }
    }
}
