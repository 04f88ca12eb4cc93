//! Your own model, explained: a small candle network trained here in seconds on the scikit-learn
//! 8×8 digits (`scripts/fetch-assets.sh digits`), twice with two seeds, then explained with
//! generalizable extraction through interprim's `Game` trait — which interactions between image
//! blocks the two networks share, and which are their own.
//!
//! Run: `cargo run --release --example custom_model` (about 10 s on 2 cores).
//!
//! The user-side code is `mlp_game` (a closure that masks the absent players and returns the
//! model's output, wrapped in a `FnGame`) and everything below `// ---- interprim ----` in `main`:
//! `explain` and the printing.

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{linear, loss, ops, Linear, Module, Optimizer, VarBuilder, VarMap};
use interprim::explain::{explain, ExplainOptions};
use interprim::game::FnGame;
use interprim::metrics::shared_and_distinctive;
use interprim::{Coalition, Interactions, Result};
use std::io::Read;

/// A two-layer perceptron 64 → 32 → 10.
struct Mlp {
    hidden: Linear,
    out: Linear,
}

impl Mlp {
    fn new(vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Mlp {
            hidden: linear(64, 32, vb.pp("hidden"))?,
            out: linear(32, 10, vb.pp("out"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.out.forward(&self.hidden.forward(x)?.relu()?)
    }
}

/// The 1,797 digits: 64 pixel values in 0..=16 (scaled to [0, 1]) and the label.
fn load_digits() -> Result<(Vec<[f32; 64]>, Vec<u32>)> {
    let path = interprim::models::assets::asset_root().join("digits/sklearn-digits.csv.gz");
    let file = std::fs::File::open(&path).map_err(|e| interprim::Error::io(&path, e))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .map_err(|e| interprim::Error::io(&path, e))?;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let cells: Vec<f32> = line
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        if cells.len() == 65 {
            let mut x = [0f32; 64];
            for (d, s) in x.iter_mut().zip(&cells) {
                *d = s / 16.0;
            }
            xs.push(x);
            ys.push(cells[64] as u32);
        }
    }
    Ok((xs, ys))
}

/// Train one network with `seed` (full-batch AdamW, 300 steps); returns it and its accuracy on
/// the last 297 digits, held out.
fn train(xs: &[[f32; 64]], ys: &[u32], seed: u64) -> candle_core::Result<(Mlp, f64)> {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let model = Mlp::new(VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
    // candle's CPU initialisers are not seedable: overwrite every variable from `seed`
    interprim::models::cnn::seeded_init(&varmap, seed)?;
    let flat: Vec<f32> = xs.iter().flatten().copied().collect();
    let x = Tensor::from_vec(flat, (xs.len(), 64), &dev)?;
    let y = Tensor::from_vec(ys.to_vec(), ys.len(), &dev)?;
    let (train_x, test_x) = (x.narrow(0, 0, 1500)?, x.narrow(0, 1500, xs.len() - 1500)?);
    let (train_y, test_y) = (y.narrow(0, 0, 1500)?, y.narrow(0, 1500, ys.len() - 1500)?);
    let mut opt = candle_nn::AdamW::new_lr(varmap.all_vars(), 0.01)?;
    for _ in 0..300 {
        let logits = model.forward(&train_x)?;
        opt.backward_step(&loss::cross_entropy(&logits, &train_y)?)?;
    }
    let predicted = model.forward(&test_x)?.argmax(D::Minus1)?;
    let correct = predicted.eq(&test_y)?.to_dtype(DType::F32)?.sum_all()?;
    Ok((
        model,
        correct.to_scalar::<f32>()? as f64 / (xs.len() - 1500) as f64,
    ))
}

/// The network on one image as a game. Players: the 8×8 image in 8 blocks of 2 rows × 4 columns;
/// an absent block is set to 0; v(x_T) = log-odds of the true class of the masked image.
fn mlp_game<'a>(
    name: &str,
    model: &'a Mlp,
    names: &[String],
    image: [f32; 64],
    label: usize,
) -> FnGame<impl Fn(&[Coalition]) -> Result<Vec<f64>> + 'a> {
    let err = |e: candle_core::Error| interprim::Error::Invalid(e.to_string());
    let block = |pixel: usize| (pixel / 16) * 2 + (pixel % 8) / 4;
    FnGame::new(name, names.to_vec(), move |coalitions: &[Coalition]| {
        let masked: Vec<f32> = coalitions
            .iter()
            .flat_map(|t| (0..64).map(move |p| if t.contains(block(p)) { image[p] } else { 0.0 }))
            .collect();
        let x = Tensor::from_vec(masked, (coalitions.len(), 64), &Device::Cpu).map_err(err)?;
        let logp = ops::log_softmax(&model.forward(&x).map_err(err)?, D::Minus1).map_err(err)?;
        let rows: Vec<Vec<f32>> = logp.to_vec2().map_err(err)?;
        // log p − log(1 − p)
        Ok(rows
            .iter()
            .map(|r| r[label] as f64 - (-(r[label] as f64).exp()).ln_1p())
            .collect())
    })
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    run(&mut std::io::stdout())
}

/// Train, explain, print to `out` (stdout when run; tests/examples.rs passes a buffer and checks
/// what it reads).
pub fn run(out: &mut impl std::io::Write) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (xs, ys) = load_digits()?;
    let (a, acc_a) = train(&xs, &ys, 1)?;
    let (b, acc_b) = train(&xs, &ys, 2)?;
    writeln!(
        out,
        "trained two MLPs: held-out accuracy {acc_a:.3} (seed 1), {acc_b:.3} (seed 2)"
    )?;
    let image = xs[1500];
    let label = ys[1500] as usize;

    // ---- interprim ----
    let names: Vec<String> = (0..8)
        .map(|p| {
            format!(
                "rows {}-{} {}",
                2 * (p / 2),
                2 * (p / 2) + 1,
                ["left", "right"][p % 2]
            )
        })
        .collect();
    let (game_a, game_b) = (
        mlp_game("seed 1", &a, &names, image, label),
        mlp_game("seed 2", &b, &names, image, label),
    );
    let e = explain(&[&game_a, &game_b], &ExplainOptions::default(), None)?;

    writeln!(
        out,
        "digit {label}: v(x_N) − v(x_∅) = {:.3} (seed 1), {:.3} (seed 2)",
        e.values[0].v[255], e.values[1].v[255]
    )?;
    let gen = e.method("generalizable");
    let refs: Vec<&Interactions> = gen.iter().collect();
    for (model, split) in ["seed 1", "seed 2"]
        .iter()
        .zip(shared_and_distinctive(&refs, 10)?)
    {
        writeln!(
            out,
            "\n{model}: top 10 interactions, {} shared with the other network",
            split.shared.len()
        )?;
        for (tag, list) in [("shared", &split.shared), ("own", &split.distinctive)] {
            for it in list.iter() {
                writeln!(
                    out,
                    "  {tag:<6} {} {:<50} {:+.3}",
                    it.kind.name(),
                    it.coalition.display_with(&names).to_string(),
                    it.effect
                )?;
            }
        }
    }
    Ok(())
}
