//! The workspace: a directory holding `staging.db` (SQLite) and the `reports/`,
//! `rejects/` and `scripts/` folders.
//!
//! `staging.db` is the single source of truth between stages: the source snapshot
//! (configuration as JSON sections, history as rows), the delta watermarks, the resolved
//! plan, the id maps and the load journal. Every stage can be rerun against it.

mod attach;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::bad_input;
use crate::model::{Chat, Snapshot};
use crate::plan::messages::AuthorCounts;
use crate::source::Watermarks;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (section TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snap_chat (
  channel_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, chat_date INTEGER NOT NULL,
  user_id INTEGER NOT NULL, is_alert INTEGER NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY (channel_id, chat_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watermark (
  channel_id INTEGER PRIMARY KEY, last_chat_id INTEGER NOT NULL, extracted_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS extract_run (
  run_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT, rows_read INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS plan (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reject (
  stage TEXT NOT NULL, channel_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
  chat_date INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (stage, channel_id, chat_id));
CREATE TABLE IF NOT EXISTS journal (
  run_id TEXT NOT NULL, wave TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
  body TEXT NOT NULL, PRIMARY KEY (run_id, seq));
"#;

/// Rows per multi-row INSERT into `snap_chat` (6 binds each; SQLite allows 32,766).
const CHAT_ROWS_PER_INSERT: usize = 1000;

/// An open workspace directory.
pub struct Workspace {
    dir: PathBuf,
    /// The `staging.db` pool.
    pub pool: SqlitePool,
    /// Direct readers of `staging.db` for the history (see [`crate::lite`]).
    readers: crate::lite::Readers,
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
        for sub in ["", "reports", "rejects", "scripts"] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", db_path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .with_context(|| format!("cannot open {}", db_path.display()))?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await.context("creating the staging schema")?;
        Ok(Workspace { dir: dir.to_path_buf(), pool, readers: crate::lite::Readers::new(db_path) })
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

    /// Replaces the configuration snapshot.
    pub async fn save_snapshot(&self, s: &Snapshot) -> Result<()> {
        let body = serde_json::to_string(s)?;
        sqlx::query("INSERT OR REPLACE INTO snapshot (section, body) VALUES ('config', ?1)")
            .bind(body)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Loads the configuration snapshot, or says to run `extract`.
    pub async fn load_snapshot(&self) -> Result<Snapshot> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM snapshot WHERE section = 'config'")
                .fetch_optional(&self.pool)
                .await?;
        let body = body.ok_or_else(|| {
            bad_input(format!(
                "workspace {} holds no snapshot yet: run `gcmigrate extract` first",
                self.dir.display()
            ))
        })?;
        serde_json::from_str(&body).context("the staging snapshot is unreadable")
    }

    /// Removes every staged history row (before a full extract).
    pub async fn clear_chats(&self) -> Result<()> {
        sqlx::query("DELETE FROM snap_chat").execute(&self.pool).await?;
        sqlx::query("DELETE FROM watermark").execute(&self.pool).await?;
        Ok(())
    }

    /// Stages a batch of history rows in one transaction; existing keys are kept.
    pub async fn insert_chats(&self, rows: &[Chat]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(CHAT_ROWS_PER_INSERT) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT OR IGNORE INTO snap_chat (channel_id, chat_id, chat_date, user_id, is_alert, content) ",
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

    /// Records each room's highest staged `chatId` as its watermark.
    pub async fn update_watermarks(&self) -> Result<()> {
        let now = chrono::Utc::now().to_rfc3339();
        sqlx::query(
            "INSERT OR REPLACE INTO watermark (channel_id, last_chat_id, extracted_at) \
             SELECT channel_id, MAX(chat_id), ?1 FROM snap_chat GROUP BY channel_id",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Per-room watermarks from the last extract.
    pub async fn watermarks(&self) -> Result<Watermarks> {
        let rows = sqlx::query("SELECT channel_id, last_chat_id FROM watermark")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1))).collect())
    }

    /// Staged history count per room.
    pub async fn chat_counts(&self) -> Result<BTreeMap<i64, u64>> {
        let rows = sqlx::query("SELECT channel_id, COUNT(*) FROM snap_chat GROUP BY channel_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1) as u64)).collect())
    }

    /// Staged history of one room with `chatId` in (`after`, ...], at most `limit` rows.
    pub async fn chats_after(&self, room: i64, after: i64, limit: i64) -> Result<Vec<Chat>> {
        crate::lite::blocking(|| {
            self.readers.with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT channel_id, chat_id, chat_date, user_id, is_alert, content FROM snap_chat \
                     WHERE channel_id = ?1 AND chat_id > ?2 ORDER BY chat_id LIMIT ?3",
                )?;
                let rows = st.query_map((room, after, limit), crate::lite::chat)?;
                Ok(rows.collect::<rusqlite::Result<Vec<Chat>>>()?)
            })
        })
        .context("reading the staged history")
    }

    /// Streams the staged history of one room in `chatId` order to `f`.
    pub async fn for_each_chat(&self, room: i64, f: impl FnMut(Chat)) -> Result<()> {
        crate::lite::blocking(|| self.for_each_chat_sync(room, f))
    }

    /// [`Workspace::for_each_chat`] for synchronous callers (e.g. rayon workers).
    pub fn for_each_chat_sync(&self, room: i64, mut f: impl FnMut(Chat)) -> Result<()> {
        self.readers
            .with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT channel_id, chat_id, chat_date, user_id, is_alert, content FROM snap_chat \
                     WHERE channel_id = ?1 ORDER BY chat_id",
                )?;
                let mut rows = st.query([room])?;
                while let Some(r) = rows.next()? {
                    f(crate::lite::chat(r)?);
                }
                Ok(())
            })
            .context("reading the staged history")
    }

    /// Staged messages per (room, author) with the counts the message rules need.
    pub async fn author_counts(&self, since: Option<i64>) -> Result<Vec<AuthorCounts>> {
        let rows = sqlx::query(
            "SELECT channel_id, user_id, COUNT(*), \
             SUM(CASE WHEN chat_date < 0 OR chat_date > ?1 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN chat_date >= 0 AND chat_date <= ?1 AND chat_date < ?2 THEN 1 ELSE 0 END) \
             FROM snap_chat GROUP BY channel_id, user_id ORDER BY channel_id, user_id",
        )
        .bind(crate::model::MAX_TICKS)
        .bind(since.unwrap_or(i64::MIN))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AuthorCounts {
                channel_id: r.get(0),
                user_id: r.get(1),
                total: r.get::<i64, _>(2) as u64,
                bad_date: r.get::<i64, _>(3) as u64,
                before_since: r.get::<i64, _>(4) as u64,
            })
            .collect())
    }

    /// Stores the resolved plan (JSON).
    pub async fn save_plan(&self, body: &str) -> Result<()> {
        sqlx::query("INSERT OR REPLACE INTO plan (id, body) VALUES (1, ?1)")
            .bind(body)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Loads the resolved plan (JSON), or says to run `plan`.
    pub async fn load_plan(&self) -> Result<String> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM plan WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        body.ok_or_else(|| bad_input("the workspace holds no plan yet: run `gcmigrate plan` first"))
    }

    /// Appends a journal entry of a load run.
    pub async fn journal(&self, run_id: &str, wave: &str, kind: &str, body: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO journal (run_id, wave, seq, kind, body) VALUES \
             (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE run_id = ?1), ?3, ?4)",
        )
        .bind(run_id)
        .bind(wave)
        .bind(kind)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

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
