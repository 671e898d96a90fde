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

/// Writes a value as pretty JSON.
pub fn write_json<T: serde::Serialize>(dir: &Path, name: &str, value: &T) -> Result<PathBuf> {
    write(dir, name, &(serde_json::to_string_pretty(value)? + "\n"))
}
