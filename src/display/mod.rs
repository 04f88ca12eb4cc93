//! Rich display of results in evcxr (Rust Jupyter) notebooks, and figures that render anywhere.
//!
//! evcxr calls `evcxr_display(&self)` on a cell's final value when the type has one; the method
//! prints `EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT` blocks, which become one output with
//! several mime types. Every figure is emitted as
//! - `application/vnd.plotly.v1+json`: plotly's figure JSON, drawn interactively by the plotly
//!   extension of JupyterLab / Notebook 7 (installed by `kernel/install.sh`); plotly.js itself is
//!   never stored in a notebook;
//! - `image/svg+xml`: the static image, which nbconvert HTML, GitHub and front ends without the
//!   extension show;
//! - `text/plain`: a deterministic summary of the data, which the notebook regression tests compare.
//!
//! Tables of interactions (for [`Interactions`](crate::Interactions) and
//! [`Decomposition`](crate::Decomposition)) are in [`report`].

pub mod report;
/// Needs the networks' modules (feature `models`).
#[cfg(feature = "models")]
pub mod results;

use std::fmt::Write as _;

use crate::metrics::GeneralizationCurve;
use crate::plot::svg;
pub use crate::plot::{sig, Figure};

pub use report::{InteractionsView, Report, Table};
#[cfg(feature = "models")]
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

// --- figures in notebooks --------------------------------------------------------------------
//
// evcxr links this crate statically into every cell, so each cell sees fresh statics: session
// settings (interactive charts on or off) live in the process environment.

/// Figures carry interactive plotly charts unless this is "0".
pub const ENV_INTERACTIVE: &str = "INTERPRIM_INTERACTIVE";

/// The mime type of plotly's own figure JSON, rendered by the JupyterLab / Notebook 7 extension
/// of the `plotly` Python package (which `kernel/install.sh` installs).
pub const PLOTLY_MIME: &str = "application/vnd.plotly.v1+json";

/// Whether figures carry their interactive plotly chart (default) beside the static image. The
/// chart is plotly's JSON only (tens of kB); plotly.js itself is never put into a notebook. Same
/// as setting `INTERPRIM_INTERACTIVE=0`.
pub fn set_interactive(on: bool) {
    // Only the displaying (main) thread of a notebook cell touches this variable.
    std::env::set_var(ENV_INTERACTIVE, if on { "1" } else { "0" });
}

fn interactive() -> bool {
    std::env::var(ENV_INTERACTIVE).map_or(true, |v| v != "0")
}

/// Standard base64 (RFC 4648, padded): the static image goes into a data URI.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Figure {
    /// The HTML fragment of a figure inside a report: its static SVG image (no script, so it
    /// shows the same in JupyterLab, nbconvert HTML and GitHub).
    pub fn html_fragment(&self) -> String {
        let svg = self.to_svg();
        let alt = svg::xml_escape(&self.title().unwrap_or_else(|| "figure".into()));
        format!(
            "<div class=\"interprim-figure\" style=\"max-width:900px\"><img alt=\"{alt}\" style=\"max-width:100%\" src=\"data:image/svg+xml;base64,{}\"></div>",
            base64(svg.as_bytes())
        )
    }

    /// All representations of this figure: plotly's JSON under [`PLOTLY_MIME`] (interactive in
    /// JupyterLab with plotly's extension; left out after `set_interactive(false)`), the static
    /// SVG (what nbconvert HTML, GitHub and front ends without the extension show) and a text
    /// summary (what the notebook regression tests compare).
    pub fn mime_bundle(&self) -> MimeBundle {
        let mut bundle = MimeBundle::new();
        if interactive() {
            bundle = bundle.with(PLOTLY_MIME, self.plot().to_json());
        }
        bundle
            .with("image/svg+xml", self.to_svg())
            .with("text/plain", self.summary())
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.mime_bundle().emit();
    }
}

#[cfg(feature = "models")]
impl crate::plot::patches::PatchFigure {
    /// All representations (static: no JavaScript needed anywhere): the SVG image, which every
    /// front end shows (JupyterLab, nbconvert HTML, GitHub), and the text. No HTML copy of the
    /// same image: it would double the notebook's size.
    pub fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::new()
            .with("image/svg+xml", self.to_svg())
            .with("text/plain", self.to_text())
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.mime_bundle().emit();
    }
}

impl GeneralizationCurve {
    /// Shows s_and and s_or against k ([`crate::plot::generalization::curve_figure`]).
    pub fn evcxr_display(&self) {
        crate::plot::generalization::curve_figure(self, "Generalization power").evcxr_display();
    }
}

/// Tests that display share the process environment's session state; they take this lock.
#[cfg(test)]
pub(crate) static TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
    fn figure_bundle_has_plotly_json_static_image_and_text_but_no_plotly_js() {
        let curve = GeneralizationCurve {
            k: vec![1, 2],
            s_and: vec![0.5, 0.75],
            s_or: vec![0.25, 0.5],
        };
        let fig = crate::plot::generalization::curve_figure(&curve, "Fig. 3");
        let _lock = TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        set_interactive(true);
        let bundle = fig.mime_bundle();
        assert_eq!(
            bundle.mime_types().collect::<Vec<_>>(),
            [PLOTLY_MIME, "image/svg+xml", "text/plain"]
        );
        let json: Value = serde_json::from_str(bundle.get(PLOTLY_MIME).unwrap()).unwrap();
        assert!(json.get("data").and_then(Value::as_array).is_some());
        assert!(json.get("layout").is_some());
        let total: usize = bundle
            .mime_types()
            .map(|m| bundle.get(m).unwrap().len())
            .sum();
        assert!(
            total < 100_000,
            "no plotly.js in a notebook output: {total} bytes"
        );
        assert!(bundle.get("image/svg+xml").unwrap().starts_with("<svg"));
        let plain = bundle.get("text/plain").unwrap();
        assert!(plain.contains("Figure: Fig. 3"));
        assert!(plain.contains("s_and: 1:0.500 2:0.750"));
        set_interactive(false);
        let static_only = fig.mime_bundle();
        set_interactive(true);
        assert_eq!(
            static_only.mime_types().collect::<Vec<_>>(),
            ["image/svg+xml", "text/plain"]
        );
        // inside a report: the static image, no script
        let html = fig.html_fragment();
        assert!(html.contains("data:image/svg+xml;base64,") && !html.contains("<script"));
    }

    #[test]
    fn paper_figures_summaries_carry_the_numbers() {
        let s = [4.0, 1.0, 0.1, 0.0];
        let fig = crate::plot::sparsity::figure("Fig. 2", &[("generalizable", &s[..])]);
        assert!(
            fig.summary()
                .contains("generalizable: max 4; 2 of 4 above 0.05·max = 0.2"),
            "{}",
            fig.summary()
        );
        // no per-trace lines (the tail is solver noise), and strengths below 1e-6·max not drawn
        assert!(!fig.summary().contains("scatter"), "{}", fig.summary());
        let noisy = [4.0, 1.0, 5e-6, 1e-7, 1e-17];
        let fig2 = crate::plot::sparsity::figure("Fig. 2", &[("g", &noisy[..])]);
        let json: Value = serde_json::from_str(&fig2.plot().to_json()).unwrap();
        assert_eq!(
            json.pointer("/data/0/y").unwrap().as_array().unwrap().len(),
            3
        );
        assert!(fig.to_svg().contains("</svg>"));
        // Fig. 2's rank axis is logarithmic (the salient few would otherwise be invisible)
        let layout: Value = serde_json::from_str(&fig.plot().to_json()).unwrap();
        assert_eq!(
            layout.pointer("/layout/xaxis/type"),
            Some(&Value::from("log"))
        );
        let fig = crate::plot::matching::figure("Fig. 6", &[1.0, 2.0], &[1.0, 2.5]);
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
