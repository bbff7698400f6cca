//! Models as data: a TOML file that holds a model's layer graph, so a scenario can simulate a
//! model that is not in the zoo (`app.stages = ["models/mynet.toml"]`).
//!
//! The file is the layer list the zoo's builder produces ([`Network`]): the input shape, then
//! each layer's name, hyperparameters and the tensors it reads. Shapes, FLOPs, bytes and
//! parameters are derived from it by the same code as for the zoo ([`Network::to_model`]), so a
//! model read from a file and the same model built in the zoo are costed alike.
//! `infscaler models import FILE.onnx` writes one from an ONNX graph; `infscaler models FILE`
//! shows it.
//!
//! ```toml
//! format = 1
//! name = "tiny"
//! input_shape = [3, 32, 32]      # one sample, no batch dimension
//!
//! [[layers]]
//! name = "conv1"
//! layer = { kind = "conv2d", in_ch = 3, out_ch = 8, kernel = [3, 3], stride = [1, 1], pads = [1, 1, 1, 1], groups = 1, bias = true }
//! output_shape = [8, 32, 32]     # optional: checked when given
//!
//! [[layers]]
//! name = "relu1"                 # reads the layer before it when `inputs` is left out
//! layer = { kind = "activation", function = "relu" }
//!
//! [[layers]]
//! name = "skip"
//! inputs = ["relu1", "conv1"]    # earlier layers by name; `input` is the model input
//! layer = { kind = "add" }
//! ```
//!
//! The layer kinds and their fields are those of [`Layer`] (`docs/models.md` lists them). The
//! name `input` is kept for the model input. A reader of untrusted files: every integer of a
//! layer is at most [`MAX_HYPERPARAMETER`] and every tensor at most [`MAX_TENSOR_ELEMS`]
//! elements, so no shape arithmetic can overflow.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use super::layers::{Layer, LayerError, Network, NetworkBuilder, TensorRef};

/// The file format version this simulator reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The name by which layers read the model input.
pub const INPUT: &str = "input";

/// Largest integer a layer's hyperparameters or the input shape may hold (2²⁴: far above any
/// real channel count, kernel or sequence length, low enough that products of a few cannot
/// overflow 64 bits).
pub const MAX_HYPERPARAMETER: u64 = 1 << 24;

/// Largest tensor, in elements per sample (2⁴⁰: 4 TiB in FP32, beyond any device).
pub const MAX_TENSOR_ELEMS: u64 = 1 << 40;

/// Most layers a file may hold.
pub const MAX_LAYERS: usize = 100_000;

/// Most FLOPs one layer may do per sample (2⁵⁰ ≈ 1.1 PFLOP; the zoo's largest layer does about
/// 10¹¹), so that a batch's work and bytes stay far inside 64 bits.
pub const MAX_LAYER_FLOPS: u64 = 1 << 50;

/// Most parameters one layer may hold (2³⁶ ≈ 6.9 × 10¹⁰; the zoo's largest holds about 10⁸).
pub const MAX_LAYER_PARAMS: u64 = 1 << 36;

/// Why a model file cannot be read.
#[derive(Debug, Error)]
pub enum ModelFileError {
    /// The file cannot be read.
    #[error("cannot read model file `{file}`: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not a model file (TOML syntax, unknown or missing fields).
    #[error("model file `{file}`: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// What the TOML reader says.
        message: String,
    },
    /// A field has a value that is not allowed.
    #[error("model file `{file}`, field `{field}`: {message}")]
    Field {
        /// The file.
        file: String,
        /// The field, e.g. `layers[3].inputs`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// The file, field for field (read only: [`write`] formats by hand, to keep names on one line).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format: u32,
    name: String,
    input_shape: Vec<usize>,
    #[serde(default)]
    layers: Vec<RawLayer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    name: String,
    #[serde(default)]
    inputs: Option<Vec<String>>,
    layer: Layer,
    #[serde(default)]
    output_shape: Option<Vec<usize>>,
}

/// Whether a stage of `app.stages` names a file rather than a zoo model: it ends in `.toml` or
/// `.onnx`, or holds a path separator.
pub fn names_a_file(stage: &str) -> bool {
    let lower = stage.to_ascii_lowercase();
    lower.ends_with(".toml") || lower.ends_with(".onnx") || stage.contains('/')
}

/// Reads the model file at `path` (through [`crate::input`]'s size cap).
pub fn load(path: &Path) -> Result<Network, ModelFileError> {
    let file = path.display().to_string();
    let text = crate::input::read_to_string(path).map_err(|source| ModelFileError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file)
}

/// Parses model-file text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Network, ModelFileError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| ModelFileError::Syntax {
        file: file.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let field = |field: String, message: String| ModelFileError::Field {
        file: file.to_string(),
        field,
        message,
    };
    if raw.format != FORMAT_VERSION {
        return Err(field(
            "format".into(),
            format!(
                "{} is not a format this simulator reads (it reads {FORMAT_VERSION})",
                raw.format
            ),
        ));
    }
    check_name(&raw.name).map_err(|m| field("name".into(), m))?;
    check_shape(&raw.input_shape).map_err(|m| field("input_shape".into(), m))?;
    if raw.layers.is_empty() {
        return Err(field(
            "layers".into(),
            "the model has no layers: give at least one [[layers]] table".into(),
        ));
    }
    if raw.layers.len() > MAX_LAYERS {
        return Err(field(
            "layers".into(),
            format!(
                "{} layers, more than the {MAX_LAYERS} allowed",
                raw.layers.len()
            ),
        ));
    }
    let mut b = NetworkBuilder::new(&raw.name, &raw.input_shape);
    let mut by_name: HashMap<String, TensorRef> = HashMap::new();
    for (i, l) in raw.layers.into_iter().enumerate() {
        let at = |f: &str| format!("layers[{i}].{f}");
        check_name(&l.name).map_err(|m| field(at("name"), m))?;
        if l.name == INPUT {
            return Err(field(
                at("name"),
                format!("`{INPUT}` is the model input's name; give the layer another"),
            ));
        }
        let inputs = match &l.inputs {
            None => vec![b.cursor()],
            Some(names) => names
                .iter()
                .map(|n| {
                    if n == INPUT {
                        Ok(TensorRef::Input)
                    } else {
                        by_name.get(n).copied().ok_or_else(|| {
                            field(
                                at("inputs"),
                                format!(
                                    "`{n}` is not the name of an earlier layer (nor `{INPUT}`, the \
                                     model input); layers read only layers listed before them"
                                ),
                            )
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let out = add_bounded(&mut b, &l.name, l.layer, &inputs).map_err(|e| match e {
            BoundedError::Layer(LayerError::DuplicateName(n)) => field(
                at("name"),
                format!("`{n}` is used by an earlier layer; names must be unique"),
            ),
            BoundedError::Layer(other) => field(at("layer"), other.to_string()),
            BoundedError::Bounds(m) => field(at("layer"), m),
        })?;
        let computed = b.shape();
        if let Some(stored) = &l.output_shape
            && stored.as_slice() != computed
        {
            return Err(field(
                at("output_shape"),
                format!("{stored:?}, but the layer computes {computed:?} from its inputs"),
            ));
        }
        by_name.insert(l.name, out);
    }
    Ok(b.finish())
}

/// A name is not blank and has no control characters (it is printed in tables and comments).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "{name:?} holds a control character; names are printable text"
        ));
    }
    Ok(())
}

/// A shape's dimensions are each in `1..=MAX_HYPERPARAMETER` and its elements at most
/// [`MAX_TENSOR_ELEMS`].
pub(crate) fn check_shape(shape: &[usize]) -> Result<(), String> {
    if shape.is_empty() {
        return Err("shape is empty: give at least one dimension".into());
    }
    let mut elems: u64 = 1;
    for &d in shape {
        if d == 0 || d as u64 > MAX_HYPERPARAMETER {
            return Err(format!(
                "shape {shape:?} has a dimension of {d}: each must be between 1 and \
                 {MAX_HYPERPARAMETER}"
            ));
        }
        elems = elems.saturating_mul(d as u64);
    }
    if elems > MAX_TENSOR_ELEMS {
        return Err(format!(
            "shape {shape:?} holds {elems} elements per sample, more than the {MAX_TENSOR_ELEMS} \
             allowed"
        ));
    }
    Ok(())
}

/// Why [`add_bounded`] refused a layer.
#[derive(Debug)]
pub(crate) enum BoundedError {
    /// The builder refused it (arity, shapes, an unknown tensor, a name used twice).
    Layer(LayerError),
    /// It passes the bounds of an untrusted file: what it passes.
    Bounds(String),
}

/// [`NetworkBuilder::try_layer`] within the bounds of a file from outside (a model file, an
/// ONNX graph): hyperparameters are checked before any shape arithmetic, the output's size and
/// the layer's work after.
pub(crate) fn add_bounded(
    b: &mut NetworkBuilder,
    name: &str,
    layer: Layer,
    inputs: &[TensorRef],
) -> Result<TensorRef, BoundedError> {
    check_hyperparameters(&layer).map_err(BoundedError::Bounds)?;
    let kept = layer.clone();
    let out = b
        .try_layer(name, layer, inputs)
        .map_err(BoundedError::Layer)?;
    check_shape(b.shape()).map_err(|m| BoundedError::Bounds(format!("its output {m}")))?;
    check_work(b, &kept, inputs).map_err(BoundedError::Bounds)?;
    Ok(out)
}

/// The layer just added to `b` (reading `inputs`) does at most [`MAX_LAYER_FLOPS`] and holds at
/// most [`MAX_LAYER_PARAMS`].
fn check_work(b: &NetworkBuilder, layer: &Layer, inputs: &[TensorRef]) -> Result<(), String> {
    let shapes: Vec<&[usize]> = inputs
        .iter()
        .map(|&t| b.shape_of(t).unwrap_or(&[]))
        .collect();
    let flops = layer.flops(&shapes, b.shape());
    if flops > MAX_LAYER_FLOPS {
        return Err(format!(
            "does {flops} FLOPs per sample, more than the {MAX_LAYER_FLOPS} a layer may"
        ));
    }
    let params = layer.params();
    if params > MAX_LAYER_PARAMS {
        return Err(format!(
            "holds {params} parameters, more than the {MAX_LAYER_PARAMS} a layer may"
        ));
    }
    Ok(())
}

/// Every integer among a layer's hyperparameters is at most [`MAX_HYPERPARAMETER`], and every
/// float is finite.
fn check_hyperparameters(layer: &Layer) -> Result<(), String> {
    fn walk(key: &str, v: &toml::Value) -> Result<(), String> {
        match v {
            toml::Value::Integer(i) if *i < 0 || *i as u64 > MAX_HYPERPARAMETER => Err(format!(
                "`{key}` = {i} is out of range: at most {MAX_HYPERPARAMETER}"
            )),
            toml::Value::Float(f) if !f.is_finite() => {
                Err(format!("`{key}` = {f} is not a finite number"))
            }
            toml::Value::Array(a) => a.iter().try_for_each(|x| walk(key, x)),
            toml::Value::Table(t) => t.iter().try_for_each(|(k, x)| walk(k, x)),
            _ => Ok(()),
        }
    }
    // Only an integer past i64 fails to serialise.
    let value = toml::Value::try_from(layer).map_err(|_| {
        format!("a hyperparameter is out of range: integers are at most {MAX_HYPERPARAMETER}")
    })?;
    walk("layer", &value)
}

/// The model file of `net`, with a comment header of its totals. Layers that read the layer
/// before them leave `inputs` out; every layer states its `output_shape`.
pub fn write(net: &Network) -> String {
    let model = net.to_model();
    let name = basic_string(net.name());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# infscaler model file (format {FORMAT_VERSION}): {name}, {} layers, {:.3} GFLOPs and \
         {:.2} M parameters per sample.\n# Read by `app.stages = [\"<this file>\"]`; shown by \
         `infscaler models <this file>`.",
        net.nodes().len(),
        model.total_flops() as f64 / 1e9,
        model.total_params() as f64 / 1e6,
    );
    let shape: Vec<String> = net.input_shape().iter().map(|d| d.to_string()).collect();
    let _ = writeln!(
        out,
        "format = {FORMAT_VERSION}\nname = {name}\ninput_shape = [{}]",
        shape.join(", ")
    );
    let mut previous = TensorRef::Input;
    for (i, node) in net.nodes().iter().enumerate() {
        let inputs = (node.inputs.as_slice() != [previous]).then(|| {
            node.inputs
                .iter()
                .map(|t| match *t {
                    TensorRef::Input => basic_string(INPUT),
                    TensorRef::Node { index } => basic_string(&net.nodes()[index].name),
                })
                .collect::<Vec<_>>()
        });
        let layer = toml::Value::try_from(&node.layer).expect("a layer serialises");
        let _ = writeln!(out, "\n[[layers]]\nname = {}", basic_string(&node.name));
        if let Some(inputs) = inputs {
            let _ = writeln!(out, "inputs = [{}]", inputs.join(", "));
        }
        let _ = writeln!(out, "layer = {}", inline(&layer));
        let _ = writeln!(
            out,
            "output_shape = {}",
            toml::Value::try_from(&node.output_shape).expect("a shape serialises")
        );
        previous = TensorRef::Node { index: i };
    }
    out
}

/// A TOML value on one line (tables as inline tables), `kind` first, then keys in order.
fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) => {
            // `kind` first: it says what the other fields mean.
            let kind = t.iter().filter(|(k, _)| *k == "kind");
            let rest = t.iter().filter(|(k, _)| *k != "kind");
            let fields: Vec<String> = kind
                .chain(rest)
                .map(|(k, x)| format!("{} = {}", toml_key(k), inline(x)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        toml::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// `text` as a TOML basic string on one line: quotes, backslashes and control characters
/// escaped (so no name can break out of its line, or of the header comment).
fn basic_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        toml::Value::from(k.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::zoo::{self, ZooOptions};

    #[test]
    fn every_zoo_model_round_trips_through_a_model_file() {
        for name in zoo::names() {
            let net = zoo::build_network(name, &ZooOptions::default()).unwrap();
            let text = write(&net);
            let back = parse(&text, "mem.toml").unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back, net, "{name}");
            assert_eq!(back.to_model(), net.to_model(), "{name}");
        }
    }

    #[test]
    fn the_documented_example_reads() {
        let text = r#"
format = 1
name = "tiny"
input_shape = [3, 32, 32]

[[layers]]
name = "conv1"
layer = { kind = "conv2d", in_ch = 3, out_ch = 8, kernel = [3, 3], stride = [1, 1], pads = [1, 1, 1, 1], groups = 1, bias = true }
output_shape = [8, 32, 32]

[[layers]]
name = "relu1"
layer = { kind = "activation", function = "relu" }

[[layers]]
name = "skip"
inputs = ["relu1", "conv1"]
layer = { kind = "add" }
"#;
        let net = parse(text, "tiny.toml").unwrap();
        assert_eq!(net.nodes().len(), 3);
        assert_eq!(net.nodes()[2].output_shape, [8, 32, 32]);
        let m = net.to_model();
        // 2 · out_elems · in_ch · 3 · 3 + out_elems (bias), then one per element twice.
        let out = 8 * 32 * 32;
        assert_eq!(m.total_flops(), 2 * out * 3 * 9 + out + out + out);
    }

    fn err(text: &str) -> String {
        parse(text, "bad.toml").unwrap_err().to_string()
    }

    const HEAD: &str = "format = 1\nname = \"m\"\ninput_shape = [4, 8, 8]\n";

    #[test]
    fn mistakes_name_the_file_the_field_and_what_is_allowed() {
        let e = err(&format!(
            "{HEAD}[[layers]]\nname = \"a\"\ninputs = [\"nope\"]\nlayer = {{ kind = \"add\" }}\n"
        ));
        assert!(
            e.contains("bad.toml") && e.contains("layers[0].inputs") && e.contains("`nope`"),
            "{e}"
        );

        let e = err(&format!(
            "{HEAD}[[layers]]\nname = \"input\"\nlayer = {{ kind = \"flatten\" }}\n"
        ));
        assert!(
            e.contains("layers[0].name") && e.contains("model input"),
            "{e}"
        );

        let e = err(&format!(
            "{HEAD}[[layers]]\nname = \"a\"\nlayer = {{ kind = \"flatten\" }}\n[[layers]]\nname = \"a\"\nlayer = {{ kind = \"flatten\" }}\n"
        ));
        assert!(e.contains("layers[1].name") && e.contains("unique"), "{e}");

        let e = err(&format!(
            "{HEAD}[[layers]]\nname = \"a\"\nlayer = {{ kind = \"flatten\" }}\noutput_shape = [3]\n"
        ));
        assert!(
            e.contains("layers[0].output_shape") && e.contains("[256]"),
            "{e}"
        );

        let e = err(&format!(
            "{HEAD}[[layers]]\nname = \"a\"\nlayer = {{ kind = \"linear\", in_features = 9, out_features = 2, bias = true }}\n"
        ));
        assert!(e.contains("layers[0].layer"), "{e}");

        let e = err(&format!(
            "{HEAD}[[layers]]\nname = \"a\"\nlayer = {{ kind = \"warp\" }}\n"
        ));
        assert!(e.contains("bad.toml") && e.contains("warp"), "{e}");

        let e = err("format = 2\nname = \"m\"\ninput_shape = [1]\n");
        assert!(e.contains("field `format`"), "{e}");

        let e = err("format = 1\nname = \"m\"\ninput_shape = [3, 0]\n");
        assert!(e.contains("field `input_shape`"), "{e}");

        let e = err(HEAD);
        assert!(e.contains("field `layers`"), "{e}");

        // Found by fuzzing: a name with a control character wrote a file that did not read back.
        let e = err("format = 1\nname = \"\\u0000\"\ninput_shape = [1]\n");
        assert!(
            e.contains("field `name`") && e.contains("control character"),
            "{e}"
        );
    }

    #[test]
    fn huge_numbers_are_refused_before_any_shape_arithmetic() {
        let e = err(&format!(
            "{HEAD}[[layers]]\nname = \"a\"\nlayer = {{ kind = \"conv2d\", in_ch = 4, out_ch = 8, kernel = [3, 3], stride = [1, 1], pads = [9223372036854775807, 0, 0, 0], groups = 1, bias = true }}\n"
        ));
        assert!(
            e.contains("layers[0].layer") && e.contains("out of range"),
            "{e}"
        );

        let e = err("format = 1\nname = \"m\"\ninput_shape = [16777216, 16777216, 16777216]\n");
        assert!(e.contains("elements per sample"), "{e}");

        // An output past 2⁴⁰ elements: two channels of 2¹²×2¹² upsampled 2⁸ times each way.
        let e = err(
            "format = 1\nname = \"m\"\ninput_shape = [2, 4096, 4096]\n[[layers]]\nname = \"up\"\nlayer = { kind = \"resize\", scale = 256 }\n",
        );
        assert!(
            e.contains("layers[0].layer") && e.contains("elements per sample"),
            "{e}"
        );
    }

    #[test]
    fn absurd_work_is_refused_without_overflow() {
        // Found by fuzzing: products of bounded numbers passed 64 bits (FLOPs, parameters).
        let e = err(
            "format = 1\nname = \"m\"\ninput_shape = [16777216, 1, 1]\n[[layers]]\nname = \"c\"\nlayer = { kind = \"conv2d\", in_ch = 16777216, out_ch = 16777216, kernel = [16777216, 16777216], stride = [1, 1], pads = [8388608, 8388608, 8388608, 8388608], groups = 1, bias = true }\n",
        );
        assert!(
            e.contains("layers[0].layer") && e.contains("FLOPs per sample"),
            "{e}"
        );
        let e = err(
            "format = 1\nname = \"m\"\ninput_shape = [16777216]\n[[layers]]\nname = \"l\"\nlayer = { kind = \"linear\", in_features = 16777216, out_features = 16777216, bias = false }\n",
        );
        assert!(e.contains("FLOPs") || e.contains("parameters"), "{e}");
    }

    #[test]
    fn stage_names_that_are_files() {
        assert!(names_a_file("models/net.toml"));
        assert!(names_a_file("net.onnx"));
        assert!(names_a_file("NET.ONNX"));
        assert!(names_a_file("./net"));
        assert!(!names_a_file("resnet50"));
    }
}
