//! The trainable part of a BERT sequence classifier: the top encoder layers, the pooling and the
//! classification head, written with differentiable candle ops.
//!
//! Why not candle-transformers' `BertEncoder`: its LayerNorm takes candle-nn's fused kernel on
//! contiguous inputs, which has no backward pass, and its dropout cannot be seeded. This module
//! computes the same function (HF BERT, post-LayerNorm; checked against
//! [`crate::models::bert::BertClassifier`] in tests/sentiment_training.rs) with plain tensor ops,
//! seeded dropout, and the Hugging Face tensor names, so the trained tensors can be saved as an
//! overlay of the base weights.

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use rand::RngCore;

use crate::models::bert::Pooling;

/// A linear layer `y = x Wᵀ + b` on 2-D inputs, HF layout `W: (out, in)`.
struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    fn load(vb: VarBuilder, inp: usize, out: usize) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb.get((out, inp), "weight")?,
            bias: vb.get(out, "bias")?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

/// LayerNorm over the last dimension, from differentiable ops.
struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl Norm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        centred
            .broadcast_div(&(var + self.eps)?.sqrt()?)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// Seeded inverted dropout: zero each element with probability `p`, scale the rest by 1/(1-p).
pub(crate) struct Dropout<'a> {
    pub p: f32,
    pub rng: &'a mut rand_chacha::ChaCha8Rng,
}

impl Dropout<'_> {
    fn apply(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 / (1.0 - self.p);
        let threshold = (self.p as f64 * u32::MAX as f64) as u32;
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if self.rng.next_u32() < threshold {
                    0.0
                } else {
                    keep
                }
            })
            .collect();
        x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
    }
}

fn maybe_dropout(x: Tensor, dropout: &mut Option<Dropout<'_>>) -> candle_core::Result<Tensor> {
    match dropout {
        Some(d) => d.apply(&x),
        None => Ok(x),
    }
}

/// One BERT encoder layer (`encoder.layer.{i}.*`).
struct Layer {
    query: Dense,
    key: Dense,
    value: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    intermediate: Dense,
    out: Dense,
    out_norm: Norm,
    heads: usize,
    act: HiddenAct,
}

impl Layer {
    fn load(vb: VarBuilder, c: &Config) -> candle_core::Result<Self> {
        let h = c.hidden_size;
        let att = vb.pp("attention");
        Ok(Self {
            query: Dense::load(att.pp("self.query"), h, h)?,
            key: Dense::load(att.pp("self.key"), h, h)?,
            value: Dense::load(att.pp("self.value"), h, h)?,
            attn_out: Dense::load(att.pp("output.dense"), h, h)?,
            attn_norm: Norm::load(att.pp("output.LayerNorm"), h, c.layer_norm_eps)?,
            intermediate: Dense::load(vb.pp("intermediate.dense"), h, c.intermediate_size)?,
            out: Dense::load(vb.pp("output.dense"), c.intermediate_size, h)?,
            out_norm: Norm::load(vb.pp("output.LayerNorm"), h, c.layer_norm_eps)?,
            heads: c.num_attention_heads,
            act: c.hidden_act,
        })
    }

    /// `x: (b, len, h)`, `additive_mask: (b, 1, 1, len)`.
    fn forward(
        &self,
        x: &Tensor,
        additive_mask: &Tensor,
        dropout: &mut Option<Dropout<'_>>,
    ) -> candle_core::Result<Tensor> {
        let (b, len, h) = x.dims3()?;
        let hd = h / self.heads;
        let x2 = x.reshape((b * len, h))?;
        let split_heads = |t: Tensor| -> candle_core::Result<Tensor> {
            t.reshape((b, len, self.heads, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split_heads(self.query.forward(&x2)?)?;
        let k = split_heads(self.key.forward(&x2)?)?;
        let v = split_heads(self.value.forward(&x2)?)?;
        let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(additive_mask)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * len, h))?;
        let a = maybe_dropout(self.attn_out.forward(&ctx)?, dropout)?;
        let a = self.attn_norm.forward(&(a + &x2)?)?;
        let i = self.intermediate.forward(&a)?;
        let i = match self.act {
            HiddenAct::Gelu => i.gelu_erf()?,
            HiddenAct::GeluApproximate => i.gelu()?,
            HiddenAct::Relu => i.relu()?,
        };
        let o = maybe_dropout(self.out.forward(&i)?, dropout)?;
        self.out_norm.forward(&(o + a)?)?.reshape((b, len, h))
    }
}

/// The top `n` encoder layers from layer `first` on, the pooling and the head.
pub(crate) struct TopModel {
    layers: Vec<Layer>,
    pooler: Option<Dense>,
    classifier: Dense,
}

impl TopModel {
    /// Build from a VarBuilder with HF names (`encoder.layer.{i}.*`, `pooler.dense.*` for CLS
    /// pooling, `classifier.*`).
    pub fn load(
        vb: VarBuilder,
        config: &Config,
        first: usize,
        n: usize,
        pooling: Pooling,
        num_labels: usize,
    ) -> candle_core::Result<Self> {
        let h = config.hidden_size;
        let layers = (first..first + n)
            .map(|i| Layer::load(vb.pp(format!("encoder.layer.{i}")), config))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let pooler = match pooling {
            Pooling::Cls => Some(Dense::load(vb.pp("pooler.dense"), h, h)?),
            Pooling::Mean => None,
        };
        let classifier = Dense::load(vb.pp("classifier"), h, num_labels)?;
        Ok(Self {
            layers,
            pooler,
            classifier,
        })
    }

    /// Logits `(b, num_labels)` from the hidden states `(b, len, h)` that enter layer `first`,
    /// and the unpadded lengths. Dropout only when `dropout` is given (training).
    pub fn forward(
        &self,
        hidden: &Tensor,
        lengths: &[usize],
        mut dropout: Option<Dropout<'_>>,
    ) -> candle_core::Result<Tensor> {
        let (b, len, _) = hidden.dims3()?;
        let mask = length_mask(lengths, len, hidden.device())?;
        let additive = ((1.0 - mask.reshape((b, 1, 1, len))?)? * f64::from(f32::MIN))?;
        let mut x = hidden.clone();
        for layer in &self.layers {
            x = layer.forward(&x, &additive, &mut dropout)?;
        }
        let pooled = match &self.pooler {
            Some(p) => p.forward(&x.narrow(1, 0, 1)?.squeeze(1)?)?.tanh()?,
            None => {
                let m = mask.unsqueeze(D::Minus1)?;
                let count = m.sum(1)?.clamp(1e-9, f64::INFINITY)?;
                x.broadcast_mul(&m)?.sum(1)?.broadcast_div(&count)?
            }
        };
        let pooled = maybe_dropout(pooled, &mut dropout)?;
        self.classifier.forward(&pooled)
    }
}

/// The f32 attention mask `(b, len)`: 1 for the first `lengths[i]` positions of row i.
pub(crate) fn length_mask(
    lengths: &[usize],
    len: usize,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let mut m = Vec::with_capacity(lengths.len() * len);
    for &l in lengths {
        m.extend((0..len).map(|j| if j < l { 1f32 } else { 0f32 }));
    }
    Tensor::from_vec(m, (lengths.len(), len), device)?.to_dtype(DType::F32)
}
