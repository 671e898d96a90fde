//! The sqlx backend: SQLite and PostgreSQL through sqlx's `Any` driver with one SQL text
//! for both (unquoted identifiers, `$n` placeholders).

use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use super::{redact, split_statements, DbUrl, Dialect};
use crate::error::{bad_input, runtime};

/// A connected SQLite or PostgreSQL database (sqlx `Any`).
#[derive(Clone)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// Which SQL dialect the pool speaks.
    pub dialect: Dialect,
    /// Where it points (redacted when printed).
    pub url: DbUrl,
}

/// How to open a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The database must exist already.
    Existing,
    /// A SQLite file is created when missing.
    Create,
    /// A SQLite file is deleted (with its WAL) and created afresh; a server database is
    /// opened as it is (the caller checks it is empty).
    Replace,
}

impl Db {
    /// Connects, within a short timeout, with at most `max_conns` connections.
    pub async fn connect(url: &DbUrl, mode: OpenMode, max_conns: u32) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let mut raw = url.expose().to_string();
        match url.dialect() {
            Dialect::Sqlite => {
                let path = url.sqlite_path().unwrap_or_default();
                if mode == OpenMode::Existing && !path.exists() {
                    return Err(bad_input(format!("SQLite database {} does not exist", path.display())));
                }
                if mode != OpenMode::Replace {
                    super::sqlite_file::check(&path)?;
                }
                if mode == OpenMode::Replace {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                }
                if mode != OpenMode::Existing {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("cannot create directory {}", dir.display()))?;
                    }
                    raw = format!("sqlite://{}?mode=rwc", path.display());
                }
            }
            Dialect::Postgres => {}
            Dialect::Mssql => {
                return Err(bad_input(format!(
                    "{url} is a SQL Server database; this operation supports sqlite:// and postgres:// \
                     (SQL Server goes through the tiberius backend)"
                )))
            }
        }
        let dialect = url.dialect();
        // The first connection must come within the connect timeout; later waits for a
        // busy pool's connection keep the longer acquire timeout.
        let acquire = Duration::from_secs(15);
        let timeout = match dialect {
            Dialect::Postgres => super::pg_connect::connect_timeout(url)?,
            _ => acquire,
        };
        let connect = AnyPoolOptions::new()
            .max_connections(max_conns.max(1))
            .acquire_timeout(acquire.max(timeout))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // The timeout first: switching a new file to WAL while another
                        // process opens it waits instead of failing.
                        conn.execute(
                            "PRAGMA busy_timeout=30000; PRAGMA journal_mode=WAL; \
                             PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&raw);
        // Bounds the pool's connection retries, name resolution and TLS alike.
        let pool = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(sqlx::Error::PoolTimedOut)) if dialect == Dialect::Postgres => {
                return Err(super::pg_connect::unreachable(url, timeout, None));
            }
            Ok(Err(sqlx::Error::Io(e))) if dialect == Dialect::Postgres => {
                return Err(super::pg_connect::unreachable(url, timeout, Some(&e.to_string())));
            }
            Ok(Err(e)) => return Err(cannot_connect(url, &e)),
            Err(_) if dialect == Dialect::Postgres => {
                return Err(super::pg_connect::unreachable(url, timeout, None))
            }
            Err(_) => return Err(cannot_connect(url, &sqlx::Error::PoolTimedOut)),
        };
        Ok(Db { pool, dialect, url: url.clone() })
    }

    /// Runs a script of `;`-terminated statements inside one transaction.
    pub async fn run_script(&self, name: &str, script: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (i, stmt) in split_statements(script).iter().enumerate() {
            sqlx::raw_sql(stmt).execute(&mut *tx).await.with_context(|| {
                let first = stmt.lines().next().unwrap_or("").chars().take(80).collect::<String>();
                format!("{name}: statement {} (`{first}`) failed on {}", i + 1, self.url)
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether `SELECT cols FROM table` compiles here: the portable way to probe a schema.
    pub async fn has_columns(&self, table: &str, cols: &str) -> bool {
        let sql = format!("SELECT {cols} FROM {table} WHERE 1 = 0");
        sqlx::query(&sql).fetch_optional(&self.pool).await.is_ok()
    }
}

/// The one-line runtime failure (exit 3) for a SQLite or PostgreSQL database that cannot
/// be reached.
pub(super) fn cannot_connect(url: &DbUrl, e: &sqlx::Error) -> anyhow::Error {
    runtime(format!("cannot connect to {url}: {}", redact(&e.to_string())))
}
