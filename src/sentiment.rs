//! Task 1 of the paper (SST-2, BERT-base vs BERT-large) with what can be installed here: two
//! BERT-architecture classifiers of different depth sharing a tokenizer (MiniLM-L3 and MiniLM-L6,
//! fine-tuned on the Rotten Tomatoes sentences SST was built from), on held-out test sentences
//! that both classify correctly and that have at least n content words.
//!
//! Phase 1 evaluates every model on all 2^n masked versions of each sentence (cached on disk);
//! phase 2 extracts interactions per sample through [`crate::replication::Run`] (resumable), then
//! writes summary.json, figures.html and comparison.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

use crate::api::{sentence_values_observed, ExtractOptions, Stage, TextClassifier};
use crate::data::sentences::{default_split, LabeledSentence};
use crate::export::{read_json, write_json};
use crate::models::bert::HeadSource;
use crate::replication::{paper_sentiment, Run, RunSettings, SampleValues};
use crate::study::{bar_style, cache_root, extract_samples, notebook_dir, Progress, Study};
use crate::text::players::{PlayerSelection, Players};
use crate::text::value::ValueCache;
use crate::train::SentimentModel;
use crate::{metrics, Error, Result};

/// `interprim replicate sentiment`.
#[derive(clap::Args, Debug, Clone)]
pub struct SentimentArgs {
    /// Test sentences to explain (the paper: 200).
    #[arg(long, default_value_t = 20)]
    pub samples: usize,
    #[arg(long, default_value = "output/sentiment")]
    pub out: PathBuf,
    /// Players (content words) per sentence.
    #[arg(long, default_value_t = 10)]
    pub n: usize,
    /// Seed of the sentence order and of the player choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Iterations of both extractions.
    #[arg(long, default_value_t = 20000)]
    pub niter: usize,
    /// Weight of the L1 term in the generalizable loss.
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// Generalizable learning rate per unit of value range max_T |v(x_T) − v(x_∅)| (default: the API's).
    #[arg(long)]
    pub lr_generalizable: Option<f64>,
    /// Traditional learning rate per unit of value range (default: the API's).
    #[arg(long)]
    pub lr_traditional: Option<f64>,
    /// Masked sentences per forward pass.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Where v vectors are cached (default: .cache/values in this checkout).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Measure test accuracy on a seeded subset of this many test sentences (default: all).
    #[arg(long)]
    pub accuracy_sentences: Option<usize>,
}

impl Default for SentimentArgs {
    /// The CLI's defaults.
    fn default() -> Self {
        SentimentArgs {
            samples: 20,
            out: PathBuf::from("output/sentiment"),
            n: 10,
            seed: 0,
            niter: 20000,
            alpha: 0.1,
            lr_generalizable: None,
            lr_traditional: None,
            batch_size: None,
            cache_dir: None,
            accuracy_sentences: None,
        }
    }
}

impl SentimentArgs {
    /// The notebooks' run of `samples` sentences (otherwise the CLI's defaults): results in
    /// `<cache root>/notebooks/sentiment-<samples>`, values in the shared value cache, so that the
    /// first notebook computes and the others reuse.
    pub fn for_notebooks(samples: usize) -> Self {
        SentimentArgs {
            samples,
            out: notebook_dir().join(format!("sentiment-{samples}")),
            cache_dir: Some(ValueCache::default_dir()),
            ..Default::default()
        }
    }
}

fn file_sha(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// One default classifier: the cached base model with the committed fine-tuned weights, on the
/// CPU, named by [`SentimentModel::name`].
pub fn load_default_model(model: SentimentModel) -> Result<TextClassifier> {
    TextClassifier::load_with(
        model.name(),
        model.base_files(),
        HeadSource::FineTuned(model.committed_weights()),
        &Device::Cpu,
    )
}

/// The two default classifiers, smaller first.
pub fn load_default_models() -> Result<Vec<(SentimentModel, TextClassifier)>> {
    SentimentModel::ALL
        .iter()
        .map(|&m| Ok((m, load_default_model(m)?)))
        .collect()
}

fn predicted(model: &TextClassifier, sentence: &str) -> Result<usize> {
    let logits = model.logits(sentence)?;
    Ok(logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0))
}

/// Test accuracy of each model on the whole test split, cached in OUT/accuracy.json by the
/// weights' sha256.
fn test_accuracy(
    models: &[(SentimentModel, TextClassifier)],
    test: &[LabeledSentence],
    out: &Path,
    progress: Progress,
) -> Result<BTreeMap<String, f64>> {
    let path = out.join("accuracy.json");
    let mut cached: BTreeMap<String, (String, f64)> = if path.exists() {
        read_json(&path).unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let mut result = BTreeMap::new();
    for (m, c) in models {
        let sha = file_sha(&m.committed_weights())?;
        let key = format!("{} on {} sentences", m.name(), test.len());
        let acc = match cached.get(&key) {
            Some((s, acc)) if *s == sha => *acc,
            _ => {
                progress.line(&format!(
                    "test accuracy of {} on {} sentences…",
                    m.name(),
                    test.len()
                ));
                let bar = progress.bar(
                    test.len() as u64,
                    "test accuracy {msg} [{bar:30}] {pos}/{len}",
                );
                bar.set_message(m.name().to_string());
                let mut correct = 0usize;
                for s in test {
                    if predicted(c, &s.text)? == s.label as usize {
                        correct += 1;
                    }
                    bar.inc(1);
                }
                bar.finish_and_clear();
                let acc = correct as f64 / test.len().max(1) as f64;
                progress.line(&format!("  {}: {:.2}%", m.name(), 100.0 * acc));
                cached.insert(key, (sha, acc));
                acc
            }
        };
        result.insert(m.name().to_string(), acc);
    }
    write_json(&path, &cached)?;
    Ok(result)
}

/// Run the replication (the CLI: progress bars); returns the summary it wrote.
pub fn run_replicate_sentiment(args: &SentimentArgs) -> Result<crate::replication::Summary> {
    Ok(replicate_sentiment(args, Progress::Bars)?.summary)
}

/// Run the replication, or resume it: values come from the value cache and per-sample results
/// from `args.out/samples` when they were computed with the same settings. Writes summary.json,
/// figures.html and comparison.md, and returns everything in memory.
pub fn replicate_sentiment(args: &SentimentArgs, progress: Progress) -> Result<Study> {
    if args.samples == 0 {
        return Err(Error::Invalid("--samples must be at least 1".into()));
    }
    let models = load_default_models()?;
    let split = default_split()?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let accuracy_set = match args.accuracy_sentences {
        Some(k) => crate::data::sentences::seeded_subset(&split.test, k, args.seed),
        None => split.test.clone(),
    };
    let accuracy = test_accuracy(&models, &accuracy_set, &args.out, progress)?;

    let mut opts = ExtractOptions {
        n_players: args.n,
        seed: args.seed,
        ..Default::default()
    };
    opts.cache_dir = Some(
        args.cache_dir
            .clone()
            .unwrap_or_else(|| cache_root().join("values")),
    );
    if let Some(b) = args.batch_size {
        opts.batch_size = b;
    }
    let mut gen = opts.generalizable.clone();
    gen.alpha = args.alpha;
    gen.optimizer.niter = args.niter;
    if let Some(lr) = args.lr_generalizable {
        gen.optimizer.lr = lr;
    }
    let mut trad = opts.traditional.clone();
    trad.optimizer.niter = args.niter;
    if let Some(lr) = args.lr_traditional {
        trad.optimizer.lr = lr;
    }
    let settings = RunSettings {
        task: "sentiment (Rotten Tomatoes test sentences)".into(),
        models: models.iter().map(|(m, _)| m.name().to_string()).collect(),
        generalizable: gen,
        traditional: trad,
        t_grid: metrics::paper_t_grid(),
        lr_scale_by_span: true,
    };
    let run = Run::new(&args.out, settings);

    // Sentence order: the test split shuffled with the seed; keep those with n content words that
    // both models classify correctly.
    let mut order: Vec<usize> = (0..split.test.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(args.seed));
    let multi = if progress == Progress::Bars {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    };
    let samples_bar = multi.add(ProgressBar::new(args.samples as u64));
    samples_bar.set_style(bar_style(
        "values   [{bar:30}] {pos}/{len} sentences {msg} ({elapsed}, ETA {eta})",
    ));
    let masks_bar = multi.add(ProgressBar::new(1 << args.n));
    masks_bar.set_style(bar_style("  {msg} [{bar:30}] {pos}/{len} masked inputs"));
    let refs: Vec<&TextClassifier> = models.iter().map(|(_, c)| c).collect();
    let mut samples: Vec<SampleValues> = Vec::new();
    let mut skipped = (0usize, 0usize);
    for &i in &order {
        if samples.len() == args.samples {
            break;
        }
        let s = &split.test[i];
        if Players::select(
            &s.text,
            &PlayerSelection::Seeded {
                n: args.n,
                seed: args.seed,
            },
        )
        .is_err()
        {
            skipped.0 += 1;
            continue;
        }
        let mut all_correct = true;
        for c in &refs {
            all_correct &= predicted(c, &s.text)? == s.label as usize;
        }
        if !all_correct {
            skipped.1 += 1;
            continue;
        }
        let start = Instant::now();
        let mut observer = |stage: Stage<'_>| {
            if let Stage::Values { model, done, total } = stage {
                masks_bar.set_length(total as u64);
                masks_bar.set_position(done as u64);
                masks_bar.set_message(model.to_string());
            }
        };
        let values = sentence_values_observed(&refs, &s.text, &opts, Some(&mut observer))?;
        for m in &values.models {
            progress.line(&format!(
                "values {}/{} rt-{} {}: {} masked inputs{}",
                samples.len() + 1,
                args.samples,
                s.id,
                m.model,
                m.v().len(),
                if m.from_cache {
                    " (cached)".to_string()
                } else {
                    format!(" in {:.1} s", m.seconds)
                }
            ));
        }
        samples.push(SampleValues {
            id: format!("rt-{}", s.id),
            text: s.text.clone(),
            players: values.players.names(),
            values: values.models.iter().map(|m| m.v().to_vec()).collect(),
            value_seconds: if values.models.iter().all(|m| m.from_cache) {
                values.models.iter().map(|m| m.seconds).sum()
            } else {
                start.elapsed().as_secs_f64()
            },
        });
        samples_bar.inc(1);
    }
    masks_bar.finish_and_clear();
    samples_bar.finish_and_clear();
    if samples.len() < args.samples {
        eprintln!(
            "note: only {} test sentences qualify ({} have fewer than {} content words, {} are misclassified by a model)",
            samples.len(),
            skipped.0,
            args.n,
            skipped.1
        );
    }
    if samples.is_empty() {
        return Err(Error::Invalid(format!(
            "no test sentence has {} content words and is classified correctly by both models",
            args.n
        )));
    }

    let bounds = run.gamma_bounds(&samples)?;
    let results = extract_samples(&run, &samples, &bounds, "sentences", progress)?;
    let summary = run.summarize(&results, &bounds, accuracy)?;
    let paper = paper_sentiment();
    run.write_report(&summary, &results, &paper)?;
    progress.line(&format!(
        "wrote {}/{{summary.json, figures.html, comparison.md}}",
        run.out.display()
    ));
    Ok(Study {
        out: run.out.clone(),
        settings: run.settings.clone(),
        summary,
        results,
        gamma_bounds: bounds,
        paper,
    })
}

/// Print the headline numbers of a summary.
pub fn print_summary(summary: &crate::replication::Summary, out: &Path) {
    print_summary_with(summary, out, 45.14);
}

/// Print the headline numbers of a summary, with the paper's seconds per sample of the task.
pub fn print_summary_with(summary: &crate::replication::Summary, out: &Path, paper_seconds: f64) {
    println!(
        "{} samples, models {}",
        summary.samples,
        summary.models.join(" vs ")
    );
    for (model, acc) in &summary.accuracy {
        println!("  test accuracy {model}: {:.2}%", 100.0 * acc);
    }
    println!("  k:                    {:?}", summary.k);
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "  s_and generalizable:  {}",
        fmt(&summary.generalizable.s_and)
    );
    println!(
        "  s_and traditional:    {}",
        fmt(&summary.traditional.s_and)
    );
    println!("  s_and harsanyi:       {}", fmt(&summary.harsanyi.s_and));
    println!(
        "  s_or  generalizable:  {}",
        fmt(&summary.generalizable.s_or)
    );
    println!("  s_or  traditional:    {}", fmt(&summary.traditional.s_or));
    println!(
        "  generalizable above traditional at every k (s_and and s_or): {}",
        if summary.generalizable_beats_traditional {
            "yes"
        } else {
            "NO"
        }
    );
    println!(
        "  seconds per sample: {:.2} (paper: {paper_seconds})",
        summary.seconds_per_sample
    );
    println!(
        "wrote {}/{{summary.json, figures.html, comparison.md, samples/}}",
        out.display()
    );
}
