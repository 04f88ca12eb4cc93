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
fn npy_declared_len(path: &Path) -> Result<Option<u64>> {
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

/// One kind of interactions in the layout of shapiq's `InteractionValues.to_dict()`: `values`
/// as a list, `interaction_lookup` from a comma-separated player tuple ("" for ∅, "0,2" for
/// {0, 2}) to the position in `values`. The AND interactions are shapiq's "Moebius" index
/// (Harsanyi dividends); OR interactions have no shapiq index and are marked by
/// `"interprim_kind": "or"`. Load in Python with
/// `{tuple(map(int, k.split(","))) if k else (): i for k, i in d["interaction_lookup"].items()}`
/// as the lookup and `shapiq.InteractionValues(values=np.array(d["values"]), ...)`.
pub fn shapiq_json(values: &[f64], kind: Kind) -> Result<serde_json::Value> {
    let n = players_for_len(values.len())?;
    // shapiq orders coalitions by size, then lexicographically.
    let mut coalitions: Vec<Coalition> = Coalition::all(n).collect();
    coalitions.sort_by_key(|c| (c.order(), c.players().collect::<Vec<_>>()));
    let mut lookup = serde_json::Map::new();
    let mut vals = Vec::with_capacity(values.len());
    for (pos, c) in coalitions.iter().enumerate() {
        let key = c
            .players()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        lookup.insert(key, pos.into());
        vals.push(values[c.mask()]);
    }
    Ok(serde_json::json!({
        "index": "Moebius",
        "interprim_kind": match kind { Kind::And => "and", Kind::Or => "or" },
        "max_order": n,
        "min_order": 0,
        "n_players": n,
        "estimated": false,
        "estimation_budget": null,
        "baseline_value": values[0],
        "values": vals,
        "interaction_lookup": lookup,
    }))
}

/// Read back a shapiq-layout JSON written by [`shapiq_json`] into a mask-ordered vector.
pub fn from_shapiq_json(value: &serde_json::Value) -> Result<Vec<f64>> {
    let bad = |why: &str| Error::Invalid(format!("not an InteractionValues JSON: {why}"));
    let n = value["n_players"]
        .as_u64()
        .ok_or_else(|| bad("no n_players"))? as usize;
    if n > crate::MAX_PLAYERS {
        return Err(Error::TooManyPlayers {
            n,
            max: crate::MAX_PLAYERS,
        });
    }
    let vals = value["values"]
        .as_array()
        .ok_or_else(|| bad("no values list"))?;
    let lookup = value["interaction_lookup"]
        .as_object()
        .ok_or_else(|| bad("no interaction_lookup"))?;
    let mut out = vec![0.0; 1 << n];
    for (key, pos) in lookup {
        let mut mask = 0u32;
        for p in key.split(',').filter(|s| !s.is_empty()) {
            let p: usize = p
                .trim()
                .parse()
                .map_err(|_| bad("a lookup key is not a player tuple"))?;
            if p >= n {
                return Err(bad("a player index is out of range"));
            }
            mask |= 1 << p;
        }
        let pos = pos
            .as_u64()
            .ok_or_else(|| bad("a lookup position is not an integer"))? as usize;
        out[mask as usize] = vals
            .get(pos)
            .and_then(|v| v.as_f64())
            .ok_or_else(|| bad("a position has no value"))?;
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

    #[test]
    fn shapiq_round_trip() {
        let v = vec![7.0, 1.0, 2.0, 3.0];
        let j = shapiq_json(&v, Kind::And).unwrap();
        assert_eq!(j["interaction_lookup"]["0,1"], 3);
        assert_eq!(j["interaction_lookup"][""], 0);
        assert_eq!(from_shapiq_json(&j).unwrap(), v);
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
