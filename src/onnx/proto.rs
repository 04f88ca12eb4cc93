//! A minimal reader for the parts of the ONNX protobuf schema that hold weights: the graph's nodes
//! (to learn which initializer feeds which MatMul) and its initializers. Hand-written so that
//! converting a model needs neither Python nor a protobuf code generator; only the protobuf wire
//! format (varints, fixed 32/64-bit and length-delimited fields) is implemented.
//!
//! Field numbers follow onnx.proto: ModelProto.graph = 7; GraphProto.node = 1, initializer = 5;
//! NodeProto input = 1, output = 2, name = 3, op_type = 4; TensorProto dims = 1, data_type = 2,
//! float_data = 4, name = 8, raw_data = 9, external_data = 13, data_location = 14.

use super::OnnxError;

/// TensorProto.DataType.FLOAT.
pub const DATA_TYPE_FLOAT: i32 = 1;

/// One decoded field value of the protobuf wire format.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    /// A fixed 64-bit value; no field the converter reads has this type, so it is skipped.
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Sequential reader over one protobuf message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// What is being read, for error messages.
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    fn err(&self, msg: impl std::fmt::Display) -> OnnxError {
        OnnxError::Malformed(format!("{} at byte {}: {msg}", self.what, self.pos))
    }

    fn varint(&mut self) -> Result<u64, OnnxError> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err("truncated varint"));
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], OnnxError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err(format!("field of {n} bytes runs past the end")))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next (field number, value), or None at the end of the message.
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>, OnnxError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 {
            return Err(self.err("field number 0"));
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| self.err("length overflows usize"))?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            )),
            t => return Err(self.err(format!("unsupported wire type {t}"))),
        };
        Ok(Some((number, value)))
    }
}

fn string(v: Value<'_>, what: &'static str) -> Result<String, OnnxError> {
    match v {
        Value::Bytes(b) => String::from_utf8(b.to_vec())
            .map_err(|_| OnnxError::Malformed(format!("{what} is not valid UTF-8"))),
        _ => Err(OnnxError::Malformed(format!(
            "{what} has the wrong wire type"
        ))),
    }
}

fn bytes<'a>(v: Value<'a>, what: &'static str) -> Result<&'a [u8], OnnxError> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(OnnxError::Malformed(format!(
            "{what} has the wrong wire type"
        ))),
    }
}

fn varint(v: Value<'_>, what: &'static str) -> Result<u64, OnnxError> {
    match v {
        Value::Varint(x) => Ok(x),
        _ => Err(OnnxError::Malformed(format!(
            "{what} has the wrong wire type"
        ))),
    }
}

/// A graph node: only what is needed to follow weights through the graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// An initializer. `raw_data` borrows from the model bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tensor<'a> {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: i32,
    pub raw_data: Option<&'a [u8]>,
    pub float_data: Vec<f32>,
    /// Stored in an external file (data_location = EXTERNAL or external_data present).
    pub external: bool,
}

impl Tensor<'_> {
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

    /// The values of a FLOAT tensor, from raw_data (little-endian) or float_data.
    pub fn to_f32(&self) -> Result<Vec<f32>, OnnxError> {
        if self.external {
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
        let values: Vec<f32> = match self.raw_data {
            Some(raw) => {
                if raw.len() != numel * 4 {
                    return Err(OnnxError::Malformed(format!(
                        "initializer {} has {} bytes of raw data for {numel} floats",
                        self.name,
                        raw.len()
                    )));
                }
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect()
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
                self.float_data.clone()
            }
        };
        Ok(values)
    }
}

/// The parts of a GraphProto the converter reads.
#[derive(Debug, Clone, Default)]
pub struct Graph<'a> {
    pub nodes: Vec<Node>,
    pub initializers: Vec<Tensor<'a>>,
}

/// Decode a serialized ModelProto; returns its graph (repeated graph fields are merged, as protobuf
/// merges embedded messages).
pub fn parse_model(buf: &[u8]) -> Result<Graph<'_>, OnnxError> {
    let mut r = Reader::new(buf, "ModelProto");
    let mut graph: Option<Graph> = None;
    while let Some((number, v)) = r.field()? {
        if number == 7 {
            let g = parse_graph(bytes(v, "ModelProto.graph")?)?;
            match graph.as_mut() {
                Some(prev) => {
                    prev.nodes.extend(g.nodes);
                    prev.initializers.extend(g.initializers);
                }
                None => graph = Some(g),
            }
        }
    }
    graph.ok_or_else(|| OnnxError::Malformed("ModelProto has no graph (field 7)".into()))
}

fn parse_graph(buf: &[u8]) -> Result<Graph<'_>, OnnxError> {
    let mut r = Reader::new(buf, "GraphProto");
    let mut g = Graph::default();
    while let Some((number, v)) = r.field()? {
        match number {
            1 => g.nodes.push(parse_node(bytes(v, "GraphProto.node")?)?),
            5 => g
                .initializers
                .push(parse_tensor(bytes(v, "GraphProto.initializer")?)?),
            _ => {}
        }
    }
    Ok(g)
}

fn parse_node(buf: &[u8]) -> Result<Node, OnnxError> {
    let mut r = Reader::new(buf, "NodeProto");
    let mut n = Node::default();
    while let Some((number, v)) = r.field()? {
        match number {
            1 => n.inputs.push(string(v, "NodeProto.input")?),
            2 => n.outputs.push(string(v, "NodeProto.output")?),
            3 => n.name = string(v, "NodeProto.name")?,
            4 => n.op_type = string(v, "NodeProto.op_type")?,
            _ => {}
        }
    }
    Ok(n)
}

fn parse_tensor(buf: &[u8]) -> Result<Tensor<'_>, OnnxError> {
    let mut r = Reader::new(buf, "TensorProto");
    let mut t = Tensor::default();
    while let Some((number, v)) = r.field()? {
        match (number, v) {
            // dims: repeated int64, packed or not.
            (1, Value::Varint(x)) => t.dims.push(x as i64),
            (1, Value::Bytes(b)) => {
                let mut p = Reader::new(b, "TensorProto.dims");
                while p.pos < b.len() {
                    t.dims.push(p.varint()? as i64);
                }
            }
            (2, v) => {
                t.data_type = i32::try_from(varint(v, "TensorProto.data_type")?)
                    .map_err(|_| OnnxError::Malformed("TensorProto.data_type overflows".into()))?
            }
            // float_data: repeated float, packed or not.
            (4, Value::Fixed32(x)) => t.float_data.push(f32::from_bits(x)),
            (4, Value::Bytes(b)) => {
                if b.len() % 4 != 0 {
                    return Err(r.err("packed float_data length is not a multiple of 4"));
                }
                t.float_data.extend(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))),
                );
            }
            (8, v) => t.name = string(v, "TensorProto.name")?,
            (9, v) => t.raw_data = Some(bytes(v, "TensorProto.raw_data")?),
            (13, _) => t.external = true,
            (14, v) => t.external |= varint(v, "TensorProto.data_location")? == 1,
            (1 | 4, _) => return Err(r.err(format!("field {number} has the wrong wire type"))),
            _ => {}
        }
    }
    Ok(t)
}

#[cfg(test)]
pub(crate) mod encode {
    //! A tiny protobuf writer, for building test models.

    pub fn varint(mut x: u64, out: &mut Vec<u8>) {
        loop {
            let b = (x & 0x7f) as u8;
            x >>= 7;
            if x == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    pub fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint((number << 3) | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    pub fn varint_field(number: u64, x: u64, out: &mut Vec<u8>) {
        varint(number << 3, out);
        varint(x, out);
    }

    pub fn fixed32_field(number: u64, x: u32, out: &mut Vec<u8>) {
        varint((number << 3) | 5, out);
        out.extend_from_slice(&x.to_le_bytes());
    }

    pub fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> Vec<u8> {
        let mut n = Vec::new();
        for i in inputs {
            bytes_field(1, i.as_bytes(), &mut n);
        }
        for o in outputs {
            bytes_field(2, o.as_bytes(), &mut n);
        }
        bytes_field(3, name.as_bytes(), &mut n);
        bytes_field(4, op.as_bytes(), &mut n);
        n
    }

    /// A FLOAT initializer with raw_data (packed dims).
    pub fn tensor_raw(name: &str, dims: &[usize], values: &[f32]) -> Vec<u8> {
        let mut t = Vec::new();
        let mut packed = Vec::new();
        for &d in dims {
            varint(d as u64, &mut packed);
        }
        bytes_field(1, &packed, &mut t);
        varint_field(2, 1, &mut t);
        bytes_field(8, name.as_bytes(), &mut t);
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes_field(9, &raw, &mut t);
        t
    }

    /// A FLOAT initializer with unpacked dims and unpacked float_data.
    pub fn tensor_floats(name: &str, dims: &[usize], values: &[f32]) -> Vec<u8> {
        let mut t = Vec::new();
        for &d in dims {
            varint_field(1, d as u64, &mut t);
        }
        varint_field(2, 1, &mut t);
        for v in values {
            fixed32_field(4, v.to_bits(), &mut t);
        }
        bytes_field(8, name.as_bytes(), &mut t);
        t
    }

    pub fn model(nodes: &[Vec<u8>], initializers: &[Vec<u8>]) -> Vec<u8> {
        let mut g = Vec::new();
        for n in nodes {
            bytes_field(1, n, &mut g);
        }
        for t in initializers {
            bytes_field(5, t, &mut g);
        }
        let mut m = Vec::new();
        varint_field(1, 8, &mut m); // ir_version
        bytes_field(2, b"test", &mut m); // producer_name
        bytes_field(7, &g, &mut m);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::encode::{model, node, tensor_floats, tensor_raw};
    use super::*;

    #[test]
    fn varints_round_trip_including_extremes() {
        for x in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            super::encode::varint(x, &mut b);
            let mut r = Reader::new(&b, "test");
            assert_eq!(r.varint().unwrap(), x);
            assert_eq!(r.pos, b.len());
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        let mut r = Reader::new(&[0xff; 11], "test");
        assert!(r.varint().is_err());
        let mut r = Reader::new(&[0x80, 0x80], "test");
        assert!(r.varint().is_err());
    }

    #[test]
    fn parses_nodes_and_both_tensor_encodings() {
        let m = model(
            &[node("n0", "MatMul", &["x", "w"], &["y"])],
            &[
                tensor_raw("w", &[2, 3], &[1., 2., 3., 4., 5., 6.]),
                tensor_floats("b", &[3], &[0.5, -1.0, 2.0]),
            ],
        );
        let g = parse_model(&m).unwrap();
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.nodes[0].op_type, "MatMul");
        assert_eq!(g.nodes[0].inputs, vec!["x", "w"]);
        assert_eq!(g.initializers[0].shape().unwrap(), vec![2, 3]);
        assert_eq!(
            g.initializers[0].to_f32().unwrap(),
            vec![1., 2., 3., 4., 5., 6.]
        );
        assert_eq!(g.initializers[1].dims, vec![3]);
        assert_eq!(g.initializers[1].to_f32().unwrap(), vec![0.5, -1.0, 2.0]);
    }

    #[test]
    fn every_truncation_of_a_model_is_an_error() {
        let m = model(
            &[node("n0", "MatMul", &["x", "w"], &["y"])],
            &[tensor_raw("w", &[2, 2], &[1., 2., 3., 4.])],
        );
        for cut in 0..m.len() {
            // Must never panic; a cut inside the graph field is always an error.
            assert!(parse_model(&m[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn wrong_data_length_is_an_error() {
        let t = tensor_raw("w", &[2, 3], &[1., 2., 3.]);
        let m = model(&[], &[t]);
        let g = parse_model(&m).unwrap();
        assert!(g.initializers[0].to_f32().is_err());
    }
}
