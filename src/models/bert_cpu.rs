//! The CPU inference path of [`super::bert::BertClassifier`]: the same network on plain f32
//! buffers, with the work organised for batches of masked inputs.
//!
//! What it does differently from candle's `BertEncoder` (and why: BENCHMARKS.md, "Masked forward
//! passes", has the profile and the measurements):
//! - one matrix product for the query, key and value projections (weights concatenated), products
//!   through the `gemm` crate (candle's own kernels) on packed `(rows, in)` buffers, no transposes
//!   or `contiguous` copies between the ops;
//! - bias, activation, residual and LayerNorm applied in one pass over each product's rows,
//!   attention per sequence and head in cache-sized loops ([`super::cpu_kernels`]);
//! - the batch is split into groups of sequences that run through all layers on one thread each,
//!   so the intermediate buffers of a group stay in the core's cache and no thread waits on the
//!   other between ops;
//! - padding is skipped: only real tokens (attention mask 1) are computed; their keys are the only
//!   ones with non-zero attention weight in candle's path (the additive mask is f32::MIN, whose
//!   exponential is exactly 0), so the states of real tokens are unchanged;
//! - for the masked inputs of one sentence ([`CpuBert::masked_logits`]) every position holds one
//!   of two rows (the word or its replacement), so the embedding LayerNorm and the first layer's
//!   query/key/value projections are computed once for the 2·len distinct rows instead of once per
//!   masked input and token.
//!
//! Values equal candle's to float rounding (different summation orders, fused multiply-adds, the
//! polynomial `exp`/`erf`); `tests/cpu_inference.rs` compares the two on real sentences.

use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

use super::cpu_kernels::{self as k, Act, AttnScratch};

/// A dense layer's parameters: `w` is `(in, out)` row-major (the transpose of candle's
/// `(out, in)`), `b` has `out` entries.
#[derive(Clone)]
pub(crate) struct Dense {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
    pub inp: usize,
    pub out: usize,
}

impl Dense {
    /// From candle's `(out, in)` weight and `(out,)` bias.
    pub fn from_out_in(w_out_in: &[f32], b: Vec<f32>, inp: usize, out: usize) -> Self {
        let mut w = vec![0f32; inp * out];
        for o in 0..out {
            for i in 0..inp {
                w[i * out + o] = w_out_in[o * inp + i];
            }
        }
        Dense { w, b, inp, out }
    }

    /// `c (m, out) = a (m, in) · w` (without the bias).
    fn product(&self, a: &[f32], c: &mut [f32], m: usize, par: Parallelism) {
        debug_assert_eq!(a.len(), m * self.inp);
        debug_assert_eq!(c.len(), m * self.out);
        if m == 0 {
            return;
        }
        // SAFETY: the slices hold m·in, in·out and m·out floats, row-major and contiguous.
        unsafe {
            k::gemm_fixed_k(
                m,
                self.out,
                self.inp,
                c.as_mut_ptr(),
                a.as_ptr(),
                self.w.as_ptr(),
                par,
            )
        }
    }
}

/// LayerNorm weight, bias.
#[derive(Clone)]
pub(crate) struct Norm {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// One encoder layer.
#[derive(Clone)]
pub(crate) struct Layer {
    /// `[query | key | value]` in one `(hidden, 3·hidden)` product.
    pub qkv: Dense,
    pub out: Dense,
    pub norm1: Norm,
    pub up: Dense,
    pub down: Dense,
    pub norm2: Norm,
}

/// The whole classifier as f32 buffers. Built by `BertClassifier` from its tensors.
#[derive(Clone)]
pub(crate) struct CpuBert {
    pub hidden: usize,
    pub heads: usize,
    pub eps: f32,
    pub act: Act,
    /// Token type 0's embedding, `(hidden,)`.
    pub token_type: Vec<f32>,
    /// `(max_positions, hidden)`.
    pub positions: Vec<f32>,
    pub embed_norm: Norm,
    pub layers: Vec<Layer>,
    /// `pooler.dense` of CLS pooling (tanh(dense(h\[CLS\]))); None: mean pooling over the tokens.
    pub pooler: Option<Dense>,
    pub classifier: Dense,
}

/// Rows per group of sequences that one thread runs through all layers: enough rows for the
/// products to run near the kernels' peak, few enough that a group's buffers (the largest is
/// rows × intermediate floats) stay in a core's L2 cache.
const GROUP_ROWS: usize = 256;

/// Where the first layer's inputs come from.
enum Input<'a> {
    /// Embedded rows `(rows, hidden)` of the packed tokens (embedding LayerNorm applied).
    Rows(Vec<f32>),
    /// Masked inputs of one sentence: `states` is `(2·len, hidden)` (the embedded word rows, then
    /// the embedded replacement rows), `qkv` their first-layer projections `(2·len, 3·hidden)`,
    /// and packed row r is row `index[r]` of both.
    Shared {
        states: &'a [f32],
        qkv: &'a [f32],
        index: &'a [u32],
    },
}

impl CpuBert {
    fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Run the encoder on one group: `seqs` are ranges of packed rows (one per sequence).
    /// Returns the final token states `(rows, hidden)`.
    fn encode(&self, input: Input<'_>, seqs: &[Range<usize>], par: Parallelism) -> Vec<f32> {
        let h = self.hidden;
        let rows = seqs.last().map_or(0, |r| r.end);
        let mut ctx = vec![0f32; rows * h];
        let inter = self.layers.first().map_or(0, |l| l.up.out);
        let mut up = vec![0f32; rows * inter];
        let mut qkv_buf = Vec::new();
        let mut x = match &input {
            Input::Rows(x) => x.clone(),
            Input::Shared { .. } => vec![0f32; rows * h],
        };
        let identity: Vec<u32> = (0..rows as u32).collect();
        for (li, layer) in self.layers.iter().enumerate() {
            // 1. query, key, value
            let (qkv, index): (&[f32], &[u32]) = match (&input, li) {
                (Input::Shared { qkv, index, .. }, 0) => (qkv, index),
                _ => {
                    qkv_buf.resize(rows * 3 * h, 0.0);
                    layer.qkv.product(&x, &mut qkv_buf, rows, par);
                    for_rows(par, &mut qkv_buf, 3 * h, |c, _| {
                        k::add_bias(c, &layer.qkv.b)
                    });
                    (&qkv_buf, &identity)
                }
            };
            // 2. attention, per sequence
            self.attend(qkv, index, seqs, &mut ctx, par);
            // 3. output projection, residual, LayerNorm → x
            let mut a = vec![0f32; rows * h];
            layer.out.product(&ctx, &mut a, rows, par);
            match (&input, li) {
                (Input::Shared { states, index, .. }, 0) => {
                    for_rows(par, &mut a, h, |c, r0| {
                        let n = c.len() / h;
                        k::residual_layer_norm_gather(
                            c,
                            &layer.out.b,
                            states,
                            &index[r0..r0 + n],
                            &layer.norm1.w,
                            &layer.norm1.b,
                            self.eps,
                        )
                    });
                }
                _ => {
                    let xs = &x;
                    for_rows(par, &mut a, h, |c, r0| {
                        k::residual_layer_norm(
                            c,
                            &layer.out.b,
                            &xs[r0 * h..r0 * h + c.len()],
                            &layer.norm1.w,
                            &layer.norm1.b,
                            self.eps,
                        )
                    });
                }
            }
            // 4. feed-forward, residual, LayerNorm
            layer.up.product(&a, &mut up, rows, par);
            for_rows(par, &mut up, inter, |c, _| {
                k::bias_act(c, &layer.up.b, self.act)
            });
            layer.down.product(&up, &mut x, rows, par);
            let an = &a;
            for_rows(par, &mut x, h, |c, r0| {
                k::residual_layer_norm(
                    c,
                    &layer.down.b,
                    &an[r0 * h..r0 * h + c.len()],
                    &layer.norm2.w,
                    &layer.norm2.b,
                    self.eps,
                )
            });
        }
        x
    }

    fn attend(
        &self,
        qkv: &[f32],
        index: &[u32],
        seqs: &[Range<usize>],
        ctx: &mut [f32],
        par: Parallelism,
    ) {
        let h = self.hidden;
        let (heads, d) = (self.heads, self.head_dim());
        // Split ctx into the sequences' row blocks.
        let mut blocks: Vec<(&Range<usize>, &mut [f32])> = Vec::with_capacity(seqs.len());
        let mut rest = ctx;
        for r in seqs {
            let (blk, tail) = rest.split_at_mut(r.len() * h);
            blocks.push((r, blk));
            rest = tail;
        }
        let run = |scratch: &mut AttnScratch, (r, out): (&Range<usize>, &mut [f32])| {
            k::attention(qkv, &index[r.clone()], out, heads, d, scratch)
        };
        match par {
            Parallelism::None => {
                let mut scratch = AttnScratch::default();
                for b in blocks {
                    run(&mut scratch, b);
                }
            }
            _ => blocks
                .into_par_iter()
                .for_each_init(AttnScratch::default, |s, b| run(s, b)),
        }
    }

    /// Embedding LayerNorm of word rows `(rows, hidden)` at the given positions, in place.
    fn embed(&self, words: &mut [f32], positions: impl Iterator<Item = usize>) {
        let h = self.hidden;
        for (row, p) in words.chunks_exact_mut(h).zip(positions) {
            k::embed_layer_norm(
                row,
                &self.token_type,
                &self.positions[p * h..(p + 1) * h],
                &self.embed_norm.w,
                &self.embed_norm.b,
                self.eps,
            );
        }
    }

    /// Pool the final states of each sequence and apply the head: `(seqs, classes)` logits.
    fn head(&self, states: &[f32], seqs: &[Range<usize>]) -> Vec<f32> {
        let h = self.hidden;
        let mut out = Vec::with_capacity(seqs.len() * self.classifier.out);
        for r in seqs {
            let pooled: Vec<f32> = match &self.pooler {
                Some(p) => {
                    let mut v = matvec(p, &states[r.start * h..(r.start + 1) * h]);
                    v.iter_mut().for_each(|x| *x = x.tanh());
                    v
                }
                None => {
                    let mut sum = vec![0f32; h];
                    for row in states[r.start * h..r.end * h].chunks_exact(h) {
                        sum.iter_mut().zip(row).for_each(|(s, &x)| *s += x);
                    }
                    let n = r.len().max(1) as f32;
                    sum.iter_mut().for_each(|s| *s /= n);
                    sum
                }
            };
            out.extend(matvec(&self.classifier, &pooled));
        }
        out
    }

    /// Final token states `(rows, hidden)` of packed sequences: `words` `(rows, hidden)` are the
    /// word-embedding rows of the real tokens, `positions` their position ids, `seqs` the row
    /// range of each sequence.
    pub fn hidden_states(
        &self,
        mut words: Vec<f32>,
        positions: &[usize],
        seqs: &[Range<usize>],
    ) -> Vec<f32> {
        self.embed(&mut words, positions.iter().copied());
        let h = self.hidden;
        let groups = groups(seqs);
        let parts: Vec<Vec<f32>> = groups
            .par_iter()
            .map(|g| {
                let start = g.first().map_or(0, |r| r.start);
                let local: Vec<Range<usize>> =
                    g.iter().map(|r| r.start - start..r.end - start).collect();
                let end = g.last().map_or(start, |r| r.end);
                let x = words[start * h..end * h].to_vec();
                self.encode(Input::Rows(x), &local, Parallelism::None)
            })
            .collect();
        parts.concat()
    }

    /// Logits `(seqs, classes)` of packed sequences (arguments as [`Self::hidden_states`]).
    pub fn logits(&self, words: Vec<f32>, positions: &[usize], seqs: &[Range<usize>]) -> Vec<f32> {
        let states = self.hidden_states(words, positions, seqs);
        self.head(&states, seqs)
    }

    /// Logits `(b, classes)` of `b = keep.len() / len` masked inputs of one sentence: `words` and
    /// `replacements` are `(len, hidden)` word-embedding rows; input i has token t's word row where
    /// `keep[i·len + t]`, its replacement row elsewhere.
    pub fn masked_logits(&self, words: &[f32], replacements: &[f32], keep: &[bool]) -> Vec<f32> {
        let h = self.hidden;
        let len = words.len() / h;
        if len == 0 {
            return Vec::new();
        }
        let b = keep.len() / len;
        // The 2·len distinct first-layer inputs and their projections, once.
        let mut states = Vec::with_capacity(2 * len * h);
        states.extend_from_slice(words);
        states.extend_from_slice(replacements);
        self.embed(&mut states, (0..len).chain(0..len));
        let layer0 = &self.layers[0];
        let mut qkv = vec![0f32; 2 * len * 3 * h];
        layer0
            .qkv
            .product(&states, &mut qkv, 2 * len, Parallelism::None);
        k::add_bias(&mut qkv, &layer0.qkv.b);
        let index: Vec<u32> = keep
            .iter()
            .enumerate()
            .map(|(i, &kp)| {
                let t = i % len;
                (if kp { t } else { len + t }) as u32
            })
            .collect();
        let seqs: Vec<Range<usize>> = (0..b).map(|i| i * len..(i + 1) * len).collect();
        let groups = groups(&seqs);
        let parts: Vec<Vec<f32>> = groups
            .par_iter()
            .map(|g| {
                let start = g.first().map_or(0, |r| r.start);
                let end = g.last().map_or(start, |r| r.end);
                let local: Vec<Range<usize>> =
                    g.iter().map(|r| r.start - start..r.end - start).collect();
                let x = self.encode(
                    Input::Shared {
                        states: &states,
                        qkv: &qkv,
                        index: &index[start..end],
                    },
                    &local,
                    Parallelism::None,
                );
                self.head(&x, &local)
            })
            .collect();
        parts.concat()
    }
}

/// `w · x + b` for one vector (the pooler and the classifier): the products summed in order
/// with fused multiply-adds, then the bias, as candle's `Linear` (gemm, then a bias add).
fn matvec(d: &Dense, x: &[f32]) -> Vec<f32> {
    let mut y = vec![0f32; d.out];
    for (i, &xi) in x.iter().enumerate() {
        for (yo, &w) in y.iter_mut().zip(&d.w[i * d.out..(i + 1) * d.out]) {
            *yo = xi.mul_add(w, *yo);
        }
    }
    y.iter_mut().zip(&d.b).for_each(|(yo, &b)| *yo += b);
    y
}

/// Split sequences into consecutive groups of about [`GROUP_ROWS`] rows, at least one group per
/// thread when there are enough sequences.
fn groups(seqs: &[Range<usize>]) -> Vec<&[Range<usize>]> {
    let rows: usize = seqs.iter().map(|r| r.len()).sum();
    let threads = rayon::current_num_threads().max(1);
    let target = GROUP_ROWS.min(rows.div_ceil(threads)).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut acc = 0;
    for (i, r) in seqs.iter().enumerate() {
        acc += r.len();
        if acc >= target {
            out.push(&seqs[start..=i]);
            start = i + 1;
            acc = 0;
        }
    }
    if start < seqs.len() {
        out.push(&seqs[start..]);
    }
    out
}

/// Apply `f(chunk, first_row)` to row blocks of `buf` (rows of `width`), in parallel unless
/// `par` is `Parallelism::None`.
fn for_rows(
    par: Parallelism,
    buf: &mut [f32],
    width: usize,
    f: impl Fn(&mut [f32], usize) + Sync + Send,
) {
    const BLOCK: usize = 32;
    match par {
        Parallelism::None => f(buf, 0),
        _ => buf
            .par_chunks_mut(BLOCK * width)
            .enumerate()
            .for_each(|(i, c)| f(c, i * BLOCK)),
    }
}
