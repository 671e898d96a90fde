//! The file inventory `plan` takes: every `ma-filelink:` link of every message the plan
//! loads, per room and chatId, resolved by the rules of [`super::link`]; given the legacy
//! repository (`plan --files-from DIR`), each file's presence, size and SHA-256. It fills
//! the workspace's `file_link` table, writes `reports/files.csv` (every link) and returns
//! the findings: the rule in force, counts and sizes per wave, missing and oversize files,
//! links to a host that is not the file store, paths that would leave the store.
//!
//! One streaming pass over the staged history in which SQLite skips the messages without
//! a link, started as soon as the snapshot is read so that it runs while the plan is
//! built ([`start`], then [`finish`]); memory grows with the links, never with the messages.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Result;
use rayon::prelude::*;

use super::link::{Kind, Rules, SCHEME};
use crate::mapping::file_options::FileOptions;
use crate::model::Snapshot;
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::{Finding, Plan, Severity};
use crate::staging::{FileLinkRow, Workspace};

/// Per-link findings of one code listed before they are summed up in one line.
const LISTED: usize = 50;

/// What the plan learns of one repository file from `--files-from`.
#[derive(Debug, Clone)]
enum Seen {
    Present { size: u64, sha256: String },
    Missing,
    Unreadable(String),
}

/// One link as the scan finds it, before the plan says which room and wave it is in.
struct Hit {
    channel_id: i64,
    chat_id: i64,
    chat_date: i64,
    user_id: i64,
    seq: i64,
    link: String,
    kind: &'static str,
    host: String,
    rel_path: String,
}

/// The scan of the staged history, running while the plan is built.
pub struct Pending {
    rules: Rules,
    scan: std::thread::JoinHandle<Result<Vec<Hit>>>,
}

/// Starts the scan on a thread of its own: it needs only the `[files]` rules, so it runs
/// while the plan is built ([`finish`] takes it over).
pub fn start(
    ws: &Workspace,
    opts: &FileOptions,
    snap: &Snapshot,
    files_from: Option<&Path>,
) -> Result<Pending> {
    if let Some(dir) = files_from.filter(|d| !d.is_dir()) {
        return Err(crate::error::bad_input(format!(
            "--files-from {} is not a directory: give the mounted copy of the legacy file repository",
            dir.display()
        )));
    }
    let rules = Rules::new(opts, snap.filestore_uri.as_deref());
    let r = rules.clone();
    let scan = ws.spawn_history_scan(SCHEME, move |m, out: &mut Vec<Hit>| {
        let content = String::from_utf8_lossy(m.content);
        for (seq, link) in r.links(&content).enumerate() {
            let (host, rel_path) = match &link.kind {
                Kind::Store { rel, .. } => {
                    (super::link::host_of(link.text).unwrap_or_default(), rel.clone())
                }
                Kind::Foreign { host } => (host.clone(), String::new()),
                Kind::BadPath { .. } => {
                    (super::link::host_of(link.text).unwrap_or_default(), String::new())
                }
            };
            out.push(Hit {
                channel_id: m.channel_id,
                chat_id: m.chat_id,
                chat_date: m.chat_date,
                user_id: m.user_id,
                seq: seq as i64,
                link: link.text.to_string(),
                kind: link.kind.name(),
                host,
                rel_path,
            });
        }
    });
    Ok(Pending { rules, scan })
}

/// Keeps the links of the messages `plan` loads, looks at the files (`files_from`),
/// stores the inventory, writes `reports/files.csv`; returns the findings.
pub async fn finish(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    pending: Pending,
    files_from: Option<&Path>,
) -> Result<Vec<Finding>> {
    let Pending { rules, scan } = pending;
    let t = crate::timings::phase("plan: file links: scan");
    let hits = crate::db::lite::blocking(|| scan.join())
        .map_err(|_| anyhow::anyhow!("the file-link scan stopped unexpectedly"))??;
    drop(t);
    let mut rows = placed(plan, snap, hits);
    // The scan hands kept messages before new ones: the inventory is in key order.
    rows.sort_unstable_by_key(|r| (r.channel_id, r.chat_id, r.seq));
    let seen = match files_from {
        Some(dir) => look(dir, &rows),
        None => HashMap::new(),
    };
    for r in &mut rows {
        if let Some(Seen::Present { size, sha256 }) = seen.get(&r.rel_path) {
            (r.size, r.sha256) = (Some(*size as i64), Some(sha256.clone()));
        }
    }
    let t = crate::timings::phase("plan: file links: store");
    ws.replace_file_links(&rows).await?;
    drop(t);
    let _t = crate::timings::phase("plan: file links: csv");
    let max = plan.options.files.max_file_size_kb.saturating_mul(1024);
    write_csv(&ws.reports_dir().join("files.csv"), &rows, &seen, files_from.is_some(), max)?;
    Ok(findings(plan, &rules, &rows, &seen, files_from, max))
}

/// The hits of messages the plan loads, with their room and wave.
fn placed(plan: &Plan, snap: &Snapshot, hits: Vec<Hit>) -> Vec<FileLinkRow> {
    let since = plan.options.since.as_deref();
    let classifier = Classifier::new(&plan.rooms, &plan.excluded_rooms, snap, since);
    let rooms: HashMap<i64, &crate::plan::PlanRoom> =
        plan.rooms.iter().map(|r| (r.legacy_id, r)).collect();
    hits.into_iter()
        .filter(|h| classifier.classify(h.channel_id, h.user_id, h.chat_date) == Disposition::Load)
        .filter_map(|h| {
            let room = rooms.get(&h.channel_id)?;
            Some(FileLinkRow {
                channel_id: h.channel_id,
                chat_id: h.chat_id,
                seq: h.seq,
                room_guid: room.legacy_guid.clone(),
                room_path: room.legacy_path.clone(),
                wave: room.wave.clone(),
                link: h.link,
                kind: h.kind.to_string(),
                host: h.host,
                rel_path: h.rel_path,
                size: None,
                sha256: None,
            })
        })
        .collect()
}

/// Presence, size and SHA-256 of each distinct repository file below `dir`.
fn look(dir: &Path, rows: &[FileLinkRow]) -> HashMap<String, Seen> {
    let mut paths: Vec<&str> =
        rows.iter().filter(|r| r.kind == "store").map(|r| r.rel_path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    paths
        .into_par_iter()
        .map(|rel| {
            let path = super::under(dir, rel);
            let seen = if !path.is_file() {
                Seen::Missing
            } else {
                match super::hash::file(&path) {
                    Ok((sha256, size)) => Seen::Present { size, sha256 },
                    Err(e) => Seen::Unreadable(e.to_string()),
                }
            };
            (rel.to_string(), seen)
        })
        .collect()
}

/// The status of a link in `files.csv`.
fn status(r: &FileLinkRow, seen: &HashMap<String, Seen>, looked: bool, max: u64) -> String {
    if r.kind != "store" {
        return r.kind.clone();
    }
    match seen.get(&r.rel_path) {
        _ if !looked => "not checked".into(),
        Some(Seen::Present { size, .. }) if *size > max => "too large".into(),
        Some(Seen::Present { .. }) => "present".into(),
        Some(Seen::Unreadable(e)) => format!("unreadable: {e}"),
        Some(Seen::Missing) | None => "missing".into(),
    }
}

fn write_csv(
    path: &Path,
    rows: &[FileLinkRow],
    seen: &HashMap<String, Seen>,
    looked: bool,
    max: u64,
) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "wave",
        "room_guid",
        "room_path",
        "chat_id",
        "n",
        "kind",
        "host",
        "path",
        "status",
        "size",
        "sha256",
        "link",
    ])?;
    for r in rows {
        w.write_record([
            r.wave.as_str(),
            &r.room_guid,
            &r.room_path,
            &r.chat_id.to_string(),
            &r.seq.to_string(),
            &r.kind,
            &r.host,
            &r.rel_path,
            &status(r, seen, looked, max),
            &r.size.map_or(String::new(), |s| s.to_string()),
            r.sha256.as_deref().unwrap_or(""),
            &r.link,
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// A finding about one link.
fn about(r: &FileLinkRow, severity: Severity, code: &str, message: String) -> Finding {
    Finding {
        severity,
        code: code.into(),
        subject: r.room_path.clone(),
        guid: Some(r.room_guid.clone()),
        message,
    }
}

/// Keeps the first [`LISTED`] findings of a code and sums up the rest in one line.
fn capped(mut list: Vec<Finding>, code: &str, what: &str) -> Vec<Finding> {
    if list.len() > LISTED {
        let more = list.len() - LISTED;
        let severity = list[0].severity;
        list.truncate(LISTED);
        list.push(Finding {
            severity,
            code: code.into(),
            subject: "/".into(),
            guid: None,
            message: format!("… and {more} more {what}: reports/files.csv lists every link"),
        });
    }
    list
}

fn findings(
    plan: &Plan,
    rules: &Rules,
    rows: &[FileLinkRow],
    seen: &HashMap<String, Seen>,
    files_from: Option<&Path>,
    max: u64,
) -> Vec<Finding> {
    let info = |code: &str, message: String| Finding {
        severity: Severity::Info,
        code: code.into(),
        subject: "/".into(),
        guid: None,
        message,
    };
    let mut out = vec![info("FILES_LINK_RULE", rules.describe())];
    if rows.is_empty() {
        return out;
    }
    let (mut missing, mut large, mut bad) = (Vec::new(), Vec::new(), Vec::new());
    let mut foreign: BTreeMap<&str, (u64, &FileLinkRow)> = BTreeMap::new();
    let mut first_of: HashMap<&str, &FileLinkRow> = HashMap::new();
    for r in rows {
        match r.kind.as_str() {
            "foreign" => foreign.entry(r.host.as_str()).or_insert((0, r)).0 += 1,
            "bad-path" => bad.push(about(
                r,
                Severity::Warning,
                "FILE_LINK_BAD_PATH",
                format!("chatId {}: `{}` would leave the file store; it is neither copied nor rewritten", r.chat_id, r.link),
            )),
            _ => {
                let first = *first_of.entry(r.rel_path.as_str()).or_insert(r);
                match seen.get(&r.rel_path) {
                    Some(Seen::Missing | Seen::Unreadable(_)) => missing.push(about(
                        r,
                        Severity::Warning,
                        "FILE_MISSING",
                        format!(
                            "chatId {}: `{}` is not in {} (the link will not resolve after the migration)",
                            r.chat_id,
                            r.rel_path,
                            files_from.map_or(String::new(), |d| d.display().to_string())
                        ),
                    )),
                    Some(Seen::Present { size, .. }) if *size > max && std::ptr::eq(first, r) => {
                        large.push(about(
                            r,
                            Severity::Warning,
                            "FILE_TOO_LARGE",
                            format!(
                                "chatId {}: `{}` is {}, over the target's MaxFileSizeKB {} (`[files] max_file_size_kb`): it is copied, but Persistent Chat's limit is smaller",
                                r.chat_id,
                                r.rel_path,
                                super::human(*size),
                                plan.options.files.max_file_size_kb
                            ),
                        ))
                    }
                    _ => {}
                }
            }
        }
    }
    for (host, (n, r)) in &foreign {
        let shown = if host.is_empty() { "no host" } else { host };
        out.push(Finding {
            severity: Severity::Warning,
            code: "FILE_LINK_FOREIGN_HOST".into(),
            subject: r.room_path.clone(),
            guid: Some(r.room_guid.clone()),
            message: format!(
                "{n} link(s) point to {shown}, which is not the file store ({}), first at chatId {}: `{}`; they are neither copied nor rewritten. If that host serves the legacy repository, list it in `[files] hosts` of gcmigrate.toml",
                if rules.hosts().is_empty() { "no store host is known".to_string() } else { rules.hosts().join(", ") },
                r.chat_id,
                r.link
            ),
        });
    }
    out.extend(capped(missing, "FILE_MISSING", "missing file link(s)"));
    out.extend(capped(large, "FILE_TOO_LARGE", "oversize file(s)"));
    out.extend(capped(bad, "FILE_LINK_BAD_PATH", "link(s) leaving the store"));
    out.extend(
        per_wave(plan, rows, seen, files_from.is_some(), max)
            .into_iter()
            .map(|m| info("FILES_WAVE", m)),
    );
    out
}

/// One line per wave: links, messages, rooms, distinct files and their size.
fn per_wave(
    plan: &Plan,
    rows: &[FileLinkRow],
    seen: &HashMap<String, Seen>,
    looked: bool,
    max: u64,
) -> Vec<String> {
    let mut out = Vec::new();
    for wave in &plan.waves {
        let of: Vec<&FileLinkRow> = rows.iter().filter(|r| r.wave == wave.name).collect();
        if of.is_empty() {
            continue;
        }
        let mut messages: Vec<(i64, i64)> = of.iter().map(|r| (r.channel_id, r.chat_id)).collect();
        messages.dedup();
        let mut rooms: Vec<i64> = of.iter().map(|r| r.channel_id).collect();
        rooms.dedup();
        let mut files: Vec<&str> =
            of.iter().filter(|r| r.kind == "store").map(|r| r.rel_path.as_str()).collect();
        files.sort_unstable();
        files.dedup();
        let foreign = of.iter().filter(|r| r.kind != "store").count();
        let mut line = format!(
            "wave {}: {} file link(s) in {} message(s) of {} room(s), {} repository file(s)",
            wave.name,
            of.len(),
            messages.len(),
            rooms.len(),
            files.len()
        );
        if looked {
            let (mut bytes, mut present, mut over) = (0u64, 0usize, 0usize);
            for f in &files {
                if let Some(Seen::Present { size, .. }) = seen.get(*f) {
                    (bytes, present) = (bytes + size, present + 1);
                    over += usize::from(*size > max);
                }
            }
            line.push_str(&format!(
                ", {present} present ({}), {} missing, {over} over MaxFileSizeKB",
                super::human(bytes),
                files.len() - present
            ));
        } else {
            line.push_str(" (sizes unknown: plan with --files-from DIR to check them)");
        }
        if foreign > 0 {
            line.push_str(&format!("; {foreign} link(s) not to the file store"));
        }
        out.push(line);
    }
    out
}
