//! Cooperative games: what interprim explains.
//!
//! A [`Game`] has n players and a value function v(x_T) defined for every coalition T ⊆ N (a
//! [`Coalition`] bitmask, bit i set ⇔ player i present). Everything the library can explain is a
//! game: a text classifier on a sentence with word players and a masking baseline, a causal
//! language model's next word on a prompt, a digit CNN with image-patch players, a plain value
//! vector ([`VectorGame`]) or any closure ([`FnGame`]). This follows shapiq's `Game`
//! (`shapiq/game.py`: `n_players`, `value_function(coalitions)`, `normalize`, `player_names`).
//!
//! [`evaluate`] computes all 2^n values of a game once: in batches, through the on-disk
//! [`ValueCache`] keyed by the game's [`Game::identity`], after checking the cost against a
//! [`Budget`], checking that every value is finite, and centring on the empty coalition where
//! asked (v(x_∅) = 0, shapiq's "normalisation", the authors' "gt-log-odds-v0").

mod cache;
mod vector;

use std::time::Instant;

pub use cache::{CachedValues, ValueCache};
pub use vector::{FnGame, VectorGame};

use crate::coalition::{Coalition, MAX_PLAYERS};
use crate::progress::{emit, Event, Observer};
use crate::{Error, Result};

/// A cooperative game over n players.
///
/// Implementors give [`Game::n_players`], [`Game::player_names`] and [`Game::values`]; the
/// defaults of the other methods suit games without a cache identity or shared work.
pub trait Game {
    /// A short name of what plays (the model's name, "A", …), used in progress and results.
    fn name(&self) -> String;

    /// The number of players n (1 ≤ n ≤ [`MAX_PLAYERS`] for exact computation).
    fn n_players(&self) -> usize;

    /// The players' names in player order (length n): words, patch names, x1…xn.
    fn player_names(&self) -> Vec<String>;

    /// The uncentred values v(x_T) of the given coalitions, in the same order. Errors name the
    /// cause (a network failure, a coalition outside 0..2^n).
    fn values(&self, coalitions: &[Coalition]) -> Result<Vec<f64>>;

    /// What identifies the values for the value cache: a string that changes whenever any value
    /// may change (e.g. the hash of the model weights, the input, the players and the baseline,
    /// the target). `None` (the default): never cached.
    fn identity(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// How many coalitions one call of [`Game::values`] should get (default 256).
    fn batch_size(&self) -> usize {
        256
    }

    /// Bytes of working memory per coalition in a batch (e.g. a masked image), used by the
    /// memory check of [`evaluate`] before anything is allocated. Default 0.
    fn bytes_per_coalition(&self) -> u64 {
        0
    }

    /// Whether [`Game::all_values`] shares work between coalitions (so that timing a batch of
    /// [`Game::values`] would misjudge its cost): such games skip the probe of [`evaluate`].
    fn shares_work(&self) -> bool {
        false
    }

    /// All 2^n uncentred values in mask order. The default calls [`Game::values`] in batches of
    /// [`Game::batch_size`] and reports `(done, total)` after each; games that share work between
    /// coalitions (the language models' prefix sharing) override it and [`Game::shares_work`].
    fn all_values(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<f64>> {
        let n = self.n_players();
        check_players(n)?;
        continue_in_batches(self, Vec::with_capacity(1 << n), progress)
    }
}

/// Append the values of coalitions `done.len()..2^n` to `done`, in batches of
/// [`Game::batch_size`], reporting after each batch.
fn continue_in_batches<G: Game + ?Sized>(
    game: &G,
    mut out: Vec<f64>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<f64>> {
    let total = 1usize << game.n_players();
    let batch = game.batch_size().max(1);
    let mut start = out.len();
    while start < total {
        let end = (start + batch).min(total);
        let coalitions: Vec<Coalition> = (start..end).map(|m| Coalition(m as u32)).collect();
        let v = game.values(&coalitions)?;
        if v.len() != coalitions.len() {
            return Err(Error::Invalid(format!(
                "game {} returned {} values for {} coalitions",
                game.name(),
                v.len(),
                coalitions.len()
            )));
        }
        out.extend(v);
        start = end;
        progress(start, total);
    }
    Ok(out)
}

/// n must lie in 1..=[`MAX_PLAYERS`].
pub fn check_players(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::InvalidPlayers(
            "a game needs at least one player (n ≥ 1): select at least one word, patch or input"
                .into(),
        ));
    }
    if n > MAX_PLAYERS {
        return Err(Error::TooManyPlayers {
            n,
            max: MAX_PLAYERS,
        });
    }
    Ok(())
}

/// Limits checked before a game is evaluated, so that a mistyped n does not start hours of work
/// or exhaust memory. Raise them explicitly for big jobs (CLI: `--max-masked-inputs`,
/// `--max-minutes`, `--memory-limit-mib`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    /// At most this many masked inputs (2^n) per game. Default 2^16 = 65,536.
    pub max_masked_inputs: u64,
    /// At most this many seconds per game, as estimated from a measured probe batch. Default
    /// 3,600.
    pub max_seconds: f64,
    /// At most this much memory in MiB for the values and the working batch. Default 16,384.
    pub memory_limit_mib: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_masked_inputs: 1 << 16,
            max_seconds: 3600.0,
            memory_limit_mib: 16 * 1024,
        }
    }
}

impl Budget {
    /// No limits (tests, small synthetic games).
    pub fn unlimited() -> Self {
        Budget {
            max_masked_inputs: u64::MAX,
            max_seconds: f64::INFINITY,
            memory_limit_mib: u64::MAX,
        }
    }

    /// Check the count and memory of evaluating `game` (before anything is allocated).
    pub fn check_size(&self, game: &dyn Game) -> Result<()> {
        let n = game.n_players();
        check_players(n)?;
        let total = 1u64 << n;
        if total > self.max_masked_inputs {
            return Err(Error::OverBudget(format!(
                "{}: n = {n} players means 2^{n} = {total} masked inputs, over the budget of {}; \
                 select fewer players or raise the budget (--max-masked-inputs, Budget::max_masked_inputs)",
                game.name(),
                self.max_masked_inputs
            )));
        }
        let batch = (game.batch_size().max(1) as u64).min(total);
        let need = total * 8 + batch * game.bytes_per_coalition();
        let need_mib = need.div_ceil(1 << 20);
        if need_mib > self.memory_limit_mib {
            return Err(Error::OutOfMemoryBudget {
                n,
                models: 1,
                need_mib,
                limit_mib: self.memory_limit_mib,
            });
        }
        Ok(())
    }
}

/// How [`evaluate`] runs.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// Subtract v(x_∅) so that the returned v(x_∅) = 0 (the authors' convention; default on in
    /// every task).
    pub centre: bool,
    /// The on-disk value cache; `None`: always evaluate.
    pub cache: Option<ValueCache>,
    pub budget: Budget,
}

impl EvalOptions {
    /// Centred, no cache, default budget.
    pub fn centred() -> Self {
        EvalOptions {
            centre: true,
            ..Default::default()
        }
    }
}

/// The values of one game on all 2^n coalitions.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GameValues {
    /// [`Game::name`].
    pub game: String,
    /// [`Game::player_names`].
    pub players: Vec<String>,
    /// v(x_T) in mask order (bit i = player i present), centred if `centred`.
    pub v: Vec<f64>,
    pub centred: bool,
    /// The uncentred v(x_∅) and v(x_N).
    pub raw_empty: f64,
    pub raw_full: f64,
    /// Read from the value cache.
    pub from_cache: bool,
    /// Seconds of evaluation: this call's, or the ones recorded in the cache entry.
    pub seconds: f64,
}

impl GameValues {
    /// n.
    pub fn n(&self) -> usize {
        self.v.len().trailing_zeros() as usize
    }
}

/// Check that every value is finite; the error names the game and the coalition.
pub fn check_finite(game: &str, v: &[f64]) -> Result<()> {
    if let Some((mask, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(Error::NonFinite {
            what: game.to_string(),
            mask,
            value,
        });
    }
    Ok(())
}

/// Evaluate `game` on all 2^n coalitions (or read them from the cache), after the budget
/// checks: the size and memory first, then — for a game that is not cached — a probe batch whose
/// measured time estimates the whole evaluation (reported as a note; refused above
/// `budget.max_seconds`). The probe's values are kept, not recomputed.
///
/// Errors: n out of range, over budget, a non-finite value (e.g. NaN from a model), a failing
/// game, an unreadable cache directory.
pub fn evaluate(
    game: &dyn Game,
    opts: &EvalOptions,
    mut observer: Option<&mut Observer<'_>>,
) -> Result<GameValues> {
    let name = game.name();
    let n = game.n_players();
    opts.budget.check_size(game)?;
    let players = game.player_names();
    if players.len() != n {
        return Err(Error::InvalidPlayers(format!(
            "game {name} names {} players but has n = {n}",
            players.len()
        )));
    }
    let identity = match &opts.cache {
        Some(_) => game.identity()?,
        None => None,
    };
    let total = 1usize << n;
    let cached = match (&opts.cache, &identity) {
        (Some(c), Some(id)) => c.load(id, n)?,
        _ => None,
    };
    let (raw, from_cache, seconds) = match cached {
        Some(c) => {
            emit(
                &mut observer,
                Event::Values {
                    game: &name,
                    done: total,
                    total,
                },
            );
            (c.values, true, c.seconds)
        }
        None => {
            let start = Instant::now();
            let raw = evaluate_with_probe(game, &opts.budget, &mut observer)?;
            let seconds = start.elapsed().as_secs_f64();
            check_finite(&name, &raw)?;
            if let (Some(c), Some(id)) = (&opts.cache, &identity) {
                c.store(id, &raw, seconds)?;
            }
            (raw, false, seconds)
        }
    };
    if raw.len() != total {
        return Err(Error::Invalid(format!(
            "game {name} returned {} values for 2^{n} = {total} coalitions",
            raw.len()
        )));
    }
    check_finite(&name, &raw)?;
    let (raw_empty, raw_full) = (raw[0], raw[total - 1]);
    let v = if opts.centre {
        let v: Vec<f64> = raw.iter().map(|x| x - raw_empty).collect();
        check_finite(&format!("{name} (centred)"), &v)?;
        v
    } else {
        raw
    };
    Ok(GameValues {
        game: name,
        players,
        v,
        centred: opts.centre,
        raw_empty,
        raw_full,
        from_cache,
        seconds,
    })
}

/// All values of `game`, with a cost estimate from the first batch when the game is large
/// enough for it to matter (more than one batch).
fn evaluate_with_probe(
    game: &dyn Game,
    budget: &Budget,
    observer: &mut Option<&mut Observer<'_>>,
) -> Result<Vec<f64>> {
    let name = game.name();
    let n = game.n_players();
    let total = 1usize << n;
    let batch = game.batch_size().max(1);
    if total <= batch || budget.max_seconds.is_infinite() || game.shares_work() {
        return game.all_values(&mut |done, total| {
            emit(
                observer,
                Event::Values {
                    game: &name,
                    done,
                    total,
                },
            )
        });
    }
    // Probe: the first batch, timed; its values are kept.
    let start = Instant::now();
    let probe: Vec<Coalition> = (0..batch).map(|m| Coalition(m as u32)).collect();
    let first = game.values(&probe)?;
    if first.len() != batch {
        return Err(Error::Invalid(format!(
            "game {name} returned {} values for {batch} coalitions",
            first.len()
        )));
    }
    let per = start.elapsed().as_secs_f64() / batch as f64;
    let estimate = per * total as f64;
    let note = format!(
        "{name}: 2^{n} = {total} masked inputs, about {} at the measured {:.0} inputs/s",
        human_seconds(estimate),
        1.0 / per.max(1e-12)
    );
    if estimate > budget.max_seconds {
        return Err(Error::OverBudget(format!(
            "{note}, over the budget of {}; select fewer players or raise the budget \
             (--max-minutes, Budget::max_seconds)",
            human_seconds(budget.max_seconds)
        )));
    }
    emit(observer, Event::Note(&note));
    emit(
        observer,
        Event::Values {
            game: &name,
            done: batch,
            total,
        },
    );
    continue_in_batches(game, first, &mut |done, total| {
        emit(
            observer,
            Event::Values {
                game: &name,
                done,
                total,
            },
        )
    })
}

/// "3.2 s", "4.5 min", "2.1 h".
pub fn human_seconds(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluate_centres_checks_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let calls = std::cell::Cell::new(0);
        let g = FnGame::new("f", vec!["a".into(), "b".into()], |cs: &[Coalition]| {
            calls.set(calls.get() + 1);
            Ok(cs.iter().map(|c| 2.0 + c.order() as f64).collect())
        })
        .with_identity("f v1");
        let opts = EvalOptions {
            centre: true,
            cache: Some(ValueCache::new(dir.path())),
            budget: Budget::default(),
        };
        let a = evaluate(&g, &opts, None).unwrap();
        assert_eq!(a.v, vec![0.0, 1.0, 1.0, 2.0]);
        assert_eq!((a.raw_empty, a.raw_full, a.from_cache), (2.0, 4.0, false));
        let b = evaluate(&g, &opts, None).unwrap();
        assert!(b.from_cache);
        assert_eq!(b.v, a.v);
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn non_finite_values_and_bad_sizes_are_errors() {
        let g = FnGame::new("nan", vec!["a".into()], |cs: &[Coalition]| {
            Ok(cs
                .iter()
                .map(|c| if c.0 == 1 { f64::NAN } else { 0.0 })
                .collect())
        });
        let e = evaluate(&g, &EvalOptions::centred(), None).unwrap_err();
        assert!(matches!(e, Error::NonFinite { mask: 1, .. }), "{e}");
        let short = FnGame::new("short", vec!["a".into()], |_: &[Coalition]| Ok(vec![0.0]));
        assert!(evaluate(&short, &EvalOptions::centred(), None).is_err());
        let none = FnGame::new("none", vec![], |_: &[Coalition]| Ok(vec![]));
        let e = evaluate(&none, &EvalOptions::centred(), None).unwrap_err();
        assert!(e.to_string().contains("at least one player"), "{e}");
    }

    #[test]
    fn budget_refuses_before_evaluating() {
        let names: Vec<String> = (0..20).map(|i| format!("x{i}")).collect();
        let g = FnGame::new("big", names, |_: &[Coalition]| -> Result<Vec<f64>> {
            panic!("must not be called")
        });
        let e = evaluate(&g, &EvalOptions::centred(), None).unwrap_err();
        assert!(e.to_string().contains("over the budget"), "{e}");
    }

    #[test]
    fn probe_estimate_refuses_slow_games() {
        let names: Vec<String> = (0..10).map(|i| format!("x{i}")).collect();
        let g = FnGame::new("slow", names, |cs: &[Coalition]| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(vec![0.0; cs.len()])
        })
        .with_batch_size(16);
        let opts = EvalOptions {
            budget: Budget {
                max_seconds: 0.5,
                ..Budget::default()
            },
            ..EvalOptions::centred()
        };
        let e = evaluate(&g, &opts, None).unwrap_err();
        assert!(e.to_string().contains("masked inputs, about"), "{e}");
    }
}
