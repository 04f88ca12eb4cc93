//! The two digit classifiers of the paper's task 3 (ResNet-20 and a VGG-16-style net, "3" vs
//! rest), their committed weights, and loading any of them from a safetensors file that records
//! its architecture in the metadata.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;

use super::cnn::{read_safetensors, ImageNet};
use super::cnn_cpu::{self, CpuCnn};
use super::{resnet, vgg, ModelError};
use crate::data::digits::{PIXELS, SIDE};
use crate::{Error, Result};

/// Safetensors metadata key: which architecture ("resnet20" or "vgg16").
pub const META_ARCH: &str = "interprim.architecture";
/// Safetensors metadata key: the architecture's config as JSON.
pub const META_CONFIG: &str = "interprim.config";
/// Safetensors metadata key: the class names as a JSON array.
pub const META_LABELS: &str = "interprim.labels";
/// Safetensors metadata key: how the file was trained (JSON).
pub const META_TRAINING: &str = "interprim.training";

/// Width divisor of the default VGG-16-style net.
pub const VGG_WIDTH_DIVISOR: usize = 8;

const HINT: &str =
    "the committed digit weights are in weights/; rebuild them with `interprim train digits`";

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
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("weights")
            .join(self.weights_file_name())
    }

    /// The architecture as JSON (for the metadata) and a builder.
    pub fn config_json(self) -> serde_json::Value {
        match self {
            DigitModel::Resnet20 => serde_json::to_value(resnet::Config::resnet20(1, 2)),
            DigitModel::Vgg16 => serde_json::to_value(vgg::Config::vgg16(1, 2, VGG_WIDTH_DIVISOR)),
        }
        .expect("configs serialise")
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl std::fmt::Display for DigitModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Build the network of `arch` with its JSON config from a VarBuilder.
pub fn build_net(
    arch: DigitModel,
    config: &serde_json::Value,
    vb: VarBuilder,
) -> std::result::Result<Box<dyn ImageNet>, ModelError> {
    let bad = |e: serde_json::Error| ModelError::Input(format!("bad {arch} config: {e}"));
    Ok(match arch {
        DigitModel::Resnet20 => {
            let c: resnet::Config = serde_json::from_value(config.clone()).map_err(bad)?;
            Box::new(resnet::Model::load(vb, &c)?)
        }
        DigitModel::Vgg16 => {
            let c: vgg::Config = serde_json::from_value(config.clone()).map_err(bad)?;
            Box::new(vgg::Model::load(vb, &c)?)
        }
    })
}

fn check_images(images: &[f32]) -> Result<()> {
    if images.is_empty() || images.len() % PIXELS != 0 {
        return Err(Error::Invalid(format!(
            "expected whole 28×28 images (a positive multiple of {PIXELS} pixels), got {} values",
            images.len()
        )));
    }
    if let Some(i) = images.iter().position(|x| !x.is_finite()) {
        return Err(Error::Invalid(format!(
            "pixel {i} is {}: images must be finite",
            images[i]
        )));
    }
    Ok(())
}

/// A trained "3"-vs-rest classifier (batch norm in evaluation mode).
pub struct DigitClassifier {
    name: String,
    arch: DigitModel,
    net: Box<dyn ImageNet>,
    device: Device,
    path: Option<PathBuf>,
    /// The CPU inference path ([`super::cnn_cpu`]), for files loaded on the CPU.
    cpu: Option<CpuCnn>,
}

impl std::fmt::Debug for DigitClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitClassifier")
            .field("name", &self.name)
            .field("arch", &self.arch)
            .field("path", &self.path)
            .finish()
    }
}

impl DigitClassifier {
    /// Load a file written by `interprim train digits` (architecture from its metadata).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let (tensors, meta) = read_safetensors(path, HINT, device)?;
        let arch_name = meta
            .get(META_ARCH)
            .ok_or_else(|| ModelError::bad_file(path, format!("no {META_ARCH} metadata"), HINT))?;
        let arch = DigitModel::from_name(arch_name).ok_or_else(|| {
            ModelError::bad_file(
                path,
                format!("unknown architecture {arch_name:?} (expected resnet20 or vgg16)"),
                HINT,
            )
        })?;
        let config: serde_json::Value = meta
            .get(META_CONFIG)
            .and_then(|c| serde_json::from_str(c).ok())
            .ok_or_else(|| {
                ModelError::bad_file(path, format!("missing or invalid {META_CONFIG}"), HINT)
            })?;
        let cpu = if device.is_cpu() {
            cnn_cpu::build(arch, &config, &tensors)
        } else {
            None
        };
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let net = build_net(arch, &config, vb).map_err(|e| ModelError::bad_file(path, e, HINT))?;
        Ok(Self {
            name: arch.name().to_string(),
            arch,
            net,
            device: device.clone(),
            path: Some(path.to_path_buf()),
            cpu,
        })
    }

    /// The committed default weights of `model`.
    pub fn load_default(model: DigitModel, device: &Device) -> Result<Self> {
        Self::load(&model.committed_weights(), device)
    }

    /// Wrap a network (e.g. a freshly trained one). It runs on candle's path only.
    pub fn from_net(name: &str, arch: DigitModel, net: Box<dyn ImageNet>, device: &Device) -> Self {
        Self {
            name: name.to_string(),
            arch,
            net,
            device: device.clone(),
            path: None,
            cpu: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn arch(&self) -> DigitModel {
        self.arch
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Logits (batch, 2) of `images` (concatenated 784-pixel images), evaluation mode. For a
    /// file loaded on the CPU this runs the fused CPU path of the internal module `cnn_cpu`, equal
    /// to candle's to float rounding ([`Self::logits_tensor_candle`] is candle's).
    pub fn logits_tensor(&self, images: &[f32]) -> Result<Tensor> {
        check_images(images)?;
        let b = images.len() / PIXELS;
        if let Some(cpu) = &self.cpu {
            let z = cpu.logits(images, SIDE);
            let classes = z.len() / b;
            return Ok(Tensor::from_vec(z, (b, classes), &self.device).map_err(ModelError::from)?);
        }
        self.logits_tensor_candle(images)
    }

    /// Logits (batch, 2) of `images` through candle's layers (the reference of the CPU path).
    pub fn logits_tensor_candle(&self, images: &[f32]) -> Result<Tensor> {
        check_images(images)?;
        let b = images.len() / PIXELS;
        let x = Tensor::from_slice(images, (b, 1, SIDE, SIDE), &self.device)
            .map_err(ModelError::from)?;
        Ok(self.net.forward_t(&x, false).map_err(ModelError::from)?)
    }

    /// log p(3)/p(rest) = logit₃ − logit_rest of each image, in batches of `batch` images.
    pub fn log_odds(&self, images: &[f32], batch: usize) -> Result<Vec<f64>> {
        check_images(images)?;
        let mut out = Vec::with_capacity(images.len() / PIXELS);
        for chunk in images.chunks(batch.max(1) * PIXELS) {
            let z = self.logits_tensor(chunk)?;
            let z: Vec<Vec<f32>> = z.to_vec2().map_err(ModelError::from)?;
            out.extend(z.iter().map(|r| r[1] as f64 - r[0] as f64));
        }
        Ok(out)
    }

    /// Predicted labels (1 = "3").
    pub fn predict(&self, images: &[f32], batch: usize) -> Result<Vec<u32>> {
        check_images(images)?;
        let mut out = Vec::with_capacity(images.len() / PIXELS);
        for chunk in images.chunks(batch.max(1) * PIXELS) {
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
