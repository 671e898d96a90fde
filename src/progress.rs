//! Progress reporting: the only module that touches indicatif.
//!
//! On a terminal each stage gets a bar with rate and ETA; otherwise a plain line is
//! printed every few seconds; with `--quiet`, nothing.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bars on a terminal, periodic lines otherwise.
    Auto,
    /// Nothing.
    Quiet,
}

impl Progress {
    /// A bar for a stage of `total` units.
    pub fn bar(&self, stage: &str, total: u64) -> Bar {
        let is_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let inner = match (self, is_tty) {
            (Progress::Quiet, _) => BarKind::Hidden,
            (Progress::Auto, true) => {
                let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                pb.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>10} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {per_sec} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                pb.set_prefix(stage.to_string());
                BarKind::Bar(pb)
            }
            (Progress::Auto, false) => BarKind::Lines(Arc::new(LineState {
                stage: stage.to_string(),
                total,
                pos: AtomicU64::new(0),
                start: Instant::now(),
                last: Mutex::new(Instant::now()),
            })),
        };
        Bar(inner)
    }

    /// Prints a status line to stderr unless quiet.
    pub fn note(&self, msg: &str) {
        if *self != Progress::Quiet {
            err_line(msg);
        }
    }
}

/// Detail lines a stage prints under its summary: at most a screenful.
pub const SCREENFUL: usize = 20;

impl Progress {
    /// Prints the first [`SCREENFUL`] of `lines` (unless quiet), then, when there were
    /// more, one line saying how many and where all of them are (`rest`, say a report).
    pub fn notes(&self, lines: impl IntoIterator<Item = String>, rest: &str) {
        let mut n = 0usize;
        for line in lines {
            if n < SCREENFUL {
                self.note(&line);
            }
            n += 1;
        }
        if n > SCREENFUL {
            self.note(&format!("  … and {} more: all {n} are in {rest}", n - SCREENFUL));
        }
    }
}

/// Writes one line to stdout; a write error (a closed pipe, a full disk behind a
/// redirect) is ignored: the output is a courtesy, the exit code is the result.
pub fn out_line(msg: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{msg}").and_then(|()| out.flush());
}

/// Writes one line to stderr, ignoring write errors like [`out_line`].
pub fn err_line(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// A progress handle that can be cloned into workers.
#[derive(Clone)]
pub struct Bar(BarKind);

#[derive(Clone)]
enum BarKind {
    Hidden,
    Bar(ProgressBar),
    Lines(Arc<LineState>),
}

struct LineState {
    stage: String,
    total: u64,
    pos: AtomicU64,
    start: Instant,
    last: Mutex<Instant>,
}

impl Bar {
    /// Advances by `n`.
    pub fn inc(&self, n: u64) {
        match &self.0 {
            BarKind::Hidden => {}
            BarKind::Bar(pb) => pb.inc(n),
            BarKind::Lines(st) => {
                let pos = st.pos.fetch_add(n, Ordering::Relaxed) + n;
                let mut last = st.last.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() >= Duration::from_secs(5) {
                    *last = Instant::now();
                    let secs = st.start.elapsed().as_secs_f64().max(0.001);
                    err_line(&format!(
                        "{}: {pos}/{} ({:.0}/s)",
                        st.stage,
                        st.total,
                        pos as f64 / secs
                    ));
                }
            }
        }
    }

    /// Ends the bar.
    pub fn finish(&self) {
        match &self.0 {
            BarKind::Bar(pb) => pb.finish_and_clear(),
            BarKind::Hidden | BarKind::Lines(_) => {}
        }
    }
}
