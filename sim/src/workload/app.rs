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
    /// A variant family (`resnet`, `yolov3`, … see [`crate::model::accuracy::FAMILIES`]): the
    /// app is one model, and each request is served by one of the family's variants, which the
    /// policy chooses (Proteus). Mutually exclusive with `name` and `stages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// With `family`: the variants offered, a subset of the family's members (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<String>>,
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

/// An app as a run sees it: its name and its models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedApp {
    /// Display name.
    pub name: String,
    /// Model names: the stages in pipeline order, or the variants of a family from fastest to
    /// most accurate.
    pub models: Vec<String>,
    /// Whether the models are a family's variants (each request served by one) rather than
    /// stages (each request through all, in order).
    pub variants: bool,
}

impl AppSpec {
    /// The app's name and models, or (field, message) saying what is wrong.
    pub fn resolve_app(&self) -> Result<ResolvedApp, (&'static str, String)> {
        if let Some(family) = &self.family {
            if self.name.is_some() || self.stages.is_some() {
                return Err((
                    "app.family",
                    "give one of `name`, `stages` and `family`".into(),
                ));
            }
            let f = crate::model::accuracy::family(family).ok_or_else(|| {
                (
                    "app.family",
                    format!(
                        "unknown family `{family}`; known families: {}",
                        crate::model::accuracy::family_names()
                    ),
                )
            })?;
            let models: Vec<String> = match &self.variants {
                None => f.members.iter().map(|m| m.to_string()).collect(),
                Some(list) => {
                    if let Some(bad) = list.iter().find(|v| !f.members.contains(&v.as_str())) {
                        return Err((
                            "app.variants",
                            format!(
                                "`{bad}` is not a variant of `{}`; its variants: {}",
                                f.name,
                                f.members.join(", ")
                            ),
                        ));
                    }
                    // The family's order (fastest first), each once.
                    f.members
                        .iter()
                        .filter(|m| list.iter().any(|v| v == *m))
                        .map(|m| m.to_string())
                        .collect()
                }
            };
            if models.is_empty() {
                return Err(("app.variants", "is empty: list at least one variant".into()));
            }
            return Ok(ResolvedApp {
                name: f.name.to_string(),
                models,
                variants: true,
            });
        }
        if self.variants.is_some() {
            return Err(("app.variants", "only goes with `app.family`".into()));
        }
        let field = if self.stages.is_some() {
            "app.stages"
        } else {
            "app"
        };
        let (name, models) = self.resolve().map_err(|m| (field, m))?;
        Ok(ResolvedApp {
            name,
            models,
            variants: false,
        })
    }

    /// The app's display name and its stage model names, or a message saying what is wrong.
    pub fn resolve(&self) -> Result<(String, Vec<String>), String> {
        match (&self.name, &self.stages) {
            (Some(_), Some(_)) => Err("give either `name` or `stages`, not both".into()),
            (None, None) => Err(
                "missing: give `name` (a built-in app or a zoo model), `stages` or `family`".into(),
            ),
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

    #[test]
    fn a_family_resolves_to_its_variants_fastest_first() {
        let family = |variants: Option<Vec<&str>>| AppSpec {
            family: Some("resnet".into()),
            variants: variants.map(|v| v.into_iter().map(String::from).collect()),
            ..Default::default()
        };
        let all = family(None).resolve_app().unwrap();
        assert!(all.variants);
        assert_eq!(all.models.len(), 5);
        let some = family(Some(vec!["resnet152", "resnet18"]))
            .resolve_app()
            .unwrap();
        assert_eq!(some.models, vec!["resnet18", "resnet152"]);
        let (field, message) = family(Some(vec!["vgg16"])).resolve_app().unwrap_err();
        assert_eq!(field, "app.variants");
        assert!(message.contains("resnet18, resnet34"), "{message}");
        let unknown = AppSpec {
            family: Some("bert".into()),
            ..Default::default()
        };
        assert!(unknown.resolve_app().unwrap_err().1.contains("yolov3"));
    }
}
