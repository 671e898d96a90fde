//! Unit tests of the ledger replay and the difference: what a wave may change, what it
//! may only add to, and what a room that left the wave takes with it.

use std::collections::{HashMap, HashSet};

use super::read::{NodeRow, TargetRows};
use super::*;
use crate::load::config::{IdMap, Inserted};
use crate::load::ledger::ConfigRow;
use crate::plan::{PlanCategory, PlanRoom};

fn row(wave: &str, nodes: &[i64], roles: &[(i64, i64, i64)], rooms: &[(i64, i64)]) -> ConfigRow {
    let mut map = IdMap {
        inserted: Inserted { nodes: nodes.to_vec(), roles: roles.to_vec(), ..Default::default() },
        ..Default::default()
    };
    map.rooms.extend(rooms.iter().copied());
    ConfigRow { run_id: format!("r-{wave}"), wave: wave.into(), map, deployment: None, pool: None }
}

fn node(parent: i64, is_category: bool, name: &str) -> NodeRow {
    NodeRow {
        guid: format!("g-{name}"),
        parent,
        is_category,
        name: name.into(),
        desc: String::new(),
        invite: if is_category { Some(true) } else { None },
        logged: if is_category { Some(true) } else { None },
        file_post: if is_category { Some(true) } else { None },
        disabled: !is_category,
        behavior: 4,
        visibility: 3,
        addin: None,
    }
}

#[test]
fn the_replay_gives_each_row_to_the_wave_that_inserted_it_and_forgets_removed_ones() {
    let a = row("a", &[10, 11], &[(11, 5, 1), (11, 6, 1)], &[(100, 11)]);
    // b's map carries a's room too (maps accumulate); b inserted only node 12.
    let b = row("b", &[12], &[(10, 7, 4)], &[(100, 11), (101, 12)]);
    let mut a2 = row("a", &[], &[], &[]);
    a2.map.removed.roles.push((11, 6, 1));
    let o = Owned::replay([&a, &b, &a2]);
    assert_eq!(o.rooms[&100], (11, "a".to_string(), None));
    assert_eq!(o.rooms[&101].1, "b");
    assert_eq!(o.roles.get(&(10, 7, 4)).map(String::as_str), Some("b"));
    assert!(!o.roles.contains_key(&(11, 6, 1)), "removed by a later run");
    let mut a3 = row("a", &[], &[], &[]);
    a3.map.removed.rooms.push((100, 11));
    let o = Owned::replay([&a, &b, &a2, &a3]);
    assert!(!o.rooms.contains_key(&100) && !o.nodes.contains_key(&11));
    assert!(!o.roles.contains_key(&(11, 5, 1)), "a removed room's role rows go with it");
}

#[test]
fn a_wave_changes_its_own_rows_adds_anywhere_and_leaves_others_alone() {
    // Category 10 (wave a) holds room 11 (wave a); category 20 is the target's own.
    let plan = Plan {
        categories: vec![PlanCategory {
            key: "c1".into(),
            name: "Cat".into(),
            legacy_path: "/Cat".into(),
            legacy_id: 2,
            guid: "g".into(),
            split_reason: None,
            pool: "default".into(),
            allowed: vec![1, 3],
            denied: vec![],
            creators: vec![],
            invite: true,
            logged: true,
            file_post: true,
            desc: String::new(),
            merge: false,
        }],
        rooms: vec![PlanRoom {
            legacy_id: 100,
            target_name: "Room renamed".into(),
            category: "c1".into(),
            wave: "a".into(),
            members: vec![1],
            managers: vec![3],
            behavior: 4,
            visibility: 3,
            ..Default::default()
        }],
        ..Default::default()
    };
    let a = row("a", &[10, 11], &[(11, 51, 1), (11, 52, 1)], &[(100, 11)]);
    let mut b = row("b", &[], &[(11, 53, 1)], &[]);
    b.map.inserted.scopes.push((10, 52));
    let owned = Owned::replay([&a, &b]);
    let mut target = TargetRows::default();
    target.nodes.insert(10, node(1, true, "Cat"));
    target.nodes.insert(11, node(10, false, "Room"));
    // Member 52 was removed in legacy (the wave's row: removed); 53 is wave b's (left).
    target.roles.extend([(11, 51, 1), (11, 52, 1), (11, 53, 1)]);
    // Scope: 51 allowed (a's own? no: not in the ledger → the target's own), 52 (b's).
    target.scopes.insert((10, 51), false);
    target.scopes.insert((10, 52), false);
    let mut map = IdMap::default();
    map.principals.extend([(1, 51), (3, 53), (4, 52)]);
    map.categories.insert("c1".into(), 10);
    map.rooms.insert(100, 11);
    let roles: HashMap<crate::mapping::legacy::Role, i64> = [
        (crate::mapping::legacy::Role::Member, 1),
        (crate::mapping::legacy::Role::Manager, 2),
        (crate::mapping::legacy::Role::Voiced, 3),
        (crate::mapping::legacy::Role::Creator, 4),
    ]
    .into_iter()
    .collect();
    let rooms: Vec<&PlanRoom> = plan.rooms.iter().collect();
    let uri = |id: i64| format!("p{id}");
    let c = diff(&Inputs {
        plan: &plan,
        rooms: &rooms,
        wave: "a",
        map: &map,
        owned: &owned,
        target: &target,
        role_types: &roles,
        new_nodes: &HashSet::new(),
        uri_of: &uri,
    })
    .unwrap();
    assert_eq!(c.roles_added, vec![(11, 53, 2)], "the new manager");
    assert_eq!(c.removed.roles, vec![(11, 52, 1)], "the wave's own member row the plan dropped");
    assert!(c.left.iter().any(|l| l.contains("p53") && l.contains("wave `b`")), "{:?}", c.left);
    assert_eq!(c.scopes_added, vec![(10, 53)], "scope rows are added wherever needed");
    assert!(c.removed.scopes.is_empty(), "b's and the target's scope rows are not removed");
    assert!(
        c.changes.iter().any(|l| l.contains("name `Room` → `Room renamed`")),
        "{:?}",
        c.changes
    );
    assert!(c.removed.rooms.is_empty());
}
