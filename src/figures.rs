//! The paper's figures as plotly charts, and self-contained HTML pages that embed plotly.js once
//! (no network needed to view them). Colours follow the authors: AND #3A87BC, OR #FF9230.

use plotly::common::{DashType, Line, Marker, Mode, Title};
use plotly::layout::{Axis, AxisType, BarMode, Layout};
use plotly::{Bar, Plot, Scatter};

use crate::metrics::{GeneralizationCurve, OrderSums, SALIENCE_RATIO};

/// The authors' colour of AND interactions.
pub const COLOR_AND: &str = "#3A87BC";
/// The authors' colour of OR interactions.
pub const COLOR_OR: &str = "#FF9230";

/// Colour of a method's series: generalizable (ours) red, traditional blue, Harsanyi grey.
pub fn method_color(method: &str) -> &'static str {
    match method {
        "generalizable" => "#D62728",
        "traditional" => "#1F77B4",
        "harsanyi" => "#7F7F7F",
        _ => "#2CA02C",
    }
}

/// Colours of other series (e.g. one per α), in order.
pub const PALETTE: [&str; 8] = [
    "#1B9E77", "#D95F02", "#7570B3", "#E7298A", "#66A61E", "#E6AB02", "#A6761D", "#666666",
];

/// Colour of the `index`-th series named `name`: a method's own colour ([`method_color`]) for the
/// three methods, else the palette's `index`-th.
pub fn series_color(name: &str, index: usize) -> &'static str {
    match name {
        "generalizable" | "traditional" | "harsanyi" => method_color(name),
        _ => PALETTE[index % PALETTE.len()],
    }
}

/// At most this many points per sparsity curve: ranks are sampled log-uniformly (plus the first
/// and last), which keeps the curve's shape on a log axis while a 409,600-point pool stays small.
pub const MAX_CURVE_POINTS: usize = 1500;

/// (rank, value) pairs of a sorted curve, subsampled for plotting.
pub fn subsample_curve(sorted: &[f64]) -> (Vec<usize>, Vec<f64>) {
    let len = sorted.len();
    if len <= MAX_CURVE_POINTS {
        return ((1..=len).collect(), sorted.to_vec());
    }
    let mut ranks: Vec<usize> = (0..MAX_CURVE_POINTS)
        .map(|i| ((len as f64).powf(i as f64 / (MAX_CURVE_POINTS - 1) as f64)).round() as usize)
        .map(|r| r.clamp(1, len))
        .collect();
    ranks.dedup();
    let values = ranks.iter().map(|&r| sorted[r - 1]).collect();
    (ranks, values)
}

/// Fig. 2: interaction strengths in decreasing order on a log axis, one series per method, with
/// a dashed line at 0.05·max of each series.
pub fn sparsity_plot(title: &str, series: &[(&str, &[f64])]) -> Plot {
    let mut plot = Plot::new();
    for (index, (name, sorted)) in series.iter().enumerate() {
        let (ranks, values) = subsample_curve(sorted);
        // zero strengths cannot be drawn on a log axis
        let (ranks, values): (Vec<usize>, Vec<f64>) = ranks
            .into_iter()
            .zip(values)
            .filter(|(_, v)| *v > 0.0)
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
            .x_axis(Axis::new().title(Title::with_text(
                "rank of the interaction (all samples, AND and OR)",
            )))
            .y_axis(
                Axis::new()
                    .title(Title::with_text("strength |I(S)|"))
                    .type_(AxisType::Log),
            )
            .height(420),
    );
    plot
}

/// Fig. 3: generalization power against k, one series per method; `kind` picks s_and or s_or.
pub fn generalization_plot(
    title: &str,
    kind_or: bool,
    curves: &[(&str, &GeneralizationCurve)],
) -> Plot {
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
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .x_axis(Axis::new().title(Title::with_text("k (top-k interactions of each model)")))
            .y_axis(
                Axis::new()
                    .title(Title::with_text(label))
                    .range(vec![0.0, 1.0]),
            )
            .height(380),
    );
    plot
}

/// Fig. 4: per order, the summed strengths of salient interactions: all (positive, negative) and
/// those shared by every model (positive, negative).
pub fn order_plot(title: &str, sums: &[OrderSums]) -> Plot {
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

/// Figs. 6/13: masked samples sorted by v(x_T), the true values and the reconstruction from
/// salient interactions only.
pub fn matching_plot(title: &str, truth: &[f64], reconstruction: &[f64]) -> Plot {
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

/// A self-contained HTML page: plotly.js embedded once, then any mix of headings, HTML and plots.
#[derive(Default)]
pub struct HtmlPage {
    title: String,
    body: Vec<String>,
    plots: usize,
}

/// Escape text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl HtmlPage {
    pub fn new(title: &str) -> Self {
        HtmlPage {
            title: title.to_string(),
            ..Default::default()
        }
    }

    pub fn heading(&mut self, text: &str) -> &mut Self {
        self.body.push(format!("<h2>{}</h2>", escape(text)));
        self
    }

    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        self.body.push(format!("<p>{}</p>", escape(text)));
        self
    }

    /// Raw HTML (already escaped by the caller).
    pub fn html(&mut self, html: String) -> &mut Self {
        self.body.push(html);
        self
    }

    pub fn plot(&mut self, plot: &Plot) -> &mut Self {
        self.plots += 1;
        let id = format!("plot{}", self.plots);
        self.body.push(plot.to_inline_html(Some(&id)));
        self
    }

    /// The whole document.
    pub fn render(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n{js}\n<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n",
            title = escape(&self.title),
            js = Plot::offline_js_sources(),
            body = self.body.join("\n"),
        )
    }

    /// Write the page atomically.
    pub fn write(&self, path: &std::path::Path) -> crate::Result<()> {
        crate::export::write_atomic(path, self.render().as_bytes())
    }
}

/// An HTML table from a header and rows of cells (escaped here).
pub fn html_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let head: String = header
        .iter()
        .map(|h| format!("<th>{}</th>", escape(h)))
        .collect();
    let body: String = rows
        .iter()
        .map(|r| {
            format!(
                "<tr>{}</tr>",
                r.iter()
                    .map(|c| format!("<td>{}</td>", escape(c)))
                    .collect::<String>()
            )
        })
        .collect();
    format!("<table><tr>{head}</tr>{body}</table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsampling_keeps_ends_and_is_sorted() {
        let sorted: Vec<f64> = (0..100_000).rev().map(|x| x as f64).collect();
        let (ranks, values) = subsample_curve(&sorted);
        assert!(ranks.len() <= MAX_CURVE_POINTS);
        assert_eq!(ranks[0], 1);
        assert_eq!(*ranks.last().unwrap(), 100_000);
        assert!(ranks.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(values[0], 99_999.0);
    }

    #[test]
    fn page_embeds_plotly_once_and_every_plot() {
        let curve = GeneralizationCurve {
            k: vec![1, 2],
            s_and: vec![0.5, 0.7],
            s_or: vec![0.2, 0.4],
        };
        let mut page = HtmlPage::new("test <page>");
        page.plot(&generalization_plot(
            "Fig. 3",
            false,
            &[("generalizable", &curve)],
        ));
        page.plot(&sparsity_plot(
            "Fig. 2",
            &[("traditional", &[3.0, 1.0, 0.0][..])],
        ));
        page.html(html_table(&["a"], &[vec!["<b>".into()]]));
        let html = page.render();
        assert_eq!(html.matches("Plotly.newPlot(\"plot").count(), 2);
        assert!(html.contains("test &lt;page&gt;"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(
            !html.contains("<script src="),
            "must work offline: no external scripts"
        );
        assert!(html.len() > 1_000_000, "plotly.js is embedded");
    }
}
