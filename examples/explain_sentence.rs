//! Explain one sentence with two classifiers: generalizable vs traditional interactions.
//!
//! cargo run --release --example explain_sentence -- "A gorgeous, witty, seductive movie." \
//!     [--n 10] [--head-l6 FILE] [--head-l3 FILE] [--cache DIR]
//!
//! Without head files the MiniLMs get fresh seeded heads (the pipeline runs, the explanations
//! mean little); pass the fine-tuned overlays for real ones.

use std::path::PathBuf;

use candle_core::Device;
use interprim::api::{compare_observed, fresh_head, Agreement, ExtractOptions, TextClassifier};
use interprim::models::assets;
use interprim::models::checkpoint::{HeadSource, ModelFiles};
use interprim::progress::Event;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn show(title: &str, a: &Agreement, k: usize) {
    println!("== {title} ==");
    for s in &a.split {
        println!("{}: {} of its top {k} shared", s.model, s.shared.len());
        for it in s.shared.iter().take(8) {
            println!(
                "   shared      {} {:<32} {:+.3}",
                it.kind.name(),
                it.label,
                it.effect
            );
        }
        for it in s.distinctive.iter().take(4) {
            println!(
                "   distinctive {} {:<32} {:+.3}",
                it.kind.name(),
                it.label,
                it.effect
            );
        }
    }
    let g = &a.generalization;
    println!("k      {:?}", g.k);
    println!("s_and  {:.2?}", g.s_and);
    println!("s_or   {:.2?}\n", g.s_or);
}

fn main() -> interprim::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sentence = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "A gorgeous, witty and seductive movie that never loses its sense of humour, its warmth or its nerve.".into());
    let head = |flag: &str| {
        arg(&args, flag)
            .map(|p| HeadSource::FineTuned(p.into()))
            .unwrap_or_else(fresh_head)
    };
    let l6 = TextClassifier::load_with(
        "MiniLM-L6",
        ModelFiles::in_dir(&assets::minilm_l6_dir()),
        head("--head-l6"),
        &Device::Cpu,
    )?;
    let l3 = TextClassifier::load_with(
        "MiniLM-L3",
        ModelFiles::in_dir(&assets::minilm_l3_dir()),
        head("--head-l3"),
        &Device::Cpu,
    )?;
    let mut opts = ExtractOptions {
        cache_dir: arg(&args, "--cache").map(PathBuf::from),
        ..Default::default()
    };
    if let Some(n) = arg(&args, "--n") {
        opts.n_players = n
            .parse()
            .map_err(|_| interprim::Error::Invalid(format!("--n {n} is not a number")))?;
    }
    let mut last = String::new();
    let mut progress = |e: &Event<'_>| {
        let line = match *e {
            Event::Values { game, done, total } => {
                format!("{game}: {done}/{total} masked sentences")
            }
            Event::Solver {
                what,
                iteration,
                max_iterations,
                loss,
                ..
            } => {
                format!(
                    "{what}: iteration {}/{max_iterations}, loss {loss:.4}",
                    iteration + 1
                )
            }
            _ => return,
        };
        if line.split(':').next() != last.split(':').next()
            || line.contains("/1024 ")
            || line.ends_with("sentences")
        {
            eprint!("\r{line:<70}");
        }
        last = line;
    };
    let r = compare_observed(&[&l6, &l3], &sentence, &opts, Some(&mut progress))?;
    eprintln!();
    let g = &r.generalizable;
    println!(
        "{sentence}\nplayers: {:?}",
        g.players
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
    );
    for m in &g.models {
        let v = &m.values;
        println!(
            "{}: target {} ({}), log-odds {:+.3} (all players masked {:+.3}), {} masked sentences in {:.2} s{}",
            m.model,
            v.target,
            v.label_name.as_deref().unwrap_or("-"),
            v.values.raw_full,
            v.values.raw_empty,
            v.v().len(),
            v.values.seconds,
            if v.values.from_cache { " (cache)" } else { "" }
        );
    }
    println!();
    show("generalizable", &g.agreement, opts.top_k);
    show("traditional", &r.traditional_agreement, opts.top_k);
    println!(
        "loss: generalizable {:.3} -> {:.3}; traditional {}",
        g.decomposition.initial_loss,
        g.decomposition.final_loss,
        r.traditional
            .iter()
            .map(|t| format!(
                "{:.3} -> {:.3}",
                t.decomposition.initial_loss, t.decomposition.final_loss
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
