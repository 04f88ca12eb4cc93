//! What a run writes next to its per-sample results: summary.json, figures.html (the paper's
//! Figs. 2-4 as the [`Study`]'s figures, interactive, plotly.js embedded once) and comparison.md
//! (our numbers next to the paper's).

use super::study::Study;
use crate::export::{write_atomic, write_json};
use crate::plot::{html_table, HtmlPage};
use crate::Result;

/// Write `<out>/summary.json`, `<out>/figures.html` and `<out>/comparison.md` of `study`.
pub fn write_report(study: &Study) -> Result<()> {
    let summary = &study.summary;
    write_json(&study.out.join("summary.json"), summary)?;
    let mut page = HtmlPage::new(&format!(
        "interprim: {} ({} samples)",
        summary.task, summary.samples
    ));
    page.paragraph(&format!(
        "Models: {}. {} samples, n = {} players, {:.2} s per sample.",
        summary.models.join(" vs "),
        summary.samples,
        study.n(),
        summary.seconds_per_sample
    ));
    page.heading(
        "Fig. 2: sparsity (strengths of all AND and OR interactions of all samples, decreasing)",
    );
    for model in 0..summary.models.len() {
        page.figure(&study.sparsity_figure(model)?);
    }
    page.heading("Fig. 3: generalization power of the top-k interactions");
    page.paragraph(
        "Solid: the observed sharing of each method. Dashed: its permutation null (the players \
         of the other models relabelled at random, the same extraction re-run); dash-dot: its \
         cross-sample null (model 1 on one sample, the other models on another sample); error \
         bars: their sd over the replicates. Dotted: chance, independent random top-k sets. \
         Excess sharing is the observed sharing minus a null.",
    );
    for line in summary.excess_lines() {
        page.paragraph(&line);
    }
    for note in &summary.nulls.notes {
        page.paragraph(&format!("Note: {note}"));
    }
    for fig in study.generalization_figures() {
        page.figure(&fig);
    }
    page.heading("Fig. 4: salient interactions per order, all and shared (mean over samples)");
    for method in ["generalizable", "traditional"] {
        for model in 0..summary.models.len() {
            page.figure(&study.order_figure(method, model)?);
        }
    }
    let table = study.comparison_table(true);
    page.heading("Our numbers and the paper's");
    let header: Vec<&str> = table.header.iter().map(String::as_str).collect();
    page.html(html_table(&header, &table.rows));
    page.write(&study.out.join("figures.html"))?;
    let mut md = format!(
        "# {}: our numbers and the paper's\n\nModels: {} (paper: {}). {} samples.\n\n",
        summary.task,
        summary.models.join(" vs "),
        study.paper.models.join(" vs "),
        summary.samples
    );
    for line in summary.excess_lines() {
        md.push_str(&format!("- {line}\n"));
    }
    for note in &summary.nulls.notes {
        md.push_str(&format!("- note: {note}\n"));
    }
    md.push_str("\n| measure | ours | paper |\n|---|---|---|\n");
    for row in &table.rows {
        md.push_str(&format!("| {} | {} | {} |\n", row[0], row[1], row[2]));
    }
    write_atomic(&study.out.join("comparison.md"), md.as_bytes())
}
