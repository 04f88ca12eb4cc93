//! The games of the networks interprim ships (feature `models`): each implements
//! [`crate::game::Game`] for one input of one model.
//!
//! - [`text`]: a BERT sentence classifier on one sentence, word players, embedding or token-id
//!   masking with any baseline, v = log-odds of a class;
//! - [`lm`]: a causal language model on one prompt, word players, token-id masking, v = log-odds
//!   of the next word's first token (prefix sharing through the KV cache);
//! - [`image`]: a digit CNN on one image, patch players, zero baseline, v = log-odds of "3".
//!
//! A user's own model needs none of these: implement [`crate::game::Game`] or wrap a closure in
//! [`crate::game::FnGame`] (see `examples/custom_model.rs`).

pub mod image;
pub mod lm;
pub mod text;
