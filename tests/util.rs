//! Test helpers: a fresh directory per test, the binary, and scratch databases.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::Command;

/// A fresh directory for one test under the cargo target tmpdir.
pub(crate) fn tmp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The gcmigrate binary, quiet about progress bars.
pub(crate) fn gcm() -> Command {
    let mut c = Command::cargo_bin("gcmigrate").unwrap();
    c.env_remove("GCMIGRATE_SOURCE").env_remove("GCMIGRATE_TARGET");
    c
}

/// A sqlite:// URL for a file in `dir`.
pub(crate) fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}", dir.join(file).display())
}

/// Runs an async block on a fresh runtime.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// A fresh PostgreSQL database for one test: its URL (through `Deref` and `Display`), and
/// the database is dropped when the test ends, so repeated runs do not pile them up.
pub(crate) struct PgDb {
    url: String,
    admin: String,
    name: String,
}

impl std::ops::Deref for PgDb {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Display for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Best effort: a server gone by now only leaves the database behind.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        block_on(async {
            sqlx::any::install_default_drivers();
            if let Ok(pool) = sqlx::AnyPool::connect(&self.admin).await {
                let _ = sqlx::raw_sql(&sql).execute(&pool).await;
                pool.close().await;
            }
        });
    }
}

/// The URL of a test server in `var`. Unset (or empty), it is None after a visible
/// `SKIPPED` line, which only `--ignored` runs reach: built without the variable, the tests
/// that need it are marked ignored (see `build.rs`). Built with it, they were meant to run,
/// so a variable missing now fails the test instead of letting it pass.
pub(crate) fn server_url(var: &str, built_with: bool, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if built_with => panic!(
            "{test}: {var} was set when the tests were built but is not set now; \
             set it again, or rebuild without it to mark the test ignored"
        ),
        _ => {
            // Straight to stderr: the harness captures `eprintln!` of passing tests.
            let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {var} is not set");
            None
        }
    }
}

/// A fresh PostgreSQL database on `GCMIGRATE_TEST_PG_URL`'s server (see [`server_url`]).
pub(crate) fn pg_database(test: &str) -> Option<PgDb> {
    let base = server_url("GCMIGRATE_TEST_PG_URL", cfg!(gcm_pg), test)?;
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "gcm_{}_{}_{}",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
    .to_lowercase();
    block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&base).await.expect("connect to GCMIGRATE_TEST_PG_URL");
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}")).execute(&pool).await.unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
        pool.close().await;
    });
    let (head, _) = base.rsplit_once('/').expect("URL with a database");
    Some(PgDb { url: format!("{head}/{name}"), admin: base, name })
}

/// Runs a query returning one integer against a SQLite or PostgreSQL URL.
pub(crate) fn scalar(url: &str, sql: &str) -> i64 {
    block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    })
}

/// Runs statements against a SQLite or PostgreSQL URL.
pub(crate) fn exec(url: &str, sql: &str) {
    block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    })
}

/// Builds the Contoso legacy database at a URL.
pub(crate) fn contoso(url: &str) {
    let url = gcmigrate::db::DbUrl::parse(url).unwrap();
    block_on(gcmigrate::commands::demo::build_contoso(&url)).unwrap();
}

/// Reads a JSON report.
pub(crate) fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}
