//! The paper's figures, one module per figure, each returning a [`Figure`]: a plotly chart with
//! a static SVG rendering ([`svg`]) and a text summary of its numbers. The HTML reports of the
//! runs ([`HtmlPage`]) and the notebooks' rich display ([`crate::display`]) show the same
//! [`Figure`]s. Colours follow the authors: AND #3A87BC, OR #FF9230.
//!
//! | figure | module |
//! |---|---|
//! | Fig. 2, sparsity of pooled strengths | [`sparsity`] |
//! | Fig. 3 (and 8), generalization power against k | [`generalization`] |
//! | Fig. 4, salient interactions per order, all and shared | [`orders`] |
//! | Figs. 6/13, universal matching | [`matching`] |
//! | Figs. 1/9 for images: shared patches drawn on the digit | [`patches`] |

pub mod convergence;
pub mod generalization;
pub mod matching;
pub mod orders;
/// Needs the digits' data and games (feature `models`).
#[cfg(feature = "models")]
pub mod patches;
pub mod sparsity;
pub mod svg;

use std::fmt::Write as _;
use std::path::Path;

use plotly::Plot;
use serde_json::Value;

use crate::Result;

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
pub const MAX_CURVE_POINTS: usize = 300;

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

/// A plotly chart that shows itself in a notebook (interactive and static) and saves as a
/// standalone HTML page or an SVG image.
#[derive(Clone)]
pub struct Figure {
    plot: Plot,
    notes: Vec<String>,
    /// Whether the text summary has a line per trace (first, last and range of y).
    trace_lines: bool,
}

impl std::fmt::Debug for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

impl From<Plot> for Figure {
    fn from(plot: Plot) -> Self {
        Figure::new(plot)
    }
}

impl Figure {
    pub fn new(plot: Plot) -> Self {
        Figure {
            plot,
            notes: Vec::new(),
            trace_lines: true,
        }
    }

    /// Leave the per-trace lines (first, last and range of each curve) out of the text summary,
    /// keeping the title and the notes. For curves whose tail is float noise (Fig. 2's sorted
    /// strengths end in the solver's near-zero residuals), where those lines would print
    /// rounding error as if it were a result.
    pub fn without_trace_lines(mut self) -> Self {
        self.trace_lines = false;
        self
    }

    /// Add a line to the text summary (the numbers that matter, for readers and regression tests).
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn plot(&self) -> &Plot {
        &self.plot
    }

    pub fn plot_mut(&mut self) -> &mut Plot {
        &mut self.plot
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.plot.to_json()).unwrap_or(Value::Null)
    }

    pub fn title(&self) -> Option<String> {
        svg::title_text(self.json().get("layout").and_then(|l| l.get("title")))
    }

    /// The static image.
    pub fn to_svg(&self) -> String {
        svg::render(&self.json())
    }

    /// A standalone page (plotly.js embedded, works offline).
    pub fn to_html(&self) -> String {
        let mut page = HtmlPage::new(&self.title().unwrap_or_else(|| "figure".into()));
        page.figure(self);
        page.render()
    }

    pub fn save_html(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::export::write_atomic(path.as_ref(), self.to_html().as_bytes())
    }

    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::export::write_atomic(path.as_ref(), self.to_svg().as_bytes())
    }

    /// Title, one line per trace (points, first and last values, range) and the notes.
    pub fn summary(&self) -> String {
        let json = self.json();
        let mut out = format!(
            "Figure: {}",
            self.title().unwrap_or_else(|| "(untitled)".into())
        );
        for t in json
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|_| self.trace_lines)
        {
            let name = t.get("name").and_then(Value::as_str).unwrap_or("");
            let kind = t.get("type").and_then(Value::as_str).unwrap_or("scatter");
            let ys: Vec<f64> = t
                .get("y")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            let (Some(first), Some(last)) = (ys.first(), ys.last()) else {
                let _ = write!(out, "\n  {kind} {name:?}: no points");
                continue;
            };
            let (lo, hi) = ys
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
                    (a.min(y), b.max(y))
                });
            let _ = write!(
                out,
                "\n  {kind} {name:?}: {} points, y {} … {} (range {} to {})",
                ys.len(),
                sig(*first),
                sig(*last),
                sig(lo),
                sig(hi)
            );
        }
        for n in &self.notes {
            let _ = write!(out, "\n  {n}");
        }
        out
    }
}

/// A number with 4 significant digits, compact (for summaries).
pub fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    if (-4..6).contains(&mag) {
        let decimals = (3 - mag).max(0) as usize;
        let s = format!("{x:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{x:.3e}")
    }
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

    /// A figure, interactive (plotly.js is embedded once in the page's head).
    pub fn figure(&mut self, figure: &Figure) -> &mut Self {
        self.plots += 1;
        let id = format!("plot{}", self.plots);
        self.body.push(figure.plot().to_inline_html(Some(&id)));
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
        let curve = crate::metrics::GeneralizationCurve {
            k: vec![1, 2],
            s_and: vec![0.5, 0.7],
            s_or: vec![0.2, 0.4],
        };
        let mut page = HtmlPage::new("test <page>");
        page.figure(&generalization::figure(
            "Fig. 3",
            false,
            &[("generalizable", &curve)],
        ));
        page.figure(&sparsity::figure(
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
