//! Small helpers shared by every layer: SHA-256 in hex (cache keys, fingerprints, weight
//! identities) and the root of this checkout's caches.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Lower-case hex SHA-256 of `bytes` (64 characters).
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

/// Lower-case hex SHA-256 of a file's contents. Errors: the file cannot be read.
pub fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(sha256_hex(bytes))
}

/// `${INTERPRIM_CACHE:-<crate root>/.cache}`: the root of every cache of this checkout (assets,
/// value cache, notebook runs, the evcxr build).
pub fn cache_root() -> PathBuf {
    match std::env::var_os("INTERPRIM_CACHE") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache"),
    }
}

/// `n` samples of N(0, std²) as f32, drawn with rand_distr's `Normal` from `rng` (seeded
/// initialisations of network weights and heads). Errors: `std` negative or not finite.
pub fn normal_f32(n: usize, std: f64, rng: &mut impl rand::Rng) -> Result<Vec<f32>> {
    use rand_distr::Distribution;
    let normal = rand_distr::Normal::new(0.0, std).map_err(|e| Error::InvalidSetting {
        name: "std",
        value: std.to_string(),
        why: match e {
            rand_distr::NormalError::BadVariance => "a standard deviation must be finite and ≥ 0",
            _ => "invalid normal distribution",
        },
    })?;
    Ok((0..n).map(|_| normal.sample(rng) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_samples_are_seeded_and_scaled() {
        use rand::SeedableRng;
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut b = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x = normal_f32(20_000, 2.0, &mut a).unwrap();
        assert_eq!(x, normal_f32(20_000, 2.0, &mut b).unwrap());
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / x.len() as f64;
        assert!(
            mean.abs() < 0.05 && (var.sqrt() - 2.0).abs() < 0.05,
            "{mean} {var}"
        );
        assert!(normal_f32(1, f64::NAN, &mut a).is_err());
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
