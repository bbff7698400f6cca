//! ShuffleNet V2 (Ma et al. 2018) as torchvision builds it (`torchvision/models/shufflenetv2.py`).

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool, TensorRef};

/// Blocks per stage (stage2..4), the same for every width.
const REPEATS: [usize; 3] = [4, 8, 4];

/// ShuffleNet V2 0.5×: stage widths 48, 96, 192.
pub(super) fn shufflenet_v2_x0_5(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(shufflenet_v2("shufflenet_v2_x0_5", [24, 48, 96, 192, 1024]))
}

/// ShuffleNet V2 1.0×: stage widths 116, 232, 464.
pub(super) fn shufflenet_v2_x1_0(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(shufflenet_v2(
        "shufflenet_v2_x1_0",
        [24, 116, 232, 464, 1024],
    ))
}

/// ShuffleNet V2 1.5×: stage widths 176, 352, 704.
pub(super) fn shufflenet_v2_x1_5(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(shufflenet_v2(
        "shufflenet_v2_x1_5",
        [24, 176, 352, 704, 1024],
    ))
}

/// ShuffleNet V2 2.0×: stage widths 244, 488, 976, conv5 2048.
pub(super) fn shufflenet_v2_x2_0(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(shufflenet_v2(
        "shufflenet_v2_x2_0",
        [24, 244, 488, 976, 2048],
    ))
}

/// A ShuffleNet V2 at 224×224 with `widths` = (conv1, stage2, stage3, stage4, conv5) output
/// channels: `conv1` (3×3/2 conv-bn-relu), 3×3/2 max pool, stages of `REPEATS` blocks (the first
/// strides by 2), `conv5` (1×1 conv-bn-relu), the spatial mean and the `fc`. Operators are named
/// by torchvision's module paths (`stage2.0.branch2.3`, …).
///
/// `x.mean([2, 3])` is one call in torchvision; here it is a global average pool (`mean`) and a
/// flatten (`mean.flatten`), one operator more, as the builder's pooling keeps `[C, 1, 1]`.
fn shufflenet_v2(name: &str, widths: [usize; 5]) -> Network {
    let mut b = NetworkBuilder::new(name, &[3, 224, 224]);
    seq_conv_bn_relu(&mut b, "conv1", Conv::new(widths[0], 3).stride(2).pad(1));
    b.pool("maxpool", Pool::max(3).stride(2).pad(1));
    for (s, (&repeats, &width)) in REPEATS.iter().zip(&widths[1..4]).enumerate() {
        for i in 0..repeats {
            let p = format!("stage{}.{i}", s + 2);
            if i == 0 {
                down_block(&mut b, &p, width);
            } else {
                basic_block(&mut b, &p);
            }
        }
    }
    seq_conv_bn_relu(&mut b, "conv5", Conv::new(widths[4], 1));
    b.global_avg_pool("mean");
    b.flatten("mean.flatten");
    b.linear("fc", 1000, true);
    b.finish()
}

/// `nn.Sequential(conv (no bias), bn, relu)` named `{p}.0`, `{p}.1`, `{p}.2`.
fn seq_conv_bn_relu(b: &mut NetworkBuilder, p: &str, conv: Conv) -> TensorRef {
    b.conv(&format!("{p}.0"), conv.no_bias());
    b.batch_norm(&format!("{p}.1"));
    b.relu(&format!("{p}.2"))
}

/// Stride-1 block: split the channels in halves (`x.chunk(2, dim=1)`), run `branch2` on the
/// second, concatenate with the first and shuffle.
fn basic_block(b: &mut NetworkBuilder, p: &str) {
    let input = b.cursor();
    let ch = b.shape()[0];
    let half = ch / 2;
    let x1 = b.slice(&format!("{p}.chunk.0"), 0, 0, half);
    b.set_cursor(input);
    b.slice(&format!("{p}.chunk.1"), 0, half, ch);
    let x2 = branch2(b, p, half, 1);
    b.concat(&format!("{p}.cat"), 0, &[x1, x2]);
    channel_shuffle(b, p);
}

/// Stride-2 block: `branch1` (3×3/2 depthwise conv-bn, 1×1 conv-bn-relu) and `branch2` both on
/// the input, each giving `width / 2` channels, concatenated and shuffled.
fn down_block(b: &mut NetworkBuilder, p: &str, width: usize) {
    let input = b.cursor();
    let in_ch = b.shape()[0];
    let half = width / 2;
    let q = format!("{p}.branch1");
    b.conv(
        &format!("{q}.0"),
        Conv::new(in_ch, 3).stride(2).pad(1).groups(in_ch).no_bias(),
    );
    b.batch_norm(&format!("{q}.1"));
    b.conv(&format!("{q}.2"), Conv::new(half, 1).no_bias());
    b.batch_norm(&format!("{q}.3"));
    let x1 = b.relu(&format!("{q}.4"));
    b.set_cursor(input);
    let x2 = branch2(b, p, half, 2);
    b.concat(&format!("{p}.cat"), 0, &[x1, x2]);
    channel_shuffle(b, p);
}

/// `branch2` on the cursor: 1×1 conv-bn-relu, 3×3 depthwise conv-bn (carrying the stride),
/// 1×1 conv-bn-relu, all `width` channels wide.
fn branch2(b: &mut NetworkBuilder, p: &str, width: usize, stride: usize) -> TensorRef {
    let q = format!("{p}.branch2");
    b.conv(&format!("{q}.0"), Conv::new(width, 1).no_bias());
    b.batch_norm(&format!("{q}.1"));
    b.relu(&format!("{q}.2"));
    b.conv(
        &format!("{q}.3"),
        Conv::new(width, 3)
            .stride(stride)
            .pad(1)
            .groups(width)
            .no_bias(),
    );
    b.batch_norm(&format!("{q}.4"));
    b.conv(&format!("{q}.5"), Conv::new(width, 1).no_bias());
    b.batch_norm(&format!("{q}.6"));
    b.relu(&format!("{q}.7"))
}

/// `channel_shuffle(x, 2)`: view as `[2, C/2, H, W]`, swap the two group axes (the transpose
/// and its `.contiguous()` copy), view back as `[C, H, W]`.
fn channel_shuffle(b: &mut NetworkBuilder, p: &str) {
    let (c, h, w) = (b.shape()[0], b.shape()[1], b.shape()[2]);
    b.reshape(&format!("{p}.shuffle.view"), &[2, c / 2, h, w]);
    b.transpose(&format!("{p}.shuffle.transpose"), &[1, 0, 2, 3]);
    b.reshape(&format!("{p}.shuffle.flatten"), &[c, h, w]);
}
