//! One on-disk value cache for every game, keyed by [`super::Game::identity`].
//!
//! An entry is `<dir>/<sha256(identity)>.npy` (the 2^n uncentred values, f64, mask order bit i =
//! player i present) and `<dir>/<sha256(identity)>.json` (the full identity, n, the seconds the
//! evaluation took, the cache format version), both written atomically, the JSON last. An entry
//! whose JSON does not hold the same identity and version, or whose sizes disagree, is a miss and
//! is recomputed: a stale entry is never reused.

use std::path::{Path, PathBuf};

use crate::export::{npy_bytes, read_npy, write_atomic};
use crate::util::sha256_hex;
use crate::{Error, Result};

/// Bumped whenever the meaning of a cached vector changes.
const VERSION: u32 = 2;

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    version: u32,
    identity: String,
    n: usize,
    seconds: f64,
}

/// Values read back from the cache.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedValues {
    pub values: Vec<f64>,
    /// Seconds the evaluation took when it was stored.
    pub seconds: f64,
}

/// A directory of cached value vectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueCache {
    dir: PathBuf,
}

impl ValueCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ValueCache { dir: dir.into() }
    }

    /// `$INTERPRIM_VALUE_CACHE` when set (non-empty), else
    /// `${INTERPRIM_CACHE:-<crate root>/.cache}/values`. The notebook regression test points
    /// `INTERPRIM_VALUE_CACHE` at a private folder of pinned values, so that it never replaces the
    /// values this machine computed.
    pub fn default_dir() -> PathBuf {
        match std::env::var_os("INTERPRIM_VALUE_CACHE") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => crate::util::cache_root().join("values"),
        }
    }

    /// The cache in [`Self::default_dir`].
    pub fn default_cache() -> Self {
        Self::new(Self::default_dir())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, identity: &str) -> (PathBuf, PathBuf) {
        let h = sha256_hex(format!("v{VERSION}\n{identity}"));
        (
            self.dir.join(format!("{h}.npy")),
            self.dir.join(format!("{h}.json")),
        )
    }

    /// The values stored under `identity` for n players, if present and consistent.
    pub fn load(&self, identity: &str, n: usize) -> Result<Option<CachedValues>> {
        let (npy, json) = self.paths(identity);
        let Ok(text) = std::fs::read_to_string(&json) else {
            return Ok(None);
        };
        let Ok(meta) = serde_json::from_str::<Meta>(&text) else {
            return Ok(None);
        };
        if meta.version != VERSION || meta.identity != identity || meta.n != n {
            return Ok(None);
        }
        let Ok(values) = read_npy(&npy) else {
            return Ok(None);
        };
        if values.len() != 1usize << n || values.iter().any(|x| !x.is_finite()) {
            return Ok(None);
        }
        Ok(Some(CachedValues {
            values,
            seconds: meta.seconds,
        }))
    }

    /// Store `values` (length 2^n) under `identity`.
    pub fn store(&self, identity: &str, values: &[f64], seconds: f64) -> Result<()> {
        let n = crate::coalition::players_for_len(values.len())?;
        let (npy, json) = self.paths(identity);
        write_atomic(&npy, &npy_bytes(values)?)?;
        let meta = Meta {
            version: VERSION,
            identity: identity.to_string(),
            n,
            seconds,
        };
        let text = serde_json::to_vec_pretty(&meta)
            .map_err(|e| Error::Invalid(format!("cannot encode a cache entry: {e}")))?;
        write_atomic(&json, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exactly_and_rejects_other_identities() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ValueCache::new(dir.path());
        assert!(cache.load("a", 1).unwrap().is_none());
        let v = vec![0.1, 1.0 / 3.0];
        cache.store("a", &v, 1.5).unwrap();
        assert_eq!(
            cache.load("a", 1).unwrap(),
            Some(CachedValues {
                values: v.clone(),
                seconds: 1.5
            })
        );
        assert!(cache.load("b", 1).unwrap().is_none());
        assert!(cache.load("a", 2).unwrap().is_none());
        // a corrupt vector is a miss
        let (npy, _) = cache.paths("a");
        std::fs::write(&npy, b"garbage").unwrap();
        assert!(cache.load("a", 1).unwrap().is_none());
    }
}
