//! Reading a legacy Group Chat database: version detection, the configuration snapshot
//! and the history stream.
//!
//! [`SourceDb`] dispatches on the backend; the SQLite/PostgreSQL reader lives in
//! `sqlx.rs`. Every query names its columns explicitly (Microsoft does not support
//! `SELECT *` on these schemas) and the source is only ever read.

mod sqlx;

use anyhow::Result;
use tokio::sync::mpsc;

use crate::db::{Db, DbUrl, Dialect, OpenMode};
use crate::error::bad_input;
use crate::model::{Chat, Snapshot, SourceVersion};

pub use self::sqlx::detect_version;

/// A connected legacy database.
pub enum SourceDb {
    /// SQLite or PostgreSQL copy of a legacy database.
    Sqlx(Db),
}

impl SourceDb {
    /// Connects to the legacy database at `url`.
    pub async fn connect(url: &DbUrl) -> Result<SourceDb> {
        match url.dialect() {
            Dialect::Sqlite | Dialect::Postgres => {
                Ok(SourceDb::Sqlx(Db::connect(url, OpenMode::Existing, 4).await?))
            }
            Dialect::Mssql => Err(bad_input(format!(
                "reading a SQL Server source ({url}) is not built yet: restore the legacy \
                 database into SQLite or PostgreSQL for now"
            ))),
        }
    }

    /// Detects the product version, refusing anything that is not Group Chat.
    pub async fn version(&self) -> Result<SourceVersion> {
        match self {
            SourceDb::Sqlx(db) => detect_version(db).await,
        }
    }

    /// Reads everything except the history.
    pub async fn snapshot(&self, version: SourceVersion) -> Result<Snapshot> {
        match self {
            SourceDb::Sqlx(db) => self::sqlx::read_snapshot(db, version).await,
        }
    }

    /// The number of history rows past the watermarks (for progress totals).
    pub async fn count_chats(&self, after: &Watermarks) -> Result<u64> {
        match self {
            SourceDb::Sqlx(db) => self::sqlx::count_chats(db, after).await,
        }
    }

    /// Streams history rows past the watermarks, in (room, chatId) order, in batches.
    pub async fn stream_chats(
        &self,
        after: &Watermarks,
        batch: usize,
        tx: mpsc::Sender<Vec<Chat>>,
    ) -> Result<()> {
        match self {
            SourceDb::Sqlx(db) => self::sqlx::stream_chats(db, after, batch, tx).await,
        }
    }

    /// Closes the connections.
    pub async fn close(self) {
        match self {
            SourceDb::Sqlx(db) => db.pool.close().await,
        }
    }
}

/// Per-room highest `chatId` already extracted; empty for a full extract.
pub type Watermarks = std::collections::BTreeMap<i64, i64>;
