#![doc = include_str!("../README.md")]

// --- the maths core (no model, plotting or CLI crate) ---------------------------------------
pub mod coalition;
pub mod error;
pub mod progress;
pub mod util;

pub mod game;

pub mod transform;

pub mod decomposition;
pub mod interactions;

pub mod explain;
pub mod metrics;

pub mod demo;
pub mod export;

// --- networks and the games built on them (feature `models`) ------------------------------------
#[cfg(feature = "models")]
pub mod api;
#[cfg(feature = "models")]
pub mod data;
#[cfg(feature = "models")]
pub mod games;
#[cfg(feature = "models")]
pub mod models;
#[cfg(feature = "models")]
pub mod onnx;
#[cfg(feature = "models")]
pub mod text;
#[cfg(feature = "models")]
pub mod train;

// --- figures and rich display (feature `plot`) ---------------------------------------------------
#[cfg(feature = "plot")]
pub mod display;
#[cfg(feature = "plot")]
pub mod plot;

// --- runs over many samples (core; reports with `plot`) and the paper's tasks (`tasks`) ---------
pub mod run;
#[cfg(feature = "tasks")]
pub mod tasks;

// --- the command line (feature `cli`) ------------------------------------------------------------
#[cfg(feature = "cli")]
pub mod cli;

pub mod prelude;

pub use coalition::{Coalition, MAX_PLAYERS};
pub use decomposition::{
    decompose, decompose_generalizable, decompose_traditional, Decomposition, DecompositionOptions,
    Method, Optimizer, SolverKind,
};
pub use error::{Error, Result};
pub use game::{Game, GameValues};
pub use interactions::{Interaction, Interactions, Kind};
