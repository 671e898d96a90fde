//! Incremental verify: a wave whose last verify in this target passed re-reads only the
//! history written since, and proves the rest unchanged cheaply.
//!
//! A passing verify journals a [`Baseline`] (kind `verify-baseline`): per room, the highest
//! staged `chatId` it read (the room's cut), the staged and target rows up to the cut and
//! the counts of the report. The next verify of the same wave, pool and target, when every
//! extract since was a delta, the message rules are the same (`since`, the excluded
//! rooms), no rollback was journaled since and no verify of it failed since, checks each
//! room it knows by:
//! - the cheap check: staged rows up to the cut (count: the manifest's rows of the room
//!   less the rows past the cut; highest `chatId`: one seek on `snap_chat`'s key) and
//!   target rows up to the cut (count and highest `chatId`, through `tblChat`'s
//!   (channelId, chatId) index) are what the baseline recorded;
//! - the delta: staged and target rows past the cut, hashed and compared exactly as a full
//!   verify does (naming the first mismatch).
//!
//! A room the cheap check fails, a room the baseline does not know (new, or mapped to
//! another target room) and a room with rejected rows when principals were added since
//! are re-read whole. A message changed in place before the cut is what the incremental
//! mode does not see: `verify --full` re-reads everything, and the runbook schedules one
//! before the freeze.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::history::{Key, Rooms, TargetDigest};
use super::RoomCheck;
use crate::db::Conn;
use crate::model::Snapshot;
use crate::plan::{Plan, PlanRoom};
use crate::staging::Workspace;

/// Journal kind of a passing verify's baseline.
pub const BASELINE: &str = "verify-baseline";

/// Target rows of a room up to a cut: count and highest `chatId`.
pub(super) const TARGET_UPTO: &str =
    "SELECT CAST(COUNT(*) AS BIGINT), CAST(MAX(chatId) AS BIGINT) \
    FROM tblChat WHERE channelId = $1 AND chatId <= $2";
/// A room's messages past a cut, as [`super::history`] reads them.
pub(super) const TARGET_AFTER: &str = "SELECT CAST(chatId AS BIGINT), CAST(chatDate AS BIGINT), \
    CAST(userId AS BIGINT), CAST(isAlert AS BIGINT), content FROM tblChat \
    WHERE channelId = $1 AND chatId > $2 ORDER BY chatId";

/// What a passing verify proved, for the next one to start from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// Report label (wave or `all`, with `@pool` when the plan has several pools).
    pub label: String,
    /// Pool.
    pub pool: String,
    /// Target (redacted).
    pub target: String,
    /// The extract run of the snapshot it verified.
    pub extract_run: i64,
    /// The message rules it classified by ([`rules_fingerprint`]).
    pub rules: String,
    /// The snapshot's principals (legacy `prinID`s): an author removed since would change
    /// the fate of rows already proven.
    pub principals: Vec<i64>,
    /// The rooms that passed.
    pub rooms: Vec<RoomBase>,
}

/// One room as a passing verify left it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoomBase {
    /// Legacy `nodeID`.
    pub legacy_id: i64,
    /// Target `nodeID`.
    pub target_id: i64,
    /// The cut: highest staged `chatId` read (0: none).
    pub cut: i64,
    /// Highest target `chatId` (up to the cut: all of them, the room passed).
    pub target_max: Option<i64>,
    /// Staged rows up to the cut.
    pub read: u64,
    /// Rows expected in the target (= found, the room passed).
    pub expected: u64,
    /// Rows excluded by rule.
    pub excluded: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// First expected `chatDate` (ISO).
    pub first_date: Option<String>,
    /// Last expected `chatDate` (ISO).
    pub last_date: Option<String>,
}

/// How a verify read the history, for the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HistoryMode {
    /// `full` (every message re-read) or `incremental` (only past each room's cut).
    pub mode: String,
    /// Why a full verify ran when it did (`--full`, no earlier pass, a full extract since, …).
    #[serde(default)]
    pub why_full: Option<String>,
    /// The earlier verify an incremental one extends: its extract run.
    #[serde(default)]
    pub since_extract_run: Option<i64>,
    /// Rooms checked incrementally: the cheap check held and only the delta was read.
    pub rooms_incremental: u64,
    /// Rooms re-read whole.
    pub rooms_full: u64,
    /// Rooms the cheap check failed (re-read whole), by legacy path.
    #[serde(default)]
    pub cheap_check_failed: Vec<String>,
    /// Target messages read back.
    pub target_rows_read: u64,
    /// Target messages proven unchanged by count and highest `chatId` alone.
    pub target_rows_by_count: u64,
}

/// Why the history of `rules` differs: the message rules that decide a row's fate besides
/// its room and author, and the file-link rewrite that decides its content.
pub fn rules_fingerprint(plan: &Plan) -> String {
    let mut h = blake3::Hasher::new();
    h.update(plan.options.since.as_deref().unwrap_or("-").as_bytes());
    // The file-link rewrite changes what a loaded message's content must be.
    let files = &plan.options.files;
    for part in [files.filestore_uri.as_deref().unwrap_or("-")]
        .into_iter()
        .chain(files.prefixes.iter().map(String::as_str))
        .chain(files.hosts.iter().map(String::as_str))
    {
        h.update(b"\n");
        h.update(part.as_bytes());
    }
    let mut ex: Vec<_> = plan
        .excluded_rooms
        .iter()
        .map(|e| format!("{}:{}:{}", e.legacy_id, e.disposition, e.rule))
        .collect();
    ex.sort();
    for e in ex {
        h.update(b"\n");
        h.update(e.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// The baseline a verify of (`label`, `pool`, `target`) may extend, or why it may not.
pub async fn usable(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    key: (&str, &str, &str),
    full: bool,
) -> Result<std::result::Result<Baseline, String>> {
    if full {
        return Ok(Err("--full".into()));
    }
    let (label, pool, target) = key;
    let mut last: Option<Baseline> = None;
    let mut why = "no earlier verify of it passed in this target".to_string();
    for e in ws.journal_entries(&[BASELINE, crate::cutover::records::VERIFIED, "rollback"]).await? {
        match e.kind.as_str() {
            BASELINE => {
                let b: Baseline = serde_json::from_str(&e.body)?;
                if (b.label.as_str(), b.pool.as_str(), b.target.as_str()) == key {
                    last = Some(b);
                }
            }
            "rollback" => {
                if last.take().is_some() {
                    why = "a rollback ran since its last passing verify".into();
                }
            }
            _ => {
                let r: crate::cutover::records::VerifyRecord = serde_json::from_str(&e.body)?;
                let wave = label.split('@').next().unwrap_or(label);
                let same =
                    r.wave == wave && r.target == target && r.pools.iter().any(|p| p == pool);
                if same && !r.ok && last.take().is_some() {
                    why = "its last verify failed".into();
                }
            }
        }
    }
    let Some(b) = last else { return Ok(Err(why)) };
    let Some(run) = ws.manifest().await?.map(|m| m.run_id) else {
        return Ok(Err("the workspace has no complete extract".into()));
    };
    if run == b.extract_run {
        // Nothing new was extracted: a verify run again is a sign-off, and reads everything.
        return Ok(Err("no delta was extracted since its last passing verify".into()));
    }
    let kinds = ws.extract_kinds_after(b.extract_run).await?;
    if kinds.iter().any(|(k, _)| !k.starts_with("delta")) || run < b.extract_run {
        return Ok(Err("a full extract ran since its last passing verify".into()));
    }
    if b.rules != rules_fingerprint(plan) {
        return Ok(Err("the plan's message rules changed since its last passing verify".into()));
    }
    if b.principals.iter().any(|p| !snap.principals.contains_key(p)) {
        return Ok(Err("principals left the snapshot since its last passing verify".into()));
    }
    Ok(Ok(b))
}

/// The baseline a passing verify leaves: `checks` are its rooms (all passed).
pub fn baseline(
    key: (&str, &str, &str),
    extract_run: i64,
    plan: &Plan,
    snap: &Snapshot,
    checks: &[RoomCheck],
) -> Baseline {
    let mut principals: Vec<i64> = snap.principals.keys().copied().collect();
    principals.sort_unstable();
    let legacy: HashMap<&str, i64> =
        plan.rooms.iter().map(|r| (r.legacy_guid.as_str(), r.legacy_id)).collect();
    let rooms = checks
        .iter()
        .filter_map(|c| {
            Some(RoomBase {
                legacy_id: *legacy.get(c.legacy_guid.as_str())?,
                target_id: c.target_id?,
                cut: c.cut,
                target_max: c.facts.as_ref().and_then(|f| f.max_chat()),
                read: c.read,
                expected: c.expected,
                excluded: c.excluded,
                rejected: c.rejected,
                first_date: c.first_date.clone(),
                last_date: c.last_date.clone(),
            })
        })
        .collect();
    Baseline {
        label: key.0.into(),
        pool: key.1.into(),
        target: key.2.into(),
        extract_run,
        rules: rules_fingerprint(plan),
        principals,
        rooms,
    }
}

/// The rooms of `list` that `base` vouches for, checked incrementally (`None`: a room to
/// re-read whole), and the mode so far (rooms and rows of the incremental part).
pub(super) async fn incremental(
    db: &Conn,
    rooms: &Rooms<'_>,
    snap: &Snapshot,
    list: &[&PlanRoom],
    base: Option<&Baseline>,
) -> Result<(Vec<Option<RoomCheck>>, HistoryMode)> {
    let mut out: Vec<Option<RoomCheck>> = vec![None; list.len()];
    let Some(b) = base else {
        return Ok((out, HistoryMode { mode: "full".into(), ..Default::default() }));
    };
    let mut mode = HistoryMode {
        mode: "incremental".into(),
        since_extract_run: Some(b.extract_run),
        ..Default::default()
    };
    let had: BTreeSet<i64> = b.principals.iter().copied().collect();
    let added = snap.principals.keys().any(|p| !had.contains(p));
    let by_room: HashMap<i64, &RoomBase> = b.rooms.iter().map(|r| (r.legacy_id, r)).collect();
    let digests = rooms.ws.manifest_rooms().await?;
    // The cheap check, every room in one pass per side; the rooms it clears are then read
    // past their cut together.
    let mut candidates: Vec<(usize, &RoomBase)> = Vec::new();
    for (i, room) in list.iter().enumerate() {
        let Some(rb) = by_room.get(&room.legacy_id) else { continue };
        // Another target room, or an author it rejected may be known now: re-read whole.
        if Some(rb.target_id) != rooms.target_of(room) || (added && rb.rejected > 0) {
            continue;
        }
        candidates.push((i, rb));
    }
    let upto = target_upto(db, &candidates).await?;
    let mut cleared: Vec<(usize, &RoomBase)> = Vec::new();
    for ((i, rb), target) in candidates.into_iter().zip(upto) {
        let room = list[i];
        let staged =
            crate::db::lite::blocking(|| rooms.ws.staged_max_upto(room.legacy_id, rb.cut))?;
        if staged == (rb.read > 0).then_some(rb.cut)
            && target == (rb.expected as i64, rb.target_max)
        {
            cleared.push((i, rb));
        } else {
            mode.cheap_check_failed.push(room.legacy_path.clone());
        }
    }
    // The delta is small: keep its pairs, so a mismatch is named in this one pass.
    let mut target: Vec<TargetDigest> = cleared.iter().map(|_| TargetDigest::new(true)).collect();
    let pairs: Vec<(i64, i64)> = cleared.iter().map(|(_, rb)| (rb.target_id, rb.cut)).collect();
    let uris = &rooms.uris;
    let mut fold = |i: usize, r: &dyn crate::db::scan::ByteCells| {
        let alert = r.int(3)? != 0;
        let k = Key::target(uris, r.int(0)?, r.int(1)?, r.int(2)?, alert, r.bytes(4)?);
        target[i].row(&k);
        Ok(())
    };
    db.each_pair_rows("reading tblChat", TARGET_AFTER, &pairs, &mut fold).await?;
    for ((i, rb), digest) in cleared.into_iter().zip(target) {
        let room = list[i];
        let pass = crate::db::lite::blocking(|| rooms.source_pass(room, true, Some(rb.cut)))?;
        let staged = digests.get(&room.legacy_id).map_or(0, |d| d.rows);
        if staged != rb.read + pass.read() {
            // Staged rows up to the cut came or went: re-read the room whole.
            mode.cheap_check_failed.push(room.legacy_path.clone());
            continue;
        }
        let mut c = pass.finish(digest).context("a collecting pass always finishes")?;
        mode.rooms_incremental += 1;
        mode.target_rows_read += c.loaded;
        mode.target_rows_by_count += rb.expected;
        c.read += rb.read;
        c.expected += rb.expected;
        c.loaded += rb.expected;
        c.excluded += rb.excluded;
        c.rejected += rb.rejected;
        c.first_date = rb.first_date.clone().or(c.first_date);
        c.last_date = c.last_date.or_else(|| rb.last_date.clone());
        c.cut = c.cut.max(rb.cut);
        if let Some(f) = c.facts.as_mut() {
            f.earlier(rb.expected as i64, rb.target_max);
        }
        out[i] = Some(c);
    }
    Ok((out, mode))
}

/// The target side of the cheap check: each room's count and highest `chatId` up to its
/// cut, read through the `(channelId, chatId)` index.
async fn target_upto(db: &Conn, rooms: &[(usize, &RoomBase)]) -> Result<Vec<(i64, Option<i64>)>> {
    let pairs: Vec<(i64, i64)> = rooms.iter().map(|(_, rb)| (rb.target_id, rb.cut)).collect();
    let mut out = vec![(0, None); pairs.len()];
    let mut fold = |i: usize, r: &dyn crate::db::scan::ByteCells| {
        out[i] = (r.int(0)?, r.opt_int(1)?);
        Ok(())
    };
    db.each_pair_rows("reading tblChat", TARGET_UPTO, &pairs, &mut fold).await?;
    Ok(out)
}
