//! What replaces a masked word (method §1): a special token id (token-id masking), or a vector in
//! place of the word-embedding rows (embedding masking, as the authors do): a special token's
//! embedding, zero, the mean embedding, a given vector, or a learned one.
//!
//! The learned baseline follows Ren et al. (ICLR 2023, "Can we faithfully represent absence states
//! to compute Shapley values on a DNN?"): a masked word should carry no meaning of its own, so the
//! baseline vector b is chosen to minimise the high-order AND interactions it creates,
//!
//!   L(b) = (1/|X|) Σ_{x∈X} Σ_{|S| ≥ k} |I_and(S | x, b)|,
//!
//! on sample sentences X with a few seeded players each, subject to ‖b − b₀‖_∞ ≤ r around a
//! starting baseline b₀ (`[MASK]` embedding by default), so it stays a plausible "absent" input.
//! It is optimised by projected Adam with gradients through the network ([`DiffBert`]); the best
//! iterate is returned, so L never ends above its starting value.

use candle_core::{DType, Tensor, Var, D};
use candle_nn::optim::{AdamW, Optimizer as _, ParamsAdamW};

use super::diff::DiffBert;
use super::masking::{MaskedSentence, ResolvedBaseline};
use super::players::{PlayerSelection, Players};
use crate::coalition::Coalition;
use crate::models::bert::BertClassifier;
use crate::models::tokenizer::TextTokenizer;
use crate::models::ModelError;
use crate::{Error, Result};

/// A special token of the BERT vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecialToken {
    Mask,
    Pad,
    Unk,
}

impl SpecialToken {
    pub fn name(self) -> &'static str {
        match self {
            SpecialToken::Mask => "[MASK]",
            SpecialToken::Pad => "[PAD]",
            SpecialToken::Unk => "[UNK]",
        }
    }

    /// The token's id in `tokenizer`'s vocabulary.
    pub fn id(self, tokenizer: &TextTokenizer) -> u32 {
        let s = tokenizer.special();
        match self {
            SpecialToken::Mask => s.mask,
            SpecialToken::Pad => s.pad,
            SpecialToken::Unk => s.unk,
        }
    }
}

/// The baseline of masked words.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Baseline {
    /// Token-id masking: the masked tokens' ids become this token's id.
    TokenId { token: SpecialToken },
    /// Embedding masking with this token's word-embedding row (the default: `[MASK]`).
    TokenEmbedding { token: SpecialToken },
    /// Embedding masking with the zero vector.
    Zero,
    /// Embedding masking with the mean of all rows of the word-embedding matrix.
    MeanEmbedding,
    /// Embedding masking with a given vector of the model's hidden width.
    Vector { name: String, values: Vec<f32> },
    /// Each model's own learned baseline ([`crate::games::text::TextClassifier::set_learned_baseline`]).
    Learned,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline::TokenEmbedding {
            token: SpecialToken::Mask,
        }
    }
}

fn vector_hash(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    crate::util::sha256_hex(bytes)[..16].to_string()
}

impl Baseline {
    /// A short name, e.g. `embedding [MASK]`.
    pub fn describe(&self) -> String {
        match self {
            Baseline::TokenId { token } => format!("token id {}", token.name()),
            Baseline::TokenEmbedding { token } => format!("embedding {}", token.name()),
            Baseline::Zero => "zero embedding".into(),
            Baseline::MeanEmbedding => "mean embedding".into(),
            Baseline::Vector { name, .. } => format!("vector {name}"),
            Baseline::Learned => "learned embedding".into(),
        }
    }

    /// What identifies this baseline for one model in cache keys (a vector by its hash).
    /// `learned` is the model's learned baseline, needed for [`Baseline::Learned`].
    pub fn identity(&self, learned: Option<&[f32]>) -> Result<String> {
        Ok(match self {
            Baseline::Vector { values, .. } => format!("vector:{}", vector_hash(values)),
            Baseline::Learned => format!("vector:{}", vector_hash(learned.ok_or_else(no_learned)?)),
            other => serde_json::to_string(other).unwrap_or_else(|_| other.describe()),
        })
    }

    /// Make the baseline concrete for `model`.
    pub fn resolve(
        &self,
        model: &BertClassifier,
        tokenizer: &TextTokenizer,
        learned: Option<&[f32]>,
    ) -> Result<ResolvedBaseline> {
        let e = model.word_embeddings();
        let h = model.config().hidden_size;
        let vector = |v: &[f32]| -> Result<ResolvedBaseline> {
            if v.len() != h {
                return Err(Error::Invalid(format!(
                    "the baseline vector has {} entries but the model's embeddings have {h}: give a vector of the model's hidden width",
                    v.len()
                )));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(Error::Invalid(
                    "the baseline vector holds NaN or infinity".into(),
                ));
            }
            Ok(ResolvedBaseline::Embedding(
                Tensor::from_slice(v, h, model.device()).map_err(ModelError::from)?,
            ))
        };
        let tensor = |r: candle_core::Result<Tensor>| -> Result<ResolvedBaseline> {
            Ok(ResolvedBaseline::Embedding(
                r.and_then(|t| t.to_dtype(DType::F32))
                    .map_err(ModelError::from)?,
            ))
        };
        match self {
            Baseline::TokenId { token } => Ok(ResolvedBaseline::TokenId(token.id(tokenizer))),
            Baseline::TokenEmbedding { token } => tensor(e.get(token.id(tokenizer) as usize)),
            Baseline::Zero => tensor(Tensor::zeros(h, DType::F32, model.device())),
            Baseline::MeanEmbedding => tensor(e.mean(0)),
            Baseline::Vector { values, .. } => vector(values),
            Baseline::Learned => vector(learned.ok_or_else(no_learned)?),
        }
    }
}

fn no_learned() -> Error {
    Error::Invalid(
        "the baseline is `learned` but this model has none: learn one with TextClassifier::learn_baseline and set it with set_learned_baseline".into(),
    )
}

/// Settings of [`learn_baseline`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LearnBaselineOptions {
    /// Starting point and centre of the allowed ball; must be an embedding baseline.
    pub init: Baseline,
    /// Players per sample sentence (2^n masked inputs each, forward and backward, every step).
    pub n_players: usize,
    pub seed: u64,
    /// Interactions of order ≥ this are penalised.
    pub min_order: usize,
    /// L∞ radius of the ball around `init`, as a multiple of the root-mean-square entry of the
    /// word-embedding matrix.
    pub radius: f64,
    /// Adam learning rate as a fraction of the (absolute) radius.
    pub lr: f64,
    pub steps: usize,
}

impl Default for LearnBaselineOptions {
    fn default() -> Self {
        LearnBaselineOptions {
            init: Baseline::default(),
            n_players: 6,
            seed: 0,
            min_order: 3,
            radius: 1.0,
            lr: 0.1,
            steps: 30,
        }
    }
}

/// A learned baseline and how the objective moved.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LearnedBaseline {
    /// The best vector found, `(hidden,)`.
    pub values: Vec<f32>,
    pub init: Baseline,
    /// The absolute L∞ radius r.
    pub radius: f64,
    /// max_j |b_j − b₀_j| of the returned vector (≤ r).
    pub max_deviation: f64,
    /// L at every step (before the step's update); the last entry is after the last update.
    pub objective: Vec<f64>,
    pub initial_objective: f64,
    /// L of the returned vector (the smallest seen).
    pub final_objective: f64,
    pub samples: usize,
}

impl LearnedBaseline {
    /// As a [`Baseline::Vector`] named `learned`.
    pub fn baseline(&self) -> Baseline {
        Baseline::Vector {
            name: "learned".into(),
            values: self.values.clone(),
        }
    }
}

/// Rows of the AND (Möbius) transform for coalitions of order ≥ k: `(rows, 2^n)` with
/// M[S, T] = (−1)^{|S|−|T|} for T ⊆ S.
fn high_order_mobius(n: usize, k: usize, device: &candle_core::Device) -> Result<Tensor> {
    let len = 1usize << n;
    let rows: Vec<usize> = (0..len)
        .filter(|&s| Coalition(s as u32).order() >= k)
        .collect();
    if rows.is_empty() {
        return Err(Error::InvalidSetting {
            name: "min_order",
            value: k.to_string(),
            why: "no coalition has that many players: choose min_order ≤ n_players",
        });
    }
    let mut m = vec![0f32; rows.len() * len];
    for (r, &s) in rows.iter().enumerate() {
        for t in Coalition(s as u32).subsets() {
            let sign = if (s.count_ones() - t.0.count_ones()) % 2 == 0 {
                1.0
            } else {
                -1.0
            };
            m[r * len + t.mask()] = sign;
        }
    }
    Ok(Tensor::from_vec(m, (rows.len(), len), device).map_err(ModelError::from)?)
}

/// Log-odds of class y per row of `logits` `(b, classes)`, differentiable: z_y − logsumexp_{c≠y}.
fn log_odds_tensor(logits: &Tensor, y: usize) -> candle_core::Result<Tensor> {
    let classes = logits.dim(1)?;
    let others: Vec<u32> = (0..classes as u32).filter(|&c| c as usize != y).collect();
    let idx = Tensor::from_vec(others, classes - 1, logits.device())?;
    let rest = logits.index_select(&idx, 1)?;
    let max = rest.max_keepdim(1)?.detach();
    let lse = (rest.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + max)?;
    (logits.narrow(1, y, 1)? - lse)?.squeeze(1)
}

/// Learn a baseline embedding on `sentences` (each gets `n_players` seeded players). `diff` must
/// be the differentiable copy of `model`.
pub fn learn_baseline(
    model: &BertClassifier,
    tokenizer: &TextTokenizer,
    diff: &DiffBert,
    sentences: &[&str],
    opts: &LearnBaselineOptions,
) -> Result<LearnedBaseline> {
    if sentences.is_empty() {
        return Err(Error::Invalid(
            "no sample sentences given to learn the baseline on".into(),
        ));
    }
    if model.num_labels() < 2 {
        return Err(Error::Invalid(
            "log-odds need a classifier with at least two labels".into(),
        ));
    }
    let bad = |name, value: f64, why| {
        Err(Error::InvalidSetting {
            name,
            value: value.to_string(),
            why,
        })
    };
    if !(opts.radius.is_finite() && opts.radius >= 0.0) {
        return bad("radius", opts.radius, "the radius must be finite and ≥ 0");
    }
    if !(opts.lr.is_finite() && opts.lr > 0.0) {
        return bad("lr", opts.lr, "the learning rate must be finite and > 0");
    }
    let ce = |e: candle_core::Error| Error::from(ModelError::from(e));
    let init = match opts.init.resolve(model, tokenizer, None)? {
        ResolvedBaseline::Embedding(t) => t,
        ResolvedBaseline::TokenId(_) => {
            return Err(Error::Invalid(
                "a learned baseline starts from an embedding baseline, not a token id".into(),
            ))
        }
    };
    let device = model.device();
    let rms = model
        .word_embeddings()
        .sqr()
        .and_then(|t| t.mean_all())
        .and_then(|t| t.to_scalar::<f32>())
        .map_err(ce)?;
    let radius = opts.radius * (rms as f64).sqrt();
    let mobius = high_order_mobius(opts.n_players, opts.min_order, device)?;
    let masks: Vec<u32> = (0..1u32 << opts.n_players).collect();
    let full = [*masks.last().unwrap_or(&0)];
    let selection = PlayerSelection::Seeded {
        n: opts.n_players,
        seed: opts.seed,
    };
    let mut samples = Vec::with_capacity(sentences.len());
    for s in sentences {
        let players = Players::select(s, &selection)?;
        let ms = MaskedSentence::new(
            model,
            tokenizer,
            &players,
            ResolvedBaseline::Embedding(init.clone()),
        )?;
        let row: Vec<f32> = ms
            .logits(model, &full)?
            .get(0)
            .and_then(|r| r.to_vec1())
            .map_err(ce)?;
        let y = (0..row.len()).fold(0, |b, c| if row[c] > row[b] { c } else { b });
        samples.push((ms, y));
    }
    let lo_bound = (&init - radius).map_err(ce)?;
    let hi_bound = (&init + radius).map_err(ce)?;
    let var = Var::from_tensor(&init).map_err(ce)?;
    let params = ParamsAdamW {
        lr: opts.lr * radius.max(f64::MIN_POSITIVE),
        weight_decay: 0.0,
        ..Default::default()
    };
    let mut adam = AdamW::new(vec![var.clone()], params).map_err(ce)?;
    let objective = |b: &Tensor| -> Result<Tensor> {
        let mut total: Option<Tensor> = None;
        for (ms, y) in &samples {
            let x = ms.masked_embeds(model, &masks, b)?;
            let lo = log_odds_tensor(&diff.forward(&x)?, *y).map_err(ce)?;
            let inter = mobius.matmul(&lo.unsqueeze(1).map_err(ce)?).map_err(ce)?;
            let l = inter.abs().and_then(|t| t.sum_all()).map_err(ce)?;
            total = Some(match total {
                Some(t) => (t + l).map_err(ce)?,
                None => l,
            });
        }
        let t = total.ok_or_else(|| Error::Invalid("no samples".into()))?;
        (t / samples.len() as f64).map_err(ce)
    };
    let mut trajectory = Vec::with_capacity(opts.steps + 1);
    let mut best: Option<(f64, Tensor)> = None;
    for step in 0..=opts.steps {
        let loss = objective(var.as_tensor())?;
        let value = loss.to_scalar::<f32>().map_err(ce)? as f64;
        if !value.is_finite() {
            return Err(Error::NonFinite {
                what: "the learned-baseline objective".into(),
                mask: 0,
                value,
            });
        }
        trajectory.push(value);
        if best.as_ref().is_none_or(|(b, _)| value < *b) {
            best = Some((value, var.as_tensor().copy().map_err(ce)?));
        }
        if step == opts.steps {
            break;
        }
        adam.backward_step(&loss).map_err(ce)?;
        let projected = var
            .as_tensor()
            .maximum(&lo_bound)
            .and_then(|t| t.minimum(&hi_bound))
            .map_err(ce)?;
        var.set(&projected).map_err(ce)?;
    }
    let (final_objective, b) = best.ok_or_else(|| Error::Invalid("no step was run".into()))?;
    let values: Vec<f32> = b.to_vec1().map_err(ce)?;
    let max_deviation = (&b - &init)
        .and_then(|d| d.abs())
        .and_then(|d| d.max(D::Minus1))
        .and_then(|d| d.to_scalar::<f32>())
        .map_err(ce)? as f64;
    Ok(LearnedBaseline {
        values,
        init: opts.init.clone(),
        radius,
        max_deviation,
        initial_objective: trajectory[0],
        objective: trajectory,
        final_objective,
        samples: sentences.len(),
    })
}
