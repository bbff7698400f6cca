//! Applications: pipelines of zoo models that a request passes through in order.
//!
//! The InfScaler paper evaluates five production applications taken from INFless (ASPLOS'22) and
//! AdaInf (SIGCOMM'23), named TM, LT, PT, LPR and VU; its Table I, which lists their models, is not
//! in the text we have. The pipelines below are our stand-ins, built from zoo models so that each
//! has the character its name implies (documented per app; see also `docs/apps.md`). Any single zoo
//! model is also an app of one stage, and a scenario may list its own stages.

use serde::{Deserialize, Serialize};

/// A built-in application: a named pipeline of zoo models.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinApp {
    /// Short name used in scenarios (`app.name`).
    pub name: &'static str,
    /// What the pipeline stands for.
    pub description: &'static str,
    /// Zoo models, in the order a request visits them.
    pub stages: &'static [&'static str],
}

/// The five benchmark stand-ins, in the paper's order.
pub const BUILTIN_APPS: &[BuiltinApp] = &[
    BuiltinApp {
        name: "tm",
        description: "Traffic monitoring: detect vehicles in a camera frame, classify each crop",
        stages: &["ssd_mobilenet_v1", "resnet50"],
    },
    BuiltinApp {
        name: "lt",
        description: "Language translation: classify the source text, then generate with a \
                      decoder-only language model",
        stages: &["bert_base", "gpt2_medium"],
    },
    BuiltinApp {
        name: "pt",
        description: "Photo tagging: detect objects, then tag them with a large CNN classifier",
        stages: &["yolov3_tiny", "vgg16"],
    },
    BuiltinApp {
        name: "lpr",
        description: "License plate recognition: detect the plate, read it with a CRNN",
        stages: &["yolov3_tiny", "crnn"],
    },
    BuiltinApp {
        name: "vu",
        description: "Video understanding: detect, classify the scene, describe it with a language \
                      model",
        stages: &["yolov3_tiny", "resnet50", "gpt2_medium"],
    },
];

/// Looks up a built-in application by name (case-insensitive).
pub fn builtin_app(name: &str) -> Option<&'static BuiltinApp> {
    BUILTIN_APPS
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The `[app]` table of a scenario: a built-in app, a single zoo model, or explicit stages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// A built-in app (`tm`, `lt`, `pt`, `lpr`, `vu`) or a zoo model name (an app of one stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Explicit pipeline of zoo model names; mutually exclusive with `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<String>>,
    /// Sequence length for transformer models (tokens); default 128.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_len: Option<usize>,
    /// Where each request's size comes from (see [`crate::model::tokens`]): `fixed` (the
    /// default: every request `seq_len` prompt tokens and `generated_tokens` generated) or
    /// `trace` (the workload trace's token columns, per request).
    #[serde(default, skip_serializing_if = "TokenSource::is_fixed")]
    pub tokens: TokenSource,
    /// Tokens every request generates on a decoder stage, with `tokens = "fixed"`: a prefill
    /// then one decode step per further token. Default 0: one forward pass over the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_tokens: Option<u32>,
    /// Sequence lengths of requests with sizes are rounded up to a multiple of this many
    /// tokens (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_bucket: Option<u32>,
}

/// Where requests get their sizes in tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// Every request the same: `app.seq_len` and `app.generated_tokens`.
    #[default]
    Fixed,
    /// Each request its own, from the workload trace's `ContextTokens` and `GeneratedTokens`
    /// columns (names set by `workload.context_column` and `workload.generated_column`).
    Trace,
}

impl TokenSource {
    fn is_fixed(&self) -> bool {
        *self == TokenSource::Fixed
    }
}

impl AppSpec {
    /// The app's display name and its stage model names, or a message saying what is wrong.
    pub fn resolve(&self) -> Result<(String, Vec<String>), String> {
        match (&self.name, &self.stages) {
            (Some(_), Some(_)) => Err("give either `name` or `stages`, not both".into()),
            (None, None) => {
                Err("missing: give `name` (a built-in app or a zoo model) or `stages`".into())
            }
            (None, Some(stages)) => {
                if stages.is_empty() {
                    Err("`stages` is empty: list at least one zoo model".into())
                } else {
                    Ok((stages.join("+"), stages.clone()))
                }
            }
            (Some(name), None) => match builtin_app(name) {
                Some(app) => Ok((
                    app.name.to_string(),
                    app.stages.iter().map(|s| s.to_string()).collect(),
                )),
                None => Ok((name.clone(), vec![name.clone()])),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_and_single_model_apps_resolve() {
        let tm = AppSpec {
            name: Some("TM".into()),
            ..Default::default()
        };
        assert_eq!(
            tm.resolve().unwrap().1,
            vec!["ssd_mobilenet_v1", "resnet50"]
        );
        let single = AppSpec {
            name: Some("alexnet".into()),
            ..Default::default()
        };
        assert_eq!(
            single.resolve().unwrap(),
            ("alexnet".to_string(), vec!["alexnet".to_string()])
        );
        let both = AppSpec {
            name: Some("tm".into()),
            stages: Some(vec![]),
            ..Default::default()
        };
        assert!(both.resolve().is_err());
    }
}
