//! MobileNets: V2 as a classifier, V1 as the SSD backbone.

use super::{ZooError, ZooOptions};
use crate::model::ActivationFn;
use crate::model::layers::{Conv, Network, NetworkBuilder, TensorRef};

/// Conv (no bias) + batch norm + optional activation, named `{p}`, `{p}.bn`, `{p}.act`.
pub(super) fn conv_bn(
    b: &mut NetworkBuilder,
    p: &str,
    conv: Conv,
    act: Option<ActivationFn>,
) -> TensorRef {
    b.conv(p, conv.no_bias());
    let out = b.batch_norm(&format!("{p}.bn"));
    match act {
        Some(f) => b.act(&format!("{p}.act"), f),
        None => out,
    }
}

/// MobileNetV2 1.0 at 224×224 (Sandler et al. 2018, Table 2) as torchvision builds it
/// (`torchvision/models/mobilenetv2.py`): inverted residual blocks (t, c, n, s) with ReLU6, a
/// linear 1×1 projection and an identity shortcut when stride is 1 and widths match.
pub(super) fn mobilenet_v2(_: &ZooOptions) -> Result<Network, ZooError> {
    const RELU6: Option<ActivationFn> = Some(ActivationFn::Relu6);
    // Sandler et al. 2018, Table 2: expansion t, output channels c, repeats n, first stride s.
    let settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    let mut b = NetworkBuilder::new("mobilenet_v2", &[3, 224, 224]);
    conv_bn(
        &mut b,
        "features.0",
        Conv::new(32, 3).stride(2).pad(1),
        RELU6,
    );
    let mut index = 1;
    for (t, c, n, s) in settings {
        for i in 0..n {
            let p = format!("features.{index}");
            let input = b.cursor();
            let in_ch = b.shape()[0];
            let stride = if i == 0 { s } else { 1 };
            let hidden = in_ch * t;
            if t != 1 {
                conv_bn(&mut b, &format!("{p}.expand"), Conv::new(hidden, 1), RELU6);
            }
            conv_bn(
                &mut b,
                &format!("{p}.dw"),
                Conv::new(hidden, 3).stride(stride).pad(1).groups(hidden),
                RELU6,
            );
            conv_bn(&mut b, &format!("{p}.project"), Conv::new(c, 1), None);
            if stride == 1 && in_ch == c {
                b.add(&format!("{p}.add"), input);
            }
            index += 1;
        }
    }
    conv_bn(
        &mut b,
        &format!("features.{index}"),
        Conv::new(1280, 1),
        RELU6,
    );
    b.global_avg_pool("avgpool");
    b.flatten("flatten");
    b.dropout("classifier.dropout", 0.2);
    b.linear("classifier.fc", 1000, true);
    Ok(b.finish())
}

/// The MobileNetV1 body (Howard et al. 2017, Table 1) up to conv13, with ReLU after every batch
/// norm, named as in chuanqi305/MobileNet-SSD (`conv0`, `conv1/dw`, `conv1`, …). Returns the
/// outputs of conv11 (stride 16) and conv13 (stride 32), the first two SSD feature maps.
pub(super) fn mobilenet_v1_body(b: &mut NetworkBuilder) -> (TensorRef, TensorRef) {
    const RELU: Option<ActivationFn> = Some(ActivationFn::Relu);
    // Howard et al. 2017, Table 1: (pointwise output channels, depthwise stride) for conv1..13.
    let blocks = [
        (64, 1),
        (128, 2),
        (128, 1),
        (256, 2),
        (256, 1),
        (512, 2),
        (512, 1),
        (512, 1),
        (512, 1),
        (512, 1),
        (512, 1),
        (1024, 2),
        (1024, 1),
    ];
    conv_bn(b, "conv0", Conv::new(32, 3).stride(2).pad(1), RELU);
    let mut conv11 = b.cursor();
    for (i, (out, stride)) in blocks.into_iter().enumerate() {
        let ch = b.shape()[0];
        conv_bn(
            b,
            &format!("conv{}/dw", i + 1),
            Conv::new(ch, 3).stride(stride).pad(1).groups(ch),
            RELU,
        );
        let out = conv_bn(b, &format!("conv{}", i + 1), Conv::new(out, 1), RELU);
        if i + 1 == 11 {
            conv11 = out;
        }
    }
    (conv11, b.cursor())
}
