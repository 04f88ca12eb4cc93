//! The CPU inference paths against candle's layers, which stay the reference:
//! - `BertClassifier` (`masked_logits`, `infer_*`, used by `MaskedSentence::logits`) against
//!   candle-transformers' `BertEncoder` (`forward_embeds` / `forward_ids` / `hidden_states`);
//! - `DigitClassifier::logits_tensor` against `logits_tensor_candle` (ResNet-20, VGG-16-style).
//!
//! On random tiny BERTs and the committed digit weights the tests always run; on the fine-tuned
//! sentiment models and real test sentences they need `scripts/fetch-assets.sh sentiment`
//! (skipped with a note when absent, failed when INTERPRIM_REQUIRE_ASSETS is set). Log-odds must
//! agree within 1e-5 relative (|Δ| ≤ 1e-5 · max(|lo|, 1): below 1 in magnitude the bound is
//! absolute, as f32 logits of size ~1 carry ~1e-7 of rounding).

mod common;
use common::max_abs_diff;

use std::collections::BTreeMap;
use std::io::Write;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use interprim::data::sentences::default_split;
use interprim::models::bert::{BertClassifier, Config, Pooling};
use interprim::models::registry::SentimentModel;
use interprim::models::tokenizer::pad_batch;
use interprim::tasks::sentiment::load_default_model;
use interprim::text::baseline::{Baseline, SpecialToken};
use interprim::text::masking::{log_odds, MaskedSentence};
use interprim::text::players::{PlayerSelection, Players};
use rand::{Rng, SeedableRng};

fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn vec2(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2().unwrap()
}

/// Largest |Δ log-odds| / max(|lo|, 1) over the rows, for the class the reference predicts on
/// its first row (and every other class too, for two-class heads they are the same up to sign).
fn worst_log_odds(fast: &Tensor, reference: &Tensor) -> f64 {
    let (f, r) = (vec2(fast), vec2(reference));
    assert_eq!(f.len(), r.len());
    let mut worst = 0f64;
    for (a, b) in f.iter().zip(&r) {
        let a: Vec<f64> = a.iter().map(|&x| x as f64).collect();
        let b: Vec<f64> = b.iter().map(|&x| x as f64).collect();
        for y in 0..a.len() {
            let (la, lb) = (log_odds(&a, y), log_odds(&b, y));
            worst = worst.max((la - lb).abs() / lb.abs().max(1.0));
        }
    }
    worst
}

// ---------------------------------------------------------------------------------------------
// Tiny random models (always run)

fn tiny(pooling: Pooling, act: &str, seed: u64) -> BertClassifier {
    let (v, h, i, p) = (40, 24, 40, 20);
    let cfg: Config =
        serde_json::from_value(common::tiny_bert::config_json(v, h, i, p, 2, 3, act)).unwrap();
    let mut shapes = common::tiny_bert::encoder_shapes(v, h, i, p, 2);
    shapes.extend([
        ("pooler.dense.weight".into(), vec![h, h]),
        ("pooler.dense.bias".into(), vec![h]),
        ("classifier.weight".into(), vec![3, h]),
        ("classifier.bias".into(), vec![3]),
    ]);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let tensors: BTreeMap<String, Tensor> = shapes
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let is_norm_w = name.ends_with("LayerNorm.weight");
            let v: Vec<f32> = (0..n)
                .map(|_| {
                    let x: f32 = rng.random_range(-1.0..1.0);
                    if is_norm_w {
                        1.0 + 0.2 * x
                    } else {
                        0.6 * x
                    }
                })
                .collect();
            (name, Tensor::from_vec(v, shape, &Device::Cpu).unwrap())
        })
        .collect();
    let vb = VarBuilder::from_tensors(tensors.into_iter().collect(), DType::F32, &Device::Cpu);
    BertClassifier::load(vb, &cfg, pooling, 3).unwrap()
}

#[test]
fn tiny_masked_logits_equal_candle() {
    for (pooling, act) in [
        (Pooling::Mean, "gelu"),
        (Pooling::Cls, "gelu"),
        (Pooling::Mean, "relu"),
    ] {
        let m = tiny(pooling, act, 3);
        let ids: Vec<u32> = vec![2, 17, 5, 33, 8, 21, 9, 3];
        let len = ids.len();
        let ids_t = Tensor::from_vec(ids, (1, len), &Device::Cpu).unwrap();
        let words = m.embed_ids(&ids_t).unwrap();
        let baseline = m.word_embeddings().get(4).unwrap();
        // 2^6 masks over tokens 1..=6, batch of 64 (several groups per thread)
        let mut keep = Vec::new();
        for mask in 0..64u32 {
            for t in 0..len {
                keep.push(!(1..=6).contains(&t) || mask >> (t - 1) & 1 == 1);
            }
        }
        let fast = m.masked_logits(&words, &baseline, &keep).unwrap();
        let keep_t = Tensor::from_vec(
            keep.iter().map(|&k| k as u8 as f32).collect::<Vec<_>>(),
            (64, len, 1),
            &Device::Cpu,
        )
        .unwrap();
        let x = (words.broadcast_mul(&keep_t).unwrap()
            + (1.0 - &keep_t)
                .unwrap()
                .broadcast_mul(&baseline.reshape((1, 1, ())).unwrap())
                .unwrap())
        .unwrap();
        let ones = Tensor::ones((64, len), DType::F32, &Device::Cpu).unwrap();
        let reference = m.forward_embeds(&x, &ones).unwrap();
        let d = max_abs_diff(&fast, &reference);
        assert!(d < 2e-5, "{pooling:?} {act}: max |Δ logits| {d}");
        // per-position replacement rows give the same as a single row repeated
        let rows = baseline.reshape((1, ())).unwrap().repeat((len, 1)).unwrap();
        let again = m.masked_logits(&words, &rows, &keep).unwrap();
        assert_eq!(max_abs_diff(&fast, &again), 0.0);
    }
}

#[test]
fn tiny_padded_batches_equal_candle() {
    for pooling in [Pooling::Mean, Pooling::Cls] {
        let m = tiny(pooling, "gelu", 5);
        let seqs: Vec<Vec<u32>> = vec![
            vec![2, 10, 11, 12, 3],
            vec![2, 30, 3],
            vec![2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 3],
            vec![2, 3],
        ];
        let refs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
        let batch = pad_batch(&refs, 0, &Device::Cpu).unwrap();
        let fast = m
            .infer_ids(&batch.input_ids, &batch.attention_mask)
            .unwrap();
        let reference = m
            .forward_ids(&batch.input_ids, &batch.attention_mask)
            .unwrap();
        let d = max_abs_diff(&fast, &reference);
        assert!(d < 2e-5, "{pooling:?}: max |Δ logits| {d}");
        let embeds = m.embed_ids(&batch.input_ids).unwrap();
        let hf = m
            .infer_hidden_states(&embeds, &batch.attention_mask)
            .unwrap();
        let hr = m.hidden_states(&embeds, &batch.attention_mask).unwrap();
        let hf: Vec<Vec<Vec<f32>>> = hf.to_vec3().unwrap();
        let hr: Vec<Vec<Vec<f32>>> = hr.to_vec3().unwrap();
        for (i, s) in seqs.iter().enumerate() {
            for t in 0..s.len() {
                for c in 0..24 {
                    assert!((hf[i][t][c] - hr[i][t][c]).abs() < 2e-5);
                }
            }
            for row in &hf[i][s.len()..] {
                assert!(row.iter().all(|&x| x == 0.0), "padding is zeros");
            }
        }
    }
}

#[test]
fn tiny_errors_and_fallbacks() {
    let m = tiny(Pooling::Mean, "gelu", 1);
    let ids = Tensor::from_vec(vec![2u32, 7, 3], (1, 3), &Device::Cpu).unwrap();
    let words = m.embed_ids(&ids).unwrap();
    let row = m.word_embeddings().get(4).unwrap();
    assert!(m.masked_logits(&words, &row, &[true; 4]).is_err()); // not a multiple of 3
    let bad = Tensor::zeros(5, DType::F32, &Device::Cpu).unwrap();
    assert!(m.masked_logits(&words, &bad, &[true; 3]).is_err());
    let wide = Tensor::zeros((3, 7), DType::F32, &Device::Cpu).unwrap();
    assert!(m.masked_logits(&wide, &row, &[true; 3]).is_err());
    assert_eq!(m.masked_logits(&words, &row, &[]).unwrap().dims(), &[0, 3]);
    // a row without any real token and a non-0/1 mask take the candle path (same results)
    let ids = Tensor::from_vec(vec![2u32, 7, 3, 2, 9, 3], (2, 3), &Device::Cpu).unwrap();
    for mask in [vec![1u32, 1, 1, 0, 0, 0], vec![1u32, 1, 1, 1, 2, 1]] {
        let mask = Tensor::from_vec(mask, (2, 3), &Device::Cpu).unwrap();
        let a = m.infer_ids(&ids, &mask).unwrap();
        let b = m.forward_ids(&ids, &mask).unwrap();
        assert_eq!(max_abs_diff(&a, &b), 0.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The fine-tuned sentiment models on real sentences

#[test]
fn sentiment_models_masked_log_odds_equal_candle_on_real_sentences() {
    if !common::sentiment_assets("sentiment_models_masked_log_odds_equal_candle_on_real_sentences")
    {
        return;
    }
    let split = default_split().unwrap();
    // Real test sentences with at least 8 content words, the replication's kind of sample.
    let sentences: Vec<(&str, Players)> = split
        .test
        .iter()
        .filter_map(|s| {
            Players::select(&s.text, &PlayerSelection::Seeded { n: 8, seed: 0 })
                .ok()
                .map(|p| (s.text.as_str(), p))
        })
        .take(2)
        .collect();
    assert_eq!(sentences.len(), 2);
    for model in SentimentModel::ALL {
        let classifier = match load_default_model(model) {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
                    panic!("INTERPRIM_REQUIRE_ASSETS is set but {e}");
                }
                note(&format!("SKIPPED {}: {e}", model.name()));
                continue;
            }
        };
        let (m, tok) = (classifier.model(), classifier.tokenizer());
        let mask_row = m
            .word_embeddings()
            .get(tok.special().mask as usize)
            .unwrap();
        let mut worst = 0f64;
        for (text, players) in &sentences {
            for baseline in [
                Baseline::TokenEmbedding {
                    token: SpecialToken::Mask,
                },
                Baseline::TokenId {
                    token: SpecialToken::Mask,
                },
            ] {
                let resolved = baseline.clone().resolve(m, tok, None).unwrap();
                let s = MaskedSentence::new(m, tok, players, resolved).unwrap();
                let masks: Vec<u32> = (0..1u32 << s.n()).collect();
                let fast = s.logits(m, &masks).unwrap();
                // The previous implementation of MaskedSentence::logits: forward_ids on the masked
                // ids, or forward_embeds on the masked embeddings.
                let ones = Tensor::ones((masks.len(), s.len()), DType::U32, &Device::Cpu).unwrap();
                let reference = match baseline {
                    Baseline::TokenId { .. } => {
                        let ids = Tensor::from_vec(
                            s.masked_ids(&masks),
                            (masks.len(), s.len()),
                            &Device::Cpu,
                        )
                        .unwrap();
                        m.forward_ids(&ids, &ones).unwrap()
                    }
                    _ => {
                        let x = s.masked_embeds(m, &masks, &mask_row).unwrap();
                        m.forward_embeds(&x, &ones).unwrap()
                    }
                };
                let w = worst_log_odds(&fast, &reference);
                assert!(
                    w <= 1e-5,
                    "{}: {text:?}: log-odds differ by {w:e} (relative)",
                    model.name()
                );
                worst = worst.max(w);
            }
        }
        note(&format!(
            "{}: {} sentences × 2 baselines × 256 masks, worst relative log-odds difference {worst:.1e}",
            model.name(),
            sentences.len()
        ));
    }
}

/// The masked values of one sentence are bit-identical whatever the batch size (1, 37 or all 256
/// masks at once) and the number of threads (1 or 2): every product's reduction order depends on
/// the matrix's inner dimension only. So the values, and everything computed from them, do not
/// change with `--batch-size` or the machine's core count.
#[test]
fn masked_values_do_not_depend_on_batch_size_or_threads() {
    if !common::sentiment_assets("masked_values_do_not_depend_on_batch_size_or_threads") {
        return;
    }
    let split = default_split().unwrap();
    let (text, players) = split
        .test
        .iter()
        .find_map(|s| {
            Players::select(&s.text, &PlayerSelection::Seeded { n: 8, seed: 0 })
                .ok()
                .map(|p| (s.text.as_str(), p))
        })
        .unwrap();
    for model in SentimentModel::ALL {
        let classifier = load_default_model(model).unwrap();
        let (m, tok) = (classifier.model(), classifier.tokenizer());
        let resolved = Baseline::TokenEmbedding {
            token: SpecialToken::Mask,
        }
        .resolve(m, tok, None)
        .unwrap();
        let s = MaskedSentence::new(m, tok, &players, resolved).unwrap();
        let masks: Vec<u32> = (0..1u32 << s.n()).collect();
        let bits = |t: Tensor| -> Vec<u32> {
            t.flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect()
        };
        let all = bits(s.logits(m, &masks).unwrap());
        for chunk in [1usize, 37] {
            let chunked: Vec<u32> = masks
                .chunks(chunk)
                .flat_map(|c| bits(s.logits(m, c).unwrap()))
                .collect();
            assert_eq!(
                chunked,
                all,
                "{}: {text:?}: batch size {chunk}",
                model.name()
            );
        }
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let in_pool = pool.install(|| bits(s.logits(m, &masks).unwrap()));
            assert_eq!(
                in_pool,
                all,
                "{}: {text:?}: {threads} threads",
                model.name()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The digit CNNs (committed weights)

#[test]
fn digit_cnns_masked_log_odds_equal_candle() {
    use interprim::data::digits::PIXELS;
    use interprim::games::image::{masked_images, select_patches, PatchOptions};
    use interprim::models::registry::DigitModel;
    // A drawn "3": two arcs of ink on a blank 28×28 image, with some grey noise.
    let mut img = vec![0f32; PIXELS];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for (i, p) in img.iter_mut().enumerate() {
        let (y, x) = ((i / 28) as f32, (i % 28) as f32);
        let arc = |cy: f32| {
            ((((y - cy).powi(2) + (x - 13.0).powi(2)).sqrt() - 5.0).abs() < 1.5) && x > 11.0
        };
        *p = if arc(9.0) || arc(19.0) {
            1.0
        } else {
            rng.random_range(0.0..0.1)
        };
    }
    let patches = select_patches(&img, &PatchOptions::default()).unwrap();
    let images = masked_images(&img, &patches).unwrap();
    for model in DigitModel::ALL {
        let net = model.load(&Device::Cpu).unwrap();
        let fast = net.logits_tensor(&images).unwrap();
        let reference = net.logits_tensor_candle(&images).unwrap();
        let w = worst_log_odds(&fast, &reference);
        note(&format!(
            "{}: {} masked images, worst relative log-odds difference {w:.1e}",
            model.name(),
            images.len() / PIXELS
        ));
        assert!(
            w <= 1e-5,
            "{}: log-odds differ by {w:e} (relative)",
            model.name()
        );
        // batches of any size and any thread count give the same bits (gemm_fixed_k; before it,
        // gemm summed k = 576 as 512 + 64 for batches of ≤ 64 rows and as 288 + 288 above)
        let bits = |t: &Tensor| -> Vec<u32> {
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            v.iter().map(|x| x.to_bits()).collect()
        };
        let one = net.logits_tensor(&images[..3 * PIXELS]).unwrap();
        assert_eq!(bits(&one), bits(&fast.narrow(0, 0, 3).unwrap()));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let single = pool.install(|| net.logits_tensor(&images).unwrap());
        assert_eq!(bits(&single), bits(&fast), "{}: 1 thread", model.name());
    }
}
