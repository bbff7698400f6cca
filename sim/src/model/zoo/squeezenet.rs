//! SqueezeNet (Iandola et al. 2016) as torchvision builds it (`torchvision/models/squeezenet.py`).

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool, TensorRef};

/// One entry of `features` after the stem.
#[derive(Clone, Copy, Debug)]
enum Feature {
    /// 3×3/2 max pool, ceil mode.
    MaxPool,
    /// Fire module: squeeze width, then expand width of each of the 1×1 and 3×3 branches.
    Fire(usize, usize),
}

use Feature::{Fire, MaxPool};

/// SqueezeNet 1.0: 7×7/2 stem of 96 filters, pools after fire 4 and fire 8.
pub(super) fn squeezenet1_0(_: &ZooOptions) -> Result<Network, ZooError> {
    let features = [
        Fire(16, 64),
        Fire(16, 64),
        Fire(32, 128),
        MaxPool,
        Fire(32, 128),
        Fire(48, 192),
        Fire(48, 192),
        Fire(64, 256),
        MaxPool,
        Fire(64, 256),
    ];
    Ok(squeezenet("squeezenet1_0", 96, 7, &features))
}

/// SqueezeNet 1.1: 3×3/2 stem of 64 filters, pools moved earlier (2.4× less work than 1.0).
pub(super) fn squeezenet1_1(_: &ZooOptions) -> Result<Network, ZooError> {
    let features = [
        Fire(16, 64),
        Fire(16, 64),
        MaxPool,
        Fire(32, 128),
        Fire(32, 128),
        MaxPool,
        Fire(48, 192),
        Fire(48, 192),
        Fire(64, 256),
        Fire(64, 256),
    ];
    Ok(squeezenet("squeezenet1_1", 64, 3, &features))
}

/// A SqueezeNet at 224×224: `features` is a stem conv (`stem_ch` filters of `stem_k`², stride 2,
/// with bias) + ReLU + 3×3/2 ceil-mode max pool, then `rest`; the classifier is dropout, a 1×1
/// conv to the 1000 classes, ReLU and global average pool; `forward` then flattens. Operators
/// are named by torchvision's module paths (`features.3.squeeze`, `classifier.1`, …).
fn squeezenet(name: &str, stem_ch: usize, stem_k: usize, rest: &[Feature]) -> Network {
    let pool = || Pool::max(3).stride(2).ceil_mode();
    let mut b = NetworkBuilder::new(name, &[3, 224, 224]);
    b.conv("features.0", Conv::new(stem_ch, stem_k).stride(2));
    b.relu("features.1");
    b.pool("features.2", pool());
    for (i, f) in rest.iter().enumerate() {
        let p = format!("features.{}", i + 3);
        match *f {
            MaxPool => b.pool(&p, pool()),
            Fire(squeeze, expand) => fire(&mut b, &p, squeeze, expand),
        };
    }
    b.dropout("classifier.0", 0.5);
    b.conv("classifier.1", Conv::new(1000, 1));
    b.relu("classifier.2");
    b.global_avg_pool("classifier.3");
    b.flatten("flatten");
    b.finish()
}

/// Fire module: squeeze 1×1 + ReLU, then expand 1×1 + ReLU and expand 3×3 + ReLU on the squeezed
/// map, concatenated along channels (`Fire.forward`'s order).
fn fire(b: &mut NetworkBuilder, p: &str, squeeze: usize, expand: usize) -> TensorRef {
    b.conv(&format!("{p}.squeeze"), Conv::new(squeeze, 1));
    let squeezed = b.relu(&format!("{p}.squeeze_activation"));
    b.conv(&format!("{p}.expand1x1"), Conv::new(expand, 1));
    let e1 = b.relu(&format!("{p}.expand1x1_activation"));
    b.set_cursor(squeezed);
    b.conv(&format!("{p}.expand3x3"), Conv::new(expand, 3).pad(1));
    let e3 = b.relu(&format!("{p}.expand3x3_activation"));
    b.concat(&format!("{p}.cat"), 0, &[e1, e3])
}
