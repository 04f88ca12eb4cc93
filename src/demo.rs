//! The paper's Boolean example and two noisy "models" of it, shipped so that the whole pipeline
//! can run with no network and no weights: f = x1∧x2∧x3 + x2∧x3 + x3∧x4 + x4∨x5 on the input
//! x = (1,1,1,1,1) with baseline 0, i.e. v(T) = f(1_T).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::coalition::Coalition;

/// Names of the five Boolean players.
pub const PLAYER_NAMES: [&str; 5] = ["x1", "x2", "x3", "x4", "x5"];

/// v(T) of f = x1∧x2∧x3 + x2∧x3 + x3∧x4 + x4∨x5 (players x1..x5 are bits 0..4).
pub fn boolean_example() -> Vec<f64> {
    let f = |t: Coalition| {
        let x = |i: usize| t.contains(i - 1);
        let b = |c: bool| if c { 1.0 } else { 0.0 };
        b(x(1) && x(2) && x(3)) + b(x(2) && x(3)) + b(x(3) && x(4)) + b(x(4) || x(5))
    };
    Coalition::all(5).map(f).collect()
}

/// Two models that learned f imperfectly: each adds its own distinctive primitive (model A:
/// 0.6·(x1∧x5); model B: 0.6·(x2∨x5)) and small Gaussian-like noise on every v(x_T), seeded.
pub fn noisy_models(seed: u64, noise: f64) -> [Vec<f64>; 2] {
    let base = boolean_example();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut jitter = |v: &mut Vec<f64>| {
        for x in v.iter_mut() {
            // sum of uniforms: bell-shaped, bounded, reproducible across platforms
            let u: f64 = (0..4).map(|_| rng.random::<f64>() - 0.5).sum();
            *x += noise * u;
        }
    };
    let mut a: Vec<f64> = Coalition::all(5)
        .zip(&base)
        .map(|(t, &v)| {
            v + if t.contains(0) && t.contains(4) {
                0.6
            } else {
                0.0
            }
        })
        .collect();
    let mut b: Vec<f64> = Coalition::all(5)
        .zip(&base)
        .map(|(t, &v)| {
            v + if t.contains(1) || t.contains(4) {
                0.6
            } else {
                0.0
            }
        })
        .collect();
    jitter(&mut a);
    jitter(&mut b);
    // centre as the authors do: v(x_∅) = 0
    for v in [&mut a, &mut b] {
        let v0 = v[0];
        v.iter_mut().for_each(|x| *x -= v0);
    }
    [a, b]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::{and_interactions, or_interactions};

    #[test]
    fn boolean_example_has_the_papers_and_terms() {
        let v = boolean_example();
        assert_eq!(v[0], 0.0);
        assert_eq!(v[31], 4.0);
        let and = and_interactions(&v).unwrap();
        // x4∨x5 = x4 + x5 − x4∧x5 as AND terms
        let at = |p: &[usize]| and[Coalition::from_players(p).mask()];
        assert_eq!(at(&[0, 1, 2]), 1.0);
        assert_eq!(at(&[1, 2]), 1.0);
        assert_eq!(at(&[2, 3]), 1.0);
        assert_eq!(at(&[3]), 1.0);
        assert_eq!(at(&[4]), 1.0);
        assert_eq!(at(&[3, 4]), -1.0);
        assert_eq!(and.iter().filter(|x| **x != 0.0).count(), 6);
        assert!(or_interactions(&v).unwrap().iter().any(|x| *x != 0.0));
    }

    #[test]
    fn noisy_models_are_reproducible() {
        let [a, b] = noisy_models(7, 0.02);
        let [a2, _] = noisy_models(7, 0.02);
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert_eq!(a[0], 0.0);
    }
}
