//! The solvers' convergence on one extraction (method §6): the loss of the reference SGD and of
//! the optimal solver against iterations, as the relative excess over the optimum
//! (loss − optimum)/optimum on log-log axes, with the optimal solver's certified relative duality
//! gap beside it. The optimum is the optimal solver's final loss, certified to lie within its gap
//! of the true optimum; the dashed line is that gap, the certificate's resolution.

use plotly::common::{DashType, Line, Mode, Title};
use plotly::layout::{Axis, AxisType, Layout};
use plotly::{Plot, Scatter};

use super::{sig, Figure, COLOR_AND, COLOR_OR};
use crate::decomposition::Decomposition;
use crate::{Error, Result};

/// Convergence of `sgd` (a decomposition by [`crate::SolverKind::Sgd`] with its loss
/// trajectory) against `optimal` (the same problem by [`crate::SolverKind::Optimal`] with its gap
/// trajectory). The note lines give where each ended relative to the certified optimum.
///
/// Errors: `Error::Invalid` when the solvers are not the expected ones, a trajectory is empty,
/// or the optimum is not positive (a zero loss has no relative excess).
pub fn figure(title: &str, sgd: &Decomposition, optimal: &Decomposition) -> Result<Figure> {
    let optimum = optimal.final_loss;
    let gap = optimal.solver.duality_gap.ok_or_else(|| {
        Error::Invalid(
            "the second decomposition has no duality gap: solve it with SolverKind::Optimal".into(),
        )
    })?;
    if sgd.solver.trajectory.is_empty() || optimal.solver.gap_trajectory.is_empty() {
        return Err(Error::Invalid(
            "a convergence figure needs both trajectories: SGD with record_every > 0 and the optimal solver's gap trajectory".into(),
        ));
    }
    if !(optimum > 0.0 && optimum.is_finite()) {
        return Err(Error::Invalid(format!(
            "the optimal loss is {optimum}: no relative excess to plot"
        )));
    }
    let excess = |loss: f64| ((loss - optimum) / optimum).max(f64::MIN_POSITIVE);
    let mut plot = Plot::new();
    let (xs, ys): (Vec<usize>, Vec<f64>) = sgd
        .solver
        .trajectory
        .iter()
        .filter(|p| p.iteration > 0)
        .map(|p| (p.iteration, excess(p.loss)))
        .unzip();
    plot.add_trace(
        Scatter::new(xs, ys)
            .mode(Mode::Lines)
            .name("SGD (reference): loss above the optimum")
            .line(Line::new().color(COLOR_OR).width(2.0)),
    );
    let points: Vec<_> = optimal
        .solver
        .gap_trajectory
        .iter()
        .filter(|p| p.iteration > 0)
        .collect();
    plot.add_trace(
        Scatter::new(
            points.iter().map(|p| p.iteration).collect(),
            points.iter().map(|p| excess(p.loss)).collect(),
        )
        .mode(Mode::Lines)
        .name("optimal solver: loss above the optimum")
        .line(Line::new().color(COLOR_AND).width(2.0)),
    );
    plot.add_trace(
        Scatter::new(
            points.iter().map(|p| p.iteration).collect(),
            points
                .iter()
                .map(|p| p.gap.max(f64::MIN_POSITIVE))
                .collect(),
        )
        .mode(Mode::Lines)
        .name("optimal solver: certified relative duality gap")
        .line(Line::new().color(COLOR_AND).dash(DashType::Dot).width(1.5)),
    );
    let last = sgd
        .solver
        .trajectory
        .last()
        .map_or(sgd.solver.iterations, |p| p.iteration)
        .max(optimal.solver.iterations)
        .max(1);
    plot.add_trace(
        Scatter::new(vec![1, last], vec![gap.max(f64::MIN_POSITIVE); 2])
            .mode(Mode::Lines)
            .name("the optimum, to its certified gap")
            .line(Line::new().color("#444444").dash(DashType::Dash).width(1.0)),
    );
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .x_axis(
                Axis::new()
                    .title(Title::with_text("iteration"))
                    .type_(AxisType::Log),
            )
            .y_axis(
                Axis::new()
                    .title(Title::with_text("(loss − optimum) / optimum"))
                    .type_(AxisType::Log),
            )
            .height(420),
    );
    Ok(Figure::new(plot)
        .with_note(format!(
            "optimum {} (optimal solver, relative duality gap {} after {} iterations)",
            sig(optimum),
            sig(gap),
            optimal.solver.iterations
        ))
        .with_note(format!(
            "SGD after {} iterations: loss {}, {}% above the optimum",
            sgd.solver.iterations,
            sig(sgd.final_loss),
            sig(100.0 * (sgd.final_loss - optimum) / optimum)
        )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomposition::{decompose_generalizable, DecompositionOptions};

    #[test]
    fn sgd_ends_above_the_certified_optimum() {
        let a = crate::demo::boolean_example();
        let b: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(t, x)| x + 0.1 * (t % 3) as f64)
            .collect();
        let mut sgd = DecompositionOptions::sgd(2000);
        sgd.sgd_generalizable.record_every = 100;
        let s = decompose_generalizable(&[&a, &b], &sgd).unwrap();
        let o = decompose_generalizable(&[&a, &b], &DecompositionOptions::default()).unwrap();
        assert!(o.final_loss <= s.final_loss + 1e-9);
        let fig = figure("convergence", &s, &o).unwrap();
        let text = fig.summary();
        assert!(text.contains("SGD after 2000 iterations"), "{text}");
        assert!(text.contains("relative duality gap"), "{text}");
        assert!(fig.to_svg().contains("</svg>"));
        // the solvers the wrong way round: a clear error
        assert!(figure("x", &o, &s).is_err());
    }
}
