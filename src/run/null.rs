//! The nulls of a run's sharing ([`crate::metrics::sharing`]): how much top-k sharing each method
//! produces when the models' coalitions are relabelled (permutation null) or when model 1 on
//! sample i meets the other models on another sample σ(i) (cross-sample null), R replicates each.
//!
//! Traditional and Harsanyi interactions come from each model alone, so their nulls relabel or
//! re-pair the interactions already extracted
//! ([`permutation_null_interactions`], [`cross_sample_null_interactions`]: no new extraction).
//! Generalizable extraction couples the models and is run again on every relabelled or re-paired
//! sample, with the run's own decomposition options and γ̂ bounds ([`Run::options`]). These
//! re-extractions are the expensive part (R·S per null for S samples); each is saved under
//! `<out>/null/<null>/r<replicate>/<sample>.json` as soon as it is done and reused when the run is
//! resumed — only when its key matches: the run's settings, code version and γ̂ bounds, the
//! fingerprints of the samples it extracts (which hash their exact values), the null, the
//! replicate and the permutations; so nothing stale is reused. The permutations and derangements are those
//! [`draw_permutations`] and [`draw_derangement`] give for the seed, the same as
//! [`crate::metrics::sharing::permutation_null`] and
//! [`crate::metrics::sharing::cross_sample_null`] draw: a run's null equals theirs.

use std::path::PathBuf;
use std::time::Instant;

use super::{safe_id, ExtractionRecord, Run, SampleResult, SampleValues};
use crate::decomposition::{decompose, Method};
use crate::export::{read_json, write_json};
use crate::interactions::Interactions;
use crate::metrics::sharing::{
    self, cross_sample_null_interactions, draw_derangement, draw_permutations,
    permutation_null_interactions, NullCurve,
};
use crate::progress::{emit, Event, Observer};
use crate::util::sha256_hex;
use crate::{Error, Result};

/// Settings of a run's nulls (part of [`super::RunSettings`], not of any fingerprint: changing R
/// never invalidates a saved extraction).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NullSettings {
    /// R: replicates of the permutation null and of the cross-sample null (default
    /// [`sharing::DEFAULT_REPLICATES`] = 8); 0 disables both.
    pub replicates: usize,
    /// Seed of the permutations and derangements (replicate r uses ChaCha8 stream r, so the
    /// first R' replicates of a larger R are the same and are reused).
    pub seed: u64,
}

impl Default for NullSettings {
    fn default() -> Self {
        NullSettings {
            replicates: sharing::DEFAULT_REPLICATES,
            seed: 0,
        }
    }
}

/// The two nulls of one method (absent when they could not be computed; see
/// [`RunNulls::notes`]).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MethodNulls {
    pub permutation: Option<NullCurve>,
    pub cross_sample: Option<NullCurve>,
}

/// The nulls of a run's three methods and what the generalizable re-extractions cost.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunNulls {
    pub settings: NullSettings,
    pub k: Vec<usize>,
    pub generalizable: MethodNulls,
    pub traditional: MethodNulls,
    pub harsanyi: MethodNulls,
    /// Why a null is missing or weak (R = 0, fewer than 2 samples of one n, tiny n).
    pub notes: Vec<String>,
    /// Generalizable re-extractions computed by this call, and reused from `<out>/null/`.
    pub extractions: usize,
    pub reused: usize,
    /// Seconds of the re-extractions computed by this call (the saved ones: when they were
    /// computed, see `recorded_seconds`).
    pub seconds: f64,
    /// Seconds of all re-extractions as recorded when each was computed.
    pub recorded_seconds: f64,
    /// Re-extractions whose solver did not converge.
    pub not_converged: usize,
    /// The largest certified relative duality gap of the re-extractions (optimal solver).
    pub max_duality_gap: Option<f64>,
}

impl RunNulls {
    /// The nulls of one method ("generalizable", "traditional", "harsanyi").
    pub fn method(&self, method: &str) -> &MethodNulls {
        match method {
            "generalizable" => &self.generalizable,
            "traditional" => &self.traditional,
            _ => &self.harsanyi,
        }
    }
}

/// One saved generalizable re-extraction of a null.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct NullExtraction {
    /// "permutation" or "cross-sample".
    null: String,
    replicate: usize,
    /// The sample of model 1.
    sample: String,
    /// Cross-sample null: the sample of models 2..m.
    partner: Option<String>,
    /// Permutation null: π of models 2..m (`perm[i]` = π(i)).
    permutations: Vec<Vec<usize>>,
    /// Reorganised, one per model.
    interactions: Vec<Interactions>,
    record: ExtractionRecord,
    fingerprint: String,
}

/// What one re-extraction is: which null, replicate, samples, and the values it extracts.
struct Job<'a> {
    null: &'static str,
    replicate: usize,
    sample: &'a SampleResult,
    partner: Option<&'a SampleResult>,
    permutations: Vec<Vec<usize>>,
    values: Vec<Vec<f64>>,
}

/// How many re-extractions were done and reused, and what they cost.
#[derive(Default)]
struct Tally {
    done: usize,
    extractions: usize,
    reused: usize,
    seconds: f64,
    recorded_seconds: f64,
    not_converged: usize,
    max_gap: Option<f64>,
}

impl Run {
    fn null_path(&self, null: &str, replicate: usize, id: &str) -> PathBuf {
        self.out
            .join("null")
            .join(null)
            .join(format!("r{replicate}"))
            .join(format!("{}.json", safe_id(id)))
    }

    /// One generalizable re-extraction, or its saved result when its fingerprint matches.
    fn null_extraction(
        &self,
        job: &Job<'_>,
        gamma_bounds: &[f64],
        tally: &mut Tally,
        observer: &mut Option<&mut Observer<'_>>,
    ) -> Result<Vec<Interactions>> {
        let what = match job.partner {
            Some(p) => format!(
                "{} null r{}: {} with {}",
                job.null, job.replicate, job.sample.id, p.id
            ),
            None => format!("{} null r{}: {}", job.null, job.replicate, job.sample.id),
        };
        // The key of this re-extraction: the run's settings, code version and γ̂ bounds (the
        // fingerprint of a sample without values), the fingerprints of the samples whose values
        // it extracts (each hashes its exact values), the null, the replicate and the
        // permutations. Not the values themselves: a resumed run reads them back from
        // samples/*.json, where a float may come back one ulp off, and would then never reuse a
        // saved null extraction.
        let settings_only = SampleValues {
            id: String::new(),
            text: String::new(),
            players: Vec::new(),
            values: Vec::new(),
            value_seconds: 0.0,
        };
        let key = serde_json::json!({
            "run": self.fingerprint(gamma_bounds, &settings_only)?,
            "null": job.null,
            "replicate": job.replicate,
            "sample": job.sample.fingerprint,
            "partner": job.partner.map(|p| p.fingerprint.as_str()),
            "permutations": job.permutations,
        });
        let fp = sha256_hex(key.to_string().as_bytes());
        let path = self.null_path(job.null, job.replicate, &job.sample.id);
        let saved = read_json::<NullExtraction>(&path)
            .ok()
            .filter(|s| s.fingerprint == fp);
        let (result, detail) = match saved {
            Some(s) => {
                tally.reused += 1;
                (s, format!("{what}: reused the saved extraction"))
            }
            None => {
                let refs: Vec<&[f64]> = job.values.iter().map(|v| v.as_slice()).collect();
                let start = Instant::now();
                let d = decompose(
                    &refs,
                    Method::Generalizable,
                    &self.options(gamma_bounds),
                    None,
                )?;
                let seconds = start.elapsed().as_secs_f64();
                let mut record = ExtractionRecord::of("generalizable", &d);
                record.seconds = seconds;
                let s = NullExtraction {
                    null: job.null.to_string(),
                    replicate: job.replicate,
                    sample: job.sample.id.clone(),
                    partner: job.partner.map(|p| p.id.clone()),
                    permutations: job.permutations.clone(),
                    interactions: d.reorganised(),
                    record,
                    fingerprint: fp,
                };
                write_json(&path, &s)?;
                tally.extractions += 1;
                tally.seconds += seconds;
                (s, format!("{what}: {seconds:.2} s"))
            }
        };
        tally.recorded_seconds += result.record.seconds;
        tally.not_converged += !result.record.converged as usize;
        if let Some(g) = result.record.duality_gap {
            tally.max_gap = Some(tally.max_gap.map_or(g, |m: f64| m.max(g)));
        }
        tally.done += 1;
        emit(
            observer,
            Event::Step {
                done: tally.done,
                detail: &detail,
            },
        );
        if result.interactions.len() != job.values.len() {
            return Err(Error::BadFile {
                path: path.clone(),
                why: "a saved null extraction has the wrong number of models".into(),
            });
        }
        Ok(result.interactions)
    }

    /// The permutation and cross-sample nulls of every method of this run's `results` at `ks`,
    /// with the settings' R and seed: see the module docs. `gamma_bounds` are the run's (those
    /// the results were extracted with). Reports a phase "null" with one step per generalizable
    /// re-extraction.
    ///
    /// Nothing is computed (every null absent, with a note) for R = 0 or fewer than 2 models; the
    /// cross-sample null is absent (with a note) when no two samples have the same n, and leaves
    /// out, with a note, the samples alone of their n. Errors: no results, results with another
    /// number of models than the run's, a k = 0, an extraction's error.
    pub fn nulls(
        &self,
        results: &[SampleResult],
        gamma_bounds: &[f64],
        ks: &[usize],
        observer: &mut Option<&mut Observer<'_>>,
    ) -> Result<RunNulls> {
        if results.is_empty() {
            return Err(Error::Invalid("no samples were processed".into()));
        }
        let m = self.settings.models.len();
        if let Some(r) = results.iter().find(|r| r.values.len() != m) {
            return Err(Error::WrongModelCount(format!(
                "sample {} has {} models, the run has {m}",
                r.id,
                r.values.len()
            )));
        }
        let settings = self.settings.null;
        let (reps, seed) = (settings.replicates, settings.seed);
        let mut out = RunNulls {
            settings,
            k: ks.to_vec(),
            generalizable: MethodNulls::default(),
            traditional: MethodNulls::default(),
            harsanyi: MethodNulls::default(),
            notes: Vec::new(),
            extractions: 0,
            reused: 0,
            seconds: 0.0,
            recorded_seconds: 0.0,
            not_converged: 0,
            max_duality_gap: None,
        };
        if reps == 0 {
            out.notes
                .push("nulls disabled (R = 0 replicates): no null, no excess".into());
            return Ok(out);
        }
        if m < 2 {
            out.notes.push(format!(
                "{m} model: sharing and its nulls need at least 2 models"
            ));
            return Ok(out);
        }
        let shapes: Vec<(usize, usize)> = results
            .iter()
            .map(|r| (r.values[0].len().trailing_zeros() as usize, m))
            .collect();
        let ns: Vec<usize> = shapes.iter().map(|s| s.0).collect();
        if let Some(&small) = ns.iter().filter(|&&n| n <= 3).min() {
            out.notes.push(format!(
                "n = {small}: only {} relabellings of the players exist, so the permutation null \
                 often draws the identity and is weak",
                (1..=small).product::<usize>()
            ));
        }
        let (sigma0, alone) = draw_derangement(seed, 0, &ns);
        let cross = sigma0.iter().any(Option::is_some);
        if !cross {
            out.notes.push(format!(
                "cross-sample null not computed: it pairs each sample with another of the same n, \
                 and no two of the {} samples have the same n",
                results.len()
            ));
        } else if !alone.is_empty() {
            let ids: Vec<&str> = alone.iter().map(|&i| results[i].id.as_str()).collect();
            out.notes.push(format!(
                "cross-sample null leaves out {} sample(s) alone of their n: {}",
                alone.len(),
                ids.join(", ")
            ));
        }

        // Traditional and Harsanyi: relabel or re-pair the interactions already extracted.
        for method in ["traditional", "harsanyi"] {
            let per: Vec<Vec<&Interactions>> = results
                .iter()
                .map(|r| r.method(method).iter().collect())
                .collect();
            let nulls = MethodNulls {
                permutation: Some(permutation_null_interactions(&per, ks, reps, seed)?),
                cross_sample: if cross {
                    Some(cross_sample_null_interactions(&per, ks, reps, seed)?)
                } else {
                    None
                },
            };
            match method {
                "traditional" => out.traditional = nulls,
                _ => out.harsanyi = nulls,
            }
        }

        // Generalizable: re-extract every relabelled or re-paired sample.
        let pairs: usize = if cross {
            (0..reps)
                .map(|r| {
                    draw_derangement(seed, r, &ns)
                        .0
                        .iter()
                        .filter(|s| s.is_some())
                        .count()
                })
                .sum()
        } else {
            0
        };
        emit(
            observer,
            Event::Phase {
                name: "null",
                total: reps * results.len() + pairs,
                unit: "null extractions",
            },
        );
        let mut tally = Tally::default();
        let mut perm_curves = Vec::with_capacity(reps);
        for r in 0..reps {
            let perms = draw_permutations(seed, r, &shapes);
            let mut per: Vec<Vec<Interactions>> = Vec::with_capacity(results.len());
            for (res, perms) in results.iter().zip(perms) {
                let mut values = vec![res.values[0].clone()];
                for (v, p) in res.values[1..].iter().zip(&perms) {
                    values.push(sharing::relabel_values(v, p)?);
                }
                let job = Job {
                    null: "permutation",
                    replicate: r,
                    sample: res,
                    partner: None,
                    permutations: perms,
                    values,
                };
                per.push(self.null_extraction(&job, gamma_bounds, &mut tally, observer)?);
            }
            perm_curves.push(curve(&per, ks)?);
        }
        out.generalizable.permutation = Some(NullCurve::from_replicates(
            ks,
            &perm_curves,
            (0..results.len()).collect(),
            vec![],
        )?);
        if cross {
            let mut curves = Vec::with_capacity(reps);
            let mut skipped = Vec::new();
            for r in 0..reps {
                let (sigma, alone) = draw_derangement(seed, r, &ns);
                skipped = alone;
                let mut per: Vec<Vec<Interactions>> = Vec::new();
                for (i, partner) in sigma.iter().enumerate() {
                    let Some(j) = *partner else { continue };
                    let mut values = vec![results[i].values[0].clone()];
                    values.extend(results[j].values[1..].iter().cloned());
                    let job = Job {
                        null: "cross-sample",
                        replicate: r,
                        sample: &results[i],
                        partner: Some(&results[j]),
                        permutations: vec![],
                        values,
                    };
                    per.push(self.null_extraction(&job, gamma_bounds, &mut tally, observer)?);
                }
                curves.push(curve(&per, ks)?);
            }
            let used = (0..results.len())
                .filter(|s| !skipped.contains(s))
                .collect();
            out.generalizable.cross_sample =
                Some(NullCurve::from_replicates(ks, &curves, used, skipped)?);
        }
        out.extractions = tally.extractions;
        out.reused = tally.reused;
        out.seconds = tally.seconds;
        out.recorded_seconds = tally.recorded_seconds;
        out.not_converged = tally.not_converged;
        out.max_duality_gap = tally.max_gap;
        emit(
            observer,
            Event::Note(&format!(
                "nulls (R = {reps}): {} generalizable re-extractions in {:.1} s, {} reused",
                tally.extractions, tally.seconds, tally.reused
            )),
        );
        Ok(out)
    }
}

fn curve(per: &[Vec<Interactions>], ks: &[usize]) -> Result<sharing::SharingCurve> {
    let refs: Vec<Vec<&Interactions>> = per.iter().map(|s| s.iter().collect()).collect();
    sharing::sharing_curve(&refs, ks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;
    use crate::run::tests::{samples, settings};

    #[test]
    fn nulls_are_saved_resumed_and_equal_the_library_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(dir.path(), settings());
        let samples = samples();
        let bounds = run.gamma_bounds(&samples).unwrap();
        let results: Vec<SampleResult> = samples
            .iter()
            .map(|s| run.process(s, &bounds).unwrap().0)
            .collect();
        let ks = metrics::k_grid_checked(5, &run.settings.t_grid);
        let mut events = Vec::new();
        let mut obs = |e: &Event<'_>| match e {
            Event::Phase { name, total, .. } => events.push(format!("{name} {total}")),
            Event::Step { detail, .. } => events.push(detail.to_string()),
            _ => {}
        };
        let first = {
            let o: &mut Observer<'_> = &mut obs;
            run.nulls(&results, &bounds, &ks, &mut Some(o)).unwrap()
        };
        // R = 2 replicates × 3 samples × (permutation + cross-sample)
        assert_eq!((first.extractions, first.reused), (12, 0));
        assert_eq!(events[0], "null 12");
        assert_eq!(events.len(), 13);
        assert!(
            events[1].starts_with("permutation null r0: s/0: "),
            "{events:?}"
        );
        assert!(dir.path().join("null/permutation/r1/s_2.json").exists());
        assert!(dir.path().join("null/cross-sample/r0/s_0.json").exists());
        assert!(first.seconds > 0.0 && first.recorded_seconds >= first.seconds * 0.999);

        // the same as the library's nulls with the run's extraction and seed
        let values: Vec<Vec<&[f64]>> = results
            .iter()
            .map(|r| r.values.iter().map(|v| v.as_slice()).collect())
            .collect();
        let ext = sharing::generalizable_extractor(run.options(&bounds));
        let p = sharing::permutation_null(&values, &ext, &ks, 2, 1).unwrap();
        assert_eq!(first.generalizable.permutation.as_ref(), Some(&p));
        let c = sharing::cross_sample_null(&values, &ext, &ks, 2, 1).unwrap();
        assert_eq!(first.generalizable.cross_sample.as_ref(), Some(&c));

        // a second call reuses every saved extraction and gives the same nulls
        let again = run.nulls(&results, &bounds, &ks, &mut None).unwrap();
        assert_eq!((again.extractions, again.reused), (0, 12));
        assert_eq!(again.seconds, 0.0);
        let close = |a: &NullCurve, b: &NullCurve| {
            for (x, y) in a
                .s_and_mean
                .iter()
                .chain(&a.s_or_sd)
                .zip(b.s_and_mean.iter().chain(&b.s_or_sd))
            {
                assert!((x - y).abs() < 1e-12, "{x} vs {y}");
            }
        };
        close(
            again.generalizable.permutation.as_ref().unwrap(),
            first.generalizable.permutation.as_ref().unwrap(),
        );
        close(
            again.generalizable.cross_sample.as_ref().unwrap(),
            first.generalizable.cross_sample.as_ref().unwrap(),
        );

        // a resumed run reads the values back from samples/*.json, where a float may come back
        // an ulp off: the saved null extractions are still reused (keyed by the samples'
        // fingerprints, not their values)
        let mut read_back = results.clone();
        for r in &mut read_back {
            for v in r.values.iter_mut().flatten() {
                *v = f64::from_bits(v.to_bits() + 1);
            }
        }
        let resumed = run.nulls(&read_back, &bounds, &ks, &mut None).unwrap();
        assert_eq!((resumed.extractions, resumed.reused), (0, 12));
        assert_eq!(resumed.generalizable, first.generalizable);

        // a corrupted file is recomputed, not trusted
        std::fs::write(dir.path().join("null/permutation/r0/s_0.json"), "{").unwrap();
        let fixed = run.nulls(&results, &bounds, &ks, &mut None).unwrap();
        assert_eq!((fixed.extractions, fixed.reused), (1, 11));

        // a larger R reuses the first replicates (the same permutations), a new seed none
        let mut more = Run::new(dir.path(), settings());
        more.settings.null.replicates = 3;
        let r3 = more.nulls(&results, &bounds, &ks, &mut None).unwrap();
        assert_eq!((r3.extractions, r3.reused), (6, 12));
        more.settings.null.seed = 2;
        more.settings.null.replicates = 1;
        let seeded = more.nulls(&results, &bounds, &ks, &mut None).unwrap();
        // new permutations; a derangement of 3 samples may be drawn again (there are 2), and
        // then its saved extraction is the same work and is reused
        assert!(seeded.extractions >= 3, "{seeded:?}");

        // other extraction settings or bounds never reuse a saved null extraction
        let mut other = Run::new(dir.path(), settings());
        other.settings.decomposition.alpha = 0.5;
        other.settings.null.replicates = 1;
        assert_eq!(
            other
                .nulls(&results, &bounds, &ks, &mut None)
                .unwrap()
                .reused,
            0
        );
        let shifted: Vec<f64> = bounds.iter().map(|b| b * 1.5).collect();
        let r = Run::new(dir.path(), settings());
        assert_eq!(
            r.nulls(&results, &shifted, &ks, &mut None).unwrap().reused,
            0
        );
    }

    #[test]
    fn one_model_or_r_zero_computes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.models.truncate(1);
        let run = Run::new(dir.path(), s);
        let mut samples = samples();
        for x in &mut samples {
            x.values.truncate(1);
        }
        let bounds = run.gamma_bounds(&samples).unwrap();
        let results: Vec<SampleResult> = samples
            .iter()
            .map(|x| run.process(x, &bounds).unwrap().0)
            .collect();
        let nulls = run.nulls(&results, &bounds, &[1, 2], &mut None).unwrap();
        assert!(nulls.generalizable.permutation.is_none() && nulls.notes[0].contains("2 models"));
        assert!(!dir.path().join("null").exists());
        assert!(run.nulls(&[], &bounds, &[1], &mut None).is_err());
    }
}
