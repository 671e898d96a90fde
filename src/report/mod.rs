//! Reports: stage results rendered for people (Markdown) and machines (JSON, CSV).
//!
//! Stages return data; this module only presents it. Files go to `DIR/reports/`.

pub mod html;
pub mod plan;
pub mod plan_html;
pub mod runbook;
pub mod verify;
pub mod verify_runs;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `text` to `dir/name`, returning the path.
pub fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Writes a value as pretty JSON, streamed to the file (the largest pool's plan is 160 MB
/// of JSON: built as a string first, it was the plan stage's peak memory).
pub fn write_json<T: serde::Serialize>(dir: &Path, name: &str, value: &T) -> Result<PathBuf> {
    use std::io::Write;
    let path = dir.join(name);
    let cannot = || format!("cannot write {}", path.display());
    let file = std::fs::File::create(&path).with_context(cannot)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
    serde_json::to_writer_pretty(&mut w, value).with_context(cannot)?;
    w.write_all(b"\n").and_then(|()| w.flush()).with_context(cannot)?;
    Ok(path)
}
