//! shapiq interop: the files `interprim extract-values --shapiq` writes are read back by shapiq's
//! own `InteractionValues.from_json_file`, and interprim's AND/OR transforms agree with shapiq's
//! "Moebius" and "Co-Moebius" indices (the latter up to the sign (−1)^{|S|+1} the docs state).
//!
//! Needs a Python with shapiq: `$INTERPRIM_SHAPIQ_PYTHON`, else `<cache>/shapiq-venv/bin/python`
//! (scripts/test.sh installs shapiq 1.4.1 there). Without one the test prints SKIPPED (or fails
//! under INTERPRIM_REQUIRE_ASSETS). The field layout itself is tested without Python in
//! `export::tests::shapiq_layout_and_round_trip`.

use std::path::PathBuf;
use std::process::Command;

use interprim::export::{read_npy, write_npy, MaskOrder};

fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("INTERPRIM_SHAPIQ_PYTHON").map(PathBuf::from),
        Some(interprim::util::cache_root().join("shapiq-venv/bin/python")),
    ];
    let found = candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import shapiq"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        let msg = "no Python with shapiq (set INTERPRIM_SHAPIQ_PYTHON or run scripts/test.sh, which installs it under the cache)";
        if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
            panic!("INTERPRIM_REQUIRE_ASSETS is set but {msg}");
        }
        eprintln!("SKIPPED shapiq interop: {msg}");
    }
    found
}

const CHECK: &str = r#"
import json, sys, pathlib, warnings
import numpy as np
from shapiq import InteractionValues, ExactComputer
out, v_path = pathlib.Path(sys.argv[1]), sys.argv[2]
v = np.load(v_path)
n = int(np.log2(len(v)))
warnings.simplefilter("error")  # a label shapiq does not know would warn
and_iv = InteractionValues.from_json_file(out / "shapiq_and_1.json")
or_iv = InteractionValues.from_json_file(out / "shapiq_or_1.json")
assert and_iv.index == "Moebius", and_iv.index
assert or_iv.index == "Co-Moebius", or_iv.index
assert and_iv.n_players == n and or_iv.n_players == n
assert abs(and_iv.baseline_value - v[0]) < 1e-12, (and_iv.baseline_value, v[0])
I_and = np.load(out / "I_and_1.npy"); I_or = np.load(out / "I_or_1.npy")
def mask(t): return sum(1 << p for p in t)
# the files hold the reorganised interactions: OR of order <= 1 moved into AND; the empty entry
# is the baseline value v(∅) in both (shapiq's rule), interprim's own is in the parameters
raw = json.load(open(out / "shapiq_and_1.json"))
eps = np.load(out / "eps_1.npy")
assert abs(raw["parameters"]["interprim"]["empty"] - (v[0] + eps[0])) < 1e-9
assert abs(or_iv.baseline_value - v[0]) < 1e-12
for t, x in and_iv.dict_values.items():
    m = mask(t)
    want = v[0] if len(t) == 0 else I_and[m] + (I_or[m] if len(t) == 1 else 0.0)
    assert abs(x - want) < 1e-9, (t, x, want)
for t, x in or_iv.dict_values.items():
    want = v[0] if len(t) == 0 else 0.0 if len(t) == 1 else (-1) ** (len(t) + 1) * I_or[mask(t)]
    assert abs(x - want) < 1e-9, (t, x, want)
# interprim's transforms of a plain value vector against shapiq's exact indices
def game(coalitions):
    return np.array([v[mask(np.flatnonzero(c))] for c in coalitions])
ec = ExactComputer(n_players=n, game=game)
moebius, co = ec("Moebius").dict_values, ec("Co-Moebius").dict_values
harsanyi = np.load(out / "and.npy"); orv = np.load(out / "or.npy")
for t, x in moebius.items():
    assert abs(x - harsanyi[mask(t)]) < 1e-9, ("Moebius", t, x)
for t, x in co.items():
    sign = 1.0 if len(t) == 0 else (-1) ** (len(t) + 1)
    assert abs(x - sign * orv[mask(t)]) < 1e-9, ("Co-Moebius", t, x)
print("ok", len(and_iv.dict_values), len(co))
"#;

#[test]
fn shapiq_reads_the_exported_files_and_agrees_with_the_transforms() {
    let Some(py) = python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // a value vector with v(∅) ≠ 0, so that the baseline value matters
    let v: Vec<f64> = (0..32u32)
        .map(|t| 2.19716 + (t.count_ones() as f64).powi(2) * 0.3 - (t % 3) as f64 * 0.2)
        .collect();
    let file = dir.path().join("v.npy");
    write_npy(&file, &v, MaskOrder::LsbFirst).unwrap();
    let out = dir.path().join("out");
    let bin = env!("CARGO_BIN_EXE_interprim");
    let o = Command::new(bin)
        .args([
            "extract-values",
            "--mode",
            "traditional",
            "--shapiq",
            "--values",
        ])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // plain transforms into the same directory's neighbour
    let plain = dir.path().join("plain");
    let o = Command::new(bin)
        .args(["interactions", "--values"])
        .arg(&file)
        .arg("--out")
        .arg(&plain)
        .output()
        .unwrap();
    assert!(o.status.success());
    for f in ["and.npy", "or.npy"] {
        std::fs::copy(plain.join(f), out.join(f)).unwrap();
    }
    assert_eq!(read_npy(&out.join("and.npy")).unwrap().len(), 32);
    let script = dir.path().join("check.py");
    std::fs::write(&script, CHECK).unwrap();
    let o = Command::new(&py)
        .arg(&script)
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "shapiq could not read the files back:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok"));
}
