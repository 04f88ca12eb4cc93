//! The `interprim` binary end to end: outputs, the demo, and clean failures on bad input.

mod common;

use std::path::Path;
use std::process::Command;

use interprim::export::{read_json, read_npy, write_atomic, write_npy, MaskOrder};

fn interprim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_interprim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn interactions_writes_and_or_of_the_worked_example() {
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("v.npy");
    write_npy(&v, &[7.0, 8.0, 9.0, 13.0], MaskOrder::LsbFirst).unwrap();
    let out = dir.path().join("out");
    let o = interprim(&["interactions", "--values", p(&v), "--out", p(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        read_npy(&out.join("and.npy")).unwrap(),
        vec![7.0, 1.0, 2.0, 3.0]
    );
    assert_eq!(
        read_npy(&out.join("or.npy")).unwrap(),
        vec![7.0, 4.0, 5.0, -3.0]
    );
    // the authors' order: player 0 is the most significant bit, so {0} and {1} swap places
    let out2 = dir.path().join("msb");
    let o = interprim(&[
        "interactions",
        "--values",
        p(&v),
        "--out",
        p(&out2),
        "--order",
        "msb",
    ]);
    assert!(o.status.success());
    assert_eq!(
        read_npy(&out2.join("and.npy")).unwrap(),
        vec![7.0, 1.0, 2.0, 3.0]
    );
}

#[test]
fn extract_values_generalizable_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = interprim::demo::noisy_models(3, 0.02);
    let (pa, pb) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    write_npy(&pa, &a, MaskOrder::LsbFirst).unwrap();
    write_npy(&pb, &b, MaskOrder::LsbFirst).unwrap();
    let out = dir.path().join("ext");
    let o = interprim(&[
        "extract-values",
        "--mode",
        "generalizable",
        "--values",
        p(&pa),
        "--values",
        p(&pb),
        "--lr",
        "1e-4",
        "--niter",
        "3000",
        "--shapiq",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "I_and_1",
        "I_or_1",
        "eps_1",
        "gamma_1",
        "I_and_2",
        "I_or_2",
        "eps_2",
        "gamma_2",
        "gamma_shared",
    ] {
        assert_eq!(
            read_npy(&out.join(format!("{f}.npy"))).unwrap().len(),
            32,
            "{f}"
        );
    }
    let summary: serde_json::Value = read_json(&out.join("summary.json")).unwrap();
    assert_eq!(summary["n"], 5);
    assert_eq!(summary["m"], 2);
    assert_eq!(summary["niter"], 3000);
    assert!(summary["final_loss"].as_f64().unwrap() < summary["initial_loss"].as_f64().unwrap());
    // universal matching holds on what was written: AND + OR reconstruct v + ε
    let it = interprim::Interactions::new(
        read_npy(&out.join("I_and_1.npy")).unwrap(),
        read_npy(&out.join("I_or_1.npy")).unwrap(),
    )
    .unwrap();
    let eps = read_npy(&out.join("eps_1.npy")).unwrap();
    for ((r, v), e) in it.reconstruct().iter().zip(&a).zip(&eps) {
        assert!((r - v - e).abs() < 1e-9);
    }
    let shapiq: serde_json::Value = read_json(&out.join("shapiq_and_1.json")).unwrap();
    assert_eq!(shapiq["metadata"]["n_players"], 5);

    let out_t = dir.path().join("trad");
    let o = interprim(&[
        "extract-values",
        "--mode",
        "traditional",
        "--values",
        p(&pa),
        "--niter",
        "100",
        "--out",
        p(&out_t),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out_t.join("gamma_1.npy").exists() && !out_t.join("gamma_shared.npy").exists());
    // several models in traditional mode: each extracted alone, numbered in order
    let out_2 = dir.path().join("trad2");
    let o = interprim(&[
        "extract-values",
        "--mode",
        "traditional",
        "--values",
        p(&pa),
        "--values",
        p(&pb),
        "--niter",
        "100",
        "--out",
        p(&out_2),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let alone = read_npy(&out_t.join("I_and_1.npy")).unwrap();
    assert_eq!(read_npy(&out_2.join("I_and_1.npy")).unwrap(), alone);
    assert!(out_2.join("I_and_2.npy").exists() && !out_2.join("gamma_shared.npy").exists());
}

/// With several models, summary.json's "sharing" holds top-k sharing, signed sharing, chance and
/// the permutation null on the paper's k grid, in both modes; `--null-permutations 0` leaves the
/// null out; one model has no "sharing".
#[test]
fn extract_values_reports_sharing_chance_and_the_permutation_null() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = interprim::demo::noisy_models(3, 0.02);
    let (pa, pb) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    write_npy(&pa, &a, MaskOrder::LsbFirst).unwrap();
    write_npy(&pb, &b, MaskOrder::LsbFirst).unwrap();
    let ks = [1u64, 3, 4, 6, 8, 9, 11, 12, 14];
    let lists = [
        "k",
        "s_and",
        "s_or",
        "s_and_signed",
        "s_or_signed",
        "s_and_null",
        "s_or_null",
        "chance_and",
        "chance_or",
        "s_and_null_sd",
        "s_or_null_sd",
    ];
    for mode in ["generalizable", "traditional"] {
        let out = dir.path().join(mode);
        let o = interprim(&[
            "extract-values",
            "--mode",
            mode,
            "--values",
            p(&pa),
            "--values",
            p(&pb),
            "--null-permutations",
            "3",
            "--null-seed",
            "5",
            "--out",
            p(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let summary: serde_json::Value = read_json(&out.join("summary.json")).unwrap();
        let sharing = &summary["sharing"];
        for key in lists {
            let v = sharing[key]
                .as_array()
                .unwrap_or_else(|| panic!("{mode} {key}"));
            assert_eq!(v.len(), ks.len(), "{mode} {key}");
            if key != "k" {
                assert!(v.iter().all(|x| (0.0..=1.0).contains(&x.as_f64().unwrap())));
            }
        }
        assert_eq!(sharing["k"], serde_json::json!(ks));
        assert_eq!(sharing["null_replicates"], 3);
        assert_eq!(sharing["null_seed"], 5);
        // chance for m = 2: k / M, M = 32 (AND) and 26 (OR)
        assert!((sharing["chance_and"][0].as_f64().unwrap() - 1.0 / 32.0).abs() < 1e-12);
        assert!((sharing["chance_or"][8].as_f64().unwrap() - 14.0 / 26.0).abs() < 1e-12);
        for (s, signed) in [("s_and", "s_and_signed"), ("s_or", "s_or_signed")] {
            for (x, y) in sharing[s]
                .as_array()
                .unwrap()
                .iter()
                .zip(sharing[signed].as_array().unwrap())
            {
                assert!(y.as_f64().unwrap() <= x.as_f64().unwrap());
            }
        }
    }
    // The traditional null is the library's relabelling null of the written interactions
    // (reorganised), and the observed sharing theirs: recomputed here from the .npy files.
    use interprim::metrics::sharing;
    let out = dir.path().join("traditional");
    let written: Vec<interprim::Interactions> = (1..=2)
        .map(|i| {
            interprim::Interactions::new(
                read_npy(&out.join(format!("I_and_{i}.npy"))).unwrap(),
                read_npy(&out.join(format!("I_or_{i}.npy"))).unwrap(),
            )
            .unwrap()
            .reorganised()
        })
        .collect();
    let refs: Vec<&interprim::Interactions> = written.iter().collect();
    let ks_usize: Vec<usize> = ks.iter().map(|&k| k as usize).collect();
    let summary: serde_json::Value = read_json(&out.join("summary.json")).unwrap();
    let null = sharing::permutation_null_interactions(std::slice::from_ref(&refs), &ks_usize, 3, 5)
        .unwrap();
    let observed = sharing::sharing_curve(&[refs], &ks_usize).unwrap();
    let close = |json: &serde_json::Value, want: &[f64], what: &str| {
        let got: Vec<f64> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{what}: {got:?} vs {want:?}");
        }
    };
    close(
        &summary["sharing"]["s_and_null"],
        &null.s_and_mean,
        "s_and_null",
    );
    close(
        &summary["sharing"]["s_or_null_sd"],
        &null.s_or_sd,
        "s_or_null_sd",
    );
    close(&summary["sharing"]["s_and"], &observed.s_and, "s_and");
    close(
        &summary["sharing"]["s_or_signed"],
        &observed.s_or_signed,
        "s_or_signed",
    );
    // the generalizable null is reproducible from its seed: a second run writes the same
    let again = dir.path().join("generalizable-again");
    let o = interprim(&[
        "extract-values",
        "--mode",
        "generalizable",
        "--values",
        p(&pa),
        "--values",
        p(&pb),
        "--null-permutations",
        "3",
        "--null-seed",
        "5",
        "--out",
        p(&again),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first: serde_json::Value =
        read_json(&dir.path().join("generalizable").join("summary.json")).unwrap();
    let second: serde_json::Value = read_json(&again.join("summary.json")).unwrap();
    assert_eq!(first["sharing"], second["sharing"]);

    // R = 0: no null
    let out = dir.path().join("no-null");
    let o = interprim(&[
        "extract-values",
        "--mode",
        "traditional",
        "--values",
        p(&pa),
        "--values",
        p(&pb),
        "--null-permutations",
        "0",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = read_json(&out.join("summary.json")).unwrap();
    assert!(summary["sharing"]["s_and_null"].is_null());
    assert!(summary["sharing"]["s_and_signed"].is_array());
    // one model: nothing to share
    let out = dir.path().join("one");
    let o = interprim(&[
        "extract-values",
        "--mode",
        "traditional",
        "--values",
        p(&pa),
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = read_json(&out.join("summary.json")).unwrap();
    assert!(summary.get("sharing").is_none());
}

/// Every bad input exits non-zero with one line naming the problem, and leaves nothing in DIR.
#[test]
fn bad_input_fails_cleanly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    write_npy(&good, &[0.0, 1.0, 2.0, 3.0], MaskOrder::LsbFirst).unwrap();
    let three = dir.path().join("three.npy");
    write_npy(&three, &[0.0, 1.0, 2.0], MaskOrder::LsbFirst).unwrap();
    let nan = dir.path().join("nan.npy");
    write_npy(&nan, &[0.0, f64::NAN, 2.0, 3.0], MaskOrder::LsbFirst).unwrap();
    let eight = dir.path().join("eight.npy");
    write_npy(&eight, &[0.0; 8], MaskOrder::LsbFirst).unwrap();
    let garbage = dir.path().join("garbage.npy");
    write_atomic(&garbage, b"\x93NUMPY garbage").unwrap();
    // all zero but subnormal (issue 27.2): refused, not a panic
    let subnormal = dir.path().join("subnormal.npy");
    write_npy(&subnormal, &[0.0, 1e-310, 0.0, 0.0], MaskOrder::LsbFirst).unwrap();
    let out = dir.path().join("out");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["interactions", "--values", p(&three)],
            "not a power of two",
        ),
        (vec!["interactions", "--values", p(&nan)], "must be finite"),
        (
            vec!["interactions", "--values", "/nonexistent/v.npy"],
            "No such file",
        ),
        (
            vec!["interactions", "--values", p(&garbage)],
            "not a readable .npy",
        ),
        (
            vec![
                "extract-values",
                "--mode",
                "generalizable",
                "--values",
                p(&good),
                "--values",
                p(&eight),
            ],
            "disagree",
        ),
        (
            vec![
                "extract-values",
                "--mode",
                "generalizable",
                "--values",
                p(&good),
            ],
            "at least 2 models",
        ),
        (
            vec![
                "extract-values",
                "--mode",
                "generalizable",
                "--values",
                p(&good),
                "--values",
                p(&good),
                "--alpha",
                "2",
            ],
            "alpha",
        ),
        (
            vec![
                "extract-values",
                "--mode",
                "generalizable",
                "--values",
                p(&good),
                "--values",
                p(&good),
                "--gamma-bound",
                "1",
            ],
            "bounds",
        ),
        (
            vec![
                "extract-values",
                "--mode",
                "traditional",
                "--values",
                p(&subnormal),
            ],
            "too small for f64",
        ),
        (
            vec![
                "extract-values",
                "--mode",
                "generalizable",
                "--values",
                p(&subnormal),
                "--values",
                p(&subnormal),
                "--solver",
                "sgd",
            ],
            "too small for f64",
        ),
        // an SGD that takes no step (issue 27.9): refused, not "converged"
        (
            vec![
                "extract-values",
                "--mode",
                "traditional",
                "--values",
                p(&good),
                "--solver",
                "sgd",
                "--niter",
                "0",
            ],
            "invalid setting niter",
        ),
        (
            vec![
                "extract-values",
                "--mode",
                "traditional",
                "--values",
                p(&good),
                "--solver",
                "sgd",
                "--lr",
                "0",
            ],
            "invalid setting lr",
        ),
    ];
    for (mut args, expect) in cases {
        args.extend(["--out", p(&out)]);
        let o = interprim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(
            err.contains(expect),
            "{args:?}: expected '{expect}' in: {err}"
        );
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one line, got: {err}"
        );
        assert!(!out.exists(), "{args:?} wrote into DIR");
    }
    // nothing staged is left behind either
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

/// Bounds too wide to bind, through the binary: an ε bound that allows a zero loss is certified
/// at once (issue 27.11: it was "not converged, gap 1.0" after 100,000 iterations), and a γ̂
/// bound of 1e200 acts as a free γ̂, with the loss of a wide but ordinary bound (issue 27.12: it
/// gave a worse loss, "not converged").
#[test]
fn wide_bounds_are_solved_to_the_certified_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = interprim::demo::noisy_models(3, 0.02);
    let (pa, pb) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    write_npy(&pa, &a, MaskOrder::LsbFirst).unwrap();
    write_npy(&pb, &b, MaskOrder::LsbFirst).unwrap();
    let run = |name: &str, extra: &[&str]| -> serde_json::Value {
        let out = dir.path().join(name);
        let mut args = vec![
            "extract-values",
            "--mode",
            "generalizable",
            "--values",
            p(&pa),
            "--values",
            p(&pb),
        ];
        args.extend(extra);
        args.extend(["--out", p(&out)]);
        let o = interprim(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        read_json(&out.join("summary.json")).unwrap()
    };
    let zero = run("zero", &["--eps-bound", "100"]);
    assert_eq!(zero["final_loss"], 0.0);
    assert_eq!(zero["duality_gap"], 0.0);
    assert_eq!(zero["converged"], true);
    assert_eq!(zero["extractions"][0]["iterations"], 0);
    let free = run("free", &["--gamma-bound", "1e200,1e200"]);
    let wide = run("wide", &["--gamma-bound", "1000,1000"]);
    assert_eq!(free["converged"], true);
    assert_eq!(wide["converged"], true);
    let (lf, lw) = (
        free["final_loss"].as_f64().unwrap(),
        wide["final_loss"].as_f64().unwrap(),
    );
    assert!((lf - lw).abs() <= 2e-6 * lw, "{lf} vs {lw}");
}

/// Too many players: a file announcing 2^25 values is refused from its header, before any work.
#[test]
fn too_many_players_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.npy");
    let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (33554432,), }".to_string();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(vec![0u8; 4096]);
    write_atomic(&big, &bytes).unwrap();
    let o = interprim(&[
        "interactions",
        "--values",
        p(&big),
        "--out",
        p(&dir.path().join("o")),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("too many"));
}

#[test]
fn demo_finds_the_papers_primitives_shared_by_both_models() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("demo.json");
    let o = interprim(&["demo", "--json", p(&json)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = read_json(&json).unwrap();
    let shared: Vec<String> = r["generalizable"]["shared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    for term in [
        "AND {x1, x2, x3}",
        "AND {x2, x3}",
        "AND {x3, x4}",
        "OR {x4, x5}",
    ] {
        assert!(
            shared.iter().any(|s| s.contains(term)),
            "{term} not among the shared: {shared:?}"
        );
    }
    assert_eq!(shared.len(), 4, "{shared:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("AND {x1, x5}") && text.contains("OR {x2, x5}"),
        "distinctive primitives missing:\n{text}"
    );
}

/// `interprim train`, both tasks, on a few examples: the weights file is written, the summary goes
/// to stdout, and without a terminal the progress bar's log lines (stage, epoch loss) go to
/// stderr instead of being dropped.
#[test]
fn train_writes_weights_and_logs_epochs_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str, &str); 2] = [
        (
            "digits",
            "vgg16",
            "digits-vgg16.safetensors",
            "vgg16: epoch 1: mean loss",
        ),
        (
            "sentiment",
            "l3",
            "sentiment-minilm-l3.safetensors",
            "minilm-l3: epoch 1: mean loss",
        ),
    ];
    for (task, model, file, epoch_line) in cases {
        let present = match task {
            "digits" => common::digits_assets("train_writes_weights_and_logs_epochs (digits)"),
            _ => common::sentiment_assets("train_writes_weights_and_logs_epochs (sentiment)"),
        };
        if !present {
            continue;
        }
        let out = dir.path().join(task);
        let o = interprim(&[
            "train",
            task,
            "--model",
            model,
            "--epochs",
            "1",
            "--max-train",
            "16",
            "--max-test",
            "8",
            "--out",
            p(&out),
        ]);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(o.status.success(), "{task}: {stderr}");
        assert!(out.join(file).is_file(), "{task}: no {file}");
        assert!(stdout.contains("epoch losses"), "{task}: {stdout}");
        assert!(stderr.contains(epoch_line), "{task}: {stderr}");
    }
}
