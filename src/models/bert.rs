//! A BERT sequence classifier on candle that can be run from token ids or from input embeddings.
//!
//! Masking a word at the embedding level (method §1, embedding masking) needs the word-embedding rows as the input
//! and the position and token-type embeddings and the LayerNorm applied after the substitution;
//! `candle_transformers::models::bert::BertModel` only takes ids, so the embedding layer is
//! rebuilt here and its public `BertEncoder` runs the transformer layers.
//!
//! Weights: the base encoder comes from a cached asset (model.safetensors + config.json); the head
//! (and, optionally, replacements for some encoder tensors, e.g. fine-tuned top layers) come from a
//! small separate safetensors file ([`HeadSource::FineTuned`]), or the head is initialised from a
//! seed ([`HeadSource::Fresh`]) so the pipeline runs before any training.
//!
//! Head: [`Pooling::Cls`] is Hugging Face's `BertForSequenceClassification` (pooler dense + tanh on
//! \[CLS\], then `classifier`); [`Pooling::Mean`] is the sentence-transformers mean over the tokens of
//! the attention mask, then `classifier`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{LayerNorm, Linear, Module, VarBuilder};
use candle_transformers::models::bert::{BertEncoder, HiddenAct};
use rand::SeedableRng;

use super::assets::FETCH_HINT;
use super::bert_cpu::{CpuBert, Dense, Layer, Norm};
use super::cpu_kernels::Act;
use super::ModelError;

/// The Hugging Face BERT config.json.
pub use candle_transformers::models::bert::Config;

/// Safetensors metadata key holding the pooling of a fine-tuned file ("cls" or "mean").
pub const META_POOLING: &str = "interprim.pooling";
/// Safetensors metadata key holding the label names of a fine-tuned file (a JSON array).
pub const META_LABELS: &str = "interprim.labels";

const HEAD_HINT: &str = "the fine-tuned head file is corrupt or was written for another model; \
                         write it again with bert::save_fine_tuned";

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

/// The three files of a base model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BertFiles {
    pub config: PathBuf,
    pub tokenizer: PathBuf,
    pub weights: PathBuf,
}

impl BertFiles {
    /// `dir/config.json`, `dir/tokenizer.json`, `dir/model.safetensors`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            config: dir.join("config.json"),
            tokenizer: dir.join("tokenizer.json"),
            weights: dir.join("model.safetensors"),
        }
    }

    /// All three present?
    pub fn exist(&self) -> bool {
        self.config.is_file() && self.tokenizer.is_file() && self.weights.is_file()
    }
}

/// Where the classification head comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadSource {
    /// A new head: `classifier` ~ N(0, initializer_range²) from `seed`, zero bias. With
    /// [`Pooling::Cls`] the base model's pooler is used, or a seeded one if it has none.
    Fresh {
        pooling: Pooling,
        num_labels: usize,
        seed: u64,
    },
    /// A safetensors file written by [`save_fine_tuned`]: `classifier.{weight,bias}`, optionally
    /// `pooler.dense.{weight,bias}` and any base tensors it replaces; pooling in its metadata.
    FineTuned(PathBuf),
}

/// Read and parse config.json.
pub fn load_config(path: &Path) -> Result<Config, ModelError> {
    ModelError::require_file(path, FETCH_HINT)?;
    let text =
        std::fs::read_to_string(path).map_err(|e| ModelError::bad_file(path, e, FETCH_HINT))?;
    let cfg: Config =
        serde_json::from_str(&text).map_err(|e| ModelError::bad_file(path, e, FETCH_HINT))?;
    if cfg.num_attention_heads == 0 || cfg.hidden_size % cfg.num_attention_heads != 0 {
        return Err(ModelError::bad_file(
            path,
            "hidden_size is not a multiple of num_attention_heads",
            FETCH_HINT,
        ));
    }
    Ok(cfg)
}

/// Load a safetensors file into tensors on `device`, with names normalised (a leading `bert.` of
/// HF checkpoints is dropped).
fn load_tensors(
    path: &Path,
    device: &Device,
    hint: &str,
) -> Result<HashMap<String, Tensor>, ModelError> {
    ModelError::require_file(path, hint)?;
    let tensors = candle_core::safetensors::load(path, device)
        .map_err(|e| ModelError::bad_file(path, e, hint))?;
    Ok(tensors
        .into_iter()
        .map(|(k, v)| (k.strip_prefix("bert.").map(str::to_string).unwrap_or(k), v))
        .collect())
}

/// The `__metadata__` of a safetensors file.
fn read_metadata(path: &Path) -> Result<HashMap<String, String>, ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::bad_file(path, e, HEAD_HINT))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| ModelError::bad_file(path, e, HEAD_HINT))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

fn is_head_tensor(name: &str) -> bool {
    matches!(
        name,
        "classifier.weight" | "classifier.bias" | "pooler.dense.weight" | "pooler.dense.bias"
    )
}

/// A seeded N(0, std²) matrix (Box–Muller on ChaCha8, so it is reproducible across platforms).
fn seeded_normal(
    rows: usize,
    cols: usize,
    std: f64,
    seed: u64,
    device: &Device,
) -> Result<Tensor, ModelError> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let v = crate::util::normal_f32(rows * cols, std, &mut rng)
        .map_err(|e| ModelError::Input(e.to_string()))?;
    Ok(Tensor::from_vec(v, (rows, cols), device)?)
}

/// Write a fine-tuned head file: `tensors` must hold `classifier.weight` `(num_labels, hidden)` and
/// `classifier.bias`; any other tensor replaces the base tensor of the same name at load time.
pub fn save_fine_tuned(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    pooling: Pooling,
    labels: Option<&[String]>,
) -> Result<(), ModelError> {
    for k in ["classifier.weight", "classifier.bias"] {
        if !tensors.contains_key(k) {
            return Err(ModelError::Input(format!("a fine-tuned file needs {k}")));
        }
    }
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        data.push((
            name.clone(),
            t.dims().to_vec(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ));
    }
    let views = data
        .iter()
        .map(|(n, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.as_str(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ModelError::Input(e.to_string()))?;
    let mut meta = HashMap::from([(META_POOLING.to_string(), pooling.as_str().to_string())]);
    if let Some(l) = labels {
        meta.insert(
            META_LABELS.to_string(),
            serde_json::to_string(l).map_err(|e| ModelError::Input(e.to_string()))?,
        );
    }
    safetensors::tensor::serialize_to_file(views, Some(meta), path).map_err(|e| {
        ModelError::BadFile {
            path: path.to_path_buf(),
            msg: e.to_string(),
            hint: "check that the directory exists and is writable".into(),
        }
    })
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
    /// Load the base model from `files` and the head from `head`.
    pub fn load(files: &BertFiles, head: &HeadSource, device: &Device) -> Result<Self, ModelError> {
        let config = load_config(&files.config)?;
        let mut tensors = load_tensors(&files.weights, device, FETCH_HINT)?;
        let check_shape = |name: &str, t: &Tensor, dims: &[usize], path: &Path, hint: &str| {
            if t.dims() == dims {
                Ok(())
            } else {
                Err(ModelError::bad_file(
                    path,
                    format!("{name} has shape {:?}, expected {dims:?}", t.dims()),
                    hint,
                ))
            }
        };
        let h = config.hidden_size;
        let (pooling, num_labels, labels) = match head {
            HeadSource::Fresh {
                pooling,
                num_labels,
                seed,
            } => {
                if *num_labels == 0 {
                    return Err(ModelError::Input("num_labels must be at least 1".into()));
                }
                let std = config.initializer_range;
                tensors.insert(
                    "classifier.weight".into(),
                    seeded_normal(*num_labels, h, std, *seed, device)?,
                );
                tensors.insert(
                    "classifier.bias".into(),
                    Tensor::zeros(*num_labels, DType::F32, device)?,
                );
                if *pooling == Pooling::Cls && !tensors.contains_key("pooler.dense.weight") {
                    let s = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    tensors.insert(
                        "pooler.dense.weight".into(),
                        seeded_normal(h, h, std, s, device)?,
                    );
                    tensors.insert(
                        "pooler.dense.bias".into(),
                        Tensor::zeros(h, DType::F32, device)?,
                    );
                }
                (*pooling, *num_labels, None)
            }
            HeadSource::FineTuned(path) => {
                let overlay = load_tensors(path, device, HEAD_HINT)?;
                let meta = read_metadata(path)?;
                let pooling: Pooling = meta
                    .get(META_POOLING)
                    .ok_or_else(|| {
                        ModelError::bad_file(path, format!("no {META_POOLING} metadata"), HEAD_HINT)
                    })?
                    .parse()
                    .map_err(|e| ModelError::bad_file(path, e, HEAD_HINT))?;
                let labels: Option<Vec<String>> = meta
                    .get(META_LABELS)
                    .map(|s| serde_json::from_str(s))
                    .transpose()
                    .map_err(|e| ModelError::bad_file(path, e, HEAD_HINT))?;
                let w = overlay
                    .get("classifier.weight")
                    .ok_or_else(|| ModelError::bad_file(path, "no classifier.weight", HEAD_HINT))?;
                let num_labels = w.dims().first().copied().unwrap_or(0);
                check_shape("classifier.weight", w, &[num_labels, h], path, HEAD_HINT)?;
                if let Some(l) = &labels {
                    if l.len() != num_labels {
                        return Err(ModelError::bad_file(
                            path,
                            format!("{} labels for {num_labels} outputs", l.len()),
                            HEAD_HINT,
                        ));
                    }
                }
                for (name, t) in overlay {
                    if !is_head_tensor(&name) {
                        let base = tensors.get(&name).ok_or_else(|| {
                            ModelError::bad_file(
                                path,
                                format!("{name} is not a tensor of the base model"),
                                HEAD_HINT,
                            )
                        })?;
                        check_shape(&name, &t, base.dims(), path, HEAD_HINT)?;
                    }
                    tensors.insert(name, t);
                }
                (pooling, num_labels, labels)
            }
        };
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let mut model = Self::from_var_builder(&config, vb, pooling, num_labels)
            .map_err(|e| ModelError::bad_file(&files.weights, e, FETCH_HINT))?;
        model.labels = labels;
        Ok(model)
    }

    /// Build from a VarBuilder holding the BERT tensors (HF names without a `bert.` prefix) and the
    /// head (`classifier.*`, and `pooler.dense.*` for [`Pooling::Cls`]). A VarBuilder backed by a
    /// `candle_nn::VarMap` gives a trainable model.
    pub fn from_var_builder(
        config: &Config,
        vb: VarBuilder,
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
            pooling: self.pooling,
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

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The word-embedding matrix `(vocab_size, hidden)`: rows for baselines (\[MASK\], \[PAD\], mean).
    pub fn word_embeddings(&self) -> &Tensor {
        &self.word_embeddings
    }

    /// The head tensors (`classifier.*`, `pooler.dense.*` with CLS pooling), e.g. for
    /// [`save_fine_tuned`].
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
