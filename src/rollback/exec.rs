//! Running a rendered rollback script on a SQLite or PostgreSQL target (SQL Server: `mssql.rs`).
//!
//! The script carries its own `BEGIN`/`COMMIT`, and the PostgreSQL one a `DO $$ … $$`
//! block with `;` inside, so it is neither split on `;` nor wrapped in a second
//! transaction (`Db::run_script` does both): it goes to one connection as one text
//! (`raw_sql`, the simple-query protocol on PostgreSQL), which stops at the first error.

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::Connection;

use super::Guard;
use crate::db::{redact, Db};
use crate::error::runtime;

/// How running a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Executed {
    /// Every statement ran and the transaction committed.
    Committed,
    /// A guard refused; the transaction was rolled back and nothing was deleted.
    Refused(Guard),
}

/// Runs `script` on `db` in one connection; a guard's refusal is an outcome, not an error.
pub(super) async fn execute(db: &Db, script: &str) -> Result<Executed> {
    let mut conn = db.pool.acquire().await.context("connecting to the target")?.detach();
    let result = sqlx::raw_sql(script).execute(&mut conn).await;
    let Err(err) = result else {
        conn.close().await.ok();
        return Ok(Executed::Committed);
    };
    // The failed statement left the script's transaction open (SQLite) or aborted
    // (PostgreSQL): end it here, then drop the connection rather than reuse it.
    let rolled_back = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
    conn.close().await.ok();
    let text = err.to_string();
    if let Some(g) = Guard::ALL.into_iter().find(|g| text.contains(g.token())) {
        return Ok(Executed::Refused(g));
    }
    let state = if rolled_back.is_ok() { "rolled back" } else { "left to the server to roll back" };
    Err(runtime(format!(
        "the rollback script failed on {} and was {state}: {}",
        db.url,
        redact(&text)
    )))
}
