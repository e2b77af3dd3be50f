//! Progress while applying: one line per change as it starts and ends; on a terminal a live
//! spinner with elapsed time for each change in flight; plain lines otherwise. All on stderr.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
enum Mode {
    Quiet,
    Plain,
    Live(MultiProgress),
}

#[derive(Clone)]
pub struct Progress {
    mode: Mode,
}

impl Progress {
    pub fn new(quiet: bool, terminal: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if terminal {
            Mode::Live(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Mode::Plain
        };
        Progress { mode }
    }

    /// A line that is not tied to a change.
    pub fn println(&self, line: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!("{line}"),
            Mode::Live(m) => {
                let _ = m.println(line);
            }
        }
    }

    /// Start a change: prints its first line and, on a terminal, a spinner.
    pub fn start(&self, id: &str, verb: &str) -> Task {
        let started = Instant::now();
        let bar = match &self.mode {
            Mode::Live(m) => {
                let b = m.add(ProgressBar::new_spinner());
                b.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                        .expect("static template"),
                );
                b.set_prefix(id.to_string());
                b.set_message(format!("{verb}…"));
                b.enable_steady_tick(Duration::from_millis(120));
                Some(b)
            }
            _ => None,
        };
        self.println(&format!("{id}: {verb}…"));
        Task {
            id: id.to_string(),
            bar,
            progress: self.clone(),
            started,
        }
    }
}

/// One change in flight.
pub struct Task {
    id: String,
    bar: Option<ProgressBar>,
    progress: Progress,
    started: Instant,
}

impl Task {
    /// What the change is doing now (e.g. "waiting for the NAT gateway to become available").
    pub fn status(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => self.progress.println(&format!("{}: {msg}", self.id)),
        }
    }

    pub fn finish(self, line: &str) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.progress.println(&format!(
            "{}: {line} [{:.1}s]",
            self.id,
            self.started.elapsed().as_secs_f64()
        ));
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
