//! Progress of long work, reported through a plain observer: the library never draws anything
//! itself. The command line turns these events into indicatif bars, the notebooks into one quiet
//! line that updates in place, tests ignore them.
//!
//! ```
//! use interprim::progress::{Event, Observer};
//! let mut seen = 0;
//! let mut obs = |e: &Event<'_>| if let Event::Values { .. } = e { seen += 1 };
//! let o: &mut Observer<'_> = &mut obs;
//! o(&Event::Values { game: "A", done: 1, total: 4 });
//! assert_eq!(seen, 1);
//! ```

/// One progress event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event<'a> {
    /// A phase of a run begins: `total` steps of `unit` ("sentences", "images", …).
    Phase {
        name: &'a str,
        total: usize,
        unit: &'a str,
    },
    /// One step of the current phase is done (`done` of the phase's total); `detail` says what.
    Step { done: usize, detail: &'a str },
    /// Masked inputs evaluated by one game (model) so far.
    Values {
        game: &'a str,
        done: usize,
        total: usize,
    },
    /// A solver's progress: iteration, the loss and, for the optimal solver, the relative gap.
    Solver {
        what: &'a str,
        iteration: usize,
        max_iterations: usize,
        loss: f64,
        gap: Option<f64>,
    },
    /// A remark worth one line (a cost estimate, a skipped sample, a written file).
    Note(&'a str),
}

/// Receives [`Event`]s.
pub type Observer<'a> = dyn FnMut(&Event<'_>) + 'a;

/// Call `observer` if there is one.
pub fn emit(observer: &mut Option<&mut Observer<'_>>, event: Event<'_>) {
    if let Some(o) = observer.as_mut() {
        o(&event);
    }
}

/// A quiet progress line for notebooks and scripts: one short stdout line per phase
/// ("values: 3/20 sentences"), updated in place with carriage returns and ended when the phase
/// is complete. Only phases and their steps are shown — no timings, paths or cache states — so
/// the line is the same on every machine and every re-run; notes and per-model events are left
/// to the run's own report. Never writes to stderr (notebooks colour stderr like errors).
///
/// ```
/// # fn run(o: Option<&mut interprim::progress::Observer<'_>>) {}
/// run(Some(&mut interprim::progress::progress_line()));
/// ```
pub fn progress_line() -> impl FnMut(&Event<'_>) {
    let mut line = ProgressLine::default();
    move |event| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.update(event).as_bytes());
        let _ = out.flush();
    }
}

/// The state behind [`progress_line`]: what to print for each event.
#[derive(Clone, Debug, Default)]
pub struct ProgressLine {
    phase: Option<(String, usize, String)>,
}

impl ProgressLine {
    /// The text to print for `event` ("" for events the line does not show).
    pub fn update(&mut self, event: &Event<'_>) -> String {
        match *event {
            Event::Phase { name, total, unit } => {
                // an unfinished phase is ended by the next one
                let end = if self.phase.is_some() { "\n" } else { "" };
                self.phase = Some((name.to_string(), total, unit.to_string()));
                end.to_string() + &self.show(0)
            }
            Event::Step { done, .. } => self.show(done),
            _ => String::new(),
        }
    }

    /// The current phase at `done` steps, ended (newline, phase closed) once complete; "" when
    /// no phase is open.
    fn show(&mut self, done: usize) -> String {
        let Some((name, total, unit)) = &self.phase else {
            return String::new();
        };
        let mut text = format!("\r{name}: {done}/{total} {unit}");
        if done >= *total {
            text.push('\n');
            self.phase = None;
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_updates_in_place_and_ends_each_phase() {
        let mut line = ProgressLine::default();
        let mut text = String::new();
        text += &line.update(&Event::Phase {
            name: "values",
            total: 2,
            unit: "sentences",
        });
        text += &line.update(&Event::Note("a remark"));
        text += &line.update(&Event::Values {
            game: "A",
            done: 5,
            total: 8,
        });
        text += &line.update(&Event::Step {
            done: 1,
            detail: "s1",
        });
        text += &line.update(&Event::Step {
            done: 2,
            detail: "s2",
        });
        text += &line.update(&Event::Phase {
            name: "extract",
            total: 2,
            unit: "sentences",
        });
        text += &line.update(&Event::Step {
            done: 1,
            detail: "s1",
        });
        // an unfinished phase is ended by the next one
        text += &line.update(&Event::Phase {
            name: "nulls",
            total: 0,
            unit: "replicates",
        });
        assert_eq!(
            text,
            "\rvalues: 0/2 sentences\rvalues: 1/2 sentences\rvalues: 2/2 sentences\n\
             \rextract: 0/2 sentences\rextract: 1/2 sentences\n\rnulls: 0/0 replicates\n"
        );
        // what a notebook shows: the text after the last carriage return of each line
        let shown: Vec<&str> = text
            .lines()
            .map(|l| l.rsplit('\r').next().unwrap_or(""))
            .collect();
        assert_eq!(
            shown,
            [
                "values: 2/2 sentences",
                "extract: 1/2 sentences",
                "nulls: 0/0 replicates"
            ]
        );
    }
}
