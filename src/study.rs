//! A replication run held in memory ([`Study`]): its per-sample results and summary, and the
//! paper's figures and tables built from them — what the notebooks show. Produced by
//! [`crate::sentiment::replicate_sentiment`]; everything expensive (the networks, the extractions)
//! is on disk in the run's directory and in the value cache, so building a `Study` a second time
//! costs seconds.

use std::path::{Path, PathBuf};

use crate::display::{sig, Figure, InteractionsView, MimeBundle, Report, Table};
use crate::interactions::Interactions;
use crate::metrics::{self, GeneralizationCurve, SalientCount, SALIENCE_RATIO};
use crate::replication::{
    comparison_rows, PaperNumbers, Run, RunSettings, SampleResult, SampleValues, Summary, METHODS,
};
use crate::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};

/// `${INTERPRIM_CACHE:-<repo>/.cache}`: the root of every cache of this checkout (assets, values,
/// the evcxr build, notebook runs).
pub fn cache_root() -> PathBuf {
    match std::env::var_os("INTERPRIM_CACHE") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache"),
    }
}

/// Where the notebooks keep their runs: `<cache root>/notebooks`.
pub fn notebook_dir() -> PathBuf {
    cache_root().join("notebooks")
}

/// How many samples the replication notebooks use: `INTERPRIM_NOTEBOOK_SAMPLES` if set (e.g. 200
/// for the paper's full run), else `default`.
pub fn notebook_samples(default: usize) -> usize {
    std::env::var("INTERPRIM_NOTEBOOK_SAMPLES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// How long work reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Progress {
    /// Terminal progress bars (the CLI); drawn only when stderr is a terminal.
    #[default]
    Bars,
    /// Plain lines on stderr, one per step (notebooks, logs).
    Lines,
    /// Nothing.
    Quiet,
}

impl Progress {
    /// Print a progress line (only for [`Progress::Lines`]).
    pub fn line(self, text: &str) {
        if self == Progress::Lines {
            eprintln!("{text}");
        }
    }

    /// A progress bar of `len` steps drawn with `template` ([`Progress::Bars`]; hidden otherwise).
    pub fn bar(self, len: u64, template: &str) -> ProgressBar {
        let bar = if self == Progress::Bars {
            ProgressBar::new(len)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(bar_style(template));
        bar
    }
}

/// The style of every progress bar of the replications.
pub fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("static template")
        .progress_chars("=> ")
}

/// Phase 2 of a replication, shared by every task: each sample's extractions (or its saved
/// result, when an interrupted run is resumed), with a bar or one line per sample; `unit` names
/// the samples in the bar ("sentences", "images", "prompts").
pub fn extract_samples(
    run: &Run,
    samples: &[SampleValues],
    gamma_bounds: &[f64],
    unit: &str,
    progress: Progress,
) -> Result<Vec<SampleResult>> {
    let bar = progress.bar(
        samples.len() as u64,
        &format!("extract  [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}} ({{elapsed}}, ETA {{eta}})"),
    );
    let mut results: Vec<SampleResult> = Vec::with_capacity(samples.len());
    let mut reused = 0;
    for s in samples {
        let (r, was_saved) = run.process(s, gamma_bounds)?;
        reused += was_saved as usize;
        progress.line(&format!(
            "extract {}/{} {}: {}",
            results.len() + 1,
            samples.len(),
            s.id,
            if was_saved {
                "reused the saved result".to_string()
            } else {
                format!(
                    "generalizable {:.2} s, traditional {:.2} s",
                    r.seconds.generalizable, r.seconds.traditional
                )
            }
        ));
        if reused > 0 {
            bar.set_message(format!("({reused} resumed)"));
        }
        results.push(r);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(results)
}

/// A replication run over several samples: settings, per-sample results, summary.
#[derive(Clone, Debug)]
pub struct Study {
    /// The run's directory (samples/, summary.json, figures.html, comparison.md).
    pub out: PathBuf,
    pub settings: RunSettings,
    pub summary: Summary,
    pub results: Vec<SampleResult>,
    /// τ_γ per model over all samples.
    pub gamma_bounds: Vec<f64>,
    /// The paper's numbers for this task.
    pub paper: PaperNumbers,
}

/// The generalizable extraction repeated with another α (Fig. 8).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AlphaRun {
    pub alpha: f64,
    pub curve: GeneralizationCurve,
    /// Per model: pooled strengths, sorted decreasingly (Fig. 2's curve).
    pub strengths: Vec<Vec<f64>>,
    /// Per model: count above 0.05·max of the pool.
    pub salient: Vec<SalientCount>,
}

/// A Fig. 3 style figure over α: one curve per α.
fn alpha_curves(runs: &[AlphaRun], kind_or: bool) -> Figure {
    let named: Vec<(String, &GeneralizationCurve)> = runs
        .iter()
        .map(|r| (format!("α = {}", r.alpha), &r.curve))
        .collect();
    let refs: Vec<(&str, &GeneralizationCurve)> =
        named.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let what = if kind_or { "s_or" } else { "s_and" };
    Figure::generalization(
        &format!("Fig. 8: {what} of the generalizable extraction for several α"),
        kind_or,
        &refs,
    )
}

impl Study {
    pub fn models(&self) -> &[String] {
        &self.settings.models
    }

    /// Number of players per sample.
    pub fn n(&self) -> usize {
        self.results
            .first()
            .map_or(0, |r| r.values[0].len().trailing_zeros() as usize)
    }

    fn check_model(&self, model: usize) -> Result<()> {
        if model >= self.models().len() {
            return Err(Error::WrongModelCount(format!(
                "model index {model} is out of range: the run has {} models",
                self.models().len()
            )));
        }
        Ok(())
    }

    fn sample(&self, sample: usize) -> Result<&SampleResult> {
        self.results.get(sample).ok_or_else(|| {
            Error::Invalid(format!(
                "sample index {sample} is out of range: the run has {} samples",
                self.results.len()
            ))
        })
    }

    fn check_method(method: &str) -> Result<()> {
        if METHODS.contains(&method) {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "unknown method {method:?}: one of {}",
                METHODS.join(", ")
            )))
        }
    }

    /// Fig. 2 for one model: the strengths of all AND and OR interactions of all samples, sorted
    /// decreasingly on a log axis, for the generalizable, traditional and Harsanyi interactions.
    pub fn sparsity_figure(&self, model: usize) -> Result<Figure> {
        self.check_model(model)?;
        let curves: Vec<(&str, Vec<f64>)> = METHODS
            .iter()
            .map(|m| {
                (
                    *m,
                    metrics::strength_curve(self.results.iter().map(|r| &r.method(m)[model])),
                )
            })
            .collect();
        let series: Vec<(&str, &[f64])> = curves.iter().map(|(n, c)| (*n, c.as_slice())).collect();
        Ok(Figure::sparsity(
            &format!(
                "Fig. 2: sparsity, {} ({} samples)",
                self.models()[model],
                self.results.len()
            ),
            &series,
        ))
    }

    fn curve(&self, method: &str) -> GeneralizationCurve {
        let s = match method {
            "generalizable" => &self.summary.generalizable,
            "traditional" => &self.summary.traditional,
            _ => &self.summary.harsanyi,
        };
        GeneralizationCurve {
            k: self.summary.k.clone(),
            s_and: s.s_and.clone(),
            s_or: s.s_or.clone(),
        }
    }

    /// Fig. 3: s_and (Harsanyi included) and s_or against k, generalizable vs traditional.
    pub fn generalization_figures(&self) -> [Figure; 2] {
        let (g, t, h) = (
            self.curve("generalizable"),
            self.curve("traditional"),
            self.curve("harsanyi"),
        );
        let samples = self.results.len();
        [
            Figure::generalization(
                &format!("Fig. 3: generalization power of AND interactions ({samples} samples)"),
                false,
                &[("generalizable", &g), ("traditional", &t), ("harsanyi", &h)],
            ),
            Figure::generalization(
                &format!("Fig. 3: generalization power of OR interactions ({samples} samples)"),
                true,
                &[("generalizable", &g), ("traditional", &t)],
            ),
        ]
    }

    /// Fig. 4 for one method ("generalizable" or "traditional") and model: per order, the sums
    /// of the positive and negative parts of salient interactions, all and shared (mean over
    /// samples).
    pub fn order_figure(&self, method: &str, model: usize) -> Result<Figure> {
        Self::check_method(method)?;
        self.check_model(model)?;
        let s = match method {
            "generalizable" => &self.summary.generalizable,
            "traditional" => &self.summary.traditional,
            _ => &self.summary.harsanyi,
        };
        Ok(Figure::orders(
            &format!("Fig. 4: {method}, {}", self.models()[model]),
            &s.orders[model],
        ))
    }

    /// Figs. 6/13: one sample, one model: v(x_T) of all masked samples, sorted, and the
    /// reconstruction from the salient interactions (|I| > 0.05·max) of `method`.
    pub fn matching_figure(&self, sample: usize, method: &str, model: usize) -> Result<Figure> {
        Self::check_method(method)?;
        self.check_model(model)?;
        let r = self.sample(sample)?;
        let it = &r.method(method)[model];
        let tau = SALIENCE_RATIO * it.max_abs();
        let rec = it.reconstruct_from(|i| i.effect.abs() > tau);
        let count = it.iter().filter(|i| i.effect.abs() > tau).count();
        Ok(Figure::matching(
            &format!(
                "Fig. 6: universal matching, {method}, {}, sample {} ({count} salient interactions)",
                self.models()[model],
                r.id
            ),
            &r.values[model],
            &rec,
        )
        .with_note(format!("salient interactions: {count} of {}", 2 << it.n)))
    }

    /// The matching error of the salient interactions of every sample and model (Fig. 13 in
    /// numbers): relative error ‖v − v̂‖/‖v − v(∅)‖ and the salient count.
    pub fn matching_table(&self, method: &str) -> Result<Table> {
        Self::check_method(method)?;
        let mut header = vec!["sample".to_string()];
        for m in self.models() {
            header.push(format!("{m}: salient"));
            header.push(format!("{m}: relative error"));
        }
        let mut t = Table::new(&header);
        for r in &self.results {
            let mut row = vec![r.id.clone()];
            for (v, it) in r.values.iter().zip(r.method(method)) {
                let tau = SALIENCE_RATIO * it.max_abs();
                let rec = it.reconstruct_from(|i| i.effect.abs() > tau);
                let e = metrics::matching_error(v, &rec)?;
                row.push(
                    it.iter()
                        .filter(|i| i.effect.abs() > tau)
                        .count()
                        .to_string(),
                );
                row.push(format!("{:.4}", e.relative));
            }
            t.row(row);
        }
        Ok(t)
    }

    /// Fig. 5: the top-k interactions of every model on one sample, shared ones marked, with the
    /// sentence's players as names.
    pub fn shared_view(&self, sample: usize, method: &str, k: usize) -> Result<InteractionsView> {
        Self::check_method(method)?;
        let r = self.sample(sample)?;
        let models: Vec<(String, Interactions)> = self
            .models()
            .iter()
            .cloned()
            .zip(r.method(method).iter().cloned())
            .collect();
        Ok(InteractionsView::new(
            format!("Fig. 5: {method} interactions of sample {}, top {k}", r.id),
            models,
        )
        .names(&r.players)
        .note(format!("“{}”", r.text))
        .top(k))
    }

    /// How many of each model's top-k are shared by all models, per sample, for the
    /// generalizable and the traditional extraction (Fig. 5's count for every sample).
    pub fn shared_counts(&self, k: usize) -> Result<Table> {
        let mut t = Table::new(&["sample", "players", "generalizable", "traditional"]);
        let (mut sg, mut st) = (0.0, 0.0);
        for r in &self.results {
            let count = |method: &str| -> Result<usize> {
                let refs: Vec<&Interactions> = r.method(method).iter().collect();
                Ok(metrics::shared_and_distinctive(&refs, k)?[0].shared.len())
            };
            let (g, tr) = (count("generalizable")?, count("traditional")?);
            sg += g as f64;
            st += tr as f64;
            t.row(vec![
                r.id.clone(),
                r.players.join(" "),
                g.to_string(),
                tr.to_string(),
            ]);
        }
        let n = self.results.len().max(1) as f64;
        t.row(vec![
            "mean".into(),
            String::new(),
            format!("{:.2}", sg / n),
            format!("{:.2}", st / n),
        ]);
        Ok(t)
    }

    /// Our numbers next to the paper's (SPEC §5). `timing` adds the machine-dependent rows
    /// (seconds per sample).
    pub fn comparison_table(&self, timing: bool) -> Table {
        let mut t = Table::new(&["measure", "ours", "paper"]);
        for row in comparison_rows(&self.summary, &self.paper) {
            if !timing && row[0].starts_with("seconds") {
                continue;
            }
            t.row(row);
        }
        t
    }

    /// The samples: id, players, the text and each model's v(x_N) − v(x_∅).
    pub fn samples_table(&self) -> Table {
        let mut header = vec!["sample".to_string(), "sentence".to_string()];
        header.extend(
            self.models()
                .iter()
                .map(|m| format!("{m}: v(x_N) − v(x_∅)")),
        );
        let mut t = Table::new(&header);
        for r in &self.results {
            let mut row = vec![r.id.clone(), r.text.clone()];
            for v in &r.values {
                row.push(format!("{:.4}", v[v.len() - 1] - v[0]));
            }
            t.row(row);
        }
        t
    }

    /// Fig. 8: the generalizable extraction again with each α (everything else as in the run),
    /// on the cached values: no network is evaluated. Each α's per-sample results are saved under
    /// `<out>/alpha-<α>/` and reused when run again.
    pub fn alpha_ablation(&self, alphas: &[f64], progress: Progress) -> Result<Vec<AlphaRun>> {
        let samples: Vec<SampleValues> = self
            .results
            .iter()
            .map(|r| SampleValues {
                id: r.id.clone(),
                text: r.text.clone(),
                players: r.players.clone(),
                values: r.values.clone(),
                value_seconds: r.seconds.values,
            })
            .collect();
        let ks = self.summary.k.clone();
        let m = self.models().len();
        let mut out = Vec::with_capacity(alphas.len());
        for &alpha in alphas {
            if !(0.0..=1.0).contains(&alpha) {
                return Err(Error::InvalidSetting {
                    name: "alpha",
                    value: alpha.to_string(),
                    why: "α must be a weight in [0, 1]",
                });
            }
            let mut settings = self.settings.clone();
            settings.generalizable.alpha = alpha;
            let run = Run::new(&self.out.join(format!("alpha-{alpha}")), settings);
            let mut per: Vec<Vec<Interactions>> = Vec::with_capacity(samples.len());
            let mut reused = 0;
            for s in &samples {
                let (r, was) = run.process(s, &self.gamma_bounds)?;
                reused += was as usize;
                per.push(r.generalizable);
            }
            progress.line(&format!(
                "α = {alpha}: {} samples extracted ({reused} reused from {})",
                samples.len(),
                run.out.display()
            ));
            let refs: Vec<Vec<&Interactions>> = per.iter().map(|s| s.iter().collect()).collect();
            let curve = metrics::generalization_curve(&refs, &ks)?;
            let strengths: Vec<Vec<f64>> = (0..m)
                .map(|i| metrics::strength_curve(per.iter().map(|s| &s[i])))
                .collect();
            let salient = strengths
                .iter()
                .map(|s| metrics::salient_count_relative(s, SALIENCE_RATIO))
                .collect();
            out.push(AlphaRun {
                alpha,
                curve,
                strengths,
                salient,
            });
        }
        Ok(out)
    }

    /// Where this run's files are.
    pub fn dir(&self) -> &Path {
        &self.out
    }

    /// An overview: models, samples, the paper's claim, and our numbers next to the paper's
    /// (without timings, which depend on the machine).
    pub fn report(&self) -> Report {
        let s = &self.summary;
        Report::new(format!(
            "{}: {} samples, {}",
            s.task,
            s.samples,
            s.models.join(" vs ")
        ))
        .text(format!(
            "n = {} players per sample; k = {:?}; τ_γ per model: {}",
            self.n(),
            s.k,
            self.gamma_bounds
                .iter()
                .map(|b| sig(*b))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .text(format!(
            "generalizable s_and and s_or above traditional at every k: {}",
            if s.generalizable_beats_traditional {
                "yes"
            } else {
                "no"
            }
        ))
        .table(self.comparison_table(false))
    }

    pub fn mime_bundle(&self) -> MimeBundle {
        self.report().mime_bundle()
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.report().evcxr_display();
    }
}

/// Fig. 8 as figures: s_and and s_or against k, one curve per α, then for each model the
/// sparsity curves of every α.
pub fn alpha_figures(runs: &[AlphaRun], models: &[String]) -> Vec<Figure> {
    let mut figs = vec![alpha_curves(runs, false), alpha_curves(runs, true)];
    for (i, model) in models.iter().enumerate() {
        let named: Vec<(String, &[f64])> = runs
            .iter()
            .filter_map(|r| {
                r.strengths
                    .get(i)
                    .map(|s| (format!("α = {}", r.alpha), s.as_slice()))
            })
            .collect();
        let series: Vec<(&str, &[f64])> = named.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        figs.push(Figure::sparsity(
            &format!("Fig. 8: sparsity of the generalizable interactions of {model} by α"),
            &series,
        ));
    }
    figs
}

/// Fig. 8 in numbers: per α, s_and and s_or at the first and last k and each model's count above
/// 0.05·max.
pub fn alpha_table(runs: &[AlphaRun], models: &[String]) -> Table {
    let mut header: Vec<String> = [
        "α",
        "s_and first k",
        "s_and last k",
        "s_or first k",
        "s_or last k",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(models.iter().map(|m| format!("{m}: above 0.05·max")));
    let mut t = Table::new(&header);
    let f = |v: Option<&f64>| v.map_or("—".to_string(), |x| format!("{x:.3}"));
    for r in runs {
        let mut row = vec![
            r.alpha.to_string(),
            f(r.curve.s_and.first()),
            f(r.curve.s_and.last()),
            f(r.curve.s_or.first()),
            f(r.curve.s_or.last()),
        ];
        row.extend(
            r.salient
                .iter()
                .map(|c| format!("{} / {}", c.count, c.total)),
        );
        t.row(row);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomposition::{GeneralizableOptions, Optimizer, TraditionalOptions};
    use crate::replication::paper_sentiment;
    use std::collections::BTreeMap;

    fn study(dir: &Path) -> Study {
        let settings = RunSettings {
            task: "demo".into(),
            models: vec!["A".into(), "B".into()],
            generalizable: GeneralizableOptions {
                optimizer: Optimizer {
                    lr: 1e-4,
                    niter: 300,
                    ..Optimizer::generalizable()
                },
                ..Default::default()
            },
            traditional: TraditionalOptions {
                optimizer: Optimizer {
                    lr: 1e-3,
                    niter: 300,
                    ..Optimizer::traditional()
                },
                ..Default::default()
            },
            t_grid: metrics::paper_t_grid(),
            lr_scale_by_span: false,
        };
        let run = Run::new(dir, settings);
        let samples: Vec<SampleValues> = (0..2)
            .map(|s| {
                let [a, b] = crate::demo::noisy_models(s, 0.05);
                SampleValues {
                    id: format!("s{s}"),
                    text: format!("sample {s}"),
                    players: crate::demo::PLAYER_NAMES
                        .iter()
                        .map(|x| x.to_string())
                        .collect(),
                    values: vec![a, b],
                    value_seconds: 0.0,
                }
            })
            .collect();
        let bounds = run.gamma_bounds(&samples).unwrap();
        let results: Vec<SampleResult> = samples
            .iter()
            .map(|s| run.process(s, &bounds).unwrap().0)
            .collect();
        let summary = run.summarize(&results, &bounds, BTreeMap::new()).unwrap();
        Study {
            out: dir.to_path_buf(),
            settings: run.settings.clone(),
            summary,
            results,
            gamma_bounds: bounds,
            paper: paper_sentiment(),
        }
    }

    #[test]
    fn figures_tables_and_the_alpha_ablation() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path());
        assert_eq!(s.n(), 5);
        let fig = s.sparsity_figure(1).unwrap().summary();
        assert!(fig.contains("Fig. 2: sparsity, B (2 samples)"), "{fig}");
        assert!(fig.contains("generalizable:") && fig.contains("harsanyi:"));
        let [and, or] = s.generalization_figures();
        assert!(and.summary().contains("harsanyi s_and"));
        assert!(!or.summary().contains("harsanyi"));
        assert!(s.order_figure("traditional", 0).is_ok());
        let m = s.matching_figure(1, "generalizable", 0).unwrap().summary();
        assert!(m.contains("matching error: max"), "{m}");
        assert_eq!(s.matching_table("harsanyi").unwrap().rows.len(), 2);
        let counts = s.shared_counts(5).unwrap();
        assert_eq!(counts.rows.last().unwrap()[0], "mean");
        assert!(s
            .shared_view(0, "generalizable", 5)
            .unwrap()
            .report()
            .to_text()
            .contains("shared by all 2 models among each one's top 5"));
        // timings only on request
        let with = s.comparison_table(true).to_text();
        let without = s.comparison_table(false).to_text();
        assert!(with.contains("seconds per sample") && !without.contains("seconds"));
        assert!(s.report().to_text().contains("0.37 → 0.74"));
        // bad indices and names are errors, not panics
        assert!(s.sparsity_figure(2).is_err());
        assert!(s.matching_figure(5, "generalizable", 0).is_err());
        assert!(s.order_figure("shapley", 0).is_err());
        assert!(s.alpha_ablation(&[1.5], Progress::Quiet).is_err());
        assert!(s.alpha_ablation(&[f64::NAN], Progress::Quiet).is_err());
        // the ablation saves per α and reuses
        let runs = s.alpha_ablation(&[0.0, 1.0], Progress::Quiet).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].curve.k, s.summary.k);
        assert!(dir.path().join("alpha-0/samples/s0.json").exists());
        assert!(dir.path().join("alpha-1/samples/s1.json").exists());
        let again = s.alpha_ablation(&[0.0], Progress::Quiet).unwrap();
        assert_eq!(again[0].curve, runs[0].curve);
        let figs = alpha_figures(&runs, s.models());
        assert_eq!(figs.len(), 4);
        // one colour per α
        let svg = figs[0].to_svg();
        assert!(
            svg.contains(crate::figures::PALETTE[0]) && svg.contains(crate::figures::PALETTE[1])
        );
        let t = alpha_table(&runs, s.models()).to_text();
        assert!(t.contains("A: above 0.05·max"), "{t}");
    }

    #[test]
    fn notebook_sample_count_from_the_environment() {
        // only this test touches the variable
        std::env::remove_var("INTERPRIM_NOTEBOOK_SAMPLES");
        assert_eq!(notebook_samples(3), 3);
        std::env::set_var("INTERPRIM_NOTEBOOK_SAMPLES", "200");
        assert_eq!(notebook_samples(3), 200);
        std::env::set_var("INTERPRIM_NOTEBOOK_SAMPLES", "zero");
        assert_eq!(notebook_samples(3), 3);
        std::env::remove_var("INTERPRIM_NOTEBOOK_SAMPLES");
    }
}
