//! `gcmigrate load` and `verify` on SQLite and PostgreSQL targets.

use std::path::Path;

use crate::util::*;

/// Extracts and plans Contoso into a workspace; returns the workspace.
fn planned(dir: &Path) -> std::path::PathBuf {
    let src = sqlite_url(dir, "legacy.db");
    contoso(&src);
    let ws = dir.join("ws");
    gcm().args(["extract", "-q", "--source", &src, "--workspace"]).arg(&ws).assert().success();
    gcm().args(["plan", "-q", "--workspace"]).arg(&ws).assert().success();
    ws
}

fn load(ws: &Path, target: &str) {
    gcm()
        .args(["load", "-q", "--create-schema", "--target", target, "--workspace"])
        .arg(ws)
        .assert()
        .success();
}

fn check_load_and_rerun(target: &str, dir: &Path) {
    let ws = planned(dir);
    load(&ws, target);
    let plan = json(&ws.join("reports/plan.json"));
    let expected = plan["messages"]["load"].as_i64().unwrap();
    assert_eq!(expected, scalar(target, "SELECT COUNT(*) FROM tblChat"));
    // A second run finds everything in the ledger and writes nothing twice.
    let nodes = scalar(target, "SELECT COUNT(*) FROM tblNode");
    load(&ws, target);
    assert_eq!(expected, scalar(target, "SELECT COUNT(*) FROM tblChat"));
    assert_eq!(nodes, scalar(target, "SELECT COUNT(*) FROM tblNode"));
    gcm().args(["verify", "-q", "--target", target, "--workspace"]).arg(&ws).assert().success();
}

#[test]
fn loads_into_sqlite_and_reruns_without_duplicates() {
    let dir = tmp_dir("load-sqlite");
    check_load_and_rerun(&sqlite_url(&dir, "mgc.db"), &dir);
}

#[test]
fn loads_into_postgres_and_reruns_without_duplicates() {
    let Some(pg) = pg_database("load_pg") else { return };
    check_load_and_rerun(&pg, &tmp_dir("load-pg"));
}

#[test]
fn verify_names_the_room_and_message_that_differ() {
    let dir = tmp_dir("tamper");
    let ws = planned(&dir);
    let target = sqlite_url(&dir, "mgc.db");
    load(&ws, &target);
    let (room, chat) = {
        let room = scalar(&target, "SELECT MIN(channelId) FROM tblChat");
        (
            room,
            scalar(
                &target,
                &format!("SELECT MIN(chatId) + 1 FROM tblChat WHERE channelId = {room}"),
            ),
        )
    };
    exec(&target, &format!("UPDATE tblChat SET content = content || '!' WHERE channelId = {room} AND chatId = {chat}"));
    gcm().args(["verify", "-q", "--target", &target, "--workspace"]).arg(&ws).assert().code(1);
    let report = json(&ws.join("reports/verify-all.json"));
    let guid: String = {
        let g = block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&target).await.unwrap();
            let g: String =
                sqlx::query_scalar(&format!("SELECT nodeGuid FROM tblNode WHERE nodeID = {room}"))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            g
        });
        g
    };
    let bad: Vec<_> = report["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["checksum_match"] == false)
        .collect();
    assert_eq!(bad.len(), 1, "{report}");
    assert_eq!(bad[0]["legacy_guid"], guid.as_str());
    assert_eq!(bad[0]["first_mismatch"]["chat_id"], chat);
    assert_eq!(bad[0]["first_mismatch"]["what"], "content");

    exec(&target, &format!("DELETE FROM tblChat WHERE channelId = {room} AND chatId = {chat}"));
    gcm().args(["verify", "-q", "--target", &target, "--workspace"]).arg(&ws).assert().code(1);
    let report = json(&ws.join("reports/verify-all.json"));
    let bad: Vec<_> = report["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["checksum_match"] == false)
        .collect();
    assert_eq!(bad[0]["first_mismatch"]["what"], "missing in target");
}
