//! Rich display of results in evcxr (Rust Jupyter) notebooks, and figures that render anywhere.
//!
//! evcxr calls `evcxr_display(&self)` on a cell's final value when the type has one; the method
//! prints `EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT` blocks, which become one output with
//! several mime types. Every figure is emitted as
//! - `text/html`: a static SVG image (shown where no JavaScript runs: GitHub, untrusted notebooks)
//!   that a script replaces with the interactive plotly chart when plotly.js is present; plotly.js
//!   itself is embedded (offline) in the first figure of a kernel session only;
//! - `image/svg+xml`: the same static image, for front ends that prefer it;
//! - `text/plain`: a deterministic summary of the data, which the notebook regression tests compare.
//!
//! Tables of interactions (for [`Interactions`](crate::Interactions) and
//! [`Decomposition`](crate::Decomposition)) are in [`report`].

pub mod report;
pub mod results;
pub mod svg;

use std::fmt::Write as _;
use std::path::Path;

use plotly::Plot;
use serde_json::Value;

use crate::figures;
use crate::metrics::{self, GeneralizationCurve, OrderSums, SALIENCE_RATIO};
use crate::Result;

pub use report::{InteractionsView, Report, Table};
pub use results::highlight_sentence;

/// One output: several representations of the same thing, best first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MimeBundle {
    entries: Vec<(String, String)>,
}

impl MimeBundle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) the content of one mime type.
    pub fn with(mut self, mime: &str, content: impl Into<String>) -> Self {
        let content = content.into();
        match self.entries.iter_mut().find(|(m, _)| m == mime) {
            Some(e) => e.1 = content,
            None => self.entries.push((mime.to_string(), content)),
        }
        self
    }

    pub fn get(&self, mime: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(m, _)| m == mime)
            .map(|(_, c)| c.as_str())
    }

    pub fn mime_types(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(m, _)| m.as_str())
    }

    /// The text evcxr reads from stdout. A content line equal to the end marker would end the
    /// block early, so such lines get a trailing space.
    pub fn to_evcxr(&self) -> String {
        let mut out = String::new();
        for (mime, content) in &self.entries {
            let _ = writeln!(out, "EVCXR_BEGIN_CONTENT {mime}");
            for line in content.lines() {
                if line == "EVCXR_END_CONTENT" {
                    out.push_str("EVCXR_END_CONTENT \n");
                } else {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out.push_str("EVCXR_END_CONTENT\n");
        }
        out
    }

    /// Print for evcxr (stdout, flushed so the blocks are not interleaved with other output).
    pub fn emit(&self) {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(self.to_evcxr().as_bytes());
        let _ = stdout.flush();
    }
}

// --- plotly.js, once per kernel session ---------------------------------------------------------
//
// evcxr links this crate statically into every cell, so each cell sees fresh statics: state that
// must last a kernel session (plotly.js sent, figure numbering) lives in the process environment.

const ENV_JS_SENT: &str = "INTERPRIM_DISPLAY_PLOTLY_SENT";
const ENV_SEQUENCE: &str = "INTERPRIM_DISPLAY_SEQUENCE";
/// Figures carry interactive charts unless this is "0".
pub const ENV_INTERACTIVE: &str = "INTERPRIM_INTERACTIVE";

fn env_flag(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn set_env(name: &str, value: &str) {
    // Only the displaying (main) thread of a notebook cell touches these variables.
    std::env::set_var(name, value);
}

/// Whether figures carry interactive plotly charts (default) or only their static image. Off keeps
/// notebooks small (plotly.js is 4.6 MB). Same as setting `INTERPRIM_INTERACTIVE=0`.
pub fn set_interactive(on: bool) {
    set_env(ENV_INTERACTIVE, if on { "1" } else { "0" });
}

fn interactive() -> bool {
    env_flag(ENV_INTERACTIVE).is_none_or(|v| v != "0")
}

/// Make the next figure embed plotly.js again (e.g. after its output was cleared or the page
/// reloaded without trusting the notebook).
pub fn reset_plotly_js() {
    set_env(ENV_JS_SENT, "0");
}

/// A number unique within the kernel session, for element ids.
fn next_sequence() -> u64 {
    let n = env_flag(ENV_SEQUENCE)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    set_env(ENV_SEQUENCE, &(n + 1).to_string());
    n
}

/// plotly.min.js as one `<script>`, offline. It is run with `define`, `module` and `exports`
/// hidden, so that it sets `window.Plotly` even where require.js is loaded (classic notebook,
/// nbconvert's templates), and it is skipped when the page already has plotly.
pub fn plotly_js_script() -> String {
    let sources = Plot::offline_js_sources();
    // offline_js_sources() is plotly.js then MathJax, each in a <script>; take plotly.js only
    let body = sources
        .split_once('>')
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(js, _)| js)
        .unwrap_or("");
    format!(
        "<script type=\"text/javascript\">if(!window.Plotly){{(function(define,module,exports){{\n{body}\n}}).call(window);}}</script>"
    )
}

/// plotly.js for the first interactive figure of the session, nothing afterwards.
fn plotly_js_once() -> String {
    if interactive() && env_flag(ENV_JS_SENT).as_deref() != Some("1") {
        set_env(ENV_JS_SENT, "1");
        plotly_js_script()
    } else {
        String::new()
    }
}

/// Standard base64 (the static image goes into a data URI).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            out.push(if i <= c.len() {
                T[(n >> shift & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

// --- figures ------------------------------------------------------------------------------------

/// A plotly chart that shows itself in a notebook (interactive and static) and saves as a
/// standalone HTML page or an SVG image.
#[derive(Clone)]
pub struct Figure {
    plot: Plot,
    notes: Vec<String>,
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
        }
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

    fn json(&self) -> Value {
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
        let mut page = figures::HtmlPage::new(&self.title().unwrap_or_else(|| "figure".into()));
        page.plot(&self.plot);
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

    /// The HTML fragment of a notebook output: static image, replaced by the interactive chart
    /// when plotly.js is on the page. `js` is prepended (plotly.js, or nothing).
    pub fn html_fragment(&self, js: &str) -> String {
        let json = self.plot.to_json();
        let count = next_sequence();
        let id = format!("interprim-fig-{count}-{:08x}", fnv1a(&json) as u32);
        let svg = self.to_svg();
        let alt = svg::xml_escape(&self.title().unwrap_or_else(|| "figure".into()));
        let height = self
            .json()
            .pointer("/layout/height")
            .and_then(Value::as_f64)
            .unwrap_or(svg::DEFAULT_HEIGHT);
        let mut html = String::from(js);
        let _ = write!(
            html,
            "<div class=\"interprim-figure\" id=\"{id}\" style=\"max-width:900px\"><img alt=\"{alt}\" style=\"max-width:100%\" src=\"data:image/svg+xml;base64,{}\"></div>",
            base64(svg.as_bytes())
        );
        if interactive() {
            // "</" cannot appear inside a script element
            let json = json.replace("</", "<\\/");
            let _ = write!(
                html,
                "<script type=\"text/javascript\">(function(){{var d=document.getElementById(\"{id}\");if(!d||!window.Plotly)return;d.innerHTML=\"\";d.style.height=\"{height}px\";window.Plotly.newPlot(d,{json});}})();</script>"
            );
        }
        html
    }

    /// All representations of this figure.
    pub fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::new()
            .with("text/html", self.html_fragment(&plotly_js_once()))
            .with("image/svg+xml", self.to_svg())
            .with("text/plain", self.summary())
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.mime_bundle().emit();
    }

    // --- the paper's figures ---

    /// Fig. 2: pooled strengths, sorted decreasingly, one curve per method (see
    /// [`figures::sparsity_plot`]); `series` holds sorted strengths ([`metrics::strength_curve`]).
    pub fn sparsity(title: &str, series: &[(&str, &[f64])]) -> Figure {
        let mut fig = Figure::new(figures::sparsity_plot(title, series));
        for (name, s) in series {
            let max = s.first().copied().unwrap_or(0.0);
            let c = metrics::salient_count_relative(s, SALIENCE_RATIO);
            fig = fig.with_note(format!(
                "{name}: {} of {} above 0.05·max = {}",
                c.count,
                c.total,
                sig(SALIENCE_RATIO * max)
            ));
        }
        fig
    }

    /// Fig. 3: generalization power s_and (or s_or) against k, one curve per method.
    pub fn generalization(
        title: &str,
        kind_or: bool,
        curves: &[(&str, &GeneralizationCurve)],
    ) -> Figure {
        let mut fig = Figure::new(figures::generalization_plot(title, kind_or, curves));
        for (name, c) in curves {
            let ys = if kind_or { &c.s_or } else { &c.s_and };
            let pairs: Vec<String> =
                c.k.iter()
                    .zip(ys)
                    .map(|(k, s)| format!("{k}:{s:.3}"))
                    .collect();
            fig = fig.with_note(format!(
                "{name} {}: {}",
                if kind_or { "s_or" } else { "s_and" },
                pairs.join(" ")
            ));
        }
        fig
    }

    /// Fig. 4: per order, summed salient interactions (all ±, shared ±).
    pub fn orders(title: &str, sums: &[OrderSums]) -> Figure {
        let mut fig = Figure::new(figures::order_plot(title, sums));
        for s in sums.iter().filter(|s| s.all_pos != 0.0 || s.all_neg != 0.0) {
            fig = fig.with_note(format!(
                "order {}: all {:+.4}/{:+.4}, shared {:+.4}/{:+.4}",
                s.order, s.all_pos, s.all_neg, s.shared_pos, s.shared_neg
            ));
        }
        fig
    }

    /// Figs. 6/13: masked samples sorted by v(x_T), truth and reconstruction.
    pub fn matching(title: &str, truth: &[f64], reconstruction: &[f64]) -> Figure {
        let fig = Figure::new(figures::matching_plot(title, truth, reconstruction));
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

impl GeneralizationCurve {
    /// s_and and s_or against k in one chart (AND blue, OR orange).
    pub fn figure(&self, title: &str) -> Figure {
        use plotly::common::{Line, Marker, Mode, Title};
        use plotly::layout::{Axis, Layout};
        use plotly::Scatter;
        let mut plot = Plot::new();
        for (name, ys, color) in [
            ("s_and", &self.s_and, figures::COLOR_AND),
            ("s_or", &self.s_or, figures::COLOR_OR),
        ] {
            plot.add_trace(
                Scatter::new(self.k.clone(), ys.clone())
                    .mode(Mode::LinesMarkers)
                    .name(name)
                    .line(Line::new().color(color).width(2.0))
                    .marker(Marker::new().color(color).size(7)),
            );
        }
        plot.set_layout(
            Layout::new()
                .title(Title::with_text(title))
                .x_axis(Axis::new().title(Title::with_text("k (top-k interactions of each model)")))
                .y_axis(
                    Axis::new()
                        .title(Title::with_text("generalization power"))
                        .range(vec![0.0, 1.0]),
                )
                .height(360),
        );
        let pairs = |ys: &[f64]| {
            self.k
                .iter()
                .zip(ys)
                .map(|(k, s)| format!("{k}:{s:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        Figure::new(plot)
            .with_note(format!("s_and: {}", pairs(&self.s_and)))
            .with_note(format!("s_or: {}", pairs(&self.s_or)))
    }

    pub fn evcxr_display(&self) {
        self.figure("Generalization power").evcxr_display();
    }
}

/// Tests that display share the process environment's session state; they take this lock.
#[cfg(test)]
pub(crate) static TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evcxr_protocol_blocks_and_end_marker_escape() {
        let b = MimeBundle::new()
            .with("text/plain", "a\nEVCXR_END_CONTENT\nb")
            .with("text/html", "<b>x</b>")
            .with("text/plain", "c");
        let text = b.to_evcxr();
        assert_eq!(text, "EVCXR_BEGIN_CONTENT text/plain\nc\nEVCXR_END_CONTENT\nEVCXR_BEGIN_CONTENT text/html\n<b>x</b>\nEVCXR_END_CONTENT\n");
        let b = MimeBundle::new().with("text/plain", "a\nEVCXR_END_CONTENT\nb");
        assert_eq!(b.to_evcxr().matches("\nEVCXR_END_CONTENT\n").count(), 1);
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn figure_bundle_has_static_and_interactive_views_and_plotly_once() {
        let curve = GeneralizationCurve {
            k: vec![1, 2],
            s_and: vec![0.5, 0.75],
            s_or: vec![0.25, 0.5],
        };
        let fig = curve.figure("Fig. 3");
        let _lock = TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        reset_plotly_js();
        let first = fig.mime_bundle();
        let second = fig.mime_bundle();
        let html = first.get("text/html").unwrap();
        assert!(
            html.len() > 1_000_000 && html.contains("window.Plotly"),
            "plotly.js embedded in the first"
        );
        assert!(html.len() < 5_000_000, "plotly.js only, not MathJax");
        assert!(
            second.get("text/html").unwrap().len() < 100_000,
            "and not again"
        );
        assert!(html.contains("data:image/svg+xml;base64,"));
        assert!(first.get("image/svg+xml").unwrap().starts_with("<svg"));
        let plain = first.get("text/plain").unwrap();
        assert!(plain.contains("Figure: Fig. 3"));
        assert!(plain.contains("s_and: 1:0.500 2:0.750"));
        assert_eq!(
            first.mime_types().collect::<Vec<_>>(),
            ["text/html", "image/svg+xml", "text/plain"]
        );
        // ids differ between two outputs of the same figure
        let id = |h: &str| {
            h.split("id=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        };
        assert_ne!(id(html), id(second.get("text/html").unwrap()));
    }

    #[test]
    fn paper_figures_summaries_carry_the_numbers() {
        let s = [4.0, 1.0, 0.1, 0.0];
        let fig = Figure::sparsity("Fig. 2", &[("generalizable", &s[..])]);
        assert!(
            fig.summary()
                .contains("generalizable: 2 of 4 above 0.05·max = 0.2"),
            "{}",
            fig.summary()
        );
        assert!(fig.to_svg().contains("</svg>"));
        let fig = Figure::matching("Fig. 6", &[1.0, 2.0], &[1.0, 2.5]);
        assert!(
            fig.summary().contains("matching error: max 0.5 mean 0.25"),
            "{}",
            fig.summary()
        );
        let dir = tempfile::tempdir().unwrap();
        fig.save_html(dir.path().join("f.html")).unwrap();
        fig.save_svg(dir.path().join("f.svg")).unwrap();
        assert!(std::fs::metadata(dir.path().join("f.html")).unwrap().len() > 1_000_000);
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig(0.123456), "0.1235");
        assert_eq!(sig(12345.6), "12346");
        assert_eq!(sig(-2.5), "-2.5");
        assert_eq!(sig(1e-7), "1.000e-7");
        assert_eq!(sig(0.0), "0");
    }
}
