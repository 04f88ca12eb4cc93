//! Fine-tuning the default sentiment classifiers (MiniLM-L3 and MiniLM-L6 on the Rotten Tomatoes
//! sentences), and evaluating a classifier on labelled sentences.
//!
//! Why this shape: on a 2-core CPU, back-propagating through a whole BERT is too slow, and a
//! committed weights file must stay small. So the lower layers stay frozen: they run once over
//! all training sentences and their outputs are cached in memory; only the top
//! [`TrainOptions::train_layers`] encoder layers, the pooling and a new linear head are trained
//! (candle-nn `VarMap` + two `AdamW`s: a small learning rate for the pretrained layers, a larger
//! one for the new head; linear warm-up and decay; seeded init, shuffling and dropout). The
//! output is an overlay file with only the trained tensors, under their Hugging Face names, that
//! [`load_bert_classifier`] with [`HeadSource::FineTuned`] applies on top of the cached base
//! model. The reported test accuracy is measured on that reloaded file (f16 storage included).

pub mod digits;
mod layer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::SeedableRng;

use crate::data::sentences::{
    load_sentences, seeded_subset, shuffle, stratified_split, LabeledSentence, DEFAULT_SPLIT_SEED,
    DEFAULT_TEST_FRACTION, LABEL_NAMES,
};
use crate::models::bert::{BertClassifier, Config, Pooling};
use crate::models::checkpoint::{
    load_bert_classifier, load_bert_config, read_bert_tensors, save_fine_tuned_as, HeadSource,
    ModelFiles,
};
use crate::models::registry::SentimentModel;
use crate::models::tokenizer::{pad_batch, TextTokenizer};
use crate::models::ModelError;
use crate::{Error, Result};

use layer::{Dropout, TopModel};

/// How trained tensors are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Storage {
    F16,
    F32,
}

/// Settings of one fine-tuning run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// A name for reports and metadata (e.g. "minilm-l6").
    pub model_name: String,
    /// The base model.
    pub base: ModelFiles,
    /// The sentence file (`id TAB rating TAB sentence`).
    pub sentences: PathBuf,
    /// Where the overlay file is written.
    pub out: PathBuf,
    /// Test split: fraction per class and seed (the project's split: 0.2, 0).
    pub test_fraction: f64,
    pub split_seed: u64,
    /// Fraction of the training split held out (stratified, seeded by `seed`) to report an
    /// accuracy after every epoch without touching the test split; 0 = none.
    pub validation_fraction: f64,
    /// Number of top encoder layers trained (0 = head only); the others are frozen.
    pub train_layers: usize,
    pub pooling: Pooling,
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate of the encoder layers.
    pub lr: f64,
    /// Peak learning rate of the pooler and the classifier.
    pub head_lr: f64,
    pub weight_decay: f64,
    /// Fraction of the steps with a linear warm-up; then linear decay to 0.
    pub warmup_fraction: f64,
    /// Dropout on the outputs of the dense layers and on the pooled vector.
    pub dropout: f32,
    /// Seed of the head init, the batch order and dropout.
    pub seed: u64,
    /// Train on a seeded subset of this many training sentences (quick runs, tests).
    pub max_train: Option<usize>,
    /// Stop after this many optimiser steps in all (quick runs, tests).
    pub max_steps: Option<usize>,
    /// Evaluate the written file on the test split (or on a seeded subset of this size; 0 = skip).
    pub max_test: Option<usize>,
    pub storage: Storage,
}

impl TrainOptions {
    /// The settings the committed weights were made with (see weights/README.md).
    pub fn for_model(model: SentimentModel) -> Self {
        let (train_layers, epochs) = match model {
            SentimentModel::L3 => (2, 4),
            SentimentModel::L6 => (2, 3),
        };
        Self {
            model_name: model.name().to_string(),
            base: model.base_files(),
            sentences: crate::data::sentences::default_path(),
            out: PathBuf::from("weights").join(model.weights_file_name()),
            test_fraction: DEFAULT_TEST_FRACTION,
            split_seed: DEFAULT_SPLIT_SEED,
            validation_fraction: 0.0,
            train_layers,
            pooling: Pooling::Mean,
            epochs,
            batch_size: 32,
            lr: 1e-4,
            head_lr: 1e-3,
            weight_decay: 0.01,
            warmup_fraction: 0.06,
            dropout: 0.1,
            seed: 0,
            max_train: None,
            max_steps: None,
            max_test: None,
            storage: Storage::F16,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, value: String, why: &'static str| {
            Err(Error::InvalidSetting { name, value, why })
        };
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "must be at least 1");
        }
        for (name, v) in [("lr", self.lr), ("head_lr", self.head_lr)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, v.to_string(), "must be a positive number");
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", self.weight_decay.to_string(), "must be ≥ 0");
        }
        if !(0.0..1.0).contains(&self.warmup_fraction) {
            return bad(
                "warmup_fraction",
                self.warmup_fraction.to_string(),
                "must be in [0, 1)",
            );
        }
        if !(0.0..1.0).contains(&self.validation_fraction) {
            return bad(
                "validation_fraction",
                self.validation_fraction.to_string(),
                "must be in [0, 1)",
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", self.dropout.to_string(), "must be in [0, 1)");
        }
        Ok(())
    }
}

/// What [`train_sentiment`] is doing, for progress bars.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A new stage starts (a short description).
    Stage(String),
    /// Frozen layers run over the sentences: `done` of `total`.
    Cache { done: usize, total: usize },
    /// One optimiser step (1-based `step` of `steps` in all) and its batch loss.
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f32,
    },
    /// End of an epoch: mean training loss, and accuracy on the validation part if any.
    Epoch {
        epoch: usize,
        mean_loss: f64,
        validation_accuracy: Option<f64>,
    },
    /// Evaluating the written file: `done` of `total` sentences.
    Eval { done: usize, total: usize },
}

/// What a fine-tuning run did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    pub model_name: String,
    pub out: PathBuf,
    /// Size of the written file in bytes.
    pub file_bytes: u64,
    /// Names of the tensors in the file.
    pub tensors: Vec<String>,
    pub train_sentences: usize,
    pub validation_sentences: usize,
    pub test_sentences: usize,
    /// Loss of every optimiser step, in order.
    pub step_losses: Vec<f32>,
    /// Mean loss of each epoch.
    pub epoch_losses: Vec<f64>,
    /// Validation accuracy after each epoch (empty without a validation part).
    pub validation_accuracy: Vec<f64>,
    /// Accuracy of the written file, reloaded through [`load_bert_classifier`], on the test split
    /// (or its seeded subset, see `test_sentences`); None when skipped.
    pub test_accuracy: Option<f64>,
    /// Seconds spent running the frozen layers, training, and evaluating.
    pub cache_seconds: f64,
    pub train_seconds: f64,
    pub eval_seconds: f64,
}

impl TrainReport {
    /// One line per fact, for the CLI.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: wrote {} ({:.2} MB, {} tensors)\n  {} training, {} validation, {} test sentences\n  \
             frozen layers {:.1} s, training {:.1} s, evaluation {:.1} s\n  epoch losses {:?}",
            self.model_name,
            self.out.display(),
            self.file_bytes as f64 / 1e6,
            self.tensors.len(),
            self.train_sentences,
            self.validation_sentences,
            self.test_sentences,
            self.cache_seconds,
            self.train_seconds,
            self.eval_seconds,
            self.epoch_losses
                .iter()
                .map(|l| format!("{l:.4}"))
                .collect::<Vec<_>>(),
        );
        if !self.validation_accuracy.is_empty() {
            s += &format!(
                "\n  validation accuracy per epoch {:?}",
                self.validation_accuracy
                    .iter()
                    .map(|a| format!("{a:.4}"))
                    .collect::<Vec<_>>()
            );
        }
        if let Some(a) = self.test_accuracy {
            s += &format!("\n  test accuracy of the written file {a:.4}");
        }
        s
    }
}

/// Accuracy of a classifier on labelled sentences.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub correct: usize,
    pub total: usize,
    pub accuracy: f64,
    /// Predicted label of each sentence, in input order.
    pub predictions: Vec<u32>,
}

/// The predicted labels (argmax of the logits) of `model` on `sentences`, batched by length.
/// `progress(done, total)` after each batch.
pub fn evaluate(
    model: &BertClassifier,
    tokenizer: &TextTokenizer,
    sentences: &[LabeledSentence],
    batch_size: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Evaluation> {
    if sentences.is_empty() {
        return Err(Error::Invalid("evaluate: no sentences".into()));
    }
    let ids = encode_all(tokenizer, sentences)?;
    let order = by_length(&ids);
    let pad = tokenizer.special().pad;
    let mut predictions = vec![0u32; sentences.len()];
    let mut done = 0;
    for chunk in order.chunks(batch_size.max(1)) {
        let seqs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
        let batch = pad_batch(&seqs, pad, model.device())?;
        let logits = model.forward_ids(&batch.input_ids, &batch.attention_mask)?;
        let pred: Vec<u32> = logits
            .argmax(D::Minus1)
            .map_err(ModelError::from)?
            .to_vec1()
            .map_err(ModelError::from)?;
        for (&i, p) in chunk.iter().zip(pred) {
            predictions[i] = p;
        }
        done += chunk.len();
        progress(done, sentences.len());
    }
    let correct = predictions
        .iter()
        .zip(sentences)
        .filter(|(p, s)| **p == s.label)
        .count();
    Ok(Evaluation {
        correct,
        total: sentences.len(),
        accuracy: correct as f64 / sentences.len() as f64,
        predictions,
    })
}

fn encode_all(tokenizer: &TextTokenizer, sentences: &[LabeledSentence]) -> Result<Vec<Vec<u32>>> {
    sentences
        .iter()
        .map(|s| Ok(tokenizer.encode(&s.text)?.ids))
        .collect()
}

/// Indices sorted by sequence length (stable), so that batches need little padding.
fn by_length(ids: &[Vec<u32>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i].len());
    order
}

/// The frozen bottom of the model: embeddings and the first `layers` encoder layers, as a
/// classifier whose hidden states are the inputs of the trained layers (its head is unused).
fn frozen_bottom(
    config: &Config,
    base: &HashMap<String, Tensor>,
    layers: usize,
    device: &Device,
) -> Result<BertClassifier> {
    let mut cfg = config.clone();
    cfg.num_hidden_layers = layers;
    let mut tensors = base.clone();
    tensors.insert(
        "classifier.weight".into(),
        Tensor::zeros((1, config.hidden_size), DType::F32, device).map_err(ModelError::from)?,
    );
    tensors.insert(
        "classifier.bias".into(),
        Tensor::zeros(1, DType::F32, device).map_err(ModelError::from)?,
    );
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    Ok(BertClassifier::load(vb, &cfg, Pooling::Mean, 1)?)
}

/// Hidden states entering the first trained layer, one `(len, hidden)` tensor per sentence.
fn frozen_states(
    bottom: &BertClassifier,
    ids: &[Vec<u32>],
    pad: u32,
    batch_size: usize,
    progress: &mut impl FnMut(Progress),
) -> Result<Vec<Tensor>> {
    let order = by_length(ids);
    let mut states: Vec<Option<Tensor>> = vec![None; ids.len()];
    let mut done = 0;
    for chunk in order.chunks(batch_size) {
        let seqs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
        let batch = pad_batch(&seqs, pad, bottom.device())?;
        let h = bottom.hidden_states_ids(&batch.input_ids, &batch.attention_mask)?;
        for (row, &i) in chunk.iter().enumerate() {
            let t = h
                .narrow(0, row, 1)
                .and_then(|t| t.narrow(1, 0, ids[i].len()))
                .and_then(|t| t.squeeze(0))
                .and_then(|t| t.contiguous())
                .map_err(ModelError::from)?;
            states[i] = Some(t);
        }
        done += chunk.len();
        progress(Progress::Cache {
            done,
            total: ids.len(),
        });
    }
    Ok(states.into_iter().flatten().collect())
}

/// Cached inputs of the trained layers with their labels.
struct Cached {
    states: Vec<Tensor>,
    labels: Vec<u32>,
}

impl Cached {
    /// A padded batch `(b, len, h)`, its lengths and labels.
    fn batch(&self, idx: &[usize]) -> candle_core::Result<(Tensor, Vec<usize>, Tensor)> {
        let lengths: Vec<usize> = idx.iter().map(|&i| self.states[i].dims()[0]).collect();
        let len = lengths.iter().copied().max().unwrap_or(0);
        let rows = idx
            .iter()
            .zip(&lengths)
            .map(|(&i, &l)| self.states[i].pad_with_zeros(0, 0, len - l))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let x = Tensor::stack(&rows, 0)?;
        let labels: Vec<u32> = idx.iter().map(|&i| self.labels[i]).collect();
        let y = Tensor::new(labels.as_slice(), x.device())?;
        Ok((x, lengths, y))
    }

    /// Accuracy of `top` (no dropout).
    fn accuracy(&self, top: &TopModel, batch_size: usize) -> candle_core::Result<f64> {
        let mut order: Vec<usize> = (0..self.states.len()).collect();
        order.sort_by_key(|&i| self.states[i].dims()[0]);
        let mut correct = 0;
        for chunk in order.chunks(batch_size) {
            let (x, lengths, _) = self.batch(chunk)?;
            let pred: Vec<u32> = top
                .forward(&x, &lengths, None)?
                .argmax(D::Minus1)?
                .to_vec1()?;
            correct += chunk
                .iter()
                .zip(pred)
                .filter(|(&i, p)| self.labels[i] == *p)
                .count();
        }
        Ok(correct as f64 / self.states.len().max(1) as f64)
    }
}

/// Batches of one epoch: shuffle, sort windows of 50 batches by length (less padding), cut into
/// batches, shuffle the batches.
fn epoch_batches(
    n: usize,
    batch_size: usize,
    lengths: &[usize],
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..n).collect();
    shuffle(&mut idx, rng);
    let mut batches = Vec::new();
    for window in idx.chunks_mut(batch_size * 50) {
        window.sort_by_key(|&i| lengths[i]);
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    shuffle(&mut batches, rng);
    batches
}

/// A seeded N(0, std²) tensor.
fn seeded_normal(
    shape: (usize, usize),
    std: f64,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> candle_core::Result<Tensor> {
    let v = crate::util::normal_f32(shape.0 * shape.1, std, rng)
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    Tensor::from_vec(v, shape, &Device::Cpu)
}

/// Learning-rate factor at `step` (0-based) of `total`: linear warm-up, then linear decay to 0.
fn schedule(step: usize, total: usize, warmup_fraction: f64) -> f64 {
    let warm = (warmup_fraction * total as f64).round() as usize;
    if step < warm {
        (step + 1) as f64 / warm as f64
    } else {
        let rest = (total - warm).max(1) as f64;
        (1.0 - (step - warm) as f64 / rest).max(0.0)
    }
}

/// Fine-tune a sentiment classifier (see the module doc) and write the overlay to `opts.out`.
pub fn train_sentiment(
    opts: &TrainOptions,
    mut progress: impl FnMut(Progress),
) -> Result<TrainReport> {
    opts.validate()?;
    let device = Device::Cpu;
    let m = |e: candle_core::Error| Error::from(ModelError::from(e));

    progress(Progress::Stage("loading data and base model".into()));
    let config = load_bert_config(&opts.base.config)?;
    let n_layers = config.num_hidden_layers;
    if opts.train_layers > n_layers {
        return Err(Error::InvalidSetting {
            name: "train_layers",
            value: opts.train_layers.to_string(),
            why: "exceeds the number of encoder layers of the base model",
        });
    }
    let tokenizer = TextTokenizer::from_file(&opts.base.tokenizer)?;
    let sentences = load_sentences(&opts.sentences)?;
    let split = stratified_split(&sentences, opts.test_fraction, opts.split_seed)?;
    let mut train = split.train;
    if let Some(n) = opts.max_train {
        train = seeded_subset(&train, n, opts.seed);
    }
    let (train, validation) = if opts.validation_fraction > 0.0 {
        let s = stratified_split(&train, opts.validation_fraction, opts.seed)?;
        (s.train, s.test)
    } else {
        (train, Vec::new())
    };
    if train.is_empty() {
        return Err(Error::Invalid("no training sentences".into()));
    }
    let test = match opts.max_test {
        Some(n) => seeded_subset(&split.test, n, opts.seed),
        None => split.test,
    };

    let base = read_bert_tensors(&opts.base, None, &device)?;
    let first = n_layers - opts.train_layers;
    let bottom = frozen_bottom(&config, &base, first, &device)?;
    let pad = tokenizer.special().pad;

    progress(Progress::Stage(format!(
        "running the {first} frozen layer(s) over {} sentences",
        train.len() + validation.len()
    )));
    let t0 = Instant::now();
    let cache = |set: &[LabeledSentence], progress: &mut dyn FnMut(Progress)| -> Result<Cached> {
        let ids = encode_all(&tokenizer, set)?;
        let mut p = |x: Progress| progress(x);
        Ok(Cached {
            states: frozen_states(&bottom, &ids, pad, 64, &mut p)?,
            labels: set.iter().map(|s| s.label).collect(),
        })
    };
    let train_cache = cache(&train, &mut progress)?;
    let valid_cache = if validation.is_empty() {
        None
    } else {
        Some(cache(&validation, &mut progress)?)
    };
    let cache_seconds = t0.elapsed().as_secs_f64();
    drop(bottom);

    // Trainable tensors: the top layers from the base, the pooler from the base (or seeded), a
    // seeded classifier. They are put in the VarMap first, so the builder just picks them up.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let h = config.hidden_size;
    let mut names: Vec<String> = base
        .keys()
        .filter(|k| (first..n_layers).any(|i| k.starts_with(&format!("encoder.layer.{i}."))))
        .cloned()
        .collect();
    names.sort();
    let mut initial: Vec<(String, Tensor)> =
        names.iter().map(|k| (k.clone(), base[k].clone())).collect();
    if opts.pooling == Pooling::Cls {
        match (
            base.get("pooler.dense.weight"),
            base.get("pooler.dense.bias"),
        ) {
            (Some(w), Some(b)) => {
                initial.push(("pooler.dense.weight".into(), w.clone()));
                initial.push(("pooler.dense.bias".into(), b.clone()));
            }
            _ => {
                initial.push((
                    "pooler.dense.weight".into(),
                    seeded_normal((h, h), config.initializer_range, &mut rng).map_err(m)?,
                ));
                initial.push((
                    "pooler.dense.bias".into(),
                    Tensor::zeros(h, DType::F32, &device).map_err(m)?,
                ));
            }
        }
    }
    initial.push((
        "classifier.weight".into(),
        seeded_normal((2, h), config.initializer_range, &mut rng).map_err(m)?,
    ));
    initial.push((
        "classifier.bias".into(),
        Tensor::zeros(2, DType::F32, &device).map_err(m)?,
    ));
    let varmap = VarMap::new();
    let (mut encoder_vars, mut head_vars) = (Vec::new(), Vec::new());
    {
        let mut data = varmap.data().lock().expect("varmap lock");
        for (name, t) in &initial {
            let var = Var::from_tensor(&t.to_dtype(DType::F32).map_err(m)?).map_err(m)?;
            if name.starts_with("encoder.") {
                encoder_vars.push(var.clone());
            } else {
                head_vars.push(var.clone());
            }
            data.insert(name.clone(), var);
        }
    }
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let top = TopModel::load(vb, &config, first, opts.train_layers, opts.pooling, 2).map_err(m)?;
    let adamw = |lr: f64, vars: Vec<Var>| {
        AdamW::new(
            vars,
            ParamsAdamW {
                lr,
                weight_decay: opts.weight_decay,
                ..Default::default()
            },
        )
    };
    let mut opt_encoder = adamw(opts.lr, encoder_vars).map_err(m)?;
    let mut opt_head = adamw(opts.head_lr, head_vars).map_err(m)?;

    let lengths: Vec<usize> = train_cache.states.iter().map(|t| t.dims()[0]).collect();
    let steps_per_epoch = train.len().div_ceil(opts.batch_size);
    let total = (steps_per_epoch * opts.epochs).min(opts.max_steps.unwrap_or(usize::MAX));
    progress(Progress::Stage(format!(
        "training {} layer(s) + head: {} epochs, {total} steps",
        opts.train_layers, opts.epochs
    )));
    let t1 = Instant::now();
    let mut step = 0;
    let (mut step_losses, mut epoch_losses, mut validation_accuracy) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut dropout_rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(1));
    let mut batch_rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(2));
    for epoch in 1..=opts.epochs {
        if step >= total {
            break;
        }
        let (mut sum, mut count) = (0.0, 0usize);
        for batch in epoch_batches(train.len(), opts.batch_size, &lengths, &mut batch_rng) {
            if step >= total {
                break;
            }
            let f = schedule(step, total, opts.warmup_fraction);
            opt_encoder.set_learning_rate(opts.lr * f);
            opt_head.set_learning_rate(opts.head_lr * f);
            let (x, lens, y) = train_cache.batch(&batch).map_err(m)?;
            let dropout = if opts.dropout > 0.0 {
                Some(Dropout {
                    p: opts.dropout,
                    rng: &mut dropout_rng,
                })
            } else {
                None
            };
            let logits = top.forward(&x, &lens, dropout).map_err(m)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y).map_err(m)?;
            let grads = loss.backward().map_err(m)?;
            opt_encoder.step(&grads).map_err(m)?;
            opt_head.step(&grads).map_err(m)?;
            let l = loss.to_scalar::<f32>().map_err(m)?;
            if !l.is_finite() {
                return Err(Error::Invalid(format!(
                    "training diverged at step {step} (loss {l}); lower the learning rates"
                )));
            }
            step += 1;
            step_losses.push(l);
            sum += l as f64;
            count += 1;
            progress(Progress::Step {
                epoch,
                step,
                steps: total,
                loss: l,
            });
        }
        let mean_loss = sum / count.max(1) as f64;
        epoch_losses.push(mean_loss);
        let va = match &valid_cache {
            Some(c) => Some(c.accuracy(&top, 64).map_err(m)?),
            None => None,
        };
        validation_accuracy.extend(va);
        progress(Progress::Epoch {
            epoch,
            mean_loss,
            validation_accuracy: va,
        });
    }
    let train_seconds = t1.elapsed().as_secs_f64();

    // Save the trained tensors under their base names (plus the head).
    let trained: Vec<(String, Tensor)> = {
        let data = varmap.data().lock().expect("varmap lock");
        let mut v: Vec<(String, Tensor)> = data
            .iter()
            .map(|(k, var)| (k.clone(), var.as_tensor().clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let training = serde_json::json!({
        "base": opts.model_name,
        "data": "movieReviewSnippets_GroundTruth.txt (vaderSentiment 3.3.2), label = sign(rating), 0 dropped",
        "split": {"test_fraction": opts.test_fraction, "seed": opts.split_seed, "stratified": true},
        "train_sentences": train.len(),
        "trained_layers": (first..n_layers).collect::<Vec<_>>(),
        "pooling": opts.pooling.as_str(),
        "epochs": opts.epochs, "steps": step, "batch_size": opts.batch_size,
        "lr": opts.lr, "head_lr": opts.head_lr, "weight_decay": opts.weight_decay,
        "warmup_fraction": opts.warmup_fraction, "dropout": opts.dropout, "seed": opts.seed,
    });
    let dtype = match opts.storage {
        Storage::F16 => DType::F16,
        Storage::F32 => DType::F32,
    };
    let labels: Vec<String> = LABEL_NAMES.iter().map(|l| l.to_string()).collect();
    let file_bytes = save_fine_tuned_as(
        &opts.out,
        &trained.iter().cloned().collect(),
        dtype,
        opts.pooling,
        Some(&labels),
        Some(&training),
    )?;

    let t2 = Instant::now();
    let test_accuracy = if test.is_empty() || opts.max_test == Some(0) {
        None
    } else {
        progress(Progress::Stage(format!(
            "evaluating {} on {} test sentences",
            opts.out.display(),
            test.len()
        )));
        let model = load_bert_classifier(
            &opts.base,
            &HeadSource::FineTuned(opts.out.clone()),
            &device,
        )?;
        let e = evaluate(&model, &tokenizer, &test, 64, |done, total| {
            progress(Progress::Eval { done, total })
        })?;
        Some(e.accuracy)
    };
    Ok(TrainReport {
        model_name: opts.model_name.clone(),
        out: opts.out.clone(),
        file_bytes,
        tensors: trained.into_iter().map(|(n, _)| n).collect(),
        train_sentences: train.len(),
        validation_sentences: validation.len(),
        test_sentences: if opts.max_test == Some(0) {
            0
        } else {
            test.len()
        },
        step_losses,
        epoch_losses,
        validation_accuracy,
        test_accuracy,
        cache_seconds,
        train_seconds,
        eval_seconds: t2.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_config() -> Config {
        serde_json::from_value(serde_json::json!({
            "vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "max_position_embeddings": 16, "type_vocab_size": 2,
            "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
            "model_type": "bert"
        }))
        .unwrap()
    }

    fn random_tensors(c: &Config, pooler: bool) -> HashMap<String, Tensor> {
        let (v, h, i, p) = (
            c.vocab_size,
            c.hidden_size,
            c.intermediate_size,
            c.max_position_embeddings,
        );
        let mut shapes: Vec<(String, (usize, usize))> = vec![
            ("embeddings.word_embeddings.weight".into(), (v, h)),
            ("embeddings.position_embeddings.weight".into(), (p, h)),
            ("embeddings.token_type_embeddings.weight".into(), (2, h)),
            ("embeddings.LayerNorm.weight".into(), (1, h)),
            ("embeddings.LayerNorm.bias".into(), (1, h)),
            ("classifier.weight".into(), (2, h)),
            ("classifier.bias".into(), (1, 2)),
        ];
        if pooler {
            shapes.push(("pooler.dense.weight".into(), (h, h)));
            shapes.push(("pooler.dense.bias".into(), (1, h)));
        }
        for k in 0..c.num_hidden_layers {
            let pre = format!("encoder.layer.{k}");
            for m in ["self.query", "self.key", "self.value", "output.dense"] {
                shapes.push((format!("{pre}.attention.{m}.weight"), (h, h)));
                shapes.push((format!("{pre}.attention.{m}.bias"), (1, h)));
            }
            shapes.push((format!("{pre}.intermediate.dense.weight"), (i, h)));
            shapes.push((format!("{pre}.intermediate.dense.bias"), (1, i)));
            shapes.push((format!("{pre}.output.dense.weight"), (h, i)));
            shapes.push((format!("{pre}.output.dense.bias"), (1, h)));
            for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
                shapes.push((format!("{pre}.{ln}.weight"), (1, h)));
                shapes.push((format!("{pre}.{ln}.bias"), (1, h)));
            }
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        shapes
            .into_iter()
            .map(|(n, s)| {
                let mut t = seeded_normal(s, 0.5, &mut rng).unwrap();
                if n.contains("LayerNorm.weight") {
                    t = (t + 1.0).unwrap();
                }
                if s.0 == 1 {
                    t = t.squeeze(0).unwrap();
                }
                (n, t)
            })
            .collect()
    }

    /// The trainable top (all layers) on the embedding output computes the same logits as the
    /// classifier that loads the tensors, for both poolings and with padding.
    #[test]
    fn top_model_matches_bert_classifier() {
        let c = tiny_config();
        let dev = Device::Cpu;
        for pooling in [Pooling::Mean, Pooling::Cls] {
            let tensors = random_tensors(&c, true);
            let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &dev);
            let full = BertClassifier::load(vb, &c, pooling, 2).unwrap();
            for first in [0, 1] {
                let bottom_k = frozen_bottom(&c, &tensors, first, &dev).unwrap();
                let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &dev);
                let top_k = TopModel::load(vb, &c, first, 2 - first, pooling, 2).unwrap();
                let ids: Vec<Vec<u32>> =
                    vec![vec![2, 5, 6, 7, 3], vec![2, 9, 3], vec![2, 11, 12, 3]];
                let states = frozen_states(&bottom_k, &ids, 0, 2, &mut |_| {}).unwrap();
                let cached = Cached {
                    states,
                    labels: vec![0, 1, 0],
                };
                let (x, lengths, _) = cached.batch(&[0, 1, 2]).unwrap();
                let got = top_k.forward(&x, &lengths, None).unwrap();
                let seqs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
                let b = pad_batch(&seqs, 0, &dev).unwrap();
                let want = full.forward_ids(&b.input_ids, &b.attention_mask).unwrap();
                let diff = (got - &want)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(diff < 1e-4, "{pooling:?}, first {first}: max diff {diff}");
            }
        }
    }

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        assert!((schedule(0, 100, 0.1) - 0.1).abs() < 1e-12);
        assert!((schedule(9, 100, 0.1) - 1.0).abs() < 1e-12);
        assert!((schedule(10, 100, 0.1) - 1.0).abs() < 1e-12);
        assert!(schedule(99, 100, 0.1) > 0.0 && schedule(99, 100, 0.1) < 0.02);
        assert!((schedule(0, 10, 0.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn epoch_batches_cover_every_index_once() {
        let lengths: Vec<usize> = (0..103).map(|i| i % 17).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let batches = epoch_batches(103, 8, &lengths, &mut rng);
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 8));
    }
}
