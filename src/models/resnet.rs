//! ResNet-20 (He et al. 2016, the CIFAR variant) for 28×28 grey images: a 3×3 stem, three stages
//! of three basic blocks (two 3×3 conv + batch norm, identity shortcut; a 1×1 conv + batch norm
//! shortcut where the stage changes width and halves the resolution), global average pooling and
//! a linear head. 16/32/64 channels at 28×28/14×14/7×7; 19 conv layers + 1 linear = 20 (the two
//! projection shortcuts are not counted, as in the paper). ≈ 0.27 M parameters.
//!
//! Tensor names: `stem.{conv,bn}.*`, `stages.{s}.{b}.{conv1,conv2,shortcut}.{conv,bn}.*`,
//! `fc.{weight,bias}`.

use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::cnn::{ConvBn, ImageNet};

/// Architecture of a CIFAR-style ResNet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub in_channels: usize,
    pub num_classes: usize,
    /// Channels of each stage (the first stage keeps the resolution, the others halve it).
    pub stage_channels: Vec<usize>,
    /// Basic blocks per stage.
    pub blocks_per_stage: usize,
    /// Side of the square input images in pixels (the network itself pools globally; this is the
    /// size it was made for). Files written before the field existed hold 28×28 images.
    #[serde(default = "mnist_side")]
    pub image_side: usize,
}

/// The side of the paper's MNIST digits, for configs written without `image_side`.
fn mnist_side() -> usize {
    28
}

impl Config {
    /// ResNet-20: 3 stages × 3 blocks, 16/32/64 channels, for 28×28 images.
    pub fn resnet20(in_channels: usize, num_classes: usize) -> Self {
        Self {
            in_channels,
            num_classes,
            stage_channels: vec![16, 32, 64],
            blocks_per_stage: 3,
            image_side: mnist_side(),
        }
    }

    /// Conv layers + the linear head (projection shortcuts not counted): 6·blocks + 2 for 3 stages.
    pub fn depth(&self) -> usize {
        1 + 2 * self.blocks_per_stage * self.stage_channels.len() + 1
    }
}

#[derive(Clone, Debug)]
struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    shortcut: Option<ConvBn>,
}

impl BasicBlock {
    fn load(in_c: usize, out_c: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        let shortcut = if stride != 1 || in_c != out_c {
            Some(ConvBn::load(in_c, out_c, 1, stride, vb.pp("shortcut"))?)
        } else {
            None
        };
        Ok(Self {
            conv1: ConvBn::load(in_c, out_c, 3, stride, vb.pp("conv1"))?,
            conv2: ConvBn::load(out_c, out_c, 3, 1, vb.pp("conv2"))?,
            shortcut,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let h = self.conv1.forward_t(x, train)?.relu()?;
        let h = self.conv2.forward_t(&h, train)?;
        let s = match &self.shortcut {
            Some(s) => s.forward_t(x, train)?,
            None => x.clone(),
        };
        (h + s)?.relu()
    }
}

/// A CIFAR-style ResNet classifier.
#[derive(Clone, Debug)]
pub struct Model {
    stem: ConvBn,
    stages: Vec<Vec<BasicBlock>>,
    fc: Linear,
    config: Config,
}

impl Model {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        if config.stage_channels.is_empty() || config.blocks_per_stage == 0 {
            candle_core::bail!("resnet config needs at least one stage and one block per stage");
        }
        let first = config.stage_channels[0];
        let stem = ConvBn::load(config.in_channels, first, 3, 1, vb.pp("stem"))?;
        let mut stages = Vec::new();
        let mut in_c = first;
        for (s, &c) in config.stage_channels.iter().enumerate() {
            let mut blocks = Vec::new();
            for b in 0..config.blocks_per_stage {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::load(
                    in_c,
                    c,
                    stride,
                    vb.pp(format!("stages.{s}.{b}")),
                )?);
                in_c = c;
            }
            stages.push(blocks);
        }
        let fc = candle_nn::linear(in_c, config.num_classes, vb.pp("fc"))?;
        Ok(Self {
            stem,
            stages,
            fc,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Logits (batch, classes) of images (batch, in_channels, h, w); `train`: batch norm in
    /// training mode.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = self.stem.forward_t(x, train)?.relu()?;
        for stage in &self.stages {
            for block in stage {
                h = block.forward_t(&h, train)?;
            }
        }
        // global average pooling
        let h = h.mean(3)?.mean(2)?;
        self.fc.forward(&h)
    }
}

impl ImageNet for Model {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Model::forward_t(self, x, train)
    }
}

impl ModuleT for Model {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Model::forward_t(self, x, train)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn shapes_and_parameter_count() {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let cfg = Config::resnet20(1, 2);
        assert_eq!(cfg.depth(), 20);
        let m = Model::load(VarBuilder::from_varmap(&vm, DType::F32, &dev), &cfg).unwrap();
        let x = Tensor::zeros((3, 1, 28, 28), DType::F32, &dev).unwrap();
        assert_eq!(m.forward_t(&x, false).unwrap().dims(), &[3, 2]);
        let data = vm.data().lock().unwrap();
        let trainable: usize = data
            .iter()
            .filter(|(k, _)| super::super::cnn::is_trainable(k))
            .map(|(_, v)| v.elem_count())
            .sum();
        // 16·9 + 2·(3·2·16·16·9 …): about 0.27 M
        assert!((250_000..300_000).contains(&trainable), "{trainable}");
    }
}
