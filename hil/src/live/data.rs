//! Request data in a live run: the tensors a request carries between partitions, and how a batch
//! gathers them.
//!
//! A batch's outputs stay one set of ONNX Runtime values (`[rows, …]` each), shared by its
//! requests ([`RequestData`]: the set and the request's row). The next partition's batch feeds
//! them **without a copy** when it is made of the same requests in the same order (always at
//! batch size 1, and whenever batches pass through a pipeline unchanged): the values themselves
//! are the next session's inputs, as InfScaler's token hands a region over. Otherwise its rows
//! are gathered into new values (one copy, as any server that re-batches must). A copying
//! transport ([`copy_set`]) copies every value once more at the hand-off, as a shared-memory or
//! HTTP transfer does.

use std::sync::Arc;

use infscaler_sim::model::onnx::InputKind;
use infscaler_sim::model::onnx::proto::data_type;
use ort::value::{DynValue, PrimitiveTensorElementType, Tensor};

/// Named values, each with the batch dimension first.
#[derive(Debug)]
pub struct TensorSet {
    /// (graph value name, value), in the producing partition's output order.
    pub values: Vec<(String, Arc<DynValue>)>,
    /// The batch dimension of every value.
    pub rows: usize,
}

/// What a request carries: a row of a tensor set.
#[derive(Clone, Debug)]
pub struct RequestData {
    /// The set it belongs to (shared with the other requests of its batch).
    pub set: Arc<TensorSet>,
    /// Its row.
    pub row: usize,
}

/// How a batch's inputs were assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gathered {
    /// The previous batch's values as they are.
    ZeroCopy,
    /// Rows copied into new values; `bytes` copied.
    Copied {
        /// Bytes copied.
        bytes: u64,
    },
}

/// A batch's input values, by input name.
pub type NamedValues = Vec<(String, Arc<DynValue>)>;

/// The inputs of a batch of `requests` (in batch order), by the names in `inputs`, whose batch
/// dimensions are `axes` (0, or 1 for a time-major value; missing entries are 0).
pub fn gather(
    requests: &[&RequestData],
    inputs: &[String],
    axes: &[usize],
) -> Result<(NamedValues, Gathered), String> {
    let Some(first) = requests.first() else {
        return Err("empty batch".into());
    };
    let whole = requests.len() == first.set.rows
        && requests
            .iter()
            .enumerate()
            .all(|(i, r)| r.row == i && Arc::ptr_eq(&r.set, &first.set));
    let mut values = Vec::with_capacity(inputs.len());
    let mut bytes = 0u64;
    for (k, name) in inputs.iter().enumerate() {
        let axis = axes.get(k).copied().unwrap_or(0);
        if whole {
            values.push((name.clone(), find(&first.set, name)?.clone()));
            continue;
        }
        let is_ids = find(&first.set, name)?.try_extract_tensor::<i64>().is_ok();
        let (value, copied) = if is_ids {
            gather_rows::<i64>(requests, name, axis)?
        } else {
            gather_rows::<f32>(requests, name, axis)?
        };
        bytes += copied;
        values.push((name.clone(), Arc::new(value)));
    }
    let how = if whole {
        Gathered::ZeroCopy
    } else {
        Gathered::Copied { bytes }
    };
    Ok((values, how))
}

/// The rows of `requests` of the value `name`, along its batch axis `axis`, as one new value;
/// returns it and the bytes copied. A value with batch dimension 1 in a set of more rows
/// broadcasts (a position embedding): every request reads its row 0.
fn gather_rows<T>(
    requests: &[&RequestData],
    name: &str,
    axis: usize,
) -> Result<(DynValue, u64), String>
where
    T: PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static,
{
    let mut shape: Vec<usize> = Vec::new();
    // Each request's slice: `outer` blocks of `inner` elements.
    let mut parts: Vec<(&[T], usize, usize)> = Vec::with_capacity(requests.len());
    let mut extracted = Vec::with_capacity(requests.len());
    for r in requests {
        extracted.push(find(&r.set, name)?);
    }
    for (r, value) in requests.iter().zip(&extracted) {
        let (s, all) = value
            .try_extract_tensor::<T>()
            .map_err(|e| format!("value `{name}`: {e}"))?;
        let dims: Vec<usize> = s.iter().map(|&d| d as usize).collect();
        if axis >= dims.len() {
            return Err(format!("value `{name}` has no batch axis {axis}"));
        }
        let rows = dims[axis].max(1);
        let inner: usize = dims[axis + 1..].iter().product();
        if shape.is_empty() {
            shape = dims.clone();
        }
        let row = if rows == 1 { 0 } else { r.row };
        parts.push((all, row, inner * rows));
    }
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let mut data: Vec<T> = Vec::with_capacity(outer * inner * requests.len());
    for o in 0..outer {
        for &(all, row, block) in &parts {
            let start = o * block + row * inner;
            data.extend_from_slice(&all[start..start + inner]);
        }
    }
    shape[axis] = requests.len();
    let bytes = (data.len() * std::mem::size_of::<T>()) as u64;
    let tensor = Tensor::from_array((shape, data)).map_err(|e| format!("value `{name}`: {e}"))?;
    Ok((tensor.into_dyn(), bytes))
}

/// A copy of every value of `set` (a copying transport's hand-off); returns it and the bytes
/// copied.
pub fn copy_set(set: &TensorSet) -> Result<(TensorSet, u64), String> {
    let mut bytes = 0u64;
    let mut values = Vec::with_capacity(set.values.len());
    for (name, value) in &set.values {
        let copy = copy_value(value).map_err(|e| format!("value `{name}`: {e}"))?;
        bytes += copy.1;
        values.push((name.clone(), Arc::new(copy.0)));
    }
    Ok((
        TensorSet {
            values,
            rows: set.rows,
        },
        bytes,
    ))
}

/// A copy of a float or integer (token id) tensor into a new ONNX Runtime value; returns it and
/// the bytes copied.
pub fn copy_value(value: &DynValue) -> Result<(DynValue, u64), String> {
    match value.try_extract_tensor::<i64>() {
        Ok(_) => copy_typed::<i64>(value),
        Err(_) => copy_typed::<f32>(value),
    }
}

fn copy_typed<T>(value: &DynValue) -> Result<(DynValue, u64), String>
where
    T: PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static,
{
    let (shape, data) = value.try_extract_tensor::<T>().map_err(|e| e.to_string())?;
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let bytes = std::mem::size_of_val(data) as u64;
    let tensor = Tensor::from_array((shape, data.to_vec())).map_err(|e| e.to_string())?;
    Ok((tensor.into_dyn(), bytes))
}

/// A tensor of `shape` with a fixed pattern (inputs of a stage's first partition): floats, or
/// token ids below the input's bound.
pub fn input_value(shape: &[usize], kind: InputKind) -> Result<DynValue, String> {
    let n: usize = shape.iter().product();
    let made = match kind {
        InputKind::Float => {
            let data: Vec<f32> = (0..n).map(|i| ((i % 251) as f32) / 251.0 - 0.5).collect();
            Tensor::from_array((shape.to_vec(), data)).map(|t| t.into_dyn())
        }
        InputKind::Ids { elem_type, bound } => {
            let ids = (0..n).map(move |i| infscaler_sim::model::onnx::synthetic_id(i, bound));
            if elem_type == data_type::INT32 {
                let data: Vec<i32> = ids.map(|v| v as i32).collect();
                Tensor::from_array((shape.to_vec(), data)).map(|t| t.into_dyn())
            } else {
                let data: Vec<i64> = ids.map(|v| v as i64).collect();
                Tensor::from_array((shape.to_vec(), data)).map(|t| t.into_dyn())
            }
        }
    };
    made.map_err(|e| e.to_string())
}

fn find<'a>(set: &'a TensorSet, name: &str) -> Result<&'a Arc<DynValue>, String> {
    set.values
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| {
            format!(
                "the previous partition made no value `{name}` (it made {:?})",
                set.values.iter().map(|(n, _)| n).collect::<Vec<_>>()
            )
        })
}
