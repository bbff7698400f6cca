//! VGG.

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool};

/// VGG-16, configuration D of Simonyan & Zisserman 2015 (Table 1), in torchvision's layout
/// (`torchvision/models/vgg.py`, cfg "D"): thirteen 3×3 convs with ReLU, five 2×2 max pools,
/// and the 4096-4096-1000 classifier with dropout. At 224×224 torchvision's 7×7 adaptive
/// average pool is the identity and is left out.
pub(super) fn vgg16(_: &ZooOptions) -> Result<Network, ZooError> {
    let stages: [&[usize]; 5] = [
        &[64, 64],
        &[128, 128],
        &[256, 256, 256],
        &[512, 512, 512],
        &[512, 512, 512],
    ];
    let mut b = NetworkBuilder::new("vgg16", &[3, 224, 224]);
    for (s, widths) in stages.iter().enumerate() {
        for (i, &w) in widths.iter().enumerate() {
            let id = format!("{}_{}", s + 1, i + 1);
            b.conv(&format!("conv{id}"), Conv::new(w, 3).pad(1));
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
    Ok(b.finish())
}
