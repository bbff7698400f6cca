//! The ONNX importer on models written by the ONNX builder: constant folding, refused Clips,
//! round trips of the torchvision families and of protobuf bytes.

use infscaler_hil::from_network::{self, BuildOptions, model_from_network};
use infscaler_sim::model::ActivationFn;
use infscaler_sim::model::layers::{Conv, Network, NetworkBuilder, Pool};
use infscaler_sim::model::onnx;
use infscaler_sim::model::onnx::import::{self, import_model};
use infscaler_sim::model::onnx::proto::{AttributeProto, ModelProto, NodeProto};

/// A small network with every kind of weight input: conv, ReLU6 (Clip bounds), pooling,
/// flatten, Gemm.
fn small_model() -> (Network, ModelProto) {
    let mut b = NetworkBuilder::new("small", &[3, 8, 8]);
    b.conv("conv", Conv::new(4, 3).pad(1));
    b.act("clip", ActivationFn::Relu6);
    b.pool("pool", Pool::max(2));
    b.flatten("flat");
    b.linear("fc", 5, true);
    let net = b.finish();
    let model = model_from_network(&net, &BuildOptions::default()).unwrap();
    (net, model)
}

#[test]
fn constant_nodes_are_read_as_weights() {
    let (net, mut model) = small_model();
    // Move the Clip bounds out of the initialisers into Constant nodes before the Clip.
    let graph = model.graph.as_mut().unwrap();
    let mut constants = Vec::new();
    graph.initializer.retain(|t| {
        let bound = t.name == "clip.min" || t.name == "clip.max";
        if bound {
            constants.push(NodeProto {
                output: vec![t.name.clone()],
                name: format!("{}_const", t.name),
                op_type: "Constant".into(),
                attribute: vec![AttributeProto {
                    name: "value".into(),
                    r#type: onnx::proto::attribute_type::TENSOR,
                    t: Some(t.clone()),
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        !bound
    });
    assert_eq!(constants.len(), 2);
    graph.node.splice(1..1, constants);
    let imported = import_model(&model, "small.onnx", "small").unwrap();
    assert_eq!(imported.to_model().operators, net.operators());
    assert_eq!(
        imported.output_names,
        ["conv", "clip", "pool", "flat", "fc"]
    );
}

#[test]
fn a_clip_that_is_not_relu6_is_refused_by_name() {
    let (_, mut model) = small_model();
    let graph = model.graph.as_mut().unwrap();
    let max = graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "clip.max")
        .unwrap();
    *max = onnx::f32_scalar("clip.max", 4.0);
    let err = import_model(&model, "small.onnx", "small").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("`small.onnx`: node `clip` (Clip):"),
        "{msg}"
    );
    assert!(msg.contains("[0, 4]"), "{msg}");
}

#[test]
fn torchvision_zoo_families_round_trip_through_onnx() {
    // One model of each layer pattern: fire modules, dense layers (a one-tensor concat
    // first), channel split and shuffle, inverted residuals, basic residual blocks.
    use infscaler_sim::model::zoo::{self, ZooOptions};
    let opts = ZooOptions::default();
    for name in [
        "squeezenet1_1",
        "densenet121",
        "shufflenet_v2_x0_5",
        "mnasnet0_5",
        "resnet18",
    ] {
        let model = from_network::zoo_model(name, &opts, &BuildOptions::default()).unwrap();
        let imported = import_model(&model, name, name).unwrap();
        assert_eq!(
            imported.to_model().operators,
            zoo::build(name, &opts).unwrap().operators,
            "{name}"
        );
    }
}

#[test]
fn models_round_trip_through_protobuf_bytes() {
    let (_, model) = small_model();
    let bytes = onnx::encode(&model);
    assert_eq!(onnx::decode(&bytes).unwrap(), model);
}

/// A PyTorch export of `scripts/pytorch-fixtures.py` (torch 2.15, opset 17, batch dynamic).
fn pytorch_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pytorch")
        .join(name)
}

#[test]
fn pytorch_exports_import_with_torchs_parameter_counts() {
    use infscaler_sim::model::layers::Layer;
    // Parameter counts as torch counts them (`sum(p.numel())`, printed by the script).
    let recurrent = import::import_file(&pytorch_fixture("recurrent.onnx")).unwrap();
    let kinds: Vec<&Layer> = recurrent.network.nodes().iter().map(|n| &n.layer).collect();
    assert!(matches!(
        kinds.as_slice(),
        [
            Layer::Lstm {
                bidirectional: true,
                ..
            },
            Layer::Lstm {
                bidirectional: false,
                ..
            },
            Layer::Linear { bias: true, .. },
            Layer::Activation { .. },
            Layer::Activation { .. },
        ]
    ));
    assert_eq!(recurrent.to_model().total_params(), 2541);

    // Shapes computed from `x.shape` fold; the tied LM head (whose transpose the exporter folded
    // into a copy of the table) has no parameters of its own.
    let lm = import::import_file(&pytorch_fixture("tiny_lm.onnx")).unwrap();
    assert_eq!(lm.to_model().total_params(), 17952);
    assert_eq!(lm.network.nodes().len(), 26);
    assert!(matches!(
        lm.network.nodes().last().unwrap().layer,
        Layer::Unembedding {
            vocab: 100,
            dim: 32
        }
    ));
    assert!(lm.shape_nodes.iter().filter(|s| **s).count() > 20);

    // GELU's tanh approximation, as torch writes it and as Hugging Face's GPT-2 does.
    let gelus = import::import_file(&pytorch_fixture("tanh_gelu.onnx")).unwrap();
    let kinds: Vec<&Layer> = gelus.network.nodes().iter().map(|n| &n.layer).collect();
    let gelu = Layer::Activation {
        function: ActivationFn::Gelu,
    };
    assert!(
        matches!(kinds[0], Layer::Linear { bias: true, .. }),
        "{kinds:?}"
    );
    assert_eq!(kinds[1], &gelu);
    assert!(
        matches!(kinds[2], Layer::Linear { bias: true, .. }),
        "{kinds:?}"
    );
    assert_eq!(kinds[3], &gelu);
    assert_eq!(kinds.len(), 4);
    assert_eq!(gelus.to_model().total_params(), 280);
}
