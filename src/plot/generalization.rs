//! Fig. 3 (and Fig. 8): generalization power s_and or s_or against k = ⌊2^n·t⌋, one curve per
//! method (or per α); for a run, with the chance level (dotted) and each method's nulls (dashed:
//! permutation; dash-dot: cross-sample; error bars: their sd over replicates), see
//! [`figure_with_nulls`].

use plotly::common::{DashType, ErrorData, ErrorType, Line, Marker, Mode, Title};
use plotly::layout::{Axis, Layout};
use plotly::{Plot, Scatter};

use super::{series_color, Figure, COLOR_AND, COLOR_OR};
use crate::metrics::GeneralizationCurve;

/// Colour of the chance level.
pub const COLOR_CHANCE: &str = "#555555";

/// One method's sharing and nulls for [`figure_with_nulls`], all per k of the figure.
#[derive(Clone, Copy, Debug)]
pub struct MethodSeries<'a> {
    pub name: &'a str,
    /// Observed (sign-blind) sharing.
    pub s: &'a [f64],
    /// Permutation null: mean and sd over replicates.
    pub null: Option<(&'a [f64], &'a [f64])>,
    /// Cross-sample null: mean and sd over replicates.
    pub null_cross: Option<(&'a [f64], &'a [f64])>,
}

/// The layout of every Fig. 3 chart: k on x, a share in [0, 1] on y.
fn layout(title: &str, y_label: &str, height: usize) -> Layout {
    Layout::new()
        .title(Title::with_text(title))
        .x_axis(Axis::new().title(Title::with_text("k (top-k interactions of each model)")))
        .y_axis(
            Axis::new()
                .title(Title::with_text(y_label))
                .range(vec![0.0, 1.0]),
        )
        .height(height)
}

fn pairs(k: &[usize], ys: &[f64]) -> String {
    k.iter()
        .zip(ys)
        .map(|(k, s)| format!("{k}:{s:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pairs_sd(k: &[usize], ys: &[f64], sd: &[f64]) -> String {
    k.iter()
        .zip(ys)
        .zip(sd)
        .map(|((k, s), d)| format!("{k}:{s:.3}±{d:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Fig. 3 of a run: s_and (or s_or) against k for each method (solid), its permutation null
/// (dashed) and cross-sample null (dash-dot) with their sd over the `replicates` replicates as
/// error bars, and the chance level (dotted, grey). The notes carry every number: each curve per
/// k, the nulls as mean±sd, and each method's excess over each null (mean over k).
pub fn figure_with_nulls(
    title: &str,
    kind_or: bool,
    k: &[usize],
    series: &[MethodSeries<'_>],
    chance: Option<&[f64]>,
    replicates: usize,
) -> Figure {
    let label = if kind_or { "s_or" } else { "s_and" };
    let mut plot = Plot::new();
    let mut notes = Vec::new();
    for (index, m) in series.iter().enumerate() {
        let color = series_color(m.name, index);
        plot.add_trace(
            Scatter::new(k.to_vec(), m.s.to_vec())
                .mode(Mode::LinesMarkers)
                .name(m.name)
                .line(Line::new().color(color).width(2.0))
                .marker(Marker::new().color(color).size(7)),
        );
        notes.push(format!("{} {label}: {}", m.name, pairs(k, m.s)));
        for (null, what, dash) in [
            (m.null, "permutation null", DashType::Dash),
            (m.null_cross, "cross-sample null", DashType::DashDot),
        ] {
            let Some((mu, sd)) = null else { continue };
            plot.add_trace(
                Scatter::new(k.to_vec(), mu.to_vec())
                    .mode(Mode::Lines)
                    .name(format!("{} {what}", m.name))
                    .line(Line::new().color(color).width(1.5).dash(dash))
                    .error_y(
                        ErrorData::new(ErrorType::Data)
                            .array(sd.to_vec())
                            .color(color)
                            .thickness(1.0)
                            .width(3),
                    ),
            );
            notes.push(format!(
                "{} {label} {what} (R = {replicates}, mean±sd): {}",
                m.name,
                pairs_sd(k, mu, sd)
            ));
            let excess: Vec<f64> = m.s.iter().zip(mu).map(|(s, n)| s - n).collect();
            notes.push(format!(
                "{} {label} excess over the {what}: {:+.3} (mean over k), {:+.3} at k = {} … {:+.3} at k = {}",
                m.name,
                mean(&excess),
                excess.first().copied().unwrap_or(0.0),
                k.first().copied().unwrap_or(0),
                excess.last().copied().unwrap_or(0.0),
                k.last().copied().unwrap_or(0),
            ));
        }
    }
    if let Some(c) = chance {
        plot.add_trace(
            Scatter::new(k.to_vec(), c.to_vec())
                .mode(Mode::Lines)
                .name("chance")
                .line(
                    Line::new()
                        .color(COLOR_CHANCE)
                        .width(1.5)
                        .dash(DashType::Dot),
                ),
        );
        notes.push(format!("chance {label}: {}", pairs(k, c)));
    }
    plot.set_layout(layout(title, label, 420));
    notes
        .into_iter()
        .fold(Figure::new(plot), |f, n| f.with_note(n))
}

/// Fig. 3: generalization power s_and (or s_or) against k, one curve per method.
pub fn figure(title: &str, kind_or: bool, curves: &[(&str, &GeneralizationCurve)]) -> Figure {
    let mut fig = Figure::new(plot(title, kind_or, curves));
    for (name, c) in curves {
        let ys = if kind_or { &c.s_or } else { &c.s_and };
        fig = fig.with_note(format!(
            "{name} {}: {}",
            if kind_or { "s_or" } else { "s_and" },
            pairs(&c.k, ys)
        ));
    }
    fig
}

/// Fig. 3: generalization power against k, one series per method; `kind` picks s_and or s_or.
fn plot(title: &str, kind_or: bool, curves: &[(&str, &GeneralizationCurve)]) -> Plot {
    let mut plot = Plot::new();
    for (index, (name, c)) in curves.iter().enumerate() {
        let ys = if kind_or { &c.s_or } else { &c.s_and };
        let color = series_color(name, index);
        plot.add_trace(
            Scatter::new(c.k.clone(), ys.clone())
                .mode(Mode::LinesMarkers)
                .name(*name)
                .line(Line::new().color(color).width(2.0))
                .marker(Marker::new().color(color).size(7)),
        );
    }
    let label = if kind_or { "s_or" } else { "s_and" };
    plot.set_layout(layout(title, label, 380));
    plot
}

pub fn curve_figure(curve: &GeneralizationCurve, title: &str) -> Figure {
    let this = curve;
    let mut plot = Plot::new();
    for (name, ys, color) in [
        ("s_and", &this.s_and, COLOR_AND),
        ("s_or", &this.s_or, COLOR_OR),
    ] {
        plot.add_trace(
            Scatter::new(this.k.clone(), ys.clone())
                .mode(Mode::LinesMarkers)
                .name(name)
                .line(Line::new().color(color).width(2.0))
                .marker(Marker::new().color(color).size(7)),
        );
    }
    plot.set_layout(layout(title, "generalization power", 360));
    let pairs = |ys: &[f64]| pairs(&this.k, ys);
    Figure::new(plot)
        .with_note(format!("s_and: {}", pairs(&this.s_and)))
        .with_note(format!("s_or: {}", pairs(&this.s_or)))
}
