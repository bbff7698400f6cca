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

use ort::value::{DynValue, Tensor};

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

/// The inputs of a batch of `requests` (in batch order), by the names in `inputs`.
pub fn gather(
    requests: &[&RequestData],
    inputs: &[String],
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
    for name in inputs {
        if whole {
            values.push((name.clone(), find(&first.set, name)?.clone()));
            continue;
        }
        let mut data: Vec<f32> = Vec::new();
        let mut shape: Vec<usize> = Vec::new();
        for r in requests {
            let value = find(&r.set, name)?;
            let (s, all) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("value `{name}`: {e}"))?;
            let rows = (*s.first().unwrap_or(&1)).max(1) as usize;
            let per_row = all.len() / rows;
            if shape.is_empty() {
                shape = s.iter().map(|&d| d as usize).collect();
                data.reserve(per_row * requests.len());
            }
            data.extend_from_slice(&all[r.row * per_row..(r.row + 1) * per_row]);
        }
        if let Some(b) = shape.first_mut() {
            *b = requests.len();
        }
        bytes += (data.len() * 4) as u64;
        let tensor =
            Tensor::from_array((shape, data)).map_err(|e| format!("value `{name}`: {e}"))?;
        values.push((name.clone(), Arc::new(tensor.into_dyn())));
    }
    let how = if whole {
        Gathered::ZeroCopy
    } else {
        Gathered::Copied { bytes }
    };
    Ok((values, how))
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

/// A copy of a float tensor into a new ONNX Runtime value; returns it and the bytes copied.
pub fn copy_value(value: &DynValue) -> Result<(DynValue, u64), String> {
    let (shape, data) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?;
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let bytes = (data.len() * 4) as u64;
    let tensor = Tensor::from_array((shape, data.to_vec())).map_err(|e| e.to_string())?;
    Ok((tensor.into_dyn(), bytes))
}

/// A float tensor of `shape` with a fixed pattern (inputs of a stage's first partition).
pub fn input_value(shape: &[usize]) -> Result<DynValue, String> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|i| ((i % 251) as f32) / 251.0 - 0.5).collect();
    Tensor::from_array((shape.to_vec(), data))
        .map(|t| t.into_dyn())
        .map_err(|e| e.to_string())
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
