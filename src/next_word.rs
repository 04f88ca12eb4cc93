//! Task 2 of the paper (next word, LLaMA-7B vs OPT-1.3B on SQuAD) with what can be installed here:
//! SmolLM2-135M-Instruct (LLaMA architecture) and Gemma-3-270M, on the first 30 words of New York
//! Times editorials ([`crate::data::prompts`]).
//!
//! Per prompt: each model predicts the next word greedily ([`greedy_next_word`]); the prompt is a
//! sample only when both predict the same word (the paper explains one shared target word per
//! input; we require the two models to agree rather than impose one model's word on the other) and
//! when its n players (content words, seeded) map onto both tokenizations. v^(i) is the log-odds of
//! model i's own first token of that word, centred at x_∅, on all 2^n masked prompts (token-id
//! masking with each model's unknown token, [`crate::text::lm_value`]). Then, as for sentiment,
//! [`crate::replication::Run`] extracts generalizable, traditional and Harsanyi interactions per
//! sample (resumable) and writes summary.json, figures.html and comparison.md. The `accuracy`
//! field of summary.json holds the agreement rate of the two models on the examined prompts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;

use crate::api::{ModelValues, SentenceValues};
use crate::data::prompts::{nyt_prompts, DEFAULT_PROMPT_WORDS};
use crate::export::{read_json, write_json};
use crate::models::assets;
use crate::models::causal_lm::CausalLm;
use crate::replication::{PaperNumbers, Run, RunSettings, SampleValues, Summary};
use crate::study::{extract_samples, notebook_dir, Progress, Study};
use crate::text::lm_value::{
    greedy_next_word, lm_values, LmBaseline, MaskedPrompt, DEFAULT_LM_BATCH,
};
use crate::text::players::{PlayerSelection, Players};
use crate::text::value::{Logits, ValueCache, ValueVector};
use crate::{metrics, Error, Result};

/// Name of the agreement entry of summary.json's `accuracy` map.
pub const AGREEMENT_KEY: &str = "next-word agreement of the two models (examined prompts)";

/// Which baseline token replaces a masked word.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaselineArg {
    /// Each model's unknown token.
    Unk,
    /// Each model's padding token.
    Pad,
}

/// `interprim replicate next-word`.
#[derive(clap::Args, Debug, Clone)]
pub struct NextWordArgs {
    /// Prompts to explain (the paper: 200). The default takes about 10 minutes on 2 CPU cores
    /// (about 100 s per prompt, both models, measured with other jobs on the machine).
    #[arg(long, default_value_t = 6)]
    pub samples: usize,
    #[arg(long, default_value = "output/next-word")]
    pub out: PathBuf,
    /// Players (content words) per prompt.
    #[arg(long, default_value_t = 10)]
    pub n: usize,
    /// Words per prompt (the paper: 30).
    #[arg(long, default_value_t = DEFAULT_PROMPT_WORDS)]
    pub prompt_words: usize,
    /// Seed of the prompt order and of the player choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Iterations of both extractions.
    #[arg(long, default_value_t = 20000)]
    pub niter: usize,
    /// Weight of the L1 term in the generalizable loss.
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// Generalizable learning rate per unit of value range (default: the API's).
    #[arg(long)]
    pub lr_generalizable: Option<f64>,
    /// Traditional learning rate per unit of value range (default: the API's).
    #[arg(long)]
    pub lr_traditional: Option<f64>,
    /// Masked prompts per forward pass.
    #[arg(long, default_value_t = DEFAULT_LM_BATCH)]
    pub batch_size: usize,
    /// What replaces each token of a masked word.
    #[arg(long, value_enum, default_value = "unk")]
    pub baseline: BaselineArg,
    /// Where v vectors are cached (default: $INTERPRIM_CACHE/values or .cache/values).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Give up after examining this many prompts.
    #[arg(long, default_value_t = 400)]
    pub max_prompts: usize,
}

impl Default for NextWordArgs {
    /// The CLI's defaults.
    fn default() -> Self {
        NextWordArgs {
            samples: 6,
            out: PathBuf::from("output/next-word"),
            n: 10,
            prompt_words: DEFAULT_PROMPT_WORDS,
            seed: 0,
            niter: 20000,
            alpha: 0.1,
            lr_generalizable: None,
            lr_traditional: None,
            batch_size: DEFAULT_LM_BATCH,
            baseline: BaselineArg::Unk,
            cache_dir: None,
            max_prompts: 400,
        }
    }
}

impl NextWordArgs {
    /// The notebook's run of `samples` prompts (otherwise the CLI's defaults): results in
    /// `<cache root>/notebooks/next-word-<samples>`, values in the shared value cache, so that
    /// executing the notebook again costs seconds.
    pub fn for_notebooks(samples: usize) -> Self {
        NextWordArgs {
            samples,
            out: notebook_dir().join(format!("next-word-{samples}")),
            cache_dir: Some(ValueCache::default_dir()),
            ..Default::default()
        }
    }

    fn lm_baseline(&self) -> LmBaseline {
        match self.baseline {
            BaselineArg::Unk => LmBaseline::Unk,
            BaselineArg::Pad => LmBaseline::Pad,
        }
    }
}

/// How many prompts the next-word notebook explains: `INTERPRIM_NEXT_WORD_SAMPLES` if set (e.g.
/// 200 for the paper's sample size; about 100 s of network evaluation per prompt on 2 cores), else
/// `default`. A variable of its own, so that the sentiment notebooks' `INTERPRIM_NOTEBOOK_SAMPLES`
/// does not start hours of language-model work.
pub fn notebook_prompts(default: usize) -> usize {
    std::env::var("INTERPRIM_NEXT_WORD_SAMPLES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Per-sample details written to OUT/prompts.json.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PromptRecord {
    pub id: String,
    pub prompt: String,
    pub next_word: String,
    pub players: Vec<String>,
    /// Per model: target token, its log-odds on the full and on the empty prompt, tokens run.
    pub models: Vec<PromptModelRecord>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PromptModelRecord {
    pub model: String,
    pub target_token: String,
    pub target_tokens_of_word: usize,
    pub log_odds_full: f64,
    pub log_odds_empty: f64,
    pub prompt_tokens: usize,
    /// Tokens run with prefix sharing, and without (len · 2^n).
    pub tokens_run: usize,
    pub tokens_unshared: usize,
    /// Seconds the values took to compute (recorded in the cache when read from it).
    pub seconds: f64,
    pub from_cache: bool,
}

impl PromptModelRecord {
    /// The model's probability of the target token on the full prompt, σ(log-odds).
    pub fn probability(&self) -> f64 {
        1.0 / (1.0 + (-self.log_odds_full).exp())
    }
}

/// The per-prompt records of a run directory (OUT/prompts.json).
pub fn read_prompt_records(dir: &Path) -> Result<Vec<PromptRecord>> {
    read_json(&dir.join("prompts.json"))
}

/// The players of a prompt as a run selects them: `n` content words, seeded.
pub fn prompt_players(prompt: &str, n: usize, seed: u64) -> Result<Players> {
    Players::select(prompt, &PlayerSelection::Seeded { n, seed })
}

/// Every model's values on one prompt of a run (through the value cache: the run's values cost
/// a read), as [`SentenceValues`] for the single-sample API ([`crate::api::compare_from_values`],
/// [`crate::api::extract_generalizable_from_values`]) and its rich displays. Each model's target
/// is its own first token of `record.next_word`; v is centred at x_∅.
pub fn prompt_values(
    models: &[CausalLm],
    record: &PromptRecord,
    args: &NextWordArgs,
) -> Result<SentenceValues> {
    let players = prompt_players(&record.prompt, args.n, args.seed)?;
    if players.names() != record.players {
        return Err(Error::Invalid(format!(
            "prompt {}: players {:?} differ from the run's {:?} (other --n or --seed?)",
            record.id,
            players.names(),
            record.players
        )));
    }
    let cache = ValueCache::new(
        args.cache_dir
            .clone()
            .unwrap_or_else(ValueCache::default_dir),
    );
    let baseline = args.lm_baseline();
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let w = greedy_next_word(m, &record.prompt, 6)?;
        if w.word != record.next_word {
            return Err(Error::Invalid(format!(
                "prompt {}: {} predicts {:?}, the run recorded {:?}",
                record.id,
                m.name(),
                w.word,
                record.next_word
            )));
        }
        let v = lm_values(
            m,
            &players,
            w.tokens[0],
            &baseline,
            args.batch_size,
            Some(&cache),
            None,
        )?;
        let n = players.n();
        out.push(ModelValues {
            model: m.name().to_string(),
            baseline: v.baseline.clone(),
            tokens: v.tokens.clone(),
            player_tokens: v.player_tokens.clone(),
            values: ValueVector {
                target: 0,
                centred: true,
                v: v.centred(),
                log_odds_empty: v.log_odds[0],
                log_odds_full: v.log_odds[v.log_odds.len() - 1],
                predicted: 0,
            },
            label_name: Some(format!(
                "next word {:?} (token {:?})",
                w.word, v.target_token
            )),
            logits: Logits {
                n,
                classes: 1,
                data: v.log_odds.clone(),
            },
            from_cache: v.from_cache,
            seconds: v.seconds,
        });
    }
    Ok(SentenceValues {
        sentence: record.prompt.clone(),
        players,
        models: out,
    })
}

/// The two default models, SmolLM2 first.
pub fn load_default_lms() -> Result<Vec<CausalLm>> {
    Ok(vec![
        CausalLm::load("SmolLM2-135M", &assets::smollm2_gguf(), &Device::Cpu)?,
        CausalLm::load("Gemma-3-270M", &assets::gemma3_gguf(), &Device::Cpu)?,
    ])
}

/// The paper's numbers for task 2 (SPEC §5): only the time per sample is reported as a number.
pub fn paper_next_word() -> PaperNumbers {
    PaperNumbers {
        models: vec!["LLaMA-7B".into(), "OPT-1.3B".into()],
        seconds_per_sample: Some(46.61),
        ..Default::default()
    }
}

/// Run the replication (the CLI: progress bars); returns the summary it wrote.
pub fn run_replicate_next_word(args: &NextWordArgs) -> Result<Summary> {
    Ok(replicate_next_word(args, Progress::Bars)?.summary)
}

/// Run the replication, or resume it: values come from the value cache and per-sample results
/// from `args.out/samples` when they were computed with the same settings. Writes summary.json,
/// figures.html, comparison.md and prompts.json, and returns everything in memory (the prompt
/// records: [`read_prompt_records`] on `study.out`).
pub fn replicate_next_word(args: &NextWordArgs, progress: Progress) -> Result<Study> {
    if args.samples == 0 {
        return Err(Error::Invalid("--samples must be at least 1".into()));
    }
    let models = load_default_lms()?;
    let prompts = nyt_prompts(args.prompt_words, args.seed)?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let cache = ValueCache::new(
        args.cache_dir
            .clone()
            .unwrap_or_else(ValueCache::default_dir),
    );
    let baseline = args.lm_baseline();
    let defaults = crate::api::ExtractOptions::default();
    let mut gen = defaults.generalizable.clone();
    gen.alpha = args.alpha;
    gen.optimizer.niter = args.niter;
    if let Some(lr) = args.lr_generalizable {
        gen.optimizer.lr = lr;
    }
    let mut trad = defaults.traditional.clone();
    trad.optimizer.niter = args.niter;
    if let Some(lr) = args.lr_traditional {
        trad.optimizer.lr = lr;
    }
    let settings = RunSettings {
        task: format!(
            "next word (first {} words of NYT editorials, baseline {:?})",
            args.prompt_words, baseline
        ),
        models: models.iter().map(|m| m.name().to_string()).collect(),
        generalizable: gen,
        traditional: trad,
        t_grid: metrics::paper_t_grid(),
        lr_scale_by_span: true,
    };
    let run = Run::new(&args.out, settings);

    let samples_bar = progress.bar(
        args.samples as u64,
        "values   [{bar:30}] {pos}/{len} prompts {msg} ({elapsed})",
    );
    let mut samples: Vec<SampleValues> = Vec::new();
    let mut records: Vec<PromptRecord> = Vec::new();
    let (mut examined, mut agreed, mut few_words, mut unmapped) = (0usize, 0usize, 0usize, 0usize);
    for prompt in &prompts {
        if samples.len() == args.samples || examined == args.max_prompts {
            break;
        }
        let players = match Players::select(
            &prompt.text,
            &PlayerSelection::Seeded {
                n: args.n,
                seed: args.seed,
            },
        ) {
            Ok(p) => p,
            Err(_) => {
                few_words += 1;
                continue;
            }
        };
        examined += 1;
        let words = models
            .iter()
            .map(|m| greedy_next_word(m, &prompt.text, 6))
            .collect::<Result<Vec<_>>>()?;
        if !(words.iter().all(|w| w.is_word()) && words.iter().all(|w| w.word == words[0].word)) {
            continue;
        }
        agreed += 1;
        if models
            .iter()
            .any(|m| MaskedPrompt::new(m, &players, &baseline).is_err())
        {
            unmapped += 1;
            continue;
        }
        let start = Instant::now();
        let mut per_model = Vec::new();
        let mut model_records = Vec::new();
        for (m, w) in models.iter().zip(&words) {
            samples_bar.set_message(format!("{} {:?}", m.name(), w.word));
            let mut on_masks = |done: usize, total: usize| {
                samples_bar.set_message(format!(
                    "{} {:?} {:.0}%",
                    m.name(),
                    w.word,
                    100.0 * done as f64 / total.max(1) as f64
                ));
            };
            let v = lm_values(
                m,
                &players,
                w.tokens[0],
                &baseline,
                args.batch_size,
                Some(&cache),
                Some(&mut on_masks),
            )?;
            let masked = MaskedPrompt::new(m, &players, &baseline)?;
            let (run_tokens, unshared) = masked.token_work();
            model_records.push(PromptModelRecord {
                model: m.name().to_string(),
                target_token: v.target_token.clone(),
                target_tokens_of_word: w.tokens.len(),
                log_odds_full: v.log_odds[v.log_odds.len() - 1],
                log_odds_empty: v.log_odds[0],
                prompt_tokens: masked.len(),
                tokens_run: run_tokens,
                tokens_unshared: unshared,
                seconds: v.compute_seconds.unwrap_or(v.seconds),
                from_cache: v.from_cache,
            });
            progress.line(&format!(
                "values {}/{} {} {}: next word {:?}, {} masked prompts{}",
                samples.len() + 1,
                args.samples,
                prompt.id,
                m.name(),
                w.word,
                v.log_odds.len(),
                if v.from_cache {
                    " (cached)".to_string()
                } else {
                    format!(" in {:.1} s", v.seconds)
                }
            ));
            per_model.push(v);
        }
        // time to compute the values; for values read from the cache, the time recorded when
        // they were computed (so a resumed run reports the cost of a sample, not of a read)
        let recorded: Option<f64> = per_model.iter().map(|v| v.compute_seconds).sum();
        let all_cached = per_model.iter().all(|v| v.from_cache);
        samples.push(SampleValues {
            id: prompt.id.clone(),
            text: format!("{} → {}", prompt.text, words[0].word),
            players: players.names(),
            values: per_model.iter().map(|v| v.centred()).collect(),
            value_seconds: match (all_cached, recorded) {
                (true, Some(r)) => r,
                (true, None) => per_model.iter().map(|v| v.seconds).sum(),
                (false, _) => start.elapsed().as_secs_f64(),
            },
        });
        records.push(PromptRecord {
            id: prompt.id.clone(),
            prompt: prompt.text.clone(),
            next_word: words[0].word.clone(),
            players: players.names(),
            models: model_records,
        });
        write_json(&args.out.join("prompts.json"), &records)?;
        samples_bar.inc(1);
    }
    samples_bar.finish_and_clear();
    if samples.len() < args.samples {
        eprintln!(
            "note: {} of {} requested prompts: {} prompts examined, {} with the same next word, {} not mappable onto both tokenizations, {} with fewer than {} content words",
            samples.len(),
            args.samples,
            examined,
            agreed,
            unmapped,
            few_words,
            args.n
        );
    }
    if samples.is_empty() {
        return Err(Error::Invalid(format!(
            "no prompt qualified ({examined} examined, {agreed} with the same next word in both models): raise --max-prompts or lower --n"
        )));
    }
    let accuracy = BTreeMap::from([(
        AGREEMENT_KEY.to_string(),
        agreed as f64 / examined.max(1) as f64,
    )]);

    let bounds = run.gamma_bounds(&samples)?;
    let results = extract_samples(&run, &samples, &bounds, "prompts", progress)?;
    let summary = run.summarize(&results, &bounds, accuracy)?;
    let paper = paper_next_word();
    run.write_report(&summary, &results, &paper)?;
    progress.line(&format!(
        "wrote {}/{{summary.json, figures.html, comparison.md, prompts.json}}",
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
pub fn print_summary(summary: &Summary, out: &Path) {
    println!(
        "{} samples, models {}",
        summary.samples,
        summary.models.join(" vs ")
    );
    for (what, x) in &summary.accuracy {
        println!("  {what}: {:.2}%", 100.0 * x);
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
    println!(
        "  generalizable above traditional at every k (s_and and s_or): {}",
        if summary.generalizable_beats_traditional {
            "yes"
        } else {
            "NO"
        }
    );
    println!(
        "  seconds per sample: {:.2} (values {:.2}, extraction {:.2}; paper: 46.61)",
        summary.seconds_per_sample,
        summary.seconds.values,
        summary.seconds.generalizable + summary.seconds.traditional
    );
    println!(
        "wrote {}/{{summary.json, figures.html, comparison.md, prompts.json, samples/}}",
        out.display()
    );
}
