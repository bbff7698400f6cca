//! The model zoo: every model the simulator knows by name, described layer by layer with
//! [`NetworkBuilder`](super::layers::NetworkBuilder) so that its operators (FLOPs, activations,
//! parameters) are computed from layer shapes, never typed in.
//!
//! Each model is checked against the figure its paper or reference implementation publishes
//! ([`ZooEntry::published_params`], [`ZooEntry::published_flops`], 2 FLOPs per multiply-add).
//!
//! # Adding a model
//!
//! 1. In the family file (or a new `zoo/<family>.rs`), write
//!    `pub(super) fn my_model(opts: &ZooOptions) -> Result<Network, ZooError>` with a
//!    [`NetworkBuilder`](super::layers::NetworkBuilder): one call per layer (`b.conv(..)`,
//!    `b.relu(..)`, `b.pool(..)`, …), names unique; for a branch save `b.cursor()` and come back
//!    with `b.set_cursor(..)`.
//! 2. Add one [`ZooEntry`] to `CATALOG` below: name, description, the published parameter count
//!    and FLOPs (convert MACs to FLOPs: × 2) and where they come from.
//!
//! The tests then build it and check it against the published figures within 10 %.
//!
//! A model taken from a framework mirrors that framework's `forward` operator for operator (the
//! cost model charges a launch per operator, as an eager framework dispatches one kernel per
//! call): one layer per module or functional call, in call order, nothing fused, named by the
//! module path where there is one (`layer1.0.conv1`, `features.3.squeeze`). The torchvision
//! classifiers (`resnet*`, `vgg*`, `squeezenet*`, `densenet*`, `shufflenet_v2_*`, `mnasnet*`,
//! `mobilenet_v2`) follow `torchvision/models/`, the YOLOs darknet's cfg files; their doc
//! comments say where the operator list departs from the framework's calls.

mod alexnet;
mod crnn;
mod densenet;
mod detection;
mod mnasnet;
mod mobilenet;
mod resnet;
mod shufflenet;
mod squeezenet;
mod transformer;
mod vgg;

use thiserror::Error;

use super::Model;
use super::layers::Network;

/// Options that change a model's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZooOptions {
    /// Tokens per request for the sequence models (`bert_base`, `gpt2_medium`); default 128.
    pub seq_len: usize,
    /// For a decoder (`gpt2_medium`): build it with a KV cache holding this many positions
    /// before the `seq_len` new ones (`Some(0)`: the prefill of a generating request; `Some(p)`
    /// with `seq_len` 1: one decode step after `p` tokens). `None` (the default): one forward
    /// pass without a cache. Models without a cache refuse `Some`.
    pub past_len: Option<usize>,
}

impl Default for ZooOptions {
    fn default() -> Self {
        ZooOptions {
            seq_len: 128,
            past_len: None,
        }
    }
}

/// What a sequence model reads, for sizing its input from a request's tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sequence {
    /// An encoder: one forward pass over at most `window` tokens.
    Encoder {
        /// Longest sequence (its position table).
        window: usize,
    },
    /// A decoder that can generate with a KV cache: prompt and generated tokens together fill
    /// at most `window` positions.
    Decoder {
        /// Longest sequence (its position table).
        window: usize,
    },
}

impl Sequence {
    /// Longest sequence the model accepts.
    pub fn window(self) -> usize {
        match self {
            Sequence::Encoder { window } | Sequence::Decoder { window } => window,
        }
    }
}

/// How model `name` reads a sequence (`None`: not a sequence model, or not in the zoo).
pub fn sequence(name: &str) -> Option<Sequence> {
    match name {
        "bert_base" => Some(Sequence::Encoder { window: 512 }),
        "gpt2_medium" => Some(Sequence::Decoder { window: 1024 }),
        _ => None,
    }
}

/// One model of the zoo and the figures it is checked against.
#[derive(Clone, Copy, Debug)]
pub struct ZooEntry {
    /// Name used in scenarios, e.g. `resnet50`.
    pub name: &'static str,
    /// One line: the variant and its input.
    pub description: &'static str,
    /// Learned parameters as published.
    pub published_params: u64,
    /// FLOPs per sample as published (2 per multiply-add), at the default [`ZooOptions`].
    pub published_flops: u64,
    /// Where the published figures come from.
    pub source: &'static str,
    build: fn(&ZooOptions) -> Result<Network, ZooError>,
}

/// Why a model cannot be built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ZooError {
    /// No model has this name.
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// `seq_len` is outside what the model accepts.
    #[error(
        "model `{model}`: seq_len must be between 1 and {max} (its position table), got {seq_len}"
    )]
    SeqLen {
        /// Model name.
        model: &'static str,
        /// The value given.
        seq_len: usize,
        /// Largest allowed.
        max: usize,
    },
    /// A KV cache was asked of a model without one, or the cache and the new tokens overflow
    /// the position table.
    #[error("model `{model}`: {message}")]
    KvCache {
        /// Model name.
        model: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Every model, in a stable order.
static CATALOG: &[ZooEntry] = &[
    ZooEntry {
        name: "alexnet",
        description: "AlexNet, BVLC Caffe reference model (grouped conv2/4/5, LRN), 3×227×227",
        // Krizhevsky et al. 2012 (NIPS), abstract: "60 million parameters". FLOPs:
        // albanie/convnet-burden README, `caffenet` row: 724 MFLOPs, where that table counts
        // one multiply-add as one FLOP → 1.448 GFLOPs.
        published_params: 60_000_000,
        published_flops: 1_448_000_000,
        source: "Krizhevsky et al. 2012 (60M params); albanie/convnet-burden caffenet 724M MACs",
        build: alexnet::alexnet,
    },
    ZooEntry {
        name: "vgg16",
        description: "VGG-16 (configuration D), torchvision layout, 3×224×224",
        // torchvision.models.VGG16_Weights.IMAGENET1K_V1 model card: 138,357,544 params,
        // "GFLOPS 15.47", which torchvision counts as multiply-adds → 30.94 GFLOPs.
        published_params: 138_357_544,
        published_flops: 30_940_000_000,
        source: "torchvision VGG16_Weights.IMAGENET1K_V1 (138,357,544 params; 15.47 GMACs)",
        build: vgg::vgg16,
    },
    ZooEntry {
        name: "resnet50",
        description: "ResNet-50 v1.5 (stride in the 3×3 conv), torchvision layout, 3×224×224",
        // torchvision ResNet50_Weights.IMAGENET1K_V1 model card: 25,557,032 params,
        // "GFLOPS 4.09" (multiply-adds) → 8.18 GFLOPs.
        published_params: 25_557_032,
        published_flops: 8_180_000_000,
        source: "torchvision ResNet50_Weights.IMAGENET1K_V1 (25,557,032 params; 4.09 GMACs)",
        build: resnet::resnet50,
    },
    ZooEntry {
        name: "mobilenet_v2",
        description: "MobileNetV2 1.0, torchvision layout, 3×224×224",
        // torchvision MobileNet_V2_Weights.IMAGENET1K_V1: 3,504,872 params, "GFLOPS 0.3";
        // Sandler et al. 2018 (CVPR) Table 4: 300M multiply-adds → 0.6 GFLOPs.
        published_params: 3_504_872,
        published_flops: 600_000_000,
        source: "torchvision MobileNet_V2_Weights.IMAGENET1K_V1 (3,504,872 params); Sandler et al. 2018 Table 4 (300M MAdds)",
        build: mobilenet::mobilenet_v2,
    },
    ZooEntry {
        name: "yolov3_tiny",
        description: "YOLOv3-tiny (darknet yolov3-tiny.cfg, 80 COCO classes), 3×416×416",
        // pjreddie.com/darknet/yolo performance table: YOLOv3-tiny at 416, 5.56 Bn FLOPs
        // (darknet counts 2 FLOPs per multiply-add). Params: ultralytics/yolov3 README table,
        // YOLOv3-tiny 8.8M (13.2 GFLOPs at 640, i.e. 5.6 at 416).
        published_params: 8_800_000,
        published_flops: 5_560_000_000,
        source: "pjreddie.com/darknet/yolo (5.56 BFLOPs at 416); ultralytics/yolov3 README (8.8M params)",
        build: detection::yolov3_tiny,
    },
    ZooEntry {
        name: "ssd_mobilenet_v1",
        description: "MobileNet-SSD (chuanqi305 Caffe, 21 VOC classes, 1×1 heads), 3×300×300",
        // OpenVINO Open Model Zoo, public/mobilenet-ssd: GFLOPs 2.316, MParams 5.783 (OMZ counts
        // 2 FLOPs per multiply-add).
        published_params: 5_783_000,
        published_flops: 2_316_000_000,
        source: "OpenVINO Open Model Zoo public/mobilenet-ssd (2.316 GFLOPs, 5.783M params)",
        build: detection::ssd_mobilenet_v1,
    },
    ZooEntry {
        name: "crnn",
        description: "CRNN (Shi, Bai & Yao 2015): 7 conv + 2 BiLSTM(256) + FC to 37 classes, 1×32×100",
        // Params: Shi et al. 2015 (arXiv:1507.05717) §3.4 comparison: 8.3M parameters.
        // FLOPs: no published figure found; this is the multiply-add count of the paper's
        // Table 1 configuration worked out by hand (conv 633.1M + LSTM 81.8M + FC 0.5M MACs
        // → 1.431 GFLOPs), so for CRNN the FLOPs check tests the builder's arithmetic only.
        published_params: 8_300_000,
        published_flops: 1_431_000_000,
        source: "Shi et al. 2015 (8.3M params); FLOPs hand-derived from its Table 1 (none published)",
        build: crnn::crnn,
    },
    ZooEntry {
        name: "bert_base",
        description: "BERT-base uncased (12 layers, d=768, 12 heads), [seq_len] token ids, with pooler",
        // Devlin et al. 2019 (NAACL) §3: BERT_BASE total parameters 110M. FLOPs: Sun et al. 2020
        // (MobileBERT, ACL) Table: BERT_BASE 22.5B FLOPs at sequence length 128.
        published_params: 110_000_000,
        published_flops: 22_500_000_000,
        source: "Devlin et al. 2019 (110M params); Sun et al. 2020 MobileBERT (22.5 GFLOPs at 128 tokens)",
        build: transformer::bert_base,
    },
    ZooEntry {
        name: "gpt2_medium",
        description: "GPT-2 medium (24 layers, d=1024, 16 heads), one forward pass over a [seq_len] prompt",
        // Params: Hugging Face `gpt2-medium` model card, "the 355M parameter version" (Radford et
        // al. 2019 Table 2 lists 345M). FLOPs: Kaplan et al. 2020 ("Scaling laws") Table 1,
        // C_forward = 2N + 2·n_layer·n_ctx·d_model per token with N = 12·n_layer·d_model²
        // = 301,989,888 → 610,271,232 FLOPs/token × 128 tokens = 78,114,717,696.
        published_params: 355_000_000,
        published_flops: 78_114_717_696,
        source: "HF gpt2-medium model card (355M params); Kaplan et al. 2020 Table 1 forward FLOPs at 128 tokens",
        build: transformer::gpt2_medium,
    },
    ZooEntry {
        name: "resnet18",
        description: "ResNet-18, torchvision layout, 3×224×224",
        // torchvision ResNet18_Weights.IMAGENET1K_V1: 11,689,512 params, 1.814 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 3.628 GFLOPs.
        published_params: 11_689_512,
        published_flops: 3_628_000_000,
        source: "torchvision ResNet18_Weights.IMAGENET1K_V1 (11,689,512 params; 1.814 GMACs)",
        build: resnet::resnet18,
    },
    ZooEntry {
        name: "resnet34",
        description: "ResNet-34, torchvision layout, 3×224×224",
        // torchvision ResNet34_Weights.IMAGENET1K_V1: 21,797,672 params, 3.664 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 7.328 GFLOPs.
        published_params: 21_797_672,
        published_flops: 7_328_000_000,
        source: "torchvision ResNet34_Weights.IMAGENET1K_V1 (21,797,672 params; 3.664 GMACs)",
        build: resnet::resnet34,
    },
    ZooEntry {
        name: "resnet101",
        description: "ResNet-101 v1.5 (stride in the 3×3 conv), torchvision layout, 3×224×224",
        // torchvision ResNet101_Weights.IMAGENET1K_V1: 44,549,160 params, 7.801 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 15.602 GFLOPs.
        published_params: 44_549_160,
        published_flops: 15_602_000_000,
        source: "torchvision ResNet101_Weights.IMAGENET1K_V1 (44,549,160 params; 7.801 GMACs)",
        build: resnet::resnet101,
    },
    ZooEntry {
        name: "resnet152",
        description: "ResNet-152 v1.5 (stride in the 3×3 conv), torchvision layout, 3×224×224",
        // torchvision ResNet152_Weights.IMAGENET1K_V1: 60,192,808 params, 11.514 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 23.028 GFLOPs.
        published_params: 60_192_808,
        published_flops: 23_028_000_000,
        source: "torchvision ResNet152_Weights.IMAGENET1K_V1 (60,192,808 params; 11.514 GMACs)",
        build: resnet::resnet152,
    },
    ZooEntry {
        name: "squeezenet1_0",
        description: "SqueezeNet 1.0, torchvision layout, 3×224×224",
        // torchvision SqueezeNet1_0_Weights.IMAGENET1K_V1: 1,248,424 params, 0.819 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 1.638 GFLOPs.
        published_params: 1_248_424,
        published_flops: 1_638_000_000,
        source: "torchvision SqueezeNet1_0_Weights.IMAGENET1K_V1 (1,248,424 params; 0.819 GMACs)",
        build: squeezenet::squeezenet1_0,
    },
    ZooEntry {
        name: "squeezenet1_1",
        description: "SqueezeNet 1.1, torchvision layout, 3×224×224",
        // torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1: 1,235,496 params, 0.349 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 0.698 GFLOPs.
        published_params: 1_235_496,
        published_flops: 698_000_000,
        source: "torchvision SqueezeNet1_1_Weights.IMAGENET1K_V1 (1,235,496 params; 0.349 GMACs)",
        build: squeezenet::squeezenet1_1,
    },
    ZooEntry {
        name: "densenet121",
        description: "DenseNet-121 (growth 32), torchvision layout, 3×224×224",
        // torchvision DenseNet121_Weights.IMAGENET1K_V1: 7,978,856 params, 2.834 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 5.668 GFLOPs.
        published_params: 7_978_856,
        published_flops: 5_668_000_000,
        source: "torchvision DenseNet121_Weights.IMAGENET1K_V1 (7,978,856 params; 2.834 GMACs)",
        build: densenet::densenet121,
    },
    ZooEntry {
        name: "densenet161",
        description: "DenseNet-161 (growth 48), torchvision layout, 3×224×224",
        // torchvision DenseNet161_Weights.IMAGENET1K_V1: 28,681,000 params, 7.728 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 15.456 GFLOPs.
        published_params: 28_681_000,
        published_flops: 15_456_000_000,
        source: "torchvision DenseNet161_Weights.IMAGENET1K_V1 (28,681,000 params; 7.728 GMACs)",
        build: densenet::densenet161,
    },
    ZooEntry {
        name: "densenet169",
        description: "DenseNet-169 (growth 32), torchvision layout, 3×224×224",
        // torchvision DenseNet169_Weights.IMAGENET1K_V1: 14,149,480 params, 3.36 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 6.72 GFLOPs.
        published_params: 14_149_480,
        published_flops: 6_720_000_000,
        source: "torchvision DenseNet169_Weights.IMAGENET1K_V1 (14,149,480 params; 3.36 GMACs)",
        build: densenet::densenet169,
    },
    ZooEntry {
        name: "densenet201",
        description: "DenseNet-201 (growth 32), torchvision layout, 3×224×224",
        // torchvision DenseNet201_Weights.IMAGENET1K_V1: 20,013,928 params, 4.291 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 8.582 GFLOPs.
        published_params: 20_013_928,
        published_flops: 8_582_000_000,
        source: "torchvision DenseNet201_Weights.IMAGENET1K_V1 (20,013,928 params; 4.291 GMACs)",
        build: densenet::densenet201,
    },
    ZooEntry {
        name: "vgg11",
        description: "VGG-11 (configuration A), torchvision layout, 3×224×224",
        // torchvision VGG11_Weights.IMAGENET1K_V1: 132,863,336 params, 7.609 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 15.218 GFLOPs.
        published_params: 132_863_336,
        published_flops: 15_218_000_000,
        source: "torchvision VGG11_Weights.IMAGENET1K_V1 (132,863,336 params; 7.609 GMACs)",
        build: vgg::vgg11,
    },
    ZooEntry {
        name: "vgg13",
        description: "VGG-13 (configuration B), torchvision layout, 3×224×224",
        // torchvision VGG13_Weights.IMAGENET1K_V1: 133,047,848 params, 11.308 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 22.616 GFLOPs.
        published_params: 133_047_848,
        published_flops: 22_616_000_000,
        source: "torchvision VGG13_Weights.IMAGENET1K_V1 (133,047,848 params; 11.308 GMACs)",
        build: vgg::vgg13,
    },
    ZooEntry {
        name: "vgg19",
        description: "VGG-19 (configuration E), torchvision layout, 3×224×224",
        // torchvision VGG19_Weights.IMAGENET1K_V1: 143,667,240 params, 19.632 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 39.264 GFLOPs.
        published_params: 143_667_240,
        published_flops: 39_264_000_000,
        source: "torchvision VGG19_Weights.IMAGENET1K_V1 (143,667,240 params; 19.632 GMACs)",
        build: vgg::vgg19,
    },
    ZooEntry {
        name: "vgg11_bn",
        description: "VGG-11 with batch norm, torchvision layout, 3×224×224",
        // torchvision VGG11_BN_Weights.IMAGENET1K_V1: 132,868,840 params, 7.609 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 15.218 GFLOPs.
        published_params: 132_868_840,
        published_flops: 15_218_000_000,
        source: "torchvision VGG11_BN_Weights.IMAGENET1K_V1 (132,868,840 params; 7.609 GMACs)",
        build: vgg::vgg11_bn,
    },
    ZooEntry {
        name: "vgg13_bn",
        description: "VGG-13 with batch norm, torchvision layout, 3×224×224",
        // torchvision VGG13_BN_Weights.IMAGENET1K_V1: 133,053,736 params, 11.308 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 22.616 GFLOPs.
        published_params: 133_053_736,
        published_flops: 22_616_000_000,
        source: "torchvision VGG13_BN_Weights.IMAGENET1K_V1 (133,053,736 params; 11.308 GMACs)",
        build: vgg::vgg13_bn,
    },
    ZooEntry {
        name: "vgg16_bn",
        description: "VGG-16 with batch norm, torchvision layout, 3×224×224",
        // torchvision VGG16_BN_Weights.IMAGENET1K_V1: 138,365,992 params, 15.47 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 30.94 GFLOPs.
        published_params: 138_365_992,
        published_flops: 30_940_000_000,
        source: "torchvision VGG16_BN_Weights.IMAGENET1K_V1 (138,365,992 params; 15.47 GMACs)",
        build: vgg::vgg16_bn,
    },
    ZooEntry {
        name: "vgg19_bn",
        description: "VGG-19 with batch norm, torchvision layout, 3×224×224",
        // torchvision VGG19_BN_Weights.IMAGENET1K_V1: 143,678,248 params, 19.632 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 39.264 GFLOPs.
        published_params: 143_678_248,
        published_flops: 39_264_000_000,
        source: "torchvision VGG19_BN_Weights.IMAGENET1K_V1 (143,678,248 params; 19.632 GMACs)",
        build: vgg::vgg19_bn,
    },
    ZooEntry {
        name: "shufflenet_v2_x0_5",
        description: "ShuffleNet V2 0.5×, torchvision layout, 3×224×224",
        // torchvision ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1: 1,366,792 params, 0.04 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 0.08 GFLOPs.
        published_params: 1_366_792,
        published_flops: 80_000_000,
        source: "torchvision ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1 (1,366,792 params; 0.04 GMACs)",
        build: shufflenet::shufflenet_v2_x0_5,
    },
    ZooEntry {
        name: "shufflenet_v2_x1_0",
        description: "ShuffleNet V2 1.0×, torchvision layout, 3×224×224",
        // torchvision ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1: 2,278,604 params, 0.145 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 0.29 GFLOPs.
        published_params: 2_278_604,
        published_flops: 290_000_000,
        source: "torchvision ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1 (2,278,604 params; 0.145 GMACs)",
        build: shufflenet::shufflenet_v2_x1_0,
    },
    ZooEntry {
        name: "shufflenet_v2_x1_5",
        description: "ShuffleNet V2 1.5×, torchvision layout, 3×224×224",
        // torchvision ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1: 3,503,624 params, 0.296 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 0.592 GFLOPs.
        published_params: 3_503_624,
        published_flops: 592_000_000,
        source: "torchvision ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1 (3,503,624 params; 0.296 GMACs)",
        build: shufflenet::shufflenet_v2_x1_5,
    },
    ZooEntry {
        name: "shufflenet_v2_x2_0",
        description: "ShuffleNet V2 2.0×, torchvision layout, 3×224×224",
        // torchvision ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1: 7,393,996 params, 0.583 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 1.166 GFLOPs.
        published_params: 7_393_996,
        published_flops: 1_166_000_000,
        source: "torchvision ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1 (7,393,996 params; 0.583 GMACs)",
        build: shufflenet::shufflenet_v2_x2_0,
    },
    ZooEntry {
        name: "mnasnet0_5",
        description: "MNASNet-B1 0.5, torchvision layout, 3×224×224",
        // torchvision MNASNet0_5_Weights.IMAGENET1K_V1: 2,218,512 params, 0.104 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 0.208 GFLOPs.
        published_params: 2_218_512,
        published_flops: 208_000_000,
        source: "torchvision MNASNet0_5_Weights.IMAGENET1K_V1 (2,218,512 params; 0.104 GMACs)",
        build: mnasnet::mnasnet0_5,
    },
    ZooEntry {
        name: "mnasnet0_75",
        description: "MNASNet-B1 0.75, torchvision layout, 3×224×224",
        // torchvision MNASNet0_75_Weights.IMAGENET1K_V1: 3,170,208 params, 0.215 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 0.43 GFLOPs.
        published_params: 3_170_208,
        published_flops: 430_000_000,
        source: "torchvision MNASNet0_75_Weights.IMAGENET1K_V1 (3,170,208 params; 0.215 GMACs)",
        build: mnasnet::mnasnet0_75,
    },
    ZooEntry {
        name: "mnasnet1_0",
        description: "MNASNet-B1 1.0, torchvision layout, 3×224×224",
        // torchvision MNASNet1_0_Weights.IMAGENET1K_V1: 4,383,312 params, 0.314 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 0.628 GFLOPs.
        published_params: 4_383_312,
        published_flops: 628_000_000,
        source: "torchvision MNASNet1_0_Weights.IMAGENET1K_V1 (4,383,312 params; 0.314 GMACs)",
        build: mnasnet::mnasnet1_0,
    },
    ZooEntry {
        name: "mnasnet1_3",
        description: "MNASNet-B1 1.3, torchvision layout, 3×224×224",
        // torchvision MNASNet1_3_Weights.IMAGENET1K_V1: 6,282,256 params, 0.526 GMACs
        // (`_ops` in its meta, the model card's "GFLOPS": multiply-adds) → 1.052 GFLOPs.
        published_params: 6_282_256,
        published_flops: 1_052_000_000,
        source: "torchvision MNASNet1_3_Weights.IMAGENET1K_V1 (6,282,256 params; 0.526 GMACs)",
        build: mnasnet::mnasnet1_3,
    },
    ZooEntry {
        name: "yolov3",
        description: "YOLOv3 (darknet yolov3.cfg, Darknet-53, 80 COCO classes), 3×416×416",
        // pjreddie.com/darknet/yolo performance table: YOLOv3-416, 65.86 Bn FLOPs (darknet counts
        // 2 FLOPs per multiply-add, convolutions only). Params: darknet's yolov3.weights is
        // 248,007,048 bytes, a 20-byte header and 62,001,757 floats (AlexeyAB/darknet#1910,
        // mystic123/tensorflow-yolo-v3#5); those include the running mean and variance of the
        // 26,304 batch-norm channels, which are not learned and not counted here: 62,001,757 −
        // 2 × 26,304 = 61,949,149 learned parameters (the tests check this exactly).
        published_params: 62_001_757,
        published_flops: 65_860_000_000,
        source: "pjreddie.com/darknet/yolo (65.86 BFLOPs at 416); yolov3.weights (62,001,757 floats)",
        build: detection::yolov3,
    },
];

/// Every model, in a stable order.
pub fn catalog() -> &'static [ZooEntry] {
    CATALOG
}

/// Names of every model, in catalog order.
pub fn names() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|e| e.name)
}

/// The catalog entry named `name`.
pub fn entry(name: &str) -> Result<&'static ZooEntry, ZooError> {
    CATALOG
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| ZooError::UnknownModel {
            name: name.to_string(),
            known: names().collect::<Vec<_>>().join(", "),
        })
}

/// The layer graph of model `name` (for building ONNX files from the same description).
pub fn build_network(name: &str, opts: &ZooOptions) -> Result<Network, ZooError> {
    let entry = entry(name)?;
    let decoder = matches!(sequence(entry.name), Some(Sequence::Decoder { .. }));
    if opts.past_len.is_some() && !decoder {
        return Err(ZooError::KvCache {
            model: entry.name,
            message: "has no KV cache (past_len is only for decoders such as gpt2_medium)".into(),
        });
    }
    (entry.build)(opts)
}

/// Model `name` as the simulator's operator list.
pub fn build(name: &str, opts: &ZooOptions) -> Result<Model, ZooError> {
    Ok(build_network(name, opts)?.to_model())
}

/// Checks `seq_len` against a model's position table.
fn check_seq_len(model: &'static str, opts: &ZooOptions, max: usize) -> Result<usize, ZooError> {
    if let Some(past) = opts.past_len
        && past + opts.seq_len > max
    {
        return Err(ZooError::KvCache {
            model,
            message: format!(
                "{past} cached + {} new positions exceed its {max} positions",
                opts.seq_len
            ),
        });
    }
    if (1..=max).contains(&opts.seq_len) {
        Ok(opts.seq_len)
    } else {
        Err(ZooError::SeqLen {
            model,
            seq_len: opts.seq_len,
            max,
        })
    }
}

#[cfg(test)]
mod tests;
