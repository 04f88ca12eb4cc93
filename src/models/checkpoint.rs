//! Checkpoint I/O: everything that reads or writes a model file. The network files (`bert.rs`,
//! `resnet.rs`, `vgg.rs`, `llama.rs`, …) build from a `VarBuilder`, from tensors or from parsed
//! GGUF content and never open a file; this module turns files into those inputs:
//!
//! - Hugging Face model folders ([`ModelFiles`]: config.json, tokenizer.json, model.safetensors)
//!   and their JSON configs ([`read_config`]);
//! - safetensors files with their `__metadata__` ([`read_safetensors`]), and the one writer of the
//!   project ([`write_safetensors`]), used by training, the ONNX converter and
//!   [`save_fine_tuned`];
//! - the BERT classifiers: a base folder plus a head ([`HeadSource`]: a fine-tuned overlay file or a
//!   fresh seeded head) → [`BertClassifier`] ([`load_bert_classifier`]);
//! - the digit CNN files (architecture and config in the metadata) → [`DigitClassifier`]
//!   ([`load_digit_classifier`]);
//! - GGUF files ([`read_gguf`]), for the causal LMs and their tokenizers.
//!
//! Why a safetensors writer of our own: the `safetensors` crate takes the metadata as a `HashMap`
//! and writes it in that map's (random) order, so a file with more than one metadata entry would
//! get other bytes on every run. [`write_safetensors`] writes the crate's layout (little-endian
//! header length; JSON header with `__metadata__` first, then the tensors in name order, padded
//! with spaces to a multiple of 8; the data in the same order) with the metadata in key order: the
//! same tensors and metadata give the same bytes. The files are read back with the crate (and
//! candle) in the tests, and the converted MiniLM-L3 that scripts/fetch-assets.sh pins by sha256
//! is written by it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rand::SeedableRng;
use safetensors::tensor::TensorInfo;
use safetensors::View;

use super::assets::FETCH_HINT;
use super::bert::{check_config, BertClassifier, Config, Pooling};
use super::digit_net::{DigitClassifier, DigitConfig};
use super::ModelError;
use crate::{Error, Result};

/// Safetensors metadata key: the architecture of a digit-model file ("resnet20" or "vgg16").
pub const META_ARCH: &str = "interprim.architecture";
/// Safetensors metadata key: the architecture's config as JSON (digit-model files).
pub const META_CONFIG: &str = "interprim.config";
/// Safetensors metadata key: the class names as a JSON array.
pub const META_LABELS: &str = "interprim.labels";
/// Safetensors metadata key: the pooling of a fine-tuned BERT overlay ("cls" or "mean").
pub const META_POOLING: &str = "interprim.pooling";
/// Safetensors metadata key: how the file was trained (JSON).
pub const META_TRAINING: &str = "interprim.training";

const HEAD_HINT: &str = "the fine-tuned head file is corrupt or was written for another model; \
                         write it again with checkpoint::save_fine_tuned";
const DIGIT_HINT: &str =
    "the committed digit weights are in weights/; rebuild them with `interprim train digits`";
const GGUF_HINT: &str = "not a GGUF file; run scripts/fetch-assets.sh lm";

// --- folders, configs, safetensors ----------------------------------------------------------------

/// The three files of a Hugging Face model folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    pub config: PathBuf,
    pub tokenizer: PathBuf,
    pub weights: PathBuf,
}

impl ModelFiles {
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

/// Read and parse a JSON config file. Errors: a missing, unreadable or malformed file, naming it
/// and saying how to fetch it again.
pub fn read_config<C: serde::de::DeserializeOwned>(path: &Path) -> Result<C, ModelError> {
    ModelError::require_file(path, FETCH_HINT)?;
    let text =
        std::fs::read_to_string(path).map_err(|e| ModelError::bad_file(path, e, FETCH_HINT))?;
    serde_json::from_str(&text).map_err(|e| ModelError::bad_file(path, e, FETCH_HINT))
}

/// The contents of a safetensors file.
#[derive(Debug)]
pub struct SafetensorsFile {
    /// Every tensor by name, converted to f32.
    pub tensors: HashMap<String, Tensor>,
    /// The `__metadata__` entries (empty without any).
    pub metadata: HashMap<String, String>,
}

/// Read a safetensors file onto `device`: its tensors as f32 and its metadata. Errors: a missing
/// file or one that is not safetensors, naming it, with `hint` saying how to get a good one.
pub fn read_safetensors(
    path: &Path,
    hint: &str,
    device: &Device,
) -> Result<SafetensorsFile, ModelError> {
    ModelError::require_file(path, hint)?;
    let bytes = std::fs::read(path).map_err(|e| ModelError::bad_file(path, e, hint))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| ModelError::bad_file(path, e, hint))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| ModelError::bad_file(path, e, hint))?
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?)))
        .collect::<candle_core::Result<HashMap<_, _>>>()?;
    Ok(SafetensorsFile { tensors, metadata })
}

/// Write `tensors` (any [`safetensors::View`]: candle tensors, `safetensors::tensor::TensorView`s)
/// and `metadata` to a safetensors file at `path`, deterministically (see the module doc) and
/// atomically (a temporary file is renamed into place; missing directories are created). Returns
/// the file's size in bytes. Errors: two tensors of one name, a tensor named `__metadata__`, an
/// unwritable path.
pub fn write_safetensors<S: AsRef<str>, V: View>(
    path: &Path,
    tensors: impl IntoIterator<Item = (S, V)>,
    metadata: &BTreeMap<String, String>,
) -> Result<u64> {
    let mut tensors: Vec<(S, V)> = tensors.into_iter().collect();
    tensors.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    if tensors.iter().any(|(n, _)| n.as_ref() == "__metadata__") {
        return Err(Error::Invalid(format!(
            "a tensor cannot be named __metadata__ ({})",
            path.display()
        )));
    }
    if let Some(w) = tensors
        .windows(2)
        .find(|w| w[0].0.as_ref() == w[1].0.as_ref())
    {
        return Err(Error::Invalid(format!(
            "two tensors named {:?} for {}",
            w[0].0.as_ref(),
            path.display()
        )));
    }
    let mut entries: Vec<String> = Vec::with_capacity(tensors.len() + 1);
    if !metadata.is_empty() {
        entries.push(format!("\"__metadata__\":{}", json(metadata)?));
    }
    let data: Vec<_> = tensors.iter().map(|(_, v)| v.data()).collect();
    let mut offset = 0usize;
    for ((name, view), bytes) in tensors.iter().zip(&data) {
        let info = TensorInfo {
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data_offsets: (offset, offset + bytes.len()),
        };
        offset += bytes.len();
        entries.push(format!("{}:{}", json(name.as_ref())?, json(&info)?));
    }
    let mut header = format!("{{{}}}", entries.join(","));
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for bytes in &data {
        out.extend_from_slice(bytes);
    }
    crate::export::write_atomic(path, &out)?;
    Ok(out.len() as u64)
}

/// Compact JSON of a part of a safetensors header.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Invalid(e.to_string()))
}

// --- BERT classifiers -----------------------------------------------------------------------------

/// Where the classification head of a BERT classifier comes from.
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

/// Read and check a BERT config.json. Errors: as [`read_config`], and a `hidden_size` that is not a
/// multiple of `num_attention_heads`.
pub fn load_bert_config(path: &Path) -> Result<Config, ModelError> {
    let config: Config = read_config(path)?;
    check_config(&config).map_err(|e| ModelError::bad_file(path, e, FETCH_HINT))?;
    Ok(config)
}

/// The tensors of a safetensors file with a leading `bert.` (of Hugging Face checkpoints) dropped
/// from their names, as f32.
fn read_bert_file(path: &Path, hint: &str, device: &Device) -> Result<SafetensorsFile, ModelError> {
    let mut file = read_safetensors(path, hint, device)?;
    file.tensors = file
        .tensors
        .into_iter()
        .map(|(k, v)| (k.strip_prefix("bert.").map(str::to_string).unwrap_or(k), v))
        .collect();
    Ok(file)
}

fn is_head_tensor(name: &str) -> bool {
    matches!(
        name,
        "classifier.weight" | "classifier.bias" | "pooler.dense.weight" | "pooler.dense.bias"
    )
}

/// A seeded N(0, std²) matrix (rand_distr's normal on ChaCha8, reproducible across platforms).
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

fn check_shape(name: &str, t: &Tensor, dims: &[usize], path: &Path) -> Result<(), ModelError> {
    if t.dims() == dims {
        Ok(())
    } else {
        Err(ModelError::bad_file(
            path,
            format!("{name} has shape {:?}, expected {dims:?}", t.dims()),
            HEAD_HINT,
        ))
    }
}

/// What a head gives the classifier: pooling, outputs and label names.
struct Head {
    pooling: Pooling,
    num_labels: usize,
    labels: Option<Vec<String>>,
}

/// Put the head of `head` into the base tensors `tensors` (replacing base tensors where a
/// fine-tuned file has them), after checking its tensors against the base model.
fn apply_head(
    tensors: &mut HashMap<String, Tensor>,
    config: &Config,
    head: &HeadSource,
    device: &Device,
) -> Result<Head, ModelError> {
    let h = config.hidden_size;
    match head {
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
            Ok(Head {
                pooling: *pooling,
                num_labels: *num_labels,
                labels: None,
            })
        }
        HeadSource::FineTuned(path) => {
            let overlay = read_bert_file(path, HEAD_HINT, device)?;
            let meta = &overlay.metadata;
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
                .tensors
                .get("classifier.weight")
                .ok_or_else(|| ModelError::bad_file(path, "no classifier.weight", HEAD_HINT))?;
            let num_labels = w.dims().first().copied().unwrap_or(0);
            check_shape("classifier.weight", w, &[num_labels, h], path)?;
            if let Some(l) = &labels {
                if l.len() != num_labels {
                    return Err(ModelError::bad_file(
                        path,
                        format!("{} labels for {num_labels} outputs", l.len()),
                        HEAD_HINT,
                    ));
                }
            }
            for (name, t) in overlay.tensors {
                if !is_head_tensor(&name) {
                    let base = tensors.get(&name).ok_or_else(|| {
                        ModelError::bad_file(
                            path,
                            format!("{name} is not a tensor of the base model"),
                            HEAD_HINT,
                        )
                    })?;
                    check_shape(&name, &t, base.dims(), path)?;
                }
                tensors.insert(name, t);
            }
            Ok(Head {
                pooling,
                num_labels,
                labels,
            })
        }
    }
}

/// Load a BERT classifier: the base model of `files` (config.json, model.safetensors; a `bert.`
/// name prefix is dropped) with the head of `head`, on `device`. Errors: missing or corrupt files,
/// a head file written for another model (shapes, unknown tensors, labels that do not match its
/// outputs), naming the file and the fix.
pub fn load_bert_classifier(
    files: &ModelFiles,
    head: &HeadSource,
    device: &Device,
) -> Result<BertClassifier, ModelError> {
    let config = load_bert_config(&files.config)?;
    let mut tensors = read_bert_file(&files.weights, FETCH_HINT, device)?.tensors;
    let head = apply_head(&mut tensors, &config, head, device)?;
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    let model = BertClassifier::load(vb, &config, head.pooling, head.num_labels)
        .map_err(|e| ModelError::bad_file(&files.weights, e, FETCH_HINT))?;
    Ok(model.with_labels(head.labels))
}

/// The tensors a classifier loaded from `files` and `head` is built from, as f32, by name: the base
/// model's (a `bert.` prefix dropped), with a fine-tuned file's tensors replacing them or a fresh
/// head's seeded tensors added; without `head` the base model's alone. Errors: as
/// [`load_bert_classifier`].
pub fn read_bert_tensors(
    files: &ModelFiles,
    head: Option<&HeadSource>,
    device: &Device,
) -> Result<HashMap<String, Tensor>, ModelError> {
    let mut tensors = read_bert_file(&files.weights, FETCH_HINT, device)?.tensors;
    if let Some(head) = head {
        let config = load_bert_config(&files.config)?;
        apply_head(&mut tensors, &config, head, device)?;
    }
    Ok(tensors)
}

/// Write a fine-tuned head file as f32: `tensors` must hold `classifier.weight`
/// `(num_labels, hidden)` and `classifier.bias`; any other tensor replaces the base tensor of the
/// same name at load time ([`HeadSource::FineTuned`]). Returns the file's size in bytes.
pub fn save_fine_tuned(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    pooling: Pooling,
    labels: Option<&[String]>,
) -> Result<u64> {
    save_fine_tuned_as(path, tensors, DType::F32, pooling, labels, None)
}

/// [`save_fine_tuned`] with the tensors stored as `dtype` (F32, F16 or BF16) and, optionally, a
/// JSON description of the training under [`META_TRAINING`].
pub fn save_fine_tuned_as(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    dtype: DType,
    pooling: Pooling,
    labels: Option<&[String]>,
    training: Option<&serde_json::Value>,
) -> Result<u64> {
    for k in ["classifier.weight", "classifier.bias"] {
        if !tensors.contains_key(k) {
            return Err(Error::Invalid(format!("a fine-tuned file needs {k}")));
        }
    }
    if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) {
        return Err(Error::Invalid(format!(
            "a fine-tuned file stores F32, F16 or BF16 tensors, not {dtype:?}"
        )));
    }
    let stored = tensors
        .iter()
        .map(|(n, t)| Ok((n.as_str(), t.to_dtype(dtype)?)))
        .collect::<candle_core::Result<Vec<_>>>()
        .map_err(ModelError::from)?;
    let mut meta = BTreeMap::from([(META_POOLING.to_string(), pooling.as_str().to_string())]);
    if let Some(l) = labels {
        meta.insert(
            META_LABELS.to_string(),
            serde_json::to_string(l).map_err(|e| Error::Invalid(e.to_string()))?,
        );
    }
    if let Some(t) = training {
        meta.insert(META_TRAINING.to_string(), t.to_string());
    }
    write_safetensors(path, stored, &meta)
}

// --- digit CNNs -----------------------------------------------------------------------------------

/// Load a digit-model file written by `interprim train digits` on `device`: the architecture and
/// its config from the metadata ([`META_ARCH`], [`META_CONFIG`]), the weights from the tensors.
/// Errors: a missing or corrupt file, missing or unknown architecture metadata, tensors that do
/// not fit the config, naming the file.
pub fn load_digit_classifier(path: &Path, device: &Device) -> Result<DigitClassifier> {
    let file = read_safetensors(path, DIGIT_HINT, device)?;
    let arch = file.metadata.get(META_ARCH).ok_or_else(|| {
        ModelError::bad_file(path, format!("no {META_ARCH} metadata"), DIGIT_HINT)
    })?;
    let config: serde_json::Value = file
        .metadata
        .get(META_CONFIG)
        .and_then(|c| serde_json::from_str(c).ok())
        .ok_or_else(|| {
            ModelError::bad_file(
                path,
                format!("missing or invalid {META_CONFIG}"),
                DIGIT_HINT,
            )
        })?;
    let config = DigitConfig::from_parts(arch, &config)
        .map_err(|e| ModelError::bad_file(path, e, DIGIT_HINT))?;
    let model = DigitClassifier::from_tensors(config, file.tensors, device)
        .map_err(|e| ModelError::bad_file(path, e, DIGIT_HINT))?;
    Ok(model.with_path(path))
}

// --- GGUF -----------------------------------------------------------------------------------------

/// Open a GGUF file and parse its header and metadata; the file is returned for reading the
/// tensors. Errors: a missing file or one that is not GGUF, naming it.
pub fn read_gguf(path: &Path) -> Result<(std::fs::File, gguf_file::Content), ModelError> {
    ModelError::require_file(path, FETCH_HINT)?;
    let mut f = std::fs::File::open(path).map_err(|e| ModelError::bad_file(path, e, FETCH_HINT))?;
    let content =
        gguf_file::Content::read(&mut f).map_err(|e| ModelError::bad_file(path, e, GGUF_HINT))?;
    Ok((f, content))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(values: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(values, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn writer_matches_the_safetensors_crate_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let tensors = [
            (
                "b.weight".to_string(),
                tensor(&[1., 2., 3., 4., 5., 6.], &[2, 3]),
            ),
            ("a.bias".to_string(), tensor(&[0.5], &[1])),
        ];
        // One metadata entry: the crate's HashMap order cannot differ, so the bytes must agree.
        let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        let ours = dir.path().join("ours.safetensors");
        let n = write_safetensors(&ours, tensors.iter().map(|(k, v)| (k, v)), &meta).unwrap();
        let theirs = safetensors::tensor::serialize(
            tensors.iter().map(|(k, v)| (k.as_str(), v)),
            Some(HashMap::from([("format".to_string(), "pt".to_string())])),
        )
        .unwrap();
        let bytes = std::fs::read(&ours).unwrap();
        assert_eq!(bytes, theirs);
        assert_eq!(n, bytes.len() as u64);

        // Several metadata entries: sorted, the same bytes whatever the input order.
        let meta: BTreeMap<String, String> = [("z", "1"), ("a", "2"), ("m", "3")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let one = dir.path().join("sub/one.safetensors");
        write_safetensors(&one, tensors.iter().map(|(k, v)| (k, v)), &meta).unwrap();
        let two = dir.path().join("two.safetensors");
        write_safetensors(&two, tensors.iter().rev().map(|(k, v)| (k, v)), &meta).unwrap();
        assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
        let read = read_safetensors(&one, "rewrite it", &Device::Cpu).unwrap();
        assert_eq!(read.metadata.len(), 3);
        assert_eq!(read.metadata["a"], "2");
        let b: Vec<f32> = read.tensors["b.weight"]
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(b, vec![1., 2., 3., 4., 5., 6.]);
        assert_eq!(read.tensors["b.weight"].dims(), &[2, 3]);
    }

    #[test]
    fn writer_refuses_duplicate_names_and_reader_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let t = tensor(&[1.], &[1]);
        let path = dir.path().join("dup.safetensors");
        let e = write_safetensors(&path, [("x", &t), ("x", &t)], &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("\"x\""), "{e}");
        assert!(write_safetensors(&path, [("__metadata__", &t)], &BTreeMap::new()).is_err());
        assert!(!path.exists());
        let e = read_safetensors(&path, "make it first", &Device::Cpu).unwrap_err();
        assert!(e.to_string().contains("make it first"), "{e}");
        std::fs::write(&path, b"junk").unwrap();
        let e = read_safetensors(&path, "make it again", &Device::Cpu).unwrap_err();
        assert!(e.to_string().contains("dup.safetensors"), "{e}");
    }

    #[test]
    fn f16_overlays_keep_their_metadata_and_read_back_as_f32() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.safetensors");
        let tensors = BTreeMap::from([
            (
                "classifier.weight".to_string(),
                tensor(&[0.5, -0.25], &[1, 2]),
            ),
            ("classifier.bias".to_string(), tensor(&[0.125], &[1])),
        ]);
        let training = serde_json::json!({"epochs": 2});
        save_fine_tuned_as(
            &path,
            &tensors,
            DType::F16,
            Pooling::Mean,
            Some(&["yes".into()]),
            Some(&training),
        )
        .unwrap();
        let read = read_safetensors(&path, "", &Device::Cpu).unwrap();
        assert_eq!(read.metadata[META_POOLING], "mean");
        assert_eq!(read.metadata[META_LABELS], "[\"yes\"]");
        assert_eq!(read.metadata[META_TRAINING], "{\"epochs\":2}");
        let w = &read.tensors["classifier.weight"];
        assert_eq!(w.dtype(), DType::F32);
        assert_eq!(
            w.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![0.5, -0.25]
        );
        let raw = std::fs::read(&path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
        assert_eq!(
            st.tensor("classifier.bias").unwrap().dtype(),
            safetensors::Dtype::F16
        );
        let no_bias = BTreeMap::from([(
            "classifier.weight".to_string(),
            tensors["classifier.weight"].clone(),
        )]);
        assert!(save_fine_tuned(&path, &no_bias, Pooling::Cls, None).is_err());
    }
}
