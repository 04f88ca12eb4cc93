//! The project's default models, in one place: for each of the paper's three tasks (method §5) the
//! networks it compares, where their files are (the asset cache of scripts/fetch-assets.sh,
//! [`super::assets`], and the weights committed under `weights/`) and what they are built from.
//!
//! - [`SentimentModel`]: MiniLM-L3 and MiniLM-L6 BERT classifiers, each a cached base model with a
//!   committed fine-tuned head overlay ([`SentimentModel::base_files`], [`SentimentModel::head`]);
//!   they are used as `games::text::TextClassifier`s, which `tasks::sentiment::load_default_model`
//!   loads from these files.
//! - [`DigitModel`]: ResNet-20 and the VGG-16-style net, each a committed weights file
//!   ([`DigitModel::load`]), and the architecture presets they were trained with
//!   ([`DigitModel::config`]).
//! - [`LanguageModel`]: SmolLM2-135M and Gemma-3-270M, GGUF files of the asset cache
//!   ([`LanguageModel::load`]).
//!
//! Each task's loader of all its models (`tasks::{sentiment, digits, next_word}`) goes through
//! these; so do training (`train`), the command line and the benches.

use std::path::PathBuf;

use candle_core::Device;

use super::assets;
use super::causal_lm::CausalLm;
use super::checkpoint::{self, HeadSource, ModelFiles};
use super::digit_net::{DigitClassifier, DigitConfig};
use super::{resnet, vgg, ModelError};
use crate::Result;

/// `<crate>/weights/<file name>`: where the committed weights are.
fn committed(file_name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("weights")
        .join(file_name)
}

/// The two default sentiment models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum SentimentModel {
    /// paraphrase-MiniLM-L3-v2 (3 layers, hidden 384), converted from ONNX.
    L3,
    /// all-MiniLM-L6-v2 (6 layers, hidden 384).
    L6,
}

impl SentimentModel {
    /// Both, smaller first.
    pub const ALL: [SentimentModel; 2] = [SentimentModel::L3, SentimentModel::L6];

    /// "minilm-l3" or "minilm-l6".
    pub fn name(self) -> &'static str {
        match self {
            SentimentModel::L3 => "minilm-l3",
            SentimentModel::L6 => "minilm-l6",
        }
    }

    /// The cached base model (config.json, tokenizer.json, model.safetensors).
    pub fn base_files(self) -> ModelFiles {
        ModelFiles::in_dir(&match self {
            SentimentModel::L3 => assets::minilm_l3_dir(),
            SentimentModel::L6 => assets::minilm_l6_dir(),
        })
    }

    /// "sentiment-minilm-l3.safetensors" or "sentiment-minilm-l6.safetensors".
    pub fn weights_file_name(self) -> &'static str {
        match self {
            SentimentModel::L3 => "sentiment-minilm-l3.safetensors",
            SentimentModel::L6 => "sentiment-minilm-l6.safetensors",
        }
    }

    /// The fine-tuned overlay committed to the repository, `<crate>/weights/<file name>`.
    pub fn committed_weights(self) -> PathBuf {
        committed(self.weights_file_name())
    }

    /// The committed overlay as the head of the base model.
    pub fn head(self) -> HeadSource {
        HeadSource::FineTuned(self.committed_weights())
    }
}

impl std::fmt::Display for SentimentModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Width divisor of the default VGG-16-style net.
pub const VGG_WIDTH_DIVISOR: usize = 8;

/// The two default digit models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum DigitModel {
    /// ResNet-20 (16/32/64 channels, 3×3 basic blocks, batch norm).
    Resnet20,
    /// VGG-16-style: 13 conv + batch norm + 3 linear, widths ÷ 8.
    Vgg16,
}

impl DigitModel {
    /// Both, ResNet-20 first (the paper's order).
    pub const ALL: [DigitModel; 2] = [DigitModel::Resnet20, DigitModel::Vgg16];

    /// "resnet20" or "vgg16".
    pub fn name(self) -> &'static str {
        match self {
            DigitModel::Resnet20 => "resnet20",
            DigitModel::Vgg16 => "vgg16",
        }
    }

    /// "digits-resnet20.safetensors" or "digits-vgg16.safetensors".
    pub fn weights_file_name(self) -> &'static str {
        match self {
            DigitModel::Resnet20 => "digits-resnet20.safetensors",
            DigitModel::Vgg16 => "digits-vgg16.safetensors",
        }
    }

    /// `<crate>/weights/<file name>`.
    pub fn committed_weights(self) -> PathBuf {
        committed(self.weights_file_name())
    }

    /// The architecture the committed weights were trained with: ResNet-20 or VGG-16 ÷ 8, one grey
    /// 28×28 input channel, two classes.
    pub fn config(self) -> DigitConfig {
        match self {
            DigitModel::Resnet20 => DigitConfig::Resnet(resnet::Config::resnet20(1, 2)),
            DigitModel::Vgg16 => DigitConfig::Vgg(vgg::Config::vgg16(1, 2, VGG_WIDTH_DIVISOR)),
        }
    }

    /// The committed weights on `device`. Errors: a missing or corrupt file (the message says how
    /// to rebuild it).
    pub fn load(self, device: &Device) -> Result<DigitClassifier> {
        checkpoint::load_digit_classifier(&self.committed_weights(), device)
    }
}

impl std::fmt::Display for DigitModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The two default language models of the next-word task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LanguageModel {
    /// SmolLM2-135M-Instruct, GGUF Q4_1 (LLaMA architecture).
    SmolLm2,
    /// Gemma-3-270M (base), GGUF Q4_K_M.
    Gemma3,
}

impl LanguageModel {
    /// Both, SmolLM2 first.
    pub const ALL: [LanguageModel; 2] = [LanguageModel::SmolLm2, LanguageModel::Gemma3];

    /// "SmolLM2-135M" or "Gemma-3-270M".
    pub fn name(self) -> &'static str {
        match self {
            LanguageModel::SmolLm2 => "SmolLM2-135M",
            LanguageModel::Gemma3 => "Gemma-3-270M",
        }
    }

    /// The cached GGUF file.
    pub fn path(self) -> PathBuf {
        match self {
            LanguageModel::SmolLm2 => assets::smollm2_gguf(),
            LanguageModel::Gemma3 => assets::gemma3_gguf(),
        }
    }

    /// The model on `device`, named [`Self::name`]. Errors: a missing or corrupt file (the message
    /// says how to fetch it).
    pub fn load(self, device: &Device) -> std::result::Result<CausalLm, ModelError> {
        CausalLm::load(self.name(), &self.path(), device)
    }
}

impl std::fmt::Display for LanguageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
