//! Live SQL Server tests: they run when `GCMIGRATE_TEST_MSSQL_URL` names a login that may
//! create databases (see the README, "Live SQL Server tests"), each in fresh scratch
//! databases `gcm_<name>_<pid>` dropped at the end; without it they are ignored.
//! The whole pipeline (extract → plan → load → verify → rollback --execute → verify),
//! freeze and its undo, the writer's resume, and the failures that must say what to check.
//! Also, without a server: the Contoso data they load is valid T-SQL once converted.
#![cfg(feature = "mssql")]

use std::io::Write;

use gcmigrate::db::batch::{Batch, Op, Value, CHAT};
use gcmigrate::db::mssql::url::with_database;
use gcmigrate::db::{split_statements, DbUrl};
use gcmigrate::db::{OpenMode, TargetDb};
use gcmigrate::load::{ledger, target as load_target};
use tiberius::ColumnData;

use crate::mssql::{extract_failing, parse};
use crate::resume::killed_then_rerun_with;
use crate::util::*;

mod r2conn;
mod staged;
mod support;
use support::*;

#[test]
fn contoso_literals_become_unicode_for_sql_server() {
    assert_eq!(
        n_literals("VALUES (1, 'it''s', 'é', NULL, '')"),
        "VALUES (1, N'it''s', N'é', NULL, N'')"
    );
}

#[test]
fn contoso_converted_for_sql_server_is_valid_tsql() {
    let stmts = contoso_tsql();
    assert!(stmts.len() > 20, "{}", stmts.len());
    // `SET DATEFORMAT ymd`: sqlparser 0.52 parses SET only as `SET name = value`.
    assert_eq!(stmts[0], "SET DATEFORMAT ymd");
    assert!(parse(&stmts[0]).is_err(), "SET DATEFORMAT parses now: check it like the rest");
    for s in &stmts[1..] {
        assert!(parse(s).is_ok(), "{s}\n{:?}", parse(s));
        // SQL Server accepts at most 1000 rows in one VALUES list.
        assert!(s.matches("\n  (").count() <= 1000, "{}", &s[..80.min(s.len())]);
    }
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
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

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_writer_commits_chunks_with_their_ledger_row_and_resumes() {
    let Some(base) = live("live_writer_commits_chunks_with_their_ledger_row_and_resumes") else {
        return;
    };
    let db = scratch(&base, "mgc");
    let url = DbUrl::parse(&db.url).unwrap();
    block_on(async {
        let t = load_target::open(&url, false, true, 2).await.unwrap().expect("an mgc");
        load_target::prepare(&t, true).await.unwrap();
        // Idempotent: schema and ledger exist.
        let again = load_target::open(&url, false, false, 1).await.unwrap().expect("an mgc");
        load_target::prepare(&again, false).await.unwrap();
        again.close().await;
        // The target lock: a second holder is refused with its name, never a raw error.
        let lock = gcmigrate::load::lock::TargetLock::acquire(&t, "first").await.unwrap();
        let e = gcmigrate::load::lock::TargetLock::acquire(&t, "second").await.unwrap_err();
        assert!(format!("{e:#}").contains("is in use by `first`"), "{e:#}");
        lock.release(&t).await.unwrap();
        gcmigrate::load::lock::TargetLock::acquire(&t, "third")
            .await
            .unwrap()
            .release(&t)
            .await
            .unwrap();
        let st = gcmigrate::load::config::TargetState::read(&t).await.unwrap();
        assert_eq!((st.next_prin, st.next_node), (2, 2));
        // Bulk load, plus one row too long for tiberius' bulk encoder.
        t.apply(&chunk(1, 300, true)).await.unwrap();
        assert_eq!(ledger::resume_point(&t, 1).await.unwrap(), Some(300));
        // A duplicate chatId fails the whole chunk: neither its rows nor its ledger row stay.
        let e = t.apply(&chunk(300, 200, false)).await.unwrap_err();
        assert!(format!("{e:#}").contains("nothing of this chunk was committed"), "{e:#}");
        assert_eq!(ledger::resume_point(&t, 1).await.unwrap(), Some(300));
        t.close().await;
    });
    assert_eq!(ms_scalar(&db.url, "SELECT COUNT_BIG(*) FROM tblChat"), 300);
    assert_eq!(ms_scalar(&db.url, "SELECT MAX(LEN(content)) FROM tblChat"), 40_000);
    assert_eq!(ms_scalar(&db.url, "SELECT MAX(lastChatID) FROM tblLastChatId"), 300);
    // Read back what was sent, cell by cell with the column's type: bulk load into bigint,
    // bit and nvarchar(max) columns, and the ledger's INSERT with a literal NULL.
    let sent = chunk(1, 300, true);
    let chats = ms_rows(&db.url, "SELECT channelId, chatId, chatDate, userId, isAlert, content, rtf FROM tblChat ORDER BY chatId");
    let expected: Vec<Vec<ColumnData<'static>>> = sent
        .ops
        .iter()
        .find_map(|op| match op {
            Op::Insert(t, rows) if t.name == CHAT.name => Some(
                rows.iter()
                    .map(|r| {
                        let (
                            Value::Int(ch),
                            Value::Int(id),
                            Value::Int(date),
                            Value::Int(user),
                            Value::Text(text),
                        ) = (&r[0], &r[1], &r[2], &r[3], &r[5])
                        else {
                            panic!("{r:?}")
                        };
                        vec![
                            ColumnData::I32(Some(*ch as i32)),
                            ColumnData::I64(Some(*id)),
                            ColumnData::I64(Some(*date)),
                            ColumnData::I32(Some(*user as i32)),
                            ColumnData::Bit(Some(false)),
                            ColumnData::String(Some(text.clone().into())),
                            ColumnData::String(None),
                        ]
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap();
    assert_eq!(chats.len(), expected.len());
    for (got, want) in chats.iter().zip(&expected) {
        assert_eq!(got, want, "tblChat read back as sent, types included");
    }
    let ledger = ms_rows(&db.url, "SELECT run_id, wave, kind, room_id, first_chat, last_chat, rows_written, body, written_at FROM gcmigrate_ledger");
    assert_eq!(ledger.len(), 1, "one chunk committed with its ledger row");
    assert_eq!(
        ledger[0],
        vec![
            ColumnData::String(Some("r".into())),
            ColumnData::String(Some("w".into())),
            ColumnData::String(Some("chat".into())),
            ColumnData::I64(Some(1)),
            ColumnData::I64(Some(1)),
            ColumnData::I64(Some(300)),
            ColumnData::I64(Some(300)),
            ColumnData::String(None),
            ColumnData::String(Some("2024-01-01T00:00:00Z".into())),
        ],
        "the ledger row read back as sent (body a literal NULL)"
    );
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_migrates_contoso_into_a_sql_server_mgc_and_rolls_it_back() {
    let Some(base) = live("live_migrates_contoso_into_a_sql_server_mgc_and_rolls_it_back") else {
        return;
    };
    let (src, mgc) = (legacy_contoso(&base), scratch(&base, "target"));
    let mgc_ddl = split_statements(include_str!("../fixtures/schema/mgc2013.tsql.sql"));
    // The schema and an empty ledger, so that the counts before cover every table.
    tsql(
        &mgc.url,
        &[mgc_ddl.join(";\n"), gcmigrate::db::Dialect::Mssql.create_ledger().to_string()],
    );
    let before = mgc_counts(&mgc.url);
    let env = TestEnv::new("mssql-migrate").source(&src.url);
    env.extract().run(&["plan", "-q", "--target", &mgc.url]);
    // Twice: the second run finds every chunk in the ledger and writes nothing.
    for _ in 0..2 {
        let (code, all) = run(&env, &["load", "-q", "--target", &mgc.url]);
        assert_eq!(code, 0, "load: {all}");
    }
    let expected = env.report("plan.json")["messages"]["load"].as_i64().unwrap();
    assert_eq!(ms_scalar(&mgc.url, "SELECT COUNT_BIG(*) FROM tblChat"), expected, "loaded once");
    let (code, all) = run(&env, &["verify", "-q", "--target", &mgc.url]);
    assert_eq!(code, 0, "verify: {all}");
    let report = env.report("verify-all.json");
    assert_eq!(report["totals"]["loaded"].as_i64(), Some(expected), "{report}");
    assert!(report["invariants"].as_array().is_some_and(|v| v.len() > 4), "{report}");
    // What SQL Server stored is what the same workspace writes into SQLite, row for row.
    let lite = sqlite_url(&tmp_dir("mssql-vs-sqlite"), "mgc.db");
    let (code, all) = run(&env, &["load", "-q", "--create-schema", "--target", &lite]);
    assert_eq!(code, 0, "load into SQLite: {all}");
    let lite_rows = fingerprint(&lite, Some(LOADED_ROWS));
    assert_eq!(ms_fingerprint(&mgc.url), lite_rows, "SQL Server and SQLite targets");

    // A message posted after the cutover: the guard refuses and nothing is deleted.
    let room = ms_scalar(&mgc.url, "SELECT MAX(channelId) FROM tblChat");
    let late = format!(
        "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
         SELECT {room}, MAX(chatId) + 1, MAX(chatDate), MIN(userId), 0, N'late' FROM tblChat WHERE channelId = {room}"
    );
    tsql(&mgc.url, &[late]);
    let (code, all) =
        run(&env, &["rollback", "-q", "--wave", "default", "--execute", "--target", &mgc.url]);
    assert_eq!(code, 1, "refused: {all}");
    assert!(all.contains("new_messages_posted_after_cutover"), "{all}");
    assert_eq!(ms_scalar(&mgc.url, "SELECT COUNT_BIG(*) FROM tblChat"), expected + 1);

    let args = ["rollback", "-q", "--wave", "default", "--execute", "--discard-new-messages"];
    let (code, all) = run(&env, &[&args[..], &["--target", &mgc.url]].concat());
    assert_eq!(code, 0, "rollback: {all}");
    assert_eq!(mgc_counts(&mgc.url), before, "the rollback restores the pre-load state");
    let (code, all) = run(&env, &["verify", "-q", "--target", &mgc.url]);
    assert_eq!(code, 1, "nothing of the wave is left to verify: {all}");
    let report = env.report("verify-all.json");
    assert_eq!(report["totals"]["loaded"].as_i64(), Some(0), "{report}");
    let (code, all) =
        run(&env, &["rollback", "-q", "--wave", "default", "--execute", "--target", &mgc.url]);
    assert!(code == 2 && all.contains("no load of wave"), "nothing left to roll back: {all}");
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_load_created_killed_and_rerun_equals_uninterrupted_and_verify_sees_tampering() {
    let Some(base) =
        live("live_load_created_killed_and_rerun_equals_uninterrupted_and_verify_sees_tampering")
    else {
        return;
    };
    // Empty databases: the loads create the mgc schema (--create-schema).
    let (reference, victim) = (scratch(&base, "ref"), scratch(&base, "victim"));
    let env = killed_then_rerun_with(&reference.url, &victim.url, &ms_fingerprint);
    let (code, all) = verify(&env, &victim.url);
    assert_eq!(code, 0, "{all}");

    // A wrong value in one message: verify fails naming the room, and passes once it is undone.
    let (room, chat) = (
        ms_scalar(&victim.url, "SELECT MIN(channelId) FROM tblChat"),
        ms_scalar(&victim.url, "SELECT MIN(chatId) FROM tblChat WHERE channelId = (SELECT MIN(channelId) FROM tblChat)"),
    );
    let at = format!("WHERE channelId = {room} AND chatId = {chat}");
    tsql(&victim.url, &[format!("UPDATE tblChat SET content = content + N'!' {at}")]);
    let (code, all) = verify(&env, &victim.url);
    assert!(
        code == 1 && all.contains("mismatch") && all.contains(&format!("chatId {chat}")),
        "{all}"
    );
    tsql(
        &victim.url,
        &[format!("UPDATE tblChat SET content = LEFT(content, LEN(content) - 1) {at}")],
    );
    assert_eq!(verify(&env, &victim.url).0, 0, "the original content verifies again");

    // A deleted message: the count no longer matches.
    tsql(&victim.url, &[format!("DELETE FROM tblChat {at}")]);
    let (code, all) = verify(&env, &victim.url);
    assert!(code == 1 && all.contains("mismatch"), "{all}");

    // A role nobody had: a user made manager of every room gains access.
    // On the reference target, which verifies as it was loaded.
    let fresh = &reference.url;
    let manage_everything = "DECLARE @u int; \
        SELECT @u = MAX(p.prinID) FROM tblPrincipal AS p \
        JOIN tblPrincipalType AS t ON t.ptypeID = p.prinTypeID WHERE t.ptypeIsUser = 1; \
        INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy) \
        SELECT n.nodeID, @u, t.rtypeID, @u FROM tblNode AS n CROSS JOIN tblRoleType AS t \
        WHERE n.nodeType = 0 AND t.rtypeDesc = N'Manager' AND NOT EXISTS (SELECT 1 FROM tblPrincipalRole AS r \
        WHERE r.prinRoleNodeID = n.nodeID AND r.prinRolePrinID = @u AND r.prinRoleTypeID = t.rtypeID)";
    tsql(fresh, &[manage_everything.to_string()]);
    let (code, all) = verify(&env, fresh);
    assert_eq!(code, 1, "{all}");
    let report = env.report("verify-all.json");
    let gained = report["access"]["gained"].as_array().unwrap();
    assert!(gained.iter().any(|g| g["right"] == "manage"), "{report}");
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_freezes_and_unfreezes_a_sql_server_source() {
    let Some(base) = live("live_freezes_and_unfreezes_a_sql_server_source") else { return };
    let src = legacy_contoso(&base);
    let enabled = "SELECT COUNT_BIG(*) FROM tblNode WHERE nodeType = 0 AND disabled = 0";
    let disabled_before =
        ms_scalar(&src.url, "SELECT COUNT_BIG(*) FROM tblNode WHERE disabled = 1");
    let open_rooms = ms_scalar(&src.url, enabled);
    assert!(open_rooms > 1);
    let env = TestEnv::new("mssql-freeze").source(&src.url);
    env.extract().plan();
    let (code, all) = run(&env, &["freeze", "--wave", "default", "--source", &src.url]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(ms_scalar(&src.url, enabled), 0, "every room of the wave is disabled");
    let (code, all) = run(&env, &["freeze", "--wave", "default", "--undo", "--source", &src.url]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(ms_scalar(&src.url, enabled), open_rooms);
    let after = ms_scalar(&src.url, "SELECT COUNT_BIG(*) FROM tblNode WHERE disabled = 1");
    assert_eq!(after, disabled_before, "rooms disabled before the freeze stay disabled");
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_failures_say_what_to_check() {
    let Some(base) = live("live_failures_say_what_to_check") else { return };
    let (src, empty) = (legacy_contoso(&base), scratch(&base, "notmgc"));
    let env = TestEnv::new("mssql-failures").source(&src.url);
    env.extract().plan();
    // Wrong kind of database: exit 2.
    for (args, needle) in [
        (vec!["load", "--target", &empty.url], "is not a Persistent Chat mgc database"),
        (vec!["plan", "--target", &empty.url], "is not a Persistent Chat mgc database"),
        (vec!["verify", "--target", &src.url], "holds no gcmigrate ledger"),
        (
            vec!["freeze", "--wave", "default", "--source", &empty.url],
            "is not a Group Chat database",
        ),
        (
            vec!["rollback", "--wave", "default", "--target", &src.url],
            "no readable gcmigrate_ledger",
        ),
    ] {
        let (code, all) = run(&env, &args);
        assert!(code == 2 && all.contains(needle), "{args:?}: {all}");
    }
    let missing = with_database(&base, "gcm_no_such_database");
    let (code, all, _) = extract_failing(&missing);
    assert!(code == 3 && all.contains("cannot open database"), "{all}");
    let Some(bad_login) = with_login(&src.url, "gcm_nobody", "WrongSecret9") else {
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED the login checks: they need an mssql:// URL"
        );
        return;
    };
    let (code, all, _) = extract_failing(&bad_login);
    assert!(code == 3 && all.contains("login failed") && !all.contains("WrongSecret9"), "{all}");

    // A login with a user in the database and no permission at all.
    let login = format!("gcm_noperm_{}", std::process::id());
    let pw = "NoPerm_Secret_42";
    let master = with_database(&base, "master");
    let drop_login = format!("IF SUSER_ID(N'{login}') IS NOT NULL DROP LOGIN [{login}]");
    catalog_tsql(
        &master,
        &[
            drop_login.clone(),
            format!("CREATE LOGIN [{login}] WITH PASSWORD = N'{pw}', CHECK_POLICY = OFF"),
        ],
    );
    catalog_tsql(&src.url, &[format!("CREATE USER [{login}] FOR LOGIN [{login}]")]);
    let (code, all, _) = extract_failing(&with_login(&src.url, &login, pw).unwrap());
    catalog_tsql(&src.url, &[format!("DROP USER [{login}]")]);
    catalog_tsql(&master, &[drop_login]);
    assert!(code == 3 && all.contains("permission denied") && !all.contains(pw), "{all}");
    assert!(all.contains("GRANT SELECT"), "says what to grant: {all}");
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_bulk_loads_end_wherever_the_packets_fall() {
    let Some(base) = live("live_bulk_loads_end_wherever_the_packets_fall") else { return };
    let db = scratch(&base, "packets");
    tsql(
        &db.url,
        &[split_statements(include_str!("../fixtures/schema/mgc2013.tsql.sql")).join(";\n")],
    );
    // 130 rows of `len` characters each: as `len` grows by one, the bulk load's end moves by
    // 260 bytes against the 4,096-byte TDS packets, so some lengths (19 with tiberius 0.12's
    // encoding) split its final DONE token across two packets, which Babelfish refuses.
    let lens = 0..=40i64;
    block_on(async {
        let t =
            TargetDb::open(&DbUrl::parse(&db.url).unwrap(), OpenMode::Existing, 1).await.unwrap();
        for len in lens.clone() {
            let mut b = Batch::default();
            for id in 0..130 {
                let row: Vec<Value> = vec![2.into(), (len * 1000 + id).into(), 5.into(), 1.into()];
                let text = "x".repeat(len as usize);
                b.insert(&CHAT, row.into_iter().chain([false.into(), text.into()]).collect());
            }
            t.apply(&b).await.unwrap_or_else(|e| panic!("{len} characters: {e:#}"));
        }
        t.close().await;
    });
    assert_eq!(ms_scalar(&db.url, "SELECT COUNT_BIG(*) FROM tblChat"), 130 * 41);
    let chars: i64 = lens.map(|l| 130 * l).sum();
    assert_eq!(ms_scalar(&db.url, "SELECT SUM(CAST(LEN(content) AS bigint)) FROM tblChat"), chars);
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_cuts_a_frozen_wave_over_in_a_sql_server_mgc() {
    let Some(base) = live("live_cuts_a_frozen_wave_over_in_a_sql_server_mgc") else { return };
    let (src, mgc) = (legacy_contoso(&base), scratch(&base, "cutover"));
    let env = TestEnv::new("mssql-cutover").source(&src.url);
    env.extract().plan();
    let ok = |args: &[&str]| {
        let (code, all) = run(&env, args);
        assert_eq!(code, 0, "{args:?}: {all}");
        all
    };
    ok(&["load", "-q", "--create-schema", "--target", &mgc.url]);
    // Staged: the load created every room disabled.
    let rooms = "SELECT COUNT_BIG(*) FROM tblNode WHERE nodeType = 0 AND disabled = 1";
    let staged = ms_scalar(&mgc.url, rooms);
    assert_eq!(staged, ms_scalar(&mgc.url, "SELECT COUNT_BIG(*) FROM tblNode WHERE nodeType = 0"));
    // The full verify before the freeze lets the window's verify read only the delta.
    ok(&["verify", "-q", "--target", &mgc.url]);
    ok(&["freeze", "-q", "--wave", "default", "--source", &src.url]);
    ok(&["extract", "-q", "--delta", "--source", &src.url]);
    ok(&["plan", "-q"]);
    ok(&["load", "-q", "--target", &mgc.url]);
    let (code, all) = run(&env, &["cutover", "--wave", "default", "--target", &mgc.url]);
    assert!(code == 1 && all.contains("no verify of wave default"), "{all}");
    assert_eq!(ms_scalar(&mgc.url, rooms), staged, "a refusal changes nothing");
    let all = ok(&["verify", "--target", &mgc.url]);
    assert!(all.contains("staged (not cut over yet)"), "{all}");
    let history = env.report("verify-all.json")["history"].clone();
    assert_eq!(history["mode"], "incremental", "{history}");
    assert_eq!(history["cheap_check_failed"], serde_json::json!([]), "{history}");
    ok(&["cutover", "--wave", "default", "--target", &mgc.url]);
    assert_eq!(ms_scalar(&mgc.url, rooms), 1, "only the room disabled in legacy");
    let cut = "SELECT COUNT_BIG(*) FROM gcmigrate_ledger WHERE kind = 'cutover'";
    assert_eq!(ms_scalar(&mgc.url, cut), 1);
    let all = ok(&["cutover", "--wave", "default", "--target", &mgc.url]);
    assert!(all.contains("already cut over"), "{all}");
    ok(&["verify", "-q", "--target", &mgc.url]);
    // Rolled back, the cutover row goes with the wave.
    ok(&["rollback", "-q", "--wave", "default", "--execute", "--target", &mgc.url]);
    assert_eq!(ms_scalar(&mgc.url, "SELECT COUNT_BIG(*) FROM gcmigrate_ledger"), 0);
}
