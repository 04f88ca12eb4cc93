//! Every `Game` implementation gives the values the previous code (before the `Game` redesign,
//! commit 852e3de) gave on the same inputs: `tests/fixtures/previous_values.json` was written by
//! that version (its `api::sentence_values`, `text::lm_value::lm_values` and
//! `digits::patch_values`) on these inputs. Tolerance: 1e-5 of the value range (float rounding
//! of a different batch composition; the values themselves are f32 network outputs).

use interprim::api::{sentence_values, ExplicitPlayers, ExtractOptions};
use interprim::game::{evaluate, Budget, EvalOptions, FnGame, Game, VectorGame};
use interprim::games::lm::{greedy_next_word, LmBaseline, LmGame};
use interprim::models::registry::SentimentModel;
use interprim::text::baseline::{Baseline, SpecialToken};
use interprim::text::players::{PlayerSelection, Players};
use interprim::Coalition;

mod common;

fn fixture() -> serde_json::Value {
    let text = include_str!("fixtures/previous_values.json");
    serde_json::from_str(text).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn assert_close(what: &str, new: &[f64], old: &[f64]) {
    assert_eq!(new.len(), old.len(), "{what}: lengths");
    let range = old.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-12);
    let worst = new
        .iter()
        .zip(old)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1e-5 * range,
        "{what}: values differ from the previous code's by up to {worst} (range {range})"
    );
}

fn no_cache() -> EvalOptions {
    EvalOptions {
        budget: Budget::unlimited(),
        ..EvalOptions::centred()
    }
}

#[test]
fn text_classifier_games_give_the_previous_values() {
    if !common::sentiment_assets("text_classifier_games_give_the_previous_values") {
        return;
    }
    let f = fixture();
    let l3 = interprim::tasks::sentiment::load_default_model(SentimentModel::L3).unwrap();
    let l6 = interprim::tasks::sentiment::load_default_model(SentimentModel::L6).unwrap();
    let case = &f["text_default"];
    let sentence = case["sentence"].as_str().unwrap();
    let v = sentence_values(&[&l3, &l6], sentence, &ExtractOptions::default()).unwrap();
    let names: Vec<String> = serde_json::from_value(case["players"].clone()).unwrap();
    assert_eq!(v.players.names(), names);
    for (m, old) in v.models.iter().zip(case["values"].as_array().unwrap()) {
        assert_close(&m.model, m.v(), &floats(old));
    }
    // token-id masking with [UNK] and explicit players, through the Game directly
    let case = &f["text_unk_tokens"];
    let words: Vec<String> = serde_json::from_value(case["players"].clone()).unwrap();
    let players = Players::select(sentence, &PlayerSelection::Words(words)).unwrap();
    let game = l6
        .game(
            &players,
            &Baseline::TokenId {
                token: SpecialToken::Unk,
            },
            interprim::games::text::Target::Predicted,
            128,
        )
        .unwrap();
    let values = evaluate(&game, &no_cache(), None).unwrap();
    assert_close(
        "MiniLM-L6, [UNK] token ids",
        &values.v,
        &floats(&case["values"][0]),
    );
    // the explicit-players API path agrees with the game
    let opts = ExtractOptions {
        explicit_players: Some(ExplicitPlayers::Words(players.names())),
        baseline: Baseline::TokenId {
            token: SpecialToken::Unk,
        },
        ..Default::default()
    };
    let api = sentence_values(&[&l6], sentence, &opts).unwrap();
    assert_eq!(api.models[0].v(), values.v.as_slice());
}

#[test]
fn language_model_games_give_the_previous_values() {
    if !common::lm_assets("language_model_games_give_the_previous_values") {
        return;
    }
    let f = fixture();
    let case = &f["lm"];
    let prompt = case["prompt"].as_str().unwrap();
    let players = Players::select(prompt, &PlayerSelection::Seeded { n: 4, seed: 0 }).unwrap();
    let names: Vec<String> = serde_json::from_value(case["players"].clone()).unwrap();
    assert_eq!(players.names(), names);
    let lms = interprim::tasks::next_word::load_default_lms().unwrap();
    for (lm, old) in lms.iter().zip(case["models"].as_array().unwrap()) {
        let w = greedy_next_word(lm, prompt, 6).unwrap();
        assert_eq!(w.tokens[0] as u64, old["target"].as_u64().unwrap());
        let game = LmGame::new(lm, &players, &LmBaseline::Unk, w.tokens[0], 64).unwrap();
        let opts = EvalOptions {
            centre: false,
            ..no_cache()
        };
        let values = evaluate(&game, &opts, None).unwrap();
        assert_close(lm.name(), &values.v, &floats(&old["log_odds"]));
        // the unshared path (a batch of coalitions through `values`) gives the same numbers
        let some = [Coalition(0), Coalition(5), Coalition(15)];
        let direct = game.values(&some).unwrap();
        for (c, x) in some.iter().zip(&direct) {
            assert!(
                (x - values.v[c.mask()]).abs() <= 1e-4,
                "{}: {c:?}",
                lm.name()
            );
        }
    }
}

#[test]
fn image_games_give_the_previous_values() {
    if !common::digits_assets("image_games_give_the_previous_values") {
        return;
    }
    let f = fixture();
    let case = &f["digits"];
    let models = interprim::tasks::digits::load_default_models().unwrap();
    let split = interprim::data::digits::default_split().unwrap();
    let id = case["image"].as_str().unwrap();
    let d = split.test.iter().find(|d| d.id == id).unwrap();
    let patches: Vec<interprim::games::image::Patch> =
        serde_json::from_value(case["patches"].clone()).unwrap();
    for (m, old) in models.iter().zip(case["values"].as_array().unwrap()) {
        let game =
            interprim::games::image::ImageGame::new(m, id, &d.pixels, &patches, 100).unwrap();
        let values = evaluate(&game, &no_cache(), None).unwrap();
        assert_close(m.name(), &values.v, &floats(old));
    }
}

#[test]
fn vector_and_closure_games_are_exact() {
    let v: Vec<f64> = (0..16).map(|t| ((t * 7 % 5) as f64) - 1.5).collect();
    let game = VectorGame::new("v", v.clone()).unwrap();
    let values = evaluate(&game, &EvalOptions::default(), None).unwrap();
    assert_eq!(values.v, v);
    let closure = FnGame::new("f", game.player_names(), |cs: &[Coalition]| {
        Ok(cs.iter().map(|c| v[c.mask()]).collect())
    })
    .with_batch_size(3);
    let centred = evaluate(&closure, &EvalOptions::centred(), None).unwrap();
    assert!(centred.v.iter().zip(&v).all(|(c, x)| *c == x - v[0]));
}
