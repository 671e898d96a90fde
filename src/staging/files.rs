//! The file inventory and the copy journal (`staging.db`), and the one streaming pass over
//! the staged history that finds the messages holding `ma-filelink:` links.
//!
//! `file_link`: every link of every planned message, one row per (room, chatId, n-th
//! link), rewritten whole by each `plan`, with the file's size and SHA-256 when the plan
//! was given the legacy repository (`--files-from`). `file_copy`: what `gcmigrate files`
//! copied into a file store, per destination root and path, with the SHA-256 it verified;
//! a row is written only after the file was renamed into place, so a killed copy resumes
//! after the last verified file.

use anyhow::{Context, Result};
use sqlx::Row;

use super::Workspace;

const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS file_link (
  channel_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  room_guid TEXT NOT NULL, room_path TEXT NOT NULL, wave TEXT NOT NULL, link TEXT NOT NULL,
  kind TEXT NOT NULL, host TEXT NOT NULL, rel_path TEXT NOT NULL,
  size INTEGER, sha256 TEXT, PRIMARY KEY (channel_id, chat_id, seq));
CREATE TABLE IF NOT EXISTS file_copy (
  root TEXT NOT NULL, rel_path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  copied_at TEXT NOT NULL, PRIMARY KEY (root, rel_path));";

/// One link of the inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileLinkRow {
    /// Legacy room (`channelId`).
    pub channel_id: i64,
    /// The message.
    pub chat_id: i64,
    /// The link's place among the message's links (0, 1, …).
    pub seq: i64,
    /// Legacy room GUID.
    pub room_guid: String,
    /// Legacy room path.
    pub room_path: String,
    /// The room's wave.
    pub wave: String,
    /// The link as written.
    pub link: String,
    /// `store`, `foreign` or `bad-path` ([`crate::files::link::Kind::name`]).
    pub kind: String,
    /// The link's host (lower case; empty when it has none).
    pub host: String,
    /// Path below the repository root (`store` links), else empty.
    pub rel_path: String,
    /// Size in bytes, when the plan saw the file.
    pub size: Option<i64>,
    /// SHA-256 (hex), when the plan saw the file.
    pub sha256: Option<String>,
}

/// A message that holds a link, as the scan hands it over (borrowed).
#[derive(Debug, Clone, Copy)]
pub struct LinkMessage<'a> {
    /// `channelId`.
    pub channel_id: i64,
    /// `chatId`.
    pub chat_id: i64,
    /// `chatDate`.
    pub chat_date: i64,
    /// `userId`.
    pub user_id: i64,
    /// The content as stored.
    pub content: &'a [u8],
}

impl Workspace {
    async fn files_schema(&self) -> Result<()> {
        sqlx::raw_sql(SCHEMA).execute(&self.pool).await.context("creating the file tables")?;
        Ok(())
    }

    /// Starts, on a thread of its own, one pass over the staged history that hands every
    /// message whose content holds `needle` to `f` (itself on several threads, each over
    /// its own part of the rooms; SQLite skips the other messages, so memory does not grow
    /// with the history; after a delta only the rows staged since are scanned, see
    /// `link_cache.rs`). The caller goes on meanwhile and joins the handle; the messages
    /// come in no particular order.
    pub fn spawn_history_scan<T: Send + 'static>(
        &self,
        needle: &str,
        f: impl Fn(LinkMessage<'_>, &mut Vec<T>) + Send + Sync + 'static,
    ) -> std::thread::JoinHandle<Result<Vec<T>>> {
        let readers = crate::db::lite::Readers::new(self.history_path());
        let staging = self.staging_file();
        // GLOB: case-sensitive like the grammar, and as cheap as reading the content.
        let pattern = format!("*{}*", needle.replace(['*', '?', '['], ""));
        std::thread::spawn(move || {
            super::link_cache::scan(&readers, &staging, &pattern, &f)
                .context("scanning the staged history for file links")
        })
    }

    /// Replaces the inventory with `rows` (one transaction, one prepared statement: a
    /// million-message history may hold tens of thousands of links).
    pub async fn replace_file_links(&self, rows: &[FileLinkRow]) -> Result<()> {
        self.files_schema().await?;
        let path = self.dir.join("staging.db");
        crate::db::lite::blocking(|| {
            let mut c = crate::db::lite::open(&path, true, false)?;
            let tx = c.transaction()?;
            tx.execute("DELETE FROM file_link", [])?;
            {
                let mut st = tx.prepare(
                    "INSERT INTO file_link (channel_id, chat_id, seq, room_guid, room_path, wave, link, \
                     kind, host, rel_path, size, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?;
                for r in rows {
                    st.execute(rusqlite::params![
                        r.channel_id,
                        r.chat_id,
                        r.seq,
                        r.room_guid,
                        r.room_path,
                        r.wave,
                        r.link,
                        r.kind,
                        r.host,
                        r.rel_path,
                        r.size,
                        r.sha256
                    ])?;
                }
            }
            tx.commit()?;
            anyhow::Ok(())
        })
        .context("recording the file inventory")
    }

    /// The inventory's links of `wave` (`None`: every wave), in (room, chatId, n) order.
    pub async fn file_links(&self, wave: Option<&str>) -> Result<Vec<FileLinkRow>> {
        self.files_schema().await?;
        let rows = sqlx::query(
            "SELECT channel_id, chat_id, seq, room_guid, room_path, wave, link, kind, host, \
             rel_path, size, sha256 FROM file_link WHERE ?1 IS NULL OR wave = ?1 \
             ORDER BY channel_id, chat_id, seq",
        )
        .bind(wave)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FileLinkRow {
                    channel_id: r.try_get(0)?,
                    chat_id: r.try_get(1)?,
                    seq: r.try_get(2)?,
                    room_guid: r.try_get(3)?,
                    room_path: r.try_get(4)?,
                    wave: r.try_get(5)?,
                    link: r.try_get(6)?,
                    kind: r.try_get(7)?,
                    host: r.try_get(8)?,
                    rel_path: r.try_get(9)?,
                    size: r.try_get(10)?,
                    sha256: r.try_get(11)?,
                })
            })
            .collect()
    }

    /// Records that `rel_path` is in place below `root` with this checksum.
    pub async fn record_file_copy(
        &self,
        root: &str,
        rel_path: &str,
        sha256: &str,
        size: u64,
    ) -> Result<()> {
        self.files_schema().await?;
        sqlx::query(
            "INSERT INTO file_copy (root, rel_path, sha256, size, copied_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (root, rel_path) DO UPDATE SET sha256 = ?3, size = ?4, copied_at = ?5",
        )
        .bind(root)
        .bind(rel_path)
        .bind(sha256)
        .bind(size as i64)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await
        .context("recording a copied file")?;
        Ok(())
    }

    /// The copy journal: (root, path) → (SHA-256, size), every root.
    pub async fn file_copies(&self) -> Result<Vec<(String, String, String, u64)>> {
        self.files_schema().await?;
        let rows = sqlx::query(
            "SELECT root, rel_path, sha256, size FROM file_copy ORDER BY root, rel_path",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get::<i64, _>(3)? as u64))
            })
            .collect()
    }
}
