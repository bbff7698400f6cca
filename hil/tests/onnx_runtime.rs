//! Generated and split models run in ONNX Runtime on the CPU.

mod common;

use common::{assert_close, cpu, input, runtime};
use infscaler_hil::from_network::{self, BuildOptions, INPUT_NAME};
use infscaler_hil::onnx::InputKind;
use infscaler_hil::onnx::proto::data_type;
use infscaler_hil::runtime::{
    ExecutionProvider, HostTensor, OnnxSession, PartitionChain, RuntimeError, SessionConfig,
    TensorRtOptions,
};
use infscaler_hil::split::split_model;
use infscaler_sim::model::zoo::{self, ZooOptions};

#[test]
fn alexnet_runs_whole_and_split_at_the_papers_cuts_with_equal_outputs() {
    let rt = runtime();
    let opts = BuildOptions { seed: 7 };
    let model = from_network::zoo_model("alexnet", &ZooOptions::default(), &opts).unwrap();
    let x = input(&[1, 3, 227, 227]);

    let mut whole = OnnxSession::from_model(rt, &model, "alexnet", &cpu()).unwrap();
    let out = whole.run(&[(INPUT_NAME, &x)]).unwrap();
    assert_eq!(out.len(), 1);
    let (name, probs) = &out[0];
    assert_eq!(name, "softmax");
    assert_eq!(probs.shape, vec![1, 1000]);
    // A softmax: positive, sums to one. Random weights must not have overflowed to NaN.
    let sum: f32 = probs.data.iter().sum();
    assert!(probs.data.iter().all(|p| p.is_finite() && *p >= 0.0));
    assert!((sum - 1.0).abs() < 1e-4, "softmax sums to {sum}");

    // Paper Fig. 2: cuts after conv2 (#5) and conv5 (#13).
    let parts = split_model(&model, &[5, 13], "alexnet").unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0].outputs, vec!["conv2".to_string()]);
    assert_eq!(parts[1].inputs, parts[0].outputs);
    assert_eq!(parts[1].outputs, vec!["conv5".to_string()]);
    let mut chain = PartitionChain::new(rt, &parts, "alexnet", &cpu()).unwrap();
    let chained = chain.run(INPUT_NAME, &x).unwrap();
    assert_eq!(chained[0].0, "softmax");
    assert_close(&chained[0].1, probs, 1e-6, 1e-4);
}

#[test]
fn mobilenet_v2_split_inside_residual_blocks_passes_the_skip_through() {
    let rt = runtime();
    let net = zoo::build_network("mobilenet_v2", &ZooOptions::default()).unwrap();
    let index = |name: &str| net.nodes().iter().position(|n| n.name == name).unwrap();
    // Partition 1 is the middle of block 3 (24 → 24 channels, identity shortcut): the block
    // input crosses both cuts, passing through partition 1 to the add in partition 2.
    let cuts = [index("features.3.expand"), index("features.3.dw.act") + 1];
    let model = from_network::model_from_network(&net, &BuildOptions { seed: 3 }).unwrap();
    let parts = split_model(&model, &cuts, "mobilenet_v2").unwrap();
    let skip = "features.2.project.bn".to_string();
    assert_eq!(parts[0].outputs, vec![skip.clone()]);
    assert_eq!(
        parts[1].outputs,
        vec![skip.clone(), "features.3.dw.act".into()]
    );
    assert_eq!(parts[2].inputs, parts[1].outputs);
    assert_eq!(parts[1].operators, cuts[0]..cuts[1]);

    let x = input(&[2, 3, 224, 224]);
    let mut whole = OnnxSession::from_model(rt, &model, "mobilenet_v2", &cpu()).unwrap();
    let expected = whole.run(&[(INPUT_NAME, &x)]).unwrap();
    assert_eq!(expected[0].0, "classifier.fc");
    assert_eq!(expected[0].1.shape, vec![2, 1000]);
    let mut chain = PartitionChain::new(rt, &parts, "mobilenet_v2", &cpu()).unwrap();
    let got = chain.run(INPUT_NAME, &x).unwrap();
    let scale = expected[0].1.data.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        scale > 0.0,
        "all-zero logits would make the comparison vacuous"
    );
    assert_close(&got[0].1, &expected[0].1, 1e-5 * scale, 1e-4);
}

#[test]
fn gpu_providers_give_a_clear_error_when_the_library_lacks_them() {
    let rt = runtime();
    let net = zoo::build_network("mobilenet_v2", &ZooOptions::default()).unwrap();
    let model = from_network::model_from_network(&net, &BuildOptions::default()).unwrap();
    let parts = split_model(&model, &[4], "mobilenet_v2").unwrap();
    for provider in [
        ExecutionProvider::Cuda { device_id: 0 },
        ExecutionProvider::TensorRt(TensorRtOptions {
            trt_dla_enable: true,
            trt_dla_core: 1,
            ..TensorRtOptions::default()
        }),
    ] {
        if rt.has_provider(&provider).unwrap() {
            // An ONNX Runtime with GPU providers (a Jetson setup): nothing to check here.
            continue;
        }
        let config = SessionConfig {
            provider: provider.clone(),
            ..cpu()
        };
        let err = match OnnxSession::from_model(rt, &parts[0].model, "mobilenet_v2.part0", &config)
        {
            Ok(_) => panic!(
                "{} reported unavailable but the session started",
                provider.label()
            ),
            Err(e) => e,
        };
        assert!(matches!(err, RuntimeError::Provider { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&provider.label()), "{msg}");
        assert!(msg.contains("ORT_DYLIB_PATH"), "{msg}");
        assert!(msg.contains(&rt.library().display().to_string()), "{msg}");
    }
}

/// Token ids for BERT's input `[rows, tokens]`.
fn token_ids(rows: usize, tokens: usize) -> HostTensor {
    HostTensor::for_input(
        &[rows, tokens],
        InputKind::Ids {
            elem_type: data_type::INT64,
            bound: 30522,
        },
        |_| 0.0,
    )
}

#[test]
fn crnn_lstms_run_whole_and_split_around_them_with_equal_outputs() {
    let rt = runtime();
    let net = zoo::build_network("crnn", &ZooOptions::default()).unwrap();
    let index = |name: &str| net.nodes().iter().position(|n| n.name == name).unwrap();
    let model = from_network::model_from_network(&net, &BuildOptions { seed: 5 }).unwrap();
    // Cuts before the first LSTM and between the two: each LSTM's four nodes (layout
    // transposes, LSTM, direction merge) stay in one partition.
    let cuts = [index("blstm1"), index("blstm2")];
    let parts = split_model(&model, &cuts, "crnn").unwrap();
    assert_eq!(parts[1].operators, cuts[0]..cuts[1]);
    let ops: Vec<&str> = parts[1]
        .model
        .graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert_eq!(ops, ["Transpose", "LSTM", "Transpose", "Reshape"]);
    assert_eq!(parts[1].outputs, ["blstm1"]);

    let x = input(&[2, 1, 32, 100]);
    let mut whole = OnnxSession::from_model(rt, &model, "crnn", &cpu()).unwrap();
    let expected = whole.run(&[(INPUT_NAME, &x)]).unwrap();
    assert_eq!(expected[0].1.shape, vec![2, 26, 37]);
    let mut chain = PartitionChain::new(rt, &parts, "crnn", &cpu()).unwrap();
    let got = chain.run(INPUT_NAME, &x).unwrap();
    assert_close(&got[0].1, &expected[0].1, 1e-6, 1e-4);
}

#[test]
fn bert_reads_token_ids_and_splits_with_the_ids_and_position_embeddings_crossing_cuts() {
    let rt = runtime();
    let opts = ZooOptions {
        seq_len: 8,
        ..ZooOptions::default()
    };
    let net = zoo::build_network("bert_base", &opts).unwrap();
    let index = |name: &str| net.nodes().iter().position(|n| n.name == name).unwrap();
    let model = from_network::model_from_network(&net, &BuildOptions { seed: 2 }).unwrap();
    // After the word embedding (the position and segment look-ups read constant ids, not the
    // input) and after the position embedding, whose batch-1 value crosses the cut; inside the
    // first layer's attention, between Q·Kᵀ and the softmax; and after the first GELU.
    let cuts = [
        index("embeddings.word") + 1,
        index("embeddings.position") + 1,
        index("layer0.attention.scores") + 1,
        index("layer0.ffn.gelu") + 1,
    ];
    let parts = split_model(&model, &cuts, "bert_base").unwrap();
    assert_eq!(parts[1].inputs, ["embeddings.word"]);
    assert_eq!(parts[1].outputs, ["embeddings.word", "embeddings.position"]);

    let x = token_ids(2, 8);
    let mut whole = OnnxSession::from_model(rt, &model, "bert_base", &cpu()).unwrap();
    let expected = whole.run(&[(INPUT_NAME, &x)]).unwrap();
    assert_eq!(expected[0].1.shape, vec![2, 1, 768]);
    let mut chain = PartitionChain::new(rt, &parts, "bert_base", &cpu()).unwrap();
    let got = chain.run(INPUT_NAME, &x).unwrap();
    assert!(expected[0].1.data.iter().any(|v| *v != 0.0));
    assert_close(&got[0].1, &expected[0].1, 1e-5, 1e-4);
}

#[test]
fn gathering_rows_reads_token_ids_and_broadcasts_batch_one_values() {
    use infscaler_hil::live::data::{RequestData, TensorSet, gather};
    use ort::value::Tensor;
    use std::sync::Arc;
    runtime();
    let ids = Tensor::from_array((vec![2usize, 3], vec![1i64, 2, 3, 4, 5, 6])).unwrap();
    let position = Tensor::from_array((vec![1usize, 2], vec![0.5f32, 0.25])).unwrap();
    let set = Arc::new(TensorSet {
        values: vec![
            ("ids".into(), Arc::new(ids.into_dyn())),
            ("position".into(), Arc::new(position.into_dyn())),
        ],
        rows: 2,
    });
    // Row 1 alone: a new batch, so its rows are gathered.
    let request = RequestData {
        set: set.clone(),
        row: 1,
    };
    let (values, _) = gather(&[&request], &["ids".into(), "position".into()], &[]).unwrap();
    let (shape, got) = values[0].1.try_extract_tensor::<i64>().unwrap();
    assert_eq!((shape.to_vec(), got.to_vec()), (vec![1, 3], vec![4, 5, 6]));
    let (shape, got) = values[1].1.try_extract_tensor::<f32>().unwrap();
    assert_eq!(
        (shape.to_vec(), got.to_vec()),
        (vec![1, 2], vec![0.5, 0.25])
    );

    // A time-major `[T = 2, N = 2, F = 2]` value (a PyTorch LSTM's, read by the next LSTM):
    // request 1 is column 1 of every time step.
    let data = vec![1f32, 2., 3., 4., 5., 6., 7., 8.];
    let time_major = Tensor::from_array((vec![2usize, 2, 2], data)).unwrap();
    let set = Arc::new(TensorSet {
        values: vec![("seq".into(), Arc::new(time_major.into_dyn()))],
        rows: 2,
    });
    let request = RequestData { set, row: 1 };
    let (values, _) = gather(&[&request], &["seq".into()], &[1]).unwrap();
    let (shape, got) = values[0].1.try_extract_tensor::<f32>().unwrap();
    assert_eq!(
        (shape.to_vec(), got.to_vec()),
        (vec![2, 1, 2], vec![3., 4., 7., 8.])
    );
}

#[test]
fn pytorch_exports_split_at_every_operator_run_as_the_whole_model() {
    let rt = runtime();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pytorch");
    let ids = HostTensor::for_input(
        &[2, 12],
        InputKind::Ids {
            elem_type: data_type::INT64,
            bound: 100,
        },
        |_| 0.0,
    );
    let cases = [
        ("recurrent.onnx", "x", input(&[3, 10, 16])),
        ("tiny_lm.onnx", "ids", ids),
        ("tanh_gelu.onnx", "x", input(&[2, 4, 8])),
    ];
    for (file, input_name, x) in cases {
        let model = infscaler_hil::import::read_model(&dir.join(file)).unwrap();
        let ops = infscaler_hil::import::import_model(&model, file, file)
            .unwrap()
            .operator_nodes
            .len();
        // Every cut: the stacked LSTM's time-major value and the shape computations (each
        // partition recomputes those it reads) cross them.
        let cuts: Vec<usize> = (1..ops).collect();
        let parts = split_model(&model, &cuts, file).unwrap();
        assert_eq!(parts.len(), ops);
        // The stacked LSTM reads the first one's time-major output: batch axis 1.
        let time_major = parts.iter().any(|p| p.input_batch_axes.contains(&1));
        assert_eq!(time_major, file == "recurrent.onnx", "{file}");
        let mut whole = OnnxSession::from_model(rt, &model, file, &cpu()).unwrap();
        let expected = whole.run(&[(input_name, &x)]).unwrap();
        let mut chain = PartitionChain::new(rt, &parts, file, &cpu()).unwrap();
        let got = chain.run(input_name, &x).unwrap();
        assert!(expected[0].1.data.iter().any(|v| *v != 0.0), "{file}");
        assert_close(&got[0].1, &expected[0].1, 1e-5, 1e-4);
    }
}
