//! Learning-rate sweep of both extractions on real value vectors (how the defaults of
//! `interprim::api` were chosen).
//!
//! cargo run --release --example lr_sweep
//!
//! Environment: HEAD_L6, HEAD_L3 = fine-tuned head files (default: fresh heads); K = sentences
//! (default 6); N = players (10); NITER (20000); LRS = comma-separated lrs per unit of the value
//! range (the library's learning-rate rule); GDECAY = final factor of a geometric schedule for
//! the generalizable extraction (default constant); CACHE = value cache (default .cache/values).
//! Prints, per lr, the mean final/initial and best/initial loss and, for the generalizable
//! extraction, s_and and s_or at k = 2^n/10.

use std::path::PathBuf;

use candle_core::Device;
use interprim::api::{fresh_head, sentence_values, ExtractOptions, TextClassifier};
use interprim::decomposition::{
    decompose_generalizable, decompose_traditional, value_range, Decomposition,
    DecompositionOptions, LrSchedule,
};
use interprim::game::ValueCache;
use interprim::models::assets;
use interprim::models::checkpoint::{HeadSource, ModelFiles};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn ratios(d: &Decomposition) -> (f64, f64) {
    let best = d
        .solver
        .trajectory
        .iter()
        .map(|p| p.loss)
        .fold(f64::MAX, f64::min);
    (d.final_loss / d.initial_loss, best / d.initial_loss)
}

fn main() -> interprim::Result<()> {
    let load = |name: &str, dir: PathBuf, var: &str| {
        let head = std::env::var(var)
            .map(|p| HeadSource::FineTuned(p.into()))
            .unwrap_or_else(|_| fresh_head());
        TextClassifier::load_with(name, ModelFiles::in_dir(&dir), head, &Device::Cpu)
    };
    let models = [
        load("MiniLM-L6", assets::minilm_l6_dir(), "HEAD_L6")?,
        load("MiniLM-L3", assets::minilm_l3_dir(), "HEAD_L3")?,
    ];
    let refs: Vec<&TextClassifier> = models.iter().collect();
    let (k, n, niter) = (
        env("K", 6usize),
        env("N", 10usize),
        env("NITER", 20000usize),
    );
    let opts = ExtractOptions {
        n_players: n,
        cache_dir: Some(
            std::env::var("CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|_| ValueCache::default_dir()),
        ),
        ..Default::default()
    };
    let lrs: Vec<f64> = std::env::var("LRS")
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|_| vec![1e-8, 3e-8, 1e-7, 3e-7, 1e-6, 3e-6]);
    let schedule = match std::env::var("GDECAY").ok().and_then(|f| f.parse().ok()) {
        Some(final_factor) => LrSchedule::Geometric { final_factor },
        None => LrSchedule::Constant,
    };
    let text = std::fs::read_to_string(
        assets::sentences_dir().join("movieReviewSnippets_GroundTruth.txt"),
    )
    .map_err(|e| interprim::Error::io(assets::sentences_dir(), e))?;
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .map(str::trim)
        .collect();
    let mut samples = Vec::new();
    // spread over the file (it is sorted: positive reviews first)
    for i in 0..lines.len() {
        let s = lines[(i * 7919) % lines.len()];
        if s.split_whitespace().count() > 25 {
            continue;
        }
        if let Ok(v) = sentence_values(&refs, s, &opts) {
            let ranges: Vec<f64> = v.models.iter().map(|m| value_range(m.v())).collect();
            println!("{s:?}: value range {ranges:.3?}");
            samples.push(v);
        }
        if samples.len() == k {
            break;
        }
    }
    for &lr in &lrs {
        let (mut fin, mut best, mut count) = (0.0, 0.0, 0.0);
        for s in &samples {
            for m in &s.models {
                let mut o = DecompositionOptions::sgd(niter);
                o.sgd_traditional.lr_per_unit_range = lr;
                o.sgd_traditional.record_every = 100;
                let (f, b) = ratios(&decompose_traditional(m.v(), &o)?);
                (fin, best, count) = (fin + f, best + b, count + 1.0);
            }
        }
        println!(
            "traditional lr/unit {lr:e}: final/initial {:.3} best/initial {:.3}",
            fin / count,
            best / count
        );
    }
    let top = (1usize << n) / 10;
    for &lr in &lrs {
        let (mut fin, mut best, mut sa, mut so, mut count) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for s in &samples {
            let vs: Vec<&[f64]> = s.models.iter().map(|m| m.v()).collect();
            let mut o = DecompositionOptions::sgd(niter);
            o.sgd_generalizable.lr_per_unit_range = lr;
            o.sgd_generalizable.record_every = 100;
            o.sgd_generalizable.schedule = schedule;
            let d = decompose_generalizable(&vs, &o)?;
            let (f, b) = ratios(&d);
            let r = d.reorganised();
            let (a, or) =
                interprim::metrics::generalization_power_topk(&r.iter().collect::<Vec<_>>(), top)?;
            (fin, best, sa, so, count) = (fin + f, best + b, sa + a, so + or, count + 1.0);
        }
        println!(
            "generalizable lr/unit {lr:e}: final/initial {:.3} best/initial {:.3} s_and@{top} {:.3} s_or@{top} {:.3}",
            fin / count,
            best / count,
            sa / count,
            so / count
        );
    }
    Ok(())
}
