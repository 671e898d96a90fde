//! The draft refuses, by name, a plan reference it cannot resolve (never an index panic).
use super::super::{build, IdMap, TargetState};
use crate::model::{Node, Snapshot};
use crate::plan::{Plan, PlanCategory, PlanRoom};

/// A plan with one category and one room whose lists name `allowed` and `members`.
fn plan(allowed: Vec<i64>, members: Vec<i64>) -> (Plan, Snapshot) {
    let mut snap = Snapshot::default();
    snap.nodes.insert(10, Node::blank(10, Some(2), false, "Room"));
    let category = PlanCategory {
        key: "c1".into(),
        name: "Cat".into(),
        legacy_path: "/Cat".into(),
        legacy_id: 2,
        guid: "00000000-0000-0000-0000-000000000002".into(),
        split_reason: None,
        pool: "default".into(),
        allowed,
        denied: vec![],
        creators: vec![],
        invite: true,
        logged: true,
        file_post: true,
        desc: String::new(),
        merge: false,
    };
    let room = PlanRoom {
        legacy_id: 10,
        legacy_guid: "00000000-0000-0000-0000-000000000010".into(),
        legacy_path: "/Cat/Room".into(),
        target_name: "Room".into(),
        category: "c1".into(),
        pool: "default".into(),
        wave: "all".into(),
        members,
        visibility: 3,
        behavior: 4,
        ..PlanRoom::default()
    };
    (Plan { categories: vec![category], rooms: vec![room], ..Plan::default() }, snap)
}

#[test]
fn a_reference_the_plan_cannot_resolve_is_an_error_naming_it_not_a_panic() {
    for (allowed, members, names) in
        [(vec![777], vec![], "legacy principal 777"), (vec![], vec![778], "legacy principal 778")]
    {
        let (plan, snap) = plan(allowed, members);
        let rooms: Vec<&PlanRoom> = plan.rooms.iter().collect();
        let mut st = TargetState::empty();
        let err =
            build(&plan, &snap, &rooms, &rooms, None, &IdMap::default(), &mut st).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(names) && text.contains("re-run `gcmigrate plan`"), "{text}");
        let kind = err.downcast_ref::<crate::error::Failure>().map(|f| f.kind);
        assert_eq!(kind, Some(crate::error::FailureKind::BadInput), "{text}");
    }
}

#[test]
fn a_room_whose_legacy_node_is_gone_is_an_error() {
    let (plan, mut snap) = plan(vec![], vec![]);
    snap.nodes.clear();
    let rooms: Vec<&PlanRoom> = plan.rooms.iter().collect();
    let err =
        build(&plan, &snap, &rooms, &rooms, None, &IdMap::default(), &mut TargetState::empty())
            .unwrap_err();
    assert!(format!("{err:#}").contains("legacy nodeID 10"), "{err:#}");
}
