//! Masked forward passes per second of the two default sentiment classifiers (fine-tuned
//! MiniLM-L3 and MiniLM-L6, CPU), the cost that dominates a sample of the replication (2^10 masked
//! inputs per model; extraction itself takes ~0.3 s).
//!
//! - `real_length/<model>/<batch>`: what interprim does — the sentence at its real token length,
//!   masked at the embedding level with the `[MASK]` embedding, batches of 16…256 masked inputs.
//! - `padded_50/<model>/16`: the authors' setting on the same model and sentence — batches of 16,
//!   every input padded to 50 tokens (attention mask 0 on the padding), token-id masking.
//!
//! Criterion's throughput is in masked inputs per second. Needs the sentiment assets
//! (`scripts/fetch-assets.sh sentiment`); without them it prints a note and measures nothing.
//! Results: BENCHMARKS.md.

use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use interprim::models::tokenizer::pad_batch;
use interprim::text::baseline::{Baseline, SpecialToken};
use interprim::text::players::{PlayerSelection, Players};
use interprim::text::value::MaskedSentence;
use interprim::train::{load_sentiment_classifier, SentimentModel};
use std::hint::black_box;
use std::time::Duration;

/// A test-split sentence (Rotten Tomatoes, default split) of typical length for the replication's
/// samples: 24 words, 28 tokens with [CLS] and [SEP].
const SENTENCE: &str = "Here, common sense flies out the window, along with the hail of bullets, none of which ever seem to hit Sascha.";

/// The authors' fixed input length.
const PADDED_LEN: usize = 50;

fn forwards(c: &mut Criterion) {
    let mut loaded = Vec::new();
    for model in SentimentModel::ALL {
        match load_sentiment_classifier(model, None, &Device::Cpu) {
            Ok(pair) => loaded.push((model, pair)),
            Err(e) => {
                eprintln!(
                    "forwards bench: {} not available ({e}); run scripts/fetch-assets.sh sentiment",
                    model.name()
                );
                return;
            }
        }
    }
    let players = Players::select(SENTENCE, &PlayerSelection::Seeded { n: 10, seed: 0 })
        .expect("the bench sentence has 10 content words");
    let masks: Vec<u32> = (0..1u32 << 10).collect();

    let mut g = c.benchmark_group("real_length");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (model, (classifier, tokenizer)) in &loaded {
        let baseline = Baseline::TokenEmbedding {
            token: SpecialToken::Mask,
        }
        .resolve(classifier, tokenizer, None)
        .unwrap();
        let sentence = MaskedSentence::new(classifier, tokenizer, &players, baseline).unwrap();
        eprintln!("{}: {} tokens at real length", model.name(), sentence.len());
        for batch in [16usize, 32, 64, 128, 256] {
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_with_input(
                BenchmarkId::new(model.name(), batch),
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
    for (model, (classifier, tokenizer)) in &loaded {
        let baseline = Baseline::TokenId {
            token: SpecialToken::Mask,
        }
        .resolve(classifier, tokenizer, None)
        .unwrap();
        let sentence = MaskedSentence::new(classifier, tokenizer, &players, baseline).unwrap();
        assert!(sentence.len() <= PADDED_LEN);
        let batch = 16usize;
        let ids = sentence.masked_ids(&masks[..batch]);
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
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new(model.name(), batch), &batch, |b, _| {
            b.iter(|| black_box(classifier.forward_ids(&input, &mask).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, forwards);
criterion_main!(benches);
