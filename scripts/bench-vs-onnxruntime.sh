#!/usr/bin/env bash
# Throughput of interprim's candle path against ONNX Runtime on the same model, side by side.
#
# Usage: scripts/bench-vs-onnxruntime.sh [--rounds N] [--seconds S] [--threads T]
#        (defaults: 7 rounds, 2 s per engine and shape per round, 2 threads)
#
# ONNX Runtime (CPU execution provider, PyPI onnxruntime==1.32.0 in a venv under the cache, or
# $ORT_VENV) runs the packaged paraphrase-MiniLM-L3-v2.onnx; interprim runs MiniLM-L3 from the
# safetensors converted from that file (scripts/fetch-assets.sh sentiment), with a seeded 2-label
# head on mean pooling. Both get the same inputs — the first b masked versions of a real 28-token
# test sentence (token-id masking with [MASK]), as int64 ids for ONNX Runtime — and T threads
# (intra-op threads for ONNX Runtime, RAYON_NUM_THREADS for interprim). Shapes:
#   16x50   the authors' setting: batches of 16, padded to 50 tokens (attention mask 0 on padding);
#           interprim: BertClassifier::infer_ids.
#   128x28  the replication's setting: 128 masked inputs at the sentence's real length;
#           interprim: MaskedSentence::logits (BertClassifier::masked_logits).
# ONNX Runtime returns the mean-pooled sentence embeddings, interprim the logits of the head on them.
#
# Before timing, both engines' hidden states are compared on the real tokens (max abs difference)
# and interprim's timed path against candle's plain path (candle-transformers' BertEncoder); the
# script stops if either differs by more than 1e-3. Then the engines alternate: each round times
# interprim then ONNX Runtime (or the reverse, every other round) for S seconds per shape. Prints,
# per shape, the medians over rounds:
#   MiniLM-L3 16x50: candle N seq/s, onnxruntime M seq/s, ratio R        (R = N/M)
# then GFLOP/s lines against the machine's peak, measured in the same run (an FMA loop on T threads).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${INTERPRIM_CACHE:-$REPO/.cache}"
ASSETS="$CACHE/assets"
VENV="${ORT_VENV:-$CACHE/venv-onnxruntime}"
ORT_PIN="onnxruntime==1.32.0"
NUMPY_PIN="numpy==2.3.5"
ROUNDS=7
SECONDS_PER=2
THREADS=2

die() { echo "bench-vs-onnxruntime: ERROR: $*" >&2; exit 1; }
log() { echo "bench-vs-onnxruntime: $*" >&2; }

while (($#)); do
  case "$1" in
    --rounds) ROUNDS="${2:?}"; shift 2 ;;
    --seconds) SECONDS_PER="${2:?}"; shift 2 ;;
    --threads) THREADS="${2:?}"; shift 2 ;;
    -h | --help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

ONNX="$ASSETS/onnx/paraphrase-MiniLM-L3-v2.onnx"
L3="$ASSETS/minilm-l3"
for f in "$ONNX" "$L3/model.safetensors" "$L3/config.json" "$L3/tokenizer.json"; do
  [[ -f "$f" ]] || die "$f not found: run scripts/fetch-assets.sh sentiment (INTERPRIM_CACHE=$CACHE)"
done

# --- ONNX Runtime in its own venv ---
if ! "$VENV/bin/python" -c "import onnxruntime, numpy" 2>/dev/null ||
  [[ "$("$VENV/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)')" != "${ORT_PIN#*==}" ]]; then
  log "installing $ORT_PIN and $NUMPY_PIN into $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$ORT_PIN" "$NUMPY_PIN" ||
    die "pip could not install $ORT_PIN $NUMPY_PIN (is PyPI reachable?)"
fi

# --- interprim's side: the forwards bench binary in its peer-worker mode ---
log "building the forwards bench (release)"
WORKER="$(cd "$REPO" && cargo bench --bench forwards --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    try: m = json.loads(l)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "forwards":
        print(m["executable"])')" || true
[[ -n "$WORKER" && -x "$WORKER" ]] || die "could not build the forwards bench: run 'cargo bench --bench forwards --no-run' to see why"

log "uptime: $(uptime)"
RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" \
  "$VENV/bin/python" - "$WORKER" "$ONNX" "$L3" "$ROUNDS" "$SECONDS_PER" "$THREADS" <<'EOF'
import json, os, statistics, subprocess, sys, tempfile, time
import numpy as np
import onnxruntime as ort

worker_path, onnx_path, l3_dir, rounds, secs, threads = sys.argv[1:7]
rounds, secs, threads = int(rounds), float(secs), int(threads)

worker = subprocess.Popen([worker_path, "--peer-worker"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, bufsize=1)

def ask(cmd):
    worker.stdin.write(cmd + "\n"); worker.stdin.flush()
    reply = worker.stdout.readline().strip()
    if not reply.startswith("ok"):
        sys.exit(f"bench-vs-onnxruntime: interprim worker: {cmd!r} -> {reply!r}")
    return reply.split()[1:]

layers, hidden = map(int, ask(f"load {l3_dir}"))
config = json.load(open(os.path.join(l3_dir, "config.json")))
inter = config["intermediate_size"]

so = ort.SessionOptions()
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
outs = sess.get_outputs()
hidden_out = next(o.name for o in outs if len(o.shape) == 3)
pooled_out = next(o.name for o in outs if len(o.shape) == 2 and o.type == "tensor(float)")
input_names = {i.name for i in sess.get_inputs()}

def flops_per_token(length):
    # multiply-adds × 2 of one token through the encoder at this sequence length:
    # q, k, v, out (4·h²), feed-forward (2·h·inter), attention scores and context (2·len·h)
    return layers * 2 * (4 * hidden * hidden + 2 * hidden * inter + 2 * length * hidden)

tmp = tempfile.mkdtemp(prefix="interprim-ort-")
shapes = [(16, 50), (128, 28)]
data = {}
for b, length in shapes:
    name = f"{b}x{length}"
    path = os.path.join(tmp, name + ".u32")
    real, kind = ask(f"inputs {name} {b} {length} {path}")
    raw = np.fromfile(path, dtype="<u4")
    ids = raw[: b * length].reshape(b, length).astype(np.int64)
    mask = raw[b * length :].reshape(b, length).astype(np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in input_names:
        feeds["token_type_ids"] = np.zeros_like(ids)
    # agreement before timing
    hpath = os.path.join(tmp, name + ".f32")
    (dlogits,) = ask(f"hidden {name} {hpath}")
    h_candle = np.fromfile(hpath, dtype="<f4").reshape(b, length, hidden)
    h_ort = sess.run([hidden_out], feeds)[0]
    real_tok = mask.astype(bool)
    dh = float(np.abs(h_candle[real_tok] - h_ort[real_tok]).max())
    print(f"check MiniLM-L3 {name} ({kind}, {real} real tokens): max |hidden candle - onnxruntime| = {dh:.2e} "
          f"(states up to {np.abs(h_ort[real_tok]).max():.1f}); max |logits timed path - candle reference| = {float(dlogits):.2e}")
    if dh > 1e-3 or float(dlogits) > 1e-3:
        sys.exit("bench-vs-onnxruntime: the engines disagree; not timing")
    data[name] = (b, length, int(real), kind, feeds)

def time_ort(feeds):
    sess.run([pooled_out], feeds)  # warm-up
    n, t0 = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - t0 < secs:
        sess.run([pooled_out], feeds)
        n += 1
    return n, time.perf_counter() - t0

rates = {name: {"candle": [], "onnxruntime": []} for name in data}
for r in range(rounds):
    for name, (b, length, real, kind, feeds) in data.items():
        order = ["candle", "onnxruntime"] if r % 2 == 0 else ["onnxruntime", "candle"]
        for engine in order:
            if engine == "candle":
                n, dt = ask(f"time {name} {secs}")
                n, dt = int(n), float(dt)
            else:
                n, dt = time_ort(feeds)
            rates[name][engine].append(n * b / dt)

(peak,) = ask(f"peak 1.0")
peak = float(peak)
load = os.getloadavg()

for name, (b, length, real, kind, feeds) in data.items():
    c = statistics.median(rates[name]["candle"])
    o = statistics.median(rates[name]["onnxruntime"])
    print(f"MiniLM-L3 {name}: candle {c:.0f} seq/s, onnxruntime {o:.0f} seq/s, ratio {c / o:.2f}")
for name, (b, length, real, kind, feeds) in data.items():
    c = statistics.median(rates[name]["candle"])
    o = statistics.median(rates[name]["onnxruntime"])
    nominal = length * flops_per_token(length)  # what a dense engine computes per sequence
    # what interprim executes: real tokens only; for masked inputs, the first layer's q/k/v once
    # per distinct row (2·len rows per batch) instead of per input and token
    executed = real * flops_per_token(real)
    if kind == "masked":
        executed -= real * 2 * 3 * hidden * hidden - (2 * real * 2 * 3 * hidden * hidden) / b
    print(f"MiniLM-L3 {name} GFLOP/s: onnxruntime {o * nominal / 1e9:.0f} ({o * nominal / 1e9 / peak:.0%} of peak), "
          f"candle {c * executed / 1e9:.0f} executed ({c * executed / 1e9 / peak:.0%} of peak; "
          f"{executed / 1e6:.0f} of the model's {nominal / 1e6:.0f} MFLOP per sequence at this shape)")
spread = {name: (min(v["candle"]), max(v["candle"]), min(v["onnxruntime"]), max(v["onnxruntime"])) for name, v in rates.items()}
print(f"machine peak: {peak:.0f} GFLOP/s f32 on {threads} threads (AVX2 FMA loop, measured in this run); "
      f"load average after the run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {rounds} rounds of {secs:g} s per engine and shape")
for name, (c0, c1, o0, o1) in spread.items():
    print(f"  {name} seq/s over rounds: candle {c0:.0f}-{c1:.0f}, onnxruntime {o0:.0f}-{o1:.0f}")
worker.stdin.close()
worker.wait()
EOF
