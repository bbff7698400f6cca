//! Splitting an ONNX model into partition sub-models at the simulator's cut points.
//!
//! Cuts mean what they mean in a scenario (`policy.stages[].cuts`, see
//! [`infscaler_sim::model::partition::split`]): operator indices, a cut `x` ending a partition
//! after operator `#x` (1-based), so `[5, 13]` on AlexNet gives operators `0..5`, `5..13` and
//! `13..24`. Operators are the importer's ([`crate::import::ImportedModel::operator_nodes`]):
//! one node, or the group of nodes ONNX needs for one of the simulator's layers (an LSTM with its
//! layout transposes, `MatMul` + bias, GELU, …), so a cut never falls inside a layer; for a model
//! built by [`crate::from_network`] operator `i` is layer `i`. A partition holds its operators'
//! nodes in graph order.
//!
//! # What crosses a cut
//!
//! Partition `k`'s outputs are exactly partition `k + 1`'s inputs: every value made before the
//! cut (or the model input) that a later partition reads, or that is a model output. A value
//! that skips a partition (a residual connection around a cut) is passed through it: it is
//! both an input and an output of the partition it skips, under the same name. Partition 0
//! reads the model input; the last partition writes the model outputs.
//!
//! Shapes of the values crossing cuts come from the importer's shape inference, so a model is
//! split only if [`crate::import`] reads it.

use std::collections::HashMap;
use std::ops::Range;

use infscaler_sim::model::layers::TensorRef;
use infscaler_sim::model::partition;
use thiserror::Error;

use crate::import::{self, ImportError, ImportedModel};
use crate::onnx::proto::{GraphProto, ModelProto, NodeProto};
use crate::onnx::{self, Dim};

/// One partition sub-model.
#[derive(Clone, Debug)]
pub struct Partition {
    /// The operators it runs, as indices into the whole model's operator list.
    pub operators: Range<usize>,
    /// The sub-model.
    pub model: ModelProto,
    /// Names of its graph inputs, in order (the previous partition's outputs).
    pub inputs: Vec<String>,
    /// The batch axis of each input: 0, or 1 for a time-major `[T, N, F]` value (a PyTorch
    /// LSTM's output read by the next LSTM).
    pub input_batch_axes: Vec<usize>,
    /// Names of its graph outputs, in order.
    pub outputs: Vec<String>,
}

/// Why a model cannot be split.
#[derive(Debug, Error)]
pub enum SplitError {
    /// The cuts do not fit the model.
    #[error("model `{model}`: {reason}")]
    Cuts {
        /// Model name.
        model: String,
        /// What is wrong with the cuts.
        reason: String,
    },
    /// The model cannot be read (shapes of the values that cross cuts are inferred by import).
    #[error(transparent)]
    Import(#[from] ImportError),
}

/// Splits `model` at `cuts`. `name` names the model in errors.
pub fn split_model(
    model: &ModelProto,
    cuts: &[usize],
    name: &str,
) -> Result<Vec<Partition>, SplitError> {
    let imported = import::import_model(model, name, name)?;
    split_imported(model, &imported, cuts, name)
}

/// [`split_model`] of a model already imported (`imported` is `model` read by
/// [`import::import_model`]): for callers that split one model several ways.
pub fn split_imported(
    model: &ModelProto,
    imported: &ImportedModel,
    cuts: &[usize],
    name: &str,
) -> Result<Vec<Partition>, SplitError> {
    let Some(graph) = model.graph.as_ref() else {
        unreachable!("import checked that the model has a graph");
    };
    let graph = import::fold_constants(graph).map_err(|(node, reason)| ImportError::Node {
        file: name.to_string(),
        node,
        op_type: "Constant".into(),
        reason,
    })?;
    let n_ops = imported.operator_nodes.len();
    let ranges = partition::split(n_ops, cuts).map_err(|reason| SplitError::Cuts {
        model: name.to_string(),
        reason,
    })?;
    let parts = ranges.len();

    // Shapes of every value: the batch dimension as the input declares it, then the
    // per-sample shape the importer inferred.
    let input_info = graph
        .input
        .iter()
        .find(|i| i.name == imported.input_name)
        .cloned()
        .unwrap_or_default();
    let batch = onnx::declared_shape(&input_info)
        .and_then(|s| s.first().cloned())
        .unwrap_or(Dim::Symbol(onnx::BATCH_DIM.into()));
    let net = &imported.network;
    let with_batch = |per_sample: &[usize]| -> Vec<Dim> {
        std::iter::once(batch.clone())
            .chain(per_sample.iter().map(|&d| Dim::Fixed(d as u64)))
            .collect()
    };
    let mut shape_of: HashMap<&str, Vec<Dim>> = HashMap::new();
    shape_of.insert(&imported.input_name, with_batch(net.input_shape()));
    for (i, out) in imported.output_names.iter().enumerate() {
        let per_sample = net.shape_of(TensorRef::Node { index: i }).unwrap_or(&[]);
        let mut shape = with_batch(per_sample);
        if imported.batch_one[i] {
            shape[0] = Dim::Fixed(1);
        }
        shape_of.insert(out, shape);
    }

    // A PyTorch LSTM's time-major output `[T, N, F]`, read by the next LSTM, is the input of
    // the `Transpose[1,0,2]` that makes its batch-first form.
    let mut time_major_values: std::collections::HashSet<&str> = Default::default();
    for node in &graph.node {
        let swaps_time_and_batch = node.op_type == "Transpose"
            && node
                .attribute
                .iter()
                .any(|a| a.name == "perm" && a.ints == [1, 0, 2]);
        if let (true, Some(x), Some(y)) = (
            swaps_time_and_batch,
            node.input.first(),
            node.output.first(),
        ) && !shape_of.contains_key(x.as_str())
            && let Some(batch_first) = shape_of.get(y.as_str())
            && batch_first.len() == 3
        {
            let time_major = vec![
                batch_first[1].clone(),
                batch_first[0].clone(),
                batch_first[2].clone(),
            ];
            shape_of.insert(x, time_major);
            time_major_values.insert(x.as_str());
        }
    }

    // Where each value is made (None: the model input) and the last partition that reads it
    // (`parts` stands for "after the last partition": a model output).
    let partition_of_op: Vec<usize> = ranges
        .iter()
        .enumerate()
        .flat_map(|(k, r)| r.clone().map(move |_| k))
        .collect();
    // Each partition's nodes: its operators', and the shape computations they read
    // (transitively), which every partition that needs them computes itself.
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |v| (v.as_str(), i)))
        .collect();
    let mut nodes_of: Vec<Vec<usize>> = vec![Vec::new(); parts];
    for (op, nodes) in imported.operator_nodes.iter().enumerate() {
        nodes_of[partition_of_op[op]].extend(nodes);
    }
    for nodes in &mut nodes_of {
        let mut stack: Vec<usize> = nodes.clone();
        let mut seen: std::collections::HashSet<usize> = nodes.iter().copied().collect();
        while let Some(n) = stack.pop() {
            for v in &graph.node[n].input {
                if let Some(&p) = producer.get(v.as_str())
                    && imported.shape_nodes[p]
                    && seen.insert(p)
                {
                    nodes.push(p);
                    stack.push(p);
                }
            }
        }
        nodes.sort_unstable();
    }
    let mut order: Vec<&str> = vec![&imported.input_name];
    let mut made_in: HashMap<&str, Option<usize>> = HashMap::new();
    made_in.insert(&imported.input_name, None);
    let mut last_read: HashMap<&str, usize> = HashMap::new();
    for (k, nodes) in nodes_of.iter().enumerate() {
        for &i in nodes {
            let node = &graph.node[i];
            for v in node
                .input
                .iter()
                .filter(|v| made_in.contains_key(v.as_str()))
            {
                let e = last_read.entry(v).or_insert(k);
                *e = (*e).max(k);
            }
            // Shape values are recomputed where they are read: they never cross a cut.
            if imported.shape_nodes[i] {
                continue;
            }
            for v in node.output.iter().filter(|v| !v.is_empty()) {
                made_in.insert(v, Some(k));
                order.push(v);
            }
        }
    }
    for out in &graph.output {
        last_read.insert(&out.name, parts);
    }
    // Values live across the cut after partition k, in a stable order.
    let live_after = |k: usize| -> Vec<String> {
        order
            .iter()
            .filter(|v| {
                let made = made_in[**v].is_none_or(|m| m <= k);
                made && last_read.get(**v).is_some_and(|&r| r > k)
            })
            .map(|v| v.to_string())
            .collect()
    };

    let mut partitions = Vec::with_capacity(parts);
    let mut inputs = vec![imported.input_name.clone()];
    for (k, ops) in ranges.into_iter().enumerate() {
        let outputs = if k + 1 == parts {
            graph.output.iter().map(|o| o.name.clone()).collect()
        } else {
            live_after(k)
        };
        let nodes: Vec<_> = nodes_of[k].iter().map(|&i| graph.node[i].clone()).collect();
        let sub = sub_graph(&graph, nodes, &inputs, &outputs, &shape_of, k);
        let input_batch_axes = inputs
            .iter()
            .map(|i| usize::from(time_major_values.contains(i.as_str())))
            .collect();
        partitions.push(Partition {
            operators: ops,
            input_batch_axes,
            model: ModelProto {
                graph: Some(sub),
                doc_string: format!("partition {k} of {}", graph.name),
                ..model.clone()
            },
            inputs: inputs.clone(),
            outputs: outputs.clone(),
        });
        inputs = outputs;
    }
    Ok(partitions)
}

/// The graph of one partition: its nodes, the initialisers they read, declared inputs and
/// outputs, and value infos for its internal values.
fn sub_graph(
    graph: &GraphProto,
    nodes: Vec<NodeProto>,
    inputs: &[String],
    outputs: &[String],
    shape_of: &HashMap<&str, Vec<Dim>>,
    k: usize,
) -> GraphProto {
    let read: std::collections::HashSet<&str> = nodes
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .collect();
    let info = |name: &str| {
        // The model input and outputs keep their declared types (token ids are integers);
        // other values get the inferred shape.
        graph
            .output
            .iter()
            .chain(&graph.input)
            .find(|o| o.name == name)
            .cloned()
            .unwrap_or_else(|| match shape_of.get(name) {
                Some(s) => onnx::value_info(name, s),
                // Not a layer's output (a PyTorch LSTM's time-major value): the type alone.
                None => onnx::value_info_without_shape(name),
            })
    };
    let inner: Vec<_> = nodes
        .iter()
        .flat_map(|n| n.output.iter())
        .filter(|v| !v.is_empty() && !outputs.contains(v))
        .filter(|v| shape_of.contains_key(v.as_str()))
        .map(|v| info(v))
        .collect();
    GraphProto {
        name: format!("{}.part{k}", graph.name),
        initializer: graph
            .initializer
            .iter()
            .filter(|t| read.contains(t.name.as_str()))
            .cloned()
            .collect(),
        input: inputs
            .iter()
            .map(|i| {
                graph
                    .input
                    .iter()
                    .find(|g| &g.name == i)
                    .cloned()
                    .unwrap_or_else(|| info(i))
            })
            .collect(),
        output: outputs.iter().map(|o| info(o)).collect(),
        value_info: inner,
        node: nodes,
        doc_string: String::new(),
    }
}
