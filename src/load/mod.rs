//! Loading a wave of the plan into a Persistent Chat `mgc` database: configuration first
//! (one transaction), then history in chunks, each chunk committed with its ledger row.
//!
//! The ledger (`gcmigrate_ledger` in the target) is what makes reruns exact: a chunk and
//! its ledger row commit together or not at all, and a rerun starts each room after the
//! last chunk its ledger holds.

pub mod config;
mod configure;
pub mod converge;
mod history;
pub mod last_invite;
pub mod ledger;
pub mod lock;
pub mod pool_guard;
pub mod pool_scope;
pub mod staged;
pub mod target;

use std::time::Instant;

use crate::db::DbUrl;
use crate::error::bad_input;
use crate::model::Snapshot;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::staging::Workspace;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::db::batch::LEDGER;
pub use config::IdMap;
pub use history::HistoryStats;
use target::Writer;

/// Options of one load run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The wave to load (`None`: every wave of the pool, each under its own name).
    pub wave: Option<String>,
    /// The pool (target database) to load (`None`: the plan's only pool).
    pub pool: Option<String>,
    /// Parallel history writers.
    pub jobs: usize,
    /// Create the mgc schema when the target has none.
    pub create_schema: bool,
    /// Messages per chunk (one target transaction each).
    pub chunk: usize,
    /// Record what would be written instead of writing.
    pub dry_run: bool,
}

/// What a load run did (or, dry, would do).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadReport {
    /// Run id.
    pub run_id: String,
    /// Wave.
    pub wave: String,
    /// Pool.
    #[serde(default)]
    pub pool: String,
    /// Target (redacted).
    pub target: String,
    /// A dry run: nothing was written.
    pub dry_run: bool,
    /// Whether the configuration was written by this run (false when already in the ledger).
    pub config_written: bool,
    /// Rows per table written (or, dry, that would be written) by this run.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// History counts of this run.
    pub history: HistoryStats,
    /// The configuration changes this run made (or, dry, would make) to objects the wave
    /// had written before: one line each.
    #[serde(default)]
    pub changes: Vec<String>,
    /// Differences from the plan left as they are (another wave's object, or the
    /// target's own), with why.
    #[serde(default)]
    pub left_alone: Vec<String>,
    /// Seconds spent in the configuration phase.
    pub config_seconds: f64,
    /// Seconds spent loading history.
    pub history_seconds: f64,
}

/// Loads one pool of the plan into `target` (a target database is one pool): the wave
/// asked for, else each wave of the pool under its own name, in plan order (so each can be
/// rolled back alone); one report per wave.
pub async fn load(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    url: &DbUrl,
    opts: &LoadOptions,
    progress: &Progress,
) -> Result<Vec<LoadReport>> {
    if plan.has_errors() {
        return Err(bad_input("the plan has blocking findings (severity error): fix them and rerun `gcmigrate plan` first"));
    }
    crate::plan::scope::check_wave_names(plan)?;
    let pool = crate::plan::select::choose_pool(plan, opts.pool.as_deref(), "load")?;
    let waves = match &opts.wave {
        Some(w) => {
            if !plan.waves.iter().any(|x| &x.name == w) {
                let names: Vec<&str> = plan.waves.iter().map(|w| w.name.as_str()).collect();
                return Err(bad_input(format!(
                    "no wave `{w}` in the plan (waves: {})",
                    names.join(", ")
                )));
            }
            if plan.rooms_of(Some(w), &pool).next().is_none()
                && plan.rooms_in(Some(w)).next().is_some()
            {
                return Err(bad_input(format!(
                    "wave `{w}` has no rooms in pool `{pool}` (waves of that pool: {}); load it \
                     with the --pool and --target of the pool its rooms belong to",
                    plan.waves_of(&pool).join(", ")
                )));
            }
            vec![w.clone()]
        }
        None => plan.waves_of(&pool),
    };
    let mut reports = Vec::new();
    for wave in &waves {
        reports.push(load_wave(ws, plan, snap, url, opts, progress, &pool, wave).await?);
    }
    Ok(reports)
}

/// Loads one wave of one pool into `target`.
#[allow(clippy::too_many_arguments)]
async fn load_wave(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    url: &DbUrl,
    opts: &LoadOptions,
    progress: &Progress,
    pool: &str,
    wave: &str,
) -> Result<LoadReport> {
    let rooms: Vec<_> = plan.rooms_of(Some(wave), pool).collect();
    // Before the target is touched: a snapshot without its deployment is refused.
    let owner = ledger::Owner::of(snap, pool.to_string())?;
    let t = crate::timings::phase("load: open target");
    // One pool: the configuration reads, the writers' resume points and their batches.
    let conns = opts.jobs.max(1) as u32 + 1;
    let reader = target::open(url, opts.dry_run, opts.create_schema, conns).await?;
    drop(t);
    // Another pool of this deployment in the target: refused before anything is written
    // (again under the lock, against a concurrent load).
    if let Some(db) = &reader {
        if let Err(e) = pool_guard::check(db, &owner).await {
            if let Some(db) = reader {
                db.close().await;
            }
            return Err(e);
        }
    }
    let out = match (&reader, opts.dry_run) {
        (Some(db), false) => {
            let what = format!(
                "gcmigrate load --wave {wave} --pool {pool} (workspace {})",
                ws.dir().display()
            );
            let note = |n: &str| progress.note(&format!("load: note: {n}"));
            lock::with_lock(db, &what, note, async {
                pool_guard::check(db, &owner).await?;
                target::prepare(db, opts.create_schema).await?;
                let writer = Writer::Target(db);
                run(ws, plan, snap, url, opts, progress, &reader, &writer, &owner, wave, &rooms)
                    .await
            })
            .await
        }
        _ => {
            let writer = Writer::Recording(Default::default());
            run(ws, plan, snap, url, opts, progress, &reader, &writer, &owner, wave, &rooms).await
        }
    };
    if let Some(db) = reader {
        db.close().await;
    }
    out
}

/// The load proper, once the target is open (and, when writing, locked).
#[allow(clippy::too_many_arguments)]
async fn run(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    url: &DbUrl,
    opts: &LoadOptions,
    progress: &Progress,
    reader: &Option<crate::db::TargetDb>,
    writer: &Writer<'_>,
    owner: &ledger::Owner,
    wave: &str,
    rooms: &[&crate::plan::PlanRoom],
) -> Result<LoadReport> {
    let run_id =
        format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"), std::process::id());
    let mut report = LoadReport {
        run_id: run_id.clone(),
        wave: wave.to_string(),
        pool: owner.pool.clone(),
        target: url.to_string(),
        dry_run: opts.dry_run,
        ..LoadReport::default()
    };

    // Configuration: on a first load every object of the wave; on later loads the new
    // objects and the difference between the plan and what the ledger says the wave wrote
    // (`converge`), after the guard checked the staged rooms. One transaction.
    let t0 = Instant::now();
    let phase = crate::timings::phase("load: configuration");
    let (mut batch, mut map, conv) = match reader {
        Some(db) => {
            configure::existing(ws, plan, snap, db, opts, progress, owner, wave, rooms).await?
        }
        None => {
            let mut st = config::TargetState::empty();
            let needed = pool_scope::principals_needed_with(ws, plan, snap, rooms).await?;
            let (batch, map) =
                config::build(plan, snap, rooms, rooms, Some(&needed), &IdMap::default(), &mut st)?;
            (batch, map, converge::Convergence::default())
        }
    };
    report.changes = conv.changes.clone();
    report.left_alone = conv.left.clone();
    let ins = &map.inserted;
    let any = !ins.principals.is_empty()
        || !ins.addins.is_empty()
        || !ins.nodes.is_empty()
        || !ins.roles.is_empty()
        || !ins.scopes.is_empty()
        || !ins.invites.is_empty()
        || !conv.batch.ops.is_empty();
    if any {
        batch.ops.extend(conv.batch.ops);
        map.inserted.roles.extend(conv.roles_added);
        map.inserted.scopes.extend(conv.scopes_added);
        map.removed = conv.removed;
        let t = crate::timings::phase("load: config ledger row");
        batch.insert(
            &LEDGER,
            ledger::row(
                &run_id,
                wave,
                "config",
                None,
                map.inserted.nodes.len() as u64,
                Some(crate::db::packed_json::pack(&map)?),
                owner,
            ),
        );
        drop(t);
        let t = crate::timings::phase("load: config write");
        writer.apply(&batch).await.context("writing the configuration")?;
        // The rows are written: their memory goes before the journal's copy of the keys.
        drop(batch);
        drop(t);
        let _t = crate::timings::phase("load: config journal");
        if !opts.dry_run {
            ws.journal(&run_id, wave, "config", &crate::db::packed_json::pack(&map.inserted)?)
                .await?;
        }
        report.config_written = true;
    }
    report.config_seconds = t0.elapsed().as_secs_f64();
    drop(phase);
    let phase = crate::timings::phase("load: history");

    let t1 = Instant::now();
    let ctx = history::Ctx {
        ws,
        reader: reader.as_ref(),
        writer,
        plan,
        snap,
        map: &map,
        run_id: &run_id,
        wave,
        owner,
        opts,
    };
    report.history = history::load(&ctx, rooms, progress).await?;
    report.history_seconds = t1.elapsed().as_secs_f64();
    drop(phase);
    let _phase = crate::timings::phase("load: rejects + close");
    report.rows = writer.recorded();
    if !opts.dry_run {
        ws.export_rejects("load").await?;
        let ins = &map.inserted;
        if report.config_written {
            for (t, n) in [
                ("tblPrincipal", ins.principals.len()),
                ("tblPrincipalAffiliations", ins.affiliations.len()),
                ("tblSiopWhiteList", ins.addins.len()),
                ("tblNode", ins.nodes.len()),
                ("tblScopePrincipal", ins.scopes.len()),
                ("tblPrincipalRole", ins.roles.len()),
                ("tblPrincipalInvites", ins.invites.len()),
            ] {
                report.rows.insert(t.into(), n as u64);
            }
        }
        report.rows.insert("tblChat".into(), report.history.loaded);
    }
    report.rows.remove("gcmigrate_ledger");
    Ok(report)
}

/// Every T-SQL statement a load sends to SQL Server, named, for the parse tests: the
/// writer's, and the shared reads with their `$n` placeholders as SQL Server gets them.
#[cfg(feature = "mssql")]
pub fn tsql_statements() -> Vec<(String, String)> {
    use crate::db::{mssql, Dialect};
    let mut out = mssql::writer::all_statements();
    for (n, s) in ledger::statements() {
        out.push((n.to_string(), mssql::pool::placeholders(s).into_owned()));
    }
    out.extend(config::statements(Dialect::Mssql));
    let converging = converge::statements(Dialect::Mssql);
    for (n, s) in converge::read::statements(Dialect::Mssql).into_iter().chain(converging) {
        out.push((n, mssql::pool::placeholders(&s).into_owned()));
    }
    for (n, s) in lock::statements().into_iter().chain(staged::statements()) {
        out.push((n.to_string(), mssql::pool::placeholders(s).into_owned()));
    }
    out.push(("ledger DDL".into(), Dialect::Mssql.create_ledger().into()));
    for (i, s) in
        crate::db::split_statements(Dialect::Mssql.upgrade_ledger()).into_iter().enumerate()
    {
        out.push((format!("ledger upgrade {i}"), s));
    }
    out.push(("lock DDL".into(), Dialect::Mssql.create_lock().into()));
    let probes = [(LEDGER.name, "kind"), (LEDGER.name, "deployment, pool")];
    for (t, c) in config::NEEDED.iter().chain(&probes) {
        out.push((format!("probe {t} ({c})"), mssql::presence_sql(t, c)));
        out.push((format!("probe {t} ({c}) by select"), mssql::probe_sql(t, c)));
    }
    out
}
