//! Export: the plan as artefacts for shops that configure Persistent Chat through
//! Microsoft's cmdlets instead of letting `load` write to `mgc` (Microsoft documents `mgc`
//! for reading only). Per wave, `powershell.rs` renders a configure script and its inverse;
//! this module names and writes them. History cannot be exported this way: only `load`
//! moves messages.

pub mod powershell;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::plan::Plan;

pub use powershell::{configure, unconfigure};

/// Writes `configure-<wave>.ps1` and `unconfigure-<wave>.ps1` for every wave of the plan
/// into `dir` (created if missing) and returns their paths, configure before unconfigure.
///
/// Files are UTF-8 with a byte-order mark and CRLF line ends: Windows PowerShell 5.1 reads a
/// file without a BOM in the ANSI code page, which would garble non-ASCII room names.
pub fn write_scripts(dir: &Path, plan: &Plan) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for wave in &plan.waves {
        let stem = unique_stem(&wave.name, &mut used);
        for (kind, text) in [
            ("configure", configure(plan, &wave.name)),
            ("unconfigure", unconfigure(plan, &wave.name)),
        ] {
            let path = dir.join(format!("{kind}-{stem}.ps1"));
            std::fs::write(&path, for_windows(&text))
                .with_context(|| format!("cannot write {}", path.display()))?;
            out.push(path);
        }
    }
    Ok(out)
}

/// A wave name made safe for a file name: ASCII letters, digits, `-`, `_` and inner dots
/// are kept, everything else becomes `_`; no leading dot, at most 64 characters.
pub fn file_stem(wave: &str) -> String {
    let mapped: String =
        wave.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
    let trimmed = mapped.trim_start_matches('.').trim_end_matches('.');
    if trimmed.is_empty() {
        "wave".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// [`file_stem`], numbered when two waves would share a file (Windows compares names
/// case-insensitively, so the check does too).
fn unique_stem(wave: &str, used: &mut BTreeSet<String>) -> String {
    let base = file_stem(wave);
    let mut stem = base.clone();
    let mut n = 2;
    while !used.insert(stem.to_ascii_lowercase()) {
        stem = format!("{base}-{n}");
        n += 1;
    }
    stem
}

/// UTF-8 with a BOM and CRLF line ends.
pub(crate) fn for_windows(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(text.replace('\n', "\r\n").as_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_safe_and_unique() {
        assert_eq!(file_stem("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_stem("Wave 1: EMEA"), "Wave_1__EMEA");
        assert_eq!(file_stem("..."), "wave");
        let mut used = BTreeSet::new();
        assert_eq!(unique_stem("a b", &mut used), "a_b");
        assert_eq!(unique_stem("A_B", &mut used), "A_B-2");
    }

    #[test]
    fn writes_two_scripts_per_wave_with_bom_and_crlf() {
        let plan = crate::report::plan_html::tests::hostile_plan();
        let dir = tempfile::tempdir().expect("tempdir");
        let files = write_scripts(&dir.path().join("scripts"), &plan).expect("write");
        assert_eq!(files.len(), 2 * plan.waves.len());
        for f in &files {
            assert!(
                f.starts_with(dir.path().join("scripts")),
                "{} escaped the folder",
                f.display()
            );
            let bytes = std::fs::read(f).expect("read");
            assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
            let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
            assert!(!text.replace("\r\n", "").contains('\n'), "bare LF in {}", f.display());
        }
    }
}
