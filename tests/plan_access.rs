//! The plan widens nobody's access: MAPPING.md §3 on the planned categories and rooms
//! against §2 on the legacy snapshot, on Contoso and on a synthetic deployment.

use std::path::Path;

use gcmigrate::plan::Plan;
use gcmigrate::staging::Workspace;

use crate::util::*;

fn plan_and_snapshot(ws: &Path) -> (Plan, gcmigrate::model::Snapshot) {
    block_on(async {
        let w = Workspace::open(ws, false).await.unwrap();
        let plan: Plan = w.load_plan().await.unwrap();
        (plan, w.load_snapshot().await.unwrap())
    })
}

fn assert_no_widening(ws: &Path) {
    let (plan, snap) = plan_and_snapshot(ws);
    let report = gcmigrate::verify::planned::check(&plan, &snap);
    assert!(report.pairs > 0);
    assert!(report.gained.is_empty(), "gained: {:#?}", report.gained);
    assert!(
        report.lost.iter().all(|l| l.rule.is_some() && !l.blocking),
        "unexplained: {:#?}",
        report.lost
    );
    let codes: Vec<&str> = plan.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(!codes.contains(&"ACCESS_WIDENED") && !codes.contains(&"ACCESS_LOST_UNEXPLAINED"));
}

#[test]
fn contoso_plan_grants_nothing_the_legacy_rules_did_not() {
    let env = TestEnv::new("plan-access").contoso();
    env.extract().plan();
    assert_no_widening(&env.ws);

    // The check does catch a widening: a principal added to a Secret room's members.
    let (mut plan, snap) = plan_and_snapshot(&env.ws);
    let secret =
        plan.rooms.iter().position(|r| r.visibility == 2).expect("Contoso has a Secret room");
    let had = gcmigrate::mapping::legacy::Legacy::new(&snap)
        .rights(plan.rooms[secret].legacy_id)
        .unwrap();
    let outsider = plan
        .principals
        .iter()
        .find(|p| p.target_type == 5 && !p.disabled && !had.contains_key(&p.legacy_id))
        .map(|p| p.legacy_id)
        .unwrap();
    let cat = plan.rooms[secret].category.clone();
    plan.rooms[secret].members.push(outsider);
    plan.categories.iter_mut().find(|c| c.key == cat).unwrap().allowed.push(outsider);
    let report = gcmigrate::verify::planned::check(&plan, &snap);
    assert!(
        report
            .gained
            .iter()
            .any(|g| g.room == plan.rooms[secret].legacy_guid && g.right.as_str() == "read"),
        "{:#?}",
        report.gained
    );
}

#[test]
fn synthetic_plan_grants_nothing_the_legacy_rules_did_not() {
    let synth = ["--messages", "2000", "--users", "300", "--rooms", "60", "--seed", "11"];
    let env = TestEnv::new("plan-access-synth").synth(&synth);
    env.extract().plan();
    assert_no_widening(&env.ws);
}
