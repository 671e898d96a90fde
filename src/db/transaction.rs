//! Two transaction primitives on every engine, beside [`Conn::run_script`] (which splits a
//! script and wraps it in a transaction of its own) and [`Conn::begin`] (an open
//! transaction, SQLite and PostgreSQL only, which the first one uses there):
//!
//! - [`Conn::execute_each`]: one statement run once for each parameter set, in one
//!   transaction, with a step of the caller's between the last statement and the commit
//!   (the freeze journals what it changed there, so no commit goes unjournaled);
//! - [`Conn::run_whole_script`]: a script that carries its own `BEGIN`/`COMMIT`, sent as
//!   one text — a rollback script, whose PostgreSQL guards are `DO $$ … $$` blocks with
//!   `;` inside, so it is neither split nor wrapped — and ended with a `ROLLBACK` when it
//!   fails, on a connection that is then closed rather than reused.

use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::Connection;

use super::{redact, Conn, Value};
use crate::error::runtime;

/// T-SQL that ends a transaction a failed script may have left open (none once
/// `XACT_ABORT` has rolled it back).
pub const ROLLBACK_IF_OPEN: &str = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION";

/// How long ending a failed transaction may take before it is left to the server (which
/// rolls it back when the connection closes).
pub(super) const ROLLBACK_WAIT: Duration = Duration::from_secs(10);

/// How a script run by [`Conn::run_whole_script`] failed.
#[derive(Debug)]
pub struct ScriptFailed {
    /// The failure as one runtime line naming the database, without credentials
    /// (permission errors say what to GRANT).
    pub error: anyhow::Error,
    /// The server's own text, redacted: what the script's `RAISE`/`RAISERROR` said.
    pub message: String,
    /// Whether the transaction was ended here; `false`: left to the server.
    pub rolled_back: bool,
}

impl Conn {
    /// Runs `sql` once for each parameter set of `params`, in one transaction; then
    /// `before_commit` with the rows each run affected, and commits only when it succeeds.
    /// Any failure rolls the whole transaction back; `what` names the statement in an error.
    pub async fn execute_each<T>(
        &self,
        what: &str,
        sql: &str,
        params: &[Vec<Value>],
        before_commit: impl AsyncFnOnce(Vec<u64>) -> Result<T>,
    ) -> Result<T> {
        let steps: Vec<(String, Vec<Value>)> =
            params.iter().map(|p| (sql.to_string(), p.clone())).collect();
        self.execute_steps(what, &steps, before_commit).await
    }

    /// Runs `script`, which opens and commits its own transaction, as one text on one
    /// connection; it stops at the first error. The outer error is a failed connect; a
    /// failed script is a [`ScriptFailed`], its transaction ended here when possible.
    pub async fn run_whole_script(
        &self,
        what: &str,
        script: &str,
    ) -> Result<Result<(), ScriptFailed>> {
        match self {
            Conn::Sqlite(db, _) | Conn::Postgres(db) => {
                let acquired = db.pool.acquire().await;
                let conn = acquired.with_context(|| format!("connecting to {}", db.url))?;
                let mut conn = conn.detach();
                let Err(e) = sqlx::raw_sql(script).execute(&mut conn).await else {
                    conn.close().await.ok();
                    return Ok(Ok(()));
                };
                // The failed statement left the transaction open (SQLite) or aborted
                // (PostgreSQL): end it, then drop the connection rather than reuse it.
                let ended = tokio::time::timeout(
                    ROLLBACK_WAIT,
                    sqlx::raw_sql("ROLLBACK").execute(&mut conn),
                )
                .await;
                conn.close().await.ok();
                let message = redact(&e.to_string());
                Ok(Err(ScriptFailed {
                    error: runtime(format!("{what} failed on {}: {message}", db.url)),
                    message,
                    rolled_back: matches!(ended, Ok(Ok(_))),
                }))
            }
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => {
                use super::mssql::batch;
                let (_permit, mut c) = pool.take().await?;
                let Err(e) = batch(&mut c, script).await else {
                    pool.give_back(c);
                    return Ok(Ok(()));
                };
                let ended =
                    tokio::time::timeout(ROLLBACK_WAIT, batch(&mut c, ROLLBACK_IF_OPEN)).await;
                let _ = c.close().await;
                Ok(Err(ScriptFailed {
                    error: pool.error(what, &e),
                    message: redact(&e.to_string()),
                    rolled_back: matches!(ended, Ok(Ok(()))),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{DbUrl, OpenMode};

    async fn sqlite(dir: &std::path::Path) -> Conn {
        let url = DbUrl::parse(&format!("sqlite://{}", dir.join("t.db").display())).unwrap();
        let conn = Conn::open(&url, OpenMode::Create, 2, None).await.unwrap();
        conn.run_script(
            "setup",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, on_ INTEGER NOT NULL); \
             INSERT INTO t VALUES (1, 1), (2, 0), (3, 1);",
        )
        .await
        .unwrap();
        conn
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn execute_each_commits_only_when_the_step_before_commit_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let conn = sqlite(dir.path()).await;
        let sql = "UPDATE t SET on_ = 0 WHERE id = $1 AND on_ = 1";
        let ids = [1, 2, 3].map(|i| vec![Value::Int(i)]);
        let count = "SELECT COUNT(*) FROM t WHERE on_ = 1";
        let failed: Result<()> =
            conn.execute_each("t", sql, &ids, async |_| anyhow::bail!("journal is full")).await;
        assert!(failed.is_err());
        assert_eq!(conn.scalar("t", count, &[]).await.unwrap(), Some(2), "rolled back");
        let affected = conn.execute_each("t", sql, &ids, async |n| Ok(n)).await.unwrap();
        assert_eq!(affected, [1, 0, 1]);
        assert_eq!(conn.scalar("t", count, &[]).await.unwrap(), Some(0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_whole_script_is_rolled_back_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let conn = sqlite(dir.path()).await;
        let script = "BEGIN IMMEDIATE; DELETE FROM t; \
             CREATE TEMP TABLE g (x INTEGER CONSTRAINT refused_here CHECK (x = 0)); \
             INSERT INTO g VALUES (1); COMMIT;";
        let failed = conn.run_whole_script("s", script).await.unwrap().unwrap_err();
        assert!(
            failed.rolled_back && failed.message.contains("refused_here"),
            "{}",
            failed.message
        );
        assert!(format!("{:#}", failed.error).starts_with("s failed on sqlite://"));
        assert_eq!(conn.scalar("t", "SELECT COUNT(*) FROM t", &[]).await.unwrap(), Some(3));
        let ok = "BEGIN; DELETE FROM t WHERE id = 2; COMMIT;";
        assert!(conn.run_whole_script("s", ok).await.unwrap().is_ok());
        assert_eq!(conn.scalar("t", "SELECT COUNT(*) FROM t", &[]).await.unwrap(), Some(2));
    }
}
