//! Rich display of the high-level API's results ([`crate::api`]): the sentence with its players
//! highlighted, per model the strongest AND and OR interactions (words, order, strength, shared or
//! not) with a bar chart, and how far the models agree.

use std::fmt::Write as _;

use super::report::{InteractionsView, Report, Table};
use super::{sig, MimeBundle};
use crate::api::{Agreement, Comparison, GeneralizableResult, ModelResult, TraditionalResult};
use crate::plot::escape;
use crate::text::players::Word;

/// Background of a highlighted player.
const PLAYER_BG: &str = "#FFE9A8";

/// The sentence with its players marked: HTML (each player highlighted, its index as a subscript)
/// and text (`[word]i`). Words whose byte range does not fit the sentence are left out.
pub fn highlight_sentence(sentence: &str, players: &[Word]) -> (String, String) {
    let mut order: Vec<(usize, &Word)> = players.iter().enumerate().collect();
    order.sort_by_key(|(_, w)| w.bytes.start);
    let (mut html, mut text, mut at) = (String::new(), String::new(), 0usize);
    html.push_str("<p style=\"font-size:15px;line-height:1.9;margin:4px 0\">");
    for (i, w) in order {
        let r = &w.bytes;
        if r.start < at
            || r.end > sentence.len()
            || !sentence.is_char_boundary(r.start)
            || !sentence.is_char_boundary(r.end)
        {
            continue;
        }
        let before = &sentence[at..r.start];
        let word = &sentence[r.start..r.end];
        html.push_str(&escape(before));
        let _ = write!(
            html,
            "<span style=\"background:{PLAYER_BG};border-radius:3px;padding:1px 3px\">{}<sub style=\"color:#777;font-size:10px\">{i}</sub></span>",
            escape(word)
        );
        let _ = write!(text, "{before}[{word}]{i}");
        at = r.end;
    }
    html.push_str(&escape(&sentence[at..]));
    html.push_str("</p>");
    text.push_str(&sentence[at..]);
    (html, format!("sentence: {text}"))
}

fn names(players: &[Word]) -> Vec<String> {
    players.iter().map(|w| w.text.clone()).collect()
}

/// One line per model: its target, v's span, the ε gap and the salient count.
fn model_note(m: &ModelResult) -> String {
    let v = m.values.v();
    let span = v.last().copied().unwrap_or(0.0) - v.first().copied().unwrap_or(0.0);
    let target = m
        .values
        .label_name
        .clone()
        .unwrap_or_else(|| format!("class {}", m.values.target));
    format!(
        "{}: v = log-odds of \"{target}\", v(x_N) − v(x_∅) = {}; {} salient interactions (|I| > {}); reconstruction gap max {} (|ε| ≤ {})",
        m.model,
        sig(span),
        m.salient_count,
        sig(m.salient_threshold),
        sig(m.matching_error.max_abs),
        sig(m.eps_bound)
    )
}

fn agreement_note(a: &Agreement) -> String {
    let shared = a.split.first().map_or(0, |s| s.shared.len());
    let top = a
        .split
        .first()
        .map_or(0, |s| s.shared.len() + s.distinctive.len());
    let ends = |v: &[f64]| match (v.first(), v.last()) {
        (Some(x), Some(y)) => format!("{x:.3} → {y:.3}"),
        _ => "—".into(),
    };
    let k = match (a.generalization.k.first(), a.generalization.k.last()) {
        (Some(x), Some(y)) => format!("k = {x} → {y}"),
        _ => "no k".into(),
    };
    let mut note = format!(
        "shared by all models among each one's top {top}: {shared} ({} with the same sign; {:.1} expected by chance); generalization power ({k}): s_and {}, s_or {}",
        a.shared.shared_signed,
        a.shared.chance,
        ends(&a.generalization.s_and),
        ends(&a.generalization.s_or)
    );
    if let Some(n) = &a.permutation_null {
        note.push_str(&format!(
            "; permutation null (R = {}): s_and {}, s_or {}",
            n.replicates,
            ends(&n.s_and_mean),
            ends(&n.s_or_mean)
        ));
    }
    note
}

impl GeneralizableResult {
    /// The sentence, the agreement of the models and each model's strongest interactions.
    pub fn view(&self) -> InteractionsView {
        let (html, text) = highlight_sentence(&self.sentence, &self.players);
        let models = self
            .models
            .iter()
            .map(|m| (m.model.clone(), m.interactions.clone()))
            .collect();
        let mut view = InteractionsView::new(
            format!(
                "Generalizable AND-OR interactions: {} models, {} players",
                self.models.len(),
                self.n
            ),
            models,
        )
        .names(&names(&self.players))
        .html_block(html, text)
        .note(agreement_note(&self.agreement));
        for m in &self.models {
            view = view.note(model_note(m));
        }
        view
    }

    pub fn mime_bundle(&self) -> MimeBundle {
        self.view().mime_bundle()
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.view().evcxr_display();
    }
}

impl TraditionalResult {
    /// The sentence and the model's strongest interactions.
    pub fn view(&self) -> InteractionsView {
        let (html, text) = highlight_sentence(&self.sentence, &self.players);
        InteractionsView::new(
            format!(
                "Traditional AND-OR interactions of {}: {} players",
                self.model.model, self.n
            ),
            vec![(self.model.model.clone(), self.model.interactions.clone())],
        )
        .names(&names(&self.players))
        .html_block(html, text)
        .note(model_note(&self.model))
    }

    pub fn mime_bundle(&self) -> MimeBundle {
        self.view().mime_bundle()
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.view().evcxr_display();
    }
}

impl Comparison {
    /// The agreement of the models under both extractions, then the generalizable and the
    /// traditional interactions (shared ones marked).
    pub fn report(&self) -> Report {
        let g = &self.generalizable;
        let (html, text) = highlight_sentence(&g.sentence, &g.players);
        let mut t = Table::new(&[
            "extraction",
            "shared in top 50",
            "of those, same sign",
            "s_and (first k)",
            "s_and (last k)",
            "s_or (first k)",
            "s_or (last k)",
        ]);
        for (name, a) in [
            ("generalizable", &g.agreement),
            ("traditional", &self.traditional_agreement),
        ] {
            let c = &a.generalization;
            let f = |v: &[f64], last: bool| {
                let x = if last { v.last() } else { v.first() };
                x.map_or("—".to_string(), |x| format!("{x:.3}"))
            };
            t.row(vec![
                name.to_string(),
                a.split.first().map_or(0, |s| s.shared.len()).to_string(),
                a.shared.shared_signed.to_string(),
                f(&c.s_and, false),
                f(&c.s_and, true),
                f(&c.s_or, false),
                f(&c.s_or, true),
            ]);
        }
        let ks = &g.agreement.generalization.k;
        let mut r = Report::new(format!(
            "Generalizable vs traditional extraction: {} models, {} players",
            g.models.len(),
            g.n
        ))
        .html(html, text)
        .text(format!(
            "k = {} (first) and {} (last) of the paper's grid ⌊2^n·t⌋, t = 0.05 … 0.45",
            ks.first().map_or("—".into(), |k| k.to_string()),
            ks.last().map_or("—".into(), |k| k.to_string())
        ))
        .table(t);
        let trad_models = self
            .traditional
            .iter()
            .map(|t| (t.model.model.clone(), t.model.interactions.clone()))
            .collect();
        let trad = InteractionsView::new("Traditional (each model alone)", trad_models)
            .names(&names(&g.players));
        let gen_view = InteractionsView::new(
            "Generalizable (jointly)",
            g.models
                .iter()
                .map(|m| (m.model.clone(), m.interactions.clone()))
                .collect(),
        )
        .names(&names(&g.players));
        r = r.append(gen_view.report()).append(trad.report());
        r
    }

    pub fn mime_bundle(&self) -> MimeBundle {
        self.report().mime_bundle()
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.report().evcxr_display();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::players::{PlayerSelection, Players};

    #[test]
    fn players_are_highlighted_in_order_and_escaped() {
        let sentence = "A <witty>, gorgeous film & fun";
        let p = Players::select(
            sentence,
            &PlayerSelection::Words(vec!["fun".into(), "witty".into()]),
        )
        .unwrap();
        let (html, text) = highlight_sentence(sentence, &p.words);
        assert_eq!(text, "sentence: A <[witty]0>, gorgeous film & [fun]1");
        assert!(html.contains("&lt;<span"), "{html}");
        assert!(html.contains("witty<sub"), "{html}");
        assert!(html.contains("&amp; <span"), "{html}");
        assert_eq!(html.matches("<span").count(), 2);
    }
}
