//! Sentiment data, fine-tuning and the committed default models.
//!
//! Parsing, splitting and a training run on a tiny random BERT always run. Tests on the real
//! assets (scripts/fetch-assets.sh sentiment) print a skip message and pass when the assets are
//! absent, unless INTERPRIM_REQUIRE_ASSETS is set, in which case they fail.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use interprim::data::sentences::{
    default_path, default_split, load_sentences, parse_sentences, seeded_subset, stratified_split,
    stratified_split_indices, LabeledSentence, NEGATIVE, POSITIVE,
};
use interprim::models::bert::Pooling;
use interprim::models::checkpoint::{load_bert_classifier, HeadSource, ModelFiles};
use interprim::models::registry::SentimentModel;
use interprim::models::tokenizer::TextTokenizer;
use interprim::train::{evaluate, train_sentiment, Storage, TrainOptions};

fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// True when the asset files exist; otherwise prints why the test is skipped (or panics when
/// INTERPRIM_REQUIRE_ASSETS is set).
fn have_assets(paths: &[PathBuf], test: &str) -> bool {
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: assets missing ({}); run scripts/fetch-assets.sh sentiment",
        missing.join(", ")
    );
    if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
        panic!("INTERPRIM_REQUIRE_ASSETS is set but {msg}");
    }
    note(&format!("SKIPPED {msg}"));
    false
}

fn model_paths(model: SentimentModel) -> Vec<PathBuf> {
    let f = model.base_files();
    vec![f.config, f.tokenizer, f.weights, default_path()]
}

// ---------------------------------------------------------------------------------------------
// Parsing and splitting

#[test]
fn parses_crlf_drops_zero_and_labels_by_sign() {
    let text = "1\t2.5\tA fine, warm film.\r\n2\t-0.25\tDull.\r\n3\t0\tIt exists.\r\n\
                4\t-3.1\tAwful\twith a tab.\n5\t0.0\tNeutral.\r\n";
    let s = parse_sentences(text, Path::new("x.txt")).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(
        s[0],
        LabeledSentence {
            id: 1,
            rating: 2.5,
            text: "A fine, warm film.".into(),
            label: POSITIVE
        }
    );
    assert_eq!(
        (s[1].id, s[1].label, s[1].text.as_str()),
        (2, NEGATIVE, "Dull.")
    );
    // The third field is the rest of the line, tabs included; no '\r' survives.
    assert_eq!((s[2].id, s[2].label), (4, NEGATIVE));
    assert_eq!(s[2].text, "Awful\twith a tab.");
    assert!(s.iter().all(|x| !x.text.contains('\r') && x.rating != 0.0));
}

#[test]
fn malformed_lines_are_errors_naming_the_line() {
    for (text, needle) in [
        ("1\t1.0\tok\r\n2\tabc\tbad rating\r\n", "line 2"),
        ("1\t1.0\r\n", "three tab-separated fields"),
        ("x\t1.0\tbad id\r\n", "id"),
        ("1\tNaN\tnan\r\n", "not finite"),
        ("1\t0\tonly neutral\r\n", "no labelled sentences"),
        ("", "no labelled sentences"),
    ] {
        let e = parse_sentences(text, Path::new("ratings.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ratings.txt") && e.contains(needle),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn missing_file_error_says_how_to_fetch() {
    let e = load_sentences(Path::new("/nonexistent/movie.txt"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/movie.txt") && e.contains("fetch-assets"),
        "{e}"
    );
}

fn synthetic(n_pos: usize, n_neg: usize) -> Vec<LabeledSentence> {
    (0..n_pos + n_neg)
        .map(|i| {
            let label = if i < n_pos { POSITIVE } else { NEGATIVE };
            LabeledSentence {
                id: i as u32 + 1,
                rating: if label == POSITIVE { 1.0 } else { -1.0 },
                text: format!("sentence {i}"),
                label,
            }
        })
        .collect()
}

#[test]
fn split_is_reproducible_disjoint_complete_and_stratified() {
    let data = synthetic(107, 53);
    let a = stratified_split(&data, 0.2, 0).unwrap();
    let b = stratified_split(&data, 0.2, 0).unwrap();
    assert_eq!(a, b, "same seed, same split");
    let c = stratified_split(&data, 0.2, 1).unwrap();
    assert_ne!(a.test, c.test, "another seed, another split");
    let mut ids: Vec<u32> = a.train.iter().chain(&a.test).map(|s| s.id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=160).collect::<Vec<u32>>(),
        "disjoint and complete"
    );
    let count = |v: &[LabeledSentence], l| v.iter().filter(|s| s.label == l).count();
    assert_eq!(count(&a.test, POSITIVE), 21); // round(0.2 * 107)
    assert_eq!(count(&a.test, NEGATIVE), 11); // round(0.2 * 53)
    assert!(
        a.test.windows(2).all(|w| w[0].id < w[1].id),
        "input order kept"
    );
    let (tr, te) = stratified_split_indices(&[0, 1, 0, 1], 0.0, 0).unwrap();
    assert_eq!((tr, te), (vec![0, 1, 2, 3], vec![]));
    assert!(stratified_split(&data, 1.0, 0).is_err());
    assert!(stratified_split(&data, -0.1, 0).is_err());
    let sub = seeded_subset(&a.test, 10, 5);
    assert_eq!(sub, seeded_subset(&a.test, 10, 5));
    assert_eq!(sub.len(), 10);
    assert!(sub.iter().all(|s| a.test.contains(s)));
}

#[test]
fn real_sentences_counts_and_default_split() {
    if !have_assets(&[default_path()], "real_sentences_counts_and_default_split") {
        return;
    }
    let all = load_sentences(&default_path()).unwrap();
    // 10,605 rated sentences, 37 rated exactly 0.
    assert_eq!(all.len(), 10_568);
    let pos = all.iter().filter(|s| s.label == POSITIVE).count();
    assert_eq!((pos, all.len() - pos), (5_242, 5_326));
    assert_eq!(all[0].id, 1);
    assert!(all[0].text.starts_with("The Rock is destined"));
    assert!(all
        .iter()
        .all(|s| s.rating.abs() <= 4.0 && !s.text.ends_with('\r')));
    let split = default_split().unwrap();
    assert_eq!(split.test.len(), 1_048 + 1_065);
    assert_eq!(split.train.len(), 10_568 - 2_113);
    assert_eq!(split, default_split().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Training on a tiny random BERT

const WORDS: [&str; 22] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "film", "plot", "was", "is",
    "very", "a", "good", "great", "fun", "bad", "dull", "awful", "acting", "story", ".",
];

/// Deterministic pseudo-random values in [-a, a].
fn lcg_values(n: usize, seed: u64, a: f32) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * a
        })
        .collect()
}

/// A tiny BERT (hidden 16, 2 layers, no pooler) and an 80-sentence data file whose label is
/// given by the sentiment word: 64 training and 16 test sentences.
fn tiny_setup() -> (tempfile::TempDir, ModelFiles, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (v, h, i, p, l) = (WORDS.len(), 16, 32, 32, 2);
    let cfg = common::tiny_bert::config_json(v, h, i, p, l, 2, "gelu");
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    std::fs::write(
        dir.path().join("tokenizer.json"),
        common::tiny_bert::tokenizer_json(&WORDS, None),
    )
    .unwrap();
    let shapes = common::tiny_bert::encoder_shapes(v, h, i, p, l);
    let tensors: std::collections::HashMap<String, Tensor> = shapes
        .into_iter()
        .enumerate()
        .map(|(k, (n, s))| {
            let len: usize = s.iter().product();
            // Small layer weights: the residual stream keeps the words, so a probe can learn.
            let vals: Vec<f32> = if n.contains("LayerNorm.weight") {
                vec![1.0; len]
            } else if n.starts_with("embeddings.word") {
                lcg_values(len, k as u64, 1.0)
            } else {
                lcg_values(len, k as u64, 0.1)
            };
            (
                n,
                Tensor::from_vec(vals, s.as_slice(), &Device::Cpu).unwrap(),
            )
        })
        .collect();
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();

    let subjects = ["the movie", "the film", "the plot", "the acting", "a story"];
    let verbs = ["was", "is", "was very", "is very"];
    let good = ["good", "great", "fun"];
    let bad = ["bad", "dull", "awful"];
    let mut lines = String::new();
    for k in 0..80 {
        let positive = k % 2 == 0;
        let word = if positive { good[k % 3] } else { bad[k % 3] };
        let sentence = format!("{} {} {word} .", subjects[k % 5], verbs[(k / 5) % 4]);
        let rating = if positive { 1.5 } else { -1.5 };
        lines += &format!("{}\t{rating}\t{sentence}\r\n", k + 1);
    }
    let data = dir.path().join("sentences.txt");
    std::fs::write(&data, lines).unwrap();
    let files = ModelFiles::in_dir(dir.path());
    (dir, files, data)
}

fn tiny_options(files: &ModelFiles, data: &Path, out: &Path) -> TrainOptions {
    TrainOptions {
        model_name: "tiny".into(),
        base: files.clone(),
        sentences: data.to_path_buf(),
        out: out.to_path_buf(),
        train_layers: 1,
        pooling: Pooling::Mean,
        epochs: 12,
        batch_size: 8,
        lr: 1e-2,
        head_lr: 3e-2,
        warmup_fraction: 0.0,
        storage: Storage::F32,
        ..TrainOptions::for_model(SentimentModel::L3)
    }
}

#[test]
fn tiny_training_reduces_the_loss_and_the_file_reloads() {
    let (dir, files, data) = tiny_setup();
    let out = dir.path().join("out").join("head.safetensors");
    let opts = tiny_options(&files, &data, &out);
    let mut stages = Vec::new();
    let r = train_sentiment(&opts, |p| stages.push(p)).unwrap();
    assert_eq!((r.train_sentences, r.test_sentences), (64, 16));
    assert_eq!(r.step_losses.len(), 12 * 8);
    assert_eq!(r.epoch_losses.len(), 12);
    let first: f32 = r.step_losses[..8].iter().sum::<f32>() / 8.0;
    let last: f32 = r.step_losses[r.step_losses.len() - 8..].iter().sum::<f32>() / 8.0;
    assert!(
        last < 0.5 * first,
        "loss {first} -> {last}: {:?}",
        r.epoch_losses
    );
    assert!(r.test_accuracy.unwrap() >= 0.9, "{:?}", r.test_accuracy);
    // Only the trained layer (layer 1) and the head are in the file.
    assert!(r
        .tensors
        .iter()
        .all(|n| n.starts_with("encoder.layer.1.") || n.starts_with("classifier.")));
    assert_eq!(r.tensors.len(), 16 + 2);
    assert!(r.file_bytes > 0 && r.file_bytes == std::fs::metadata(&out).unwrap().len());
    // The file loads as a fine-tuned head with its labels, and evaluate() agrees with the report.
    let model =
        load_bert_classifier(&files, &HeadSource::FineTuned(out.clone()), &Device::Cpu).unwrap();
    assert_eq!(model.pooling(), Pooling::Mean);
    assert_eq!(model.labels().unwrap(), ["negative", "positive"]);
    let tok = TextTokenizer::from_file(&files.tokenizer).unwrap();
    let split = stratified_split(&load_sentences(&data).unwrap(), 0.2, 0).unwrap();
    let e = evaluate(&model, &tok, &split.test, 5, |_, _| {}).unwrap();
    assert_eq!(Some(e.accuracy), r.test_accuracy);
    assert_eq!(e.predictions.len(), 16);
}

#[test]
fn tiny_training_is_reproducible_and_f16_files_are_half_the_size() {
    let (dir, files, data) = tiny_setup();
    let a = dir.path().join("a.safetensors");
    let b = dir.path().join("b.safetensors");
    let c = dir.path().join("c.safetensors");
    let mut opts = tiny_options(&files, &data, &a);
    opts.epochs = 2;
    opts.pooling = Pooling::Cls; // the tiny base has no pooler: a seeded one is trained
    let ra = train_sentiment(&opts, |_| {}).unwrap();
    opts.out = b.clone();
    let rb = train_sentiment(&opts, |_| {}).unwrap();
    assert_eq!(ra.step_losses, rb.step_losses);
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "files differ"
    );
    assert!(ra.tensors.contains(&"pooler.dense.weight".to_string()));
    opts.out = c.clone();
    opts.storage = Storage::F16;
    let rc = train_sentiment(&opts, |_| {}).unwrap();
    assert_eq!(ra.step_losses, rc.step_losses);
    assert!(
        rc.file_bytes < ra.file_bytes * 6 / 10,
        "{} vs {}",
        rc.file_bytes,
        ra.file_bytes
    );
    let m = load_bert_classifier(&files, &HeadSource::FineTuned(c), &Device::Cpu).unwrap();
    assert_eq!(m.pooling(), Pooling::Cls);
    // Another training seed gives other weights.
    opts.seed = 1;
    opts.out = a;
    let rd = train_sentiment(&opts, |_| {}).unwrap();
    assert_ne!(ra.step_losses, rd.step_losses);
}

#[test]
fn bad_options_are_errors() {
    let (dir, files, data) = tiny_setup();
    let out = dir.path().join("x.safetensors");
    let base = tiny_options(&files, &data, &out);
    let cases: Vec<(TrainOptions, &str)> = vec![
        (
            TrainOptions {
                epochs: 0,
                ..base.clone()
            },
            "epochs",
        ),
        (
            TrainOptions {
                batch_size: 0,
                ..base.clone()
            },
            "batch_size",
        ),
        (
            TrainOptions {
                lr: -1.0,
                ..base.clone()
            },
            "lr",
        ),
        (
            TrainOptions {
                train_layers: 3,
                ..base.clone()
            },
            "train_layers",
        ),
        (
            TrainOptions {
                dropout: 1.0,
                ..base.clone()
            },
            "dropout",
        ),
        (
            TrainOptions {
                sentences: dir.path().join("none.txt"),
                ..base.clone()
            },
            "none.txt",
        ),
    ];
    for (o, needle) in cases {
        let e = train_sentiment(&o, |_| {}).unwrap_err().to_string();
        assert!(e.contains(needle), "{needle}: {e}");
    }
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------------
// The real models

/// A few steps on 64 real sentences lower the loss.
#[test]
fn real_l3_short_training_reduces_the_loss() {
    let model = SentimentModel::L3;
    if !have_assets(
        &model_paths(model),
        "real_l3_short_training_reduces_the_loss",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let opts = TrainOptions {
        out: dir.path().join("l3.safetensors"),
        max_train: Some(64),
        max_test: Some(0),
        train_layers: 1,
        epochs: 4,
        batch_size: 16,
        warmup_fraction: 0.0,
        ..TrainOptions::for_model(model)
    };
    let r = train_sentiment(&opts, |_| {}).unwrap();
    assert_eq!(r.step_losses.len(), 16);
    assert!(
        r.epoch_losses[3] < r.epoch_losses[0] - 0.05,
        "{:?}",
        r.epoch_losses
    );
    assert_eq!(r.test_accuracy, None);
}

/// Number of test sentences the committed-weights check evaluates (a seeded subset of the test
/// split, so the check stays near a minute on 2 cores in the test profile); None = all 2,113.
const COMMITTED_EVAL_SUBSET: Option<usize> = None;

fn committed_accuracy(model: SentimentModel, test: &str) {
    if !have_assets(&model_paths(model), test) {
        return;
    }
    let weights = model.committed_weights();
    assert!(weights.is_file(), "{} is not committed", weights.display());
    let size = std::fs::metadata(&weights).unwrap().len();
    assert!(size < 8_500_000, "{} is {size} bytes", weights.display());
    let loaded = interprim::tasks::sentiment::load_default_model(model).unwrap();
    let (classifier, tokenizer) = (loaded.model(), loaded.tokenizer());
    assert_eq!(classifier.labels().unwrap(), ["negative", "positive"]);
    let split = default_split().unwrap();
    let sentences = match COMMITTED_EVAL_SUBSET {
        Some(n) => seeded_subset(&split.test, n, 0),
        None => split.test,
    };
    let t = std::time::Instant::now();
    let e = evaluate(classifier, tokenizer, &sentences, 64, |_, _| {}).unwrap();
    note(&format!(
        "{test}: {model} accuracy {:.4} ({}/{}) on the test split in {:.1} s",
        e.accuracy,
        e.correct,
        e.total,
        t.elapsed().as_secs_f64()
    ));
    assert!(e.accuracy >= 0.80, "{model}: test accuracy {}", e.accuracy);
    // The file's own tensors are f16 and finite.
    let st = candle_core::safetensors::load(&weights, &Device::Cpu).unwrap();
    for (name, t) in st {
        assert_eq!(t.dtype(), DType::F16, "{name}");
    }
}

#[test]
fn committed_l3_reaches_80_percent_on_the_test_split() {
    committed_accuracy(
        SentimentModel::L3,
        "committed_l3_reaches_80_percent_on_the_test_split",
    );
}

#[test]
fn committed_l6_reaches_80_percent_on_the_test_split() {
    committed_accuracy(
        SentimentModel::L6,
        "committed_l6_reaches_80_percent_on_the_test_split",
    );
}
