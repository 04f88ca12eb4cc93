//! The digit classifiers of the paper's task 3 ("3" vs rest): a ResNet or a VGG-style network
//! ([`super::resnet`], [`super::vgg`]) chosen by a [`DigitConfig`], behind [`DigitClassifier`],
//! which takes flat images and runs the fused CPU path ([`super::cnn_cpu`]) where it can.
//!
//! The image size comes from the network's config (`image_side`, `in_channels`). Reading and
//! writing weight files is [`super::checkpoint`]'s; which networks are the task's defaults, and
//! where their committed weights are, is [`super::registry`]'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;

use super::cnn::ImageNet;
use super::cnn_cpu::CpuCnn;
use super::{resnet, vgg, ModelError};
use crate::{Error, Result};

/// The architecture of a digit network with its config. A weights file records it in its metadata
/// as [`DigitConfig::arch_name`] (`interprim.architecture`) and [`DigitConfig::to_json`]
/// (`interprim.config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigitConfig {
    /// A CIFAR-style ResNet (ResNet-20 for [`resnet::Config::resnet20`]).
    Resnet(resnet::Config),
    /// A VGG-style network (VGG-16 with reduced widths for [`vgg::Config::vgg16`]).
    Vgg(vgg::Config),
}

impl DigitConfig {
    /// The architecture as the weight files name it: "resnet20" or "vgg16" (whatever the depth
    /// and widths of the config).
    pub fn arch_name(&self) -> &'static str {
        match self {
            DigitConfig::Resnet(_) => "resnet20",
            DigitConfig::Vgg(_) => "vgg16",
        }
    }

    /// From a file's architecture name and config JSON. Errors: an unknown architecture, or a
    /// config that does not parse as that architecture's (the message names which).
    pub fn from_parts(arch: &str, config: &serde_json::Value) -> std::result::Result<Self, String> {
        let bad = |e: serde_json::Error| format!("bad {arch} config: {e}");
        match arch {
            "resnet20" => Ok(DigitConfig::Resnet(
                serde_json::from_value(config.clone()).map_err(bad)?,
            )),
            "vgg16" => Ok(DigitConfig::Vgg(
                serde_json::from_value(config.clone()).map_err(bad)?,
            )),
            other => Err(format!(
                "unknown architecture {other:?} (expected resnet20 or vgg16)"
            )),
        }
    }

    /// The config as JSON (for a weights file's metadata).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            DigitConfig::Resnet(c) => serde_json::to_value(c),
            DigitConfig::Vgg(c) => serde_json::to_value(c),
        }
        .expect("configs serialise")
    }

    /// Side of the square input images in pixels.
    pub fn image_side(&self) -> usize {
        match self {
            DigitConfig::Resnet(c) => c.image_side,
            DigitConfig::Vgg(c) => c.image_side,
        }
    }

    /// Channels of the input images.
    pub fn in_channels(&self) -> usize {
        match self {
            DigitConfig::Resnet(c) => c.in_channels,
            DigitConfig::Vgg(c) => c.in_channels,
        }
    }

    /// Values per image: `in_channels · image_side²`.
    pub fn image_len(&self) -> usize {
        self.in_channels() * self.image_side() * self.image_side()
    }

    /// Build the network from a VarBuilder (a `VarMap`'s for training, a file's tensors for
    /// inference). Errors: a missing tensor or one of another shape.
    pub fn build(&self, vb: VarBuilder) -> std::result::Result<Box<dyn ImageNet>, ModelError> {
        Ok(match self {
            DigitConfig::Resnet(c) => Box::new(resnet::Model::load(vb, c)?),
            DigitConfig::Vgg(c) => Box::new(vgg::Model::load(vb, c)?),
        })
    }
}

/// A trained "3"-vs-rest classifier (batch norm in evaluation mode).
pub struct DigitClassifier {
    name: String,
    config: DigitConfig,
    net: Box<dyn ImageNet>,
    device: Device,
    path: Option<PathBuf>,
    /// The CPU inference path ([`super::cnn_cpu`]), for weights given as tensors on the CPU.
    cpu: Option<CpuCnn>,
}

impl std::fmt::Debug for DigitClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitClassifier")
            .field("name", &self.name)
            .field("arch", &self.config.arch_name())
            .field("path", &self.path)
            .finish()
    }
}

impl DigitClassifier {
    /// The network of `config` with the weights `tensors` (names as [`super::resnet`] and
    /// [`super::vgg`] give them), named after its architecture. On the CPU with single-channel
    /// images it also builds the fused CPU path. Files are read by
    /// [`super::checkpoint::load_digit_classifier`]. Errors: a missing tensor or one of another
    /// shape.
    pub fn from_tensors(
        config: DigitConfig,
        tensors: HashMap<String, Tensor>,
        device: &Device,
    ) -> std::result::Result<Self, ModelError> {
        let cpu = match &config {
            _ if !device.is_cpu() || config.in_channels() != 1 => None,
            DigitConfig::Resnet(c) => CpuCnn::resnet(c, &tensors),
            DigitConfig::Vgg(c) => CpuCnn::vgg(c, &tensors),
        };
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let net = config.build(vb)?;
        Ok(Self {
            name: config.arch_name().to_string(),
            config,
            net,
            device: device.clone(),
            path: None,
            cpu,
        })
    }

    /// The same classifier, recorded as loaded from `path`.
    pub fn with_path(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Wrap a network (e.g. a freshly trained one). It runs on candle's path only.
    pub fn from_net(
        name: &str,
        config: DigitConfig,
        net: Box<dyn ImageNet>,
        device: &Device,
    ) -> Self {
        Self {
            name: name.to_string(),
            config,
            net,
            device: device.clone(),
            path: None,
            cpu: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The architecture and its config.
    pub fn config(&self) -> &DigitConfig {
        &self.config
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The number of whole images in `images`. Errors: not a positive multiple of the image
    /// size, or a non-finite value.
    fn check_images(&self, images: &[f32]) -> Result<usize> {
        let (side, len) = (self.config.image_side(), self.config.image_len());
        if images.is_empty() || images.len() % len != 0 {
            return Err(Error::Invalid(format!(
                "expected whole {side}×{side} images (a positive multiple of {len} pixels), got {} values",
                images.len()
            )));
        }
        if let Some(i) = images.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!(
                "pixel {i} is {}: images must be finite",
                images[i]
            )));
        }
        Ok(images.len() / len)
    }

    /// Logits (batch, 2) of `images` (concatenated images of [`DigitConfig::image_len`] values,
    /// row-major pixels), evaluation mode. Where the fused CPU path of the internal module
    /// `cnn_cpu` was built it runs that, equal to candle's to float rounding
    /// ([`Self::logits_tensor_candle`] is candle's).
    pub fn logits_tensor(&self, images: &[f32]) -> Result<Tensor> {
        let b = self.check_images(images)?;
        if let Some(cpu) = &self.cpu {
            let z = cpu.logits(images, self.config.image_side());
            let classes = z.len() / b;
            return Ok(Tensor::from_vec(z, (b, classes), &self.device).map_err(ModelError::from)?);
        }
        self.logits_tensor_candle(images)
    }

    /// Logits (batch, 2) of `images` through candle's layers (the reference of the CPU path).
    pub fn logits_tensor_candle(&self, images: &[f32]) -> Result<Tensor> {
        let b = self.check_images(images)?;
        let (c, side) = (self.config.in_channels(), self.config.image_side());
        let x = Tensor::from_slice(images, (b, c, side, side), &self.device)
            .map_err(ModelError::from)?;
        Ok(self.net.forward_t(&x, false).map_err(ModelError::from)?)
    }

    /// log p(3)/p(rest) = logit₃ − logit_rest of each image, in batches of `batch` images.
    pub fn log_odds(&self, images: &[f32], batch: usize) -> Result<Vec<f64>> {
        let n = self.check_images(images)?;
        let mut out = Vec::with_capacity(n);
        for chunk in images.chunks(batch.max(1) * self.config.image_len()) {
            let z = self.logits_tensor(chunk)?;
            let z: Vec<Vec<f32>> = z.to_vec2().map_err(ModelError::from)?;
            out.extend(z.iter().map(|r| r[1] as f64 - r[0] as f64));
        }
        Ok(out)
    }

    /// Predicted labels (1 = "3").
    pub fn predict(&self, images: &[f32], batch: usize) -> Result<Vec<u32>> {
        let n = self.check_images(images)?;
        let mut out = Vec::with_capacity(n);
        for chunk in images.chunks(batch.max(1) * self.config.image_len()) {
            let z = self.logits_tensor(chunk)?;
            let p: Vec<u32> = z
                .argmax(D::Minus1)
                .and_then(|t| t.to_vec1())
                .map_err(ModelError::from)?;
            out.extend(p);
        }
        Ok(out)
    }
}
