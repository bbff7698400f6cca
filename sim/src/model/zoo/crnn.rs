//! CRNN text recognition.

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Network, NetworkBuilder, Pool};

/// CRNN (Shi, Bai & Yao 2015, arXiv:1507.05717, Table 1) on a 1×32×100 grey image: seven 3×3
/// convs (the last 2×2, unpadded) with ReLU, batch norm after the fifth and sixth, four max
/// pools (the last two 2×2 with stride 2×1 and one column of padding each side, as the reference
/// implementation, so the width becomes 26 frames), map-to-sequence, two bidirectional LSTMs of
/// 256 units, and a per-frame FC to 37 classes (26 letters + 10 digits + the CTC blank) with
/// softmax. CTC decoding runs on the host.
pub(super) fn crnn(_: &ZooOptions) -> Result<Network, ZooError> {
    const CLASSES: usize = 37;
    let mut b = NetworkBuilder::new("crnn", &[1, 32, 100]);
    let tall_pool = Pool::max(2).stride_hw([2, 1]).pads([0, 1, 0, 1]);
    // (conv index, width, batch norm, pool after).
    let convs = [
        (0, 64, false, Some(Pool::max(2))),
        (1, 128, false, Some(Pool::max(2))),
        (2, 256, false, None),
        (3, 256, false, Some(tall_pool)),
        (4, 512, true, None),
        (5, 512, true, Some(tall_pool)),
    ];
    for (i, width, bn, pool) in convs {
        b.conv(&format!("conv{i}"), Conv::new(width, 3).pad(1));
        if bn {
            b.batch_norm(&format!("bn{i}"));
        }
        b.relu(&format!("relu{i}"));
        if let Some(p) = pool {
            b.pool(&format!("pool{i}"), p);
        }
    }
    b.conv("conv6", Conv::new(512, 2));
    b.relu("relu6");
    // Map-to-sequence: [512, 1, W] → [W, 512], one frame per column.
    let (c, w) = (b.shape()[0], b.shape()[2]);
    b.reshape("map_to_seq.squeeze", &[c, w]);
    b.transpose("map_to_seq.transpose", &[1, 0]);
    b.lstm("blstm1", 256, true);
    b.lstm("blstm2", 256, true);
    b.linear("fc", CLASSES, true);
    b.softmax("softmax");
    Ok(b.finish())
}
