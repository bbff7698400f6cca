//! Generated `.onnx` files read back into the simulator, and the errors of files it cannot read.

use infscaler_hil::from_network::{self, BuildError, BuildOptions};
use infscaler_hil::import::{self, ImportError};
use infscaler_hil::onnx;
use infscaler_sim::model::zoo::{self, ZooOptions};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("infscaler-hil-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn every_zoo_model_the_builder_writes_imports_back_with_the_same_costs() {
    // FLOPs, bytes (activation elements in and out, parameters) and the simulated latency on
    // every accelerator of a Xavier AGX, for each zoo model written as ONNX and read back.
    use infscaler_sim::hardware::profile::DeviceProfile;
    use infscaler_sim::model::cost::Target;
    use infscaler_sim::model::runtime::RuntimeProfile;
    let device = DeviceProfile::builtin("xavier-agx").unwrap();
    let runtime = RuntimeProfile::resolve("tensorrt", std::path::Path::new(".")).unwrap();
    let target = Target::new(&device, &runtime);
    let mut written = Vec::new();
    for name in zoo::names() {
        let net = zoo::build_network(name, &ZooOptions::default()).unwrap();
        let model = from_network::model_from_network(&net, &BuildOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Through the bytes of a file, but for the largest models (GPT-2 medium's weights are
        // 1.4 GB; the protobuf round trip of the others covers the encoding).
        let small = net.to_model().total_params() < 100_000_000;
        let back = if small {
            onnx::decode(&onnx::encode(&model)).unwrap()
        } else {
            model
        };
        let imported = import::import_model(&back, name, name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .to_model();
        let expected = net.to_model();
        assert_eq!(imported.operators, expected.operators, "{name}");
        assert_eq!(imported.total_flops(), expected.total_flops(), "{name}");
        let bytes = |m: &infscaler_sim::model::Model| -> u64 {
            m.operators.iter().map(|o| o.bytes_moved(1, 4)).sum()
        };
        assert_eq!(bytes(&imported), bytes(&expected), "{name}");
        assert_eq!(
            infscaler_sim::scenario::isolated_latency(std::slice::from_ref(&imported), target),
            infscaler_sim::scenario::isolated_latency(std::slice::from_ref(&expected), target),
            "{name}"
        );
        for a in 0..device.accelerators.len() {
            let cores = device.accelerators[a].cores;
            let plan = |m: &infscaler_sim::model::Model| {
                infscaler_sim::model::cost::plan(&m.operators, 1, a, cores, target).solo_ns()
            };
            assert_eq!(
                plan(&imported),
                plan(&expected),
                "{name} on accelerator {a}"
            );
        }
        written.push(name);
    }
    assert_eq!(written, zoo::names().collect::<Vec<_>>());
}

#[test]
fn importing_generated_zoo_models_gives_the_simulators_operators() {
    for name in ["alexnet", "mobilenet_v2"] {
        let model = from_network::zoo_model(name, &ZooOptions::default(), &BuildOptions::default())
            .unwrap();
        let path = scratch(&format!("{name}.onnx"));
        std::fs::write(&path, onnx::encode(&model)).unwrap();
        let imported = import::import_file(&path).unwrap().to_model();
        let expected = zoo::build(name, &ZooOptions::default()).unwrap();
        assert_eq!(imported.input_shape, expected.input_shape);
        assert_eq!(imported.operators.len(), expected.operators.len(), "{name}");
        for (got, want) in imported.operators.iter().zip(&expected.operators) {
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(imported.total_flops(), expected.total_flops());
        // The weights in the file are the parameters the simulator counts.
        let weights: u64 = model
            .graph
            .as_ref()
            .unwrap()
            .initializer
            .iter()
            .filter(|t| !t.name.ends_with("running_mean") && !t.name.ends_with("running_var"))
            .filter(|t| t.data_type == onnx::proto::data_type::FLOAT && !t.dims.is_empty())
            .map(onnx::tensor_len)
            .sum();
        assert_eq!(weights, expected.total_params(), "{name}");
    }
}

#[test]
fn unsupported_layers_and_operators_are_named() {
    // GPT-2 with a KV cache reads the cache as a second input.
    let with_cache = ZooOptions {
        past_len: Some(8),
        ..ZooOptions::default()
    };
    let err =
        from_network::zoo_model("gpt2_medium", &with_cache, &BuildOptions::default()).unwrap_err();
    let BuildError::UnsupportedLayer { layer, kind, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(*kind, "kv_cache");
    assert!(err.to_string().contains(layer.as_str()), "{err}");

    // A small model with an operator the importer does not read.
    let net = zoo::build_network("mobilenet_v2", &ZooOptions::default()).unwrap();
    let mut model = from_network::model_from_network(&net, &BuildOptions::default()).unwrap();
    let graph = model.graph.as_mut().unwrap();
    graph.node[1].op_type = "Erf".into();
    let path = scratch("erf.onnx");
    std::fs::write(&path, onnx::encode(&model)).unwrap();
    let err = import::import_file(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ImportError::Node { .. }), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains("features.0.bn") && msg.contains("Erf"),
        "{msg}"
    );

    let missing = scratch("missing.onnx");
    let err = import::import_file(&missing).unwrap_err();
    assert!(matches!(err, ImportError::Read { .. }));
    assert!(err.to_string().contains("missing.onnx"));

    let garbage = scratch("garbage.onnx");
    std::fs::write(&garbage, b"\xff\xff\xff\xff not protobuf").unwrap();
    let err = import::import_file(&garbage).unwrap_err();
    assert!(matches!(err, ImportError::Decode { .. }), "{err}");
}
