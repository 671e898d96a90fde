//! [`Conn`]: one connected database on any engine, with the primitives every stage reads
//! and writes through — stream rows as [`Cells`], run a statement, probe a table, run a
//! script in one transaction. [`SourceDb`](super::SourceDb) and
//! [`TargetDb`](super::TargetDb) are a `Conn` opened for their role.
//!
//! Statements are written once, with `$n` placeholders and portable casts
//! (`CAST(x AS BIGINT)`); [`Dialect`] supplies what must differ. The engine picks the
//! fastest reader: an SQLite file is read with rusqlite directly (sqlx's `Any` driver
//! copies each row through a worker thread and a channel), PostgreSQL through sqlx, SQL
//! Server through a small tiberius pool.

use std::path::Path;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;

use super::{Cells, Db, DbUrl, Dialect, OpenMode, Value};

/// A connected database.
pub enum Conn {
    /// An SQLite file: statements through sqlx, rows read with rusqlite on read-only
    /// connections kept for reuse (opening one and parsing the schema for every statement
    /// cost 0.4 ms a room: 0.7 s of a cutover of 2,000 rooms).
    Sqlite(Db, super::lite::Readers),
    /// PostgreSQL, through sqlx.
    Postgres(Db),
    /// SQL Server, through tiberius.
    #[cfg(feature = "mssql")]
    Mssql(Box<super::mssql::pool::Pool>, DbUrl),
}

impl Conn {
    /// Connects with at most `conns` connections; `init` runs on each new SQL Server
    /// session (the source's isolation level).
    pub async fn open(
        url: &DbUrl,
        mode: OpenMode,
        conns: u32,
        init: Option<&'static str>,
    ) -> Result<Conn> {
        let _ = init;
        match url.dialect() {
            Dialect::Sqlite => {
                let db = Db::connect(url, mode, conns).await?;
                let path = url.sqlite_path().unwrap_or_default();
                Ok(Conn::Sqlite(db, super::lite::Readers::new(path)))
            }
            Dialect::Postgres => Ok(Conn::Postgres(Db::connect(url, mode, conns).await?)),
            #[cfg(feature = "mssql")]
            Dialect::Mssql => {
                let pool = super::mssql::pool::Pool::open(url, conns, init).await?;
                Ok(Conn::Mssql(Box::new(pool), url.clone()))
            }
            #[cfg(not(feature = "mssql"))]
            Dialect::Mssql => Err(crate::error::bad_input(format!(
                "{url} is a SQL Server database, and this gcmigrate was built without the `mssql` feature"
            ))),
        }
    }

    /// The SQL dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(..) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mssql")]
            Conn::Mssql(..) => Dialect::Mssql,
        }
    }

    /// Where it points (redacted when printed).
    pub fn url(&self) -> &DbUrl {
        match self {
            Conn::Sqlite(db, _) | Conn::Postgres(db) => &db.url,
            #[cfg(feature = "mssql")]
            Conn::Mssql(_, url) => url,
        }
    }

    /// The file behind an SQLite database: what the workspace `ATTACH`es to copy rows at
    /// the engine's own speed. `None` for a server database.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self {
            Conn::Sqlite(_, readers) => Some(readers.path()),
            _ => None,
        }
    }

    /// Runs `sql` with `params` and calls `f` for every row, in the order the query
    /// returns them; `what` names the statement in an error.
    pub async fn each_row(
        &self,
        what: &str,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&dyn Cells) -> Result<()>,
    ) -> Result<()> {
        match self {
            Conn::Sqlite(db, readers) if readers.path().exists() => super::lite::blocking(|| {
                readers
                    .with(|conn| {
                        let mut st = conn.prepare_cached(sql)?;
                        let mut rows = st.query(rusqlite::params_from_iter(params))?;
                        while let Some(r) = rows.next()? {
                            f(r)?;
                        }
                        Ok(())
                    })
                    .with_context(|| format!("{what} on {}", db.url))
            }),
            Conn::Sqlite(db, _) | Conn::Postgres(db) => {
                let mut rows = bind(sqlx::query(sql), params).fetch(&db.pool);
                while let Some(r) =
                    rows.try_next().await.with_context(|| format!("{what} on {}", db.url))?
                {
                    f(&r)?;
                }
                Ok(())
            }
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => pool.each_row(what, sql, params, &mut |r| f(r)).await,
        }
    }

    /// Collects the rows of `sql` through `decode`.
    pub async fn rows<T>(
        &self,
        what: &str,
        sql: &str,
        params: &[Value],
        mut decode: impl FnMut(&dyn Cells) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.each_row(what, sql, params, |r| {
            out.push(decode(r)?);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// The first column of the first row as an integer (`None`: no row, or NULL).
    pub async fn scalar(&self, what: &str, sql: &str, params: &[Value]) -> Result<Option<i64>> {
        let mut out = None;
        self.each_row(what, sql, params, |r| {
            if out.is_none() {
                out = Some(r.opt_int(0)?);
            }
            Ok(())
        })
        .await?;
        Ok(out.flatten())
    }

    /// Runs one statement; returns the rows affected.
    pub async fn execute(&self, what: &str, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Conn::Sqlite(db, _) | Conn::Postgres(db) => Ok(bind(sqlx::query(sql), params)
                .execute(&db.pool)
                .await
                .with_context(|| format!("{what} on {}", db.url))?
                .rows_affected()),
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => pool.execute(what, sql, params).await,
        }
    }

    /// Whether `table` has every column of `cols` (comma-separated). On SQL Server a
    /// missing permission is an error that says what to GRANT, not "absent".
    pub async fn has_columns(&self, table: &str, cols: &str) -> Result<bool> {
        match self {
            Conn::Sqlite(db, _) | Conn::Postgres(db) => Ok(db.has_columns(table, cols).await),
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => pool.has_columns(table, cols).await,
        }
    }

    /// Runs a script of `;`-terminated statements inside one transaction; `name` names it
    /// in an error.
    pub async fn run_script(&self, name: &str, script: &str) -> Result<()> {
        match self {
            Conn::Sqlite(db, _) | Conn::Postgres(db) => db.run_script(name, script).await,
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => {
                pool.run_in_transaction(name, &super::split_statements(script)).await
            }
        }
    }

    /// The tables the login can see, by name (for "this is not a … database" messages).
    pub async fn list_tables(&self) -> Result<Vec<String>> {
        let sql = self.dialect().list_tables();
        self.rows("listing tables", sql, &[], |r| r.text(0)).await
    }

    /// Closes the connections.
    pub async fn close(self) {
        match self {
            Conn::Sqlite(db, _) | Conn::Postgres(db) => db.pool.close().await,
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => (*pool).close().await,
        }
    }
}

impl From<Db> for Conn {
    fn from(db: Db) -> Conn {
        match db.dialect {
            Dialect::Sqlite => {
                let path = db.url.sqlite_path().unwrap_or_default();
                Conn::Sqlite(db, super::lite::Readers::new(path))
            }
            _ => Conn::Postgres(db),
        }
    }
}

/// Binds `params` in order: integers as `BIGINT`, text as text, NULL as a NULL integer.
pub(super) fn bind<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    params: &'q [Value],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for v in params {
        q = match v {
            Value::Int(i) => q.bind(*i),
            Value::Text(s) => q.bind(s.as_str()),
            Value::Null => q.bind(None::<i64>),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_rows_read_directly_match_the_sqlx_driver() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse(&format!("sqlite://{}", dir.path().join("t.db").display())).unwrap();
        let conn = Conn::open(&url, OpenMode::Create, 1, None).await.unwrap();
        conn.run_script(
            "setup",
            "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (NULL, NULL), (3, 'z');",
        )
        .await
        .unwrap();
        let sql = "SELECT CAST(a AS BIGINT), b FROM t WHERE a IS NULL OR a >= $1 ORDER BY rowid";
        let direct =
            conn.rows("t", sql, &[Value::Int(1)], |r| Ok((r.opt_int(0)?, r.opt_text(1)?))).await;
        let direct = direct.unwrap();
        let Conn::Sqlite(db, _) = &conn else { panic!("an SQLite connection") };
        let mut via_sqlx = Vec::new();
        for r in sqlx::query(sql).bind(1i64).fetch_all(&db.pool).await.unwrap() {
            via_sqlx.push((r.opt_int(0).unwrap(), r.opt_text(1).unwrap()));
        }
        assert_eq!(direct, via_sqlx);
        assert_eq!(direct[1], (None, None));
        assert_eq!(conn.scalar("t", "SELECT MAX(a) FROM t", &[]).await.unwrap(), Some(3));
        let err = conn.each_row("t", "SELECT b FROM t", &[], |r| r.int(0).map(drop)).await;
        assert!(err.is_err(), "text read as an integer is an error, not a zero");
        assert!(conn.has_columns("t", "a, b").await.unwrap());
        assert!(!conn.has_columns("t", "c").await.unwrap());
        assert_eq!(conn.list_tables().await.unwrap(), ["t"]);
    }
}
