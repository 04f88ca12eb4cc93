//! The `interprim` command line: exact interactions and AND-OR extraction from value vectors,
//! and the demo on the paper's Boolean example.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::decomposition::{
    decompose_generalizable_observed, decompose_traditional_observed, Decomposition,
    GeneralizableOptions, LrSchedule, Optimizer, TraditionalOptions,
};
use crate::export::{read_npy, shapiq_json, write_json, write_npy, MaskOrder, StagedDir};
use crate::interactions::{Interactions, Kind};
use crate::transform::{and_interactions, check_values, or_interactions};
use crate::{demo, metrics, Error, Result};

#[derive(Parser, Debug)]
#[command(
    name = "interprim",
    version,
    about = "Extract AND/OR interaction primitives of neural networks, and the generalizable ones that several networks share (Chen et al., ICLR 2024)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Mode {
    /// One model, min ‖I_and‖₁ + ‖I_or‖₁ (paper Eq. 4).
    Traditional,
    /// Two or more models sharing γ̄ (paper Eq. 6).
    Generalizable,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Order {
    /// Bit i of the index = player i (interprim's order).
    Lsb,
    /// Player 0 is the most significant bit (the authors' order).
    Msb,
}

impl From<Order> for MaskOrder {
    fn from(o: Order) -> Self {
        match o {
            Order::Lsb => MaskOrder::LsbFirst,
            Order::Msb => MaskOrder::MsbFirst,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Exact AND and OR interactions of a value vector (no decomposition): writes DIR/and.npy and DIR/or.npy.
    Interactions {
        /// .npy vector of v(x_T) for all 2^n coalitions T (f32 or f64), index bit i = player i.
        #[arg(long, value_name = "V.npy")]
        values: PathBuf,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Mask order of the input and output files.
        #[arg(long, value_enum, default_value = "lsb")]
        order: Order,
    },
    /// AND-OR decomposition of one model (traditional) or several (generalizable) from value vectors.
    ExtractValues(ExtractArgs),
    /// Replicate one of the paper's experiments with the default models.
    #[command(subcommand)]
    Replicate(Replicate),
    /// Train the default classifiers (sentiment: MiniLM-L3 and MiniLM-L6 on the Rotten Tomatoes sentences; digits: ResNet-20 and a VGG-16-style CNN on MNIST "3" vs rest).
    Train(crate::train::TrainArgs),
    /// Generalizable vs traditional extraction on the paper's Boolean example and two noisy models of it.
    Demo {
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Scale of the noise added to every v(x_T) of each model.
        #[arg(long, default_value_t = 0.02)]
        noise: f64,
        #[arg(long, default_value_t = 20000)]
        niter: usize,
        /// Learning rate of the generalizable extraction (constant).
        #[arg(long, default_value_t = 1e-4)]
        lr: f64,
        /// Learning rate of the traditional extraction (decays to a tenth).
        #[arg(long, default_value_t = 1e-3)]
        lr_traditional: f64,
        #[arg(long, default_value_t = 0.1)]
        alpha: f64,
        /// Also write the results as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum Replicate {
    /// Task 1: sentiment, MiniLM-L3 vs MiniLM-L6 on Rotten Tomatoes test sentences.
    Sentiment(crate::sentiment::SentimentArgs),
    /// Task 2: next word, SmolLM2-135M vs Gemma-3-270M on the first 30 words of NYT editorials.
    NextWord(crate::next_word::NextWordArgs),
    /// Task 3: MNIST "3" vs rest, ResNet-20 vs a VGG-16-style CNN, 8 image patches per test image.
    Digits(crate::digits::DigitsArgs),
}

#[derive(clap::Args, Debug)]
pub struct ExtractArgs {
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// One .npy value vector per model (repeat for several models), all of length 2^n.
    #[arg(long = "values", value_name = "V.npy", required = true)]
    pub values: Vec<PathBuf>,
    /// Weight of the L1 term against the row-max term (generalizable only).
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// Learning rate (default: 1e-6 traditional, 1e-7 generalizable).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long, default_value_t = 20000)]
    pub niter: usize,
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// Decay the learning rate geometrically to lr·F over the run (default: 0.1 traditional,
    /// 1 = constant generalizable, as the references).
    #[arg(long, value_name = "F")]
    pub lr_decay: Option<f64>,
    /// |ε_T| ≤ eps-bound·|v(x_N) − v(x_∅)|, per model.
    #[arg(long, default_value_t = 0.02)]
    pub eps_bound: f64,
    /// Bounds of γ̂ per model, comma separated (default: 0.5·|v(x_N) − v(x_∅)| of each model).
    #[arg(long, value_delimiter = ',', value_name = "B1,B2,..")]
    pub gamma_bound: Option<Vec<f64>>,
    /// Record the loss every this many iterations.
    #[arg(long, default_value_t = 1000)]
    pub record_every: usize,
    /// Mask order of the input and output vectors.
    #[arg(long, value_enum, default_value = "lsb")]
    pub order: Order,
    /// Also write each model's reorganised interactions in shapiq's InteractionValues layout.
    #[arg(long)]
    pub shapiq: bool,
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Parse the arguments and run; errors come back as one line for `main` to print.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Interactions { values, out, order } => {
            run_interactions(&values, &out, order.into())
        }
        Command::ExtractValues(args) => run_extract(&args),
        Command::Train(args) => crate::train::run_train_cli(&args),
        Command::Replicate(Replicate::Sentiment(args)) => {
            let summary = crate::sentiment::run_replicate_sentiment(&args)?;
            crate::sentiment::print_summary(&summary, &args.out);
            Ok(())
        }
        Command::Replicate(Replicate::NextWord(args)) => {
            let summary = crate::next_word::run_replicate_next_word(&args)?;
            crate::next_word::print_summary(&summary, &args.out);
            Ok(())
        }
        Command::Replicate(Replicate::Digits(args)) => {
            let summary = crate::digits::run_replicate_digits(&args)?;
            crate::digits::print_summary(&summary, &args.out);
            Ok(())
        }
        Command::Demo {
            seed,
            noise,
            niter,
            lr,
            lr_traditional,
            alpha,
            json,
        } => run_demo(
            seed,
            noise,
            niter,
            (lr, lr_traditional),
            alpha,
            json.as_deref(),
        ),
    }
}

fn load_values(path: &Path, order: MaskOrder) -> Result<Vec<f64>> {
    let v = read_npy(path)?;
    check_values(&v, &path.display().to_string())?;
    crate::export::from_order(&v, order)
}

fn run_interactions(values: &Path, out: &Path, order: MaskOrder) -> Result<()> {
    let v = load_values(values, order)?;
    let and = and_interactions(&v)?;
    let or = or_interactions(&v)?;
    let staged = StagedDir::new(out)?;
    write_npy(&staged.path("and.npy"), &and, order)?;
    write_npy(&staged.path("or.npy"), &or, order)?;
    staged.commit()?;
    println!(
        "n = {}: wrote {} and {}",
        v.len().trailing_zeros(),
        out.join("and.npy").display(),
        out.join("or.npy").display()
    );
    Ok(())
}

fn progress_bar(niter: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(niter as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} iterations, {elapsed} elapsed, ETA {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn schedule(decay: Option<f64>, default: f64) -> LrSchedule {
    match decay.unwrap_or(default) {
        1.0 => LrSchedule::Constant,
        final_factor => LrSchedule::Geometric { final_factor },
    }
}

fn run_extract(args: &ExtractArgs) -> Result<()> {
    let order: MaskOrder = args.order.into();
    let values: Vec<Vec<f64>> = args
        .values
        .iter()
        .map(|p| load_values(p, order))
        .collect::<Result<_>>()?;
    let refs: Vec<&[f64]> = values.iter().map(|v| v.as_slice()).collect();
    let bar = progress_bar(args.niter, "extracting");
    let mut observer = |it: usize, _niter: usize, loss: f64| {
        bar.set_position(it as u64 + 1);
        bar.set_message(format!("loss {loss:.4}"));
    };
    let start = Instant::now();
    let result = match args.mode {
        Mode::Traditional => {
            if refs.len() != 1 {
                return Err(Error::WrongModelCount(format!(
                    "traditional extraction takes exactly one --values file, got {}; run it once per model or use --mode generalizable",
                    refs.len()
                )));
            }
            let optimizer = Optimizer {
                lr: args.lr.unwrap_or(Optimizer::traditional().lr),
                niter: args.niter,
                momentum: args.momentum,
                record_every: args.record_every,
                schedule: schedule(args.lr_decay, 0.1),
                ..Optimizer::traditional()
            };
            decompose_traditional_observed(
                refs[0],
                &TraditionalOptions {
                    optimizer,
                    eps_ratio: args.eps_bound,
                },
                Some(&mut observer),
            )?
        }
        Mode::Generalizable => {
            let optimizer = Optimizer {
                lr: args.lr.unwrap_or(Optimizer::generalizable().lr),
                niter: args.niter,
                momentum: args.momentum,
                record_every: args.record_every,
                schedule: schedule(args.lr_decay, 1.0),
                ..Optimizer::generalizable()
            };
            let opts = GeneralizableOptions {
                optimizer,
                alpha: args.alpha,
                eps_ratio: args.eps_bound,
                gamma_bounds: args.gamma_bound.clone(),
                ..Default::default()
            };
            decompose_generalizable_observed(&refs, &opts, Some(&mut observer))?
        }
    };
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    write_extraction(&args.out, &result, args, order, seconds)?;
    println!(
        "n = {}, m = {}: loss {:.6} → {:.6} in {:.2} s; wrote {}",
        result.n,
        result.models(),
        result.initial_loss,
        result.final_loss,
        seconds,
        args.out.display()
    );
    Ok(())
}

fn write_extraction(
    out: &Path,
    d: &Decomposition,
    args: &ExtractArgs,
    order: MaskOrder,
    seconds: f64,
) -> Result<()> {
    let staged = StagedDir::new(out)?;
    for (i, it) in d.interactions.iter().enumerate() {
        let k = i + 1;
        write_npy(&staged.path(&format!("I_and_{k}.npy")), &it.and, order)?;
        write_npy(&staged.path(&format!("I_or_{k}.npy")), &it.or, order)?;
        write_npy(&staged.path(&format!("eps_{k}.npy")), &d.eps[i], order)?;
        write_npy(
            &staged.path(&format!("gamma_{k}.npy")),
            &d.gamma_specific[i],
            order,
        )?;
        if args.shapiq {
            let r = it.reorganised();
            write_json(
                &staged.path(&format!("shapiq_and_{k}.json")),
                &shapiq_json(&r.and, Kind::And)?,
            )?;
            write_json(
                &staged.path(&format!("shapiq_or_{k}.json")),
                &shapiq_json(&r.or, Kind::Or)?,
            )?;
        }
    }
    if let Some(g) = &d.gamma_shared {
        write_npy(&staged.path("gamma_shared.npy"), g, order)?;
    }
    let summary = serde_json::json!({
        "mode": match args.mode { Mode::Traditional => "traditional", Mode::Generalizable => "generalizable" },
        "n": d.n,
        "m": d.models(),
        "niter": d.optimizer.niter,
        "lr": d.optimizer.lr,
        "momentum": d.optimizer.momentum,
        "lr_schedule": d.optimizer.schedule,
        "alpha": d.alpha,
        "eps_bounds": d.eps_bounds,
        "gamma_bounds": d.gamma_bounds,
        "initial_loss": d.initial_loss,
        "final_loss": d.final_loss,
        "loss_trajectory": d.loss_trajectory,
        "seconds": seconds,
        "inputs": args.values.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "mask_order": match order { MaskOrder::LsbFirst => "bit i = player i", MaskOrder::MsbFirst => "player 0 = most significant bit" },
        "files": "I_and_i/I_or_i: raw interactions (OR terms of order ≤ 1 not moved into AND); eps_i: ε; gamma_i: γ̂ (generalizable) or γ (traditional); gamma_shared: γ̄",
    });
    write_json(&staged.path("summary.json"), &summary)?;
    staged.commit()
}

fn describe(it: &crate::Interaction) -> String {
    format!(
        "{:>3} {:<16} {:+.3}",
        it.kind.name(),
        it.coalition.display_with(&demo::PLAYER_NAMES).to_string(),
        it.effect
    )
}

fn run_demo(
    seed: u64,
    noise: f64,
    niter: usize,
    lrs: (f64, f64),
    alpha: f64,
    json: Option<&Path>,
) -> Result<()> {
    let (lr, lr_traditional) = lrs;
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(Error::InvalidSetting {
            name: "noise",
            value: noise.to_string(),
            why: "the noise scale must be finite and ≥ 0",
        });
    }
    let [a, b] = demo::noisy_models(seed, noise);
    println!("f = x1∧x2∧x3 + x2∧x3 + x3∧x4 + x4∨x5 on x = (1,1,1,1,1), baseline 0.");
    println!("Model A adds 0.6·(x1∧x5), model B adds 0.6·(x2∨x5); both add noise of scale {noise} (seed {seed}).\n");
    let gen_opts = GeneralizableOptions {
        optimizer: Optimizer {
            lr,
            niter,
            ..Optimizer::generalizable()
        },
        alpha,
        ..Default::default()
    };
    let trad_opts = TraditionalOptions {
        optimizer: Optimizer {
            lr: lr_traditional,
            niter,
            ..Optimizer::traditional()
        },
        ..Default::default()
    };
    let start = Instant::now();
    let gen = crate::decomposition::decompose_generalizable(&[&a, &b], &gen_opts)?;
    let gen_secs = start.elapsed().as_secs_f64();
    let trad: Vec<Decomposition> = [&a, &b]
        .iter()
        .map(|v| crate::decomposition::decompose_traditional(v, &trad_opts))
        .collect::<Result<_>>()?;
    let gen_r = gen.reorganised();
    let trad_r: Vec<Interactions> = trad.iter().map(|d| d.reorganised().remove(0)).collect();
    let mut report = serde_json::Map::new();
    for (label, sets) in [
        ("generalizable", gen_r.iter().collect::<Vec<_>>()),
        ("traditional", trad_r.iter().collect()),
    ] {
        let taus: Vec<f64> = sets
            .iter()
            .map(|s| metrics::SALIENCE_RATIO * s.max_abs())
            .collect();
        println!("== {label} extraction: salient primitives (|I| > 0.05·max) ==");
        let salient: Vec<Vec<crate::Interaction>> =
            sets.iter().zip(&taus).map(|(s, &t)| s.salient(t)).collect();
        let key = |i: &crate::Interaction| (i.kind, i.coalition);
        let shared: Vec<_> = salient[0]
            .iter()
            .filter(|i| salient[1].iter().any(|j| key(j) == key(i)))
            .collect();
        println!("shared by both models ({}):", shared.len());
        for it in &shared {
            let other = salient[1]
                .iter()
                .find(|j| key(j) == key(it))
                .expect("filtered above");
            println!("  {}   (model B {:+.3})", describe(it), other.effect);
        }
        for (name, (sal, set)) in ["A", "B"].iter().zip(salient.iter().zip(&sets)) {
            let own: Vec<_> = sal
                .iter()
                .filter(|i| !shared.iter().any(|s| key(s) == key(i)))
                .collect();
            println!(
                "distinctive to model {name} ({} of {} salient, {} nonzero):",
                own.len(),
                sal.len(),
                set.iter().filter(|i| i.effect.abs() > 1e-9).count()
            );
            for it in own {
                println!("  {}", describe(it));
            }
        }
        let (s_and, s_or) = metrics::generalization_power_topk(&sets, 8)?;
        println!("generalization power, top-8: s_and = {s_and:.3}, s_or = {s_or:.3}\n");
        report.insert(
            label.to_string(),
            serde_json::json!({
                "shared": shared.iter().map(|i| describe(i)).collect::<Vec<_>>(),
                "salient_counts": salient.iter().map(|s| s.len()).collect::<Vec<_>>(),
                "s_and_top8": s_and,
                "s_or_top8": s_or,
            }),
        );
    }
    println!(
        "generalizable extraction: {niter} iterations in {gen_secs:.3} s; loss {:.4} → {:.4}",
        gen.initial_loss, gen.final_loss
    );
    if let Some(path) = json {
        report.insert("seed".into(), seed.into());
        report.insert("noise".into(), noise.into());
        write_json(path, &report)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
