//! The paper's three tasks with what can be installed here, as short descriptions ([`Task`]):
//! which models, which samples in which order, which qualify, the paper's numbers. One driver,
//! [`replicate`], runs any of them: test accuracy, each qualifying sample's games evaluated
//! through the value cache, the run's γ̂ bounds, the per-sample extractions (resumable), the
//! summary and the report. Adding a task means writing one file with one [`Task`].
//!
//! | task | file | models | samples |
//! |---|---|---|---|
//! | 1 sentiment | [`sentiment`] | MiniLM-L3 vs MiniLM-L6, fine-tuned | Rotten Tomatoes test sentences |
//! | 2 next word | [`next_word`] | SmolLM2-135M vs Gemma-3-270M | first 30 words of NYT editorials |
//! | 3 digits | [`digits`] | ResNet-20 vs VGG-16-style CNN | MNIST "3" test images |

pub mod digits;
pub mod next_word;
pub mod sentiment;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::coalition::MAX_PLAYERS;
use crate::decomposition::DecompositionOptions;
use crate::export::{read_json, write_json};
use crate::game::{evaluate, Budget, EvalOptions, Game, ValueCache};
use crate::metrics;
use crate::progress::{emit, Event, Observer};
use crate::run::report::write_report;
use crate::run::study::Study;
use crate::run::summary::{summarize, PaperNumbers};
use crate::run::{NullSettings, Run, RunSettings, SampleResult, SampleValues};
use crate::{Error, Result};

/// What the nulls of the sharing add to a run, in words (method §4.1): R replicates of two nulls
/// re-run the generalizable extraction up to 2·R·samples times; traditional and Harsanyi need
/// none.
fn null_cost(replicates: usize, samples: usize, models: usize) -> String {
    if replicates == 0 || models < 2 {
        "no nulls of the sharing (R = 0 or one model)".into()
    } else {
        format!(
            "the nulls of the sharing (R = {replicates}) add up to {} generalizable re-extractions (2·R per sample; --null-permutations 0: none)",
            2 * replicates * samples
        )
    }
}

/// One candidate sample of a task.
pub enum Candidate<'a> {
    /// It does not qualify; the reason is counted and reported (e.g. "fewer than 10 content
    /// words").
    Skip(String),
    /// It qualifies: one game per model, all over the same players.
    Sample {
        id: String,
        text: String,
        games: Vec<Box<dyn Game + 'a>>,
    },
}

/// A task of the paper: see the module docs.
pub trait Task {
    /// What the run is, for summaries ("sentiment (Rotten Tomatoes test sentences)").
    fn description(&self) -> String;
    /// What a sample is called in progress lines ("sentences", "images", "prompts").
    fn unit(&self) -> &'static str;
    fn model_names(&self) -> Vec<String>;
    /// The paper's numbers for this task, printed beside ours.
    fn paper(&self) -> PaperNumbers;
    /// The players per sample.
    fn n_players(&self) -> usize;
    /// The largest n the task's games support (default [`MAX_PLAYERS`]).
    fn max_players(&self) -> usize {
        MAX_PLAYERS
    }
    /// Test accuracy of each model (or another rate, named by its key), computed once and cached
    /// by the task in `out`. Called after the candidates were examined.
    fn accuracy(
        &self,
        out: &Path,
        observer: Option<&mut Observer<'_>>,
    ) -> Result<BTreeMap<String, f64>>;
    /// How many candidate samples there are, in the run's order.
    fn candidates(&self) -> usize;
    /// Candidate `i`: skipped with a reason, or its games.
    fn candidate(&self, i: usize) -> Result<Candidate<'_>>;
    /// Extra outputs after the report (e.g. the digits' patch figure, the prompts' records);
    /// returns the names of the files written.
    fn finish(&self, _study: &Study) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// Settings every task shares.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Samples to explain.
    pub samples: usize,
    /// The run's directory (samples/, summary.json, figures.html, comparison.md, …).
    pub out: PathBuf,
    /// The value cache (default: `$INTERPRIM_CACHE/values`); `None`: no cache.
    pub cache: Option<ValueCache>,
    /// Cost limits of each game's evaluation.
    pub budget: Budget,
    pub decomposition: DecompositionOptions,
    /// Give up after examining this many candidates (default: all).
    pub max_candidates: Option<usize>,
    /// The nulls of the run's sharing (default R = 8 replicates, seed 0; R = 0: none).
    pub null: NullSettings,
}

impl RunOptions {
    /// `samples` samples into `out` with the default cache, budget and extraction.
    pub fn new(samples: usize, out: impl Into<PathBuf>) -> Self {
        RunOptions {
            samples,
            out: out.into(),
            cache: Some(ValueCache::default_cache()),
            budget: Budget::default(),
            decomposition: DecompositionOptions::default(),
            max_candidates: None,
            null: NullSettings::default(),
        }
    }
}

/// Where notebooks keep their runs: `<cache root>/notebooks`.
pub fn notebook_dir() -> PathBuf {
    crate::util::cache_root().join("notebooks")
}

/// How many samples the replication notebooks use: `INTERPRIM_NOTEBOOK_SAMPLES` if set (e.g. 200
/// for the paper's full run), else `default`.
pub fn notebook_samples(default: usize) -> usize {
    env_count("INTERPRIM_NOTEBOOK_SAMPLES", default)
}

/// A positive count from the environment variable `name`, else `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// n must lie in 1..=max: checked before anything is loaded, with the rule in the message.
pub fn check_players(n: usize, max: usize) -> Result<()> {
    if n == 0 || n > max {
        return Err(Error::InvalidPlayers(format!(
            "n = {n} players: this task explains between 1 and {max} players per sample (2^n masked inputs per model); choose --n in 1..={max}"
        )));
    }
    Ok(())
}

/// Refuse what cannot run before any computing (before models are loaded), with the rule: the
/// sample count, n in 1..=max, 2^n within the budget, the extraction memory of `models` models.
pub fn check_run(n: usize, max: usize, models: usize, opts: &RunOptions) -> Result<()> {
    if opts.samples == 0 {
        return Err(Error::InvalidSetting {
            name: "samples",
            value: "0".into(),
            why: "a run needs at least one sample (--samples ≥ 1)",
        });
    }
    check_players(n, max)?;
    let masked = 1u64 << n;
    if masked > opts.budget.max_masked_inputs {
        return Err(Error::OverBudget(format!(
            "n = {n} players means 2^{n} = {masked} masked inputs per model and sample, over the budget of {}; choose a smaller --n or raise --max-masked-inputs",
            opts.budget.max_masked_inputs
        )));
    }
    let mib = crate::decomposition::memory_mib(n, models);
    if mib > opts.decomposition.memory_limit_mib {
        return Err(Error::OutOfMemoryBudget {
            n,
            models,
            need_mib: mib,
            limit_mib: opts.decomposition.memory_limit_mib,
        });
    }
    Ok(())
}

/// Run `task` (or resume it): see the module docs. Writes the run's files under `opts.out` and
/// returns the run in memory.
///
/// Errors: settings that cannot run (refused before any computing), missing assets, a failing
/// model, no qualifying sample.
pub fn replicate(
    task: &dyn Task,
    opts: &RunOptions,
    mut observer: Option<&mut Observer<'_>>,
) -> Result<Study> {
    check_run(
        task.n_players(),
        task.max_players(),
        task.model_names().len(),
        opts,
    )?;
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let settings = RunSettings {
        task: task.description(),
        models: task.model_names(),
        decomposition: opts.decomposition.clone(),
        t_grid: metrics::paper_t_grid(),
        null: opts.null,
    };
    let run = Run::new(&opts.out, settings);
    let eval = EvalOptions {
        centre: true,
        cache: opts.cache.clone(),
        budget: opts.budget,
    };

    // What the run will cost, before it starts (the first uncached game adds a measured estimate).
    let (n, m) = (task.n_players(), task.model_names().len());
    emit(
        &mut observer,
        Event::Note(&format!(
            "{}: up to {} {}, n = {n}: 2^{n} = {} masked inputs per model and sample, {m} models; extraction memory about {} MiB; {}",
            task.description(),
            opts.samples,
            task.unit(),
            1u64 << n,
            crate::decomposition::memory_mib(n, m),
            null_cost(opts.null.replicates, opts.samples, m)
        )),
    );

    // Phase 1: the values of every qualifying sample.
    emit(
        &mut observer,
        Event::Phase {
            name: "values",
            total: opts.samples,
            unit: task.unit(),
        },
    );
    let mut samples: Vec<SampleValues> = Vec::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let limit = opts.max_candidates.unwrap_or(usize::MAX);
    for i in 0..task.candidates().min(limit) {
        if samples.len() == opts.samples {
            break;
        }
        let (id, text, games) = match task.candidate(i)? {
            Candidate::Skip(reason) => {
                *skipped.entry(reason).or_default() += 1;
                continue;
            }
            Candidate::Sample { id, text, games } => (id, text, games),
        };
        let mut values = Vec::with_capacity(games.len());
        let mut cached = true;
        for g in &games {
            let o = observer.as_mut().map(|o| &mut **o as &mut Observer<'_>);
            let v = evaluate(g.as_ref(), &eval, o)?;
            cached &= v.from_cache;
            values.push(v);
        }
        let seconds: f64 = values.iter().map(|v| v.seconds).sum();
        let detail = format!(
            "{id}: {} masked inputs per model{}",
            values[0].v.len(),
            if cached {
                " (cached)".to_string()
            } else {
                format!(" in {seconds:.1} s")
            }
        );
        samples.push(SampleValues {
            id,
            text,
            players: values[0].players.clone(),
            values: values.into_iter().map(|v| v.v).collect(),
            value_seconds: seconds,
        });
        emit(
            &mut observer,
            Event::Step {
                done: samples.len(),
                detail: &detail,
            },
        );
    }
    if samples.len() < opts.samples {
        let reasons: Vec<String> = skipped.iter().map(|(r, c)| format!("{c} {r}")).collect();
        emit(
            &mut observer,
            Event::Note(&format!(
                "only {} of {} {} qualify ({})",
                samples.len(),
                opts.samples,
                task.unit(),
                if reasons.is_empty() {
                    "no more candidates".to_string()
                } else {
                    reasons.join(", ")
                }
            )),
        );
    }
    if samples.is_empty() {
        let reasons: Vec<String> = skipped.iter().map(|(r, c)| format!("{c} {r}")).collect();
        return Err(Error::Invalid(format!(
            "no sample qualified for {} ({}); try a smaller --n",
            task.description(),
            reasons.join(", ")
        )));
    }

    // Test accuracy (after the samples, so that rates over the examined candidates are known).
    let accuracy = task.accuracy(
        &opts.out,
        observer.as_mut().map(|o| &mut **o as &mut Observer<'_>),
    )?;

    let study = study_from_values(
        &run,
        &samples,
        accuracy,
        task.paper(),
        task.unit(),
        &mut observer,
    )?;
    write_report(&study)?;
    let mut files = vec![
        "summary.json".to_string(),
        "figures.html".into(),
        "comparison.md".into(),
    ];
    files.extend(task.finish(&study)?);
    emit(
        &mut observer,
        Event::Note(&format!(
            "wrote {{{}}}, samples/{}",
            files.join(", "),
            if study.summary.nulls.extractions > 0 {
                " and null/"
            } else {
                ""
            }
        )),
    );
    Ok(study)
}

/// Phases 2 and 3 of a run, from the samples' values on: the extractions, the nulls of the
/// sharing (generalizable re-extractions saved under `<out>/null/`) and the summary, as a
/// [`Study`] (nothing written besides the per-sample and null results; [`replicate`] writes the
/// report). `accuracy` and `paper` go into the summary as given; `unit` names the samples in
/// progress events. Saved results are reused when their fingerprints match.
///
/// Errors: no samples, samples of mismatched sizes, or any extraction's error.
pub fn study_from_values(
    run: &Run,
    samples: &[SampleValues],
    accuracy: BTreeMap<String, f64>,
    paper: PaperNumbers,
    unit: &str,
    observer: &mut Option<&mut Observer<'_>>,
) -> Result<Study> {
    let bounds = run.gamma_bounds(samples)?;
    let results = extract_samples(run, samples, &bounds, unit, observer)?;
    let n = results[0].values[0].len().trailing_zeros() as usize;
    let ks = metrics::k_grid_checked(n, &run.settings.t_grid);
    let replicates = run.settings.null.replicates;
    if replicates > 0 && run.settings.models.len() >= 2 {
        let per =
            results.iter().map(|r| r.seconds.generalizable).sum::<f64>() / results.len() as f64;
        let most = 2 * replicates * results.len();
        emit(
            observer,
            Event::Note(&format!(
                "nulls (R = {replicates}): up to {most} generalizable re-extractions, about {:.0} s at this run's {per:.2} s per generalizable extraction (saved ones under null/ are reused)",
                most as f64 * per
            )),
        );
    }
    let nulls = run.nulls(&results, &bounds, &ks, observer)?;
    for note in &nulls.notes {
        emit(observer, Event::Note(note));
    }
    let summary = summarize(&run.settings, &results, &bounds, accuracy, Some(&nulls))?;
    Ok(Study {
        out: run.out.clone(),
        settings: run.settings.clone(),
        summary,
        results,
        gamma_bounds: bounds,
        paper,
    })
}

/// Phase 2 of a run: each sample's extractions, or its saved result when an interrupted run is
/// resumed.
pub fn extract_samples(
    run: &Run,
    samples: &[SampleValues],
    gamma_bounds: &[f64],
    unit: &str,
    observer: &mut Option<&mut Observer<'_>>,
) -> Result<Vec<SampleResult>> {
    emit(
        observer,
        Event::Phase {
            name: "extract",
            total: samples.len(),
            unit,
        },
    );
    let mut results: Vec<SampleResult> = Vec::with_capacity(samples.len());
    for s in samples {
        let (r, reused) = run.process(s, gamma_bounds)?;
        let detail = if reused {
            format!("{}: reused the saved result", s.id)
        } else {
            format!(
                "{}: generalizable {:.2} s, traditional {:.2} s",
                s.id, r.seconds.generalizable, r.seconds.traditional
            )
        };
        results.push(r);
        emit(
            observer,
            Event::Step {
                done: results.len(),
                detail: &detail,
            },
        );
    }
    Ok(results)
}

/// Accuracy entries cached in `<out>/accuracy.json` by key and a hash of what they depend on
/// (the weights): each is computed by `compute` only when missing or stale.
pub fn cached_accuracy(
    out: &Path,
    entries: &[(String, String, String)],
    mut compute: impl FnMut(usize) -> Result<f64>,
) -> Result<BTreeMap<String, f64>> {
    let path = out.join("accuracy.json");
    let mut cached: BTreeMap<String, (String, f64)> = read_json(&path).unwrap_or_default();
    let mut result = BTreeMap::new();
    for (i, (name, key, hash)) in entries.iter().enumerate() {
        let acc = match cached.get(key) {
            Some((h, acc)) if h == hash && !hash.is_empty() => *acc,
            _ => {
                let acc = compute(i)?;
                cached.insert(key.clone(), (hash.clone(), acc));
                acc
            }
        };
        result.insert(name.clone(), acc);
    }
    write_json(&path, &cached)?;
    Ok(result)
}
