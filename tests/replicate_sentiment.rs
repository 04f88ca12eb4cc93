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
        && interprim::train::SentimentModel::L3
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
    assert_eq!(summary["accuracy"].as_object().unwrap().len(), 2);
    assert!(summary["seconds_per_sample"].as_f64().unwrap() > 0.0);
    let html = std::fs::read_to_string(out.join("figures.html")).unwrap();
    assert!(html.contains("Fig. 2") && html.contains("Fig. 3") && html.contains("Fig. 4"));
    assert!(std::fs::read_to_string(out.join("comparison.md"))
        .unwrap()
        .contains("45.14"));
    let saved: Vec<_> = std::fs::read_dir(out.join("samples")).unwrap().collect();
    assert_eq!(saved.len(), 2);

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
