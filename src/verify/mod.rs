//! Verification of a loaded wave: that nothing was lost and nobody gained access.
//!
//! Three independent checks, all on the target as it is now (read back, never from the
//! plan) against the staged snapshot:
//! - `history.rs`: per-room counts and an order-sensitive checksum of the messages, with the
//!   first differing `chatId`;
//! - `access.rs`: effective read/post/manage rights before (MAPPING.md §2; §3 for a
//!   Persistent Chat source, `mgc_source.rs`) and after (§3), every difference explained
//!   by a mapping rule or blocking;
//! - `invariants.rs`: rules Persistent Chat relies on (lists within scope, unique names, …).
//!
//! `target.rs` reads the target model the last two share. Every check is written once,
//! over [`TargetDb`]'s primitives, for every engine.

pub mod access;
pub mod files;
pub mod history;
pub mod invariants;
pub mod last_invite;
pub mod mgc_source;
pub mod planned;
pub mod scope;
pub mod source;
pub mod staged;
pub mod target;
pub mod window;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::db::{DbUrl, OpenMode, TargetDb};
use crate::model::Snapshot;
use crate::plan::Plan;
use crate::staging::Workspace;

pub use access::{AccessChange, AccessReport, Right};
pub use invariants::Invariant;

/// Verification of one room's history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoomCheck {
    /// Legacy GUID.
    pub legacy_guid: String,
    /// Legacy path.
    pub legacy_path: String,
    /// Target `nodeID` (None when the room is missing in the target).
    pub target_id: Option<i64>,
    /// Target room name, as the target holds it now.
    #[serde(default)]
    pub target_name: Option<String>,
    /// Target category name, as the target holds it now.
    #[serde(default)]
    pub category: Option<String>,
    /// Staged rows.
    pub read: u64,
    /// Rows the rules load (expected in the target).
    pub expected: u64,
    /// Rows found in the target.
    pub loaded: u64,
    /// Rows excluded by rule.
    pub excluded: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// First and last `chatDate` of the expected rows (ISO).
    pub first_date: Option<String>,
    /// Last `chatDate`.
    pub last_date: Option<String>,
    /// Checksums agree (and counts do).
    pub checksum_match: bool,
    /// The first differing message, when they disagree.
    pub first_mismatch: Option<Mismatch>,
    /// What the history pass saw of the room's target rows, for the invariants.
    #[serde(skip)]
    pub(crate) facts: Option<invariants::RoomFacts>,
    /// The highest staged `chatId` the check covered (0: none): the next incremental
    /// verify's cut (`window.rs`).
    #[serde(skip)]
    pub(crate) cut: i64,
}

/// Where two histories first differ.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mismatch {
    /// The `chatId`.
    pub chat_id: i64,
    /// What differs: `missing in target`, `extra in target`, `content`, `chatDate, author or isAlert`.
    pub what: String,
}

/// The verification result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Everything reconciles: histories match, no blocking access change, every invariant holds.
    pub ok: bool,
    /// Wave (`all`: every wave).
    pub wave: String,
    /// The pool verified (a target database is one pool).
    #[serde(default)]
    pub pool: String,
    /// What the report's file names say: the wave (or `all`), then `@<pool>` when the plan
    /// has several pools (`plan::scope::label`).
    #[serde(default)]
    pub label: String,
    /// Target (redacted).
    pub target: String,
    /// Per room.
    pub rooms: Vec<RoomCheck>,
    /// Totals: read = loaded + excluded + rejected.
    pub totals: BTreeMap<String, u64>,
    /// Access gained and lost.
    #[serde(default)]
    pub access: AccessReport,
    /// Target invariants.
    #[serde(default)]
    pub invariants: Vec<Invariant>,
    /// Waves not cut over yet (staged): their rooms were judged by their planned state,
    /// access as it will be once the cutover enables them.
    #[serde(default)]
    pub staged: Vec<String>,
    /// How the history was read: full, or incremental from the last passing verify, and
    /// what the cheap check proved (`window.rs`).
    #[serde(default)]
    pub history: window::HistoryMode,
    /// What this verify proved, for the next one to extend (journaled when it passes).
    #[serde(skip)]
    pub baseline: Option<window::Baseline>,
}

/// Wall-clock time of each check, for the progress line (kept out of the report so that
/// the same target gives the same report).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Counts and checksums.
    pub history: Duration,
    /// Reading the target model and comparing access.
    pub access: Duration,
    /// Invariants.
    pub invariants: Duration,
}

/// Verifies a wave (or all) of a pool (`None`: the plan's only pool) against `target`.
pub async fn verify(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    target: &DbUrl,
    wave: Option<&str>,
    pool: Option<&str>,
) -> Result<VerifyReport> {
    verify_timed(ws, plan, snap, target, wave, pool, false).await.map(|(r, _)| r)
}

/// [`verify`], also returning how long each check took; `full` re-reads every message
/// even when an earlier passing verify would let this one read only the delta.
pub async fn verify_timed(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    target: &DbUrl,
    wave: Option<&str>,
    pool: Option<&str>,
    full: bool,
) -> Result<(VerifyReport, Timings)> {
    // One pool: only its rooms (and their categories) are checked, against its ledger rows.
    crate::plan::scope::check_wave_names(plan)?;
    let pool = crate::plan::select::choose_pool(plan, pool, "verify")?;
    let label = crate::plan::scope::label(wave, &pool, plan.pools().len() > 1);
    let scoped = plan.of_pool(&pool);
    let plan = &scoped;
    scope::require_rooms(plan, wave)?;
    let db = TargetDb::open(target, OpenMode::Existing, 4).await?;
    let mine = crate::load::ledger::Mine::of(ws, snap).await?;
    let map = crate::load::pool_guard::required_id_map(&db, &mine, &pool).await?;
    let mut t = Timings::default();
    let clock = Instant::now();
    let mut report = VerifyReport {
        wave: wave.unwrap_or(crate::mapping::wave_name::EVERY_WAVE).into(),
        pool,
        label,
        target: target.to_string(),
        ..Default::default()
    };
    let phase = crate::timings::phase("verify: history");
    let key = (report.label.as_str(), report.pool.as_str(), report.target.as_str());
    let base = window::usable(ws, plan, snap, key, full).await?;
    let (rooms, mut mode) =
        history::check(ws, plan, snap, &db, &map, wave, base.as_ref().ok()).await?;
    mode.why_full = base.as_ref().err().cloned();
    report.rooms = rooms;
    report.history = mode;
    ws.close_history_readers();
    drop(phase);
    t.history = clock.elapsed();

    let clock = Instant::now();
    let rooms: BTreeSet<i64> = report.rooms.iter().filter_map(|r| r.target_id).collect();
    let phase = crate::timings::phase("verify: read target config");
    let mut tg = target::Model::read(&db, &rooms).await?;
    report.staged = staged::judge_as_planned(&db, &mine, plan, wave, &map, &mut tg).await?;
    drop(phase);
    let phase = crate::timings::phase("verify: access");
    for r in &mut report.rooms {
        let node = r.target_id.and_then(|id| tg.nodes.get(&id));
        r.target_name = node.map(|n| n.name.clone());
        r.category = node.and_then(|n| tg.nodes.get(&n.parent)).map(|c| c.name.clone());
    }
    // Pure CPU on rayon; it blocks this task briefly, which is fine for a one-shot stage.
    let ids = access::match_principals(snap, &tg, &map);
    // The lookups by GUID and URI have served: their memory goes before the comparison's.
    tg.forget_lookups();
    report.access = access::compare(plan, snap, &tg, ids, &map, wave);
    t.access = clock.elapsed();
    drop(phase);
    let phase = crate::timings::phase("verify: invariants");

    let clock = Instant::now();
    let rooms: Vec<i64> = rooms.iter().copied().collect();
    report.invariants = invariants::check(&db, &tg, &rooms, &report.rooms).await?;
    t.invariants = clock.elapsed();
    drop(phase);
    db.close().await;

    for (k, v) in [
        ("read", report.rooms.iter().map(|r| r.read).sum::<u64>()),
        ("expected", report.rooms.iter().map(|r| r.expected).sum()),
        ("loaded", report.rooms.iter().map(|r| r.loaded).sum()),
        ("excluded", report.rooms.iter().map(|r| r.excluded).sum()),
        ("rejected", report.rooms.iter().map(|r| r.rejected).sum()),
    ] {
        report.totals.insert(k.into(), v);
    }
    // A report over no room at all is never a pass, whatever the caller checked.
    report.ok = !report.rooms.is_empty()
        && report.rooms.iter().all(|r| r.checksum_match)
        && report.access.blocking() == 0
        && report.invariants.iter().all(|i| i.ok);
    if report.ok {
        if let Some(run) = ws.manifest().await?.map(|m| m.run_id) {
            let key = (report.label.as_str(), report.pool.as_str(), report.target.as_str());
            report.baseline = Some(window::baseline(key, run, plan, snap, &report.rooms));
        }
    }
    Ok((report, t))
}

/// Every T-SQL statement verify (and `plan --target`) sends, named, as SQL Server receives
/// it, for the parse tests. The ledger's reads are `load`'s.
#[cfg(feature = "mssql")]
pub fn tsql_statements() -> Vec<(String, String)> {
    use crate::db::mssql::pool::placeholders;
    let mut out = target::Sql::new(crate::db::Dialect::Mssql).named();
    out.extend([
        ("verify: principal URIs", history::URIS.into()),
        ("verify: room history", history::TARGET_CHATS.into()),
        ("plan --target: existing nodes", target::EXISTING_NODES.into()),
        ("verify: channels", crate::db::scan::distinct_sql("tblChat", "channelId")),
        ("verify: channel authors", invariants::CHANNEL_AUTHORS.into()),
        ("verify: tblLastChatId", invariants::LAST_CHAT.into()),
        ("verify: highest invID", last_invite::MAX_INVITES.into()),
        ("verify: tblLastInviteId", crate::load::last_invite::READ.into()),
        ("verify --source: target room up to a watermark", source::TARGET_UPTO.into()),
        ("verify: room up to its cut (incremental)", window::TARGET_UPTO.into()),
        ("verify: room past its cut (incremental)", window::TARGET_AFTER.into()),
    ]);
    out.into_iter().map(|(n, s)| (n.to_string(), placeholders(&s).into_owned())).collect()
}
