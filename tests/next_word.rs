//! Task 2 on the real GGUF language models (SmolLM2-135M, Gemma-3-270M): tokenizers built from
//! the GGUF metadata, masked-prompt evaluation, values, universal matching, player mapping,
//! input errors and `interprim replicate next-word` end to end.
//!
//! Skipped with a message when the assets are missing (`scripts/fetch-assets.sh sentiment lm`),
//! unless INTERPRIM_REQUIRE_ASSETS is set.

use std::process::Command;
use std::sync::OnceLock;

use candle_core::Device;
use interprim::decomposition::{decompose_generalizable, DecompositionOptions, Optimizer};
use interprim::game::{evaluate, Budget, EvalOptions};
use interprim::games::lm::{greedy_next_word, log_odds_f32, LmBaseline, LmGame, MaskedPrompt};
use interprim::models::assets;
use interprim::models::causal_lm::CausalLm;
use interprim::models::gemma3::Activation;
use interprim::text::players::{PlayerSelection, Players};

fn assets_present(test: &str) -> bool {
    let ok = assets::smollm2_gguf().exists()
        && assets::gemma3_gguf().exists()
        && interprim::data::prompts::nyt_path().exists();
    if !ok {
        if std::env::var_os("INTERPRIM_REQUIRE_ASSETS").is_some() {
            panic!("{test}: assets missing: run scripts/fetch-assets.sh sentiment lm");
        }
        eprintln!("SKIPPED {test}: assets missing (run scripts/fetch-assets.sh sentiment lm)");
    }
    ok
}

fn models() -> &'static [CausalLm; 2] {
    static M: OnceLock<[CausalLm; 2]> = OnceLock::new();
    M.get_or_init(|| {
        [
            CausalLm::load("SmolLM2-135M", &assets::smollm2_gguf(), &Device::Cpu).unwrap(),
            CausalLm::load("Gemma-3-270M", &assets::gemma3_gguf(), &Device::Cpu).unwrap(),
        ]
    })
}

/// The first 30 words of the first NYT editorial (the file's first document).
const PROMPT: &str = "On Dec. 19, around noon, New York City's Union Square Business Improvement District plans the First Santa Claus Ulympics (that's yule-lympics), in which about 50 contestants, in red";

fn snippets(k: usize) -> Vec<String> {
    let text = std::fs::read_to_string(interprim::data::prompts::nyt_path()).unwrap();
    let docs =
        interprim::data::prompts::parse_documents(&text, std::path::Path::new("nyt")).unwrap();
    docs.into_iter().take(k).map(|(_, t)| t).collect()
}

#[test]
fn tokenizers_round_trip_real_text() {
    if !assets_present("tokenizers_round_trip_real_text") {
        return;
    }
    let mut texts = snippets(150);
    texts.extend(
        [
            "Héllo wörld — naïve café, 3.14159 and 2024!",
            "Tabs\tand\nnew lines  and   runs of spaces",
            "emoji 🧠🚀 and CJK 漢字 and Ελληνικά",
            "''quoted'' (parenthesised) [bracketed] {braced}",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for lm in models() {
        let t = lm.tokenizer();
        for text in &texts {
            let enc = t.encode(text).unwrap();
            assert_eq!(&t.decode(&enc.ids).unwrap(), text, "{}", lm.name());
            // every non-special token's offsets lie inside the text, in order
            let mut last = 0;
            for (r, s) in enc.offsets.iter().zip(&enc.special) {
                if !s {
                    assert!(r.end <= text.len() && r.start >= last.min(r.start));
                    last = r.end;
                }
            }
        }
    }
}

#[test]
fn tokenizer_invariants_and_known_ids() {
    if !assets_present("tokenizer_invariants_and_known_ids") {
        return;
    }
    let [smol, gemma] = models();
    // SmolLM2: byte-level BPE, no BOS, " the" is one token (a merge result), digits split
    let s = smol.tokenizer();
    assert!(!s.adds_bos());
    let the = s.token_id("Ġthe").unwrap();
    assert_eq!(s.encode(" the").unwrap().ids, vec![the]);
    assert_eq!(s.encode("The cat").unwrap().tokens, vec!["The", "Ġcat"]);
    assert_eq!(s.encode("2024").unwrap().ids.len(), 4, "digits are split");
    assert_eq!(s.unk(), Some(0));
    assert_eq!(s.token(0), Some("<|endoftext|>"));
    // Regression ids of our tokenizer on the first NYT words. No published SmolLM2/Gemma 3 id
    // sequence was found to compare with; the tokens agree with the pre-tokenizer rules (digits
    // split, GPT-2 regex) and the model's low next-token loss on real text (see
    // gemma_uses_gelu_better_likelihood_than_silu) would not survive a wrong tokenization.
    let enc = s.encode("On Dec. 19, around noon").unwrap();
    assert_eq!(
        enc.tokens,
        ["On", "ĠDec", ".", "Ġ", "1", "9", ",", "Ġaround", "Ġnoon"]
    );
    assert_eq!(enc.ids, [3280, 6069, 30, 216, 33, 41, 28, 1130, 27616]);

    // Gemma 3: SentencePiece BPE, BOS first, ▁ for spaces, byte fallback
    let g = gemma.tokenizer();
    assert!(g.adds_bos());
    let enc = g.encode("On Dec. 19, around noon").unwrap();
    assert_eq!(enc.ids[0], 2);
    assert_eq!(enc.tokens[0], "<bos>");
    assert!(enc.special[0] && !enc.special[1]);
    assert_eq!(
        &enc.tokens[1..],
        ["On", "▁Dec", ".", "▁", "1", "9", ",", "▁around", "▁noon"]
    );
    assert_eq!(
        g.encode(" the").unwrap().ids,
        vec![2, g.token_id("▁the").unwrap()]
    );
    assert_eq!(g.unk(), Some(3));
    // a character outside the vocabulary falls back to its UTF-8 bytes and decodes back
    let rare = "\u{10FFFD}";
    let e = g.encode(rare).unwrap();
    assert!(
        e.tokens[1..].iter().all(|t| t.starts_with("<0x")),
        "{:?}",
        e.tokens
    );
    assert_eq!(g.decode(&e.ids).unwrap(), rare);
}

#[test]
fn gemma_uses_gelu_better_likelihood_than_silu() {
    if !assets_present("gemma_uses_gelu_better_likelihood_than_silu") {
        return;
    }
    let mut gemma = CausalLm::load("Gemma-3-270M", &assets::gemma3_gguf(), &Device::Cpu).unwrap();
    let ids = gemma.tokenizer().encode(PROMPT).unwrap().ids;
    let nll = |lm: &CausalLm| {
        // teacher forcing with the KV cache, one token at a time
        let mut cache = None;
        let mut total = 0.0;
        for t in 0..ids.len() - 1 {
            let (l, c) = lm.forward(&ids[t..t + 1], 1, cache.as_ref()).unwrap();
            cache = Some(c);
            let row: Vec<f32> = l.squeeze(0).unwrap().to_vec1().unwrap();
            let lo = log_odds_f32(&row, ids[t + 1] as usize);
            // −log p from the log-odds: log p = lo − log(1 + e^lo)
            total -= lo - (1.0 + lo.exp()).ln();
        }
        total / (ids.len() - 1) as f64
    };
    let gelu = nll(&gemma);
    gemma.set_gemma_activation(Activation::Silu);
    let silu = nll(&gemma);
    assert!(gelu < silu - 0.3, "nll gelu {gelu} vs silu {silu}");
    assert!(gelu < 4.5, "nll {gelu} nats/token is not a working LM");
}

#[test]
fn kv_cache_and_batches_match_single_forwards() {
    if !assets_present("kv_cache_and_batches_match_single_forwards") {
        return;
    }
    for lm in models() {
        let ids = lm.tokenizer().encode(PROMPT).unwrap().ids;
        let whole = lm.next_token_logits_one(&ids).unwrap();
        let (_, c) = lm.forward(&ids[..17], 1, None).unwrap();
        let (split, _) = lm.forward(&ids[17..], 1, Some(&c)).unwrap();
        let split: Vec<f32> = split.squeeze(0).unwrap().to_vec1().unwrap();
        let d = whole
            .iter()
            .zip(&split)
            .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
        assert!(d < 1e-3, "{}: cache split differs by {d}", lm.name());
    }
}

fn players(prompt: &str, n: usize) -> Players {
    Players::select(prompt, &PlayerSelection::Seeded { n, seed: 0 }).unwrap()
}

/// A masked prompt's log-odds are the same bits whatever the batch size (1, 7 or all 32 masks at
/// once) and the number of threads (1 or 2), for the prefix-sharing evaluation and for whole
/// prompts: every dense layer's summation order depends on its input width only
/// (`decoder::linear`). So the values, and everything computed from them, do not change with
/// `--batch-size` or the machine's core count.
#[test]
fn lm_masked_values_do_not_depend_on_batch_size_or_threads() {
    if !assets_present("lm_masked_values_do_not_depend_on_batch_size_or_threads") {
        return;
    }
    let p = players(PROMPT, 5);
    let bits = |v: Vec<f64>| -> Vec<u64> { v.iter().map(|x| x.to_bits()).collect() };
    for lm in models() {
        let y = greedy_next_word(lm, PROMPT, 6).unwrap().tokens[0];
        let m = MaskedPrompt::new(lm, &p, &LmBaseline::Unk).unwrap();
        let all = bits(m.log_odds(lm, y, 32, None).unwrap());
        let whole = bits(m.log_odds_unshared(lm, y, 32).unwrap());
        for batch in [1usize, 7] {
            assert_eq!(
                bits(m.log_odds(lm, y, batch, None).unwrap()),
                all,
                "{}: prefix sharing, batch size {batch}",
                lm.name()
            );
            assert_eq!(
                bits(m.log_odds_unshared(lm, y, batch).unwrap()),
                whole,
                "{}: whole prompts, batch size {batch}",
                lm.name()
            );
        }
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let in_pool = pool.install(|| bits(m.log_odds(lm, y, 32, None).unwrap()));
            assert_eq!(in_pool, all, "{}: {threads} threads", lm.name());
        }
    }
}

#[test]
fn masked_batch_equals_unbatched_and_full_mask_is_the_plain_log_odds() {
    if !assets_present("masked_batch_equals_unbatched") {
        return;
    }
    let p = players(PROMPT, 5);
    for lm in models() {
        let next = greedy_next_word(lm, PROMPT, 6).unwrap();
        let y = next.tokens[0];
        let m = MaskedPrompt::new(lm, &p, &LmBaseline::Unk).unwrap();
        let shared = m.log_odds(lm, y, 7, None).unwrap();
        let unshared = m.log_odds_unshared(lm, y, 16).unwrap();
        assert_eq!(shared.len(), 32);
        for mask in 0..32u32 {
            let single = lm.next_token_logits_one(&m.masked_ids(mask)).unwrap();
            let lo = log_odds_f32(&single, y as usize);
            assert!(
                (shared[mask as usize] - lo).abs() < 2e-3
                    && (unshared[mask as usize] - lo).abs() < 2e-3,
                "{} mask {mask}: shared {} unshared {} single {lo}",
                lm.name(),
                shared[mask as usize],
                unshared[mask as usize]
            );
        }
        // v(x_N) is the plain model's log-odds of the target on the unmasked prompt
        let ids = lm.tokenizer().encode(PROMPT).unwrap().ids;
        assert_eq!(m.masked_ids(31), ids);
        let plain = log_odds_f32(&lm.next_token_logits_one(&ids).unwrap(), y as usize);
        let g = LmGame::new(lm, &p, &LmBaseline::Unk, y, 16).unwrap();
        let v = evaluate(&g, &EvalOptions::centred(), None).unwrap();
        assert!((v.raw_full - plain).abs() < 2e-3);
        assert_eq!(v.v[0], 0.0);
        // the masked prompt keeps the length and replaces exactly the players' tokens
        let empty = m.masked_ids(0);
        assert_eq!(empty.len(), ids.len());
        let unk = lm.tokenizer().unk().unwrap();
        let covered: usize = m.player_tokens.iter().map(Vec::len).sum();
        assert_eq!(empty.iter().filter(|&&t| t == unk).count(), covered);
        let (run, all) = m.token_work();
        assert!(run < all);
    }
}

#[test]
fn players_map_onto_both_tokenizations() {
    if !assets_present("players_map_onto_both_tokenizations") {
        return;
    }
    let p = players(PROMPT, 10);
    for lm in models() {
        let m = MaskedPrompt::new(lm, &p, &LmBaseline::Unk).unwrap();
        assert_eq!(m.n(), 10);
        for (w, set) in p.words.iter().zip(&m.player_tokens) {
            // the word's tokens decode to the word (a leading space aside)
            let ids: Vec<u32> = set.iter().map(|&t| m.encoded.ids[t]).collect();
            assert_eq!(
                lm.tokenizer().decode(&ids).unwrap().trim(),
                w.text,
                "{}",
                lm.name()
            );
            // and their offsets cover the word's bytes
            let first = m.encoded.offsets[set[0]].start;
            let last = m.encoded.offsets[*set.last().unwrap()].end;
            assert!(first <= w.bytes.start && last >= w.bytes.end);
        }
    }
}

#[test]
fn universal_matching_on_a_real_prompt() {
    if !assets_present("universal_matching_on_a_real_prompt") {
        return;
    }
    let p = players(PROMPT, 8);
    let [smol, gemma] = models();
    let (a, b) = (
        greedy_next_word(smol, PROMPT, 6).unwrap(),
        greedy_next_word(gemma, PROMPT, 6).unwrap(),
    );
    let eval = EvalOptions {
        budget: Budget::unlimited(),
        ..EvalOptions::centred()
    };
    let centred = |lm, target| {
        let g = LmGame::new(lm, &p, &LmBaseline::Unk, target, 64).unwrap();
        evaluate(&g, &eval, None).unwrap().v
    };
    let (ca, cb) = (centred(smol, a.tokens[0]), centred(gemma, b.tokens[0]));
    let opts = DecompositionOptions {
        sgd_generalizable: Optimizer {
            niter: 2000,
            ..Optimizer::generalizable()
        }
        .with_lr(1e-7),
        ..DecompositionOptions::sgd(2000)
    };
    let d = decompose_generalizable(&[&ca, &cb], &opts).unwrap();
    for (i, v) in [&ca, &cb].into_iter().enumerate() {
        let raw = d.interactions[i].reconstruct();
        let re = d.reorganised()[i].reconstruct();
        for t in 0..v.len() {
            assert!(
                (raw[t] - v[t] - d.eps[i][t]).abs() < 1e-9,
                "model {i} T={t}"
            );
            assert!((re[t] - raw[t]).abs() < 1e-9);
            assert!(d.eps[i][t].abs() <= d.eps_bounds[i] + 1e-12);
        }
    }
}

#[test]
fn input_errors_are_results() {
    if !assets_present("input_errors_are_results") {
        return;
    }
    let [smol, gemma] = models();
    for lm in [smol, gemma] {
        let e = greedy_next_word(lm, "   ", 3).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let p = players(PROMPT, 4);
        let e = MaskedPrompt::new(lm, &p, &LmBaseline::Token("no such token ✗✗".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("baseline"), "{e}");
        let m = MaskedPrompt::new(lm, &p, &LmBaseline::Unk).unwrap();
        assert!(m.log_odds(lm, 0, 0, None).is_err(), "batch size 0");
        assert!(
            m.log_odds(lm, u32::MAX, 8, None).is_err(),
            "target outside the vocabulary"
        );
        assert!(lm.next_token_logits(&[], 1).is_err());
        assert!(lm.next_token_logits(&[1, 2, 3], 2).is_err());
        assert!(lm.next_token_logits(&[u32::MAX], 1).is_err());
    }
    // fewer content words than players
    let e = Players::select("The cat sat.", &PlayerSelection::Seeded { n: 10, seed: 0 })
        .unwrap_err()
        .to_string();
    assert!(e.contains("content words"), "{e}");
    // a missing model file names the fix
    let e = CausalLm::load("x", std::path::Path::new("/nonexistent.gguf"), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("fetch-assets"), "{e}");
}

#[test]
fn replicate_next_word_writes_summary_and_resumes() {
    if !assets_present("replicate_next_word_writes_summary_and_resumes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cache = dir.path().join("cache");
    let args = [
        "replicate",
        "next-word",
        "--samples",
        "2",
        "--n",
        "6",
        "--niter",
        "2000",
        "--out",
        out.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_interprim"))
            .args(args)
            .output()
            .unwrap()
    };
    let o = run();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        interprim::export::read_json(&out.join("summary.json")).unwrap();
    assert_eq!(summary["samples"], 2);
    assert_eq!(
        summary["k"],
        serde_json::json!([3, 6, 9, 12, 16, 19, 22, 25, 28])
    );
    for method in ["generalizable", "traditional"] {
        for kind in ["s_and", "s_or"] {
            let v = summary[method][kind].as_array().unwrap();
            assert_eq!(v.len(), 9);
            assert!(v.iter().all(|x| (0.0..=1.0).contains(&x.as_f64().unwrap())));
        }
    }
    let agreement = summary["accuracy"][interprim::tasks::next_word::AGREEMENT_KEY]
        .as_f64()
        .unwrap();
    assert!(agreement > 0.0 && agreement <= 1.0);
    assert!(summary["seconds_per_sample"].as_f64().unwrap() > 0.0);
    let html = std::fs::read_to_string(out.join("figures.html")).unwrap();
    assert!(html.contains("Fig. 2") && html.contains("Fig. 3") && html.contains("Fig. 4"));
    assert!(std::fs::read_to_string(out.join("comparison.md"))
        .unwrap()
        .contains("46.61"));
    let prompts: serde_json::Value =
        interprim::export::read_json(&out.join("prompts.json")).unwrap();
    assert_eq!(prompts.as_array().unwrap().len(), 2);
    assert_eq!(std::fs::read_dir(out.join("samples")).unwrap().count(), 2);
    let modified = |p: &std::path::Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let first_sample = std::fs::read_dir(out.join("samples"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let before = modified(&first_sample);

    // a second run reuses the value cache and every saved sample
    let start = std::time::Instant::now();
    let o2 = run();
    assert!(
        o2.status.success(),
        "{}",
        String::from_utf8_lossy(&o2.stderr)
    );
    assert_eq!(modified(&first_sample), before, "the sample was recomputed");
    let again: serde_json::Value = interprim::export::read_json(&out.join("summary.json")).unwrap();
    assert_eq!(again["samples"], 2);
    assert_eq!(again["k"], summary["k"]);
    // values read from the cache report the time they took to compute, not the read
    let prompts2: serde_json::Value =
        interprim::export::read_json(&out.join("prompts.json")).unwrap();
    assert_eq!(prompts2, prompts);
    let secs = |s: &serde_json::Value| s["seconds"]["values"].as_f64().unwrap();
    assert!((secs(&again) - secs(&summary)).abs() < 0.5 * secs(&summary));
    eprintln!("resumed run: {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn replicate_next_word_as_a_library_call_returns_the_study() {
    if !assets_present("replicate_next_word_as_a_library_call_returns_the_study") {
        return;
    }
    use interprim::tasks::next_word::{
        prompt_values, read_prompt_records, replicate_next_word, NextWordArgs,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut args = NextWordArgs {
        n: 6,
        ..Default::default()
    };
    args.run.samples = 1;
    args.run.out = dir.path().join("out");
    args.run.cache = Some(interprim::game::ValueCache::new(dir.path().join("cache")));
    args.run.decomposition = DecompositionOptions::sgd(2000);
    let mut none = args.clone();
    none.run.samples = 0;
    assert!(replicate_next_word(&none, None).is_err());
    let study = replicate_next_word(&args, None).unwrap();
    assert_eq!(study.summary.samples, 1);
    assert_eq!(study.results.len(), 1);
    assert_eq!(study.n(), 6);
    assert_eq!(
        study.models(),
        &["SmolLM2-135M".to_string(), "Gemma-3-270M".to_string()]
    );
    assert!(study.sparsity_figure(1).is_ok() && study.order_figure("generalizable", 0).is_ok());
    let records = read_prompt_records(&study.out).unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.players, study.results[0].players);
    for m in &r.models {
        let p = m.probability();
        assert!(p > 0.0 && p < 1.0, "{p}");
    }

    // the single-prompt view reads the run's values back from the cache
    let values = prompt_values(&models()[..], r, &args).unwrap();
    assert_eq!(values.models.len(), 2);
    for (m, v) in values.models.iter().zip(&study.results[0].values) {
        assert!(m.values.from_cache, "{} was recomputed", m.model);
        assert_eq!(m.v(), &v[..]);
        assert_eq!(m.v()[0], 0.0);
    }
    let opts = interprim::api::ExtractOptions::default();
    let g = interprim::api::extract_generalizable_from_values(&values, &opts, None).unwrap();
    assert_eq!(g.n, 6);
    // other players than the run's: an error, not a panic
    let wrong = NextWordArgs {
        n: 5,
        ..args.clone()
    };
    assert!(prompt_values(&models()[..], r, &wrong).is_err());

    // resumed: same numbers, no recomputation
    let again = replicate_next_word(&args, None).unwrap();
    assert_eq!(again.results[0].fingerprint, study.results[0].fingerprint);
    assert_eq!(
        again.summary.generalizable.s_and,
        study.summary.generalizable.s_and
    );
}
