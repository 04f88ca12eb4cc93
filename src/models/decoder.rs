//! Pieces shared by the decoder-only transformers of [`super::llama`] and [`super::gemma3`]:
//! weights read from GGUF and dequantised to f32, rotary tables, causal self-attention with an
//! explicit KV cache, and the cache itself.
//!
//! candle-transformers' quantized models keep their KV cache private and (in 0.11.1) fail on a
//! batch of more than one sequence (`quantized_llama` hands a strided last-position slice to a
//! quantized matmul; `quantized_gemma3` to an RMS norm). These models are written in the same
//! style but take the cache as an argument and return the new one, so that many masked prompts
//! that share a prefix can share its computation ([`KvCache::select`] repeats a prefix's cache
//! for every continuation). Weights are dequantised to f32 at load: on CPU candle's f32 GEMM is
//! several times faster than its quantized matmul for prompt processing (measured: SmolLM2,
//! 45 tokens, 5.3 s quantized vs 0.5 s f32 under load).

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};

/// Read one tensor of a GGUF file, dequantised to f32.
pub(crate) fn tensor<R: std::io::Read + std::io::Seek>(
    ct: &gguf_file::Content,
    reader: &mut R,
    name: &str,
    device: &Device,
) -> candle_core::Result<Tensor> {
    ct.tensor(reader, name, device)?.dequantize(device)
}

/// A u32 metadata value `key`.
pub(crate) fn md_u32(ct: &gguf_file::Content, key: &str) -> candle_core::Result<usize> {
    match ct.metadata.get(key) {
        Some(v) => Ok(v.to_u32()? as usize),
        None => candle_core::bail!("the GGUF metadata has no {key}"),
    }
}

/// An f32 metadata value `key`, or `default`.
pub(crate) fn md_f32_or(ct: &gguf_file::Content, key: &str, default: f32) -> f32 {
    ct.metadata
        .get(key)
        .and_then(|v| v.to_f32().ok())
        .unwrap_or(default)
}

/// `x · wᵀ` for `x` of shape `(…, in)` and `w` of shape `(out, in)`, `(…, out)`.
///
/// On CPU with f32 tensors (the decoders' only configuration on CPU) the product runs through
/// [`super::cpu_kernels::matmul_wt_fixed_k`], whose summation order depends on `in` alone: a
/// masked prompt's logits are then the same bits whatever the batch size and the thread count
/// (test `lm_masked_values_do_not_depend_on_batch_size_or_threads` in tests/next_word.rs) and, by
/// construction, the CPU's cache sizes (candle's `x.matmul(&w.t())` sums in an order that changes
/// with the number of rows for up to 8 rows and, for `in` > 512, with the L1 cache size; the
/// attention products, per sequence, stay with candle). Elsewhere candle's matmul.
pub(crate) fn linear(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    if !(x.device().is_cpu() && x.dtype() == DType::F32 && w.dtype() == DType::F32) {
        return x.broadcast_matmul(&w.t()?);
    }
    let (out, inp) = w.dims2()?;
    let dims = x.dims().to_vec();
    if dims.last() != Some(&inp) {
        candle_core::bail!("linear: input of shape {dims:?} for a ({out}, {inp}) weight");
    }
    let rows = x.elem_count() / inp.max(1);
    let x = x.contiguous()?;
    let w = w.contiguous()?;
    let y = {
        let (xs, xl) = x.storage_and_layout();
        let (ws, wl) = w.storage_and_layout();
        let (candle_core::Storage::Cpu(xs), candle_core::Storage::Cpu(ws)) = (&*xs, &*ws) else {
            candle_core::bail!("linear: CPU tensors without CPU storage");
        };
        let xs = &xs.as_slice::<f32>()?[xl.start_offset()..][..rows * inp];
        let ws = &ws.as_slice::<f32>()?[wl.start_offset()..][..out * inp];
        let parallel = rows * out * inp >= 1 << 20;
        super::cpu_kernels::matmul_wt_fixed_k(xs, ws, rows, out, inp, parallel)
            .map_err(candle_core::Error::msg)?
    };
    let mut shape = dims;
    if let Some(last) = shape.last_mut() {
        *last = out;
    }
    Tensor::from_vec(y, shape, x.device())
}

/// RMS norm over the last dimension with a weight (GGUF stores Gemma's `1 + w` already added).
pub(crate) fn rms_norm(x: &Tensor, w: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    candle_nn::ops::rms_norm(&x.contiguous()?, w, eps)
}

/// cos and sin tables `(max_len, rope_dim / 2)` for rotary embeddings with base `base`.
pub(crate) fn rope_tables(
    rope_dim: usize,
    base: f32,
    max_len: usize,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let theta: Vec<f32> = (0..rope_dim)
        .step_by(2)
        .map(|i| 1f32 / base.powf(i as f32 / rope_dim as f32))
        .collect();
    let theta = Tensor::new(theta.as_slice(), device)?;
    let pos = Tensor::arange(0, max_len as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((max_len, 1))?;
    let angles = pos.matmul(&theta.reshape((1, ()))?)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// How rotary embeddings pair the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RopeStyle {
    /// (2i, 2i+1): LLaMA weights as GGUF stores them (llama.cpp permutes q and k).
    Interleaved,
    /// (i, i + d/2): Gemma.
    Halves,
}

/// Apply rotary embeddings to `x` `(b, heads, seq, head_dim)` at positions `pos..pos+seq`.
pub(crate) fn rope(
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    pos: usize,
    style: RopeStyle,
) -> candle_core::Result<Tensor> {
    let seq = x.dim(2)?;
    let cos = cos.narrow(0, pos, seq)?;
    let sin = sin.narrow(0, pos, seq)?;
    let x = x.contiguous()?;
    match style {
        RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(&x, &cos, &sin),
        RopeStyle::Halves => candle_nn::rotary_emb::rope(&x, &cos, &sin),
    }
}

/// Keys and values of every layer for a batch of sequences: `(b, kv_heads, len, head_dim)` each.
#[derive(Clone, Debug)]
pub struct KvCache {
    pub(crate) layers: Vec<(Tensor, Tensor)>,
}

impl KvCache {
    /// Number of sequences.
    pub fn batch(&self) -> usize {
        self.layers
            .first()
            .map_or(0, |(k, _)| k.dim(0).unwrap_or(0))
    }

    /// Tokens cached per sequence.
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .map_or(0, |(k, _)| k.dim(2).unwrap_or(0))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache of sequences `rows` (repeats allowed): row r of the result is row `rows[r]`.
    pub fn select(&self, rows: &[u32]) -> candle_core::Result<KvCache> {
        let Some((k0, _)) = self.layers.first() else {
            return Ok(self.clone());
        };
        let idx = Tensor::from_slice(rows, rows.len(), k0.device())?;
        let layers = self
            .layers
            .iter()
            .map(|(k, v)| Ok((k.index_select(&idx, 0)?, v.index_select(&idx, 0)?)))
            .collect::<candle_core::Result<_>>()?;
        Ok(KvCache { layers })
    }

    /// Concatenate caches of equal length along the batch.
    pub fn cat(parts: &[KvCache]) -> candle_core::Result<KvCache> {
        let Some(first) = parts.first() else {
            candle_core::bail!("no caches to concatenate")
        };
        let layers = (0..first.layers.len())
            .map(|l| {
                let ks: Vec<&Tensor> = parts.iter().map(|p| &p.layers[l].0).collect();
                let vs: Vec<&Tensor> = parts.iter().map(|p| &p.layers[l].1).collect();
                Ok((Tensor::cat(&ks, 0)?, Tensor::cat(&vs, 0)?))
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(KvCache { layers })
    }
}

/// Causal attention of `q` `(b, heads, s, hd)` at positions `pos..pos+s` over the cached keys and
/// values (positions `0..pos`) followed by `k`, `v` `(b, kv_heads, s, hd)`. Returns the output
/// `(b, s, heads·hd)` and the extended keys and values. `window`: a query at position i sees only
/// keys at positions > i − window (Gemma's local layers).
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention(
    q: &Tensor,
    k: Tensor,
    v: Tensor,
    past: Option<&(Tensor, Tensor)>,
    pos: usize,
    scale: f64,
    window: Option<usize>,
) -> candle_core::Result<(Tensor, (Tensor, Tensor))> {
    let (b, heads, s, hd) = q.dims4()?;
    let kv_heads = k.dim(1)?;
    let (k, v) = match past {
        Some((pk, pv)) if pos > 0 => (
            Tensor::cat(&[pk, &k], 2)?.contiguous()?,
            Tensor::cat(&[pv, &v], 2)?.contiguous()?,
        ),
        _ => (k.contiguous()?, v.contiguous()?),
    };
    let total = k.dim(2)?;
    // (b, kv_heads, groups·s, hd): every query head of a group against its kv head, no copies
    let groups = heads / kv_heads;
    let qg = q.contiguous()?.reshape((b, kv_heads, groups * s, hd))?;
    let att = (qg.matmul(&k.t()?)? * scale)?; // (b, kv, groups·s, total)
    let mut mask = Vec::with_capacity(s * total);
    for i in 0..s {
        let qpos = pos + i;
        for j in 0..total {
            let visible = j <= qpos && window.is_none_or(|w| j + w > qpos);
            mask.push(if visible { 0f32 } else { f32::NEG_INFINITY });
        }
    }
    let mask = Tensor::from_vec(mask, (s, total), q.device())?;
    let att = att
        .reshape((b, kv_heads, groups, s, total))?
        .broadcast_add(&mask)?;
    let att = candle_nn::ops::softmax_last_dim(&att)?.reshape((b, kv_heads, groups * s, total))?;
    let y = att.matmul(&v)?; // (b, kv, groups·s, hd)
    let y = y
        .reshape((b, heads, s, hd))?
        .transpose(1, 2)?
        .reshape((b, s, heads * hd))?;
    Ok((y, (k, v)))
}

/// The hidden state of the last position, `(b, hidden)`.
pub(crate) fn last_position(x: &Tensor) -> candle_core::Result<Tensor> {
    let s = x.dim(1)?;
    x.narrow(1, s - 1, 1)?.squeeze(1)?.contiguous()
}
