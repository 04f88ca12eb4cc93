//! `interprim train`: the command-line front of [`crate::train::train_sentiment`] and
//! [`crate::train::digits::train_digits`], with progress bars.
//! Defaults reproduce the committed weights (weights/README.md).

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use crate::models::bert::Pooling;
use crate::models::registry::{DigitModel, SentimentModel};
use crate::train::digits::{train_digits, DigitProgress, DigitTrainOptions};
use crate::train::{train_sentiment, Progress, Storage, TrainOptions};
use crate::{Error, Result};

/// What to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainTask {
    /// Binary sentiment of movie-review sentences (method §5 task 1).
    Sentiment,
    /// MNIST "3" vs rest with ResNet-20 and a VGG-16-style CNN (method §5 task 3).
    Digits,
}

/// Which default model(s) to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelChoice {
    /// sentiment: MiniLM-L3
    L3,
    /// sentiment: MiniLM-L6
    L6,
    /// digits: ResNet-20
    Resnet20,
    /// digits: VGG-16-style
    Vgg16,
    /// both models of the task
    Both,
}

impl ModelChoice {
    fn models(self) -> Result<Vec<SentimentModel>> {
        match self {
            ModelChoice::L3 => Ok(vec![SentimentModel::L3]),
            ModelChoice::L6 => Ok(vec![SentimentModel::L6]),
            ModelChoice::Both => Ok(SentimentModel::ALL.to_vec()),
            other => Err(Error::Invalid(format!(
                "--model {} is a digits model; the sentiment models are l3, l6 or both",
                format!("{other:?}").to_lowercase()
            ))),
        }
    }

    fn digit_models(self) -> Result<Vec<DigitModel>> {
        match self {
            ModelChoice::Resnet20 => Ok(vec![DigitModel::Resnet20]),
            ModelChoice::Vgg16 => Ok(vec![DigitModel::Vgg16]),
            ModelChoice::Both => Ok(DigitModel::ALL.to_vec()),
            other => Err(Error::Invalid(format!(
                "--model {} is a sentiment model; the digits models are resnet20, vgg16 or both",
                format!("{other:?}").to_lowercase()
            ))),
        }
    }
}

/// Arguments of `interprim train`. Unset options take the per-model defaults of
/// [`TrainOptions::for_model`].
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// What to train.
    #[arg(value_enum, default_value = "sentiment")]
    pub task: TrainTask,
    /// Which model(s).
    #[arg(long, value_enum, default_value = "both")]
    pub model: ModelChoice,
    /// Output directory; files are named sentiment-minilm-l{3,6}.safetensors or
    /// digits-{resnet20,vgg16}.safetensors.
    #[arg(long, default_value = "weights")]
    pub out: PathBuf,
    /// Epochs over the training split.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Number of top encoder layers to fine-tune (0 = head only).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Pooling: cls (pooler on [CLS]) or mean.
    #[arg(long)]
    pub pooling: Option<String>,
    /// Peak learning rate of the encoder layers.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Peak learning rate of the head.
    #[arg(long)]
    pub head_lr: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Seed of init, batch order and dropout (the split has its own, fixed seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hold out this fraction of the training split and report accuracy on it after each epoch.
    #[arg(long)]
    pub validation: Option<f64>,
    /// Train on a seeded subset of this many sentences.
    #[arg(long)]
    pub max_train: Option<usize>,
    /// Evaluate the written file on a seeded subset of this many test sentences (0 = skip).
    #[arg(long)]
    pub max_test: Option<usize>,
    /// Store f32 instead of f16.
    #[arg(long)]
    pub f32: bool,
    /// digits: shift training images by up to this many pixels (augmentation).
    #[arg(long)]
    pub max_shift: Option<usize>,
    /// digits: other digits per "3" in each epoch.
    #[arg(long)]
    pub negatives_per_positive: Option<f64>,
    /// Sentence file (default: the cached movieReviewSnippets_GroundTruth.txt).
    #[arg(long)]
    pub sentences: Option<PathBuf>,
}

impl TrainArgs {
    /// The options for one model.
    pub fn options(&self, model: SentimentModel) -> Result<TrainOptions> {
        if self.max_shift.is_some() || self.negatives_per_positive.is_some() {
            return Err(Error::Invalid(
                "--max-shift and --negatives-per-positive apply to `train digits` only".into(),
            ));
        }
        let mut o = TrainOptions::for_model(model);
        o.out = self.out.join(model.weights_file_name());
        if let Some(v) = self.epochs {
            o.epochs = v;
        }
        if let Some(v) = self.layers {
            o.train_layers = v;
        }
        if let Some(p) = &self.pooling {
            o.pooling = p.parse::<Pooling>()?;
        }
        if let Some(v) = self.lr {
            o.lr = v;
        }
        if let Some(v) = self.head_lr {
            o.head_lr = v;
        }
        if let Some(v) = self.batch_size {
            o.batch_size = v;
        }
        if let Some(v) = self.dropout {
            o.dropout = v;
        }
        if let Some(v) = self.seed {
            o.seed = v;
        }
        if let Some(v) = self.validation {
            o.validation_fraction = v;
        }
        o.max_train = self.max_train;
        o.max_test = self.max_test;
        if self.f32 {
            o.storage = Storage::F32;
        }
        if let Some(p) = &self.sentences {
            o.sentences = p.clone();
        }
        Ok(o)
    }
}

impl TrainArgs {
    /// The digits options for one model (unset options: [`DigitTrainOptions::for_model`]).
    pub fn digit_options(&self, model: DigitModel) -> Result<DigitTrainOptions> {
        for (flag, set) in [
            ("--layers", self.layers.is_some()),
            ("--pooling", self.pooling.is_some()),
            ("--head-lr", self.head_lr.is_some()),
            ("--dropout", self.dropout.is_some()),
            ("--validation", self.validation.is_some()),
            ("--f32", self.f32),
            ("--sentences", self.sentences.is_some()),
        ] {
            if set {
                return Err(Error::Invalid(format!(
                    "{flag} applies to `train sentiment` only; drop it for `train digits`"
                )));
            }
        }
        let mut o = DigitTrainOptions::for_model(model);
        o.out = self.out.join(model.weights_file_name());
        if let Some(v) = self.epochs {
            o.epochs = v;
        }
        if let Some(v) = self.lr {
            o.lr = v;
        }
        if let Some(v) = self.batch_size {
            o.batch_size = v;
        }
        if let Some(v) = self.seed {
            o.seed = v;
        }
        if let Some(v) = self.max_shift {
            o.max_shift = v;
        }
        if let Some(v) = self.negatives_per_positive {
            o.negatives_per_positive = v;
        }
        o.max_train = self.max_train;
        o.max_test = self.max_test;
        Ok(o)
    }
}

/// The bar of one model's training: elapsed time, steps of the current epoch and a message.
fn training_bar(model: &str) -> Result<ProgressBar> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .map_err(|e| Error::Invalid(e.to_string()))?,
    );
    bar.set_prefix(model.to_string());
    Ok(bar)
}

/// A log line above the bar; indicatif drops `println` on a hidden bar (no terminal), so then the
/// line goes to stderr.
fn say(bar: &ProgressBar, msg: String) {
    if bar.is_hidden() {
        eprintln!("{msg}");
    } else {
        bar.println(msg);
    }
}

/// One training step on the bar: the position in the epoch and the step's loss.
fn show_step(bar: &ProgressBar, epoch: usize, step: usize, steps: usize, loss: f32) {
    bar.set_length(steps as u64);
    bar.set_position(step as u64);
    bar.set_message(format!("epoch {epoch} loss {loss:.4}"));
}

fn run_train_digits(args: &TrainArgs) -> Result<()> {
    for model in args.model.digit_models()? {
        let opts = args.digit_options(model)?;
        let bar = training_bar(model.name())?;
        let say = |msg: String| say(&bar, msg);
        let report = train_digits(&opts, |p| match p {
            DigitProgress::Stage(s) => say(format!("{}: {s}", model.name())),
            DigitProgress::Step {
                epoch,
                step,
                steps,
                loss,
            } => show_step(&bar, epoch, step, steps, loss),
            DigitProgress::Epoch {
                epoch,
                mean_loss,
                seconds,
            } => say(format!(
                "{}: epoch {epoch}: mean loss {mean_loss:.4} ({seconds:.1} s)",
                model.name()
            )),
        })?;
        bar.finish_and_clear();
        println!("{}", report.summary());
    }
    Ok(())
}

/// Run `interprim train`: train the chosen model(s) and print a summary of each.
pub fn run_train_cli(args: &TrainArgs) -> Result<()> {
    if args.task == TrainTask::Digits {
        return run_train_digits(args);
    }
    for model in args.model.models()? {
        let opts = args.options(model)?;
        let bar = training_bar(model.name())?;
        let say = |msg: String| say(&bar, msg);
        let report = train_sentiment(&opts, |p| match p {
            Progress::Stage(s) => {
                say(format!("{}: {s}", model.name()));
                bar.set_position(0);
                bar.set_message("");
            }
            Progress::Cache { done, total } | Progress::Eval { done, total } => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
            Progress::Step {
                epoch,
                step,
                steps,
                loss,
            } => show_step(&bar, epoch, step, steps, loss),
            Progress::Epoch {
                epoch,
                mean_loss,
                validation_accuracy,
            } => {
                let va = validation_accuracy
                    .map(|a| format!(", validation accuracy {a:.4}"))
                    .unwrap_or_default();
                say(format!(
                    "{}: epoch {epoch}: mean loss {mean_loss:.4}{va}",
                    model.name()
                ));
            }
        })?;
        bar.finish_and_clear();
        println!("{}", report.summary());
    }
    Ok(())
}
