//! Residual networks (He et al. 2016) as torchvision builds them (`torchvision/models/resnet.py`).

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool, TensorRef};

/// The residual block a ResNet stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// Two 3×3 convs (ResNet-18/34), expansion 1.
    Basic,
    /// 1×1 reduce, 3×3, 1×1 expand (ResNet-50/101/152), expansion 4.
    Bottleneck,
}

impl Block {
    fn expansion(self) -> usize {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }
}

/// ResNet-18: basic blocks [2, 2, 2, 2].
pub(super) fn resnet18(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(resnet("resnet18", Block::Basic, [2, 2, 2, 2]))
}

/// ResNet-34: basic blocks [3, 4, 6, 3].
pub(super) fn resnet34(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(resnet("resnet34", Block::Basic, [3, 4, 6, 3]))
}

/// ResNet-50: bottleneck blocks [3, 4, 6, 3].
pub(super) fn resnet50(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(resnet("resnet50", Block::Bottleneck, [3, 4, 6, 3]))
}

/// ResNet-101: bottleneck blocks [3, 4, 23, 3].
pub(super) fn resnet101(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(resnet("resnet101", Block::Bottleneck, [3, 4, 23, 3]))
}

/// ResNet-152: bottleneck blocks [3, 8, 36, 3].
pub(super) fn resnet152(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(resnet("resnet152", Block::Bottleneck, [3, 8, 36, 3]))
}

/// A ResNet at 224×224 (He et al. 2016, Table 1) in torchvision's layout: a 7×7/2 stem with max
/// pool, four stages of `depths` blocks of widths 64..512 (the first block of stages 2–4
/// strides by 2; bottlenecks are v1.5, the stride in the 3×3 conv), global average pool, flatten
/// and the 1000-way fc. Every conv is followed by batch normalisation and has no bias; a block
/// whose stride or width changes has a 1×1 projection shortcut (`downsample`).
///
/// One operator per module call of torchvision's `forward`, in its order. The block's single
/// `relu` module, called after each conv-bn and after the add, appears as `relu1`, `relu2`, ….
fn resnet(name: &str, block: Block, depths: [usize; 4]) -> Network {
    let mut b = NetworkBuilder::new(name, &[3, 224, 224]);
    b.conv("conv1", Conv::new(64, 7).stride(2).pad(3).no_bias());
    b.batch_norm("bn1");
    b.relu("relu");
    b.pool("maxpool", Pool::max(3).stride(2).pad(1));
    for (stage, (blocks, width)) in depths.into_iter().zip([64, 128, 256, 512]).enumerate() {
        for i in 0..blocks {
            let stride = if stage > 0 && i == 0 { 2 } else { 1 };
            let p = format!("layer{}.{i}", stage + 1);
            match block {
                Block::Basic => basic(&mut b, &p, width, stride),
                Block::Bottleneck => bottleneck(&mut b, &p, width, stride),
            }
        }
    }
    b.global_avg_pool("avgpool");
    b.flatten("flatten");
    b.linear("fc", 1000, true);
    b.finish()
}

/// Conv (no bias) + batch norm `{p}.conv{i}`, `{p}.bn{i}`.
fn conv_bn(b: &mut NetworkBuilder, p: &str, i: usize, conv: Conv) -> TensorRef {
    b.conv(&format!("{p}.conv{i}"), conv.no_bias());
    b.batch_norm(&format!("{p}.bn{i}"))
}

/// One basic block: 3×3 (carrying the stride) and 3×3, plus the shortcut.
fn basic(b: &mut NetworkBuilder, p: &str, width: usize, stride: usize) {
    let input = b.cursor();
    conv_bn(b, p, 1, Conv::new(width, 3).stride(stride).pad(1));
    b.relu(&format!("{p}.relu1"));
    let main = conv_bn(b, p, 2, Conv::new(width, 3).pad(1));
    residual(b, p, input, main, Block::Basic.expansion() * width, stride);
    b.relu(&format!("{p}.relu2"));
}

/// One bottleneck block: 1×1 reduce, 3×3 (carrying the stride), 1×1 expand, plus the shortcut.
fn bottleneck(b: &mut NetworkBuilder, p: &str, width: usize, stride: usize) {
    let input = b.cursor();
    conv_bn(b, p, 1, Conv::new(width, 1));
    b.relu(&format!("{p}.relu1"));
    conv_bn(b, p, 2, Conv::new(width, 3).stride(stride).pad(1));
    b.relu(&format!("{p}.relu2"));
    let out_ch = Block::Bottleneck.expansion() * width;
    let main = conv_bn(b, p, 3, Conv::new(out_ch, 1));
    residual(b, p, input, main, out_ch, stride);
    b.relu(&format!("{p}.relu3"));
}

/// `main` + the shortcut of `input`: the identity, or a strided 1×1 conv + batch norm
/// (`downsample`) when the stride or the width changes. Leaves the cursor on the sum.
fn residual(
    b: &mut NetworkBuilder,
    p: &str,
    input: TensorRef,
    main: TensorRef,
    out_ch: usize,
    stride: usize,
) {
    let in_ch = b.shape_of(input).map_or(0, |s| s[0]);
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
}
