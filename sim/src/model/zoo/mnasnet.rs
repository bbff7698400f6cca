//! MnasNet-B1 (Tan et al. 2019) as torchvision builds it (`torchvision/models/mnasnet.py`,
//! version 2: the stem is scaled with the width multiplier too).

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder};

/// Stacks of inverted residuals after the stem: (index into the depths, kernel, first stride,
/// expansion, repeats), as `MNASNet.__init__`.
const STACKS: [(usize, usize, usize, usize, usize); 6] = [
    (2, 3, 2, 3, 3),
    (3, 5, 2, 3, 3),
    (4, 5, 2, 6, 3),
    (5, 3, 1, 6, 2),
    (6, 5, 2, 6, 4),
    (7, 3, 1, 6, 1),
];

/// MNASNet 0.5.
pub(super) fn mnasnet0_5(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(mnasnet("mnasnet0_5", 0.5))
}

/// MNASNet 0.75.
pub(super) fn mnasnet0_75(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(mnasnet("mnasnet0_75", 0.75))
}

/// MNASNet 1.0.
pub(super) fn mnasnet1_0(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(mnasnet("mnasnet1_0", 1.0))
}

/// MNASNet 1.3.
pub(super) fn mnasnet1_3(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(mnasnet("mnasnet1_3", 1.3))
}

/// torchvision's `_round_to_multiple_of(val, divisor)` with its default bias 0.9: the nearest
/// multiple of `divisor` (at least `divisor`), one step up if that loses more than 10 %.
fn round_to_multiple_of(val: f64, divisor: usize) -> usize {
    let rounded = (((val + divisor as f64 / 2.0) as usize) / divisor * divisor).max(divisor);
    if rounded as f64 >= 0.9 * val {
        rounded
    } else {
        rounded + divisor
    }
}

/// A MNASNet at 224×224 with width multiplier `alpha`, all of it the `layers` sequence: a 3×3/2
/// conv-bn-relu stem, a depthwise-separable block (3×3 dw conv-bn-relu, 1×1 conv-bn), the
/// `STACKS` of inverted residuals and a 1×1 conv-bn-relu to 1280; then `forward`'s spatial mean
/// and the classifier (dropout, fc). Convs have no bias and activations are ReLU. Operators are
/// named by torchvision's module paths (`layers.8.0.layers.3`, …).
///
/// `x.mean([2, 3])` is one call in torchvision; here it is a global average pool (`mean`) and a
/// flatten (`mean.flatten`), one operator more, as the builder's pooling keeps `[C, 1, 1]`.
fn mnasnet(name: &str, alpha: f64) -> Network {
    let depths =
        [32, 16, 24, 40, 80, 96, 192, 320].map(|d| round_to_multiple_of(d as f64 * alpha, 8));
    let mut b = NetworkBuilder::new(name, &[3, 224, 224]);
    let mut seq = Sequential::new("layers");
    seq.conv(&mut b, Conv::new(depths[0], 3).stride(2).pad(1));
    seq.batch_norm(&mut b);
    seq.relu(&mut b);
    seq.conv(&mut b, Conv::new(depths[0], 3).pad(1).groups(depths[0]));
    seq.batch_norm(&mut b);
    seq.relu(&mut b);
    seq.conv(&mut b, Conv::new(depths[1], 1));
    seq.batch_norm(&mut b);
    for (depth, kernel, stride, expansion, repeats) in STACKS {
        let stack = seq.next_name();
        for i in 0..repeats {
            let stride = if i == 0 { stride } else { 1 };
            let p = format!("{stack}.{i}");
            inverted_residual(&mut b, &p, depths[depth], kernel, stride, expansion);
        }
    }
    seq.conv(&mut b, Conv::new(1280, 1));
    seq.batch_norm(&mut b);
    seq.relu(&mut b);
    b.global_avg_pool("mean");
    b.flatten("mean.flatten");
    b.dropout("classifier.0", 0.2);
    b.linear("classifier.1", 1000, true);
    b.finish()
}

/// `_InvertedResidual`: 1×1 expand conv-bn-relu, `kernel`² depthwise conv-bn-relu (carrying the
/// stride), linear 1×1 conv-bn, plus the input when stride is 1 and the width is unchanged.
fn inverted_residual(
    b: &mut NetworkBuilder,
    p: &str,
    out_ch: usize,
    kernel: usize,
    stride: usize,
    expansion: usize,
) {
    let input = b.cursor();
    let in_ch = b.shape()[0];
    let mid = in_ch * expansion;
    let mut seq = Sequential::new(&format!("{p}.layers"));
    seq.conv(b, Conv::new(mid, 1));
    seq.batch_norm(b);
    seq.relu(b);
    seq.conv(b, Conv::new(mid, kernel).stride(stride).same().groups(mid));
    seq.batch_norm(b);
    seq.relu(b);
    seq.conv(b, Conv::new(out_ch, 1));
    seq.batch_norm(b);
    if stride == 1 && in_ch == out_ch {
        b.add(&format!("{p}.add"), input);
    }
}

/// Names the members of an `nn.Sequential` `{prefix}.0`, `{prefix}.1`, … in call order.
struct Sequential {
    prefix: String,
    next: usize,
}

impl Sequential {
    fn new(prefix: &str) -> Self {
        Sequential {
            prefix: prefix.to_string(),
            next: 0,
        }
    }

    /// The next member's name.
    fn next_name(&mut self) -> String {
        self.next += 1;
        format!("{}.{}", self.prefix, self.next - 1)
    }

    /// A conv without bias (every MNASNet conv is followed by batch norm).
    fn conv(&mut self, b: &mut NetworkBuilder, conv: Conv) {
        b.conv(&self.next_name(), conv.no_bias());
    }

    fn batch_norm(&mut self, b: &mut NetworkBuilder) {
        b.batch_norm(&self.next_name());
    }

    fn relu(&mut self, b: &mut NetworkBuilder) {
        b.relu(&self.next_name());
    }
}

#[cfg(test)]
mod tests {
    use super::round_to_multiple_of;

    #[test]
    fn channel_rounding_matches_torchvision() {
        // torchvision's docstring examples: (83, 8) → 80, (84, 8) → 88.
        assert_eq!(round_to_multiple_of(83.0, 8), 80);
        assert_eq!(round_to_multiple_of(84.0, 8), 88);
        // MNASNet 0.5's first depths: 32·0.5 = 16, 16·0.5 = 8, 24·0.5 = 12 → 16.
        let half = [32, 16, 24].map(|d| round_to_multiple_of(d as f64 * 0.5, 8));
        assert_eq!(half, [16, 8, 16]);
        // 0.75: 24·0.75 = 18 → 16 loses over 10 % → 24.
        assert_eq!(round_to_multiple_of(18.0, 8), 24);
    }
}
