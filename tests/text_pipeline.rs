//! The text pipeline on the real MiniLM models: masked batches, baselines, value function, cache,
//! both extractions and the learned baseline.
//!
//! Needs the assets of scripts/fetch-assets.sh; without them every test prints a skip message and
//! passes, unless INTERPRIM_REQUIRE_ASSETS is set. The heads are fresh seeded ones, so the tests do
//! not depend on training.

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use interprim::api::{
    compare_with, extract_traditional_with, sentence_values, ExplicitPlayers, ExtractOptions,
    TextClassifier,
};
use interprim::decomposition::DecompositionOptions;
use interprim::games::text::Target;
use interprim::models::assets;
use interprim::models::checkpoint::ModelFiles;
use interprim::text::diff::DiffBert;
use interprim::text::{
    log_odds, Baseline, LearnBaselineOptions, MaskedSentence, PlayerSelection, Players,
    SpecialToken,
};

const SENTENCE: &str = "A gorgeous, witty and seductive movie that never loses its sense of humour, its warmth or its nerve.";

fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn have_assets(test: &str) -> bool {
    let dirs = [assets::minilm_l6_dir(), assets::minilm_l3_dir()];
    if dirs.iter().all(|d| ModelFiles::in_dir(d).exist()) {
        return true;
    }
    let msg = format!(
        "{test}: MiniLM assets missing under {}; {}",
        assets::asset_root().display(),
        assets::FETCH_HINT
    );
    if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
        panic!("INTERPRIM_REQUIRE_ASSETS is set but {msg}");
    }
    note(&format!("SKIPPED {msg}"));
    false
}

fn load(name: &str, dir: &Path) -> TextClassifier {
    TextClassifier::load(name, dir, None).expect("the cached model loads")
}

/// Both models, loaded once per test binary.
fn models() -> &'static (TextClassifier, TextClassifier) {
    static M: OnceLock<(TextClassifier, TextClassifier)> = OnceLock::new();
    M.get_or_init(|| {
        (
            load("MiniLM-L6", &assets::minilm_l6_dir()),
            load("MiniLM-L3", &assets::minilm_l3_dir()),
        )
    })
}

fn opts(n: usize) -> ExtractOptions {
    ExtractOptions {
        n_players: n,
        seed: 1,
        decomposition: DecompositionOptions::sgd(1500),
        ..Default::default()
    }
}

/// Log-odds of class `y` for every row of logits.
fn values_of(rows: &[Vec<f64>], y: usize) -> Vec<f64> {
    rows.iter().map(|r| log_odds(r, y)).collect()
}

/// The class with the largest logit on the full sentence (the last row).
fn predicted(rows: &[Vec<f64>]) -> usize {
    let full = rows.last().unwrap();
    (0..full.len()).fold(0, |b, c| if full[c] > full[b] { c } else { b })
}

fn masked(model: &TextClassifier, players: &Players, baseline: &Baseline) -> MaskedSentence {
    let b = baseline
        .resolve(model.model(), model.tokenizer(), None)
        .unwrap();
    MaskedSentence::new(model.model(), model.tokenizer(), players, b).unwrap()
}

#[test]
fn batched_evaluation_equals_one_input_at_a_time() {
    if !have_assets("batched_evaluation_equals_one_input_at_a_time") {
        return;
    }
    let (l6, _) = models();
    let players = Players::select(SENTENCE, &PlayerSelection::Seeded { n: 6, seed: 2 }).unwrap();
    for baseline in [
        Baseline::default(),
        Baseline::TokenId {
            token: SpecialToken::Pad,
        },
    ] {
        let ms = masked(l6, &players, &baseline);
        assert!(ms.player_tokens.iter().all(|t| !t.is_empty()));
        let mut seen = Vec::new();
        let mut progress = |done: usize, total: usize| seen.push((done, total));
        let (all, calls) = ms.all_logits(l6.model(), 24, Some(&mut progress)).unwrap();
        assert_eq!(calls, 3);
        assert_eq!(seen, vec![(24, 64), (48, 64), (64, 64)]);
        let batched = values_of(&all, 1);
        for mask in 0..64u32 {
            let row: Vec<f32> = ms
                .logits(l6.model(), &[mask])
                .unwrap()
                .get(0)
                .unwrap()
                .to_vec1()
                .unwrap();
            let one = log_odds(&row.iter().map(|&x| x as f64).collect::<Vec<_>>(), 1);
            let d = (one - batched[mask as usize]).abs();
            assert!(
                d <= 1e-4,
                "{baseline:?} mask {mask}: batched {} vs alone {one}",
                batched[mask as usize]
            );
        }
    }
}

#[test]
fn mask_embedding_equals_mask_token_id() {
    if !have_assets("mask_embedding_equals_mask_token_id") {
        return;
    }
    let (l6, l3) = models();
    let players = Players::select(SENTENCE, &PlayerSelection::Seeded { n: 6, seed: 5 }).unwrap();
    for m in [l6, l3] {
        let by_embedding = masked(
            m,
            &players,
            &Baseline::TokenEmbedding {
                token: SpecialToken::Mask,
            },
        );
        let by_id = masked(
            m,
            &players,
            &Baseline::TokenId {
                token: SpecialToken::Mask,
            },
        );
        let a = by_embedding.all_logits(m.model(), 128, None).unwrap().0;
        let b = by_id.all_logits(m.model(), 128, None).unwrap().0;
        let (a, b) = (values_of(&a, predicted(&a)), values_of(&b, predicted(&b)));
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(
            worst <= 1e-4,
            "{}: embedding vs token-id masking differ by {worst}",
            m.name()
        );
        // masking changes the output: the value function is not constant
        assert!(a.iter().any(|x| (x - a[0]).abs() > 1e-6));
    }
}

#[test]
fn full_sentence_value_is_the_classifiers_log_odds() {
    if !have_assets("full_sentence_value_is_the_classifiers_log_odds") {
        return;
    }
    let (l6, l3) = models();
    let values = sentence_values(&[l6, l3], SENTENCE, &opts(6)).unwrap();
    for (m, mv) in [l6, l3].iter().zip(&values.models) {
        let logits = m.logits(SENTENCE).unwrap();
        let predicted = (0..logits.len()).fold(0, |b, c| if logits[c] > logits[b] { c } else { b });
        assert_eq!(mv.target, predicted);
        let plain = log_odds(&logits, predicted);
        let full = mv.values.raw_full;
        assert!(
            (full - plain).abs() <= 1e-4,
            "{}: v(x_N) {full} vs log-odds {plain}",
            m.name()
        );
        // centred: v(x_∅) = 0 and v(x_N) = lo(x_N) − lo(x_∅)
        assert!(mv.values.centred && mv.v()[0] == 0.0);
        let last = *mv.v().last().unwrap();
        assert!((last - (full - mv.values.raw_empty)).abs() < 1e-12);
    }
}

#[test]
fn universal_matching_holds_after_both_extractions() {
    if !have_assets("universal_matching_holds_after_both_extractions") {
        return;
    }
    let (l6, l3) = models();
    let o = opts(10);
    let r = compare_with(&[l6, l3], SENTENCE, &o).unwrap();
    assert_eq!(r.generalizable.n, 10);
    assert_eq!(r.generalizable.players.len(), 10);
    let results = r
        .generalizable
        .models
        .iter()
        .map(|m| (m, &r.generalizable.decomposition))
        .chain(r.traditional.iter().map(|t| (&t.model, &t.decomposition)));
    for (m, d) in results {
        let v = m.values.v();
        let raw = m.raw.reconstruct();
        for t in 0..v.len() {
            assert!(
                (raw[t] - v[t] - m.eps[t]).abs() <= 1e-9,
                "{} T={t}: {} vs {} + {}",
                m.model,
                raw[t],
                v[t],
                m.eps[t]
            );
        }
        // reorganising keeps the reconstruction; the ε gap is what the matching error reports
        let re = m.interactions.reconstruct();
        assert!(re.iter().zip(&raw).all(|(a, b)| (a - b).abs() <= 1e-9));
        let max_eps = m.eps.iter().fold(0.0f64, |a, e| a.max(e.abs()));
        assert!((m.matching_error.max_abs - max_eps).abs() <= 1e-9);
        assert!(max_eps <= m.eps_bound + 1e-12);
        assert!(
            d.final_loss < d.initial_loss,
            "{}: loss {} -> {}",
            m.model,
            d.initial_loss,
            d.final_loss
        );
        // the Harsanyi interactions reconstruct v exactly
        let h = m.harsanyi.reconstruct();
        assert!(h.iter().zip(v).all(|(a, b)| (a - b).abs() <= 1e-9));
        assert_eq!(m.top.len(), 50);
        assert!(m.top.iter().all(|i| i.words.len() == i.coalition.order()));
    }
    let g = &r.generalizable.agreement;
    assert_eq!(
        g.generalization.k,
        vec![51, 102, 153, 204, 256, 307, 358, 409, 460]
    );
    assert!(g
        .split
        .iter()
        .all(|s| s.shared.len() + s.distinctive.len() == 50));
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"sentence\""));
}

#[test]
fn player_selection_is_reproducible_and_skips_stop_words() {
    if !have_assets("player_selection_is_reproducible_and_skips_stop_words") {
        return;
    }
    let (l6, l3) = models();
    let text = std::fs::read_to_string(
        assets::sentences_dir().join("movieReviewSnippets_GroundTruth.txt"),
    )
    .unwrap();
    let mut checked = 0;
    for line in text.lines().take(300) {
        let Some(sentence) = line.split('\t').nth(2) else {
            continue;
        };
        let sel = PlayerSelection::Seeded { n: 8, seed: 11 };
        let Ok(p) = Players::select(sentence, &sel) else {
            continue;
        };
        assert_eq!(p, Players::select(sentence, &sel).unwrap());
        for w in &p.words {
            assert!(
                w.text.chars().any(char::is_alphanumeric),
                "{:?} in {sentence:?}",
                w.text
            );
            assert!(
                !interprim::text::players::is_stop_word(&w.text),
                "{:?} in {sentence:?}",
                w.text
            );
            assert_eq!(&sentence[w.bytes.clone()], w.text);
            assert_eq!(
                sentence
                    .chars()
                    .skip(w.chars.start)
                    .take(w.chars.len())
                    .collect::<String>(),
                w.text
            );
        }
        // the same words map onto both models' tokens
        for m in [l6, l3] {
            let enc = m.tokenizer().encode(sentence).unwrap();
            let sets = p.token_sets(&enc).unwrap();
            assert!(sets.iter().all(|s| !s.is_empty()));
        }
        checked += 1;
    }
    assert!(
        checked > 100,
        "only {checked} sentences had 8 content words"
    );
    let other = Players::select(SENTENCE, &PlayerSelection::Seeded { n: 6, seed: 12 }).unwrap();
    let again = Players::select(SENTENCE, &PlayerSelection::Seeded { n: 6, seed: 11 }).unwrap();
    assert_ne!(
        other.names(),
        again.names(),
        "different seeds should (here) pick different words"
    );
}

#[test]
fn cache_returns_identical_values_without_the_model() {
    if !have_assets("cache_returns_identical_values_without_the_model") {
        return;
    }
    let model = load("MiniLM-L3", &assets::minilm_l3_dir());
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(6);
    o.cache_dir = Some(dir.path().to_path_buf());
    o.explicit_players = Some(ExplicitPlayers::Words(vec![
        "gorgeous".into(),
        "witty".into(),
        "movie".into(),
        "humour".into(),
    ]));
    let first = extract_traditional_with(&model, SENTENCE, &o).unwrap();
    let calls = model.forward_calls();
    assert!(calls > 0 && !first.model.values.values.from_cache);
    let second = extract_traditional_with(&model, SENTENCE, &o).unwrap();
    assert_eq!(
        model.forward_calls(),
        calls,
        "the cache must not run the network"
    );
    assert!(second.model.values.values.from_cache);
    assert_eq!(first.model.values.v(), second.model.values.v());
    // the same decomposition from the cached values (up to its wall-clock time)
    let (mut d1, mut d2) = (first.decomposition.clone(), second.decomposition.clone());
    d1.solver.seconds = 0.0;
    d2.solver.seconds = 0.0;
    assert_eq!(d1, d2);
    // another target is another game: a different entry, evaluated by the network
    let mut o2 = o.clone();
    o2.target = Target::Label(1 - first.model.values.target);
    let third = extract_traditional_with(&model, SENTENCE, &o2).unwrap();
    assert!(!third.model.values.values.from_cache);
    let calls = model.forward_calls();
    // a different baseline is a different entry too
    o2.baseline = Baseline::Zero;
    extract_traditional_with(&model, SENTENCE, &o2).unwrap();
    assert!(model.forward_calls() > calls);
}

#[test]
fn bad_inputs_are_clear_errors() {
    fn err<T>(r: interprim::Result<T>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
    if !have_assets("bad_inputs_are_clear_errors") {
        return;
    }
    let (l6, l3) = models();
    let o = opts(6);
    assert!(err(sentence_values(&[l6], "   ", &o)).contains("empty"));
    assert!(err(sentence_values(&[l6], "The good one.", &o)).contains("content words"));
    let mut bad_label = o.clone();
    bad_label.target = Target::Label(7);
    let msg = err(sentence_values(&[l3], SENTENCE, &bad_label));
    assert!(
        msg.contains("out of range") && msg.contains("2 labels"),
        "{msg}"
    );
    let mut missing = o.clone();
    missing.explicit_players = Some(ExplicitPlayers::Words(vec!["banana".into()]));
    assert!(err(sentence_values(&[l3], SENTENCE, &missing)).contains("not a word"));
    let mut dup = o.clone();
    dup.explicit_players = Some(ExplicitPlayers::Indices(vec![1, 1]));
    assert!(err(sentence_values(&[l3], SENTENCE, &dup)).contains("twice"));
    assert!(err(interprim::api::extract_generalizable_with(
        &[l3],
        SENTENCE,
        &o
    ))
    .contains("at least 2 models"));
    let mut learned = o.clone();
    learned.baseline = Baseline::Learned;
    assert!(err(sentence_values(&[l3], SENTENCE, &learned)).contains("learn_baseline"));
    // a baseline that overflows the network: non-finite logits are reported, not propagated
    let mut huge = o.clone();
    huge.baseline = Baseline::Vector {
        name: "huge".into(),
        values: vec![f32::MAX; 384],
    };
    let msg = err(sentence_values(&[l3], SENTENCE, &huge));
    assert!(msg.contains("must be finite"), "{msg}");
    let mut wide = o;
    wide.baseline = Baseline::Vector {
        name: "short".into(),
        values: vec![0.0; 3],
    };
    assert!(err(sentence_values(&[l3], SENTENCE, &wide)).contains("hidden width"));
}

#[test]
fn learned_baseline_lowers_high_order_interactions_within_its_ball() {
    if !have_assets("learned_baseline_lowers_high_order_interactions_within_its_ball") {
        return;
    }
    let mut model = load("MiniLM-L3", &assets::minilm_l3_dir());
    // the differentiable copy computes the same logits as the classifier
    let (files, head) = model.source().unwrap().clone();
    let diff = DiffBert::new(&files, &head, model.model()).unwrap();
    let players = Players::select(SENTENCE, &PlayerSelection::Seeded { n: 4, seed: 0 }).unwrap();
    let ms = masked(&model, &players, &Baseline::MeanEmbedding);
    let b = match Baseline::MeanEmbedding
        .resolve(model.model(), model.tokenizer(), None)
        .unwrap()
    {
        interprim::text::ResolvedBaseline::Embedding(t) => t,
        _ => unreachable!(),
    };
    let masks: Vec<u32> = (0..16).collect();
    let x = ms.masked_embeds(model.model(), &masks, &b).unwrap();
    let ones = candle_core::Tensor::ones(
        (16, ms.len()),
        candle_core::DType::U32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let a: Vec<Vec<f32>> = model
        .model()
        .forward_embeds(&x, &ones)
        .unwrap()
        .to_vec2()
        .unwrap();
    let d: Vec<Vec<f32>> = diff.forward(&x).unwrap().to_vec2().unwrap();
    let worst = a
        .iter()
        .flatten()
        .zip(d.iter().flatten())
        .map(|(p, q)| (p - q).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-4, "differentiable copy differs by {worst}");

    let samples = [
        SENTENCE,
        "The plot is thin, the acting wooden and the jokes fall flat every single time.",
    ];
    let lo = LearnBaselineOptions {
        n_players: 5,
        steps: 4,
        min_order: 2,
        ..Default::default()
    };
    let learned = model.learn_baseline(&samples, &lo).unwrap();
    assert_eq!(learned.objective.len(), 5);
    assert!(
        learned.final_objective < learned.initial_objective,
        "objective {} -> {} ({:?})",
        learned.initial_objective,
        learned.final_objective,
        learned.objective
    );
    assert!(learned.max_deviation <= learned.radius * (1.0 + 1e-6) + 1e-7);
    assert!(learned.max_deviation > 0.0);
    // and it can be used as the model's baseline
    model.set_learned_baseline(Some(learned));
    let mut o = opts(4);
    o.baseline = Baseline::Learned;
    let v = sentence_values(&[&model], SENTENCE, &o).unwrap();
    assert_eq!(v.models[0].v().len(), 16);
}

/// Write a fine-tuned overlay in f16 (as the training code stores them): the head and one encoder
/// layer's output dense, perturbed so that the overlay matters.
fn f16_overlay(model: &TextClassifier, path: &Path) {
    use candle_core::{DType, Tensor};
    let (files, _) = model.source().unwrap();
    let base = candle_core::safetensors::load(&files.weights, &candle_core::Device::Cpu).unwrap();
    let mut t: std::collections::HashMap<String, Tensor> =
        model.model().head_tensors().into_iter().collect();
    for name in [
        "encoder.layer.2.output.dense.weight",
        "encoder.layer.2.output.dense.bias",
    ] {
        let w = base
            .get(name)
            .or_else(|| base.get(&format!("bert.{name}")))
            .unwrap();
        t.insert(name.to_string(), (w * 1.1).unwrap());
    }
    let t: std::collections::HashMap<String, Tensor> = t
        .into_iter()
        .map(|(k, v)| (k, v.to_dtype(DType::F16).unwrap()))
        .collect();
    let raw = path.with_extension("raw");
    candle_core::safetensors::save(&t, &raw).unwrap();
    let bytes = std::fs::read(&raw).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let meta =
        std::collections::HashMap::from([("interprim.pooling".to_string(), "mean".to_string())]);
    safetensors::tensor::serialize_to_file(st.tensors(), Some(meta), path).unwrap();
}

#[test]
fn differentiable_copy_matches_an_f16_fine_tuned_model() {
    if !have_assets("differentiable_copy_matches_an_f16_fine_tuned_model") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("head.safetensors");
    f16_overlay(&load("MiniLM-L3", &assets::minilm_l3_dir()), &overlay);
    let model = TextClassifier::load("tuned", &assets::minilm_l3_dir(), Some(&overlay)).unwrap();
    let (files, head) = model.source().unwrap().clone();
    let diff = DiffBert::new(&files, &head, model.model()).unwrap();
    let players = Players::select(SENTENCE, &PlayerSelection::Seeded { n: 3, seed: 0 }).unwrap();
    let ms = masked(&model, &players, &Baseline::default());
    let b = match Baseline::default()
        .resolve(model.model(), model.tokenizer(), None)
        .unwrap()
    {
        interprim::text::ResolvedBaseline::Embedding(t) => t,
        _ => unreachable!(),
    };
    let masks: Vec<u32> = (0..8).collect();
    let x = ms.masked_embeds(model.model(), &masks, &b).unwrap();
    let a: Vec<Vec<f32>> = ms.logits(model.model(), &masks).unwrap().to_vec2().unwrap();
    let d: Vec<Vec<f32>> = diff.forward(&x).unwrap().to_vec2().unwrap();
    let worst = a
        .iter()
        .flatten()
        .zip(d.iter().flatten())
        .map(|(p, q)| (p - q).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4,
        "differentiable copy differs by {worst} on an f16 overlay"
    );
    // the overlay is in effect: it changes the logits of the base model with the same head
    let plain = load("MiniLM-L3", &assets::minilm_l3_dir());
    let p: Vec<Vec<f32>> = masked(&plain, &players, &Baseline::default())
        .logits(plain.model(), &masks)
        .unwrap()
        .to_vec2()
        .unwrap();
    assert!(a
        .iter()
        .flatten()
        .zip(p.iter().flatten())
        .any(|(x, y)| (x - y).abs() > 1e-3));
}
