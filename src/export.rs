//! Reading and writing results: .npy (f64, mask order documented), JSON, and shapiq's
//! InteractionValues layout so Python users can load them. Every write is atomic (a temporary
//! file renamed into place), so an interrupted run never leaves a half-written file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::Array1;
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};

use crate::coalition::{players_for_len, Coalition};
use crate::interactions::Kind;
use crate::{Error, Result};

/// The order of coalitions in an exported vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskOrder {
    /// index bit i = player i (interprim's order).
    #[default]
    LsbFirst,
    /// index bit n-1-i = player i: player 0 is the most significant bit (the authors' order).
    MsbFirst,
}

/// Re-index a vector from interprim's order to `order`.
pub fn to_order(v: &[f64], order: MaskOrder) -> Result<Vec<f64>> {
    let n = players_for_len(v.len())?;
    Ok(match order {
        MaskOrder::LsbFirst => v.to_vec(),
        MaskOrder::MsbFirst => {
            let mut out = vec![0.0; v.len()];
            for (mask, &x) in v.iter().enumerate() {
                out[Coalition(mask as u32).to_msb_first(n)] = x;
            }
            out
        }
    })
}

/// Re-index a vector from `order` to interprim's order (bit reversal is its own inverse).
pub fn from_order(v: &[f64], order: MaskOrder) -> Result<Vec<f64>> {
    to_order(v, order)
}

/// Write `bytes` to `path` atomically: a sibling temporary file, flushed, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Serialise a 1-D f64 array as .npy bytes.
pub fn npy_bytes(v: &[f64]) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    Array1::from(v.to_vec())
        .write_npy(&mut bytes)
        .map_err(|e| Error::Invalid(format!("cannot encode .npy: {e}")))?;
    Ok(bytes)
}

/// Write a 1-D f64 .npy file atomically, in the given mask order.
pub fn write_npy(path: &Path, v: &[f64], order: MaskOrder) -> Result<()> {
    let data = if players_for_len(v.len()).is_ok() {
        to_order(v, order)?
    } else {
        v.to_vec()
    };
    write_atomic(path, &npy_bytes(&data)?)
}

/// The element count a .npy header announces for a 1-D array, read before the data so that a
/// huge vector is refused without loading it. `None` when the header is not the simple 1-D kind.
pub fn npy_declared_len(path: &Path) -> Result<Option<u64>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    fs::File::open(path)
        .map_err(|e| Error::io(path, e))?
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8_lossy(&head);
    let Some(start) = text.find("'shape': (") else {
        return Ok(None);
    };
    let rest = &text[start + "'shape': (".len()..];
    let Some(end) = rest.find(')') else {
        return Ok(None);
    };
    let dims: Vec<&str> = rest[..end]
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    Ok(match dims.as_slice() {
        [one] => one.parse().ok(),
        _ => None,
    })
}

/// Read a 1-D .npy vector of f64 or f32 (little or big endian).
pub fn read_npy(path: &Path) -> Result<Vec<f64>> {
    let bad = |why: String| Error::BadFile {
        path: path.to_path_buf(),
        why,
    };
    if let Some(len) = npy_declared_len(path)? {
        if len > 1 << crate::MAX_PLAYERS {
            let n = 64 - (len - 1).leading_zeros() as usize;
            return Err(Error::TooManyPlayers {
                n,
                max: crate::MAX_PLAYERS,
            });
        }
    }
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    match Array1::<f64>::read_npy(&bytes[..]) {
        Ok(a) => Ok(a.to_vec()),
        Err(ReadNpyError::WrongDescriptor(_)) => match Array1::<f32>::read_npy(&bytes[..]) {
            Ok(a) => Ok(a.iter().map(|&x| x as f64).collect()),
            Err(e) => Err(bad(format!(
                "expected a 1-D array of float64 or float32: {e}"
            ))),
        },
        Err(ReadNpyError::WrongNdim(_, got)) => Err(bad(format!(
            "expected a 1-D array (one value per coalition), got {got} dimensions"
        ))),
        Err(e) => Err(bad(format!("not a readable .npy file: {e}"))),
    }
}

/// Write any serialisable value as pretty JSON, atomically.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Invalid(format!("cannot encode JSON: {e}")))?;
    write_atomic(path, text.as_bytes())
}

/// Read a JSON file into a value.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::BadFile {
        path: path.to_path_buf(),
        why: format!("invalid JSON: {e}"),
    })
}

/// The shapiq version whose `InteractionValues.to_json_file` layout [`shapiq_json`] writes.
pub const SHAPIQ_LAYOUT_VERSION: &str = "1.4.1";

/// shapiq's key of a coalition in its JSON files: "Empty" for ∅, else the players joined by ",".
fn shapiq_key(c: Coalition) -> String {
    if c.is_empty() {
        "Empty".into()
    } else {
        c.players()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// (−1)^{|S|+1} for S ≠ ∅, 1 for ∅: interprim's OR interaction I_or(S) times this is shapiq's
/// "Co-Moebius" coefficient (see [`shapiq_json`]).
fn co_moebius_sign(c: Coalition) -> f64 {
    if c.is_empty() || c.order() % 2 == 1 {
        1.0
    } else {
        -1.0
    }
}

/// One model's interactions of one kind as a shapiq `InteractionValues` JSON file (the layout of
/// shapiq's `InteractionValues.to_json_file`, shapiq [`SHAPIQ_LAYOUT_VERSION`]): load it in
/// Python with `shapiq.InteractionValues.from_json_file(path)`.
///
/// - `values[mask]` is the interaction of coalition `mask` (bit i = player i), reorganised as the
///   paper presents them; `data` holds every coalition, keyed as shapiq keys them ("Empty", "0",
///   "0,2"), ordered by size then lexicographically.
/// - AND interactions are shapiq's index **"Moebius"** (Harsanyi dividends).
/// - OR interactions are **not** Möbius coefficients. They are written as shapiq's
///   **"Co-Moebius"** index (Grabisch's co-Möbius transform, shapiq's "External Interaction
///   Index"): for S ≠ ∅ the file holds (−1)^{|S|+1}·I_or(S), which is the co-Möbius coefficient
///   of the OR part of the decomposition (for a plain value vector v,
///   [`crate::transform::or_interactions`]`(v)[S] = (−1)^{|S|+1}·CoMoebius(v)(S)`); the ∅ entry is
///   I_or(∅) unchanged. [`from_shapiq_json`] undoes the sign.
/// - `baseline_value` is v(∅), the value of the empty coalition (`baseline`), and so is the ∅
///   entry of `data`: shapiq sets the empty entry of both indices to the baseline value when it
///   loads a file. interprim's own ∅ entry (after reorganising, I_and(∅) + I_or(∅) = v(∅) + ε_∅
///   for AND, 0 for OR) is kept in `parameters.interprim.empty`, and the error terms ε in
///   `parameters.interprim.eps` (keyed like `data`; null when there are none, e.g. plain
///   Harsanyi interactions), so [`from_shapiq_json`] restores interprim's vector exactly.
pub fn shapiq_json(values: &[f64], kind: Kind, baseline: f64) -> Result<serde_json::Value> {
    shapiq_json_with_eps(values, kind, baseline, None)
}

/// [`shapiq_json`] with the decomposition's ε (length 2^n) recorded in the parameters.
pub fn shapiq_json_with_eps(
    values: &[f64],
    kind: Kind,
    baseline: f64,
    eps: Option<&[f64]>,
) -> Result<serde_json::Value> {
    let n = players_for_len(values.len())?;
    if let Some(e) = eps {
        if e.len() != values.len() {
            return Err(Error::MismatchedLengths {
                first: values.len(),
                other: e.len(),
            });
        }
    }
    if !baseline.is_finite() || values.iter().any(|x| !x.is_finite()) {
        return Err(Error::ValueRange(
            "an interaction or the baseline value is not finite: nothing to export".into(),
        ));
    }
    let mut coalitions: Vec<Coalition> = Coalition::all(n).collect();
    coalitions.sort_by_key(|c| (c.order(), c.players().collect::<Vec<_>>()));
    let mut data = serde_json::Map::new();
    let mut eps_map = serde_json::Map::new();
    for c in &coalitions {
        let x = values[c.mask()];
        let x = match kind {
            _ if c.is_empty() => baseline,
            Kind::And => x,
            Kind::Or => co_moebius_sign(*c) * x,
        };
        data.insert(shapiq_key(*c), x.into());
        if let Some(e) = eps {
            eps_map.insert(shapiq_key(*c), e[c.mask()].into());
        }
    }
    let (index, note) = match kind {
        Kind::And => (
            "Moebius",
            "interprim AND interactions (Harsanyi dividends), reorganised: OR terms of order <= 1 moved into AND",
        ),
        Kind::Or => (
            "Co-Moebius",
            "interprim OR interactions in shapiq's Co-Moebius convention: data[S] = (-1)^(|S|+1) * I_or(S) for S != {}, data[{}] = I_or({})",
        ),
    };
    Ok(serde_json::json!({
        "object_name": "InteractionValues",
        "data_type": "interaction_values",
        "version": SHAPIQ_LAYOUT_VERSION,
        "created_from": format!("interprim {}", env!("CARGO_PKG_VERSION")),
        "description": note,
        "parameters": {
            "interprim": {
                "kind": match kind { Kind::And => "and", Kind::Or => "or" },
                "empty": values[0],
                "mask_order": "shapiq keys list the players of each coalition",
                "eps": if eps.is_some() { serde_json::Value::Object(eps_map) } else { serde_json::Value::Null },
            }
        },
        "timestamp": null,
        "metadata": {
            "n_players": n,
            "index": index,
            "max_order": n,
            "min_order": 0,
            "estimated": false,
            "estimation_budget": null,
            "baseline_value": baseline,
        },
        "data": data,
    }))
}

/// Read a shapiq `InteractionValues` JSON file's data back into a mask-ordered vector (interprim's
/// convention: a "Co-Moebius" file is turned back into OR interactions).
pub fn from_shapiq_json(value: &serde_json::Value) -> Result<Vec<f64>> {
    let bad = |why: &str| Error::Invalid(format!("not a shapiq InteractionValues JSON: {why}"));
    let meta = &value["metadata"];
    let n = meta["n_players"]
        .as_u64()
        .ok_or_else(|| bad("no metadata.n_players"))? as usize;
    if n > crate::MAX_PLAYERS {
        return Err(Error::TooManyPlayers {
            n,
            max: crate::MAX_PLAYERS,
        });
    }
    let co_moebius = meta["index"].as_str() == Some("Co-Moebius");
    let empty = value["parameters"]["interprim"]["empty"].as_f64();
    let data = value["data"]
        .as_object()
        .ok_or_else(|| bad("no data object"))?;
    let mut out = vec![0.0; 1 << n];
    for (key, x) in data {
        let mut mask = 0u32;
        if key != "Empty" {
            for p in key.split(',') {
                let p: usize = p
                    .trim()
                    .parse()
                    .map_err(|_| bad("a data key is not a player tuple"))?;
                if p >= n {
                    return Err(bad("a player index is out of range"));
                }
                mask |= 1 << p;
            }
        }
        let x = x.as_f64().ok_or_else(|| bad("a value is not a number"))?;
        out[mask as usize] = if co_moebius {
            co_moebius_sign(Coalition(mask)) * x
        } else {
            x
        };
    }
    if let Some(e) = empty {
        out[0] = e;
    }
    Ok(out)
}

/// A directory written all at once: files go to a hidden staging directory beside it and are
/// moved in only by [`StagedDir::commit`], so a failure leaves nothing half-written.
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl StagedDir {
    pub fn new(target: &Path) -> Result<Self> {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let name = target.file_name().ok_or_else(|| {
            Error::Invalid(format!("{} is not a directory path", target.display()))
        })?;
        let staging = parent.join(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        Ok(StagedDir {
            target: target.to_path_buf(),
            staging,
            committed: false,
        })
    }

    /// Where to write a file of the future directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.staging.join(file)
    }

    /// Move every staged file into the target directory.
    pub fn commit(mut self) -> Result<()> {
        fs::create_dir_all(&self.target).map_err(|e| Error::io(&self.target, e))?;
        for entry in fs::read_dir(&self.staging).map_err(|e| Error::io(&self.staging, e))? {
            let entry = entry.map_err(|e| Error::io(&self.staging, e))?;
            let dest = self.target.join(entry.file_name());
            fs::rename(entry.path(), &dest).map_err(|e| Error::io(&dest, e))?;
        }
        fs::remove_dir_all(&self.staging).map_err(|e| Error::io(&self.staging, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_floats_read_back_bit_for_bit() {
        // saved results (values, interactions) must read back exactly, or a resumed run would
        // extract from values an ulp off and its outputs would differ from the first run's
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        let mut x = 0.123456789f64;
        let values: Vec<f64> = (0..2000)
            .map(|i| {
                x = (x * 3.987654321 + 0.1).fract();
                (x - 0.5) * 10f64.powi((i % 17) - 8)
            })
            .chain([f64::MIN_POSITIVE, 1.0 / 3.0, -2.0f64.sqrt(), 5e-324])
            .collect();
        write_json(&path, &values).unwrap();
        let back: Vec<f64> = read_json(&path).unwrap();
        assert!(values
            .iter()
            .zip(&back)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn npy_round_trip_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.npy");
        let v: Vec<f64> = (0..8).map(|x| x as f64).collect();
        write_npy(&p, &v, MaskOrder::LsbFirst).unwrap();
        assert_eq!(read_npy(&p).unwrap(), v);
        write_npy(&p, &v, MaskOrder::MsbFirst).unwrap();
        let msb = read_npy(&p).unwrap();
        // player 0 alone (mask 1) sits at index 4 in the authors' order for n = 3
        assert_eq!(msb[4], 1.0);
        assert_eq!(from_order(&msb, MaskOrder::MsbFirst).unwrap(), v);
    }

    #[test]
    fn read_npy_reports_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.npy");
        fs::write(&p, b"not numpy").unwrap();
        assert!(matches!(read_npy(&p), Err(Error::BadFile { .. })));
        assert!(matches!(
            read_npy(&dir.path().join("missing.npy")),
            Err(Error::Io { .. })
        ));
        let mut f32s = Vec::new();
        Array1::from(vec![1.5f32, 2.5])
            .write_npy(&mut f32s)
            .unwrap();
        fs::write(&p, f32s).unwrap();
        assert_eq!(read_npy(&p).unwrap(), vec![1.5, 2.5]);
    }

    /// The exact field layout of shapiq's `InteractionValues.to_json_file`.
    #[test]
    fn shapiq_layout_and_round_trip() {
        let v = vec![7.0, 1.0, 2.0, 3.0];
        let eps = [0.25, 0.0, 0.0, -0.5];
        let j = shapiq_json_with_eps(&v, Kind::And, 6.75, Some(&eps)).unwrap();
        let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec![
            "created_from",
            "data",
            "data_type",
            "description",
            "metadata",
            "object_name",
            "parameters",
            "timestamp",
            "version",
        ];
        want.sort();
        let mut got = keys.clone();
        got.sort();
        assert_eq!(got, want);
        let meta: Vec<&str> = j["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for k in [
            "n_players",
            "index",
            "max_order",
            "min_order",
            "estimated",
            "estimation_budget",
            "baseline_value",
        ] {
            assert!(meta.contains(&k), "{k}");
        }
        assert_eq!(j["object_name"], "InteractionValues");
        assert_eq!(j["data_type"], "interaction_values");
        assert_eq!(j["metadata"]["index"], "Moebius");
        assert_eq!(j["metadata"]["baseline_value"], 6.75);
        let data: Vec<(&String, f64)> = j["data"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, x)| (k, x.as_f64().unwrap()))
            .collect();
        let names: Vec<&str> = data.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["Empty", "0", "1", "0,1"]);
        assert_eq!(j["parameters"]["interprim"]["eps"]["Empty"], 0.25);
        // shapiq's rule: the empty entry is the baseline value; ours is kept in the parameters
        assert_eq!(j["data"]["Empty"], 6.75);
        assert_eq!(j["parameters"]["interprim"]["empty"], 7.0);
        assert_eq!(from_shapiq_json(&j).unwrap(), v);
        // OR: shapiq's Co-Moebius convention, sign (−1)^{|S|+1}, undone on reading
        let or = vec![7.0, 4.0, 5.0, -3.0];
        let j = shapiq_json(&or, Kind::Or, 7.0).unwrap();
        assert_eq!(j["metadata"]["index"], "Co-Moebius");
        assert_eq!(j["data"]["0,1"], 3.0);
        assert_eq!(j["data"]["0"], 4.0);
        assert_eq!(from_shapiq_json(&j).unwrap(), or);
        assert!(shapiq_json(&[f64::INFINITY, 0.0], Kind::And, 0.0).is_err());
    }

    #[test]
    fn staged_dir_writes_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        {
            let staged = StagedDir::new(&target).unwrap();
            write_atomic(&staged.path("a.txt"), b"a").unwrap();
            // dropped without commit
        }
        assert!(!target.exists());
        let staged = StagedDir::new(&target).unwrap();
        write_atomic(&staged.path("a.txt"), b"a").unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read(target.join("a.txt")).unwrap(), b"a");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
