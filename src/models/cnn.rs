//! Building blocks of the digit CNNs ([`super::resnet`], [`super::vgg`]): 2-D batch norm with a
//! correct running-statistics update, 3×3 convolutions, and seeded initialisation of a `VarMap`.
//!
//! Why a batch norm of our own: candle-nn's `BatchNorm` copies its running statistics into a new
//! `Var` when they do not come from a `VarMap`, and its update keeps the statistics attached to
//! the autograd graph. Here the statistics are always the `VarMap`'s own variables (so that saving
//! the `VarMap` saves the updated statistics), the batch mean and variance are detached before the
//! update, and training mode follows PyTorch exactly: normalise with the biased batch variance,
//! update `running = (1 − momentum)·running + momentum·batch` with the unbiased variance.

use candle_core::{DType, Module, ModuleT, Result, Tensor, Var, D};
use candle_nn::{Conv2d, Conv2dConfig, Init, VarBuilder, VarMap};
use rand::SeedableRng;

/// Names of the batch-norm statistics: state, not trained by the optimiser.
pub const RUNNING_STATS: [&str; 2] = ["running_mean", "running_var"];

/// True for a parameter the optimiser trains (everything but batch-norm running statistics).
pub fn is_trainable(name: &str) -> bool {
    !RUNNING_STATS.iter().any(|s| name.ends_with(s))
}

/// 2-D batch normalisation over (batch, height, width) per channel.
#[derive(Clone, Debug)]
pub struct BatchNorm2d {
    weight: Tensor,
    bias: Tensor,
    running_mean: Var,
    running_var: Var,
    eps: f64,
    momentum: f64,
}

impl BatchNorm2d {
    /// PyTorch's defaults: eps 1e-5, momentum 0.1. Tensors `weight`, `bias`, `running_mean`,
    /// `running_var` of shape (channels,).
    pub fn load(channels: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints(channels, "weight", Init::Const(1.0))?;
        let bias = vb.get_with_hints(channels, "bias", Init::Const(0.0))?;
        // From a VarMap these are its variables (shared storage), so updates land in the VarMap.
        let running_mean =
            Var::from_tensor(&vb.get_with_hints(channels, "running_mean", Init::Const(0.0))?)?;
        let running_var =
            Var::from_tensor(&vb.get_with_hints(channels, "running_var", Init::Const(1.0))?)?;
        Ok(Self {
            weight,
            bias,
            running_mean,
            running_var,
            eps: 1e-5,
            momentum: 0.1,
        })
    }

    pub fn running_mean(&self) -> &Tensor {
        self.running_mean.as_tensor()
    }

    pub fn running_var(&self) -> &Tensor {
        self.running_var.as_tensor()
    }

    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    fn affine(&self, x: &Tensor) -> Result<Tensor> {
        let c = self.weight.dim(0)?;
        x.broadcast_mul(&self.weight.reshape((1, c, 1, 1))?)?
            .broadcast_add(&self.bias.reshape((1, c, 1, 1))?)
    }

    /// Training mode: normalise with the batch statistics and update the running ones.
    pub fn forward_train(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let count = b * h * w;
        if count < 2 {
            candle_core::bail!(
                "batch norm in training mode needs more than one value per channel, got input {:?}",
                x.dims()
            );
        }
        // (c, b·h·w)
        let flat = x.transpose(0, 1)?.contiguous()?.reshape((c, count))?;
        let mean = flat.mean_keepdim(D::Minus1)?;
        let centred = flat.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(&var + self.eps)?.sqrt()?)?;
        let y = normed.reshape((c, b, h, w))?.transpose(0, 1)?;
        let m = self.momentum;
        let unbiased = (var.detach().flatten_all()? * (count as f64 / (count - 1) as f64))?;
        let new_mean = ((self.running_mean.as_tensor().detach() * (1.0 - m))?
            + (mean.detach().flatten_all()? * m)?)?;
        let new_var = ((self.running_var.as_tensor().detach() * (1.0 - m))? + (unbiased * m)?)?;
        self.running_mean.set(&new_mean)?;
        self.running_var.set(&new_var)?;
        self.affine(&y)
    }

    /// Evaluation mode: normalise with the running statistics.
    pub fn forward_eval(&self, x: &Tensor) -> Result<Tensor> {
        let c = self.weight.dim(0)?;
        let mean = self
            .running_mean
            .as_tensor()
            .detach()
            .reshape((1, c, 1, 1))?;
        let std = (self.running_var.as_tensor().detach() + self.eps)?
            .sqrt()?
            .reshape((1, c, 1, 1))?;
        self.affine(&x.broadcast_sub(&mean)?.broadcast_div(&std)?)
    }
}

impl ModuleT for BatchNorm2d {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if train {
            self.forward_train(x)
        } else {
            self.forward_eval(x)
        }
    }
}

/// A k×k convolution without bias (a batch norm follows), `weight` (out, in, k, k).
pub fn conv(
    in_c: usize,
    out_c: usize,
    k: usize,
    stride: usize,
    padding: usize,
    vb: VarBuilder,
) -> Result<Conv2d> {
    candle_nn::conv2d_no_bias(
        in_c,
        out_c,
        k,
        Conv2dConfig {
            padding,
            stride,
            ..Default::default()
        },
        vb,
    )
}

/// Conv → batch norm → (ReLU).
#[derive(Clone, Debug)]
pub struct ConvBn {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
}

impl ConvBn {
    pub fn load(
        in_c: usize,
        out_c: usize,
        k: usize,
        stride: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            conv: conv(in_c, out_c, k, stride, k / 2, vb.pp("conv"))?,
            bn: BatchNorm2d::load(out_c, vb.pp("bn"))?,
        })
    }

    /// Without the ReLU.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.bn.forward_t(&self.conv.forward(x)?, train)
    }
}

/// A network over (batch, 1, 28, 28) images returning (batch, classes) logits.
pub trait ImageNet: Send + Sync {
    /// `train`: batch norm in training mode (batch statistics, running-statistics update).
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor>;
}

/// Overwrite every variable of `varmap` with a seeded initial value (name order): convolution
/// and linear weights Kaiming-normal (fan in, gain √2), linear biases 0, batch-norm weight 1 and
/// bias 0, running mean 0 and variance 1. candle's own initialisation is not seeded.
pub fn seeded_init(varmap: &VarMap, seed: u64) -> Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let dev = var.device();
        let is_bn = name.contains(".bn.") || name.starts_with("bn.");
        let value = if name.ends_with("running_var") || (is_bn && name.ends_with("weight")) {
            Tensor::ones(dims.as_slice(), DType::F32, dev)?
        } else if dims.len() == 1 {
            Tensor::zeros(dims.as_slice(), DType::F32, dev)?
        } else {
            let fan_in: usize = dims[1..].iter().product();
            let std = (2.0 / fan_in as f64).sqrt();
            let n: usize = dims.iter().product();
            Tensor::from_vec(normal(n, std, &mut rng), dims.as_slice(), dev)?
        };
        var.set(&value)?;
    }
    Ok(())
}

/// n seeded N(0, std²) samples ([`crate::util::normal_f32`]; a negative or non-finite std gives
/// zeros, which the callers never pass).
pub fn normal(n: usize, std: f64, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f32> {
    crate::util::normal_f32(n, std, rng).unwrap_or_else(|_| vec![0.0; n])
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn batch_norm_train_updates_running_stats_like_pytorch() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let bn = BatchNorm2d::load(2, vb.pp("bn")).unwrap();
        // channel 0 holds 1..=8, channel 1 holds 2·(1..=8), batch 2 × 2×2 pixels
        let mut v = Vec::new();
        for b in 0..2 {
            for c in 0..2 {
                for p in 0..4 {
                    v.push(((b * 4 + p + 1) * (c + 1)) as f32);
                }
            }
        }
        let x = Tensor::from_vec(v, (2, 2, 2, 2), &dev).unwrap();
        let y = bn.forward_t(&x, true).unwrap();
        // normalised per channel: mean 0, biased variance 1
        let yc0: Vec<f32> = y
            .narrow(1, 0, 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let m: f32 = yc0.iter().sum::<f32>() / 8.0;
        let var: f32 = yc0.iter().map(|a| (a - m) * (a - m)).sum::<f32>() / 8.0;
        assert!(m.abs() < 1e-5 && (var - 1.0).abs() < 1e-3, "{m} {var}");
        // mean of 1..=8 is 4.5, unbiased variance 6; channel 1: 9 and 24
        let rm: Vec<f32> = bn.running_mean().to_vec1().unwrap();
        let rv: Vec<f32> = bn.running_var().to_vec1().unwrap();
        assert!((rm[0] - 0.45).abs() < 1e-5 && (rm[1] - 0.9).abs() < 1e-5);
        assert!((rv[0] - (0.9 + 0.6)).abs() < 1e-4 && (rv[1] - (0.9 + 2.4)).abs() < 1e-4);
        // the VarMap holds the same statistics (saving it saves them)
        let data = varmap.data().lock().unwrap();
        let saved: Vec<f32> = data["bn.running_mean"].as_tensor().to_vec1().unwrap();
        assert_eq!(saved, rm);
        drop(data);
        // eval uses the running statistics and changes nothing
        let e = bn.forward_t(&x, false).unwrap();
        let e00: f32 = e.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0];
        assert!((e00 - (1.0 - 0.45) / (1.5f32 + 1e-5).sqrt()).abs() < 1e-5);
        assert_eq!(bn.running_mean().to_vec1::<f32>().unwrap(), rm);
    }

    #[test]
    fn trainable_excludes_running_stats() {
        assert!(is_trainable("stage1.0.conv1.conv.weight"));
        assert!(is_trainable("stem.bn.weight"));
        assert!(!is_trainable("stem.bn.running_mean"));
        assert!(!is_trainable("stem.bn.running_var"));
    }
}
