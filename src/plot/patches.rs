//! The image task's figure (Figs. 1/9 for images): a digit with its patch players and, for the
//! strongest interactions the models share, the patches of each coalition drawn on the digit
//! (AND blue: all patches needed; OR orange: any patch suffices) with each model's effect.

use std::fmt::Write as _;
use std::path::Path;

use super::{escape, COLOR_AND, COLOR_OR};
use crate::coalition::Coalition;
use crate::data::digits::{PIXELS, SIDE};
use crate::games::image::{check_image, Patch};
use crate::interactions::{Interaction, Kind};
use crate::{metrics, Error, Result};

/// The digit as a grey-scale SVG (white ink on black, as MNIST) with the outline of every player
/// (dashed green, labelled by index) and, filled with `color`, the patches of `highlight`.
pub fn patch_svg(
    pixels: &[f32],
    patches: &[Patch],
    highlight: Coalition,
    color: &str,
    scale: usize,
) -> String {
    let s = scale.max(1);
    let side = SIDE * s;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{side}\" height=\"{side}\" viewBox=\"0 0 {side} {side}\">"
    );
    // black background, then only the pixels with ink, one path per grey level (a few kB per
    // digit, so that a notebook of many panels stays small)
    svg += &format!("<rect width=\"{side}\" height=\"{side}\" fill=\"#000\"/>");
    let mut levels: std::collections::BTreeMap<u8, String> = std::collections::BTreeMap::new();
    for r in 0..SIDE {
        for c in 0..SIDE {
            let g = (pixels
                .get(r * SIDE + c)
                .copied()
                .unwrap_or(0.0)
                .clamp(0.0, 1.0)
                * 255.0)
                .round() as u8;
            if g > 0 {
                let d = levels.entry(g).or_default();
                let _ = write!(d, "M{} {}h{s}v{s}h-{s}z", c * s, r * s);
            }
        }
    }
    for (g, d) in &levels {
        let _ = write!(svg, "<path d=\"{d}\" fill=\"rgb({g},{g},{g})\"/>");
    }
    for (i, p) in patches.iter().enumerate() {
        let (x, y, w) = (p.col * s, p.row * s, p.size * s);
        if highlight.contains(i) {
            svg += &format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{w}\" fill=\"{color}\" fill-opacity=\"0.55\" stroke=\"{color}\" stroke-width=\"2\"/>"
            );
        } else {
            svg += &format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{w}\" fill=\"none\" stroke=\"#2CA02C\" stroke-width=\"1.5\" stroke-dasharray=\"3,2\"/>"
            );
        }
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" font-weight=\"bold\" fill=\"#2CA02C\" font-family=\"sans-serif\">{i}</text>",
            x + 1,
            y + w - 2,
            (s * 3 / 2).max(8)
        );
    }
    svg + "</svg>"
}

/// Shared interactions of several models' interactions on one sample (e.g. the generalizable
/// result): those in every model's top `k` (AND and OR together by strength), in the first
/// model's order, with each model's effect.
pub fn top_shared(
    models: &[crate::Interactions],
    k: usize,
) -> Result<Vec<(Interaction, Vec<f64>)>> {
    let refs: Vec<&crate::Interactions> = models.iter().collect();
    let split = metrics::shared_and_distinctive(&refs, k)?;
    Ok(split[0]
        .shared
        .iter()
        .map(|it| {
            let effects = refs
                .iter()
                .map(|m| m.get(it.kind)[it.coalition.mask()])
                .collect();
            (*it, effects)
        })
        .collect())
}

/// One image of the patch figure: a title, the per-model interactions (reorganised) on its
/// players, the pixels and the players' patches.
pub struct PatchFigureItem<'a> {
    pub title: &'a str,
    pub interactions: &'a [crate::Interactions],
    pub pixels: &'a [f32],
    pub patches: &'a [Patch],
}

/// An HTML page with a section per image: the digit with its players, then the `per_kind`
/// strongest shared AND interactions (blue) and OR interactions (orange) among all models' top
/// `k`, each drawn as its patches on the digit with the effect in each model.
pub fn patches_html(
    items: &[PatchFigureItem<'_>],
    models: &[String],
    k: usize,
    per_kind: usize,
) -> Result<String> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>interprim: shared patch interactions</title>\
         <style>body{font-family:sans-serif;max-width:1200px;margin:auto} figure{display:inline-block;margin:4px;text-align:center;font-size:12px} figcaption{max-width:170px}</style></head><body>\n\
         <h1>Patch interactions shared by the two CNNs (generalizable extraction)</h1>\n",
    );
    html += &format!(
        "<p>Models: {}. Each digit shows its 8 players (dashed green, numbered); the figures after it are the strongest interactions in both models' top {k} (AND <span style=\"color:{COLOR_AND}\">blue</span>: all patches needed; OR <span style=\"color:{COLOR_OR}\">orange</span>: any patch suffices), with the effect I(S) in each model.</p>\n",
        escape(&models.join(" vs "))
    );
    for item in items {
        let (pixels, patches) = (item.pixels, item.patches);
        if item.interactions.len() != models.len() {
            return Err(Error::WrongModelCount(format!(
                "{}: interactions of {} models for {} model names",
                item.title,
                item.interactions.len(),
                models.len()
            )));
        }
        html += &format!("<h2>{}</h2>\n<div>", escape(item.title));
        html += &format!(
            "<figure>{}<figcaption>players</figcaption></figure>",
            patch_svg(pixels, patches, Coalition(0), COLOR_AND, 6)
        );
        let shared = top_shared(item.interactions, k)?;
        for kind in [Kind::And, Kind::Or] {
            let color = match kind {
                Kind::And => COLOR_AND,
                Kind::Or => COLOR_OR,
            };
            for (it, effects) in shared
                .iter()
                .filter(|(i, _)| i.kind == kind && !i.coalition.is_empty())
                .take(per_kind)
            {
                let names: Vec<String> = it.coalition.players().map(|p| p.to_string()).collect();
                let fx: Vec<String> = models
                    .iter()
                    .zip(effects)
                    .map(|(m, e)| format!("{m} {e:+.2}"))
                    .collect();
                html += &format!(
                    "<figure>{}<figcaption>{} {{{}}}<br>{}</figcaption></figure>",
                    patch_svg(pixels, patches, it.coalition, color, 6),
                    kind.name(),
                    names.join(","),
                    escape(&fx.join(", "))
                );
            }
        }
        html += "</div>\n";
    }
    html += "</body></html>\n";
    Ok(html)
}

/// Check that patches fit in the image and are disjoint (what [`masked_images`] requires).
fn check_patches(patches: &[Patch]) -> Result<()> {
    let mut owner = vec![false; PIXELS];
    for p in patches {
        if p.size == 0 || p.row + p.size > SIDE || p.col + p.size > SIDE {
            return Err(Error::InvalidPlayers(format!(
                "patch {} of size {} does not fit in the 28×28 image",
                p.name(),
                p.size
            )));
        }
        for px in p.pixel_indices() {
            if std::mem::replace(&mut owner[px], true) {
                return Err(Error::InvalidPlayers(format!(
                    "patch {} overlaps another: players must be disjoint",
                    p.name()
                )));
            }
        }
    }
    Ok(())
}

/// One row of a [`PatchFigure`]: the shared interactions of one extraction.
#[derive(Clone, Debug)]
struct PatchRow {
    label: String,
    k: usize,
    shared_total: usize,
    items: Vec<(Interaction, Vec<f64>)>,
}

/// A digit with its patch players and, per row (e.g. generalizable and traditional extraction),
/// the strongest interactions shared by all models drawn as their patches on the digit: AND blue
/// (#3A87BC, all patches needed), OR orange (#FF9230, any patch suffices), with each model's
/// effect I(S). One static SVG image, so it renders without JavaScript (GitHub, nbconvert); in a
/// notebook it displays itself (text/html, image/svg+xml, and a text/plain summary).
#[derive(Clone, Debug)]
pub struct PatchFigure {
    title: String,
    pixels: Vec<f32>,
    patches: Vec<Patch>,
    models: Vec<String>,
    rows: Vec<PatchRow>,
}

/// Pixels per image pixel in a [`PatchFigure`] with rows; the players alone are drawn twice as large.
const FIGURE_SCALE: usize = 4;
const PANEL_W: usize = 150;
const CAPTION_LINE: usize = 14;

impl PatchFigure {
    /// The digit and its players only; add rows with [`PatchFigure::shared`].
    pub fn new<S: AsRef<str>>(
        title: impl Into<String>,
        pixels: &[f32],
        patches: &[Patch],
        models: &[S],
    ) -> Result<Self> {
        check_image(pixels)?;
        check_patches(patches)?;
        Ok(Self {
            title: title.into(),
            pixels: pixels.to_vec(),
            patches: patches.to_vec(),
            models: models.iter().map(|m| m.as_ref().to_string()).collect(),
            rows: Vec::new(),
        })
    }

    /// A row: the `per_kind` strongest AND and OR interactions (non-empty S) among those in every
    /// model's top `k` (AND and OR together by strength; [`top_shared`]), in the first model's
    /// order. `interactions` holds one model's (reorganised) interactions each, on these players.
    pub fn shared(
        mut self,
        label: impl Into<String>,
        interactions: &[crate::Interactions],
        k: usize,
        per_kind: usize,
    ) -> Result<Self> {
        if interactions.len() != self.models.len() {
            return Err(Error::WrongModelCount(format!(
                "interactions of {} models for {} model names",
                interactions.len(),
                self.models.len()
            )));
        }
        if let Some(bad) = interactions.iter().find(|i| i.n != self.patches.len()) {
            return Err(Error::InvalidPlayers(format!(
                "interactions of {} players for {} patches",
                bad.n,
                self.patches.len()
            )));
        }
        let shared = top_shared(interactions, k)?;
        let shared_total = shared.len();
        let mut items = Vec::new();
        for kind in [Kind::And, Kind::Or] {
            items.extend(
                shared
                    .iter()
                    .filter(|(i, _)| i.kind == kind && !i.coalition.is_empty())
                    .take(per_kind)
                    .cloned(),
            );
        }
        self.rows.push(PatchRow {
            label: label.into(),
            k,
            shared_total,
            items,
        });
        Ok(self)
    }

    /// The interactions drawn in each row: (row label, interaction, effect per model).
    pub fn drawn(&self) -> Vec<(&str, Interaction, &[f64])> {
        self.rows
            .iter()
            .flat_map(|r| {
                r.items
                    .iter()
                    .map(move |(i, e)| (r.label.as_str(), *i, e.as_slice()))
            })
            .collect()
    }

    fn label(&self, it: &Interaction) -> String {
        let players: Vec<String> = it.coalition.players().map(|p| p.to_string()).collect();
        format!("{} {{{}}}", it.kind.name(), players.join(","))
    }

    fn panel(
        &self,
        scale: usize,
        x: usize,
        y: usize,
        highlight: Coalition,
        color: &str,
        lines: &[String],
    ) -> String {
        let side = SIDE * scale;
        let inner = patch_svg(&self.pixels, &self.patches, highlight, color, scale);
        // nest the digit's SVG at (x, y)
        let inner = inner.replacen("<svg ", &format!("<svg x=\"{x}\" y=\"{y}\" "), 1);
        let mut out = inner;
        for (i, line) in lines.iter().enumerate() {
            out += &format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" font-family=\"sans-serif\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
                x + side / 2,
                y + side + CAPTION_LINE * (i + 1),
                if i == 0 { color } else { "#333" },
                super::svg::xml_escape(line)
            );
        }
        out
    }

    /// The figure as one SVG image.
    pub fn to_svg(&self) -> String {
        let side = SIDE * FIGURE_SCALE;
        let caption = CAPTION_LINE * (1 + self.models.len()) + 8;
        let row_h = 22 + side + caption;
        let per_row = self.rows.iter().map(|r| r.items.len()).max().unwrap_or(0);
        let width = (PANEL_W * (1 + per_row)).max(420);
        let height = if self.rows.is_empty() {
            30 + 2 * side + 2 * CAPTION_LINE + 12
        } else {
            30 + row_h * self.rows.len()
        };
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\"><rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>"
        );
        svg += &format!(
            "<text x=\"8\" y=\"20\" font-size=\"14\" font-weight=\"bold\" font-family=\"sans-serif\">{}</text>",
            super::svg::xml_escape(&self.title)
        );
        let off = (PANEL_W - side) / 2;
        let players_caption = vec![
            "players".to_string(),
            format!(
                "{} patches {}×{}",
                self.patches.len(),
                self.patches.first().map_or(0, |p| p.size),
                self.patches.first().map_or(0, |p| p.size)
            ),
        ];
        if self.rows.is_empty() {
            svg += &self.panel(
                2 * FIGURE_SCALE,
                20,
                30,
                Coalition(0),
                "#2CA02C",
                &players_caption,
            );
        }
        for (r, row) in self.rows.iter().enumerate() {
            let y = 30 + r * row_h;
            svg += &format!(
                "<text x=\"8\" y=\"{}\" font-size=\"12\" font-family=\"sans-serif\">{}</text>",
                y + 14,
                super::svg::xml_escape(&format!(
                    "{}: {} shared among each model's top {}; the strongest {} drawn",
                    row.label,
                    row.shared_total,
                    row.k,
                    row.items.len()
                ))
            );
            svg += &self.panel(
                FIGURE_SCALE,
                off,
                y + 22,
                Coalition(0),
                "#2CA02C",
                &players_caption,
            );
            for (j, (it, effects)) in row.items.iter().enumerate() {
                let color = match it.kind {
                    Kind::And => COLOR_AND,
                    Kind::Or => COLOR_OR,
                };
                let mut lines = vec![self.label(it)];
                lines.extend(
                    self.models
                        .iter()
                        .zip(effects)
                        .map(|(m, e)| format!("{m} {e:+.3}")),
                );
                svg += &self.panel(
                    FIGURE_SCALE,
                    PANEL_W * (j + 1) + off,
                    y + 22,
                    it.coalition,
                    color,
                    &lines,
                );
            }
            if row.items.is_empty() {
                svg += &format!(
                    "<text x=\"{}\" y=\"{}\" font-size=\"12\" font-family=\"sans-serif\" fill=\"#666\">no shared interaction among the top {}</text>",
                    PANEL_W + 8,
                    y + 22 + side / 2,
                    row.k
                );
            }
        }
        svg + "</svg>"
    }

    /// A deterministic plain-text summary: the players and each row's drawn interactions.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}
players (top-left pixel):",
            self.title
        );
        for (i, p) in self.patches.iter().enumerate() {
            out += &format!(" {i}={}", p.name());
        }
        for row in &self.rows {
            out += &format!(
                "
{}: {} interactions shared among each model's top {}",
                row.label, row.shared_total, row.k
            );
            for (it, effects) in &row.items {
                let fx: Vec<String> = self
                    .models
                    .iter()
                    .zip(effects)
                    .map(|(m, e)| format!("{m} {e:+.4}"))
                    .collect();
                out += &format!(
                    "
  {:<14} {}",
                    self.label(it),
                    fx.join("  ")
                );
            }
        }
        out
    }

    /// The figure's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Write the SVG image.
    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::export::write_atomic(path.as_ref(), self.to_svg().as_bytes())
    }
}
