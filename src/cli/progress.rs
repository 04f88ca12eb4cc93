//! The library's progress events ([`crate::progress::Event`]) as indicatif bars on stderr: one
//! bar for the current phase of a run (samples), one for the masked inputs of the game being
//! evaluated or the solver's iterations; notes as lines. Bars draw only on a terminal.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::progress::Event;

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Two stacked bars.
pub struct Bars {
    multi: MultiProgress,
    phase: ProgressBar,
    inner: ProgressBar,
}

impl Bars {
    pub fn new() -> Self {
        let multi = MultiProgress::new();
        let phase = multi.add(ProgressBar::new(0));
        phase.set_style(style(
            "{prefix:8} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ETA {eta})",
        ));
        let inner = multi.add(ProgressBar::new(0));
        inner.set_style(style("  {prefix} [{bar:30}] {pos}/{len} {msg}"));
        Bars {
            multi,
            phase,
            inner,
        }
    }

    /// Show one event.
    pub fn event(&mut self, e: &Event<'_>) {
        match *e {
            Event::Phase { name, total, unit } => {
                self.phase.reset();
                self.phase.set_prefix(name.to_string());
                self.phase.set_length(total as u64);
                self.phase.set_position(0);
                self.phase.set_message(unit.to_string());
            }
            Event::Step { done, detail } => {
                self.phase.set_position(done as u64);
                self.inner.set_message(detail.to_string());
            }
            Event::Values { game, done, total } => {
                self.inner.set_prefix(game.to_string());
                self.inner.set_length(total as u64);
                self.inner.set_position(done as u64);
                self.inner.set_message("masked inputs");
            }
            Event::Solver {
                what,
                iteration,
                max_iterations,
                loss,
                gap,
            } => {
                self.inner.set_prefix(what.to_string());
                self.inner.set_length(max_iterations as u64);
                self.inner.set_position(iteration as u64 + 1);
                self.inner.set_message(match gap {
                    Some(g) => format!("loss {loss:.6}, gap {g:.1e}"),
                    None => format!("loss {loss:.6}"),
                });
            }
            Event::Note(text) => {
                if self.multi.is_hidden() {
                    eprintln!("{text}");
                } else {
                    let _ = self.multi.println(text);
                }
            }
        }
    }

    /// An observer for the library.
    pub fn observer(&mut self) -> impl FnMut(&Event<'_>) + '_ {
        move |e| self.event(e)
    }

    /// The decomposition's (iteration, max, loss) callback on the inner bar.
    pub fn solver_observer<'a>(&'a mut self, what: &'a str) -> impl FnMut(usize, usize, f64) + 'a {
        move |iteration, max_iterations, loss| {
            self.event(&Event::Solver {
                what,
                iteration,
                max_iterations,
                loss,
                gap: None,
            })
        }
    }

    /// Remove the bars.
    pub fn finish(&self) {
        self.inner.finish_and_clear();
        self.phase.finish_and_clear();
    }
}
