//! The extract stage: read the legacy database once into the workspace snapshot.
//!
//! A full extract replaces the snapshot; `--delta` refreshes the configuration and reads
//! only history past each room's watermark. History is streamed (a reader task sends
//! batches over a bounded channel to the staging writer) or, when the source is an SQLite
//! file ([`Conn::sqlite_file`](crate::db::Conn::sqlite_file)), copied by the engine
//! through an attached database while this task reads the configuration; memory stays
//! flat either way.
//!
//! The rows go into a side table and become current with the configuration, the
//! watermarks and the manifest in one commit at the end (`staging/snapshot.rs`): an
//! extract that fails or is killed leaves the previous complete snapshot untouched.

use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::db::{DbUrl, SourceDb};
use crate::progress::Progress;
use crate::source::{self, Watermarks};
use crate::staging::{Commit, Copied, Digests, RoomDigest, Workspace};

/// Full snapshot or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractMode {
    /// Replace the snapshot.
    Full,
    /// Only history past each room's watermark.
    Delta,
}

/// What an extract read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtractReport {
    /// Source (redacted).
    pub source: String,
    /// Detected version.
    pub version: String,
    /// `full` or `delta`.
    pub mode: String,
    /// Principals read.
    pub principals: u64,
    /// Categories read (root included).
    pub categories: u64,
    /// Rooms read.
    pub rooms: u64,
    /// History rows read by this run.
    pub messages: u64,
    /// History rows that could not be read (NULL or non-integer keys, NULL content),
    /// recorded in `rejects/extract.csv`.
    pub rejected: u64,
    /// Rows rejected at extract that the staged snapshot lacks in all (this run's and,
    /// after a delta, earlier ones'): the rows of `rejects/extract.csv`.
    #[serde(default)]
    pub rejected_total: u64,
    /// Wall time.
    pub seconds: f64,
}

/// History rows per batch handed from the reader to the staging writer.
const BATCH: usize = 5_000;

/// Extracts `source` into the workspace.
pub async fn extract(
    ws: &Workspace,
    source: &DbUrl,
    mode: ExtractMode,
    progress: &Progress,
) -> Result<ExtractReport> {
    let t0 = Instant::now();
    let src = SourceDb::open(source).await?;
    let version = source::detect_version(&src).await?;
    let after: Watermarks = match mode {
        ExtractMode::Full => Watermarks::new(),
        ExtractMode::Delta => ws.watermarks().await?,
    };
    // The rows go aside; the previous snapshot stays current until `commit_extract`.
    let run = ws.begin_extract(mode == ExtractMode::Full).await?;
    match read(ws, &src, source, version, mode, &after, &run, progress).await {
        Ok(mut report) => {
            src.close().await;
            report.seconds = t0.elapsed().as_secs_f64();
            Ok(report)
        }
        Err(e) => {
            // The previous complete snapshot stays current; what this run staged goes.
            if let Err(undo) = ws.abandon_extract(&run).await {
                progress.note(&format!("extract: could not discard the failed run: {undo:#}"));
            }
            src.close().await;
            Err(e)
        }
    }
}

/// Reads the source into the run's side table and commits it.
#[allow(clippy::too_many_arguments)]
async fn read(
    ws: &Workspace,
    src: &SourceDb,
    source: &DbUrl,
    version: crate::model::SourceVersion,
    mode: ExtractMode,
    after: &Watermarks,
    run: &crate::staging::ExtractRun,
    progress: &Progress,
) -> Result<ExtractReport> {
    let total = source::count_chats(src, after).await?;
    let bar = progress.bar("extract", total);
    let config = async {
        let _t = crate::timings::phase("extract: read config");
        let mut snap = source::snapshot(src, version).await?;
        // Rooms our own cutover freeze disabled are not disabled by their owners: plan them
        // as they were, or a frozen wave would lose its delta.
        for id in crate::freeze::frozen_rooms(ws).await? {
            if let Some(n) = snap.nodes.get_mut(&id) {
                n.disabled = false;
            }
        }
        anyhow::Ok(snap)
    };
    let (snap, copied) = match src.sqlite_file() {
        // SQLite: the engine copies the rows itself (raw-copy speed), on its own
        // connection while this task reads the configuration.
        Some(path) => {
            let history = async {
                let _t = crate::timings::phase("extract: copy history");
                ws.copy_chats_from_sqlite(path, mode == ExtractMode::Delta, total, &bar).await
            };
            let (snap, copied) = tokio::join!(config, history);
            (snap?, copied?)
        }
        None => {
            let snap = config.await?;
            let _t = crate::timings::phase("extract: stream history");
            let (rows, digests) = stream(src, after, ws, &bar).await?;
            (snap, Copied { rows, rejected: 0, digests })
        }
    };
    let (messages, rejected) = (copied.rows, copied.rejected);
    {
        let _t = crate::timings::phase("extract: commit");
        let commit = Commit {
            snapshot: &snap,
            digests: &copied.digests,
            source: &source.to_string(),
            version: version.label(),
        };
        ws.commit_extract(run, commit).await?;
    }
    let rejected_total = ws.export_rejects("extract").await?;
    bar.finish();
    Ok(ExtractReport {
        source: source.to_string(),
        version: version.label().into(),
        mode: if mode == ExtractMode::Full { "full" } else { "delta" }.into(),
        principals: snap.principals.len() as u64,
        categories: snap.nodes.values().filter(|n| n.is_category).count() as u64,
        rooms: snap.nodes.values().filter(|n| !n.is_category).count() as u64,
        messages,
        rejected,
        rejected_total,
        seconds: 0.0,
    })
}

/// Streams history from any source into staging: a reader task sends batches over a
/// bounded channel to the staging writer.
async fn stream(
    src: &SourceDb,
    after: &Watermarks,
    ws: &Workspace,
    bar: &crate::progress::Bar,
) -> Result<(u64, Digests)> {
    let (tx, mut rx) = mpsc::channel(4);
    let reader = source::stream_chats(src, after, BATCH, tx);
    let writer = async {
        let (mut n, mut digests) = (0u64, Digests::new());
        while let Some(batch) = rx.recv().await {
            ws.insert_chats(&batch).await?;
            // The manifest, taken from the rows as read (rooms arrive in order: one lookup
            // per room change).
            let mut at: Option<(i64, RoomDigest)> = None;
            for c in &batch {
                if at.as_ref().map(|a| a.0) != Some(c.channel_id) {
                    if let Some((room, d)) = at.take() {
                        digests.insert(room, d);
                    }
                    at = Some((c.channel_id, digests.remove(&c.channel_id).unwrap_or_default()));
                }
                if let Some((_, d)) = at.as_mut() {
                    d.add(c.chat_id);
                }
            }
            if let Some((room, d)) = at {
                digests.insert(room, d);
            }
            n += batch.len() as u64;
            bar.inc(batch.len() as u64);
        }
        anyhow::Ok((n, digests))
    };
    let (read, written) = tokio::join!(reader, writer);
    read?;
    written
}
