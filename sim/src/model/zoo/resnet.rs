//! Residual networks.

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool};

/// ResNet-50 (He et al. 2016, Table 1) as torchvision builds it (`torchvision/models/resnet.py`,
/// v1.5: the stride-2 of each stage sits in the 3×3 conv). Bottleneck blocks [3, 4, 6, 3] of
/// widths 64..512 with expansion 4; the first block of a stage has a 1×1 projection shortcut.
/// Every conv is followed by batch normalisation and has no bias.
pub(super) fn resnet50(_: &ZooOptions) -> Result<Network, ZooError> {
    let mut b = NetworkBuilder::new("resnet50", &[3, 224, 224]);
    b.conv("conv1", Conv::new(64, 7).stride(2).pad(3).no_bias());
    b.batch_norm("bn1");
    b.relu("relu");
    b.pool("maxpool", Pool::max(3).stride(2).pad(1));
    for (stage, (blocks, width)) in [(3, 64), (4, 128), (6, 256), (3, 512)]
        .into_iter()
        .enumerate()
    {
        for block in 0..blocks {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            bottleneck(
                &mut b,
                &format!("layer{}.{block}", stage + 1),
                width,
                stride,
            );
        }
    }
    b.global_avg_pool("avgpool");
    b.flatten("flatten");
    b.linear("fc", 1000, true);
    Ok(b.finish())
}

/// One bottleneck block: 1×1 reduce, 3×3 (carrying the stride), 1×1 expand, plus the shortcut.
fn bottleneck(b: &mut NetworkBuilder, p: &str, width: usize, stride: usize) {
    let input = b.cursor();
    let in_ch = b.shape()[0];
    let out_ch = 4 * width;
    b.conv(&format!("{p}.conv1"), Conv::new(width, 1).no_bias());
    b.batch_norm(&format!("{p}.bn1"));
    b.relu(&format!("{p}.relu1"));
    b.conv(
        &format!("{p}.conv2"),
        Conv::new(width, 3).stride(stride).pad(1).no_bias(),
    );
    b.batch_norm(&format!("{p}.bn2"));
    b.relu(&format!("{p}.relu2"));
    b.conv(&format!("{p}.conv3"), Conv::new(out_ch, 1).no_bias());
    let main = b.batch_norm(&format!("{p}.bn3"));
    let shortcut = if stride != 1 || in_ch != out_ch {
        b.set_cursor(input);
        b.conv(
            &format!("{p}.downsample.conv"),
            Conv::new(out_ch, 1).stride(stride).no_bias(),
        );
        b.batch_norm(&format!("{p}.downsample.bn"))
    } else {
        input
    };
    b.set_cursor(main);
    b.add(&format!("{p}.add"), shortcut);
    b.relu(&format!("{p}.relu3"));
}
