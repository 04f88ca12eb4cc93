//! Exact AND (Harsanyi) and OR interactions as Möbius transforms over the subset lattice (method §2),
//! computed with Θ(n·2^n) butterflies and never with 2^n×2^n matrices.
//!
//! Every kernel works on "rows": a buffer of 2^n rows of `width` contiguous f64 values, so several
//! value vectors (models, AND and OR) are transformed in one pass and every butterfly level is a
//! contiguous, vectorisable subtraction. `width = 1` is the plain vector.

use crate::coalition::{players_for_len, Coalition};
use crate::{Error, Result};

/// The four butterflies. `Subset*` walks each mask with bit i set and combines it with the mask
/// without i; `Superset*` walks masks without bit i and combines with the mask with i (transpose).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Butterfly {
    /// a[T] -= a[T∖i]: Möbius (Harsanyi) transform, AND interactions from values.
    SubsetMobius,
    /// a[T] += a[T∖i]: zeta transform, values from AND interactions.
    SubsetZeta,
    /// a[T] -= a[T∪i]: transpose of the Möbius transform (gradients).
    SupersetMobius,
    /// a[T] += a[T∪i]: transpose of the zeta transform.
    SupersetZeta,
}

/// The three lowest levels of a plain (width 1) butterfly, fused over blocks of 8 values held in
/// registers: these levels touch pairs 1, 2 and 4 apart, too short for the wide loops below.
#[inline(always)]
fn butterfly_low8(a: &mut [f64], kind: Butterfly) {
    for c in a.chunks_exact_mut(8) {
        let x: &mut [f64; 8] = c.try_into().expect("chunks of 8");
        for h in [1usize, 2, 4] {
            for i in 0..8 {
                if i & h != 0 {
                    let lo = i ^ h;
                    match kind {
                        Butterfly::SubsetMobius => x[i] -= x[lo],
                        Butterfly::SubsetZeta => x[i] += x[lo],
                        Butterfly::SupersetMobius => x[lo] -= x[i],
                        Butterfly::SupersetZeta => x[lo] += x[i],
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn butterfly_rows(a: &mut [f64], width: usize, kind: Butterfly) {
    debug_assert!(width > 0 && a.len() % width == 0);
    let rows = a.len() / width;
    debug_assert!(rows.is_power_of_two());
    let mut half = 1;
    if width == 1 && rows >= 8 {
        butterfly_low8(a, kind);
        half = 8;
    }
    // Two levels per pass (radix 4) while they fit: half the memory traffic of one level a pass.
    while half * 4 <= rows {
        let stride = half * width;
        for chunk in a.chunks_exact_mut(4 * stride) {
            let (q01, q23) = chunk.split_at_mut(2 * stride);
            let (q0, q1) = q01.split_at_mut(stride);
            let (q2, q3) = q23.split_at_mut(stride);
            for (((x0, x1), x2), x3) in q0
                .iter_mut()
                .zip(q1.iter_mut())
                .zip(q2.iter_mut())
                .zip(q3.iter_mut())
            {
                let (a0, a1, a2, a3) = (*x0, *x1, *x2, *x3);
                // level `half` pairs (0,1), (2,3); level `2·half` pairs (0,2), (1,3)
                let (b0, b1, b2, b3) = match kind {
                    Butterfly::SubsetMobius => (a0, a1 - a0, a2, a3 - a2),
                    Butterfly::SubsetZeta => (a0, a1 + a0, a2, a3 + a2),
                    Butterfly::SupersetMobius => (a0 - a1, a1, a2 - a3, a3),
                    Butterfly::SupersetZeta => (a0 + a1, a1, a2 + a3, a3),
                };
                let (c0, c1, c2, c3) = match kind {
                    Butterfly::SubsetMobius => (b0, b1, b2 - b0, b3 - b1),
                    Butterfly::SubsetZeta => (b0, b1, b2 + b0, b3 + b1),
                    Butterfly::SupersetMobius => (b0 - b2, b1 - b3, b2, b3),
                    Butterfly::SupersetZeta => (b0 + b2, b1 + b3, b2, b3),
                };
                (*x0, *x1, *x2, *x3) = (c0, c1, c2, c3);
            }
        }
        half <<= 2;
    }
    while half < rows {
        let stride = half * width;
        for chunk in a.chunks_exact_mut(2 * stride) {
            let (lo, hi) = chunk.split_at_mut(stride);
            match kind {
                Butterfly::SubsetMobius => hi.iter_mut().zip(lo.iter()).for_each(|(h, l)| *h -= *l),
                Butterfly::SubsetZeta => hi.iter_mut().zip(lo.iter()).for_each(|(h, l)| *h += *l),
                Butterfly::SupersetMobius => {
                    lo.iter_mut().zip(hi.iter()).for_each(|(l, h)| *l -= *h)
                }
                Butterfly::SupersetZeta => lo.iter_mut().zip(hi.iter()).for_each(|(l, h)| *l += *h),
            }
        }
        half <<= 1;
    }
}

/// In place: a\[S\] ← Σ_{T⊆S} (-1)^{|S|-|T|} a\[T\] for each of `width` interleaved columns.
#[inline(always)]
pub fn mobius_rows(a: &mut [f64], width: usize) {
    butterfly_rows(a, width, Butterfly::SubsetMobius);
}

/// In place: a\[T\] ← Σ_{S⊆T} a\[S\] (the inverse of [`mobius_rows`]).
#[inline(always)]
pub fn zeta_rows(a: &mut [f64], width: usize) {
    butterfly_rows(a, width, Butterfly::SubsetZeta);
}

/// In place: g\[T\] ← Σ_{S⊇T} (-1)^{|S|-|T|} g\[S\], the transpose of [`mobius_rows`]; it carries a
/// gradient with respect to interactions back to the values.
#[inline(always)]
pub fn mobius_transpose_rows(a: &mut [f64], width: usize) {
    butterfly_rows(a, width, Butterfly::SupersetMobius);
}

/// In place: g\[S\] ← Σ_{T⊇S} g\[T\], the transpose of [`zeta_rows`].
#[inline(always)]
pub fn zeta_transpose_rows(a: &mut [f64], width: usize) {
    butterfly_rows(a, width, Butterfly::SupersetZeta);
}

/// Check a value vector: length 2^n within the player limit, all values finite. Returns n.
pub fn check_values(v: &[f64], what: &str) -> Result<usize> {
    let n = players_for_len(v.len())?;
    if let Some((mask, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(Error::NonFinite {
            what: what.to_string(),
            mask,
            value,
        });
    }
    Ok(n)
}

/// The largest |v| the transforms accept for n players: |I(S)| ≤ 2^|S|·max|v| and the losses sum
/// 2·2^n such terms per model, so max|v| ≤ f64::MAX / 2^(2n+8) keeps every intermediate finite.
pub fn max_value_magnitude(n: usize) -> f64 {
    f64::MAX / 2f64.powi(2 * n as i32 + 8)
}

/// Check that finite values are small enough for the transforms (see [`max_value_magnitude`]).
/// Errors: [`Error::ValueRange`], naming `what`, the coalition and the limit.
pub fn check_range(v: &[f64], what: &str) -> Result<()> {
    let n = players_for_len(v.len())?;
    let limit = max_value_magnitude(n);
    if let Some((mask, &value)) = v.iter().enumerate().find(|(_, x)| x.abs() > limit) {
        return Err(Error::ValueRange(format!(
            "v(x_T) of {what} at coalition mask {mask} is {value:e}; with n = {n} players |v| must stay below {limit:.3e} so that the interactions and losses stay finite: rescale the values"
        )));
    }
    Ok(())
}

/// AND (Harsanyi) interactions I_and(S) = Σ_{T⊆S} (-1)^{|S|-|T|} v(x_T), with I_and(∅) = v(x_∅).
pub fn and_interactions(v: &[f64]) -> Result<Vec<f64>> {
    check_values(v, "the value vector")?;
    check_range(v, "the value vector")?;
    let mut a = v.to_vec();
    mobius_rows(&mut a, 1);
    Ok(a)
}

/// OR interactions I_or(S) = -Σ_{T⊆S} (-1)^{|S|-|T|} v(x_{N∖T}) for S ≠ ∅, I_or(∅) = v(x_∅).
pub fn or_interactions(v: &[f64]) -> Result<Vec<f64>> {
    check_values(v, "the value vector")?;
    check_range(v, "the value vector")?;
    // w[T] = v(N∖T): the complement of mask T is the index reversed.
    let mut w: Vec<f64> = v.iter().rev().copied().collect();
    mobius_rows(&mut w, 1);
    w.iter_mut().for_each(|x| *x = -*x);
    w[0] = v[0];
    Ok(w)
}

/// Values from AND interactions: v(x_T) = Σ_{S⊆T} I_and(S).
pub fn values_from_and(i_and: &[f64]) -> Result<Vec<f64>> {
    players_for_len(i_and.len())?;
    let mut v = i_and.to_vec();
    zeta_rows(&mut v, 1);
    Ok(v)
}

/// Values from OR interactions: v(x_T) = I_or(∅) + Σ_{S∩T≠∅} I_or(S).
pub fn values_from_or(i_or: &[f64]) -> Result<Vec<f64>> {
    players_for_len(i_or.len())?;
    // z[U] = Σ_{∅≠S⊆U} I_or(S); then Σ_{S∩T≠∅} I_or(S) = z[N] - z[N∖T].
    let mut z = i_or.to_vec();
    z[0] = 0.0;
    zeta_rows(&mut z, 1);
    let total = *z.last().expect("length checked above");
    Ok(z.iter().rev().map(|&zc| i_or[0] + total - zc).collect())
}

/// Universal matching (method §3, Theorem 2): the output the AND and OR interactions reconstruct,
/// Σ_{S⊆T} I_and(S) + I_or(∅) + Σ_{S∩T≠∅} I_or(S). After a decomposition it equals v(x_T) + ε_T.
pub fn reconstruct(i_and: &[f64], i_or: &[f64]) -> Result<Vec<f64>> {
    if i_and.len() != i_or.len() {
        return Err(Error::MismatchedLengths {
            first: i_and.len(),
            other: i_or.len(),
        });
    }
    let a = values_from_and(i_and)?;
    let o = values_from_or(i_or)?;
    Ok(a.iter().zip(&o).map(|(x, y)| x + y).collect())
}

/// Shapley values from AND interactions: φ(i) = Σ_{S∋i} I_and(S)/|S| (method §2, identity 3).
pub fn shapley_from_and(i_and: &[f64]) -> Result<Vec<f64>> {
    let n = players_for_len(i_and.len())?;
    let mut phi = vec![0.0; n];
    for (mask, &x) in i_and.iter().enumerate().skip(1) {
        let s = Coalition(mask as u32);
        let share = x / s.order() as f64;
        for p in s.players() {
            phi[p] += share;
        }
    }
    Ok(phi)
}

/// Shapley values of a value function, through its AND interactions.
pub fn shapley_values(v: &[f64]) -> Result<Vec<f64>> {
    shapley_from_and(&and_interactions(v)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// method §2, identity 4.
    #[test]
    fn worked_example() {
        let v = [7.0, 8.0, 9.0, 13.0];
        assert_eq!(and_interactions(&v).unwrap(), vec![7.0, 1.0, 2.0, 3.0]);
        assert_eq!(or_interactions(&v).unwrap(), vec![7.0, 4.0, 5.0, -3.0]);
        assert_eq!(shapley_values(&v).unwrap(), vec![2.5, 3.5]);
        assert_eq!(values_from_and(&[7.0, 1.0, 2.0, 3.0]).unwrap(), v.to_vec());
        assert_eq!(values_from_or(&[7.0, 4.0, 5.0, -3.0]).unwrap(), v.to_vec());
    }

    #[test]
    fn rejects_bad_vectors() {
        assert!(matches!(
            and_interactions(&[1.0, 2.0, 3.0]),
            Err(Error::NotPowerOfTwo { len: 3 })
        ));
        assert!(matches!(
            or_interactions(&[1.0, f64::NAN]),
            Err(Error::NonFinite { mask: 1, .. })
        ));
        assert!(reconstruct(&[0.0; 4], &[0.0; 8]).is_err());
    }

    #[test]
    fn rows_transform_columns_independently() {
        let v1 = [7.0, 8.0, 9.0, 13.0];
        let v2 = [1.0, -2.0, 0.5, 4.0];
        let mut rows: Vec<f64> = v1.iter().zip(&v2).flat_map(|(a, b)| [*a, *b]).collect();
        mobius_rows(&mut rows, 2);
        let a1 = and_interactions(&v1).unwrap();
        let a2 = and_interactions(&v2).unwrap();
        for t in 0..4 {
            assert_eq!(rows[2 * t], a1[t]);
            assert_eq!(rows[2 * t + 1], a2[t]);
        }
    }
}
