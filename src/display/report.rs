//! Reports: titled sequences of paragraphs, tables and figures that display as one notebook
//! output (HTML with aligned plain text beside it), and the report of a set of interactions —
//! top AND and OR interactions per model, with their players' names, order, strength and whether
//! every model has them (Figs. 1/5/9) — for [`Interactions`] and [`Decomposition`].

use std::fmt::Write as _;

use plotly::common::{Marker, Title};
use plotly::layout::{Axis, BarMode, CategoryOrder, Layout};
use plotly::{Bar, Plot};

use super::{sig, Figure, MimeBundle};
use crate::decomposition::Decomposition;
use crate::interactions::{Interaction, Interactions, Kind};
use crate::metrics::{self, SALIENCE_RATIO};
use crate::plot::{escape, COLOR_AND, COLOR_OR};

/// A table shown as HTML and as aligned plain text. Rows may be tagged with a kind, which colours
/// the HTML row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    kinds: Vec<Option<Kind>>,
}

impl Table {
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        Table {
            header: header.iter().map(|h| h.as_ref().to_string()).collect(),
            ..Default::default()
        }
    }

    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self.kinds.push(None);
        self
    }

    fn kind_row(&mut self, kind: Kind, cells: Vec<String>) {
        self.rows.push(cells);
        self.kinds.push(Some(kind));
    }

    /// The number of columns: the longest of the header and the rows.
    fn columns(&self) -> usize {
        self.rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0)
    }

    /// For each column: whether every non-empty cell is a number (such columns are right-aligned,
    /// their header included; all others left-aligned).
    fn numeric_columns(&self) -> Vec<bool> {
        let cols = self.columns();
        let number = |s: &str| {
            let t = s.trim().trim_end_matches('%');
            !t.is_empty() && t.parse::<f64>().is_ok()
        };
        (0..cols)
            .map(|c| {
                let mut cells = self
                    .rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .filter(|s| !s.is_empty())
                    .peekable();
                cells.peek().is_some() && cells.all(|s| number(s))
            })
            .collect()
    }

    /// Columns padded to their widest cell (by characters); numbers right-aligned, text left.
    pub fn to_text(&self) -> String {
        let cols = self.columns();
        let cell =
            |r: &Vec<String>, c: usize| r.get(c).map(String::as_str).unwrap_or("").to_string();
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .chain([&self.header])
                    .map(|r| cell(r, c).chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let numeric_col = self.numeric_columns();
        let line = |r: &Vec<String>| {
            let mut out = String::new();
            for (c, w) in widths.iter().enumerate() {
                let text = cell(r, c);
                let pad = " ".repeat(w - text.chars().count());
                if c > 0 {
                    out.push_str("  ");
                }
                if numeric_col[c] {
                    out.push_str(&pad);
                    out.push_str(&text);
                } else {
                    out.push_str(&text);
                    out.push_str(&pad);
                }
            }
            out.trim_end().to_string()
        };
        let mut out = line(&self.header);
        for r in &self.rows {
            out.push('\n');
            out.push_str(&line(r));
        }
        out
    }

    /// The table as HTML: numeric columns right-aligned, text columns (sentences, coalitions)
    /// left-aligned; rows tagged with a kind get its colour.
    pub fn to_html(&self) -> String {
        let numeric = self.numeric_columns();
        let align = |c: usize| {
            if numeric.get(c).copied().unwrap_or(false) {
                "right"
            } else {
                "left"
            }
        };
        let mut out = String::from(
            "<table style=\"border-collapse:collapse;font-size:13px;margin:4px 0\"><tr>",
        );
        for (c, h) in self.header.iter().enumerate() {
            let _ = write!(
                out,
                "<th style=\"padding:2px 8px;border-bottom:2px solid #999;text-align:{}\">{}</th>",
                align(c),
                escape(h)
            );
        }
        out.push_str("</tr>");
        for (r, kind) in self.rows.iter().zip(&self.kinds) {
            let bg = match kind {
                Some(Kind::And) => " style=\"background:#3A87BC1A\"",
                Some(Kind::Or) => " style=\"background:#FF92301F\"",
                None => "",
            };
            let _ = write!(out, "<tr{bg}>");
            for (c, cell) in r.iter().enumerate() {
                let _ = write!(
                    out,
                    "<td style=\"padding:2px 8px;border-bottom:1px solid #eee;text-align:{}\">{}</td>",
                    align(c),
                    escape(cell)
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        out
    }
}

impl Table {
    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        MimeBundle::new()
            .with("text/html", self.to_html())
            .with("text/plain", self.to_text())
            .emit();
    }
}

#[derive(Clone, Debug)]
enum Block {
    Heading(String),
    Text(String),
    Table(Table),
    Figure(Box<Figure>),
    /// Raw HTML (already escaped) and its plain-text equivalent.
    Html(String, String),
}

/// A titled sequence of paragraphs, tables and figures, displayed as one output.
#[derive(Clone, Debug, Default)]
pub struct Report {
    title: String,
    blocks: Vec<Block>,
}

impl Report {
    pub fn new(title: impl Into<String>) -> Self {
        Report {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    pub fn heading(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Heading(text.into()));
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Text(text.into()));
        self
    }

    pub fn table(mut self, table: Table) -> Self {
        self.blocks.push(Block::Table(table));
        self
    }

    pub fn figure(mut self, figure: Figure) -> Self {
        self.blocks.push(Block::Figure(Box::new(figure)));
        self
    }

    /// Another report's blocks, under its title as a heading.
    pub fn append(mut self, other: Report) -> Self {
        self.blocks.push(Block::Heading(other.title));
        self.blocks.extend(other.blocks);
        self
    }

    /// A block of HTML (escaped by the caller) with the text that stands for it in `text/plain`.
    pub fn html(mut self, html: impl Into<String>, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Html(html.into(), text.into()));
        self
    }

    /// The figures of this report, in order.
    pub fn figures(&self) -> impl Iterator<Item = &Figure> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Figure(f) => Some(&**f),
            _ => None,
        })
    }

    pub fn to_text(&self) -> String {
        let mut out = self.title.clone();
        for b in &self.blocks {
            out.push('\n');
            match b {
                Block::Heading(h) => {
                    let _ = write!(out, "\n{h}");
                }
                Block::Text(t) => out.push_str(t),
                Block::Table(t) => out.push_str(&t.to_text()),
                Block::Figure(f) => out.push_str(&f.summary()),
                Block::Html(_, t) => out.push_str(t),
            }
        }
        out
    }

    fn to_html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<div class=\"interprim-report\"><h3 style=\"margin:4px 0\">{}</h3>",
            escape(&self.title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(h) => {
                    let _ = write!(out, "<h4 style=\"margin:8px 0 2px\">{}</h4>", escape(h));
                }
                Block::Text(t) => {
                    let _ = write!(out, "<p style=\"margin:2px 0\">{}</p>", escape(t));
                }
                Block::Table(t) => out.push_str(&t.to_html()),
                Block::Figure(f) => out.push_str(&f.html_fragment()),
                Block::Html(h, _) => out.push_str(h),
            }
        }
        out.push_str("</div>");
        out
    }

    pub fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::new()
            .with("text/html", self.to_html())
            .with("text/plain", self.to_text())
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.mime_bundle().emit();
    }
}

/// How a set of interactions (one or several models on the same players) is shown: the k
/// strongest interactions of each model (AND and OR together), named, with a bar chart.
#[derive(Clone, Debug)]
pub struct InteractionsView {
    title: String,
    models: Vec<(String, Interactions)>,
    names: Option<Vec<String>>,
    top: usize,
    notes: Vec<String>,
    chart: bool,
    /// HTML blocks (with their text) shown under the title, before the notes.
    header: Vec<(String, String)>,
}

/// Default number of rows per model.
pub const DEFAULT_TOP: usize = 10;

impl InteractionsView {
    /// A view of the interactions of one or more models (same n).
    pub fn new(title: impl Into<String>, models: Vec<(String, Interactions)>) -> Self {
        InteractionsView {
            title: title.into(),
            models,
            names: None,
            top: DEFAULT_TOP,
            notes: Vec::new(),
            chart: true,
            header: Vec::new(),
        }
    }

    /// Name the players (words, patches); player i is `names[i]`.
    pub fn names<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.names = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// Name the models (default "model 1", "model 2", …).
    pub fn model_names<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        for ((name, _), new) in self.models.iter_mut().zip(names) {
            *name = new.as_ref().to_string();
        }
        self
    }

    /// Show the k strongest interactions per model (and k defines "shared": in every model's top k).
    pub fn top(mut self, k: usize) -> Self {
        self.top = k.max(1);
        self
    }

    /// Add a line under the title.
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    /// Add a block of HTML (escaped by the caller) under the title, with its plain-text equivalent
    /// (e.g. the sentence with its players highlighted).
    pub fn html_block(mut self, html: impl Into<String>, text: impl Into<String>) -> Self {
        self.header.push((html.into(), text.into()));
        self
    }

    /// Without the bar chart (tables only).
    pub fn without_chart(mut self) -> Self {
        self.chart = false;
        self
    }

    fn label(&self, it: &Interaction) -> String {
        match &self.names {
            Some(names) => it.coalition.display_with(names).to_string(),
            None => it.coalition.to_string(),
        }
    }

    /// Per model: its top-k, each flagged shared (in every model's top-k) or not.
    fn tops(&self) -> Vec<Vec<(Interaction, bool)>> {
        let refs: Vec<&Interactions> = self.models.iter().map(|(_, m)| m).collect();
        let k = self.top.min(refs.first().map_or(1, |m| 2 << m.n));
        match metrics::shared_and_distinctive(&refs, k) {
            Ok(splits) => splits
                .into_iter()
                .zip(&refs)
                .map(|(s, m)| {
                    // exact zeros (e.g. unused coalitions of a hand-written function) say nothing
                    let floor = 1e-12 * m.max_abs().max(1.0);
                    let shared = refs.len() > 1;
                    let mut v: Vec<(Interaction, bool)> = s
                        .shared
                        .into_iter()
                        .map(|i| (i, shared))
                        .chain(s.distinctive.into_iter().map(|i| (i, false)))
                        .collect();
                    let mut order: Vec<Interaction> = v.iter().map(|(i, _)| *i).collect();
                    crate::interactions::sort_by_strength(&mut order);
                    v.sort_by_key(|(i, _)| order.iter().position(|o| o == i));
                    v.retain(|(i, _)| i.effect.abs() > floor);
                    v
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The bar chart of one model's top-k: AND blue, OR orange, distinctive ones paler.
    fn chart(&self, model: &str, top: &[(Interaction, bool)], several: bool) -> Figure {
        let labels: Vec<String> = top
            .iter()
            .map(|(i, _)| format!("{} {}", i.kind.name(), self.label(i)))
            .collect();
        let mut plot = Plot::new();
        for kind in [Kind::And, Kind::Or] {
            for shared in [true, false] {
                let pick: Vec<usize> = (0..top.len())
                    .filter(|&j| top[j].0.kind == kind && (top[j].1 == shared || !several))
                    .collect();
                if pick.is_empty() || (!several && !shared) {
                    continue;
                }
                let name = match (several, shared) {
                    (false, _) => kind.name().to_string(),
                    (true, true) => format!("{} shared", kind.name()),
                    (true, false) => format!("{} distinctive", kind.name()),
                };
                let color = if kind == Kind::And {
                    COLOR_AND
                } else {
                    COLOR_OR
                };
                plot.add_trace(
                    Bar::new(
                        pick.iter().map(|&j| labels[j].clone()).collect(),
                        pick.iter().map(|&j| top[j].0.effect).collect(),
                    )
                    .name(name)
                    .opacity(if shared || !several { 1.0 } else { 0.45 })
                    .marker(Marker::new().color(color)),
                );
            }
        }
        plot.set_layout(
            Layout::new()
                .title(Title::with_text(if several {
                    format!("{model}: top {} interactions", top.len())
                } else {
                    format!("top {} interactions", top.len())
                }))
                .bar_mode(BarMode::Overlay)
                .x_axis(
                    Axis::new()
                        .category_order(CategoryOrder::Array)
                        .category_array(labels),
                )
                .y_axis(Axis::new().title(Title::with_text("I(S)")))
                .height(380),
        );
        Figure::new(plot)
    }

    pub fn report(&self) -> Report {
        let mut r = Report::new(&self.title);
        for (html, text) in &self.header {
            r = r.html(html.clone(), text.clone());
        }
        for n in &self.notes {
            r = r.text(n.clone());
        }
        let several = self.models.len() > 1;
        let tops = self.tops();
        if several {
            let shared = tops
                .first()
                .map_or(0, |t| t.iter().filter(|(_, s)| *s).count());
            r = r.text(format!(
                "shared by all {} models among each one's top {}: {shared}",
                self.models.len(),
                self.top
            ));
        }
        for ((name, m), top) in self.models.iter().zip(&tops) {
            let tau = SALIENCE_RATIO * m.max_abs();
            let (sa, so) = m
                .iter()
                .filter(|i| i.effect.abs() > tau)
                .fold((0, 0), |(a, o), i| match i.kind {
                    Kind::And => (a + 1, o),
                    Kind::Or => (a, o + 1),
                });
            if several {
                r = r.heading(name.clone());
            }
            r = r.text(format!(
                "max |I| = {}; salient (|I| > 0.05·max): {sa} AND + {so} OR of {} each",
                sig(m.max_abs()),
                1usize << m.n
            ));
            let mut header = vec!["#", "kind", "S", "order", "I(S)"];
            if several {
                header.push("shared");
            }
            let mut t = Table::new(&header);
            for (rank, (it, shared)) in top.iter().enumerate() {
                let mut cells = vec![
                    (rank + 1).to_string(),
                    it.kind.name().to_string(),
                    self.label(it),
                    it.coalition.order().to_string(),
                    format!("{:+.4}", it.effect),
                ];
                if several {
                    cells.push(if *shared { "yes" } else { "no" }.to_string());
                }
                t.kind_row(it.kind, cells);
            }
            r = r.table(t);
            if self.chart && !top.is_empty() {
                r = r.figure(self.chart(name, top, several));
            }
        }
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

impl Interactions {
    /// A display of these interactions ([`InteractionsView`]); `.names(&words)` names players.
    pub fn view(&self) -> InteractionsView {
        InteractionsView::new(
            format!("AND-OR interactions of {} players", self.n),
            vec![("model".into(), self.clone())],
        )
    }

    /// Called by evcxr on a cell's final value: the top interactions, table and chart.
    pub fn evcxr_display(&self) {
        self.view().evcxr_display();
    }
}

impl Decomposition {
    /// A display of the reorganised interactions of every model, shared ones marked.
    pub fn view(&self) -> InteractionsView {
        let m = self.models();
        let what = if self.gamma_shared.is_some() {
            "Generalizable"
        } else {
            "Traditional"
        };
        let models = self
            .reorganised()
            .into_iter()
            .enumerate()
            .map(|(i, it)| (format!("model {}", i + 1), it))
            .collect();
        let iters = self.solver.iterations;
        let solver = match self.solver.lr {
            Some(lr) => format!("{}, lr {}", self.solver.solver.name(), sig(lr)),
            None => self.solver.solver.name().to_string(),
        };
        InteractionsView::new(
            format!(
                "{what} AND-OR decomposition: {m} model(s), {} players",
                self.n
            ),
            models,
        )
        .note(format!(
            "loss {} → {} over {iters} iterations ({solver}, α {}); |ε| ≤ {}",
            sig(self.initial_loss),
            sig(self.final_loss),
            self.alpha,
            self.eps_bounds
                .iter()
                .map(|b| sig(*b))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        self.view().evcxr_display();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_models() -> (Interactions, Interactions) {
        let a = Interactions::new(vec![0.0, 1.0, 0.1, 2.0], vec![0.0, 0.0, 0.0, -1.5]).unwrap();
        let b = Interactions::new(vec![0.0, 0.9, 0.8, 0.05], vec![0.0, 0.0, 0.0, -1.2]).unwrap();
        (a, b)
    }

    #[test]
    fn table_text_is_aligned() {
        let mut t = Table::new(&["kind", "I(S)"]);
        t.row(vec!["AND".into(), "+1.5000".into()])
            .row(vec!["OR".into(), "-10.2500".into()]);
        assert_eq!(
            t.to_text(),
            "kind      I(S)\nAND    +1.5000\nOR    -10.2500"
        );
        let html = t.to_html();
        assert!(html.contains("<td style=\"padding:2px 8px;border-bottom:1px solid #eee;text-align:right\">+1.5000</td>"));
        // text (a kind, a sentence, a coalition) is left-aligned, in HTML as in text
        assert!(html.contains("text-align:left\">AND</td>"), "{html}");
        assert!(html.contains("text-align:left\">kind</th>"), "{html}");
        let mut p = Table::new(&["share", "S"]);
        p.row(vec!["12.5%".into(), "{a, b}".into()]);
        assert_eq!(p.to_text(), "share  S\n12.5%  {a, b}");
        assert!(p.to_html().contains("text-align:right\">12.5%</td>"));
    }

    #[test]
    fn view_marks_shared_and_names_players() {
        let (a, b) = two_models();
        let view = InteractionsView::new("two", vec![("A".into(), a), ("B".into(), b)])
            .names(&["good", "movie"])
            .top(2);
        let text = view.report().to_text();
        assert!(
            text.contains("shared by all 2 models among each one's top 2: 1"),
            "{text}"
        );
        // A's top 2: AND {good, movie} +2 (not in B's top 2), OR {good, movie} -1.5 (shared)
        assert!(
            text.contains("1  AND   {good, movie}      2  +2.0000  no"),
            "{text}"
        );
        assert!(
            text.contains("2  OR    {good, movie}      2  -1.5000  yes"),
            "{text}"
        );
        let html = {
            let _lock = super::super::TEST_LOCK
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            view.mime_bundle().get("text/html").unwrap().to_string()
        };
        assert!(html.contains("{good, movie}") && html.contains("interprim-figure"));
        let chart = view.report().figures().next().unwrap().to_svg();
        assert!(chart.contains(COLOR_AND) && chart.contains(COLOR_OR));
    }

    #[test]
    fn decomposition_and_interactions_have_displays() {
        let v = crate::demo::boolean_example();
        let it = Interactions::harsanyi(&v).unwrap();
        let text = it
            .view()
            .names(&crate::demo::PLAYER_NAMES)
            .without_chart()
            .report()
            .to_text();
        assert!(
            text.contains("salient (|I| > 0.05·max): 6 AND + 0 OR of 32 each"),
            "{text}"
        );
        assert!(
            text.contains("AND   {x1, x2, x3}      3  +1.0000"),
            "{text}"
        );
        let opts = crate::DecompositionOptions {
            sgd_traditional: crate::Optimizer {
                niter: 50,
                ..crate::Optimizer::traditional()
            }
            .with_lr(1e-3),
            ..Default::default()
        };
        let d = crate::decompose_traditional(&v, &opts).unwrap();
        let text = d.view().report().to_text();
        assert!(
            text.starts_with("Traditional AND-OR decomposition: 1 model(s), 5 players\nloss "),
            "{text}"
        );
        assert!(!text.contains("shared"));
    }
}
