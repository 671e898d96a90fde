//! `verify --files DIR`: every file link of the wave's rooms (of the pool verified)
//! resolves to a file below the file store root `DIR` with the recorded SHA-256 (the copy
//! journal's for that root, else any root's, else the plan inventory's). A missing file,
//! different bytes, or no recorded checksum is a mismatch naming the room GUID, the
//! chatId and the path, one per link.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::Result;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::staging::Workspace;

/// One link that does not resolve as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileMismatch {
    /// Legacy room GUID.
    pub room_guid: String,
    /// Legacy room path.
    pub room_path: String,
    /// The message.
    pub chat_id: i64,
    /// The path below the store root.
    pub path: String,
    /// `missing`, `different`, `no recorded checksum`.
    pub what: String,
}

/// The result of the files check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FilesReport {
    /// The store root checked.
    pub dir: String,
    /// Repository links checked.
    pub links: u64,
    /// Distinct files checked.
    pub files: u64,
    /// Every link that does not resolve as recorded.
    pub mismatches: Vec<FileMismatch>,
}

impl FilesReport {
    /// Every link resolves.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// What one file is, below the root.
enum Found {
    Missing,
    Same,
    Different(String),
    Unrecorded,
}

/// Checks the links of `wave` (`None`: every wave) of the rooms in `plan` (already
/// scoped to the pool verified) against `dir`.
pub async fn check(
    ws: &Workspace,
    plan: &Plan,
    wave: Option<&str>,
    dir: &Path,
) -> Result<FilesReport> {
    let rooms: HashSet<i64> = plan.rooms_in(wave).map(|r| r.legacy_id).collect();
    let links: Vec<_> = ws
        .file_links(wave)
        .await?
        .into_iter()
        .filter(|r| r.kind == "store" && rooms.contains(&r.channel_id))
        .collect();
    let root = crate::files::copy::root_key(dir);
    let mut recorded: HashMap<String, String> = HashMap::new();
    for (r, rel, sha, _) in ws.file_copies().await? {
        if r == root || !recorded.contains_key(&rel) {
            recorded.insert(rel, sha);
        }
    }
    let mut files: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for l in &links {
        let e = files.entry(l.rel_path.as_str()).or_default();
        if e.is_none() {
            *e = recorded.get(&l.rel_path).map(String::as_str).or(l.sha256.as_deref());
        }
    }
    let found: HashMap<&str, Found> = files
        .par_iter()
        .map(|(rel, want)| {
            let path = crate::files::under(dir, rel);
            let f = if !path.is_file() {
                Found::Missing
            } else {
                match (crate::files::hash::file(&path), want) {
                    (Err(e), _) => Found::Different(format!("unreadable: {e}")),
                    (Ok(_), None) => Found::Unrecorded,
                    (Ok((sha, _)), Some(w)) if sha == *w => Found::Same,
                    (Ok((sha, _)), Some(w)) => {
                        Found::Different(format!("different: SHA-256 {sha}, recorded {w}"))
                    }
                }
            };
            (*rel, f)
        })
        .collect();
    let mut report = FilesReport {
        dir: dir.display().to_string(),
        links: links.len() as u64,
        files: files.len() as u64,
        mismatches: Vec::new(),
    };
    for l in &links {
        let what = match &found[l.rel_path.as_str()] {
            Found::Same => continue,
            Found::Missing => "missing".to_string(),
            Found::Different(d) => d.clone(),
            Found::Unrecorded => {
                "no recorded checksum: run `gcmigrate files` (or plan with --files-from)".into()
            }
        };
        report.mismatches.push(FileMismatch {
            room_guid: l.room_guid.clone(),
            room_path: l.room_path.clone(),
            chat_id: l.chat_id,
            path: l.rel_path.clone(),
            what,
        });
    }
    Ok(report)
}

/// Writes the mismatches as CSV (`reports/verify-<label>-files.csv`).
pub fn write_csv(path: &Path, report: &FilesReport) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["room_guid", "room_path", "chat_id", "path", "what"])?;
    for m in &report.mismatches {
        w.write_record([&m.room_guid, &m.room_path, &m.chat_id.to_string(), &m.path, &m.what])?;
    }
    w.flush()?;
    Ok(())
}
