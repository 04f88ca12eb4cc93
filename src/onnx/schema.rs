//! The parts of the ONNX protobuf schema that the converter reads, decoded by `prost`: the graph's
//! nodes (to learn which initializer feeds which MatMul) and its initializers. Declared with
//! `#[derive(prost::Message)]`, so no code generator and no Python are needed; fields that are
//! not declared are skipped when decoding.
//!
//! Field numbers and types from `onnx/onnx.proto` of the ONNX repository (github.com/onnx/onnx,
//! proto2 syntax, as of IR version 7 / ONNX 1.7; ONNX keeps field numbers fixed across versions):
//! ModelProto.graph = 7; GraphProto node = 1, initializer = 5; NodeProto input = 1, output = 2,
//! name = 3, op_type = 4; TensorProto dims = 1, data_type = 2, float_data = 4 (packed), name = 8,
//! raw_data = 9, external_data = 13, data_location = 14; StringStringEntryProto key = 1,
//! value = 2. Repeated numbers are decoded packed or not, as protobuf requires of a reader.

use prost::Message;

use super::OnnxError;

/// TensorProto.DataType.FLOAT.
pub const DATA_TYPE_FLOAT: i32 = 1;
/// TensorProto.DataLocation.EXTERNAL.
const DATA_LOCATION_EXTERNAL: i32 = 1;

/// `ModelProto`: only its graph.
#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

/// `GraphProto`: nodes and initializers.
#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
}

/// `NodeProto`: what is needed to follow weights through the graph.
#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
}

/// `TensorProto`: an initializer's name, shape, type and data.
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    /// proto2 `repeated int64` without `[packed = true]`: written unpacked.
    #[prost(int64, repeated, packed = "false", tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", optional, tag = "9")]
    pub raw_data: Option<Vec<u8>>,
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// `StringStringEntryProto`, the entries of `TensorProto.external_data`.
#[derive(Clone, PartialEq, Message)]
pub struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// Decode a serialized ModelProto and return its graph (a graph field given twice is merged, as
/// protobuf merges embedded messages). Errors: bytes that are not a ModelProto, or no graph.
pub fn parse_model(bytes: &[u8]) -> Result<GraphProto, OnnxError> {
    let model =
        ModelProto::decode(bytes).map_err(|e| OnnxError::Malformed(format!("ModelProto: {e}")))?;
    model
        .graph
        .ok_or_else(|| OnnxError::Malformed("ModelProto has no graph (field 7)".into()))
}

impl TensorProto {
    /// Stored in an external file (data_location = EXTERNAL or external_data present)?
    pub fn is_external(&self) -> bool {
        !self.external_data.is_empty() || self.data_location == DATA_LOCATION_EXTERNAL
    }

    /// The dimensions as usize; negative dimensions are malformed.
    pub fn shape(&self) -> Result<Vec<usize>, OnnxError> {
        self.dims
            .iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| {
                    OnnxError::Malformed(format!("initializer {} has dimension {d}", self.name))
                })
            })
            .collect()
    }

    /// The values of a FLOAT tensor, from raw_data (little-endian) or float_data. Errors: external
    /// data, another data type, or a data length that does not match the shape.
    pub fn to_f32(&self) -> Result<Vec<f32>, OnnxError> {
        if self.is_external() {
            return Err(OnnxError::Unsupported(format!(
                "initializer {} keeps its data in an external file",
                self.name
            )));
        }
        if self.data_type != DATA_TYPE_FLOAT {
            return Err(OnnxError::Unsupported(format!(
                "initializer {} has ONNX data type {}; only FLOAT (1) is supported",
                self.name, self.data_type
            )));
        }
        let numel = self
            .shape()?
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| OnnxError::Malformed(format!("{}: shape overflows", self.name)))?;
        match &self.raw_data {
            Some(raw) => {
                if raw.len() != numel * 4 {
                    return Err(OnnxError::Malformed(format!(
                        "initializer {} has {} bytes of raw data for {numel} floats",
                        self.name,
                        raw.len()
                    )));
                }
                Ok(raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            }
            None => {
                if self.float_data.len() != numel {
                    return Err(OnnxError::Malformed(format!(
                        "initializer {} has {} floats for shape {:?}",
                        self.name,
                        self.float_data.len(),
                        self.dims
                    )));
                }
                Ok(self.float_data.clone())
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod build {
    //! Test models, encoded by prost from the same declarations.

    use super::*;

    pub fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: name.into(),
            op_type: op.into(),
        }
    }

    /// A FLOAT initializer with raw_data.
    pub fn tensor_raw(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
        TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DATA_TYPE_FLOAT,
            name: name.into(),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        }
    }

    /// A FLOAT initializer with float_data.
    pub fn tensor_floats(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
        TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DATA_TYPE_FLOAT,
            name: name.into(),
            float_data: values.to_vec(),
            ..Default::default()
        }
    }

    pub fn model(node: Vec<NodeProto>, initializer: Vec<TensorProto>) -> Vec<u8> {
        ModelProto {
            graph: Some(GraphProto { node, initializer }),
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::build::{model, node, tensor_floats, tensor_raw};
    use super::*;

    #[test]
    fn parses_nodes_and_both_tensor_encodings() {
        let m = model(
            vec![node("n0", "MatMul", &["x", "w"], &["y"])],
            vec![
                tensor_raw("w", &[2, 3], &[1., 2., 3., 4., 5., 6.]),
                tensor_floats("b", &[3], &[0.5, -1.0, 2.0]),
            ],
        );
        let g = parse_model(&m).unwrap();
        assert_eq!(g.node.len(), 1);
        assert_eq!(g.node[0].op_type, "MatMul");
        assert_eq!(g.node[0].input, vec!["x", "w"]);
        assert_eq!(g.initializer[0].shape().unwrap(), vec![2, 3]);
        assert_eq!(
            g.initializer[0].to_f32().unwrap(),
            vec![1., 2., 3., 4., 5., 6.]
        );
        assert_eq!(g.initializer[1].dims, vec![3]);
        assert_eq!(g.initializer[1].to_f32().unwrap(), vec![0.5, -1.0, 2.0]);
    }

    /// Hand-written wire bytes in the encodings other writers use: packed dims (field 1, wire type
    /// 2) and unpacked float_data (field 4, wire type 5), inside a graph inside a model.
    #[test]
    fn reads_packed_dims_and_unpacked_floats() {
        let mut t = vec![0x0a, 0x02, 0x01, 0x02]; // dims [1, 2], packed
        t.extend([0x10, 0x01]); // data_type FLOAT
        for v in [1.5f32, -2.0] {
            t.push(0x25); // float_data, fixed32
            t.extend(v.to_le_bytes());
        }
        t.extend([0x42, 0x01, b'w']); // name "w"
        let mut g = vec![0x2a, t.len() as u8];
        g.extend(&t);
        let mut m = vec![0x08, 0x07]; // ir_version 7 (not declared: skipped)
        m.extend([0x3a, g.len() as u8]);
        m.extend(&g);
        let graph = parse_model(&m).unwrap();
        let w = &graph.initializer[0];
        assert_eq!((w.name.as_str(), w.shape().unwrap()), ("w", vec![1, 2]));
        assert_eq!(w.to_f32().unwrap(), vec![1.5, -2.0]);
    }

    #[test]
    fn every_truncation_of_a_model_is_an_error() {
        let m = model(
            vec![node("n0", "MatMul", &["x", "w"], &["y"])],
            vec![tensor_raw("w", &[2, 2], &[1., 2., 3., 4.])],
        );
        for cut in 0..m.len() {
            // Must never panic; a cut inside the graph field is always an error.
            assert!(parse_model(&m[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn wrong_data_length_external_data_and_other_types_are_errors() {
        let g = parse_model(&model(
            vec![],
            vec![tensor_raw("w", &[2, 3], &[1., 2., 3.])],
        ))
        .unwrap();
        assert!(matches!(
            g.initializer[0].to_f32(),
            Err(OnnxError::Malformed(_))
        ));
        let mut t = tensor_raw("w", &[1], &[1.]);
        t.data_location = DATA_LOCATION_EXTERNAL;
        assert!(matches!(t.to_f32(), Err(OnnxError::Unsupported(_))));
        let mut t = tensor_raw("w", &[1], &[1.]);
        t.data_type = 7; // INT64
        assert!(matches!(t.to_f32(), Err(OnnxError::Unsupported(_))));
        let t = TensorProto {
            dims: vec![-1],
            ..tensor_floats("w", &[], &[])
        };
        assert!(matches!(t.shape(), Err(OnnxError::Malformed(_))));
    }
}
