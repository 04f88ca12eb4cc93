//! Task 1 of the paper (SST-2, BERT-base vs BERT-large) with what can be installed here: two
//! BERT-architecture classifiers of different depth sharing a tokenizer (MiniLM-L3 and MiniLM-L6,
//! fine-tuned on the Rotten Tomatoes sentences SST was built from), on held-out test sentences
//! that both classify correctly and that have at least n content words (the seeded players).

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Device;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{cached_accuracy, notebook_dir, replicate, Candidate, RunOptions, Task};
use crate::data::sentences::{default_split, seeded_subset, LabeledSentence};
use crate::games::text::{Target, TextClassifier};
use crate::models::registry::SentimentModel;
use crate::progress::{emit, Event, Observer};
use crate::run::study::Study;
use crate::run::summary::PaperNumbers;
use crate::text::baseline::Baseline;
use crate::text::masking::DEFAULT_BATCH;
use crate::text::players::{PlayerSelection, Players};
use crate::util::file_sha256;
use crate::Result;

/// The settings of `interprim replicate sentiment` that are specific to this task (the shared
/// ones are in [`RunOptions`]).
#[derive(Clone, Debug)]
pub struct SentimentArgs {
    pub run: RunOptions,
    /// Players (content words) per sentence.
    pub n: usize,
    /// Seed of the sentence order and of the player choice.
    pub seed: u64,
    /// Masked sentences per forward pass.
    pub batch_size: usize,
    /// Measure test accuracy on a seeded subset of this many test sentences (default: all).
    pub accuracy_sentences: Option<usize>,
}

impl Default for SentimentArgs {
    /// The CLI's defaults: 20 sentences into `output/sentiment`, n = 10.
    fn default() -> Self {
        SentimentArgs {
            run: RunOptions::new(20, "output/sentiment"),
            n: 10,
            seed: 0,
            batch_size: DEFAULT_BATCH,
            accuracy_sentences: None,
        }
    }
}

impl SentimentArgs {
    /// The notebooks' run of `samples` sentences (otherwise the CLI's defaults): results in
    /// `<cache root>/notebooks/sentiment-<samples>`, values in the shared value cache.
    pub fn for_notebooks(samples: usize) -> Self {
        let mut a = SentimentArgs::default();
        a.run.samples = samples;
        a.run.out = notebook_dir().join(format!("sentiment-{samples}"));
        a
    }
}

/// One default classifier: the cached base model with the committed fine-tuned weights
/// ([`SentimentModel::base_files`], [`SentimentModel::head`]), on the CPU, named by
/// [`SentimentModel::name`].
pub fn load_default_model(model: SentimentModel) -> Result<TextClassifier> {
    TextClassifier::load_with(model.name(), model.base_files(), model.head(), &Device::Cpu)
}

/// The two default classifiers, smaller first.
pub fn load_default_models() -> Result<Vec<(SentimentModel, TextClassifier)>> {
    SentimentModel::ALL
        .iter()
        .map(|&m| Ok((m, load_default_model(m)?)))
        .collect()
}

/// The paper's numbers for Task 1 (SST-2, BERT-base vs BERT-large).
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

/// Task 1 over loaded models: see the module docs.
pub struct Sentiment {
    models: Vec<(SentimentModel, TextClassifier)>,
    test: Vec<LabeledSentence>,
    order: Vec<usize>,
    args: SentimentArgs,
}

impl Sentiment {
    /// Load the default models and the test split.
    pub fn new(args: &SentimentArgs) -> Result<Self> {
        let models = load_default_models()?;
        let test = default_split()?.test;
        let mut order: Vec<usize> = (0..test.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(args.seed));
        Ok(Sentiment {
            models,
            test,
            order,
            args: args.clone(),
        })
    }

    pub fn models(&self) -> Vec<&TextClassifier> {
        self.models.iter().map(|(_, c)| c).collect()
    }
}

impl Task for Sentiment {
    fn description(&self) -> String {
        "sentiment (Rotten Tomatoes test sentences)".into()
    }

    fn unit(&self) -> &'static str {
        "sentences"
    }

    fn model_names(&self) -> Vec<String> {
        self.models
            .iter()
            .map(|(m, _)| m.name().to_string())
            .collect()
    }

    fn paper(&self) -> PaperNumbers {
        paper_sentiment()
    }

    fn n_players(&self) -> usize {
        self.args.n
    }

    fn accuracy(
        &self,
        out: &Path,
        mut observer: Option<&mut Observer<'_>>,
    ) -> Result<BTreeMap<String, f64>> {
        let set = match self.args.accuracy_sentences {
            Some(k) => seeded_subset(&self.test, k, self.args.seed),
            None => self.test.clone(),
        };
        let entries = self
            .models
            .iter()
            .map(|(m, _)| {
                Ok((
                    m.name().to_string(),
                    format!("{} on {} sentences", m.name(), set.len()),
                    file_sha256(&m.committed_weights())?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        cached_accuracy(out, &entries, |i| {
            let (m, c) = &self.models[i];
            emit(
                &mut observer,
                Event::Note(&format!(
                    "test accuracy of {} on {} sentences…",
                    m.name(),
                    set.len()
                )),
            );
            let mut correct = 0usize;
            for s in &set {
                correct += (c.predict(&s.text)? == s.label as usize) as usize;
            }
            Ok(correct as f64 / set.len().max(1) as f64)
        })
    }

    fn candidates(&self) -> usize {
        self.order.len()
    }

    fn candidate(&self, i: usize) -> Result<Candidate<'_>> {
        let s = &self.test[self.order[i]];
        let selection = PlayerSelection::Seeded {
            n: self.args.n,
            seed: self.args.seed,
        };
        let Ok(players) = Players::select(&s.text, &selection) else {
            return Ok(Candidate::Skip(format!(
                "have fewer than {} content words",
                self.args.n
            )));
        };
        for (_, c) in &self.models {
            if c.predict(&s.text)? != s.label as usize {
                return Ok(Candidate::Skip("are misclassified by a model".into()));
            }
        }
        let games = self
            .models
            .iter()
            .map(|(_, c)| {
                let g = c.game(
                    &players,
                    &Baseline::default(),
                    Target::Predicted,
                    self.args.batch_size,
                )?;
                Ok(Box::new(g) as Box<dyn crate::game::Game + '_>)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Candidate::Sample {
            id: format!("rt-{}", s.id),
            text: s.text.clone(),
            games,
        })
    }
}

/// Run the replication, or resume it: values come from the value cache and per-sample results
/// from `args.run.out/samples` when they were computed with the same settings. Writes
/// summary.json, figures.html and comparison.md, and returns everything in memory.
pub fn replicate_sentiment(
    args: &SentimentArgs,
    observer: Option<&mut Observer<'_>>,
) -> Result<Study> {
    super::check_run(args.n, crate::MAX_PLAYERS, 2, &args.run)?;
    let task = Sentiment::new(args)?;
    replicate(&task, &args.run, observer)
}
