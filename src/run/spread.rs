//! How far a run's headline numbers move when the masked values move by float-level noise.
//!
//! Two machines of the same kind compute the masked values v(x_T) with float-level differences
//! (2.6·10⁻⁶ relative was measured between batch sizes 1 and 256 before the forward passes were
//! made batch- and thread-invariant; a CPU with other vector widths may still differ at that
//! level). Such differences are harmless for continuous quantities but not for the run's top-k
//! numbers:
//!
//! * the optimum of the decomposition loss (a linear program) is often a face, not a point, and
//!   moves along it with the values. Measured on the notebooks' three sentiment sentences
//!   (n = 10, MiniLM-L3/L6, certified gap 10⁻¹⁰): 10⁻⁵ relative noise on the values moved single
//!   interactions by 3·10⁻⁴ to 9·10⁻³ of the largest one (`examples/perturbation_spread.rs`
//!   prints these numbers for any run);
//! * top-k membership and counts above 0.05·max change at near-ties, by whole units.
//!
//! The values cannot be made identical across machines, and a discontinuous quantity cannot be
//! made continuous, so instead of pretending a bare point value is exact, a run can report each
//! headline number with its **spread under perturbation** ([`Study::perturbation_spread`]): the
//! run is recomputed `draws` times from values multiplied by (1 + noise·u), u uniform in [−1, 1]
//! (ChaCha8, stream `seed + r` for draw r), with its own settings; γ̂'s bounds are recomputed from
//! the perturbed values, as a run on another machine would. The nulls are not recomputed (they
//! cost R re-extractions per sample and draw); the spread is that of the run's own numbers.
//! Each draw's per-sample results are saved under `<out>/spread/draw-<r>/` and reused when
//! asked again (fingerprints include the values, so nothing stale is reused).
//!
//! The default noise, 10⁻⁵ relative, is above the measured float-level differences between
//! forward passes. The CLI's `interprim replicate … --spread R` writes `spread.json` and prints
//! the table.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};

use super::study::Study;
use super::summary::{mean_over_k, summarize, MethodSummary, Summary};
use super::{Run, SampleValues};
use crate::display::Table;
use crate::progress::{emit, Event, Observer};
use crate::{Error, Result};

/// Default relative size of the perturbation (above the measured float-level differences).
pub const DEFAULT_NOISE: f64 = 1e-5;

/// One headline number of a run and its range over the perturbed recomputations.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpreadLine {
    /// What the number is, e.g. "generalizable s_and, k = 51".
    pub quantity: String,
    /// The run's own value.
    pub value: f64,
    /// Smallest and largest value over the draws (the run's own value not included).
    pub min: f64,
    pub max: f64,
}

impl SpreadLine {
    /// Width of the range spanned by the draws and the run's own value together.
    pub fn width(&self) -> f64 {
        self.max.max(self.value) - self.min.min(self.value)
    }

    /// [`Self::width`] / |value| (infinite when the value is 0 and the width is not).
    pub fn relative_width(&self) -> f64 {
        let w = self.width();
        if w == 0.0 {
            0.0
        } else {
            w / self.value.abs()
        }
    }
}

/// The spread of a run's headline numbers under relative noise on its values.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spread {
    /// Relative size of the perturbation.
    pub noise: f64,
    /// How many perturbed recomputations.
    pub draws: usize,
    pub seed: u64,
    pub lines: Vec<SpreadLine>,
}

impl Spread {
    /// The table: quantity, the run's value, the range over the draws, its width.
    pub fn table(&self) -> Table {
        let mut t = Table::new(&[
            "quantity".to_string(),
            "this run".to_string(),
            format!(
                "range over {} recomputations, values × (1 ± {:e})",
                self.draws, self.noise
            ),
            "width".to_string(),
        ]);
        for l in &self.lines {
            t.row(vec![
                l.quantity.clone(),
                number(l.value),
                format!("{} … {}", number(l.min), number(l.max)),
                number(l.width()),
            ]);
        }
        t
    }

    /// The line whose range is widest relative to the run's value (lines whose value is 0 left
    /// out), if any.
    pub fn widest(&self) -> Option<&SpreadLine> {
        self.lines
            .iter()
            .filter(|l| l.value != 0.0)
            .max_by(|a, b| a.relative_width().total_cmp(&b.relative_width()))
    }
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
    }
}

/// `samples` with every value multiplied by (1 + noise·u), u uniform in [−1, 1] from a ChaCha8
/// generator seeded with `seed` (values in sample order, model order, coalition order), so the
/// same seed gives the same perturbation. v(x_∅) = 0 stays 0.
///
/// Errors: `noise` negative, not finite, or ≥ 1 (a sign could flip).
pub fn perturb_samples(
    samples: &[SampleValues],
    noise: f64,
    seed: u64,
) -> Result<Vec<SampleValues>> {
    if !(noise.is_finite() && (0.0..1.0).contains(&noise)) {
        return Err(Error::InvalidSetting {
            name: "noise",
            value: noise.to_string(),
            why: "the relative perturbation must lie in [0, 1)",
        });
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Ok(samples
        .iter()
        .map(|s| SampleValues {
            values: s
                .values
                .iter()
                .map(|v| {
                    v.iter()
                        .map(|x| x * (1.0 + noise * rng.random_range(-1.0..=1.0)))
                        .collect()
                })
                .collect(),
            ..s.clone()
        })
        .collect())
}

/// The headline numbers of a summary, in a fixed order: for each method, s_and and s_or at the
/// first and last k and their mean over k, the signed means, the mean number shared among the
/// top 50 (all and same-sign) and each model's salient count.
pub fn headline_numbers(summary: &Summary) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let (k0, k1) = match (summary.k.first(), summary.k.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => return out,
    };
    let methods: [(&str, &MethodSummary); 3] = [
        ("generalizable", &summary.generalizable),
        ("traditional", &summary.traditional),
        ("harsanyi", &summary.harsanyi),
    ];
    for (name, ms) in methods {
        for (kind, s, signed) in [
            ("s_and", &ms.s_and, &ms.s_and_signed),
            ("s_or", &ms.s_or, &ms.s_or_signed),
        ] {
            if s.is_empty() {
                continue;
            }
            out.push((format!("{name} {kind}, k = {k0}"), s[0]));
            out.push((format!("{name} {kind}, k = {k1}"), s[s.len() - 1]));
            out.push((format!("{name} {kind}, mean over k"), mean_over_k(s)));
            if !signed.is_empty() {
                out.push((
                    format!("{name} {kind} signed, mean over k"),
                    mean_over_k(signed),
                ));
            }
        }
        out.push((
            format!("{name}: shared among the top 50, mean per sample"),
            ms.shared_top50,
        ));
        out.push((
            format!("{name}: of those, same sign"),
            ms.shared_top50_signed,
        ));
        for (model, c) in summary.models.iter().zip(&ms.salient) {
            out.push((
                format!("{name}: salient interactions (0.05·max), {model}"),
                c.count as f64,
            ));
        }
    }
    out
}

impl Study {
    /// The run's headline numbers with their range over `draws` recomputations from values
    /// perturbed by `noise` relative (see the module docs). Costs `draws` times the run's
    /// extractions (not its nulls); saved under `<out>/spread/draw-<r>/` and reused.
    ///
    /// Errors: `draws` = 0, a bad `noise` ([`perturb_samples`]), or an extraction's error.
    pub fn perturbation_spread(
        &self,
        draws: usize,
        noise: f64,
        seed: u64,
        mut observer: Option<&mut Observer<'_>>,
    ) -> Result<Spread> {
        if draws == 0 {
            return Err(Error::InvalidSetting {
                name: "draws",
                value: "0".into(),
                why: "the spread needs at least one perturbed recomputation",
            });
        }
        let base = headline_numbers(&self.summary);
        let mut lo = vec![f64::INFINITY; base.len()];
        let mut hi = vec![f64::NEG_INFINITY; base.len()];
        let samples = self.sample_values();
        emit(
            &mut observer,
            Event::Phase {
                name: "spread",
                total: draws,
                unit: "recomputations",
            },
        );
        for r in 0..draws {
            let perturbed = perturb_samples(&samples, noise, seed.wrapping_add(r as u64))?;
            let mut settings = self.settings.clone();
            settings.null.replicates = 0;
            let run = Run::new(&self.out.join("spread").join(format!("draw-{r}")), settings);
            let bounds = run.gamma_bounds(&perturbed)?;
            let (results, reused) = run.process_all(&perturbed, &bounds)?;
            let summary = summarize(&run.settings, &results, &bounds, BTreeMap::new(), None)?;
            let numbers = headline_numbers(&summary);
            if numbers.len() != base.len() {
                return Err(Error::Invalid(format!(
                    "draw {r} of the spread gave {} headline numbers, the run {}",
                    numbers.len(),
                    base.len()
                )));
            }
            for (j, (_, x)) in numbers.iter().enumerate() {
                lo[j] = lo[j].min(*x);
                hi[j] = hi[j].max(*x);
            }
            let detail = format!(
                "spread, draw {r}: {} samples extracted ({reused} reused)",
                results.len()
            );
            emit(&mut observer, Event::Note(&detail));
            emit(
                &mut observer,
                Event::Step {
                    done: r + 1,
                    detail: &detail,
                },
            );
        }
        Ok(Spread {
            noise,
            draws,
            seed,
            lines: base
                .into_iter()
                .zip(lo.into_iter().zip(hi))
                .map(|((quantity, value), (min, max))| SpreadLine {
                    quantity,
                    value,
                    min,
                    max,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::study::tests::study;

    #[test]
    fn perturbation_is_seeded_relative_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path());
        let samples = s.sample_values();
        let a = perturb_samples(&samples, 1e-3, 5).unwrap();
        let b = perturb_samples(&samples, 1e-3, 5).unwrap();
        let c = perturb_samples(&samples, 1e-3, 6).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut moved = 0;
        for (x, y) in samples.iter().zip(&a) {
            assert_eq!((&x.id, &x.players), (&y.id, &y.players));
            for (u, v) in x.values.iter().zip(&y.values) {
                for (p, q) in u.iter().zip(v) {
                    assert!((p - q).abs() <= 1e-3 * p.abs(), "{p} {q}");
                    moved += (p != q) as usize;
                }
            }
        }
        assert!(moved > 0);
        assert_eq!(perturb_samples(&samples, 0.0, 5).unwrap(), samples);
        for bad in [-1e-5, 1.0, f64::NAN] {
            assert!(perturb_samples(&samples, bad, 5).is_err());
        }
    }

    #[test]
    fn zero_noise_reproduces_the_run_and_noise_spreads_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path());
        assert!(s.perturbation_spread(0, 1e-5, 0, None).is_err());
        // without noise every recomputation is the run itself, number for number
        let exact = s.perturbation_spread(2, 0.0, 0, None).unwrap();
        assert!(!exact.lines.is_empty());
        for l in &exact.lines {
            assert!(l.min == l.value && l.max == l.value, "{l:?}");
        }
        assert!(exact
            .lines
            .iter()
            .any(|l| l.quantity.contains("generalizable s_and, k =")));
        assert!(dir.path().join("spread/draw-1/samples").is_dir());
        // large noise moves something, and every range is ordered
        let noisy = s.perturbation_spread(2, 0.2, 0, None).unwrap();
        assert_eq!(noisy.lines.len(), exact.lines.len());
        assert!(noisy.lines.iter().all(|l| l.min <= l.max));
        assert!(noisy.widest().unwrap().width() > 0.0, "{noisy:?}");
        // the same draws again are read back, with the same numbers
        let again = s.perturbation_spread(2, 0.2, 0, None).unwrap();
        assert_eq!(again, noisy);
        let text = noisy.table().to_text();
        assert!(text.contains("range over 2 recomputations"), "{text}");
    }
}
