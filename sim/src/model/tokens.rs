//! Requests with sizes: how a request's prompt and generated tokens become the work of each
//! sequence stage of an app (`app.tokens = "trace"`, or a fixed `app.generated_tokens`).
//!
//! The model of execution (also in `docs/apps.md`):
//!
//! - **Encoder** stages (BERT) run one forward pass over the request's prompt.
//! - **Decoder** stages (GPT-2) run the prefill, a forward pass over the prompt with a KV cache
//!   that also yields the first generated token, then one decode step per further generated
//!   token: a forward pass over one token after the prompt and the tokens generated so far
//!   (`ZooOptions::past_len`), reading and extending the cache
//!   ([`crate::model::layers::Layer::KvCache`]). A request that generates nothing runs the
//!   prefill only.
//! - **Other** stages (CNNs) do not depend on the size.
//! - **Windows.** A model reads at most its position table (`Sequence::window`): an encoder
//!   keeps the last `window` prompt tokens; a decoder keeps up to `window − 1` generated tokens
//!   and the last prompt tokens that fit with them (as a serving front end truncates the
//!   prompt from the left).
//! - **Static batching.** A batch runs as one padded tensor: every request at the batch's
//!   longest prompt, decoding until its longest generation ends (no continuous batching, no
//!   early exit of finished sequences), as a Hugging Face `generate` call or an ONNX Runtime
//!   session with a fixed batch does `[assumed]`. The padded positions never exceed the window.
//! - **Granularity.** Sequence lengths are rounded up to a multiple of `bucket` tokens (default
//!   32) and the cost model is evaluated once per multiple: this bounds the plans a run
//!   computes. It is a property of the approximation, not of a runtime; a runtime that pads to
//!   fixed profiles (TensorRT's optimisation profiles) pads at least as much `[assumed]`.
//! - In a pipeline, each stage charges its own layers' share of every decode step as one batch;
//!   the loop of a partitioned decoder through its stages once per token (and the transfers
//!   between them) is not modelled.
//!
//! Every shape's operators come from the model's layer shapes at that length
//! ([`crate::model::zoo::build`]); nothing is scaled or fitted per size.

use std::sync::Arc;

use super::Operator;
use super::cost::{self, Target};
use super::zoo::{self, Sequence, ZooError, ZooOptions};
use serde::{Deserialize, Serialize};

/// A request's size in tokens, as an LLM trace gives it (the Azure LLM inference trace's
/// `ContextTokens` and `GeneratedTokens`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestTokens {
    /// Prompt tokens.
    pub context: u32,
    /// Tokens the request generates.
    pub generated: u32,
}

/// Default rounding of sequence lengths, tokens `[assumed]`: the granularity of the cost
/// approximation (one plan per multiple), not a property of any runtime.
pub const DEFAULT_BUCKET: u32 = 32;

/// One forward pass of a stage at a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// The pass over the prompt (or, for an encoder, the only pass), `tokens` long.
    Prefill {
        /// Tokens of the (padded) prompt.
        tokens: u32,
    },
    /// One decode step: one token after `past` cached positions.
    Decode {
        /// Positions already in the KV cache.
        past: u32,
    },
}

/// The operators of one stage at every size it runs at.
#[derive(Debug)]
struct StageShapes {
    sequence: Option<Sequence>,
    /// Whether requests generate on this stage (a decoder, in an app that generates).
    decodes: bool,
    /// Whole-model operators per prefill bucket (`tokens = min((k + 1) · bucket, window)`).
    prefill: Vec<Arc<[Operator]>>,
    /// Whole-model operators per decode bucket (`past = min((k + 1) · bucket, window − 1)`).
    decode: Vec<Arc<[Operator]>>,
    /// Isolated batch-1 time (fastest accelerator, idle device) per prefill bucket, ns.
    prefill_solo_ns: Vec<u64>,
    /// Isolated batch-1 time per decode bucket, ns.
    decode_solo_ns: Vec<u64>,
}

/// An app's stages at every request size: operators per shape and isolated times.
#[derive(Debug)]
pub struct TokenModel {
    bucket: u32,
    stages: Vec<StageShapes>,
}

impl TokenModel {
    /// The shapes of the app whose stages are the zoo models `stages`, lengths rounded to
    /// `bucket` tokens; `generate`: whether decoder stages generate tokens. Isolated times are
    /// costed on `target`.
    pub fn new(
        stages: &[String],
        bucket: u32,
        generate: bool,
        target: Target<'_>,
    ) -> Result<TokenModel, ZooError> {
        assert!(bucket > 0, "a bucket of at least one token");
        let stages = stages
            .iter()
            .map(|name| StageShapes::new(name, bucket, generate, target))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TokenModel { bucket, stages })
    }

    /// Whether any stage depends on the request's size.
    pub fn is_sized(&self) -> bool {
        self.stages.iter().any(|s| s.sequence.is_some())
    }

    /// Whether stage `stage` depends on the request's size.
    pub fn stage_is_sized(&self, stage: usize) -> bool {
        self.stages.get(stage).is_some_and(|s| s.sequence.is_some())
    }

    /// `tokens` as stage `stage` reads them (see [`clamp`]).
    pub fn clamp(&self, stage: usize, tokens: RequestTokens) -> RequestTokens {
        match self.stages.get(stage) {
            Some(s) => clamp(s.sequence, s.decodes, tokens),
            None => tokens,
        }
    }

    /// The passes a batch whose (clamped) longest prompt and longest generation are `batch`
    /// runs on stage `stage`, each with how many times it runs; empty for a stage that does not
    /// depend on the size.
    pub fn passes(&self, stage: usize, batch: RequestTokens) -> Vec<(Shape, u32)> {
        let Some(s) = self.stages.get(stage) else {
            return Vec::new();
        };
        let Some(sequence) = s.sequence else {
            return Vec::new();
        };
        let window = sequence.window() as u32;
        let mut passes = vec![(
            Shape::Prefill {
                tokens: self.round(batch.context, window),
            },
            1,
        )];
        if s.decodes && batch.generated >= 2 {
            // Step j = 1 ..= g − 1 runs after context + j − 1 positions; a padded batch whose
            // positions would pass the window runs its last steps at the window.
            let cap = window - 1;
            let mut past = batch.context;
            let mut left = batch.generated - 1;
            while left > 0 {
                let rounded = self.round(past.min(cap), cap);
                let n = if rounded == cap {
                    left
                } else {
                    (rounded - past + 1).min(left)
                };
                passes.push((Shape::Decode { past: rounded }, n));
                past += n;
                left -= n;
            }
        }
        passes
    }

    /// The whole model of stage `stage` at `shape` (a shape from [`passes`](Self::passes)).
    pub fn operators(&self, stage: usize, shape: Shape) -> &Arc<[Operator]> {
        let s = &self.stages[stage];
        match shape {
            Shape::Prefill { tokens } => &s.prefill[self.index(tokens)],
            Shape::Decode { past } => &s.decode[self.index(past)],
        }
    }

    /// The isolated latency of a request of `tokens`: for each stage, its passes at batch 1
    /// alone on the stage's fastest accelerator; `fixed_ns[stage]` for a stage that does not
    /// depend on the size.
    pub fn isolated_ns(&self, tokens: RequestTokens, fixed_ns: &[u64]) -> u64 {
        (0..self.stages.len())
            .map(|stage| {
                let s = &self.stages[stage];
                if s.sequence.is_none() {
                    return fixed_ns.get(stage).copied().unwrap_or(0);
                }
                self.passes(stage, self.clamp(stage, tokens))
                    .into_iter()
                    .map(|(shape, count)| {
                        let solo = match shape {
                            Shape::Prefill { tokens } => s.prefill_solo_ns[self.index(tokens)],
                            Shape::Decode { past } => s.decode_solo_ns[self.index(past)],
                        };
                        solo * u64::from(count)
                    })
                    .sum::<u64>()
            })
            .sum()
    }

    /// `n` rounded up to a multiple of the bucket, at most `cap`.
    fn round(&self, n: u32, cap: u32) -> u32 {
        n.max(1)
            .div_ceil(self.bucket)
            .saturating_mul(self.bucket)
            .min(cap)
    }

    /// The bucket index of a rounded length.
    fn index(&self, rounded: u32) -> usize {
        (rounded.div_ceil(self.bucket) - 1) as usize
    }
}

/// `tokens` as a model reading `sequence` takes them: within its window (see the module
/// documentation), the prompt at least one token, nothing generated unless it `decodes`;
/// unchanged for a model that is not a sequence model.
pub fn clamp(sequence: Option<Sequence>, decodes: bool, tokens: RequestTokens) -> RequestTokens {
    let Some(sequence) = sequence else {
        return tokens;
    };
    let window = sequence.window() as u32;
    let generated = if decodes {
        tokens.generated.min(window - 1)
    } else {
        0
    };
    let room = window + 1 - generated.max(1);
    RequestTokens {
        context: tokens.context.clamp(1, room),
        generated,
    }
}

/// Whether zoo model `name` generates in an app whose requests generate (`generate`).
pub fn decodes(name: &str, generate: bool) -> bool {
    generate && matches!(zoo::sequence(name), Some(Sequence::Decoder { .. }))
}

/// The options of model `name`'s planning model for a request of `reference`: the operator
/// list partitions cut and policies cost. A prefill of the request's prompt (rounded to
/// `bucket`, within the window), with the KV cache where the model decodes, so that every shape
/// has the same operators in the same order.
pub fn planning_options(
    name: &str,
    reference: RequestTokens,
    generate: bool,
    bucket: u32,
) -> ZooOptions {
    let sequence = zoo::sequence(name);
    let decodes = decodes(name, generate);
    let context = clamp(sequence, decodes, reference).context;
    let window = sequence.map_or(usize::MAX, Sequence::window);
    ZooOptions {
        seq_len: (context.div_ceil(bucket) * bucket).min(window as u32) as usize,
        past_len: decodes.then_some(0),
    }
}

impl StageShapes {
    fn new(
        name: &str,
        bucket: u32,
        generate: bool,
        target: Target<'_>,
    ) -> Result<StageShapes, ZooError> {
        let sequence = zoo::sequence(name);
        let decodes = decodes(name, generate);
        let mut shapes = StageShapes {
            sequence,
            decodes,
            prefill: Vec::new(),
            decode: Vec::new(),
            prefill_solo_ns: Vec::new(),
            decode_solo_ns: Vec::new(),
        };
        let Some(sequence) = sequence else {
            return Ok(shapes);
        };
        let window = sequence.window() as u32;
        let build = |seq_len: u32, past_len: Option<u32>| -> Result<Arc<[Operator]>, ZooError> {
            let opts = ZooOptions {
                seq_len: seq_len as usize,
                past_len: past_len.map(|p| p as usize),
            };
            Ok(zoo::build(name, &opts)?.operators.into())
        };
        let solo = |ops: &[Operator]| cost::fastest_solo(ops, target).1;
        let buckets = |cap: u32| (1..=cap.div_ceil(bucket)).map(move |k| (k * bucket).min(cap));
        for tokens in buckets(window) {
            let ops = build(tokens, decodes.then_some(0))?;
            shapes.prefill_solo_ns.push(solo(&ops));
            shapes.prefill.push(ops);
        }
        if decodes {
            for past in buckets(window - 1) {
                let ops = build(1, Some(past))?;
                shapes.decode_solo_ns.push(solo(&ops));
                shapes.decode.push(ops);
            }
        }
        Ok(shapes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::profile::DeviceProfile;
    use crate::model::runtime::RuntimeProfile;

    fn model(stages: &[&str], generate: bool) -> TokenModel {
        let device = DeviceProfile::builtin("xavier-agx").expect("built in");
        let runtime = RuntimeProfile::builtin("tensorrt").expect("built in");
        let names: Vec<String> = stages.iter().map(|s| s.to_string()).collect();
        TokenModel::new(
            &names,
            DEFAULT_BUCKET,
            generate,
            Target::new(&device, &runtime),
        )
        .expect("builds")
    }

    fn tokens(context: u32, generated: u32) -> RequestTokens {
        RequestTokens { context, generated }
    }

    #[test]
    fn requests_are_clamped_to_each_models_window() {
        let m = model(&["bert_base", "gpt2_medium", "resnet50"], true);
        // BERT: 512 positions, nothing generated.
        assert_eq!(m.clamp(0, tokens(2000, 300)), tokens(512, 0));
        // GPT-2: 1024 positions: generation kept, the prompt truncated to fit.
        assert_eq!(m.clamp(1, tokens(2000, 300)), tokens(725, 300));
        assert_eq!(m.clamp(1, tokens(10, 5000)), tokens(2, 1023));
        assert_eq!(m.clamp(1, tokens(0, 0)), tokens(1, 0));
        // A CNN takes the request as it is.
        assert_eq!(m.clamp(2, tokens(2000, 300)), tokens(2000, 300));
        assert!(!m.stage_is_sized(2) && m.stage_is_sized(0) && m.is_sized());
    }

    #[test]
    fn a_decoder_runs_one_step_per_generated_token_after_the_first() {
        let m = model(&["gpt2_medium"], true);
        let passes = m.passes(0, tokens(40, 70));
        assert_eq!(passes[0], (Shape::Prefill { tokens: 64 }, 1));
        // Steps after 40 ..= 108 positions: 40..=64 (25 steps), 65..=96 (32), 97..=108 (12).
        assert_eq!(
            passes[1..],
            [
                (Shape::Decode { past: 64 }, 25),
                (Shape::Decode { past: 96 }, 32),
                (Shape::Decode { past: 128 }, 12),
            ]
        );
        let steps: u32 = passes[1..].iter().map(|p| p.1).sum();
        assert_eq!(steps, 69);
        // Generating one token or none is the prefill alone.
        assert_eq!(m.passes(0, tokens(40, 1)).len(), 1);
        // Without generation a decoder is an encoder of its prompt.
        let no_gen = model(&["gpt2_medium"], false);
        assert_eq!(no_gen.passes(0, tokens(40, 70)).len(), 1);
    }

    #[test]
    fn padded_batches_never_pass_the_window() {
        let m = model(&["gpt2_medium"], true);
        // A batch of a long prompt and a long generation (each clamped alone).
        let passes = m.passes(0, tokens(1000, 900));
        assert_eq!(passes[0], (Shape::Prefill { tokens: 1024 }, 1));
        assert_eq!(passes[1..], [(Shape::Decode { past: 1023 }, 899)]);
    }

    #[test]
    fn costs_grow_with_the_prompt_and_with_the_cache() {
        let m = model(&["gpt2_medium"], true);
        let iso = |c, g| m.isolated_ns(tokens(c, g), &[]);
        assert!(iso(512, 0) > iso(64, 0));
        assert!(iso(64, 100) > iso(64, 10));
        // A decode step reads the weights once more: 90 more steps cost more than the prefill.
        assert!(iso(64, 100) - iso(64, 10) > iso(64, 0));
        // Decode after a longer cache reads more of it.
        let step = |past| {
            let ops = m.operators(0, Shape::Decode { past });
            ops.iter().map(|o| o.input_elems).sum::<u64>()
        };
        assert!(step(1000) > step(32));
        // Every shape has the planning model's operators, in the same order.
        let reference = tokens(100, 20);
        let opts = planning_options("gpt2_medium", reference, true, DEFAULT_BUCKET);
        assert_eq!((opts.seq_len, opts.past_len), (128, Some(0)));
        let plan = zoo::build("gpt2_medium", &opts).unwrap();
        for shape in [Shape::Prefill { tokens: 1024 }, Shape::Decode { past: 96 }] {
            let ops = m.operators(0, shape);
            assert_eq!(ops.len(), plan.operators.len());
            assert!(
                ops.iter()
                    .zip(&plan.operators)
                    .all(|(a, b)| a.name == b.name)
            );
        }
    }
}
