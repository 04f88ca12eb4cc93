#!/usr/bin/env bash
# Install the CUDA 13.0 build toolchain that `cargo build --features cuda` needs, from NVIDIA's wheels on PyPI
# (pinned versions, sha256 checked by pip), into one prefix usable as CUDA_HOME:
#
#   ${INTERPRIM_CACHE:-<repo>/.cache}/cuda-13.0/
#     bin/        nvcc, ptxas, fatbinary, nvlink, cudafe++ (nvcc.profile finds the rest relative to bin/)
#     nvvm/       cicc and libdevice
#     include/    cuda.h, cuda_runtime.h, cublas*.h, curand*.h, nvrtc.h, cccl/ (CUB, Thrust, libcu++)
#     lib/        libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libnvrtc.so.13, ...
#                 plus the unversioned symlinks (libcublas.so -> libcublas.so.13, ...) the linker needs
#     lib/stubs/  libcuda.so.1 and libcuda.so: a stub of the driver library, for LINKING ONLY
#     dist-info/  the wheels' metadata; RECORD lists every installed file with its sha256 (.metadata/: NVIDIA's)
#
# Why wheels: the machines of the project's kind have no GPU and no CUDA toolkit; Debian's `main` has none,
# and NVIDIA's CUDA 12 wheels hold ptxas but no nvcc/cicc. The CUDA 13 wheels are a complete toolchain.
# Why 13.0 and not newer: the GPU machines available to the project run driver 580 (CUDA 13.0), and a driver
# refuses PTX written by a newer nvcc (13.4 writes PTX ISA 9.4). cudarc 0.19 accepts CUDA <= 13.4.
#
# The driver library libcuda.so.1 comes with the NVIDIA driver, on no package registry. cudarc links
# `-lcuda` at build time, so lib/stubs/ gets a stub generated here from cuda.h with gcc: every driver entry
# point the header declares returns CUDA_ERROR_STUB_LIBRARY (34); soname libcuda.so.1. A binary run with the
# stub on LD_LIBRARY_PATH starts, and any CUDA call fails with that error; on a GPU machine the driver's
# own libcuda.so.1 must be found instead (never put lib/stubs/ on LD_LIBRARY_PATH there).
#
# Usage: scripts/cuda-toolkit.sh
#   Installs (or verifies) the prefix, logs to stderr, and prints to stdout the environment a build needs:
#     eval "$(scripts/cuda-toolkit.sh)"      # exports CUDA_HOME, PATH, LIBRARY_PATH, LD_LIBRARY_PATH
#   scripts/build-cuda.sh does this itself.
#
# Idempotent: when the prefix is complete for these pins, a second run checks every installed file against
# the sha256 in the wheels' RECORD (about 4 s), checks the stub and the symlinks, and installs nothing.
# A prefix that fails the check is rebuilt once from PyPI; a failure after that stops with a non-zero exit.
# The new prefix is assembled beside the old one and moved into place, so an interrupted run leaves no
# half-installed toolkit. Download ~680 MB (wheels are not kept), 1.2 GiB on disk, ~1 min on a fast link.
# Needs: Linux x86_64, python3 with pip (>= 22), gcc, network access to pypi.org and files.pythonhosted.org.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CUDA_VERSION=13.0
PREFIX="${INTERPRIM_CACHE:-$REPO/.cache}/cuda-$CUDA_VERSION"
PIP=(python3 -m pip)

# The pinned wheels: what `cuda-toolkit[nvcc,crt,nvvm,cudart,cccl,cublas,curand,nvrtc]==13.0.2` (NVIDIA's
# meta-package) resolves to, with the sha256 digests PyPI publishes for the manylinux x86_64 wheels.
# (All eight extras must be named: `nvcc` alone pulls neither crt, nvvm nor cudart.)
REQUIREMENTS="\
nvidia-cuda-nvcc==13.0.88 --hash=sha256:56fe502eb77625a12f25172caa3cdddb4e4c8ba2c8c17dba44b164761b380f03
nvidia-cuda-crt==13.0.88 --hash=sha256:2c8043c7c9e02492716426e9919fc78d2c5b3b2a7a768a88e952676b08aa55a4
nvidia-nvvm==13.0.88 --hash=sha256:c5f41ffeb6466944a026dfa5317d7d85355c119bbec279205d22f1869d1054e0
nvidia-cuda-runtime==13.0.96 --hash=sha256:7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548
nvidia-cuda-cccl==13.0.85 --hash=sha256:e0da7ad981f3a8aff08241b5bfc1af868742a63e2762f53a5171c492ef242649
nvidia-cublas==13.1.0.3 --hash=sha256:ee8722c1f0145ab246bccb9e452153b5e0515fd094c3678df50b2a0888b8b171
nvidia-curand==10.4.0.35 --hash=sha256:1aee33a5da6e1db083fe2b90082def8915f30f3248d5896bcec36a579d941bfc
nvidia-cuda-nvrtc==13.0.88 --hash=sha256:ad9b6d2ead2435f11cbb6868809d2adeeee302e9bb94bcf0539c7a40d80e8575
"
# The libraries cudarc and candle-kernels link (-lcuda comes from lib/stubs/).
LINKED_LIBS=(cudart cublas cublasLt curand nvrtc)
# CUDA_ERROR_STUB_LIBRARY in cuda.h's CUresult enum; checked against the header below.
STUB_ERROR=34
# Bump when the layout or the stub generator changes, so an older prefix is rebuilt.
LAYOUT=1
STAMP_FILE=.interprim-stamp

die() { echo "cuda-toolkit: ERROR: $*" >&2; exit 1; }
log() { echo "cuda-toolkit: $*" >&2; }

stamp() { printf 'layout %s\n%s' "$LAYOUT" "$REQUIREMENTS" | sha256sum | cut -d' ' -f1; }

# verify_record DIR: every file the wheels installed is present under DIR with the sha256 its RECORD gives
# (pip writes RECORD from the hash-checked wheels). Paths nvidia/cu13/X in RECORD live at DIR/X.
verify_record() {
  python3 - "$1" <<'EOF'
import base64, csv, glob, hashlib, os, sys
root = sys.argv[1]
records = sorted(glob.glob(os.path.join(root, "dist-info", "*.dist-info", "RECORD")))
if len(records) != 8:
    sys.exit(f"expected 8 wheel RECORDs under {root}/dist-info, found {len(records)}")
checked, bad = 0, []
for record in records:
    with open(record, newline="") as f:
        for path, digest, _size in csv.reader(f):
            if not digest or not path.startswith("nvidia/cu13/"):
                continue  # dist-info files (RECORD itself has no hash)
            local = os.path.join(root, path[len("nvidia/cu13/"):])
            algo, want = digest.split("=", 1)
            h = hashlib.new(algo)
            try:
                with open(local, "rb") as g:
                    for block in iter(lambda: g.read(1 << 20), b""):
                        h.update(block)
            except OSError as e:
                bad.append(f"{local}: {e.strerror}")
                continue
            if base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode() != want:
                bad.append(f"{local}: sha256 differs from the wheel's RECORD")
            checked += 1
if bad:
    sys.exit("\n".join(bad[:20]) + (f"\n... and {len(bad) - 20} more" if len(bad) > 20 else ""))
print(f"{checked} files match their wheels' RECORD", file=sys.stderr)
EOF
}

# verify DIR: the whole prefix is as this script makes it.
verify() {
  local dir="$1" lib
  [[ "$(cat "$dir/$STAMP_FILE" 2>/dev/null)" == "$(stamp)" ]] || { log "no stamp for these pins"; return 1; }
  verify_record "$dir" || return 1
  for lib in "${LINKED_LIBS[@]}"; do
    [[ -L "$dir/lib/lib$lib.so" && -e "$dir/lib/lib$lib.so" ]] || { log "lib/lib$lib.so is not a valid symlink"; return 1; }
  done
  [[ -f "$dir/lib/stubs/libcuda.so.1" && "$(readlink "$dir/lib/stubs/libcuda.so")" == libcuda.so.1 ]] \
    || { log "lib/stubs/libcuda.so{,.1} missing"; return 1; }
  "$dir/bin/nvcc" --version | grep -q "release $CUDA_VERSION," || { log "bin/nvcc is not CUDA $CUDA_VERSION"; return 1; }
}

# make_stub DIR: lib/stubs/libcuda.so.1 from DIR/include/cuda.h. The entry points are the functions the
# header declares returning CUresult, read twice from the preprocessed header: once as applications see it
# (the versioned names cuCtxCreate_v4, cuMemAlloc_v2, ...) and once as the driver is built
# (__CUDA_API_VERSION_INTERNAL: the legacy unversioned names and the _ptds/_ptsz variants), so the stub
# exports what the real libcuda.so.1 exports. Arguments are ignored (the caller cleans up the stack).
make_stub() {
  local dir="$1" names
  grep -Eq "CUDA_ERROR_STUB_LIBRARY *= *$STUB_ERROR," "$dir/include/cuda.h" \
    || die "cuda.h does not define CUDA_ERROR_STUB_LIBRARY = $STUB_ERROR"
  names="$(
    for defs in "" "-D__CUDA_API_VERSION_INTERNAL"; do
      # shellcheck disable=SC2086
      gcc -E -P $defs -I"$dir/include" -x c "$dir/include/cuda.h"
    done | tr '\n' ' ' | grep -oE 'CUresult +cu[A-Za-z0-9_]+ *\(' | sed -E 's/CUresult +//; s/ *\($//' | sort -u
  )"
  [[ "$(wc -l <<<"$names")" -gt 400 ]] || die "found only $(wc -l <<<"$names") entry points in cuda.h"
  mkdir -p "$dir/lib/stubs"
  {
    echo "/* Generated by scripts/cuda-toolkit.sh from cuda.h (CUDA $CUDA_VERSION): a stub of the driver library"
    echo "   for linking. Every entry point returns CUDA_ERROR_STUB_LIBRARY. */"
    sed -E "s/.*/__attribute__((visibility(\"default\"))) int &(void) { return $STUB_ERROR; }/" <<<"$names"
  } >"$dir/lib/stubs/libcuda_stub.c"
  gcc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$dir/lib/stubs/libcuda.so.1" "$dir/lib/stubs/libcuda_stub.c"
  ln -sfn libcuda.so.1 "$dir/lib/stubs/libcuda.so"
  log "stub libcuda.so.1: $(wc -l <<<"$names") entry points"
}

install() {
  local stage="$PREFIX.partial" lib target
  rm -rf "$stage"
  mkdir -p "$stage"
  printf '%s' "$REQUIREMENTS" >"$stage/requirements.txt"
  log "downloading and installing 8 pinned wheels from PyPI (~680 MB) ..."
  "${PIP[@]}" install --quiet --disable-pip-version-check --root-user-action=ignore --no-cache-dir --no-deps --only-binary :all: \
    --require-hashes --target "$stage/site" -r "$stage/requirements.txt" \
    || die "pip could not install the pinned wheels (network, or a digest that no longer matches PyPI)"
  [[ -x "$stage/site/nvidia/cu13/bin/nvcc" ]] || die "the wheels did not lay out nvidia/cu13/bin/nvcc"
  # one prefix: nvidia/cu13/{bin,include,lib,nvvm} -> PREFIX/, the metadata beside them
  (shopt -s dotglob && mv "$stage/site/nvidia/cu13/"* "$stage/")
  mkdir "$stage/dist-info"
  mv "$stage/site/"*.dist-info "$stage/dist-info/"
  rm -rf "$stage/site"
  for lib in "${LINKED_LIBS[@]}"; do
    target="$(cd "$stage/lib" && compgen -G "lib$lib.so.[0-9]*" | sort | head -n1)" \
      || die "lib/lib$lib.so.<N> missing from the wheels"
    ln -sfn "$target" "$stage/lib/lib$lib.so"
  done
  make_stub "$stage"
  stamp >"$stage/$STAMP_FILE"
  verify "$stage" || die "the freshly installed prefix fails its own check"
  rm -rf "$PREFIX"
  mv "$stage" "$PREFIX"
  log "installed CUDA $CUDA_VERSION into $PREFIX ($(du -sh "$PREFIX" | cut -f1))"
}

[[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] || die "the pinned wheels are for Linux x86_64; this is $(uname -s)/$(uname -m)"
command -v gcc >/dev/null || die "gcc is needed to build the stub libcuda"
"${PIP[@]}" --version >/dev/null 2>&1 || die "python3 -m pip is needed (install python3-pip)"

if [[ -d "$PREFIX" ]] && verify "$PREFIX"; then
  log "ok       $PREFIX (CUDA $CUDA_VERSION, verified)"
else
  [[ -d "$PREFIX" ]] && log "WARNING: $PREFIX is incomplete or stale; installing it again"
  install
fi

# The build environment (stdout): nvcc on PATH (cudarc runs plain `nvcc --version`), the stub and the
# unversioned libraries for the linker, and lib/ for resolving the libraries' own dependencies at link time.
cat <<EOF
export CUDA_HOME='$PREFIX'
export PATH='$PREFIX/bin':"\$PATH"
export LIBRARY_PATH='$PREFIX/lib/stubs:$PREFIX/lib'"\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
export LD_LIBRARY_PATH='$PREFIX/lib'"\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
EOF
