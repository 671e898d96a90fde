//! A small pool of SQL Server sessions and the backend primitives over it: stream rows,
//! run a statement, probe a table, run statements in one transaction. Statements are
//! written with `$n` placeholders, as for the other engines, and renamed `@Pn` here.
//!
//! Every failure is one runtime line naming the server ([`ConnSpec::label`]), scrubbed of
//! the password; permission errors say what to GRANT.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use tiberius::error::Error as TdsError;
use tiberius::{ColumnData, Query};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{batch, connect_spec, has_columns, scrub, statement_error, Client, ConnSpec, Param};
use crate::db::scan::ByteCells;
use crate::db::{DbUrl, Value};

/// Opens a batch's transaction.
pub const BEGIN: &str = "BEGIN TRANSACTION";
/// Commits it.
pub const COMMIT: &str = "COMMIT TRANSACTION";
/// Undoes it after a failure.
pub const ROLLBACK: &str = "ROLLBACK TRANSACTION";

/// Up to `conns` sessions to one database, opened on demand and reused.
pub struct Pool {
    spec: ConnSpec,
    label: String,
    init: Option<&'static str>,
    idle: Mutex<Vec<Client>>,
    slots: Semaphore,
}

impl Pool {
    /// Connects once (to fail fast with a clear message); `init` runs on every new session
    /// (the source's isolation level).
    /// With a failover partner, the pool keeps to the server that answered first.
    pub async fn open(url: &DbUrl, conns: u32, init: Option<&'static str>) -> Result<Pool> {
        let (first, spec) = super::failover::connect_answering(&ConnSpec::parse(url)?).await?;
        let pool = Pool {
            label: spec.label(),
            spec,
            init,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(conns.max(1) as usize),
        };
        let first = pool.set_up(first).await?;
        pool.give_back(first);
        Ok(pool)
    }

    async fn connect(&self) -> Result<Client> {
        self.set_up(connect_spec(&self.spec).await?).await
    }

    /// Runs the session's `init` statement.
    async fn set_up(&self, mut c: Client) -> Result<Client> {
        if let Some(sql) = self.init {
            batch(&mut c, sql).await.map_err(|e| self.error("setting up the session", &e))?;
        }
        Ok(c)
    }

    /// `host[:port]/database`, without credentials.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A failed statement as one runtime line (permission errors say what to GRANT).
    pub fn error(&self, what: &str, e: &TdsError) -> anyhow::Error {
        let msg = format!("{:#}", statement_error(&self.label, what, e));
        crate::error::runtime(scrub(&msg, self.spec.password()))
    }

    /// A session of the pool, with the permit that holds its slot.
    pub async fn take(&self) -> Result<(SemaphorePermit<'_>, Client)> {
        let permit =
            self.slots.acquire().await.context("the SQL Server connection pool is closed")?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let client = match idle {
            Some(c) => c,
            None => self.connect().await?,
        };
        Ok((permit, client))
    }

    /// Returns a session that is still usable.
    pub fn give_back(&self, c: Client) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(c);
    }

    /// Keeps the session unless the error broke it (a server error leaves it usable).
    fn keep<T>(&self, c: Client, r: &Result<T, TdsError>) {
        if matches!(r, Ok(_) | Err(TdsError::Server(_))) {
            self.give_back(c);
        }
    }

    /// Streams the rows of `sql` into `f`, one at a time; the server's error is kept for
    /// the caller to classify (the outer error is a failed connect or `f`'s own).
    pub async fn try_each_row(
        &self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&dyn ByteCells) -> Result<()>,
    ) -> Result<Result<(), TdsError>> {
        let (_permit, mut c) = self.take().await?;
        let sql = placeholders(sql);
        let mut failed = None;
        let r: Result<(), TdsError> = async {
            let mut rows = query(&sql, params).query(&mut c).await?.into_row_stream();
            while let Some(row) = rows.try_next().await? {
                let cells: Vec<ColumnData<'static>> = row.into_iter().collect();
                if failed.is_none() {
                    if let Err(e) = f(&cells) {
                        failed = Some(e);
                    }
                }
            }
            Ok(())
        }
        .await;
        self.keep(c, &r);
        match failed {
            Some(e) => Err(e),
            None => Ok(r),
        }
    }

    /// Streams the rows of `sql` into `f`; `what` names the statement in an error.
    pub async fn each_row(
        &self,
        what: &str,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&dyn ByteCells) -> Result<()>,
    ) -> Result<()> {
        let r = self.try_each_row(sql, params, f).await;
        let r = r.with_context(|| format!("{what} on SQL Server {}", self.label))?;
        r.map_err(|e| self.error(what, &e))
    }

    /// Runs a statement; returns the rows affected.
    pub async fn execute(&self, what: &str, sql: &str, params: &[Value]) -> Result<u64> {
        let (_permit, mut c) = self.take().await?;
        let sql = placeholders(sql);
        let r = async { Ok(query(&sql, params).execute(&mut c).await?.total()) }.await;
        self.keep(c, &r);
        r.map_err(|e| self.error(what, &e))
    }

    /// Whether `table` has the columns `cols`; a permission error is an error, not "absent".
    pub async fn has_columns(&self, table: &str, cols: &str) -> Result<bool> {
        let (_permit, mut c) = self.take().await?;
        let r = has_columns(&mut c, table, cols).await;
        self.keep(c, &r);
        r.map_err(|e| self.error(&format!("reading {table}"), &e))
    }

    /// Runs `statements` (parameterless batches) in one transaction, rolled back on failure.
    pub async fn run_in_transaction(&self, what: &str, statements: &[String]) -> Result<()> {
        let (_permit, mut c) = self.take().await?;
        let mut result = batch(&mut c, BEGIN).await;
        for s in statements {
            if result.is_err() {
                break;
            }
            result = batch(&mut c, s).await;
        }
        if result.is_ok() {
            result = batch(&mut c, COMMIT).await;
        }
        match result {
            Ok(()) => {
                self.give_back(c);
                Ok(())
            }
            Err(e) => {
                let undone =
                    tokio::time::timeout(Duration::from_secs(10), batch(&mut c, ROLLBACK)).await;
                if matches!(undone, Ok(Ok(()))) {
                    self.give_back(c);
                }
                Err(self.error(what, &e))
            }
        }
    }

    /// Closes every idle session.
    pub async fn close(self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for c in idle {
            let _ = c.close().await;
        }
    }
}

/// A query with its parameters bound: integers as `int` when they fit (so a seek on an
/// `int` key stays a seek) and `bigint` otherwise, text as `nvarchar`.
pub(crate) fn query<'a>(sql: &'a str, params: &'a [Value]) -> Query<'a> {
    let mut q = Query::new(Cow::Borrowed(sql));
    for v in params {
        q.bind(Param(match v {
            Value::Int(i) => match i32::try_from(*i) {
                Ok(small) => ColumnData::I32(Some(small)),
                Err(_) => ColumnData::I64(Some(*i)),
            },
            Value::Text(s) => ColumnData::String(Some(Cow::Borrowed(s.as_str()))),
            Value::Null => ColumnData::I32(None),
        }));
    }
    q
}

/// Renames `$1`, `$2` … to `@P1`, `@P2` … outside string literals and quoted names.
pub fn placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '[' => {
                quote = Some(']');
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push_str("@P");
            }
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Cells;

    #[test]
    fn placeholders_become_at_p_outside_literals() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = $1 AND c = '$2' AND [d$3] = $12"),
            "SELECT a FROM t WHERE b = @P1 AND c = '$2' AND [d$3] = @P12"
        );
        assert!(matches!(placeholders("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn tiberius_rows_read_through_cells() {
        let row: Vec<ColumnData<'static>> =
            vec![ColumnData::I16(Some(4)), ColumnData::String(None), ColumnData::Bit(Some(true))];
        let cells: &dyn Cells = &row;
        assert_eq!(cells.int(0).unwrap(), 4);
        assert_eq!(cells.opt_text(1).unwrap(), None);
        assert!(cells.text(1).is_err());
        assert_eq!(cells.opt_int(2).unwrap(), Some(1));
    }
}
