//! The target a rollback reads its keys from and runs its script on: SQLite and
//! PostgreSQL through sqlx, SQL Server through one tiberius session.

use std::collections::HashMap;

use anyhow::Result;

use super::keys::{self, LoadedWave, NodeRefs};
use super::Executed;
use crate::db::{Db, DbUrl, OpenMode};

/// An open rollback target.
pub(super) enum Conn {
    Sql(Db),
    #[cfg(feature = "mssql")]
    Mssql(Box<crate::db::mssql::Session>),
}

impl Conn {
    /// Connects (a failure is one line and exit 3).
    pub(super) async fn open(url: &DbUrl) -> Result<Conn> {
        match url.dialect() {
            #[cfg(feature = "mssql")]
            crate::db::Dialect::Mssql => {
                Ok(Conn::Mssql(Box::new(crate::db::mssql::Session::connect(url).await?)))
            }
            // Without the feature, Db::connect refuses SQL Server with a clear message.
            _ => Ok(Conn::Sql(Db::connect(url, OpenMode::Existing, 2).await?)),
        }
    }

    /// Every configuration load the target's ledger holds, oldest first.
    pub(super) async fn ledger(&mut self) -> Result<Vec<LoadedWave>> {
        match self {
            Conn::Sql(db) => keys::from_ledger(db).await,
            #[cfg(feature = "mssql")]
            Conn::Mssql(s) => super::mssql::from_ledger(s).await,
        }
    }

    /// Parent, add-in and author of every node in the target.
    pub(super) async fn node_refs(&mut self) -> Result<HashMap<i64, NodeRefs>> {
        match self {
            Conn::Sql(db) => keys::node_refs(db).await,
            #[cfg(feature = "mssql")]
            Conn::Mssql(s) => super::mssql::node_refs(s).await,
        }
    }

    /// Runs a rendered script (it has its own transaction).
    pub(super) async fn execute(&mut self, script: &str) -> Result<Executed> {
        match self {
            Conn::Sql(db) => super::exec::execute(db, script).await,
            #[cfg(feature = "mssql")]
            Conn::Mssql(s) => super::mssql::execute(s, script).await,
        }
    }

    /// Where it points, for messages (no credentials).
    pub(super) fn label(&self) -> String {
        match self {
            Conn::Sql(db) => db.url.to_string(),
            #[cfg(feature = "mssql")]
            Conn::Mssql(s) => format!("SQL Server {}", s.label()),
        }
    }

    /// Closes the connections.
    pub(super) async fn close(self) {
        match self {
            Conn::Sql(db) => db.pool.close().await,
            #[cfg(feature = "mssql")]
            Conn::Mssql(s) => s.close().await,
        }
    }
}
