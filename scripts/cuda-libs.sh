#!/usr/bin/env bash
# Find the CUDA 13 runtime libraries a cuda build of interprim (scripts/build-cuda.sh) needs, on a machine
# that has a GPU and the CUDA libraries somewhere, e.g. in a Python's site-packages (torch's nvidia-* wheels)
# or a CUDA toolkit under /usr/local/cuda*. The driver's libcuda.so.1 must come from the system (the loader's
# default paths); the toolkit's stub of it (lib/stubs/) is never used here.
#
# Usage, sourced:     . scripts/cuda-libs.sh
#                     export LD_LIBRARY_PATH="$(cuda_lib_path)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
#        or run:      scripts/cuda-libs.sh [BINARY]
#   prints the directories, colon-separated, that hold the libraries (first match per library); with
#   BINARY it also runs `ldd` on it with that path and fails when a library stays unresolved.
# `cuda_lib_path` fails (status 1, the missing names on stderr) when a library is found nowhere.
#
# Search order: $CUDA_HOME/{lib64,lib}, then each Python on PATH (python3, python): its site-packages'
# nvidia/cu13/lib and nvidia/*/lib, then /usr/local/cuda/lib64, /usr/local/cuda-13*/lib64,
# /usr/local/cuda*/targets/x86_64-linux/lib. Only the CUDA 13 sonames match, so CUDA 12 copies are skipped.

# The sonames the binary is linked against (readelf -d target-cuda/release/interprim), besides libcuda.so.1,
# and libcublasLt.so.13, which libcublas.so.13 needs. (libnvrtc is linked --as-needed and dropped.)
CUDA_LIB_SONAMES=(libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10)

# Candidate directories, one per line, in search order (duplicates and absent ones included).
cuda_lib_candidates() {
  local py sp
  if [[ -n "${CUDA_HOME:-}" ]]; then printf '%s\n' "$CUDA_HOME/lib64" "$CUDA_HOME/lib"; fi
  for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" -c 'import site, sys
dirs = list(getattr(site, "getsitepackages", lambda: [])())
dirs.append(site.getusersitepackages())
dirs += [p for p in sys.path if p.endswith("-packages")]
print("\n".join(dict.fromkeys(dirs)))' 2>/dev/null | while IFS= read -r sp; do
      printf '%s\n' "$sp/nvidia/cu13/lib" "$sp"/nvidia/*/lib
    done
  done
  printf '%s\n' /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 /usr/local/cuda*/targets/x86_64-linux/lib
}

cuda_lib_path() {
  local soname dir found path="" missing=()
  local -a candidates
  mapfile -t candidates < <(cuda_lib_candidates)
  for soname in "${CUDA_LIB_SONAMES[@]}"; do
    found=""
    for dir in "${candidates[@]}"; do
      [[ "$dir" == */stubs ]] && continue
      if [[ -e "$dir/$soname" ]]; then found="$(cd "$dir" && pwd -P)"; break; fi
    done
    if [[ -z "$found" ]]; then missing+=("$soname"); continue; fi
    case ":$path:" in *":$found:"*) ;; *) path="${path:+$path:}$found" ;; esac
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "cuda_lib_path: not found: ${missing[*]} (searched: CUDA_HOME, python site-packages nvidia/*/lib, /usr/local/cuda*)" >&2
    return 1
  fi
  if ! { ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; } && ! compgen -G '/usr/lib*/*/libcuda.so.1' >/dev/null \
    && ! compgen -G '/usr/lib*/libcuda.so.1' >/dev/null; then
    echo "cuda_lib_path: warning: the driver's libcuda.so.1 is not in the loader's cache: is the NVIDIA driver installed?" >&2
  fi
  printf '%s\n' "$path"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  LIBS="$(cuda_lib_path)"
  echo "$LIBS"
  if [[ $# -ge 1 ]]; then
    UNRESOLVED="$(LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$1" | grep 'not found' || true)"
    if [[ -n "$UNRESOLVED" ]]; then
      echo "cuda-libs: $1 still lacks:" >&2
      echo "$UNRESOLVED" >&2
      exit 1
    fi
    echo "cuda-libs: every library of $1 resolves" >&2
  fi
fi
