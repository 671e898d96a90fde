//! The compliance export (issue 21): a wave's migrated history written in the XML of the
//! Persistent Chat compliance service's XML adapter, for archives that must also see the
//! messages a migration wrote straight into `mgc` around that service.
//!
//! The format is Microsoft's, as published in "Customizing the XSLT definition file in
//! Lync Server 2013" ([`manifest::REFERENCE`]; the same text for Lync 2010 Group Chat):
//! `<Conversations>` of `<Conversation>`s, each a `<Channel uri name>`, a `<FirstMessage>`,
//! `<Messages>` of `<Message type content id>` with a `<Sender UserName id email internal
//! uri>` and a `<DateTimeUTC since1970 string long>`, then `<StartTimeUTC>` and
//! `<EndTimeUTC>`. Times: `long` is .NET ticks, `since1970` milliseconds since the Unix
//! epoch, `string` ISO 8601 UTC with 100 ns precision. [`xml`] writes it.
//!
//! Where the documentation is silent, decided here:
//! - One file per room (the adapter's `OneChatRoomPerOutputFile`), or per room and UTC
//!   day or month (`--slice`), each holding one `<Conversation>`; no file for a room or
//!   slice without messages. Messages in time order (`chatDate`, then `chatId`).
//! - `type` is always `CHAT` (a migration has no joins, parts or file events); `id` is the
//!   `chatId`, which the load keeps; `content` the text as staged. `isAlert` has no place
//!   in the format: alerts are exported as `CHAT` too.
//! - `Channel uri` is `ma-chan://<domain>/<nodeGuid>` (the GUID the load keeps; `--domain`,
//!   else the users' most common SIP domain), `name` the target room name.
//! - `Sender id` is the legacy `prinID` (the export reads the workspace only), `uri` the
//!   target SIP address (after principals.csv) without `sip:` as in Microsoft's example,
//!   `UserName` the display name (else that address), `internal` false for federated users.
//! - `string` always has seven fraction digits (.NET's round-trip form); Microsoft's own
//!   example once drops a trailing zero (`…40.522264Z`), which denotes the same instant.
//!
//! Which messages: exactly the ones the load writes, by the load's own rules
//! ([`Classifier`]) over the staged history of the wave's rooms, so the per-room counts
//! equal verify's `expected` (and its `loaded` after a passing verify). The others are
//! listed in the manifest with the load's disposition and reason ([`manifest`]).
//!
//! Reruns: files are written under temporary names and renamed; the manifest is removed
//! first and written last; the output depends only on the workspace, so a killed export
//! rerun writes byte-identical files. An `--out` directory holding anything else, or
//! another wave's export, or in use by another export (its `gcmigrate.lock`), is refused.

pub mod manifest;
pub mod sink;
pub mod xml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::bad_input;
use crate::model::Snapshot;
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::{Plan, PlanRoom};
use crate::progress::Progress;
use crate::staging::lock::WorkspaceLock;
use crate::staging::Workspace;
use manifest::{LeftOut, Manifest, RoomEntry, RoomNotMigrated, Spool, Totals};
use sink::RoomSink;
use xml::Sender;

/// How a room's messages are cut into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Slice {
    /// One file per room.
    None,
    /// One file per room and UTC day.
    Day,
    /// One file per room and UTC month.
    Month,
}

impl Slice {
    fn as_str(self) -> &'static str {
        match self {
            Slice::None => "none",
            Slice::Day => "day",
            Slice::Month => "month",
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The wave.
    pub wave: String,
    /// The pool (`None`: the plan's only pool).
    pub pool: Option<String>,
    /// The export directory.
    pub out: PathBuf,
    /// How rooms are cut into files.
    pub slice: Slice,
    /// The `ma-chan://` domain (`None`: the users' most common SIP domain).
    pub domain: Option<String>,
}

/// `--domain`'s parser: a DNS name (letters, digits, dots and hyphens).
pub fn parse_domain(d: &str) -> Result<String, String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    if d.is_empty() || !d.chars().all(ok) || d.starts_with(['.', '-']) {
        return Err(format!("`{d}` is not a domain name like contoso.com"));
    }
    Ok(d.to_ascii_lowercase())
}

/// The marker naming the export a directory holds: `<wave>@<pool>`.
const MARKER: &str = ".gcmigrate-compliance";

/// Exports one wave; returns the manifest (without its left-out list).
pub async fn export(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    opts: &Options,
    progress: &Progress,
) -> Result<Manifest> {
    let pool = crate::plan::select::choose_pool(plan, opts.pool.as_deref(), "compliance")?;
    let wave = &opts.wave;
    if !plan.waves.iter().any(|w| &w.name == wave) {
        let names: Vec<&str> = plan.waves.iter().map(|w| w.name.as_str()).collect();
        return Err(bad_input(format!(
            "no wave `{wave}` in the plan (waves: {})",
            names.join(", ")
        )));
    }
    let mut rooms: Vec<&PlanRoom> = plan.rooms_of(Some(wave), &pool).collect();
    if rooms.is_empty() && plan.rooms_in(Some(wave)).next().is_some() {
        return Err(bad_input(format!(
            "wave `{wave}` has no rooms in pool `{pool}` (waves of that pool: {}); export it with \
             the --pool its rooms belong to",
            plan.waves_of(&pool).join(", ")
        )));
    }
    rooms.sort_by_key(|r| r.legacy_id);
    let domain = match &opts.domain {
        Some(d) => d.clone(),
        None => crate::cutover::endpoint::lookup_address(plan, None)
            .trim_start_matches("sip:ocschat@")
            .to_string(),
    };
    let _lock = prepare_dir(&opts.out, &format!("{wave}@{pool}"), progress)?;

    let since = plan.options.since.as_deref();
    let classifier = Classifier::new(&plan.rooms, &plan.excluded_rooms, snap, since);
    let senders = senders(plan, snap);
    let mut spool = Spool::create(opts.out.join(".left-out.csv.tmp"))?;
    let bar = progress.bar("compliance", rooms.iter().map(|r| r.message_count).sum());
    let mut m = Manifest {
        format: "Lync Server 2013 Persistent Chat compliance XML (XmlAdapter output)".into(),
        reference: manifest::REFERENCE.into(),
        wave: wave.clone(),
        pool: pool.clone(),
        slice: opts.slice.as_str().into(),
        channel_domain: domain.clone(),
        totals: Totals::default(),
        files: Vec::new(),
        rooms: Vec::new(),
        rooms_not_migrated: not_migrated(plan),
        left_out: Vec::new(),
    };
    for room in rooms {
        let channel_uri = format!("ma-chan://{domain}/{}", room.legacy_guid);
        let mut entry = RoomEntry {
            legacy_id: room.legacy_id,
            legacy_guid: room.legacy_guid.clone(),
            legacy_path: room.legacy_path.clone(),
            target_name: room.target_name.clone(),
            channel_uri: channel_uri.clone(),
            ..RoomEntry::default()
        };
        let mut sink = RoomSink::new(
            &opts.out,
            opts.slice,
            room.legacy_id,
            &room.legacy_guid,
            &room.legacy_path,
            &channel_uri,
            &room.target_name,
        );
        let mut pending = 0u64;
        crate::db::lite::blocking(|| {
            ws.for_each_chat_by_date(room.legacy_id, |c| {
                entry.read += 1;
                pending += 1;
                if pending == 1024 {
                    bar.inc(std::mem::take(&mut pending));
                }
                let (disposition, reason) =
                    match classifier.classify(c.channel_id, c.user_id, c.chat_date) {
                        Disposition::Load => {
                            let sender = senders.get(&c.user_id).with_context(|| {
                                format!(
                                    "author {} of chatId {} is not in the snapshot",
                                    c.user_id, c.chat_id
                                )
                            })?;
                            let content = String::from_utf8_lossy(c.content);
                            let msg = xml::Message {
                                id: c.chat_id,
                                content: &content,
                                sender,
                                ticks: c.chat_date,
                            };
                            sink.message(&msg).with_context(|| {
                                format!(
                                    "while exporting chatId {} of {}",
                                    c.chat_id, room.legacy_path
                                )
                            })?;
                            entry.exported += 1;
                            return Ok(());
                        }
                        Disposition::Excluded(r) => ("excluded", r),
                        Disposition::Rejected(r) => ("rejected", r),
                    };
                let counts = if disposition == "excluded" {
                    &mut entry.excluded
                } else {
                    &mut entry.rejected
                };
                *counts.entry(reason.to_string()).or_default() += 1;
                spool.push(&LeftOut {
                    room_guid: room.legacy_guid.clone(),
                    chat_id: c.chat_id,
                    chat_date: c.chat_date,
                    user_id: c.user_id,
                    disposition: disposition.into(),
                    reason: reason.into(),
                })
            })?;
            sink.close()
        })?;
        bar.inc(pending);
        entry.files = sink.done.len() as u64;
        add_room(&mut m.totals, &entry);
        m.files.append(&mut sink.done);
        m.rooms.push(entry);
    }
    bar.finish();
    m.totals.files = m.files.len() as u64;
    remove_stale(&opts.out, &m)?;
    spool.write_manifests(&opts.out, &m)?;
    Ok(m)
}

/// Adds a room's counts to the totals.
fn add_room(t: &mut Totals, r: &RoomEntry) {
    t.read += r.read;
    t.exported += r.exported;
    for (k, v) in &r.excluded {
        *t.excluded.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &r.rejected {
        *t.rejected.entry(k.clone()).or_default() += v;
    }
}

/// The `<Sender>` of every principal of the snapshot, by legacy id: the plan's target
/// address and name where the plan has the principal, else the snapshot's.
fn senders(plan: &Plan, snap: &Snapshot) -> HashMap<i64, Sender> {
    let planned: HashMap<i64, &crate::plan::PlanPrincipal> =
        plan.principals.iter().map(|p| (p.legacy_id, p)).collect();
    snap.principals
        .values()
        .map(|p| {
            let pp = planned.get(&p.id);
            let uri = pp.map_or(p.uri.as_str(), |x| x.uri.as_str());
            let uri = uri.strip_prefix("sip:").unwrap_or(uri).to_string();
            let name = pp.and_then(|x| x.display_name.clone()).or_else(|| p.name.clone());
            let federated = snap.principal_types.get(&p.type_id).is_some_and(|t| t.is_federated);
            let sender = Sender {
                user_name: name.filter(|n| !n.is_empty()).unwrap_or_else(|| uri.clone()),
                id: p.id,
                email: p.email.clone().filter(|e| !e.is_empty()),
                internal: !federated,
                uri,
            };
            (p.id, sender)
        })
        .collect()
}

/// The plan's rooms no wave migrates.
fn not_migrated(plan: &Plan) -> Vec<RoomNotMigrated> {
    let mut out: Vec<RoomNotMigrated> = plan
        .excluded_rooms
        .iter()
        .map(|e| RoomNotMigrated {
            legacy_guid: e.legacy_guid.clone(),
            legacy_path: e.legacy_path.clone(),
            disposition: e.disposition.clone(),
            reason: e.rule.clone(),
            messages: e.message_count,
        })
        .collect();
    out.sort_by(|a, b| (&a.legacy_path, &a.legacy_guid).cmp(&(&b.legacy_path, &b.legacy_guid)));
    out
}

/// Makes `dir` ready for the export `label`: created when missing and locked against a
/// concurrent export (the workspace lock file, in `dir`; a killed export's lock is taken
/// over); refused when it holds files this export does not write or another wave's export;
/// the manifest and any temporary file of a killed run removed (the manifest comes back
/// last). The lock is held until the returned value is dropped.
fn prepare_dir(dir: &Path, label: &str, progress: &Progress) -> Result<WorkspaceLock> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let lock = WorkspaceLock::acquire(dir, &format!("gcmigrate compliance ({label})"))?;
    if let Some(note) = &lock.took_over {
        progress.note(&format!("compliance: note: {note}"));
    }
    let marker = dir.join(MARKER);
    match std::fs::read_to_string(&marker) {
        Ok(held) if held.trim() != label => {
            return Err(bad_input(format!(
                "{} holds the compliance export of {}: export {label} into another --out directory",
                dir.display(),
                held.trim()
            )))
        }
        Ok(_) => {}
        Err(_) => {
            let theirs: Vec<String> = entries(dir)?
                .into_iter()
                .filter(|n| !sink::is_ours(n) && n != crate::staging::lock::FILE)
                .collect();
            if let Some(first) = theirs.first() {
                return Err(bad_input(format!(
                    "{} is not empty (it holds {first}{}): give --out a new or empty directory",
                    dir.display(),
                    if theirs.len() > 1 {
                        format!(" and {} more", theirs.len() - 1)
                    } else {
                        String::new()
                    }
                )));
            }
            std::fs::write(&marker, format!("{label}\n"))?;
        }
    }
    for name in entries(dir)? {
        if name.starts_with("manifest.") || (name.starts_with('.') && name.ends_with(".tmp")) {
            std::fs::remove_file(dir.join(&name))?;
        }
    }
    Ok(lock)
}

/// Removes the XML files of an earlier export of this wave (another `--slice`, a room
/// since left out) that this one did not write.
fn remove_stale(dir: &Path, m: &Manifest) -> Result<()> {
    let written: std::collections::BTreeSet<&str> =
        m.files.iter().map(|f| f.file.as_str()).collect();
    for name in entries(dir)? {
        if name.ends_with(".xml") && sink::is_ours(&name) && !written.contains(name.as_str()) {
            std::fs::remove_file(dir.join(&name))?;
        }
    }
    Ok(())
}

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        out.push(e?.file_name().to_string_lossy().into_owned());
    }
    out.sort();
    Ok(out)
}
