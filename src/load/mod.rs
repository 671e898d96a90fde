//! Loading a wave of the plan into a Persistent Chat `mgc` database: configuration first
//! (one transaction), then history in chunks, each chunk committed with its ledger row.
//!
//! The ledger (`gcmigrate_ledger` in the target) is what makes reruns exact: a chunk and
//! its ledger row commit together or not at all, and a rerun starts each room after the
//! last chunk its ledger holds.

pub mod config;
mod history;

use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, DbUrl, OpenMode};
use crate::error::bad_input;
use crate::model::Snapshot;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::schema::{self, SchemaKind};
use crate::staging::Workspace;

pub use config::IdMap;

/// The ledger table kept in the target.
const LEDGER_DDL: &str = "CREATE TABLE IF NOT EXISTS gcmigrate_ledger (\
    run_id VARCHAR(64) NOT NULL, wave VARCHAR(256) NOT NULL, kind VARCHAR(16) NOT NULL, \
    room_id BIGINT, first_chat BIGINT, last_chat BIGINT, rows_written BIGINT NOT NULL, \
    body TEXT, written_at VARCHAR(40) NOT NULL)";

/// Options of one load run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The wave to load (`None`: every wave).
    pub wave: Option<String>,
    /// Parallel history writers.
    pub jobs: usize,
    /// Create the mgc schema when the target has none.
    pub create_schema: bool,
    /// Messages per chunk (one target transaction each).
    pub chunk: usize,
}

/// What a load run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadReport {
    /// Run id.
    pub run_id: String,
    /// Wave.
    pub wave: String,
    /// Target (redacted).
    pub target: String,
    /// Whether the configuration was written by this run (false when resumed).
    pub config_written: bool,
    /// Rows inserted per table by the configuration phase.
    pub config_rows: std::collections::BTreeMap<String, u64>,
    /// History counts of this run.
    pub history: history::HistoryStats,
    /// Seconds spent in the configuration phase.
    pub config_seconds: f64,
    /// Seconds spent loading history.
    pub history_seconds: f64,
}

/// Loads a wave (or all) into `target`.
pub async fn load(ws: &Workspace, plan: &Plan, snap: &Snapshot, target: &DbUrl, opts: &LoadOptions, progress: &Progress) -> Result<LoadReport> {
    if plan.has_errors() {
        return Err(bad_input("the plan has blocking findings (severity error): fix them and rerun `gcmigrate plan` first"));
    }
    let wave_name = opts.wave.clone().unwrap_or_else(|| "all".into());
    if let Some(w) = &opts.wave {
        if !plan.waves.iter().any(|x| &x.name == w) {
            let names: Vec<&str> = plan.waves.iter().map(|w| w.name.as_str()).collect();
            return Err(bad_input(format!("no wave `{w}` in the plan (waves: {})", names.join(", "))));
        }
    }
    let mode = if opts.create_schema { OpenMode::Create } else { OpenMode::Existing };
    let db = Db::connect(target, mode, opts.jobs.max(1) as u32 + 1).await?;
    if opts.create_schema && !db.has_columns("tblNode", "nodeID").await {
        schema::create(&db, SchemaKind::Mgc2013).await?;
    }
    config::check_schema(&db).await?;
    sqlx::query(LEDGER_DDL).execute(&db.pool).await.context("creating gcmigrate_ledger in the target")?;
    let run_id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), std::process::id());
    let mut report = LoadReport { run_id: run_id.clone(), wave: wave_name.clone(), target: target.to_string(), ..LoadReport::default() };

    // Configuration, once per wave: reuse the ledger's map when it is there.
    let t0 = Instant::now();
    let rooms: Vec<_> = plan.rooms_in(opts.wave.as_deref()).collect();
    let mut known = IdMap::default();
    let mut this_wave = None;
    for r in sqlx::query("SELECT wave, body FROM gcmigrate_ledger WHERE kind = 'config' ORDER BY written_at")
        .fetch_all(&db.pool).await?
    {
        let m: IdMap = serde_json::from_str(&r.try_get::<String, _>(1)?).context("unreadable ledger row")?;
        if r.try_get::<String, _>(0)? == wave_name {
            this_wave = Some(m.clone());
        }
        known.principals.extend(m.principals);
        known.categories.extend(m.categories);
        known.rooms.extend(m.rooms);
    }
    let map = match this_wave {
        Some(m) => m,
        None => {
            let mut tx = db.pool.begin().await?;
            let map = config::write(&mut tx, db.dialect, plan, snap, &rooms, &known).await?;
            sqlx::query("INSERT INTO gcmigrate_ledger (run_id, wave, kind, rows_written, body, written_at) VALUES ($1, $2, 'config', $3, $4, $5)")
                .bind(&run_id).bind(&wave_name).bind(map.inserted.nodes.len() as i64)
                .bind(serde_json::to_string(&map)?).bind(chrono::Utc::now().to_rfc3339())
                .execute(&mut *tx).await?;
            tx.commit().await.context("committing the configuration")?;
            ws.journal(&run_id, &wave_name, "config", &serde_json::to_string(&map.inserted)?).await?;
            report.config_written = true;
            let ins = &map.inserted;
            for (t, n) in [("tblPrincipal", ins.principals.len()), ("tblPrincipalAffiliations", ins.affiliations.len()),
                ("tblSiopWhiteList", ins.addins.len()), ("tblNode", ins.nodes.len()), ("tblScopePrincipal", ins.scopes.len()),
                ("tblPrincipalRole", ins.roles.len()), ("tblPrincipalInvites", ins.invites.len())] {
                report.config_rows.insert(t.into(), n as u64);
            }
            map
        }
    };
    report.config_seconds = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    report.history = history::load(ws, &db, plan, snap, &rooms, &map, &run_id, &wave_name, opts, progress).await?;
    report.history_seconds = t1.elapsed().as_secs_f64();
    ws.export_rejects("load").await?;
    db.pool.close().await;
    Ok(report)
}
