//! The history phase: rooms spread over `--jobs` writers, each room read from staging in
//! `chatId` order in chunks; every chunk, its `tblLastChatId` update and its ledger row
//! commit in one target transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{IdMap, LoadOptions};
use crate::db::{values_placeholders, Db};
use crate::model::{Chat, Snapshot};
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::{Plan, PlanRoom};
use crate::progress::Progress;
use crate::staging::Workspace;

/// Rows per multi-row INSERT into `tblChat` (6 binds each; SQLite allows 32,766).
const ROWS_PER_INSERT: usize = 500;

/// History counts of one load run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HistoryStats {
    /// Staged rows processed by this run.
    pub read: u64,
    /// Rows written to `tblChat`.
    pub loaded: u64,
    /// Rows left out by a named rule, by rule.
    pub excluded: BTreeMap<String, u64>,
    /// Rows rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Chunks committed.
    pub chunks: u64,
    /// Rooms skipped entirely because the ledger showed them complete.
    pub rooms_resumed: u64,
}

impl HistoryStats {
    fn merge(&mut self, o: HistoryStats) {
        self.read += o.read;
        self.loaded += o.loaded;
        self.chunks += o.chunks;
        self.rooms_resumed += o.rooms_resumed;
        for (k, v) in o.excluded {
            *self.excluded.entry(k).or_default() += v;
        }
        for (k, v) in o.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
    }
}

/// Loads the history of `rooms`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn load(
    ws: &Workspace,
    db: &Db,
    plan: &Plan,
    snap: &Snapshot,
    rooms: &[&PlanRoom],
    map: &IdMap,
    run_id: &str,
    wave: &str,
    opts: &LoadOptions,
    progress: &Progress,
) -> Result<HistoryStats> {
    let classifier = Arc::new(Classifier::new(&plan.rooms, &plan.excluded_rooms, snap, plan.options.since.as_deref()));
    let total: u64 = rooms.iter().map(|r| r.message_count).sum();
    let bar = progress.bar("history", total);
    let queue: Arc<Mutex<Vec<&PlanRoom>>> = Arc::new(Mutex::new(rooms.iter().rev().copied().collect()));
    let mut stats = HistoryStats::default();
    let workers = (0..opts.jobs.max(1)).map(|_| {
        let (queue, classifier, bar) = (queue.clone(), classifier.clone(), bar.clone());
        async move {
            let mut s = HistoryStats::default();
            loop {
                let Some(room) = queue.lock().await.pop() else { break };
                let target = map.rooms[&room.legacy_id];
                load_room(ws, db, &classifier, room.legacy_id, target, map, run_id, wave, opts.chunk, &mut s, &bar)
                    .await
                    .with_context(|| format!("while loading the history of {} into tblChat", room.legacy_path))?;
            }
            anyhow::Ok(s)
        }
    });
    for r in futures_util::future::join_all(workers).await {
        stats.merge(r?);
    }
    bar.finish();
    Ok(stats)
}

#[allow(clippy::too_many_arguments)]
async fn load_room(
    ws: &Workspace,
    db: &Db,
    classifier: &Classifier,
    legacy: i64,
    target: i64,
    map: &IdMap,
    run_id: &str,
    wave: &str,
    chunk: usize,
    s: &mut HistoryStats,
    bar: &crate::progress::Bar,
) -> Result<()> {
    let done: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(MAX(last_chat) AS BIGINT) FROM gcmigrate_ledger WHERE kind = 'chat' AND room_id = $1",
    )
    .bind(target)
    .fetch_one(&db.pool)
    .await?;
    let mut after = done.unwrap_or(i64::MIN);
    if done.is_some() {
        s.rooms_resumed += 1;
    }
    loop {
        let rows = ws.chats_after(legacy, after, chunk as i64).await?;
        let Some(last) = rows.last() else { break };
        let (first_id, last_id) = (rows[0].chat_id, last.chat_id);
        let mut keep: Vec<(&Chat, i64)> = Vec::with_capacity(rows.len());
        let mut rejects = Vec::new();
        for c in &rows {
            match classifier.classify(c.channel_id, c.user_id, c.chat_date) {
                Disposition::Load => keep.push((c, map.principals[&c.user_id])),
                Disposition::Excluded(rule) => *s.excluded.entry(rule.into()).or_default() += 1,
                Disposition::Rejected(reason) => {
                    *s.rejected.entry(reason.into()).or_default() += 1;
                    rejects.push((c, reason));
                }
            }
        }
        if !rejects.is_empty() {
            ws.record_rejects("load", &rejects).await?;
        }
        let mut tx = db.pool.begin().await?;
        for part in keep.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES {}",
                values_placeholders(part.len(), 6)
            );
            let mut q = sqlx::query(&sql);
            for (c, user) in part {
                q = q.bind(target).bind(c.chat_id).bind(c.chat_date).bind(*user).bind(c.is_alert as i32).bind(c.content.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        if let Some((c, _)) = keep.last() {
            sqlx::query("DELETE FROM tblLastChatId WHERE nodeID = $1").bind(target).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO tblLastChatId (nodeID, lastChatID) VALUES ($1, $2)")
                .bind(target)
                .bind(c.chat_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO gcmigrate_ledger (run_id, wave, kind, room_id, first_chat, last_chat, rows_written, written_at) \
             VALUES ($1, $2, 'chat', $3, $4, $5, $6, $7)",
        )
        .bind(run_id)
        .bind(wave)
        .bind(target)
        .bind(first_id)
        .bind(last_id)
        .bind(keep.len() as i64)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        s.read += rows.len() as u64;
        s.loaded += keep.len() as u64;
        s.chunks += 1;
        bar.inc(rows.len() as u64);
        after = last_id;
    }
    Ok(())
}
