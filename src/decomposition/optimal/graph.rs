//! The linear operators of the splitting and the projection onto their graph, all
//! Θ(n·2^n) per vector with no matrix ever formed.
//!
//! K maps the value-domain arrays (a_i, o_i) to their interactions: the Möbius matrix
//! M = ⊗`[[1,0],[−1,1]]` for AND, and for OR the map K_or = Mᵀ with row N replaced by o(∅) (so
//! position U ≠ N holds −I_or(N∖U) and position N holds I_or(∅)). Their adjoints and inverses are
//! butterflies too (zeta transforms).
//!
//! The graph projection w = (I + KᵀK)⁻¹(r_w + Kᵀ r_z) is exact: I + MᵀM = (⊗Q)(I + ⊗Λ)(⊗Q) with
//! Q = `[[1, φ],[φ, −1]]`/√(1+φ²) a symmetric involution (φ the golden ratio) applied by a
//! butterfly of 2×2 rotations, and I + ⊗Λ diagonal (1 + φ^{2(2|S|−n)}). For OR,
//! K_orᵀK_or = MMᵀ + e_∅e_∅ᵀ − e_Ne_Nᵀ: the same kind of butterfly (Q' = `[[φ,1],[1,−φ]]`/√(1+φ²))
//! plus a rank-two Woodbury correction.

use crate::transform::{mobius_rows, mobius_transpose_rows, zeta_rows, zeta_transpose_rows};

/// φ, the golden ratio.
const PHI: f64 = 1.618_033_988_749_895;

/// Apply ⊗[[1, φ], [φ, −1]] (`swap` false) or ⊗[[φ, 1], [1, −φ]] (`swap` true) over all bits,
/// unnormalised (each is (1 + φ²)^{1/2} times a symmetric orthogonal involution).
#[inline(always)]
fn kron_phi(a: &mut [f64], swap: bool) {
    let len = a.len();
    let mut half = 1;
    while half < len {
        for chunk in a.chunks_exact_mut(2 * half) {
            let (lo, hi) = chunk.split_at_mut(half);
            if swap {
                for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
                    let (x, y) = (*l, *h);
                    *l = PHI.mul_add(x, y);
                    *h = PHI.mul_add(-y, x);
                }
            } else {
                for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
                    let (x, y) = (*l, *h);
                    *l = PHI.mul_add(y, x);
                    *h = PHI.mul_add(x, -y);
                }
            }
        }
        half <<= 1;
    }
}

/// x = M a (AND interactions of a).
#[inline(always)]
pub(super) fn and_fwd(a: &[f64], x: &mut [f64]) {
    x.copy_from_slice(a);
    mobius_rows(x, 1);
}

/// Mᵀ x, in place.
#[inline(always)]
pub(super) fn and_adj(x: &mut [f64]) {
    mobius_transpose_rows(x, 1);
}

/// a = M⁻¹ x = Z x, in place.
#[inline(always)]
pub(super) fn and_inv(x: &mut [f64]) {
    zeta_rows(x, 1);
}

/// M⁻ᵀ c = Zᵀ c, in place.
#[inline(always)]
pub(super) fn and_inv_adj(c: &mut [f64]) {
    zeta_transpose_rows(c, 1);
}

/// q = K_or o: Mᵀ o with position N replaced by o(∅). q[U] = −I_or(N∖U) for U ≠ N,
/// q[N] = I_or(∅).
#[inline(always)]
pub(super) fn or_fwd(o: &[f64], q: &mut [f64]) {
    q.copy_from_slice(o);
    mobius_transpose_rows(q, 1);
    let last = q.len() - 1;
    q[last] = o[0];
}

/// K_orᵀ q = M q − q[N]·e_N + q[N]·e_∅, in place.
#[inline(always)]
pub(super) fn or_adj(q: &mut [f64]) {
    let last = q.len() - 1;
    let top = q[last];
    mobius_rows(q, 1);
    q[last] -= top;
    q[0] += top;
}

/// o = K_or⁻¹ q = p − (p(∅) − p(N))·𝟙 with p = Zᵀ q, in place.
#[inline(always)]
pub(super) fn or_inv(q: &mut [f64]) {
    zeta_transpose_rows(q, 1);
    let shift = q[0] - q[q.len() - 1];
    q.iter_mut().for_each(|x| *x -= shift);
}

/// K_or⁻ᵀ c = Z c − (Σ c)·(𝟙 − e_N), in place.
#[inline(always)]
pub(super) fn or_inv_adj(c: &mut [f64]) {
    zeta_rows(c, 1);
    let last = c.len() - 1;
    let total = c[last];
    c.iter_mut().for_each(|x| *x -= total);
    c[last] += total;
}

/// (I + KᵀK)⁻¹ for the AND map and the OR map.
pub(super) struct GraphSolver {
    /// 1 / (1 + φ^{2(2|S| − n)}).
    diag: Vec<f64>,
    /// H⁻¹e_∅ and H⁻¹e_N for H = I + MMᵀ, and the inverse of the 2×2 Woodbury capacitance.
    h0: Vec<f64>,
    hn: Vec<f64>,
    cap_inv: [[f64; 2]; 2],
}

impl GraphSolver {
    pub(super) fn new(n: usize) -> Self {
        let len = 1usize << n;
        let diag: Vec<f64> = (0..len)
            .map(|s| {
                let k = (s as u32).count_ones() as i32;
                // the two unnormalised butterflies contribute (1 + φ²)^n
                1.0 / (1.0 + PHI.powi(2 * (2 * k - n as i32))) / (1.0 + PHI * PHI).powi(n as i32)
            })
            .collect();
        let mut g = GraphSolver {
            diag,
            h0: Vec::new(),
            hn: Vec::new(),
            cap_inv: [[0.0; 2]; 2],
        };
        if len > 1 {
            let mut h0 = vec![0.0; len];
            h0[0] = 1.0;
            g.h_inv(&mut h0);
            let mut hn = vec![0.0; len];
            hn[len - 1] = 1.0;
            g.h_inv(&mut hn);
            // C⁻¹ + UᵀH⁻¹U with U = [e_∅, e_N], C = diag(1, −1).
            let c = [[1.0 + h0[0], h0[len - 1]], [hn[0], -1.0 + hn[len - 1]]];
            let det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
            g.cap_inv = [
                [c[1][1] / det, -c[0][1] / det],
                [-c[1][0] / det, c[0][0] / det],
            ];
            g.h0 = h0;
            g.hn = hn;
        }
        g
    }

    /// (I + MᵀM)⁻¹, in place.
    #[inline(always)]
    pub(super) fn and_solve(&self, a: &mut [f64]) {
        kron_phi(a, false);
        a.iter_mut().zip(&self.diag).for_each(|(x, d)| *x *= d);
        kron_phi(a, false);
    }

    /// H⁻¹ = (I + MMᵀ)⁻¹, in place.
    #[inline(always)]
    fn h_inv(&self, a: &mut [f64]) {
        kron_phi(a, true);
        a.iter_mut().zip(&self.diag).for_each(|(x, d)| *x *= d);
        kron_phi(a, true);
    }

    /// (I + K_orᵀK_or)⁻¹ = (H + e_∅e_∅ᵀ − e_Ne_Nᵀ)⁻¹, in place (Woodbury).
    #[inline(always)]
    pub(super) fn or_solve(&self, a: &mut [f64]) {
        self.h_inv(a);
        let len = a.len();
        if len == 1 {
            return;
        }
        let (y0, yn) = (a[0], a[len - 1]);
        let k0 = self.cap_inv[0][0] * y0 + self.cap_inv[0][1] * yn;
        let kn = self.cap_inv[1][0] * y0 + self.cap_inv[1][1] * yn;
        for ((x, h0), hn) in a.iter_mut().zip(&self.h0).zip(&self.hn) {
            *x -= k0 * h0 + kn * hn;
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomposition::optimal::testing::{close, rnd};

    #[test]
    fn or_map_matches_the_definition() {
        let o = rnd(8, 1);
        let mut q = vec![0.0; 8];
        or_fwd(&o, &mut q);
        let i_or = crate::transform::or_interactions(&o).unwrap();
        for u in 0..7 {
            assert!((q[u] + i_or[7 & !u]).abs() < 1e-12);
        }
        assert!((q[7] - i_or[0]).abs() < 1e-12);
        let mut back = q.clone();
        or_inv(&mut back);
        close(&back, &o, 1e-12);
    }

    #[test]
    fn adjoints_and_inverses_are_consistent() {
        for n in 0..5 {
            let len = 1 << n;
            let (x, y) = (rnd(len, 2), rnd(len, 3));
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
            // <K_or x, y> = <x, K_orᵀ y>
            let mut kx = vec![0.0; len];
            or_fwd(&x, &mut kx);
            let mut kty = y.clone();
            or_adj(&mut kty);
            assert!((dot(&kx, &y) - dot(&x, &kty)).abs() < 1e-12);
            // K_or⁻ᵀ Kᵀ y = y
            or_inv_adj(&mut kty);
            close(&kty, &y, 1e-12);
            // AND: Z M = I, Zᵀ Mᵀ = I
            let mut a = vec![0.0; len];
            and_fwd(&x, &mut a);
            and_inv(&mut a);
            close(&a, &x, 1e-12);
            let mut b = y.clone();
            and_adj(&mut b);
            and_inv_adj(&mut b);
            close(&b, &y, 1e-12);
        }
    }

    #[test]
    fn graph_solves_invert_i_plus_ktk() {
        for n in 0..6 {
            let len = 1 << n;
            let g = GraphSolver::new(n);
            let r = rnd(len, 4 + n as u64);
            // AND: (I + MᵀM) w = r
            let mut w = r.clone();
            g.and_solve(&mut w);
            let mut mw = vec![0.0; len];
            and_fwd(&w, &mut mw);
            and_adj(&mut mw);
            let back: Vec<f64> = w.iter().zip(&mw).map(|(a, b)| a + b).collect();
            close(&back, &r, 1e-10);
            // OR
            let mut w = r.clone();
            g.or_solve(&mut w);
            let mut kw = vec![0.0; len];
            or_fwd(&w, &mut kw);
            or_adj(&mut kw);
            let back: Vec<f64> = w.iter().zip(&kw).map(|(a, b)| a + b).collect();
            close(&back, &r, 1e-10);
        }
    }
}
