//! The Rotten Tomatoes sentences with human ratings (Hutto & Gilbert 2014, shipped with
//! vaderSentiment; method §6): the corpus SST is built from, and our stand-in for SST-2.
//!
//! File format: one sentence per line, `id TAB rating TAB sentence`, CRLF line endings, rating a
//! float in -4..+4 (mean of human ratings). A binary label is the sign of the rating; sentences
//! rated exactly 0 have no label and are dropped. Label 1 = positive, 0 = negative.
//!
//! The train/test split is stratified by label and seeded with a ChaCha8 stream and our own
//! Fisher–Yates shuffle, so it does not depend on the shuffling algorithm of a `rand` version:
//! fine-tuning and the replication use exactly the same held-out sentences.

use std::path::{Path, PathBuf};

use rand::{RngCore, SeedableRng};

use crate::models::{assets, ModelError};
use crate::{Error, Result};

/// File name of the movie-review sentences in the asset cache.
pub const MOVIE_REVIEWS_FILE: &str = "movieReviewSnippets_GroundTruth.txt";
/// Label of a negative sentence (rating < 0).
pub const NEGATIVE: u32 = 0;
/// Label of a positive sentence (rating > 0).
pub const POSITIVE: u32 = 1;
/// Label names, indexed by label.
pub const LABEL_NAMES: [&str; 2] = ["negative", "positive"];
/// Fraction of each class held out for testing by [`default_split`].
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;
/// Seed of [`default_split`].
pub const DEFAULT_SPLIT_SEED: u64 = 0;

/// One rated sentence with its binary label.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledSentence {
    /// The id of the first column (1-based in the file).
    pub id: u32,
    /// Mean human rating, -4..+4, never 0.
    pub rating: f64,
    /// The sentence, as in the file (without the line ending).
    pub text: String,
    /// [`POSITIVE`] when rating > 0, [`NEGATIVE`] when rating < 0.
    pub label: u32,
}

/// The cached movieReviewSnippets_GroundTruth.txt.
pub fn default_path() -> PathBuf {
    assets::sentences_dir().join(MOVIE_REVIEWS_FILE)
}

/// Parse the text of a sentence file. `source` only names the file in errors. Empty lines (the
/// end of the file) are skipped; sentences rated 0 are dropped; anything else that is not
/// `id TAB rating TAB sentence` is an error naming the line.
pub fn parse_sentences(text: &str, source: &Path) -> Result<Vec<LabeledSentence>> {
    let bad = |line: usize, why: String| Error::BadFile {
        path: source.to_path_buf(),
        why: format!("line {line}: {why} (expected `id TAB rating TAB sentence`)"),
    };
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (id, rating, sentence) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => return Err(bad(line_no, "fewer than three tab-separated fields".into())),
        };
        let id: u32 = id
            .trim()
            .parse()
            .map_err(|_| bad(line_no, format!("id {id:?} is not a non-negative integer")))?;
        let rating: f64 = rating
            .trim()
            .parse()
            .map_err(|_| bad(line_no, format!("rating {rating:?} is not a number")))?;
        if !rating.is_finite() {
            return Err(bad(line_no, format!("rating {rating} is not finite")));
        }
        let sentence = sentence.trim();
        if sentence.is_empty() {
            return Err(bad(line_no, "empty sentence".into()));
        }
        if rating == 0.0 {
            continue;
        }
        out.push(LabeledSentence {
            id,
            rating,
            text: sentence.to_string(),
            label: if rating > 0.0 { POSITIVE } else { NEGATIVE },
        });
    }
    if out.is_empty() {
        return Err(Error::BadFile {
            path: source.to_path_buf(),
            why: "no labelled sentences (the file is empty or every rating is 0)".into(),
        });
    }
    Ok(out)
}

/// Load and parse a sentence file (see [`parse_sentences`]). A missing file is an error that says
/// how to fetch it.
pub fn load_sentences(path: &Path) -> Result<Vec<LabeledSentence>> {
    if !path.is_file() {
        return Err(ModelError::MissingFile {
            path: path.to_path_buf(),
            hint: format!(
                "{} (`scripts/fetch-assets.sh sentiment`)",
                assets::FETCH_HINT
            ),
        }
        .into());
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| Error::BadFile {
        path: path.to_path_buf(),
        why: format!("not UTF-8: {e}"),
    })?;
    parse_sentences(&text, path)
}

/// A train/test split of labelled sentences; both parts keep the order of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<LabeledSentence>,
    pub test: Vec<LabeledSentence>,
}

/// A uniform integer in `0..n` (n > 0) from a ChaCha stream, by rejection (no modulo bias), so the
/// result depends only on the seed.
fn below(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let x = rng.next_u64();
        if x < zone {
            return (x % n) as usize;
        }
    }
}

/// Fisher–Yates shuffle driven by [`below`].
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut rand_chacha::ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i + 1);
        items.swap(i, j);
    }
}

/// Indices of a stratified split: for each label, the indices of its items are shuffled with the
/// seed and the first `round(fraction · count)` go to the test part. Returns (train, test), each
/// sorted ascending. `fraction` must be in [0, 1).
pub fn stratified_split_indices(
    labels: &[u32],
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&test_fraction) {
        return Err(Error::InvalidSetting {
            name: "test_fraction",
            value: test_fraction.to_string(),
            why: "must be in [0, 1)",
        });
    }
    let mut classes: Vec<u32> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        shuffle(&mut idx, &mut rng);
        let n_test = (test_fraction * idx.len() as f64).round() as usize;
        test.extend_from_slice(&idx[..n_test]);
        train.extend_from_slice(&idx[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// Stratified, seeded train/test split of `sentences` (see [`stratified_split_indices`]).
pub fn stratified_split(
    sentences: &[LabeledSentence],
    test_fraction: f64,
    seed: u64,
) -> Result<Split> {
    let labels: Vec<u32> = sentences.iter().map(|s| s.label).collect();
    let (train, test) = stratified_split_indices(&labels, test_fraction, seed)?;
    Ok(Split {
        train: train.into_iter().map(|i| sentences[i].clone()).collect(),
        test: test.into_iter().map(|i| sentences[i].clone()).collect(),
    })
}

/// The project's split of the cached movie reviews: 80/20 stratified, seed 0. The default
/// sentiment models were fine-tuned on `train` only; report and replicate on `test`.
pub fn default_split() -> Result<Split> {
    stratified_split(
        &load_sentences(&default_path())?,
        DEFAULT_TEST_FRACTION,
        DEFAULT_SPLIT_SEED,
    )
}

/// A seeded subset of `n` items of `sentences` (all of them when n ≥ len), in input order:
/// e.g. the test sentences a quick evaluation uses.
pub fn seeded_subset(sentences: &[LabeledSentence], n: usize, seed: u64) -> Vec<LabeledSentence> {
    if n >= sentences.len() {
        return sentences.to_vec();
    }
    let mut idx: Vec<usize> = (0..sentences.len()).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    shuffle(&mut idx, &mut rng);
    idx.truncate(n);
    idx.sort_unstable();
    idx.into_iter().map(|i| sentences[i].clone()).collect()
}
