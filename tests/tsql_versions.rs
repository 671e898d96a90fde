//! The version test: every T-SQL text the tool can send or write runs on the oldest SQL
//! Server of its side — SQL Server 2005 SP3 for the legacy source (extract, freeze,
//! `verify --source` reads, the Lync 2010 schema), 2008 R2 SP2 for `mgc` (load, verify,
//! cutover, `plan --target`, the ledger and lock DDL, the rollback scripts, the 2013
//! schema). `gcmigrate::db::tsql_versions` names what a text uses that its side lacks;
//! these tests hold every text to it and show that `THROW` or `OFFSET … FETCH` added to
//! any one of them fails it.
#![cfg(feature = "mssql")]

use gcmigrate::db::tsql_versions::{newer_than, Side};
use gcmigrate::db::{split_statements, Dialect};
use gcmigrate::rollback::script::render;
use gcmigrate::rollback::{NewMessages, WaveKeys};

use crate::mssql::every_statement;
use crate::util::*;

/// The side each named statement of `every_statement` goes to, by the prefix of its name.
const SIDES: &[(&str, Side)] = &[
    ("extract: ", Side::Legacy),
    ("freeze: ", Side::Legacy),
    ("load: ", Side::Mgc),
    ("verify: ", Side::Mgc),
    ("verify --source: target ", Side::Mgc),
    ("plan --target: ", Side::Mgc),
    ("rollback: ", Side::Mgc),
    ("cutover: ", Side::Mgc),
];

/// One text the tool emits: its name, its side and the T-SQL.
type Text = (String, Side, String);

fn side_of(name: &str) -> Side {
    SIDES
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, side)| *side)
        .unwrap_or_else(|| panic!("{name}: which side is it sent to? add its prefix to SIDES"))
}

/// Keys that reach every branch of a rollback script: roles and scopes on foreign nodes,
/// a cutover row, several runs and add-ins, tblLastInviteId restored with and without a row.
fn keys() -> WaveKeys {
    WaveKeys {
        runs: vec!["20240101T000000.001-7".into(), "20240102T000000.001-8".into()],
        nodes: (2..1_205).collect(),
        principals: (2..40).collect(),
        addins: vec!["0f8fad5b-d9cb-469f-a165-70867728950e".into()],
        cutovers: vec!["cutover-20260101T000000.000-9".into()],
        roles: vec![(1, 2, 3)],
        scopes: vec![(1, 2)],
        last_invites: vec![(2, None), (3, Some(9))],
    }
}

/// Everything the tool can send to or write for SQL Server, each with its side.
fn every_text() -> Vec<Text> {
    let mut all: Vec<Text> =
        every_statement().into_iter().map(|(n, s)| (n.clone(), side_of(&n), s)).collect();
    for (n, ddl) in [
        ("load: ledger DDL (create)", Dialect::Mssql.create_ledger()),
        ("load: ledger upgrade (script)", Dialect::Mssql.upgrade_ledger()),
        ("load: lock DDL (create)", Dialect::Mssql.create_lock()),
    ] {
        all.push((n.into(), Side::Mgc, ddl.into()));
    }
    for (n, mode) in [("refuse", NewMessages::Refuse), ("discard", NewMessages::Discard)] {
        let text = render(&keys(), Dialect::Mssql, mode);
        all.push((format!("rollback script ({n} new messages)"), Side::Mgc, text));
    }
    for (file, side, text) in [
        (
            "fixtures/schema/legacy2010.tsql.sql",
            Side::Legacy,
            include_str!("../fixtures/schema/legacy2010.tsql.sql"),
        ),
        (
            "fixtures/schema/ocs2007r2.tsql.sql",
            Side::Legacy,
            include_str!("../fixtures/schema/ocs2007r2.tsql.sql"),
        ),
        (
            "fixtures/schema/mgc2013.tsql.sql",
            Side::Mgc,
            include_str!("../fixtures/schema/mgc2013.tsql.sql"),
        ),
    ] {
        all.push((file.into(), side, text.into()));
        for (i, s) in split_statements(text).into_iter().enumerate() {
            all.push((format!("{file} statement {}", i + 1), side, s));
        }
    }
    all
}

/// One line per construct a text uses that its side's minimum lacks, naming the
/// construct, the text and the side.
fn violations(texts: &[Text]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, side, sql) in texts {
        for n in newer_than(*side, sql) {
            out.push(format!(
                "{name} ({}, which must run on {}) uses {n}",
                side.name(),
                side.minimum()
            ));
        }
    }
    out
}

#[test]
fn every_tsql_text_runs_on_the_oldest_server_of_its_side() {
    let all = every_text();
    assert!(all.len() > 100, "{}", all.len());
    for side in [Side::Legacy, Side::Mgc] {
        assert!(all.iter().filter(|t| t.1 == side).count() > 20, "{} texts", side.name());
    }
    let found = violations(&all);
    assert!(found.is_empty(), "T-SQL newer than its side runs:\n{}", found.join("\n"));
}

#[test]
fn throw_or_offset_added_to_any_text_fails_the_version_test_naming_it() {
    let all = every_text();
    for (added, construct) in [
        ("THROW 50000, 'x', 1", "THROW"),
        ("SELECT a FROM t ORDER BY a OFFSET 0 ROWS FETCH NEXT 1 ROWS ONLY", "OFFSET … FETCH"),
    ] {
        for (name, side, sql) in &all {
            let changed = (name.clone(), *side, format!("{sql}\n{added}"));
            let found = violations(&[changed]);
            assert_eq!(found.len(), 1, "{name} + {added}: {found:?}");
            let line = &found[0];
            assert!(line.starts_with(&format!("{name} ({}", side.name())), "{line}");
            assert!(line.contains(side.minimum()) && line.contains(construct), "{line}");
            assert!(line.contains("new in SQL Server 2012"), "{line}");
        }
    }
    // The same construct in a literal or a comment is no use of it.
    let quoted = ("q".to_string(), Side::Legacy, "SELECT N'THROW 1' -- OFFSET 0 ROWS".into());
    assert!(violations(&[quoted]).is_empty());
}

#[test]
fn constructs_of_2008_fail_on_the_legacy_side_and_pass_on_mgc() {
    let merge = "MERGE INTO tblNode AS t USING s ON t.nodeID = s.id WHEN MATCHED THEN DELETE;";
    for (sql, construct) in [
        (merge, "MERGE"),
        ("INSERT INTO #k (id) VALUES (1), (2)", "multi-row VALUES"),
        ("SELECT CAST(chatDate AS datetime2) FROM tblChat", "datetime2"),
    ] {
        let text = |side| vec![("extract: x".to_string(), side, sql.to_string())];
        let legacy = violations(&text(Side::Legacy));
        assert!(
            legacy.len() == 1
                && legacy[0].contains(construct)
                && legacy[0].contains("legacy source")
                && legacy[0].contains("SQL Server 2005 SP3"),
            "{legacy:?}"
        );
        assert!(violations(&text(Side::Mgc)).is_empty(), "{sql}");
    }
}

#[test]
fn a_rollback_script_the_tool_wrote_runs_on_sql_server_2008_r2() {
    let env = TestEnv::new("tsql-versions-rollback").contoso();
    env.extract().plan().load();
    for extra in [&[][..], &["--discard-new-messages"]] {
        let out = env.run(&[&["rollback", "-q", "--dialect", "tsql"][..], extra].concat());
        let path = out.stdout.trim();
        assert!(path.contains("scripts") && path.ends_with(".tsql.sql"), "{path}");
        let script = std::fs::read_to_string(path).unwrap();
        assert!(script.contains("RAISERROR (N'") && !script.contains("THROW"), "{script}");
        let found = violations(&[(path.to_string(), Side::Mgc, script.clone())]);
        assert!(found.is_empty(), "{}", found.join("\n"));
        // On a legacy (2005) server its multi-row key INSERTs would not run: the check
        // tells the sides apart.
        let found = violations(&[(path.to_string(), Side::Legacy, script)]);
        assert!(found.iter().all(|l| l.contains("multi-row VALUES")) && !found.is_empty());
    }
}
