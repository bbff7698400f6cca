use std::collections::HashSet;

use super::*;
use crate::model::OpKind;
use crate::model::layers::TensorRef;

fn model(name: &str) -> Model {
    build(name, &ZooOptions::default()).unwrap()
}

fn within(actual: u64, published: u64, tolerance: f64) -> bool {
    (actual as f64 - published as f64).abs() <= tolerance * published as f64
}

#[test]
fn every_model_is_within_ten_percent_of_its_published_params_and_flops() {
    let mut failures = Vec::new();
    for e in catalog() {
        let m = model(e.name);
        assert_eq!(m.name, e.name);
        for (what, ours, published) in [
            ("params", m.total_params(), e.published_params),
            ("flops", m.total_flops(), e.published_flops),
        ] {
            if !within(ours, published, 0.10) {
                failures.push(format!(
                    "{} {what}: ours {ours}, published {published}",
                    e.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn alexnet_has_the_24_operators_of_the_paper_figure_in_order() {
    let names: Vec<String> = model("alexnet")
        .operators
        .into_iter()
        .map(|o| o.name)
        .collect();
    let expected = [
        "conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2", "pool2", "conv3", "relu3",
        "conv4", "relu4", "conv5", "relu5", "pool5", "flatten", "fc6", "relu6", "drop6", "fc7",
        "relu7", "drop7", "fc8", "softmax",
    ];
    assert_eq!(names, expected);
}

#[test]
fn alexnet_convolutions_dominate_the_work() {
    // InfScaler §II-B, Fig. 2: operators #1, #5 and #13 (conv1, conv2, conv5) stand out. By
    // FLOPs the five convolutions are the five heaviest operators: conv2 (#5) 448M, conv3
    // 299M, conv4 224M, conv1 (#1) 211M, conv5 (#13) 150M, then fc6 75.5M.
    let m = model("alexnet");
    let ops = &m.operators;
    let mut by_flops: Vec<usize> = (0..ops.len()).collect();
    by_flops.sort_by_key(|&i| std::cmp::Reverse(ops[i].flops));
    let top5: HashSet<usize> = by_flops[..5].iter().map(|&i| i + 1).collect();
    assert_eq!(
        top5,
        HashSet::from([1, 5, 9, 11, 13]),
        "paper numbering #1..#24"
    );
    assert!(ops[by_flops[..5][0]].name == "conv2");
    let conv_flops: u64 = ops
        .iter()
        .filter(|o| o.kind == OpKind::Conv)
        .map(|o| o.flops)
        .sum();
    assert!(conv_flops as f64 > 0.85 * m.total_flops() as f64);
    // … while the fully-connected layers hold over 90 % of the weights.
    let fc_params: u64 = ops
        .iter()
        .filter(|o| o.kind == OpKind::FullyConnected)
        .map(|o| o.params)
        .sum();
    assert!(fc_params as f64 > 0.9 * m.total_params() as f64);
}

#[test]
fn every_operator_reads_exactly_what_its_producers_wrote() {
    for name in names() {
        let net = build_network(name, &ZooOptions::default()).unwrap();
        let ops = net.operators();
        let input: u64 = net.input_shape().iter().map(|&d| d as u64).product();
        for (node, op) in net.nodes().iter().zip(&ops) {
            let read: u64 = node
                .inputs
                .iter()
                .map(|t| match *t {
                    TensorRef::Input => input,
                    TensorRef::Node { index } => ops[index].output_elems,
                })
                .sum();
            assert_eq!(op.input_elems, read, "{name}: {}", op.name);
        }
    }
}

#[test]
fn chain_models_feed_each_operator_from_the_previous_one() {
    for name in ["alexnet", "vgg16", "crnn"] {
        let m = model(name);
        assert_eq!(m.operators[0].input_elems, m.input_elems(), "{name}");
        for w in m.operators.windows(2) {
            assert_eq!(
                w[1].input_elems, w[0].output_elems,
                "{name}: {} → {}",
                w[0].name, w[1].name
            );
        }
    }
}

#[test]
fn operator_names_are_unique_and_outputs_have_the_expected_shapes() {
    for name in names() {
        let m = model(name);
        let unique: HashSet<&str> = m.operators.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(unique.len(), m.operators.len(), "{name}");
    }
    let last = |name: &str| model(name).operators.last().unwrap().output_elems;
    assert_eq!(last("alexnet"), 1000);
    assert_eq!(last("resnet50"), 1000);
    assert_eq!(last("mobilenet_v2"), 1000);
    assert_eq!(last("gpt2_medium"), 50257);
    assert_eq!(last("bert_base"), 768);
    // MobileNet-SSD's 1917 priors: 19²·3 + (10² + 5² + 3² + 2² + 1)·6, 21 scores each.
    assert_eq!(last("ssd_mobilenet_v1"), 1917 * 21);
    // CRNN: 26 frames of 37 class posteriors.
    assert_eq!(last("crnn"), 26 * 37);
    // YOLOv3-tiny heads: 255 × 13 × 13 and 255 × 26 × 26.
    let yolo = model("yolov3_tiny");
    let head = |n: &str| {
        yolo.operators
            .iter()
            .find(|o| o.name == n)
            .unwrap()
            .output_elems
    };
    assert_eq!(head("yolo16"), 255 * 13 * 13);
    assert_eq!(head("yolo23"), 255 * 26 * 26);
    // YOLOv3 heads at strides 32, 16 and 8.
    let yolo = model("yolov3");
    let head = |n: &str| {
        yolo.operators
            .iter()
            .find(|o| o.name == n)
            .unwrap()
            .output_elems
    };
    assert_eq!(head("yolo82"), 255 * 13 * 13);
    assert_eq!(head("yolo94"), 255 * 26 * 26);
    assert_eq!(head("yolo106"), 255 * 52 * 52);
    // Every ImageNet classifier ends in the 1000 class scores.
    for e in catalog() {
        if e.description.ends_with("3×224×224") {
            assert_eq!(last(e.name), 1000, "{}", e.name);
        }
    }
}

#[test]
fn bert_flops_grow_faster_than_linearly_with_sequence_length() {
    let bert = |seq_len| {
        let opts = ZooOptions {
            seq_len,
            ..Default::default()
        };
        build("bert_base", &opts).unwrap()
    };
    let flops = |seq_len| bert(seq_len).total_flops();
    let (f64_, f128, f256) = (flops(64), flops(128), flops(256));
    assert!(f64_ < f128 && f128 < f256);
    // Attention scores grow with T², so doubling T more than doubles the work.
    assert!(f256 > 2 * f128 && f128 > 2 * f64_);
    // Parameters do not depend on the sequence length.
    let params = |seq_len| bert(seq_len).total_params();
    assert_eq!(params(64), params(256));
}

#[test]
fn gpt2_counts_the_tied_lm_head_once() {
    let m = model("gpt2_medium");
    let op = |n: &str| m.operators.iter().find(|o| o.name == n).unwrap().clone();
    assert_eq!(op("lm_head").params, 0);
    assert_eq!(op("wte").params, 50257 * 1024);
    // Hugging Face gpt2-medium has 354,823,168 parameters.
    assert_eq!(m.total_params(), 354_823_168);
}

#[test]
fn bert_parameter_count_matches_the_reference_implementation_exactly() {
    // Hugging Face bert-base-uncased (BertModel with pooler): 109,482,240 parameters.
    assert_eq!(model("bert_base").total_params(), 109_482_240);
}

#[test]
fn torchvision_parameter_counts_match_exactly() {
    // torchvision model cards; batch norm counted as scale + shift, as torchvision does.
    assert_eq!(model("vgg16").total_params(), 138_357_544);
    assert_eq!(model("resnet50").total_params(), 25_557_032);
    assert_eq!(model("mobilenet_v2").total_params(), 3_504_872);
    assert_eq!(model("resnet18").total_params(), 11_689_512);
    assert_eq!(model("resnet34").total_params(), 21_797_672);
    assert_eq!(model("resnet101").total_params(), 44_549_160);
    assert_eq!(model("resnet152").total_params(), 60_192_808);
    assert_eq!(model("squeezenet1_0").total_params(), 1_248_424);
    assert_eq!(model("squeezenet1_1").total_params(), 1_235_496);
    assert_eq!(model("densenet121").total_params(), 7_978_856);
    assert_eq!(model("densenet161").total_params(), 28_681_000);
    assert_eq!(model("densenet169").total_params(), 14_149_480);
    assert_eq!(model("densenet201").total_params(), 20_013_928);
    for (name, params) in [
        ("vgg11", 132_863_336),
        ("vgg13", 133_047_848),
        ("vgg19", 143_667_240),
        ("vgg11_bn", 132_868_840),
        ("vgg13_bn", 133_053_736),
        ("vgg16_bn", 138_365_992),
        ("vgg19_bn", 143_678_248),
        ("shufflenet_v2_x0_5", 1_366_792),
        ("shufflenet_v2_x1_0", 2_278_604),
        ("shufflenet_v2_x1_5", 3_503_624),
        ("shufflenet_v2_x2_0", 7_393_996),
        ("mnasnet0_5", 2_218_512),
        ("mnasnet0_75", 3_170_208),
        ("mnasnet1_0", 4_383_312),
        ("mnasnet1_3", 6_282_256),
    ] {
        assert_eq!(model(name).total_params(), params, "{name}");
    }
}

#[test]
fn yolov3_params_are_its_weights_file_less_the_batch_norm_statistics() {
    // yolov3.weights holds 62,001,757 floats; each of the 72 batch norms (26,304 channels) stores
    // a running mean and variance beside its learned scale and shift.
    let m = model("yolov3");
    let bn_channels: u64 = m
        .operators
        .iter()
        .filter(|o| o.kind == OpKind::BatchNorm)
        .map(|o| o.params / 2)
        .sum();
    assert_eq!(bn_channels, 26_304);
    assert_eq!(m.total_params() + 2 * bn_channels, 62_001_757);
}

#[test]
fn unknown_names_list_the_known_ones() {
    let err = build("resnet51", &ZooOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("resnet51"), "{msg}");
    for name in names() {
        assert!(msg.contains(name), "{msg} lacks {name}");
    }
}

#[test]
fn sequence_lengths_beyond_the_position_table_are_errors() {
    let err = build(
        "bert_base",
        &ZooOptions {
            seq_len: 513,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        ZooError::SeqLen {
            model: "bert_base",
            seq_len: 513,
            max: 512
        }
    );
    assert!(
        build(
            "gpt2_medium",
            &ZooOptions {
                seq_len: 0,
                ..Default::default()
            }
        )
        .is_err()
    );
    assert!(
        build(
            "gpt2_medium",
            &ZooOptions {
                seq_len: 1024,
                ..Default::default()
            }
        )
        .is_ok()
    );
}

#[test]
fn catalog_names_are_unique_and_stable() {
    let all: Vec<&str> = names().collect();
    assert_eq!(
        all,
        [
            "alexnet",
            "vgg16",
            "resnet50",
            "mobilenet_v2",
            "yolov3_tiny",
            "ssd_mobilenet_v1",
            "crnn",
            "bert_base",
            "gpt2_medium",
            "resnet18",
            "resnet34",
            "resnet101",
            "resnet152",
            "squeezenet1_0",
            "squeezenet1_1",
            "densenet121",
            "densenet161",
            "densenet169",
            "densenet201",
            "vgg11",
            "vgg13",
            "vgg19",
            "vgg11_bn",
            "vgg13_bn",
            "vgg16_bn",
            "vgg19_bn",
            "shufflenet_v2_x0_5",
            "shufflenet_v2_x1_0",
            "shufflenet_v2_x1_5",
            "shufflenet_v2_x2_0",
            "mnasnet0_5",
            "mnasnet0_75",
            "mnasnet1_0",
            "mnasnet1_3",
            "yolov3",
        ]
    );
}

/// Operators of each kind in a model.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    conv: usize,
    batch_norm: usize,
    activation: usize,
    add: usize,
    pool: usize,
    concat: usize,
    /// Flatten, reshape, transpose, slice, dropout.
    shuffle: usize,
    fc: usize,
    /// Every other kind (LRN, softmax, …).
    other: usize,
}

impl Counts {
    fn of(name: &str) -> Counts {
        let mut c = Counts::default();
        for op in model(name).operators {
            *match op.kind {
                OpKind::Conv => &mut c.conv,
                OpKind::BatchNorm => &mut c.batch_norm,
                OpKind::Activation(_) => &mut c.activation,
                OpKind::Elementwise => &mut c.add,
                OpKind::Pooling => &mut c.pool,
                OpKind::Concat => &mut c.concat,
                OpKind::Shuffle => &mut c.shuffle,
                OpKind::FullyConnected => &mut c.fc,
                _ => &mut c.other,
            } += 1;
        }
        c
    }

    fn total(&self) -> usize {
        self.conv
            + self.batch_norm
            + self.activation
            + self.add
            + self.pool
            + self.concat
            + self.shuffle
            + self.fc
            + self.other
    }
}

#[test]
fn operator_counts_match_the_module_calls_of_the_reference_forward() {
    // Counted by hand from each reference `forward` (one operator per module or functional call).
    let expected = [
        // AlexNet (Caffe): 5 conv + 7 relu, 3 max pools, flatten + 2 dropouts, 3 fc, 2 LRN +
        // softmax.
        (
            "alexnet",
            24,
            Counts {
                conv: 5,
                activation: 7,
                pool: 3,
                shuffle: 3,
                fc: 3,
                other: 3,
                ..Counts::default()
            },
        ),
        // VGG-16: 13 conv + relu, 5 max pools, flatten, 2 × (fc, relu, dropout), fc.
        (
            "vgg16",
            39,
            Counts {
                conv: 13,
                activation: 15,
                pool: 5,
                shuffle: 3,
                fc: 3,
                ..Counts::default()
            },
        ),
        // ResNet-18: stem conv-bn-relu + max pool; 8 basic blocks of conv-bn-relu-conv-bn, add,
        // relu; 3 downsample conv-bn; avg pool, flatten, fc.
        (
            "resnet18",
            69,
            Counts {
                conv: 1 + 16 + 3,
                batch_norm: 1 + 16 + 3,
                activation: 1 + 16,
                add: 8,
                pool: 2,
                shuffle: 1,
                fc: 1,
                ..Counts::default()
            },
        ),
        // ResNet-50: stem (4); 16 bottlenecks of 3 conv-bn-relu (the last relu after the add);
        // 4 downsample conv-bn; avg pool, flatten, fc.
        (
            "resnet50",
            175,
            Counts {
                conv: 1 + 48 + 4,
                batch_norm: 1 + 48 + 4,
                activation: 1 + 48,
                add: 16,
                pool: 2,
                shuffle: 1,
                fc: 1,
                ..Counts::default()
            },
        ),
        // MobileNetV2: features.0 conv-bn-relu6; block 1 (t = 1) dw + project; 16 blocks of
        // expand, dw (conv-bn-relu6) and project (conv-bn); 10 residual adds; features.18
        // conv-bn-relu6; avg pool, flatten, dropout, fc.
        (
            "mobilenet_v2",
            153,
            Counts {
                conv: 1 + 2 + 48 + 1,
                batch_norm: 1 + 2 + 48 + 1,
                activation: 1 + 1 + 32 + 1,
                add: 10,
                pool: 1,
                shuffle: 2,
                fc: 1,
                ..Counts::default()
            },
        ),
        // SqueezeNet 1.1: stem conv + relu + max pool; 8 fire modules of squeeze, expand1x1 and
        // expand3x3 (conv + relu each) and cat; 2 more max pools; classifier dropout, conv,
        // relu, avg pool; flatten.
        (
            "squeezenet1_1",
            66,
            Counts {
                conv: 1 + 24 + 1,
                activation: 1 + 24 + 1,
                pool: 3 + 1,
                concat: 8,
                shuffle: 2,
                ..Counts::default()
            },
        ),
        // DenseNet-121: stem conv-norm-relu-pool; 58 dense layers of cat, norm1-relu1-conv1,
        // norm2-relu2-conv2; 4 block cats; 3 transitions of norm-relu-conv-pool; norm5, relu,
        // avg pool, flatten, classifier.
        (
            "densenet121",
            431,
            Counts {
                conv: 1 + 116 + 3,
                batch_norm: 1 + 116 + 3 + 1,
                activation: 1 + 116 + 3 + 1,
                pool: 1 + 3 + 1,
                concat: 58 + 4,
                shuffle: 1,
                fc: 1,
                ..Counts::default()
            },
        ),
        // VGG-16-BN: 13 conv-bn-relu, 5 max pools, flatten, 2 × (fc, relu, dropout), fc.
        (
            "vgg16_bn",
            52,
            Counts {
                conv: 13,
                batch_norm: 13,
                activation: 15,
                pool: 5,
                shuffle: 3,
                fc: 3,
                ..Counts::default()
            },
        ),
        // ShuffleNet V2 1.0×: conv1 conv-bn-relu, max pool; 3 stride-2 blocks (branch1 dw
        // conv-bn + conv-bn-relu, branch2 conv-bn-relu + dw conv-bn + conv-bn-relu, cat, view,
        // transpose, view) and 13 stride-1 blocks (2 chunk slices, branch2, cat, 3 shuffle ops);
        // conv5 conv-bn-relu; mean (avg pool + flatten); fc.
        (
            "shufflenet_v2_x1_0",
            243,
            Counts {
                conv: 1 + 3 * 5 + 13 * 3 + 1,
                batch_norm: 1 + 3 * 5 + 13 * 3 + 1,
                activation: 1 + 3 * 3 + 13 * 2 + 1,
                pool: 2,
                concat: 16,
                shuffle: 3 * 3 + 13 * 5 + 1,
                fc: 1,
                ..Counts::default()
            },
        ),
        // MNASNet 1.0: stem conv-bn-relu, dw conv-bn-relu, conv-bn; 16 inverted residuals of
        // expand and dw conv-bn-relu and project conv-bn, 10 with an add; conv-bn-relu to
        // 1280; mean (avg pool + flatten); classifier dropout, fc.
        (
            "mnasnet1_0",
            153,
            Counts {
                conv: 3 + 48 + 1,
                batch_norm: 3 + 48 + 1,
                activation: 2 + 32 + 1,
                add: 10,
                pool: 1,
                shuffle: 2,
                fc: 1,
                ..Counts::default()
            },
        ),
        // YOLOv3 (darknet layers 0–106): 72 conv-bn-leaky, 3 detection convs each followed by
        // the yolo logistic, 23 shortcut adds, 2 upsamples and 2 two-input routes.
        (
            "yolov3",
            249,
            Counts {
                conv: 75,
                batch_norm: 72,
                activation: 72 + 3,
                add: 23,
                concat: 2,
                other: 2,
                ..Counts::default()
            },
        ),
    ];
    for (name, total, counts) in expected {
        let got = Counts::of(name);
        assert_eq!(got, counts, "{name}");
        assert_eq!(got.total(), total, "{name}");
        assert_eq!(model(name).operators.len(), total, "{name}");
    }
}

#[test]
fn only_a_decoder_has_a_kv_cache_and_it_fits_the_position_table() {
    let opts = |seq_len, past_len| ZooOptions { seq_len, past_len };
    let plain = build("gpt2_medium", &opts(16, None)).unwrap();
    let cached = build("gpt2_medium", &opts(16, Some(0))).unwrap();
    // Two cache operators (keys, values) in each of the 24 layers, and nothing else changes.
    assert_eq!(cached.operators.len(), plain.operators.len() + 48);
    assert_eq!(cached.total_flops(), plain.total_flops());
    assert_eq!(cached.total_params(), plain.total_params());
    // One decode step after 1000 positions reads the cache: far more bytes in than without.
    let step = build("gpt2_medium", &opts(1, Some(1000))).unwrap();
    let reads = |m: &crate::model::Model| m.operators.iter().map(|o| o.input_elems).sum::<u64>();
    let cache = 2 * 24 * 1000 * 1024; // keys and values, 24 layers, d = 1024
    assert!(reads(&step) >= reads(&build("gpt2_medium", &opts(1, Some(0))).unwrap()) + cache);
    assert!(matches!(
        build("gpt2_medium", &opts(1, Some(1024))),
        Err(ZooError::KvCache { .. })
    ));
    for model in ["bert_base", "resnet50"] {
        let err = build(model, &opts(16, Some(0))).unwrap_err();
        assert!(matches!(err, ZooError::KvCache { .. }), "{model}: {err}");
    }
}
