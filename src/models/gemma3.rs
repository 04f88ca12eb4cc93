//! Gemma 3 (text) from a GGUF file, f32 weights, explicit KV cache ([`super::decoder`]).
//!
//! Differences from LLaMA: embeddings scaled by √hidden; RMS norms on q and k per head; a norm
//! after attention and after the MLP as well as before; GELU (tanh approximation, HF's
//! `gelu_pytorch_tanh`) in the gated MLP (candle-transformers 0.11.1's `quantized_gemma3` uses
//! SiLU here; `tests/next_word.rs` checks that GELU gives the better likelihood on real text);
//! RoPE on halves with base 10⁶ on global layers and 10⁴ on local ones; local layers (five of
//! every six) attend within a sliding window. Output tied to the embeddings.

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};

use super::decoder::{
    attention, last_position, linear, md_f32_or, md_u32, rms_norm, rope, rope_tables, tensor,
    KvCache, RopeStyle,
};

struct Layer {
    wq: Tensor,
    wk: Tensor,
    wv: Tensor,
    wo: Tensor,
    q_norm: Tensor,
    k_norm: Tensor,
    attn_norm: Tensor,
    post_attn_norm: Tensor,
    gate: Tensor,
    up: Tensor,
    down: Tensor,
    ffn_norm: Tensor,
    post_ffn_norm: Tensor,
    /// Sliding window (local layers) or `None` (global layers).
    window: Option<usize>,
}

/// Which activation the gated MLP uses (GELU for Gemma 3; SiLU only to compare with candle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    GeluTanh,
    Silu,
}

/// A Gemma 3 decoder.
pub struct Gemma3 {
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    rope_global: (Tensor, Tensor),
    rope_local: (Tensor, Tensor),
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    hidden: usize,
    eps: f32,
    max_len: usize,
    activation: Activation,
}

impl Gemma3 {
    /// Load from GGUF; rotary tables are built for `max_len` positions.
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        max_len: usize,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let p = "gemma3";
        let heads = md_u32(ct, &format!("{p}.attention.head_count"))?;
        let kv_heads = md_u32(ct, &format!("{p}.attention.head_count_kv"))?;
        let blocks = md_u32(ct, &format!("{p}.block_count"))?;
        let hidden = md_u32(ct, &format!("{p}.embedding_length"))?;
        let head_dim = md_u32(ct, &format!("{p}.attention.key_length"))?;
        let eps = md_f32_or(ct, &format!("{p}.attention.layer_norm_rms_epsilon"), 1e-6);
        let window = md_u32(ct, &format!("{p}.attention.sliding_window")).unwrap_or(512);
        let pattern = md_u32(ct, &format!("{p}.attention.sliding_window_type")).unwrap_or(6);
        let base = md_f32_or(ct, &format!("{p}.rope.freq_base"), 1e6);
        let base_local = md_f32_or(ct, &format!("{p}.rope.local_freq_base"), 1e4);
        let max_len = max_len.min(md_u32(ct, &format!("{p}.context_length")).unwrap_or(max_len));
        let embed = tensor(ct, reader, "token_embd.weight", device)?;
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let mut t = |name: &str| tensor(ct, reader, &format!("blk.{i}.{name}.weight"), device);
            layers.push(Layer {
                wq: t("attn_q")?,
                wk: t("attn_k")?,
                wv: t("attn_v")?,
                wo: t("attn_output")?,
                q_norm: t("attn_q_norm")?,
                k_norm: t("attn_k_norm")?,
                attn_norm: t("attn_norm")?,
                post_attn_norm: t("post_attention_norm")?,
                gate: t("ffn_gate")?,
                up: t("ffn_up")?,
                down: t("ffn_down")?,
                ffn_norm: t("ffn_norm")?,
                post_ffn_norm: t("post_ffw_norm")?,
                window: ((i + 1) % pattern != 0).then_some(window),
            });
        }
        Ok(Gemma3 {
            embed,
            layers,
            norm: tensor(ct, reader, "output_norm.weight", device)?,
            rope_global: rope_tables(head_dim, base, max_len, device)?,
            rope_local: rope_tables(head_dim, base_local, max_len, device)?,
            heads,
            kv_heads,
            head_dim,
            hidden,
            eps,
            max_len,
            activation: Activation::GeluTanh,
        })
    }

    /// Longest sequence (cache included) the rotary tables cover.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Use another MLP activation (only to compare with candle-transformers' choice).
    pub fn set_activation(&mut self, a: Activation) {
        self.activation = a;
    }

    /// As [`super::llama::Llama::forward`].
    pub fn forward(
        &self,
        ids: &Tensor,
        pos: usize,
        cache: Option<&KvCache>,
        logits: bool,
    ) -> candle_core::Result<(Option<Tensor>, KvCache)> {
        let (b, s) = ids.dims2()?;
        let mut x = (self
            .embed
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, s, ()))?
            * (self.hidden as f64).sqrt())?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let mut new_cache = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let h = rms_norm(&x, &layer.attn_norm, self.eps)?;
            let q = linear(&h, &layer.wq)?
                .reshape((b, s, self.heads, self.head_dim))?
                .transpose(1, 2)?;
            let k = linear(&h, &layer.wk)?
                .reshape((b, s, self.kv_heads, self.head_dim))?
                .transpose(1, 2)?;
            let v = linear(&h, &layer.wv)?
                .reshape((b, s, self.kv_heads, self.head_dim))?
                .transpose(1, 2)?;
            let q = rms_norm(&q, &layer.q_norm, self.eps)?;
            let k = rms_norm(&k, &layer.k_norm, self.eps)?;
            let (cos, sin) = match layer.window {
                Some(_) => &self.rope_local,
                None => &self.rope_global,
            };
            let q = rope(&q, cos, sin, pos, RopeStyle::Halves)?;
            let k = rope(&k, cos, sin, pos, RopeStyle::Halves)?;
            let past = cache.map(|c| &c.layers[l]);
            let (y, kv) = attention(&q, k, v.contiguous()?, past, pos, scale, layer.window)?;
            new_cache.push(kv);
            let y = rms_norm(&linear(&y, &layer.wo)?, &layer.post_attn_norm, self.eps)?;
            x = (x + y)?;
            let h = rms_norm(&x, &layer.ffn_norm, self.eps)?;
            let gate = linear(&h, &layer.gate)?;
            let gate = match self.activation {
                Activation::GeluTanh => gate.gelu()?,
                Activation::Silu => candle_nn::ops::silu(&gate)?,
            };
            let y = linear(&(gate * linear(&h, &layer.up)?)?, &layer.down)?;
            x = (x + rms_norm(&y, &layer.post_ffn_norm, self.eps)?)?;
        }
        let cache = KvCache { layers: new_cache };
        if !logits {
            return Ok((None, cache));
        }
        let h = rms_norm(&last_position(&x)?, &self.norm, self.eps)?;
        Ok((Some(linear(&h, &self.embed)?), cache))
    }
}
