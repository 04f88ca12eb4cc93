//! `interprim replicate sentiment` end to end on the real default models (small settings), and
//! that an interrupted run resumes from the saved samples.

use std::process::Command;

fn assets_present() -> bool {
    let ok = interprim::models::assets::minilm_l6_dir()
        .join("model.safetensors")
        .exists()
        && interprim::models::assets::minilm_l3_dir()
            .join("model.safetensors")
            .exists()
        && interprim::models::registry::SentimentModel::L3
            .committed_weights()
            .exists();
    if !ok {
        if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
            panic!("assets missing: run scripts/fetch-assets.sh sentiment");
        }
        eprintln!("SKIPPED: assets missing (run scripts/fetch-assets.sh sentiment)");
    }
    ok
}

#[test]
fn replicate_sentiment_writes_summary_figures_and_resumes() {
    if !assets_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cache = dir.path().join("cache");
    let args = |out: &std::path::Path| {
        vec![
            "replicate".to_string(),
            "sentiment".into(),
            "--samples".into(),
            "2".into(),
            "--n".into(),
            "6".into(),
            "--niter".into(),
            "2000".into(),
            "--accuracy-sentences".into(),
            "100".into(),
            "--null-permutations".into(),
            "2".into(),
            "--spread".into(),
            "2".into(),
            "--out".into(),
            out.display().to_string(),
            "--cache-dir".into(),
            cache.display().to_string(),
        ]
    };
    let run = |a: Vec<String>| {
        Command::new(env!("CARGO_BIN_EXE_interprim"))
            .args(a)
            .output()
            .unwrap()
    };
    let o = run(args(&out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        interprim::export::read_json(&out.join("summary.json")).unwrap();
    assert_eq!(summary["samples"], 2);
    assert_eq!(summary["k"].as_array().unwrap().len(), 9);
    for method in ["generalizable", "traditional"] {
        for kind in ["s_and", "s_or"] {
            let v = summary[method][kind].as_array().unwrap();
            assert_eq!(v.len(), 9);
            assert!(v.iter().all(|x| (0.0..=1.0).contains(&x.as_f64().unwrap())));
        }
    }
    assert!(summary["harsanyi"]["s_and"].is_array());
    // sharing against chance and the nulls (R = 2; 2 sentences of the same n, so both nulls
    // exist: 2 replicates × 2 sentences × 2 nulls = 8 generalizable re-extractions)
    for method in ["generalizable", "traditional", "harsanyi"] {
        let kinds: &[&str] = if method == "harsanyi" {
            &["s_and"]
        } else {
            &["s_and", "s_or"]
        };
        for kind in kinds {
            for suffix in [
                "_signed",
                "_null",
                "_null_sd",
                "_null_cross",
                "_null_cross_sd",
                "_excess",
                "_excess_cross",
            ] {
                let key = format!("{kind}{suffix}");
                let v = summary[method][&key]
                    .as_array()
                    .unwrap_or_else(|| panic!("{method}.{key}"));
                assert_eq!(v.len(), 9, "{method}.{key}");
            }
        }
    }
    assert_eq!(summary["chance"]["chance_and"].as_array().unwrap().len(), 9);
    assert_eq!(summary["nulls"]["replicates"], 2);
    assert_eq!(summary["nulls"]["extractions"], 8);
    assert!(summary["excess_vs_traditional"]["permutation"]["difference_and"].is_number());
    assert!(summary["excess_vs_traditional"]["cross_sample"]["difference_or"].is_number());
    assert!(summary.get("generalizable_beats_traditional").is_none());
    assert_eq!(summary["sharing_cost"].as_array().unwrap().len(), 2);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("excess over the permutation null (R = 2"),
        "{stdout}"
    );
    assert!(out.join("null/permutation/r1").is_dir() && out.join("null/cross-sample/r0").is_dir());
    assert_eq!(summary["accuracy"].as_object().unwrap().len(), 2);
    assert!(summary["seconds_per_sample"].as_f64().unwrap() > 0.0);
    let html = std::fs::read_to_string(out.join("figures.html")).unwrap();
    assert!(html.contains("Fig. 2") && html.contains("Fig. 3") && html.contains("Fig. 4"));
    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(md.contains("45.14"));
    assert!(md.contains("s_and permutation null (R = 2), generalizable"));
    assert!(md.contains("cost of sharing"));
    let saved: Vec<_> = std::fs::read_dir(out.join("samples")).unwrap().collect();
    assert_eq!(saved.len(), 2);
    // the headline numbers' spread under 1e-5 relative noise on the values (2 recomputations)
    let spread: serde_json::Value = interprim::export::read_json(&out.join("spread.json")).unwrap();
    assert_eq!(spread["draws"], 2);
    assert_eq!(spread["noise"], 1e-5);
    let lines = spread["lines"].as_array().unwrap();
    assert!(lines.len() >= 30, "{spread}");
    for l in lines {
        let (min, max) = (l["min"].as_f64().unwrap(), l["max"].as_f64().unwrap());
        assert!(min <= max, "{l}");
    }
    let first = &lines[0];
    assert_eq!(first["quantity"], "generalizable s_and, k = 3");
    assert_eq!(first["value"], summary["generalizable"]["s_and"][0]);
    assert!(stdout.contains("range over 2 recomputations"), "{stdout}");
    assert!(
        stdout.contains("widest range relative to its value"),
        "{stdout}"
    );
    for r in 0..2 {
        let saved = std::fs::read_dir(out.join(format!("spread/draw-{r}/samples"))).unwrap();
        assert_eq!(saved.count(), 2);
    }

    // A second run with the same settings reuses every saved sample and the value cache,
    // and reports the same numbers.
    let o2 = run(args(&out));
    assert!(
        o2.status.success(),
        "{}",
        String::from_utf8_lossy(&o2.stderr)
    );
    let again: serde_json::Value = interprim::export::read_json(&out.join("summary.json")).unwrap();
    // Resumed samples are read back from JSON, whose float parsing may differ in the last bit.
    for method in ["generalizable", "traditional"] {
        assert_close(&again[method], &summary[method], method);
    }
    // and reuses every saved null extraction
    assert_eq!(again["nulls"]["reused"], 8);
    assert_eq!(again["nulls"]["computed"], 0);
    // and every saved recomputation of the spread, with the same ranges
    let stderr = String::from_utf8_lossy(&o2.stderr);
    let spread_again: serde_json::Value =
        interprim::export::read_json(&out.join("spread.json")).unwrap();
    assert_close(&spread_again["lines"], &spread["lines"], "spread");
    for r in 0..2 {
        let note = format!("draw {r}: 2 samples extracted (2 reused)");
        assert!(
            String::from_utf8_lossy(&o2.stdout).contains(&note) || stderr.contains(&note),
            "{stderr}"
        );
    }
}

fn assert_close(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * (1.0 + x.abs().max(y.abs())),
                "{path}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_close(p, q, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (k, p) in x {
                assert_close(p, &y[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

/// One extraction path: the single-sentence API and the replication give identical interactions
/// for the same sentence, players, values and settings (the run's γ̂ bounds passed to the API).
#[test]
fn the_api_and_the_replication_give_identical_interactions() {
    if !assets_present() {
        return;
    }
    use interprim::api::{compare_with, ExtractOptions};
    use interprim::models::registry::SentimentModel;
    use interprim::tasks::sentiment::{load_default_model, replicate_sentiment, SentimentArgs};
    let dir = tempfile::tempdir().unwrap();
    let mut args = SentimentArgs {
        n: 6,
        accuracy_sentences: Some(50),
        ..Default::default()
    };
    args.run.samples = 1;
    args.run.out = dir.path().join("run");
    args.run.cache = Some(interprim::game::ValueCache::new(dir.path().join("values")));
    let study = replicate_sentiment(&args, None).unwrap();
    let sample = &study.results[0];
    let opts = ExtractOptions {
        n_players: 6,
        seed: args.seed,
        cache_dir: Some(dir.path().join("values")),
        decomposition: interprim::decomposition::DecompositionOptions {
            gamma_bounds: Some(study.gamma_bounds.clone()),
            ..study.settings.decomposition.clone()
        },
        ..Default::default()
    };
    let l3 = load_default_model(SentimentModel::L3).unwrap();
    let l6 = load_default_model(SentimentModel::L6).unwrap();
    let api = compare_with(&[&l3, &l6], &sample.text, &opts).unwrap();
    let names: Vec<String> = api
        .generalizable
        .players
        .iter()
        .map(|w| w.text.clone())
        .collect();
    assert_eq!(names, sample.players);
    for (i, m) in api.generalizable.models.iter().enumerate() {
        assert_eq!(m.values.v(), &sample.values[i][..]);
        assert_eq!(
            m.interactions, sample.generalizable[i],
            "generalizable, model {i}"
        );
    }
    for (i, t) in api.traditional.iter().enumerate() {
        assert_eq!(
            t.model.interactions, sample.traditional[i],
            "traditional, model {i}"
        );
    }
}

#[test]
fn interprim_value_cache_moves_the_value_cache() {
    if !assets_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("my-values");
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_interprim"))
        .args([
            "replicate",
            "sentiment",
            "--samples",
            "1",
            "--n",
            "4",
            "--accuracy-sentences",
            "20",
            "--null-permutations",
            "0",
            "--out",
        ])
        .arg(&out)
        .env("INTERPRIM_VALUE_CACHE", &values)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // both models' outputs on the sentence: values (.npy) and identity (.json) each
    let names: Vec<String> = std::fs::read_dir(&values)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".npy")).count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".json")).count(),
        2,
        "{names:?}"
    );
}
