//! [`TargetDb`]: a Persistent Chat `mgc` database (or a replica with Microsoft's table and
//! column names), opened once: its [`Conn`] for reads and statements, and one primitive
//! more, [`TargetDb::apply`], which commits a [`Batch`] — a chunk with its ledger row — in
//! one transaction, retrying transient failures with backoff. Each engine writes its
//! fastest way: SQLite through one rusqlite connection with cached multi-row INSERTs
//! (`sqlite_writer.rs`, and `sqlite_copy.rs` for history the engine copies itself),
//! PostgreSQL with `COPY` (`pg_writer.rs`), SQL Server with bulk load
//! (`mssql/writer.rs`), on the same connections the reads use.

use std::ops::Deref;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Result;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::sqlite_writer::SqliteTarget;
use super::{redact, Batch, Conn, DbUrl, OpenMode};
use crate::error::runtime;

/// Attempts at a batch before a transient failure becomes a runtime error.
const ATTEMPTS: u32 = 5;

/// A connected target.
pub struct TargetDb {
    conn: Conn,
    conns: u32,
    sqlite: OnceLock<SqliteTarget>,
    postgres: tokio::sync::OnceCell<PgPool>,
    #[cfg(feature = "mssql")]
    layouts: super::mssql::writer::Layouts,
}

/// How one attempt at a batch failed.
enum Failed {
    /// Worth another attempt (a deadlock, a lost connection, a busy file).
    Transient(String),
    /// The server refused the bulk-load stream: apply again with INSERTs.
    #[cfg_attr(not(feature = "mssql"), allow(dead_code))]
    BulkRefused,
    /// Final: a constraint, a permission, a missing table.
    Permanent(anyhow::Error),
}

impl TargetDb {
    /// Connects with at most `conns` connections; an SQLite file is created when `mode`
    /// says so.
    pub async fn open(url: &DbUrl, mode: OpenMode, conns: u32) -> Result<TargetDb> {
        Ok(TargetDb {
            conn: Conn::open(url, mode, conns, None).await?,
            conns,
            sqlite: OnceLock::new(),
            postgres: tokio::sync::OnceCell::new(),
            #[cfg(feature = "mssql")]
            layouts: Default::default(),
        })
    }

    /// Connects when the database exists; `None` for an SQLite file that does not (a dry
    /// run against a target not created yet).
    pub async fn open_if_exists(url: &DbUrl, conns: u32) -> Result<Option<TargetDb>> {
        if url.sqlite_path().is_some_and(|p| !p.exists()) {
            return Ok(None);
        }
        Ok(Some(TargetDb::open(url, OpenMode::Existing, conns).await?))
    }

    /// The engine's own copy of staged history into the target, where it has one: an
    /// SQLite target attaches the workspace and copies with `INSERT … SELECT`.
    pub fn sqlite_copy(&self) -> Result<Option<&SqliteTarget>> {
        match &self.conn {
            Conn::Sqlite(..) => self.sqlite_writer().map(Some),
            _ => Ok(None),
        }
    }

    fn sqlite_writer(&self) -> Result<&SqliteTarget> {
        if let Some(w) = self.sqlite.get() {
            return Ok(w);
        }
        let path = self.conn.sqlite_file().unwrap_or(std::path::Path::new(""));
        let w = SqliteTarget::open(path, false)
            .map_err(|e| runtime(format!("cannot open {}: {e}", self.conn.url())))?;
        Ok(self.sqlite.get_or_init(|| w))
    }

    async fn postgres_writer(&self) -> Result<&PgPool> {
        self.postgres
            .get_or_try_init(|| async {
                PgPoolOptions::new()
                    .max_connections(self.conns.max(1))
                    .acquire_timeout(Duration::from_secs(15))
                    .connect(self.conn.url().expose())
                    .await
                    .map_err(|e| super::pool::cannot_connect(self.conn.url(), &e))
            })
            .await
    }

    /// Applies a batch in one transaction, retrying transient failures with backoff (a
    /// batch is one transaction, so a retry can never half-apply it). A batch whose bulk
    /// load the server refuses is applied again with INSERTs. Anything else is a runtime
    /// failure (exit 3) that says nothing of the chunk was committed.
    pub async fn apply(&self, batch: &Batch) -> Result<()> {
        retry(self.conn.url(), FIRST_DELAY, |bulk| self.attempt(batch, bulk)).await
    }

    async fn attempt(&self, batch: &Batch, bulk: bool) -> Result<(), Failed> {
        let permanent = |e: String| {
            Failed::Permanent(runtime(format!(
                "a write to {} failed permanently: {}; nothing of this chunk was committed — fix \
                 the cause and rerun the same `gcmigrate load`, it resumes where it stopped",
                self.conn.url(),
                redact(&e)
            )))
        };
        match &self.conn {
            Conn::Sqlite(..) => {
                let w = self.sqlite_writer().map_err(Failed::Permanent)?;
                super::lite::blocking(|| w.apply(batch)).map_err(|e| {
                    if super::sqlite_writer::is_transient(&e) {
                        Failed::Transient(e.to_string())
                    } else {
                        permanent(e.to_string())
                    }
                })
            }
            Conn::Postgres(_) => {
                let _ = bulk;
                let pool = self
                    .postgres_writer()
                    .await
                    .map_err(|e| Failed::Transient(format!("{e:#}")))?;
                super::pg_writer::apply(pool, batch).await.map_err(|e| {
                    if super::pg_writer::is_transient(&e) {
                        Failed::Transient(redact(&e.to_string()))
                    } else {
                        permanent(e.to_string())
                    }
                })
            }
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => {
                use super::mssql::writer::{self, Outcome};
                match writer::try_apply(pool, &self.layouts, batch, bulk).await {
                    Ok(()) => Ok(()),
                    Err(Outcome::Transient(e)) => Err(Failed::Transient(e)),
                    Err(Outcome::BulkRefused) => Err(Failed::BulkRefused),
                    Err(Outcome::Permanent(e)) => Err(Failed::Permanent(e)),
                }
            }
        }
    }

    /// Closes the connections.
    pub async fn close(self) {
        if let Some(p) = self.postgres.get() {
            p.close().await;
        }
        self.conn.close().await
    }
}

/// The wait before the second attempt; it doubles before each further one.
const FIRST_DELAY: Duration = Duration::from_millis(200);

/// The one retry loop of every engine's writer: `attempt(bulk)` applies the batch once,
/// with bulk load allowed or not.
async fn retry<F, Fut>(url: &DbUrl, first_delay: Duration, mut attempt: F) -> Result<()>
where
    F: FnMut(bool) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failed>>,
{
    let mut delay = first_delay;
    let mut bulk = true;
    let mut tries = 1;
    loop {
        let failed = match attempt(bulk).await {
            Ok(()) => return Ok(()),
            Err(f) => f,
        };
        let message = match failed {
            Failed::BulkRefused if bulk => {
                bulk = false;
                continue;
            }
            Failed::Transient(_) if tries < ATTEMPTS => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                tries += 1;
                continue;
            }
            Failed::Permanent(e) => return Err(e),
            Failed::Transient(e) => format!("failed after {ATTEMPTS} attempts: {e}"),
            Failed::BulkRefused => "was refused twice".to_string(),
        };
        return Err(runtime(format!(
            "a write to {url} {message}; nothing of this chunk was committed — fix the cause and \
             rerun the same `gcmigrate load`, it resumes where it stopped"
        )));
    }
}

impl Deref for TargetDb {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::batch::{CHAT, LAST_CHAT_ID};
    use std::cell::RefCell;

    fn url() -> DbUrl {
        DbUrl::parse("postgres://u:secret@h/mgc").unwrap()
    }

    async fn run(script: &[Option<Failed>]) -> (Result<()>, Vec<bool>) {
        let calls = RefCell::new(Vec::new());
        let script = RefCell::new(script.iter().collect::<Vec<_>>());
        let r = retry(&url(), Duration::from_millis(1), |bulk| {
            calls.borrow_mut().push(bulk);
            let next = script.borrow_mut().remove(0);
            let out = match next {
                None => Ok(()),
                Some(Failed::Transient(m)) => Err(Failed::Transient(m.clone())),
                Some(Failed::BulkRefused) => Err(Failed::BulkRefused),
                Some(Failed::Permanent(e)) => Err(Failed::Permanent(anyhow::anyhow!("{e}"))),
            };
            async move { out }
        })
        .await;
        (r, calls.into_inner())
    }

    #[tokio::test]
    async fn transient_failures_are_retried_then_reported_with_what_to_do() {
        let t = || Some(Failed::Transient("deadlock victim".into()));
        let (r, calls) = run(&[t(), t(), None]).await;
        assert!(r.is_ok() && calls.len() == 3, "{calls:?}");
        let (r, calls) = run(&[t(), t(), t(), t(), t(), None]).await;
        let m = format!("{:#}", r.unwrap_err());
        assert_eq!(calls.len(), ATTEMPTS as usize);
        assert!(m.contains("after 5 attempts: deadlock victim"), "{m}");
        assert!(m.contains("nothing of this chunk was committed") && !m.contains("secret"), "{m}");
    }

    #[tokio::test]
    async fn a_refused_bulk_load_is_applied_again_without_bulk_and_permanent_errors_stop() {
        let (r, calls) = run(&[Some(Failed::BulkRefused), None]).await;
        assert!(r.is_ok());
        assert_eq!(calls, [true, false]);
        let (r, calls) =
            run(&[Some(Failed::Permanent(anyhow::anyhow!("duplicate key"))), None]).await;
        assert_eq!(format!("{:#}", r.unwrap_err()), "duplicate key");
        assert_eq!(calls, [true]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_sqlite_batch_commits_nothing_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::sqlite_file(&dir.path().join("t.db"));
        let db = TargetDb::open(&url, OpenMode::Create, 1).await.unwrap();
        db.run_script(
            "setup",
            "CREATE TABLE tblChat (channelId INT, chatId INT, chatDate INT, userId INT, \
             isAlert INT, content TEXT, rtf TEXT, PRIMARY KEY (channelId, chatId)); \
             CREATE TABLE tblLastChatId (nodeID INT PRIMARY KEY, lastChatID INT);",
        )
        .await
        .unwrap();
        let row = |id: i64| vec![7.into(), id.into(), 1.into(), 2.into(), false.into(), "m".into()];
        let mut ok = Batch::default();
        ok.insert(&CHAT, row(1));
        ok.insert(&LAST_CHAT_ID, vec![7.into(), 1.into()]);
        db.apply(&ok).await.unwrap();
        let mut dup = Batch::default();
        dup.insert(&CHAT, row(2));
        dup.insert(&CHAT, row(1));
        let m = format!("{:#}", db.apply(&dup).await.unwrap_err());
        assert!(m.contains("failed permanently") && m.contains("nothing of this chunk"), "{m}");
        let n = db.scalar("count", "SELECT COUNT(*) FROM tblChat", &[]).await.unwrap();
        assert_eq!(n, Some(1), "the failed batch left nothing");
        db.close().await;
    }
}
