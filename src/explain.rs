//! Games in, interactions out: the one extraction path of the library.
//!
//! [`explain`] evaluates every game on all 2^n coalitions ([`crate::game::evaluate`]: cache,
//! budget, centring) and hands the value vectors to [`explain_values`], which runs the
//! extractions the paper compares — generalizable (all models jointly, m ≥ 2), traditional (each
//! model alone) and plain Harsanyi (AND interactions of v, no decomposition) — with one
//! [`DecompositionOptions`]. The text API ([`crate::api`]), the runs over many samples
//! ([`crate::run`]), the command line and the notebooks all go through [`explain_values`], so one
//! sample gives the same interactions whichever door it came in by.
//!
//! ```
//! use interprim::explain::{explain, ExplainOptions};
//! use interprim::game::FnGame;
//! use interprim::Coalition;
//! // two "models" of three players: an AND of players 0 and 1, plus a little of player 2
//! let f = |w: f64| move |cs: &[Coalition]| -> interprim::Result<Vec<f64>> {
//!     Ok(cs.iter().map(|c| 2.0 * (c.contains(0) && c.contains(1)) as u8 as f64
//!         + w * c.contains(2) as u8 as f64).collect())
//! };
//! let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
//! let (a, b) = (FnGame::new("A", names.clone(), f(0.1)), FnGame::new("B", names, f(0.3)));
//! let e = explain(&[&a, &b], &ExplainOptions::default(), None)?;
//! let g = e.generalizable.as_ref().unwrap().reorganised();
//! // each model's strongest primitive is AND {a, b}, of effect 2 up to the error terms ε_T
//! // (each at most 2 % of |v(N) − v(∅)|), which the sparsest decomposition uses
//! for it in &g {
//!     let top = it.iter().max_by(|x, y| x.effect.abs().total_cmp(&y.effect.abs())).unwrap();
//!     assert_eq!((top.kind, top.coalition.mask()), (interprim::Kind::And, 0b011));
//!     assert!((top.effect - 2.0).abs() < 0.2, "{}", top.effect);
//! }
//! # Ok::<(), interprim::Error>(())
//! ```

use std::time::Instant;

use crate::decomposition::{decompose, Decomposition, DecompositionOptions, Method};
use crate::game::{evaluate, EvalOptions, Game, GameValues};
use crate::interactions::Interactions;
use crate::progress::{Event, Observer};
use crate::{Error, Result};

/// Which extractions [`explain_values`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Methods {
    /// Generalizable extraction of all models jointly (needs m ≥ 2).
    pub generalizable: bool,
    /// Traditional extraction of each model alone.
    pub traditional: bool,
}

impl Default for Methods {
    /// Both (plain Harsanyi interactions are always computed: they cost one transform).
    fn default() -> Self {
        Methods {
            generalizable: true,
            traditional: true,
        }
    }
}

/// Settings of [`explain`].
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// How games are evaluated (centring on, cache, budget).
    pub eval: EvalOptions,
    pub decomposition: DecompositionOptions,
    pub methods: Methods,
}

impl Default for ExplainOptions {
    /// Centred values, no cache, the default budget, both methods, the default decomposition.
    fn default() -> Self {
        ExplainOptions {
            eval: EvalOptions::centred(),
            decomposition: DecompositionOptions::default(),
            methods: Methods::default(),
        }
    }
}

/// Seconds spent on one sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    /// Evaluating the games (all models; the recorded evaluation time for cached values).
    pub values: f64,
    pub generalizable: f64,
    pub traditional: f64,
}

/// Everything extracted from m games on one input (same players).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Explanation {
    /// The players' names (from the first game).
    pub players: Vec<String>,
    /// Each game's values.
    pub values: Vec<GameValues>,
    /// The joint decomposition of all models (m ≥ 2 and asked for).
    pub generalizable: Option<Decomposition>,
    /// One decomposition per model (when asked for).
    pub traditional: Vec<Decomposition>,
    /// Plain Harsanyi interactions of each model's v (AND only).
    pub harsanyi: Vec<Interactions>,
    pub seconds: Timings,
}

impl Explanation {
    /// n.
    pub fn n(&self) -> usize {
        self.players.len()
    }

    /// The models' names.
    pub fn models(&self) -> Vec<String> {
        self.values.iter().map(|v| v.game.clone()).collect()
    }

    /// The reorganised interactions (OR terms of order ≤ 1 moved into AND) of every model under
    /// one method: "generalizable", "traditional" or "harsanyi". Empty when that method did not
    /// run.
    pub fn method(&self, method: &str) -> Vec<Interactions> {
        match method {
            "generalizable" => self
                .generalizable
                .as_ref()
                .map(|d| d.reorganised())
                .unwrap_or_default(),
            "traditional" => self
                .traditional
                .iter()
                .map(|d| d.interactions[0].reorganised())
                .collect(),
            _ => self.harsanyi.clone(),
        }
    }
}

/// Evaluate `games` (same n) and extract their interactions: see the module docs.
///
/// Errors: no games, games with different n, any error of evaluation or decomposition.
pub fn explain(
    games: &[&dyn Game],
    opts: &ExplainOptions,
    mut observer: Option<&mut Observer<'_>>,
) -> Result<Explanation> {
    let first = games
        .first()
        .ok_or_else(|| Error::WrongModelCount("no games given".into()))?;
    let n = first.n_players();
    for g in games {
        if g.n_players() != n {
            return Err(Error::InvalidPlayers(format!(
                "games {} and {} have {} and {} players: a joint extraction needs the same players",
                first.name(),
                g.name(),
                n,
                g.n_players()
            )));
        }
    }
    let mut values = Vec::with_capacity(games.len());
    for g in games {
        let o = observer.as_mut().map(|o| &mut **o as &mut Observer<'_>);
        values.push(evaluate(*g, &opts.eval, o)?);
    }
    explain_values(values, &opts.decomposition, opts.methods, observer)
}

/// Extract from value vectors already computed (the runs call this per sample, with the run's γ̂
/// bounds in `opts`). Needs m ≥ 1 vectors of the same length; generalizable extraction runs only
/// for m ≥ 2.
pub fn explain_values(
    values: Vec<GameValues>,
    opts: &DecompositionOptions,
    methods: Methods,
    mut observer: Option<&mut Observer<'_>>,
) -> Result<Explanation> {
    let first = values
        .first()
        .ok_or_else(|| Error::WrongModelCount("no value vectors given".into()))?;
    let players = first.players.clone();
    let vs: Vec<&[f64]> = values.iter().map(|v| v.v.as_slice()).collect();
    crate::decomposition::check_inputs(&vs)?;
    let mut seconds = Timings {
        values: values.iter().map(|v| v.seconds).sum(),
        ..Default::default()
    };
    let generalizable = if methods.generalizable && vs.len() >= 2 {
        let start = Instant::now();
        let mut f = solver_events(&mut observer, "generalizable".into());
        let d = decompose(&vs, Method::Generalizable, opts, Some(&mut f))?;
        seconds.generalizable = start.elapsed().as_secs_f64();
        Some(d)
    } else {
        None
    };
    let mut traditional = Vec::new();
    if methods.traditional {
        let start = Instant::now();
        for (v, gv) in vs.iter().zip(&values) {
            let mut f = solver_events(&mut observer, format!("traditional {}", gv.game));
            traditional.push(decompose(&[v], Method::Traditional, opts, Some(&mut f))?);
        }
        seconds.traditional = start.elapsed().as_secs_f64();
    }
    let harsanyi = vs
        .iter()
        .map(|v| Interactions::harsanyi(v))
        .collect::<Result<_>>()?;
    Ok(Explanation {
        players,
        values,
        generalizable,
        traditional,
        harsanyi,
        seconds,
    })
}

/// The decomposition's (iteration, max, loss) callback as [`Event::Solver`] events.
fn solver_events<'a, 'b, 'c>(
    observer: &'a mut Option<&'b mut Observer<'c>>,
    what: String,
) -> impl FnMut(usize, usize, f64) + use<'a, 'b, 'c> {
    move |iteration, max_iterations, loss| {
        if let Some(o) = observer.as_mut() {
            o(&Event::Solver {
                what: &what,
                iteration,
                max_iterations,
                loss,
                gap: None,
            });
        }
    }
}
