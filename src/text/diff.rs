//! A differentiable copy of the BERT classifier's forward pass, used to learn baseline embeddings.
//!
//! Why a copy: candle's `LayerNorm` takes a fused kernel without a backward pass whenever its input
//! is contiguous (always, inside `BertEncoder`), so gradients through
//! [`BertClassifier::forward_embeds`] stop at the first LayerNorm. This module rebuilds the same
//! network from the same tensors with the composed (differentiable) LayerNorm, and is tested to
//! give the same logits.

use std::collections::HashMap;

use candle_core::{DType, Tensor, D};
use candle_nn::{Linear, Module};
use candle_transformers::models::bert::HiddenAct;

use crate::models::bert::{BertClassifier, Config, Pooling};
use crate::models::checkpoint::{read_bert_tensors, HeadSource, ModelFiles};
use crate::models::ModelError;
use crate::{Error, Result};

struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    inter: Linear,
    out: Linear,
    out_norm: Norm,
}

/// The classifier's forward pass from input embeddings, differentiable end to end.
pub struct DiffBert {
    config: Config,
    token_type0: Tensor,
    positions: Tensor,
    embed_norm: Norm,
    layers: Vec<Layer>,
    pooling: Pooling,
    pooler: Option<Linear>,
    classifier: Linear,
}

fn take(t: &mut HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    t.remove(name).ok_or_else(|| {
        Error::Invalid(format!(
            "tensor {name} is missing from the model files; re-run scripts/fetch-assets.sh"
        ))
    })
}

fn linear(t: &mut HashMap<String, Tensor>, prefix: &str) -> Result<Linear> {
    Ok(Linear::new(
        take(t, &format!("{prefix}.weight"))?,
        Some(take(t, &format!("{prefix}.bias"))?),
    ))
}

fn norm(t: &mut HashMap<String, Tensor>, prefix: &str, eps: f64) -> Result<Norm> {
    Ok(Norm {
        weight: take(t, &format!("{prefix}.weight"))?,
        bias: take(t, &format!("{prefix}.bias"))?,
        eps: eps as f32,
    })
}

impl DiffBert {
    /// Rebuild `model` (loaded from `files` and `head`): encoder tensors from the files (a
    /// fine-tuned file's tensors replace the base ones, as
    /// [`crate::models::checkpoint::load_bert_classifier`] does), head tensors from `model` itself.
    pub fn new(files: &ModelFiles, head: &HeadSource, model: &BertClassifier) -> Result<Self> {
        let device = model.device();
        let mut t = read_bert_tensors(files, Some(head), device)?;
        for (k, v) in model.head_tensors() {
            t.insert(k, v);
        }
        let config = model.config().clone();
        let eps = config.layer_norm_eps;
        let f32 = |x: Tensor| {
            x.to_dtype(DType::F32)
                .map_err(|e| Error::from(ModelError::from(e)))
        };
        let tt = take(&mut t, "embeddings.token_type_embeddings.weight")?;
        let token_type0 = f32(tt.narrow(0, 0, 1).map_err(ModelError::from)?)?;
        let positions = f32(take(&mut t, "embeddings.position_embeddings.weight")?)?;
        let embed_norm = norm(&mut t, "embeddings.LayerNorm", eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                query: linear(&mut t, &format!("{p}.attention.self.query"))?,
                key: linear(&mut t, &format!("{p}.attention.self.key"))?,
                value: linear(&mut t, &format!("{p}.attention.self.value"))?,
                attn_out: linear(&mut t, &format!("{p}.attention.output.dense"))?,
                attn_norm: norm(&mut t, &format!("{p}.attention.output.LayerNorm"), eps)?,
                inter: linear(&mut t, &format!("{p}.intermediate.dense"))?,
                out: linear(&mut t, &format!("{p}.output.dense"))?,
                out_norm: norm(&mut t, &format!("{p}.output.LayerNorm"), eps)?,
            });
        }
        let pooling = model.pooling();
        let pooler = match pooling {
            Pooling::Cls => Some(linear(&mut t, "pooler.dense")?),
            Pooling::Mean => None,
        };
        let classifier = linear(&mut t, "classifier")?;
        Ok(DiffBert {
            config,
            token_type0,
            positions,
            embed_norm,
            layers,
            pooling,
            pooler,
            classifier,
        })
    }

    fn heads(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, len, _) = x.dims3()?;
        let h = self.config.num_attention_heads;
        x.reshape((b, len, h, self.config.hidden_size / h))?
            .transpose(1, 2)?
            .contiguous()
    }

    fn layer(&self, l: &Layer, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, len, hidden) = x.dims3()?;
        let q = self.heads(&l.query.forward(x)?)?;
        let k = self.heads(&l.key.forward(x)?)?;
        let v = self.heads(&l.value.forward(x)?)?;
        let d = (hidden / self.config.num_attention_heads) as f64;
        let scores = (q.matmul(&k.t()?)? / d.sqrt())?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, len, hidden))?;
        let a = l.attn_norm.forward(&(l.attn_out.forward(&ctx)? + x)?)?;
        let i = l.inter.forward(&a)?;
        let i = match self.config.hidden_act {
            HiddenAct::Gelu => i.gelu_erf()?,
            HiddenAct::GeluApproximate => i.gelu()?,
            HiddenAct::Relu => i.relu()?,
        };
        l.out_norm.forward(&(l.out.forward(&i)? + a)?)
    }

    /// Logits `(b, num_labels)` from word-embedding rows `(b, len, hidden)` of unpadded sequences
    /// (every token attended), as [`BertClassifier::forward_embeds`] with an all-ones mask.
    pub fn forward(&self, input_embeds: &Tensor) -> Result<Tensor> {
        let run = || -> candle_core::Result<Tensor> {
            let (_, len, _) = input_embeds.dims3()?;
            let pos = self.positions.narrow(0, 0, len)?;
            let mut x = input_embeds
                .broadcast_add(&self.token_type0)?
                .broadcast_add(&pos)?;
            x = self.embed_norm.forward(&x)?;
            for l in &self.layers {
                x = self.layer(l, &x)?;
            }
            let pooled = match (&self.pooling, &self.pooler) {
                (Pooling::Cls, Some(p)) => p.forward(&x.narrow(1, 0, 1)?.squeeze(1)?)?.tanh()?,
                _ => x.mean(1)?,
            };
            self.classifier.forward(&pooled)
        };
        Ok(run().map_err(ModelError::from)?)
    }
}
