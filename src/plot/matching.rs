//! Figs. 6/13 (universal matching): the masked samples x_T sorted by v(x_T), the true values and
//! the reconstruction from the salient interactions only; the gap is the matching error.

use plotly::common::{Line, Marker, Mode, Title};
use plotly::layout::{Axis, Layout};
use plotly::{Plot, Scatter};

use super::{sig, Figure, COLOR_AND, COLOR_OR};
use crate::metrics;

/// Figs. 6/13: masked samples sorted by v(x_T), truth and reconstruction.
pub fn figure(title: &str, truth: &[f64], reconstruction: &[f64]) -> Figure {
    let fig = Figure::new(plot(title, truth, reconstruction));
    match metrics::matching_error(truth, reconstruction) {
        Ok(e) => fig.with_note(format!(
            "matching error: max {} mean {} rmse {} relative {}",
            sig(e.max_abs),
            sig(e.mean_abs),
            sig(e.rmse),
            sig(e.relative)
        )),
        Err(e) => fig.with_note(format!("matching error: {e}")),
    }
}

/// Figs. 6/13: masked samples sorted by v(x_T), the true values and the reconstruction from
/// salient interactions only.
fn plot(title: &str, truth: &[f64], reconstruction: &[f64]) -> Plot {
    let mut order: Vec<usize> = (0..truth.len()).collect();
    order.sort_by(|&a, &b| truth[a].total_cmp(&truth[b]));
    let xs: Vec<usize> = (0..truth.len()).collect();
    let mut plot = Plot::new();
    plot.add_trace(
        Scatter::new(
            xs.clone(),
            order.iter().map(|&i| reconstruction[i]).collect(),
        )
        .mode(Mode::Markers)
        .name("reconstruction from salient interactions")
        .marker(Marker::new().color(COLOR_OR).size(3)),
    );
    plot.add_trace(
        Scatter::new(xs, order.iter().map(|&i| truth[i]).collect())
            .mode(Mode::Lines)
            .name("v(x_T)")
            .line(Line::new().color(COLOR_AND).width(2.0)),
    );
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .x_axis(Axis::new().title(Title::with_text("masked samples x_T, sorted by v(x_T)")))
            .y_axis(Axis::new().title(Title::with_text("network output"))),
    );
    plot
}
