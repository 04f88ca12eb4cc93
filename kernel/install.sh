#!/usr/bin/env bash
# Install what the Rust notebooks need and register the "Rust (interprim)" Jupyter kernel.
#
# Usage: kernel/install.sh [--user] [--no-pip] [--no-cargo] [--prebuild]
#
#   1. Jupyter (pip, pinned): jupyterlab, notebook, nbconvert, nbclient, nbformat, and the `plotly`
#      package (its JupyterLab extension renders plotly's own mime type). Into the active Python
#      environment; with --user into the user site; if the system Python refuses (PEP 668), into a
#      venv at $CACHE/jupyter-venv. Skipped when the pinned versions are already there.
#   2. evcxr_jupyter 0.22.0 (cargo install --locked), skipped when that version is on PATH.
#   3. An evcxr config dir, kernel/evcxr/ (generated, git-ignored):
#        evcxr.toml   tmpdir = $CACHE/evcxr/session: a persistent build dir, so the candle-based
#                     crate compiles once (~220 s), not in every kernel session (then ~10 s);
#        init.evcxr   :dep interprim = { path = "<this checkout>" } and session settings;
#        prelude.rs   use interprim::prelude::*;
#      and seeds the build dir with this checkout's Cargo.lock so notebooks build the same crate
#      versions that `cargo test` does.
#   4. A kernel spec "interprim" whose argv runs evcxr_jupyter with EVCXR_CONFIG_DIR pointing at
#      kernel/evcxr/. Where: $JUPYTER_PATH's first entry if set; else the active venv
#      (--sys-prefix); else the user's Jupyter data dir (--user). Replaced on every run.
#   5. With --prebuild: start the kernel once headless, so that the first notebook opens without
#      waiting for the build.
#
# $CACHE is ${INTERPRIM_CACHE:-<repo>/.cache}. Idempotent: a second run checks versions, rewrites
# the small generated files and returns in seconds. Needs python3 with pip, cargo (Rust 1.95).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${INTERPRIM_CACHE:-$REPO/.cache}"
CONFIG_DIR="$REPO/kernel/evcxr"
TMPDIR_EVCXR="$CACHE/evcxr/session"
VENV="$CACHE/jupyter-venv"
EVCXR_VERSION=0.22.0
PIP_PACKAGES=(jupyterlab==4.6.6 notebook==7.6.5 nbconvert==7.17.2 nbclient==0.11.0 nbformat==5.11.1
  ipykernel==7.4.0 plotly==7.1.0)
PYTHON="${PYTHON:-python3}"

USER_INSTALL=0 DO_PIP=1 DO_CARGO=1 PREBUILD=0
for arg in "$@"; do
  case "$arg" in
    --user) USER_INSTALL=1 ;;
    --no-pip) DO_PIP=0 ;;
    --no-cargo) DO_CARGO=0 ;;
    --prebuild) PREBUILD=1 ;;
    -h|--help) sed -n '2,29p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "kernel/install.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "kernel/install.sh: $*" >&2; }
die() { echo "kernel/install.sh: ERROR: $*" >&2; exit 1; }

# --- 1. Jupyter ---------------------------------------------------------------------------------
# True when $1 (a python) has every pinned package at its pinned version.
have_pins() {
  "$1" - "${PIP_PACKAGES[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if all(version(p.split("==")[0]) == p.split("==")[1] for p in sys.argv[1:]) else 1)
EOF
}

if [[ -x "$VENV/bin/python" ]]; then
  PYTHON="$VENV/bin/python" # an earlier run fell back to the venv: keep using it
fi
if [[ $DO_PIP == 1 ]]; then
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3 with pip"
  if have_pins "$PYTHON"; then
    log "Jupyter packages present at the pinned versions"
  else
    log "pip install ${PIP_PACKAGES[*]}"
    args=(-m pip install --quiet)
    [[ $USER_INSTALL == 1 ]] && args+=(--user)
    if ! out="$("$PYTHON" "${args[@]}" "${PIP_PACKAGES[@]}" 2>&1)"; then
      if grep -q externally-managed <<<"$out"; then
        log "system Python is externally managed: using a venv at $VENV"
        "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        PYTHON="$VENV/bin/python"
        "$PYTHON" -m pip install --quiet "${PIP_PACKAGES[@]}"
      else
        echo "$out" >&2
        die "pip install failed"
      fi
    fi
  fi
fi
# jupyter next to the interpreter, in its scripts dir, in the user scripts dir (--user), on PATH
JUPYTER_BIN=""
for dir in "$(dirname "$(command -v "$PYTHON")")" \
  "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)" \
  "$("$PYTHON" -m site --user-base 2>/dev/null)/bin"; do
  if [[ -n "$dir" && -x "$dir/jupyter" ]]; then JUPYTER_BIN="$dir/jupyter"; break; fi
done
[[ -n "$JUPYTER_BIN" ]] || JUPYTER_BIN="$(command -v jupyter || true)"
[[ -n "$JUPYTER_BIN" ]] || die "jupyter not found after installing; add pip's script dir to PATH"
# tests/notebooks.rs runs this jupyter
mkdir -p "$CACHE/evcxr" && printf '%s\n' "$JUPYTER_BIN" >"$CACHE/evcxr/jupyter-path"

# --- 2. evcxr_jupyter ---------------------------------------------------------------------------
EVCXR_BIN="${CARGO_HOME:-$HOME/.cargo}/bin/evcxr_jupyter"
# evcxr_jupyter has no --version; cargo's install record has it
have_evcxr() { [[ -x "$EVCXR_BIN" ]] && cargo install --list 2>/dev/null | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; }
if [[ $DO_CARGO == 1 ]] && ! have_evcxr; then
  command -v cargo >/dev/null || die "cargo not found: install Rust 1.95 with rustup"
  log "cargo install evcxr_jupyter $EVCXR_VERSION (6 to 20 minutes on 2 cores)"
  cargo install evcxr_jupyter --locked --version "$EVCXR_VERSION"
fi
have_evcxr || die "evcxr_jupyter $EVCXR_VERSION not found at $EVCXR_BIN (cargo install evcxr_jupyter --locked --version $EVCXR_VERSION)"
# evcxr compiles cells with the rust sources for its analysis
rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src 2>/dev/null ||
  log "note: could not add the rust-src component (evcxr then has no type inference help)"

# --- 3. evcxr config ------------------------------------------------------------------------------
mkdir -p "$CONFIG_DIR" "$TMPDIR_EVCXR"
toml_str() { printf '"%s"' "$(sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1")"; }
cat >"$CONFIG_DIR/evcxr.toml" <<EOF
# Generated by kernel/install.sh; rerun it rather than editing.
[evcxr]
# A persistent build dir: interprim and its dependencies compile once, not in every session.
tmpdir = $(toml_str "$TMPDIR_EVCXR")
# Keep variables when a cell panics (evcxr's default, stated for clarity).
preserve_vars_on_panic = true
EOF
cat >"$CONFIG_DIR/init.evcxr" <<EOF
// Generated by kernel/install.sh; rerun it rather than editing.
:dep interprim = { path = $(toml_str "$REPO") }
EOF
cat >"$CONFIG_DIR/prelude.rs" <<'EOF'
// Generated by kernel/install.sh; rerun it rather than editing.
use interprim::prelude::*;
EOF
# Same crate versions as this checkout's tests: cargo keeps the locked versions and adds evcxr's
# own crate (and any other :dep of a session) to them.
[[ -f "$REPO/Cargo.lock" ]] && cp "$REPO/Cargo.lock" "$TMPDIR_EVCXR/Cargo.lock"

# --- 4. kernel spec -------------------------------------------------------------------------------
SPEC_SRC="$CACHE/evcxr/kernelspec/interprim"
rm -rf "$SPEC_SRC" && mkdir -p "$SPEC_SRC"
cat >"$SPEC_SRC/kernel.json" <<EOF
{
  "argv": [$(printf '%s' "$(toml_str "$EVCXR_BIN")"), "--control_file", "{connection_file}"],
  "display_name": "Rust (interprim)",
  "language": "rust",
  "interrupt_mode": "message",
  "env": { "EVCXR_CONFIG_DIR": $(toml_str "$CONFIG_DIR") }
}
EOF
if [[ -n "${JUPYTER_PATH:-}" ]]; then
  dest="${JUPYTER_PATH%%:*}/kernels/interprim"
  rm -rf "$dest" && mkdir -p "$(dirname "$dest")" && cp -r "$SPEC_SRC" "$dest"
  log "kernel spec installed at $dest (JUPYTER_PATH)"
else
  where=(--user)
  if [[ -n "${VIRTUAL_ENV:-}" && $USER_INSTALL == 0 ]]; then where=(--sys-prefix); fi
  "$JUPYTER_BIN" kernelspec install --replace --name interprim "${where[@]}" "$SPEC_SRC" >/dev/null 2>&1 ||
    die "jupyter kernelspec install failed"
  log "kernel spec installed (${where[*]})"
fi
# grep without -q reads the whole list: with -q it exits at the first match, jupyter then dies of
# SIGPIPE and pipefail fails the check although the kernel is there
"$JUPYTER_BIN" kernelspec list 2>/dev/null | grep '^ *interprim ' >/dev/null || die "kernel 'interprim' not visible to $JUPYTER_BIN"

# --- 5. prebuild ------------------------------------------------------------------------------------
if [[ $PREBUILD == 1 ]]; then
  log "starting the kernel once to build interprim into $TMPDIR_EVCXR (minutes the first time)"
  probe="$(mktemp -d)"
  printf '%s' '{"cells": [{"cell_type": "code", "execution_count": null, "id": "p", "metadata": {}, "outputs": [],
    "source": "interprim::demo::boolean_example().len()"}], "metadata": {"kernelspec": {"name": "interprim",
    "display_name": "Rust (interprim)", "language": "rust"}}, "nbformat": 4, "nbformat_minor": 5}' >"$probe/probe.ipynb"
  "$JUPYTER_BIN" nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=interprim \
    --ExecutePreprocessor.startup_timeout=3600 --output-dir "$probe" "$probe/probe.ipynb" >/dev/null 2>&1 ||
    die "the kernel did not start; run a notebook to see evcxr's error"
  rm -rf "$probe"
fi
log "ready: $JUPYTER_BIN lab   (kernel \"Rust (interprim)\"; its first start compiles interprim once: minutes)"
