//! The two games that need no model: a value vector given in full, and a closure.

use crate::coalition::{players_for_len, Coalition};
use crate::{Error, Result};

use super::Game;

/// A game given by its value vector v\[T\] = v(x_T) for all 2^n coalitions (mask order, bit i =
/// player i present), e.g. read from a .npy file or computed elsewhere.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorGame {
    name: String,
    names: Vec<String>,
    v: Vec<f64>,
}

impl VectorGame {
    /// Players named x1…xn. Errors: a length that is not 2^n (n ≤ 24), a non-finite value.
    pub fn new(name: &str, v: Vec<f64>) -> Result<Self> {
        let n = players_for_len(v.len())?;
        let names = (1..=n).map(|i| format!("x{i}")).collect();
        Self::with_names(name, v, names)
    }

    /// With the players' names (length n).
    pub fn with_names(name: &str, v: Vec<f64>, names: Vec<String>) -> Result<Self> {
        let n = players_for_len(v.len())?;
        if names.len() != n {
            return Err(Error::InvalidPlayers(format!(
                "{} player names for a value vector of 2^{n} entries (n = {n})",
                names.len()
            )));
        }
        super::check_finite(name, &v)?;
        Ok(VectorGame {
            name: name.to_string(),
            names,
            v,
        })
    }

    /// The whole vector.
    pub fn vector(&self) -> &[f64] {
        &self.v
    }
}

fn lookup(v: &[f64], coalitions: &[Coalition]) -> Result<Vec<f64>> {
    coalitions
        .iter()
        .map(|c| {
            v.get(c.mask()).copied().ok_or_else(|| {
                Error::InvalidPlayers(format!(
                    "coalition mask {} is outside the game's {} coalitions",
                    c.0,
                    v.len()
                ))
            })
        })
        .collect()
}

impl Game for VectorGame {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn n_players(&self) -> usize {
        self.names.len()
    }

    fn player_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn values(&self, coalitions: &[Coalition]) -> Result<Vec<f64>> {
        lookup(&self.v, coalitions)
    }

    fn all_values(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<f64>> {
        progress(self.v.len(), self.v.len());
        Ok(self.v.clone())
    }
}

/// A game whose value function is any closure `Fn(&[Coalition]) -> Result<Vec<f64>>`: a user's
/// own model, masking and output, in a few lines.
///
/// ```
/// use interprim::game::{evaluate, EvalOptions, FnGame};
/// use interprim::Coalition;
/// // v(T) = |T|² on three players
/// let g = FnGame::new("square", vec!["a".into(), "b".into(), "c".into()], |cs: &[Coalition]| {
///     Ok(cs.iter().map(|c| (c.order() * c.order()) as f64).collect())
/// });
/// let v = evaluate(&g, &EvalOptions::centred(), None)?;
/// assert_eq!(v.v[0b111], 9.0);
/// # Ok::<(), interprim::Error>(())
/// ```
pub struct FnGame<F> {
    name: String,
    names: Vec<String>,
    f: F,
    identity: Option<String>,
    batch_size: usize,
}

impl<F> FnGame<F>
where
    F: Fn(&[Coalition]) -> Result<Vec<f64>>,
{
    /// A game over the named players (n = `names.len()`).
    pub fn new(name: &str, names: Vec<String>, f: F) -> Self {
        FnGame {
            name: name.to_string(),
            names,
            f,
            identity: None,
            batch_size: 256,
        }
    }

    /// Let the value cache keep this game's values under `identity` (change it whenever the
    /// function changes).
    pub fn with_identity(mut self, identity: &str) -> Self {
        self.identity = Some(identity.to_string());
        self
    }

    /// Coalitions per call of the closure (default 256).
    pub fn with_batch_size(mut self, batch: usize) -> Self {
        self.batch_size = batch.max(1);
        self
    }
}

impl<F> Game for FnGame<F>
where
    F: Fn(&[Coalition]) -> Result<Vec<f64>>,
{
    fn name(&self) -> String {
        self.name.clone()
    }

    fn n_players(&self) -> usize {
        self.names.len()
    }

    fn player_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn values(&self, coalitions: &[Coalition]) -> Result<Vec<f64>> {
        let n = self.names.len();
        if let Some(c) = coalitions.iter().find(|c| n < 32 && c.0 >> n != 0) {
            return Err(Error::InvalidPlayers(format!(
                "coalition mask {} names players beyond n = {n}",
                c.0
            )));
        }
        let v = (self.f)(coalitions)?;
        if v.len() != coalitions.len() {
            return Err(Error::Invalid(format!(
                "the value function of {} returned {} values for {} coalitions",
                self.name,
                v.len(),
                coalitions.len()
            )));
        }
        Ok(v)
    }

    fn identity(&self) -> Result<Option<String>> {
        Ok(self.identity.clone())
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_game_looks_up_and_checks() {
        let g = VectorGame::new("v", vec![7.0, 8.0, 9.0, 13.0]).unwrap();
        assert_eq!(g.player_names(), vec!["x1", "x2"]);
        assert_eq!(
            g.values(&[Coalition(3), Coalition(0)]).unwrap(),
            vec![13.0, 7.0]
        );
        assert!(g.values(&[Coalition(4)]).is_err());
        assert!(VectorGame::new("v", vec![1.0, 2.0, 3.0]).is_err());
        assert!(VectorGame::new("v", vec![1.0, f64::INFINITY]).is_err());
        assert!(VectorGame::with_names("v", vec![1.0, 2.0], vec![]).is_err());
    }

    #[test]
    fn closure_game_checks_lengths() {
        let g = FnGame::new("f", vec!["a".into()], |cs: &[Coalition]| {
            Ok(vec![1.0; cs.len() + 1])
        });
        assert!(g.values(&[Coalition(0)]).is_err());
        assert!(g.values(&[Coalition(2)]).is_err());
    }
}
