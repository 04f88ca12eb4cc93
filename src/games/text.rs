//! Text classifiers as games: a BERT sentence classifier ([`TextClassifier`]) on one sentence,
//! word players ([`crate::text::players`]), a masking baseline ([`crate::text::baseline`]) and
//! v(x_T) = log p_y(x_T) − log(1 − p_y(x_T)), p = softmax of the logits, y the target class
//! (by default the class predicted on the full sentence).
//!
//! All 2^n masked inputs of a sentence have the sentence's own token length (no padding, so the
//! attention mask is all ones) and are evaluated in batches ([`MaskedSentence`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use candle_core::Device;

use crate::coalition::Coalition;
use crate::game::Game;
use crate::models::bert::{BertClassifier, Pooling};
use crate::models::checkpoint::{load_bert_classifier, HeadSource, ModelFiles};
use crate::models::tokenizer::TextTokenizer;
use crate::models::ModelError;
use crate::text::baseline::{learn_baseline, Baseline, LearnBaselineOptions, LearnedBaseline};
use crate::text::diff::DiffBert;
use crate::text::masking::{log_odds, MaskedSentence, DEFAULT_BATCH};
use crate::text::players::Players;
use crate::util::file_sha256;
use crate::{Error, Result};

/// Which class's log-odds is the value.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The class the model predicts on the full (unmasked) sentence.
    #[default]
    Predicted,
    /// A given class index.
    Label(usize),
}

/// A BERT sentence classifier with its tokenizer and a name.
pub struct TextClassifier {
    name: String,
    tokenizer: TextTokenizer,
    model: BertClassifier,
    source: Option<(ModelFiles, HeadSource)>,
    identity: OnceLock<String>,
    learned: Option<LearnedBaseline>,
    forward_calls: AtomicUsize,
}

impl std::fmt::Debug for TextClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextClassifier")
            .field("name", &self.name)
            .field("model", &self.model)
            .finish()
    }
}

/// The head used when no fine-tuned file is given: mean pooling, two labels, seed 0.
pub fn fresh_head() -> HeadSource {
    HeadSource::Fresh {
        pooling: Pooling::Mean,
        num_labels: 2,
        seed: 0,
    }
}

impl TextClassifier {
    /// Load `dir/{config.json, tokenizer.json, model.safetensors}` on the CPU with the fine-tuned
    /// head file `head`, or, without one, a fresh seeded head ([`fresh_head`]).
    pub fn load(name: &str, dir: &std::path::Path, head: Option<&std::path::Path>) -> Result<Self> {
        let head = head
            .map(|p| HeadSource::FineTuned(p.to_path_buf()))
            .unwrap_or_else(fresh_head);
        Self::load_with(name, ModelFiles::in_dir(dir), head, &Device::Cpu)
    }

    /// Load from explicit files and head source.
    pub fn load_with(
        name: &str,
        files: ModelFiles,
        head: HeadSource,
        device: &Device,
    ) -> Result<Self> {
        let tokenizer = TextTokenizer::from_file(&files.tokenizer)?;
        let model = load_bert_classifier(&files, &head, device)?;
        let mut c = Self::from_parts(name, tokenizer, model, None);
        c.source = Some((files, head));
        Ok(c)
    }

    /// Wrap a model built elsewhere (e.g. in memory after training). `identity` names its weights
    /// in cache keys: give a string that changes whenever the weights do, or `None` to disable
    /// the value cache for this model. Such a model cannot learn a baseline (that needs its files).
    pub fn from_parts(
        name: &str,
        tokenizer: TextTokenizer,
        model: BertClassifier,
        identity: Option<String>,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(id) = identity {
            let _ = cell.set(id);
        }
        TextClassifier {
            name: name.to_string(),
            tokenizer,
            model,
            source: None,
            identity: cell,
            learned: None,
            forward_calls: AtomicUsize::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    pub fn model(&self) -> &BertClassifier {
        &self.model
    }

    /// The files and head it was loaded from, if it was loaded from files.
    pub fn source(&self) -> Option<&(ModelFiles, HeadSource)> {
        self.source.as_ref()
    }

    /// What identifies the weights in cache keys: SHA-256 of the config, tokenizer and weight
    /// files and of the fine-tuned head file (or the fresh head's settings), computed once.
    /// `None` for a model from [`Self::from_parts`] without an identity.
    pub fn identity(&self) -> Result<Option<String>> {
        if let Some(id) = self.identity.get() {
            return Ok(Some(id.clone()));
        }
        let Some((files, head)) = &self.source else {
            return Ok(None);
        };
        let head = match head {
            HeadSource::Fresh {
                pooling,
                num_labels,
                seed,
            } => format!("fresh:{}:{num_labels}:{seed}", pooling.as_str()),
            HeadSource::FineTuned(p) => format!("fine-tuned:{}", file_sha256(p)?),
        };
        let id = format!(
            "config:{} tokenizer:{} weights:{} head:{head}",
            file_sha256(&files.config)?,
            file_sha256(&files.tokenizer)?,
            file_sha256(&files.weights)?
        );
        Ok(Some(self.identity.get_or_init(|| id).clone()))
    }

    /// How many batched forward passes this classifier has run for value functions.
    pub fn forward_calls(&self) -> usize {
        self.forward_calls.load(Ordering::Relaxed)
    }

    pub fn learned_baseline(&self) -> Option<&LearnedBaseline> {
        self.learned.as_ref()
    }

    /// Set (or clear) the baseline that [`Baseline::Learned`] uses for this model.
    pub fn set_learned_baseline(&mut self, baseline: Option<LearnedBaseline>) {
        self.learned = baseline;
    }

    /// Learn a baseline embedding on sample sentences (see [`crate::text::baseline`]).
    pub fn learn_baseline(
        &self,
        sentences: &[&str],
        opts: &LearnBaselineOptions,
    ) -> Result<LearnedBaseline> {
        let (files, head) = self.source.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "model {} was not loaded from files, so it cannot be differentiated: load it with TextClassifier::load",
                self.name
            ))
        })?;
        let diff = DiffBert::new(files, head, &self.model)?;
        learn_baseline(&self.model, &self.tokenizer, &diff, sentences, opts)
    }

    /// The model's logits on the unmasked sentence.
    pub fn logits(&self, sentence: &str) -> Result<Vec<f64>> {
        let enc = self.tokenizer.encode(sentence)?;
        let ce = |e| Error::from(ModelError::Candle(e));
        let ids =
            candle_core::Tensor::from_vec(enc.ids.clone(), (1, enc.len()), self.model.device())
                .map_err(ce)?;
        let mask = ids.ones_like().map_err(ce)?;
        let out = self.model.forward_ids(&ids, &mask)?;
        let row: Vec<f32> = out.get(0).and_then(|r| r.to_vec1()).map_err(ce)?;
        Ok(row.into_iter().map(f64::from).collect())
    }

    /// The class predicted on the unmasked sentence (the first one on ties).
    pub fn predict(&self, sentence: &str) -> Result<usize> {
        let row = self.logits(sentence)?;
        Ok((0..row.len()).fold(0, |best, c| if row[c] > row[best] { c } else { best }))
    }

    /// This classifier on one sentence as a [`Game`] over `players` (which must come from the
    /// same sentence), masking with `baseline`, valued by the log-odds of `target`.
    ///
    /// Errors: a target label out of range, a model with fewer than two labels, a sentence longer
    /// than the model's positions, players that do not map onto the tokens.
    pub fn game(
        &self,
        players: &Players,
        baseline: &Baseline,
        target: Target,
        batch_size: usize,
    ) -> Result<TextGame<'_>> {
        TextGame::new(self, players, baseline, target, batch_size)
    }
}

/// A text classifier on one sentence: see the module docs.
pub struct TextGame<'a> {
    classifier: &'a TextClassifier,
    players: Players,
    baseline: Baseline,
    masked: MaskedSentence,
    target: usize,
    predicted: usize,
    batch_size: usize,
}

impl<'a> TextGame<'a> {
    fn new(
        classifier: &'a TextClassifier,
        players: &Players,
        baseline: &Baseline,
        target: Target,
        batch_size: usize,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::InvalidSetting {
                name: "batch_size",
                value: "0".into(),
                why: "at least one masked input per batch",
            });
        }
        let classes = classifier.model.num_labels();
        if classes < 2 {
            return Err(Error::Invalid(format!(
                "model {} has {classes} output class(es): log-odds need at least two; use a classifier head with ≥ 2 labels",
                classifier.name
            )));
        }
        let learned = classifier.learned.as_ref().map(|l| l.values.as_slice());
        let resolved = baseline.resolve(&classifier.model, &classifier.tokenizer, learned)?;
        let masked =
            MaskedSentence::new(&classifier.model, &classifier.tokenizer, players, resolved)?;
        let full = Coalition::full(players.n()).0;
        let logits: Vec<f32> = masked
            .logits(&classifier.model, &[full])?
            .get(0)
            .and_then(|r| r.to_vec1())
            .map_err(ModelError::from)?;
        let predicted =
            (0..logits.len()).fold(0, |best, c| if logits[c] > logits[best] { c } else { best });
        let target = match target {
            Target::Predicted => predicted,
            Target::Label(y) if y < classes => y,
            Target::Label(y) => {
                return Err(Error::Invalid(format!(
                "target label {y} is out of range for model {}: it has {classes} labels (0..={})",
                classifier.name,
                classes - 1
            )))
            }
        };
        Ok(TextGame {
            classifier,
            players: players.clone(),
            baseline: baseline.clone(),
            masked,
            target,
            predicted,
            batch_size,
        })
    }

    /// The class whose log-odds is the value.
    pub fn target(&self) -> usize {
        self.target
    }

    /// The class predicted on the full sentence.
    pub fn predicted(&self) -> usize {
        self.predicted
    }

    /// The target's label name, when the model has label names.
    pub fn target_name(&self) -> Option<String> {
        self.classifier
            .model
            .labels()
            .and_then(|l| l.get(self.target).cloned())
    }

    pub fn players(&self) -> &Players {
        &self.players
    }

    /// The model's tokens of the sentence, `[CLS]` and `[SEP]` included.
    pub fn tokens(&self) -> &[String] {
        &self.masked.encoded.tokens
    }

    /// Token indices of each player.
    pub fn player_tokens(&self) -> &[Vec<usize>] {
        &self.masked.player_tokens
    }

    /// The baseline's short description.
    pub fn baseline(&self) -> String {
        self.baseline.describe()
    }
}

impl Game for TextGame<'_> {
    fn name(&self) -> String {
        self.classifier.name.clone()
    }

    fn n_players(&self) -> usize {
        self.players.n()
    }

    fn player_names(&self) -> Vec<String> {
        self.players.names()
    }

    fn values(&self, coalitions: &[Coalition]) -> Result<Vec<f64>> {
        let masks: Vec<u32> = coalitions.iter().map(|c| c.0).collect();
        let total = 1u64 << self.players.n();
        if let Some(bad) = masks.iter().find(|&&m| m as u64 >= total) {
            return Err(Error::InvalidPlayers(format!(
                "coalition mask {bad} names players beyond n = {}",
                self.players.n()
            )));
        }
        let out = self.masked.logits(&self.classifier.model, &masks)?;
        self.classifier
            .forward_calls
            .fetch_add(1, Ordering::Relaxed);
        let rows: Vec<Vec<f32>> = out.to_vec2().map_err(ModelError::from)?;
        rows.iter()
            .zip(&masks)
            .map(|(row, &mask)| {
                if let Some(&bad) = row.iter().find(|x| !x.is_finite()) {
                    return Err(Error::NonFinite {
                        what: format!(
                            "the logits of {} (check the weights and the baseline)",
                            self.classifier.name
                        ),
                        mask: mask as usize,
                        value: bad as f64,
                    });
                }
                let row: Vec<f64> = row.iter().map(|&x| x as f64).collect();
                Ok(log_odds(&row, self.target))
            })
            .collect()
    }

    fn identity(&self) -> Result<Option<String>> {
        let Some(model) = self.classifier.identity()? else {
            return Ok(None);
        };
        let learned = self
            .classifier
            .learned
            .as_ref()
            .map(|l| l.values.as_slice());
        let spans: Vec<_> = self.players.words.iter().map(|w| w.bytes.clone()).collect();
        Ok(Some(format!(
            "text classifier log-odds v1\nmodel: {model}\nsentence: {}\nplayers: {spans:?}\nbaseline: {}\ntarget: {}",
            self.players.sentence,
            self.baseline.identity(learned)?,
            self.target
        )))
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn bytes_per_coalition(&self) -> u64 {
        // input embeddings and activations of one masked sentence, roughly 16 hidden-width rows
        // per token in flight
        let hidden = self.classifier.model.config().hidden_size as u64;
        self.masked.len() as u64 * hidden * 4 * 16
    }
}

/// The default batch of masked sentences per forward pass.
pub const DEFAULT_TEXT_BATCH: usize = DEFAULT_BATCH;
