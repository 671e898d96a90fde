//! SQL Server through tiberius. Always: connection failures (exit 3, fast, no secret),
//! every T-SQL statement the tool emits parsed with sqlparser's MsSqlDialect, and value
//! encoding against the column types of `fixtures/schema/mgc2013.tsql.sql`. With
//! `GCMIGRATE_TEST_MSSQL_URL` (a login that may create databases): extract Contoso from
//! SQL Server like SQLite, write and resume through the mgc writer, and the whole CLI run.
#![cfg(feature = "mssql")]

use std::time::{Duration, Instant};

use gcmigrate::db::{split_statements, DbUrl};
use gcmigrate::load::mssql as target;
use gcmigrate::load::rows::{Batch, Ty, Value, CHAT, LAST_CHAT_ID, LEDGER};
use gcmigrate::mssql::{self as ms, encode, parse_datetime, SqlType};
use sqlparser::ast::{ColumnOption, Statement};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use tiberius::ColumnData;

use crate::util::*;

/// Runs `extract` against `source`; returns (exit code, stdout + stderr, seconds).
fn extract_failing(source: &str) -> (i32, String, f64) {
    let dir = tmp_dir("mssql-unreachable");
    let t0 = Instant::now();
    let out = gcm()
        .args(["extract", "--source", source, "--workspace"])
        .arg(&dir)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let all =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), all, t0.elapsed().as_secs_f64())
}

#[test]
fn unreachable_sql_server_is_exit_3_within_the_timeout_without_the_password() {
    for source in [
        "mssql://u:secret@127.0.0.1:1/GroupChat",
        "Server=127.0.0.1,1;Database=GroupChat;User Id=u;Password=secret;Connect Timeout=5",
        "Server=tcp:127.0.0.1,1;Initial Catalog=GroupChat;UID=u;PWD=\"secret\";Encrypt=False",
    ] {
        let (code, all, secs) = extract_failing(source);
        assert_eq!(code, 3, "{source}: {all}");
        assert!(secs < 15.0 + 5.0, "{source}: took {secs}s");
        assert!(all.contains("cannot connect to SQL Server 127.0.0.1:1"), "{all}");
        assert!(all.contains("firewall"), "says what to check: {all}");
        assert!(!all.contains("secret"), "{all}");
        assert_eq!(
            all.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "one error line: {all}"
        );
    }
}

#[test]
fn bad_sql_server_locations_are_exit_2_without_the_password() {
    for (source, needle) in [
        ("mssql://u:secret@h/db?encrypt=strict", "strict"),
        ("Server=h;Database=d;Integrated Security=SSPI", "integrated"),
        ("Server=h;Database=d;User Id=u;Password=secret;Bogus=1", "bogus"),
    ] {
        if cfg!(feature = "integrated-auth") && needle == "integrated" {
            continue;
        }
        let (code, all, _) = extract_failing(source);
        assert_eq!(code, 2, "{source}: {all}");
        assert!(all.to_lowercase().contains(needle), "{all}");
        assert!(!all.contains("secret"), "{all}");
    }
}

/// Statements that are valid T-SQL but that sqlparser 0.52 cannot parse, with the reason.
const UNPARSED: &[(&str, &str)] = &[(
    "ledger DDL",
    "`IF cond statement` is not in sqlparser 0.52's MsSqlDialect; the CREATE TABLE after `IS NULL` is parsed instead",
)];

fn parse(sql: &str) -> Result<Vec<Statement>, String> {
    Parser::parse_sql(&MsSqlDialect {}, sql).map_err(|e| e.to_string())
}

#[test]
fn every_tsql_statement_the_tool_emits_parses() {
    let mut all = gcmigrate::source::mssql::all_statements();
    all.extend(target::all_statements());
    assert!(all.len() > 50, "{}", all.len());
    for (name, sql) in &all {
        match UNPARSED.iter().find(|(n, _)| n == name) {
            Some(_) => assert!(parse(sql).is_err(), "{name} parses now: take it off UNPARSED"),
            None => {
                assert!(parse(sql).is_ok_and(|v| v.len() == 1), "{name}: {sql}\n{:?}", parse(sql))
            }
        }
    }
    let ddl = target::LEDGER_DDL_TSQL;
    let create = &ddl[ddl.find("CREATE TABLE").unwrap()..];
    assert!(parse(create).is_ok(), "{create}");
}

#[test]
fn tsql_fixture_ddl_parses_statement_by_statement() {
    for (file, text) in [
        ("legacy2010.tsql.sql", include_str!("../fixtures/schema/legacy2010.tsql.sql")),
        ("mgc2013.tsql.sql", include_str!("../fixtures/schema/mgc2013.tsql.sql")),
    ] {
        let stmts = split_statements(text);
        assert!(stmts.len() > 10, "{file}");
        for s in stmts {
            assert!(parse(&s).is_ok(), "{file}: {s}\n{:?}", parse(&s));
        }
    }
}

/// The writable columns of an mgc table, as `sys.columns` would list them, from the fixture DDL.
fn fixture_layout(table: &str) -> Vec<target::DestCol> {
    let ddl = include_str!("../fixtures/schema/mgc2013.tsql.sql");
    for s in split_statements(ddl) {
        if let Ok(mut v) = parse(&s) {
            if let Some(Statement::CreateTable(ct)) = v.pop() {
                if ct.name.to_string() == table {
                    return ct
                        .columns
                        .iter()
                        .map(|c| {
                            let ty = c.data_type.to_string().to_ascii_lowercase();
                            target::DestCol {
                                name: c.name.value.clone(),
                                ty: SqlType::from_name(ty.split('(').next().unwrap_or("")),
                                nullable: !c
                                    .options
                                    .iter()
                                    .any(|o| matches!(o.option, ColumnOption::NotNull)),
                            }
                        })
                        .collect();
                }
            }
        }
    }
    panic!("no table {table} in mgc2013.tsql.sql")
}

fn sample(ty: Ty) -> Value {
    match ty {
        Ty::Int => Value::Int(1),
        Ty::Text => Value::Text("x".into()),
        Ty::Guid => Value::Text("459C34BD-FA4E-50B0-8A7B-F1164310920C".into()),
        Ty::DateTime => Value::Text("2013-02-01 08:00:00".into()),
    }
}

#[test]
fn every_written_column_encodes_as_its_mgc_type() {
    for t in target::TABLES.into_iter().filter(|t| t.name != LEDGER.name) {
        let layout = fixture_layout(t.name);
        for (col, ty) in t.cols {
            let d = layout
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(col.trim_matches('"')))
                .unwrap_or_else(|| panic!("{}.{col}", t.name));
            let v = sample(*ty);
            let cd = encode(&v, &d.ty, col).unwrap_or_else(|e| panic!("{}.{col}: {e}", t.name));
            let ok = matches!(
                (&d.ty, &cd),
                (SqlType::Bit, ColumnData::Bit(Some(true)))
                    | (SqlType::SmallInt, ColumnData::I16(Some(1)))
                    | (SqlType::Int, ColumnData::I32(Some(1)))
                    | (SqlType::BigInt, ColumnData::I64(Some(1)))
                    | (SqlType::Text, ColumnData::String(Some(_)))
                    | (SqlType::Guid, ColumnData::Guid(Some(_)))
                    | (SqlType::DateTime, ColumnData::DateTime(Some(_)))
            );
            assert!(ok, "{}.{col}: {:?} → {cd:?}", t.name, d.ty);
            assert!(encode(&Value::Null, &d.ty, col).is_ok(), "typed NULL for {}.{col}", t.name);
        }
    }
}

#[test]
fn encoding_checks_ranges_and_formats_instead_of_panicking() {
    assert!(encode(&Value::Int(40_000), &SqlType::SmallInt, "c").unwrap_err().contains("smallint"));
    assert!(encode(&Value::Int(1 << 40), &SqlType::Int, "c").is_err());
    assert!(encode(&Value::Text("nope".into()), &SqlType::Guid, "c")
        .unwrap_err()
        .contains("not a GUID"));
    assert!(encode(&Value::Text("31/12/2011".into()), &SqlType::DateTime, "c").is_err());
    assert!(encode(&Value::Int(1), &SqlType::Guid, "c").is_err());
    let v = Value::Text("459c34bd-fa4e-50b0-8a7b-f1164310920c".into());
    let g = encode(&v, &SqlType::Guid, "c").unwrap();
    assert_eq!(
        format!("{g:?}"),
        format!(
            "{:?}",
            ColumnData::Guid(Some(
                tiberius::Uuid::parse_str("459C34BD-FA4E-50B0-8A7B-F1164310920C").unwrap()
            ))
        )
    );
    // datetime: days since 1900-01-01 and 1/300 s since midnight.
    let d = |s: &str| parse_datetime(s).map(|d| (d.days(), d.seconds_fragments()));
    assert_eq!(d("1900-01-01 00:00:00"), Some((0, 0)));
    assert_eq!(d("2000-01-01 12:00:00"), Some((36_524, 12_960_000)));
    assert_eq!(d("2000-01-01T12:00:00.5Z"), Some((36_524, 12_960_150)));
    assert_eq!(d("1999-12-31 23:59:59.999"), Some((36_524, 0)), "rounds into the next day");
    assert_eq!(d("2011-05-01"), d("2011-05-01 00:00:00"));
    assert_eq!(d("1752-12-31 00:00:00"), None, "before datetime's range");
}

#[test]
fn bulk_rows_cover_every_column_of_tblchat() {
    let layout = fixture_layout("tblChat");
    let pos: Vec<usize> =
        CHAT.cols.iter().map(|(c, _)| layout.iter().position(|d| d.name == *c).unwrap()).collect();
    let row = vec![
        Value::Int(7),
        Value::Int(1),
        Value::Int(634294368000000000),
        Value::Int(2),
        Value::Int(0),
        Value::Text("hé 😀".into()),
    ];
    let tr = target::token_row(&CHAT, &layout, &pos, &row).unwrap();
    assert_eq!(tr.len(), layout.len(), "rtf included");
    assert!(matches!(tr.get(6), Some(ColumnData::String(None))), "rtf is NULL");
    assert!(matches!(tr.get(4), Some(ColumnData::Bit(Some(false)))));
    let mut strict = layout.clone();
    strict[6].nullable = false;
    assert!(target::token_row(&CHAT, &strict, &pos, &row).unwrap_err().contains("NOT NULL"));
}

#[test]
fn inserts_quote_identifiers_and_respect_parameter_limits() {
    let aff = target::insert_sql(&gcmigrate::load::rows::AFFILIATION, 1);
    assert!(aff.contains("[index]") && !aff.contains('"'), "{aff}");
    for t in target::TABLES {
        let n = target::rows_per_insert(t);
        assert!(n <= 1000 && n * t.cols.len() <= 2100, "{}", t.name);
    }
    assert_eq!(
        target::delete_sql(&LAST_CHAT_ID, "nodeID"),
        "DELETE FROM [tblLastChatId] WHERE [nodeID] = @P1"
    );
}

// ---- Live tests (GCMIGRATE_TEST_MSSQL_URL) ----

/// A live server URL (with its database replaced by `db`), or None and a note.
fn live(test: &str) -> Option<String> {
    match std::env::var("GCMIGRATE_TEST_MSSQL_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            eprintln!("skipped {test}: GCMIGRATE_TEST_MSSQL_URL is not set (SQL Server tests need a server)");
            None
        }
    }
}

/// The same location with another database.
fn with_db(base: &str, db: &str) -> String {
    let lower = base.to_ascii_lowercase();
    if lower.starts_with("mssql://") || lower.starts_with("sqlserver://") {
        let at = base.rfind('@').unwrap_or(0);
        let (head, tail) = base.split_at(at);
        let (loc, query) =
            tail.split_once('?').map_or((tail, String::new()), |(l, q)| (l, format!("?{q}")));
        let host = loc.split('/').next().unwrap_or(loc);
        format!("{head}{host}/{db}{query}")
    } else {
        format!("{};Database={db}", base.trim_end_matches(';'))
    }
}

/// Runs T-SQL batches against a location.
fn tsql(url: &str, batches: &[String]) {
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
struct Scratch {
    url: String,
    master: String,
    name: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let sql = drop_sql(&self.name);
        let master = self.master.clone();
        // Best effort: a failed drop must not hide the test's own result.
        let _ = std::thread::spawn(move || {
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

fn drop_sql(db: &str) -> String {
    format!(
        "IF DB_ID(N'{db}') IS NOT NULL BEGIN ALTER DATABASE [{db}] SET SINGLE_USER WITH ROLLBACK \
         IMMEDIATE; DROP DATABASE [{db}] END"
    )
}

/// A fresh scratch database; dropped first if a previous run left it.
fn scratch(base: &str, name: &str) -> Scratch {
    let db = format!("gcm_{name}_{}", std::process::id());
    let master = with_db(base, "master");
    tsql(&master, &[format!("{}; CREATE DATABASE [{db}]", drop_sql(&db))]);
    Scratch { url: with_db(base, &db), master, name: db }
}

/// Standard SQL string literals as `N'…'`, so SQL Server keeps their Unicode text.
fn n_literals(sql: &str) -> String {
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

#[test]
fn contoso_literals_become_unicode_for_sql_server() {
    assert_eq!(
        n_literals("VALUES (1, 'it''s', 'é', NULL, '')"),
        "VALUES (1, N'it''s', N'é', NULL, N'')"
    );
}

/// Contoso for T-SQL: `N'…'` literals for its Unicode text, `[index]`, and `ymd` dates.
fn contoso_tsql() -> Vec<String> {
    let mut out = vec!["SET DATEFORMAT ymd".to_string()];
    for stmt in split_statements(gcmigrate::schema::CONTOSO) {
        out.push(n_literals(&stmt.replace("\"index\"", "[index]")));
    }
    out
}

fn legacy_contoso(base: &str) -> Scratch {
    let db = scratch(base, "legacy");
    let mut script = split_statements(include_str!("../fixtures/schema/legacy2010.tsql.sql"));
    script.extend(contoso_tsql());
    // One session, so SET DATEFORMAT holds for the INSERTs.
    tsql(&db.url, &[script.join(";\n")]);
    db
}

fn extract_plan(src: &str) -> (serde_json::Value, serde_json::Value) {
    let d = tmp_dir("mssql-plan");
    gcm().args(["extract", "-q", "--source", src, "--workspace"]).arg(&d).assert().success();
    gcm().args(["plan", "-q", "--workspace"]).arg(&d).assert().success();
    let mut p = json(&d.join("reports/plan.json"));
    p["source_version"] = serde_json::Value::Null;
    (json(&d.join("reports/extract-full.json")), p)
}

/// One integer from a query against a SQL Server location.
fn ms_scalar(url: &str, sql: &str) -> i64 {
    block_on(async {
        let mut c = ms::connect(&DbUrl::parse(url).unwrap()).await.unwrap();
        ms::req_int(&ms::query(&mut c, sql, &[]).await.unwrap()[0], 0).unwrap()
    })
}

#[test]
fn live_extracts_contoso_from_sql_server_like_sqlite() {
    let Some(base) = live("live_extracts_contoso_from_sql_server_like_sqlite") else { return };
    let src = legacy_contoso(&base);
    let lite = sqlite_url(&tmp_dir("mssql-ref"), "legacy.db");
    contoso(&lite);
    let ((ra, pa), (rb, pb)) = (extract_plan(&src.url), extract_plan(&lite));
    for k in ["version", "principals", "categories", "rooms", "messages"] {
        assert_eq!(ra[k], rb[k], "{k}");
    }
    assert_eq!(pa, pb, "the same plan from SQL Server and SQLite");
    let empty = scratch(&base, "empty");
    let (code, all, _) = extract_failing(&empty.url);
    assert!(code == 2 && all.contains("is not a Group Chat database"), "{all}");
}

/// A history chunk of room 1 with its `tblLastChatId` row and ledger row.
fn chunk(first: i64, n: i64, long: bool) -> Batch {
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
    let tail: Vec<Value> = vec![last.into(), n.into(), Value::Null, "2024-01-01T00:00:00Z".into()];
    b.insert(&LEDGER, ledger.into_iter().chain(tail).collect());
    b
}

#[test]
fn live_writer_commits_chunks_with_their_ledger_row_and_resumes() {
    let Some(base) = live("live_writer_commits_chunks_with_their_ledger_row_and_resumes") else {
        return;
    };
    let db = scratch(&base, "mgc");
    let url = DbUrl::parse(&db.url).unwrap();
    block_on(async {
        let t = target::open(&url, 2).await.unwrap();
        assert!(target::prepare(&t, true, false).await.unwrap());
        target::prepare(&t, false, false).await.unwrap(); // idempotent: schema and ledger exist
        let st = target::read_state(&t).await.unwrap();
        assert_eq!((st.next_prin, st.next_node), (2, 2));
        // Bulk load, plus one row too long for tiberius' bulk encoder.
        target::apply(&t, &chunk(1, 300, true)).await.unwrap();
        assert_eq!(target::resume_point(&t, 1).await.unwrap(), Some(300));
        // A duplicate chatId fails the whole chunk: neither its rows nor its ledger row stay.
        let e = target::apply(&t, &chunk(300, 200, false)).await.unwrap_err();
        assert!(format!("{e:#}").contains("nothing of this chunk was committed"), "{e:#}");
        assert_eq!(target::resume_point(&t, 1).await.unwrap(), Some(300));
        target::close(t).await;
    });
    assert_eq!(ms_scalar(&db.url, "SELECT COUNT_BIG(*) FROM tblChat"), 300);
    assert_eq!(ms_scalar(&db.url, "SELECT MAX(LEN(content)) FROM tblChat"), 40_000);
    assert_eq!(ms_scalar(&db.url, "SELECT MAX(lastChatID) FROM tblLastChatId"), 300);
}

/// Needs the lead's wiring of `load::mssql::{prepare, read_state, ledger_configs,
/// resume_point}` into `open_reader`/`ledger_map`/`resume_point`, and SQL Server reads in verify.
#[test]
fn live_migrates_contoso_into_a_sql_server_mgc() {
    let Some(base) = live("live_migrates_contoso_into_a_sql_server_mgc") else { return };
    let (src, mgc) = (legacy_contoso(&base), scratch(&base, "target"));
    let ws = tmp_dir("mssql-migrate");
    gcm().args(["extract", "-q", "--source", &src.url, "--workspace"]).arg(&ws).assert().success();
    gcm().args(["plan", "-q", "--workspace"]).arg(&ws).assert().success();
    for _ in 0..2 {
        let args = ["load", "-q", "--create-schema", "--target", &mgc.url, "--workspace"];
        gcm().args(args).arg(&ws).assert().success();
    }
    gcm().args(["verify", "-q", "--target", &mgc.url, "--workspace"]).arg(&ws).assert().success();
    let expected = json(&ws.join("reports/plan.json"))["messages"]["load"].as_i64().unwrap();
    assert_eq!(ms_scalar(&mgc.url, "SELECT COUNT_BIG(*) FROM tblChat"), expected, "loaded once");
}
