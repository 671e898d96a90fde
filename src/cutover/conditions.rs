//! Whether a wave may be cut over (MAPPING.md §4 "Cutover"), read from the workspace's
//! freeze journal, its manifest and the `loaded`/`verified` records:
//!
//! 1. the wave's legacy rooms are frozen (a freeze of the wave that no `--undo` undid);
//! 2. the last complete extract was taken after that freeze (it started after it, so no
//!    message posted before the freeze can be missing from it) — normally the delta;
//! 3. that extract is loaded into this target for (wave, pool);
//! 4. the last verify of (wave, pool) in this target after that load passed.
//!
//! `--without-freeze` (one window, legacy services stopped) waives 1 and 2, never 3 and 4.
//! The first unmet condition is one line naming it and the command that meets it.

use anyhow::Result;

use super::records::{self, LoadRecord, VerifyRecord};
use crate::staging::Workspace;

/// What a cutover is about to do and where, for the messages.
pub struct Ask<'a> {
    /// The wave.
    pub wave: &'a str,
    /// The pool.
    pub pool: &'a str,
    /// The target (redacted).
    pub target: &'a str,
    /// `--pool P` when the plan has several pools, else empty.
    pub pool_arg: &'a str,
    /// Freeze and delta waived.
    pub without_freeze: bool,
}

/// The records that satisfy the conditions.
#[derive(Debug, Clone)]
pub struct Met {
    /// The load of the current extract.
    pub load: LoadRecord,
    /// The verify that passed after it.
    pub verify: VerifyRecord,
}

/// Checks the conditions; `Ok(Err(line))` names the first unmet one.
pub async fn check(ws: &Workspace, a: &Ask<'_>) -> Result<Result<Met, String>> {
    let (wave, target, pool_arg) = (a.wave, a.target, a.pool_arg);
    let source = ws.meta("source").await?.unwrap_or_else(|| "URL".into());
    let manifest = ws.manifest().await?.unwrap_or_default();
    if !a.without_freeze {
        let Some(frozen) = crate::freeze::frozen_since(ws, wave).await? else {
            return Ok(Err(format!(
                "wave {wave} is not frozen in legacy (no freeze of it that was not undone): run \
                 `gcmigrate freeze --wave {wave} --source {source}`, then extract the delta, plan, \
                 load and verify (or pass --without-freeze when the legacy services are stopped)"
            )));
        };
        let started = records::time(&manifest.started_at, "manifest")?;
        if started < frozen {
            return Ok(Err(format!(
                "the last extract ({} run {}, started {}) was taken before the freeze of wave \
                 {wave} ({}): run `gcmigrate extract --delta --source {source}`, `gcmigrate plan`, \
                 then load and verify the wave",
                manifest.kind,
                manifest.run_id,
                manifest.started_at,
                frozen.to_rfc3339()
            )));
        }
    }
    let loads = records::loads(ws, wave, a.pool, target).await?;
    let last = loads.last().filter(|l| l.extract_run == manifest.run_id);
    let Some(load) = last else {
        return Ok(Err(format!(
            "the last extract ({} run {}) is not loaded into {target} for wave {wave}: run \
             `gcmigrate load --wave {wave}{pool_arg} --target {target}`, then verify",
            manifest.kind, manifest.run_id
        )));
    };
    let loaded_at = records::time(&load.finished_at, "load")?;
    let mut after = Vec::new();
    for v in records::verifies(ws, wave, a.pool, target).await? {
        if records::time(&v.finished_at, "verify")? >= loaded_at {
            after.push(v);
        }
    }
    let redo = format!("`gcmigrate verify --wave {wave}{pool_arg} --target {target}`");
    match after.pop() {
        None => Ok(Err(format!(
            "no verify of wave {wave} in {target} after its last load ({}): run {redo}",
            load.finished_at
        ))),
        Some(v) if !v.ok => Ok(Err(format!(
            "the last verify of wave {wave} in {target} ({}) failed: fix what its report names, \
             load again if needed and rerun {redo}",
            v.finished_at
        ))),
        Some(verify) => Ok(Ok(Met { load: load.clone(), verify })),
    }
}
