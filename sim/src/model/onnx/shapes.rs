//! Shape computations in ONNX graphs, folded into constants.
//!
//! Exports from PyTorch compute shapes at run time whenever a model reads `x.shape`
//! (`x.view(B, T, heads, d)`, `position_ids[:, :T]`, an LSTM's zero initial state): `Shape →
//! Gather → Unsqueeze → Concat → Reshape` and the like, on 64-bit integers. Every dimension but
//! the batch is fixed in the models the simulator reads, so these computations have one unknown,
//! the batch size, and fold into constants: a reshape target whose first entry is the batch
//! becomes `0` ("copy the input's first dimension", which is the batch).
//!
//! [`shape_nodes`] finds the nodes that only compute such values; they are not operators (they
//! cost nothing the simulator models). [`Folder`] evaluates them on demand, once the shapes of
//! the activations they read are known. [`zero_states`] finds `ConstantOfShape(…, 0)` values:
//! PyTorch's zero initial LSTM states, which are the ONNX default.

use std::collections::{HashMap, HashSet};

use crate::model::onnx::proto::{GraphProto, NodeProto, TensorProto, data_type};
use crate::model::onnx::{self};

/// The operators a shape computation may use besides `Shape`, `ConstantOfShape` and `Identity`.
const INTEGER_OPS: &[&str] = &[
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Cast",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Slice",
    "Range",
];

/// Largest integer tensor folded (elements): shape vectors and position-id tables are small.
const MAX_FOLDED_ELEMS: usize = 1 << 20;

fn is_integer(t: &TensorProto) -> bool {
    matches!(t.data_type, data_type::INT64 | data_type::INT32)
}

fn default_domain(n: &NodeProto) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

/// Which nodes of `graph` compute shapes only: `Shape`; integer arithmetic, indexing and
/// concatenation whose inputs are all integer constants or outputs of such nodes;
/// `ConstantOfShape` of such a value; and `Identity` of a constant (an alias). `constants` are
/// the graph's initialisers.
pub fn shape_nodes(graph: &GraphProto, constants: &HashMap<&str, &TensorProto>) -> Vec<bool> {
    let mut static_int: HashSet<&str> = constants
        .iter()
        .filter(|(_, t)| is_integer(t))
        .map(|(n, _)| *n)
        .collect();
    let mut shape = vec![false; graph.node.len()];
    for (i, n) in graph.node.iter().enumerate() {
        if !default_domain(n) {
            continue;
        }
        let inputs = || n.input.iter().filter(|v| !v.is_empty());
        let all_static = inputs().all(|v| static_int.contains(v.as_str())) && inputs().count() > 0;
        let is_shape = match n.op_type.as_str() {
            "Shape" => true,
            "ConstantOfShape" => all_static,
            "Identity" => inputs().all(|v| constants.contains_key(v.as_str())),
            op => INTEGER_OPS.contains(&op) && all_static,
        };
        if is_shape {
            shape[i] = true;
            if n.op_type != "ConstantOfShape" {
                static_int.extend(n.output.iter().map(String::as_str));
            }
        }
    }
    shape
}

/// Outputs of `ConstantOfShape` shape nodes whose value is zero (or not given: zero).
pub fn zero_states<'a>(graph: &'a GraphProto, shape: &[bool]) -> HashSet<&'a str> {
    graph
        .node
        .iter()
        .zip(shape)
        .filter(|(n, s)| **s && n.op_type == "ConstantOfShape")
        .filter(|(n, _)| {
            n.attribute
                .iter()
                .find(|a| a.name == "value")
                .and_then(|a| a.t.as_ref())
                .is_none_or(|t| {
                    let f = onnx::tensor_f32(t).unwrap_or_default();
                    let i = onnx::tensor_i64(t).unwrap_or_default();
                    f.iter().all(|v| *v == 0.0) && i.iter().all(|v| *v == 0)
                })
        })
        .filter_map(|(n, _)| n.output.first().map(String::as_str))
        .collect()
}

/// One integer of a shape computation: known, or the batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sym {
    Known(i64),
    Batch,
}

/// A small integer tensor with symbolic entries.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IntTensor {
    dims: Vec<usize>,
    values: Vec<Sym>,
}

impl IntTensor {
    fn vector(values: Vec<Sym>) -> Self {
        IntTensor {
            dims: vec![values.len()],
            values,
        }
    }

    fn known(&self) -> Result<Vec<i64>, String> {
        self.values
            .iter()
            .map(|v| match v {
                Sym::Known(x) => Ok(*x),
                Sym::Batch => Err("it depends on the batch size".to_string()),
            })
            .collect()
    }

    /// As an INT64 initialiser: the batch may only be the first entry of a vector (a reshape
    /// target's, where `0` copies the batch dimension).
    fn to_tensor(&self, name: &str) -> Result<TensorProto, String> {
        let mut out = Vec::with_capacity(self.values.len());
        for (i, v) in self.values.iter().enumerate() {
            out.push(match v {
                Sym::Known(x) => *x,
                Sym::Batch if i == 0 && self.dims.len() == 1 => 0,
                Sym::Batch => {
                    return Err(
                        "it uses the batch size other than as the first dimension of a shape"
                            .into(),
                    );
                }
            });
        }
        Ok(onnx::i64_tensor_shaped(name, &self.dims, &out))
    }
}

/// Evaluates shape nodes ([`shape_nodes`]) on demand and keeps the results.
pub struct Folder<'a> {
    graph: &'a GraphProto,
    shape: &'a [bool],
    constants: &'a HashMap<&'a str, &'a TensorProto>,
    producer: HashMap<&'a str, usize>,
    done: HashMap<String, Result<IntTensor, String>>,
}

impl<'a> Folder<'a> {
    /// A folder over `graph`, whose shape nodes are marked in `shape`.
    pub fn new(
        graph: &'a GraphProto,
        shape: &'a [bool],
        constants: &'a HashMap<&'a str, &'a TensorProto>,
    ) -> Self {
        let mut producer = HashMap::new();
        for (i, n) in graph.node.iter().enumerate() {
            for v in n.output.iter().filter(|v| !v.is_empty()) {
                producer.insert(v.as_str(), i);
            }
        }
        Folder {
            graph,
            shape,
            constants,
            producer,
            done: HashMap::new(),
        }
    }

    /// Whether `value` is made by a shape node.
    pub fn is_shape_value(&self, value: &str) -> bool {
        self.producer.get(value).is_some_and(|&p| self.shape[p])
    }

    /// The constant a shape node's output folds to, named `value`, or why it does not fold.
    /// `shape_of` gives an activation's per-sample shape (batch dimension left out).
    pub fn fold(
        &mut self,
        value: &str,
        shape_of: &dyn Fn(&str) -> Option<Vec<usize>>,
    ) -> Result<TensorProto, String> {
        self.eval(value, shape_of, 0)?.to_tensor(value)
    }

    fn eval(
        &mut self,
        value: &str,
        shape_of: &dyn Fn(&str) -> Option<Vec<usize>>,
        depth: usize,
    ) -> Result<IntTensor, String> {
        if let Some(r) = self.done.get(value) {
            return r.clone();
        }
        // Deep chains are not shape computations of a real model.
        if depth > 64 {
            return Err("the shape computation is too deep".into());
        }
        let r = self.eval_uncached(value, shape_of, depth);
        self.done.insert(value.to_string(), r.clone());
        r
    }

    fn eval_uncached(
        &mut self,
        value: &str,
        shape_of: &dyn Fn(&str) -> Option<Vec<usize>>,
        depth: usize,
    ) -> Result<IntTensor, String> {
        if let Some(t) = self.constants.get(value) {
            let values = onnx::tensor_integers(t)?;
            let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
            if values.len() > MAX_FOLDED_ELEMS || dims.iter().product::<usize>() != values.len() {
                return Err(format!("`{value}` is not a small integer tensor"));
            }
            return Ok(IntTensor {
                dims,
                values: values.into_iter().map(Sym::Known).collect(),
            });
        }
        let Some(&p) = self.producer.get(value) else {
            return Err(format!("`{value}` is neither a constant nor computed"));
        };
        if !self.shape[p] {
            return Err(format!("`{value}` is not a shape computation"));
        }
        let graph = self.graph;
        let node = &graph.node[p];
        let mut arg = |k: usize| -> Result<IntTensor, String> {
            let name =
                node.input.get(k).filter(|s| !s.is_empty()).ok_or_else(|| {
                    format!("{} `{}`: input {k} is missing", node.op_type, node.name)
                })?;
            self.eval(name, shape_of, depth + 1)
        };
        let int_attr = |name: &str| node.attribute.iter().find(|a| a.name == name).map(|a| a.i);
        let ints_attr = |name: &str| {
            node.attribute
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.ints.clone())
        };
        let out = match node.op_type.as_str() {
            "Shape" => {
                let x = node.input.first().map(String::as_str).unwrap_or("");
                let per_sample = shape_of(x)
                    .ok_or_else(|| format!("the shape of `{x}` is not known where it is read"))?;
                let all: Vec<Sym> = std::iter::once(Sym::Batch)
                    .chain(per_sample.iter().map(|&d| Sym::Known(d as i64)))
                    .collect();
                let r = all.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                let start = clamp(int_attr("start").unwrap_or(0));
                let end = clamp(int_attr("end").unwrap_or(r));
                IntTensor::vector(all[start..end.max(start)].to_vec())
            }
            "Identity" | "Cast" => arg(0)?,
            "Gather" => {
                let data = arg(0)?;
                let idx = arg(1)?;
                if data.dims.len() != 1 || int_attr("axis").unwrap_or(0) != 0 {
                    return Err("only gathers from a shape vector are folded".into());
                }
                let n = data.values.len() as i64;
                let values = idx
                    .known()?
                    .into_iter()
                    .map(|i| {
                        let j = if i < 0 { i + n } else { i };
                        usize::try_from(j)
                            .ok()
                            .and_then(|j| data.values.get(j).copied())
                            .ok_or_else(|| format!("index {i} out of range {n}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                IntTensor {
                    dims: idx.dims,
                    values,
                }
            }
            "Unsqueeze" | "Squeeze" => {
                let data = arg(0)?;
                let axes = match node.input.get(1).filter(|s| !s.is_empty()) {
                    Some(_) => arg(1)?.known()?,
                    None => ints_attr("axes").unwrap_or_default(),
                };
                let mut dims = data.dims.clone();
                if node.op_type == "Unsqueeze" {
                    let rank = (dims.len() + axes.len()) as i64;
                    let mut axes: Vec<usize> = axes
                        .iter()
                        .map(|&a| (if a < 0 { a + rank } else { a }) as usize)
                        .collect();
                    axes.sort_unstable();
                    for a in axes {
                        if a > dims.len() {
                            return Err("Unsqueeze axis out of range".into());
                        }
                        dims.insert(a, 1);
                    }
                } else if axes.is_empty() {
                    dims.retain(|&d| d != 1);
                } else {
                    let rank = dims.len() as i64;
                    let drop: HashSet<usize> = axes
                        .iter()
                        .map(|&a| (if a < 0 { a + rank } else { a }) as usize)
                        .collect();
                    dims = dims
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !drop.contains(i))
                        .map(|(_, &d)| d)
                        .collect();
                }
                IntTensor {
                    dims,
                    values: data.values,
                }
            }
            "Concat" => {
                let mut values = Vec::new();
                for k in 0..node.input.len() {
                    let t = arg(k)?;
                    if t.dims.len() != 1 {
                        return Err("only concatenations of vectors are folded".into());
                    }
                    values.extend(t.values);
                }
                IntTensor::vector(values)
            }
            op @ ("Add" | "Sub" | "Mul" | "Div") => {
                let (a, b) = (arg(0)?, arg(1)?);
                let (long, short_len) = if a.values.len() >= b.values.len() {
                    (a.clone(), b.values.len())
                } else {
                    (b.clone(), a.values.len())
                };
                if short_len != 1 && a.values.len() != b.values.len() {
                    return Err("only element-wise or scalar arithmetic is folded".into());
                }
                let pick =
                    |t: &IntTensor, i: usize| t.values[if t.values.len() == 1 { 0 } else { i }];
                let values = (0..long.values.len())
                    .map(|i| match (pick(&a, i), pick(&b, i)) {
                        (Sym::Known(x), Sym::Known(y)) => match op {
                            "Add" => Ok(Sym::Known(x.wrapping_add(y))),
                            "Sub" => Ok(Sym::Known(x.wrapping_sub(y))),
                            "Mul" => Ok(Sym::Known(x.wrapping_mul(y))),
                            _ if y == 0 => Err("division by zero".to_string()),
                            _ => Ok(Sym::Known(x.wrapping_div(y))),
                        },
                        _ => Err("arithmetic on the batch size is not folded".to_string()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                IntTensor {
                    dims: long.dims,
                    values,
                }
            }
            "Slice" => {
                let data = arg(0)?;
                let starts = arg(1)?.known()?;
                let ends = arg(2)?.known()?;
                let axes = match node.input.get(3).filter(|s| !s.is_empty()) {
                    Some(_) => arg(3)?.known()?,
                    None => (0..starts.len() as i64).collect(),
                };
                let steps = match node.input.get(4).filter(|s| !s.is_empty()) {
                    Some(_) => arg(4)?.known()?,
                    None => vec![1; starts.len()],
                };
                slice(&data, &starts, &ends, &axes, &steps)?
            }
            "Range" => {
                let (s, l, d) = (arg(0)?.known()?, arg(1)?.known()?, arg(2)?.known()?);
                let ([s], [l], [d]) = (s.as_slice(), l.as_slice(), d.as_slice()) else {
                    return Err("Range takes scalars".into());
                };
                if *d == 0 {
                    return Err("Range with step 0".into());
                }
                let n = ((l - s) as f64 / *d as f64).ceil().max(0.0) as usize;
                if n > MAX_FOLDED_ELEMS {
                    return Err("Range is too long to fold".into());
                }
                IntTensor::vector((0..n as i64).map(|i| Sym::Known(s + i * d)).collect())
            }
            other => return Err(format!("`{other}` is not folded")),
        };
        if out.values.len() > MAX_FOLDED_ELEMS {
            return Err("the folded value is too large".into());
        }
        Ok(out)
    }
}

/// ONNX `Slice` of a small integer tensor.
fn slice(
    data: &IntTensor,
    starts: &[i64],
    ends: &[i64],
    axes: &[i64],
    steps: &[i64],
) -> Result<IntTensor, String> {
    let rank = data.dims.len() as i64;
    let mut ranges: Vec<(i64, i64, i64)> = data.dims.iter().map(|&d| (0, d as i64, 1)).collect();
    for (k, &a) in axes.iter().enumerate() {
        let axis = if a < 0 { a + rank } else { a };
        let (Some(&s), Some(&e), Some(&st)) = (starts.get(k), ends.get(k), steps.get(k)) else {
            return Err("Slice's starts, ends, axes and steps differ in length".into());
        };
        let Some(r) = usize::try_from(axis).ok().and_then(|x| ranges.get_mut(x)) else {
            return Err(format!("Slice axis {a} out of range"));
        };
        if st != 1 {
            return Err("only step 1 is folded".into());
        }
        let len = r.1;
        let clamp = |v: i64| (if v < 0 { v + len } else { v }).clamp(0, len);
        *r = (clamp(s), clamp(e).max(clamp(s)), 1);
    }
    let dims: Vec<usize> = ranges.iter().map(|(s, e, _)| (e - s) as usize).collect();
    let mut values = Vec::with_capacity(dims.iter().product());
    let strides: Vec<usize> = (0..data.dims.len())
        .map(|i| data.dims[i + 1..].iter().product())
        .collect();
    let total: usize = dims.iter().product();
    for flat in 0..total {
        let mut rem = flat;
        let mut src = 0;
        for (i, d) in dims.iter().enumerate().rev() {
            let idx = rem % d;
            rem /= d;
            src += (ranges[i].0 as usize + idx) * strides[i];
        }
        values.push(data.values[src]);
    }
    Ok(IntTensor { dims, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::onnx::test_node as node;

    /// The graph's initialisers by name.
    fn constants_of(graph: &GraphProto) -> HashMap<&str, &TensorProto> {
        graph
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect()
    }

    #[test]
    fn a_pytorch_view_target_folds_with_the_batch_as_zero() {
        // x.view(x.shape[0], x.shape[1], 4, 8) on x of per-sample shape [12, 32].
        let graph = GraphProto {
            node: vec![
                node("Shape", &["x"], "s"),
                node("Gather", &["s", "zero"], "b"),
                node("Gather", &["s", "one"], "t"),
                node("Unsqueeze", &["b", "axes"], "b1"),
                node("Unsqueeze", &["t", "axes"], "t1"),
                node("Concat", &["b1", "t1", "heads"], "target"),
                node("Reshape", &["x", "target"], "y"),
            ],
            initializer: vec![
                onnx::i64_tensor_shaped("zero", &[], &[0]),
                onnx::i64_tensor_shaped("one", &[], &[1]),
                onnx::i64_tensor("axes", &[0]),
                onnx::i64_tensor("heads", &[4, 8]),
            ],
            ..Default::default()
        };
        let constants = constants_of(&graph);
        let shape = shape_nodes(&graph, &constants);
        assert_eq!(shape, [true, true, true, true, true, true, false]);
        let mut folder = Folder::new(&graph, &shape, &constants);
        let shape_of = |v: &str| (v == "x").then(|| vec![12, 32]);
        let t = folder.fold("target", &shape_of).unwrap();
        assert_eq!(onnx::tensor_i64(&t).unwrap(), [0, 12, 4, 8]);
        // The batch alone, other than first in a vector, does not fold.
        assert!(folder.fold("b1", &shape_of).is_ok());
        let err = folder.fold("b", &shape_of).unwrap_err();
        assert!(err.contains("batch"), "{err}");
    }

    #[test]
    fn position_ids_sliced_to_the_sequence_length_fold() {
        let graph = GraphProto {
            node: vec![
                node("Shape", &["ids"], "s"),
                node("Gather", &["s", "one"], "t"),
                node("Unsqueeze", &["t", "axes"], "end"),
                node("Slice", &["table", "start", "end", "axes1"], "pos"),
            ],
            initializer: vec![
                onnx::i64_tensor_shaped("one", &[], &[1]),
                onnx::i64_tensor("axes", &[0]),
                onnx::i64_tensor("start", &[0]),
                onnx::i64_tensor("axes1", &[1]),
                onnx::i64_tensor_shaped("table", &[1, 64], &(0..64).collect::<Vec<_>>()),
            ],
            ..Default::default()
        };
        let constants = constants_of(&graph);
        let shape = shape_nodes(&graph, &constants);
        let mut folder = Folder::new(&graph, &shape, &constants);
        let t = folder
            .fold("pos", &|v| (v == "ids").then(|| vec![12]))
            .unwrap();
        assert_eq!(t.dims, [1, 12]);
        assert_eq!(onnx::tensor_i64(&t).unwrap(), (0..12).collect::<Vec<_>>());
    }
}
