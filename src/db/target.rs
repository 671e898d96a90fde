//! Load targets behind one small surface: read the target's state and ledger, and apply a
//! [`Batch`] in one transaction. SQLite uses multi-row prepared INSERTs; PostgreSQL uses
//! `COPY … FROM STDIN` for many rows of a table and INSERTs for a few (a large batch checks its
//! foreign keys once, set-based: see `pg_keys.rs`); the recording target of
//! `--dry-run` counts rows and writes nothing.
//!
//! Whole batches are retried on transient errors (a batch is one transaction, so a retry
//! can never half-apply it); anything else is a runtime failure (exit 3).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::batch::{Batch, Op, TableSpec, Ty, Value};
use crate::db::{DbUrl, Dialect};
use crate::error::runtime;

/// The ledger table the load keeps in the target.
pub const LEDGER_DDL: &str = "CREATE TABLE IF NOT EXISTS gcmigrate_ledger (\
    run_id VARCHAR(64) NOT NULL, wave VARCHAR(256) NOT NULL, kind VARCHAR(16) NOT NULL, \
    room_id BIGINT, first_chat BIGINT, last_chat BIGINT, rows_written BIGINT NOT NULL, \
    body TEXT, written_at VARCHAR(40) NOT NULL)";

/// Rows per multi-row INSERT statement (SQLite allows 32,766 parameters).
const ROWS_PER_INSERT: usize = 500;
/// From this many rows of one table on, PostgreSQL gets them through COPY.
const COPY_FROM: usize = 64;

/// Where a load writes.
pub enum TargetDb {
    /// An SQLite mgc replica (written through rusqlite, see `sqlite.rs`).
    Sqlite(super::sqlite_writer::SqliteTarget),
    /// A PostgreSQL mgc replica.
    Postgres(PgPool),
    /// `--dry-run`: counts what would be written.
    Recording(Mutex<BTreeMap<String, u64>>),
    /// A real SQL Server mgc (tiberius: bulk load for history, INSERTs for the rest).
    #[cfg(feature = "mssql")]
    Mssql(Box<super::mssql::writer::MssqlTarget>),
}

impl TargetDb {
    /// Opens the writer side of a target (`None` for a dry run).
    pub async fn open(url: &DbUrl, dry_run: bool, create: bool, conns: u32) -> Result<TargetDb> {
        if dry_run {
            return Ok(TargetDb::Recording(Mutex::new(BTreeMap::new())));
        }
        let target = match url.dialect() {
            Dialect::Sqlite => {
                let path = url.sqlite_path().unwrap_or_default();
                let t = super::sqlite_writer::SqliteTarget::open(&path, create)
                    .map_err(|e| runtime(format!("cannot open {url}: {e}")))?;
                TargetDb::Sqlite(t)
            }
            Dialect::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(conns.max(1))
                    .acquire_timeout(Duration::from_secs(15))
                    .connect(url.expose())
                    .await
                    .map_err(|e| runtime(format!("cannot connect to {url}: {}", crate::db::redact(&e.to_string()))))?;
                TargetDb::Postgres(pool)
            }
            #[cfg(feature = "mssql")]
            Dialect::Mssql => TargetDb::Mssql(Box::new(super::mssql::writer::open(url, conns).await?)),
            #[cfg(not(feature = "mssql"))]
            Dialect::Mssql => {
                return Err(crate::error::bad_input(format!("{url} is a SQL Server database, and this gcmigrate was built without the `mssql` feature")))
            }
        };
        Ok(target)
    }

    /// Whether this is a dry run.
    pub fn is_recording(&self) -> bool {
        matches!(self, TargetDb::Recording(_))
    }

    /// Rows recorded per table by a dry run.
    pub fn recorded(&self) -> BTreeMap<String, u64> {
        match self {
            TargetDb::Recording(m) => m.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            _ => BTreeMap::new(),
        }
    }

    /// Applies a batch in one transaction, retrying transient failures with backoff.
    pub async fn apply(&self, batch: &Batch) -> Result<()> {
        let mut delay = Duration::from_millis(200);
        for attempt in 1.. {
            let result = match self {
                TargetDb::Recording(m) => {
                    let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
                    for (t, n) in batch.counts() {
                        *m.entry(t).or_default() += n;
                    }
                    Ok(())
                }
                TargetDb::Sqlite(t) => crate::db::lite::blocking(|| t.apply(batch))
                    .map_err(|e| (super::sqlite_writer::is_transient(&e), e.to_string())),
                TargetDb::Postgres(pool) => {
                    apply_postgres(pool, batch).await.map_err(|e| (is_transient(&e), e.to_string()))
                }
                // SQL Server retries inside its own writer (its errors are tiberius errors).
                #[cfg(feature = "mssql")]
                TargetDb::Mssql(t) => return super::mssql::writer::apply(t, batch).await,
            };
            match result {
                Ok(()) => return Ok(()),
                Err((transient, _)) if attempt < 5 && transient => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err((transient, e)) => {
                    let what = if transient { "after 5 attempts" } else { "permanently" };
                    return Err(runtime(format!(
                        "a write to the target failed {what}: {}; nothing of this chunk was committed — \
                         fix the cause and rerun the same `gcmigrate load`, it resumes where it stopped",
                        crate::db::redact(&e)
                    )));
                }
            }
        }
        unreachable!("the retry loop returns")
    }

    /// Closes the pools.
    pub async fn close(self) {
        match self {
            TargetDb::Sqlite(_) => {}
            TargetDb::Postgres(p) => p.close().await,
            TargetDb::Recording(_) => {}
            #[cfg(feature = "mssql")]
            TargetDb::Mssql(t) => super::mssql::writer::close(*t).await,
        }
    }
}

fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            // PostgreSQL serialization failure / deadlock; SQLite BUSY (5) and LOCKED (6).
            matches!(code.as_str(), "40001" | "40P01" | "5" | "6" | "517" | "262")
        }
        _ => false,
    }
}

/// `INSERT INTO t (cols) VALUES (...), (...)` with dialect casts for GUID/datetime columns.
pub(super) fn insert_sql(t: &TableSpec, rows: usize, dialect: Dialect) -> String {
    let cols: Vec<&str> = t.cols.iter().map(|c| c.0).collect();
    let mut values = String::with_capacity(rows * t.cols.len() * 6);
    for r in 0..rows {
        values.push_str(if r == 0 { "(" } else { ", (" });
        for (c, (_, ty)) in t.cols.iter().enumerate() {
            if c > 0 {
                values.push_str(", ");
            }
            let n = r * t.cols.len() + c + 1;
            match ty {
                // SQLite gets anonymous `?` everywhere (no casts needed): sqlx resolves `$n`
                // names one by one through sqlite3_bind_parameter_name, quadratic in the
                // parameters of a statement.
                _ if dialect == Dialect::Sqlite => values.push('?'),
                Ty::Guid => values.push_str(&dialect.guid_param(n)),
                Ty::DateTime => values.push_str(&dialect.datetime_param(n)),
                Ty::Int | Ty::Text => {
                    values.push('$');
                    values.push_str(&n.to_string());
                }
            }
        }
        values.push(')');
    }
    format!("INSERT INTO {} ({}) VALUES {values}", t.name, cols.join(", "))
}

macro_rules! bind_all {
    ($q:expr, $t:expr, $rows:expr) => {{
        let mut q = $q;
        for row in $rows {
            for (v, (_, ty)) in row.iter().zip($t.cols) {
                q = match (v, ty) {
                    (Value::Int(i), _) => q.bind(*i),
                    (Value::Text(s), _) => q.bind(s.as_str()),
                    (Value::Null, Ty::Int) => q.bind(None::<i64>),
                    (Value::Null, _) => q.bind(None::<String>),
                };
            }
        }
        q
    }};
}

async fn apply_postgres(pool: &PgPool, batch: &Batch) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let checks = super::pg_keys::set_aside(&mut tx, batch).await?;
    for op in &batch.ops {
        match op {
            // COPY's text input gives a GUID or datetime column the same conversion as the
            // casts of `insert_sql`.
            Op::Insert(t, rows) if rows.len() >= COPY_FROM => {
                let cols: Vec<&str> = t.cols.iter().map(|c| c.0).collect();
                let mut copy = tx
                    .copy_in_raw(&format!("COPY {} ({}) FROM STDIN", t.name, cols.join(", ")))
                    .await?;
                let mut buf = Vec::with_capacity(64 * 1024);
                for row in rows {
                    copy_row(&mut buf, row);
                    if buf.len() >= 1 << 20 {
                        copy.send(std::mem::take(&mut buf)).await?;
                    }
                }
                if !buf.is_empty() {
                    copy.send(buf).await?;
                }
                copy.finish().await?;
            }
            Op::Insert(t, rows) => {
                for part in rows.chunks(ROWS_PER_INSERT) {
                    let sql = insert_sql(t, part.len(), Dialect::Postgres);
                    bind_all!(sqlx::query(&sql), t, part).execute(&mut *tx).await?;
                }
            }
            Op::DeleteEq(t, col, v) => {
                sqlx::query(&format!("DELETE FROM {} WHERE {col} = $1", t.name))
                    .bind(*v)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    super::pg_keys::restore(&mut tx, &checks).await?;
    tx.commit().await
}

/// Appends one row in COPY text format (tab-separated, `\N` for NULL, escapes).
fn copy_row(buf: &mut Vec<u8>, row: &[Value]) {
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        match v {
            Value::Null => buf.extend_from_slice(b"\\N"),
            Value::Int(n) => buf.extend_from_slice(n.to_string().as_bytes()),
            Value::Text(s) => {
                for b in s.bytes() {
                    match b {
                        b'\\' => buf.extend_from_slice(b"\\\\"),
                        b'\t' => buf.extend_from_slice(b"\\t"),
                        b'\n' => buf.extend_from_slice(b"\\n"),
                        b'\r' => buf.extend_from_slice(b"\\r"),
                        _ => buf.push(b),
                    }
                }
            }
        }
    }
    buf.push(b'\n');
}

#[cfg(test)]
mod tests {
    use crate::db::batch::{NODE, PRINCIPAL};
    use super::*;

    #[test]
    fn postgres_inserts_cast_guid_and_datetime_columns() {
        let sql = insert_sql(&NODE, 2, Dialect::Postgres);
        assert!(sql.contains("($1, CAST($2 AS uuid), $3"), "{sql}");
        assert!(sql.contains("CAST($19 AS uuid)"), "second row's GUID: {sql}");
        let sql = insert_sql(&PRINCIPAL, 1, Dialect::Postgres);
        assert!(sql.ends_with("CAST($16 AS timestamp))"), "{sql}");
        let lite = insert_sql(&NODE, 1, Dialect::Sqlite);
        assert!(!lite.contains("CAST") && !lite.contains('$'), "{lite}");
    }

    #[test]
    fn copy_rows_escape_tabs_newlines_and_backslashes() {
        let mut buf = Vec::new();
        copy_row(&mut buf, &[Value::Int(1), Value::Null, Value::Text("a\tb\nc\\d\r".into())]);
        assert_eq!(String::from_utf8(buf).unwrap(), "1\t\\N\ta\\tb\\nc\\\\d\\r\n");
    }
}
