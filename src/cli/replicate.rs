//! `interprim replicate sentiment|next-word|digits`: clap arguments for the tasks of
//! [`crate::tasks`], the run with progress bars, and the headline numbers.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use super::progress::Bars;
use crate::game::ValueCache;
use crate::games::lm::LmBaseline;
use crate::run::summary::Summary;
use crate::tasks::digits::{replicate_digits, DigitsArgs};
use crate::tasks::next_word::{replicate_next_word, NextWordArgs};
use crate::tasks::sentiment::{replicate_sentiment, SentimentArgs};
use crate::tasks::RunOptions;
use crate::Result;

#[derive(Subcommand, Debug)]
pub enum Replicate {
    /// Task 1: sentiment, MiniLM-L3 vs MiniLM-L6 on Rotten Tomatoes test sentences.
    Sentiment(SentimentCli),
    /// Task 2: next word, SmolLM2-135M vs Gemma-3-270M on the first 30 words of NYT editorials.
    NextWord(NextWordCli),
    /// Task 3: MNIST "3" vs rest, ResNet-20 vs a VGG-16-style CNN, 8 image patches per test image.
    Digits(DigitsCli),
}

/// Settings every replication takes.
#[derive(Args, Debug, Clone)]
pub struct RunCli {
    /// Samples to explain (default: sentiment 20, next-word 6, digits 50; the paper: 200, 200, 100).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Output directory (default: output/<task>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Iterations of both SGD extractions.
    #[arg(long, default_value_t = 20000)]
    pub niter: usize,
    /// Weight of the L1 term in the generalizable loss.
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// The solver: the certified optimum (default), or the authors' SGD.
    #[arg(long, value_enum, default_value = "optimal")]
    pub solver: super::SolverCli,
    /// Relative duality gap at which the optimal solver stops.
    #[arg(long, default_value_t = 1e-6)]
    pub tol: f64,
    /// Absolute SGD learning rate of the generalizable extraction (default: 5e-8 per unit of each
    /// sample's value range, the library's rule).
    #[arg(long)]
    pub lr_generalizable: Option<f64>,
    /// Absolute SGD learning rate of the traditional extraction (default: 3e-7 per unit of the
    /// model's value range, decaying to a tenth).
    #[arg(long)]
    pub lr_traditional: Option<f64>,
    /// Where network outputs are cached (default: $INTERPRIM_CACHE/values or .cache/values).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Refuse more than this many masked inputs (2^n) per model and sample.
    #[arg(long, default_value_t = 1 << 16)]
    pub max_masked_inputs: u64,
    /// Refuse a model's evaluation on one sample estimated (from a timed probe batch) to take
    /// longer than this.
    #[arg(long, default_value_t = 60.0)]
    pub max_minutes: f64,
    /// Refuse work whose memory would exceed this many MiB.
    #[arg(long, default_value_t = 16 * 1024)]
    pub memory_limit_mib: u64,
    /// Replicates R of the permutation and of the cross-sample null of the sharing (method
    /// §4.1). Each replicate re-runs the generalizable extraction once per sample for each null
    /// (up to 2·R·samples extractions, saved under OUT/null/ and reused when the run is resumed;
    /// traditional and Harsanyi need none); 0 disables the nulls and the excess.
    #[arg(long, value_name = "R", default_value_t = crate::metrics::sharing::DEFAULT_REPLICATES)]
    pub null_permutations: usize,
    /// Seed of the nulls' permutations and derangements.
    #[arg(long, default_value_t = 0)]
    pub null_seed: u64,
    /// After the run, recompute it R times from values perturbed by --spread-noise (relative) and
    /// report each headline number with its range (OUT/spread.json; each recomputation costs the
    /// run's extractions, not its nulls; saved under OUT/spread/ and reused). 0: none.
    #[arg(long, value_name = "R", default_value_t = 0)]
    pub spread: usize,
    /// Relative size of the perturbation of --spread (above the float-level differences of
    /// forward passes between machines).
    #[arg(long, default_value_t = crate::run::spread::DEFAULT_NOISE)]
    pub spread_noise: f64,
}

impl RunCli {
    fn options(&self, default_samples: usize, task: &str) -> RunOptions {
        let mut o = RunOptions::new(
            self.samples.unwrap_or(default_samples),
            self.out
                .clone()
                .unwrap_or_else(|| PathBuf::from("output").join(task)),
        );
        if let Some(dir) = &self.cache_dir {
            o.cache = Some(ValueCache::new(dir));
        }
        o.budget.max_masked_inputs = self.max_masked_inputs;
        o.budget.max_seconds = self.max_minutes * 60.0;
        o.budget.memory_limit_mib = self.memory_limit_mib;
        let d = &mut o.decomposition;
        d.solver = self.solver.into();
        d.optimal.tol = self.tol;
        d.alpha = self.alpha;
        d.memory_limit_mib = self.memory_limit_mib;
        d.sgd_generalizable.niter = self.niter;
        d.sgd_traditional.niter = self.niter;
        d.sgd_generalizable.lr = self.lr_generalizable;
        d.sgd_traditional.lr = self.lr_traditional;
        o.null.replicates = self.null_permutations;
        o.null.seed = self.null_seed;
        o
    }
}

/// `interprim replicate sentiment`.
#[derive(Args, Debug, Clone)]
pub struct SentimentCli {
    #[command(flatten)]
    pub run: RunCli,
    /// Players (content words) per sentence.
    #[arg(long, default_value_t = 10)]
    pub n: usize,
    /// Seed of the sentence order and of the player choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Masked sentences per forward pass.
    #[arg(long, default_value_t = crate::text::masking::DEFAULT_BATCH)]
    pub batch_size: usize,
    /// Measure test accuracy on a seeded subset of this many test sentences (default: all).
    #[arg(long)]
    pub accuracy_sentences: Option<usize>,
}

/// What replaces each token of a masked word.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaselineCli {
    /// Each model's unknown token.
    Unk,
    /// Each model's padding token.
    Pad,
}

/// `interprim replicate next-word`.
#[derive(Args, Debug, Clone)]
pub struct NextWordCli {
    #[command(flatten)]
    pub run: RunCli,
    /// Players (content words) per prompt.
    #[arg(long, default_value_t = 10)]
    pub n: usize,
    /// Words per prompt (the paper: 30).
    #[arg(long, default_value_t = crate::data::prompts::DEFAULT_PROMPT_WORDS)]
    pub prompt_words: usize,
    /// Seed of the prompt order and of the player choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Masked prompts per forward pass.
    #[arg(long, default_value_t = crate::games::lm::DEFAULT_LM_BATCH)]
    pub batch_size: usize,
    /// What replaces each token of a masked word.
    #[arg(long, value_enum, default_value = "unk")]
    pub baseline: BaselineCli,
    /// Give up after examining this many prompts.
    #[arg(long, default_value_t = 400)]
    pub max_prompts: usize,
}

/// `interprim replicate digits`.
#[derive(Args, Debug, Clone)]
pub struct DigitsCli {
    #[command(flatten)]
    pub run: RunCli,
    /// Players (patches) per image.
    #[arg(long, default_value_t = 8)]
    pub n: usize,
    /// Patch side in pixels.
    #[arg(long, default_value_t = 3)]
    pub patch: usize,
    /// Seed of the image order and of the patch tie-breaking.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Masked images per forward pass.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Samples drawn in OUT/patches.html.
    #[arg(long, default_value_t = 6)]
    pub figure_samples: usize,
}

/// Run one replication with progress bars and print its headline numbers.
pub fn run(r: Replicate) -> Result<()> {
    let mut bars = Bars::new();
    let (spread, spread_noise) = match &r {
        Replicate::Sentiment(a) => (a.run.spread, a.run.spread_noise),
        Replicate::NextWord(a) => (a.run.spread, a.run.spread_noise),
        Replicate::Digits(a) => (a.run.spread, a.run.spread_noise),
    };
    let (study, paper_seconds) = match r {
        Replicate::Sentiment(a) => {
            let args = SentimentArgs {
                run: a.run.options(20, "sentiment"),
                n: a.n,
                seed: a.seed,
                batch_size: a.batch_size,
                accuracy_sentences: a.accuracy_sentences,
            };
            (
                replicate_sentiment(&args, Some(&mut bars.observer()))?,
                45.14,
            )
        }
        Replicate::NextWord(a) => {
            let mut run = a.run.options(6, "next-word");
            run.max_candidates = Some(a.max_prompts);
            let args = NextWordArgs {
                run,
                n: a.n,
                prompt_words: a.prompt_words,
                seed: a.seed,
                batch_size: a.batch_size,
                baseline: match a.baseline {
                    BaselineCli::Unk => LmBaseline::Unk,
                    BaselineCli::Pad => LmBaseline::Pad,
                },
            };
            (
                replicate_next_word(&args, Some(&mut bars.observer()))?,
                46.61,
            )
        }
        Replicate::Digits(a) => {
            let args = DigitsArgs {
                run: a.run.options(50, "digits"),
                n: a.n,
                patch: a.patch,
                seed: a.seed,
                batch_size: a.batch_size,
                figure_samples: a.figure_samples,
            };
            (replicate_digits(&args, Some(&mut bars.observer()))?, 27.15)
        }
    };
    bars.finish();
    print_summary(&study.summary, &study.out, paper_seconds);
    if spread > 0 {
        let mut bars = Bars::new();
        let sp = study.perturbation_spread(spread, spread_noise, 0, Some(&mut bars.observer()))?;
        bars.finish();
        let path = study.out.join("spread.json");
        crate::export::write_json(&path, &sp)?;
        println!("{}", sp.table().to_text());
        if let Some(w) = sp.widest() {
            println!(
                "widest range relative to its value: {} ({:.4} … {:.4}, this run {:.4}: {:.1} %); wrote {}",
                w.quantity,
                w.min,
                w.max,
                w.value,
                100.0 * w.relative_width(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Print the headline numbers of a summary.
pub fn print_summary(summary: &Summary, out: &Path, paper_seconds: f64) {
    println!(
        "{} samples, models {}",
        summary.samples,
        summary.models.join(" vs ")
    );
    for (what, acc) in &summary.accuracy {
        let label = if summary.models.contains(what) {
            format!("test accuracy {what}")
        } else {
            what.clone()
        };
        println!("  {label}: {:.2}%", 100.0 * acc);
    }
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("  k:                    {:?}", summary.k);
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
    let chance = |v: &[f64]| match (v.first(), v.last()) {
        (Some(a), Some(b)) => format!("{a:.2} → {b:.2}"),
        _ => "—".into(),
    };
    println!(
        "  chance s_and {}, s_or {}",
        chance(&summary.chance.chance_and),
        chance(&summary.chance.chance_or)
    );
    for line in summary.excess_lines() {
        println!("  {line}");
    }
    if summary.nulls.extractions > 0 {
        println!(
            "  nulls: {} generalizable re-extractions ({} reused), {:.2} s per sample",
            summary.nulls.extractions,
            summary.nulls.reused,
            summary.nulls.seconds / summary.samples.max(1) as f64
        );
    }
    match summary.max_duality_gap {
        Some(g) => println!(
            "  solver: {}, largest certified relative duality gap {g:.1e}",
            summary.solver.name()
        ),
        None => println!("  solver: {}", summary.solver.name()),
    }
    if summary.not_converged > 0 {
        println!(
            "  WARNING: {} extraction(s) did not converge (SGD: the loss ended above its start; optimal: the gap did not reach --tol)",
            summary.not_converged
        );
    }
    println!(
        "  seconds per sample: {:.2} (values {:.2}, extraction {:.2}; paper: {paper_seconds}, hardware not given)",
        summary.seconds_per_sample,
        summary.seconds.values,
        summary.seconds.generalizable + summary.seconds.traditional
    );
    println!("wrote {}/", out.display());
}
