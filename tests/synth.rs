//! `gcmigrate synth`: exact sizes and determinism.

use crate::util::*;

/// Every table the generator fills, every column, in key order.
const SYNTH_ROWS: Tables = &[
    ("tblPrincipalType", "*", "ptypeID"),
    ("tblPrincipal", "*", "prinID"),
    ("tblPrincipalAffiliations", "*", "principalID, \"index\", affiliationID"),
    ("tblNode", "*", "nodeID"),
    ("tblRoleType", "*", "rtypeID"),
    ("tblScopePrincipal", "*", "scopeNodeID, scopePrinID"),
    ("tblPrincipalRole", "*", "prinRoleNodeID, prinRolePrinID, prinRoleTypeID"),
    ("tblChat", "*", "channelId, chatId"),
    ("tblLastChatId", "*", "nodeID"),
];

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
    assert_eq!(fingerprint(&a, Some(SYNTH_ROWS)), fingerprint(&b, Some(SYNTH_ROWS)));
    assert_ne!(fingerprint(&a, Some(SYNTH_ROWS)), fingerprint(&c, Some(SYNTH_ROWS)));
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
