//! A VGG-16-style network (Simonyan & Zisserman 2015, configuration D, with batch norm) for
//! 28×28 grey images: the same 13 3×3 conv layers in five stages of 2, 2, 3, 3, 3, each conv
//! followed by batch norm and ReLU, max pooling (2×2) after each of the first four stages
//! (28 → 14 → 7 → 3 → 1), then three linear layers (2 hidden, ReLU). Widths are VGG-16's divided
//! by [`Config::width_divisor`] (8 by default: 8, 16, 32, 64, 64 channels instead of 64 … 512) so
//! that the weights stay small (≈ 0.3 M parameters). 13 conv + 3 linear = 16 layers.
//!
//! Tensor names: `features.{i}.{conv,bn}.*` (i = 0..12), `classifier.{0,1,2}.{weight,bias}`.

use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::cnn::{ConvBn, ImageNet};

/// Architecture of a VGG-style network.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub in_channels: usize,
    pub num_classes: usize,
    /// Channels of the conv layers of each stage.
    pub stages: Vec<Vec<usize>>,
    /// Max-pool after the stages whose index is below this (the spatial size must stay ≥ 1).
    pub pooled_stages: usize,
    /// Width of the two hidden linear layers.
    pub hidden: usize,
    /// VGG-16's widths divided by this (recorded for reports; `stages` is what is built).
    pub width_divisor: usize,
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
    /// VGG-16 (configuration D) with every width divided by `divisor`, for 28×28 images.
    pub fn vgg16(in_channels: usize, num_classes: usize, divisor: usize) -> Self {
        let d = divisor.max(1);
        let w = |c: usize| (c / d).max(1);
        Self {
            in_channels,
            num_classes,
            stages: vec![
                vec![w(64); 2],
                vec![w(128); 2],
                vec![w(256); 3],
                vec![w(512); 3],
                vec![w(512); 3],
            ],
            pooled_stages: 4,
            hidden: w(512),
            width_divisor: d,
            image_side: mnist_side(),
        }
    }

    /// Conv + linear layers.
    pub fn depth(&self) -> usize {
        self.stages.iter().map(Vec::len).sum::<usize>() + 3
    }
}

/// A VGG-style classifier.
#[derive(Clone, Debug)]
pub struct Model {
    /// (conv+bn, max-pool after it)
    features: Vec<(ConvBn, bool)>,
    classifier: [Linear; 3],
    config: Config,
}

impl Model {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        if config.stages.iter().any(Vec::is_empty) || config.stages.is_empty() {
            candle_core::bail!("vgg config needs non-empty stages");
        }
        let mut features = Vec::new();
        let mut in_c = config.in_channels;
        let mut i = 0;
        for (s, stage) in config.stages.iter().enumerate() {
            for (j, &c) in stage.iter().enumerate() {
                let pool = j + 1 == stage.len() && s < config.pooled_stages;
                features.push((
                    ConvBn::load(in_c, c, 3, 1, vb.pp(format!("features.{i}")))?,
                    pool,
                ));
                in_c = c;
                i += 1;
            }
        }
        let h = config.hidden;
        let vc = vb.pp("classifier");
        let classifier = [
            candle_nn::linear(in_c, h, vc.pp("0"))?,
            candle_nn::linear(h, h, vc.pp("1"))?,
            candle_nn::linear(h, config.num_classes, vc.pp("2"))?,
        ];
        Ok(Self {
            features,
            classifier,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Logits (batch, classes); `train`: batch norm in training mode.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = x.clone();
        for (layer, pool) in &self.features {
            h = layer.forward_t(&h, train)?.relu()?;
            if *pool {
                h = h.max_pool2d(2)?;
            }
        }
        // global average over what is left (1×1 for 28×28 inputs)
        let h = h.mean(3)?.mean(2)?;
        let h = self.classifier[0].forward(&h)?.relu()?;
        let h = self.classifier[1].forward(&h)?.relu()?;
        self.classifier[2].forward(&h)
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
    fn shapes_depth_and_size() {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let cfg = Config::vgg16(1, 2, 8);
        assert_eq!(cfg.depth(), 16);
        assert_eq!(cfg.stages.iter().map(Vec::len).sum::<usize>(), 13);
        let m = Model::load(VarBuilder::from_varmap(&vm, DType::F32, &dev), &cfg).unwrap();
        let x = Tensor::zeros((2, 1, 28, 28), DType::F32, &dev).unwrap();
        assert_eq!(m.forward_t(&x, false).unwrap().dims(), &[2, 2]);
        let n: usize = vm.all_vars().iter().map(|v| v.elem_count()).sum();
        assert!((200_000..500_000).contains(&n), "{n}");
    }
}
