//! Task 2 of the paper (next word, LLaMA-7B vs OPT-1.3B on SQuAD) with what can be installed here:
//! SmolLM2-135M-Instruct (LLaMA architecture) and Gemma-3-270M, on the first 30 words of New York
//! Times editorials ([`crate::data::prompts`]).
//!
//! Per prompt: each model predicts the next word greedily; the prompt is a sample only when both
//! predict the same word (the paper explains one shared target word per input; we require the two
//! models to agree rather than impose one model's word on the other) and when its n players
//! (content words, seeded) map onto both tokenizations. v^(i) is the log-odds of model i's own
//! first token of that word, centred at x_∅, on all 2^n masked prompts (token-id masking with each
//! model's unknown token, [`crate::games::lm`]). summary.json's `accuracy` holds the agreement
//! rate of the two models on the examined prompts; `<out>/prompts.json` the per-prompt records.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Device;

use super::{env_count, notebook_dir, replicate, Candidate, RunOptions, Task};
use crate::api::{ModelValues, SentenceValues};
use crate::data::prompts::{nyt_prompts, Prompt, DEFAULT_PROMPT_WORDS};
use crate::export::{read_json, write_json};
use crate::game::{evaluate, EvalOptions, Game};
use crate::games::lm::{greedy_next_word, LmBaseline, LmGame, MaskedPrompt, DEFAULT_LM_BATCH};
use crate::models::causal_lm::CausalLm;
use crate::models::registry::LanguageModel;
use crate::progress::Observer;
use crate::run::study::Study;
use crate::run::summary::PaperNumbers;
use crate::text::players::{PlayerSelection, Players};
use crate::{Error, Result};

/// Name of the agreement entry of summary.json's `accuracy` map.
pub const AGREEMENT_KEY: &str = "next-word agreement of the two models (examined prompts)";

/// The settings of `interprim replicate next-word` specific to this task.
#[derive(Clone, Debug)]
pub struct NextWordArgs {
    pub run: RunOptions,
    /// Players (content words) per prompt.
    pub n: usize,
    /// Words per prompt (the paper: 30).
    pub prompt_words: usize,
    /// Seed of the prompt order and of the player choice.
    pub seed: u64,
    /// Masked prompts per forward pass.
    pub batch_size: usize,
    /// What replaces each token of a masked word.
    pub baseline: LmBaseline,
}

impl Default for NextWordArgs {
    /// The CLI's defaults: 6 prompts (about 10 minutes on 2 CPU cores), at most 400 examined.
    fn default() -> Self {
        let mut run = RunOptions::new(6, "output/next-word");
        run.max_candidates = Some(400);
        NextWordArgs {
            run,
            n: 10,
            prompt_words: DEFAULT_PROMPT_WORDS,
            seed: 0,
            batch_size: DEFAULT_LM_BATCH,
            baseline: LmBaseline::Unk,
        }
    }
}

impl NextWordArgs {
    /// The notebook's run of `samples` prompts: results in
    /// `<cache root>/notebooks/next-word-<samples>`, values in the shared value cache.
    pub fn for_notebooks(samples: usize) -> Self {
        let mut a = NextWordArgs::default();
        a.run.samples = samples;
        a.run.out = notebook_dir().join(format!("next-word-{samples}"));
        a
    }
}

/// How many prompts the next-word notebook explains: `INTERPRIM_NEXT_WORD_SAMPLES` if set, else
/// `default` (a variable of its own, so that the sentiment notebooks' count does not start hours
/// of language-model work).
pub fn notebook_prompts(default: usize) -> usize {
    env_count("INTERPRIM_NEXT_WORD_SAMPLES", default)
}

/// Per-sample details written to `<out>/prompts.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PromptRecord {
    pub id: String,
    pub prompt: String,
    pub next_word: String,
    pub players: Vec<String>,
    pub models: Vec<PromptModelRecord>,
}

/// One model's part of a [`PromptRecord`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PromptModelRecord {
    pub model: String,
    pub target_token: String,
    pub target_tokens_of_word: usize,
    /// Uncentred log-odds of the target token on the full and on the fully masked prompt.
    pub log_odds_full: f64,
    pub log_odds_empty: f64,
    pub prompt_tokens: usize,
    /// Tokens run with prefix sharing, and without (len · 2^n).
    pub tokens_run: usize,
    pub tokens_unshared: usize,
}

impl PromptModelRecord {
    /// The model's probability of the target token on the full prompt, σ(log-odds).
    pub fn probability(&self) -> f64 {
        1.0 / (1.0 + (-self.log_odds_full).exp())
    }
}

/// The per-prompt records of a run directory (`<dir>/prompts.json`).
pub fn read_prompt_records(dir: &Path) -> Result<Vec<PromptRecord>> {
    read_json(&dir.join("prompts.json"))
}

/// The two default models ([`LanguageModel::ALL`]), SmolLM2 first, on the CPU.
pub fn load_default_lms() -> Result<Vec<CausalLm>> {
    LanguageModel::ALL
        .iter()
        .map(|&m| Ok(m.load(&Device::Cpu)?))
        .collect()
}

/// The paper's numbers for task 2: only the time per sample is reported as a number.
pub fn paper_next_word() -> PaperNumbers {
    PaperNumbers {
        models: vec!["LLaMA-7B".into(), "OPT-1.3B".into()],
        seconds_per_sample: Some(46.61),
        ..Default::default()
    }
}

/// The players of a prompt as a run selects them: `n` content words, seeded.
pub fn prompt_players(prompt: &str, n: usize, seed: u64) -> Result<Players> {
    Players::select(prompt, &PlayerSelection::Seeded { n, seed })
}

/// Every model's game on one prompt of a run, each valued by its own first token of `next_word`
/// (checked to be what each model predicts).
pub fn prompt_games<'a>(
    models: &'a [CausalLm],
    prompt: &str,
    next_word: &str,
    args: &NextWordArgs,
) -> Result<Vec<LmGame<'a>>> {
    let players = prompt_players(prompt, args.n, args.seed)?;
    models
        .iter()
        .map(|m| {
            let w = greedy_next_word(m, prompt, 6)?;
            if w.word != next_word {
                return Err(Error::Invalid(format!(
                    "{} predicts {:?} after this prompt, not {next_word:?}",
                    m.name(),
                    w.word
                )));
            }
            LmGame::new(m, &players, &args.baseline, w.tokens[0], args.batch_size)
        })
        .collect()
}

/// Every model's values on one prompt of a run (through the run's value cache: a run's values cost
/// a read), as [`SentenceValues`] for the single-sample API
/// ([`crate::api::compare_from_values`], [`crate::api::extract_generalizable_from_values`]) and
/// its rich displays. Errors: other players than the run's (another `n` or seed), a model that
/// predicts another word.
pub fn prompt_values(
    models: &[CausalLm],
    record: &PromptRecord,
    args: &NextWordArgs,
) -> Result<SentenceValues> {
    let players = prompt_players(&record.prompt, args.n, args.seed)?;
    if players.names() != record.players {
        return Err(Error::Invalid(format!(
            "prompt {}: players {:?} differ from the run's {:?} (other n or seed?)",
            record.id,
            players.names(),
            record.players
        )));
    }
    let eval = EvalOptions {
        centre: true,
        cache: args.run.cache.clone(),
        budget: args.run.budget,
    };
    let games = prompt_games(models, &record.prompt, &record.next_word, args)?;
    let mut out = Vec::with_capacity(games.len());
    for g in &games {
        let values = evaluate(g, &eval, None)?;
        let (target, token) = g.target();
        out.push(ModelValues {
            model: g.name(),
            baseline: g.baseline()?,
            tokens: g.masked().encoded.tokens.clone(),
            player_tokens: g.masked().player_tokens.clone(),
            values,
            target: target as usize,
            label_name: Some(format!(
                "next word {:?} (token {token:?})",
                record.next_word
            )),
        });
    }
    Ok(SentenceValues {
        sentence: record.prompt.clone(),
        players,
        models: out,
    })
}

/// Task 2 over loaded models: see the module docs.
pub struct NextWord {
    models: Vec<CausalLm>,
    prompts: Vec<Prompt>,
    args: NextWordArgs,
    examined: RefCell<(usize, usize)>,
    records: RefCell<Vec<PromptRecord>>,
}

impl NextWord {
    /// Load the default models and the prompts.
    pub fn new(args: &NextWordArgs) -> Result<Self> {
        Ok(NextWord {
            models: load_default_lms()?,
            prompts: nyt_prompts(args.prompt_words, args.seed)?,
            args: args.clone(),
            examined: RefCell::new((0, 0)),
            records: RefCell::new(Vec::new()),
        })
    }

    pub fn models(&self) -> &[CausalLm] {
        &self.models
    }
}

impl Task for NextWord {
    fn description(&self) -> String {
        format!(
            "next word (first {} words of NYT editorials, baseline {:?})",
            self.args.prompt_words, self.args.baseline
        )
    }

    fn unit(&self) -> &'static str {
        "prompts"
    }

    fn model_names(&self) -> Vec<String> {
        self.models.iter().map(|m| m.name().to_string()).collect()
    }

    fn paper(&self) -> PaperNumbers {
        paper_next_word()
    }

    fn n_players(&self) -> usize {
        self.args.n
    }

    fn accuracy(
        &self,
        _out: &Path,
        _observer: Option<&mut Observer<'_>>,
    ) -> Result<BTreeMap<String, f64>> {
        let (examined, agreed) = *self.examined.borrow();
        Ok(BTreeMap::from([(
            AGREEMENT_KEY.to_string(),
            agreed as f64 / examined.max(1) as f64,
        )]))
    }

    fn candidates(&self) -> usize {
        self.prompts.len()
    }

    fn candidate(&self, i: usize) -> Result<Candidate<'_>> {
        let prompt = &self.prompts[i];
        let Ok(players) = prompt_players(&prompt.text, self.args.n, self.args.seed) else {
            return Ok(Candidate::Skip(format!(
                "have fewer than {} content words",
                self.args.n
            )));
        };
        self.examined.borrow_mut().0 += 1;
        let words = self
            .models
            .iter()
            .map(|m| greedy_next_word(m, &prompt.text, 6))
            .collect::<Result<Vec<_>>>()?;
        if !(words.iter().all(|w| w.is_word()) && words.iter().all(|w| w.word == words[0].word)) {
            return Ok(Candidate::Skip(
                "have different next words in the two models".into(),
            ));
        }
        self.examined.borrow_mut().1 += 1;
        let mut games = Vec::new();
        let mut records = Vec::new();
        for (m, w) in self.models.iter().zip(&words) {
            let Ok(g) = LmGame::new(
                m,
                &players,
                &self.args.baseline,
                w.tokens[0],
                self.args.batch_size,
            ) else {
                return Ok(Candidate::Skip(
                    "cannot be mapped onto both tokenizations".into(),
                ));
            };
            let masked: &MaskedPrompt = g.masked();
            let (tokens_run, tokens_unshared) = masked.token_work();
            let ends = g.values(&[crate::Coalition::full(players.n()), crate::Coalition::EMPTY])?;
            records.push(PromptModelRecord {
                model: m.name().to_string(),
                target_token: g.target().1,
                target_tokens_of_word: w.tokens.len(),
                log_odds_full: ends[0],
                log_odds_empty: ends[1],
                prompt_tokens: masked.len(),
                tokens_run,
                tokens_unshared,
            });
            games.push(Box::new(g) as Box<dyn Game + '_>);
        }
        self.records.borrow_mut().push(PromptRecord {
            id: prompt.id.clone(),
            prompt: prompt.text.clone(),
            next_word: words[0].word.clone(),
            players: players.names(),
            models: records,
        });
        Ok(Candidate::Sample {
            id: prompt.id.clone(),
            text: format!("{} → {}", prompt.text, words[0].word),
            games,
        })
    }

    fn finish(&self, study: &Study) -> Result<Vec<String>> {
        let ids: Vec<&str> = study.results.iter().map(|r| r.id.as_str()).collect();
        let records: Vec<PromptRecord> = self
            .records
            .borrow()
            .iter()
            .filter(|r| ids.contains(&r.id.as_str()))
            .cloned()
            .collect();
        write_json(&study.out.join("prompts.json"), &records)?;
        Ok(vec!["prompts.json".into()])
    }
}

/// Run the replication, or resume it: see the module docs. Writes summary.json, figures.html,
/// comparison.md and prompts.json, and returns everything in memory.
pub fn replicate_next_word(
    args: &NextWordArgs,
    observer: Option<&mut Observer<'_>>,
) -> Result<Study> {
    super::check_run(args.n, crate::MAX_PLAYERS, 2, &args.run)?;
    let task = NextWord::new(args)?;
    replicate(&task, &args.run, observer)
}
