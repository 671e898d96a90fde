//! The PostgreSQL writer: a [`Batch`] in one transaction, `COPY … FROM STDIN` for many rows
//! of a table and multi-row INSERTs for a few; a large batch checks its foreign keys once,
//! set-based (see `pg_keys.rs`).

use sqlx::postgres::PgPool;

use super::batch::{insert_sql, Batch, Op, TableSpec, Ty, Value};
use super::Dialect;

/// Rows per multi-row INSERT statement.
const ROWS_PER_INSERT: usize = 500;
/// From this many rows of one table on, PostgreSQL gets them through COPY.
const COPY_FROM: usize = 64;

/// Whether a failed write is worth a retry: a lost connection, a serialization failure
/// or a deadlock (and SQLite's BUSY / LOCKED, for the sqlx side of an SQLite database).
pub(super) fn is_transient(e: &sqlx::Error) -> bool {
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

/// Inserts `rows` into `t`: through COPY when they are many (its text input gives a GUID or
/// datetime column the same conversion as the casts of `insert_sql`), else multi-row
/// INSERTs.
async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    t: &TableSpec,
    rows: &[Vec<Value>],
) -> Result<(), sqlx::Error> {
    if rows.len() >= COPY_FROM {
        let cols: Vec<&str> = t.cols.iter().map(|c| c.0).collect();
        let mut copy =
            tx.copy_in_raw(&format!("COPY {} ({}) FROM STDIN", t.name, cols.join(", "))).await?;
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
        return Ok(());
    }
    for part in rows.chunks(ROWS_PER_INSERT) {
        let sql = insert_sql(t, part.len(), Dialect::Postgres);
        bind_all!(sqlx::query(&sql), t, part).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Applies `batch` in one transaction.
pub(super) async fn apply(pool: &PgPool, batch: &Batch) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let checks = super::pg_keys::set_aside(&mut tx, batch).await?;
    for op in &batch.ops {
        match op {
            Op::Insert(t, rows) => insert(&mut tx, t, rows).await?,
            Op::InsertInts(t, cells) => {
                for rows in super::batch::int_rows(t, cells) {
                    insert(&mut tx, t, &rows).await?;
                }
            }
            Op::InsertPacked(t, packed) => {
                for rows in super::batch::packed_rows(t, packed) {
                    insert(&mut tx, t, &rows).await?;
                }
            }
            Op::DeleteEq(t, col, v) => {
                sqlx::query(&format!("DELETE FROM {} WHERE {col} = $1", t.name))
                    .bind(*v)
                    .execute(&mut *tx)
                    .await?;
            }
            Op::DeleteKeys(t, cols, keys) => {
                let sql = super::batch::delete_keys_sql(t, cols);
                for k in keys {
                    let mut q = sqlx::query(&sql);
                    for v in k {
                        q = q.bind(*v);
                    }
                    q.execute(&mut *tx).await?;
                }
            }
            Op::Update(t, key, id, set) => {
                let sql = super::batch::update_sql(t, key, set, Dialect::Postgres);
                let mut q = sqlx::query(&sql);
                for v in super::batch::update_params(set, *id) {
                    q = match v {
                        Value::Int(i) => q.bind(i),
                        Value::Text(s) => q.bind(s),
                        Value::Null => q,
                    };
                }
                q.execute(&mut *tx).await?;
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
    use super::*;
    use crate::db::batch::{NODE, PRINCIPAL};

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
