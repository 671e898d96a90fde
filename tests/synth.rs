//! `gcmigrate synth`: exact sizes and determinism.

use crate::util::*;

/// A hash of every row of every table the generator fills, in key order.
fn fingerprint(url: &str) -> String {
    let tables = [
        ("tblPrincipalType", "ptypeID"),
        ("tblPrincipal", "prinID"),
        ("tblPrincipalAffiliations", "principalID, \"index\", affiliationID"),
        ("tblNode", "nodeID"),
        ("tblRoleType", "rtypeID"),
        ("tblScopePrincipal", "scopeNodeID, scopePrinID"),
        ("tblPrincipalRole", "prinRoleNodeID, prinRolePrinID, prinRoleTypeID"),
        ("tblChat", "channelId, chatId"),
        ("tblLastChatId", "nodeID"),
    ];
    block_on(async {
        use futures_util::TryStreamExt;
        use sqlx::Row;
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let mut h = blake3::Hasher::new();
        for (t, key) in tables {
            let cols: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT name FROM pragma_table_info('{t}') ORDER BY cid"
            ))
            .fetch_all(&pool)
            .await
            .unwrap();
            let expr = cols
                .iter()
                .map(|c| format!("quote(\"{c}\")"))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let sql = format!("SELECT {expr} FROM {t} ORDER BY {key}");
            let mut rows = sqlx::query(&sql).fetch(&pool);
            while let Some(r) = rows.try_next().await.unwrap() {
                h.update(r.get::<String, _>(0).as_bytes());
                h.update(b"\n");
            }
        }
        pool.close().await;
        h.finalize().to_hex().to_string()
    })
}

#[test]
fn synth_makes_exactly_the_messages_asked_for_and_repeats_itself() {
    let dir = tmp_dir("synth");
    let (a, b, c) = (sqlite_url(&dir, "a.db"), sqlite_url(&dir, "b.db"), sqlite_url(&dir, "c.db"));
    for (url, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        gcm()
            .args(["synth", "-q", "--out", url, "--messages", "20000", "--seed", seed])
            .assert()
            .success();
    }
    assert_eq!(20_000, scalar(&a, "SELECT COUNT(*) FROM tblChat"));
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_ne!(fingerprint(&a), fingerprint(&c));
    // A synthetic database goes through the pipeline.
    let ws = dir.join("ws");
    gcm()
        .args([
            "migrate",
            "-q",
            "--create-schema",
            "--source",
            &a,
            "--target",
            &sqlite_url(&dir, "t.db"),
            "--workspace",
        ])
        .arg(&ws)
        .assert()
        .success();
}
