//! Object detectors. Box decoding and non-maximum suppression run on the host after the network
//! and are not operators here.

use super::mobilenet::{conv_bn, mobilenet_v1_body};
use super::{ZooError, ZooOptions};
use crate::model::ActivationFn;
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool, TensorRef};

/// YOLOv3-tiny at 416×416 for the 80 COCO classes, as darknet's `cfg/yolov3-tiny.cfg`
/// (pjreddie/darknet). Operators are named by darknet layer index: `conv0`, `pool1`, …,
/// `yolo16`, `route17`, …; convs with batch norm have no bias and use leaky ReLU. The two
/// `[yolo]` layers are modelled as the logistic over the head output they apply.
pub(super) fn yolov3_tiny(_: &ZooOptions) -> Result<Network, ZooError> {
    const LEAKY: Option<ActivationFn> = Some(ActivationFn::LeakyRelu);
    // 3 anchors × (4 box + 1 objectness + 80 classes), yolov3-tiny.cfg `filters=255`.
    const HEAD: usize = 255;
    let mut b = NetworkBuilder::new("yolov3_tiny", &[3, 416, 416]);
    let mut route8 = b.cursor();
    for (i, width) in [16, 32, 64, 128, 256, 512].into_iter().enumerate() {
        let out = conv_bn(
            &mut b,
            &format!("conv{}", 2 * i),
            Conv::new(width, 3).pad(1),
            LEAKY,
        );
        if 2 * i == 8 {
            route8 = out;
        }
        // The last max pool has stride 1 and darknet pads it at the end, keeping 13×13.
        let pool = if width == 512 {
            Pool::max(2).stride(1).pads([0, 0, 1, 1])
        } else {
            Pool::max(2)
        };
        b.pool(&format!("pool{}", 2 * i + 1), pool);
    }
    conv_bn(&mut b, "conv12", Conv::new(1024, 3).pad(1), LEAKY);
    let route13 = conv_bn(&mut b, "conv13", Conv::new(256, 1), LEAKY);
    conv_bn(&mut b, "conv14", Conv::new(512, 3).pad(1), LEAKY);
    b.conv("conv15", Conv::new(HEAD, 1));
    b.act("yolo16", ActivationFn::Sigmoid);
    b.set_cursor(route13);
    conv_bn(&mut b, "conv18", Conv::new(128, 1), LEAKY);
    let up = b.resize("upsample19", 2);
    b.concat("route20", 0, &[up, route8]);
    conv_bn(&mut b, "conv21", Conv::new(256, 3).pad(1), LEAKY);
    b.conv("conv22", Conv::new(HEAD, 1));
    b.act("yolo23", ActivationFn::Sigmoid);
    Ok(b.finish())
}

/// YOLOv3 at 416×416 for the 80 COCO classes, as darknet's `cfg/yolov3.cfg` (pjreddie/darknet):
/// the Darknet-53 body (residual blocks [1, 2, 8, 8, 4] after stride-2 convs) and three heads
/// at strides 32, 16 and 8, the last two fed by an upsampled 1×1 conv concatenated with body
/// layers 61 and 36. Named and modelled as [`yolov3_tiny`]: `conv{i}` by darknet layer index
/// (with `.bn` and `.act`, leaky ReLU), `shortcut{i}` adds, `upsample{i}`, two-input
/// `route{i}` concats (a one-input route only moves the cursor), and `yolo{i}` the logistic.
pub(super) fn yolov3(_: &ZooOptions) -> Result<Network, ZooError> {
    let mut d = Darknet {
        b: NetworkBuilder::new("yolov3", &[3, 416, 416]),
        layers: Vec::new(),
    };
    d.conv(32, 3, 1);
    for (blocks, width) in [(1, 64), (2, 128), (8, 256), (8, 512), (4, 1024)] {
        d.conv(width, 3, 2);
        for _ in 0..blocks {
            d.conv(width / 2, 1, 1);
            d.conv(width, 3, 1);
            d.shortcut(3);
        }
    }
    // Heads: five alternating 1×1/3×3 convs, a 3×3, the 1×1 detection conv and the yolo layer;
    // the second and third start from the fifth conv of the previous head (route -4).
    for (width, skip) in [(512, None), (256, Some(61)), (128, Some(36))] {
        if let Some(skip) = skip {
            d.route(&[d.layers.len() - 4]);
            d.conv(width, 1, 1);
            d.upsample();
            d.route(&[d.layers.len() - 1, skip]);
        }
        for _ in 0..3 {
            d.conv(width, 1, 1);
            d.conv(2 * width, 3, 1);
        }
        d.head();
    }
    Ok(d.b.finish())
}

/// A darknet cfg being built: every `[section]` is one layer, indexed as darknet counts them.
struct Darknet {
    b: NetworkBuilder,
    /// Output of each darknet layer so far.
    layers: Vec<TensorRef>,
}

impl Darknet {
    /// `[convolutional]` with `batch_normalize=1`, `pad=1` (size / 2) and leaky activation.
    fn conv(&mut self, filters: usize, size: usize, stride: usize) {
        let i = self.layers.len();
        let conv = Conv::new(filters, size).stride(stride).pad(size / 2);
        let out = conv_bn(
            &mut self.b,
            &format!("conv{i}"),
            conv,
            Some(ActivationFn::LeakyRelu),
        );
        self.layers.push(out);
    }

    /// `[shortcut] from=-{back}` with linear activation: the add of the previous layer and the
    /// layer `back` before this one.
    fn shortcut(&mut self, back: usize) {
        let i = self.layers.len();
        let from = self.layers[i - back];
        let out = self.b.add(&format!("shortcut{i}"), from);
        self.layers.push(out);
    }

    /// `[route]` of `from` (absolute indices): a concat of two or more, or the layer itself.
    fn route(&mut self, from: &[usize]) {
        let i = self.layers.len();
        let inputs: Vec<TensorRef> = from.iter().map(|&l| self.layers[l]).collect();
        let out = match inputs[..] {
            [one] => {
                self.b.set_cursor(one);
                one
            }
            _ => self.b.concat(&format!("route{i}"), 0, &inputs),
        };
        self.layers.push(out);
    }

    /// `[upsample] stride=2`: nearest-neighbour ×2.
    fn upsample(&mut self) {
        let i = self.layers.len();
        let out = self.b.resize(&format!("upsample{i}"), 2);
        self.layers.push(out);
    }

    /// The detection conv (1×1, 255 filters = 3 anchors × (4 + 1 + 80), bias, linear) and the
    /// `[yolo]` layer after it.
    fn head(&mut self) {
        let i = self.layers.len();
        let out = self.b.conv(&format!("conv{i}"), Conv::new(255, 1));
        self.layers.push(out);
        let out = self.b.act(&format!("yolo{}", i + 1), ActivationFn::Sigmoid);
        self.layers.push(out);
    }
}

/// MobileNet-SSD at 300×300 for the 21 PASCAL VOC classes (20 + background), as
/// chuanqi305/MobileNet-SSD (`MobileNetSSD_deploy.prototxt`), the model OpenVINO's Open Model
/// Zoo ships as `mobilenet-ssd`: the MobileNetV1 body, four extra 1×1/3×3-stride-2 stages, and
/// 1×1 box (`mbox_loc`) and class (`mbox_conf`) heads on six feature maps (19², 10², 5², 3², 2²,
/// 1²) with 3 priors on the first and 6 on the others. Batch norm is kept as its own operator.
pub(super) fn ssd_mobilenet_v1(_: &ZooOptions) -> Result<Network, ZooError> {
    const RELU: Option<ActivationFn> = Some(ActivationFn::Relu);
    const CLASSES: usize = 21;
    let mut b = NetworkBuilder::new("ssd_mobilenet_v1", &[3, 300, 300]);
    let (conv11, conv13) = mobilenet_v1_body(&mut b);
    let mut maps = vec![("conv11", conv11, 3), ("conv13", conv13, 6)];
    // Extra feature layers: (1×1 width, 3×3 stride-2 width).
    let extras = [
        ("conv14", 256, 512),
        ("conv15", 128, 256),
        ("conv16", 128, 256),
        ("conv17", 64, 128),
    ];
    for (p, reduce, width) in extras {
        conv_bn(&mut b, &format!("{p}_1"), Conv::new(reduce, 1), RELU);
        let out = conv_bn(
            &mut b,
            &format!("{p}_2"),
            Conv::new(width, 3).stride(2).pad(1),
            RELU,
        );
        maps.push((p, out, 6));
    }
    let (mut locs, mut confs) = (Vec::new(), Vec::new());
    for &(p, map, priors) in &maps {
        for (head, per_prior, list) in [("loc", 4, &mut locs), ("conf", CLASSES, &mut confs)] {
            b.set_cursor(map);
            b.conv(
                &format!("{p}_mbox_{head}"),
                Conv::new(priors * per_prior, 1),
            );
            b.transpose(&format!("{p}_mbox_{head}_perm"), &[1, 2, 0]);
            list.push(b.flatten(&format!("{p}_mbox_{head}_flat")));
        }
    }
    b.concat("mbox_loc", 0, &locs);
    let conf = b.concat("mbox_conf", 0, &confs);
    let priors = b.shape_of(conf).map_or(0, |s| s[0]) / CLASSES;
    b.reshape("mbox_conf_reshape", &[priors, CLASSES]);
    b.softmax("mbox_conf_softmax");
    b.flatten("mbox_conf_flatten");
    Ok(b.finish())
}
