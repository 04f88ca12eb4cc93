//! Probe: load both GGUF LMs, tokenize, check batching and the KV cache, time forwards.
use candle_core::Device;
use interprim::models::{assets, causal_lm::CausalLm, gemma3::Activation};
use std::time::Instant;

fn maxdiff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn nll(lm: &CausalLm, ids: &[u32]) -> f64 {
    let mut cache = None;
    let mut total = 0.0;
    for t in 0..ids.len() - 1 {
        let (l, c) = lm.forward(&ids[t..t + 1], 1, cache.as_ref()).unwrap();
        cache = Some(c);
        let l: Vec<f32> = l.squeeze(0).unwrap().to_vec1().unwrap();
        let m = l.iter().cloned().fold(f32::MIN, f32::max) as f64;
        let lse = m + l.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
        total += lse - l[ids[t + 1] as usize] as f64;
    }
    total / (ids.len() - 1) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text = "On Dec. 19, around noon, New York City's Union Square Business Improvement District plans the First Santa Claus Ulympics, in which about 50 contestants, in red suits and beards, will";
    for (name, path) in [
        ("SmolLM2", assets::smollm2_gguf()),
        ("Gemma3", assets::gemma3_gguf()),
    ] {
        let t = Instant::now();
        let mut lm = CausalLm::load(name, &path, &Device::Cpu)?;
        println!("{name}: load {:.2}s", t.elapsed().as_secs_f64());
        let enc = lm.tokenizer().encode(text)?;
        let len = enc.len();
        println!(
            "  {len} tokens, roundtrip {}",
            lm.tokenizer().decode(&enc.ids)? == text
        );
        let full = lm.next_token_logits_one(&enc.ids)?;
        let best = (0..full.len())
            .max_by(|&a, &b| full[a].total_cmp(&full[b]))
            .unwrap();
        println!(
            "  next token {best} {:?}",
            lm.tokenizer().token(best as u32)
        );
        // prefix + cache
        let (_, c) = lm.forward(&enc.ids[..20], 1, None)?;
        let (l2, _) = lm.forward(&enc.ids[20..], 1, Some(&c))?;
        println!(
            "  cache split maxdiff {}",
            maxdiff(&full, &l2.squeeze(0)?.to_vec1()?)
        );
        // batch of different sequences vs one at a time
        let seqs: Vec<Vec<u32>> = (0..4u32)
            .map(|k| {
                let mut s = enc.ids.clone();
                s[5 + k as usize] = 0;
                s
            })
            .collect();
        let flat: Vec<u32> = seqs.concat();
        let lb: Vec<Vec<f32>> = lm.next_token_logits(&flat, 4)?.to_vec2()?;
        let mut md = 0f32;
        for (k, s) in seqs.iter().enumerate() {
            md = md.max(maxdiff(&lb[k], &lm.next_token_logits_one(s)?));
        }
        println!("  batch vs single maxdiff {md}");
        for b in [16usize, 64] {
            let ids: Vec<u32> = (0..b).flat_map(|_| enc.ids.iter().copied()).collect();
            let t = Instant::now();
            let _ = lm.next_token_logits(&ids, b)?;
            let s = t.elapsed().as_secs_f64();
            println!(
                "  batch {b}: {s:.3}s, {:.1} seq/s, {:.0} tok/s",
                b as f64 / s,
                (b * len) as f64 / s
            );
        }
        if name == "Gemma3" {
            println!("  nll gelu {:.4}", nll(&lm, &enc.ids));
            lm.set_gemma_activation(Activation::Silu);
            println!("  nll silu {:.4}", nll(&lm, &enc.ids));
        } else {
            println!("  nll {:.4}", nll(&lm, &enc.ids));
        }
    }
    Ok(())
}
