//! The history phase: rooms spread over `--jobs` writers, each room read from staging in
//! `chatId` order in chunks; every chunk, its `tblLastChatId` update and its ledger row
//! commit in one target transaction, so a rerun resumes after the last committed chunk.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::target::Writer;
use super::{IdMap, LoadOptions};
use crate::db::batch::{Batch, CHAT, LAST_CHAT_ID, LEDGER};
use crate::db::sqlite_copy::Chunk;
use crate::db::sqlite_writer::SqliteTarget;
use crate::db::TargetDb;
use crate::model::{Chat, Snapshot};
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::{Plan, PlanRoom};
use crate::progress::{Bar, Progress};
use crate::staging::Workspace;

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

/// What every history worker shares.
pub(super) struct Ctx<'a> {
    pub(super) ws: &'a Workspace,
    pub(super) reader: Option<&'a TargetDb>,
    pub(super) writer: &'a Writer<'a>,
    pub(super) plan: &'a Plan,
    pub(super) snap: &'a Snapshot,
    pub(super) map: &'a IdMap,
    pub(super) run_id: &'a str,
    pub(super) wave: &'a str,
    pub(super) owner: &'a super::ledger::Owner,
    pub(super) opts: &'a LoadOptions,
}

impl Ctx<'_> {
    /// What every history chunk commits with, whichever path copied it: the room's
    /// `tblLastChatId` (when the chunk loaded a message) and the chunk's ledger row.
    fn chunk_tail(
        &self,
        batch: &mut Batch,
        target: i64,
        (first, last): (i64, i64),
        last_loaded: Option<i64>,
        loaded: u64,
    ) {
        if let Some(max) = last_loaded {
            batch.delete_eq(&LAST_CHAT_ID, "nodeID", target);
            batch.insert(&LAST_CHAT_ID, vec![target.into(), max.into()]);
        }
        let ledger = super::ledger::row(
            self.run_id,
            self.wave,
            "chat",
            Some((target, first, last)),
            loaded,
            None,
            self.owner,
        );
        batch.insert(&LEDGER, ledger);
    }
}

/// Loads the history of `rooms` with `--jobs` workers pulling rooms from a queue.
pub(super) async fn load(
    ctx: &Ctx<'_>,
    rooms: &[&PlanRoom],
    progress: &Progress,
) -> Result<HistoryStats> {
    let classifier = Classifier::new(
        &ctx.plan.rooms,
        &ctx.plan.excluded_rooms,
        ctx.snap,
        ctx.plan.options.since.as_deref(),
    );
    // `[files] filestore_uri`: file links are rewritten row by row (crate::files::link).
    let rewrite =
        crate::files::link::Rules::new(&ctx.plan.options.files, ctx.snap.filestore_uri.as_deref());
    let rewrite = rewrite.rewrites().then_some(&rewrite);
    // SQLite → SQLite: chunks are copied by the engine (see `sqlite.rs`), unless links
    // are rewritten.
    let copier = match (ctx.writer, ctx.reader) {
        (Writer::Target(_), Some(db)) if rewrite.is_none() => db.sqlite_copy()?,
        _ => None,
    };
    let engine = match copier {
        Some(t) => {
            let authors = ctx.map.principals.iter().filter(|(l, _)| classifier.is_author(**l));
            let staging = ctx.ws.history_path();
            crate::db::lite::blocking(|| t.attach_staging(&staging, authors.map(|(l, t)| (*l, *t))))
                .context("attaching the workspace to the SQLite target")?
                .then_some(t)
        }
        None => None,
    };
    let total: u64 = rooms.iter().map(|r| r.message_count).sum();
    let bar = progress.bar("history", total);
    // Largest rooms first, so one big room does not start last and finish alone.
    let mut order: Vec<&PlanRoom> = rooms.to_vec();
    order.sort_by_key(|r| std::cmp::Reverse(r.message_count));
    order.reverse();
    let mut stats = HistoryStats::default();
    if let Some(engine) = engine {
        // Whole rooms by the engine, small ones sharing a transaction; rooms it hands back
        // (a chunk with rows the message rules leave out) go through the workers below.
        // In target room order: the primary key (channelId, chatId) then only grows at its
        // end, where pages fill up instead of splitting in the middle.
        let mut ids: Vec<(i64, i64)> =
            order.iter().map(|r| (r.legacy_id, ctx.map.rooms[&r.legacy_id])).collect();
        ids.sort_unstable_by_key(|&(_, target)| target);
        let tail = |target: i64, first: i64, last: i64, rows: u64| {
            let mut b = Batch::default();
            ctx.chunk_tail(&mut b, target, (first, last), Some(last), rows);
            b
        };
        let (limit, since) = (ctx.opts.chunk as i64, classifier.since());
        let bulk = crate::db::lite::blocking(|| {
            engine.copy_rooms(&ids, limit, since, &tail, &|n| bar.inc(n))
        })
        .context("copying the history into the SQLite target")?;
        (stats.read, stats.loaded, stats.chunks) = (bulk.rows, bulk.rows, bulk.chunks);
        stats.rooms_resumed = bulk.resumed;
        order.retain(|r| bulk.left.contains(&r.legacy_id));
    }
    let queue = Mutex::new(order);
    let workers = (0..ctx.opts.jobs.max(1)).map(|_| async {
        let mut s = HistoryStats::default();
        loop {
            let Some(room) = queue.lock().await.pop() else { break };
            load_room(ctx, &classifier, engine, rewrite, room, &mut s, &bar).await.with_context(
                || format!("while loading the history of {} into tblChat", room.legacy_path),
            )?;
        }
        anyhow::Ok(s)
    });
    for r in futures_util::future::join_all(workers).await {
        stats.merge(r?);
    }
    bar.finish();
    Ok(stats)
}

/// The highest legacy `chatId` of a room that the target's ledger records as committed.
async fn resume_point(reader: Option<&TargetDb>, target_room: i64) -> Result<Option<i64>> {
    match reader {
        Some(db) => super::ledger::resume_point(db, target_room).await,
        None => Ok(None),
    }
}

async fn load_room(
    ctx: &Ctx<'_>,
    classifier: &Classifier,
    engine: Option<&SqliteTarget>,
    rewrite: Option<&crate::files::link::Rules>,
    room: &PlanRoom,
    s: &mut HistoryStats,
    bar: &Bar,
) -> Result<()> {
    let target = ctx.map.rooms[&room.legacy_id];
    let done = resume_point(ctx.reader, target).await?;
    if done.is_some() {
        s.rooms_resumed += 1;
    }
    let mut after = done.unwrap_or(i64::MIN);
    loop {
        if let Some(engine) = engine {
            let chunk = Chunk {
                room: room.legacy_id,
                target_room: target,
                after,
                limit: ctx.opts.chunk as i64,
                since: classifier.since(),
            };
            let tail = |first: i64, last: i64, rows: u64| {
                let mut b = Batch::default();
                ctx.chunk_tail(&mut b, target, (first, last), Some(last), rows);
                b
            };
            match crate::db::lite::blocking(|| engine.copy_chunk(&chunk, tail))? {
                Some(c) if c.rows == 0 => break,
                Some(c) => {
                    (s.read, s.loaded, s.chunks) =
                        (s.read + c.rows, s.loaded + c.rows, s.chunks + 1);
                    bar.inc(c.rows);
                    after = c.last;
                    // A short chunk was the room's last.
                    if c.rows < ctx.opts.chunk as u64 {
                        break;
                    }
                    continue;
                }
                None => {} // the chunk has rows the rules leave out: row by row below
            }
        }
        let rows = ctx.ws.chats_after(room.legacy_id, after, ctx.opts.chunk as i64).await?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { break };
        let (first_id, last_id) = (first.chat_id, last.chat_id);
        let mut batch = Batch::default();
        let mut rejects = Vec::new();
        let mut loaded = 0u64;
        let mut last_loaded = None;
        let read = rows.len() as u64;
        // Rows are consumed: the content moves into the batch instead of being copied.
        for c in rows {
            match classifier.classify(c.channel_id, c.user_id, c.chat_date) {
                Disposition::Load => {
                    let user = ctx.map.principals[&c.user_id];
                    batch.insert(
                        &CHAT,
                        vec![
                            target.into(),
                            c.chat_id.into(),
                            c.chat_date.into(),
                            user.into(),
                            c.is_alert.into(),
                            match rewrite {
                                Some(r) => r.rewrite_text(c.content).into(),
                                None => c.content.into(),
                            },
                        ],
                    );
                    loaded += 1;
                    last_loaded = Some(c.chat_id);
                }
                Disposition::Excluded(rule) => *s.excluded.entry(rule.into()).or_default() += 1,
                Disposition::Rejected(reason) => {
                    *s.rejected.entry(reason.into()).or_default() += 1;
                    rejects.push((c, reason));
                }
            }
        }
        if !rejects.is_empty() && !ctx.opts.dry_run {
            let rejects: Vec<(&Chat, &str)> = rejects.iter().map(|(c, r)| (c, *r)).collect();
            ctx.ws.record_rejects("load", &rejects).await?;
        }
        ctx.chunk_tail(&mut batch, target, (first_id, last_id), last_loaded, loaded);
        ctx.writer.apply(&batch).await?;
        s.read += read;
        s.loaded += loaded;
        s.chunks += 1;
        bar.inc(read);
        after = last_id;
    }
    Ok(())
}
