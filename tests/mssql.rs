//! SQL Server through tiberius. Always: connection failures (exit 3, fast, no secret),
//! every T-SQL statement the tool emits parsed with sqlparser's MsSqlDialect, and value
//! encoding against the column types of `fixtures/schema/mgc2013.tsql.sql`. The live tests
//! (`GCMIGRATE_TEST_MSSQL_URL`) are in `mssql_live.rs`.
#![cfg(feature = "mssql")]

use std::time::{Duration, Instant};

use gcmigrate::db::batch::{Ty, Value, CHAT, LAST_CHAT_ID, LEDGER};
use gcmigrate::db::mssql::writer as target;
use gcmigrate::db::mssql::{encode, parse_datetime, SqlType};
use gcmigrate::db::split_statements;
use sqlparser::ast::{ColumnOption, Statement};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use tiberius::ColumnData;

use crate::util::*;

/// Runs `extract` against `source`; returns (exit code, stdout + stderr, seconds).
pub(crate) fn extract_failing(source: &str) -> (i32, String, f64) {
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
fn every_stage_fails_fast_on_an_unreachable_sql_server_without_the_password() {
    // A workspace with Contoso extracted and planned (SQLite source).
    let env = TestEnv::new("mssql-stages").contoso();
    env.extract().plan();
    let url = "mssql://u:secret@127.0.0.1:1/mgc?connect_timeout=5";
    for args in [
        &["plan", "--target", url][..],
        &["load", "--target", url],
        &["load", "--dry-run", "--target", url],
        &["verify", "--target", url],
        &["freeze", "--wave", "default", "--source", url],
        &["freeze", "--wave", "default", "--undo", "--source", url],
        &["rollback", "--wave", "default", "--execute", "--target", url],
    ] {
        let t0 = Instant::now();
        let out = env.command(args).timeout(Duration::from_secs(60)).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(3), "{args:?}: {all}");
        assert!(t0.elapsed() < Duration::from_secs(10), "{args:?}: {:?}", t0.elapsed());
        assert!(all.contains("cannot connect to SQL Server 127.0.0.1:1"), "{args:?}: {all}");
        assert!(!all.contains("secret"), "{args:?}: {all}");
        assert_eq!(all.lines().filter(|l| l.starts_with("error:")).count(), 1, "{args:?}: {all}");
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

/// Statements that are valid T-SQL but that sqlparser 0.52 cannot parse, by name, with the
/// reason. (The rollback script's `SET XACT_ABORT ON` and `IF EXISTS … RAISERROR` guards are
/// listed in `rollback.rs`, which parses whole scripts.)
pub(crate) const UNPARSED: &[(&str, &str)] = &[
    (
        "load: ledger DDL",
        "`IF cond statement` is not in sqlparser 0.52's MsSqlDialect; the CREATE TABLE after `IS NULL` is parsed instead",
    ),
    (
        "load: lock DDL",
        "`IF cond statement`, as the ledger DDL; the CREATE TABLE after `IS NULL` is parsed instead",
    ),
    (
        "rollback: end an open transaction",
        "`IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION`: sqlparser 0.52 has no T-SQL IF statement; the ROLLBACK is parsed instead",
    ),
];

pub(crate) fn parse(sql: &str) -> Result<Vec<Statement>, String> {
    Parser::parse_sql(&MsSqlDialect {}, sql).map_err(|e| e.to_string())
}

/// Every named T-SQL text the tool can send: extract, load (writes, reads, schema checks),
/// verify, freeze, rollback and cutover.
pub(crate) fn every_statement() -> Vec<(String, String)> {
    let named = |prefix: &str, v: Vec<(String, String)>| {
        v.into_iter().map(|(n, s)| (format!("{prefix}: {n}"), s)).collect::<Vec<_>>()
    };
    let mut all = named("extract", gcmigrate::source::tsql_statements());
    all.extend(named("load", gcmigrate::load::tsql_statements()));
    let deployment = gcmigrate::source::deployment::statements(gcmigrate::db::Dialect::Mssql);
    all.extend(named("extract", deployment));
    all.extend(gcmigrate::verify::tsql_statements());
    all.extend(gcmigrate::freeze::tsql_statements());
    all.extend(gcmigrate::rollback::tsql_statements());
    all.extend(gcmigrate::cutover::tsql_statements());
    all
}

#[test]
fn every_tsql_statement_the_tool_emits_parses() {
    let all = every_statement();
    assert!(all.len() > 70, "{}", all.len());
    let mut names = std::collections::HashSet::new();
    for (name, sql) in &all {
        assert!(names.insert(name.as_str()), "two statements named {name}");
        match UNPARSED.iter().find(|(n, _)| n == name) {
            Some(_) => assert!(parse(sql).is_err(), "{name} parses now: take it off UNPARSED"),
            None => {
                assert!(parse(sql).is_ok_and(|v| v.len() == 1), "{name}: {sql}\n{:?}", parse(sql))
            }
        }
    }
    for (name, _) in UNPARSED {
        assert!(names.contains(name), "UNPARSED names {name}, which the tool no longer sends");
    }
    for ddl in
        [gcmigrate::db::Dialect::Mssql.create_ledger(), gcmigrate::db::Dialect::Mssql.create_lock()]
    {
        let create = &ddl[ddl.find("CREATE TABLE").unwrap()..];
        assert!(parse(create).is_ok(), "{create}");
    }
    let end = ms_statement("rollback: end an open transaction");
    assert!(parse(&end[end.find("ROLLBACK").unwrap()..]).is_ok(), "{end}");
}

fn ms_statement(name: &str) -> String {
    every_statement().into_iter().find(|(n, _)| n == name).map(|(_, s)| s).unwrap()
}

#[test]
fn tsql_fixture_ddl_parses_statement_by_statement() {
    for (file, text) in [
        ("legacy2010.tsql.sql", include_str!("../fixtures/schema/legacy2010.tsql.sql")),
        ("ocs2007r2.tsql.sql", include_str!("../fixtures/schema/ocs2007r2.tsql.sql")),
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
    let aff = target::insert_sql(&gcmigrate::db::batch::AFFILIATION, 1);
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
