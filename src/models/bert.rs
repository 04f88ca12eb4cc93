//! A BERT sequence classifier on candle that can be run from token ids or from input embeddings.
//!
//! Masking a word at the embedding level (method §1, embedding masking) needs the word-embedding rows as the input
//! and the position and token-type embeddings and the LayerNorm applied after the substitution;
//! `candle_transformers::models::bert::BertModel` only takes ids, so the embedding layer is
//! rebuilt here and its public `BertEncoder` runs the transformer layers.
//!
//! As the model files of candle-transformers: [`Config`] (Hugging Face's config.json), the network
//! built by [`BertClassifier::load`] from a `VarBuilder`, and its forward passes. Reading the files
//! (base weights, fine-tuned head overlays, fresh seeded heads) is [`super::checkpoint`]'s.
//!
//! Head: [`Pooling::Cls`] is Hugging Face's `BertForSequenceClassification` (pooler dense + tanh on
//! \[CLS\], then `classifier`); [`Pooling::Mean`] is the sentence-transformers mean over the tokens of
//! the attention mask, then `classifier`.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{LayerNorm, Linear, Module, VarBuilder};
use candle_transformers::models::bert::{BertEncoder, HiddenAct};

use super::bert_cpu::{CpuBert, Dense, Layer, Norm};
use super::cpu_kernels::Act;
use super::ModelError;

/// The Hugging Face BERT config.json.
pub use candle_transformers::models::bert::Config;

/// How token states become one vector per sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// HF pooler: tanh(dense(h\[CLS\])).
    Cls,
    /// Mean of the token states under the attention mask.
    Mean,
}

impl Pooling {
    pub fn as_str(self) -> &'static str {
        match self {
            Pooling::Cls => "cls",
            Pooling::Mean => "mean",
        }
    }
}

impl FromStr for Pooling {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "cls" => Ok(Pooling::Cls),
            "mean" => Ok(Pooling::Mean),
            _ => Err(ModelError::Input(format!(
                "unknown pooling {s:?} (expected \"cls\" or \"mean\")"
            ))),
        }
    }
}

/// Check what the network needs of a config: `hidden_size` a multiple of `num_attention_heads`.
/// Errors: a message naming the problem (the caller adds the file).
pub fn check_config(config: &Config) -> Result<(), String> {
    if config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0 {
        return Err("hidden_size is not a multiple of num_attention_heads".into());
    }
    Ok(())
}

/// A BERT encoder with a sequence-classification head.
#[derive(Clone)]
pub struct BertClassifier {
    config: Config,
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embeddings: Tensor,
    embeddings_norm: LayerNorm,
    encoder: BertEncoder,
    pooling: Pooling,
    pooler: Option<Linear>,
    classifier: Linear,
    labels: Option<Vec<String>>,
    device: Device,
    /// The encoder's tensors, per layer in [`LAYER_TENSORS`] order (for the CPU path).
    layer_tensors: Vec<Vec<Tensor>>,
    /// The CPU inference path, built on first use from the tensors at that time (None: not on
    /// the CPU, or a configuration it does not cover).
    cpu: Arc<OnceLock<Option<Arc<CpuBert>>>>,
}

/// The tensors of one encoder layer that the CPU path reads, in this order.
const LAYER_TENSORS: [&str; 16] = [
    "attention.self.query.weight",
    "attention.self.query.bias",
    "attention.self.key.weight",
    "attention.self.key.bias",
    "attention.self.value.weight",
    "attention.self.value.bias",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "attention.output.LayerNorm.weight",
    "attention.output.LayerNorm.bias",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
    "output.dense.weight",
    "output.dense.bias",
    "output.LayerNorm.weight",
    "output.LayerNorm.bias",
];

impl std::fmt::Debug for BertClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertClassifier")
            .field("layers", &self.config.num_hidden_layers)
            .field("hidden", &self.config.hidden_size)
            .field("pooling", &self.pooling)
            .field("num_labels", &self.num_labels())
            .finish()
    }
}

impl BertClassifier {
    /// Build from a VarBuilder holding the BERT tensors (HF names without a `bert.` prefix) and the
    /// head (`classifier.*` `(num_labels, hidden)`, and `pooler.dense.*` for [`Pooling::Cls`]). A
    /// VarBuilder backed by a `candle_nn::VarMap` gives a trainable model. Files are read by
    /// [`super::checkpoint::load_bert_classifier`]. Errors: a missing tensor or one of another shape.
    pub fn load(
        vb: VarBuilder,
        config: &Config,
        pooling: Pooling,
        num_labels: usize,
    ) -> Result<Self, ModelError> {
        let h = config.hidden_size;
        let e = vb.pp("embeddings");
        let word_embeddings = e.get((config.vocab_size, h), "word_embeddings.weight")?;
        let position_embeddings = e.get(
            (config.max_position_embeddings, h),
            "position_embeddings.weight",
        )?;
        let token_type_embeddings =
            e.get((config.type_vocab_size, h), "token_type_embeddings.weight")?;
        let embeddings_norm = candle_nn::layer_norm(h, config.layer_norm_eps, e.pp("LayerNorm"))?;
        let encoder = BertEncoder::load(vb.pp("encoder"), config)?;
        let (i, layer_tensors) = (config.intermediate_size, Vec::new());
        let layer_tensors =
            (0..config.num_hidden_layers).try_fold(layer_tensors, |mut acc, l| {
                let lv = vb.pp(format!("encoder.layer.{l}"));
                let shapes: [&[usize]; 16] = [
                    &[h, h],
                    &[h],
                    &[h, h],
                    &[h],
                    &[h, h],
                    &[h],
                    &[h, h],
                    &[h],
                    &[h],
                    &[h],
                    &[i, h],
                    &[i],
                    &[h, i],
                    &[h],
                    &[h],
                    &[h],
                ];
                let ts = LAYER_TENSORS
                    .iter()
                    .zip(shapes)
                    .map(|(name, shape)| lv.get(shape, name))
                    .collect::<candle_core::Result<Vec<_>>>()?;
                acc.push(ts);
                Ok::<_, candle_core::Error>(acc)
            })?;
        let pooler = match pooling {
            Pooling::Cls => Some(candle_nn::linear(h, h, vb.pp("pooler.dense"))?),
            Pooling::Mean => None,
        };
        let classifier = candle_nn::linear(h, num_labels, vb.pp("classifier"))?;
        Ok(Self {
            config: config.clone(),
            word_embeddings,
            position_embeddings,
            token_type_embeddings,
            embeddings_norm,
            encoder,
            pooling,
            pooler,
            classifier,
            labels: None,
            device: vb.device().clone(),
            layer_tensors,
            cpu: Arc::new(OnceLock::new()),
        })
    }

    /// The CPU inference path, built on first call from the current tensors; None on other
    /// devices or for an activation it does not implement (then callers use the candle path).
    fn cpu_path(&self) -> Result<Option<Arc<CpuBert>>, ModelError> {
        if let Some(c) = self.cpu.get() {
            return Ok(c.clone());
        }
        let built = self.build_cpu_path()?.map(Arc::new);
        Ok(self.cpu.get_or_init(|| built).clone())
    }

    fn build_cpu_path(&self) -> Result<Option<CpuBert>, ModelError> {
        let act = match self.config.hidden_act {
            HiddenAct::Gelu => Act::GeluErf,
            HiddenAct::Relu => Act::Relu,
            _ => return Ok(None),
        };
        if !self.device.is_cpu() || self.config.num_hidden_layers == 0 {
            return Ok(None);
        }
        let v = |t: &Tensor| -> Result<Vec<f32>, ModelError> {
            Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
        };
        let dense = |w: &Tensor, b: Option<&Tensor>| -> Result<Dense, ModelError> {
            let (out, inp) = w.dims2()?;
            let b = match b {
                Some(b) => v(b)?,
                None => vec![0.0; out],
            };
            Ok(Dense::from_out_in(&v(w)?, b, inp, out))
        };
        let linear = |l: &Linear| dense(l.weight(), l.bias());
        let mut layers = Vec::with_capacity(self.layer_tensors.len());
        for t in &self.layer_tensors {
            // [query | key | value]: the (out, in) weights stacked along out.
            let qkv_w = Tensor::cat(&[&t[0], &t[2], &t[4]], 0)?;
            let qkv_b = Tensor::cat(&[&t[1], &t[3], &t[5]], 0)?;
            layers.push(Layer {
                qkv: dense(&qkv_w, Some(&qkv_b))?,
                out: dense(&t[6], Some(&t[7]))?,
                norm1: Norm {
                    w: v(&t[8])?,
                    b: v(&t[9])?,
                },
                up: dense(&t[10], Some(&t[11]))?,
                down: dense(&t[12], Some(&t[13]))?,
                norm2: Norm {
                    w: v(&t[14])?,
                    b: v(&t[15])?,
                },
            });
        }
        let norm = &self.embeddings_norm;
        Ok(Some(CpuBert {
            hidden: self.config.hidden_size,
            heads: self.config.num_attention_heads,
            eps: self.config.layer_norm_eps as f32,
            act,
            token_type: v(&self.token_type_embeddings.get(0)?)?,
            positions: v(&self.position_embeddings)?,
            embed_norm: Norm {
                w: v(norm.weight())?,
                b: match norm.bias() {
                    Some(b) => v(b)?,
                    None => vec![0.0; self.config.hidden_size],
                },
            },
            layers,
            pooler: self.pooler.as_ref().map(linear).transpose()?,
            classifier: linear(&self.classifier)?,
        }))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    pub fn num_labels(&self) -> usize {
        self.classifier.weight().dims()[0]
    }

    /// Label names, when the fine-tuned file has them.
    pub fn labels(&self) -> Option<&[String]> {
        self.labels.as_deref()
    }

    /// The same model with the label names `labels` (one per output; the caller checks the count).
    pub fn with_labels(mut self, labels: Option<Vec<String>>) -> Self {
        self.labels = labels;
        self
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The word-embedding matrix `(vocab_size, hidden)`: rows for baselines (\[MASK\], \[PAD\], mean).
    pub fn word_embeddings(&self) -> &Tensor {
        &self.word_embeddings
    }

    /// The head tensors (`classifier.*`, `pooler.dense.*` with CLS pooling), e.g. for
    /// [`super::checkpoint::save_fine_tuned`].
    pub fn head_tensors(&self) -> BTreeMap<String, Tensor> {
        let mut m = BTreeMap::new();
        let mut put = |name: &str, l: &Linear| {
            m.insert(format!("{name}.weight"), l.weight().clone());
            if let Some(b) = l.bias() {
                m.insert(format!("{name}.bias"), b.clone());
            }
        };
        put("classifier", &self.classifier);
        if let Some(p) = &self.pooler {
            put("pooler.dense", p);
        }
        m
    }

    /// Word-embedding rows of `input_ids` `(b, len)` → `(b, len, hidden)`. Ids outside the
    /// vocabulary are an error.
    pub fn embed_ids(&self, input_ids: &Tensor) -> Result<Tensor, ModelError> {
        let (b, len) = input_ids.dims2().map_err(|_| {
            ModelError::Input(format!(
                "input_ids must be (batch, len), got {:?}",
                input_ids.dims()
            ))
        })?;
        let ids = input_ids.to_dtype(DType::U32)?.flatten_all()?;
        if b * len > 0 {
            let max = ids.max(0)?.to_scalar::<u32>()? as usize;
            if max >= self.config.vocab_size {
                return Err(ModelError::Input(format!(
                    "token id {max} is outside the vocabulary of {}",
                    self.config.vocab_size
                )));
            }
        }
        Ok(self.word_embeddings.index_select(&ids, 0)?.reshape((
            b,
            len,
            self.config.hidden_size,
        ))?)
    }

    /// Token states `(b, len, hidden)` from word-embedding rows `(b, len, hidden)` and an attention
    /// mask `(b, len)` (1 = real token, 0 = padding; any numeric dtype).
    pub fn hidden_states(
        &self,
        input_embeds: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, ModelError> {
        let (b, len, h) = input_embeds.dims3().map_err(|_| {
            ModelError::Input(format!(
                "input_embeds must be (batch, len, hidden), got {:?}",
                input_embeds.dims()
            ))
        })?;
        if h != self.config.hidden_size {
            return Err(ModelError::Input(format!(
                "input_embeds have width {h}, the model {}",
                self.config.hidden_size
            )));
        }
        if len == 0 || len > self.config.max_position_embeddings {
            return Err(ModelError::Input(format!(
                "sequence length {len} is outside 1..={}",
                self.config.max_position_embeddings
            )));
        }
        if attention_mask.dims() != [b, len] {
            return Err(ModelError::Input(format!(
                "attention_mask is {:?}, expected [{b}, {len}]",
                attention_mask.dims()
            )));
        }
        // Same order of additions as candle's BertEmbeddings: (word + token type 0) + position.
        let token_type = self.token_type_embeddings.narrow(0, 0, 1)?;
        let positions = self.position_embeddings.narrow(0, 0, len)?;
        let x = input_embeds
            .to_dtype(DType::F32)?
            .broadcast_add(&token_type)?
            .broadcast_add(&positions)?;
        let x = self.embeddings_norm.forward(&x)?;
        // Additive mask (1 - m)·f32::MIN of shape (b, 1, 1, len), as HF and candle build it.
        let m = attention_mask
            .to_dtype(DType::F32)?
            .reshape((b, 1, 1, len))?;
        let additive = ((1.0 - m)? * f64::from(f32::MIN))?;
        Ok(self.encoder.forward(&x, &additive)?)
    }

    /// Token states from ids.
    pub fn hidden_states_ids(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, ModelError> {
        self.hidden_states(&self.embed_ids(input_ids)?, attention_mask)
    }

    /// One vector per sentence, by the model's pooling: `(b, hidden)`.
    pub fn pool(&self, hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor, ModelError> {
        match &self.pooler {
            Some(p) => Ok(p.forward(&hidden.narrow(1, 0, 1)?.squeeze(1)?)?.tanh()?),
            None => mean_pool(hidden, attention_mask),
        }
    }

    /// Logits `(b, num_labels)` from word-embedding rows, so that words can be masked by
    /// replacing their rows before the call.
    pub fn forward_embeds(
        &self,
        input_embeds: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, ModelError> {
        let hidden = self.hidden_states(input_embeds, attention_mask)?;
        Ok(self
            .classifier
            .forward(&self.pool(&hidden, attention_mask)?)?)
    }

    /// Logits `(b, num_labels)` from token ids.
    pub fn forward_ids(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, ModelError> {
        self.forward_embeds(&self.embed_ids(input_ids)?, attention_mask)
    }

    /// Logits `(b, num_labels)` of `b` masked versions of one sentence, for inference (no
    /// gradients). `words`: the sentence's word-embedding rows, `(len, hidden)` or
    /// `(1, len, hidden)`. `replacements`: what replaces a masked token's row, `(hidden,)` (the
    /// same row at every position, any shape with `hidden` elements) or `(len, hidden)` elements
    /// (one row per position).
    /// `keep`: `b × len` flags, row-major; input i has token t's word row where `keep[i·len + t]`
    /// and its replacement row elsewhere; every token is attended (no padding).
    ///
    /// Equal to [`Self::forward_embeds`] on the masked embeddings up to float rounding. On the CPU
    /// it runs the fused CPU path (internal module `bert_cpu`), which computes the embedding LayerNorm and
    /// the first layer's query/key/value projections once per distinct row (2·len of them)
    /// rather than once per input and token; elsewhere it runs [`Self::forward_embeds`].
    /// Errors: shapes that do not match, `keep.len()` not a multiple of `len`, `len` outside
    /// `1..=max_position_embeddings`.
    pub fn masked_logits(
        &self,
        words: &Tensor,
        replacements: &Tensor,
        keep: &[bool],
    ) -> Result<Tensor, ModelError> {
        let h = self.config.hidden_size;
        let words = match words.dims() {
            [1, len, w] | [len, w] if *w == h => words.reshape((*len, h))?,
            d => {
                return Err(ModelError::Input(format!(
                    "words must be (len, {h}) or (1, len, {h}), got {d:?}"
                )))
            }
        };
        let len = words.dim(0)?;
        if len == 0 || len > self.config.max_position_embeddings {
            return Err(ModelError::Input(format!(
                "sequence length {len} is outside 1..={}",
                self.config.max_position_embeddings
            )));
        }
        let replacements = match replacements.elem_count() {
            n if n == h => replacements.reshape((1, h))?.broadcast_as((len, h))?,
            n if n == len * h => replacements.reshape((len, h))?,
            _ => {
                return Err(ModelError::Input(format!(
                    "replacements must hold one row of {h} or {len} rows, got shape {:?}",
                    replacements.dims()
                )))
            }
        };
        if keep.len() % len != 0 {
            return Err(ModelError::Input(format!(
                "keep has {} flags, not a multiple of the sentence length {len}",
                keep.len()
            )));
        }
        let b = keep.len() / len;
        let f32s = |t: &Tensor| -> Result<Vec<f32>, ModelError> {
            Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
        };
        if let Some(cpu) = self.cpu_path()? {
            let logits = cpu.masked_logits(&f32s(&words)?, &f32s(&replacements)?, keep);
            return Ok(Tensor::from_vec(
                logits,
                (b, self.num_labels()),
                &self.device,
            )?);
        }
        let keep_t = Tensor::from_vec(
            keep.iter()
                .map(|&k| if k { 1f32 } else { 0f32 })
                .collect::<Vec<_>>(),
            (b, len, 1),
            &self.device,
        )?;
        let drop = (1.0 - &keep_t)?;
        let x = (words
            .to_dtype(DType::F32)?
            .unsqueeze(0)?
            .broadcast_mul(&keep_t)?
            + replacements
                .to_dtype(DType::F32)?
                .unsqueeze(0)?
                .broadcast_mul(&drop)?)?;
        let ones = Tensor::ones((b, len), DType::F32, &self.device)?;
        self.forward_embeds(&x, &ones)
    }

    /// Token states `(b, len, hidden)` for inference (no gradients), as [`Self::hidden_states`]
    /// at the real tokens (attention mask 1). The CPU path computes only the real tokens and
    /// returns zeros at the others; elsewhere the rows of padding are candle's. The mask must be
    /// 0/1 with at least one real token per row for the CPU path, else the candle path runs.
    /// Errors: as [`Self::hidden_states`].
    pub fn infer_hidden_states(
        &self,
        input_embeds: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, ModelError> {
        match self.packed_run(input_embeds, attention_mask, false)? {
            Some(t) => Ok(t),
            None => self.hidden_states(input_embeds, attention_mask),
        }
    }

    /// Logits `(b, num_labels)` for inference (no gradients), equal to [`Self::forward_embeds`]
    /// up to float rounding; on the CPU only the real tokens are computed (see
    /// [`Self::infer_hidden_states`]). Errors: as [`Self::forward_embeds`].
    pub fn infer_embeds(
        &self,
        input_embeds: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, ModelError> {
        match self.packed_run(input_embeds, attention_mask, true)? {
            Some(t) => Ok(t),
            None => self.forward_embeds(input_embeds, attention_mask),
        }
    }

    /// Logits `(b, num_labels)` from token ids for inference, as [`Self::infer_embeds`].
    pub fn infer_ids(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, ModelError> {
        self.infer_embeds(&self.embed_ids(input_ids)?, attention_mask)
    }

    /// The CPU path on the real tokens of a padded batch: logits, or hidden states with zeros at
    /// the padding. None where it does not apply (then the caller runs the candle path).
    fn packed_run(
        &self,
        input_embeds: &Tensor,
        attention_mask: &Tensor,
        logits: bool,
    ) -> Result<Option<Tensor>, ModelError> {
        let Some(cpu) = self.cpu_path()? else {
            return Ok(None);
        };
        let (b, len, h) = input_embeds.dims3().map_err(|_| {
            ModelError::Input(format!(
                "input_embeds must be (batch, len, hidden), got {:?}",
                input_embeds.dims()
            ))
        })?;
        if h != self.config.hidden_size
            || len == 0
            || len > self.config.max_position_embeddings
            || attention_mask.dims() != [b, len]
        {
            return Ok(None); // the candle path reports the error
        }
        let mask: Vec<f32> = attention_mask
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1()?;
        let rows_ok = mask.chunks(len).all(|r| {
            r.iter().all(|&m| m == 0.0 || m == 1.0)
                && r.contains(&1.0)
                && (self.pooling != Pooling::Cls || r[0] == 1.0)
        });
        if !rows_ok {
            return Ok(None);
        }
        let x: Vec<f32> = input_embeds
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1()?;
        let mut words = Vec::new();
        let mut positions = Vec::new();
        let mut seqs = Vec::with_capacity(b);
        for (i, r) in mask.chunks(len).enumerate() {
            let start = positions.len();
            for (t, &m) in r.iter().enumerate() {
                if m == 1.0 {
                    words.extend_from_slice(&x[(i * len + t) * h..(i * len + t + 1) * h]);
                    positions.push(t);
                }
            }
            seqs.push(start..positions.len());
        }
        if logits {
            let out = cpu.logits(words, &positions, &seqs);
            return Ok(Some(Tensor::from_vec(
                out,
                (b, self.num_labels()),
                &self.device,
            )?));
        }
        let states = cpu.hidden_states(words, &positions, &seqs);
        let mut full = vec![0f32; b * len * h];
        for (i, r) in seqs.iter().enumerate() {
            for (row, &p) in (r.start..r.end).zip(&positions[r.clone()]) {
                full[(i * len + p) * h..(i * len + p + 1) * h]
                    .copy_from_slice(&states[row * h..(row + 1) * h]);
            }
        }
        Ok(Some(Tensor::from_vec(full, (b, len, h), &self.device)?))
    }
}

/// Mean of the token states `(b, len, hidden)` over the tokens where `attention_mask` `(b, len)` is
/// non-zero (sentence-transformers' pooling; an all-zero row gives zeros).
pub fn mean_pool(hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor, ModelError> {
    let m = attention_mask
        .to_dtype(hidden.dtype())?
        .unsqueeze(D::Minus1)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let count = m.sum(1)?.clamp(1e-9, f64::INFINITY)?;
    Ok(sum.broadcast_div(&count)?)
}

/// Rows scaled to unit L2 norm.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor, ModelError> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?;
    Ok(x.broadcast_div(&norm)?)
}
