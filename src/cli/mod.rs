//! The `interprim` command line (feature `cli`): exact interactions and AND-OR extraction from
//! value vectors, the paper's replications, training, the ONNX conversion and the demo. clap
//! parses, indicatif draws the library's progress events (`cli::progress`); everything else is the
//! library's.

mod convert;
mod progress;
mod replicate;
mod train;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use crate::decomposition::{
    decompose, Decomposition, DecompositionOptions, LrSchedule, Method, Optimizer,
};
use crate::export::{read_npy, shapiq_json_with_eps, write_json, write_npy, MaskOrder, StagedDir};
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

/// Which solver minimises the decomposition loss.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SolverCli {
    /// The certified optimum (a relative duality gap ≤ --tol).
    Optimal,
    /// The authors' reference SGD (--lr, --niter, --momentum, --lr-decay).
    Sgd,
}

impl From<SolverCli> for crate::decomposition::SolverKind {
    fn from(s: SolverCli) -> Self {
        match s {
            SolverCli::Optimal => crate::decomposition::SolverKind::Optimal,
            SolverCli::Sgd => crate::decomposition::SolverKind::Sgd,
        }
    }
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
    Replicate(replicate::Replicate),
    /// Train the default classifiers (sentiment: MiniLM-L3 and MiniLM-L6 on the Rotten Tomatoes sentences; digits: ResNet-20 and a VGG-16-style CNN on MNIST "3" vs rest).
    Train(train::TrainArgs),
    /// Convert an ONNX export of a BERT encoder to safetensors for candle (scripts/fetch-assets.sh uses it for MiniLM-L3).
    ConvertOnnx(convert::ConvertArgs),
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
    /// The solver: the certified optimum, or the authors' SGD.
    #[arg(long, value_enum, default_value = "optimal")]
    pub solver: SolverCli,
    /// Relative duality gap at which the optimal solver stops.
    #[arg(long, default_value_t = 1e-6)]
    pub tol: f64,
    /// Absolute learning rate of the SGD (default: 3e-7 traditional, 5e-8 generalizable, per
    /// unit of the value range max_T |v(x_T) − v(x_∅)|, the library's rule).
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
    /// Also write each model's reorganised interactions as shapiq InteractionValues JSON files
    /// (AND: index "Moebius"; OR: index "Co-Moebius", sign (−1)^{|S|+1}; baseline_value = v(∅);
    /// ε in the parameters), loadable with `InteractionValues.from_json_file`.
    #[arg(long)]
    pub shapiq: bool,
    /// Refuse problems whose working memory would exceed this many MiB.
    #[arg(long, default_value_t = 16 * 1024)]
    pub memory_limit_mib: u64,
    /// With several --values: replicates R of the permutation null of the models' sharing
    /// (generalizable: R re-extractions with the same settings; traditional: the interactions
    /// relabelled); 0 disables it.
    #[arg(long, value_name = "R", default_value_t = crate::metrics::sharing::DEFAULT_REPLICATES)]
    pub null_permutations: usize,
    /// Seed of the permutation null.
    #[arg(long, default_value_t = 0)]
    pub null_seed: u64,
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
        Command::Train(args) => train::run_train_cli(&args),
        Command::ConvertOnnx(args) => convert::run(&args),
        Command::Replicate(r) => replicate::run(r),
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

fn schedule(decay: Option<f64>, default: f64) -> LrSchedule {
    match decay.unwrap_or(default) {
        1.0 => LrSchedule::Constant,
        final_factor => LrSchedule::Geometric { final_factor },
    }
}

fn run_extract(args: &ExtractArgs) -> Result<()> {
    let order: MaskOrder = args.order.into();
    // The memory check comes before anything is loaded: the .npy headers give n.
    let mut declared = None;
    for p in &args.values {
        if let Some(len) = crate::export::npy_declared_len(p)? {
            declared = declared.max(Some(len));
        }
    }
    if let Some(len) = declared {
        let n = crate::coalition::players_for_len(len as usize)?;
        let m = args.values.len();
        let need_mib = crate::decomposition::memory_mib(n, m) + (m as u64 * len * 8) / (1 << 20);
        if need_mib > args.memory_limit_mib {
            return Err(Error::OutOfMemoryBudget {
                n,
                models: m,
                need_mib,
                limit_mib: args.memory_limit_mib,
            });
        }
    }
    let values: Vec<Vec<f64>> = args
        .values
        .iter()
        .map(|p| load_values(p, order))
        .collect::<Result<_>>()?;
    let refs: Vec<&[f64]> = values.iter().map(|v| v.as_slice()).collect();
    let sgd = |base: Optimizer, decay: f64| Optimizer {
        lr: args.lr,
        niter: args.niter,
        momentum: args.momentum,
        record_every: args.record_every,
        schedule: schedule(args.lr_decay, decay),
        ..base
    };
    let mut opts = DecompositionOptions {
        solver: args.solver.into(),
        sgd_traditional: sgd(Optimizer::traditional(), 0.1),
        sgd_generalizable: sgd(Optimizer::generalizable(), 1.0),
        alpha: args.alpha,
        eps_ratio: args.eps_bound,
        gamma_bounds: args.gamma_bound.clone(),
        memory_limit_mib: args.memory_limit_mib,
        ..Default::default()
    };
    opts.optimal.tol = args.tol;
    let mut bars = progress::Bars::new();
    let start = Instant::now();
    let results: Vec<Decomposition> = match args.mode {
        Mode::Traditional => refs
            .iter()
            .map(|v| {
                let mut o = bars.solver_observer("traditional");
                decompose(&[v], Method::Traditional, &opts, Some(&mut o))
            })
            .collect::<Result<_>>()?,
        Mode::Generalizable => {
            let mut o = bars.solver_observer("generalizable");
            vec![decompose(
                &refs,
                Method::Generalizable,
                &opts,
                Some(&mut o),
            )?]
        }
    };
    bars.finish();
    let seconds = start.elapsed().as_secs_f64();
    let sharing = if refs.len() >= 2 {
        let start = Instant::now();
        let s = sharing_of(&refs, &results, args, &opts)?;
        if args.null_permutations > 0 {
            println!(
                "permutation null of the sharing: R = {} in {:.2} s",
                args.null_permutations,
                start.elapsed().as_secs_f64()
            );
        }
        Some(s)
    } else {
        None
    };
    write_extraction(&args.out, &results, args, order, seconds, sharing)?;
    for d in &results {
        let certificate = match d.solver.duality_gap {
            Some(g) => format!(", certified relative gap {g:.1e}"),
            None => String::new(),
        };
        let warning = match (d.solver.converged, d.solver.solver) {
            (true, _) => String::new(),
            (false, crate::decomposition::SolverKind::Sgd) => {
                " — WARNING: not converged (the loss ended above its start; lower --lr)".into()
            }
            (false, _) => format!(
                " — WARNING: not converged to --tol {} within the iteration limit",
                args.tol
            ),
        };
        println!(
            "n = {}, m = {}, {} solver: loss {:.6} → {:.6}{certificate}{warning}",
            d.n,
            d.models(),
            d.solver.solver.name(),
            d.initial_loss,
            d.final_loss,
        );
    }
    println!("{:.2} s; wrote {}", seconds, args.out.display());
    Ok(())
}

/// The "sharing" object of extract-values' summary.json (m ≥ 2): top-k sharing of the extracted
/// interactions at k = ⌊2^n·t⌋, t = 0.05…0.45, sign-blind and signed, chance, and the permutation
/// null (mean and sd over R replicates; null when R = 0).
fn sharing_of(
    values: &[&[f64]],
    ds: &[Decomposition],
    args: &ExtractArgs,
    opts: &DecompositionOptions,
) -> Result<serde_json::Value> {
    use crate::metrics::sharing;
    // reorganised (OR terms of order ≤ 1 moved into AND), as every other sharing measure and
    // the null's re-extractions
    let reorganised: Vec<Interactions> = ds.iter().flat_map(|d| d.reorganised()).collect();
    let sets: Vec<&Interactions> = reorganised.iter().collect();
    let n = sets[0].n;
    let ks = metrics::k_grid_checked(n, &metrics::paper_t_grid());
    let observed = sharing::sharing_curve(std::slice::from_ref(&sets), &ks)?;
    let (r, seed) = (args.null_permutations, args.null_seed);
    let null = if r == 0 {
        None
    } else {
        Some(match args.mode {
            Mode::Traditional => {
                // each model alone: relabelling the interactions is the re-extraction
                sharing::permutation_null_interactions(std::slice::from_ref(&sets), &ks, r, seed)?
            }
            Mode::Generalizable => {
                let ext = sharing::generalizable_extractor(opts.clone());
                sharing::permutation_null(&[values.to_vec()], &ext, &ks, r, seed)?
            }
        })
    };
    let field = |f: &dyn Fn(&sharing::NullCurve) -> &Vec<f64>| {
        null.as_ref()
            .map_or(serde_json::Value::Null, |c| serde_json::json!(f(c)))
    };
    Ok(serde_json::json!({
        "k": ks,
        "s_and": observed.s_and,
        "s_or": observed.s_or,
        "s_and_signed": observed.s_and_signed,
        "s_or_signed": observed.s_or_signed,
        "chance_and": observed.chance_and,
        "chance_or": observed.chance_or,
        "s_and_null": field(&|c| &c.s_and_mean),
        "s_or_null": field(&|c| &c.s_or_mean),
        "s_and_null_sd": field(&|c| &c.s_and_sd),
        "s_or_null_sd": field(&|c| &c.s_or_sd),
        "s_and_signed_null": field(&|c| &c.s_and_signed_mean),
        "s_or_signed_null": field(&|c| &c.s_or_signed_mean),
        "null_replicates": r,
        "null_seed": seed,
        "null": match (r, args.mode) {
            (0, _) => "none (--null-permutations 0)",
            (_, Mode::Generalizable) => "permutation: the players of models 2..m relabelled by seeded random permutations, the generalizable extraction re-run with the same settings",
            (_, Mode::Traditional) => "permutation: the players of models 2..m relabelled by seeded random permutations (traditional extraction commutes with relabelling: the interactions are relabelled)",
        },
        "what": "top-k sharing of the reorganised interactions among the models (every model's top-k of each kind; OR terms of order ≤ 1 are structural zeros, never shared); signed: with the same sign in every model; chance: (k/M)^(m−1) for M candidates",
    }))
}

fn write_extraction(
    out: &Path,
    ds: &[Decomposition],
    args: &ExtractArgs,
    order: MaskOrder,
    seconds: f64,
    sharing: Option<serde_json::Value>,
) -> Result<()> {
    let staged = StagedDir::new(out)?;
    let mut k = 0;
    for d in ds {
        for (i, it) in d.interactions.iter().enumerate() {
            k += 1;
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
                // v(∅) of this model: the reconstruction at ∅ minus ε_∅
                let v_empty = it.reconstruct()[0] - d.eps[i][0];
                write_json(
                    &staged.path(&format!("shapiq_and_{k}.json")),
                    &shapiq_json_with_eps(&r.and, Kind::And, v_empty, Some(&d.eps[i]))?,
                )?;
                write_json(
                    &staged.path(&format!("shapiq_or_{k}.json")),
                    &shapiq_json_with_eps(&r.or, Kind::Or, v_empty, Some(&d.eps[i]))?,
                )?;
            }
        }
        if let Some(g) = &d.gamma_shared {
            write_npy(&staged.path("gamma_shared.npy"), g, order)?;
        }
    }
    let first = &ds[0];
    let per_model: Vec<serde_json::Value> = ds
        .iter()
        .map(|d| {
            serde_json::json!({
                "initial_loss": d.initial_loss,
                "final_loss": d.final_loss,
                "duality_gap": d.solver.duality_gap,
                "dual_bound": d.solver.dual_bound,
                "converged": d.solver.converged,
                "solver": d.solver.solver,
                "lr": d.solver.lr,
                "iterations": d.solver.iterations,
                "loss_trajectory": d.solver.trajectory,
                "gap_trajectory": d.solver.gap_trajectory,
                "eps_bounds": d.eps_bounds,
                "gamma_bounds": d.gamma_bounds,
            })
        })
        .collect();
    let mut summary = serde_json::json!({
        "mode": match args.mode { Mode::Traditional => "traditional", Mode::Generalizable => "generalizable" },
        "n": first.n,
        "m": args.values.len(),
        "solver": first.solver.solver,
        "tol": first.solver.tol,
        "niter": args.niter,
        "lr": first.solver.lr,
        "momentum": args.momentum,
        "alpha": first.alpha,
        "eps_bounds": ds.iter().flat_map(|d| d.eps_bounds.clone()).collect::<Vec<_>>(),
        "gamma_bounds": first.gamma_bounds,
        "initial_loss": ds.iter().map(|d| d.initial_loss).sum::<f64>(),
        "final_loss": ds.iter().map(|d| d.final_loss).sum::<f64>(),
        "duality_gap": ds.iter().filter_map(|d| d.solver.duality_gap).reduce(f64::max),
        "converged": ds.iter().all(|d| d.solver.converged),
        "extractions": per_model,
        "seconds": seconds,
        "inputs": args.values.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "mask_order": match order { MaskOrder::LsbFirst => "bit i = player i", MaskOrder::MsbFirst => "player 0 = most significant bit" },
        "files": "I_and_i/I_or_i: raw interactions (OR terms of order ≤ 1 not moved into AND); eps_i: ε; gamma_i: γ̂ (generalizable) or γ (traditional); gamma_shared: γ̄",
    });
    if let (Some(s), Some(o)) = (sharing, summary.as_object_mut()) {
        o.insert("sharing".into(), s);
    }
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
    let mut opts = DecompositionOptions::sgd(niter);
    opts.alpha = alpha;
    opts.sgd_generalizable = opts.sgd_generalizable.with_lr(lr);
    opts.sgd_traditional = opts.sgd_traditional.with_lr(lr_traditional);
    let start = Instant::now();
    let gen = crate::decomposition::decompose_generalizable(&[&a, &b], &opts)?;
    let gen_secs = start.elapsed().as_secs_f64();
    let trad: Vec<Decomposition> = [&a, &b]
        .iter()
        .map(|v| crate::decomposition::decompose_traditional(v, &opts))
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
