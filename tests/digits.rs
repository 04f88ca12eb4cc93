//! Task 3 (MNIST "3" vs rest, ResNet-20 vs VGG-16-style): data, models, committed weights,
//! patch players, masked evaluation, universal matching and `interprim replicate digits`.
//!
//! Tests on the real assets (scripts/fetch-assets.sh digits) and the committed weights print a
//! skip message and pass when they are absent, unless INTERPRIM_REQUIRE_ASSETS is set, in which
//! case they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use interprim::data::digits::{
    default_dir, default_split, load_digits, stratified_split, Digit, PIXELS, THREE,
};
use interprim::games::image::{masked_images, patch_values, select_patches, Patch, PatchOptions};
use interprim::models::checkpoint::load_digit_classifier;
use interprim::models::cnn::seeded_init;
use interprim::models::digit_net::DigitClassifier;
use interprim::models::registry::DigitModel;
use interprim::models::{resnet, vgg};
use interprim::train::digits::{evaluate_digits, training_metadata};
use interprim::{decompose_generalizable, decompose_traditional, DecompositionOptions, Error};

/// Test accuracies recorded in weights/README.md for the committed files, minus a margin for
/// floating-point differences between machines (the evaluation is deterministic here).
const MIN_ACCURACY: [(DigitModel, f64); 2] =
    [(DigitModel::Resnet20, 0.985), (DigitModel::Vgg16, 0.985)];

fn have(paths: &[PathBuf], test: &str) -> bool {
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: missing {} (run scripts/fetch-assets.sh digits; the weights are committed under weights/)",
        missing.join(", ")
    );
    if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
        panic!("INTERPRIM_REQUIRE_ASSETS is set but {msg}");
    }
    eprintln!("SKIPPED {msg}");
    false
}

fn data_files() -> Vec<PathBuf> {
    (0..10)
        .map(|d| default_dir().join(format!("{d}.json")))
        .collect()
}

fn all_files() -> Vec<PathBuf> {
    let mut f = data_files();
    f.extend(DigitModel::ALL.iter().map(|m| m.committed_weights()));
    f
}

fn models() -> Vec<DigitClassifier> {
    DigitModel::ALL
        .iter()
        .map(|&m| m.load(&Device::Cpu).unwrap())
        .collect()
}

/// The first few test threes both models classify correctly, with their patches.
fn samples(models: &[DigitClassifier], count: usize) -> Vec<(Digit, Vec<Patch>)> {
    let split = default_split().unwrap();
    split
        .test
        .into_iter()
        .filter(|d| d.label() == THREE)
        .filter(|d| {
            models
                .iter()
                .all(|m| m.predict(&d.pixels, 1).unwrap()[0] == THREE)
        })
        .filter_map(|d| {
            let p = select_patches(&d.pixels, &PatchOptions::default()).ok()?;
            Some((d, p))
        })
        .take(count)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Data

#[test]
fn loads_ten_thousand_digits_and_splits_by_digit() {
    if !have(
        &data_files(),
        "loads_ten_thousand_digits_and_splits_by_digit",
    ) {
        return;
    }
    let all = load_digits(&default_dir()).unwrap();
    assert_eq!(all.len(), 10_000);
    let threes = all.iter().filter(|d| d.label() == THREE).count();
    assert_eq!(threes, 1032);
    assert!(all
        .iter()
        .all(|d| d.pixels.len() == PIXELS && d.pixels.iter().all(|x| (0.0..=1.0).contains(x))));
    // every image has some ink
    assert!(all.iter().all(|d| d.pixels.iter().sum::<f32>() > 10.0));
    let split = default_split().unwrap();
    assert_eq!(split.test.len(), 2000);
    assert_eq!(split.train.len(), 8000);
    assert_eq!(split.balance(), ((826, 7174), (206, 1794)));
    // stratified by digit: each digit has round(20%) of its images in the test part
    for digit in 0..10u8 {
        let total = all.iter().filter(|d| d.digit == digit).count();
        let test = split.test.iter().filter(|d| d.digit == digit).count();
        assert_eq!(test, (0.2 * total as f64).round() as usize, "digit {digit}");
    }
    let mut ids: Vec<&str> = split
        .train
        .iter()
        .chain(&split.test)
        .map(|d| d.id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        10_000,
        "train and test are disjoint and cover all"
    );
    // seeded: same seed same split, another seed another split
    assert_eq!(stratified_split(&all, 0.2, 0).unwrap(), split);
    assert_ne!(stratified_split(&all, 0.2, 1).unwrap().test, split.test);
}

#[test]
fn missing_and_corrupt_digit_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_digits(dir.path()).unwrap_err();
    assert!(e.to_string().contains("fetch-assets.sh digits"), "{e}");
    for d in 0..10 {
        std::fs::write(
            dir.path().join(format!("{d}.json")),
            "{\"data\": [0.5, 0.5]}",
        )
        .unwrap();
    }
    let e = load_digits(dir.path()).unwrap_err();
    assert!(matches!(e, Error::BadFile { .. }), "{e}");
    assert!(e.to_string().contains("784"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Models

fn fresh(arch: DigitModel, vm: &VarMap) -> Box<dyn interprim::models::cnn::ImageNet> {
    let vb = VarBuilder::from_varmap(vm, DType::F32, &Device::Cpu);
    let net = arch.config().build(vb).unwrap();
    seeded_init(vm, 3).unwrap();
    net
}

#[test]
fn model_shapes_and_depths() {
    assert_eq!(resnet::Config::resnet20(1, 2).depth(), 20);
    assert_eq!(vgg::Config::vgg16(1, 2, 8).depth(), 16);
    for arch in DigitModel::ALL {
        let vm = VarMap::new();
        let net = fresh(arch, &vm);
        for b in [1, 5] {
            let x = Tensor::rand(0f32, 1f32, (b, 1, 28, 28), &Device::Cpu).unwrap();
            assert_eq!(net.forward_t(&x, false).unwrap().dims(), &[b, 2], "{arch}");
        }
    }
}

#[test]
fn batch_norm_train_mode_updates_running_stats_and_eval_uses_them() {
    for arch in DigitModel::ALL {
        let vm = VarMap::new();
        let net = fresh(arch, &vm);
        let stats = |vm: &VarMap| -> Vec<(String, Vec<f32>)> {
            let data = vm.data().lock().unwrap();
            let mut v: Vec<(String, Vec<f32>)> = data
                .iter()
                .filter(|(k, _)| k.ends_with("running_mean") || k.ends_with("running_var"))
                .map(|(k, t)| {
                    (
                        k.clone(),
                        t.as_tensor().flatten_all().unwrap().to_vec1().unwrap(),
                    )
                })
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let before = stats(&vm);
        assert!(before.len() >= 26, "{arch}: {} statistics", before.len());
        let x = (Tensor::rand(0f32, 1f32, (8, 1, 28, 28), &Device::Cpu).unwrap() * 3.0).unwrap();
        // eval mode changes nothing and is deterministic
        let e1: Vec<Vec<f32>> = net.forward_t(&x, false).unwrap().to_vec2().unwrap();
        assert_eq!(stats(&vm), before);
        // train mode normalises by the batch and moves every statistic towards it
        let t1: Vec<Vec<f32>> = net.forward_t(&x, true).unwrap().to_vec2().unwrap();
        let after = stats(&vm);
        assert_ne!(t1, e1, "{arch}: train mode uses batch statistics");
        let moved = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a.1 != b.1)
            .count();
        assert_eq!(
            moved,
            before.len(),
            "{arch}: every running statistic is updated"
        );
        // eval now normalises with the updated running statistics
        let e2: Vec<Vec<f32>> = net.forward_t(&x, false).unwrap().to_vec2().unwrap();
        assert_ne!(e1, e2, "{arch}: eval uses the updated running statistics");
        let e3: Vec<Vec<f32>> = net.forward_t(&x, false).unwrap().to_vec2().unwrap();
        assert_eq!(e2, e3);
    }
}

#[test]
fn committed_weights_reach_the_recorded_accuracy() {
    if !have(
        &all_files(),
        "committed_weights_reach_the_recorded_accuracy",
    ) {
        return;
    }
    let split = default_split().unwrap();
    for (arch, min) in MIN_ACCURACY {
        let path = arch.committed_weights();
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 4_000_000, "{arch}: {size} bytes");
        let meta = training_metadata(&path).unwrap();
        assert_eq!(meta["split"]["seed"], 0);
        let m = load_digit_classifier(&path, &Device::Cpu).unwrap();
        assert_eq!(m.config(), &arch.config());
        let e = evaluate_digits(&m, &split.test).unwrap();
        eprintln!("{arch}: {}", e.describe());
        assert!(e.accuracy >= min, "{arch}: {}", e.describe());
        assert!(
            e.threes.0 as f64 >= 0.9 * e.threes.1 as f64,
            "{arch}: {}",
            e.describe()
        );
    }
}

#[test]
fn loading_bad_weight_files_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.safetensors");
    let e = load_digit_classifier(&missing, &Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("train digits"), "{e}");
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    assert!(load_digit_classifier(&junk, &Device::Cpu).is_err());
    // a valid file without the architecture metadata
    let plain = dir.path().join("plain.safetensors");
    let t = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    candle_core::safetensors::save(
        &std::collections::HashMap::from([("x".to_string(), t)]),
        &plain,
    )
    .unwrap();
    let e = load_digit_classifier(&plain, &Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("interprim.architecture"), "{e}");
}

#[test]
fn wrong_image_inputs_are_errors_not_panics() {
    if !have(&all_files(), "wrong_image_inputs_are_errors_not_panics") {
        return;
    }
    let m = &models()[0];
    assert!(m.log_odds(&[0.0; 100], 8).is_err());
    assert!(m.log_odds(&[], 8).is_err());
    let mut nan = vec![0.0f32; PIXELS];
    nan[3] = f32::NAN;
    assert!(m.log_odds(&nan, 8).is_err());
    let blank = vec![0.0f32; PIXELS];
    assert!(matches!(
        select_patches(&blank, &PatchOptions::default()),
        Err(Error::InvalidPlayers(_))
    ));
    let too_many = PatchOptions {
        n: 40,
        ..Default::default()
    };
    assert!(select_patches(&vec![1.0f32; PIXELS], &too_many).is_err());
    assert!(patch_values(m, &blank, &[], 8).is_err());
}

// ---------------------------------------------------------------------------------------------
// Players and values

#[test]
fn patches_are_reproducible_and_on_strokes() {
    if !have(&data_files(), "patches_are_reproducible_and_on_strokes") {
        return;
    }
    let split = default_split().unwrap();
    let threes: Vec<&Digit> = split
        .test
        .iter()
        .filter(|d| d.label() == THREE)
        .take(40)
        .collect();
    let opts = PatchOptions::default();
    let mut ok = 0;
    for d in &threes {
        let Ok(p) = select_patches(&d.pixels, &opts) else {
            continue;
        };
        ok += 1;
        assert_eq!(p, select_patches(&d.pixels, &opts).unwrap(), "{}", d.id);
        assert_eq!(p.len(), 8);
        for patch in &p {
            assert_eq!((patch.size, patch.row % 3, patch.col % 3), (3, 0, 0));
            // on the strokes: ink of at least one full pixel, and more than the median patch
            assert!(patch.ink(&d.pixels) >= 1.0, "{} {}", d.id, patch.name());
        }
        // the chosen patches hold a good share of the digit's ink
        let ink: f64 = p.iter().map(|x| x.ink(&d.pixels)).sum();
        let total: f64 = d.pixels.iter().map(|&x| x as f64).sum();
        assert!(ink > 0.2 * total, "{}: {ink} of {total}", d.id);
    }
    assert!(ok >= 36, "only {ok} of 40 threes have 8 stroke patches");
}

#[test]
fn masked_batch_equals_unbatched_evaluation() {
    if !have(&all_files(), "masked_batch_equals_unbatched_evaluation") {
        return;
    }
    let models = models();
    let (d, patches) = samples(&models, 1).remove(0);
    let images = masked_images(&d.pixels, &patches).unwrap();
    for m in &models {
        let batched = patch_values(m, &d.pixels, &patches, 256).unwrap();
        let other = patch_values(m, &d.pixels, &patches, 37).unwrap();
        assert_eq!(batched.len(), 256);
        assert_eq!(batched[0], 0.0);
        let v0 = m.log_odds(&images[..PIXELS], 1).unwrap()[0];
        let mut max = 0.0f64;
        for t in 0..256 {
            let single = m
                .log_odds(&images[t * PIXELS..(t + 1) * PIXELS], 1)
                .unwrap()[0]
                - v0;
            max = max
                .max((single - batched[t]).abs())
                .max((other[t] - batched[t]).abs());
        }
        assert!(max < 1e-3, "{}: max diff {max}", m.name());
        // v(x_N) is the plain classifier's log-odds on the image (minus v(x_∅))
        let full = m.log_odds(&d.pixels, 1).unwrap()[0] - v0;
        assert!((full - batched[255]).abs() < 1e-3);
        assert!(
            full > 0.0,
            "a correctly classified 3 gains log-odds from its strokes"
        );
    }
}

#[test]
fn universal_matching_on_a_real_sample() {
    if !have(&all_files(), "universal_matching_on_a_real_sample") {
        return;
    }
    let models = models();
    let (d, patches) = samples(&models, 1).remove(0);
    let values: Vec<Vec<f64>> = models
        .iter()
        .map(|m| patch_values(m, &d.pixels, &patches, 256).unwrap())
        .collect();
    let refs: Vec<&[f64]> = values.iter().map(|v| v.as_slice()).collect();
    let range = refs
        .iter()
        .flat_map(|v| v.iter().map(|x| x.abs()))
        .fold(0.0f64, f64::max);
    let mut gen = DecompositionOptions::sgd(3000);
    gen.sgd_generalizable.lr = Some(2e-7 * range);
    let mut trad = DecompositionOptions::sgd(3000);
    trad.sgd_traditional.lr = Some(1e-6 * range);
    let g = decompose_generalizable(&refs, &gen).unwrap();
    assert!(
        g.final_loss < g.initial_loss,
        "{} → {}",
        g.initial_loss,
        g.final_loss
    );
    let trads: Vec<_> = refs
        .iter()
        .map(|v| decompose_traditional(v, &trad).unwrap())
        .collect();
    let check = |inter: &interprim::Interactions, eps: &[f64], v: &[f64], what: &str| {
        let raw = inter.reconstruct();
        let re = inter.reorganised().reconstruct();
        for t in 0..v.len() {
            assert!((raw[t] - v[t] - eps[t]).abs() <= 1e-9, "{what} T={t}");
            assert!((re[t] - raw[t]).abs() <= 1e-9, "{what} T={t}");
        }
        let bound = 0.02 * (v[v.len() - 1] - v[0]).abs() + 1e-12;
        assert!(
            eps.iter().all(|e| e.abs() <= bound),
            "{what}: ε within its bound"
        );
    };
    for i in 0..2 {
        check(&g.interactions[i], &g.eps[i], refs[i], "generalizable");
        check(
            &trads[i].interactions[0],
            &trads[i].eps[0],
            refs[i],
            "traditional",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// CLI end to end

#[test]
fn replicate_digits_writes_summary_figures_and_resumes() {
    if !have(
        &all_files(),
        "replicate_digits_writes_summary_figures_and_resumes",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = |out: &Path| {
        vec![
            "replicate".to_string(),
            "digits".into(),
            "--samples".into(),
            "2".into(),
            "--niter".into(),
            "1000".into(),
            "--figure-samples".into(),
            "2".into(),
            "--out".into(),
            out.display().to_string(),
            "--cache-dir".into(),
            dir.path().join("values").display().to_string(),
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
    // n = 8: k = ⌊256·t⌋ for t = 0.05 … 0.45
    let k: Vec<u64> = summary["k"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(k, vec![12, 25, 38, 51, 64, 76, 89, 102, 115]);
    for method in ["generalizable", "traditional"] {
        for kind in ["s_and", "s_or"] {
            let v = summary[method][kind].as_array().unwrap();
            assert_eq!(v.len(), 9);
            assert!(v.iter().all(|x| (0.0..=1.0).contains(&x.as_f64().unwrap())));
        }
    }
    assert!(summary["harsanyi"]["s_and"].is_array());
    let acc = summary["accuracy"].as_object().unwrap();
    assert_eq!(acc.len(), 2);
    assert!(acc.values().all(|a| a.as_f64().unwrap() > 0.95));
    assert!(summary["seconds_per_sample"].as_f64().unwrap() > 0.0);
    let html = std::fs::read_to_string(out.join("figures.html")).unwrap();
    assert!(html.contains("Fig. 2") && html.contains("Fig. 3") && html.contains("Fig. 4"));
    assert!(std::fs::read_to_string(out.join("comparison.md"))
        .unwrap()
        .contains("27.15"));
    let patches = std::fs::read_to_string(out.join("patches.html")).unwrap();
    assert_eq!(patches.matches("<h2>").count(), 2);
    assert!(patches.contains("<svg"));
    let saved: Vec<_> = std::fs::read_dir(out.join("samples")).unwrap().collect();
    assert_eq!(saved.len(), 2);
    let first_name = {
        let mut names: Vec<_> = std::fs::read_dir(out.join("samples"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names.remove(0)
    };
    let first = std::fs::read_to_string(out.join("samples").join(&first_name)).unwrap();

    // A second run reuses the saved values and extractions and reports the same numbers.
    let o2 = run(args(&out));
    assert!(
        o2.status.success(),
        "{}",
        String::from_utf8_lossy(&o2.stderr)
    );
    let again: serde_json::Value = interprim::export::read_json(&out.join("summary.json")).unwrap();
    for method in ["generalizable", "traditional", "harsanyi"] {
        let (a, b) = (&again[method]["s_and"], &summary[method]["s_and"]);
        assert_eq!(a, b, "{method}");
    }
    let first_again = std::fs::read_to_string(out.join("samples").join(&first_name)).unwrap();
    assert_eq!(first, first_again, "a resumed sample is not recomputed");
}

// ---------------------------------------------------------------------------------------------
// Library entry points (notebook 08)

#[test]
fn replicate_digits_as_a_library_call_matches_its_files_and_explain_digit() {
    use interprim::plot::patches::PatchFigure;
    use interprim::tasks::digits::{explain_digit, replicate_digits, seeded_threes, DigitsArgs};
    if !have(
        &all_files(),
        "replicate_digits_as_a_library_call_matches_its_files_and_explain_digit",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut args = DigitsArgs {
        figure_samples: 1,
        ..DigitsArgs::default()
    };
    args.run.samples = 2;
    args.run.out = dir.path().join("run");
    args.run.cache = Some(interprim::game::ValueCache::new(dir.path().join("values")));
    args.run.decomposition = DecompositionOptions::sgd(1000);
    let study = replicate_digits(&args, None).unwrap();
    assert_eq!(study.results.len(), 2);
    assert_eq!(study.n(), 8);
    assert_eq!(study.models(), ["resnet20", "vgg16"]);
    assert_eq!(study.summary.accuracy.len(), 2);
    let saved: serde_json::Value =
        interprim::export::read_json(&args.run.out.join("summary.json")).unwrap();
    assert_eq!(saved["samples"], 2);
    assert_eq!(
        saved["generalizable"]["s_and"],
        serde_json::to_value(&study.summary.generalizable.s_and).unwrap()
    );
    assert!(args.run.out.join("patches.html").is_file());
    assert!(study.comparison_table(false).to_text().contains("100.00%"));
    // the run's first sample is the first seeded "3" both models classify correctly
    let models = models();
    let split = default_split().unwrap();
    let first = seeded_threes(&split.test, args.seed)
        .into_iter()
        .filter(|d| select_patches(&d.pixels, &PatchOptions::default()).is_ok())
        .find(|d| {
            models
                .iter()
                .all(|m| m.predict(&d.pixels, 1).unwrap()[0] == THREE)
        })
        .unwrap();
    assert_eq!(study.results[0].id, format!("mnist-{}", first.id));
    // explain_digit on it: the same players and values (from the value cache)
    let id = format!("mnist-{}", first.id);
    let (patches, one) = explain_digit(&models, &id, &first.pixels, &args).unwrap();
    assert_eq!(one.players, study.results[0].players);
    assert_eq!(one.values.len(), 2);
    for (a, b) in one.values.iter().zip(&study.results[0].values) {
        assert!(a.from_cache);
        assert!(a.v.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9));
    }
    let fig = PatchFigure::new("t", &first.pixels, &patches, study.models())
        .unwrap()
        .shared("generalizable", &one.method("generalizable"), 50, 3)
        .unwrap();
    assert!(fig.to_svg().contains("<svg"));
    // bad input is an error
    assert!(explain_digit(&models, "x", &[0.0; 5], &args).is_err());
    let mut none = args.clone();
    none.run.samples = 0;
    assert!(replicate_digits(&none, None).is_err());
}
