//! One error type for the library: every failure on user input is a value, never a panic, and its
//! message names the problem and the fix. The maths core's errors need no model crate; network
//! errors ([`Error::Model`]) exist with the `models` feature.

use std::path::PathBuf;

/// Errors returned by interprim.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value vector whose length is not 2^n.
    #[error("value vector has length {len}, which is not a power of two: it must hold v(x_T) for all 2^n coalitions T")]
    NotPowerOfTwo { len: usize },
    /// More players than the exact computation supports.
    #[error("n = {n} players is too many: at most {max} are supported (2^n masked inputs); select fewer players")]
    TooManyPlayers { n: usize, max: usize },
    /// The computation would need more memory than allowed.
    #[error("n = {n} with {models} model(s) needs about {need_mib} MiB, over the limit of {limit_mib} MiB; select fewer players or raise the limit")]
    OutOfMemoryBudget {
        n: usize,
        models: usize,
        need_mib: u64,
        limit_mib: u64,
    },
    /// NaN or infinity in a value vector (e.g. a model produced NaN).
    #[error("value v(x_T) for coalition mask {mask} of {what} is {value}: values must be finite (check the model output and the target label)")]
    NonFinite {
        what: String,
        mask: usize,
        value: f64,
    },
    /// Models of one joint extraction disagree on n.
    #[error("models disagree on the number of coalitions: {first} vs {other}; all value vectors of a joint extraction must come from the same players")]
    MismatchedLengths { first: usize, other: usize },
    /// Generalizable extraction needs at least two models; traditional exactly one.
    #[error("{0}")]
    WrongModelCount(String),
    /// An optimiser setting out of range.
    #[error("invalid setting {name} = {value}: {why}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        why: &'static str,
    },
    /// A player index or name that does not exist.
    #[error("{0}")]
    InvalidPlayers(String),
    /// File-system failure, with the path.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file that exists but cannot be parsed.
    #[error("{path}: {why}")]
    BadFile { path: PathBuf, why: String },
    /// Anything else that is the user's to fix.
    #[error("{0}")]
    Invalid(String),
    /// Work over the cost budget (masked inputs, estimated time): refused before it starts.
    #[error("{0}")]
    OverBudget(String),
    /// Finite values whose range is too large for the f64 arithmetic of the transforms.
    #[error("value range too large for f64 arithmetic: {0}")]
    ValueRange(String),
    /// Loading or running a network (missing weights, tokenizer failure, tensor error).
    #[cfg(feature = "models")]
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Attach a path to an I/O error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
