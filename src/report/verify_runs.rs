//! Every verify run keeps its own report: `verify-<wave>-<run>.{json,md,csv,html}`, where
//! `<run>` is the run's UTC start as `YYYYMMDDTHHMMSS.mmmZ` (sortable as text, the same
//! shape as a load run's id), and the latest run is also at `verify-<wave>.*`. The
//! latest is a copy, not a symbolic link: a copy works on every file system (Windows
//! shares, zip archives handed to the change board) and survives moving the workspace.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The report files' extensions, in the order [`super::verify::write_all`] writes them.
pub const EXTENSIONS: [&str; 4] = ["json", "md", "csv", "html"];

/// A stem `verify-<wave>-<run>` no earlier run in `dir` used.
pub fn run_stem(dir: &Path, wave: &str) -> String {
    loop {
        let run = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let stem = format!("verify-{wave}-{run}");
        if !EXTENSIONS.iter().any(|e| dir.join(format!("{stem}.{e}")).exists()) {
            return stem;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Copies the run's files (`<run stem>.<ext>`) to `verify-<wave>.<ext>`, each replaced
/// through a temporary file and a rename so a reader never sees half a report; returns
/// the latest copies' paths.
pub fn publish_latest(dir: &Path, run_files: &[PathBuf], wave: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for from in run_files {
        let ext = from.extension().and_then(|e| e.to_str()).unwrap_or("");
        let to = dir.join(format!("verify-{wave}.{ext}"));
        let tmp = dir.join(format!(".verify-{wave}.{ext}.tmp"));
        std::fs::copy(from, &tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &to).with_context(|| format!("cannot write {}", to.display()))?;
        out.push(to);
    }
    Ok(out)
}
