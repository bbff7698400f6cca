//! VGG (Simonyan & Zisserman 2015) as torchvision builds it (`torchvision/models/vgg.py`).

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool};

/// Conv widths per stage (each stage ends in a 2×2 max pool): a configuration of Table 1.
type Config = [&'static [usize]; 5];

/// Configuration A (VGG-11), torchvision cfg "A".
const A: Config = [&[64], &[128], &[256, 256], &[512, 512], &[512, 512]];
/// Configuration B (VGG-13), torchvision cfg "B".
const B: Config = [
    &[64, 64],
    &[128, 128],
    &[256, 256],
    &[512, 512],
    &[512, 512],
];
/// Configuration D (VGG-16), torchvision cfg "D".
const D: Config = [
    &[64, 64],
    &[128, 128],
    &[256, 256, 256],
    &[512, 512, 512],
    &[512, 512, 512],
];
/// Configuration E (VGG-19), torchvision cfg "E".
const E: Config = [
    &[64, 64],
    &[128, 128],
    &[256, 256, 256, 256],
    &[512, 512, 512, 512],
    &[512, 512, 512, 512],
];

/// VGG-11 (configuration A).
pub(super) fn vgg11(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(vgg("vgg11", &A, false))
}

/// VGG-13 (configuration B).
pub(super) fn vgg13(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(vgg("vgg13", &B, false))
}

/// VGG-16 (configuration D).
pub(super) fn vgg16(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(vgg("vgg16", &D, false))
}

/// VGG-19 (configuration E).
pub(super) fn vgg19(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(vgg("vgg19", &E, false))
}

/// VGG-11 with batch normalisation.
pub(super) fn vgg11_bn(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(vgg("vgg11_bn", &A, true))
}

/// VGG-13 with batch normalisation.
pub(super) fn vgg13_bn(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(vgg("vgg13_bn", &B, true))
}

/// VGG-16 with batch normalisation.
pub(super) fn vgg16_bn(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(vgg("vgg16_bn", &D, true))
}

/// VGG-19 with batch normalisation.
pub(super) fn vgg19_bn(_: &ZooOptions) -> Result<Network, ZooError> {
    Ok(vgg("vgg19_bn", &E, true))
}

/// A VGG at 224×224 in torchvision's layout (`make_layers`): per stage, 3×3 convs (with bias),
/// each followed by batch norm when `batch_norm` and by ReLU, then a 2×2 max pool; flatten and
/// the 4096-4096-1000 classifier with ReLU and dropout. At 224×224 torchvision's 7×7 adaptive
/// average pool is the identity and is left out (so one `forward` call fewer than torchvision).
/// Operators are named `conv{stage}_{i}`, `bn{stage}_{i}`, `relu{stage}_{i}`, `pool{stage}`,
/// `fc6`..`fc8`.
fn vgg(name: &str, config: &Config, batch_norm: bool) -> Network {
    let mut b = NetworkBuilder::new(name, &[3, 224, 224]);
    for (s, widths) in config.iter().enumerate() {
        for (i, &w) in widths.iter().enumerate() {
            let id = format!("{}_{}", s + 1, i + 1);
            b.conv(&format!("conv{id}"), Conv::new(w, 3).pad(1));
            if batch_norm {
                b.batch_norm(&format!("bn{id}"));
            }
            b.relu(&format!("relu{id}"));
        }
        b.pool(&format!("pool{}", s + 1), Pool::max(2));
    }
    b.flatten("flatten");
    for i in [6, 7] {
        b.linear(&format!("fc{i}"), 4096, true);
        b.relu(&format!("relu{i}"));
        b.dropout(&format!("drop{i}"), 0.5);
    }
    b.linear("fc8", 1000, true);
    b.finish()
}
