//! Image classifiers as games (task 3): a digit CNN ([`DigitClassifier`]) on one 28×28 image with
//! image-patch players, masked by the zero (background) baseline.
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

use rand::{RngCore, SeedableRng};

use crate::coalition::Coalition;
use crate::data::digits::{PIXELS, SIDE};
use crate::game::Game;
use crate::models::digit_net::DigitClassifier;
use crate::{Error, Result};

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

/// 784 finite pixel values. Errors name the problem.
pub(crate) fn check_image(pixels: &[f32]) -> Result<()> {
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
    let masks: Vec<u32> = (0..1u32 << patches.len().min(MAX_PATCH_PLAYERS)).collect();
    masked_images_for(pixels, patches, &masks)
}

/// The masked images x_T of the coalitions `masks`, concatenated in that order.
pub fn masked_images_for(pixels: &[f32], patches: &[Patch], masks: &[u32]) -> Result<Vec<f32>> {
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
    let mut out = Vec::with_capacity(PIXELS * masks.len());
    for &mask in masks {
        if mask >> n != 0 {
            return Err(Error::InvalidPlayers(format!(
                "coalition mask {mask} names players beyond n = {n}"
            )));
        }
        let mask = mask as usize;
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

/// v(x_T) − v(x_∅) of one model for every T, v = logit₃ − logit_rest (through [`ImageGame`], no
/// cache).
pub fn patch_values(
    model: &DigitClassifier,
    pixels: &[f32],
    patches: &[Patch],
    batch: usize,
) -> Result<Vec<f64>> {
    let game = ImageGame::new(model, "image", pixels, patches, batch)?;
    let opts = crate::game::EvalOptions {
        budget: crate::game::Budget::unlimited(),
        ..crate::game::EvalOptions::centred()
    };
    Ok(crate::game::evaluate(&game, &opts, None)?.v)
}

/// A digit CNN on one image as a [`Game`]: patch players, zero baseline, v(x_T) = logit₃ − logit_rest
/// of x_T (uncentred; [`crate::game::evaluate`] centres). Masked images are built per batch, so
/// memory stays one batch of images whatever n.
pub struct ImageGame<'a> {
    model: &'a DigitClassifier,
    id: String,
    pixels: Vec<f32>,
    patches: Vec<Patch>,
    batch_size: usize,
}

impl<'a> ImageGame<'a> {
    /// `model` on the image `pixels` (784 values in [0, 1], row-major) with the players
    /// `patches`; `id` names the image in the cache identity. Errors: a malformed image, no or
    /// too many, overlapping or out-of-image patches, a zero batch.
    pub fn new(
        model: &'a DigitClassifier,
        id: &str,
        pixels: &[f32],
        patches: &[Patch],
        batch_size: usize,
    ) -> Result<Self> {
        // checks the image and the patches on one masked image
        masked_images_for(pixels, patches, &[0])?;
        if batch_size == 0 {
            return Err(Error::InvalidSetting {
                name: "batch_size",
                value: "0".into(),
                why: "at least one masked image per batch",
            });
        }
        Ok(ImageGame {
            model,
            id: id.to_string(),
            pixels: pixels.to_vec(),
            patches: patches.to_vec(),
            batch_size,
        })
    }

    pub fn patches(&self) -> &[Patch] {
        &self.patches
    }

    pub fn pixels(&self) -> &[f32] {
        &self.pixels
    }
}

impl Game for ImageGame<'_> {
    fn name(&self) -> String {
        self.model.name().to_string()
    }

    fn n_players(&self) -> usize {
        self.patches.len()
    }

    fn player_names(&self) -> Vec<String> {
        self.patches.iter().map(Patch::name).collect()
    }

    fn values(&self, coalitions: &[Coalition]) -> Result<Vec<f64>> {
        let masks: Vec<u32> = coalitions.iter().map(|c| c.0).collect();
        let images = masked_images_for(&self.pixels, &self.patches, &masks)?;
        self.model.log_odds(&images, self.batch_size)
    }

    fn identity(&self) -> Result<Option<String>> {
        let Some(path) = self.model.path() else {
            return Ok(None);
        };
        let pixels: Vec<u8> = self.pixels.iter().flat_map(|x| x.to_le_bytes()).collect();
        Ok(Some(format!(
            "digit log-odds v1\nmodel: {} {}\nimage: {} {}\npatches: {:?}",
            self.model.name(),
            crate::util::file_sha256(path)?,
            self.id,
            crate::util::sha256_hex(pixels),
            self.patches
        )))
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn bytes_per_coalition(&self) -> u64 {
        // the masked image and the CNN's activations (≈ 16 channels × 28 × 28 × a few layers)
        (PIXELS as u64) * 4 * 64
    }
}
