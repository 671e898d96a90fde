//! `gcmigrate extract` from SQLite and PostgreSQL, and refusing what is not Group Chat.

use crate::util::*;

fn extract_counts(source: &str) -> serde_json::Value {
    let dir = tmp_dir("extract");
    gcm().args(["extract", "-q", "--source", source, "--workspace"]).arg(&dir).assert().success();
    assert!(dir.join("staging.db").exists());
    let r = json(&dir.join("reports/extract-full.json"));
    let staged = scalar(
        &format!("sqlite://{}", dir.join("history.db").display()),
        "SELECT COUNT(*) FROM snap_chat",
    );
    assert_eq!(staged, r["messages"].as_i64().unwrap());
    r
}

#[test]
fn extracts_contoso_from_sqlite() {
    let dir = tmp_dir("extract-sqlite");
    let url = sqlite_url(&dir, "legacy.db");
    contoso(&url);
    let r = extract_counts(&url);
    assert_eq!(r["version"], "Lync Server 2010 Group Chat");
    assert_eq!(r["messages"].as_i64().unwrap(), scalar(&url, "SELECT COUNT(*) FROM tblChat"));
    assert_eq!(
        r["rooms"].as_i64().unwrap(),
        scalar(&url, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0")
    );
    assert_eq!(
        r["principals"].as_i64().unwrap(),
        scalar(&url, "SELECT COUNT(*) FROM tblPrincipal")
    );
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn extracts_contoso_from_postgres_like_sqlite() {
    let Some(pg) = pg_database("extract_pg") else { return };
    contoso(&pg);
    let dir = tmp_dir("extract-pg-ref");
    let lite = sqlite_url(&dir, "legacy.db");
    contoso(&lite);
    let (a, b) = (extract_counts(&pg), extract_counts(&lite));
    for k in ["version", "principals", "categories", "rooms", "messages"] {
        assert_eq!(a[k], b[k], "{k}");
    }
    // The same plan comes out of both (GUIDs from PostgreSQL's uuid type included).
    let plan = |src: &str| {
        let env = TestEnv::new("extract-plan").source(src);
        env.extract().plan();
        let mut p = env.report("plan.json");
        p["source_version"] = serde_json::Value::Null;
        p
    };
    assert_eq!(plan(&pg), plan(&lite));
}

#[test]
fn refuses_a_database_that_is_not_group_chat() {
    let dir = tmp_dir("not-gc");
    let url = sqlite_url(&dir, "northwind.db");
    exec(&format!("{url}?mode=rwc"), include_str!("../fixtures/not-groupchat/northwind.sql"));
    let out = gcm()
        .args(["extract", "--source", &url, "--workspace"])
        .arg(dir.join("ws"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a Group Chat database"), "{err}");
    assert!(err.contains("missing tblNode"), "{err}");
    assert!(err.to_lowercase().contains("customers"), "says what was found: {err}");
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn refuses_a_postgres_database_that_is_not_group_chat() {
    let Some(pg) = pg_database("not_gc_pg") else { return };
    exec(&pg, include_str!("../fixtures/not-groupchat/northwind.sql"));
    let dir = tmp_dir("not-gc-pg");
    let out = gcm()
        .args(["extract", "--source", &pg, "--workspace"])
        .arg(&dir)
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a Group Chat database"));
}

#[test]
fn delta_extract_reads_only_new_messages() {
    let dir = tmp_dir("delta");
    let url = sqlite_url(&dir, "legacy.db");
    contoso(&url);
    let ws = dir.join("ws");
    gcm().args(["extract", "-q", "--source", &url, "--workspace"]).arg(&ws).assert().success();
    let room = scalar(
        &url,
        "SELECT MIN(channelId) FROM tblChat c JOIN tblNode n ON n.nodeID = c.channelId",
    );
    let next =
        scalar(&url, &format!("SELECT MAX(chatId) + 1 FROM tblChat WHERE channelId = {room}"));
    exec(
        &url,
        &format!(
            "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
                         ({room}, {next}, 634500000000000000, 2, 0, 'after the snapshot')"
        ),
    );
    gcm()
        .args(["extract", "-q", "--delta", "--source", &url, "--workspace"])
        .arg(&ws)
        .assert()
        .success();
    let r = json(&ws.join("reports/extract-delta.json"));
    assert_eq!(r["messages"], 1);
    let staged = format!("sqlite://{}", ws.join("history.db").display());
    assert_eq!(
        scalar(&staged, "SELECT COUNT(*) FROM snap_chat"),
        scalar(&url, "SELECT COUNT(*) FROM tblChat")
    );
}

#[test]
fn malformed_legacy_rows_are_rejected_with_a_reason_not_fatal() {
    let dir = tmp_dir("malformed");
    let url = sqlite_url(&dir, "legacy.db");
    contoso(&url);
    let room = scalar(&url, "SELECT MIN(nodeID) FROM tblNode WHERE nodeType = 0");
    exec(&url, &format!("INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
                         ({room}, 9001, 'yesterday', 20, 0, 'a date that is text'), ({room}, 'x', 634300000000000000, 20, 0, 'a text key'), \
                         ('lobby', 9002, 634300000000000000, 20, 0, 'a room that is text'), \
                         ({room}, 9003, 634300000000000000, 20.5, 0, 'an author that is real'), \
                         ({room}, 9004, X'0102', 20, 0, 'a date that is a blob')"));
    let ws = dir.join("ws");
    gcm().args(["extract", "-q", "--source", &url, "--workspace"]).arg(&ws).assert().success();
    let r = json(&ws.join("reports/extract-full.json"));
    assert_eq!(r["rejected"], 5, "every row is staged or rejected, whatever key is broken");
    assert_eq!(r["messages"].as_i64().unwrap() + 5, scalar(&url, "SELECT COUNT(*) FROM tblChat"));
    let csv = std::fs::read_to_string(ws.join("rejects/extract.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(csv.contains("unreadable row"), "{csv}");
    assert!(csv.contains("'lobby'"), "the raw channelId is in the reason: {csv}");
}

/// A source restored without the NOT NULL constraints can hold NULLs: those rows are
/// rejected too, and the rest staged.
#[test]
fn null_fields_in_an_unconstrained_source_are_rejected() {
    let dir = tmp_dir("malformed-nulls");
    let url = sqlite_url(&dir, "legacy.db");
    contoso(&url);
    exec(&url, "CREATE TABLE heap AS SELECT * FROM tblChat; DROP TABLE tblChat; ALTER TABLE heap RENAME TO tblChat;");
    let room = scalar(&url, "SELECT MIN(nodeID) FROM tblNode WHERE nodeType = 0");
    exec(&url, &format!("INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
                         ({room}, 9001, 634300000000000000, 20, 0, NULL), ({room}, 9002, 634300000000000000, NULL, 0, 'no author'), \
                         (NULL, 9003, 634300000000000000, 20, 0, 'no room'), ({room}, 9004, 634300000000000000, 20, NULL, 'no alert flag')"));
    let ws = dir.join("ws");
    gcm().args(["extract", "-q", "--source", &url, "--workspace"]).arg(&ws).assert().success();
    let r = json(&ws.join("reports/extract-full.json"));
    assert_eq!(r["rejected"], 3, "a NULL alert flag is read as 0, the other NULLs are rejected");
    assert_eq!(r["messages"].as_i64().unwrap() + 3, scalar(&url, "SELECT COUNT(*) FROM tblChat"));
    let staged = format!("sqlite://{}", ws.join("history.db").display());
    assert_eq!(
        scalar(&staged, "SELECT COUNT(*) FROM snap_chat WHERE chat_id = 9004 AND is_alert = 0"),
        1
    );
}

/// Watermarks come from a loose scan of the source's primary key, or from a plain
/// `GROUP BY` when the copy has no index on `channelId`: the same numbers either way.
#[test]
fn watermarks_are_each_rooms_highest_chat_id_with_or_without_a_source_index() {
    let dir = tmp_dir("extract-marks");
    for (name, drop_index) in [("indexed.db", false), ("heap.db", true)] {
        let url = sqlite_url(&dir, name);
        contoso(&url);
        if drop_index {
            exec(&url, "CREATE TABLE heap AS SELECT * FROM tblChat; DROP TABLE tblChat; ALTER TABLE heap RENAME TO tblChat;");
        }
        let ws = dir.join(format!("ws-{name}"));
        gcm().args(["extract", "-q", "--source", &url, "--workspace"]).arg(&ws).assert().success();
        let staging = sqlite_url(&ws, "staging.db");
        let marks = |url: &str, sql: &str| scalar(url, sql);
        assert_eq!(
            marks(&staging, "SELECT SUM(last_chat_id * 1000 + channel_id) FROM watermark"),
            marks(&url, "SELECT SUM(m * 1000 + channelId) FROM (SELECT channelId, MAX(chatId) m FROM tblChat GROUP BY channelId)"),
            "{name}"
        );
        assert_eq!(
            marks(&staging, "SELECT COUNT(*) FROM watermark"),
            marks(&url, "SELECT COUNT(DISTINCT channelId) FROM tblChat"),
            "{name}"
        );
    }
}

/// `isAlert` is a bit: a stray value (2, -1) in an SQLite copy is staged as the flag it
/// means (1), as the streamed sources decode it, never carried raw into the target.
#[test]
fn an_out_of_range_is_alert_is_staged_as_a_flag_like_every_engine_does() {
    let dir = tmp_dir("isalert");
    let url = sqlite_url(&dir, "legacy.db");
    contoso(&url);
    exec(&url, "UPDATE tblChat SET isAlert = 2 WHERE chatId % 2 = 0");
    exec(&url, "UPDATE tblChat SET isAlert = -1 WHERE chatId % 2 = 1");
    let ws = dir.join("ws");
    gcm().args(["extract", "-q", "--source", &url, "--workspace"]).arg(&ws).assert().success();
    let staged = format!("sqlite://{}", ws.join("history.db").display());
    assert_eq!(scalar(&staged, "SELECT COUNT(*) FROM snap_chat WHERE is_alert NOT IN (0, 1)"), 0);
    assert_eq!(
        scalar(&staged, "SELECT COUNT(*) FROM snap_chat WHERE is_alert = 1"),
        scalar(&staged, "SELECT COUNT(*) FROM snap_chat")
    );
}
