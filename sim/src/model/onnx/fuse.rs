//! Groups of ONNX nodes that the importer reads as one simulator layer.
//!
//! Most layers are one ONNX node, but ONNX spells a few of them with several: a linear layer on a
//! sequence with a bias is `MatMul` + `Add`; GELU before opset 20 is five nodes around `Erf`;
//! SiLU is `Sigmoid` + `Mul`; an LSTM on a batch-first sequence needs layout transposes around
//! the `LSTM` node and a reshape that merges its directions; `Q·Kᵀ` is a `Transpose` feeding a
//! `MatMul`; a projection onto a tied embedding table transposes the table. [`group_nodes`]
//! finds those groups, so that each becomes one operator and operator `i` names a contiguous set
//! of the simulator's work wherever the graph is cut.
//!
//! A group is recognised only when its inner values are read by the next node of the group
//! alone (not by another node, not as a graph output), so fusing never hides a value that the
//! rest of the graph needs; reads by shape computations ([`super::shapes`]) do not count, as
//! they read only a shape. Two more rules: an element-wise `Add`, `Sub`, `Mul` or `Div` by a
//! one-element constant joins the group that makes its other operand, when it is that value's
//! only reader (attention's `/ √d`, which the simulator folds into the softmax as the zoo does);
//! and a PyTorch `nn.LSTM` stacked on another reads the first one's time-major output directly,
//! which counts as reading its batch-first output. Every other node is a group of its own;
//! shape computations belong to no group.

use std::collections::{HashMap, HashSet};

use crate::model::onnx::proto::{GraphProto, NodeProto, TensorProto};
use crate::model::onnx::{self};

/// How a group's nodes make one layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// One node, read on its own.
    Single,
    /// `LSTM` with the transposes and reshape that give it a batch-first `[N, T, in]` input and
    /// a `[N, T, dirs · hidden]` output.
    Lstm {
        /// The batch-first sequence it reads (the value, whoever makes it).
        input: String,
    },
    /// `MatMul` by a constant matrix followed by `Add` of a constant bias.
    LinearBias {
        /// The `Add` node.
        add: usize,
    },
    /// `Transpose` of the last two dimensions of an activation feeding `MatMul` as its second
    /// operand (attention's `Q·Kᵀ`).
    MatMulTransposedB {
        /// The `Transpose` node.
        transpose: usize,
    },
    /// `Transpose` of a constant `[rows, cols]` matrix feeding `MatMul` as its second operand.
    /// `tied`: the matrix is also an embedding table (a `Gather`'s data), as GPT-2's LM head.
    MatMulTransposedWeight {
        /// The `Transpose` node.
        transpose: usize,
        /// Whether a `Gather` reads the same matrix.
        tied: bool,
    },
    /// GELU spelled out before opset 20: by the error function, `x · 0.5 · (1 + erf(x / √2))`,
    /// or by its tanh approximation.
    Gelu {
        /// The activation `x`.
        x: String,
    },
    /// SiLU: `x · sigmoid(x)`.
    Silu,
}

/// Nodes read as one layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The nodes, in graph order.
    pub nodes: Vec<usize>,
    /// The node that names the layer and carries its attributes (`LSTM`, `Erf`, `MatMul`, …).
    pub core: usize,
    /// How the nodes combine.
    pub pattern: Pattern,
}

impl Group {
    /// The group's last node: it writes the layer's output.
    pub fn last(&self) -> usize {
        *self.nodes.last().unwrap_or(&self.core)
    }
}

/// Every node of `graph` in exactly one group; groups in the order of their last node, which is
/// the order in which the importer adds their layers. `constants` are the graph's initialisers
/// (after [`super::import::fold_constants`]).
pub fn group_nodes(
    graph: &GraphProto,
    constants: &HashMap<&str, &TensorProto>,
    shape: &[bool],
) -> Vec<Group> {
    let view = View::new(graph, constants, shape);
    // Shape computations are in no group.
    let mut taken = shape.to_vec();
    let mut groups = Vec::new();
    for (i, node) in graph.node.iter().enumerate() {
        if taken[i] || !view.default_domain(i) {
            continue;
        }
        let found = match node.op_type.as_str() {
            "LSTM" => view.lstm(i),
            "Erf" => view.gelu(i),
            "Tanh" => view.gelu_tanh(i),
            "MatMul" => view.matmul(i),
            "Sigmoid" => view.silu(i),
            _ => None,
        };
        if let Some(g) = found
            && g.nodes.iter().all(|&n| !taken[n])
        {
            for &n in &g.nodes {
                taken[n] = true;
            }
            groups.push(g);
        }
    }
    for (i, t) in taken.iter().enumerate() {
        if !t {
            groups.push(Group {
                nodes: vec![i],
                core: i,
                pattern: Pattern::Single,
            });
        }
    }
    groups.sort_by_key(Group::last);
    absorb_scalar_arithmetic(&view, &mut groups);
    groups.sort_by_key(Group::last);
    groups
}

/// Moves each single `Add`/`Sub`/`Mul`/`Div` of an activation by a one-element constant into
/// the group that makes the activation, when it is that value's only reader.
fn absorb_scalar_arithmetic(view: &View<'_>, groups: &mut Vec<Group>) {
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    for (g, group) in groups.iter().enumerate() {
        group_of.insert(group.last(), g);
    }
    let mut absorbed = vec![false; groups.len()];
    for g in 0..groups.len() {
        let group = &groups[g];
        let n = group.core;
        let scalar_op = group.pattern == Pattern::Single
            && ["Add", "Sub", "Mul", "Div"].iter().any(|op| view.is(n, op));
        if !scalar_op {
            continue;
        }
        let (Some(a), Some(b)) = (view.input(n, 0), view.input(n, 1)) else {
            continue;
        };
        let x = match (view.scalar(a).is_some(), view.scalar(b).is_some()) {
            (false, true) => a,
            (true, false) if view.is(n, "Add") || view.is(n, "Mul") => b,
            _ => continue,
        };
        let Some(&p) = view.producer.get(x) else {
            continue;
        };
        let Some(&owner) = group_of.get(&p) else {
            continue;
        };
        if view.sole_consumer(p) != Some(n) || absorbed[owner] {
            continue;
        }
        absorbed[g] = true;
        groups[owner].nodes.push(n);
        groups[owner].nodes.sort_unstable();
        group_of.remove(&p);
        group_of.insert(n, owner);
    }
    let mut absorbed = absorbed.into_iter();
    groups.retain(|_| absorbed.next() == Some(false));
}

/// Who makes and who reads each value.
struct View<'a> {
    graph: &'a GraphProto,
    constants: &'a HashMap<&'a str, &'a TensorProto>,
    producer: HashMap<&'a str, usize>,
    consumers: HashMap<&'a str, Vec<usize>>,
    outputs: HashSet<&'a str>,
    gathered: HashSet<&'a str>,
}

/// How close a constant must be to the value a pattern expects (GELU's √2, 1 and 0.5 are
/// written at float precision, sometimes rounded to fewer digits).
const CONSTANT_TOLERANCE: f32 = 1e-3;

impl<'a> View<'a> {
    fn new(
        graph: &'a GraphProto,
        constants: &'a HashMap<&'a str, &'a TensorProto>,
        shape: &'a [bool],
    ) -> Self {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut gathered = HashSet::new();
        for (i, n) in graph.node.iter().enumerate() {
            for v in n.output.iter().filter(|v| !v.is_empty()) {
                producer.insert(v.as_str(), i);
            }
            // A shape computation reads only the shape of what it reads.
            if shape[i] {
                continue;
            }
            for v in n.input.iter().filter(|v| !v.is_empty()) {
                let c = consumers.entry(v.as_str()).or_default();
                if c.last() != Some(&i) {
                    c.push(i);
                }
            }
            if n.op_type == "Gather"
                && let Some(table) = n.input.first()
            {
                gathered.insert(table.as_str());
            }
        }
        View {
            graph,
            constants,
            producer,
            consumers,
            outputs: graph.output.iter().map(|o| o.name.as_str()).collect(),
            gathered,
        }
    }

    fn node(&self, i: usize) -> &'a NodeProto {
        &self.graph.node[i]
    }

    fn default_domain(&self, i: usize) -> bool {
        let d = &self.node(i).domain;
        d.is_empty() || d == "ai.onnx"
    }

    fn is(&self, i: usize, op: &str) -> bool {
        self.node(i).op_type == op && self.default_domain(i)
    }

    fn input(&self, i: usize, k: usize) -> Option<&'a str> {
        self.node(i)
            .input
            .get(k)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    fn output(&self, i: usize) -> Option<&'a str> {
        self.node(i)
            .output
            .first()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The one node that reads node `i`'s first output, when no other node reads it and it is
    /// not a graph output (and `i` writes no other output that is used).
    fn sole_consumer(&self, i: usize) -> Option<usize> {
        let n = self.node(i);
        let used = |v: &str| self.outputs.contains(v) || self.consumers.contains_key(v);
        if n.output.iter().skip(1).any(|v| !v.is_empty() && used(v)) {
            return None;
        }
        let out = self.output(i)?;
        if self.outputs.contains(out) {
            return None;
        }
        match self.consumers.get(out).map(Vec::as_slice) {
            Some(&[c]) => Some(c),
            _ => None,
        }
    }

    /// The node that makes input `k` of node `i`, when node `i` is its only reader.
    fn sole_producer(&self, i: usize, k: usize) -> Option<usize> {
        let p = *self.producer.get(self.input(i, k)?)?;
        (self.sole_consumer(p) == Some(i)).then_some(p)
    }

    fn is_constant(&self, name: &str) -> bool {
        self.constants.contains_key(name)
    }

    /// A one-element float constant.
    fn scalar(&self, name: &str) -> Option<f32> {
        let t = self.constants.get(name)?;
        if onnx::tensor_len(t) != 1 {
            return None;
        }
        onnx::tensor_f32(t).ok()?.first().copied()
    }

    fn near(&self, name: &str, want: f32) -> bool {
        self.scalar(name)
            .is_some_and(|v| (v - want).abs() <= CONSTANT_TOLERANCE)
    }

    /// The other input of a two-input node, given one.
    fn other_input(&self, i: usize, one: &str) -> Option<&'a str> {
        match (self.input(i, 0), self.input(i, 1)) {
            (Some(a), Some(b)) if a == one => Some(b),
            (Some(a), Some(b)) if b == one => Some(a),
            _ => None,
        }
    }

    /// A `Transpose` node's permutation (the reversal when none is given).
    fn perm(&self, i: usize) -> Option<Vec<i64>> {
        self.node(i)
            .attribute
            .iter()
            .find(|a| a.name == "perm")
            .map(|a| a.ints.clone())
    }

    fn transpose_with(&self, i: usize, perm: &[i64]) -> bool {
        self.is(i, "Transpose") && self.perm(i).as_deref() == Some(perm)
    }

    /// A `Reshape` to the constant target `[0, 0, -1]` (keep two dimensions, merge the rest).
    fn merges_last_dims(&self, i: usize) -> bool {
        self.is(i, "Reshape")
            && self
                .input(i, 1)
                .and_then(|s| self.constants.get(s))
                .and_then(|t| onnx::tensor_i64(t).ok())
                .is_some_and(|t| t == [0, 0, -1])
    }

    /// A `Squeeze` of axis `axis` alone (as an attribute before opset 13, an input since).
    fn squeezes(&self, i: usize, axis: i64) -> bool {
        if !self.is(i, "Squeeze") {
            return false;
        }
        let from_input = self
            .input(i, 1)
            .and_then(|s| self.constants.get(s))
            .and_then(|t| onnx::tensor_i64(t).ok());
        let from_attr = self
            .node(i)
            .attribute
            .iter()
            .find(|a| a.name == "axes")
            .map(|a| a.ints.clone());
        from_input.or(from_attr).is_some_and(|a| a == [axis])
    }

    /// `LSTM` at `l` with its layout nodes. Batch-first (`layout = 1`): `LSTM → Reshape[0,0,-1]`.
    /// Time-major (`layout = 0`): `Transpose[1,0,2] → LSTM`, then `Transpose[2,0,1,3] →
    /// Reshape[0,0,-1]` (as `infscaler models export` writes it), `Transpose[0,2,1,3] →
    /// Reshape[0,0,-1] → Transpose[1,0,2]` (PyTorch's export of a bidirectional batch-first
    /// `nn.LSTM`), or `Squeeze(1) → Transpose[1,0,2]` (PyTorch's unidirectional one). PyTorch
    /// feeds a stacked `nn.LSTM` the time-major `Reshape` of the one before directly: that
    /// counts as reading the batch-first `Transpose[1,0,2]` of it.
    fn lstm(&self, l: usize) -> Option<Group> {
        let layout = self
            .node(l)
            .attribute
            .iter()
            .find(|a| a.name == "layout")
            .map_or(0, |a| a.i);
        let after = self.sole_consumer(l)?;
        if layout == 1 {
            let input = self.input(l, 0)?.to_string();
            return self.merges_last_dims(after).then(|| Group {
                nodes: vec![l, after],
                core: l,
                pattern: Pattern::Lstm { input },
            });
        }
        let (mut nodes, input) = match self.sole_producer(l, 0) {
            Some(head) if self.transpose_with(head, &[1, 0, 2]) => {
                (vec![head, l], self.input(head, 0)?.to_string())
            }
            _ => {
                let twin = self.batch_first_twin(self.input(l, 0)?)?;
                (vec![l], self.output(twin)?.to_string())
            }
        };
        nodes.push(after);
        if self.transpose_with(after, &[2, 0, 1, 3]) {
            let next = self.sole_consumer(after)?;
            if !self.merges_last_dims(next) {
                return None;
            }
            nodes.push(next);
        } else if self.transpose_with(after, &[0, 2, 1, 3]) {
            let next = self.sole_consumer(after)?;
            if !self.merges_last_dims(next) {
                return None;
            }
            nodes.extend([next, self.batch_first_twin(self.output(next)?)?]);
        } else if self.squeezes(after, 1) {
            let next = self.sole_consumer(after)?;
            if !self.transpose_with(next, &[1, 0, 2]) {
                return None;
            }
            nodes.push(next);
        } else {
            return None;
        }
        nodes.sort_unstable();
        Some(Group {
            nodes,
            core: l,
            pattern: Pattern::Lstm { input },
        })
    }

    /// The `Transpose[1,0,2]` that makes the batch-first form of the time-major `value`, when
    /// that and LSTMs (which read the time-major form) are all that read `value`.
    fn batch_first_twin(&self, value: &str) -> Option<usize> {
        if self.outputs.contains(value) {
            return None;
        }
        let readers = self.consumers.get(value)?;
        let mut twins = readers
            .iter()
            .copied()
            .filter(|&r| self.transpose_with(r, &[1, 0, 2]));
        let twin = twins.next()?;
        let others_are_lstms = readers.iter().all(|&r| r == twin || self.is(r, "LSTM"));
        (twins.next().is_none() && others_are_lstms).then_some(twin)
    }

    /// GELU around the `Erf` node `e`: `Div(x, √2)` (or `Mul(x, 1/√2)`) → `Erf` → `Add(·, 1)`,
    /// then either `Mul(x, ·) → Mul(·, 0.5)` (PyTorch's `gelu` symbolic) or `Mul(Mul(x, 0.5), ·)`
    /// (Hugging Face's `x * 0.5 * (1 + erf(x / √2))`).
    fn gelu(&self, e: usize) -> Option<Group> {
        let scale = self.sole_producer(e, 0)?;
        let x = self.input(scale, 0)?;
        let scaled = (self.is(scale, "Div") && self.near(self.input(scale, 1)?, 2f32.sqrt()))
            || (self.is(scale, "Mul")
                && self.near(self.input(scale, 1)?, std::f32::consts::FRAC_1_SQRT_2));
        if !scaled || self.is_constant(x) {
            return None;
        }
        let mut nodes = vec![scale, e];
        nodes.extend(self.gelu_tail(e, x)?);
        nodes.sort_unstable();
        Some(Group {
            nodes,
            core: e,
            pattern: Pattern::Gelu { x: x.to_string() },
        })
    }

    /// GELU's tanh approximation around the `Tanh` node `t`,
    /// `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`, as PyTorch exports
    /// `GELU(approximate = "tanh")` (`x³` as `Mul(x, Mul(x, x))`, the half last) and Hugging
    /// Face's `NewGELUActivation` of GPT-2 (`Pow(x, 3)`, `Mul(x, 0.5)` first). Operands of `Add`
    /// and `Mul` in either order.
    fn gelu_tanh(&self, t: usize) -> Option<Group> {
        const SQRT_2_OVER_PI: f32 = 0.797_884_6;
        const CUBIC: f32 = 0.044_715;
        let scaled = self.sole_producer(t, 0)?;
        let inner = self.scalar_operand(scaled, "Mul", SQRT_2_OVER_PI)?;
        let sum = self.producer_alone(inner, scaled)?;
        if !self.is(sum, "Add") {
            return None;
        }
        // One operand of the sum is x, the other 0.044715 · x³.
        let (x, cubic) = [(0, 1), (1, 0)].into_iter().find_map(|(a, b)| {
            let term = self.producer_alone(self.input(sum, b)?, sum)?;
            let cube = self.scalar_operand(term, "Mul", CUBIC)?;
            Some((self.input(sum, a)?, (term, cube)))
        })?;
        let (term, cube) = cubic;
        let cube_node = self.producer_alone(cube, term)?;
        let mut nodes = vec![scaled, sum, term, cube_node, t];
        if self.is(cube_node, "Pow") {
            let three = self.input(cube_node, 1)?;
            if self.input(cube_node, 0)? != x || !self.near(three, 3.0) {
                return None;
            }
        } else if self.is(cube_node, "Mul") {
            let square = self.other_input(cube_node, x)?;
            let sq = self.producer_alone(square, cube_node)?;
            if !(self.is(sq, "Mul") && self.input(sq, 0)? == x && self.input(sq, 1)? == x) {
                return None;
            }
            nodes.push(sq);
        } else {
            return None;
        }
        nodes.extend(self.gelu_tail(t, x)?);
        nodes.sort_unstable();
        Some(Group {
            nodes,
            core: t,
            pattern: Pattern::Gelu { x: x.to_string() },
        })
    }

    /// The end both GELUs share after `f` (the `Erf` or `Tanh` node): `Add(·, 1)`, then
    /// `Mul(x, ·) → Mul(·, 0.5)` or `Mul(Mul(x, 0.5), ·)`. Returns those three nodes.
    fn gelu_tail(&self, f: usize, x: &str) -> Option<[usize; 3]> {
        let plus_one = self.sole_consumer(f)?;
        let adds_one = self.near(self.other_input(plus_one, self.output(f)?)?, 1.0);
        if !(self.is(plus_one, "Add") && adds_one) {
            return None;
        }
        let product = self.sole_consumer(plus_one)?;
        if !self.is(product, "Mul") {
            return None;
        }
        let other = self.other_input(product, self.output(plus_one)?)?;
        let half = if other == x {
            let half = self.sole_consumer(product)?;
            let halves = self.near(self.other_input(half, self.output(product)?)?, 0.5);
            (self.is(half, "Mul") && halves).then_some(half)?
        } else {
            let half = self.producer_alone(other, product)?;
            let halves = self.other_input(half, x).is_some_and(|c| self.near(c, 0.5));
            (self.is(half, "Mul") && halves).then_some(half)?
        };
        Some([plus_one, product, half])
    }

    /// The non-constant operand of the `op` node `n` whose other operand is the one-element
    /// constant `value`.
    fn scalar_operand(&self, n: usize, op: &str, value: f32) -> Option<&'a str> {
        if !self.is(n, op) {
            return None;
        }
        let (a, b) = (self.input(n, 0)?, self.input(n, 1)?);
        if self.near(b, value) {
            Some(a)
        } else if self.near(a, value) {
            Some(b)
        } else {
            None
        }
    }

    /// The node that makes `value`, when `reader` is its only reader.
    fn producer_alone(&self, value: &str, reader: usize) -> Option<usize> {
        let p = *self.producer.get(value)?;
        (self.sole_consumer(p) == Some(reader)).then_some(p)
    }

    /// `MatMul` at `m`: with a constant weight and a bias `Add` after it; with its second operand
    /// a `Transpose` of the last two dimensions of an activation; or with it a `Transpose` of a
    /// constant matrix.
    fn matmul(&self, m: usize) -> Option<Group> {
        let b = self.input(m, 1)?;
        if self.is_constant(b) {
            let add = self.sole_consumer(m)?;
            let bias = self.other_input(add, self.output(m)?)?;
            return (self.is(add, "Add") && self.is_constant(bias)).then(|| Group {
                nodes: vec![m, add],
                core: m,
                pattern: Pattern::LinearBias { add },
            });
        }
        let t = self.sole_producer(m, 1)?;
        if !self.is(t, "Transpose") {
            return None;
        }
        let source = self.input(t, 0)?;
        let perm = self.perm(t);
        let pattern = if self.is_constant(source) {
            let dims = &self.constants.get(source)?.dims;
            let swaps = perm.as_deref().is_none_or(|p| p == [1, 0]);
            if dims.len() != 2 || !swaps {
                return None;
            }
            Pattern::MatMulTransposedWeight {
                transpose: t,
                tied: self.gathered.contains(source),
            }
        } else {
            // Rank from the permutation itself: identity but for the last two, swapped.
            let p = perm?;
            let r = p.len();
            let swaps_last_two = r >= 2
                && p[..r - 2].iter().enumerate().all(|(i, &v)| v == i as i64)
                && p[r - 2] == r as i64 - 1
                && p[r - 1] == r as i64 - 2;
            if !swaps_last_two {
                return None;
            }
            Pattern::MatMulTransposedB { transpose: t }
        };
        let mut nodes = vec![t, m];
        nodes.sort_unstable();
        Some(Group {
            nodes,
            core: m,
            pattern,
        })
    }

    /// `Sigmoid(x)` at `s` read only by `Mul(x, ·)`.
    fn silu(&self, s: usize) -> Option<Group> {
        let x = self.input(s, 0)?;
        let mul = self.sole_consumer(s)?;
        (self.is(mul, "Mul") && self.other_input(mul, self.output(s)?) == Some(x)).then(|| Group {
            nodes: vec![s, mul],
            core: s,
            pattern: Pattern::Silu,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::onnx::test_node as node;

    fn graph(nodes: Vec<NodeProto>, consts: &[(&str, f32)], out: &str) -> GraphProto {
        GraphProto {
            node: nodes,
            initializer: consts
                .iter()
                .map(|(n, v)| onnx::f32_scalar(n, *v))
                .collect(),
            output: vec![onnx::value_info(out, &[])],
            ..Default::default()
        }
    }

    fn groups_of(g: &GraphProto) -> Vec<Group> {
        let constants = g.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        group_nodes(g, &constants, &vec![false; g.node.len()])
    }

    #[test]
    fn pytorch_gelu_is_one_group_and_a_gelu_whose_inner_value_escapes_is_not() {
        let consts = [
            ("sqrt2", std::f32::consts::SQRT_2),
            ("one", 1.0),
            ("half", 0.5),
        ];
        let nodes = vec![
            node("Relu", &["input"], "x"),
            node("Div", &["x", "sqrt2"], "d"),
            node("Erf", &["d"], "e"),
            node("Add", &["e", "one"], "a"),
            node("Mul", &["x", "a"], "m"),
            node("Mul", &["m", "half"], "y"),
        ];
        let g = graph(nodes.clone(), &consts, "y");
        let groups = groups_of(&g);
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[1].nodes, [1, 2, 3, 4, 5]);
        assert_eq!(groups[1].core, 2);
        assert_eq!(groups[1].pattern, Pattern::Gelu { x: "x".into() });

        // Hugging Face's `x * 0.5 * (1 + erf(x / √2))`: the half is taken of x first.
        let hf = vec![
            node("Relu", &["input"], "x"),
            node("Mul", &["x", "half"], "h"),
            node("Div", &["x", "sqrt2"], "d"),
            node("Erf", &["d"], "e"),
            node("Add", &["one", "e"], "a"),
            node("Mul", &["h", "a"], "y"),
        ];
        let groups = groups_of(&graph(hf, &consts, "y"));
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[1].nodes, [1, 2, 3, 4, 5]);

        // The Erf's output is also a graph output: nothing is fused.
        let mut g = graph(nodes, &consts, "y");
        g.output.push(onnx::value_info("e", &[]));
        assert!(groups_of(&g).iter().all(|g| g.pattern == Pattern::Single));
    }

    #[test]
    fn silu_and_a_linear_bias_are_groups() {
        let mut g = graph(
            vec![
                node("Sigmoid", &["input"], "s"),
                node("Mul", &["input", "s"], "y"),
            ],
            &[],
            "y",
        );
        assert_eq!(groups_of(&g)[0].pattern, Pattern::Silu);
        g.node[1].input = vec!["s".into(), "s".into()];
        assert_eq!(groups_of(&g).len(), 2);

        let g = graph(
            vec![
                node("MatMul", &["input", "w"], "m"),
                node("Add", &["b", "m"], "y"),
            ],
            &[("w", 1.0), ("b", 0.0)],
            "y",
        );
        assert_eq!(groups_of(&g)[0].pattern, Pattern::LinearBias { add: 1 });
    }
}
