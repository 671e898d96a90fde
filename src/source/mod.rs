//! Reading a legacy Group Chat database: version detection, the configuration snapshot
//! and the history stream.
//!
//! [`SourceDb`] dispatches on the backend; the SQLite/PostgreSQL reader lives in
//! `sqlx.rs`. Every query names its columns explicitly (Microsoft does not support
//! `SELECT *` on these schemas) and the source is only ever read.

#[cfg(feature = "mssql")]
pub mod mssql;
mod sqlx;

use anyhow::Result;
use tokio::sync::mpsc;

use crate::db::{Db, DbUrl, Dialect, OpenMode};
use crate::model::{Chat, Snapshot, SourceVersion};

pub use self::sqlx::detect_version;

/// A connected legacy database.
pub enum SourceDb {
    /// SQLite or PostgreSQL copy of a legacy database.
    Sqlx(Db),
    /// The live legacy database on SQL Server (tiberius).
    #[cfg(feature = "mssql")]
    Mssql(Box<self::mssql::MssqlSource>),
}

impl SourceDb {
    /// Connects to the legacy database at `url`.
    pub async fn connect(url: &DbUrl) -> Result<SourceDb> {
        match url.dialect() {
            Dialect::Sqlite | Dialect::Postgres => {
                Ok(SourceDb::Sqlx(Db::connect(url, OpenMode::Existing, 4).await?))
            }
            #[cfg(feature = "mssql")]
            Dialect::Mssql => Ok(SourceDb::Mssql(Box::new(self::mssql::MssqlSource::connect(url).await?))),
            #[cfg(not(feature = "mssql"))]
            Dialect::Mssql => Err(crate::error::bad_input(format!(
                "{url} is a SQL Server database, and this gcmigrate was built without the `mssql` feature"
            ))),
        }
    }

    /// Detects the product version, refusing anything that is not Group Chat.
    pub async fn version(&self) -> Result<SourceVersion> {
        match self {
            SourceDb::Sqlx(db) => detect_version(db).await,
            #[cfg(feature = "mssql")]
            SourceDb::Mssql(src) => src.detect_version().await,
        }
    }

    /// Reads everything except the history.
    pub async fn snapshot(&self, version: SourceVersion) -> Result<Snapshot> {
        match self {
            SourceDb::Sqlx(db) => self::sqlx::read_snapshot(db, version).await,
            #[cfg(feature = "mssql")]
            SourceDb::Mssql(src) => src.read_snapshot(version).await,
        }
    }

    /// The number of history rows past the watermarks (for progress totals).
    pub async fn count_chats(&self, after: &Watermarks) -> Result<u64> {
        match self {
            SourceDb::Sqlx(db) => self::sqlx::count_chats(db, after).await,
            #[cfg(feature = "mssql")]
            SourceDb::Mssql(src) => src.count_chats(after).await,
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
            #[cfg(feature = "mssql")]
            SourceDb::Mssql(src) => src.stream_chats(after, batch, tx).await,
        }
    }

    /// Closes the connections.
    pub async fn close(self) {
        match self {
            SourceDb::Sqlx(db) => db.pool.close().await,
            #[cfg(feature = "mssql")]
            SourceDb::Mssql(src) => (*src).close().await,
        }
    }
}

/// Per-room highest `chatId` already extracted; empty for a full extract.
pub type Watermarks = std::collections::BTreeMap<i64, i64>;
