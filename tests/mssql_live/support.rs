//! What the live SQL Server tests share: the server a test may use, scratch databases
//! (created and dropped one at a time: Babelfish's catalog takes one change at a time),
//! T-SQL batches, Contoso converted to T-SQL, and reads of a SQL Server database's rows.

use crate::util::*;
use gcmigrate::db::batch::{Batch, Value, CHAT, LAST_CHAT_ID, LEDGER};
use gcmigrate::db::mssql as ms;
use gcmigrate::db::mssql::url::with_database;
use gcmigrate::db::{split_statements, DbUrl};
use std::io::Write;
use tiberius::ColumnData;

/// The live server URL after a visible `LIVE` line (straight to stderr: the harness
/// captures `eprintln!` of passing tests), or as [`server_url`] says without one.
pub(super) fn live(test: &str) -> Option<String> {
    let u = server_url("GCMIGRATE_TEST_MSSQL_URL", cfg!(gcm_mssql), test)?;
    let server = ms::ConnSpec::parse_str(&u).map_or("?".into(), |s| s.server_label());
    let _ = writeln!(std::io::stderr().lock(), "LIVE {test}: against SQL Server {server}");
    Some(u)
}

/// Runs T-SQL batches against a location.
pub(super) fn tsql(url: &str, batches: &[String]) {
    block_on(async {
        let mut c = ms::connect(&DbUrl::parse(url).unwrap()).await.unwrap();
        for b in batches {
            ms::batch(&mut c, b)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{}", b.chars().take(300).collect::<String>()));
        }
    })
}

/// A scratch database, dropped at the end of the test.
pub(super) struct Scratch {
    pub(super) url: String,
    master: String,
    name: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let sql = drop_sql(&self.name);
        let master = self.master.clone();
        // Best effort: a failed drop must not hide the test's own result. By now every
        // connection of the test is closed (the gcmigrate processes have exited).
        let _ = std::thread::spawn(move || {
            let _serial = CATALOG.lock().unwrap_or_else(|e| e.into_inner());
            block_on(async {
                if let Ok(mut c) = ms::connect(&DbUrl::parse(&master)?).await {
                    let _ = ms::batch(&mut c, &sql).await;
                }
                anyhow::Ok(())
            })
        })
        .join();
    }
}

/// Serialises `CREATE`/`DROP DATABASE` of the tests running in parallel: Babelfish fails
/// concurrent ones ("tuple concurrently updated"); SQL Server does not mind.
pub(super) static CATALOG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs T-SQL that changes the server's catalog (databases, logins, users), one test at a time.
pub(super) fn catalog_tsql(url: &str, batches: &[String]) {
    let _serial = CATALOG.lock().unwrap_or_else(|e| e.into_inner());
    tsql(url, batches);
}

/// Drops a database if it exists. No `ALTER DATABASE … SET SINGLE_USER` (Babelfish
/// refuses the whole batch that holds it): the tests close their connections first.
pub(super) fn drop_sql(db: &str) -> String {
    format!("IF DB_ID(N'{db}') IS NOT NULL DROP DATABASE [{db}]")
}

/// A fresh scratch database; dropped first if a previous run left it.
pub(super) fn scratch(base: &str, name: &str) -> Scratch {
    // Tests run in parallel in one process: a counter keeps their databases apart.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let db = format!("gcm_{name}_{}_{n}", std::process::id());
    let master = with_database(base, "master");
    let url = {
        let _serial = CATALOG.lock().unwrap_or_else(|e| e.into_inner());
        block_on(ms::recreate_database(base, &db)).unwrap()
    };
    Scratch { url, master, name: db }
}

/// Standard SQL string literals as `N'…'`, so SQL Server keeps their Unicode text.
pub(super) fn n_literals(sql: &str) -> String {
    let (mut out, mut in_str, mut prev) = (String::with_capacity(sql.len() + 64), false, ' ');
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if in_str && chars.peek() == Some(&'\'') {
                out.push_str("''");
                chars.next();
                continue;
            }
            if !in_str && !prev.is_ascii_alphanumeric() {
                out.push('N');
            }
            in_str = !in_str;
        }
        out.push(c);
        prev = c;
    }
    out
}

/// Contoso for T-SQL: `N'…'` literals for its Unicode text, `[index]`, and `ymd` dates.
pub(super) fn contoso_tsql() -> Vec<String> {
    let mut out = vec!["SET DATEFORMAT ymd".to_string()];
    for stmt in split_statements(gcmigrate::schema::CONTOSO) {
        out.push(n_literals(&stmt.replace("\"index\"", "[index]")));
    }
    out
}

pub(super) fn legacy_contoso(base: &str) -> Scratch {
    let db = scratch(base, "legacy");
    let mut script = split_statements(include_str!("../../fixtures/schema/legacy2010.tsql.sql"));
    script.extend(contoso_tsql());
    // One session, so SET DATEFORMAT holds for the INSERTs.
    tsql(&db.url, &[script.join(";\n")]);
    db
}

pub(super) fn extract_plan(src: &str) -> (serde_json::Value, serde_json::Value) {
    let env = TestEnv::new("mssql-plan").source(src);
    env.extract().plan();
    let mut p = env.report("plan.json");
    p["source_version"] = serde_json::Value::Null;
    (env.report("extract-full.json"), p)
}

/// One integer from a query against a SQL Server location.
pub(super) fn ms_scalar(url: &str, sql: &str) -> i64 {
    gcmigrate::db::Cells::int(&ms_rows(url, sql)[0], 0).unwrap()
}

/// A history chunk of room 1 with its `tblLastChatId` row and ledger row.
pub(super) fn chunk(first: i64, n: i64, long: bool) -> Batch {
    let mut b = Batch::default();
    for id in first..first + n {
        let text =
            if long && id == first { "é".repeat(40_000) } else { format!("message {id} — ✓") };
        let row: Vec<Value> =
            vec![1.into(), id.into(), 634294368000000000.into(), 1.into(), false.into()];
        b.insert(&CHAT, row.into_iter().chain([text.into()]).collect());
    }
    let last = first + n - 1;
    b.delete_eq(&LAST_CHAT_ID, "nodeID", 1);
    b.insert(&LAST_CHAT_ID, vec![1.into(), last.into()]);
    let ledger: Vec<Value> = vec!["r".into(), "w".into(), "chat".into(), 1.into(), first.into()];
    let tail: Vec<Value> = vec![
        last.into(),
        n.into(),
        Value::Null,
        "2024-01-01T00:00:00Z".into(),
        "pool:w".into(),
        "Default".into(),
    ];
    b.insert(&LEDGER, ledger.into_iter().chain(tail).collect());
    b
}

/// Every row of a query against a SQL Server location, as cells.
pub(super) fn ms_rows(url: &str, sql: &str) -> Vec<Vec<ColumnData<'static>>> {
    block_on(async {
        let mut c = ms::connect(&DbUrl::parse(url).unwrap()).await.unwrap();
        ms::query(&mut c, sql, &[]).await.unwrap_or_else(|e| panic!("{e}: {sql}"))
    })
}

/// A cell as the text SQLite's and PostgreSQL's `CAST(… AS TEXT)` give ([`fingerprint`]).
pub(super) fn cell_text(c: &ColumnData<'_>) -> String {
    match c {
        ColumnData::U8(Some(v)) => v.to_string(),
        ColumnData::I16(Some(v)) => v.to_string(),
        ColumnData::I32(Some(v)) => v.to_string(),
        ColumnData::I64(Some(v)) => v.to_string(),
        ColumnData::Bit(Some(v)) => u8::from(*v).to_string(),
        ColumnData::String(Some(s)) => s.to_string(),
        ColumnData::Guid(Some(g)) => g.hyphenated().to_string().to_ascii_lowercase(),
        ColumnData::DateTime(Some(d)) => {
            let day = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()
                + chrono::Duration::days(i64::from(d.days()));
            let ms = (u64::from(d.seconds_fragments()) * 1000 + 150) / 300;
            let t = day.and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::milliseconds(ms as i64);
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        ColumnData::U8(None)
        | ColumnData::I16(None)
        | ColumnData::I32(None)
        | ColumnData::I64(None)
        | ColumnData::Bit(None)
        | ColumnData::String(None)
        | ColumnData::Guid(None)
        | ColumnData::DateTime(None) => "~".into(),
        other => panic!("a cell of an unexpected type: {other:?}"),
    }
}

/// [`fingerprint`] of [`LOADED_ROWS`] of a SQL Server target: the same rows, hashed from
/// the same text.
pub(super) fn ms_fingerprint(url: &str) -> Fingerprint {
    LOADED_ROWS
        .iter()
        .map(|(t, cols, key)| {
            let sql =
                format!("SELECT {cols} FROM {t} ORDER BY {key}").replace("\"index\"", "[index]");
            let rows = ms_rows(url, &sql);
            let mut h = blake3::Hasher::new();
            for r in &rows {
                h.update(r.iter().map(cell_text).collect::<Vec<_>>().join("|").as_bytes());
                h.update(b"\n");
            }
            (t.to_string(), rows.len() as i64, h.finalize().to_hex().to_string())
        })
        .collect()
}

/// Rows per mgc table the load writes, and the ledger's.
pub(super) fn mgc_counts(url: &str) -> Vec<(String, i64)> {
    let tables =
        gcmigrate::load::config::NEEDED.iter().map(|(t, _)| *t).filter(|t| *t != "tblRoleType");
    tables
        .chain(["gcmigrate_ledger"])
        .map(|t| (t.to_string(), ms_scalar(url, &format!("SELECT COUNT_BIG(*) FROM {t}"))))
        .collect()
}

/// `gcmigrate ARGS… --workspace WS`: (exit code, stdout + stderr).
pub(super) fn run(env: &TestEnv, args: &[&str]) -> (i32, String) {
    let out = env.output(args);
    (out.code, out.all())
}

/// `gcmigrate verify` of the workspace against a target: (exit code, stdout + stderr).
pub(super) fn verify(env: &TestEnv, url: &str) -> (i32, String) {
    run(env, &["verify", "--target", url])
}

/// The same `mssql://` location with another login (None for an ADO.NET string).
pub(super) fn with_login(base: &str, user: &str, password: &str) -> Option<String> {
    let (scheme, rest) = base.split_once("://")?;
    let at = rest.find('/').unwrap_or(rest.len());
    let auth_end = rest[..at].rfind('@')?;
    Some(format!("{scheme}://{user}:{password}@{}", &rest[auth_end + 1..]))
}
