//! A run over many samples: for each sample, every model's values → the extractions the paper
//! compares ([`crate::explain::explain_values`]: generalizable, traditional, Harsanyi) → the
//! paper's measures over all samples ([`summary`]), its figures and a comparison with the paper's
//! numbers ([`report`]), held in memory as a [`study::Study`] for the notebooks.
//!
//! Each sample's result is written atomically under `<out>/samples/` as soon as it is done and
//! reused when a run is resumed — only if it was computed from the same values, settings and
//! extraction code ([`crate::decomposition::ALGORITHM_VERSION`] is part of every fingerprint):
//! nothing computed is lost and nothing stale is reused. The nulls of the run's sharing
//! ([`null`]) save their re-extractions under `<out>/null/` by the same rule.

pub mod null;
pub mod summary;

#[cfg(feature = "plot")]
pub mod report;
#[cfg(feature = "plot")]
pub mod spread;
#[cfg(feature = "plot")]
pub mod study;

use std::path::{Path, PathBuf};

use crate::decomposition::{Decomposition, DecompositionOptions, SolverKind, ALGORITHM_VERSION};
use crate::explain::{explain_values, Methods, Timings};
use crate::export::{read_json, write_json};
use crate::game::GameValues;
use crate::interactions::Interactions;
use crate::util::sha256_hex;
use crate::{Error, Result};

pub use null::{NullSettings, RunNulls};
pub use summary::{MethodSummary, PaperNumbers, Summary};

/// The three ways of extracting interactions that the paper compares.
pub const METHODS: [&str; 3] = ["generalizable", "traditional", "harsanyi"];

/// One sample's value vectors, one per model (same players for all models).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleValues {
    pub id: String,
    /// What the sample is (a sentence, a prompt, an image id).
    pub text: String,
    /// The players' names (words, patches).
    pub players: Vec<String>,
    /// v(x_T) per model, centred (v(x_∅) = 0), mask order.
    pub values: Vec<Vec<f64>>,
    /// Seconds spent computing the values (all models; the recorded time for cached values).
    pub value_seconds: f64,
}

impl SampleValues {
    /// n.
    pub fn n(&self) -> usize {
        self.values
            .first()
            .map_or(0, |v| v.len().trailing_zeros() as usize)
    }
}

/// How one extraction of one sample ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExtractionRecord {
    /// "generalizable" or `"traditional <model>"`.
    pub what: String,
    pub solver: SolverKind,
    pub initial_loss: f64,
    pub final_loss: f64,
    /// The certified relative primal-dual gap (the optimal solver), `None` for SGD.
    pub duality_gap: Option<f64>,
    /// SGD: the loss did not end above its start; optimal: the gap reached the tolerance.
    pub converged: bool,
    pub iterations: usize,
    pub seconds: f64,
}

impl ExtractionRecord {
    fn of(what: &str, d: &Decomposition) -> Self {
        ExtractionRecord {
            what: what.to_string(),
            solver: d.solver.solver,
            initial_loss: d.initial_loss,
            final_loss: d.final_loss,
            duality_gap: d.solver.duality_gap,
            converged: d.solver.converged,
            iterations: d.solver.iterations,
            seconds: d.solver.seconds,
        }
    }
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
    /// The joint extraction first, then each traditional one.
    pub extractions: Vec<ExtractionRecord>,
    pub seconds: Timings,
    /// Hash of the settings, code version and values this result was computed from.
    pub fingerprint: String,
}

impl SampleResult {
    /// The per-model interactions of one method ("generalizable", "traditional", "harsanyi").
    pub fn method(&self, method: &str) -> &[Interactions] {
        match method {
            "generalizable" => &self.generalizable,
            "traditional" => &self.traditional,
            _ => &self.harsanyi,
        }
    }

    /// n.
    pub fn n(&self) -> usize {
        self.players.len()
    }
}

/// Settings of a run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSettings {
    pub task: String,
    pub models: Vec<String>,
    /// The extraction settings (γ̂ bounds are set per run from all samples, see
    /// [`Run::gamma_bounds`], unless given here).
    pub decomposition: DecompositionOptions,
    /// k = ⌊2^n·t⌋ for these t (the paper: 0.05…0.45).
    pub t_grid: Vec<f64>,
    /// The nulls of the run's sharing: R replicates (0: none) and their seed. Not part of any
    /// fingerprint (see [`Run::fingerprint`]).
    #[serde(default)]
    pub null: NullSettings,
}

/// A run writing into one output directory.
pub struct Run {
    pub out: PathBuf,
    pub settings: RunSettings,
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

    /// The γ̂ bounds of the run: gamma_ratio·E_x|v(x_N) − v(x_∅)| per model over all samples,
    /// unless the settings fix them.
    pub fn gamma_bounds(&self, samples: &[SampleValues]) -> Result<Vec<f64>> {
        if let Some(b) = &self.settings.decomposition.gamma_bounds {
            return Ok(b.clone());
        }
        let per: Vec<Vec<&[f64]>> = samples
            .iter()
            .map(|s| s.values.iter().map(|v| v.as_slice()).collect())
            .collect();
        crate::decomposition::gamma_bounds_over_samples(
            &per,
            self.settings.decomposition.gamma_ratio,
        )
    }

    /// The decomposition options of this run's samples: the settings with the run's γ̂ bounds.
    pub fn options(&self, gamma_bounds: &[f64]) -> DecompositionOptions {
        DecompositionOptions {
            gamma_bounds: Some(gamma_bounds.to_vec()),
            ..self.settings.decomposition.clone()
        }
    }

    /// The fingerprint of a sample's result: extraction-code version, every setting (except the
    /// nulls' R and seed, which change no extraction: a null's re-extraction is keyed by the
    /// fingerprints of the samples it extracts, see [`null`]), the γ̂ bounds, the values, the text and the players.
    pub fn fingerprint(&self, gamma_bounds: &[f64], sample: &SampleValues) -> Result<String> {
        let enc = |e: serde_json::Error| Error::Invalid(format!("cannot encode settings: {e}"));
        let mut settings = serde_json::to_value(&self.settings).map_err(enc)?;
        if let Some(o) = settings.as_object_mut() {
            o.remove("null");
        }
        let key = serde_json::json!({
            "algorithm_version": ALGORITHM_VERSION,
            "settings": settings,
            "gamma_bounds": gamma_bounds,
            "values": sample.values,
            "text": sample.text,
            "players": sample.players,
        });
        Ok(sha256_hex(serde_json::to_vec(&key).map_err(enc)?))
    }

    /// Extract everything for one sample, or reuse its saved result if it was computed from the
    /// same settings, code version and values. Returns the result and whether it was reused.
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
        let fp = self.fingerprint(gamma_bounds, sample)?;
        let path = self.sample_path(&sample.id);
        if path.exists() {
            if let Ok(saved) = read_json::<SampleResult>(&path) {
                if saved.fingerprint == fp {
                    return Ok((saved, true));
                }
            }
        }
        let result = extract_sample(sample, &self.settings.models, &self.options(gamma_bounds))?;
        let result = SampleResult {
            fingerprint: fp,
            ..result
        };
        write_json(&path, &result)?;
        Ok((result, false))
    }

    /// [`Self::process`] for every sample in order; returns the results and how many were reused.
    pub fn process_all(
        &self,
        samples: &[SampleValues],
        gamma_bounds: &[f64],
    ) -> Result<(Vec<SampleResult>, usize)> {
        let mut results = Vec::with_capacity(samples.len());
        let mut reused = 0;
        for s in samples {
            let (r, was) = self.process(s, gamma_bounds)?;
            reused += was as usize;
            results.push(r);
        }
        Ok((results, reused))
    }
}

/// The extractions of one sample with `opts` (no files): the one path of
/// [`crate::explain::explain_values`], reorganised as the paper presents the interactions.
pub fn extract_sample(
    sample: &SampleValues,
    models: &[String],
    opts: &DecompositionOptions,
) -> Result<SampleResult> {
    let values: Vec<GameValues> = sample
        .values
        .iter()
        .zip(models)
        .map(|(v, m)| GameValues {
            game: m.clone(),
            players: sample.players.clone(),
            v: v.clone(),
            centred: true,
            raw_empty: 0.0,
            raw_full: v.last().copied().unwrap_or(0.0),
            from_cache: false,
            seconds: 0.0,
        })
        .collect();
    let e = explain_values(values, opts, Methods::default(), None)?;
    let mut extractions = Vec::new();
    if let Some(g) = &e.generalizable {
        extractions.push(ExtractionRecord::of("generalizable", g));
    }
    for (d, m) in e.traditional.iter().zip(models) {
        extractions.push(ExtractionRecord::of(&format!("traditional {m}"), d));
    }
    Ok(SampleResult {
        id: sample.id.clone(),
        text: sample.text.clone(),
        players: sample.players.clone(),
        values: sample.values.clone(),
        generalizable: e.method("generalizable"),
        traditional: e.method("traditional"),
        harsanyi: e.method("harsanyi"),
        extractions,
        seconds: Timings {
            values: sample.value_seconds,
            ..e.seconds
        },
        fingerprint: String::new(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::decomposition::Optimizer;

    pub(crate) fn settings() -> RunSettings {
        let mut d = DecompositionOptions::sgd(500);
        d.sgd_generalizable = Optimizer {
            niter: 500,
            ..Optimizer::generalizable()
        }
        .with_lr(1e-4);
        d.sgd_traditional = Optimizer {
            niter: 500,
            ..Optimizer::traditional()
        }
        .with_lr(1e-3);
        RunSettings {
            task: "demo".into(),
            models: vec!["A".into(), "B".into()],
            decomposition: d,
            t_grid: crate::metrics::paper_t_grid(),
            null: NullSettings {
                replicates: 2,
                seed: 1,
            },
        }
    }

    pub(crate) fn samples() -> Vec<SampleValues> {
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
    fn run_writes_results_and_resumes_only_identical_work() {
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(dir.path(), settings());
        let samples = samples();
        let bounds = run.gamma_bounds(&samples).unwrap();
        for s in &samples {
            assert!(!run.process(s, &bounds).unwrap().1);
        }
        assert!(dir.path().join("samples/s_0.json").exists());
        // a second pass reuses every saved result
        for s in &samples {
            assert!(run.process(s, &bounds).unwrap().1);
        }
        // other settings, other bounds or other values invalidate them
        let mut other = settings();
        other.decomposition.alpha = 0.5;
        let r = Run::new(dir.path(), other);
        assert!(!r.process(&samples[0], &bounds).unwrap().1);
        assert!(!run.process(&samples[1], &[1.0, 1.0]).unwrap().1);
        let mut changed = samples[2].clone();
        changed.values[0][3] += 1e-12;
        assert!(!run.process(&changed, &bounds).unwrap().1);
    }

    #[test]
    fn the_fingerprint_covers_the_algorithm_version_and_every_setting() {
        let run = Run::new(Path::new("unused"), settings());
        let s = &samples()[0];
        let fp = run.fingerprint(&[1.0, 1.0], s).unwrap();
        let mut other = settings();
        other.decomposition.sgd_traditional.momentum = 0.8;
        let fp2 = Run::new(Path::new("unused"), other)
            .fingerprint(&[1.0, 1.0], s)
            .unwrap();
        assert_ne!(fp, fp2);
        let mut other = settings();
        other.decomposition.solver = SolverKind::Sgd;
        other.decomposition.eps_ratio = 0.03;
        assert_ne!(
            fp,
            Run::new(Path::new("unused"), other)
                .fingerprint(&[1.0, 1.0], s)
                .unwrap()
        );
        // the nulls' settings change no extraction: not part of the fingerprint (so results
        // saved before the nulls existed stay valid)
        let mut other = settings();
        other.null = NullSettings {
            replicates: 40,
            seed: 9,
        };
        assert_eq!(
            fp,
            Run::new(Path::new("unused"), other)
                .fingerprint(&[1.0, 1.0], s)
                .unwrap()
        );
        // the version is part of the key: the same JSON with another version hashes differently
        let text = format!("{ALGORITHM_VERSION}");
        assert!(!text.is_empty());
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
