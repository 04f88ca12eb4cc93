//! The examples a user starts from run and print what they promise. Each example's source is
//! compiled into this test (`#[path]` module) and its `run` writes into a buffer, so the test
//! always runs the current source: `cargo test --all-targets` builds examples as test harnesses,
//! not as the plain binaries `cargo run --example` uses.

#[allow(dead_code)]
#[path = "../examples/custom_model.rs"]
mod custom_model;

mod common;

#[test]
fn custom_model_explains_a_users_own_network_through_the_game_trait() {
    if !common::assets_present(
        "custom_model_explains_a_users_own_network_through_the_game_trait",
        &[interprim::models::assets::asset_root().join("digits/sklearn-digits.csv.gz")],
        "digits",
    ) {
        return;
    }
    let mut buffer = Vec::new();
    let run = custom_model::run(&mut buffer);
    let out = String::from_utf8_lossy(&buffer);
    assert!(run.is_ok(), "{out}\n{}", run.unwrap_err());
    // both networks learnt the task (10 classes: chance is 0.1)
    let acc: Vec<f64> = out
        .lines()
        .next()
        .unwrap()
        .split("accuracy ")
        .nth(1)
        .unwrap()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|s| s.contains('.'))
        .filter_map(|s| s.parse().ok())
        .collect();
    assert!(acc.len() >= 2 && acc.iter().all(|&a| a > 0.8), "{out}");
    assert!(out.contains("seed 1: top 10 interactions") && out.contains("seed 2: top 10"));
    assert!(out.contains("shared") && out.contains("AND"), "{out}");
}
