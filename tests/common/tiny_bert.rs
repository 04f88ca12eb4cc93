//! Tiny random BERTs for the model tests: the tensor names and shapes of a HF `BertModel`
//! checkpoint (no pooler, no head) and a WordPiece tokenizer.json over a given vocabulary.

/// (name, shape) of every tensor of a BERT encoder with embeddings: vocabulary `v`, hidden size
/// `h`, intermediate size `i`, `p` positions, `layers` layers, in a fixed order (tests seed the
/// values by their index in this list).
pub fn encoder_shapes(
    v: usize,
    h: usize,
    i: usize,
    p: usize,
    layers: usize,
) -> Vec<(String, Vec<usize>)> {
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("embeddings.word_embeddings.weight".into(), vec![v, h]),
        ("embeddings.position_embeddings.weight".into(), vec![p, h]),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    for k in 0..layers {
        let pre = format!("encoder.layer.{k}");
        for m in [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ] {
            shapes.push((format!("{pre}.{m}.weight"), vec![h, h]));
            shapes.push((format!("{pre}.{m}.bias"), vec![h]));
        }
        shapes.push((format!("{pre}.intermediate.dense.weight"), vec![i, h]));
        shapes.push((format!("{pre}.intermediate.dense.bias"), vec![i]));
        shapes.push((format!("{pre}.output.dense.weight"), vec![h, i]));
        shapes.push((format!("{pre}.output.dense.bias"), vec![h]));
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            shapes.push((format!("{pre}.{ln}.weight"), vec![h]));
            shapes.push((format!("{pre}.{ln}.bias"), vec![h]));
        }
    }
    shapes
}

/// A BERT config.json for [`encoder_shapes`]`(v, h, i, p, layers)` with `heads` heads.
pub fn config_json(
    v: usize,
    h: usize,
    i: usize,
    p: usize,
    layers: usize,
    heads: usize,
    act: &str,
) -> serde_json::Value {
    serde_json::json!({
        "vocab_size": v, "hidden_size": h, "num_hidden_layers": layers,
        "num_attention_heads": heads, "intermediate_size": i, "hidden_act": act,
        "hidden_dropout_prob": 0.1, "max_position_embeddings": p, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "model_type": "bert"
    })
}

/// A lower-casing WordPiece tokenizer.json over `vocab`, whose first five entries must be
/// [PAD], [UNK], [CLS], [SEP], [MASK]. `fixed = Some((max_length, pad_to))` adds truncation to
/// `max_length` tokens and padding to `pad_to` (the settings a loader must switch off).
pub fn tokenizer_json(vocab: &[&str], fixed: Option<(usize, usize)>) -> String {
    assert_eq!(vocab[..5], ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
    let ids: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), serde_json::Value::from(i)))
        .collect();
    let added: Vec<serde_json::Value> = vocab[..5]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"id": i, "special": true, "content": t, "single_word": false,
                "lstrip": false, "rstrip": false, "normalized": false})
        })
        .collect();
    let (truncation, padding) = match fixed {
        None => (serde_json::Value::Null, serde_json::Value::Null),
        Some((max_length, pad_to)) => (
            serde_json::json!({"max_length": max_length, "strategy": "LongestFirst", "stride": 0}),
            serde_json::json!({"strategy": {"Fixed": pad_to}, "direction": "Right",
                "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}),
        ),
    };
    serde_json::json!({
        "version": "1.0", "truncation": truncation, "padding": padding, "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": ids}
    })
    .to_string()
}
