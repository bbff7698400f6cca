//! AlexNet in its original Caffe form.

use super::{ZooError, ZooOptions};
use crate::model::layers::{Conv, Layer, Network, NetworkBuilder, Pool};

/// AlexNet as BVLC's Caffe reference model (`models/bvlc_alexnet/deploy.prototxt` in
/// BVLC/caffe): 3×227×227 input; conv2, conv4 and conv5 split into two groups (the two GPU
/// halves of Krizhevsky et al. 2012, §3.2, Fig. 2); LRN (local_size 5, α = 1e-4, β = 0.75,
/// k = 1) after relu1 and relu2; overlapping 3×3/2 max pooling.
///
/// Exactly 24 operators, so the InfScaler paper's Fig. 2 numbering #1..#24 maps onto it:
/// conv1 relu1 norm1 pool1 conv2 relu2 norm2 pool2 conv3 relu3 conv4 relu4 conv5 relu5 pool5
/// flatten fc6 relu6 drop6 fc7 relu7 drop7 fc8 softmax (#1 conv1, #5 conv2, #13 conv5).
pub(super) fn alexnet(_: &ZooOptions) -> Result<Network, ZooError> {
    // bvlc_alexnet LRN parameters; Caffe's default k is 1.
    let lrn = || Layer::Lrn {
        size: 5,
        alpha: 1e-4,
        beta: 0.75,
        bias: 1.0,
    };
    let pool = || Pool::max(3).stride(2).ceil_mode();
    let mut b = NetworkBuilder::new("alexnet", &[3, 227, 227]);
    b.conv("conv1", Conv::new(96, 11).stride(4));
    b.relu("relu1");
    b.layer("norm1", lrn());
    b.pool("pool1", pool());
    b.conv("conv2", Conv::new(256, 5).pad(2).groups(2));
    b.relu("relu2");
    b.layer("norm2", lrn());
    b.pool("pool2", pool());
    b.conv("conv3", Conv::new(384, 3).pad(1));
    b.relu("relu3");
    b.conv("conv4", Conv::new(384, 3).pad(1).groups(2));
    b.relu("relu4");
    b.conv("conv5", Conv::new(256, 3).pad(1).groups(2));
    b.relu("relu5");
    b.pool("pool5", pool());
    b.flatten("flatten");
    for (i, width) in [(6, 4096), (7, 4096)] {
        b.linear(&format!("fc{i}"), width, true);
        b.relu(&format!("relu{i}"));
        b.dropout(&format!("drop{i}"), 0.5);
    }
    b.linear("fc8", 1000, true);
    b.softmax("softmax");
    Ok(b.finish())
}
