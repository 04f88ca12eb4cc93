#![doc = include_str!("../README.md")]

pub mod coalition;
pub mod error;
pub mod transform;

pub use coalition::{Coalition, MAX_PLAYERS};
pub use decomposition::{
    decompose_generalizable, decompose_traditional, Decomposition, GeneralizableOptions, Optimizer,
    TraditionalOptions,
};
pub use error::{Error, Result};
pub use interactions::{Interaction, Interactions, Kind};
pub mod api;
pub mod cli;
pub mod data;
pub mod decomposition;
pub mod demo;
pub mod digits;
pub mod display;
pub mod export;
pub mod figures;
pub mod interactions;
pub mod metrics;
pub mod models;
pub mod next_word;
pub mod onnx;
pub mod prelude;
pub mod replication;
pub mod sentiment;
pub mod study;
pub mod text;
pub mod train;
