//! Sharing against chance and nulls on synthetic games (n = 8): how much of the top-k sharing is
//! above what each extraction produces on unrelated inputs.
//!
//! cargo run --release --example sharing_null
//!
//! Two families of pairs of value functions, each built from a few AND/OR primitives
//! (`interprim::metrics::sharing::synthetic`): "unrelated" (independent primitives) and "shared" (the same
//! primitives, independent noise). For each family and each extraction (generalizable with the
//! reference SGD, traditional with the reference SGD), prints per k: observed s, the permutation
//! null (mean ± sd over R relabellings), the excess s − null, the same for signed sharing, chance,
//! and for the shared family also the cross-sample null (model 1 of pair i with model 2 of pair
//! σ(i)). Then what sharing costs each model (salient count, ‖I‖₁, matching error of the top 50).
//!
//! Environment: PAIRS (8), PRIMS (12 primitives per game), NOISE (0.02), R (8), SEED (0),
//! NITER (5000), LR_GEN (1e-6), LR_TRAD (1e-5): learning rates per unit of value range
//! (multiplied by max_T |v(x_T) − v(x_∅)| of the models extracted together).

use interprim::decomposition::DecompositionOptions;
use interprim::metrics;
use interprim::metrics::sharing::{self, synthetic, Extractor, NullCurve, SharingCurve};
use interprim::{Interactions, Result};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// One block per kind: observed s and chance, each null (mean ± sd) with the excess s − null,
/// then signed s with its excess over each null.
fn print_table(title: &str, obs: &SharingCurve, nulls: &[(&str, &NullCurve)]) -> Result<()> {
    println!("  {title}");
    print!("    {:>4}", "k");
    for kind in ["and", "or"] {
        print!(" | {:>5} {:>6}", format!("s_{kind}"), "chance");
        for (name, _) in nulls {
            print!(" {:>13} {:>7}", format!("{name}_null"), "excess");
        }
        print!(" {:>6}", "signed");
        for (name, _) in nulls {
            print!(" {:>7}", format!("Δ{name}"));
        }
    }
    println!();
    for i in 0..obs.k.len() {
        print!("    {:>4}", obs.k[i]);
        for kind in ["and", "or"] {
            let (s, signed, chance) = if kind == "and" {
                (&obs.s_and, &obs.s_and_signed, &obs.chance_and)
            } else {
                (&obs.s_or, &obs.s_or_signed, &obs.chance_or)
            };
            print!(" | {:>5.3} {:>6.3}", s[i], chance[i]);
            for (_, null) in nulls {
                let (m, sd) = if kind == "and" {
                    (null.s_and_mean[i], null.s_and_sd[i])
                } else {
                    (null.s_or_mean[i], null.s_or_sd[i])
                };
                print!(" {:>6.3}±{:<6.3} {:>+7.3}", m, sd, s[i] - m);
            }
            print!(" {:>6.3}", signed[i]);
            for (_, null) in nulls {
                let m = if kind == "and" {
                    null.s_and_signed_mean[i]
                } else {
                    null.s_or_signed_mean[i]
                };
                print!(" {:>+7.3}", signed[i] - m);
            }
        }
        println!();
    }
    for (name, null) in nulls {
        let e = sharing::excess(obs, null)?;
        let (a, o) = e.mean();
        println!(
            "    mean over k, excess over the {name} null: s_and {a:+.3}, s_or {o:+.3}; signed \
             s_and {:+.3}, s_or {:+.3}",
            mean(&e.s_and_signed),
            mean(&e.s_or_signed)
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let n = 8;
    let (pairs, prims, noise, r, seed) = (
        env("PAIRS", 8u64),
        env("PRIMS", 12usize),
        env("NOISE", 0.02f64),
        env("R", sharing::DEFAULT_REPLICATES),
        env("SEED", 0u64),
    );
    let niter = env("NITER", 5000usize);
    let mut opts = DecompositionOptions::sgd(niter);
    opts.sgd_generalizable.lr_per_unit_range = env("LR_GEN", 1e-6);
    opts.sgd_traditional.lr_per_unit_range = env("LR_TRAD", 1e-5);
    println!(
        "n = {n}, {pairs} pairs per family, {prims} primitives per game (orders 1-4, |effect| in \
         [0.5, 1.5]), noise {noise}, R = {r}, seed {seed}"
    );
    println!(
        "generalizable: α {}, lr {:e}·range constant, {niter} steps; traditional: lr {:e}·range → \
         /10 geometric, {niter} steps",
        opts.alpha,
        opts.sgd_generalizable.lr_per_unit_range,
        opts.sgd_traditional.lr_per_unit_range
    );
    let ks = metrics::k_grid(n, &metrics::paper_t_grid());
    let gen = sharing::generalizable_extractor(opts.clone());
    let trad = sharing::traditional_extractor(opts);
    let start = std::time::Instant::now();
    for family in ["unrelated", "shared"] {
        let games: Vec<[Vec<f64>; 2]> = (0..pairs)
            .map(|s| match family {
                "unrelated" => synthetic::unrelated_pair(n, prims, noise, seed * 1000 + s),
                _ => synthetic::shared_pair(n, prims, noise, seed * 1000 + s),
            })
            .collect();
        let values: Vec<Vec<&[f64]>> = games
            .iter()
            .map(|g| vec![g[0].as_slice(), g[1].as_slice()])
            .collect();
        println!("\n== {family} pairs");
        let mut extracted: Vec<(&str, Vec<Vec<Interactions>>)> = Vec::new();
        for (name, ext) in [
            ("generalizable", &gen as Extractor),
            ("traditional", &trad as Extractor),
        ] {
            let sets: Vec<Vec<Interactions>> =
                values.iter().map(|v| ext(v)).collect::<Result<_>>()?;
            let refs: Vec<Vec<&Interactions>> = sets.iter().map(|s| s.iter().collect()).collect();
            let observed = sharing::sharing_curve(&refs, &ks)?;
            // traditional extraction commutes with relabelling: no new extraction needed
            let perm = if name == "traditional" {
                sharing::permutation_null_interactions(&refs, &ks, r, seed)?
            } else {
                sharing::permutation_null(&values, ext, &ks, r, seed)?
            };
            let mut nulls = vec![("perm", &perm)];
            let cross;
            if family == "shared" {
                cross = if name == "traditional" {
                    sharing::cross_sample_null_interactions(&refs, &ks, r, seed)?
                } else {
                    sharing::cross_sample_null(&values, ext, &ks, r, seed)?
                };
                nulls.push(("cross", &cross));
            }
            print_table(name, &observed, &nulls)?;
            let counts: Vec<sharing::SharedCounts> = refs
                .iter()
                .map(|m| sharing::shared_counts(m, sharing::DEFAULT_TOP))
                .collect::<Result<_>>()?;
            println!(
                "    shared among the top {}: {:.1} (signed {:.1}, chance {:.1}) per pair",
                sharing::DEFAULT_TOP,
                mean(&counts.iter().map(|c| c.shared as f64).collect::<Vec<_>>()),
                mean(
                    &counts
                        .iter()
                        .map(|c| c.shared_signed as f64)
                        .collect::<Vec<_>>()
                ),
                mean(&counts.iter().map(|c| c.chance).collect::<Vec<_>>()),
            );
            extracted.push((name, sets));
        }
        let (g, t) = (&extracted[0].1, &extracted[1].1);
        let mut rows = Vec::new();
        for (p, v) in values.iter().enumerate() {
            for i in 0..2 {
                rows.push(sharing::sharing_cost(
                    v[i],
                    &g[p][i],
                    &t[p][i],
                    sharing::DEFAULT_TOP,
                )?);
            }
        }
        let col = |f: &dyn Fn(&sharing::SharingCost) -> f64| {
            mean(&rows.iter().map(f).collect::<Vec<_>>())
        };
        println!(
            "  cost per model (mean of {}): salient gen {:.1} vs trad {:.1}; ‖I‖₁ gen {:.2} vs \
             trad {:.2}; top-{} matching error (mean |Δv|) gen {:.4} vs trad {:.4}",
            rows.len(),
            col(&|c| c.generalizable.salient as f64),
            col(&|c| c.traditional.salient as f64),
            col(&|c| c.generalizable.l1),
            col(&|c| c.traditional.l1),
            sharing::DEFAULT_TOP,
            col(&|c| c.generalizable.matching.mean_abs),
            col(&|c| c.traditional.matching.mean_abs),
        );
    }
    println!("\n{:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
