//! The export's manifest: `manifest.json` and `manifest.csv`, written last (each to a
//! temporary file, then renamed), so a directory with a manifest holds a complete export.
//!
//! It lists every file (room, slice, messages, bytes, SHA-256), every room of the wave with
//! its counts (read, exported, excluded and rejected by reason; `exported` equals verify's
//! `expected` and load's per-room count), every message left out with its disposition and
//! reason, and the plan's rooms that no wave migrates. Nothing in it depends on when it
//! was written: a rerun writes the same bytes. The left-out messages are spooled to a file
//! while the rooms are read and copied into both manifests at the end (memory stays flat
//! however many there are).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Where Microsoft documents the format written.
pub const REFERENCE: &str = "https://learn.microsoft.com/en-us/previous-versions/office/lync-server-2013/lync-server-2013-customizing-the-xslt-definition-file";

/// One XML file of the export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name, relative to the export directory.
    pub file: String,
    /// The room's legacy `nodeGuid` (kept by the load).
    pub room_guid: String,
    /// The room's legacy path.
    pub room_path: String,
    /// The day (`YYYY-MM-DD`) or month (`YYYY-MM`) of its messages; None: the whole room.
    pub slice: Option<String>,
    /// `<Message>` elements in it.
    pub messages: u64,
    /// Characters XML 1.0 cannot carry, replaced by U+FFFD in its message contents.
    pub replaced_chars: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
}

/// One room of the wave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoomEntry {
    /// Legacy `nodeID`.
    pub legacy_id: i64,
    /// Legacy `nodeGuid`.
    pub legacy_guid: String,
    /// Legacy path.
    pub legacy_path: String,
    /// Target room name.
    pub target_name: String,
    /// The `<Channel uri>` of its files.
    pub channel_uri: String,
    /// Staged messages read.
    pub read: u64,
    /// Messages exported: the ones the load writes (verify's `expected`).
    pub exported: u64,
    /// Messages left out by a named rule, by rule.
    pub excluded: BTreeMap<String, u64>,
    /// Messages rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Files holding its messages.
    pub files: u64,
}

/// A room of the plan that no wave migrates (excluded by a rule or rejected), with its
/// staged messages: none of them is in any export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomNotMigrated {
    /// Legacy `nodeGuid`.
    pub legacy_guid: String,
    /// Legacy path.
    pub legacy_path: String,
    /// `excluded` or `rejected`.
    pub disposition: String,
    /// The rule or reason.
    pub reason: String,
    /// Its staged messages.
    pub messages: u64,
}

/// One message of the wave's rooms that the export (like the load) leaves out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeftOut {
    /// The room's legacy `nodeGuid`.
    pub room_guid: String,
    /// `chatId`.
    pub chat_id: i64,
    /// `chatDate` (ticks, as staged).
    pub chat_date: i64,
    /// The author's legacy `prinID`.
    pub user_id: i64,
    /// `excluded` or `rejected`.
    pub disposition: String,
    /// The rule or reason (the load's: `before_since`, `author_unknown`, …).
    pub reason: String,
}

/// Totals over the wave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Staged messages read.
    pub read: u64,
    /// Messages exported.
    pub exported: u64,
    /// Left out by rule, by rule.
    pub excluded: BTreeMap<String, u64>,
    /// Rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Files written.
    pub files: u64,
}

/// Everything in `manifest.json` but the left-out messages (streamed after it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// What the files are.
    pub format: String,
    /// Microsoft's description of the format.
    pub reference: String,
    /// The wave.
    pub wave: String,
    /// The pool.
    pub pool: String,
    /// `none`, `day` or `month`.
    pub slice: String,
    /// The domain of the `ma-chan://` channel URIs.
    pub channel_domain: String,
    /// Totals.
    pub totals: Totals,
    /// The files, by name.
    pub files: Vec<FileEntry>,
    /// The wave's rooms, by legacy id.
    pub rooms: Vec<RoomEntry>,
    /// The plan's rooms no wave migrates.
    pub rooms_not_migrated: Vec<RoomNotMigrated>,
    /// The messages left out (read back from a written manifest; written streamed).
    #[serde(default, skip_serializing)]
    pub left_out: Vec<LeftOut>,
}

/// The spool of left-out messages, a CSV file beside the export while it runs.
pub struct Spool {
    path: PathBuf,
    w: csv::Writer<BufWriter<File>>,
}

impl Spool {
    /// A fresh spool at `path`.
    pub fn create(path: PathBuf) -> Result<Spool> {
        let f = File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Spool {
            w: csv::WriterBuilder::new().has_headers(false).from_writer(BufWriter::new(f)),
            path,
        })
    }

    /// Adds one message.
    pub fn push(&mut self, l: &LeftOut) -> Result<()> {
        self.w.serialize(l)?;
        Ok(())
    }

    /// Writes `manifest.csv` and then `manifest.json` into `dir` and removes the spool.
    pub fn write_manifests(mut self, dir: &Path, m: &Manifest) -> Result<()> {
        self.w.flush()?;
        drop(self.w);
        atomic(dir, "manifest.csv", |out| write_csv(out, m, &self.path))?;
        atomic(dir, "manifest.json", |out| write_json(out, m, &self.path))?;
        std::fs::remove_file(&self.path)?;
        Ok(())
    }
}

/// The left-out messages spooled at `spool`, one at a time.
fn each_left_out(spool: &Path, mut f: impl FnMut(LeftOut) -> Result<()>) -> Result<()> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_path(spool)?;
    for row in r.deserialize() {
        f(row?)?;
    }
    Ok(())
}

/// `manifest.csv`: one row per file, room, room not migrated and left-out message.
fn write_csv(out: &mut dyn Write, m: &Manifest, spool: &Path) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "kind",
        "room_guid",
        "room_path",
        "file",
        "slice",
        "chat_id",
        "messages",
        "bytes",
        "sha256",
        "disposition",
        "reason",
    ])?;
    for f in &m.files {
        let (n, b) = (f.messages.to_string(), f.bytes.to_string());
        let slice = f.slice.as_deref().unwrap_or("");
        w.write_record([
            "file",
            &f.room_guid,
            &f.room_path,
            &f.file,
            slice,
            "",
            &n,
            &b,
            &f.sha256,
            "",
            "",
        ])?;
    }
    for r in &m.rooms {
        let n = r.exported.to_string();
        w.write_record([
            "room",
            &r.legacy_guid,
            &r.legacy_path,
            "",
            "",
            "",
            &n,
            "",
            "",
            "exported",
            "",
        ])?;
    }
    for r in &m.rooms_not_migrated {
        let n = r.messages.to_string();
        let row = ["room_not_migrated", &r.legacy_guid, &r.legacy_path, "", "", "", &n, "", ""];
        w.write_record(row.into_iter().chain([r.disposition.as_str(), &r.reason]))?;
    }
    let paths: BTreeMap<&str, &str> =
        m.rooms.iter().map(|r| (r.legacy_guid.as_str(), r.legacy_path.as_str())).collect();
    each_left_out(spool, |l| {
        let path = paths.get(l.room_guid.as_str()).copied().unwrap_or("");
        let id = l.chat_id.to_string();
        let row =
            ["message", &l.room_guid, path, "", "", &id, "1", "", "", &l.disposition, &l.reason];
        w.write_record(row)?;
        Ok(())
    })?;
    w.flush()?;
    Ok(())
}

/// `manifest.json`: the manifest with its `left_out` array streamed from the spool.
fn write_json(out: &mut dyn Write, m: &Manifest, spool: &Path) -> Result<()> {
    let head = serde_json::to_string_pretty(m)?;
    let head = head.trim_end().strip_suffix('}').context("a manifest is a JSON object")?;
    out.write_all(head.trim_end().as_bytes())?;
    out.write_all(b",\n  \"left_out\": [")?;
    let mut first = true;
    each_left_out(spool, |l| {
        out.write_all(if first { b"\n    " } else { b",\n    " })?;
        first = false;
        serde_json::to_writer(&mut *out, &l)?;
        Ok(())
    })?;
    out.write_all(if first { b"]\n}\n" } else { b"\n  ]\n}\n" })?;
    Ok(())
}

/// Writes `dir/name` through a temporary file renamed into place.
pub fn atomic(dir: &Path, name: &str, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let file = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    let mut w = BufWriter::new(file);
    f(&mut w).with_context(|| format!("while writing {}", tmp.display()))?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, dir.join(name))
        .with_context(|| format!("cannot rename {} to {name}", tmp.display()))?;
    Ok(())
}
