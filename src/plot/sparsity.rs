//! Fig. 2: the strengths |I(S)| of all AND and OR interactions of all samples of one model,
//! pooled and sorted in decreasing order, on log-log axes (rank and strength), one curve per method, with a dashed line
//! at 0.05·max (the salience threshold) of each.

use plotly::common::{DashType, Line, Mode, Title};
use plotly::layout::{Axis, AxisType, Layout};
use plotly::{Plot, Scatter};

use super::{series_color, sig, subsample_curve, Figure};
use crate::metrics::{self, SALIENCE_RATIO};

/// Strengths below this fraction of the largest are not drawn: they are below the resolution of
/// the optimal solver's certificate (a relative duality gap of 1e-6 by default), i.e. zeros up to
/// solver accuracy and float noise. The salience counts are unaffected (0.05·max).
pub const ZERO_RATIO: f64 = 1e-6;

/// Fig. 2: pooled strengths, sorted decreasingly, one curve per method (see
/// the module docs); `series` holds sorted strengths ([`metrics::strength_curve`]).
///
/// The text summary gives, per series, the largest strength and the count above 0.05·max; not the
/// curve's tail, which is the solver's near-zero residuals (it moves with float rounding).
pub fn figure(title: &str, series: &[(&str, &[f64])]) -> Figure {
    let mut fig = Figure::new(plot(title, series)).without_trace_lines();
    for (name, s) in series {
        let max = s.first().copied().unwrap_or(0.0);
        let c = metrics::salient_count_relative(s, SALIENCE_RATIO);
        fig = fig.with_note(format!(
            "{name}: max {}; {} of {} above 0.05·max = {}",
            sig(max),
            c.count,
            c.total,
            sig(SALIENCE_RATIO * max)
        ));
    }
    fig
}

/// Fig. 2: interaction strengths in decreasing order on a log axis, one series per method, with
/// a dashed line at 0.05·max of each series.
fn plot(title: &str, series: &[(&str, &[f64])]) -> Plot {
    let mut plot = Plot::new();
    for (index, (name, sorted)) in series.iter().enumerate() {
        let (ranks, values) = subsample_curve(sorted);
        // zero strengths cannot be drawn on a log axis, and strengths below ZERO_RATIO·max are
        // the float noise of an exact zero (the optimal solver's interactions are exactly sparse):
        // drawing them would stretch the axis over 16 decades of rounding error
        let floor = ZERO_RATIO * sorted.first().copied().unwrap_or(0.0);
        let (ranks, values): (Vec<usize>, Vec<f64>) = ranks
            .into_iter()
            .zip(values)
            .filter(|(_, v)| *v > floor && *v > 0.0)
            .unzip();
        let color = series_color(name, index);
        let count = sorted
            .iter()
            .filter(|x| **x > SALIENCE_RATIO * sorted.first().copied().unwrap_or(0.0))
            .count();
        plot.add_trace(
            Scatter::new(ranks, values)
                .mode(Mode::Lines)
                .name(format!("{name} ({count} above 0.05·max)"))
                .line(Line::new().color(color).width(2.0)),
        );
        if let Some(&max) = sorted.first() {
            plot.add_trace(
                Scatter::new(vec![1, sorted.len()], vec![SALIENCE_RATIO * max; 2])
                    .mode(Mode::Lines)
                    .name(format!("0.05·max ({name})"))
                    .show_legend(false)
                    .line(Line::new().color(color).dash(DashType::Dash).width(1.0)),
            );
        }
    }
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            // log rank: the ~1 % of salient interactions fill the left part of the axis instead
            // of its first pixels, so the drop of the strengths is visible
            .x_axis(
                Axis::new()
                    .title(Title::with_text(
                        "rank of the interaction (all samples, AND and OR; log scale)",
                    ))
                    .type_(AxisType::Log),
            )
            .y_axis(
                Axis::new()
                    .title(Title::with_text("strength |I(S)|"))
                    .type_(AxisType::Log),
            )
            .height(420),
    );
    plot
}
