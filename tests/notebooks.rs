//! Notebook regression tests: every `notebooks/*.ipynb` is executed headless on the evcxr kernel
//! (`jupyter nbconvert --to notebook --execute`) and each code cell's text outputs (stdout and
//! `text/plain`) are compared with the committed ones: numbers within a relative tolerance, all
//! other text exactly. A panic, a failed assert or an `error` line on stderr fails the test too:
//! evcxr reports none of these as an error output, so nbconvert alone would pass them.
//!
//! - `INTERPRIM_RECORD_NOTEBOOKS=1` writes the executed notebooks back (re-records the outputs).
//! - `INTERPRIM_NOTEBOOK_RTOL` sets the relative tolerance (default 1e-4).
//! - `INTERPRIM_NOTEBOOKS=08_digits,01` executes (and re-records) only the notebooks whose file
//!   name contains one of the comma-separated parts; unset or empty: all of them.
//! - A cell whose source contains `nbtest: skip-output` is executed and checked for errors, but
//!   its outputs are not compared (timings, anything machine-dependent).
//! - Without Jupyter or evcxr_jupyter (install: kernel/install.sh) the test prints SKIPPED, or
//!   fails when `INTERPRIM_REQUIRE_ASSETS` is set.
//!
//! The kernel runs with its own evcxr config and build dir (`$CACHE/evcxr/test`, where $CACHE is
//! `${INTERPRIM_CACHE:-<repo>/.cache}`), so tests never disturb a notebook session: the first run
//! compiles interprim for evcxr (~4 min), later runs reuse it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

const DEFAULT_RTOL: f64 = 1e-4;
/// Absolute tolerance for numbers near zero.
const ATOL: f64 = 1e-9;
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

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64, String),
    Text(String),
}

/// Split text into numbers and the text between them. A sign belongs to a number unless it
/// follows a letter, digit or '_' ("x1-2" is x, 1, -, 2).
fn tokens(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let (mut out, mut text, mut i) = (Vec::new(), String::new(), 0);
    let starts_number = |i: usize| -> Option<usize> {
        let mut j = i;
        if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
            let prev_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            if prev_word {
                return None;
            }
            j += 1;
        }
        let digits_from = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let mut has_digits = j > digits_from;
        if j < b.len() && b[j] == b'.' && j + 1 < b.len() && b[j + 1].is_ascii_digit() {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            has_digits = true;
        }
        if !has_digits {
            return None;
        }
        if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
            let mut k = j + 1;
            if k < b.len() && (b[k] == b'-' || b[k] == b'+') {
                k += 1;
            }
            if k < b.len() && b[k].is_ascii_digit() {
                while k < b.len() && b[k].is_ascii_digit() {
                    k += 1;
                }
                j = k;
            }
        }
        Some(j)
    };
    while i < b.len() {
        match starts_number(i) {
            Some(end) => {
                if !text.is_empty() {
                    out.push(Tok::Text(std::mem::take(&mut text)));
                }
                let lit = &s[i..end];
                out.push(Tok::Num(lit.parse().unwrap_or(f64::NAN), lit.to_string()));
                i = end;
            }
            None => {
                let ch = s[i..].chars().next().unwrap_or(' ');
                text.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    if !text.is_empty() {
        out.push(Tok::Text(text));
    }
    out
}

fn close(a: f64, b: f64, rtol: f64) -> bool {
    a == b || (a - b).abs() <= rtol * a.abs().max(b.abs()) + ATOL
}

/// None when the lines agree; else why not.
fn line_mismatch(expected: &str, actual: &str, rtol: f64) -> Option<String> {
    let (e, a) = (tokens(expected), tokens(actual));
    if e.len() != a.len() {
        return Some("text differs".into());
    }
    for (x, y) in e.iter().zip(&a) {
        match (x, y) {
            (Tok::Num(p, ps), Tok::Num(q, qs)) => {
                if !close(*p, *q, rtol) {
                    let rel = (p - q).abs() / p.abs().max(q.abs()).max(f64::MIN_POSITIVE);
                    return Some(format!(
                        "{ps} vs {qs}: relative difference {rel:.1e} > {rtol:.0e}"
                    ));
                }
            }
            (Tok::Text(s), Tok::Text(t)) if s == t => {}
            _ => return Some("text differs".into()),
        }
    }
    None
}

/// Text outputs of one code cell, as compared: stdout and text/plain, each output tagged.
fn cell_text(cell: &Value) -> String {
    let mut out = String::new();
    for o in cell["outputs"].as_array().into_iter().flatten() {
        match o["output_type"].as_str() {
            Some("stream") if o["name"] == "stdout" => {
                out.push_str("[stdout]\n");
                out.push_str(&joined(&o["text"]));
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
        if joined(&e["source"]).contains("nbtest: skip-output") {
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
        "env": {"EVCXR_CONFIG_DIR": config.to_string_lossy()},
    });
    std::fs::write(
        spec.join("kernel.json"),
        serde_json::to_string_pretty(&json).expect("json"),
    )
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
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(format!(
            "nbconvert failed on {}:\n{}",
            nb.display(),
            tail.join("\n")
        ));
    }
    Ok(out_dir.join(name))
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
    let tmp = tempfile::tempdir().expect("temp dir");
    let jupyter_path = tmp.path().join("jupyter");
    kernel_setup(&tools, &jupyter_path).expect("write the test kernel spec");
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
        let result = execute(&tools, &jupyter_path, &nb, tmp.path())
            .and_then(|path| Ok((read_json(&path)?, path)));
        let (actual, executed) = match result {
            Ok(x) => x,
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
            std::fs::copy(&executed, &nb).expect("write the re-recorded notebook");
            eprintln!("re-recorded {}", nb.display());
            continue;
        }
        match read_json(&nb) {
            Ok(expected) => {
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
/// the compared outputs by 1%; None when no cell prints one.
fn break_one_number(expected: &Value) -> Option<Value> {
    let mut broken = expected.clone();
    for cell in broken["cells"].as_array_mut()? {
        if cell["cell_type"] != "code" || joined(&cell["source"]).contains("nbtest: skip-output") {
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
                Tok::Num(x, lit) if lit.contains('.') && *x != 0.0 => Some((*x, lit.clone())),
                _ => None,
            });
            if let Some((x, lit)) = found {
                *field = Value::String(text.replacen(lit.as_str(), &format!("{}", x * 1.01), 1));
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
        // within tolerance passes
        assert!(output_differences(&expected, &broken, 0.05).is_empty());
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
    assert!(line_mismatch("loss 1.0 → 0.5", "loss 1.0 → 0.6", 1e-4)
        .unwrap()
        .contains("0.5 vs 0.6"));
    assert_eq!(
        line_mismatch("AND {x1}", "OR {x1}", 1e-4).as_deref(),
        Some("text differs")
    );
    assert!(line_mismatch("a 1 b", "a 1 b 2", 1e-4).is_some());
}
