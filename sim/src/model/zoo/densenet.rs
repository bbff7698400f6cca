//! DenseNet-BC (Huang et al. 2017) as torchvision builds it (`torchvision/models/densenet.py`).

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool, TensorRef};

/// Bottleneck width factor: a dense layer's 1×1 conv has `BN_SIZE × growth` filters.
const BN_SIZE: usize = 4;

/// DenseNet-121: growth 32, blocks [6, 12, 24, 16], 64 stem filters.
pub(super) fn densenet121(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(densenet("densenet121", 32, [6, 12, 24, 16], 64))
}

/// DenseNet-161: growth 48, blocks [6, 12, 36, 24], 96 stem filters.
pub(super) fn densenet161(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(densenet("densenet161", 48, [6, 12, 36, 24], 96))
}

/// DenseNet-169: growth 32, blocks [6, 12, 32, 32], 64 stem filters.
pub(super) fn densenet169(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(densenet("densenet169", 32, [6, 12, 32, 32], 64))
}

/// DenseNet-201: growth 32, blocks [6, 12, 48, 32], 64 stem filters.
pub(super) fn densenet201(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(densenet("densenet201", 32, [6, 12, 48, 32], 64))
}

/// A DenseNet at 224×224: stem `features.conv0` (7×7/2, no bias), `norm0`, `relu0`, `pool0`
/// (3×3/2 max); four dense blocks, the first three followed by a transition that halves the
/// channels; `features.norm5`; then `forward`'s functional ReLU, adaptive average pool, flatten
/// and the `classifier` fc. Operators are named by torchvision's module paths.
fn densenet(name: &str, growth: usize, blocks: [usize; 4], stem_ch: usize) -> Network {
    let mut b = NetworkBuilder::new(name, &[3, 224, 224]);
    b.conv(
        "features.conv0",
        Conv::new(stem_ch, 7).stride(2).pad(3).no_bias(),
    );
    b.batch_norm("features.norm0");
    b.relu("features.relu0");
    b.pool("features.pool0", Pool::max(3).stride(2).pad(1));
    for (i, layers) in blocks.into_iter().enumerate() {
        dense_block(
            &mut b,
            &format!("features.denseblock{}", i + 1),
            layers,
            growth,
        );
        if i + 1 < blocks.len() {
            transition(&mut b, &format!("features.transition{}", i + 1));
        }
    }
    b.batch_norm("features.norm5");
    b.relu("relu");
    b.global_avg_pool("avgpool");
    b.flatten("flatten");
    b.linear("classifier", 1000, true);
    b.finish()
}

/// `layers` dense layers, each fed the concatenation of the block input and every earlier
/// layer's output, then the concatenation of all of them (`_DenseBlock.forward`).
fn dense_block(b: &mut NetworkBuilder, p: &str, layers: usize, growth: usize) {
    let mut features = vec![b.cursor()];
    for i in 1..=layers {
        let new = dense_layer(b, &format!("{p}.denselayer{i}"), &features, growth);
        features.push(new);
    }
    b.concat(&format!("{p}.cat"), 0, &features);
}

/// One dense layer (`_DenseLayer.forward`, no dropout at inference): `torch.cat` of `inputs` (a
/// copy even of one tensor), norm1-relu1-conv1 (1×1, `BN_SIZE·growth`), norm2-relu2-conv2
/// (3×3, `growth`). Returns the `growth` new channels.
fn dense_layer(b: &mut NetworkBuilder, p: &str, inputs: &[TensorRef], growth: usize) -> TensorRef {
    b.concat(&format!("{p}.cat"), 0, inputs);
    b.batch_norm(&format!("{p}.norm1"));
    b.relu(&format!("{p}.relu1"));
    b.conv(
        &format!("{p}.conv1"),
        Conv::new(BN_SIZE * growth, 1).no_bias(),
    );
    b.batch_norm(&format!("{p}.norm2"));
    b.relu(&format!("{p}.relu2"));
    b.conv(&format!("{p}.conv2"), Conv::new(growth, 3).pad(1).no_bias())
}

/// Transition: norm, relu, 1×1 conv halving the channels, 2×2/2 average pool.
fn transition(b: &mut NetworkBuilder, p: &str) {
    let half = b.shape()[0] / 2;
    b.batch_norm(&format!("{p}.norm"));
    b.relu(&format!("{p}.relu"));
    b.conv(&format!("{p}.conv"), Conv::new(half, 1).no_bias());
    b.pool(&format!("{p}.pool"), Pool::avg(2));
}
