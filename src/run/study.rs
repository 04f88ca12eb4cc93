//! A run held in memory ([`Study`]): its per-sample results and summary, and the paper's figures
//! and tables built from them — what the notebooks show and what the run's report
//! ([`super::report`]) writes. Everything expensive is on disk (the run's directory and the value
//! cache), so building a `Study` a second time costs seconds.

use std::path::{Path, PathBuf};

use super::summary::{comparison_rows, MethodSummary, PaperNumbers, Summary};
use super::{Run, RunSettings, SampleResult, SampleValues, METHODS};
use crate::display::{InteractionsView, MimeBundle, Report, Table};
use crate::interactions::Interactions;
use crate::metrics::{self, GeneralizationCurve, SalientCount, SALIENCE_RATIO};
use crate::plot::generalization::MethodSeries;
use crate::plot::{self, sig, Figure};
use crate::progress::{emit, Event, Observer};
use crate::{Error, Result};

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
    plot::generalization::figure(
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
        Ok(plot::sparsity::figure(
            &format!(
                "Fig. 2: sparsity, {} ({} samples)",
                self.models()[model],
                self.results.len()
            ),
            &series,
        ))
    }

    fn method_summary(&self, method: &str) -> &MethodSummary {
        match method {
            "generalizable" => &self.summary.generalizable,
            "traditional" => &self.summary.traditional,
            _ => &self.summary.harsanyi,
        }
    }

    /// Fig. 3: s_and (Harsanyi included) and s_or against k, generalizable vs traditional, each
    /// with its permutation null (dashed) and cross-sample null (dash-dot), their sd over the
    /// replicates as error bars, and the chance level (dotted). The notes carry the numbers and
    /// each method's excess over each null.
    pub fn generalization_figures(&self) -> [Figure; 2] {
        let samples = self.results.len();
        let s = &self.summary;
        let series = |kind_or: bool, methods: &[&'static str]| -> Vec<MethodSeries<'_>> {
            methods
                .iter()
                .map(|&m| {
                    let ms = self.method_summary(m);
                    MethodSeries {
                        name: m,
                        s: ms.s(kind_or),
                        null: ms.null(kind_or, false),
                        null_cross: ms.null(kind_or, true),
                    }
                })
                .collect()
        };
        fn chance<'a>(v: &'a [f64], k: &[usize]) -> Option<&'a [f64]> {
            (v.len() == k.len()).then_some(v)
        }
        [
            plot::generalization::figure_with_nulls(
                &format!("Fig. 3: generalization power of AND interactions ({samples} samples)"),
                false,
                &s.k,
                &series(false, &METHODS),
                chance(&s.chance.chance_and, &s.k),
                s.nulls.replicates,
            ),
            plot::generalization::figure_with_nulls(
                &format!("Fig. 3: generalization power of OR interactions ({samples} samples)"),
                true,
                &s.k,
                &series(true, &["generalizable", "traditional"]),
                chance(&s.chance.chance_or, &s.k),
                s.nulls.replicates,
            ),
        ]
    }

    /// Fig. 4 for one method ("generalizable" or "traditional") and model: per order, the sums
    /// of the positive and negative parts of salient interactions, all and shared (mean over
    /// samples).
    pub fn order_figure(&self, method: &str, model: usize) -> Result<Figure> {
        Self::check_method(method)?;
        self.check_model(model)?;
        let s = self.method_summary(method);
        Ok(plot::orders::figure(
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
        Ok(plot::matching::figure(
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

    /// Top-k sharing of one method against chance and its nulls (method §4.1), one row per k and
    /// kind (AND, then OR; Harsanyi has AND only): chance, the paper's s, signed s, the
    /// permutation null's mean and sd, the excess s − null, and the excess over the cross-sample
    /// null. Columns of a null the run did not compute show "—".
    ///
    /// Errors: an unknown method.
    pub fn sharing_table(&self, method: &str) -> Result<Table> {
        Self::check_method(method)?;
        let s = &self.summary;
        let ms = self.method_summary(method);
        let mut t = Table::new(&[
            "k",
            "kind",
            "chance",
            "s",
            "signed s",
            "permutation null",
            "sd",
            "excess",
            "excess (cross-sample null)",
        ]);
        let f = |v: Option<&Vec<f64>>, j: usize| {
            v.and_then(|v| v.get(j))
                .map_or("—".to_string(), |x| format!("{x:.3}"))
        };
        let fs = |v: Option<&Vec<f64>>, j: usize| {
            v.and_then(|v| v.get(j))
                .map_or("—".to_string(), |x| format!("{x:+.3}"))
        };
        let kinds: &[&str] = if ms.s_or.is_empty() {
            &["AND"]
        } else {
            &["AND", "OR"]
        };
        for &kind in kinds {
            let or = kind == "OR";
            for (j, k) in s.k.iter().enumerate() {
                let (chance, obs, signed, null, sd, ex, ex_cross) = if or {
                    (
                        &s.chance.chance_or,
                        &ms.s_or,
                        &ms.s_or_signed,
                        &ms.s_or_null,
                        &ms.s_or_null_sd,
                        &ms.s_or_excess,
                        &ms.s_or_excess_cross,
                    )
                } else {
                    (
                        &s.chance.chance_and,
                        &ms.s_and,
                        &ms.s_and_signed,
                        &ms.s_and_null,
                        &ms.s_and_null_sd,
                        &ms.s_and_excess,
                        &ms.s_and_excess_cross,
                    )
                };
                t.row(vec![
                    k.to_string(),
                    kind.to_string(),
                    f(Some(chance), j),
                    f(Some(obs), j),
                    f(Some(signed), j),
                    f(null.as_ref(), j),
                    f(sd.as_ref(), j),
                    fs(ex.as_ref(), j),
                    fs(ex_cross.as_ref(), j),
                ]);
            }
        }
        Ok(t)
    }

    /// Our numbers next to the paper's (method §5). `timing` adds the machine-dependent rows
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

    /// The samples' values as the run used them (for recomputing the run with other settings).
    pub fn sample_values(&self) -> Vec<SampleValues> {
        self.results
            .iter()
            .map(|r| SampleValues {
                id: r.id.clone(),
                text: r.text.clone(),
                players: r.players.clone(),
                values: r.values.clone(),
                value_seconds: r.seconds.values,
            })
            .collect()
    }

    /// Fig. 8: the generalizable extraction again with each α (everything else as in the run),
    /// on the cached values: no network is evaluated. Each α's per-sample results are saved under
    /// `<out>/alpha-<α>/` and reused when run again.
    pub fn alpha_ablation(
        &self,
        alphas: &[f64],
        mut observer: Option<&mut Observer<'_>>,
    ) -> Result<Vec<AlphaRun>> {
        let samples = self.sample_values();
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
            settings.decomposition.alpha = alpha;
            let run = Run::new(&self.out.join(format!("alpha-{alpha}")), settings);
            let (results, reused) = run.process_all(&samples, &self.gamma_bounds)?;
            let per: Vec<Vec<Interactions>> =
                results.into_iter().map(|r| r.generalizable).collect();
            emit(
                &mut observer,
                Event::Note(&format!(
                    "α = {alpha}: {} samples extracted ({reused} reused)",
                    samples.len()
                )),
            );
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

    /// An overview: models, samples, how the generalizable excess sharing over each null compares
    /// with the traditional one (in place of the paper's bare claim), and our numbers next to the
    /// paper's (without timings, which depend on the machine).
    pub fn report(&self) -> Report {
        let s = &self.summary;
        let report = Report::new(format!(
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
        ));
        s.excess_lines()
            .into_iter()
            .fold(report, |r, line| r.text(line))
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
        figs.push(plot::sparsity::figure(
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
pub(crate) mod tests {
    use super::*;
    use crate::run::tests::settings;
    use std::collections::BTreeMap;

    /// A two-sample study of the demo's noisy five-player models (short SGD, nulls R = settings').
    pub(crate) fn study(dir: &Path) -> Study {
        let mut settings = settings();
        settings.decomposition.sgd_generalizable.niter = 300;
        settings.decomposition.sgd_traditional.niter = 300;
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
        let ks = metrics::k_grid_checked(5, &run.settings.t_grid);
        let nulls = run.nulls(&results, &bounds, &ks, &mut None).unwrap();
        let summary = super::super::summary::summarize(
            &run.settings,
            &results,
            &bounds,
            BTreeMap::new(),
            Some(&nulls),
        )
        .unwrap();
        Study {
            out: dir.to_path_buf(),
            settings: run.settings.clone(),
            summary,
            results,
            gamma_bounds: bounds,
            paper: PaperNumbers {
                s_and_generalizable: Some((0.37, 0.74)),
                ..Default::default()
            },
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
        // Fig. 3's traces: each method, its two nulls (dashed, dash-dot, sd as error bars) and
        // chance (dotted); the notes carry the numbers
        let json = and.json();
        let traces = json["data"].as_array().unwrap();
        let names: Vec<&str> = traces.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "generalizable",
                "generalizable permutation null",
                "generalizable cross-sample null",
                "traditional",
                "traditional permutation null",
                "traditional cross-sample null",
                "harsanyi",
                "harsanyi permutation null",
                "harsanyi cross-sample null",
                "chance"
            ]
        );
        let null = &traces[1];
        assert_eq!(null["line"]["dash"], "dash");
        assert_eq!(traces[2]["line"]["dash"], "dashdot");
        assert_eq!(traces[9]["line"]["dash"], "dot");
        // (plotly's JSON may differ in the last bit)
        let close = |v: &serde_json::Value, w: &[f64]| {
            let v = v.as_array().unwrap();
            assert_eq!(v.len(), w.len());
            for (x, y) in v.iter().zip(w) {
                assert!((x.as_f64().unwrap() - y).abs() < 1e-12, "{x} vs {y}");
            }
        };
        let g = &s.summary.generalizable;
        close(&null["error_y"]["array"], g.s_and_null_sd.as_ref().unwrap());
        close(&null["y"], g.s_and_null.as_ref().unwrap());
        close(&traces[9]["y"], &s.summary.chance.chance_and);
        let text = and.summary();
        assert!(
            text.contains("generalizable s_and permutation null (R = 2, mean±sd): 1:"),
            "{text}"
        );
        assert!(text.contains("traditional s_and excess over the cross-sample null: "));
        assert!(text.contains("chance s_and: 1:0.031 3:0.094"), "{text}");
        let svg = and.to_svg();
        assert!(
            svg.contains("stroke-dasharray=\"6,4\"") && svg.contains("stroke-dasharray=\"2,3\"")
        );
        assert_eq!(or.json()["data"].as_array().unwrap().len(), 7);
        let report = s.report().to_text();
        assert!(
            report.contains("excess over the permutation null (R = 2"),
            "{report}"
        );
        // the sharing table: one row per k and kind, the summary's numbers, excess = s − null
        let table = s.sharing_table("generalizable").unwrap();
        assert_eq!(table.rows.len(), 2 * s.summary.k.len());
        let row = &table.rows[0];
        assert_eq!(row[0], s.summary.k[0].to_string());
        assert_eq!(row[1], "AND");
        assert_eq!(row[3], format!("{:.3}", g.s_and[0]));
        assert_eq!(row[5], format!("{:.3}", g.s_and_null.as_ref().unwrap()[0]));
        assert_eq!(
            row[7],
            format!("{:+.3}", g.s_and[0] - g.s_and_null.as_ref().unwrap()[0])
        );
        assert_eq!(
            s.sharing_table("harsanyi").unwrap().rows.len(),
            s.summary.k.len(),
            "Harsanyi has no OR part"
        );
        assert!(s.sharing_table("shapley").is_err());
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
        assert!(s.alpha_ablation(&[1.5], None).is_err());
        assert!(s.alpha_ablation(&[f64::NAN], None).is_err());
        // the ablation saves per α and reuses
        let runs = s.alpha_ablation(&[0.0, 1.0], None).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].curve.k, s.summary.k);
        assert!(dir.path().join("alpha-0/samples/s0.json").exists());
        assert!(dir.path().join("alpha-1/samples/s1.json").exists());
        let again = s.alpha_ablation(&[0.0], None).unwrap();
        assert_eq!(again[0].curve, runs[0].curve);
        let figs = alpha_figures(&runs, s.models());
        assert_eq!(figs.len(), 4);
        // one colour per α
        let svg = figs[0].to_svg();
        assert!(svg.contains(crate::plot::PALETTE[0]) && svg.contains(crate::plot::PALETTE[1]));
        let t = alpha_table(&runs, s.models()).to_text();
        assert!(t.contains("A: above 0.05·max"), "{t}");
    }
}
