//! Broken and look-alike legacy data (MAPPING.md "Affiliations are taken exactly as
//! stored", "Broken data is read narrowly", "Names and limits"): each case starts from
//! Contoso, breaks it with SQL, and runs extract → plan (→ load → verify). Nobody may gain
//! access, nothing may panic, and every broken object is named by a finding.

use std::path::Path;

use gcmigrate::model::Snapshot;
use gcmigrate::plan::{Finding, Plan, Severity};
use gcmigrate::staging::Workspace;

use crate::util::*;

/// Contoso at the source, then `sql` applied to it.
fn broken(name: &str, sql: &str) -> TestEnv {
    let env = TestEnv::new(name).contoso();
    exec(&env.source, sql);
    env
}

fn plan_and_snapshot(ws: &Path) -> (Plan, Snapshot) {
    block_on(async {
        let w = Workspace::open(ws, false).await.unwrap();
        let plan: Plan = w.load_plan().await.unwrap();
        (plan, w.load_snapshot().await.unwrap())
    })
}

/// The findings with `code` whose subject or message contains `needle`.
fn findings<'a>(plan: &'a Plan, code: &str, needle: &str) -> Vec<&'a Finding> {
    plan.findings
        .iter()
        .filter(|f| f.code == code && (f.subject.contains(needle) || f.message.contains(needle)))
        .collect()
}

/// The plan grants nobody anything §2 did not, and every loss has a rule.
fn assert_plan_widens_nothing(plan: &Plan, snap: &Snapshot) {
    let report = gcmigrate::verify::planned::check(plan, snap);
    assert!(report.pairs > 0);
    assert!(report.gained.is_empty(), "gained: {:#?}", report.gained);
    assert!(report.lost.iter().all(|l| l.rule.is_some() && !l.blocking), "{:#?}", report.lost);
}

/// Load into a fresh target and verify: both must pass.
fn load_and_verify(env: &TestEnv) -> Outcome {
    env.load();
    let out = env.output(&["verify", "-q", "--target", &env.target]);
    assert_eq!(out.code, 0, "verify must pass\n{out}");
    out
}

const LEADERSHIP_ROOMS: [i64; 2] = [24, 25];

#[test]
fn a_nested_group_grants_nothing_without_its_own_rows() {
    // G2 (60) is nested in GC-Leadership (13), the scope and member list of Leadership;
    // user U (61) has rows to G2 only. The legacy server never followed G2's row.
    let env = broken(
        "broken-nested",
        "INSERT INTO tblPrincipal (prinID, prinGuid, prinUri, prinName, prinDisabled, prinTypeID, \
           prinAllowedPermSet, prinUseInheritedPerms, prinAddedOn, prinUpdatedOn, prinVerifiedOn) VALUES \
           (60, 'aaaaaaaa-0000-4000-8000-000000000060', 'ma-grp://contoso.com/GC-Leadership-Assistants', NULL, 0, 9, \
            0, 1, 634254048000000000, 634254048000000000, '2011-01-01 00:00:00'), \
           (61, 'aaaaaaaa-0000-4000-8000-000000000061', 'sip:ulla.nested@contoso.com', 'Ulla Nested', 0, 5, \
            0, 1, 634254048000000000, 634254048000000000, '2011-01-01 00:00:00'); \
         INSERT INTO tblPrincipalAffiliations (principalID, affiliationID, \"index\", updatedBy) VALUES \
           (60, 13, 0, 1), (61, 61, -1, 1), (61, 60, 0, 1);",
    );
    env.extract().plan();
    let (plan, snap) = plan_and_snapshot(&env.ws);
    let lg = gcmigrate::mapping::legacy::Legacy::new(&snap);
    for room in LEADERSHIP_ROOMS {
        assert!(
            !lg.rights(room).unwrap().contains_key(&61),
            "room {room}: U reads through G2's row"
        );
        let r = plan.rooms.iter().find(|r| r.legacy_id == room).unwrap();
        assert!(!r.members.contains(&61) && !r.managers.contains(&61));
        let cat = plan.category(&r.category).unwrap();
        assert!(cat.allowed.contains(&13) && !cat.allowed.contains(&61));
    }
    assert!(plan.principals.iter().all(|p| p.legacy_id != 61), "U is not needed by any room");
    assert_plan_widens_nothing(&plan, &snap);
    load_and_verify(&env);

    // AD sync then adds U to the target with the same rows (U → G2 only): verify's target
    // side must read them as stored too, or it would report a gain the pool does not grant
    // (and hide one that it does).
    let g2 =
        scalar(&env.target, "SELECT prinID FROM tblPrincipal WHERE prinUri LIKE '%Assistants'");
    let u = scalar(&env.target, "SELECT MAX(prinID) + 1 FROM tblPrincipal");
    exec(
        &env.target,
        &format!(
            "INSERT INTO tblPrincipal (prinID, prinGuid, prinUri, prinName, prinDisplayName, prinDisabled, prinTypeID, \
               prinAddedBy, prinAddedOn, prinUpdatedBy, prinUpdatedOn, prinVerifiedOn) VALUES \
               ({u}, 'aaaaaaaa-0000-4000-8000-000000000061', 'sip:ulla.nested@contoso.com', 'Ulla', 'Ulla Nested', 0, 5, \
                1, 0, 1, 0, '2013-02-01 08:00:00'); \
             INSERT INTO tblPrincipalAffiliations (principalID, affiliationID, \"index\", updatedBy) VALUES \
               ({u}, {u}, -1, 1), ({u}, {g2}, 0, 1);"
        ),
    );
    let out = env.output(&["verify", "-q", "--target", &env.target]);
    assert_eq!(out.code, 0, "U gains nothing on the target side either\n{out}");
}

#[test]
fn dangling_and_looping_references_are_read_narrowly() {
    let env = broken(
        "broken-refs",
        // Board Prep (24): scopeDefinerId names no node. Falcon (17): roleDefinerId names
        // no node, and a Member row names a missing principal. Forecast (11): its only
        // scope row names a missing principal. Platform Engineering (15): a missing parent.
        // 20 ↔ 21 loop. Deals (5) is moved under the room Pipeline (4).
        "UPDATE tblNode SET scopeDefinerId = 999 WHERE nodeID = 24; \
         UPDATE tblNode SET roleDefinerId = 998 WHERE nodeID = 17; \
         INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy, \
           honorsOverride, honorsScope) VALUES (25, 995, 3, 40, 1, 0); \
         DELETE FROM tblScopePrincipal WHERE scopeNodeID = 11; \
         INSERT INTO tblScopePrincipal (scopeNodeID, scopePrinID, scopeUpdatedBy) VALUES (11, 996, 40); \
         UPDATE tblNode SET parentID = 997 WHERE nodeID = 15; \
         UPDATE tblNode SET parentID = 21 WHERE nodeID = 20; \
         UPDATE tblNode SET parentID = 4 WHERE nodeID = 5; \
         UPDATE tblNode SET scopeDefinerId = 20 WHERE nodeID = 32;",
    );
    env.extract();
    let out = env.run(&["plan", "-q"]);
    let (plan, snap) = plan_and_snapshot(&env.ws);
    let room = |id: i64| plan.rooms.iter().find(|r| r.legacy_id == id);

    // Each broken object is named by a DATA_ERROR finding that says what to do.
    for (needle, what) in [
        ("scopeDefinerId 999", "read narrowly as nobody"),
        ("roleDefinerId 998", "read narrowly as empty"),
        ("prinID(s) 996", "read as nobody"),
        ("prinID(s) 995", "dropped"),
        ("parent node 997", "rejected"),
        ("loops", "rejected"),
        ("is a room but has children", "rejected"),
        ("scopeDefinerId 20 names a node whose tree is broken", "read narrowly as nobody"),
    ] {
        let hits = findings(&plan, "DATA_ERROR", needle);
        assert!(!hits.is_empty(), "no DATA_ERROR for {needle}\n{out}\n{:#?}", plan.findings);
        assert!(hits.iter().all(|f| f.severity == Severity::Warning), "{hits:#?}");
        assert!(hits.iter().any(|f| f.message.contains(what)), "{needle}: {hits:#?}");
    }

    // The narrowest reading: nobody in scope, nobody listed.
    let board = room(24).expect("Board Prep is migrated");
    assert!(plan.category(&board.category).unwrap().allowed.is_empty());
    assert!(board.members.is_empty() && board.managers.is_empty());
    let forecast = room(11).expect("Forecast is migrated");
    assert!(plan.category(&forecast.category).unwrap().allowed.is_empty(), "not NA's wider scope");
    assert!(forecast.members.is_empty());
    let social = room(32).expect("Social (its scope definer loops) is migrated");
    assert!(plan.category(&social.category).unwrap().allowed.is_empty());
    let falcon = room(17);
    assert!(falcon.is_none(), "Falcon sits under the category with a missing parent");
    // The rejected subtrees are rejected, the rest migrates.
    for id in [16, 17, 18, 19, 22, 5] {
        let x = plan.excluded_rooms.iter().find(|x| x.legacy_id == id);
        assert!(x.is_some_and(|x| x.disposition == "rejected"), "room {id}: {x:?}");
    }
    for id in [4, 10, 13, 25, 27, 28, 34] {
        assert!(room(id).is_some(), "room {id} is migrated");
    }
    assert!(!room(25).unwrap().members.contains(&995));
    assert!(plan.principals.iter().all(|p| snap.principals.contains_key(&p.legacy_id)));
    assert_plan_widens_nothing(&plan, &snap);

    // The load does not panic on them, and verify agrees nobody gained anything.
    let out = load_and_verify(&env);
    assert!(!out.all().contains("panicked"), "{out}");
    let report = env.report("verify-all.json");
    assert_eq!(report["access"]["gained"].as_array().map(Vec::len), Some(0), "{report:#}");
}

#[test]
fn names_that_differ_by_a_control_character_get_distinct_final_names_everywhere() {
    // A private Leadership room named "Ops<LF>Private" and a company-wide room "Ops Private".
    let env = broken(
        "broken-names",
        "UPDATE tblNode SET nodeName = 'Ops' || char(10) || 'Private' WHERE nodeID = 24; \
         UPDATE tblNode SET nodeName = 'Ops Private' WHERE nodeID = 28; \
         UPDATE tblNode SET nodeName = 'Tab' || char(9) || 'Room' WHERE nodeID = 25; \
         UPDATE tblNode SET nodeName = 'Tab Room' WHERE nodeID = 27;",
    );
    env.extract().plan();
    let (plan, snap) = plan_and_snapshot(&env.ws);
    let name = |id: i64| plan.rooms.iter().find(|r| r.legacy_id == id).unwrap().target_name.clone();
    let (private, company) = (name(24), name(28));
    assert_ne!(private.to_lowercase(), company.to_lowercase());
    assert!(private.starts_with("Ops Private") && company.starts_with("Ops Private"));
    assert!(!private.contains('\n') && !name(25).contains('\t'));
    assert_ne!(name(25).to_lowercase(), name(27).to_lowercase());
    assert!(!findings(&plan, "NAME_CONTROL_CHARACTERS", "Ops").is_empty(), "{:#?}", plan.findings);
    assert!(!findings(&plan, "NAME_COLLISION", "Ops Private").is_empty(), "{:#?}", plan.findings);
    assert_plan_widens_nothing(&plan, &snap);

    // The PowerShell script names each room by its final name, once.
    env.run(&["export", "-q", "--out", env.dir.join("ps").to_str().unwrap()]);
    let script = std::fs::read_dir(env.dir.join("ps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().contains("configure")
                && !p.to_string_lossy().contains("unconfigure")
        })
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    for n in [&private, &company] {
        let literal = format!("Name                   = '{n}'");
        assert_eq!(script.matches(&literal).count(), 1, "{literal} in\n{script}");
    }

    // The target rows carry the same names; the private room keeps Leadership's scope.
    load_and_verify(&env);
    for (n, legacy) in [(&private, 24), (&company, 28)] {
        let q = format!("SELECT COUNT(*) FROM tblNode WHERE nodeType = 0 AND nodeName = '{n}'");
        assert_eq!(scalar(&env.target, &q), 1, "room {legacy} `{n}`");
    }
    let guid = &snap.nodes[&24].guid;
    let scope = scalar(
        &env.target,
        &format!(
            "SELECT COUNT(*) FROM tblScopePrincipal s JOIN tblNode r ON r.parentID = s.scopeNodeID \
             JOIN tblPrincipal p ON p.prinID = s.scopePrinID \
             WHERE r.nodeGuid = '{guid}' AND p.prinUri <> 'ma-grp://contoso.com/GC-Leadership'"
        ),
    );
    assert_eq!(scope, 0, "the private room's category allows only GC-Leadership");
}

#[test]
fn duplicate_and_malformed_identifiers_block_the_plan_and_the_load() {
    let env = broken(
        "broken-guids",
        "UPDATE tblNode SET nodeGuid = upper((SELECT nodeGuid FROM tblNode WHERE nodeID = 4)) WHERE nodeID = 5; \
         UPDATE tblNode SET nodeGuid = (SELECT nodeGuid FROM tblNode WHERE nodeID = 10) WHERE nodeID = 11; \
         UPDATE tblPrincipal SET prinGuid = 'not-a-guid' WHERE prinID = 21; \
         INSERT INTO tblSiopWhiteList (siopId, siopName, siopUrl) \
           SELECT upper(siopId), siopName || ' (copy)', siopUrl FROM tblSiopWhiteList LIMIT 1;",
    );
    env.extract();
    let out = env.output(&["plan", "-q"]);
    assert_eq!(out.code, 1, "blocking findings\n{out}");
    let (plan, snap) = plan_and_snapshot(&env.ws);
    let dup = |column: &str, a: &str, b: &str| {
        let hits = findings(&plan, "DUPLICATE_GUID", column);
        assert!(
            hits.iter().any(|f| f.severity == Severity::Error
                && f.message.contains(a)
                && f.message.contains(b)),
            "{column} {a} {b}: {:#?}",
            plan.findings
        );
    };
    dup("tblNode.nodeGuid", "node 4 (Pipeline)", "node 5 (Deals)");
    dup("tblNode.nodeGuid", "node 10 (Pipeline)", "node 11 (Forecast)");
    let siop = snap.addins.iter().find(|a| a.name.ends_with("(copy)")).unwrap().id.clone();
    dup("tblSiopWhiteList.siopId", &siop, "(copy)");
    let bad = findings(&plan, "INVALID_GUID", "principal 21");
    assert!(
        bad.iter().any(|f| f.severity == Severity::Error && f.message.contains("`not-a-guid`")),
        "{bad:#?}"
    );

    // The load refuses the blocked plan before touching the target.
    let load = env.output(&["load", "-q", "--create-schema", "--target", &env.target]);
    assert_eq!(load.code, 2, "{load}");
    assert!(load.stderr.contains("blocking findings"), "{load}");
    assert!(
        !env.dir.join("mgc.db").exists()
            || scalar(&env.target, "SELECT COUNT(*) FROM tblNode") <= 1
    );
}

#[test]
fn out_of_enum_values_are_findings_read_narrowly() {
    let env = broken(
        "broken-enums",
        "UPDATE tblNode SET behavior = 9 WHERE nodeID = 28; \
         UPDATE tblNode SET visibility = 7 WHERE nodeID = 31; \
         UPDATE tblNode SET nodeType = 2 WHERE nodeID = 33;",
    );
    env.extract();
    env.run(&["plan", "-q"]);
    let (plan, snap) = plan_and_snapshot(&env.ws);
    for needle in ["behavior 9", "visibility 7", "nodeType 2"] {
        let hits = findings(&plan, "DATA_ERROR", needle);
        assert!(
            hits.iter().any(|f| f.severity == Severity::Warning),
            "{needle}: {:#?}",
            plan.findings
        );
    }
    let room = |id: i64| plan.rooms.iter().find(|r| r.legacy_id == id).unwrap();
    assert_eq!(room(28).behavior, 5, "an unknown behavior is read as an auditorium");
    assert_eq!(room(31).visibility, 2, "an unknown visibility is read as Secret");
    assert!(plan.excluded_rooms.iter().any(|x| x.legacy_id == 34 && x.disposition == "rejected"));
    assert_plan_widens_nothing(&plan, &snap);
    load_and_verify(&env);
}

#[test]
fn a_principals_csv_merger_reuses_the_principal() {
    // The target already has sip:new.owner@contoso.com; Pierre (21) and Fatima (22) are
    // merged onto it, and Yossi (23) onto Anna (20), whom the plan also creates.
    let env = TestEnv::new("broken-merger").contoso().mapping(
        "principals.csv",
        "legacy,target_uri,target_guid,action\n\
         sip:pierre.dubois@contoso.com,sip:new.owner@contoso.com,,remap\n\
         sip:fatima.alsayed@contoso.com,sip:new.owner@contoso.com,,remap\n\
         sip:yossi.cohen@contoso.com,sip:anna.lindqvist@contoso.com,,remap\n",
    );
    let schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/schema/mgc2013.sqlite.sql"),
    )
    .unwrap();
    std::fs::File::create(env.dir.join("mgc.db")).unwrap();
    exec(&env.target, &schema);
    exec(
        &env.target,
        "INSERT INTO tblPrincipal (prinID, prinGuid, prinUri, prinName, prinDisplayName, prinDisabled, prinTypeID, \
           prinAddedBy, prinAddedOn, prinUpdatedBy, prinUpdatedOn, prinVerifiedOn) VALUES \
           (500, 'bbbbbbbb-0000-4000-8000-000000000500', 'sip:new.owner@contoso.com', 'New Owner', 'New Owner', 0, 5, \
            1, 0, 1, 0, '2013-02-01 08:00:00'); \
         INSERT INTO tblPrincipalAffiliations (principalID, affiliationID, \"index\", updatedBy) VALUES (500, 500, -1, 1);",
    );
    env.extract().plan();
    env.run(&["load", "-q", "--target", &env.target]);
    let count = |uri: &str| {
        scalar(
            &env.target,
            &format!("SELECT COUNT(*) FROM tblPrincipal WHERE lower(prinUri) = '{uri}'"),
        )
    };
    assert_eq!(count("sip:new.owner@contoso.com"), 1);
    assert_eq!(count("sip:anna.lindqvist@contoso.com"), 1);
    // Pierre's memberships went to the existing principal.
    let roles =
        scalar(&env.target, "SELECT COUNT(*) FROM tblPrincipalRole WHERE prinRolePrinID = 500");
    let (plan, _) = plan_and_snapshot(&env.ws);
    let pierre =
        plan.rooms.iter().filter(|r| r.members.contains(&21) || r.managers.contains(&21)).count();
    assert_eq!(roles as usize, pierre, "every grant of Pierre lands on the existing principal");
    let out = env.output(&["verify", "-q", "--target", &env.target]);
    assert!(!out.all().contains("panicked"), "{out}");
    let report = env.report("verify-all.json");
    assert_eq!(report["access"]["gained"].as_array().map(Vec::len), Some(0), "{report:#}");
}

#[test]
fn rooms_directly_under_the_root_do_not_make_a_second_root_category() {
    let env =
        broken("broken-root-rooms", "UPDATE tblNode SET parentID = 1 WHERE nodeID IN (28, 31);");
    env.extract().plan();
    let (plan, snap) = plan_and_snapshot(&env.ws);
    let r = plan.rooms.iter().find(|r| r.legacy_id == 28).unwrap();
    let cat = plan.category(&r.category).unwrap();
    assert_ne!(cat.name.to_lowercase(), "root");
    assert_ne!(cat.guid, snap.nodes[&1].guid, "not the legacy root's GUID");
    assert!(!findings(&plan, "ROOT_ROOMS", &cat.name).is_empty(), "{:#?}", plan.findings);
    assert_plan_widens_nothing(&plan, &snap);
    load_and_verify(&env);
    let roots = scalar(
        &env.target,
        "SELECT COUNT(*) FROM tblNode WHERE nodeType = 1 AND lower(nodeName) = 'root'",
    );
    assert_eq!(roots, 1, "only the target's own root category");
    let q = format!(
        "SELECT COUNT(*) FROM tblNode r JOIN tblNode c ON c.nodeID = r.parentID \
         WHERE r.nodeGuid = '{}' AND c.nodeName = '{}' AND c.parentID = 1 AND c.nodeID <> 1",
        r.legacy_guid, cat.name
    );
    assert_eq!(scalar(&env.target, &q), 1);

    // categories.csv can name it (path `/`).
    let env = env
        .mapping("categories.csv", "legacy_path,target_name,pool,wave,on_conflict\n/,General,,,\n");
    env.plan();
    let (plan, _) = plan_and_snapshot(&env.ws);
    let r = plan.rooms.iter().find(|r| r.legacy_id == 28).unwrap();
    assert_eq!(plan.category(&r.category).unwrap().name, "General");
    assert!(findings(&plan, "ROOT_ROOMS", "").is_empty());
}
