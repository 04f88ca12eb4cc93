//! The CPU inference path of the digit CNNs ([`super::resnet`], [`super::vgg`] in evaluation
//! mode): the same layers on plain f32 buffers in NHWC layout.
//!
//! Why (BENCHMARKS.md, "Digits"): in candle's path most of the time of ResNet-20 on 28×28 images
//! goes to building the im2col tiles of its tiled convolution and to the four broadcast passes of
//! each batch norm, not to the matrix products. Here a 3×3 convolution is an im2col of a block of
//! output pixels (each a contiguous run of `9 · channels` floats in NHWC) times the weights
//! `(9 · in, out)` with the `gemm` crate, and batch norm, the residual addition and ReLU are one
//! pass over the block's output rows while they are in cache. Images are split into groups that
//! run through the whole network on one thread each.
//!
//! Values equal candle's to float rounding: batch norm keeps candle's order of operations
//! (((x − mean) / √(var + eps)) · weight + bias), the convolution sums over (ky, kx, channel)
//! where candle sums over (channel, ky, kx).

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;

use super::{resnet, vgg};

/// A convolution without bias followed by evaluation-mode batch norm.
#[derive(Clone, Debug)]
pub(crate) struct ConvBn {
    /// `(k · k · in, out)` row-major, rows in (ky, kx, channel) order.
    pub w: Vec<f32>,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub cin: usize,
    pub cout: usize,
    pub mean: Vec<f32>,
    /// √(running_var + eps), as candle computes it.
    pub std: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

impl ConvBn {
    /// From candle's `(out, in, k, k)` weight and the batch-norm tensors.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        w_oikk: &[f32],
        cout: usize,
        cin: usize,
        k: usize,
        stride: usize,
        mean: Vec<f32>,
        var: Vec<f32>,
        eps: f64,
        gamma: Vec<f32>,
        beta: Vec<f32>,
    ) -> Self {
        let mut w = vec![0f32; k * k * cin * cout];
        for o in 0..cout {
            for c in 0..cin {
                for ky in 0..k {
                    for kx in 0..k {
                        w[((ky * k + kx) * cin + c) * cout + o] =
                            w_oikk[((o * cin + c) * k + ky) * k + kx];
                    }
                }
            }
        }
        // candle: (running_var + eps).sqrt() in f32
        let std = var.iter().map(|&v| (v + eps as f32).sqrt()).collect();
        ConvBn {
            w,
            k,
            stride,
            pad: k / 2,
            cin,
            cout,
            mean,
            std,
            gamma,
            beta,
        }
    }

    fn out_side(&self, side: usize) -> usize {
        (side + 2 * self.pad - self.k) / self.stride + 1
    }

    /// `x` `(b, side, side, cin)` → `(b, out, out, cout)`, batch norm applied; then, per element,
    /// `+ residual` (same shape as the output) and ReLU if asked.
    fn forward(
        &self,
        x: &[f32],
        b: usize,
        side: usize,
        residual: Option<&[f32]>,
        relu: bool,
    ) -> Vec<f32> {
        let os = self.out_side(side);
        let rows = b * os * os;
        let kk = self.k * self.k * self.cin;
        let mut out = vec![0f32; rows * self.cout];
        // blocks of output pixels whose im2col tile stays in L2
        let block = (64 * 1024 / kk).clamp(16, 512);
        let mut col = vec![0f32; block * kk];
        let mut r0 = 0;
        while r0 < rows {
            let n = block.min(rows - r0);
            for (i, crow) in col[..n * kk].chunks_exact_mut(kk).enumerate() {
                let r = r0 + i;
                let (img, oy, ox) = (r / (os * os), r / os % os, r % os);
                // In NHWC the k pixels of one kernel row are one contiguous run of k·cin floats.
                let run = self.k * self.cin;
                let x0 = (ox * self.stride) as isize - self.pad as isize;
                let inside = x0 >= 0 && x0 as usize + self.k <= side;
                for ky in 0..self.k {
                    let iy = (oy * self.stride + ky) as isize - self.pad as isize;
                    let dst = &mut crow[ky * run..(ky + 1) * run];
                    if iy < 0 || iy >= side as isize {
                        dst.fill(0.0);
                    } else if inside {
                        let src = ((img * side + iy as usize) * side + x0 as usize) * self.cin;
                        dst.copy_from_slice(&x[src..src + run]);
                    } else {
                        for kx in 0..self.k {
                            let ix = x0 + kx as isize;
                            let d = &mut dst[kx * self.cin..(kx + 1) * self.cin];
                            if ix < 0 || ix >= side as isize {
                                d.fill(0.0);
                            } else {
                                let src =
                                    ((img * side + iy as usize) * side + ix as usize) * self.cin;
                                d.copy_from_slice(&x[src..src + self.cin]);
                            }
                        }
                    }
                }
            }
            let o = &mut out[r0 * self.cout..(r0 + n) * self.cout];
            // SAFETY: col holds n·kk floats, w kk·cout, o n·cout, all row-major and contiguous.
            unsafe {
                super::cpu_kernels::gemm_fixed_k(
                    n,
                    self.cout,
                    kk,
                    o.as_mut_ptr(),
                    col.as_ptr(),
                    self.w.as_ptr(),
                    Parallelism::None,
                )
            }
            let res = residual.map(|r| &r[r0 * self.cout..(r0 + n) * self.cout]);
            epilogue(o, self, res, relu);
            r0 += n;
        }
        out
    }
}

fn epilogue(o: &mut [f32], l: &ConvBn, residual: Option<&[f32]>, relu: bool) {
    let c = l.cout;
    for (i, row) in o.chunks_exact_mut(c).enumerate() {
        for j in 0..c {
            let mut v = (row[j] - l.mean[j]) / l.std[j] * l.gamma[j] + l.beta[j];
            if let Some(r) = residual {
                v += r[i * c + j];
            }
            if relu {
                v = v.max(0.0);
            }
            row[j] = v;
        }
    }
}

/// A linear layer: `w` `(in, out)` row-major.
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
    pub inp: usize,
    pub out: usize,
}

impl Linear {
    /// From candle's `(out, in)` weight.
    pub fn new(w_oi: &[f32], b: Vec<f32>, inp: usize, out: usize) -> Self {
        let mut w = vec![0f32; inp * out];
        for o in 0..out {
            for i in 0..inp {
                w[i * out + o] = w_oi[o * inp + i];
            }
        }
        Linear { w, b, inp, out }
    }

    /// Rows of `x` `(n, in)` → `(n, out)`: products in order, then the bias (candle's order).
    fn forward(&self, x: &[f32], relu: bool) -> Vec<f32> {
        let mut y = Vec::with_capacity(x.len() / self.inp * self.out);
        for row in x.chunks_exact(self.inp) {
            let mut acc = vec![0f32; self.out];
            for (i, &xi) in row.iter().enumerate() {
                for (a, &w) in acc
                    .iter_mut()
                    .zip(&self.w[i * self.out..(i + 1) * self.out])
                {
                    *a = xi.mul_add(w, *a);
                }
            }
            for (a, &b) in acc.iter_mut().zip(&self.b) {
                *a += b;
                if relu {
                    *a = a.max(0.0);
                }
            }
            y.extend(acc);
        }
        y
    }
}

/// A residual block: conv1 → bn → ReLU → conv2 → bn, plus the shortcut (identity or 1×1
/// conv + bn), then ReLU.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub conv1: ConvBn,
    pub conv2: ConvBn,
    pub shortcut: Option<ConvBn>,
}

/// The two architectures.
#[derive(Clone, Debug)]
pub(crate) enum CpuCnn {
    Resnet {
        stem: ConvBn,
        blocks: Vec<Block>,
        fc: Linear,
    },
    Vgg {
        /// (conv + bn + ReLU, 2×2 max-pool after it)
        features: Vec<(ConvBn, bool)>,
        classifier: [Linear; 3],
    },
}

/// Images per group that one thread runs through the whole network.
const GROUP_IMAGES: usize = 8;

impl CpuCnn {
    /// Logits `(b, classes)` of `b` single-channel `side × side` images (row-major pixels).
    pub fn logits(&self, images: &[f32], side: usize) -> Vec<f32> {
        let px = side * side;
        let b = images.len() / px;
        let per = GROUP_IMAGES
            .min(b.div_ceil(rayon::current_num_threads().max(1)))
            .max(1);
        let parts: Vec<Vec<f32>> = images
            .par_chunks(per * px)
            .map(|chunk| self.group(chunk, chunk.len() / px, side))
            .collect();
        parts.concat()
    }

    fn group(&self, x: &[f32], b: usize, side: usize) -> Vec<f32> {
        match self {
            CpuCnn::Resnet { stem, blocks, fc } => {
                let mut h = stem.forward(x, b, side, None, true);
                let mut s = stem.out_side(side);
                for blk in blocks {
                    let t = blk.conv1.forward(&h, b, s, None, true);
                    let s1 = blk.conv1.out_side(s);
                    let sc = blk
                        .shortcut
                        .as_ref()
                        .map(|c| c.forward(&h, b, s, None, false));
                    let res = sc.as_deref().unwrap_or(&h);
                    h = blk.conv2.forward(&t, b, s1, Some(res), true);
                    s = s1;
                }
                let c = blocks.last().map_or(stem.cout, |bl| bl.conv2.cout);
                fc.forward(&global_mean(&h, b, s, c), false)
            }
            CpuCnn::Vgg {
                features,
                classifier,
            } => {
                let mut h = x.to_vec();
                let mut s = side;
                let mut c = 1;
                for (layer, pool) in features {
                    h = layer.forward(&h, b, s, None, true);
                    s = layer.out_side(s);
                    c = layer.cout;
                    if *pool {
                        h = max_pool2(&h, b, s, c);
                        s /= 2;
                    }
                }
                let g = global_mean(&h, b, s, c);
                let g = classifier[0].forward(&g, true);
                let g = classifier[1].forward(&g, true);
                classifier[2].forward(&g, false)
            }
        }
    }
}

/// Mean over the width, then over the height (candle's `mean(3).mean(2)` on NCHW): `(b, c)`.
fn global_mean(h: &[f32], b: usize, side: usize, c: usize) -> Vec<f32> {
    let inv = (1.0 / side as f64) as f32;
    let mut out = vec![0f32; b * c];
    for img in 0..b {
        for ch in 0..c {
            let mut over_h = 0f32;
            for y in 0..side {
                let mut over_w = 0f32;
                for x in 0..side {
                    over_w += h[((img * side + y) * side + x) * c + ch];
                }
                over_h += over_w * inv;
            }
            out[img * c + ch] = over_h * inv;
        }
    }
    out
}

/// 2×2 max-pool with stride 2 (floor), NHWC.
fn max_pool2(h: &[f32], b: usize, side: usize, c: usize) -> Vec<f32> {
    let os = side / 2;
    let mut out = vec![0f32; b * os * os * c];
    for img in 0..b {
        for oy in 0..os {
            for ox in 0..os {
                let o = ((img * os + oy) * os + ox) * c;
                for ch in 0..c {
                    let at = |y: usize, x: usize| h[((img * side + y) * side + x) * c + ch];
                    let (y, x) = (2 * oy, 2 * ox);
                    out[o + ch] = at(y, x)
                        .max(at(y, x + 1))
                        .max(at(y + 1, x))
                        .max(at(y + 1, x + 1));
                }
            }
        }
    }
    out
}

/// The tensors of a digit-model file as the CPU layers' f32 buffers. Each getter gives None when a
/// tensor is missing or has another shape.
struct Tensors<'a>(&'a HashMap<String, Tensor>);

impl Tensors<'_> {
    fn get(&self, name: &str, dims: &[usize]) -> Option<Vec<f32>> {
        let t = self.0.get(name)?;
        if t.dims() != dims {
            return None;
        }
        t.to_dtype(DType::F32)
            .ok()?
            .flatten_all()
            .ok()?
            .to_vec1()
            .ok()
    }

    fn conv_bn(
        &self,
        pre: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
    ) -> Option<ConvBn> {
        Some(ConvBn::new(
            &self.get(&format!("{pre}.conv.weight"), &[cout, cin, k, k])?,
            cout,
            cin,
            k,
            stride,
            self.get(&format!("{pre}.bn.running_mean"), &[cout])?,
            self.get(&format!("{pre}.bn.running_var"), &[cout])?,
            1e-5,
            self.get(&format!("{pre}.bn.weight"), &[cout])?,
            self.get(&format!("{pre}.bn.bias"), &[cout])?,
        ))
    }

    fn linear(&self, pre: &str, inp: usize, out: usize) -> Option<Linear> {
        Some(Linear::new(
            &self.get(&format!("{pre}.weight"), &[out, inp])?,
            self.get(&format!("{pre}.bias"), &[out])?,
            inp,
            out,
        ))
    }
}

impl CpuCnn {
    /// The CPU path of a [`resnet::Model`] of `c` from its tensors (names as it gives them). None
    /// when a tensor is missing or has another shape (the caller then keeps candle's path, which
    /// reports the problem).
    pub fn resnet(c: &resnet::Config, tensors: &HashMap<String, Tensor>) -> Option<Self> {
        let t = Tensors(tensors);
        let first = *c.stage_channels.first()?;
        let stem = t.conv_bn("stem", c.in_channels, first, 3, 1)?;
        let mut blocks = Vec::new();
        let mut in_c = first;
        for (s, &ch) in c.stage_channels.iter().enumerate() {
            for b in 0..c.blocks_per_stage {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                let pre = format!("stages.{s}.{b}");
                let shortcut = if stride != 1 || in_c != ch {
                    Some(t.conv_bn(&format!("{pre}.shortcut"), in_c, ch, 1, stride)?)
                } else {
                    None
                };
                blocks.push(Block {
                    conv1: t.conv_bn(&format!("{pre}.conv1"), in_c, ch, 3, stride)?,
                    conv2: t.conv_bn(&format!("{pre}.conv2"), ch, ch, 3, 1)?,
                    shortcut,
                });
                in_c = ch;
            }
        }
        let fc = t.linear("fc", in_c, c.num_classes)?;
        Some(CpuCnn::Resnet { stem, blocks, fc })
    }

    /// The CPU path of a [`vgg::Model`] of `c` from its tensors, as [`Self::resnet`].
    pub fn vgg(c: &vgg::Config, tensors: &HashMap<String, Tensor>) -> Option<Self> {
        let t = Tensors(tensors);
        let mut features = Vec::new();
        let mut in_c = c.in_channels;
        let mut i = 0;
        for (s, stage) in c.stages.iter().enumerate() {
            for (j, &ch) in stage.iter().enumerate() {
                let pool = j + 1 == stage.len() && s < c.pooled_stages;
                features.push((t.conv_bn(&format!("features.{i}"), in_c, ch, 3, 1)?, pool));
                in_c = ch;
                i += 1;
            }
        }
        let h = c.hidden;
        let classifier = [
            t.linear("classifier.0", in_c, h)?,
            t.linear("classifier.1", h, h)?,
            t.linear("classifier.2", h, c.num_classes)?,
        ];
        Some(CpuCnn::Vgg {
            features,
            classifier,
        })
    }
}
