//! Test databases: scratch PostgreSQL databases dropped when the test ends, the server URL
//! a test may use (or why it is ignored), one-value queries and statements, and one
//! [`fingerprint`] of a database's rows.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

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

/// Runs a query returning one text value against a SQLite or PostgreSQL URL (cast GUIDs:
/// PostgreSQL stores them as uuid).
pub(crate) fn text(url: &str, sql: &str) -> String {
    block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let v: String = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
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

/// Tables to [`fingerprint`]: (table, columns, order), `*` for every column of the table.
pub(crate) type Tables = &'static [(&'static str, &'static str, &'static str)];

/// The rows a load writes, per table, without the time-of-load columns: two loads of one
/// workspace have the same fingerprint of these.
pub(crate) const LOADED_ROWS: Tables = &[
        ("tblChat", "channelId, chatId, chatDate, userId, isAlert, content", "channelId, chatId"),
        ("tblLastChatId", "nodeID, lastChatID", "nodeID"),
        ("tblNode", "nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, invite, logged, filePost, disabled, behavior, visibility", "nodeID"),
        ("tblPrincipal", "prinID, prinGuid, prinUri, prinDisplayName, prinDisabled, prinTypeID", "prinID"),
        ("tblPrincipalAffiliations", "principalID, affiliationID, \"index\"", "principalID, \"index\""),
        ("tblScopePrincipal", "scopeNodeID, scopePrinID, scopeIsDenied", "scopeNodeID, scopePrinID"),
        ("tblPrincipalRole", "prinRoleNodeID, prinRolePrinID, prinRoleTypeID", "prinRoleNodeID, prinRolePrinID, prinRoleTypeID"),
        ("tblPrincipalInvites", "prinID, invID, nodeID, createdOn", "prinID, nodeID"),
];

/// Per table: (table, rows, blake3 hash of the rows as text), each row its cells as text
/// joined by `|` (NULL as `~`) and a newline. Equal fingerprints, equal data.
pub(crate) type Fingerprint = Vec<(String, i64, String)>;

/// The fingerprint of a SQLite or PostgreSQL database: of `tables`, or (None) of every
/// table but gcmigrate's ledger and lock, all columns, rows in the order of their text.
pub(crate) fn fingerprint(url: &str, tables: Option<Tables>) -> Fingerprint {
    block_on(async {
        use futures_util::TryStreamExt;
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let pg = url.starts_with("postgres");
        let tables: Vec<(String, &str, &str)> = match tables {
            Some(list) => list.iter().map(|&(t, cols, order)| (t.to_string(), cols, order)).collect(),
            None => sqlx::query_scalar::<_, String>(if pg {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
            } else {
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
            })
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| !t.eq_ignore_ascii_case("gcmigrate_ledger"))
            .filter(|t| !t.eq_ignore_ascii_case("gcmigrate_lock"))
            .map(|t| (t, "*", "1"))
            .collect(),
        };
        let mut out = Vec::new();
        for (t, cols, order) in tables {
            let cols: Vec<String> = if cols == "*" {
                let names: Vec<String> = sqlx::query_scalar(&if pg {
                    format!("SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE lower(table_name) = lower('{t}') \
                             AND table_schema = current_schema() ORDER BY ordinal_position")
                } else {
                    format!("SELECT name FROM pragma_table_info('{t}') ORDER BY cid")
                })
                .fetch_all(&pool)
                .await
                .unwrap();
                names.iter().map(|c| format!("\"{c}\"")).collect()
            } else {
                cols.split(", ").map(str::to_string).collect()
            };
            let exprs: Vec<String> =
                cols.iter().map(|c| format!("COALESCE(CAST({c} AS TEXT), '~')")).collect();
            let sql = format!("SELECT {} FROM {t} ORDER BY {order}", exprs.join(" || '|' || "));
            let mut rows = sqlx::query(&sql).fetch(&pool);
            let (mut h, mut n) = (blake3::Hasher::new(), 0);
            while let Some(r) = rows.try_next().await.unwrap() {
                h.update(r.get::<String, _>(0).as_bytes());
                h.update(b"\n");
                n += 1;
            }
            out.push((t, n, h.finalize().to_hex().to_string()));
        }
        pool.close().await;
        out
    })
}
