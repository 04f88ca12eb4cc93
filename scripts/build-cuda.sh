#!/usr/bin/env bash
# Build interprim with the `cuda` feature on a machine without a GPU: the manual check of the CUDA build
# (too heavy for CI: about an hour on 2 cores). Installs or verifies the pinned CUDA 13.0 toolchain first
# (scripts/cuda-toolkit.sh, under ${INTERPRIM_CACHE:-<repo>/.cache}/cuda-13.0), then, in target-cuda/ (the
# normal target/ is not touched):
#   cargo build --release --locked --features cuda                (the `interprim` binary)
#   cargo test  --release --locked --features cuda --no-run       (every test target; skipped by --no-tests)
# and prints the wall time of each step, the load average meanwhile, and the disk used (target-cuda/ and
# the toolkit). Everything the compilers do runs at `nice -n 19`, so the build only takes idle CPU.
#
# Usage: scripts/build-cuda.sh [--compute-cap N] [--no-tests] [--package] [--package-test NAME]...
#   --compute-cap N      the GPU architecture the kernels are compiled for (CUDA_COMPUTE_CAP; default 90 =
#                        sm_90a, H100/H200 only; e.g. 80 for A100, 89 for L4/L40). The env var also works;
#                        the option wins. candle-kernels needs it: without a GPU it cannot ask nvidia-smi.
#   --no-tests           build the binary only.
#   --package            write target-cuda/package/: interprim-cuda.gz (the binary, stripped, gzipped:
#                        ~20 MB, small enough to send to a GPU machine) and SHA256SUMS.
#   --package-test NAME  also package the test binary of target NAME (`lib` for the library's unit tests,
#                        else an integration test in tests/, e.g. `cli`) as NAME-cuda.gz. Repeatable.
#
# What a cuda binary needs at run time: the NVIDIA driver's libcuda.so.1 and the CUDA 13 libraries it is
# linked against, libcudart.so.13, libcublas.so.13 (which loads libcublasLt.so.13) and libcurand.so.10
# (`readelf -d` lists them; libnvrtc is linked with --as-needed and dropped). candle links them dynamically,
# so they are needed even for `--help` and even when no GPU is used. Without them the program does not start:
# the loader prints
#   interprim: error while loading shared libraries: libcuda.so.1: cannot open shared object file: ...
# and the exit status is 127. On a machine without a GPU the toolkit's stub (lib/stubs/) lets it start
# (every CUDA call then fails with CUDA_ERROR_STUB_LIBRARY); this script checks exactly that at the end.
# On a GPU machine, use the driver's libcuda.so.1 and the machine's own CUDA 13 libraries:
#   scripts/cuda-libs.sh finds them (python site-packages nvidia/*/lib, /usr/local/cuda*).
# The kernels are compiled for one architecture only (90: sm_90a, whose code and PTX run on H100/H200
# only), and the driver must be CUDA 13.0 or newer (R580+): an older one refuses the PTX.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
TARGET_DIR="$REPO/target-cuda"
PACKAGE_DIR="$TARGET_DIR/package"

die() { echo "build-cuda: ERROR: $*" >&2; exit 1; }
log() { echo "build-cuda: $*" >&2; }
usage() { sed -n '/^# Usage:/,/^#$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

CAP="${CUDA_COMPUTE_CAP:-90}"
TESTS=1
PACKAGE=0
PACKAGE_TESTS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --compute-cap) [[ $# -ge 2 ]] || die "--compute-cap needs a value, e.g. --compute-cap 90"; CAP="$2"; shift 2 ;;
    --compute-cap=*) CAP="${1#*=}"; shift ;;
    --no-tests) TESTS=0; shift ;;
    --package) PACKAGE=1; shift ;;
    --package-test) [[ $# -ge 2 ]] || die "--package-test needs a target name, e.g. --package-test lib"
      PACKAGE=1; PACKAGE_TESTS+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage; die "unknown argument '$1'" ;;
  esac
done
[[ "$CAP" =~ ^[0-9]{2,3}[af]?$ ]] || die "compute capability '$CAP' is not of the form 90, 89, 100a (major and minor digits)"
[[ $TESTS == 1 || ${#PACKAGE_TESTS[@]} == 0 ]] || die "--package-test needs the test build; drop --no-tests"
command -v strip >/dev/null && command -v gzip >/dev/null || die "strip (binutils) and gzip are needed"

eval "$(scripts/cuda-toolkit.sh)"
export CUDA_COMPUTE_CAP="$CAP"
log "CUDA_HOME=$CUDA_HOME ($(nvcc --version | tail -n1)), CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP"

# cudaforge's kernel cache (in candle-kernels' OUT_DIR) keys on the sources and nvcc's arguments, not on
# the nvcc: after a toolkit change, rebuild the crates compiled against it instead of reusing them.
mkdir -p "$TARGET_DIR"
TOOLKIT_ID="$(nvcc --version | tail -n1) $(cat "$CUDA_HOME/.interprim-stamp")"
if [[ -f "$TARGET_DIR/.cuda-toolkit" && "$(cat "$TARGET_DIR/.cuda-toolkit")" != "$TOOLKIT_ID" ]]; then
  log "the toolkit changed since the last build: cleaning candle-kernels and cudarc"
  nice -n 19 cargo clean --release --target-dir "$TARGET_DIR" -p candle-kernels -p cudarc
fi
echo "$TOOLKIT_ID" >"$TARGET_DIR/.cuda-toolkit"

# Load average once a minute while the compilers run (the build shares the machine).
LOAD_LOG="$TARGET_DIR/build-load.log"
: >"$LOAD_LOG"
(while true; do cut -d' ' -f1 /proc/loadavg >>"$LOAD_LOG"; sleep 60; done) &
SAMPLER=$!
trap 'kill "$SAMPLER" 2>/dev/null || true' EXIT

minutes() { awk -v s="$1" 'BEGIN { printf "%d min %02d s", s / 60, s % 60 }'; }
CARGO=(nice -n 19 cargo)
ARGS=(--release --locked --features cuda --target-dir "$TARGET_DIR")

T0=$(date +%s)
log "cargo build ${ARGS[*]}"
"${CARGO[@]}" build "${ARGS[@]}"
T1=$(date +%s)
TESTS_JSON="$TARGET_DIR/test-artifacts.json"
if [[ $TESTS == 1 ]]; then
  log "cargo test ${ARGS[*]} --no-run"
  "${CARGO[@]}" test "${ARGS[@]}" --no-run --message-format=json-render-diagnostics >"$TESTS_JSON"
fi
T2=$(date +%s)
kill "$SAMPLER" 2>/dev/null || true

BIN="$TARGET_DIR/release/interprim"
# The binary must start with the stub libcuda (it runs on the CPU: no CUDA call succeeds with the stub).
LD_LIBRARY_PATH="$CUDA_HOME/lib/stubs:$CUDA_HOME/lib" "$BIN" --help >/dev/null \
  || die "$BIN does not start with the stub libcuda and the toolkit's libraries on LD_LIBRARY_PATH"
log "ok: interprim --help starts with lib/stubs/libcuda.so.1 and the toolkit's lib/ on LD_LIBRARY_PATH"
# Without them (the situation of a machine without the CUDA 13 libraries) it cannot start: say how.
set +e
NOLIB_ERR="$(env -u LD_LIBRARY_PATH "$BIN" --help 2>&1 >/dev/null)"
NOLIB_RC=$?
set -e
log "without them: exit $NOLIB_RC${NOLIB_ERR:+, the loader says: ${NOLIB_ERR%%$'\n'*}}"

if [[ $PACKAGE == 1 ]]; then
  rm -rf "$PACKAGE_DIR"
  mkdir -p "$PACKAGE_DIR"
  pack() { # pack EXECUTABLE NAME: stripped and gzipped (reproducibly: no name or time in the header)
    strip -o "$PACKAGE_DIR/$2" "$1"
    gzip -9 -n "$PACKAGE_DIR/$2"
    log "packaged $2.gz ($(du -h "$PACKAGE_DIR/$2.gz" | cut -f1); from $(du -h "$1" | cut -f1) unstripped)"
  }
  pack "$BIN" interprim-cuda
  for name in "${PACKAGE_TESTS[@]}"; do
    exe="$(python3 - "$TESTS_JSON" "$name" <<'EOF'
import json, sys
path, name = sys.argv[1], sys.argv[2]
found = []
for line in open(path):
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
        continue
    kinds = m["target"]["kind"]
    if (name == "lib" and "lib" in kinds) or (name != "lib" and "test" in kinds and m["target"]["name"] == name):
        found.append(m["executable"])
print("\n".join(sorted(set(found))))
EOF
)"
    [[ -n "$exe" && "$exe" != *$'\n'* ]] || die "no single test binary for target '$name' (lib, or a file name in tests/ without .rs)"
    pack "$exe" "$name-cuda"
  done
  (cd "$PACKAGE_DIR" && sha256sum -- *.gz >SHA256SUMS)
  log "package: $PACKAGE_DIR ($(du -sh "$PACKAGE_DIR" | cut -f1))"
fi

LOAD="$(awk '{ s += $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
             END { if (NR) printf "min %.1f, mean %.1f, max %.1f over %d samples", lo, s / NR, hi, NR }' "$LOAD_LOG")"
echo "build-cuda: done (CUDA_COMPUTE_CAP=$CAP)
  cargo build --release --features cuda:        $(minutes $((T1 - T0)))
  cargo test --release --features cuda --no-run: $([[ $TESTS == 1 ]] && minutes $((T2 - T1)) || echo skipped)
  total:                                         $(minutes $((T2 - T0)))
  load average (1 min) during the build:         ${LOAD:-no sample}
  disk: target-cuda $(du -sh "$TARGET_DIR" | cut -f1), toolkit $(du -sh "$CUDA_HOME" | cut -f1)
  binary: $BIN ($(du -h "$BIN" | cut -f1))" >&2
