//! [`Tx`]: statements inside one open transaction, for writers that build their own
//! statements (the synthetic-data generator). On SQLite and PostgreSQL; a SQL Server
//! database is written through [`TargetDb::apply`](super::TargetDb::apply) only.

use anyhow::{Context, Result};

use super::conn::bind;
use super::{Conn, Value};

/// An open transaction on one connection.
pub struct Tx(sqlx::Transaction<'static, sqlx::Any>);

impl Conn {
    /// Begins a transaction on one of the connections.
    pub async fn begin(&self) -> Result<Tx> {
        match self {
            Conn::Sqlite(db, _) | Conn::Postgres(db) => Ok(Tx(db
                .pool
                .begin()
                .await
                .with_context(|| format!("beginning a transaction on {}", db.url))?)),
            #[cfg(feature = "mssql")]
            Conn::Mssql(_, url) => Err(crate::error::bad_input(format!(
                "{url} is a SQL Server database: this writes sqlite:// or postgres:// databases"
            ))),
        }
    }
}

impl Tx {
    /// Runs one statement; without parameters it is sent as text, unprepared (a statement
    /// of literals runs once). Returns the rows affected.
    pub async fn execute(&mut self, what: &str, sql: &str, params: &[Value]) -> Result<u64> {
        let done = if params.is_empty() {
            sqlx::raw_sql(sql).execute(&mut *self.0).await
        } else {
            bind(sqlx::query(sql), params).execute(&mut *self.0).await
        };
        Ok(done.with_context(|| what.to_string())?.rows_affected())
    }

    /// Commits.
    pub async fn commit(self) -> Result<()> {
        Ok(self.0.commit().await?)
    }
}
