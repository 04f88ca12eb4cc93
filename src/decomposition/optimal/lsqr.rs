//! LSQR (Paige & Saunders 1982, "LSQR: An algorithm for sparse linear equations and sparse least
//! squares", ACM TOMS 8(1)), matrix-free: the least-squares (least-norm when consistent and
//! underdetermined) solution of A x = b from products with A and Aᵀ only. The face polish
//! ([`super::polish`]) solves its primal correction and its dual multipliers with it, A being
//! a handful of butterflies restricted to the identified face.
//!
//! Why our own: no small, well-kept Rust crate offers a matrix-free LSQR. The one found on
//! crates.io (`scirs2-sparse`) comes inside a large scientific stack (its own core and ndarray
//! types) and takes closures that allocate a new array per product, while the polish's operators
//! work in place on scratch buffers; its stopping rules also differ, and the solver's results
//! must stay bit for bit what they are. The algorithm is 60 lines of the paper's recurrences, with
//! its stopping rules 1 and 2 (residual and normal-equation residual below `tol`).

/// A linear map given by its products.
pub(super) trait LinOp {
    fn rows(&self) -> usize;
    fn cols(&self) -> usize;
    /// y = A x
    fn apply(&self, x: &[f64], y: &mut [f64]);
    /// x = Aᵀ y
    fn apply_t(&self, y: &[f64], x: &mut [f64]);
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Least-squares (least-norm when consistent and underdetermined) solution of A x = b.
pub(super) fn lsqr(op: &dyn LinOp, b: &[f64], tol: f64, max_iter: usize) -> Vec<f64> {
    let (rows, cols) = (op.rows(), op.cols());
    let mut x = vec![0.0; cols];
    let mut u = b.to_vec();
    let mut beta = norm(&u);
    if beta == 0.0 || cols == 0 {
        return x;
    }
    u.iter_mut().for_each(|v| *v /= beta);
    let mut v = vec![0.0; cols];
    op.apply_t(&u, &mut v);
    let mut alpha = norm(&v);
    if alpha == 0.0 {
        return x;
    }
    v.iter_mut().for_each(|e| *e /= alpha);
    let mut w = v.clone();
    let (mut phibar, mut rhobar) = (beta, alpha);
    let bnorm = beta;
    let mut anorm_sq = 0.0;
    let mut tmp_r = vec![0.0; rows];
    let mut tmp_c = vec![0.0; cols];
    for _ in 0..max_iter {
        op.apply(&v, &mut tmp_r);
        u.iter_mut()
            .zip(&tmp_r)
            .for_each(|(a, b)| *a = b - alpha * *a);
        beta = norm(&u);
        if beta > 0.0 {
            u.iter_mut().for_each(|e| *e /= beta);
        }
        anorm_sq += alpha * alpha + beta * beta;
        op.apply_t(&u, &mut tmp_c);
        v.iter_mut()
            .zip(&tmp_c)
            .for_each(|(a, b)| *a = b - beta * *a);
        alpha = norm(&v);
        if alpha > 0.0 {
            v.iter_mut().for_each(|e| *e /= alpha);
        }
        let rho = (rhobar * rhobar + beta * beta).sqrt();
        let c = rhobar / rho;
        let s = beta / rho;
        let theta = s * alpha;
        rhobar = -c * alpha;
        let phi = c * phibar;
        phibar *= s;
        let t1 = phi / rho;
        let t2 = -theta / rho;
        for ((xe, we), ve) in x.iter_mut().zip(w.iter_mut()).zip(&v) {
            *xe += t1 * *we;
            *we = ve + t2 * *we;
        }
        // residual ‖r‖ = phibar; normal-equation residual ‖Aᵀr‖ = phibar·alpha·|c|
        let arnorm = phibar * alpha * c.abs();
        let xnorm = norm(&x);
        if phibar <= tol * bnorm + tol * anorm_sq.sqrt() * xnorm
            || arnorm <= tol * anorm_sq.sqrt() * phibar
            || alpha == 0.0
        {
            break;
        }
    }
    x
}
