//! Dense-matrix reference implementation (Θ(4^n)), as the authors' code computes it. It is the
//! oracle of the tests and the baseline of the benchmarks, and never part of the library.
#![allow(dead_code)]

/// A[S][T] = (-1)^{|S|-|T|} for T ⊆ S: I_and = A·v.
pub fn and_matrix(n: usize) -> Vec<Vec<f64>> {
    let len = 1usize << n;
    (0..len)
        .map(|s| {
            (0..len)
                .map(|t| {
                    if t & !s == 0 {
                        if (s.count_ones() - t.count_ones()) % 2 == 0 {
                            1.0
                        } else {
                            -1.0
                        }
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

/// B with I_or = B·v: row ∅ picks v(∅); row S ≠ ∅ is −Σ_{T⊆S} (-1)^{|S|-|T|} e_{N∖T}.
pub fn or_matrix(n: usize) -> Vec<Vec<f64>> {
    let len = 1usize << n;
    let full = len - 1;
    let a = and_matrix(n);
    (0..len)
        .map(|s| {
            let mut row = vec![0.0; len];
            if s == 0 {
                row[0] = 1.0;
            } else {
                for t in 0..len {
                    row[full & !t] = -a[s][t];
                }
            }
            row
        })
        .collect()
}

pub fn matvec(m: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
    m.iter()
        .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

pub fn matvec_t(m: &[Vec<f64>], g: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; m[0].len()];
    for (row, &gi) in m.iter().zip(g) {
        if gi != 0.0 {
            for (o, &a) in out.iter_mut().zip(row) {
                *o += a * gi;
            }
        }
    }
    out
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Dense loss and gradient of the generalizable objective (traditional: m = 1, α = 1, no γ̂).
/// Parameters: eps[j], gamma_shared, gamma_specific[j] (may be empty). Returns
/// (loss, d_eps, d_shared, d_specific, I_and per model, I_or per model).
pub struct DenseEval {
    pub loss: f64,
    pub d_eps: Vec<Vec<f64>>,
    pub d_shared: Vec<f64>,
    pub d_specific: Vec<Vec<f64>>,
    pub and: Vec<Vec<f64>>,
    pub or: Vec<Vec<f64>>,
}

pub struct Dense {
    pub n: usize,
    pub a: Vec<Vec<f64>>,
    pub b: Vec<Vec<f64>>,
}

impl Dense {
    pub fn new(n: usize) -> Self {
        Dense {
            n,
            a: and_matrix(n),
            b: or_matrix(n),
        }
    }

    pub fn eval(
        &self,
        values: &[Vec<f64>],
        alpha: f64,
        eps: &[Vec<f64>],
        shared: &[f64],
        specific: &[Vec<f64>],
    ) -> DenseEval {
        let m = values.len();
        let len = 1usize << self.n;
        let gamma = |j: usize, t: usize| shared[t] + specific.get(j).map_or(0.0, |g| g[t]);
        let mut and = Vec::new();
        let mut or = Vec::new();
        for j in 0..m {
            let v_and: Vec<f64> = (0..len)
                .map(|t| 0.5 * (values[j][t] + eps[j][t]) + gamma(j, t))
                .collect();
            let v_or: Vec<f64> = (0..len)
                .map(|t| 0.5 * (values[j][t] + eps[j][t]) - gamma(j, t))
                .collect();
            and.push(matvec(&self.a, &v_and));
            or.push(matvec(&self.b, &v_or));
        }
        let mut loss = 0.0;
        let mut g_and = vec![vec![0.0; len]; m];
        let mut g_or = vec![vec![0.0; len]; m];
        for (ints, grads) in [(&and, &mut g_and), (&or, &mut g_or)] {
            for s in 0..len {
                let mut best = 0;
                for j in 1..m {
                    if ints[j][s].abs() > ints[best][s].abs() {
                        best = j;
                    }
                }
                loss += (1.0 - alpha) * ints[best][s].abs();
                grads[best][s] += (1.0 - alpha) * sign(ints[best][s]);
                for j in 0..m {
                    loss += alpha * ints[j][s].abs();
                    grads[j][s] += alpha * sign(ints[j][s]);
                }
            }
        }
        let mut d_eps = Vec::new();
        let mut d_specific = Vec::new();
        let mut d_shared = vec![0.0; len];
        for j in 0..m {
            let dv_and = matvec_t(&self.a, &g_and[j]);
            let dv_or = matvec_t(&self.b, &g_or[j]);
            d_eps.push(
                dv_and
                    .iter()
                    .zip(&dv_or)
                    .map(|(x, y)| 0.5 * (x + y))
                    .collect(),
            );
            let dg: Vec<f64> = dv_and.iter().zip(&dv_or).map(|(x, y)| x - y).collect();
            for (s, d) in d_shared.iter_mut().zip(&dg) {
                *s += d;
            }
            if !specific.is_empty() {
                d_specific.push(dg);
            }
        }
        DenseEval {
            loss,
            d_eps,
            d_shared,
            d_specific,
            and,
            or,
        }
    }

    /// The reference optimiser (method §3) on dense matrices: zero init, clip, momentum SGD, no step
    /// on the last iteration. `gamma_bounds = None`: traditional (no γ̂). Returns the final
    /// evaluation.
    #[allow(clippy::too_many_arguments)]
    pub fn optimise(
        &self,
        values: &[Vec<f64>],
        alpha: f64,
        eps_bounds: &[f64],
        gamma_bounds: Option<&[f64]>,
        lr_at: impl Fn(usize) -> f64,
        niter: usize,
        momentum: f64,
    ) -> DenseEval {
        let m = values.len();
        let len = 1usize << self.n;
        let mut eps = vec![vec![0.0; len]; m];
        let mut shared = vec![0.0; len];
        let mut specific = if gamma_bounds.is_some() {
            vec![vec![0.0; len]; m]
        } else {
            Vec::new()
        };
        let (mut b_eps, mut b_shared, mut b_spec) = (eps.clone(), shared.clone(), specific.clone());
        let clip = |x: &mut Vec<f64>, b: f64| x.iter_mut().for_each(|v| *v = v.clamp(-b, b));
        let step = |theta: &mut Vec<f64>, buf: &mut Vec<f64>, g: &[f64], lr: f64| {
            for ((t, b), &gr) in theta.iter_mut().zip(buf.iter_mut()).zip(g) {
                *b = momentum * *b + gr;
                *t -= lr * *b;
            }
        };
        for it in 0..niter {
            for (e, &b) in eps.iter_mut().zip(eps_bounds) {
                clip(e, b);
            }
            if let Some(gb) = gamma_bounds {
                for (g, &b) in specific.iter_mut().zip(gb) {
                    clip(g, b);
                }
            }
            let ev = self.eval(values, alpha, &eps, &shared, &specific);
            if it + 1 == niter {
                return ev;
            }
            let lr = lr_at(it);
            for j in 0..m {
                step(&mut eps[j], &mut b_eps[j], &ev.d_eps[j], lr);
            }
            step(&mut shared, &mut b_shared, &ev.d_shared, lr);
            for j in 0..specific.len() {
                step(&mut specific[j], &mut b_spec[j], &ev.d_specific[j], lr);
            }
        }
        self.eval(values, alpha, &eps, &shared, &specific)
    }
}

/// Shapley values from the permutation-weight formula, for small n.
pub fn shapley_bruteforce(v: &[f64]) -> Vec<f64> {
    let len = v.len();
    let n = len.trailing_zeros() as usize;
    let fact = |k: usize| (1..=k).map(|x| x as f64).product::<f64>();
    (0..n)
        .map(|i| {
            (0..len)
                .filter(|s| s >> i & 1 == 0)
                .map(|s| {
                    let k = (s as u32).count_ones() as usize;
                    fact(k) * fact(n - k - 1) / fact(n) * (v[s | 1 << i] - v[s])
                })
                .sum()
        })
        .collect()
}
