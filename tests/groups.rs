//! Out-of-scope groups (MAPPING.md §4 "Rooms", issue 19): a group outside its category's
//! scope is kept (allowed + its out-of-scope users denied) when that costs fewer access
//! control entries than listing its in-scope users, and either way nobody gains or loses
//! access. The tests try to break it: the denied rows removed in the target must show up
//! as gained access, and every kept group must really be the cheaper choice.

use std::collections::BTreeSet;

use gcmigrate::mapping::legacy::Legacy;
use gcmigrate::plan::Plan;
use gcmigrate::staging::Workspace;

use crate::util::*;

const SYNTH: [&str; 10] =
    ["--users", "1500", "--rooms", "120", "--groups", "10", "--messages", "2000", "--seed", "3"];

fn plan_and_snapshot(env: &TestEnv) -> (Plan, gcmigrate::model::Snapshot) {
    block_on(async {
        let w = Workspace::open(&env.ws, false).await.unwrap();
        let plan: Plan = w.load_plan().await.unwrap();
        (plan, w.load_snapshot().await.unwrap())
    })
}

#[test]
fn kept_groups_cost_fewer_entries_and_change_nobodys_access() {
    let env = TestEnv::new("groups-kept").synth(&SYNTH);
    env.extract().plan();
    let (plan, snap) = plan_and_snapshot(&env);
    let lg = Legacy::new(&snap);
    let codes: Vec<&str> = plan.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"GROUP_KEPT"), "no group kept: {codes:?}");
    assert!(codes.contains(&"GROUP_EXPANDED"), "no group expanded: {codes:?}");

    // Every kept group: in its category's allowed list, its out-of-scope users denied,
    // and named as one entry by the room lists instead of its in-scope users.
    let mut checked = 0;
    for c in plan.categories.iter().filter(|c| !c.denied.is_empty()) {
        let denied: BTreeSet<i64> = c.denied.iter().copied().collect();
        // A kept group: a group of the allowed list with users among the denied ones.
        let kept: BTreeSet<i64> = c
            .allowed
            .iter()
            .copied()
            .filter(|g| !lg.is_user(*g) && lg.affs.members(*g).any(|u| denied.contains(&u)))
            .collect();
        let legacy_scope: BTreeSet<i64> =
            c.allowed.iter().copied().filter(|g| !kept.contains(g)).collect();
        let within = |u: i64| lg.affs.of(u).any(|a| legacy_scope.contains(&a));
        for d in &c.denied {
            assert!(lg.is_user(*d), "denied {d} of {} is not a user", c.name);
            assert!(!within(*d), "denied {d} of {} was within its legacy scope", c.name);
        }
        // Kept groups may share out-of-scope users (denied once): the category as a whole
        // must cost fewer entries than listing every kept group's in-scope users.
        let (mut as_groups, mut as_users) = (denied.len(), 0);
        for g in &kept {
            let in_scope = lg.affs.members(*g).filter(|u| lg.is_user(*u) && within(*u)).count();
            let lists = room_lists(&plan, &c.key).filter(|l| l.contains(g)).count();
            assert!(lists > 0, "group {g} is allowed in {} but no room lists it", c.name);
            as_groups += lists + 1;
            as_users += lists * in_scope;
            checked += 1;
        }
        assert!(as_groups < as_users, "{}: {as_groups} entries kept, {as_users} expanded", c.name);
    }
    assert!(checked > 0);
    let report = gcmigrate::verify::planned::check(&plan, &snap);
    assert!(report.gained.is_empty(), "{:#?}", report.gained);
    assert!(report.lost.iter().all(|l| l.rule.is_some() && !l.blocking), "{:#?}", report.lost);

    // Loaded, the target grants exactly the legacy rights.
    env.load().verify();
    let report = env.report("verify-all.json");
    assert_eq!(report["access"]["gained"].as_array().map(Vec::len), Some(0), "{report:#}");
    assert!(report["access"]["pairs"].as_u64().unwrap() > 0);

    // The denied rows are what keeps the out-of-scope users out: without them verify sees
    // them gain access through the kept group.
    let denied =
        scalar(&env.target, "SELECT COUNT(*) FROM tblScopePrincipal WHERE scopeIsDenied = 1");
    assert!(denied > 0);
    exec(&env.target, "DELETE FROM tblScopePrincipal WHERE scopeIsDenied = 1");
    let out = env.output(&["verify", "--target", &env.target]);
    assert_eq!(out.code, 1, "{out}");
    let report = env.report("verify-all.json");
    assert!(!report["access"]["gained"].as_array().unwrap().is_empty(), "{report:#}");
}

/// Every member, manager and presenter list of the rooms in category `key`.
fn room_lists<'a>(plan: &'a Plan, key: &'a str) -> impl Iterator<Item = &'a Vec<i64>> + 'a {
    plan.rooms
        .iter()
        .filter(move |r| r.category == key)
        .flat_map(|r| [&r.members, &r.managers, &r.presenters])
}
