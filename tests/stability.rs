//! `outputs_stable_under_perturbation`: what the notebooks print does not hinge on float rounding.
//!
//! Two machines of the same kind can compute the masked values v(x_T) with float-level
//! differences (candle's path differed by 2.6e-6 relative between batch sizes 1 and 256 in the
//! classifiers' logits, and by up to 1.1e-5 relative in SmolLM2's log-odds between batch sizes 1
//! and 64; interprim's CPU paths now give the same bits for any batch size). For each replication run the
//! notebooks show (sentiment 02-05, next word 07, digits 08; the same runs, reused when the
//! notebooks ran first), this test multiplies every value by (1 + 1e-5·u), u uniform in [−1, 1]
//! and seeded, runs the extractions, the nulls and the summary again on the perturbed values with
//! the run's own settings, and renders every table and figure summary the notebooks print from
//! both studies. Each line must agree under the notebook regression test's own comparator
//! (tests/common/compare.rs: relative tolerance 1e-4, or one unit of the last printed digit for
//! decimals; integers and text exactly). The largest relative change of any printed number is
//! printed, for environment.md.
//!
//! Notebook 01's sentence goes through the same extraction as these runs; notebook 06 works on
//! exact hand-written values, which no model computes.

mod common;

use common::compare::{line_mismatch, tokens, Tok, DEFAULT_RTOL};
use interprim::prelude::*;
use interprim::run::spread::perturb_samples;
use interprim::run::study::Study;
use interprim::run::Run;
use interprim::tasks::study_from_values;

/// Relative size of the perturbation (above the measured float-level differences).
const PERTURBATION: f64 = 1e-5;

/// Every text the notebooks print from a study, labelled.
fn texts(study: &Study) -> Vec<(String, String)> {
    let mut out = vec![
        ("report".to_string(), study.report().to_text()),
        ("samples table".into(), study.samples_table().to_text()),
        ("comparison".into(), study.comparison_table(false).to_text()),
    ];
    let [and, or] = study.generalization_figures();
    out.push(("Fig. 3 AND".into(), and.summary()));
    out.push(("Fig. 3 OR".into(), or.summary()));
    for method in ["generalizable", "traditional"] {
        out.push((
            format!("sharing table {method}"),
            study.sharing_table(method).unwrap().to_text(),
        ));
        out.push((
            format!("matching table {method}"),
            study.matching_table(method).unwrap().to_text(),
        ));
        out.push((
            format!("shared view {method}"),
            study.shared_view(0, method, 50).unwrap().report().to_text(),
        ));
        for model in 0..study.models().len() {
            out.push((
                format!("orders {method} {model}"),
                study.order_figure(method, model).unwrap().summary(),
            ));
            out.push((
                format!("matching figure {method} {model}"),
                study.matching_figure(0, method, model).unwrap().summary(),
            ));
        }
    }
    for model in 0..study.models().len() {
        out.push((
            format!("sparsity {model}"),
            study.sparsity_figure(model).unwrap().summary(),
        ));
    }
    out.push((
        "shared counts".into(),
        study.shared_counts(50).unwrap().to_text(),
    ));
    out
}

/// The study again, from every value multiplied by (1 + PERTURBATION·u), into a temporary run
/// directory with the same settings.
fn perturbed(study: &Study, seed: u64, dir: &std::path::Path) -> Study {
    let samples = perturb_samples(&study.sample_values(), PERTURBATION, seed).unwrap();
    let run = Run::new(dir, study.settings.clone());
    study_from_values(
        &run,
        &samples,
        study.summary.accuracy.clone(),
        study.paper.clone(),
        "samples",
        &mut None,
    )
    .unwrap()
}

/// Compare the two studies' texts line by line; returns the mismatches, how many each printed
/// output contributes (most first) and the largest relative change of any number.
fn compare(name: &str, a: &Study, b: &Study) -> (Vec<String>, Vec<(String, usize)>, f64) {
    let (ta, tb) = (texts(a), texts(b));
    let mut problems = Vec::new();
    let mut per_output: Vec<(String, usize)> = Vec::new();
    let mut largest: f64 = 0.0;
    for ((label, x), (_, y)) in ta.iter().zip(&tb) {
        let before = problems.len();
        let (xl, yl): (Vec<&str>, Vec<&str>) = (x.lines().collect(), y.lines().collect());
        if xl.len() != yl.len() {
            problems.push(format!(
                "{name} {label}: {} lines vs {} perturbed",
                xl.len(),
                yl.len()
            ));
        } else {
            for (l1, l2) in xl.iter().zip(&yl) {
                if let Some(why) = line_mismatch(l1, l2, DEFAULT_RTOL) {
                    problems.push(format!(
                        "{name} {label}: {why}\n    unperturbed: {l1}\n    perturbed:   {l2}"
                    ));
                }
                for (p, q) in tokens(l1).iter().zip(&tokens(l2)) {
                    if let (Tok::Num(p, _), Tok::Num(q, _)) = (p, q) {
                        let scale = p.abs().max(q.abs());
                        if scale > 1e-9 {
                            largest = largest.max((p - q).abs() / scale);
                        }
                    }
                }
            }
        }
        if problems.len() > before {
            per_output.push((label.clone(), problems.len() - before));
        }
    }
    per_output.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    (problems, per_output, largest)
}

/// The perturbed study's mismatching lines (empty when stable); prints the measured sensitivity.
fn check(name: &str, study: &Study) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let other = perturbed(study, 7, dir.path());
    let (problems, per_output, largest) = compare(name, study, &other);
    let per_output: Vec<String> = per_output
        .iter()
        .map(|(label, count)| format!("{label} {count}"))
        .collect();
    eprintln!(
        "{name}: {} samples; largest relative change of a printed number under {PERTURBATION:e} relative noise on the values: {largest:.2e}; {} lines differ beyond the notebook tolerance{}{}",
        study.results.len(),
        problems.len(),
        if per_output.is_empty() { "" } else { "; by output: " },
        per_output.join(", ")
    );
    problems
}

/// Fails today, so it does not run by default (`cargo test --test stability -- --ignored`):
/// measured with the optimal solver and sharing's zero tolerance, 1e-5 relative noise on the values
/// changes 233 printed lines of the sentiment run (3 sentences), 135 of the digits run
/// (10 images) and 216 of the next-word run (2 prompts) beyond the notebook tolerance (measured
/// 2026-12-01; among them the Harsanyi dividends' Fig. 3 numbers, which no solver touches), the largest
/// relative change being 2 (signs of excess values near 0). The top-k sharing numbers, their nulls and excess move with float-level changes
/// of the values even at the certified optimum: near-ties in |I(S)| at the k boundary and optima
/// that are not unique (a perturbation moves the solution along a face). The notebook regression
/// test therefore pins the networks' outputs (tests/notebooks.rs); what a reader sees when
/// recomputing them on another machine is what this test measures, and what
/// `Study::perturbation_spread` (notebook 03, `interprim replicate … --spread R`) reports beside
/// each headline number.
#[test]
#[ignore = "known failure: top-k sharing is not stable under 1e-5 relative noise on the values (233 lines of the sentiment run, 135 of the digits run, 216 of the next-word run move); see its doc"]
fn outputs_stable_under_perturbation() {
    let mut problems = Vec::new();
    if common::sentiment_assets("outputs_stable_under_perturbation") {
        let args = SentimentArgs::for_notebooks(notebook_samples(3));
        let study = replicate_sentiment(&args, None).unwrap();
        problems.extend(check("sentiment (notebooks 02-05)", &study));
    }
    if common::digits_assets("outputs_stable_under_perturbation") {
        let args = DigitsArgs::for_notebooks(notebook_samples(10));
        let study = replicate_digits(&args, None).unwrap();
        problems.extend(check("digits (notebook 08)", &study));
    }
    if common::lm_assets("outputs_stable_under_perturbation") {
        use interprim::tasks::next_word::{notebook_prompts, NextWordArgs};
        let args = NextWordArgs::for_notebooks(notebook_prompts(2));
        let study = replicate_next_word(&args, None).unwrap();
        problems.extend(check("next word (notebook 07)", &study));
    }
    assert!(
        problems.is_empty(),
        "printed outputs change under {PERTURBATION:e} relative noise on the values ({} lines):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
