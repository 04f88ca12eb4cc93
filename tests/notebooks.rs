//! Notebook regression tests: every `notebooks/*.ipynb` is executed headless on the evcxr kernel
//! (`jupyter nbconvert --to notebook --execute`) and each code cell's text outputs (stdout and
//! `text/plain`) are compared with the committed ones: numbers within a relative tolerance, all
//! other text exactly. A panic, a failed assert or an `error` line on stderr fails the test too:
//! evcxr reports none of these as an error output, so nbconvert alone would pass them.
//!
//! - `INTERPRIM_RECORD_NOTEBOOKS=1` writes the executed notebooks back (re-records the outputs).
//! - `INTERPRIM_NOTEBOOK_RTOL` sets the relative tolerance (default 1e-4). A number printed with
//!   decimals may also differ by one unit in its last printed digit (a value at a rounding
//!   boundary flips that digit under any perturbation, however small); integers (counts, k) and
//!   all text must match exactly.
//! - `INTERPRIM_NOTEBOOKS=08_digits,01` executes (and re-records) only the notebooks whose file
//!   name contains one of the comma-separated parts; unset or empty: all of them.
//! - A code cell tagged `nbtest-skip-output` (cell metadata `tags`, invisible to readers) is
//!   executed and checked for errors, but its outputs are not compared (timings).
//! - Stream text is compared as a notebook shows it: of each line, what follows its last carriage
//!   return (progress lines update in place).
//! - Without Jupyter or evcxr_jupyter (install: kernel/install.sh) the test prints SKIPPED, or
//!   fails when `INTERPRIM_REQUIRE_ASSETS` is set.
//!
//! - The networks' outputs for the notebooks' samples are pinned: `notebooks/values/` holds their
//!   value-cache entries (keyed by model weights hash, input, players and baseline), copied into
//!   the test kernel's own value cache (`$CACHE/evcxr/test-values`, its `INTERPRIM_VALUE_CACHE`;
//!   `$CACHE/values`, where this machine's values are, is left alone) before the notebooks run,
//!   so that the test checks everything downstream of the forward passes bit for bit on any machine (the forward passes themselves are tested
//!   against fixtures in tests/games.rs and tests/bert_models.rs). Readers who run the notebooks
//!   compute the values on their own machine; how much top-k numbers move under float-level
//!   changes of the values is what tests/stability.rs measures.
//!
//! The kernel runs with its own evcxr config and build dir (`$CACHE/evcxr/test`, where $CACHE is
//! `${INTERPRIM_CACHE:-<repo>/.cache}`), so tests never disturb a notebook session: the first run
//! compiles interprim for evcxr (~4 min), later runs reuse it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

mod common;
use common::compare::{last_digit_unit, line_mismatch, tokens, Tok, DEFAULT_RTOL};

/// nbconvert's per-cell and kernel start-up limits, in seconds: the kernel compiles interprim
/// before it answers (a cold build takes minutes on 2 cores).
const CELL_TIMEOUT_S: u64 = 1800;
const STARTUP_TIMEOUT_S: u64 = 3600;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cache_dir() -> PathBuf {
    std::env::var_os("INTERPRIM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache"))
}

// --- comparison ---------------------------------------------------------------------------------

/// Whether the regression test leaves a code cell's outputs uncompared (tag
/// `nbtest-skip-output` in the cell's metadata).
fn skip_output(cell: &Value) -> bool {
    cell["metadata"]["tags"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t == "nbtest-skip-output"))
}

/// Stream text as a notebook shows it: of each line, the part after its last carriage return.
fn as_shown(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        out.push_str(body.rsplit('\r').next().unwrap_or(""));
        out.push_str(newline);
    }
    out
}

/// The notebook as a reader's Jupyter shows it, for saving: in every code cell, adjacent stdout
/// stream outputs merged and each line cut to its part after the last carriage return (a progress
/// line's final state, as [`as_shown`]), so a viewer without carriage-return handling (nbconvert
/// HTML, GitHub) does not print every update of a progress line on its own line.
fn as_saved(nb: &mut Value) {
    for cell in nb["cells"].as_array_mut().into_iter().flatten() {
        let Some(outputs) = cell.get_mut("outputs").and_then(Value::as_array_mut) else {
            continue;
        };
        let mut merged: Vec<Value> = Vec::with_capacity(outputs.len());
        for o in outputs.drain(..) {
            let is_stdout = |o: &Value| o["output_type"] == "stream" && o["name"] == "stdout";
            match merged.last_mut() {
                Some(last) if is_stdout(last) && is_stdout(&o) => {
                    let text = joined(&last["text"]) + &joined(&o["text"]);
                    last["text"] = Value::String(text);
                }
                _ => merged.push(o),
            }
        }
        for o in merged.iter_mut() {
            if o["output_type"] == "stream" && o["name"] == "stdout" {
                o["text"] = Value::String(as_shown(&joined(&o["text"])));
            }
        }
        *outputs = merged;
    }
}

/// Write `nb` as nbformat does (keys sorted, one-space indent, trailing newline).
fn write_notebook(nb: &Value, path: &Path) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    serde::Serialize::serialize(nb, &mut ser).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    std::fs::write(path, bytes)
}

/// Text outputs of one code cell, as compared: stdout and text/plain, each output tagged.
fn cell_text(cell: &Value) -> String {
    let mut out = String::new();
    for o in cell["outputs"].as_array().into_iter().flatten() {
        match o["output_type"].as_str() {
            Some("stream") if o["name"] == "stdout" => {
                out.push_str("[stdout]\n");
                out.push_str(&as_shown(&joined(&o["text"])));
            }
            Some("display_data") | Some("execute_result") => {
                if let Some(t) = o["data"].get("text/plain") {
                    out.push_str("[text/plain]\n");
                    out.push_str(&joined(t));
                }
            }
            Some("error") => {
                out.push_str(&format!(
                    "[error] {}: {}",
                    joined(&o["ename"]),
                    joined(&o["evalue"])
                ));
            }
            _ => {}
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// nbformat stores multi-line strings as a string or a list of lines.
fn joined(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

fn code_cells(nb: &Value) -> Vec<&Value> {
    nb["cells"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["cell_type"] == "code")
        .collect()
}

fn first_line(cell: &Value) -> String {
    joined(&cell["source"])
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(80)
        .collect()
}

/// Failures a notebook front end would not flag: panics, failed asserts and errors on stderr, and
/// error outputs.
fn execution_problems(nb: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, cell) in code_cells(nb).into_iter().enumerate() {
        for o in cell["outputs"].as_array().into_iter().flatten() {
            let bad: Vec<String> = match o["output_type"].as_str() {
                Some("error") => vec![format!(
                    "error output {}: {}",
                    joined(&o["ename"]),
                    joined(&o["evalue"])
                )],
                Some("stream") if o["name"] == "stderr" => joined(&o["text"])
                    .lines()
                    .filter(|l| {
                        let t = l.trim_start().to_lowercase();
                        t.contains("panicked at")
                            || t.starts_with("error")
                            || (t.contains("assertion") && t.contains("failed"))
                    })
                    .map(|l| format!("stderr: {l}"))
                    .collect(),
                _ => Vec::new(),
            };
            for b in bad {
                problems.push(format!("code cell {} ({}): {b}", i + 1, first_line(cell)));
            }
        }
    }
    problems
}

/// Differences between the committed and the executed outputs, one readable block per cell.
fn output_differences(expected: &Value, actual: &Value, rtol: f64) -> Vec<String> {
    let (ec, ac) = (code_cells(expected), code_cells(actual));
    let mut diffs = Vec::new();
    if ec.len() != ac.len() {
        diffs.push(format!(
            "{} code cells committed, {} executed",
            ec.len(),
            ac.len()
        ));
    }
    for (i, (e, a)) in ec.iter().zip(&ac).enumerate() {
        if skip_output(e) {
            continue;
        }
        let (et, at) = (cell_text(e), cell_text(a));
        let (el, al): (Vec<&str>, Vec<&str>) = (et.lines().collect(), at.lines().collect());
        let mut lines = Vec::new();
        for k in 0..el.len().max(al.len()) {
            let (x, y) = (el.get(k).copied(), al.get(k).copied());
            let why = match (x, y) {
                (Some(x), Some(y)) => line_mismatch(x, y, rtol),
                (Some(_), None) => Some("line missing".into()),
                (None, Some(_)) => Some("extra line".into()),
                (None, None) => None,
            };
            if let Some(why) = why {
                lines.push(format!(
                    "    line {}: {why}\n      expected: {}\n      actual:   {}",
                    k + 1,
                    x.unwrap_or("<none>"),
                    y.unwrap_or("<none>")
                ));
            }
        }
        if !lines.is_empty() {
            let shown = lines.len().min(8);
            let more = if lines.len() > shown {
                format!("\n    … and {} more lines", lines.len() - shown)
            } else {
                String::new()
            };
            diffs.push(format!(
                "  code cell {} ({}):\n{}{more}",
                i + 1,
                first_line(e),
                lines[..shown].join("\n")
            ));
        }
    }
    diffs
}

// --- execution ----------------------------------------------------------------------------------

struct Tools {
    jupyter: PathBuf,
    evcxr: PathBuf,
}

fn runs(cmd: &Path, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn find_tools() -> Result<Tools, String> {
    // kernel/install.sh records the jupyter it installed
    let recorded = std::fs::read_to_string(cache_dir().join("evcxr/jupyter-path"))
        .ok()
        .map(|s| PathBuf::from(s.trim()));
    let jupyter = [
        std::env::var_os("INTERPRIM_JUPYTER").map(PathBuf::from),
        recorded,
        Some(cache_dir().join("jupyter-venv/bin/jupyter")),
        Some(PathBuf::from("jupyter")),
    ]
    .into_iter()
    .flatten()
    .find(|p| runs(p, "--version"))
    .ok_or("jupyter not found (run kernel/install.sh)")?;
    if !Command::new(&jupyter)
        .args(["nbconvert", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Err("jupyter nbconvert not installed (run kernel/install.sh)".into());
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    // evcxr_jupyter has no --version; --help exits 0
    let evcxr = [
        Some(PathBuf::from("evcxr_jupyter")),
        home.map(|h| h.join("bin/evcxr_jupyter")),
    ]
    .into_iter()
    .flatten()
    .find(|p| runs(p, "--help"))
    .ok_or("evcxr_jupyter not found (run kernel/install.sh)")?;
    Ok(Tools { jupyter, evcxr })
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// A kernel spec "interprim" in a private JUPYTER_PATH (found before any installed one), running
/// evcxr with the test's own config: interprim from this checkout, the test build dir.
fn kernel_setup(tools: &Tools, jupyter_path: &Path) -> std::io::Result<()> {
    let config = cache_dir().join("evcxr/test-config");
    let build = cache_dir().join("evcxr/test");
    std::fs::create_dir_all(&config)?;
    std::fs::create_dir_all(&build)?;
    let tmpdir = toml_str(&build.to_string_lossy());
    std::fs::write(
        config.join("evcxr.toml"),
        format!("[evcxr]\ntmpdir = {tmpdir}\npreserve_vars_on_panic = true\n"),
    )?;
    std::fs::write(
        config.join("init.evcxr"),
        format!(
            ":dep interprim = {{ path = {} }}\n",
            toml_str(&repo().to_string_lossy())
        ),
    )?;
    std::fs::write(config.join("prelude.rs"), "use interprim::prelude::*;\n")?;
    // build the crate versions `cargo test` uses (cargo adds evcxr's own crate to them)
    let _ = std::fs::copy(repo().join("Cargo.lock"), build.join("Cargo.lock"));
    let spec = jupyter_path.join("kernels/interprim");
    std::fs::create_dir_all(&spec)?;
    let json = serde_json::json!({
        "argv": [tools.evcxr.to_string_lossy(), "--control_file", "{connection_file}"],
        "display_name": "Rust (interprim, tests)",
        "language": "rust",
        "interrupt_mode": "message",
        "env": {
            "EVCXR_CONFIG_DIR": config.to_string_lossy(),
            "INTERPRIM_VALUE_CACHE": test_value_cache().to_string_lossy(),
        },
    });
    std::fs::write(
        spec.join("kernel.json"),
        serde_json::to_string_pretty(&json).expect("json"),
    )
}

/// Run a one-cell notebook first, so that evcxr's build of interprim (minutes when its sources
/// changed, ~15 min on a fresh machine) happens there and not inside the first cell of a compared
/// notebook: once, that first cell's stdout went missing while evcxr rebuilt interprim under load
/// (08's "loaded resnet20 and vgg16"; every later cell matched). Panics when the kernel does not
/// start.
fn warm_up_kernel(tools: &Tools, jupyter_path: &Path, tmp: &Path) {
    let dir = tmp.join("warm-up");
    std::fs::create_dir_all(&dir).expect("warm-up dir");
    let nb = dir.join("kernel_warm_up.ipynb");
    let cell = serde_json::json!({
        "cells": [{"cell_type": "code", "execution_count": null, "id": "w", "metadata": {},
            "outputs": [], "source": "println!(\"{}\", interprim::demo::boolean_example().len());"}],
        "metadata": {"kernelspec": {"name": "interprim", "display_name": "Rust (interprim)",
            "language": "rust"}},
        "nbformat": 4, "nbformat_minor": 5
    });
    std::fs::write(&nb, cell.to_string()).expect("write the warm-up notebook");
    let start = Instant::now();
    let out_dir = dir.join("out");
    let done = execute(tools, jupyter_path, &nb, &out_dir)
        .and_then(|p| read_json(&p))
        .unwrap_or_else(|e| panic!("the kernel warm-up failed: {e}"));
    let text = serde_json::to_string(&done["cells"][0]["outputs"]).unwrap_or_default();
    eprintln!(
        "kernel warm-up (evcxr's build of interprim) in {:.0} s: {text}",
        start.elapsed().as_secs_f64()
    );
}

/// Execute one notebook into `out_dir`; returns the executed copy.
fn execute(
    tools: &Tools,
    jupyter_path: &Path,
    nb: &Path,
    out_dir: &Path,
) -> Result<PathBuf, String> {
    let name = nb.file_name().ok_or("no file name")?;
    let out = Command::new(&tools.jupyter)
        .args(["nbconvert", "--to", "notebook", "--execute"])
        .arg(format!("--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}"))
        .arg(format!(
            "--ExecutePreprocessor.startup_timeout={STARTUP_TIMEOUT_S}"
        ))
        .arg("--ExecutePreprocessor.kernel_name=interprim")
        .arg("--ExecutePreprocessor.record_timing=False")
        .arg("--output-dir")
        .arg(out_dir)
        .arg(nb)
        .env("JUPYTER_PATH", jupyter_path)
        .current_dir(nb.parent().unwrap_or(Path::new(".")))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tools.jupyter.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // nbclient's report (the failing cell and the kernel's error) follows its Python
        // traceback: show it whole, or the last 40 lines when there is none
        let lines: Vec<&str> = err.lines().collect();
        let from = lines
            .iter()
            .position(|l| l.contains("CellExecutionError") || l.contains("ValidationError"))
            .unwrap_or(lines.len().saturating_sub(40));
        let tail: Vec<&str> = lines[from..].iter().take(150).copied().collect();
        return Err(format!(
            "nbconvert failed on {}:\n{}",
            nb.display(),
            tail.join("\n")
        ));
    }
    Ok(out_dir.join(name))
}

/// The test kernel's value cache (`INTERPRIM_VALUE_CACHE` of its kernel spec): a private folder
/// holding the pinned network outputs, so that the test never replaces values computed on this
/// machine in `$CACHE/values` (the README's main job would otherwise recompute its whole run,
/// its γ̂ bounds depending on every sample's values, after the test had pinned three of them).
fn test_value_cache() -> PathBuf {
    cache_dir().join("evcxr/test-values")
}

/// Copy the pinned network outputs (`notebooks/values/*`) into [`test_value_cache`]; returns how
/// many files were copied.
fn pin_notebook_values() -> std::io::Result<usize> {
    let from = repo().join("notebooks/values");
    let to = test_value_cache();
    std::fs::create_dir_all(&to)?;
    let mut copied = 0;
    for entry in std::fs::read_dir(&from)? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, to.join(name))?;
            copied += 1;
        }
    }
    Ok(copied)
}

#[test]
fn pinned_values_are_whole_cache_entries() {
    // every pinned entry has its values (.npy) and its identity (.json), and nothing else
    let dir = repo().join("notebooks/values");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.is_empty(), "no pinned values in {}", dir.display());
    for n in &names {
        let (stem, ext) = n.rsplit_once('.').unwrap();
        assert!(ext == "npy" || ext == "json", "{n}");
        let other = if ext == "npy" { "json" } else { "npy" };
        assert!(
            names.contains(&format!("{stem}.{other}")),
            "{n} without its .{other}"
        );
        if ext == "json" {
            let v = read_json(&dir.join(n)).unwrap();
            assert!(v["identity"].as_str().is_some_and(|s| !s.is_empty()), "{n}");
        }
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn notebooks() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("notebooks"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Whether `INTERPRIM_NOTEBOOKS` (comma-separated parts of file names; empty: all) selects `nb`.
fn selected_by(filter: &str, nb: &Path) -> bool {
    let name = nb
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parts: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    parts.is_empty() || parts.iter().any(|p| name.contains(p))
}

#[test]
fn the_notebook_filter_selects_by_name_parts() {
    let nb = Path::new("notebooks/08_digits.ipynb");
    assert!(selected_by("", nb));
    assert!(selected_by(" , ", nb));
    assert!(selected_by("08_digits", nb));
    assert!(selected_by("01,digits", nb));
    assert!(!selected_by("01_quickstart", nb));
}

#[test]
fn notebooks_reproduce_their_committed_outputs() {
    let tools = match find_tools() {
        Ok(t) => t,
        Err(why) if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() => {
            panic!("notebook tests need Jupyter and evcxr_jupyter: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED notebook regression tests: {why}");
            return;
        }
    };
    let record = std::env::var_os("INTERPRIM_RECORD_NOTEBOOKS").is_some_and(|v| v != "0");
    let rtol = std::env::var("INTERPRIM_NOTEBOOK_RTOL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_RTOL);
    pin_notebook_values().expect("copy notebooks/values into the value cache");
    let tmp = tempfile::tempdir().expect("temp dir");
    let jupyter_path = tmp.path().join("jupyter");
    kernel_setup(&tools, &jupyter_path).expect("write the test kernel spec");
    warm_up_kernel(&tools, &jupyter_path, tmp.path());
    let mut failures = Vec::new();
    let filter = std::env::var("INTERPRIM_NOTEBOOKS").unwrap_or_default();
    let selected: Vec<PathBuf> = notebooks()
        .into_iter()
        .filter(|nb| selected_by(&filter, nb))
        .collect();
    assert!(
        !selected.is_empty(),
        "INTERPRIM_NOTEBOOKS={filter:?} selects no notebook in notebooks/"
    );
    for nb in selected {
        let start = Instant::now();
        let result =
            execute(&tools, &jupyter_path, &nb, tmp.path()).and_then(|path| read_json(&path));
        // compared and saved as a reader's Jupyter shows it (both sides: as_saved is idempotent)
        let actual = match result {
            Ok(mut x) => {
                as_saved(&mut x);
                x
            }
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        eprintln!(
            "executed {} in {:.0} s",
            nb.display(),
            start.elapsed().as_secs_f64()
        );
        let problems = execution_problems(&actual);
        if !problems.is_empty() {
            failures.push(format!(
                "{}: execution problems\n  {}",
                nb.display(),
                problems.join("\n  ")
            ));
            continue;
        }
        if record {
            write_notebook(&actual, &nb).expect("write the re-recorded notebook");
            eprintln!("re-recorded {}", nb.display());
            continue;
        }
        match read_json(&nb) {
            Ok(mut expected) => {
                as_saved(&mut expected);
                let diffs = output_differences(&expected, &actual, rtol);
                if !diffs.is_empty() {
                    failures.push(format!(
                        "{}: outputs differ from the committed ones (re-record with INTERPRIM_RECORD_NOTEBOOKS=1 if intended)\n{}",
                        nb.display(),
                        diffs.join("\n")
                    ));
                }
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "notebook regression failures:\n{}",
        failures.join("\n\n")
    );
}

// --- the comparator itself ----------------------------------------------------------------------

fn committed(name: &str) -> Option<Value> {
    read_json(&repo().join("notebooks").join(name)).ok()
}

/// The first code cell with a number in its compared text, and that text.
fn cell_with_number(nb: &Value) -> Option<(usize, String)> {
    let cells = nb["cells"].as_array()?;
    cells.iter().enumerate().find_map(|(i, c)| {
        let text = cell_text(c);
        (c["cell_type"] == "code" && tokens(&text).iter().any(|t| matches!(t, Tok::Num(..))))
            .then_some((i, text))
    })
}

#[test]
fn committed_notebooks_match_themselves_and_are_clean() {
    for nb in notebooks() {
        let v = read_json(&nb).unwrap();
        assert!(output_differences(&v, &v, DEFAULT_RTOL).is_empty());
        assert!(
            execution_problems(&v).is_empty(),
            "{}: {:?}",
            nb.display(),
            execution_problems(&v)
        );
        assert!(
            code_cells(&v)
                .iter()
                .all(|c| c["outputs"].as_array().is_some()),
            "{} has code cells without outputs",
            nb.display()
        );
    }
}

/// Change the first decimal number (a computed value, not a digit of a name such as "l3") in
/// the compared outputs by 1% or 3 units of its last printed digit, whichever is larger; None
/// when no cell prints one.
fn break_one_number(expected: &Value) -> Option<Value> {
    let mut broken = expected.clone();
    for cell in broken["cells"].as_array_mut()? {
        if cell["cell_type"] != "code" || skip_output(cell) {
            continue;
        }
        for o in cell["outputs"].as_array_mut().into_iter().flatten() {
            let field = match o["output_type"].as_str() {
                Some("stream") if o["name"] == "stdout" => &mut o["text"],
                Some("display_data") | Some("execute_result") => {
                    match o["data"].get_mut("text/plain") {
                        Some(f) => f,
                        None => continue,
                    }
                }
                _ => continue,
            };
            let text = joined(field);
            let toks = tokens(&text);
            let found = toks.iter().find_map(|t| match t {
                // a computed decimal resolved to at least 10 units of its last printed digit
                Tok::Num(x, lit) if lit.contains('.') && x.abs() >= 10.0 * last_digit_unit(lit) => {
                    Some((*x, lit.clone()))
                }
                _ => None,
            });
            if let Some((x, lit)) = found {
                let changed = x + (0.01 * x.abs()).max(3.0 * last_digit_unit(&lit));
                *field = Value::String(text.replacen(lit.as_str(), &format!("{changed}"), 1));
                return Some(broken);
            }
        }
    }
    None
}

#[test]
fn a_changed_number_fails_the_comparison_with_a_readable_diff() {
    let all = notebooks();
    if all.is_empty() {
        return eprintln!("SKIPPED: no notebooks");
    }
    // every committed notebook that prints a number: the real outputs, one number off by 1%
    let mut checked = 0;
    for nb in all {
        let expected = read_json(&nb).unwrap();
        let Some(broken) = break_one_number(&expected) else {
            continue;
        };
        let diffs = output_differences(&expected, &broken, DEFAULT_RTOL);
        assert_eq!(diffs.len(), 1, "{}: {diffs:?}", nb.display());
        if checked == 0 {
            eprintln!("the diff a changed number produces:\n{}", diffs[0]);
        }
        assert!(
            diffs[0].contains("expected:") && diffs[0].contains("actual:"),
            "{}",
            diffs[0]
        );
        // within tolerance passes (the change is at most 30% of the number)
        assert!(output_differences(&expected, &broken, 0.5).is_empty());
        checked += 1;
    }
    assert!(checked > 0, "no committed notebook prints a number");
}

#[test]
fn a_panic_or_error_on_stderr_fails_the_notebook() {
    let Some(mut nb) = committed("06_teaching.ipynb") else {
        return eprintln!("SKIPPED: no notebooks/06_teaching.ipynb");
    };
    assert!(execution_problems(&nb).is_empty());
    let (index, _) = cell_with_number(&nb).unwrap();
    for text in [
        "thread '<unnamed>' panicked at src/lib.rs:10:5:\nassertion `left == right` failed\n",
        "Error: value vector has length 3, which is not a power of two\n",
        "error[E0425]: cannot find value `x` in this scope\n",
    ] {
        let outputs = nb["cells"][index]["outputs"].as_array_mut().unwrap();
        outputs.push(serde_json::json!({"output_type": "stream", "name": "stderr", "text": text}));
        let problems = execution_problems(&nb);
        assert!(
            !problems.is_empty() && problems[0].contains(text.lines().next().unwrap()),
            "{problems:?}"
        );
        nb["cells"][index]["outputs"].as_array_mut().unwrap().pop();
    }
    // warnings on stderr are fine
    nb["cells"][index]["outputs"].as_array_mut().unwrap().push(serde_json::json!({"output_type": "stream", "name": "stderr", "text": "warning: unused variable\n"}));
    assert!(execution_problems(&nb).is_empty());
}

#[test]
fn tokens_split_numbers_from_text() {
    let t = tokens("x1 = -0.25, I({x1, x2}) = +1.5e-3 of 2^5");
    let nums: Vec<f64> = t
        .iter()
        .filter_map(|t| {
            if let Tok::Num(x, _) = t {
                Some(*x)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(nums, vec![1.0, -0.25, 1.0, 2.0, 1.5e-3, 2.0, 5.0]);
    assert_eq!(
        line_mismatch("loss 1.0000 → 0.5", "loss 1.00001 → 0.5", 1e-4),
        None
    );
    assert!(line_mismatch("loss 1.0 → 0.50", "loss 1.0 → 0.60", 1e-4)
        .unwrap()
        .contains("0.50 vs 0.60"));
    assert_eq!(
        line_mismatch("AND {x1}", "OR {x1}", 1e-4).as_deref(),
        Some("text differs")
    );
    assert!(line_mismatch("a 1 b", "a 1 b 2", 1e-4).is_some());
    // a rounding flip of the last printed digit is tolerated, two units are not
    assert_eq!(line_mismatch("s = 0.5349", "s = 0.5350", 1e-6), None);
    assert!(line_mismatch("s = 0.5349", "s = 0.5351", 1e-6).is_some());
    assert_eq!(line_mismatch("x 1.5e-3", "x 1.6e-3", 1e-6), None);
    // integers (counts) must match
    assert!(line_mismatch("shared: 35", "shared: 36", 1e-4).is_some());
    assert_eq!(last_digit_unit("12"), 0.0);
    assert!((last_digit_unit("-0.25") - 0.01).abs() < 1e-15);
    assert!((last_digit_unit("1.5e-3") - 1e-4).abs() < 1e-18);
}

#[test]
fn progress_lines_compare_as_shown() {
    assert_eq!(
        as_shown("\rvalues: 0/3 s\rvalues: 3/3 s\nnext\n"),
        "values: 3/3 s\nnext\n"
    );
    let cell = serde_json::json!({"cell_type": "code", "metadata": {"tags": ["nbtest-skip-output"]},
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "a\rb\n"}]});
    assert!(skip_output(&cell));
    assert_eq!(cell_text(&cell), "[stdout]\nb\n");
    // saved: adjacent stdout chunks merged, each line at its last state; other outputs kept
    let mut nb = serde_json::json!({"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "\rnull: 0/2"},
        {"output_type": "stream", "name": "stdout", "text": ["\rnull: 1/2", "\rnull: 2/2\n"]},
        {"output_type": "execute_result", "data": {"text/plain": "x"}},
        {"output_type": "stream", "name": "stdout", "text": "a\rb\nc\n"}]}]});
    as_saved(&mut nb);
    assert_eq!(
        nb["cells"][0]["outputs"],
        serde_json::json!([
            {"output_type": "stream", "name": "stdout", "text": "null: 2/2\n"},
            {"output_type": "execute_result", "data": {"text/plain": "x"}},
            {"output_type": "stream", "name": "stdout", "text": "b\nc\n"}])
    );
}

/// Absolute paths of the kind a machine prints (home, temp and work directories).
fn absolute_paths(text: &str) -> Vec<String> {
    let prefixes = [
        "/root/",
        "/home/",
        "/tmp/",
        "/work/",
        "/Users/",
        "/var/folders/",
    ];
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .filter(|w| prefixes.iter().any(|p| w.contains(p)))
        .map(str::to_string)
        .collect()
}

/// What a reader and the repository get: each committed notebook at most 600 KB, no test
/// markers in code, no absolute path of the machine that executed it and nothing on stderr (progress
/// goes to stdout), no plotly.js inside.
#[test]
fn committed_notebooks_are_light_and_clean() {
    for nb in notebooks() {
        let size = std::fs::metadata(&nb).unwrap().len();
        assert!(
            size <= 600 * 1024,
            "{}: {size} bytes > 600 KB",
            nb.display()
        );
        let v = read_json(&nb).unwrap();
        for (i, cell) in code_cells(&v).into_iter().enumerate() {
            let source = joined(&cell["source"]);
            assert!(
                !source.contains("nbtest"),
                "{} code cell {}: a test marker in the code ({}); use the cell tag nbtest-skip-output",
                nb.display(),
                i + 1,
                first_line(cell)
            );
            for o in cell["outputs"].as_array().into_iter().flatten() {
                assert!(
                    !(o["output_type"] == "stream" && joined(&o["text"]).contains('\r')),
                    "{} code cell {} ({}): a carriage return in a stream output (progress updates are saved as their last state; re-record)",
                    nb.display(),
                    i + 1,
                    first_line(cell)
                );
                assert!(
                    !(o["output_type"] == "stream" && o["name"] == "stderr"),
                    "{} code cell {} ({}): output on stderr: {}",
                    nb.display(),
                    i + 1,
                    first_line(cell),
                    joined(&o["text"])
                );
                let text = o.to_string();
                let paths = absolute_paths(&text);
                assert!(
                    paths.is_empty(),
                    "{} code cell {} ({}): absolute paths in the output: {paths:?}",
                    nb.display(),
                    i + 1,
                    first_line(cell)
                );
                assert!(
                    !text.contains("window.PlotlyConfig") && text.len() < 300_000,
                    "{} code cell {}: plotly.js or another large blob in an output ({} bytes)",
                    nb.display(),
                    i + 1,
                    text.len()
                );
            }
        }
    }
}
