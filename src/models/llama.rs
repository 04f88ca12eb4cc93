//! The LLaMA architecture (SmolLM2) from a GGUF file, f32 weights, explicit KV cache
//! ([`super::decoder`]). Pre-norm blocks: x += Wo·attn(RoPE(Wq·n(x)), RoPE(Wk·n(x)), Wv·n(x));
//! x += W2·(silu(W1·n(x)) ⊙ W3·n(x)); logits = Wout·n(x_last). Grouped-query attention,
//! interleaved RoPE (llama.cpp permutes q and k in the GGUF), output tied to the embeddings when
//! the file has no `output.weight`.

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
    attn_norm: Tensor,
    w1: Tensor,
    w2: Tensor,
    w3: Tensor,
    ffn_norm: Tensor,
}

/// A LLaMA-architecture decoder.
pub struct Llama {
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Tensor,
    cos: Tensor,
    sin: Tensor,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f32,
    max_len: usize,
}

impl Llama {
    /// Load from GGUF; rotary tables are built for `max_len` positions.
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        max_len: usize,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let heads = md_u32(ct, "llama.attention.head_count")?;
        let kv_heads = md_u32(ct, "llama.attention.head_count_kv")?;
        let blocks = md_u32(ct, "llama.block_count")?;
        let hidden = md_u32(ct, "llama.embedding_length")?;
        let head_dim = hidden / heads;
        let rope_dim = md_u32(ct, "llama.rope.dimension_count").unwrap_or(head_dim);
        let eps = md_f32_or(ct, "llama.attention.layer_norm_rms_epsilon", 1e-5);
        let base = md_f32_or(ct, "llama.rope.freq_base", 10000.0);
        let max_len = max_len.min(md_u32(ct, "llama.context_length").unwrap_or(max_len));
        let (cos, sin) = rope_tables(rope_dim, base, max_len, device)?;
        let embed = tensor(ct, reader, "token_embd.weight", device)?;
        let output = match ct.tensor_infos.contains_key("output.weight") {
            true => tensor(ct, reader, "output.weight", device)?,
            false => embed.clone(),
        };
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let mut t = |name: &str| tensor(ct, reader, &format!("blk.{i}.{name}.weight"), device);
            layers.push(Layer {
                wq: t("attn_q")?,
                wk: t("attn_k")?,
                wv: t("attn_v")?,
                wo: t("attn_output")?,
                attn_norm: t("attn_norm")?,
                w1: t("ffn_gate")?,
                w2: t("ffn_down")?,
                w3: t("ffn_up")?,
                ffn_norm: t("ffn_norm")?,
            });
        }
        Ok(Llama {
            embed,
            layers,
            norm: tensor(ct, reader, "output_norm.weight", device)?,
            output,
            cos,
            sin,
            heads,
            kv_heads,
            head_dim,
            eps,
            max_len,
        })
    }

    /// Longest sequence (cache included) the rotary tables cover.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Run `ids` `(b, s)` at positions `pos..pos+s` after `cache` (which must hold `pos` tokens of
    /// the same `b` sequences; `None` when `pos == 0`). Returns the next-token logits `(b, vocab)`
    /// (when `logits`; skipping them saves the output projection for prefixes) and the cache
    /// extended by these tokens.
    pub fn forward(
        &self,
        ids: &Tensor,
        pos: usize,
        cache: Option<&KvCache>,
        logits: bool,
    ) -> candle_core::Result<(Option<Tensor>, KvCache)> {
        let (b, s) = ids.dims2()?;
        let mut x = self
            .embed
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, s, ()))?;
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
            let q = rope(&q, &self.cos, &self.sin, pos, RopeStyle::Interleaved)?;
            let k = rope(&k, &self.cos, &self.sin, pos, RopeStyle::Interleaved)?;
            let past = cache.map(|c| &c.layers[l]);
            let (y, kv) = attention(&q, k, v, past, pos, scale, None)?;
            new_cache.push(kv);
            x = (x + linear(&y, &layer.wo)?)?;
            let h = rms_norm(&x, &layer.ffn_norm, self.eps)?;
            let gate = candle_nn::ops::silu(&linear(&h, &layer.w1)?)?;
            let up = linear(&h, &layer.w3)?;
            x = (x + linear(&(gate * up)?, &layer.w2)?)?;
        }
        let cache = KvCache { layers: new_cache };
        if !logits {
            return Ok((None, cache));
        }
        let h = rms_norm(&last_position(&x)?, &self.norm, self.eps)?;
        Ok((Some(linear(&h, &self.output)?), cache))
    }
}
