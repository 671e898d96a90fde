//! The workspace: a directory holding `staging.db` and `history.db` (SQLite) and the
//! `reports/`, `rejects/` and `scripts/` folders.
//!
//! `staging.db` is the single source of truth between stages: the configuration snapshot
//! (JSON sections), the delta watermarks, the resolved plan, the id maps and the load
//! journal. The staged history rows live beside it in `history.db`, attached to every
//! staging connection as `hist`, so queries name `snap_chat` as before. It is a file of
//! its own because it is written in bulk, once per extract: in the rollback-journal mode
//! appended pages are written once, where WAL writes them twice (log, then checkpoint);
//! `staging.db` keeps WAL for its many small concurrent writes. Every stage can be rerun.

mod attach;
mod attach_delta;
mod author_cache;
mod authors;
mod body;
mod chronological;
mod files;
pub use files::{FileLinkRow, LinkMessage};
mod history;
mod journal;
mod link_cache;
pub mod lock;
pub mod manifest;
mod proven;
pub use runs::ExtractRunTimes;
mod runs;
mod snapshot;
mod window;

pub use attach::Copied;
pub use history::ChatRef;
pub use journal::JournalEntry;
pub use manifest::{Digests, ManifestHeader, RoomDigest};
pub use snapshot::{Commit, ExtractRun};

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::bad_input;
use crate::model::{Chat, Snapshot};
use crate::source::Watermarks;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (section TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS watermark (
  channel_id INTEGER PRIMARY KEY, last_chat_id INTEGER NOT NULL, extracted_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS extract_run (
  run_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT, rows_read INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS manifest_room (
  channel_id INTEGER PRIMARY KEY, rows INTEGER NOT NULL, max_chat_id INTEGER NOT NULL,
  checksum INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS plan (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reject (
  stage TEXT NOT NULL, channel_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
  chat_date INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (stage, channel_id, chat_id));
CREATE TABLE IF NOT EXISTS journal (
  run_id TEXT NOT NULL, wave TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
  body TEXT NOT NULL, PRIMARY KEY (run_id, seq));
"#;

/// The columns and key of `snap_chat`, the staged history in `history.db` (attached as
/// `hist`); tests that stage rows by hand create the table from it too.
pub(crate) const SNAP_CHAT_COLUMNS: &str = "(channel_id INTEGER NOT NULL, \
  chat_id INTEGER NOT NULL, chat_date INTEGER NOT NULL, user_id INTEGER NOT NULL, \
  is_alert INTEGER NOT NULL, content TEXT NOT NULL, PRIMARY KEY (channel_id, chat_id)) WITHOUT ROWID";

/// Rows per multi-row INSERT into `snap_chat` (6 binds each; SQLite allows 32,766).
const CHAT_ROWS_PER_INSERT: usize = 1000;

/// The file of the staged history, beside `staging.db`.
const HISTORY_FILE: &str = "history.db";

/// Moves history staged by an earlier version (inside `staging.db`) into `history.db`.
async fn move_history(pool: &SqlitePool) -> Result<()> {
    let old: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'snap_chat'",
    )
    .fetch_optional(pool)
    .await?;
    if old.is_some() {
        sqlx::raw_sql(
            "BEGIN; INSERT OR IGNORE INTO hist.snap_chat SELECT * FROM main.snap_chat; \
             DROP TABLE main.snap_chat; COMMIT;",
        )
        .execute(pool)
        .await
        .context("moving the staged history into history.db")?;
    }
    Ok(())
}

/// Refuses a `history.db` that SQLite cannot attach or that is shorter than its header
/// says (truncated), and rolls back what a killed extract left half-written: attaching such a file fails on every pooled connection, which would
/// surface as a pool timeout instead of a message.
fn probe_history(path: &Path) -> Result<()> {
    // Read-write (not created): a hot journal left by a killed extract is rolled back.
    let c =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    let _: i64 = c.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    let pages: u64 = c.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))? as u64;
    let size: u64 = c.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))? as u64;
    let len = std::fs::metadata(path)?.len();
    if len < pages * size {
        anyhow::bail!("{len} bytes where its header says {}: truncated", pages * size);
    }
    Ok(())
}

/// An open workspace directory.
pub struct Workspace {
    dir: PathBuf,
    /// The `staging.db` pool.
    pub pool: SqlitePool,
    /// Direct readers of `history.db` (see [`crate::db::lite`]).
    readers: crate::db::lite::Readers,
    /// `history.db` did not exist when the workspace was opened (attaching it created an
    /// empty one): [`Workspace::check_manifest`] names it.
    history_missing: bool,
}

impl Workspace {
    /// Opens (creating when asked) the workspace at `dir`.
    pub async fn open(dir: &Path, create: bool) -> Result<Workspace> {
        let db_path = dir.join("staging.db");
        if !create && !db_path.exists() {
            return Err(bad_input(format!(
                "{} is not a workspace (no staging.db): run `gcmigrate extract --workspace {}` first",
                dir.display(),
                dir.display()
            )));
        }
        for file in [db_path.clone(), dir.join(HISTORY_FILE)] {
            crate::db::sqlite_file::check(&file).map_err(|e| {
                bad_input(format!(
                    "{e}, or rebuild the workspace with `gcmigrate extract --workspace {}`",
                    dir.display()
                ))
            })?;
        }
        for sub in ["", "reports", "rejects", "scripts"] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", db_path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30));
        let history = dir.join(HISTORY_FILE);
        let history_missing = !create && !history.exists();
        if history.exists() {
            probe_history(&history).map_err(|e| {
                bad_input(format!(
                    "{} is unreadable ({e:#}): delete it and re-run `gcmigrate extract --workspace {}`",
                    history.display(),
                    dir.display()
                ))
            })?;
        }
        // 16 KiB pages (they apply when the file is new): rows are appended and scanned in
        // key order, and bigger pages cut the copy by about a fifth. Multi-statement text
        // through `Executor::execute`: a bound query does not satisfy the callback's
        // higher-ranked lifetime.
        let attach = format!(
            "ATTACH DATABASE '{}' AS hist; PRAGMA hist.page_size = 16384; \
             PRAGMA hist.journal_mode = DELETE; PRAGMA hist.synchronous = NORMAL;",
            history.display().to_string().replace('\'', "''")
        );
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_connect(move |conn, _| {
                let attach = attach.clone();
                Box::pin(async move {
                    sqlx::Executor::execute(conn, attach.as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .with_context(|| format!("cannot open {}", db_path.display()))?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await.context("creating the staging schema")?;
        sqlx::raw_sql(&format!(
            "CREATE TABLE IF NOT EXISTS hist.snap_chat {SNAP_CHAT_COLUMNS}; \
             CREATE TABLE IF NOT EXISTS hist.snap_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        ))
        .execute(&pool)
        .await
        .map_err(|e| {
            bad_input(format!(
                "{} is unreadable ({e}): delete it and re-run `gcmigrate extract --workspace {}`",
                history.display(),
                dir.display()
            ))
        })?;
        move_history(&pool).await?;
        Ok(Workspace {
            dir: dir.to_path_buf(),
            pool,
            readers: crate::db::lite::Readers::new(history),
            history_missing,
        })
    }

    /// `DIR/history.db`: the staged history rows.
    pub fn history_path(&self) -> PathBuf {
        self.dir.join(HISTORY_FILE)
    }

    /// The workspace directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/reports`.
    pub fn reports_dir(&self) -> PathBuf {
        self.dir.join("reports")
    }

    /// `DIR/rejects`.
    pub fn rejects_dir(&self) -> PathBuf {
        self.dir.join("rejects")
    }

    /// `DIR/scripts`.
    pub fn scripts_dir(&self) -> PathBuf {
        self.dir.join("scripts")
    }

    /// Sets a metadata value.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reads a metadata value.
    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Loads the configuration snapshot, or says to run `extract`.
    pub async fn load_snapshot(&self) -> Result<Snapshot> {
        let mut snap: Snapshot = SNAPSHOT.read(&self.staging_file())?.ok_or_else(|| {
            bad_input(format!(
                "workspace {} holds no snapshot yet: run `gcmigrate extract` first",
                self.dir.display()
            ))
        })?;
        snap.shrink_to_fit();
        Ok(snap)
    }

    /// `staging.db`.
    fn staging_file(&self) -> PathBuf {
        self.dir.join("staging.db")
    }

    /// Stages a batch of history rows of the running extract (into its side table, see
    /// `snapshot.rs`) in one transaction; existing keys are kept.
    pub async fn insert_chats(&self, rows: &[Chat]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(CHAT_ROWS_PER_INSERT) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT OR IGNORE INTO hist.snap_chat_next (channel_id, chat_id, chat_date, user_id, is_alert, content) ",
            );
            qb.push_values(chunk, |mut b, c| {
                b.push_bind(c.channel_id)
                    .push_bind(c.chat_id)
                    .push_bind(c.chat_date)
                    .push_bind(c.user_id)
                    .push_bind(c.is_alert)
                    .push_bind(c.content.as_str());
            });
            qb.build().execute(&mut *tx).await.context("staging tblChat rows")?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Per-room watermarks from the last extract.
    pub async fn watermarks(&self) -> Result<Watermarks> {
        let rows = sqlx::query("SELECT channel_id, last_chat_id FROM watermark")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1))).collect())
    }

    /// Stores the resolved plan.
    pub async fn save_plan(&self, plan: &crate::plan::Plan) -> Result<()> {
        PLAN.write(&self.staging_file(), plan)
    }

    /// Closes the idle readers of `history.db`, once a stage has read the history it needs.
    pub fn close_history_readers(&self) {
        self.readers.close_idle();
    }

    /// Loads the resolved plan, or says to run `plan`.
    pub async fn load_plan(&self) -> Result<crate::plan::Plan> {
        let mut plan: crate::plan::Plan = PLAN.read(&self.staging_file())?.ok_or_else(|| {
            bad_input("the workspace holds no plan yet: run `gcmigrate plan` first")
        })?;
        plan.shrink_to_fit();
        Ok(plan)
    }
}

/// Where the snapshot and the plan are stored.
const SNAPSHOT: body::Body<'static> =
    body::Body { table: "snapshot", key_col: "section", key: "config" };
/// Where an extract streams its snapshot before its commit makes it current.
const SNAPSHOT_NEXT: body::Body<'static> =
    body::Body { table: "snapshot", key_col: "section", key: "config.next" };
const PLAN: body::Body<'static> = body::Body { table: "plan", key_col: "id", key: "1" };

impl Workspace {
    /// Records rejected history rows of a stage (idempotent: a rerun adds no duplicates).
    pub async fn record_rejects(&self, stage: &str, rows: &[(&Chat, &str)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (c, reason) in rows {
            sqlx::query(
                "INSERT OR IGNORE INTO reject (stage, channel_id, chat_id, user_id, chat_date, reason) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(stage)
            .bind(c.channel_id)
            .bind(c.chat_id)
            .bind(c.user_id)
            .bind(c.chat_date)
            .bind(*reason)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes `rejects/<stage>.csv` from the recorded rejects; returns how many there are.
    pub async fn export_rejects(&self, stage: &str) -> Result<u64> {
        let rows = sqlx::query(
            "SELECT channel_id, chat_id, user_id, chat_date, reason FROM reject WHERE stage = ?1 \
             ORDER BY channel_id, chat_id",
        )
        .bind(stage)
        .fetch_all(&self.pool)
        .await?;
        let path = self.rejects_dir().join(format!("{stage}.csv"));
        let mut w = csv::Writer::from_path(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        w.write_record(["channelId", "chatId", "userId", "chatDate", "reason"])?;
        for r in &rows {
            w.write_record([
                r.get::<i64, _>(0).to_string(),
                r.get::<i64, _>(1).to_string(),
                r.get::<i64, _>(2).to_string(),
                r.get::<i64, _>(3).to_string(),
                r.get::<String, _>(4),
            ])?;
        }
        w.flush()?;
        Ok(rows.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace staged by an earlier version (history inside staging.db) keeps its rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn history_staged_inside_staging_db_moves_to_history_db() {
        let dir = tempfile::tempdir().unwrap();
        let old = rusqlite::Connection::open(dir.path().join("staging.db")).unwrap();
        old.execute_batch(&format!(
            "CREATE TABLE snap_chat {SNAP_CHAT_COLUMNS}; \
             INSERT INTO snap_chat VALUES (5, 1, 100, 10, 0, 'a'), (5, 2, 200, 11, 1, 'b');"
        ))
        .unwrap();
        drop(old);
        let ws = Workspace::open(dir.path(), false).await.unwrap();
        let mut seen = Vec::new();
        ws.for_each_chat(5, |c| seen.push((c.chat_id, c.content))).await.unwrap();
        assert_eq!(seen, vec![(1, "a".to_string()), (2, "b".to_string())]);
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM main.sqlite_master WHERE name = 'snap_chat'")
                .fetch_one(&ws.pool)
                .await
                .unwrap();
        assert_eq!(left, 0, "staging.db no longer holds the history");
        assert!(ws.history_path().exists());
    }
}
