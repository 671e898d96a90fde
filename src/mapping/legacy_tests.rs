//! The dense §2 evaluation against the naive one, on pseudo-random legacy trees.

use super::*;
use crate::model::{Principal, PrincipalType, ScopeRow, BEHAVIOR_AUDITORIUM};

fn principal(id: i64, type_id: i64, disabled: bool) -> Principal {
    Principal {
        id,
        guid: format!("{id:032x}"),
        uri: format!("sip:{id}"),
        name: None,
        company: None,
        email: None,
        ad_path: None,
        upn: None,
        disabled,
        type_id,
        added_on: 0,
        updated_on: 0,
    }
}

fn node(id: i64, parent: Option<i64>, is_category: bool) -> Node {
    Node::blank(id, parent, is_category, &format!("n{id}"))
}

/// A tree root(1) → categories 2, 3 (3 under 2) → rooms 10..16; users 100..140 in nested
/// groups 50..56; scope and role rows drawn at random, honouring scope or not.
fn random_snapshot(seed: u64) -> Snapshot {
    let mut s = seed;
    let mut next = |n: u64| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) % n
    };
    let mut snap = Snapshot::default();
    for (id, is_user) in [(1, false), (5, true)] {
        snap.principal_types.insert(
            id,
            PrincipalType {
                id,
                desc: String::new(),
                is_system_user: false,
                is_user,
                is_federated: false,
            },
        );
    }
    for g in 50..56 {
        snap.principals.insert(g, principal(g, 1, false));
    }
    for u in 100..140 {
        snap.principals.insert(u, principal(u, 5, next(8) == 0));
        for _ in 0..next(3) {
            snap.affiliations.push((u, 50 + next(6) as i64));
        }
    }
    snap.affiliations.extend([(51, 50), (53, 52)]);
    snap.nodes.insert(1, node(1, None, true));
    snap.nodes.insert(2, node(2, Some(1), true));
    snap.nodes.insert(3, node(3, Some(2), true));
    for r in 10..16 {
        let mut n = node(r, Some(2 + next(2) as i64), false);
        n.disabled = next(6) == 0;
        n.behavior = if next(3) == 0 { BEHAVIOR_AUDITORIUM } else { BEHAVIOR_NORMAL };
        n.override_member = next(2) == 0;
        snap.nodes.insert(r, n);
    }
    snap.nodes.get_mut(&3).unwrap().override_member = true;
    for (id, desc) in [(1, "Member"), (2, "Manager"), (3, "Voiced")] {
        snap.role_types.insert(id, desc.into());
    }
    let pick = |next: &mut dyn FnMut(u64) -> u64| {
        if next(2) == 0 {
            50 + next(6) as i64
        } else {
            100 + next(40) as i64
        }
    };
    for node_id in [1, 2, 3, 10, 11, 12, 13, 14, 15] {
        if next(3) == 0 {
            for _ in 0..1 + next(3) {
                let prin_id = pick(&mut next);
                snap.scopes.push(ScopeRow { node_id, prin_id, denied: false });
            }
        }
        for _ in 0..next(5) {
            let prin_id = pick(&mut next);
            let role_type_id = 1 + next(3) as i64;
            let honors_scope = next(2) == 0;
            snap.roles.push(RoleRow { node_id, prin_id, role_type_id, honors_scope });
        }
    }
    snap
}

#[test]
fn dense_rights_match_the_rule_evaluated_user_by_user() {
    let mut granted = 0;
    for seed in 0..60 {
        let snap = random_snapshot(seed);
        let lg = Legacy::new(&snap);
        for room in 10..16 {
            assert_eq!(lg.rights(room), lg.rights_naive(room), "seed {seed}, room {room}");
        }
        granted += (10..16).map(|r| lg.rights(r).map(|m| m.len()).unwrap_or(0)).sum::<usize>();
    }
    assert!(granted > 300, "the generator grants rights often enough to test them: {granted}");
}

/// Root 1 → category 2 (scope: group 50; members: group 50) → rooms 10, 11; user 100 in
/// group 51 only, and group 51 in group 50; user 101 in group 50.
fn small_snapshot() -> Snapshot {
    let mut snap = Snapshot::default();
    for (id, is_user) in [(1, false), (5, true)] {
        let t = PrincipalType {
            id,
            desc: String::new(),
            is_system_user: false,
            is_user,
            is_federated: false,
        };
        snap.principal_types.insert(id, t);
    }
    for g in [50, 51] {
        snap.principals.insert(g, principal(g, 1, false));
    }
    for u in [100, 101] {
        snap.principals.insert(u, principal(u, 5, false));
    }
    snap.affiliations.extend([(100, 51), (51, 50), (101, 50)]);
    snap.nodes.insert(1, node(1, None, true));
    snap.nodes.insert(2, node(2, Some(1), true));
    for r in [10, 11] {
        let mut n = node(r, Some(2), false);
        n.scope_definer_id = Some(2);
        n.role_definer_id = Some(2);
        snap.nodes.insert(r, n);
    }
    snap.role_types.insert(1, "Member".into());
    snap.scopes.push(ScopeRow { node_id: 2, prin_id: 50, denied: false });
    snap.roles.push(RoleRow { node_id: 2, prin_id: 50, role_type_id: 1, honors_scope: true });
    snap
}

#[test]
fn affiliations_are_taken_as_stored_not_followed() {
    let snap = small_snapshot();
    let lg = Legacy::new(&snap);
    assert!(lg.affs.has(100, 51) && !lg.affs.has(100, 50), "51's row to 50 is not followed");
    assert_eq!(lg.affs.members(50).collect::<BTreeSet<_>>(), BTreeSet::from([50, 51, 101]));
    let rights = lg.rights(10).unwrap();
    assert!(rights.contains_key(&101) && !rights.contains_key(&100), "{rights:?}");
    assert_eq!(lg.rights(10), lg.rights_naive(10));
}

#[test]
fn dangling_definers_and_missing_principals_read_as_nobody() {
    let mut snap = small_snapshot();
    snap.nodes.get_mut(&10).unwrap().scope_definer_id = Some(99);
    snap.nodes.get_mut(&11).unwrap().role_definer_id = Some(98);
    let lg = Legacy::new(&snap);
    assert_eq!(lg.scope(10), Ok(Scope::Set(BTreeSet::new())), "not the category's, not everyone");
    assert!(lg.rights(10).unwrap().is_empty());
    assert_eq!(lg.member_definer(11), Ok(None));
    assert!(lg.members(11).unwrap().is_empty());
    assert!(lg.rights(11).unwrap().is_empty());

    // A scope list whose only row names a missing principal is nobody, not the root's
    // "every user"; a role row naming one grants nothing.
    let mut snap = small_snapshot();
    snap.scopes = vec![ScopeRow { node_id: 2, prin_id: 777, denied: false }];
    snap.roles.push(RoleRow { node_id: 10, prin_id: 778, role_type_id: 1, honors_scope: false });
    let lg = Legacy::new(&snap);
    assert_eq!(lg.scope(10), Ok(Scope::Set(BTreeSet::new())));
    assert!(lg.grants(10, Role::Member).is_empty());
    assert!(lg.rights(10).unwrap().is_empty());
}

#[test]
fn an_unknown_node_type_rejects_the_rooms_below_it() {
    let mut snap = small_snapshot();
    snap.nodes.get_mut(&2).unwrap().node_type = Some(2);
    let lg = Legacy::new(&snap);
    assert_eq!(lg.ancestors_or_self(10), Err(TreeError::BadNodeType(2, 2)));
}
