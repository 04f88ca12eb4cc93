//! Element-wise and attention kernels of the CPU BERT path ([`super::bert_cpu`]), on f32 slices,
//! and the fixed-order matrix products that path, the CNNs' ([`super::cnn_cpu`]) and the
//! decoders' dense layers ([`super::decoder`]) run.
//!
//! Why own kernels: the profile of candle's BERT forward on CPU (BENCHMARKS.md, "Masked forward
//! passes") spends as much time outside the matrix products as in them — GELU through scalar
//! `libm::erff`, the attention's 12 × batch tiny matrix products (one `gemm` call each, plus the
//! transposes and copies around them), a scalar `exp` in the softmax, and a separate allocation and
//! memory pass per element-wise op. The large products stay with the `gemm` crate (the kernels
//! candle itself uses); what is here is the glue around them, fused into one pass per row and
//! vectorised: `exp` and `erf` are branch-free polynomials that the compiler vectorises, the
//! attention of one head and one sequence is a few loops over contiguous rows.
//!
//! Accuracy: [`exp`] and [`erf`] are within about 1 ulp (near-minimax polynomial fits, checked in
//! the tests against f64), as candle's `libm` calls, so [`gelu_erf`] and the softmax match
//! candle's to float rounding. The rest keeps candle's order of operations where rounding
//! differences would grow through the layers (LayerNorm sums, residual additions).
//!
//! Every kernel is compiled twice, for AVX2 + FMA (chosen at run time) and for the baseline target;
//! the two give identical results: Rust never contracts `a * b + c`, and every fused step is an
//! explicit `mul_add`, which is correctly rounded with or without FMA hardware.
//!
//! Reproducibility: [`gemm_fixed_k`] (row-major weights) and [`matmul_wt_fixed_k`] (weights
//! stored `(out, in)`) run the large products with a summation order fixed by the inner
//! dimension alone, so a masked input's values are the same bits whatever the batch size and the
//! thread count (tested), and by construction whatever the CPU's cache sizes (not tested on
//! another CPU; x86-64 with FMA: the `gemm` crate's FMA kernel).

/// Numbers of the approximations (see [`erf`] and [`exp`]).
mod coef {
    /// Below this |x|, erf(x) = x + x · R(x²); above, erf(x) = 1 − exp(Q(|x|)).
    pub const ERF_SPLIT: f32 = 0.921875;
    /// Above this |x|, erf(x) rounds to ±1 in f32.
    pub const ERF_ONE: f32 = 3.925;
    /// R (degree 6 in x²), lowest power first: a near-minimax fit (Lawson's iteration) of
    /// erf(x)/x − 1 on (0, ERF_SPLIT]; R(0) = 2/√π − 1. Max error 0.94 ulp (FMA Horner in f32).
    pub const ERF_R: [f32; 7] = [
        0.128_379_17,
        -0.376_126_35,
        0.112_836_96,
        -0.026_859_399,
        0.005_201_033_3,
        -0.000_814_271_3,
        8.370_131_4e-5,
    ];
    /// Q (degree 9 in |x|), lowest power first: a near-minimax fit of ln(erfc(x)) on
    /// [ERF_SPLIT, ERF_ONE], weighted by erfc(x) (the error it makes in erf). Max error 1.03 ulp.
    pub const ERF_Q: [f32; 10] = [
        9.372_376_4e-5,
        -1.129_025_2,
        -0.634_637_5,
        -0.106_336_55,
        0.023_278_156,
        -0.003_033_947,
        -2.294_932_9e-5,
        9.438_408e-5,
        -1.659_145_7e-5,
        1.032_889_6e-6,
    ];
}

/// e^x for f32, branch-free (Cephes' `expf` polynomial): exact range reduction by ln 2 in two
/// parts, a degree-6 polynomial, the power of two built in the exponent bits. Below −87.3 it
/// returns 0 (as a flush of the denormal results), above 88.7 it saturates at e^88.7.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to an integer, whose value then sits in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let xc = x.clamp(-87.3, 88.7);
    let t = xc.mul_add(LOG2E, MAGIC);
    let n = t - MAGIC;
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, xc));
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let y = (p * r).mul_add(r, r) + 1.0;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let pow2 = f32::from_bits((ni.wrapping_add(127) << 23) as u32);
    if x < -87.3 {
        0.0
    } else {
        y * pow2
    }
}

/// The error function for f32, branch-free: x + x · R(x²) for |x| < 0.921875, else
/// sign(x) · (1 − e^{Q(|x|)}), ±1 beyond |x| = 3.925. Error ≤ ~1 ulp (see [`coef`]).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut r = coef::ERF_R[6];
    for &c in coef::ERF_R[..6].iter().rev() {
        r = r.mul_add(z, c);
    }
    let small = x.mul_add(r, x);
    let ac = a.min(coef::ERF_ONE);
    let mut q = coef::ERF_Q[9];
    for &c in coef::ERF_Q[..9].iter().rev() {
        q = q.mul_add(ac, c);
    }
    let large = (1.0 - exp(q)).copysign(x);
    let large = if a >= coef::ERF_ONE {
        1f32.copysign(x)
    } else {
        large
    };
    if a < coef::ERF_SPLIT {
        small
    } else {
        large
    }
}

/// GELU with the exact erf, as candle's `gelu_erf` and PyTorch's `gelu`: (erf(x/√2) + 1) · x/2.
#[inline(always)]
pub fn gelu_erf(x: f32) -> f32 {
    (erf(x * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * x
}

/// Run `$body` (a generic `#[inline(always)]` kernel call) in an AVX2 + FMA copy when the CPU has
/// those features, else in the baseline copy.
macro_rules! dispatch {
    ($name:ident ( $($arg:ident : $ty:ty),* ) $body:block) => {
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast($($arg: $ty),*) $body
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features this copy is compiled for.
                    return unsafe { fast($($arg),*) };
                }
            }
            $body
        }
    };
}

/// Rows of `width` floats; activation applied after adding the bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// GELU with the exact erf.
    GeluErf,
    /// max(x, 0).
    Relu,
}

dispatch!(bias_act(rows: &mut [f32], bias: &[f32], act: Act) {
    let width = bias.len();
    for row in rows.chunks_exact_mut(width) {
        match act {
            Act::GeluErf => {
                for (v, &b) in row.iter_mut().zip(bias) {
                    *v = gelu_erf(*v + b);
                }
            }
            Act::Relu => {
                for (v, &b) in row.iter_mut().zip(bias) {
                    *v = (*v + b).max(0.0);
                }
            }
        }
    }
});

dispatch!(add_bias(rows: &mut [f32], bias: &[f32]) {
    let width = bias.len();
    for row in rows.chunks_exact_mut(width) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
});

/// LayerNorm of each row of `rows` (rows of `w.len()`), in candle's arithmetic: sums of x and x²
/// in one sequential pass, var = E[x²] − mean², (x − mean) · (1/√(var + eps)) · w + b. The
/// sums run over four rows at once, which keeps their sequential order (the order matters:
/// rounding differences here grow through the layers) without waiting on one add chain.
#[inline(always)]
fn layer_norm_rows(rows: &mut [f32], w: &[f32], b: &[f32], eps: f32) {
    let width = w.len();
    let n = width as f32;
    let mut blocks = rows.chunks_exact_mut(4 * width);
    for blk in &mut blocks {
        let mut sum = [0f32; 4];
        let mut sum2 = [0f32; 4];
        for j in 0..width {
            for r in 0..4 {
                let v = blk[r * width + j];
                sum[r] += v;
                sum2[r] += v * v;
            }
        }
        for r in 0..4 {
            normalize(
                &mut blk[r * width..(r + 1) * width],
                sum[r],
                sum2[r],
                n,
                w,
                b,
                eps,
            );
        }
    }
    for row in blocks.into_remainder().chunks_exact_mut(width) {
        let (mut sum, mut sum2) = (0f32, 0f32);
        for &v in row.iter() {
            sum += v;
            sum2 += v * v;
        }
        normalize(row, sum, sum2, n, w, b, eps);
    }
}

#[inline(always)]
fn normalize(row: &mut [f32], sum: f32, sum2: f32, n: f32, w: &[f32], b: &[f32], eps: f32) {
    let mean = sum / n;
    let var = sum2 / n - mean * mean;
    let inv = (var + eps).sqrt().recip();
    for ((v, &wi), &bi) in row.iter_mut().zip(w).zip(b) {
        *v = (*v - mean) * inv * wi + bi;
    }
}

dispatch!(residual_layer_norm(rows: &mut [f32], bias: &[f32], residual: &[f32], w: &[f32], b: &[f32], eps: f32) {
    // rows ← LayerNorm((rows + bias) + residual), row by row (candle's order of additions).
    let width = bias.len();
    for (row, res) in rows.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
        for ((v, &bi), &r) in row.iter_mut().zip(bias).zip(res) {
            *v = (*v + bi) + r;
        }
    }
    layer_norm_rows(rows, w, b, eps);
});

dispatch!(residual_layer_norm_gather(rows: &mut [f32], bias: &[f32], source: &[f32], index: &[u32], w: &[f32], b: &[f32], eps: f32) {
    // As residual_layer_norm with residual row i = source row index[i].
    let width = bias.len();
    for (row, &i) in rows.chunks_exact_mut(width).zip(index) {
        let res = &source[i as usize * width..(i as usize + 1) * width];
        for ((v, &bi), &r) in row.iter_mut().zip(bias).zip(res) {
            *v = (*v + bi) + r;
        }
    }
    layer_norm_rows(rows, w, b, eps);
});

dispatch!(embed_layer_norm(rows: &mut [f32], token_type: &[f32], positions: &[f32], w: &[f32], b: &[f32], eps: f32) {
    // rows ← LayerNorm((rows + token_type) + positions[row]), candle's BertEmbeddings order.
    let width = token_type.len();
    for (row, pos) in rows.chunks_exact_mut(width).zip(positions.chunks_exact(width)) {
        for ((v, &t), &p) in row.iter_mut().zip(token_type).zip(pos) {
            *v = (*v + t) + p;
        }
    }
    layer_norm_rows(rows, w, b, eps);
});

/// Scratch space of [`attention`], reused across calls.
#[derive(Default)]
pub struct AttnScratch {
    q: Vec<f32>,
    kt: Vec<f32>,
    v: Vec<f32>,
    s: Vec<f32>,
}

/// Queries per block of the score kernel (rows of the 4 × 8 register tile).
const QB: usize = 4;

dispatch!(attention(
    qkv: &[f32],
    rows: &[u32],
    out: &mut [f32],
    heads: usize,
    head_dim: usize,
    scratch: &mut AttnScratch
) {
    // Self-attention of one sequence. qkv row r = [q | k | v] (3·hidden floats); token t of the
    // sequence is row rows[t]; out is (len, hidden), token t's context in row t. Scores and
    // context sum over the head dimension / the keys in order, with fused multiply-adds, as
    // the gemm kernels of candle's path do.
    let len = rows.len();
    let hidden = heads * head_dim;
    let d = head_dim;
    // keys padded to a multiple of 8 (zeros), scores likewise; the padding is never read back
    let lp = len.div_ceil(8) * 8;
    let scale = (1.0 / (head_dim as f64).sqrt()) as f32;
    let AttnScratch { q, kt, v, s } = scratch;
    q.resize(len.div_ceil(QB) * QB * d, 0.0);
    kt.clear();
    kt.resize(d * lp, 0.0);
    v.resize(len * d, 0.0);
    s.resize(len.div_ceil(QB) * QB * lp, 0.0);
    for h in 0..heads {
        for (t, &r) in rows.iter().enumerate() {
            let base = r as usize * 3 * hidden + h * d;
            q[t * d..(t + 1) * d].copy_from_slice(&qkv[base..base + d]);
            let k = &qkv[base + hidden..base + hidden + d];
            for c in 0..d {
                kt[c * lp + t] = k[c];
            }
            v[t * d..(t + 1) * d].copy_from_slice(&qkv[base + 2 * hidden..base + 2 * hidden + d]);
        }
        // scores: 4 queries × 8 keys per register tile, summed over the head dimension
        for i0 in (0..len).step_by(QB) {
            for j0 in (0..lp).step_by(8) {
                let mut acc = [[0f32; 8]; QB];
                for c in 0..d {
                    let kv: &[f32; 8] = kt[c * lp + j0..c * lp + j0 + 8].try_into().unwrap();
                    for (r, a) in acc.iter_mut().enumerate() {
                        let qc = q[(i0 + r) * d + c];
                        for k in 0..8 {
                            a[k] = qc.mul_add(kv[k], a[k]);
                        }
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    s[(i0 + r) * lp + j0..(i0 + r) * lp + j0 + 8].copy_from_slice(a);
                }
            }
        }
        // softmax over the real keys of each query (vectorised passes; the sum in key order)
        for i in 0..len {
            let srow = &mut s[i * lp..i * lp + len];
            for sj in srow.iter_mut() {
                *sj *= scale;
            }
            let mut m8 = [f32::NEG_INFINITY; 8];
            let mut chunks = srow.chunks_exact(8);
            for ch in &mut chunks {
                for k in 0..8 {
                    m8[k] = m8[k].max(ch[k]);
                }
            }
            let max = chunks.remainder().iter().fold(
                m8.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)),
                |a, &b| a.max(b),
            );
            for sj in srow.iter_mut() {
                *sj = exp(*sj - max);
            }
            let sum: f32 = srow.iter().sum();
            for sj in srow.iter_mut() {
                *sj /= sum;
            }
        }
        // context = P V, two queries × 8 columns of the head in registers
        let mut i = 0;
        while i < len {
            let o0 = i * hidden + h * d;
            let (p0, p1) = (i * lp, (i + 1) * lp);
            let mut c0 = 0;
            while c0 + 8 <= d {
                let mut a0 = [0f32; 8];
                let mut a1 = [0f32; 8];
                for j in 0..len {
                    let vv: &[f32; 8] = v[j * d + c0..j * d + c0 + 8].try_into().unwrap();
                    let (x0, x1) = (s[p0 + j], s[p1 + j]);
                    for k in 0..8 {
                        a0[k] = x0.mul_add(vv[k], a0[k]);
                        a1[k] = x1.mul_add(vv[k], a1[k]);
                    }
                }
                out[o0 + c0..o0 + c0 + 8].copy_from_slice(&a0);
                if i + 1 < len {
                    out[o0 + hidden + c0..o0 + hidden + c0 + 8].copy_from_slice(&a1);
                }
                c0 += 8;
            }
            for c in c0..d {
                let (mut a0, mut a1) = (0f32, 0f32);
                for j in 0..len {
                    a0 = s[p0 + j].mul_add(v[j * d + c], a0);
                    a1 = s[p1 + j].mul_add(v[j * d + c], a1);
                }
                out[o0 + c] = a0;
                if i + 1 < len {
                    out[o0 + hidden + c] = a1;
                }
            }
            i += 2;
        }
    }
});

/// The longest inner dimension `gemm` sums in one block in [`gemm_fixed_k`].
pub(crate) const GEMM_KC: usize = 512;

/// `dst (m, n) = lhs (m, k) · rhs (k, n)`, all row-major and contiguous, through the `gemm` crate
/// with a summation order that depends on k only.
///
/// `gemm` splits the inner dimension into blocks and adds the blocks' partial sums into `dst`;
/// the blocks are sized from the L1 cache it detects at run time (512 for a 32 KiB, 8-way L1;
/// 1024 for a 48 KiB, 12-way one), or fixed at 512 for products of at most 64 × 64, and a single
/// row accumulates across blocks in yet another order. So products with k > 512 (BERT's
/// feed-forward output, k = 1536; the CNNs' 3×3 convolutions over 64 channels, k = 576) rounded
/// differently with the batch size and on CPUs with other caches. Here k is cut into ⌈k/512⌉
/// near-equal blocks (the split `gemm` itself makes with a 32 KiB, 8-way L1, so values on such a
/// CPU are unchanged for large products); `gemm` gets one block per call, which it sums in one
/// pass, and the partial products are added into `dst` here, in block order. Rows (m) and columns
/// (n) then never change a sum's order, so neither does the batch size or the thread that runs it
/// (test `gemm_fixed_k_rows_do_not_change_the_sums`).
///
/// # Safety
/// `dst`, `lhs` and `rhs` must hold m·n, m·k and k·n floats.
pub(crate) unsafe fn gemm_fixed_k(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    lhs: *const f32,
    rhs: *const f32,
    par: gemm::Parallelism,
) {
    // SAFETY: the caller's bounds; rhs row-major (k, n).
    unsafe { gemm_fixed_k_rhs(m, n, k, dst, lhs, (rhs, n as isize, 1), par) }
}

/// [`gemm_fixed_k`] with the right-hand side `(k, n)` at (row, column) strides `rhs.1`, `rhs.2`.
/// The rows guarantee of [`gemm_fixed_k`] holds for a row-major right-hand side only: read as a
/// column-major `wᵀ`, products of up to 8 rows sum in another order, which
/// [`matmul_wt_fixed_k`] avoids by padding its panels to 16 rows.
unsafe fn gemm_fixed_k_rhs(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    lhs: *const f32,
    (rhs, rhs_rs, rhs_cs): (*const f32, isize, isize),
    par: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    let blocks = k.div_ceil(GEMM_KC).max(1);
    let kc = k.div_ceil(blocks).max(1);
    // Blocks after the first go through a scratch buffer and are added here: `gemm`'s own
    // accumulation into `dst` (read_dst) sums in another order for a single row (m = 1).
    let mut scratch = if blocks > 1 {
        vec![0f32; m * n]
    } else {
        Vec::new()
    };
    let mut k0 = 0;
    while k0 < k || k0 == 0 {
        let kb = kc.min(k - k0);
        let out = if k0 == 0 { dst } else { scratch.as_mut_ptr() };
        // SAFETY: the caller's bounds; block [k0, k0 + kb) of lhs's columns and rhs's rows.
        unsafe {
            gemm::gemm(
                m,
                n,
                kb,
                out,
                1,
                n as isize,
                false,
                lhs.add(k0),
                1,
                k as isize,
                rhs.offset(k0 as isize * rhs_rs),
                rhs_cs,
                rhs_rs,
                0.0,
                1.0,
                false,
                false,
                false,
                par,
            )
        }
        if k0 > 0 {
            // SAFETY: dst holds m·n floats (the caller's bound).
            let d = unsafe { std::slice::from_raw_parts_mut(dst, m * n) };
            d.iter_mut().zip(&scratch).for_each(|(x, y)| *x += y);
        }
        if kb == 0 {
            break;
        }
        k0 += kb;
    }
}

/// Rows of `x` per call of [`gemm_fixed_k`] in [`matmul_wt_fixed_k`]: a panel's partial
/// products stay in cache between the blocks of k.
const PANEL_ROWS: usize = 128;
/// Columns of the product (rows of w) per call in [`matmul_wt_fixed_k`], at most: wider layers
/// (the vocabulary-sized output layers) are cut into near-equal chunks fixed by their width.
const COL_CHUNK: usize = 512;
/// Fewer rows than this take other paths in `gemm` (see [`matmul_wt_fixed_k`]); smaller panels
/// are padded with zero rows up to it.
const MIN_ROWS: usize = 16;

/// `x (m, k) · wᵀ` for `w` `(n, k)` row-major (candle's and GGUF's `(out, in)` layout of a dense
/// layer), returned `(m, n)` row-major, with every output's summation order fixed by k alone.
///
/// The rows go in panels of [`PANEL_ROWS`] through [`gemm_fixed_k`]'s blocking of k, with `wᵀ`
/// read in place as a column-major right-hand side (as candle's `x.matmul(&w.t())`). Measured with
/// the `gemm` crate 0.19, that layout sums in another order for up to 8 rows than for more (and a
/// single row in yet another), so a panel of fewer than [`MIN_ROWS`] rows is padded with zero
/// rows. Then a row's values are the same bits whatever m, the thread count and the CPU's cache
/// sizes, for the decoders' layer shapes (k ≥ 64; test
/// `matmul_wt_fixed_k_rows_do_not_change_the_sums`, which also records a tiny shape where this
/// does not hold). With `parallel`, panels and the column chunks of layers wider than
/// [`COL_CHUNK`] run on the current rayon pool.
///
/// `x.len()` must be m·k and `w.len()` n·k (checked: the error names the shapes).
pub(crate) fn matmul_wt_fixed_k(
    x: &[f32],
    w: &[f32],
    m: usize,
    n: usize,
    k: usize,
    parallel: bool,
) -> Result<Vec<f32>, String> {
    use rayon::prelude::*;
    if x.len() != m * k || w.len() != n * k {
        return Err(format!(
            "matmul_wt_fixed_k: x has {} floats for ({m}, {k}), w {} for ({n}, {k})",
            x.len(),
            w.len()
        ));
    }
    let mut out = vec![0f32; m * n];
    if m == 0 || n == 0 || k == 0 {
        return Ok(out);
    }
    // columns (rows of w) in near-equal chunks fixed by n alone, so that a vocabulary-sized
    // output layer also runs on every core when the batch is one panel
    let chunks = n.div_ceil(COL_CHUNK).max(1);
    let cc = n.div_ceil(chunks);
    // rows_run × cn product of a panel with columns c0..c0 + cn, into `dst`
    let product = |xp: &[f32], rows_run: usize, c0: usize, cn: usize, dst: &mut [f32]| {
        // SAFETY: xp holds rows_run·k floats; w's rows c0..c0 + cn are cn·k floats from c0·k,
        // read as wᵀ (row stride 1, column stride k); dst holds rows_run·cn.
        unsafe {
            gemm_fixed_k_rhs(
                rows_run,
                cn,
                k,
                dst.as_mut_ptr(),
                xp.as_ptr(),
                (w.as_ptr().add(c0 * k), 1, k as isize),
                gemm::Parallelism::None,
            )
        }
    };
    let panel = |(xp, op): (&[f32], &mut [f32])| {
        let rows = xp.len() / k;
        let padded;
        let (xp, rows_run) = if rows < MIN_ROWS {
            let mut p = vec![0f32; MIN_ROWS * k];
            p[..xp.len()].copy_from_slice(xp);
            padded = p;
            (padded.as_slice(), MIN_ROWS)
        } else {
            (xp, rows)
        };
        if chunks == 1 && rows_run == rows {
            product(xp, rows, 0, n, op);
            return;
        }
        let part = |c: usize| {
            let (c0, cn) = (c * cc, cc.min(n - c * cc));
            let mut tmp = vec![0f32; rows_run * cn];
            product(xp, rows_run, c0, cn, &mut tmp);
            (c0, cn, tmp)
        };
        let parts: Vec<(usize, usize, Vec<f32>)> = if parallel && chunks > 1 {
            (0..chunks).into_par_iter().map(part).collect()
        } else {
            (0..chunks).map(part).collect()
        };
        for (c0, cn, tmp) in parts {
            for r in 0..rows {
                op[r * n + c0..][..cn].copy_from_slice(&tmp[r * cn..][..cn]);
            }
        }
    };
    let panels = x.chunks(PANEL_ROWS * k).zip(out.chunks_mut(PANEL_ROWS * n));
    if parallel {
        panels.par_bridge().for_each(panel)
    } else {
        panels.for_each(panel)
    }
    Ok(out)
}

#[cfg(test)]
mod tests {

    /// Seeded uniform numbers in [−1, 1) (an LCG's high bits): test matrices.
    fn uniform(seed: u64) -> impl FnMut() -> f32 {
        let mut seed = seed;
        move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    /// `x · wᵀ` with w stored `(n, k)`: a row's values have the same bits however many rows
    /// share the call and however many threads run it (the decoders' shapes: k = 576, 640, 1024,
    /// 1536, 2048; n beyond `COL_CHUNK`, as the output layers). Not so for tiny products: at
    /// k = 9, n = 16 panels of up to 16 rows sum in another order than larger ones (measured; no
    /// model here has such a layer).
    #[test]
    fn matmul_wt_fixed_k_rows_do_not_change_the_sums() {
        let mut rnd = uniform(3);
        for (k, n) in [
            (64, 40),
            (576, 96),
            (640, 256),
            (1024, 64),
            (1536, 72),
            (2048, 33),
            (576, 4099),
            (640, 20000),
        ] {
            let rows = 300;
            let x: Vec<f32> = (0..rows * k).map(|_| rnd()).collect();
            let w: Vec<f32> = (0..n * k).map(|_| rnd()).collect();
            let product = |m: usize, parallel: bool| -> Vec<u32> {
                matmul_wt_fixed_k(&x[..m * k], &w, m, n, k, parallel)
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            let all = product(rows, false);
            for m in (1..=40).chain([64, 127, 128, 129, 200]) {
                assert_eq!(product(m, false), all[..m * n], "k = {k}, n = {n}, m = {m}");
            }
            assert_eq!(
                product(rows, true),
                all,
                "k = {k}, n = {n}, panels in parallel"
            );
            // and it is the product: against an f64 sum
            for r in [0, rows - 1] {
                for j in [0, n - 1] {
                    let exact: f64 = (0..k)
                        .map(|i| x[r * k + i] as f64 * w[j * k + i] as f64)
                        .sum();
                    let got = f32::from_bits(all[r * n + j]) as f64;
                    assert!(
                        (got - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                        "{got} vs {exact}"
                    );
                }
            }
        }
        assert!(matmul_wt_fixed_k(&[0.0; 3], &[0.0; 4], 1, 2, 2, false).is_err());
    }

    /// A row's product has the same bits however many rows share the call: the summation order
    /// depends on k only (inner dimensions of BERT and the CNNs, on either side of 512).
    #[test]
    fn gemm_fixed_k_rows_do_not_change_the_sums() {
        let mut rnd = uniform(1);
        for (k, n) in [
            (9, 16),
            (144, 16),
            (288, 32),
            (576, 64),
            (1152, 128),
            (1536, 384),
        ] {
            let rows = 150;
            let a: Vec<f32> = (0..rows * k).map(|_| rnd()).collect();
            let w: Vec<f32> = (0..k * n).map(|_| rnd()).collect();
            let product = |m: usize| -> Vec<u32> {
                let mut c = vec![0f32; m * n];
                // SAFETY: a holds ≥ m·k floats, w k·n, c m·n.
                unsafe {
                    gemm_fixed_k(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        a.as_ptr(),
                        w.as_ptr(),
                        gemm::Parallelism::None,
                    )
                };
                c.iter().map(|x| x.to_bits()).collect()
            };
            let all = product(rows);
            for m in [1, 3, 17, 34, 64, 65, 113] {
                assert_eq!(product(m), all[..m * n], "k = {k}, n = {n}, m = {m}");
            }
        }
    }
    use super::*;

    #[test]
    fn exp_matches_std_to_a_few_ulp() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((a - b) / b).abs() as f32);
            x += 0.0137;
        }
        assert!(worst < 1.5 * f32::EPSILON, "{worst}");
        assert_eq!(exp(-1e30), 0.0);
        assert_eq!(exp(f32::MIN), 0.0);
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn erf_and_gelu_match_libm() {
        let mut worst = 0f64;
        let mut x = -6.0f32;
        while x < 6.0 {
            let e = (erf(x) as f64 - libm_erf(x as f64)).abs();
            worst = worst.max(e);
            x += 0.000_37;
        }
        assert!(worst < 7e-8, "{worst}");
        for x in [-10.0f32, -3.0, -0.5, 0.0, 0.3, 2.0, 12.0] {
            let want = 0.5 * x as f64 * (1.0 + libm_erf(x as f64 / 2f64.sqrt()));
            assert!((gelu_erf(x) as f64 - want).abs() < 2e-7 * (1.0 + x.abs() as f64));
        }
    }

    /// erf in f64 (Abramowitz–Stegun 7.1.26 is too coarse; use the series / continued fraction).
    fn libm_erf(x: f64) -> f64 {
        // Taylor series for |x| < 3, asymptotic erfc beyond: ample for a 1e-7 check.
        let a = x.abs();
        let r = if a < 3.0 {
            let mut term = a;
            let mut sum = a;
            let mut n = 0.0;
            loop {
                n += 1.0;
                term *= -a * a / n;
                let t = term / (2.0 * n + 1.0);
                sum += t;
                if t.abs() < 1e-17 {
                    break;
                }
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc continued fraction (Lentz), converges fast for x ≥ 3
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (a + f);
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f)
        };
        r.copysign(x)
    }

    #[test]
    fn layer_norm_rows() {
        let mut rows = vec![1.0f32, 2.0, 3.0, 4.0, -1.0, 0.0, 1.0, 2.0];
        let zero = vec![0f32; 4];
        residual_layer_norm(&mut rows, &zero, &zero, &[1.0; 4], &[0.5; 4], 0.0);
        let s = (1.25f32).sqrt();
        for (got, want) in rows[..4].iter().zip([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]) {
            assert!((got - (want + 0.5)).abs() < 1e-6);
        }
        assert_eq!(rows[..4], rows[4..]);
    }

    #[test]
    fn attention_of_one_sequence() {
        // 2 tokens, 1 head of size 2: scores q·k/√2, softmax, then P V.
        let q = [[1.0f32, 0.0], [0.0, 1.0]];
        let k = [[1.0f32, 1.0], [-1.0, 0.5]];
        let v = [[1.0f32, 2.0], [3.0, -1.0]];
        let mut qkv = Vec::new();
        for t in 0..2 {
            qkv.extend_from_slice(&q[t]);
            qkv.extend_from_slice(&k[t]);
            qkv.extend_from_slice(&v[t]);
        }
        let mut out = vec![0f32; 4];
        attention(&qkv, &[0, 1], &mut out, 1, 2, &mut AttnScratch::default());
        for i in 0..2 {
            let s: Vec<f64> = (0..2)
                .map(|j| (q[i][0] * k[j][0] + q[i][1] * k[j][1]) as f64 / 2f64.sqrt())
                .collect();
            let m = s[0].max(s[1]);
            let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
            let z = e[0] + e[1];
            for c in 0..2 {
                let want = (e[0] * v[0][c] as f64 + e[1] * v[1][c] as f64) / z;
                assert!((out[i * 2 + c] as f64 - want).abs() < 1e-6);
            }
        }
    }
}
