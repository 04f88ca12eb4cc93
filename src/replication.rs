//! A replication run over many samples (SPEC §4-5): for each sample, the value vectors of every
//! model → generalizable extraction (joint), traditional extraction (per model) and plain Harsanyi
//! interactions; then the paper's measures over all samples, its figures and a comparison with the
//! paper's numbers. Each sample's result is written atomically as soon as it is done and reused
//! when a run is resumed with the same settings and values: nothing computed is lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::decomposition::{
    decompose_generalizable, decompose_traditional, GeneralizableOptions, TraditionalOptions,
};
use crate::export::{read_json, write_json};
use crate::figures::{generalization_plot, html_table, order_plot, sparsity_plot, HtmlPage};
use crate::interactions::{Interactions, Kind};
use crate::metrics::{self, GeneralizationCurve, OrderSums, SalientCount, SALIENCE_RATIO};
use crate::{Error, Result};

/// The three ways of extracting interactions that the paper compares.
pub const METHODS: [&str; 3] = ["generalizable", "traditional", "harsanyi"];

/// One sample's value vectors, one per model (same players for all models).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SampleValues {
    pub id: String,
    /// What the sample is (a sentence, a prompt, an image id).
    pub text: String,
    /// The players' names (words, patches).
    pub players: Vec<String>,
    pub values: Vec<Vec<f64>>,
    /// Seconds spent computing the values (all models).
    pub value_seconds: f64,
}

/// Seconds spent on one sample.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    pub values: f64,
    pub generalizable: f64,
    pub traditional: f64,
}

/// Everything computed for one sample (interactions reorganised, as the paper presents them).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SampleResult {
    pub id: String,
    pub text: String,
    pub players: Vec<String>,
    pub values: Vec<Vec<f64>>,
    pub generalizable: Vec<Interactions>,
    pub traditional: Vec<Interactions>,
    pub harsanyi: Vec<Interactions>,
    /// Initial and final loss of the joint extraction, then of each traditional one.
    pub losses: Vec<(f64, f64)>,
    pub seconds: Timings,
    /// Hash of the settings and values this result was computed from.
    pub fingerprint: String,
}

impl SampleResult {
    /// The per-model interactions of one method.
    pub fn method(&self, method: &str) -> &[Interactions] {
        match method {
            "generalizable" => &self.generalizable,
            "traditional" => &self.traditional,
            _ => &self.harsanyi,
        }
    }
}

/// Settings of a run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunSettings {
    pub task: String,
    pub models: Vec<String>,
    pub generalizable: GeneralizableOptions,
    pub traditional: TraditionalOptions,
    /// k = ⌊2^n·t⌋ for these t (the paper: 0.05…0.45).
    pub t_grid: Vec<f64>,
    /// Multiply both learning rates by the sample's value range max_{i,T} |v_i(x_T) − v_i(x_∅)| (as
    /// [`crate::api::LrScale`] does): the
    /// loss is positively homogeneous and its subgradient scale-free, so without this one lr
    /// cannot suit samples whose outputs differ in scale.
    pub lr_scale_by_span: bool,
}

/// Numbers the paper reports for a task, to print next to ours.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PaperNumbers {
    pub models: Vec<String>,
    /// (first k, last k) of s_and and s_or, generalizable and traditional.
    pub s_and_generalizable: Option<(f64, f64)>,
    pub s_and_traditional: Option<(f64, f64)>,
    pub s_or_generalizable: Option<(f64, f64)>,
    pub s_or_traditional: Option<(f64, f64)>,
    /// Count above 0.05·max of pooled generalizable interactions, per model, and the pool size.
    pub salient_generalizable: Option<(Vec<usize>, usize)>,
    /// Shared interactions among each model's top 50 on one sentence (generalizable, traditional).
    pub shared_top50: Option<(usize, usize)>,
    pub seconds_per_sample: Option<f64>,
    pub accuracy: Vec<(String, f64)>,
}

/// Measures of one method over all samples.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MethodSummary {
    pub s_and: Vec<f64>,
    /// Empty (and left out of the JSON) for plain Harsanyi, which has no OR part: its all-zero OR
    /// interactions would tie in every top k and read as a meaningless s_or = 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub s_or: Vec<f64>,
    /// Per model: pooled strengths above 0.05·max of the pool.
    pub salient: Vec<SalientCount>,
    /// Per model, per order: sums of salient interactions, averaged over samples.
    pub orders: Vec<Vec<OrderSums>>,
    /// Mean number of interactions among every model's top 50 that all models share.
    pub shared_top50: f64,
}

/// The run's summary (summary.json).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub task: String,
    pub models: Vec<String>,
    pub k: Vec<usize>,
    pub generalizable: MethodSummary,
    pub traditional: MethodSummary,
    pub harsanyi: MethodSummary,
    pub accuracy: BTreeMap<String, f64>,
    pub samples: usize,
    pub seconds_per_sample: f64,
    pub seconds: Timings,
    pub gamma_bounds: Vec<f64>,
    pub settings: RunSettings,
    /// Whether generalizable s_and and s_or exceed traditional at every k (the paper's claim).
    pub generalizable_beats_traditional: bool,
}

/// A run writing into one output directory.
pub struct Run {
    pub out: PathBuf,
    pub settings: RunSettings,
}

fn fingerprint(
    settings: &RunSettings,
    gamma_bounds: &[f64],
    sample: &SampleValues,
) -> Result<String> {
    let mut h = Sha256::new();
    let enc = |e: serde_json::Error| Error::Invalid(format!("cannot encode settings: {e}"));
    h.update(serde_json::to_vec(settings).map_err(enc)?);
    h.update(serde_json::to_vec(gamma_bounds).map_err(enc)?);
    h.update(serde_json::to_vec(&sample.values).map_err(enc)?);
    h.update(sample.text.as_bytes());
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// File-name-safe form of a sample id.
fn safe_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Run {
    pub fn new(out: &Path, settings: RunSettings) -> Self {
        Run {
            out: out.to_path_buf(),
            settings,
        }
    }

    fn sample_path(&self, id: &str) -> PathBuf {
        self.out
            .join("samples")
            .join(format!("{}.json", safe_id(id)))
    }

    /// The γ̂ bounds of the run: ratio·E_x|v(x_N) − v(x_∅)| per model over all samples (SPEC §3.2),
    /// unless the settings fix them.
    pub fn gamma_bounds(&self, samples: &[SampleValues]) -> Result<Vec<f64>> {
        if let Some(b) = &self.settings.generalizable.gamma_bounds {
            return Ok(b.clone());
        }
        let per: Vec<Vec<&[f64]>> = samples
            .iter()
            .map(|s| s.values.iter().map(|v| v.as_slice()).collect())
            .collect();
        crate::decomposition::gamma_bounds_over_samples(
            &per,
            self.settings.generalizable.gamma_ratio,
        )
    }

    /// Extract everything for one sample, or reuse its saved result if it was computed from the
    /// same settings and values. Returns the result and whether it was reused.
    pub fn process(
        &self,
        sample: &SampleValues,
        gamma_bounds: &[f64],
    ) -> Result<(SampleResult, bool)> {
        if sample.values.len() != self.settings.models.len() {
            return Err(Error::WrongModelCount(format!(
                "sample {} has values of {} models, the run has {}",
                sample.id,
                sample.values.len(),
                self.settings.models.len()
            )));
        }
        let fp = fingerprint(&self.settings, gamma_bounds, sample)?;
        let path = self.sample_path(&sample.id);
        if path.exists() {
            if let Ok(saved) = read_json::<SampleResult>(&path) {
                if saved.fingerprint == fp {
                    return Ok((saved, true));
                }
            }
        }
        let refs: Vec<&[f64]> = sample.values.iter().map(|v| v.as_slice()).collect();
        let scale = if self.settings.lr_scale_by_span {
            let s = refs
                .iter()
                .flat_map(|v| v.iter().map(move |x| (x - v[0]).abs()))
                .fold(0.0, f64::max);
            if s > 0.0 {
                s
            } else {
                1.0
            }
        } else {
            1.0
        };
        let mut opts = GeneralizableOptions {
            gamma_bounds: Some(gamma_bounds.to_vec()),
            ..self.settings.generalizable.clone()
        };
        opts.optimizer.lr *= scale;
        let mut trad_opts = self.settings.traditional.clone();
        trad_opts.optimizer.lr *= scale;
        let start = Instant::now();
        let gen = decompose_generalizable(&refs, &opts)?;
        let gen_secs = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let trad = refs
            .iter()
            .map(|v| decompose_traditional(v, &trad_opts))
            .collect::<Result<Vec<_>>>()?;
        let trad_secs = start.elapsed().as_secs_f64();
        let mut losses = vec![(gen.initial_loss, gen.final_loss)];
        losses.extend(trad.iter().map(|d| (d.initial_loss, d.final_loss)));
        let result = SampleResult {
            id: sample.id.clone(),
            text: sample.text.clone(),
            players: sample.players.clone(),
            values: sample.values.clone(),
            generalizable: gen.reorganised(),
            traditional: trad.iter().map(|d| d.reorganised().remove(0)).collect(),
            harsanyi: refs
                .iter()
                .map(|v| Interactions::harsanyi(v))
                .collect::<Result<_>>()?,
            losses,
            seconds: Timings {
                values: sample.value_seconds,
                generalizable: gen_secs,
                traditional: trad_secs,
            },
            fingerprint: fp,
        };
        write_json(&path, &result)?;
        Ok((result, false))
    }

    /// The paper's measures over all sample results.
    pub fn summarize(
        &self,
        results: &[SampleResult],
        gamma_bounds: &[f64],
        accuracy: BTreeMap<String, f64>,
    ) -> Result<Summary> {
        let first = results
            .first()
            .ok_or_else(|| Error::Invalid("no samples were processed".into()))?;
        let n = first.values[0].len().trailing_zeros() as usize;
        let ks = metrics::k_grid(n, &self.settings.t_grid);
        let m = self.settings.models.len();
        let method = |name: &str| -> Result<MethodSummary> {
            let per: Vec<Vec<&Interactions>> = results
                .iter()
                .map(|r| r.method(name).iter().collect())
                .collect();
            let curve: GeneralizationCurve = metrics::generalization_curve(&per, &ks)?;
            let salient = (0..m)
                .map(|i| {
                    metrics::salient_count_relative(
                        &metrics::strength_curve(per.iter().map(|s| s[i])),
                        SALIENCE_RATIO,
                    )
                })
                .collect();
            let mut orders = vec![vec![OrderSums::default(); n + 1]; m];
            let mut shared = 0.0;
            for models in &per {
                let taus: Vec<f64> = models
                    .iter()
                    .map(|s| SALIENCE_RATIO * s.max_abs())
                    .collect();
                let dist = metrics::order_distribution(models, &taus, &[Kind::And, Kind::Or])?;
                for (acc, d) in orders.iter_mut().zip(&dist) {
                    for (a, o) in acc.iter_mut().zip(d) {
                        a.order = o.order;
                        a.all_pos += o.all_pos / results.len() as f64;
                        a.all_neg += o.all_neg / results.len() as f64;
                        a.shared_pos += o.shared_pos / results.len() as f64;
                        a.shared_neg += o.shared_neg / results.len() as f64;
                    }
                }
                shared += metrics::shared_and_distinctive(models, 50.min(1 << n))?[0]
                    .shared
                    .len() as f64;
            }
            let has_or = per
                .iter()
                .flatten()
                .any(|s| s.get(Kind::Or).iter().any(|&x| x != 0.0));
            Ok(MethodSummary {
                s_and: curve.s_and,
                s_or: if has_or { curve.s_or } else { Vec::new() },
                salient,
                orders,
                shared_top50: shared / per.len() as f64,
            })
        };
        let (generalizable, traditional, harsanyi) = (
            method("generalizable")?,
            method("traditional")?,
            method("harsanyi")?,
        );
        let beats = generalizable
            .s_and
            .iter()
            .zip(&traditional.s_and)
            .all(|(g, t)| g > t)
            && generalizable
                .s_or
                .iter()
                .zip(&traditional.s_or)
                .all(|(g, t)| g > t);
        let mut seconds = Timings::default();
        for r in results {
            seconds.values += r.seconds.values / results.len() as f64;
            seconds.generalizable += r.seconds.generalizable / results.len() as f64;
            seconds.traditional += r.seconds.traditional / results.len() as f64;
        }
        Ok(Summary {
            task: self.settings.task.clone(),
            models: self.settings.models.clone(),
            k: ks,
            generalizable,
            traditional,
            harsanyi,
            accuracy,
            samples: results.len(),
            seconds_per_sample: seconds.values + seconds.generalizable + seconds.traditional,
            seconds,
            gamma_bounds: gamma_bounds.to_vec(),
            settings: self.settings.clone(),
            generalizable_beats_traditional: beats,
        })
    }

    /// Write summary.json, figures.html (Figs. 2-4) and comparison.md.
    pub fn write_report(
        &self,
        summary: &Summary,
        results: &[SampleResult],
        paper: &PaperNumbers,
    ) -> Result<()> {
        write_json(&self.out.join("summary.json"), summary)?;
        let mut page = HtmlPage::new(&format!(
            "interprim: {} ({} samples)",
            summary.task, summary.samples
        ));
        page.paragraph(&format!(
            "Models: {}. {} samples, n = {} players, {:.2} s per sample.",
            summary.models.join(" vs "),
            summary.samples,
            results[0].players.len(),
            summary.seconds_per_sample
        ));
        page.heading("Fig. 2: sparsity (strengths of all AND and OR interactions of all samples, decreasing)");
        for (i, model) in summary.models.iter().enumerate() {
            let curves: Vec<(String, Vec<f64>)> = METHODS
                .iter()
                .map(|m| {
                    (
                        m.to_string(),
                        metrics::strength_curve(results.iter().map(|r| &r.method(m)[i])),
                    )
                })
                .collect();
            let series: Vec<(&str, &[f64])> = curves
                .iter()
                .map(|(n, c)| (n.as_str(), c.as_slice()))
                .collect();
            page.plot(&sparsity_plot(model, &series));
        }
        page.heading("Fig. 3: generalization power of the top-k interactions");
        let curve = |s: &MethodSummary| GeneralizationCurve {
            k: summary.k.clone(),
            s_and: s.s_and.clone(),
            s_or: s.s_or.clone(),
        };
        let (g, t, h) = (
            curve(&summary.generalizable),
            curve(&summary.traditional),
            curve(&summary.harsanyi),
        );
        page.plot(&generalization_plot(
            "AND interactions (s_and)",
            false,
            &[("generalizable", &g), ("traditional", &t), ("harsanyi", &h)],
        ));
        page.plot(&generalization_plot(
            "OR interactions (s_or)",
            true,
            &[("generalizable", &g), ("traditional", &t)],
        ));
        page.heading("Fig. 4: salient interactions per order, all and shared (mean over samples)");
        for (label, s) in [
            ("generalizable", &summary.generalizable),
            ("traditional", &summary.traditional),
        ] {
            for (model, sums) in summary.models.iter().zip(&s.orders) {
                page.plot(&order_plot(&format!("{label}: {model}"), sums));
            }
        }
        let table = comparison_rows(summary, paper);
        page.heading("Our numbers and the paper's");
        page.html(html_table(&["measure", "ours", "paper"], &table));
        page.write(&self.out.join("figures.html"))?;
        let mut md = format!(
            "# {}: our numbers and the paper's\n\nModels: {} (paper: {}). {} samples.\n\n| measure | ours | paper |\n|---|---|---|\n",
            summary.task,
            summary.models.join(" vs "),
            paper.models.join(" vs "),
            summary.samples
        );
        for row in &table {
            md.push_str(&format!("| {} | {} | {} |\n", row[0], row[1], row[2]));
        }
        crate::export::write_atomic(&self.out.join("comparison.md"), md.as_bytes())
    }
}

fn ends(v: &[f64]) -> String {
    match (v.first(), v.last()) {
        (Some(a), Some(b)) => format!("{a:.2} → {b:.2}"),
        _ => "—".into(),
    }
}

fn paper_ends(p: Option<(f64, f64)>) -> String {
    p.map_or("—".into(), |(a, b)| format!("{a:.2} → {b:.2}"))
}

/// Rows of the comparison table.
pub fn comparison_rows(s: &Summary, p: &PaperNumbers) -> Vec<Vec<String>> {
    let k = match (s.k.first(), s.k.last()) {
        (Some(a), Some(b)) => format!("k = {a} → {b}"),
        _ => String::new(),
    };
    let mut rows = vec![
        vec![
            format!("s_and generalizable ({k})"),
            ends(&s.generalizable.s_and),
            paper_ends(p.s_and_generalizable),
        ],
        vec![
            format!("s_and traditional ({k})"),
            ends(&s.traditional.s_and),
            paper_ends(p.s_and_traditional),
        ],
        vec![
            format!("s_or generalizable ({k})"),
            ends(&s.generalizable.s_or),
            paper_ends(p.s_or_generalizable),
        ],
        vec![
            format!("s_or traditional ({k})"),
            ends(&s.traditional.s_or),
            paper_ends(p.s_or_traditional),
        ],
        vec![
            "s_and Harsanyi (no decomposition)".into(),
            ends(&s.harsanyi.s_and),
            "—".into(),
        ],
    ];
    for (i, model) in s.models.iter().enumerate() {
        let c = &s.generalizable.salient[i];
        let paper = p
            .salient_generalizable
            .as_ref()
            .and_then(|(v, total)| v.get(i).map(|x| format!("{x} / {total}")))
            .unwrap_or("—".into());
        rows.push(vec![
            format!("above 0.05·max, generalizable, {model}"),
            format!("{} / {}", c.count, c.total),
            paper,
        ]);
        let t = &s.traditional.salient[i];
        rows.push(vec![
            format!("above 0.05·max, traditional, {model}"),
            format!("{} / {}", t.count, t.total),
            "—".into(),
        ]);
    }
    rows.push(vec![
        "shared among top 50 (generalizable / traditional), mean per sample".into(),
        format!(
            "{:.1} / {:.1}",
            s.generalizable.shared_top50, s.traditional.shared_top50
        ),
        p.shared_top50
            .map_or("—".into(), |(g, t)| format!("{g} / {t} (one sentence)")),
    ]);
    rows.push(vec![
        "seconds per sample (values + both extractions)".into(),
        format!("{:.2}", s.seconds_per_sample),
        p.seconds_per_sample
            .map_or("—".into(), |x| format!("{x:.2} (hardware not given)")),
    ]);
    for (key, acc) in &s.accuracy {
        // Keys that name a model are its test accuracy; any other key describes itself (e.g. the
        // next-word task's agreement rate of the two models).
        let label = if s.models.contains(key) {
            format!("test accuracy, {key}")
        } else {
            key.clone()
        };
        rows.push(vec![label, format!("{:.2}%", 100.0 * acc), "—".into()]);
    }
    for (model, acc) in &p.accuracy {
        rows.push(vec![
            format!("test accuracy, {model} (paper)"),
            "—".into(),
            format!("{:.2}%", 100.0 * acc),
        ]);
    }
    rows
}

/// The paper's numbers for Task 1 (SST-2, BERT-base vs BERT-large), SPEC §5.
pub fn paper_sentiment() -> PaperNumbers {
    PaperNumbers {
        models: vec!["BERT-base".into(), "BERT-large".into()],
        s_and_generalizable: Some((0.37, 0.74)),
        s_and_traditional: Some((0.21, 0.48)),
        s_or_generalizable: Some((0.27, 0.74)),
        s_or_traditional: Some((0.10, 0.47)),
        salient_generalizable: Some((vec![3942, 10908], 409600)),
        shared_top50: Some((25, 16)),
        seconds_per_sample: Some(45.14),
        accuracy: vec![("BERT-base".into(), 0.9132), ("BERT-large".into(), 0.9326)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomposition::Optimizer;

    fn settings() -> RunSettings {
        RunSettings {
            task: "demo".into(),
            models: vec!["A".into(), "B".into()],
            generalizable: GeneralizableOptions {
                optimizer: Optimizer {
                    lr: 1e-4,
                    niter: 500,
                    ..Optimizer::generalizable()
                },
                ..Default::default()
            },
            traditional: TraditionalOptions {
                optimizer: Optimizer {
                    lr: 1e-3,
                    niter: 500,
                    ..Optimizer::traditional()
                },
                ..Default::default()
            },
            t_grid: metrics::paper_t_grid(),
            lr_scale_by_span: false,
        }
    }

    fn samples() -> Vec<SampleValues> {
        (0..3)
            .map(|s| {
                let [a, b] = crate::demo::noisy_models(s, 0.05);
                SampleValues {
                    id: format!("s/{s}"),
                    text: format!("sample {s}"),
                    players: crate::demo::PLAYER_NAMES
                        .iter()
                        .map(|x| x.to_string())
                        .collect(),
                    values: vec![a, b],
                    value_seconds: 0.0,
                }
            })
            .collect()
    }

    #[test]
    fn run_writes_results_resumes_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(dir.path(), settings());
        let samples = samples();
        let bounds = run.gamma_bounds(&samples).unwrap();
        let mut results = Vec::new();
        for s in &samples {
            let (r, reused) = run.process(s, &bounds).unwrap();
            assert!(!reused);
            results.push(r);
        }
        assert!(dir.path().join("samples/s_0.json").exists());
        // a second pass reuses every saved result
        for s in &samples {
            assert!(run.process(s, &bounds).unwrap().1);
        }
        // other settings invalidate them
        let mut other = settings();
        other.generalizable.alpha = 0.5;
        assert!(
            !Run::new(dir.path(), other)
                .process(&samples[0], &bounds)
                .unwrap()
                .1
        );
        let summary = run
            .summarize(
                &results,
                &bounds,
                BTreeMap::from([("A".to_string(), 0.9), ("agreement rate".to_string(), 0.3)]),
            )
            .unwrap();
        assert_eq!(summary.k, vec![1, 3, 4, 6, 8, 9, 11, 12, 14]);
        assert_eq!(summary.samples, 3);
        assert_eq!(summary.generalizable.orders[0].len(), 6);
        assert!(summary
            .generalizable
            .s_and
            .iter()
            .all(|x| (0.0..=1.0).contains(x)));
        run.write_report(&summary, &results, &paper_sentiment())
            .unwrap();
        let md = std::fs::read_to_string(dir.path().join("comparison.md")).unwrap();
        assert!(md.contains("0.37 → 0.74"));
        // A model's key is its test accuracy; another key is shown as it is.
        assert!(md.contains("| test accuracy, A | 90.00%"), "{md}");
        assert!(md.contains("| agreement rate | 30.00%"), "{md}");
        let json: serde_json::Value = read_json(&dir.path().join("summary.json")).unwrap();
        for key in [
            "k",
            "generalizable",
            "traditional",
            "harsanyi",
            "accuracy",
            "samples",
            "seconds_per_sample",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert!(json["generalizable"]["s_and"].is_array() && json["harsanyi"]["s_and"].is_array());
        // Plain Harsanyi has no OR part: no s_or, rather than a tie-made 1.0.
        assert!(json["generalizable"]["s_or"].is_array() && json["harsanyi"].get("s_or").is_none());
        assert!(std::fs::read_to_string(dir.path().join("figures.html"))
            .unwrap()
            .contains("Fig. 4"));
    }

    #[test]
    fn wrong_model_count_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(dir.path(), settings());
        let mut s = samples().remove(0);
        s.values.pop();
        assert!(matches!(
            run.process(&s, &[1.0, 1.0]),
            Err(Error::WrongModelCount(_))
        ));
    }
}
