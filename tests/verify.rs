//! `gcmigrate verify`: Contoso reconciles (every expected access loss explained by its
//! rule), and each kind of tampering with the loaded target is named exactly — a deleted
//! or edited message, a gained read, a group granted through a category, a removed manager.
//!
//! Contoso is extracted, planned and loaded once; each test verifies a fresh copy of that
//! workspace and SQLite target, so the tampering cannot leak between tests.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value;

use crate::util::*;

/// A fresh copy of the Contoso load (workspace, target and their WAL files).
fn fresh(name: &str) -> TestEnv {
    static TEMPLATE: OnceLock<TestEnv> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let env = TestEnv::new("verify-template").contoso();
            env.extract().plan().load();
            env
        })
        .copy(name)
}

/// Runs verify; returns its exit code and the JSON report.
fn verify(l: &TestEnv) -> (i32, Value) {
    let out = l.output(&["verify", "-q", "--target", &l.target]);
    let code = out.code;
    assert!(code <= 1, "verify failed: {}", out.stderr);
    (code, l.report("verify-all.json"))
}

fn guid_of(url: &str, node: i64) -> String {
    text(url, &format!("SELECT CAST(nodeGuid AS TEXT) FROM tblNode WHERE nodeID = {node}"))
}

fn role_id(role: &str) -> String {
    format!("(SELECT rtypeID FROM tblRoleType WHERE rtypeDesc = '{role}')")
}

fn prin_id(uri: &str) -> String {
    format!("(SELECT prinID FROM tblPrincipal WHERE prinUri = '{uri}')")
}

/// (user, room, right) of the access changes in `list` that block.
fn blocking(report: &Value, list: &str) -> BTreeSet<(String, String, String)> {
    report["access"][list]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["blocking"] == true)
        .map(|c| {
            (
                c["user"].as_str().unwrap().into(),
                c["room"].as_str().unwrap().into(),
                c["right"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn mismatched(report: &Value) -> Vec<&Value> {
    report["rooms"].as_array().unwrap().iter().filter(|r| r["checksum_match"] == false).collect()
}

fn failing_invariants(report: &Value) -> Vec<&Value> {
    report["invariants"].as_array().unwrap().iter().filter(|i| i["ok"] == false).collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

/// Contoso as loaded: passes, and every loss is the planned one, with its rule.
fn assert_contoso_reconciles(report: &Value, target: &str) {
    assert_eq!(report["ok"], true, "{report:#}");
    assert!(mismatched(report).is_empty());
    assert!(failing_invariants(report).is_empty(), "{:#}", report["invariants"]);
    assert_eq!(
        report["access"]["gained"].as_array().unwrap().len(),
        0,
        "{:#}",
        report["access"]["gained"]
    );
    assert!(blocking(report, "lost").is_empty());
    let guid = |path: &str| {
        let room =
            report["rooms"].as_array().unwrap().iter().find(|r| r["legacy_path"] == path).unwrap();
        assert_eq!(
            room["legacy_guid"].as_str().unwrap(),
            guid_of(target, room["target_id"].as_i64().unwrap())
        );
        room["legacy_guid"].as_str().unwrap().to_string()
    };
    let (partners, pipeline) = (guid("/Company/Partners"), guid("/Sales_EMEA/Pipeline"));
    let federated: BTreeSet<_> = report["access"]["lost"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["rule"] == "FEDERATED_DISABLED")
        .map(|c| {
            (
                c["user"].as_str().unwrap().to_string(),
                c["room"].as_str().unwrap().to_string(),
                c["right"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let (jane, lucas) = ("sip:jane.doe@fabrikam.com", "sip:lucas.moreau@adatum.com");
    let expected = set(&[
        (jane, &partners, "read"),
        (jane, &partners, "post"),
        (jane, &pipeline, "read"),
        (jane, &pipeline, "post"),
        (lucas, &partners, "read"),
        (lucas, &partners, "post"),
    ]);
    assert_eq!(federated, expected);
    // The root manager lost manage wherever the category scope excludes him (fixture case 9).
    let sam: Vec<_> = report["access"]["lost"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["user"] == "sip:sam.taylor@contoso.com")
        .collect();
    assert_eq!(sam.len(), 15);
    assert!(sam.iter().all(|c| c["right"] == "manage" && c["rule"] == "ACL_OUTSIDE_SCOPE_DROPPED"));
}

#[test]
fn contoso_reconciles_and_explains_every_loss() {
    let l = fresh("verify-clean");
    let (code, report) = verify(&l);
    assert_eq!(code, 0);
    assert_contoso_reconciles(&report, &l.target);
    assert_eq!(report["access"]["pairs"], 265);
    let reports = l.ws.join("reports");
    let html = std::fs::read_to_string(reports.join("verify-all.html")).unwrap();
    assert!(html.contains("banner pass") && html.contains("FEDERATED_DISABLED"));
    assert!(std::fs::read_to_string(reports.join("verify-all.md"))
        .unwrap()
        .contains("sip:jane.doe@fabrikam.com"));
    let csv = std::fs::read_to_string(reports.join("verify-all.csv")).unwrap();
    assert_eq!(csv.lines().filter(|l| l.starts_with("room,")).count(), 22);
    assert_eq!(csv.lines().filter(|l| l.starts_with("lost,explained,")).count(), 21);
}

#[test]
fn deleted_message_is_named_by_room_and_chat_id() {
    let l = fresh("verify-delete");
    let room = scalar(&l.target, "SELECT MIN(channelId) FROM tblChat");
    let chat =
        scalar(&l.target, &format!("SELECT MIN(chatId) + 1 FROM tblChat WHERE channelId = {room}"));
    exec(&l.target, &format!("DELETE FROM tblChat WHERE channelId = {room} AND chatId = {chat}"));
    let (code, report) = verify(&l);
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    let bad = mismatched(&report);
    assert_eq!(bad.len(), 1, "{report:#}");
    assert_eq!(bad[0]["legacy_guid"], guid_of(&l.target, room).as_str());
    assert_eq!(bad[0]["first_mismatch"]["chat_id"], chat);
    assert_eq!(bad[0]["first_mismatch"]["what"], "missing in target");
    assert!(blocking(&report, "gained").is_empty() && blocking(&report, "lost").is_empty());
    assert!(failing_invariants(&report).is_empty());
}

#[test]
fn edited_message_is_named_by_room_and_chat_id() {
    let l = fresh("verify-edit");
    let room = scalar(&l.target, "SELECT MAX(channelId) FROM tblChat");
    let chat =
        scalar(&l.target, &format!("SELECT MAX(chatId) FROM tblChat WHERE channelId = {room}"));
    exec(&l.target, &format!("UPDATE tblChat SET content = content || ' (edited)' WHERE channelId = {room} AND chatId = {chat}"));
    let (code, report) = verify(&l);
    assert_eq!(code, 1);
    let bad = mismatched(&report);
    assert_eq!(bad.len(), 1, "{report:#}");
    assert_eq!(bad[0]["legacy_guid"], guid_of(&l.target, room).as_str());
    assert_eq!(bad[0]["first_mismatch"], serde_json::json!({"chat_id": chat, "what": "content"}));
    assert!(blocking(&report, "gained").is_empty() && blocking(&report, "lost").is_empty());
    assert!(failing_invariants(&report).is_empty());
}

#[test]
fn member_added_to_a_secret_room_is_a_gained_read() {
    let l = fresh("verify-secret");
    // A Secret room whose category admits the whole domain, and an enabled user reaching none of its lists.
    let room = scalar(
        &l.target,
        "SELECT MIN(n.nodeID) FROM tblNode n JOIN tblScopePrincipal s ON s.scopeNodeID = n.parentID \
         JOIN tblPrincipal p ON p.prinID = s.scopePrinID WHERE n.nodeType = 0 AND n.visibility = 2 \
         AND p.prinTypeID = 8 AND s.scopeIsDenied = 0",
    );
    let user = scalar(
        &l.target,
        &format!(
            "SELECT MIN(p.prinID) FROM tblPrincipal p WHERE p.prinTypeID = 5 AND p.prinDisabled = 0 AND NOT EXISTS \
             (SELECT 1 FROM tblPrincipalAffiliations a JOIN tblPrincipalRole r ON r.prinRolePrinID = a.affiliationID \
             WHERE a.principalID = p.prinID AND r.prinRoleNodeID = {room})"
        ),
    );
    let uri = text(&l.target, &format!("SELECT prinUri FROM tblPrincipal WHERE prinID = {user}"));
    exec(&l.target, &format!(
        "INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy) VALUES ({room}, {user}, {}, 1)",
        role_id("Member")
    ));
    let (code, report) = verify(&l);
    assert_eq!(code, 1);
    let guid = guid_of(&l.target, room);
    // A normal room: whoever reads may post, so both are gained.
    assert_eq!(blocking(&report, "gained"), set(&[(&uri, &guid, "read"), (&uri, &guid, "post")]));
    assert!(blocking(&report, "lost").is_empty());
    assert!(mismatched(&report).is_empty() && failing_invariants(&report).is_empty());
    let html = std::fs::read_to_string(l.ws.join("reports/verify-all.html")).unwrap();
    assert!(html.contains("banner fail") && html.contains(&uri));
}

#[test]
fn group_granted_through_a_category_scope_is_gained_by_its_users() {
    let l = fresh("verify-group");
    let falcon = "ma-grp://contoso.com/GC-Project-Falcon";
    let room = scalar(&l.target, "SELECT nodeID FROM tblNode WHERE nodeName = 'Board Prep'");
    let category =
        scalar(&l.target, &format!("SELECT parentID FROM tblNode WHERE nodeID = {room}"));
    // Widening a category scope alone grants nothing: room lists decide who is in.
    exec(&l.target, &format!(
        "INSERT INTO tblScopePrincipal (scopeNodeID, scopePrinID, scopeIsDenied, scopeUpdatedBy) VALUES ({category}, {}, 0, 1)",
        prin_id(falcon)
    ));
    let (code, report) = verify(&l);
    assert_eq!(code, 0, "{:#}", report["access"]);
    // The grant completed in the room: the group's users who could not read Board Prep now can.
    exec(&l.target, &format!(
        "INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy) VALUES ({room}, {}, {}, 1)",
        prin_id(falcon),
        role_id("Member")
    ));
    let (code, report) = verify(&l);
    assert_eq!(code, 1);
    let guid = guid_of(&l.target, room);
    let mut expected = BTreeSet::new();
    for who in ["emily.chen", "raj.patel", "li.wei", "eva.novak"] {
        for right in ["read", "post"] {
            expected.insert((format!("sip:{who}@contoso.com"), guid.clone(), right.to_string()));
        }
    }
    assert_eq!(blocking(&report, "gained"), expected);
    let eva = report["access"]["gained"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"] == "sip:eva.novak@contoso.com")
        .unwrap();
    assert_eq!(eva["detail"], format!("member through {falcon}"));
    assert!(failing_invariants(&report).is_empty() && blocking(&report, "lost").is_empty());
}

#[test]
fn group_listed_outside_its_category_scope_fails_an_invariant() {
    let l = fresh("verify-outside");
    let room = scalar(&l.target, "SELECT nodeID FROM tblNode WHERE nodeName = 'Benefits'");
    exec(&l.target, &format!(
        "INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy) VALUES ({room}, {}, {}, 1)",
        prin_id("ma-grp://contoso.com/OU=Marketing"),
        role_id("Member")
    ));
    let (code, report) = verify(&l);
    assert_eq!(code, 1);
    let failing = failing_invariants(&report);
    assert_eq!(failing.len(), 1, "{failing:#?}");
    assert_eq!(failing[0]["name"], "room_lists_within_scope");
    let detail = failing[0]["details"][0].as_str().unwrap();
    assert!(detail.contains("`Benefits`") && detail.contains("OU=Marketing"), "{detail}");
    // Outside the scope the group's users still cannot read: nothing is gained.
    assert!(blocking(&report, "gained").is_empty() && blocking(&report, "lost").is_empty());
}

/// Removes Raj Patel's manager row (Falcon) and checks it is a blocking, unexplained loss.
fn assert_removed_manager_blocks(l: &TestEnv) {
    let raj = "sip:raj.patel@contoso.com";
    let cond =
        format!("prinRolePrinID = {} AND prinRoleTypeID = {}", prin_id(raj), role_id("Manager"));
    let room = scalar(
        &l.target,
        &format!("SELECT CAST(MIN(prinRoleNodeID) AS BIGINT) FROM tblPrincipalRole WHERE {cond}"),
    );
    exec(&l.target, &format!("DELETE FROM tblPrincipalRole WHERE {cond}"));
    let (code, report) = verify(l);
    assert_eq!(code, 1);
    let guid = guid_of(&l.target, room);
    assert_eq!(blocking(&report, "lost"), set(&[(raj, &guid, "manage")]));
    let lost =
        report["access"]["lost"].as_array().unwrap().iter().find(|c| c["user"] == raj).unwrap();
    assert_eq!(lost["rule"], Value::Null);
    assert!(blocking(&report, "gained").is_empty() && mismatched(&report).is_empty());
}

#[test]
fn removed_manager_is_a_blocking_loss() {
    assert_removed_manager_blocks(&fresh("verify-manager"));
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn verifies_a_postgres_target() {
    let Some(pg) = pg_database("verify_pg") else { return };
    let l = TestEnv::new("verify-pg").contoso().target(&pg);
    l.extract().plan().load();
    let (code, report) = verify(&l);
    assert_eq!(code, 0, "{report:#}");
    assert_contoso_reconciles(&report, &l.target);
    // An edited message: the target is read a room ahead by another task, and the
    // mismatching room is read again to name the message.
    let room = scalar(&l.target, "SELECT MAX(channelId) FROM tblChat");
    let chat =
        scalar(&l.target, &format!("SELECT MIN(chatId) FROM tblChat WHERE channelId = {room}"));
    exec(&l.target, &format!("UPDATE tblChat SET content = content || '!' WHERE channelId = {room} AND chatId = {chat}"));
    let (code, edited) = verify(&l);
    assert_eq!(code, 1);
    let bad = mismatched(&edited);
    assert_eq!(bad.len(), 1, "{edited:#}");
    assert_eq!(bad[0]["first_mismatch"], serde_json::json!({"chat_id": chat, "what": "content"}));
    exec(&l.target, &format!("UPDATE tblChat SET content = substr(content, 1, length(content) - 1) WHERE channelId = {room} AND chatId = {chat}"));
    assert_removed_manager_blocks(&l);
}

/// The history invariants of an SQLite target: messages by an author the target does not
/// know (in a migrated room, which the history pass read, and in a channel it did not
/// read), in a node that is no room, and a tblLastChatId behind the room's messages —
/// found alike when `tblChat` has no index to read the other channels by.
#[test]
fn dangling_chat_rows_and_a_stale_last_chat_id_fail_invariants() {
    for heap in [false, true] {
        let l = fresh(if heap { "verify-dangling-heap" } else { "verify-dangling" });
        if heap {
            exec(&l.target, "CREATE TABLE heap AS SELECT * FROM tblChat; DROP TABLE tblChat; ALTER TABLE heap RENAME TO tblChat;");
        }
        let room = scalar(&l.target, "SELECT MIN(channelId) FROM tblChat");
        let top =
            scalar(&l.target, &format!("SELECT MAX(chatId) FROM tblChat WHERE channelId = {room}"));
        let category = scalar(&l.target, "SELECT MIN(nodeID) FROM tblNode WHERE nodeType = 1");
        exec(&l.target, &format!(
            "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
             ({room}, {}, 634000000000000000, 999999, 0, 'ghost'), ({room}, {}, 634000000000000000, 999999, 0, 'ghost 2'), \
             ({category}, 1, 634000000000000000, 1, 0, 'in a category'), \
             ({category}, 2, 634000000000000000, 888888, 0, 'a ghost in a category')",
            top + 1,
            top + 2
        ));
        let (code, report) = verify(&l);
        assert_eq!(code, 1);
        let failing: BTreeSet<String> = failing_invariants(&report)
            .iter()
            .flat_map(|i| {
                let name = i["name"].as_str().unwrap().to_string();
                i["details"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |d| format!("{name}: {}", d.as_str().unwrap()))
            })
            .collect();
        let want = |s: &str| failing.iter().any(|f| f.contains(s));
        assert!(
            want(&format!("2 message(s) in channelId {room} by userId 999999")),
            "{failing:#?}"
        );
        assert!(
            want(&format!("1 message(s) in channelId {category} by userId 888888")),
            "{failing:#?}"
        );
        assert!(
            want(&format!("2 message(s) in channelId {category}, which is not a room")),
            "{failing:#?}"
        );
        assert!(failing.iter().any(|f| f.starts_with("last_chat_id")), "{failing:#?}");
        let authors = failing.iter().filter(|f| f.contains("by userId")).count();
        assert_eq!(authors, 2, "no other author is reported: {failing:#?}");
    }
}
