//! ONNX files: the protobuf messages ([`proto`], hand-written `prost` structs, no `protoc`),
//! small helpers to make and read them, and the [`import`]er that reads a graph into the
//! simulator's layers. Writing models with weights and running them is `infscaler-hil`'s.

pub mod fuse;
pub mod import;
pub mod proto;
pub mod shapes;

use prost::Message;

use crate::model::layers::{EmbeddingIds, Layer, Network, TensorRef};

use proto::tensor_shape_proto::{Dimension, dimension::Value as DimValue};
use proto::{
    AttributeProto, ModelProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
    attribute_type, data_type, type_proto,
};

/// Name of the symbolic batch dimension of every model this crate writes.
pub const BATCH_DIM: &str = "N";

/// One dimension of a value's shape: a fixed size or a symbol such as [`BATCH_DIM`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// Known size.
    Fixed(u64),
    /// Named size, fixed only when the model is run (`dim_param`).
    Symbol(String),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbol(s) => f.write_str(s),
        }
    }
}

/// `[N, dims...]`: a per-sample shape with the symbolic batch dimension in front.
pub fn batched(per_sample: &[usize]) -> Vec<Dim> {
    std::iter::once(Dim::Symbol(BATCH_DIM.to_string()))
        .chain(per_sample.iter().map(|&d| Dim::Fixed(d as u64)))
        .collect()
}

/// A float tensor value named `name` with shape `shape`.
pub fn value_info(name: &str, shape: &[Dim]) -> ValueInfoProto {
    typed_value_info(name, shape, data_type::FLOAT)
}

/// A float tensor value named `name` whose shape is not stated.
pub fn value_info_without_shape(name: &str) -> ValueInfoProto {
    let mut v = value_info(name, &[]);
    if let Some(t) = v.r#type.as_mut().and_then(|t| t.tensor_type.as_mut()) {
        t.shape = None;
    }
    v
}

/// A tensor value named `name` with shape `shape` and element type `elem_type`
/// ([`data_type`]).
pub fn typed_value_info(name: &str, shape: &[Dim], elem_type: i32) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => DimValue::DimValue(*n as i64),
                Dim::Symbol(s) => DimValue::DimParam(s.clone()),
            }),
            denotation: String::new(),
        })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(type_proto::Tensor {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            }),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}

/// The shape declared by a value info: `None` when it has no tensor type or no shape; an
/// unknown dimension (neither size nor symbol) reads as the symbol `?`.
pub fn declared_shape(v: &ValueInfoProto) -> Option<Vec<Dim>> {
    let shape = v.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref()?;
    Some(
        shape
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(DimValue::DimValue(n)) if *n >= 0 => Dim::Fixed(*n as u64),
                Some(DimValue::DimParam(s)) if !s.is_empty() => Dim::Symbol(s.clone()),
                _ => Dim::Symbol("?".to_string()),
            })
            .collect(),
    )
}

/// The element type declared by a value info, if any.
pub fn declared_elem_type(v: &ValueInfoProto) -> Option<i32> {
    Some(v.r#type.as_ref()?.tensor_type.as_ref()?.elem_type)
}

/// A float initialiser, stored little-endian in `raw_data`.
pub fn f32_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    debug_assert_eq!(dims.iter().product::<usize>(), values.len());
    TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::FLOAT,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A 64-bit integer initialiser of shape `[values.len()]`.
pub fn i64_tensor(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: vec![values.len() as i64],
        data_type: data_type::INT64,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A 64-bit integer initialiser of shape `dims`.
pub fn i64_tensor_shaped(name: &str, dims: &[usize], values: &[i64]) -> TensorProto {
    debug_assert_eq!(dims.iter().product::<usize>(), values.len());
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        ..i64_tensor(name, values)
    }
}

/// A node named after its one output (tests build graphs with it).
#[cfg(test)]
pub(crate) fn test_node(op: &str, inputs: &[&str], output: &str) -> proto::NodeProto {
    proto::NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

/// Which nodes of `net` have batch dimension 1 in ONNX and broadcast against the batch: look-ups
/// of constant ids (position and segment embeddings, whose ids are a `[1, T]` constant as
/// Hugging Face's exports hold them) and layers that read only such nodes.
pub fn batch_one_nodes(net: &Network) -> Vec<bool> {
    let mut one = Vec::with_capacity(net.nodes().len());
    for n in net.nodes() {
        let b = match &n.layer {
            Layer::Embedding { ids, .. } => *ids != EmbeddingIds::Tokens,
            _ => {
                !n.inputs.is_empty()
                    && n.inputs.iter().all(|r| match r {
                        TensorRef::Node { index } => one[*index],
                        TensorRef::Input => false,
                    })
            }
        };
        one.push(b);
    }
    one
}

/// What a model input holds, for making a synthetic one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Floats.
    Float,
    /// Integer token ids of ONNX element type `elem_type` (INT64 or INT32), each below `bound`:
    /// the rows of the smallest embedding table that looks them up (1 when none does).
    Ids {
        /// [`data_type::INT64`] or [`data_type::INT32`].
        elem_type: i32,
        /// Exclusive upper bound of valid ids.
        bound: usize,
    },
}

/// Token id `i` of a synthetic input whose ids are below `bound`: a fixed pattern that spreads
/// over the table (7919 is prime), so look-ups do not all hit one row.
pub fn synthetic_id(i: usize, bound: usize) -> usize {
    i.wrapping_mul(7919) % bound.max(1)
}

/// What the graph input `input` of `graph` holds.
pub fn input_kind(graph: &proto::GraphProto, input: &ValueInfoProto) -> InputKind {
    let elem_type = declared_elem_type(input).unwrap_or(data_type::FLOAT);
    if !matches!(elem_type, data_type::INT64 | data_type::INT32) {
        return InputKind::Float;
    }
    let bound = graph
        .node
        .iter()
        .filter(|n| n.op_type == "Gather" && n.input.get(1) == Some(&input.name))
        .filter_map(|n| {
            let table = graph
                .initializer
                .iter()
                .find(|t| Some(&t.name) == n.input.first())?;
            usize::try_from(*table.dims.first()?).ok()
        })
        .min()
        .unwrap_or(1)
        .max(1);
    InputKind::Ids { elem_type, bound }
}

/// Whether `net` reads integer token ids (it looks up embeddings): its ONNX input is INT64.
pub fn reads_token_ids(net: &Network) -> bool {
    net.nodes()
        .iter()
        .any(|n| matches!(n.layer, Layer::Embedding { .. }))
}

/// A scalar float initialiser (shape `[]`).
pub fn f32_scalar(name: &str, value: f32) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: Vec::new(),
        data_type: data_type::FLOAT,
        raw_data: value.to_le_bytes().to_vec(),
        ..Default::default()
    }
}

/// Number of elements of an initialiser, from its dims (saturating: a file may state any dims).
pub fn tensor_len(t: &TensorProto) -> u64 {
    t.dims
        .iter()
        .fold(1u64, |a, &d| a.saturating_mul(d.max(0) as u64))
}

/// The elements of a float initialiser, or why they cannot be read.
pub fn tensor_f32(t: &TensorProto) -> Result<Vec<f32>, String> {
    elements(t, data_type::FLOAT, "FLOAT (1)", "floats", |c| {
        f32::from_le_bytes([c[0], c[1], c[2], c[3]])
    })
    .map(|raw| raw.unwrap_or_else(|| t.float_data.clone()))
}

/// The elements of a 64-bit integer initialiser, or why they cannot be read.
pub fn tensor_i64(t: &TensorProto) -> Result<Vec<i64>, String> {
    elements(t, data_type::INT64, "INT64 (7)", "int64s", |c| {
        i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
    })
    .map(|raw| raw.unwrap_or_else(|| t.int64_data.clone()))
}

/// The elements of a 64- or 32-bit integer initialiser, as 64-bit integers.
pub fn tensor_integers(t: &TensorProto) -> Result<Vec<i64>, String> {
    if t.data_type != data_type::INT32 {
        return tensor_i64(t);
    }
    elements(t, data_type::INT32, "INT32 (6)", "int32s", |c| {
        i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    })
    .map(|raw| raw.unwrap_or_else(|| t.int32_data.iter().copied().map(i64::from).collect()))
}

/// The elements of `t` stored little-endian in `raw_data`, `size_of::<T>()` bytes each, decoded
/// by `decode`; `None` when `raw_data` is empty (the typed field holds them). Errors: another
/// element type than `data_type` (`expected` names it), external data, a partial element.
fn elements<T>(
    t: &TensorProto,
    data_type: i32,
    expected: &str,
    plural: &str,
    decode: impl Fn(&[u8]) -> T,
) -> Result<Option<Vec<T>>, String> {
    if t.data_type != data_type {
        return Err(format!(
            "tensor `{}` has element type {}, expected {expected}",
            t.name, t.data_type
        ));
    }
    if t.data_location == 1 {
        return Err(format!("tensor `{}` is stored in an external file", t.name));
    }
    if t.raw_data.is_empty() {
        return Ok(None);
    }
    let width = std::mem::size_of::<T>();
    if !t.raw_data.len().is_multiple_of(width) {
        return Err(format!(
            "tensor `{}`: raw_data is not whole {plural}",
            t.name
        ));
    }
    Ok(Some(t.raw_data.chunks_exact(width).map(decode).collect()))
}

/// Integer attribute.
pub fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::INT,
        i,
        ..Default::default()
    }
}

/// Float attribute.
pub fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::FLOAT,
        f,
        ..Default::default()
    }
}

/// Integer-list attribute.
pub fn attr_ints(name: &str, ints: impl IntoIterator<Item = i64>) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::INTS,
        ints: ints.into_iter().collect(),
        ..Default::default()
    }
}

/// String attribute.
pub fn attr_string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::STRING,
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// Serialises a model to the bytes of an `.onnx` file.
pub fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Parses the bytes of an `.onnx` file.
pub fn decode(bytes: &[u8]) -> Result<ModelProto, prost::DecodeError> {
    ModelProto::decode(bytes)
}
