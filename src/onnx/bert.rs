//! Maps the initializers of an ONNX export of a (Hugging Face) BERT encoder to the parameter names
//! that `candle_transformers::models::bert` loads.
//!
//! PyTorch's exporter keeps the module names of biases, embeddings and LayerNorms (possibly behind a
//! prefix such as `model.0.auto_model.`), but it pre-transposes every `nn.Linear` weight to the
//! `[in, out]` layout of a MatMul and names it after nothing useful (`onnx::MatMul_470`). Those are
//! recovered from the graph: the MatMul that reads the weight is followed by an Add with the
//! layer's bias, and the node itself is named after the module (`/…/layer.0/attention/self/query/MatMul`).
//! Both clues are used and must agree. Weights are transposed back to `[out, in]`.

use std::collections::{BTreeMap, HashMap};

use super::schema::{GraphProto, NodeProto, DATA_TYPE_FLOAT};
use super::{BertWeights, OnnxError};

/// Module roots of a BERT encoder; everything before the first root is an export prefix.
const ROOTS: [&str; 3] = ["embeddings", "encoder", "pooler"];

/// Is `name` (prefix already removed) a parameter of `bert::BertModel` or of the HF pooler?
fn is_bert_param(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    let wb = |s: &str| s == "weight" || s == "bias";
    match parts.as_slice() {
        ["embeddings", "word_embeddings" | "position_embeddings" | "token_type_embeddings", "weight"] => {
            true
        }
        ["embeddings", "LayerNorm", p] | ["pooler", "dense", p] => wb(p),
        ["encoder", "layer", i, rest @ ..] if i.parse::<usize>().is_ok() => matches!(
            rest,
            ["attention", "self", "query" | "key" | "value", p]
                | ["attention", "output", "dense" | "LayerNorm", p]
                | ["intermediate", "dense", p]
                | ["output", "dense" | "LayerNorm", p] if wb(p)
        ),
        _ => false,
    }
}

/// The BERT parameter name inside a dotted name with any export prefix, e.g.
/// `model.0.auto_model.encoder.layer.1.output.dense.bias` → `encoder.layer.1.output.dense.bias`.
pub fn hf_param_name(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    (0..parts.len())
        .filter(|&i| ROOTS.contains(&parts[i]))
        .map(|i| parts[i..].join("."))
        .find(|n| is_bert_param(n))
}

/// The weight name a MatMul node's name points at:
/// `/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul` →
/// `encoder.layer.0.attention.self.query.weight`.
fn weight_name_from_node_name(node_name: &str) -> Option<String> {
    let segs: Vec<&str> = node_name.split('/').filter(|s| !s.is_empty()).collect();
    let (_op, module) = segs.split_last()?;
    hf_param_name(&format!("{}.weight", module.join(".")))
}

/// The weight name implied by the bias that the MatMul's output is added to.
fn weight_name_from_bias(
    node: &NodeProto,
    graph: &GraphProto,
    names: &HashMap<&str, String>,
) -> Option<String> {
    let out = node.output.first()?;
    graph
        .node
        .iter()
        .filter(|n| n.op_type == "Add" && n.input.iter().any(|i| i == out))
        .flat_map(|n| n.input.iter())
        .filter_map(|i| names.get(i.as_str()))
        .find_map(|bias| bias.strip_suffix(".bias").map(|m| format!("{m}.weight")))
}

/// `[rows, cols]` row-major → `[cols, rows]` row-major.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Extract and rename the BERT parameters of `graph`.
pub fn map_bert(graph: &GraphProto) -> Result<BertWeights, OnnxError> {
    let by_name: HashMap<&str, usize> = graph
        .initializer
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    // Initializers whose own name is a BERT parameter (biases, embeddings, LayerNorms).
    let named: HashMap<&str, String> = graph
        .initializer
        .iter()
        .filter_map(|t| hf_param_name(&t.name).map(|n| (t.name.as_str(), n)))
        .collect();

    let mut out: BTreeMap<String, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
    let mut source: BTreeMap<String, String> = BTreeMap::new();
    let mut insert = |hf: String, onnx: &str, shape: Vec<usize>, values: Vec<f32>| {
        if let Some(prev) = source.get(&hf) {
            if prev != onnx {
                return Err(OnnxError::Mapping(format!(
                    "both initializers {prev} and {onnx} map to {hf}"
                )));
            }
            return Ok(());
        }
        source.insert(hf.clone(), onnx.to_string());
        out.insert(hf, (shape, values));
        Ok(())
    };

    for t in &graph.initializer {
        if let Some(hf) = named.get(t.name.as_str()) {
            insert(hf.clone(), &t.name, t.shape()?, t.to_f32()?)?;
        }
    }

    for node in graph.node.iter().filter(|n| n.op_type == "MatMul") {
        let Some(w) = node.input.get(1).and_then(|i| by_name.get(i.as_str())) else {
            continue; // activation × activation (attention scores)
        };
        let t = &graph.initializer[*w];
        if named.contains_key(t.name.as_str()) || t.data_type != DATA_TYPE_FLOAT {
            continue;
        }
        let from_bias = weight_name_from_bias(node, graph, &named);
        let from_node = weight_name_from_node_name(&node.name);
        let hf = match (from_bias, from_node) {
            (Some(a), Some(b)) if a != b => {
                return Err(OnnxError::Mapping(format!(
                    "MatMul node {} reads {}: its bias says {a}, its name says {b}",
                    node.name, t.name
                )))
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => {
                return Err(OnnxError::Mapping(format!(
                    "cannot tell which BERT weight initializer {} (read by MatMul node {:?}) is",
                    t.name, node.name
                )))
            }
        };
        let shape = t.shape()?;
        let [rows, cols] = shape[..] else {
            return Err(OnnxError::Mapping(format!(
                "MatMul weight {} ({hf}) has shape {shape:?}, expected 2 dimensions",
                t.name
            )));
        };
        let values = transpose(&t.to_f32()?, rows, cols);
        insert(hf, &t.name, vec![cols, rows], values)?;
    }

    let ignored = graph
        .initializer
        .iter()
        .filter(|t| !source.values().any(|s| s == &t.name))
        .map(|t| t.name.clone())
        .collect();
    BertWeights::new(out, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_bert_parameters_behind_prefixes() {
        assert_eq!(
            hf_param_name("model.0.auto_model.embeddings.word_embeddings.weight").as_deref(),
            Some("embeddings.word_embeddings.weight")
        );
        assert_eq!(
            hf_param_name("bert.encoder.layer.11.attention.output.LayerNorm.bias").as_deref(),
            Some("encoder.layer.11.attention.output.LayerNorm.bias")
        );
        assert_eq!(
            hf_param_name("pooler.dense.weight").as_deref(),
            Some("pooler.dense.weight")
        );
        assert_eq!(hf_param_name("embeddings.position_ids"), None);
        assert_eq!(hf_param_name("onnx::MatMul_470"), None);
        assert_eq!(hf_param_name("encoder.layer.x.output.dense.bias"), None);
        assert_eq!(hf_param_name("encoder.layer.0.output.dense.gamma"), None);
    }

    #[test]
    fn node_names_give_weight_names() {
        assert_eq!(
            weight_name_from_node_name(
                "/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul"
            )
            .as_deref(),
            Some("encoder.layer.0.attention.self.query.weight")
        );
        assert_eq!(
            weight_name_from_node_name(
                "/model/model.0/auto_model/encoder/layer.2/output/dense/MatMul"
            )
            .as_deref(),
            Some("encoder.layer.2.output.dense.weight")
        );
        // The attention-score MatMul is not a parameter.
        assert_eq!(
            weight_name_from_node_name(
                "/model/model.0/auto_model/encoder/layer.0/attention/self/MatMul"
            ),
            None
        );
    }

    #[test]
    fn transposes_row_major() {
        assert_eq!(
            transpose(&[1., 2., 3., 4., 5., 6.], 2, 3),
            vec![1., 4., 2., 5., 3., 6.]
        );
    }
}
