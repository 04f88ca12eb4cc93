//! Fig. 4: per order |S|, the sums of the positive and of the negative parts of the salient
//! interactions of one model, for all salient interactions and for those shared by every model.

use plotly::common::{Marker, Title};
use plotly::layout::{Axis, BarMode, Layout};
use plotly::{Bar, Plot};

use super::{Figure, COLOR_AND, COLOR_OR};
use crate::metrics::OrderSums;

/// Fig. 4: per order, summed salient interactions (all ±, shared ±).
pub fn figure(title: &str, sums: &[OrderSums]) -> Figure {
    let mut fig = Figure::new(plot(title, sums));
    for s in sums.iter().filter(|s| s.all_pos != 0.0 || s.all_neg != 0.0) {
        fig = fig.with_note(format!(
            "order {}: all {:+.4}/{:+.4}, shared {:+.4}/{:+.4}",
            s.order, s.all_pos, s.all_neg, s.shared_pos, s.shared_neg
        ));
    }
    fig
}

/// Fig. 4: per order, the summed strengths of salient interactions: all (positive, negative) and
/// those shared by every model (positive, negative).
fn plot(title: &str, sums: &[OrderSums]) -> Plot {
    let orders: Vec<usize> = sums.iter().map(|s| s.order).collect();
    let bars = [
        (
            "all +",
            sums.iter().map(|s| s.all_pos).collect::<Vec<_>>(),
            "#9ECAE1",
        ),
        ("all −", sums.iter().map(|s| s.all_neg).collect(), "#FDD0A2"),
        (
            "shared +",
            sums.iter().map(|s| s.shared_pos).collect(),
            COLOR_AND,
        ),
        (
            "shared −",
            sums.iter().map(|s| s.shared_neg).collect(),
            COLOR_OR,
        ),
    ];
    let mut plot = Plot::new();
    for (name, ys, color) in bars {
        plot.add_trace(
            Bar::new(orders.clone(), ys)
                .name(name)
                .marker(Marker::new().color(color)),
        );
    }
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .bar_mode(BarMode::Group)
            .x_axis(Axis::new().title(Title::with_text("order |S|")).dtick(1.0))
            .y_axis(Axis::new().title(Title::with_text("sum of salient I(S)")))
            .height(360),
    );
    plot
}
