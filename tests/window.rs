//! The cutover window (issue 23): a verify after a delta load re-reads only the delta when
//! the wave's last verify passed, proves the rest by count and highest `chatId`, catches a
//! deleted or added message that way, leaves an edit in place to `verify --full`, and is
//! never incremental after a failed verify or a change of the message rules.

use crate::util::*;

/// Contoso extracted, planned, loaded and verified (a full verify that passes), then
/// `n` new legacy messages in its first room taken by a delta extract, planned and loaded.
/// Returns the environment and the first verify's expected messages.
fn delta_loaded(name: &str, n: i64) -> (TestEnv, u64) {
    delta_loaded_into(TestEnv::new(name).contoso(), n)
}

/// [`delta_loaded`] into `env`'s target.
fn delta_loaded_into(env: TestEnv, n: i64) -> (TestEnv, u64) {
    env.extract().plan().load().verify();
    let first = env.report("verify-all.json");
    assert_eq!(first["history"]["mode"], "full", "{}", first["history"]);
    assert_eq!(first["history"]["why_full"], "no earlier verify of it passed in this target");
    let expected = first["totals"]["expected"].as_u64().unwrap();
    add_legacy_messages(&env, n);
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    env.run(&["load", "-q", "--target", &env.target]);
    (env, expected)
}

/// Appends `n` messages to the first legacy room that has history.
fn add_legacy_messages(env: &TestEnv, n: i64) {
    let src = env.source.as_str();
    let room = scalar(
        src,
        "SELECT MIN(channelId) FROM tblChat c JOIN tblNode n ON n.nodeID = c.channelId",
    );
    let next = scalar(src, "SELECT MAX(chatId) + 1 FROM tblChat");
    let user = scalar(src, &format!("SELECT MIN(userId) FROM tblChat WHERE channelId = {room}"));
    for i in 0..n {
        exec(
            src,
            &format!(
                "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
                 ({room}, {}, 634600000000000000, {user}, 0, 'in the window {i}')",
                next + i
            ),
        );
    }
}

/// The first target room with history and its lowest `chatId` (loaded by the bulk load,
/// before the first verify's cut).
fn early_message(target: &str) -> (i64, i64) {
    let room = scalar(target, "SELECT MIN(channelId) FROM tblChat");
    (room, scalar(target, &format!("SELECT MIN(chatId) FROM tblChat WHERE channelId = {room}")))
}

#[test]
fn after_a_delta_load_verify_rereads_only_the_delta_and_full_catches_an_earlier_edit() {
    let (env, before) = delta_loaded("window-incremental", 3);
    let out = env.run(&["verify", "--target", &env.target]);
    let r = env.report("verify-all.json");
    let h = &r["history"];
    assert_eq!(h["mode"], "incremental", "{out}");
    assert_eq!(h["target_rows_read"], 3, "only the three delta messages are read back: {h}");
    assert_eq!(h["target_rows_by_count"], before, "the rest is proven by count: {h}");
    assert_eq!(h["rooms_full"], 0, "{h}");
    assert_eq!(h["rooms_incremental"].as_u64(), Some(r["rooms"].as_array().unwrap().len() as u64));
    assert_eq!(r["totals"]["expected"], before + 3, "the report still counts every message");
    assert_eq!(r["totals"]["loaded"], before + 3);
    assert!(r["ok"].as_bool().unwrap(), "{r}");

    // A message loaded before the cut, changed in place: the count and highest chatId
    // stay the same, so a further incremental verify does not read it …
    let (room, chat) = early_message(&env.target);
    let at = format!("channelId = {room} AND chatId = {chat}");
    exec(&env.target, &format!("UPDATE tblChat SET content = content || 'x' WHERE {at}"));
    add_legacy_messages(&env, 1);
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    env.run(&["load", "-q", "--target", &env.target]);
    env.run(&["verify", "-q", "--target", &env.target]);
    assert_eq!(env.report("verify-all.json")["history"]["target_rows_read"], 1);

    // … and `verify --full` does, naming the room and the chatId.
    let out = env.output(&["verify", "--full", "--target", &env.target]).expect(1);
    assert!(out.stderr.contains(&format!("chatId {chat}: content")), "{out}");
    let r = env.report("verify-all.json");
    assert_eq!(r["history"]["mode"], "full");
    assert_eq!(r["history"]["why_full"], "--full");
    let bad: Vec<&serde_json::Value> =
        r["rooms"].as_array().unwrap().iter().filter(|x| x["checksum_match"] == false).collect();
    assert_eq!(bad.len(), 1, "{r}");
    assert_eq!(bad[0]["target_id"], room);
    assert_eq!(bad[0]["first_mismatch"]["chat_id"], chat);
}

#[test]
fn the_cheap_check_catches_a_deleted_or_an_added_message_before_the_cut() {
    for (case, tamper, what) in [
        ("deleted", "DELETE FROM tblChat WHERE {at}", "missing in target"),
        (
            "added",
            "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
             SELECT channelId, chatId - 1, chatDate, userId, isAlert, 'slipped in' FROM tblChat WHERE {at}",
            "extra in target",
        ),
    ] {
        let (env, _) = delta_loaded(&format!("window-cheap-{case}"), 2);
        let (room, chat) = early_message(&env.target);
        let at = format!("channelId = {room} AND chatId = {chat}");
        exec(&env.target, &tamper.replace("{at}", &at));
        let out = env.output(&["verify", "--target", &env.target]).expect(1);
        let r = env.report("verify-all.json");
        let h = &r["history"];
        assert_eq!(h["mode"], "incremental", "{case}: {out}");
        let failed = h["cheap_check_failed"].as_array().unwrap();
        assert_eq!(failed.len(), 1, "{case}: the cheap check names the one room: {h}");
        assert_eq!(h["rooms_full"], 1, "{case}: that room is re-read whole: {h}");
        let bad: Vec<&serde_json::Value> = r["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["checksum_match"] == false)
            .collect();
        assert_eq!(bad.len(), 1, "{case}: {r}");
        assert_eq!(bad[0]["legacy_path"], failed[0], "{case}");
        let id = if case == "added" { chat - 1 } else { chat };
        assert_eq!(bad[0]["first_mismatch"]["chat_id"], id, "{case}: {}", bad[0]);
        assert_eq!(bad[0]["first_mismatch"]["what"], what, "{case}");
        assert!(out.stderr.contains(&format!("chatId {id}: {what}")), "{case}: {out}");
    }
}

#[test]
fn a_message_added_past_the_cut_in_the_target_is_caught_by_the_delta_read() {
    let (env, _) = delta_loaded("window-extra-delta", 1);
    let (room, _) = early_message(&env.target);
    let top = scalar(&env.target, "SELECT MAX(chatId) FROM tblChat") + 100;
    exec(
        &env.target,
        &format!(
            "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
             SELECT channelId, {top}, chatDate, userId, isAlert, 'nobody sent this' FROM tblChat \
             WHERE channelId = {room} AND chatId = (SELECT MIN(chatId) FROM tblChat WHERE channelId = {room})"
        ),
    );
    let out = env.output(&["verify", "--target", &env.target]).expect(1);
    assert!(out.stderr.contains(&format!("chatId {top}: extra in target")), "{out}");
    assert_eq!(env.report("verify-all.json")["history"]["mode"], "incremental");
}

#[test]
fn never_incremental_after_a_failed_verify_or_a_change_of_the_message_rules() {
    // A failed verify: the next one re-reads everything, even after a new delta — here
    // an edit in place that only a full read sees, so it keeps failing.
    let (env, _) = delta_loaded("window-after-failure", 2);
    env.run(&["verify", "-q", "--target", &env.target]);
    let (room, chat) = early_message(&env.target);
    let at = format!("channelId = {room} AND chatId = {chat}");
    exec(&env.target, &format!("UPDATE tblChat SET content = content || 'x' WHERE {at}"));
    env.output(&["verify", "-q", "--full", "--target", &env.target]).expect(1);
    add_legacy_messages(&env, 1);
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    env.run(&["load", "-q", "--target", &env.target]);
    let out = env.output(&["verify", "--target", &env.target]).expect(1);
    assert!(out.stderr.contains(&format!("chatId {chat}: content")), "{out}");
    let h = env.report("verify-all.json")["history"].clone();
    assert_eq!(h["mode"], "full", "{out}");
    assert_eq!(h["why_full"], "its last verify failed");

    // Changed message rules: `since` now set, the plan re-run — a full verify.
    let (env, _) = delta_loaded("window-rules-changed", 1);
    let env = env.mapping("gcmigrate.toml", "since = \"2000-01-01\"\n");
    env.plan();
    env.run(&["verify", "-q", "--target", &env.target]);
    let h = env.report("verify-all.json")["history"].clone();
    assert_eq!(h["mode"], "full", "{h}");
    assert_eq!(h["why_full"], "the plan's message rules changed since its last passing verify");

    // Nothing extracted since the last pass: a verify run again is a sign-off, in full.
    env.run(&["verify", "-q", "--target", &env.target]);
    let h = env.report("verify-all.json")["history"].clone();
    assert_eq!(h["why_full"], "no delta was extracted since its last passing verify", "{h}");
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn incremental_verify_on_postgres_reads_the_delta_and_the_cheap_check_catches_a_delete() {
    let Some(pg) = pg_database("window_pg") else { return };
    let (env, before) = delta_loaded_into(TestEnv::new("window-pg").contoso().target(&pg), 4);
    env.run(&["verify", "-q", "--target", &env.target]);
    let h = env.report("verify-all.json")["history"].clone();
    assert_eq!(
        (h["mode"].as_str(), h["target_rows_read"].as_u64()),
        (Some("incremental"), Some(4))
    );
    assert_eq!(h["target_rows_by_count"], before, "{h}");
    add_legacy_messages(&env, 1);
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    env.run(&["load", "-q", "--target", &env.target]);
    let (room, chat) = early_message(&env.target);
    exec(&env.target, &format!("DELETE FROM tblChat WHERE channelId = {room} AND chatId = {chat}"));
    let out = env.output(&["verify", "--target", &env.target]).expect(1);
    assert!(out.stderr.contains(&format!("chatId {chat}: missing in target")), "{out}");
    let h = env.report("verify-all.json")["history"].clone();
    assert_eq!(h["cheap_check_failed"].as_array().map(Vec::len), Some(1), "{h}");
}

/// What a plan decides from the message counts: totals, per-room and per-wave counts.
fn counted(plan: &serde_json::Value) -> serde_json::Value {
    let rooms: Vec<_> = plan["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (&r["legacy_guid"], &r["message_count"]))
        .collect();
    serde_json::json!({ "messages": plan["messages"], "waves": plan["waves"], "rooms": rooms })
}

#[test]
fn a_plan_after_a_delta_extends_the_stored_counts_and_equals_a_whole_count() {
    let env = TestEnv::new("window-plan-counts").contoso();
    env.extract().plan();
    add_legacy_messages(&env, 4);
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    // The stored counts reach every room's highest staged chatId.
    let (staging, history) = (sqlite_url(&env.ws, "staging.db"), sqlite_url(&env.ws, "history.db"));
    let highest =
        "SELECT SUM(m) FROM (SELECT MAX(chat_id) AS m FROM snap_chat GROUP BY channel_id)";
    assert_eq!(
        scalar(&staging, "SELECT SUM(upto) FROM author_count_room"),
        scalar(&history, highest)
    );
    assert_eq!(
        scalar(&staging, "SELECT SUM(total) FROM author_count"),
        scalar(&history, "SELECT COUNT(*) FROM snap_chat")
    );
    // A fresh workspace over the same legacy database counts everything: the same plan.
    let whole = TestEnv::new("window-plan-counts-whole").source(&env.source);
    whole.extract().plan();
    let delta_plan = env.report("plan.json");
    assert_eq!(counted(&delta_plan), counted(&whole.report("plan.json")));
    assert_eq!(
        delta_plan["messages"]["read"].as_u64().unwrap(),
        whole.report("plan.json")["messages"]["read"].as_u64().unwrap()
    );

    // Another `since` is another count: the stored one is not reused for it.
    for e in [&env, &whole] {
        std::fs::create_dir_all(e.maps()).unwrap();
        std::fs::write(e.maps().join("gcmigrate.toml"), "since = \"2011-04-01\"\n").unwrap();
        e.plan();
    }
    let (a, b) = (env.report("plan.json"), whole.report("plan.json"));
    assert!(
        a["messages"]["excluded"].as_object().is_some_and(|m| !m.is_empty()),
        "{}",
        a["messages"]
    );
    assert_eq!(counted(&a), counted(&b));

    // A corrupt stored count is not trusted after a full extract: it counts again.
    exec(&staging, "UPDATE author_count SET total = total + 1000");
    env.run(&["extract", "-q", "--source", &env.source]);
    env.plan();
    assert_eq!(counted(&env.report("plan.json")), counted(&b));
}

/// The plan's file inventory: "room/chatId/n link kind" of every row, in key order.
fn inventory(env: &TestEnv) -> Vec<String> {
    let all = text(
        &sqlite_url(&env.ws, "staging.db"),
        "SELECT COALESCE(group_concat(l, char(10)), '') FROM (SELECT channel_id || '/' || chat_id \
         || '/' || seq || ' ' || link || ' ' || kind AS l FROM file_link ORDER BY channel_id, chat_id, seq)",
    );
    all.lines().map(str::to_string).collect()
}

#[test]
fn a_plan_after_a_delta_scans_only_the_new_rows_for_file_links_and_equals_a_whole_scan() {
    let env = TestEnv::new("window-plan-links").contoso();
    env.extract().plan();
    let staging = sqlite_url(&env.ws, "staging.db");
    let before = inventory(&env);
    assert!(!before.is_empty(), "the fixture links files");
    // A new message with a link, taken by a delta.
    let src = env.source.as_str();
    let room = scalar(src, "SELECT MIN(channelId) FROM tblChat");
    let user = scalar(src, &format!("SELECT MIN(userId) FROM tblChat WHERE channelId = {room}"));
    exec(
        src,
        &format!(
            "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
             ({room}, (SELECT MAX(chatId) + 1 FROM tblChat), 634600000000000000, {user}, 0, \
             'minutes: ma-filelink://fs.contoso.com/PersistentChatFiles/a/b/minutes.docx')"
        ),
    );
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    // Kept messages are taken from the cache, not the history: a mark on one shows it.
    exec(
        &staging,
        "UPDATE link_message SET content = CAST(content AS TEXT) || ' ma-filelink://marked.example/x/y/kept.txt' \
         WHERE (channel_id, chat_id) = (SELECT channel_id, chat_id FROM link_message \
         ORDER BY channel_id, chat_id LIMIT 1)",
    );
    env.plan();
    let after = inventory(&env);
    assert_eq!(after.len(), before.len() + 2, "{after:#?}");
    assert!(after.iter().any(|l| l.contains("minutes.docx")), "{after:#?}");
    assert!(after.iter().any(|l| l.contains("marked.example")), "the cache was not used");
    // A fresh workspace scans everything: the same inventory, without the mark.
    let whole = TestEnv::new("window-plan-links-whole").source(&env.source);
    whole.extract().plan();
    let mut expected = inventory(&whole);
    assert_eq!(expected.len(), before.len() + 1);
    // A full extract scans everything again: the mark is gone.
    env.run(&["extract", "-q", "--source", &env.source]);
    env.plan();
    let mut got = inventory(&env);
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}
