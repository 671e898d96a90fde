//! The workspace's manifest: what the last complete extract read from the source, per room
//! (messages, highest `chatId`, a checksum of the keys) with the totals, the extract run and the
//! source's identity and version. It is taken while the source is read (the streaming
//! reader folds each row in; an SQLite source is aggregated on its own side, next to the
//! engine's copy), never by re-reading `history.db`, and becomes current in the same
//! transaction as the rows it describes (see `snapshot.rs`).
//!
//! `plan`, `load` and `verify` call [`Workspace::check_manifest`] before anything else: a
//! missing, truncated or changed `history.db`, an interrupted extract or a workspace
//! without a manifest is refused with exit 2 and the command that repairs it. The check is
//! the cheap one — per-room message counts and highest `chatId` of `history.db` against
//! the manifest, one scan of the key — not a re-hash of every row: it catches every lost
//! or added row and costs a fraction of the stage it guards; a row changed in place is
//! caught by `verify --source` against the legacy database itself. The scan runs once per
//! state of `history.db`: the state it proved is kept, and a later stage that finds the
//! file unchanged skips it (`proven.rs`; a delta extract proves its own rows).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::Workspace;
use crate::error::bad_input;

/// The modulus of the key checksum (2^31 − 1).
const P: i64 = 2_147_483_647;

/// One row's part of its room's checksum: its `chatId` modulo [`P`]. A room's checksum is
/// the sum over its rows — a checksum of which messages were staged, computed on an SQLite
/// source from the key index alone (cheap enough to run beside the copy); the content is
/// compared by `verify` (staged against target) and `verify --source` (legacy against
/// target).
pub fn row_checksum(chat_id: i64) -> i64 {
    chat_id % P
}

/// [`row_checksum`] as SQL over the column `id`, for SQLite.
pub(crate) fn row_checksum_sql(id: &str) -> String {
    format!("(({id}) % {P})")
}

/// One room of the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomDigest {
    /// Messages staged.
    pub rows: u64,
    /// The highest `chatId` staged (the room's watermark).
    pub max_chat_id: i64,
    /// The sum of [`row_checksum`] over the room's rows (wrapping).
    pub checksum: i64,
}

impl RoomDigest {
    /// Folds one row in.
    pub fn add(&mut self, chat_id: i64) {
        self.max_chat_id = if self.rows == 0 { chat_id } else { self.max_chat_id.max(chat_id) };
        self.rows += 1;
        self.checksum = self.checksum.wrapping_add(row_checksum(chat_id));
    }

    /// Merges the digest of later rows of the same room (a delta).
    pub fn merge(&mut self, later: &RoomDigest) {
        if later.rows == 0 {
            return;
        }
        self.max_chat_id = if self.rows == 0 {
            later.max_chat_id
        } else {
            self.max_chat_id.max(later.max_chat_id)
        };
        self.rows += later.rows;
        self.checksum = self.checksum.wrapping_add(later.checksum);
    }
}

/// Per-room digests of the rows an extract read, by `channelId`.
pub type Digests = BTreeMap<i64, RoomDigest>;

/// The manifest's header (stored as JSON in `meta.manifest`, and as `manifest.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ManifestHeader {
    /// The extract run that made the snapshot current (last full or delta).
    pub run_id: i64,
    /// `full` or `delta`.
    pub kind: String,
    /// When that run started and finished (RFC 3339).
    pub started_at: String,
    /// When it finished.
    pub finished_at: String,
    /// The source (redacted URL).
    pub source: String,
    /// The source's detected version.
    pub version: String,
    /// Rooms with staged history.
    pub rooms: u64,
    /// Messages staged in all.
    pub messages: u64,
    /// The sum of the rooms' checksums (wrapping).
    pub checksum: i64,
}

/// The last extract run as recorded in `extract_run`.
struct LastRun {
    kind: String,
    started_at: String,
    finished: bool,
}

impl Workspace {
    /// Source rows the current snapshot's extracts rejected (`rejects/extract.csv`).
    pub async fn extract_rejects(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reject WHERE stage = 'extract'")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// The manifest's rooms.
    pub async fn manifest_rooms(&self) -> Result<Digests> {
        let rows = sqlx::query("SELECT channel_id, rows, max_chat_id, checksum FROM manifest_room")
            .fetch_all(&self.pool)
            .await?;
        digests(rows)
    }

    /// The manifest's header, when an extract of this version completed.
    pub async fn manifest(&self) -> Result<Option<ManifestHeader>> {
        match self.meta("manifest").await? {
            Some(body) => {
                Ok(Some(serde_json::from_str(&body).context("the manifest is unreadable")?))
            }
            None => Ok(None),
        }
    }

    /// The command that rebuilds this workspace's snapshot.
    async fn repair(&self) -> String {
        let source = self.meta("source").await.ok().flatten().unwrap_or_else(|| "SOURCE".into());
        format!("gcmigrate extract --source {source} --workspace {}", self.dir().display())
    }

    async fn last_run(&self) -> Result<Option<LastRun>> {
        let row = sqlx::query(
            "SELECT kind, started_at, finished_at IS NOT NULL FROM extract_run \
             WHERE kind NOT LIKE '%-failed' ORDER BY run_id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(LastRun { kind: r.try_get(0)?, started_at: r.try_get(1)?, finished: r.try_get(2)? })
        })
        .transpose()
    }

    /// Checks the workspace against its manifest; refuses (exit 2, one line naming what is
    /// wrong and the command that repairs it) a workspace whose last extract did not
    /// finish, that has no manifest, or whose `history.db` is missing, unreadable or does
    /// not hold the rows the manifest describes.
    pub async fn check_manifest(&self) -> Result<()> {
        let last = self.last_run().await?;
        let header = self.manifest().await?;
        let fix = self.repair().await;
        if let Some(run) = last.as_ref().filter(|r| !r.finished) {
            let kept = match &header {
                Some(h) => format!(
                    "the workspace still holds the complete {} extract of {}, but a stage cannot tell which one you meant",
                    h.kind, h.finished_at
                ),
                None => "no complete extract is staged".into(),
            };
            return Err(bad_input(format!(
                "the last extract ({}, started {}) did not finish (interrupted, or still running); {kept}: re-run `{fix}`{}",
                run.kind,
                run.started_at,
                if run.kind == "delta" { " --delta" } else { "" }
            )));
        }
        let Some(header) = header else {
            if self.load_snapshot().await.is_err() {
                return Err(bad_input(format!(
                    "workspace {} holds no snapshot yet: run `gcmigrate extract --source SOURCE --workspace {}` first",
                    self.dir().display(),
                    self.dir().display()
                )));
            }
            return Err(bad_input(format!(
                "workspace {} has no manifest (it was extracted by an older version of gcmigrate): re-run `{fix}`",
                self.dir().display()
            )));
        };
        let history = self.history_path();
        if self.history_missing {
            return Err(bad_input(format!(
                "{} is missing (the manifest lists {} messages): re-run `{fix}`",
                history.display(),
                header.messages
            )));
        }
        let unreadable = |e: anyhow::Error| {
            bad_input(format!("{} is unreadable ({e:#}): re-run `{fix}`", history.display()))
        };
        // The state counted below; when a check already proved it, nothing is counted.
        let state = self.history_state(header.run_id);
        if self.history_proven(state.as_deref()).await? {
            return Ok(());
        }
        let (run, staged) = crate::db::lite::blocking(|| {
            self.readers.with(|c| {
                let run: Option<String> = c
                    .query_row("SELECT value FROM snap_meta WHERE key = 'run'", [], |r| r.get(0))
                    .ok();
                let mut st = c.prepare(
                    "SELECT channel_id, COUNT(*), MAX(chat_id) FROM snap_chat GROUP BY channel_id",
                )?;
                let rows = st
                    .query_map([], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((run, rows))
            })
        })
        .map_err(unreadable)?;
        if run.as_deref() != Some(header.run_id.to_string().as_str()) {
            return Err(bad_input(format!(
                "{} does not hold the rows of the last complete extract (run {} of {}; it holds run {}): re-run `{fix}`",
                history.display(),
                header.run_id,
                header.finished_at,
                run.unwrap_or_else(|| "none".into())
            )));
        }
        let want = self.manifest_rooms().await?;
        let mut got: Digests = Digests::new();
        for (room, n, max) in staged {
            got.insert(room, RoomDigest { rows: n as u64, max_chat_id: max, checksum: 0 });
        }
        let total: u64 = got.values().map(|d| d.rows).sum();
        for room in want.keys().chain(got.keys()) {
            let (w, g) = (
                want.get(room).copied().unwrap_or_default(),
                got.get(room).copied().unwrap_or_default(),
            );
            if (w.rows, w.max_chat_id) != (g.rows, g.max_chat_id) {
                return Err(bad_input(format!(
                    "{} is truncated or changed: room {room} holds {} messages up to chatId {}, the manifest of the extract of {} says {} up to {} ({} of {} messages staged in all): re-run `{fix}`",
                    history.display(),
                    g.rows,
                    g.max_chat_id,
                    header.finished_at,
                    w.rows,
                    w.max_chat_id,
                    total,
                    header.messages
                )));
            }
        }
        self.prove_history(state).await;
        Ok(())
    }
}

/// Per-room digests from rows of (room, rows, highest chatId, checksum), as both the
/// manifest table and the SQL aggregate over an SQLite source give them.
pub(super) fn digests(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<Digests> {
    let mut out = Digests::new();
    for r in rows {
        out.insert(
            r.try_get(0)?,
            RoomDigest {
                rows: r.try_get::<i64, _>(1)? as u64,
                max_chat_id: r.try_get(2)?,
                checksum: r.try_get(3)?,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_and_rust_checksums_agree() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        for id in [1i64, 9_000_000_000, -1, i64::MAX, i64::MIN] {
            let got: i64 = c
                .query_row(&format!("SELECT SUM({})", row_checksum_sql("?1")), [id], |r| r.get(0))
                .unwrap();
            assert_eq!(got, row_checksum(id), "{id}");
        }
    }

    #[test]
    fn merge_adds_rows_and_keeps_the_highest_id() {
        let mut a = RoomDigest::default();
        a.add(5);
        let mut b = RoomDigest::default();
        b.add(9);
        a.merge(&b);
        assert_eq!((a.rows, a.max_chat_id), (2, 9));
        a.merge(&RoomDigest::default());
        assert_eq!(a.rows, 2);
    }
}
