//! Export: the plan as artefacts for shops that configure Persistent Chat through
//! Microsoft's cmdlets instead of letting `load` write to `mgc` (Microsoft documents `mgc`
//! for reading only). Per wave and pool, `powershell.rs` renders a configure script and its inverse;
//! this module names and writes them. History cannot be exported this way: only `load`
//! moves messages.

pub mod powershell;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::plan::Plan;

pub use powershell::{configure, unconfigure};

/// Writes `configure-<label>.ps1` and `unconfigure-<label>.ps1` for every wave and pool of
/// the plan (the label of the reports, `plan::scope::label`: `<wave>`, or `<wave>@<pool>`
/// when the plan has several pools) into `dir` (created if missing) and returns their
/// paths, configure before unconfigure, in plan order of the waves, then by pool. A wave
/// with no room in a pool has no script for it; a plan without rooms, none at all.
///
/// Files are UTF-8 with a byte-order mark and CRLF line ends: Windows PowerShell 5.1 reads a
/// file without a BOM in the ANSI code page, which would garble non-ASCII room names.
pub fn write_scripts(dir: &Path, plan: &Plan) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    let several = plan.pools().len() > 1;
    for (wave, pool) in plan.wave_pools() {
        let label = crate::plan::scope::label(Some(wave), pool, several);
        let stem = unique_stem(&label, &mut used);
        for (kind, text) in [
            ("configure", configure(plan, wave, pool)),
            ("unconfigure", unconfigure(plan, wave, pool)),
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
        // One pair per wave and pool holding its rooms, named with the reports' label.
        let names: Vec<_> = files.iter().filter_map(|f| f.file_name()?.to_str()).collect();
        assert_eq!(
            names,
            [
                "configure-all@pool_1.ps1",
                "unconfigure-all@pool_1.ps1",
                "configure-wave_2____x_@pool___2_.ps1",
                "unconfigure-wave_2____x_@pool___2_.ps1"
            ]
        );
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

#[cfg(test)]
mod pool_tests {
    use super::*;

    /// A wave with rooms in two pools gets a script per pool, each naming only its own
    /// pool; a wave with no room in a pool gets none for it.
    #[test]
    fn a_wave_in_two_pools_gets_one_script_per_pool() {
        let mut plan = crate::report::plan_html::tests::hostile_plan();
        plan.rooms[1].pool = "pool $(2)".into();
        plan.categories[1].pool = "pool $(2)".into();
        let dir = tempfile::tempdir().expect("tempdir");
        let files = write_scripts(dir.path(), &plan).expect("write");
        let names: Vec<_> = files.iter().filter_map(|f| f.file_name()?.to_str()).collect();
        assert_eq!(names.len(), 6, "{names:?}");
        assert!(names.contains(&"configure-all@pool___2_.ps1"), "{names:?}");
        let text = |n: &str| std::fs::read_to_string(dir.path().join(n)).expect("read");
        let one = text("configure-all@pool_1.ps1");
        let two = text("configure-all@pool___2_.ps1");
        assert!(!one.contains("Town Hall") && two.contains("Town Hall"));
        assert!(!one.contains("PoolFqdn_pool_2") && !two.contains("PoolFqdn_pool_1"));
    }
}
