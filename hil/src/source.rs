//! The ONNX model of a stage, whatever its source: a zoo model or a model file is built with
//! random weights ([`crate::from_network`]); an `.onnx` file runs as it is, with its own weights.

use std::sync::Arc;

use infscaler_sim::model::layers::Network;
use infscaler_sim::model::onnx::proto::ModelProto;
use infscaler_sim::model::source::ModelSource;
use infscaler_sim::model::zoo::ZooOptions;

use crate::from_network::{self, BuildOptions};
use crate::import;

/// The stage's ONNX model and its layer graph (whose node `i` is the model's operator `i`, as
/// the importer groups the ONNX nodes).
pub fn stage_onnx(
    source: &ModelSource,
    zoo: &ZooOptions,
    build: &BuildOptions,
) -> Result<(ModelProto, Arc<Network>), String> {
    let net = source.network(zoo)?;
    let model = match source {
        ModelSource::Onnx(path) => import::read_model(path).map_err(|e| e.to_string())?,
        ModelSource::Zoo(_) | ModelSource::File(_) => {
            from_network::model_from_network(&net, build).map_err(|e| e.to_string())?
        }
    };
    Ok((model, net))
}
