//! `verify --source`: the target compared with the legacy database itself, per room up to
//! the extract's watermarks, independent of the workspace's staged history.

use crate::util::*;

/// A synthetic deployment migrated into `target` (a SQLite file unless given).
fn migrated(name: &str, target: Option<&str>) -> TestEnv {
    let mut env = TestEnv::new(name).synth(&["--messages", "4000", "--rooms", "12", "--seed", "9"]);
    if let Some(t) = target {
        env = env.target(t);
    }
    env.extract().plan().load().verify();
    env
}

fn against_source(env: &TestEnv) -> Outcome {
    env.output(&["verify", "--target", &env.target, "--source", &env.source])
}

/// The staged history and the target both lose the same message, the manifest is made to
/// agree: the workspace is consistent and plain verify passes, but the legacy database
/// still holds the message.
fn lose_a_message_everywhere(env: &TestEnv) -> (i64, i64) {
    let hist = sqlite_url(&env.ws, "history.db");
    let room = scalar(&hist, "SELECT channel_id FROM snap_chat ORDER BY channel_id LIMIT 1");
    let chat =
        scalar(&hist, &format!("SELECT MIN(chat_id) FROM snap_chat WHERE channel_id = {room}"));
    exec(&hist, &format!("DELETE FROM snap_chat WHERE channel_id = {room} AND chat_id = {chat}"));
    exec(
        &sqlite_url(&env.ws, "staging.db"),
        &format!("UPDATE manifest_room SET rows = rows - 1 WHERE channel_id = {room}"),
    );
    (room, chat)
}

#[test]
fn verify_against_the_source_passes_on_a_clean_migration() {
    let env = migrated("vsrc-clean", None);
    let o = against_source(&env).expect(0);
    assert!(o.stderr.contains("verify --source (all): PASS"), "{o}");
    let r = env.report("verify-all-source.json");
    assert_eq!(r["mismatched"].as_array().unwrap().len(), 0);
    assert!(r["source_rows"].as_u64().unwrap() > 3000, "{r}");
    assert_eq!(r["source_rows"], r["target_rows"]);
}

#[test]
fn verify_against_the_source_catches_a_target_row_deleted_or_changed() {
    let env = migrated("vsrc-tamper", None);
    let id = scalar(&env.target, "SELECT MAX(chatId) FROM tblChat");
    exec(&env.target, &format!("UPDATE tblChat SET content = content || '!' WHERE chatId = {id}"));
    let o = against_source(&env);
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr.contains("verify --source (all): FAIL") && o.stderr.contains("contents differ"),
        "{o}"
    );
    exec(&env.target, &format!("DELETE FROM tblChat WHERE chatId = {id}"));
    let o = against_source(&env);
    assert_eq!(o.code, 1, "{o}");
    assert_eq!(env.report("verify-all-source.json")["mismatched"].as_array().unwrap().len(), 1);
}

#[test]
fn verify_against_the_source_catches_what_a_consistent_workspace_hides() {
    let env = migrated("vsrc-hidden", None);
    let (room, chat) = lose_a_message_everywhere(&env);
    // The target loses it too, behind the workspace's back (a load from the edited
    // snapshot would do the same).
    let target_room = scalar(
        &env.target,
        &format!(
            "SELECT json_extract(body, '$.rooms.\"{room}\"') FROM gcmigrate_ledger WHERE kind = 'config'"
        ),
    );
    exec(
        &env.target,
        &format!("DELETE FROM tblChat WHERE chatId = {chat} AND channelId = {target_room}"),
    );
    env.verify(); // the workspace agrees with the target
    let o = against_source(&env);
    assert_eq!(o.code, 1, "{o}");
    let r = env.report("verify-all-source.json");
    let bad = &r["mismatched"][0];
    assert_eq!(bad["legacy_id"].as_i64().unwrap(), room, "{r}");
    assert_eq!(bad["source_rows"].as_u64().unwrap(), bad["target_rows"].as_u64().unwrap() + 1);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn verify_against_the_source_on_a_postgres_target() {
    let Some(pg) = pg_database("vsrc_pg") else { return };
    let env = migrated("vsrc-pg", Some(&pg));
    against_source(&env).expect(0);
    let id = scalar(&pg, "SELECT MAX(chatId) FROM tblChat");
    exec(&pg, &format!("DELETE FROM tblChat WHERE chatId = {id}"));
    assert_eq!(against_source(&env).code, 1);
}
