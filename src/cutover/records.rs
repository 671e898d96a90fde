//! The workspace journal records the cutover's conditions read (MAPPING.md §4 "Cutover"):
//! each completed load (`loaded`) and each verify (`verified`), with the wave(s), pool(s)
//! and target they concern and when they finished; the cutover itself (`cutover`). The
//! completed extract is not journaled again: the manifest (`staging/manifest.rs`) already
//! records the last complete extract's run, kind and times, which is all a cutover needs.
//!
//! Targets are compared by their redacted URL (what reports print), so a password change
//! between two runs does not make a load "somewhere else".

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::staging::Workspace;

/// Journal kind of a completed load.
pub const LOADED: &str = "loaded";
/// Journal kind of a verify.
pub const VERIFIED: &str = "verified";
/// Journal kind of a cutover.
pub const CUTOVER: &str = "cutover";

/// A completed load, as journaled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadRecord {
    /// The wave name the load ran under (`all`: every wave).
    pub wave: String,
    /// The plan waves whose rooms it loaded.
    pub waves: Vec<String>,
    /// The plan pools of those rooms.
    pub pools: Vec<String>,
    /// The load's run id.
    pub run_id: String,
    /// The extract run (manifest `run_id`) whose snapshot it loaded.
    pub extract_run: i64,
    /// That extract's kind (`full` or `delta`).
    pub extract_kind: String,
    /// When the load finished (RFC 3339).
    pub finished_at: String,
    /// The target (redacted).
    pub target: String,
    /// Messages it loaded (the runbook's measured throughput).
    #[serde(default)]
    pub messages: u64,
    /// Seconds it spent loading them (configuration and history).
    #[serde(default)]
    pub seconds: f64,
}

/// A verify, as journaled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRecord {
    /// The wave name verified (`all`: every wave).
    pub wave: String,
    /// The plan waves whose rooms it checked.
    pub waves: Vec<String>,
    /// The plan pools of those rooms.
    pub pools: Vec<String>,
    /// Whether it passed.
    pub ok: bool,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// The target (redacted).
    pub target: String,
}

/// A cutover, as journaled (the target's ledger row is the authority; this is the
/// workspace's own account of it, which an offline rollback reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoverRecord {
    /// The pool cut over.
    pub pool: String,
    /// The target (redacted).
    pub target: String,
    /// Target `nodeID` → (`disabled` before, after).
    pub rooms: Vec<(i64, bool, bool)>,
    /// The freeze and delta conditions were waived (`--without-freeze`).
    pub without_freeze: bool,
    /// The users (SIP URIs, lowercase) its policy script grants.
    #[serde(default)]
    pub granted: Vec<String>,
}

/// The (wave, pool) pairs the workspace's cutovers journaled.
pub async fn cut_over(ws: &Workspace) -> Result<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    for e in ws.journal_entries(&[CUTOVER]).await? {
        let r: CutoverRecord = serde_json::from_str(&e.body)?;
        out.insert((e.wave, r.pool));
    }
    Ok(out)
}

/// The users the workspace's cutovers so far granted the policy to, leaving out those of
/// `except` (wave, pool): what a runbook of an already cut over wave counts as earlier.
pub async fn granted(ws: &Workspace, except: Option<(&str, &str)>) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for e in ws.journal_entries(&[CUTOVER]).await? {
        let r: CutoverRecord = serde_json::from_str(&e.body)?;
        if except != Some((e.wave.as_str(), r.pool.as_str())) {
            out.extend(r.granted);
        }
    }
    Ok(out)
}

/// The waves and pools of the rooms of `wave` (`None`: every wave) in `pool`.
fn waves_and_pools(plan: &Plan, wave: Option<&str>, pool: &str) -> (Vec<String>, Vec<String>) {
    let waves: BTreeSet<&str> = plan.rooms_of(wave, pool).map(|r| r.wave.as_str()).collect();
    let pools: BTreeSet<&str> = plan.rooms_of(wave, pool).map(|r| r.pool.as_str()).collect();
    let own = |s: BTreeSet<&str>| s.into_iter().map(str::to_string).collect();
    (own(waves), own(pools))
}

/// Journals a completed (not dry) load of one wave of one pool.
pub async fn record_load(
    ws: &Workspace,
    plan: &Plan,
    report: &crate::load::LoadReport,
) -> Result<()> {
    let manifest = ws.manifest().await?.unwrap_or_default();
    let wave = Some(report.wave.as_str());
    let (waves, pools) = waves_and_pools(plan, wave, &report.pool);
    let rec = LoadRecord {
        wave: report.wave.clone(),
        waves,
        pools,
        run_id: report.run_id.clone(),
        extract_run: manifest.run_id,
        extract_kind: manifest.kind,
        finished_at: Utc::now().to_rfc3339(),
        target: report.target.clone(),
        messages: report.history.loaded,
        seconds: report.config_seconds + report.history_seconds,
    };
    ws.journal(&rec.run_id, &rec.wave, LOADED, &serde_json::to_string(&rec)?).await
}

/// Journals a verify of `wave` (`None`: every wave) and whether it passed.
pub async fn record_verify(
    ws: &Workspace,
    plan: &Plan,
    wave: Option<&str>,
    pool: &str,
    ok: bool,
    target: &str,
) -> Result<()> {
    let (waves, pools) = waves_and_pools(plan, wave, pool);
    let rec = VerifyRecord {
        wave: wave.unwrap_or("all").to_string(),
        waves,
        pools,
        ok,
        finished_at: Utc::now().to_rfc3339(),
        target: target.to_string(),
    };
    let run_id =
        format!("verify-{}-{}", Utc::now().format("%Y%m%dT%H%M%S%.3f"), std::process::id());
    ws.journal(&run_id, &rec.wave, VERIFIED, &serde_json::to_string(&rec)?).await
}

/// A journaled time, or the error that names the entry.
pub fn time(at: &str, what: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.to_utc())
        .map_err(|_| anyhow::anyhow!("the journal's {what} entry has an unreadable time {at:?}"))
}

/// The journaled loads into `target` that covered (`wave`, `pool`), oldest first.
pub async fn loads(
    ws: &Workspace,
    wave: &str,
    pool: &str,
    target: &str,
) -> Result<Vec<LoadRecord>> {
    let mut out = loads_of(ws, wave, pool).await?;
    out.retain(|r| r.target == target);
    Ok(out)
}

/// The journaled verifies of `target` that covered (`wave`, `pool`), oldest first.
pub async fn verifies(
    ws: &Workspace,
    wave: &str,
    pool: &str,
    target: &str,
) -> Result<Vec<VerifyRecord>> {
    let mut out = verifies_of(ws, wave, pool).await?;
    out.retain(|r| r.target == target);
    Ok(out)
}

/// The journaled loads of (`wave`, `pool`) into any target, oldest first.
pub async fn loads_of(ws: &Workspace, wave: &str, pool: &str) -> Result<Vec<LoadRecord>> {
    let mut out = Vec::new();
    for e in ws.journal_entries(&[LOADED]).await? {
        let r: LoadRecord = serde_json::from_str(&e.body)?;
        if covers(&r.waves, &r.pools, wave, pool) {
            out.push(r);
        }
    }
    Ok(out)
}

/// The journaled verifies of (`wave`, `pool`) of any target, oldest first.
pub async fn verifies_of(ws: &Workspace, wave: &str, pool: &str) -> Result<Vec<VerifyRecord>> {
    let mut out = Vec::new();
    for e in ws.journal_entries(&[VERIFIED]).await? {
        let r: VerifyRecord = serde_json::from_str(&e.body)?;
        if covers(&r.waves, &r.pools, wave, pool) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Whether a record's waves and pools include (`wave`, `pool`).
fn covers(waves: &[String], pools: &[String], wave: &str, pool: &str) -> bool {
    waves.iter().any(|w| w == wave) && pools.iter().any(|p| p == pool)
}

/// The workspace's journaled cutovers of (`wave`, `pool`), oldest first: run id and record.
pub async fn cutover_runs(
    ws: &Workspace,
    wave: &str,
    pool: &str,
) -> Result<Vec<(String, CutoverRecord)>> {
    let mut out = Vec::new();
    for e in ws.journal_entries(&[CUTOVER]).await? {
        if e.wave != wave {
            continue;
        }
        let r: CutoverRecord = serde_json::from_str(&e.body)?;
        if r.pool == pool {
            out.push((e.run_id, r));
        }
    }
    Ok(out)
}
