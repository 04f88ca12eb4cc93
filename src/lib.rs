#![doc = include_str!("../README.md")]

pub mod coalition;
pub mod error;
pub mod transform;

pub use coalition::{Coalition, MAX_PLAYERS};
pub use error::{Error, Result};
pub use interactions::{Interaction, Interactions, Kind};
pub use decomposition::{decompose_generalizable, decompose_traditional, Decomposition, GeneralizableOptions, Optimizer, TraditionalOptions};
pub mod decomposition;
pub mod interactions;
pub mod metrics;
pub mod export;
pub mod demo;
pub mod cli;
pub mod models;
pub mod onnx;
pub mod figures;
pub mod replication;
pub mod prelude;
pub mod sentiment;
pub mod data;
pub mod train;
pub mod text;
pub mod api;
