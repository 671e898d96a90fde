//! Whole snapshots: an extract writes its history rows aside, into `hist.snap_chat_next`
//! (and its rejects under the stage `extract-next`), and [`Workspace::commit_extract`]
//! makes them current together with the configuration, the watermarks and the manifest in
//! one transaction, only once the read is complete. A full extract renames the side table
//! over `snap_chat`; a delta appends it. Until then the previous complete snapshot stays
//! current and untouched.
//!
//! The run is recorded in `extract_run` when it starts. A run that fails (a source error,
//! a full disk) discards its side table and is recorded as failed: the previous complete
//! snapshot stays current and the stages keep using it. A run that never ends (killed)
//! keeps `finished_at` NULL, which `check_manifest` refuses until an extract completes:
//! it cannot tell a killed run from one still running. `staging.db` (WAL) and
//! `history.db` are separate files, so SQLite makes the commit atomic per file: the run id
//! written into `history.db`'s `snap_meta` lets the check tell a commit torn between the
//! two files (a kill at that instant) from a whole one.

use anyhow::{Context, Result};

use super::manifest::{Digests, ManifestHeader};
use super::{Workspace, SNAP_CHAT_COLUMNS};
use crate::model::Snapshot;

/// The side table an extract writes into (in `history.db`).
pub(crate) const NEXT: &str = "hist.snap_chat_next";

/// The reject stage an extract records under until it commits.
pub(crate) const NEXT_REJECTS: &str = "extract-next";

/// An extract in progress.
#[derive(Debug, Clone)]
pub struct ExtractRun {
    /// `extract_run.run_id`.
    pub id: i64,
    /// Whether it replaces the snapshot (full) or appends to it (delta).
    pub full: bool,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// A delta that starts from a proven `history.db` (see `proven.rs`) proves its result.
    proven: bool,
}

/// What [`Workspace::commit_extract`] makes current.
pub struct Commit<'a> {
    /// The configuration read.
    pub snapshot: &'a Snapshot,
    /// The per-room digests of the rows this run staged.
    pub digests: &'a Digests,
    /// The source (redacted URL).
    pub source: &'a str,
    /// Its detected version.
    pub version: &'a str,
}

impl Workspace {
    /// Records the start of an extract and prepares its side table (dropping what an
    /// interrupted run left there).
    pub async fn begin_extract(&self, full: bool) -> Result<ExtractRun> {
        let started_at = chrono::Utc::now().to_rfc3339();
        let proven = !full && self.history_proven_now().await?;
        sqlx::raw_sql(&format!(
            "DROP TABLE IF EXISTS {NEXT}; CREATE TABLE {NEXT} {SNAP_CHAT_COLUMNS};"
        ))
        .execute(&self.pool)
        .await
        .with_context(|| format!("preparing {}", self.history_path().display()))?;
        sqlx::query("DELETE FROM reject WHERE stage = ?1")
            .bind(NEXT_REJECTS)
            .execute(&self.pool)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO extract_run (kind, started_at) VALUES (?1, ?2) RETURNING run_id",
        )
        .bind(if full { "full" } else { "delta" })
        .bind(&started_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(ExtractRun { id, full, started_at, proven })
    }

    /// Discards what a failed extract staged aside and records the run as failed (its
    /// `kind` gains `-failed`, `finished_at` is set): the previous complete snapshot stays
    /// current and usable. A killed run cannot get here; it stays unfinished.
    pub async fn abandon_extract(&self, run: &ExtractRun) -> Result<()> {
        sqlx::raw_sql(&format!(
            "DROP TABLE IF EXISTS {NEXT}; DELETE FROM snapshot WHERE section = '{}';",
            super::SNAPSHOT_NEXT.key
        ))
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM reject WHERE stage = ?1")
            .bind(NEXT_REJECTS)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "UPDATE extract_run SET kind = kind || '-failed', finished_at = ?1 WHERE run_id = ?2",
        )
        .bind(chrono::Utc::now().to_rfc3339())
        .bind(run.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Makes the run's rows, configuration, watermarks, rejects and manifest current in
    /// one transaction.
    pub async fn commit_extract(&self, run: &ExtractRun, c: Commit<'_>) -> Result<ManifestHeader> {
        let before = if run.full { Digests::new() } else { self.manifest_rooms().await? };
        let mut rooms = before.clone();
        for (room, d) in c.digests {
            rooms.entry(*room).or_default().merge(d);
        }
        let finished_at = chrono::Utc::now().to_rfc3339();
        let header = ManifestHeader {
            run_id: run.id,
            kind: if run.full { "full" } else { "delta" }.into(),
            started_at: run.started_at.clone(),
            finished_at: finished_at.clone(),
            source: c.source.into(),
            version: c.version.into(),
            rooms: rooms.len() as u64,
            messages: rooms.values().map(|d| d.rows).sum(),
            checksum: rooms.values().fold(0i64, |a, d| a.wrapping_add(d.checksum)),
        };
        let read: u64 = c.digests.values().map(|d| d.rows).sum();
        // The side table's rows, for a delta that proves its own result.
        let aside: Option<i64> = match run.proven {
            true => Some(
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {NEXT}"))
                    .fetch_one(&self.pool)
                    .await?,
            ),
            false => None,
        };
        // The snapshot is streamed aside first, then made current in the transaction: bound
        // as one string (86 MB of JSON at the largest pool) it was held three times at once,
        // the extract's peak memory. An interrupted run leaves the current one untouched.
        super::SNAPSHOT_NEXT.write(&self.staging_file(), c.snapshot)?;
        let mut tx = self.pool.begin().await?;
        let swap = if run.full {
            format!("DROP TABLE hist.snap_chat; ALTER TABLE {NEXT} RENAME TO snap_chat; DELETE FROM reject WHERE stage = 'extract';")
        } else {
            format!("INSERT OR IGNORE INTO hist.snap_chat SELECT * FROM {NEXT}; DROP TABLE {NEXT};")
        };
        sqlx::raw_sql(&format!(
            "{swap} UPDATE OR IGNORE reject SET stage = 'extract' WHERE stage = '{NEXT_REJECTS}'; \
             DELETE FROM reject WHERE stage = '{NEXT_REJECTS}'; DELETE FROM manifest_room;{}",
            if run.full { " DELETE FROM watermark;" } else { "" }
        ))
        .execute(&mut *tx)
        .await
        .context("making the extracted history current")?;
        for (room, d) in &rooms {
            sqlx::query("INSERT INTO manifest_room (channel_id, rows, max_chat_id, checksum) VALUES (?1, ?2, ?3, ?4)")
                .bind(room)
                .bind(d.rows as i64)
                .bind(d.max_chat_id)
                .bind(d.checksum)
                .execute(&mut *tx)
                .await?;
        }
        for (room, d) in c.digests.iter().filter(|(_, d)| d.rows > 0) {
            sqlx::query(
                "INSERT INTO watermark (channel_id, last_chat_id, extracted_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(channel_id) DO UPDATE SET last_chat_id = MAX(last_chat_id, ?2), extracted_at = ?3",
            )
            .bind(room)
            .bind(d.max_chat_id)
            .bind(&finished_at)
            .execute(&mut *tx)
            .await?;
        }
        let meta = [
            ("manifest", serde_json::to_string(&header)?),
            ("source", c.source.to_string()),
            ("source_version", c.version.to_string()),
        ];
        for (k, v) in meta {
            sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::raw_sql(&format!(
            "DELETE FROM snapshot WHERE section = 'config'; \
             UPDATE snapshot SET section = 'config' WHERE section = '{}';",
            super::SNAPSHOT_NEXT.key
        ))
        .execute(&mut *tx)
        .await
        .context("making the extracted configuration current")?;
        sqlx::query("INSERT OR REPLACE INTO hist.snap_meta (key, value) VALUES ('run', ?1)")
            .bind(run.id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE extract_run SET finished_at = ?1, rows_read = ?2 WHERE run_id = ?3")
            .bind(&finished_at)
            .bind(read as i64)
            .bind(run.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await.context("making the extracted history current")?;
        if let Some(aside) = aside {
            self.prove_delta(run.id, &before, c.digests, aside as u64).await?;
        }
        let text = serde_json::to_string_pretty(&header)?;
        let path = self.dir().join("manifest.json");
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(header)
    }
}
