//! Running a rendered rollback script on the target, whatever its engine.
//!
//! The script carries its own transaction (and, on SQL Server, `SET XACT_ABORT ON`), and
//! the PostgreSQL one `DO $$ … $$` guards with `;` inside, so it goes to the target whole
//! ([`Conn::run_whole_script`]), which stops at the first error and ends the transaction.
//! A guard's refusal is recognised by its token in the server's message.

use anyhow::Result;
use serde::Serialize;

use super::Guard;
use crate::db::Conn;
use crate::error::runtime;

/// How running a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Executed {
    /// Every statement ran and the transaction committed.
    Committed,
    /// A guard refused; the transaction was rolled back and nothing was deleted.
    Refused(Guard),
}

/// Runs `script` on `db`; a guard's refusal is an outcome, not an error.
pub(super) async fn execute(db: &Conn, script: &str) -> Result<Executed> {
    let Err(failed) = db.run_whole_script("running the rollback script", script).await? else {
        return Ok(Executed::Committed);
    };
    if let Some(g) = Guard::ALL.into_iter().find(|g| failed.message.contains(g.token())) {
        return Ok(Executed::Refused(g));
    }
    let state = if failed.rolled_back { "rolled back" } else { "left to the server to roll back" };
    Err(runtime(format!(
        "{:#}; the script's transaction was {state} (nothing was deleted)",
        failed.error
    )))
}
