//! Masked forward passes per second of the two default sentiment classifiers (fine-tuned
//! MiniLM-L3 and MiniLM-L6, CPU), the cost that dominates a sample of the replication (2^10 masked
//! inputs per model; extraction itself takes ~0.3 s). Each group measures interprim's inference
//! path (`fast`: [`BertClassifier::masked_logits`] / [`BertClassifier::infer_ids`]) against the
//! plain candle path (`candle`: candle-transformers' `BertEncoder`, [`BertClassifier::forward_embeds`]
//! / [`BertClassifier::forward_ids`]) in the same run.
//!
//! - `real_length/<model>/<engine>/<batch>`: what interprim does — the sentence at its real token
//!   length, masked at the embedding level with the `[MASK]` embedding, batches of 16…256.
//! - `padded_50/<model>/<engine>/16`: the authors' setting on the same model and sentence —
//!   batches of 16, every input padded to 50 tokens (attention mask 0 on the padding), token-id
//!   masking.
//!
//! - `digits/<model>/<engine>/128`: masked images per second of the digit CNNs
//!   ([`DigitClassifier::logits_tensor`] against `logits_tensor_candle`).
//! - `lm/<model>/64x40`: prompt tokens per second of the two causal LMs (candle, f32 weights).
//!
//! Criterion's throughput is in masked inputs (images, tokens) per second. Needs the sentiment assets
//! (`scripts/fetch-assets.sh sentiment`); without them it prints a note and measures nothing.
//! Results: BENCHMARKS.md.
//!
//! `forwards --peer-worker` (no criterion) is the candle side of
//! `scripts/bench-vs-onnxruntime.sh`: it reads commands on stdin, one per line, and answers one
//! line each (see [`peer`]).

use candle_core::{Device, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput};
use interprim::models::bert::BertClassifier;
use interprim::models::registry::SentimentModel;
use interprim::models::tokenizer::{pad_batch, TextTokenizer};
use interprim::tasks::sentiment::load_default_model;
use interprim::text::baseline::{Baseline, SpecialToken};
use interprim::text::masking::MaskedSentence;
use interprim::text::players::{PlayerSelection, Players};
use std::hint::black_box;
use std::time::Duration;

/// A test-split sentence (Rotten Tomatoes, default split) of typical length for the replication's
/// samples: 24 words, 28 tokens with [CLS] and [SEP].
const SENTENCE: &str = "Here, common sense flies out the window, along with the hail of bullets, none of which ever seem to hit Sascha.";

/// The authors' fixed input length.
const PADDED_LEN: usize = 50;

fn players() -> Players {
    Players::select(SENTENCE, &PlayerSelection::Seeded { n: 10, seed: 0 })
        .expect("the bench sentence has 10 content words")
}

/// The authors' inputs: the first `batch` masks, token-id masking with [MASK], padded to 50.
fn padded_inputs(
    classifier: &BertClassifier,
    tokenizer: &TextTokenizer,
    batch: usize,
) -> (Tensor, Tensor) {
    let baseline = Baseline::TokenId {
        token: SpecialToken::Mask,
    }
    .resolve(classifier, tokenizer, None)
    .unwrap();
    let sentence = MaskedSentence::new(classifier, tokenizer, &players(), baseline).unwrap();
    assert!(sentence.len() <= PADDED_LEN);
    let masks: Vec<u32> = (0..batch as u32).collect();
    let ids = sentence.masked_ids(&masks);
    let pad = tokenizer.special().pad;
    let mut padded: Vec<Vec<u32>> = ids.chunks(sentence.len()).map(|s| s.to_vec()).collect();
    for s in &mut padded {
        s.resize(PADDED_LEN, pad);
    }
    // Real tokens attend, padding does not: the same masking as pad_batch, at length 50.
    let real: Vec<&[u32]> = ids.chunks(sentence.len()).collect();
    let mask = pad_batch(&real, pad, &Device::Cpu).unwrap().attention_mask;
    let mask = mask
        .pad_with_zeros(1, 0, PADDED_LEN - sentence.len())
        .unwrap();
    let flat: Vec<u32> = padded.concat();
    let input = Tensor::from_vec(flat, (batch, PADDED_LEN), &Device::Cpu).unwrap();
    (input, mask)
}

fn forwards(c: &mut Criterion) {
    let mut loaded = Vec::new();
    for model in SentimentModel::ALL {
        match load_default_model(model) {
            Ok(classifier) => loaded.push((model, classifier)),
            Err(e) => {
                eprintln!(
                    "forwards bench: {} not available ({e}); run scripts/fetch-assets.sh sentiment",
                    model.name()
                );
                return;
            }
        }
    }
    let players = players();
    let masks: Vec<u32> = (0..1u32 << 10).collect();

    let mut g = c.benchmark_group("real_length");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (model, loaded) in &loaded {
        let (classifier, tokenizer) = (loaded.model(), loaded.tokenizer());
        let baseline = Baseline::TokenEmbedding {
            token: SpecialToken::Mask,
        }
        .resolve(classifier, tokenizer, None)
        .unwrap();
        let sentence = MaskedSentence::new(classifier, tokenizer, &players, baseline).unwrap();
        eprintln!("{}: {} tokens at real length", model.name(), sentence.len());
        let baseline_row = classifier
            .word_embeddings()
            .get(tokenizer.special().mask as usize)
            .unwrap();
        for batch in [16usize, 32, 64, 128, 256] {
            g.throughput(Throughput::Elements(batch as u64));
            let ones = Tensor::ones(
                (batch, sentence.len()),
                candle_core::DType::U32,
                &Device::Cpu,
            )
            .unwrap();
            // Alternate the engines at each batch size, so that a change of load hits both.
            g.bench_with_input(
                BenchmarkId::new(format!("{}/candle", model.name()), batch),
                &batch,
                |b, &batch| {
                    b.iter(|| {
                        let x = sentence
                            .masked_embeds(classifier, &masks[..batch], &baseline_row)
                            .unwrap();
                        black_box(classifier.forward_embeds(&x, &ones).unwrap())
                    })
                },
            );
            g.bench_with_input(
                BenchmarkId::new(format!("{}/fast", model.name()), batch),
                &batch,
                |b, &batch| {
                    b.iter(|| black_box(sentence.logits(classifier, &masks[..batch]).unwrap()))
                },
            );
        }
    }
    g.finish();

    let mut g = c.benchmark_group("padded_50");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (model, loaded) in &loaded {
        let (classifier, tokenizer) = (loaded.model(), loaded.tokenizer());
        let batch = 16usize;
        let (input, mask) = padded_inputs(classifier, tokenizer, batch);
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(
            BenchmarkId::new(format!("{}/candle", model.name()), batch),
            &batch,
            |b, _| b.iter(|| black_box(classifier.forward_ids(&input, &mask).unwrap())),
        );
        g.bench_with_input(
            BenchmarkId::new(format!("{}/fast", model.name()), batch),
            &batch,
            |b, _| b.iter(|| black_box(classifier.infer_ids(&input, &mask).unwrap())),
        );
    }
    g.finish();
}

/// Masked images per second of the digit CNNs (`digits/<model>/<batch>`; any 784-pixel images
/// cost the same, so a fixed pattern is used), the cost that dominates a digits sample (2 × 256
/// masked images).
fn digits(c: &mut Criterion) {
    use interprim::data::digits::PIXELS;
    use interprim::models::registry::DigitModel;
    let mut g = c.benchmark_group("digits");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    for model in DigitModel::ALL {
        let net = match model.load(&Device::Cpu) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("forwards bench: {} not available ({e})", model.name());
                continue;
            }
        };
        let batch = 128usize;
        let images: Vec<f32> = (0..batch * PIXELS)
            .map(|i| ((i * 37 % 101) as f32) / 100.0)
            .collect();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(
            BenchmarkId::new(format!("{}/candle", model.name()), batch),
            &batch,
            |b, _| b.iter(|| black_box(net.logits_tensor_candle(&images).unwrap())),
        );
        g.bench_with_input(
            BenchmarkId::new(format!("{}/fast", model.name()), batch),
            &batch,
            |b, _| b.iter(|| black_box(net.logits_tensor(&images).unwrap())),
        );
    }
    g.finish();
}

/// Prompt tokens per second of the two causal LMs (`lm/<model>/<batch>x<len>`): `batch`
/// sequences of `len` tokens through the whole model to the next-token logits, the shape of the
/// masked-prompt batches of the next-word task (`scripts/fetch-assets.sh lm`).
fn lms(c: &mut Criterion) {
    use interprim::models::assets;
    use interprim::models::causal_lm::CausalLm;
    let mut g = c.benchmark_group("lm");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, path) in [
        ("smollm2-135m", assets::smollm2_gguf()),
        ("gemma3-270m", assets::gemma3_gguf()),
    ] {
        if !path.is_file() {
            eprintln!("forwards bench: {name} not available; run scripts/fetch-assets.sh lm");
            continue;
        }
        let (batch, len) = (64usize, 40usize);
        let ids: Vec<u32> = (0..batch * len)
            .map(|i| (100 + i * 7 % 5000) as u32)
            .collect();
        g.throughput(Throughput::Elements((batch * len) as u64));
        // Loaded inside the closure: only when the filter selects this benchmark.
        g.bench_function(BenchmarkId::new(name, format!("{batch}x{len}")), |b| {
            let lm = CausalLm::load(name, &path, &Device::Cpu).unwrap();
            b.iter(|| black_box(lm.next_token_logits(&ids, batch).unwrap()))
        });
    }
    g.finish();
}

/// The candle side of `scripts/bench-vs-onnxruntime.sh`, driven over stdin/stdout so that the
/// script can alternate it with ONNX Runtime in one run. Commands (one line each, one line back):
///
/// - `load <model dir>`: the base model (config.json, tokenizer.json, model.safetensors) with a
///   seeded 2-label head on mean pooling → `ok <layers> <hidden>`.
/// - `inputs <name> <b> <len> <path>`: the bench sentence's first `b` masked inputs (token-id
///   masking with [MASK], players as in the criterion groups), padded to `len` tokens with [PAD]
///   (attention mask 0); written to `path` as `b·len` u32 ids then `b·len` u32 mask values
///   (little-endian) and kept under `name` → `ok <real length> <masked|padded>`. Unpadded inputs
///   are timed as interprim runs masked inputs ([`BertClassifier::masked_logits`], what
///   [`MaskedSentence::logits`] calls), padded ones through [`BertClassifier::infer_ids`].
/// - `hidden <name> <path>`: write the hidden states `(b, len, hidden)` f32 of the inputs
///   ([`BertClassifier::infer_hidden_states`]) to `path` → `ok <d>`, d = the largest absolute
///   difference between the timed path's logits and candle's `forward_ids` on the same inputs.
/// - `time <name> <seconds>`: run the inputs' inference path for at least `seconds` →
///   `ok <runs> <elapsed seconds>`.
/// - `peak <seconds>`: the f32 multiply-add rate of all threads in a register-only loop →
///   `ok <GFLOP/s>`.
mod peer {
    use super::*;
    use interprim::models::bert::Pooling;
    use interprim::models::checkpoint::{load_bert_classifier, HeadSource, ModelFiles};
    use std::collections::HashMap;
    use std::io::{BufRead, Write};
    use std::time::Instant;

    struct Inputs {
        ids: Tensor,
        mask: Tensor,
        /// For unpadded masked inputs: the sentence and the masks.
        masked: Option<(MaskedSentence, Vec<u32>)>,
    }

    fn run_inputs(m: &BertClassifier, inp: &Inputs) -> Result<Tensor, String> {
        match &inp.masked {
            Some((sentence, masks)) => sentence.logits(m, masks).map_err(|e| e.to_string()),
            None => m.infer_ids(&inp.ids, &inp.mask).map_err(|e| e.to_string()),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fma_loop(iters: u64) -> f32 {
        use std::arch::x86_64::*;
        let mut acc = [_mm256_set1_ps(0.0); 10];
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(1e-7);
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm256_setzero_ps();
        for x in acc {
            s = _mm256_add_ps(s, x);
        }
        let mut out = [0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), s);
        out.iter().sum()
    }

    /// FLOP/s of one thread's FMA loop (10 independent 8-wide chains).
    fn peak_one(seconds: f64) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            let iters = 1u64 << 22;
            let t = Instant::now();
            let mut n = 0u64;
            while t.elapsed().as_secs_f64() < seconds {
                // SAFETY: the CPU has AVX2 and FMA.
                black_box(unsafe { fma_loop(black_box(iters)) });
                n += iters;
            }
            return (n * 10 * 8 * 2) as f64 / t.elapsed().as_secs_f64();
        }
        0.0
    }

    fn handle(
        line: &str,
        model: &mut Option<(BertClassifier, TextTokenizer)>,
        inputs: &mut HashMap<String, Inputs>,
    ) -> Result<String, String> {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["load", dir] => {
                let files = ModelFiles::in_dir(std::path::Path::new(dir));
                let head = HeadSource::Fresh {
                    pooling: Pooling::Mean,
                    num_labels: 2,
                    seed: 0,
                };
                let m =
                    load_bert_classifier(&files, &head, &Device::Cpu).map_err(|e| e.to_string())?;
                let t = TextTokenizer::from_file(&files.tokenizer).map_err(|e| e.to_string())?;
                let s = format!(
                    "ok {} {}",
                    m.config().num_hidden_layers,
                    m.config().hidden_size
                );
                *model = Some((m, t));
                Ok(s)
            }
            ["inputs", name, b, len, path] => {
                let (m, tok) = model.as_ref().ok_or("load first")?;
                let b: usize = b.parse().map_err(|_| "bad b")?;
                let len: usize = len.parse().map_err(|_| "bad len")?;
                let baseline = Baseline::TokenId {
                    token: SpecialToken::Mask,
                }
                .resolve(m, tok, None)
                .map_err(|e| e.to_string())?;
                let sentence =
                    MaskedSentence::new(m, tok, &players(), baseline).map_err(|e| e.to_string())?;
                let real = sentence.len();
                if len < real || b == 0 || b > 1 << sentence.n() {
                    return Err(format!(
                        "need len >= {real} and 1 <= b <= {}",
                        1 << sentence.n()
                    ));
                }
                let masks: Vec<u32> = (0..b as u32).collect();
                let pad = tok.special().pad;
                let mut ids = Vec::with_capacity(b * len);
                let mut mask = Vec::with_capacity(b * len);
                for row in sentence.masked_ids(&masks).chunks(real) {
                    ids.extend_from_slice(row);
                    ids.extend(std::iter::repeat_n(pad, len - real));
                    mask.extend(std::iter::repeat_n(1u32, real));
                    mask.extend(std::iter::repeat_n(0u32, len - real));
                }
                let bytes: Vec<u8> = ids
                    .iter()
                    .chain(&mask)
                    .flat_map(|x| x.to_le_bytes())
                    .collect();
                std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}"))?;
                // Unpadded: time them as interprim times masked inputs (MaskedSentence::logits).
                let masked = (len == real).then_some((sentence, masks));
                let ids =
                    Tensor::from_vec(ids, (b, len), &Device::Cpu).map_err(|e| e.to_string())?;
                let mask =
                    Tensor::from_vec(mask, (b, len), &Device::Cpu).map_err(|e| e.to_string())?;
                let kind = if masked.is_some() { "masked" } else { "padded" };
                inputs.insert(name.to_string(), Inputs { ids, mask, masked });
                Ok(format!("ok {real} {kind}"))
            }
            ["hidden", name, path] => {
                let (m, _) = model.as_ref().ok_or("load first")?;
                let inp = inputs.get(*name).ok_or("unknown inputs")?;
                let embeds = m.embed_ids(&inp.ids).map_err(|e| e.to_string())?;
                let h = m
                    .infer_hidden_states(&embeds, &inp.mask)
                    .map_err(|e| e.to_string())?;
                let v: Vec<f32> = h
                    .flatten_all()
                    .and_then(|t| t.to_vec1())
                    .map_err(|e| e.to_string())?;
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}"))?;
                let fast = run_inputs(m, inp)?;
                let reference = m
                    .forward_ids(&inp.ids, &inp.mask)
                    .map_err(|e| e.to_string())?;
                let d = (fast - reference)
                    .and_then(|d| d.abs())
                    .and_then(|d| d.flatten_all())
                    .and_then(|d| d.max(0))
                    .and_then(|d| d.to_scalar::<f32>())
                    .map_err(|e| e.to_string())?;
                Ok(format!("ok {d:e}"))
            }
            ["time", name, secs] => {
                let (m, _) = model.as_ref().ok_or("load first")?;
                let inp = inputs.get(*name).ok_or("unknown inputs")?;
                let secs: f64 = secs.parse().map_err(|_| "bad seconds")?;
                black_box(run_inputs(m, inp)?); // warm-up
                let t = Instant::now();
                let mut n = 0;
                while n == 0 || t.elapsed().as_secs_f64() < secs {
                    black_box(run_inputs(m, inp)?);
                    n += 1;
                }
                Ok(format!("ok {n} {}", t.elapsed().as_secs_f64()))
            }
            ["peak", secs] => {
                let secs: f64 = secs.parse().map_err(|_| "bad seconds")?;
                let threads = rayon::current_num_threads();
                let total: f64 = std::thread::scope(|s| {
                    let hs: Vec<_> = (0..threads).map(|_| s.spawn(|| peak_one(secs))).collect();
                    hs.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
                });
                Ok(format!("ok {}", total / 1e9))
            }
            _ => Err(format!("unknown command {line:?}")),
        }
    }

    pub fn main() {
        let mut model = None;
        let mut inputs = HashMap::new();
        let stdin = std::io::stdin();
        let mut out = std::io::stdout();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            let reply = match handle(&line, &mut model, &mut inputs) {
                Ok(s) => s,
                Err(e) => format!("error {}", e.replace('\n', " ")),
            };
            if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
                break;
            }
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--peer-worker") {
        peer::main();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    forwards(&mut c);
    digits(&mut c);
    lms(&mut c);
    c.final_summary();
}
