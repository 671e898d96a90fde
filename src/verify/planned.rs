//! The plan's own access check: MAPPING.md §3 evaluated on the planned categories and
//! rooms (as if loaded) against §2 on the legacy snapshot (§3 on an `mgc` source's),
//! before anything is written.
//!
//! It reuses verify's comparison exactly — the only difference is where the target model
//! comes from — so a plan that passes here widens nobody's access once loaded as planned.

use std::collections::{BTreeMap, BTreeSet};

use super::access::{compare, AccessReport};
use super::target::{CategoryScope, Model, RoomLists, TargetNode, TargetPrincipal};
use crate::load::IdMap;
use crate::model::{Snapshot, BEHAVIOR_NORMAL, VISIBILITY_SCOPED};
use crate::plan::Plan;

/// The target the plan describes: principals keep their legacy ids; categories get ids
/// below zero so they cannot meet a room's legacy id.
pub fn planned_target(plan: &Plan, snap: &Snapshot) -> (Model, IdMap) {
    let mut t = Model::default();
    let mut map = IdMap::default();
    for p in &plan.principals {
        let is_user = snap.principal_types.get(&p.target_type).is_some_and(|ty| ty.is_user)
            || matches!(p.target_type, 2 | 5);
        t.principals.insert(
            p.legacy_id,
            TargetPrincipal { uri: p.uri.clone(), disabled: p.disabled, is_user },
        );
        map.principals.insert(p.legacy_id, p.legacy_id);
    }
    t.affiliate_known(&snap.affiliations);
    let mut cat_ids = BTreeMap::new();
    for (i, c) in plan.categories.iter().enumerate() {
        let id = -(i as i64) - 2;
        cat_ids.insert(c.key.clone(), id);
        map.categories.insert(c.key.clone(), id);
        t.nodes.insert(
            id,
            TargetNode {
                guid: c.guid.clone(),
                parent: 1,
                is_category: true,
                name: c.name.clone(),
                disabled: false,
                behavior: BEHAVIOR_NORMAL,
                visibility: VISIBILITY_SCOPED,
            },
        );
        let set = |v: &[i64]| v.iter().copied().collect::<BTreeSet<i64>>();
        t.scopes.insert(id, CategoryScope { allowed: set(&c.allowed), denied: set(&c.denied) });
    }
    for r in &plan.rooms {
        map.rooms.insert(r.legacy_id, r.legacy_id);
        t.nodes.insert(
            r.legacy_id,
            TargetNode {
                guid: r.legacy_guid.clone(),
                parent: cat_ids[&r.category],
                is_category: false,
                name: r.target_name.clone(),
                disabled: r.disabled,
                behavior: r.behavior,
                visibility: r.visibility,
            },
        );
        let set = |v: &[i64]| v.iter().copied().collect::<BTreeSet<i64>>();
        t.lists.insert(
            r.legacy_id,
            RoomLists {
                members: set(&r.members),
                managers: set(&r.managers),
                presenters: set(&r.presenters),
            },
        );
    }
    (t, map)
}

/// Compares the plan's access with the legacy access, for every room.
pub fn check(plan: &Plan, snap: &Snapshot) -> AccessReport {
    let (t, map) = planned_target(plan, snap);
    let ids = super::access::match_principals(snap, &t, &map);
    compare(plan, snap, &t, ids, &map, None)
}
