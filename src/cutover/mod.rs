//! The cutover of a wave (MAPPING.md §4 "Cutover"): the last step of a staged migration.
//! Until it, the wave's rooms exist in the target disabled (staged); the cutover checks
//! its conditions (`conditions.rs`), then in ONE target transaction gives every room of
//! (wave, pool) its planned `disabled` state and writes the ledger row of kind `cutover`
//! (`load::staged`) that records what it changed — so a room disabled in legacy stays
//! disabled, `verify` judges the rooms as they are, and `rollback` removes the row with
//! the wave. It journals itself in the workspace before the target commits, and writes
//! the wave's policy script (`policy.rs`). It holds the workspace lock and the target
//! lock. A wave already cut over is left alone (exit 0 with a note).

pub mod conditions;
pub mod endpoint;
pub mod grants;
pub mod policy;
pub mod records;
pub mod runbook;
pub mod window_rates;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::db::{Conn, DbUrl, OpenMode, TargetDb, Value};
use crate::error::bad_input;
use crate::load::ledger::{self, Mine, Owner};
use crate::load::staged::{self, CutoverBody};
use crate::model::Snapshot;
use crate::plan::Plan;
use crate::staging::Workspace;

/// Reads the `disabled` state of a target node.
pub const NODE_STATE: &str =
    "SELECT CAST(nodeID AS BIGINT), CAST(disabled AS BIGINT) FROM tblNode WHERE nodeID = $1";
/// Gives a target room its planned state.
pub const SET_STATE: &str = "UPDATE tblNode SET disabled = $1 WHERE nodeID = $2";
/// The cutover's ledger row: [`ledger::row`]'s values without its three room columns,
/// which are NULL as literals (SQL Server refuses an untyped NULL parameter).
pub const LEDGER_ROW: &str = "INSERT INTO gcmigrate_ledger (run_id, wave, kind, room_id, \
    first_chat, last_chat, rows_written, body, written_at, deployment, pool) VALUES \
    ($1, $2, $3, NULL, NULL, NULL, $4, $5, $6, $7, $8)";

/// Options of one cutover.
#[derive(Debug, Clone)]
pub struct CutoverOptions {
    /// The wave.
    pub wave: String,
    /// `--pool` (None: the plan's only pool).
    pub pool: Option<String>,
    /// Waive the freeze and delta conditions (never the verify one).
    pub without_freeze: bool,
    /// Check and report, write nothing.
    pub dry_run: bool,
    /// `--endpoint SIP`: add the legacy-endpoint steps with this lookup address even when
    /// other waves are still to cut over.
    pub endpoint: Option<String>,
}

/// How a cutover ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Cut over now (or, dry, would be).
    Done(CutoverReport),
    /// Already cut over earlier: nothing was written.
    Already {
        /// That cutover's run id.
        run_id: String,
        /// When.
        at: String,
    },
    /// A condition is unmet: nothing was written.
    Refused {
        /// The one line that names it and the command that meets it.
        reason: String,
    },
}

/// What a cutover did.
#[derive(Debug, Clone, Serialize)]
pub struct CutoverReport {
    /// Its run id.
    pub run_id: String,
    /// The wave.
    pub wave: String,
    /// The pool.
    pub pool: String,
    /// The target (redacted).
    pub target: String,
    /// A dry run: nothing was written.
    pub dry_run: bool,
    /// Target `nodeID` → (`disabled` before, after), every room of the wave.
    pub rooms: Vec<(i64, bool, bool)>,
    /// Rooms enabled by it.
    pub enabled: usize,
    /// Rooms left (or made) disabled because the plan has them disabled.
    pub disabled: usize,
    /// The policy script (None when dry).
    pub script: Option<PathBuf>,
    /// Users the script grants the policy to.
    pub users: usize,
}

/// Cuts over (wave, pool) in `target`.
pub async fn cutover(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    target: &DbUrl,
    opts: &CutoverOptions,
    progress: &crate::progress::Progress,
) -> Result<Outcome> {
    let wave = opts.wave.as_str();
    let pool = crate::plan::select::choose_pool(plan, opts.pool.as_deref(), "cutover")?;
    if !plan.waves.iter().any(|w| w.name == wave) {
        let names: Vec<&str> = plan.waves.iter().map(|w| w.name.as_str()).collect();
        return Err(bad_input(format!(
            "no wave `{wave}` in the plan (waves: {}); check --wave",
            names.join(", ")
        )));
    }
    if plan.rooms_of(Some(wave), &pool).next().is_none() {
        return Err(bad_input(format!(
            "wave `{wave}` has no rooms in pool `{pool}`: nothing to cut over"
        )));
    }
    let what = format!("gcmigrate cutover --wave {wave}");
    let _lock = match opts.dry_run {
        false => Some(crate::staging::lock::WorkspaceLock::acquire(ws.dir(), &what)?),
        true => None,
    };
    let note = |n: &str| progress.note(&format!("cutover: note: {n}"));
    if let Some(n) = _lock.as_ref().and_then(|l| l.took_over.as_deref()) {
        note(n);
    }
    let db = TargetDb::open(target, OpenMode::Existing, 2).await?;
    let out = async {
        if opts.dry_run {
            return run(ws, plan, snap, &db, &pool, opts).await;
        }
        crate::load::lock::with_lock(&db, &what, note, run(ws, plan, snap, &db, &pool, opts)).await
    }
    .await;
    db.close().await;
    out
}

/// The cutover proper, once the target is open (and, to write, locked).
async fn run(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    db: &Conn,
    pool: &str,
    opts: &CutoverOptions,
) -> Result<Outcome> {
    let wave = opts.wave.as_str();
    let target = db.url().to_string();
    let mine = Mine::of(ws, snap).await?;
    if let Some(c) = staged::cutover_of(db, &mine, wave, pool).await? {
        return Ok(Outcome::Already { run_id: c.run_id, at: c.at });
    }
    let pool_arg = if plan.pools().len() > 1 { format!(" --pool {pool}") } else { String::new() };
    let ask = conditions::Ask {
        wave,
        pool,
        target: &target,
        pool_arg: &pool_arg,
        without_freeze: opts.without_freeze,
    };
    if let Err(reason) = conditions::check(ws, &ask).await? {
        return Ok(Outcome::Refused { reason });
    }
    let map = ledger::id_map(db, &mine).await?;
    let mut rooms = Vec::new();
    for r in plan.rooms_of(Some(wave), pool) {
        let Some(&id) = map.rooms.get(&r.legacy_id) else {
            return Ok(Outcome::Refused {
                reason: format!(
                    "room {} ({}) of wave {wave} is not in {target}'s ledger: run `gcmigrate load \
                     --wave {wave}{pool_arg} --target {target}`, then verify",
                    r.legacy_path, r.legacy_guid
                ),
            });
        };
        rooms.push((id, r.disabled));
    }
    let state = states(db, &rooms).await?;
    let mut body = CutoverBody::default();
    for &(id, planned) in &rooms {
        let Some(&before) = state.get(&id) else {
            return Ok(Outcome::Refused {
                reason: format!(
                    "target room {id} of wave {wave} is missing from {target}'s tblNode: roll the \
                     wave back and load it again"
                ),
            });
        };
        body.rooms.push((id, before, planned));
    }
    let run_id = format!(
        "cutover-{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
        std::process::id()
    );
    let already = records::granted(ws, None).await?;
    let grants = grants::of_wave(plan, snap, wave, pool, &already);
    let mut report = CutoverReport {
        run_id: run_id.clone(),
        wave: wave.into(),
        pool: pool.into(),
        target: target.clone(),
        dry_run: opts.dry_run,
        enabled: body.rooms.iter().filter(|r| r.1 && !r.2).count(),
        disabled: body.rooms.iter().filter(|r| r.2).count(),
        rooms: body.rooms.clone(),
        script: None,
        users: grants.users.len(),
    };
    if opts.dry_run {
        return Ok(Outcome::Done(report));
    }
    let owner = Owner::of(snap, pool.to_string())?;
    let mut steps: Vec<(String, Vec<Value>)> = body
        .rooms
        .iter()
        .filter(|(_, before, after)| before != after)
        .map(|&(id, _, after)| (SET_STATE.to_string(), vec![after.into(), id.into()]))
        .collect();
    let body_json = Some(serde_json::to_string(&body)?);
    let mut row =
        ledger::row(&run_id, wave, staged::KIND, None, body.rooms.len() as u64, body_json, &owner);
    row.drain(3..6);
    steps.push((LEDGER_ROW.to_string(), row));
    let record = records::CutoverRecord {
        pool: pool.into(),
        target: target.clone(),
        rooms: body.rooms.clone(),
        without_freeze: opts.without_freeze,
        granted: grants.users.clone(),
    };
    // Journaled before the target commits: an entry whose cutover did not commit names a
    // ledger row that does not exist (harmless to a rollback), a commit without one is not.
    db.execute_steps("cutting the wave over", &steps, async |_| {
        ws.journal(&run_id, wave, records::CUTOVER, &serde_json::to_string(&record)?).await
    })
    .await?;
    let path = ws.scripts_dir().join(policy::file_name(plan, wave, pool));
    std::fs::create_dir_all(ws.scripts_dir()).ok();
    // The deployment's last cutover (or --endpoint) moves the legacy lookup address.
    let done = records::cut_over(ws).await?;
    let last = plan
        .wave_pools()
        .into_iter()
        .all(|(w, p)| (w, p) == (wave, pool) || done.contains(&(w.to_string(), p.to_string())));
    let address = (last || opts.endpoint.is_some())
        .then(|| endpoint::lookup_address(plan, opts.endpoint.as_deref()));
    let text = policy::render(plan, wave, pool, &grants, address.as_deref());
    std::fs::write(&path, crate::export::for_windows(&text))
        .with_context(|| format!("cannot write {}", path.display()))?;
    report.script = Some(path);
    Ok(Outcome::Done(report))
}

/// The `disabled` state of target nodes, by `nodeID` (missing ones are left out).
async fn states(db: &Conn, rooms: &[(i64, bool)]) -> Result<HashMap<i64, bool>> {
    let mut out = HashMap::new();
    for &(id, _) in rooms {
        let rows = db
            .rows("reading tblNode", NODE_STATE, &[Value::Int(id)], |r| Ok((r.int(0)?, r.int(1)?)))
            .await?;
        for (id, disabled) in rows {
            out.insert(id, disabled != 0);
        }
    }
    Ok(out)
}

/// Every T-SQL statement a cutover sends, named and as SQL Server receives it, for the
/// parse tests.
#[cfg(feature = "mssql")]
pub fn tsql_statements() -> Vec<(String, String)> {
    use crate::db::mssql::pool::{self, placeholders};
    let mut out = vec![
        ("cutover: begin".to_string(), pool::BEGIN.to_string()),
        ("cutover: commit".to_string(), pool::COMMIT.to_string()),
        ("cutover: rollback".to_string(), pool::ROLLBACK.to_string()),
        ("cutover: room state".to_string(), placeholders(NODE_STATE).into_owned()),
        ("cutover: set room state".to_string(), placeholders(SET_STATE).into_owned()),
        ("cutover: ledger row".to_string(), placeholders(LEDGER_ROW).into_owned()),
    ];
    let (table, cols) = (crate::db::batch::LEDGER.name, "kind, deployment, pool");
    out.push(("cutover: probe the ledger".into(), crate::db::mssql::presence_sql(table, cols)));
    out.push((
        "cutover: probe the ledger by select".into(),
        crate::db::mssql::probe_sql(table, cols),
    ));
    for (n, s) in staged::statements().into_iter().chain(crate::load::lock::statements()) {
        out.push((format!("cutover: {n}"), placeholders(s).into_owned()));
    }
    out
}
