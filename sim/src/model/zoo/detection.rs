//! Object detectors. Box decoding and non-maximum suppression run on the host after the network
//! and are not operators here.

use super::mobilenet::{conv_bn, mobilenet_v1_body};
use super::{ZooError, ZooOptions};
use crate::model::ActivationFn;
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool};

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
