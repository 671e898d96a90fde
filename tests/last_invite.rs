//! `tblLastInviteId` (issue #22 item 4): every load that writes invitations keeps each
//! principal's value at least its highest `invID`, verify's `last_invite_id` invariant
//! fails when it is lower, and rollback restores the value from before the load (the
//! round trips of `rollback.rs` seed a lower value for a reused principal).

use crate::util::*;

/// Principals whose tblLastInviteId is missing or below their highest invitation id.
const BELOW: &str = "SELECT COUNT(*) FROM (SELECT prinID, MAX(invID) AS m FROM tblPrincipalInvites GROUP BY prinID) i \
    LEFT JOIN tblLastInviteId l ON l.prinID = i.prinID WHERE l.lastInviteID IS NULL OR l.lastInviteID < i.m";

fn kept_by_every_load(env: &TestEnv) {
    env.extract().plan().load();
    let t = &env.target;
    assert!(scalar(t, "SELECT COUNT(*) FROM tblPrincipalInvites") > 0, "Contoso has invitations");
    assert_eq!(scalar(t, BELOW), 0);
    assert!(scalar(t, "SELECT COUNT(*) FROM tblLastInviteId") > 0);
    // Anna has two invitations (ids 1 and 2).
    let anna = "SELECT CAST(l.lastInviteID AS BIGINT) FROM tblLastInviteId l JOIN tblPrincipal p \
        ON p.prinID = l.prinID WHERE p.prinUri = 'sip:anna.lindqvist@contoso.com'";
    assert_eq!(scalar(t, anna), 2);
    env.verify();
    assert!(env.report("verify-all.json")["invariants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["name"] == "last_invite_id" && i["ok"] == true));

    // Set below the highest invitation id: verify fails and names the principal.
    exec(
        t,
        "UPDATE tblLastInviteId SET lastInviteID = 1 WHERE prinID = \
         (SELECT prinID FROM tblPrincipal WHERE prinUri = 'sip:anna.lindqvist@contoso.com')",
    );
    let out = env.output(&["verify", "--target", t]).expect(1);
    assert!(out.all().contains("invariant last_invite_id fails"), "{out}");
    assert!(out.all().contains("sip:anna.lindqvist@contoso.com"), "{out}");

    // A reload of the same wave does not lower a value someone raised since.
    exec(t, "UPDATE tblLastInviteId SET lastInviteID = 50");
    env.load();
    assert_eq!(scalar(t, "SELECT COUNT(*) FROM tblLastInviteId WHERE lastInviteID <> 50"), 0);

    // The rollback removes the rows the load inserted (none existed before).
    env.run(&["rollback", "-q", "--execute", "--target", t]);
    assert_eq!(scalar(t, "SELECT COUNT(*) FROM tblLastInviteId"), 0);
}

#[test]
fn every_load_keeps_last_invite_id_and_verify_checks_it() {
    kept_by_every_load(&TestEnv::new("last-invite").contoso());
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn every_load_keeps_last_invite_id_and_verify_checks_it_on_postgres() {
    let Some(pg) = pg_database("last_invite_pg") else { return };
    kept_by_every_load(&TestEnv::new("last-invite-pg").contoso().target(&pg));
}
