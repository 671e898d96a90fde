//! `gcmigrate rollback`: load → rollback leaves every table as it was, guards refuse
//! before deleting anything, hostile names cannot reach a script, T-SQL parses.

use std::path::{Path, PathBuf};

use gcmigrate::db::{split_statements, Dialect};
use gcmigrate::schema::{ddl, SchemaKind};

use crate::util::*;

/// Rows a target held before gcmigrate touched it; the rollback must leave them alone.
/// Principal 2 has a Contoso URI and the add-in a Contoso GUID, so the load reuses both;
/// its tblLastInviteId (1) is raised by the load (its invitations go to 2) and restored.
const PRE_EXISTING: &str = "
INSERT INTO tblPrincipal (prinID, prinGuid, prinUri, prinName, prinDisplayName, prinCompanyName, prinEmail, prinADPath,
  prinADUserPrincipalName, prinDisabled, prinTypeID, prinPoolID, prinPolicyID, prinAddedBy, prinAddedOn, prinUpdatedBy,
  prinUpdatedOn, prinVerifiedOn) VALUES
  (2, 'aaaaaaaa-0000-4000-8000-000000000002', 'sip:anna.lindqvist@contoso.com', 'Anna', 'Anna Lindqvist', NULL, NULL, NULL,
   NULL, 0, 5, NULL, NULL, 1, 634953024000000000, 1, 634953024000000000, '2013-02-01 08:00:00'),
  (3, 'aaaaaaaa-0000-4000-8000-000000000003', 'sip:keeper@fabrikam.com', 'Keeper', 'Kept Principal', NULL, NULL, NULL,
   NULL, 0, 5, NULL, NULL, 1, 634953024000000000, 1, 634953024000000000, '2013-02-01 08:00:00');
INSERT INTO tblPrincipalAffiliations (principalID, affiliationID, \"index\", updatedBy) VALUES (3, 3, -1, 1);
INSERT INTO tblSiopWhiteList (siopID, siopName, siopUrl) VALUES
  ('422b2ad0-0160-5c78-a937-c0a3e110b0bb', 'IT Ticket Viewer', 'https://old.example/tickets');
INSERT INTO tblNode (nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, invite, logged, filePost, disabled,
  behavior, visibility, siopID, nodeAddedBy, nodeAddedOn, nodeUpdatedBy, nodeUpdatedOn, purgedOn) VALUES
  (2, 'bbbbbbbb-0000-4000-8000-000000000002', 1, 1, 'Kept category', 'kept', 1, 1, 1, 0, 4, 3, NULL, 1, 634953024000000000, 1, 634953024000000000, NULL),
  (3, 'bbbbbbbb-0000-4000-8000-000000000003', 2, 0, 'Kept room', 'kept', NULL, NULL, NULL, 0, 4, 3,
   '422b2ad0-0160-5c78-a937-c0a3e110b0bb', 3, 634953024000000000, 3, 634953024000000000, NULL);
INSERT INTO tblScopePrincipal (scopeNodeID, scopePrinID, scopeIsDenied, scopeUpdatedBy) VALUES (2, 3, 0, 1);
INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy) VALUES (3, 2, 1, 1), (3, 3, 2, 1);
INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content, rtf) VALUES (3, 1, 634953024000000000, 3, 0, 'kept', NULL);
INSERT INTO tblLastChatId (nodeID, lastChatID) VALUES (3, 1);
INSERT INTO tblLastInviteId (prinID, lastInviteID) VALUES (2, 1), (3, 7);
";

/// A name that breaks any script that quotes it naively, in any of the three dialects.
const HOSTILE: &str = "x'); DROP TABLE tblChat; --\n$$ */ \"q\" ]]";

/// Contoso, extracted and planned, in a fresh environment.
fn planned(name: &str) -> TestEnv {
    let env = TestEnv::new(name).contoso();
    env.extract().plan();
    env
}

/// An mgc database holding [`PRE_EXISTING`].
fn seeded(url: &str, dialect: Dialect) {
    let url = if dialect == Dialect::Sqlite { format!("{url}?mode=rwc") } else { url.to_string() };
    exec(&url, ddl(SchemaKind::Mgc2013, dialect));
    exec(&url, PRE_EXISTING);
}

/// Loads one wave of the plan into the env's target.
fn load_wave(env: &TestEnv, wave: &str) {
    env.run(&["load", "-q", "--create-schema", "--target", &env.target, "--wave", wave]);
}

/// `gcmigrate rollback -q ARGS… --workspace WS`, returning (exit code, stdout, stderr).
fn rollback(env: &TestEnv, args: &[&str]) -> (i32, String, String) {
    let out = env.output(&[&["rollback", "-q"][..], args].concat());
    (out.code, out.stdout, out.stderr)
}

fn ledger_rows(url: &str) -> i64 {
    scalar(url, "SELECT COUNT(*) FROM gcmigrate_ledger")
}

/// Load, roll back, compare; then the same wave loads again on the cleaned target.
fn round_trip(env: &TestEnv, dialect: Dialect) {
    let (ws, target) = (&env.ws, env.target.as_str());
    seeded(target, dialect);
    let before = fingerprint(target, None);
    env.load();
    let loaded = scalar(target, "SELECT COUNT(*) FROM tblChat");
    assert!(loaded > 1 && fingerprint(target, None) != before);

    // Offline (journal) and online (ledger) rendering agree.
    let file = env.dir.join("offline.sql");
    let (code, _, err) =
        rollback(env, &["--dialect", dialect.name(), "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = rollback(env, &["--execute", "--target", target]);
    assert_eq!(code, 0, "{err}");
    let script = PathBuf::from(out.trim());
    assert!(script.starts_with(ws.join("scripts")), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), std::fs::read_to_string(&script).unwrap());

    assert_eq!(fingerprint(target, None), before, "the rollback restores the pre-load state");
    assert_eq!(ledger_rows(target), 0);
    for args in [&["--execute", "--target", target][..], &["--dialect", dialect.name()][..]] {
        let (code, _, err) = rollback(env, args);
        assert_eq!(code, 2, "nothing left to roll back, in the ledger nor in the journal: {err}");
        // Without --wave: every wave of the pool, and there is none left.
        assert!(err.contains("no load of"), "{err}");
    }

    env.load();
    assert_eq!(
        loaded,
        scalar(target, "SELECT COUNT(*) FROM tblChat"),
        "the wave loads again after its rollback"
    );
}

/// A deployment large enough that the load's ledger and journal bodies are stored packed
/// (over 1 MB of JSON): the rollback reads both (offline from the journal, online from the
/// ledger) and restores the target.
#[test]
fn rollback_reads_packed_ledger_and_journal_bodies() {
    let env = TestEnv::new("rollback-packed").synth(&[
        "--users",
        "8000",
        "--rooms",
        "600",
        "--messages",
        "2000",
    ]);
    env.extract().plan();
    let target = env.target.as_str();
    seeded(target, Dialect::Sqlite);
    let before = fingerprint(target, None);
    env.load();
    let packed = |url: &str, table: &str| {
        let sql =
            format!("SELECT COUNT(*) FROM {table} WHERE kind = 'config' AND body LIKE 'z1:%'");
        scalar(url, &sql)
    };
    assert_eq!(packed(target, "gcmigrate_ledger"), 1, "the ledger's config body is packed");
    assert_eq!(packed(&sqlite_url(&env.ws, "staging.db"), "journal"), 1, "so is the journal's");
    let file = env.dir.join("offline.sql");
    let (code, _, err) = rollback(&env, &["--dialect", "sqlite", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = rollback(&env, &["--execute", "--target", target]);
    assert_eq!(code, 0, "{err}");
    let online = std::fs::read_to_string(out.trim()).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), online, "journal and ledger agree");
    assert_eq!(fingerprint(target, None), before, "the rollback restores the pre-load state");
    assert_eq!(ledger_rows(target), 0);
}

#[test]
fn rollback_restores_a_sqlite_target() {
    round_trip(&planned("rollback-sqlite"), Dialect::Sqlite);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn rollback_restores_a_postgres_target() {
    let Some(pg) = pg_database("rollback_pg") else { return };
    round_trip(&planned("rollback-pg").target(&pg), Dialect::Postgres);
}

/// A message posted in a migrated room after the cutover stops the rollback before it
/// deletes anything, until `--discard-new-messages`.
fn refuses_new_messages(env: &TestEnv, dialect: Dialect) {
    let target = env.target.as_str();
    seeded(target, dialect);
    let before = fingerprint(target, None);
    env.load();
    let room = scalar(target, "SELECT MIN(channelId) FROM tblChat WHERE channelId > 3");
    let next =
        scalar(target, &format!("SELECT MAX(chatId) + 1 FROM tblChat WHERE channelId = {room}"));
    exec(target, &format!(
        "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES ({room}, {next}, 635000000000000000, 2, 0, 'after cutover')"
    ));
    let posted = fingerprint(target, None);
    let (code, _, err) = rollback(env, &["--execute", "--target", target]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--discard-new-messages"), "{err}");
    assert_eq!(fingerprint(target, None), posted, "nothing was deleted");

    let (code, _, err) =
        rollback(env, &["--execute", "--target", target, "--discard-new-messages"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fingerprint(target, None), before);
}

#[test]
fn guard_refuses_new_messages_on_sqlite() {
    refuses_new_messages(&planned("rollback-guard-sqlite"), Dialect::Sqlite);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn guard_refuses_new_messages_on_postgres() {
    let Some(pg) = pg_database("rollback_guard_pg") else { return };
    refuses_new_messages(&planned("rollback-guard-pg").target(&pg), Dialect::Postgres);
}

#[test]
fn sqlite_script_deletes_nothing_when_a_shell_goes_on_after_the_guard() {
    let env = planned("rollback-bail");
    let target = &env.target;
    seeded(target, Dialect::Sqlite);
    env.load();
    let room = scalar(target, "SELECT MIN(channelId) FROM tblChat WHERE channelId > 3");
    exec(target, &format!("INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES ({room}, 999999, 1, 2, 0, 'new')"));
    let posted = fingerprint(target, None);
    let (code, out, err) = rollback(&env, &["--dialect", "sqlite"]);
    assert_eq!(code, 0, "{err}");
    // What `sqlite3 mgc.db < FILE` does without -bail: report the error, run the rest.
    let script = std::fs::read_to_string(out.trim()).unwrap();
    let failed = block_on(async {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(target).await.unwrap();
        let mut failed = Vec::new();
        for stmt in split_statements(&script) {
            if let Err(e) = sqlx::raw_sql(&stmt).execute(&mut conn).await {
                failed.push(e.to_string());
            }
        }
        failed
    });
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("new_messages_posted_after_cutover"), "{failed:?}");
    assert_eq!(fingerprint(target, None), posted);
}

/// Splits the plan's rooms over waves `a` and `b` (alternately, so categories are shared).
fn two_waves(ws: &Path) {
    block_on(async {
        let url = format!("sqlite://{}", ws.join("staging.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let body: String = sqlx::query_scalar("SELECT CAST(body AS TEXT) FROM plan WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        let mut plan: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut waves = [("a", vec![], 0u64), ("b", vec![], 0u64)];
        for (i, room) in plan["rooms"].as_array_mut().unwrap().iter_mut().enumerate() {
            let w = &mut waves[i % 2];
            room["wave"] = w.0.into();
            w.1.push(room["legacy_id"].clone());
            w.2 += room["message_count"].as_u64().unwrap_or(0);
        }
        plan["waves"] = waves
            .iter()
            .map(|(n, r, m)| serde_json::json!({"name": n, "rooms": r, "messages": m}))
            .collect();
        sqlx::query("UPDATE plan SET body = ?1 WHERE id = 1")
            .bind(plan.to_string())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
}

#[test]
fn refuses_to_pull_a_wave_from_under_a_later_one() {
    let env = planned("rollback-waves");
    let target = &env.target;
    two_waves(&env.ws);
    seeded(target, Dialect::Sqlite);
    let before = fingerprint(target, None);
    load_wave(&env, "a");
    load_wave(&env, "b");
    let both = fingerprint(target, None);
    for args in [&["--execute", "--target", target.as_str()][..], &["--dialect", "sqlite"][..]] {
        let (code, _, err) = rollback(&env, &[&["--wave", "a"][..], args].concat());
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("wave \"b\"") && err.contains("roll back wave \"b\" first"), "{err}");
    }
    assert_eq!(fingerprint(target, None), both);
    for w in ["b", "a"] {
        let (code, _, err) = rollback(&env, &["--wave", w, "--execute", "--target", target]);
        assert_eq!(code, 0, "wave {w}: {err}");
    }
    assert_eq!(fingerprint(target, None), before);
}

/// T-SQL that sqlparser 0.52's MsSqlDialect cannot parse although SQL Server runs it;
/// the test recognises these and parses everything else.
const TSQL_NOT_PARSEABLE: &[(&str, &str)] = &[
    ("SET XACT_ABORT ON", "0.52 parses SET only as `SET name = value` or `SET name TO value`"),
    (
        "IF EXISTS (query) BEGIN RAISERROR (N'message', 16, n) ROLLBACK TRANSACTION RETURN END",
        "0.52 has no T-SQL IF, RAISERROR or RETURN statement; the query inside EXISTS is parsed on its own",
    ),
];

/// Parses every statement of a T-SQL script; returns how many were skipped per construct.
fn parse_tsql(script: &str) -> [usize; 2] {
    use sqlparser::dialect::MsSqlDialect;
    use sqlparser::parser::Parser;
    let parse = |sql: &str| {
        Parser::parse_sql(&MsSqlDialect {}, sql)
            .unwrap_or_else(|e| panic!("sqlparser rejects {sql:?}: {e}"));
    };
    let mut skipped = [0, 0];
    for stmt in split_statements(script) {
        if stmt == TSQL_NOT_PARSEABLE[0].0 {
            skipped[0] += 1;
        } else if let Some(rest) = stmt.strip_prefix("IF EXISTS (") {
            let (query, raise) = rest
                .rsplit_once(")\nBEGIN\n  RAISERROR (N'")
                .unwrap_or_else(|| panic!("unexpected guard {stmt:?}"));
            parse(query);
            let (msg, tail) = raise.split_once("', 16, ").unwrap();
            let (state, end) = tail.split_once(')').unwrap();
            assert!(state.parse::<u32>().is_ok_and(|s| (1..=3).contains(&s)), "{raise}");
            assert_eq!(end, "\n  ROLLBACK TRANSACTION\n  RETURN\nEND", "{raise}");
            // RAISERROR reads `%` as a format: the message has none, and no quote.
            assert!(!msg.contains('\'') && !msg.contains('%'), "{raise}");
            skipped[1] += 1;
        } else {
            parse(&stmt);
        }
    }
    skipped
}

#[test]
fn tsql_scripts_parse_even_with_thousands_of_keys() {
    let env = planned("rollback-tsql");
    let ws = &env.ws;
    env.load();
    let (code, out, err) = rollback(&env, &["--dialect", "tsql"]);
    assert_eq!(code, 0, "{err}");
    let script = std::fs::read_to_string(out.trim()).unwrap();
    assert!(
        script.contains("SET XACT_ABORT ON;\nBEGIN TRANSACTION;")
            && script.ends_with("COMMIT TRANSACTION;\n")
    );
    assert_eq!(parse_tsql(&script), [1, 3], "{TSQL_NOT_PARSEABLE:?}");

    // A wave of 2,500 nodes and principals: key lists go in chunks SQL Server accepts.
    let big = serde_json::json!({
        "principals": (10_000..12_500).collect::<Vec<i64>>(), "affiliations": [], "nodes": (10_000..12_500).collect::<Vec<i64>>(),
        "addins": ["0f8fad5b-d9cb-469f-a165-70867728950e"], "scopes": [], "roles": [], "invites": [],
    });
    exec(&sqlite_url(ws, "staging.db"), &format!(
        "INSERT INTO journal (run_id, wave, seq, kind, body) VALUES ('20990101T000000.000-1', 'big', 1, 'config', '{big}')"
    ));
    let (code, out, err) = rollback(&env, &["--dialect", "tsql", "--wave", "big"]);
    assert_eq!(code, 0, "{err}");
    let script = std::fs::read_to_string(out.trim()).unwrap();
    assert_eq!(script.matches("INSERT INTO #gcm_rb_node").count(), 3);
    assert_eq!(parse_tsql(&script), [1, 3]);
}

#[test]
fn hostile_wave_and_room_names_never_reach_a_script() {
    let env = TestEnv::new("rollback-hostile").contoso();
    let (ws, target) = (&env.ws, &env.target);
    let quoted = HOSTILE.replace('\'', "''");
    exec(&env.source, &format!(
        "UPDATE tblNode SET nodeName = '{quoted}', nodeDesc = '{quoted}' WHERE nodeID = (SELECT MIN(nodeID) FROM tblNode WHERE nodeType = 0)"
    ));
    env.extract().plan();
    seeded(target, Dialect::Sqlite);
    let before = fingerprint(target, None);
    env.load();
    assert_eq!(
        1,
        scalar(
            target,
            &format!(
                "SELECT COUNT(*) FROM tblNode WHERE nodeName LIKE '%{}%'",
                "DROP TABLE tblChat"
            )
        )
    );
    // A hostile wave name is refused before anything is read or written (issue #16: wave
    // names are `[A-Za-z0-9._-]+` wherever they are set), so it never reaches a script.
    let (code, out, err) = rollback(&env, &["--dialect", "tsql", "--wave", HOSTILE]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("wave name") && out.is_empty(), "{err}");
    assert_eq!(
        std::fs::read_dir(ws.join("scripts"))
            .unwrap()
            .filter(|e| {
                e.as_ref().unwrap().file_name().to_string_lossy().starts_with("rollback-")
            })
            .count(),
        0,
        "no rollback script was written"
    );
    for dialect in ["tsql", "sqlite", "postgres"] {
        let (code, out, err) = rollback(&env, &["--dialect", dialect, "--wave", "default"]);
        assert_eq!(code, 0, "{dialect}: {err}");
        let path = PathBuf::from(out.trim());
        assert_eq!(path.parent(), Some(ws.join("scripts").as_path()), "{out}");
        let script = std::fs::read_to_string(&path).unwrap();
        for bad in ["DROP TABLE tblChat", "$$ */", "\"q\"", "]]"] {
            assert!(!script.contains(bad), "{dialect}: {bad:?} in {script}");
        }
        if dialect == "tsql" {
            parse_tsql(&script);
        }
    }
    let (code, _, err) = rollback(&env, &["--wave", "default", "--execute", "--target", target]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fingerprint(target, None), before);
}
