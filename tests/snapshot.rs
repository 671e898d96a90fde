//! Whole snapshots and the manifest: a re-extract that is killed or fails half-way, or a
//! `history.db` deleted, truncated or edited behind the tool's back, never lets `plan`,
//! `load` or `verify` pass on fewer messages than the last complete extract.

use std::time::{Duration, Instant};

use crate::util::*;

/// The stages that must refuse a broken workspace.
fn stages(env: &TestEnv) -> [Vec<String>; 3] {
    let t = env.target.clone();
    [
        vec!["plan".into(), "-q".into()],
        vec!["load".into(), "-q".into(), "--create-schema".into(), "--target".into(), t.clone()],
        vec!["verify".into(), "-q".into(), "--target".into(), t],
    ]
}

/// Every stage exits 2 with one line naming `what` and `gcmigrate extract`.
#[track_caller]
fn all_refuse(env: &TestEnv, what: &str) {
    for args in stages(env) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = env.output(&args).expect(2);
        let err = o.stderr.trim();
        assert!(err.contains(what) && err.contains("gcmigrate extract"), "{o}");
        assert_eq!(err.lines().count(), 1, "one line\n{o}");
    }
}

/// Messages the plan counts as read.
fn planned(env: &TestEnv) -> u64 {
    env.report("plan.json")["messages"]["read"].as_u64().unwrap()
}

/// A synthetic deployment extracted, planned, loaded and verified once.
fn staged(name: &str, messages: &str) -> (TestEnv, u64) {
    let env = TestEnv::new(name).synth(&["--messages", messages, "--rooms", "30", "--seed", "5"]);
    env.extract().plan().load().verify();
    let read = planned(&env);
    assert_eq!(read as i64, scalar(&env.source, "SELECT COUNT(*) FROM tblChat"));
    (env, read)
}

#[test]
fn a_killed_re_extract_never_leaves_a_workspace_that_passes_on_fewer_messages() {
    let (env, full) = staged("snap-kill", "150000");
    let extract = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gcmigrate"));
        c.current_dir(&env.dir)
            .args(["extract", "-q", "--source", &env.source, "--workspace"])
            .arg(&env.ws);
        c
    };
    let t0 = Instant::now();
    assert!(extract().status().unwrap().success());
    let span = t0.elapsed().as_millis().max(20) as u64;
    let (mut kills, mut refused) = (0, 0);
    for pct in [5u64, 20, 40, 60, 80, 95] {
        let mut child = extract().spawn().unwrap();
        std::thread::sleep(Duration::from_millis(span * pct / 100));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
        // Either every stage refuses, naming the interrupted extract, or each runs on the
        // whole previous snapshot.
        let plan = env.output(&["plan", "-q"]);
        match plan.code {
            2 => {
                refused += 1;
                // Killed while reading ("did not finish"), or in the instant between the
                // commits of staging.db and history.db ("does not hold the rows").
                assert!(
                    plan.stderr.contains("did not finish")
                        || plan.stderr.contains("does not hold the rows"),
                    "{plan}"
                );
                all_refuse(&env, "gcmigrate extract");
            }
            0 => {
                assert_eq!(planned(&env), full, "killed at {pct} %");
                env.load().verify();
                let v = env.report("verify-all.json");
                assert!(v.to_string().contains(&full.to_string()), "verify over {full} messages");
            }
            _ => panic!("killed at {pct} %: {plan}"),
        }
    }
    assert!(kills > 0 && refused > 0, "no extract was killed mid-way: make it bigger");
    // A complete extract repairs the workspace.
    env.extract().plan();
    assert_eq!(planned(&env), full);
    env.load().verify();
}

/// An extract streams its configuration aside (`config.next`) before the commit that makes
/// it current: one killed in between leaves that row behind, which no stage reads and the
/// next extract replaces.
#[test]
fn a_configuration_streamed_aside_by_a_killed_extract_is_never_read() {
    let (env, full) = staged("snap-aside", "3000");
    let staging = sqlite_url(&env.ws, "staging.db");
    exec(&staging, "INSERT INTO snapshot (section, body) VALUES ('config.next', '{\"cut')");
    env.plan();
    assert_eq!(planned(&env), full, "the stages read the current configuration");
    env.load().verify();
    env.extract();
    let sections = "SELECT COUNT(*) FROM snapshot WHERE section <> 'config'";
    assert_eq!(scalar(&staging, sections), 0, "the next extract made its own current");
    env.plan();
    assert_eq!(planned(&env), full);
}

#[test]
fn a_re_extract_that_hits_a_corrupt_page_leaves_the_previous_snapshot_current() {
    let (env, full) = staged("snap-corrupt", "60000");
    // Damage the middle of the legacy file (tblChat's pages: history is most of it).
    let path = env.source.strip_prefix("sqlite://").unwrap().to_string();
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    for (i, b) in bytes[mid..mid + 64 * 1024].iter_mut().enumerate() {
        *b = (i * 131 % 251) as u8;
    }
    std::fs::write(&path, bytes).unwrap();
    let o = env.output(&["extract", "-q", "--source", &env.source]);
    assert!(o.code == 3 || o.code == 2, "{o}");
    assert!(!o.stderr.trim().is_empty() && !o.stderr.contains("panicked"), "{o}");
    // The failed run is discarded: the stages run on the last complete snapshot, whole.
    env.plan();
    assert_eq!(planned(&env), full);
    env.verify();
    let staged = scalar(&sqlite_url(&env.ws, "history.db"), "SELECT COUNT(*) FROM snap_chat");
    assert_eq!(staged as u64, full);
}

#[test]
fn a_deleted_history_db_is_refused_by_every_stage() {
    let (env, _) = staged("snap-deleted", "3000");
    std::fs::remove_file(env.ws.join("history.db")).unwrap();
    all_refuse(&env, "history.db");
    // Still refused once a stage has opened (and so recreated) an empty one.
    all_refuse(&env, "history.db");
    env.extract().plan().load().verify();
}

#[test]
fn a_truncated_history_db_is_refused_by_every_stage() {
    let (env, _) = staged("snap-truncated", "20000");
    let file = std::fs::OpenOptions::new().write(true).open(env.ws.join("history.db")).unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(len / 2).unwrap();
    drop(file);
    all_refuse(&env, "history.db");
    let file = std::fs::OpenOptions::new().write(true).open(env.ws.join("history.db")).unwrap();
    file.set_len(0).unwrap();
    drop(file);
    all_refuse(&env, "history.db");
}

#[test]
fn history_rows_removed_or_added_behind_the_tools_back_are_refused() {
    let (env, _) = staged("snap-edited", "3000");
    let hist = sqlite_url(&env.ws, "history.db");
    exec(&hist, "DELETE FROM snap_chat WHERE chat_id = (SELECT MAX(chat_id) FROM snap_chat)");
    all_refuse(&env, "truncated or changed");
    env.extract();
    exec(
        &hist,
        "INSERT INTO snap_chat SELECT channel_id, chat_id + 1000000, chat_date, user_id, is_alert, content \
         FROM snap_chat LIMIT 1",
    );
    all_refuse(&env, "truncated or changed");
}

#[test]
fn a_workspace_without_a_manifest_says_to_re_extract() {
    let (env, _) = staged("snap-old", "2000");
    exec(&sqlite_url(&env.ws, "staging.db"), "DELETE FROM meta WHERE key = 'manifest'");
    all_refuse(&env, "older version");
    env.extract().plan();
}

#[test]
fn the_manifest_describes_the_source_and_follows_a_delta() {
    let (env, full) = staged("snap-manifest", "5000");
    let m = json(&env.ws.join("manifest.json"));
    assert_eq!(m["messages"].as_u64().unwrap(), full);
    assert_eq!(m["kind"], "full");
    let rooms = scalar(&env.source, "SELECT COUNT(DISTINCT channelId) FROM tblChat");
    assert_eq!(m["rooms"].as_i64().unwrap(), rooms);
    let staging = sqlite_url(&env.ws, "staging.db");
    assert_eq!(
        scalar(
            &staging,
            "SELECT COUNT(*) FROM manifest_room m JOIN watermark w USING (channel_id) \
                          WHERE w.last_chat_id = m.max_chat_id"
        ),
        rooms,
        "the watermarks are the manifest's highest chatIds"
    );
    // New messages in the legacy database: a delta adds them to the manifest.
    exec(
        &env.source,
        "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
         SELECT channelId, chatId + 100000, chatDate, userId, isAlert, content FROM tblChat LIMIT 7",
    );
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    let m = json(&env.ws.join("manifest.json"));
    assert_eq!((m["messages"].as_u64().unwrap(), m["kind"].as_str()), (full + 7, Some("delta")));
    env.plan();
    assert_eq!(planned(&env), full + 7);
}

#[test]
fn rows_rejected_at_extract_show_in_the_summary_and_the_plan_report_and_survive_a_delta() {
    let env = TestEnv::new("snap-rejects").contoso();
    let room = scalar(&env.source, "SELECT MIN(nodeID) FROM tblNode WHERE nodeType = 0");
    exec(
        &env.source,
        &format!(
            "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
             ({room}, 9001, 'yesterday', 20, 0, 'a date that is text'), \
             ('lobby', 9002, 634300000000000000, 20, 0, 'a room that is text')"
        ),
    );
    let o = env.run(&["extract", "--source", &env.source]);
    assert!(o.all().contains("2 rows rejected (rejects/extract.csv)"), "{o}");
    env.plan();
    let plan = env.report("plan.json");
    assert_eq!(plan["messages"]["rejected_at_extract"], 2, "{}", plan["messages"]);
    let md = std::fs::read_to_string(env.ws.join("reports/plan.md")).unwrap();
    assert!(md.contains("| Rejected at extract (rejects/extract.csv) | 2 |"), "{md}");
    let html = std::fs::read_to_string(env.ws.join("reports/plan.html")).unwrap();
    assert!(
        html.contains("2 source rows could not be read at extract"),
        "the HTML verdict says so"
    );
    // A delta keeps the snapshot's rejects (their rows are still not staged); a full
    // extract replaces them.
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    assert_eq!(env.report("plan.json")["messages"]["rejected_at_extract"], 2);
    exec(&env.source, "DELETE FROM tblChat WHERE chatId IN (9001, 9002)");
    env.extract().plan();
    assert_eq!(env.report("plan.json")["messages"]["rejected_at_extract"], 0);
    let csv = std::fs::read_to_string(env.ws.join("rejects/extract.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
}

#[test]
fn a_delta_left_unfinished_is_refused_then_rerun_on_the_intact_snapshot() {
    let (env, full) = staged("snap-delta-killed", "3000");
    exec(
        &env.source,
        "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
         SELECT channelId, chatId + 100000, chatDate, userId, isAlert, content FROM tblChat LIMIT 5",
    );
    // What a delta killed mid-copy leaves: its run open and rows in the side table.
    exec(
        &sqlite_url(&env.ws, "staging.db"),
        "INSERT INTO extract_run (kind, started_at) VALUES ('delta', '2026-01-01T00:00:00Z')",
    );
    exec(
        &sqlite_url(&env.ws, "history.db"),
        "CREATE TABLE snap_chat_next AS SELECT * FROM snap_chat LIMIT 3",
    );
    all_refuse(&env, "did not finish");
    let o = env.output(&["plan", "-q"]);
    assert!(o.stderr.contains("--delta"), "the repair is a delta again: {o}");
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    assert_eq!(planned(&env), full + 5, "the earlier snapshot and the delta, nothing twice");
    env.load().verify();
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn a_postgres_source_gets_its_manifest_while_streaming() {
    let Some(pg) = pg_database("snap_pg") else { return };
    let env = TestEnv::new("snap-pg").source(&pg).synth(&["--messages", "5000", "--rooms", "10"]);
    env.extract().plan();
    let m = json(&env.ws.join("manifest.json"));
    assert_eq!(m["messages"].as_i64().unwrap(), scalar(&pg, "SELECT COUNT(*) FROM tblChat"));
    assert_eq!(
        m["rooms"].as_i64().unwrap(),
        scalar(&pg, "SELECT COUNT(DISTINCT channelId) FROM tblChat")
    );
    let staging = sqlite_url(&env.ws, "staging.db");
    assert_eq!(
        scalar(&staging, "SELECT SUM(max_chat_id) FROM manifest_room"),
        scalar(&pg, "SELECT CAST(SUM(m) AS BIGINT) FROM (SELECT MAX(chatId) AS m FROM tblChat GROUP BY channelId) x"),
    );
    exec(
        &sqlite_url(&env.ws, "history.db"),
        "DELETE FROM snap_chat WHERE chat_id = (SELECT MIN(chat_id) FROM snap_chat)",
    );
    let o = env.output(&["plan", "-q"]).expect(2);
    assert!(o.stderr.contains("truncated or changed"), "{o}");
}

#[test]
fn a_proven_history_is_counted_again_after_any_write_and_a_delta_proves_only_its_rows() {
    let (env, full) = staged("snap-proven", "3000");
    let staging = sqlite_url(&env.ws, "staging.db");
    let history = env.ws.join("history.db");
    let last_run = || scalar(&staging, "SELECT MAX(run_id) FROM extract_run");
    let proven = || text(&staging, "SELECT value FROM meta WHERE key = 'history_proven'");
    // The first stage after the extract counted everything and kept the state it proved.
    assert!(proven().starts_with(&format!("{} ", last_run())), "{}", proven());
    let before_delta = std::fs::read(&history).unwrap();

    // A delta that starts from a proven state proves its own rows: the next stage needs no
    // count of the history.
    exec(
        &env.source,
        "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
         SELECT channelId, chatId + 100000, chatDate, userId, isAlert, content FROM tblChat LIMIT 9",
    );
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    assert!(proven().starts_with(&format!("{} ", last_run())), "{}", proven());
    env.plan();
    assert_eq!(planned(&env), full + 9);

    // The file as it was before the delta, written back in place (same path and inode):
    // the proof no longer holds, everything is counted, and every stage refuses.
    std::fs::write(&history, &before_delta).unwrap();
    all_refuse(&env, "does not hold the rows of the last complete extract");
    // A row deleted after a stage proved the state is found the same way.
    env.extract().plan();
    exec(
        &sqlite_url(&env.ws, "history.db"),
        "DELETE FROM snap_chat WHERE chat_id = (SELECT MIN(chat_id) FROM snap_chat)",
    );
    all_refuse(&env, "truncated or changed");
}
