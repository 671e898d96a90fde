//! Phase timings for profiling: with `GCMIGRATE_TIMINGS=1` in the environment every
//! [`phase`] guard prints `timing <name> <seconds>` to stderr when it ends. Off by default,
//! and then a guard costs one cached environment check.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("GCMIGRATE_TIMINGS").is_some_and(|v| v != "0"))
}

/// Times a phase until the guard is dropped.
#[must_use = "the phase ends when the guard is dropped"]
pub struct Phase {
    name: &'static str,
    start: Option<Instant>,
}

/// Starts timing `name` (a no-op unless `GCMIGRATE_TIMINGS` is set).
pub fn phase(name: &'static str) -> Phase {
    Phase { name, start: enabled().then(Instant::now) }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some(t) = self.start {
            crate::progress::err_line(&format!(
                "timing {:<28} {:>8.3}",
                self.name,
                t.elapsed().as_secs_f64()
            ));
        }
    }
}
