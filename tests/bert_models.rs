//! BERT classifier, tokenizer and ONNX conversion tests.
//!
//! Tests on a tiny random BERT and a tiny tokenizer written here always run. Tests on the real
//! models need the assets of scripts/fetch-assets.sh: when they are absent the tests print a skip
//! message and pass, unless INTERPRIM_REQUIRE_ASSETS is set, in which case they fail.

mod common;
use common::max_abs_diff;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use interprim::models::assets;
use interprim::models::bert::{l2_normalize, mean_pool, BertClassifier, Pooling};
use interprim::models::checkpoint::{
    load_bert_classifier, load_bert_config, save_fine_tuned, HeadSource, ModelFiles,
};
use interprim::models::tokenizer::{pad_batch, Encoded, TextTokenizer};
use interprim::models::ModelError;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Written past libtest's output capture, so that a skip is visible in a plain `cargo test`.
fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// The files of a cached model, or None (after printing why) when they are absent and
/// INTERPRIM_REQUIRE_ASSETS is not set.
fn asset_files(dir: &Path, test: &str) -> Option<ModelFiles> {
    let files = ModelFiles::in_dir(dir);
    if files.exist() {
        return Some(files);
    }
    let msg = format!(
        "{test}: assets missing in {}; {}",
        dir.display(),
        assets::FETCH_HINT
    );
    if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
        panic!("INTERPRIM_REQUIRE_ASSETS is set but {msg}");
    }
    note(&format!("SKIPPED {msg}"));
    None
}

fn cos(a: &Tensor, b: &Tensor) -> f32 {
    let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
    let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn one_row(ids: &[u32]) -> (Tensor, Tensor) {
    let b = pad_batch(&[ids], 0, &Device::Cpu).unwrap();
    (b.input_ids, b.attention_mask)
}

/// Mean-pooled, normalised sentence embedding (sentence-transformers' recipe).
fn sentence_embedding(model: &BertClassifier, tok: &TextTokenizer, text: &str) -> Tensor {
    let enc = tok.encode(text).unwrap();
    let (ids, mask) = one_row(&enc.ids);
    let h = model.hidden_states_ids(&ids, &mask).unwrap();
    l2_normalize(&mean_pool(&h, &mask).unwrap()).unwrap()
}

const SENTENCES: [&str; 5] = [
    "A man is eating food.",
    "This movie is a masterpiece of suspense, wit and heart.",
    "Don't waste your money on this dull, lifeless film.",
    "It's not bad.",
    "An unbelievably tedious, overlong and self-indulgent mess that never finds its footing.",
];

// ---------------------------------------------------------------------------------------------
// A tiny BERT and tokenizer, so that loading, masking and batching are tested without assets.

const TINY_VOCAB: [&str; 24] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "is", "not", "bad", "good", "un",
    "##believ", "##ably", "don", "'", "t", ",", ".", "!", "cafe", "it", "s", "a",
];

fn tiny_config_json() -> serde_json::Value {
    common::tiny_bert::config_json(TINY_VOCAB.len(), 8, 16, 16, 2, 2, "gelu")
}

fn tiny_tokenizer_json() -> String {
    common::tiny_bert::tokenizer_json(&TINY_VOCAB, Some((8, 32)))
}

/// A directory with config.json, tokenizer.json and random model.safetensors of a tiny BERT.
fn tiny_model_dir(with_pooler: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config_json();
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), tiny_tokenizer_json()).unwrap();
    let mut shapes = common::tiny_bert::encoder_shapes(TINY_VOCAB.len(), 8, 16, 16, 2);
    let h = 8;
    if with_pooler {
        shapes.push(("pooler.dense.weight".into(), vec![h, h]));
        shapes.push(("pooler.dense.bias".into(), vec![h]));
    }
    let dev = Device::Cpu;
    let tensors: HashMap<String, Tensor> = shapes
        .into_iter()
        .map(|(n, s)| {
            let t = if n.contains("LayerNorm.weight") {
                Tensor::ones(s.as_slice(), DType::F32, &dev).unwrap()
            } else {
                Tensor::randn(0f32, 0.5, s.as_slice(), &dev).unwrap()
            };
            (n, t)
        })
        .collect();
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    dir
}

fn fresh(pooling: Pooling, seed: u64) -> HeadSource {
    HeadSource::Fresh {
        pooling,
        num_labels: 2,
        seed,
    }
}

#[test]
fn tiny_forward_embeds_equals_forward_ids_and_batches_equal_singles() {
    let dir = tiny_model_dir(true);
    let files = ModelFiles::in_dir(dir.path());
    let tok = TextTokenizer::from_file(&files.tokenizer).unwrap();
    for pooling in [Pooling::Cls, Pooling::Mean] {
        let m = load_bert_classifier(&files, &fresh(pooling, 7), &Device::Cpu).unwrap();
        let texts = [
            "the movie is not bad!",
            "good",
            "it's a cafe, unbelievably good.",
        ];
        let encs: Vec<Encoded> = texts.iter().map(|t| tok.encode(t).unwrap()).collect();
        let seqs: Vec<&[u32]> = encs.iter().map(|e| e.ids.as_slice()).collect();
        let batch = pad_batch(&seqs, tok.special().pad, &Device::Cpu).unwrap();
        let by_ids = m
            .forward_ids(&batch.input_ids, &batch.attention_mask)
            .unwrap();
        assert_eq!(by_ids.dims(), &[3, 2]);
        // Rows gathered by hand from the embedding matrix.
        let rows: Vec<Tensor> = seqs
            .iter()
            .map(|s| {
                let mut r: Vec<Tensor> = s
                    .iter()
                    .map(|&id| m.word_embeddings().i(id as usize).unwrap())
                    .collect();
                let pad = m.word_embeddings().i(0).unwrap();
                r.resize(batch.input_ids.dims()[1], pad);
                Tensor::stack(&r, 0).unwrap()
            })
            .collect();
        let embeds = Tensor::stack(&rows, 0).unwrap();
        let by_embeds = m.forward_embeds(&embeds, &batch.attention_mask).unwrap();
        assert!(max_abs_diff(&by_ids, &by_embeds) < 1e-6);
        for (k, s) in seqs.iter().enumerate() {
            let (ids, mask) = one_row(s);
            let alone = m.forward_ids(&ids, &mask).unwrap();
            let d = max_abs_diff(&alone, &by_ids.i(k..k + 1).unwrap());
            assert!(d < 1e-5, "{pooling:?} row {k}: {d}");
        }
    }
}

#[test]
fn tiny_fresh_heads_are_seeded() {
    let dir = tiny_model_dir(false);
    let files = ModelFiles::in_dir(dir.path());
    let (ids, mask) = one_row(&[2, 5, 6, 7, 3]);
    let logits = |h: HeadSource| {
        load_bert_classifier(&files, &h, &Device::Cpu)
            .unwrap()
            .forward_ids(&ids, &mask)
            .unwrap()
    };
    for pooling in [Pooling::Cls, Pooling::Mean] {
        let a = logits(fresh(pooling, 1));
        assert_eq!(max_abs_diff(&a, &logits(fresh(pooling, 1))), 0.0);
        assert!(max_abs_diff(&a, &logits(fresh(pooling, 2))) > 1e-6);
    }
}

#[test]
fn tiny_fine_tuned_file_round_trips_and_overrides_base_tensors() {
    let dir = tiny_model_dir(false);
    let files = ModelFiles::in_dir(dir.path());
    let dev = Device::Cpu;
    let (ids, mask) = one_row(&[2, 5, 6, 7, 8, 9, 3]);
    let m = load_bert_classifier(&files, &fresh(Pooling::Cls, 3), &dev).unwrap();
    let head = m.head_tensors();
    assert_eq!(
        head.keys().collect::<Vec<_>>(),
        vec![
            "classifier.bias",
            "classifier.weight",
            "pooler.dense.bias",
            "pooler.dense.weight"
        ]
    );
    let path = dir.path().join("head.safetensors");
    let labels = vec!["negative".to_string(), "positive".to_string()];
    save_fine_tuned(&path, &head, Pooling::Cls, Some(&labels)).unwrap();
    let m2 = load_bert_classifier(&files, &HeadSource::FineTuned(path.clone()), &dev).unwrap();
    assert_eq!(m2.pooling(), Pooling::Cls);
    assert_eq!(m2.labels(), Some(labels.as_slice()));
    let a = m.forward_ids(&ids, &mask).unwrap();
    assert_eq!(max_abs_diff(&a, &m2.forward_ids(&ids, &mask).unwrap()), 0.0);

    // Replacing the top layer's output LayerNorm changes the outputs.
    let mut with_layer: BTreeMap<String, Tensor> = head.clone();
    with_layer.insert(
        "encoder.layer.1.output.LayerNorm.bias".into(),
        Tensor::full(0.7f32, 8, &dev).unwrap(),
    );
    save_fine_tuned(&path, &with_layer, Pooling::Cls, None).unwrap();
    let m3 = load_bert_classifier(&files, &HeadSource::FineTuned(path.clone()), &dev).unwrap();
    assert!(max_abs_diff(&a, &m3.forward_ids(&ids, &mask).unwrap()) > 1e-4);

    // A tensor the base model does not have, or one of the wrong shape, is refused.
    for (name, t) in [
        (
            "encoder.layer.9.output.dense.bias",
            Tensor::zeros(8, DType::F32, &dev).unwrap(),
        ),
        (
            "encoder.layer.1.output.dense.bias",
            Tensor::zeros(5, DType::F32, &dev).unwrap(),
        ),
    ] {
        let mut bad = head.clone();
        bad.insert(name.into(), t);
        save_fine_tuned(&path, &bad, Pooling::Cls, None).unwrap();
        let err =
            load_bert_classifier(&files, &HeadSource::FineTuned(path.clone()), &dev).unwrap_err();
        assert!(matches!(err, ModelError::BadFile { .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    // Labels that do not match the outputs are refused.
    save_fine_tuned(&path, &head, Pooling::Cls, Some(&labels[..1])).unwrap();
    assert!(load_bert_classifier(&files, &HeadSource::FineTuned(path.clone()), &dev).is_err());
    // A head file needs the classifier.
    let mut no_cls = head.clone();
    no_cls.remove("classifier.weight");
    assert!(save_fine_tuned(&path, &no_cls, Pooling::Cls, None).is_err());
}

#[test]
fn tiny_missing_and_corrupt_files_are_errors_naming_the_file() {
    let dir = tiny_model_dir(false);
    let files = ModelFiles::in_dir(dir.path());
    let dev = Device::Cpu;
    let head = fresh(Pooling::Mean, 0);

    // The head file: missing, then corrupt.
    let head_path = dir.path().join("nope.safetensors");
    let err =
        load_bert_classifier(&files, &HeadSource::FineTuned(head_path.clone()), &dev).unwrap_err();
    assert!(matches!(err, ModelError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("nope.safetensors"), "{err}");
    std::fs::write(&head_path, b"\x10\0\0\0\0\0\0\0{}").unwrap();
    let err = load_bert_classifier(&files, &HeadSource::FineTuned(head_path), &dev).unwrap_err();
    assert!(matches!(err, ModelError::BadFile { .. }), "{err}");

    let weights = std::fs::read(&files.weights).unwrap();
    for (what, bytes) in [
        ("truncated", weights[..weights.len() / 2].to_vec()),
        ("header only", weights[..12].to_vec()),
        ("garbage", b"definitely not safetensors".to_vec()),
        ("empty", Vec::new()),
    ] {
        std::fs::write(&files.weights, &bytes).unwrap();
        let err = load_bert_classifier(&files, &head, &dev).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ModelError::BadFile { .. }), "{what}: {msg}");
        assert!(
            msg.contains("model.safetensors") && msg.contains("fetch-assets.sh"),
            "{what}: {msg}"
        );
    }
    std::fs::remove_file(&files.weights).unwrap();
    let err = load_bert_classifier(&files, &head, &dev).unwrap_err();
    assert!(matches!(err, ModelError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("fetch-assets.sh"));

    std::fs::write(&files.config, "{not json").unwrap();
    let err = load_bert_classifier(&files, &head, &dev).unwrap_err();
    assert!(matches!(err, ModelError::BadFile { .. }), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");

    std::fs::write(&files.tokenizer, "[1, 2").unwrap();
    let err = TextTokenizer::from_file(&files.tokenizer).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
    let err = TextTokenizer::from_file(&dir.path().join("missing.json")).unwrap_err();
    assert!(matches!(err, ModelError::MissingFile { .. }));
}

#[test]
fn tiny_bad_inputs_are_errors_not_panics() {
    let dir = tiny_model_dir(false);
    let files = ModelFiles::in_dir(dir.path());
    let m = load_bert_classifier(&files, &fresh(Pooling::Mean, 0), &Device::Cpu).unwrap();
    let dev = Device::Cpu;
    // An id outside the vocabulary.
    let (ids, mask) = one_row(&[2, 999, 3]);
    assert!(matches!(
        m.forward_ids(&ids, &mask),
        Err(ModelError::Input(_))
    ));
    // Longer than the position table (16).
    let (ids, mask) = one_row(&[5; 17]);
    assert!(matches!(
        m.forward_ids(&ids, &mask),
        Err(ModelError::Input(_))
    ));
    // Mask of the wrong shape, embeddings of the wrong width, ids of the wrong rank.
    let (ids, _) = one_row(&[2, 5, 3]);
    let mask = Tensor::ones((1, 4), DType::U32, &dev).unwrap();
    assert!(m.forward_ids(&ids, &mask).is_err());
    let e = Tensor::zeros((1, 3, 7), DType::F32, &dev).unwrap();
    let mask = Tensor::ones((1, 3), DType::U32, &dev).unwrap();
    assert!(m.forward_embeds(&e, &mask).is_err());
    let flat = Tensor::new(&[2u32, 5, 3], &dev).unwrap();
    assert!(m.forward_ids(&flat, &mask).is_err());
    assert!(pad_batch(&[], 0, &dev).is_err());
    assert!("max".parse::<Pooling>().is_err());
}

/// Check that the words of `enc` partition its non-special tokens, in order, and that each word's
/// text is the slice of `text` at its byte span.
fn check_spans(text: &str, enc: &Encoded) {
    let non_special: Vec<usize> = (0..enc.len()).filter(|&t| !enc.special[t]).collect();
    let covered: Vec<usize> = enc.words.iter().flat_map(|w| w.tokens.clone()).collect();
    assert_eq!(covered, non_special, "{text:?}: {enc:?}");
    for w in &enc.words {
        assert!(!w.tokens.is_empty());
        assert!(!w.text.is_empty(), "{text:?}: {w:?}");
        assert_eq!(&text[w.bytes.clone()], w.text);
        for t in w.tokens.clone() {
            let o = &enc.offsets[t];
            assert!(o.start >= w.bytes.start && o.end <= w.bytes.end);
        }
    }
    assert!(enc.special[0] && enc.special[enc.len() - 1]);
}

#[test]
fn tiny_word_spans_partition_the_tokens_and_padding_is_off() {
    let dir = tiny_model_dir(false);
    let tok = TextTokenizer::from_file(&dir.path().join("tokenizer.json")).unwrap();
    // The file pads to 32 and truncates at 8; both must be off.
    let text = "The movie is NOT bad, it's unbelievably good!  Café ?";
    let enc = tok.encode(text).unwrap();
    assert!(enc.len() > 8 && enc.len() < 32, "{}", enc.len());
    check_spans(text, &enc);
    let words: Vec<&str> = enc.words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(
        words,
        vec![
            "The",
            "movie",
            "is",
            "NOT",
            "bad",
            ",",
            "it",
            "'",
            "s",
            "unbelievably",
            "good",
            "!",
            "Café",
            "?"
        ]
    );
    let unbelievably = &enc.words[9];
    assert_eq!(unbelievably.tokens.len(), 3);
    assert_eq!(
        enc.tokens[unbelievably.tokens.clone()].to_vec(),
        vec!["un", "##believ", "##ably"]
    );
    // "?" is not in the tiny vocabulary: one [UNK] token, still a word.
    assert_eq!(enc.ids[enc.words[13].tokens.start], tok.special().unk);
    assert_eq!(enc.word_of_token(0), None);
    assert_eq!(enc.word_of_token(1), Some(0));
    let empty = tok.encode("").unwrap();
    assert_eq!(empty.ids, vec![tok.special().cls, tok.special().sep]);
    assert!(empty.words.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The real models.

struct Real {
    model: BertClassifier,
    tok: TextTokenizer,
    files: ModelFiles,
}

/// all-MiniLM-L6-v2 with a fresh mean-pooling head, loaded once per test binary.
fn l6(test: &str) -> Option<&'static Real> {
    static L6: OnceLock<Option<Real>> = OnceLock::new();
    let files = asset_files(&assets::minilm_l6_dir(), test)?;
    L6.get_or_init(|| {
        let model = load_bert_classifier(&files, &fresh(Pooling::Mean, 0), &Device::Cpu).unwrap();
        let tok = TextTokenizer::from_file(&files.tokenizer).unwrap();
        Some(Real { model, tok, files })
    })
    .as_ref()
}

#[test]
fn l6_sentence_embeddings_match_the_reference_and_candles_bert_model() {
    let Some(r) = l6("l6_sentence_embeddings_match_the_reference_and_candles_bert_model") else {
        return;
    };
    let a = sentence_embedding(&r.model, &r.tok, "A man is eating food.");
    let b = sentence_embedding(&r.model, &r.tok, "A man is eating a piece of bread.");
    let c = cos(&a, &b);
    note(&format!("L6 cos(food, bread) = {c:.4}"));
    assert!((c - 0.7553).abs() < 1e-3, "cos = {c}");

    // The rebuilt embedding layer agrees with candle-transformers' own BertModel.
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(&[&r.files.weights], DType::F32, &Device::Cpu).unwrap()
    };
    let config = load_bert_config(&r.files.config).unwrap();
    let reference = candle_transformers::models::bert::BertModel::load(vb, &config).unwrap();
    let encs: Vec<Encoded> = SENTENCES.iter().map(|s| r.tok.encode(s).unwrap()).collect();
    let seqs: Vec<&[u32]> = encs.iter().map(|e| e.ids.as_slice()).collect();
    let batch = pad_batch(&seqs, r.tok.special().pad, &Device::Cpu).unwrap();
    let ours = r
        .model
        .hidden_states_ids(&batch.input_ids, &batch.attention_mask)
        .unwrap();
    let theirs = reference
        .forward(
            &batch.input_ids,
            &batch.input_ids.zeros_like().unwrap(),
            Some(&batch.attention_mask),
        )
        .unwrap();
    let d = max_abs_diff(&ours, &theirs);
    note(&format!(
        "L6 hidden states vs candle BertModel: max |diff| = {d:.2e}"
    ));
    assert!(d < 1e-4, "{d}");
}

#[test]
fn l6_forward_embeds_with_own_rows_equals_forward_ids() {
    let Some(r) = l6("l6_forward_embeds_with_own_rows_equals_forward_ids") else {
        return;
    };
    for text in SENTENCES {
        let enc = r.tok.encode(text).unwrap();
        let (ids, mask) = one_row(&enc.ids);
        let rows: Vec<Tensor> = enc
            .ids
            .iter()
            .map(|&id| r.model.word_embeddings().i(id as usize).unwrap())
            .collect();
        let embeds = Tensor::stack(&rows, 0).unwrap().unsqueeze(0).unwrap();
        let a = r.model.forward_ids(&ids, &mask).unwrap();
        let b = r.model.forward_embeds(&embeds, &mask).unwrap();
        assert!(max_abs_diff(&a, &b) < 1e-5);
        // Masking a word at the embedding level changes the output; with its own rows it does not.
        let w = &enc.words[0];
        let mask_row = r
            .model
            .word_embeddings()
            .i(r.tok.special().mask as usize)
            .unwrap();
        let mut masked = rows.clone();
        for t in w.tokens.clone() {
            masked[t] = mask_row.clone();
        }
        let masked = Tensor::stack(&masked, 0).unwrap().unsqueeze(0).unwrap();
        let c = r.model.forward_embeds(&masked, &mask).unwrap();
        assert!(max_abs_diff(&a, &c) > 1e-6, "{text}");
    }
}

#[test]
fn l6_batch_equals_each_sentence_alone() {
    let Some(r) = l6("l6_batch_equals_each_sentence_alone") else {
        return;
    };
    let head = HeadSource::Fresh {
        pooling: Pooling::Cls,
        num_labels: 2,
        seed: 11,
    };
    let cls = load_bert_classifier(&r.files, &head, &Device::Cpu).unwrap();
    let encs: Vec<Encoded> = SENTENCES.iter().map(|s| r.tok.encode(s).unwrap()).collect();
    let seqs: Vec<&[u32]> = encs.iter().map(|e| e.ids.as_slice()).collect();
    let batch = pad_batch(&seqs, r.tok.special().pad, &Device::Cpu).unwrap();
    let lens: Vec<usize> = batch.lengths.clone();
    assert!(
        lens.iter().min() < lens.iter().max(),
        "sentences need different lengths"
    );
    let mut worst = 0f32;
    for model in [&r.model, &cls] {
        let all = model
            .forward_ids(&batch.input_ids, &batch.attention_mask)
            .unwrap();
        let hidden = model
            .hidden_states_ids(&batch.input_ids, &batch.attention_mask)
            .unwrap();
        for (k, s) in seqs.iter().enumerate() {
            let (ids, mask) = one_row(s);
            let alone = model.forward_ids(&ids, &mask).unwrap();
            worst = worst.max(max_abs_diff(&alone, &all.i(k..k + 1).unwrap()));
            let h_alone = model.hidden_states_ids(&ids, &mask).unwrap();
            let h_batch = hidden.i((k..k + 1, 0..s.len())).unwrap();
            worst = worst.max(max_abs_diff(&h_alone, &h_batch));
        }
    }
    note(&format!("L6 batch vs alone: max |diff| = {worst:.2e}"));
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn l6_word_spans_cover_all_non_special_tokens() {
    let Some(r) = l6("l6_word_spans_cover_all_non_special_tokens") else {
        return;
    };
    let texts = [
        "It's a charming, funny and ultimately heartbreaking film -- don't miss it!",
        "  Leading   and trailing  spaces\tand tabs  ",
        "Naïve café owners in Zürich (2003) cost $12.50 -- aaargh!!!",
        "unbelievably overproduced, hyperkinetic nonsense",
        "中文 mixed with English",
    ];
    for t in texts {
        let enc = r.tok.encode(t).unwrap();
        check_spans(t, &enc);
    }
    let enc = r.tok.encode("Don't").unwrap();
    let words: Vec<&str> = enc.words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(words, vec!["Don", "'", "t"]);
    let enc = r.tok.encode("hyperkinetic").unwrap();
    assert_eq!(enc.words.len(), 1);
    assert!(enc.words[0].tokens.len() > 1, "{:?}", enc.tokens);
    // No fixed padding to 128.
    assert_eq!(enc.len(), enc.words[0].tokens.len() + 2);
}

/// paraphrase-MiniLM-L3-v2 converted from ONNX: loads, is consistent with a fresh conversion of
/// the ONNX file, and gives sensible similarities.
#[test]
fn l3_converted_model_loads_and_gives_sensible_similarities() {
    let Some(files) = asset_files(
        &assets::minilm_l3_dir(),
        "l3_converted_model_loads_and_gives_sensible_similarities",
    ) else {
        return;
    };
    let dev = Device::Cpu;
    let model = load_bert_classifier(&files, &fresh(Pooling::Mean, 0), &dev).unwrap();
    assert_eq!(model.config().num_hidden_layers, 3);
    let tok = TextTokenizer::from_file(&files.tokenizer).unwrap();
    let e = |t: &str| sentence_embedding(&model, &tok, t);
    let food = e("A man is eating food.");
    let bread = e("A man is eating a piece of bread.");
    let market = e("The stock market fell sharply today.");
    let (near, far) = (cos(&food, &bread), cos(&food, &market));
    note(&format!(
        "L3 cos(food, bread) = {near:.4}, cos(food, market) = {far:.4}"
    ));
    // onnxruntime on the original ONNX gives 0.7799 and 0.0506.
    assert!((near - 0.7799).abs() < 1e-3, "{near}");
    assert!((far - 0.0506).abs() < 1e-3, "{far}");

    let onnx = assets::minilm_l3_onnx();
    if onnx.is_file() {
        let out = tempfile::tempdir().unwrap();
        let path: PathBuf = out.path().join("model.safetensors");
        let s = interprim::onnx::convert_bert_onnx_to_safetensors(&onnx, &path).unwrap();
        assert_eq!(
            (s.num_hidden_layers, s.hidden_size, s.num_tensors),
            (3, 384, 53)
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&files.weights).unwrap()
        );
    }
}
