//! Transformers: BERT and GPT-2.
//!
//! Attention is spelled out as ONNX exports do it: Q, K and V projections, split into heads
//! (reshape + transpose), `Q·Kᵀ` (MatMul of two activations), softmax, `P·V`, merge heads,
//! output projection. The 1/√d scale and the attention mask are folded into the softmax;
//! dropout is the identity at inference and is left out.

use super::{ZooError, ZooOptions, check_seq_len};
use crate::model::ActivationFn;
use crate::model::layers::{EmbeddingIds, Network, NetworkBuilder, TensorRef};

/// Multi-head self-attention over the cursor (`[T, d]`), named `{p}.*`; returns the output of
/// the output projection (`[T, d]`). With `past` (a decoder's KV cache), the keys and values of
/// the `T` new positions follow `past` cached ones, and the queries attend to all of them.
fn self_attention(b: &mut NetworkBuilder, p: &str, heads: usize, past: Option<usize>) -> TensorRef {
    let x = b.cursor();
    let (t, d) = (b.shape()[0], b.shape()[1]);
    let split = |b: &mut NetworkBuilder, name: &str| {
        b.set_cursor(x);
        b.linear(&format!("{p}.{name}"), d, true);
        b.reshape(&format!("{p}.{name}.split_heads"), &[t, heads, d / heads]);
        b.transpose(&format!("{p}.{name}.transpose"), &[1, 0, 2])
    };
    let q = split(b, "query");
    let mut k = split(b, "key");
    if let Some(past) = past {
        k = b.kv_cache(&format!("{p}.key.present"), past);
    }
    let mut v = split(b, "value");
    if let Some(past) = past {
        v = b.kv_cache(&format!("{p}.value.present"), past);
    }
    b.matmul(&format!("{p}.scores"), q, k, true);
    let probs = b.softmax(&format!("{p}.softmax"));
    b.matmul(&format!("{p}.context"), probs, v, false);
    b.transpose(&format!("{p}.context.transpose"), &[1, 0, 2]);
    b.reshape(&format!("{p}.context.merge_heads"), &[t, d]);
    b.linear(&format!("{p}.output"), d, true)
}

/// BERT-base uncased (Devlin et al. 2019; Hugging Face `bert-base-uncased` config: vocab 30522,
/// 512 positions, 2 token types, d = 768, 12 heads, FFN 3072, GELU, post-LayerNorm) on
/// `seq_len` token ids, with the pooler (tanh FC on the first token).
pub(super) fn bert_base(opts: &ZooOptions) -> Result<Network, ZooError> {
    const D: usize = 768;
    let t = check_seq_len("bert_base", opts, 512)?;
    let mut b = NetworkBuilder::new("bert_base", &[t]);
    let tokens = b.embedding("embeddings.word", 30522, D, EmbeddingIds::Tokens);
    b.set_cursor(TensorRef::Input);
    let positions = b.embedding("embeddings.position", 512, D, EmbeddingIds::Positions);
    b.set_cursor(TensorRef::Input);
    let segments = b.embedding("embeddings.token_type", 2, D, EmbeddingIds::FirstSegment);
    b.set_cursor(tokens);
    b.add("embeddings.add_position", positions);
    b.add("embeddings.add_token_type", segments);
    b.layer_norm("embeddings.norm");
    for l in 0..12 {
        let p = format!("layer{l}");
        let x = b.cursor();
        self_attention(&mut b, &format!("{p}.attention"), 12, None);
        b.add(&format!("{p}.attention.residual"), x);
        let y = b.layer_norm(&format!("{p}.attention.norm"));
        b.linear(&format!("{p}.ffn.up"), 4 * D, true);
        b.act(&format!("{p}.ffn.gelu"), ActivationFn::Gelu);
        b.linear(&format!("{p}.ffn.down"), D, true);
        b.add(&format!("{p}.ffn.residual"), y);
        b.layer_norm(&format!("{p}.ffn.norm"));
    }
    b.slice("pooler.first_token", 0, 0, 1);
    b.linear("pooler.dense", D, true);
    b.act("pooler.tanh", ActivationFn::Tanh);
    Ok(b.finish())
}

/// GPT-2 medium (Radford et al. 2019; Hugging Face `gpt2-medium` config: vocab 50257, 1024
/// positions, d = 1024, 16 heads, 24 layers, FFN 4096, pre-LayerNorm) as one forward pass over a
/// `seq_len`-token prompt (the prefill). The LM head (tied to the token embedding, so without
/// parameters of its own) is applied to the last position only, which is all that generating
/// the next token needs. The fused `c_attn` is written as three projections of the same size.
///
/// With `past_len` it is the model with a KV cache (`past_key_values`): each layer's keys and
/// values are appended to the cache's (`{p}.attn.key.present`, `.value.present`), so a decode
/// step is `seq_len` 1 after `past_len` positions.
pub(super) fn gpt2_medium(opts: &ZooOptions) -> Result<Network, ZooError> {
    const D: usize = 1024;
    const VOCAB: usize = 50257;
    let t = check_seq_len("gpt2_medium", opts, 1024)?;
    let mut b = NetworkBuilder::new("gpt2_medium", &[t]);
    let tokens = b.embedding("wte", VOCAB, D, EmbeddingIds::Tokens);
    b.set_cursor(TensorRef::Input);
    let positions = b.embedding("wpe", 1024, D, EmbeddingIds::Positions);
    b.set_cursor(tokens);
    b.add("embeddings.add_position", positions);
    for l in 0..24 {
        let p = format!("h{l}");
        let x = b.cursor();
        b.layer_norm(&format!("{p}.ln_1"));
        self_attention(&mut b, &format!("{p}.attn"), 16, opts.past_len);
        let y = b.add(&format!("{p}.attn.residual"), x);
        b.layer_norm(&format!("{p}.ln_2"));
        b.linear(&format!("{p}.mlp.fc"), 4 * D, true);
        b.act(&format!("{p}.mlp.gelu"), ActivationFn::Gelu);
        b.linear(&format!("{p}.mlp.proj"), D, true);
        b.add(&format!("{p}.mlp.residual"), y);
    }
    b.layer_norm("ln_f");
    b.slice("last_token", 0, t - 1, t);
    b.layer(
        "lm_head",
        crate::model::layers::Layer::Unembedding {
            vocab: VOCAB,
            dim: D,
        },
    );
    Ok(b.finish())
}
