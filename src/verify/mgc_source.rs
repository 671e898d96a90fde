//! A Persistent Chat source (a pool-to-pool move, a re-migration) judged by MAPPING.md §3,
//! not §2: its snapshot as the target-shaped [`Model`] that `verify` already evaluates, so
//! the "before" side of an `mgc` source is exactly what its own pool granted — flat
//! categories with allowed and denied scopes, the role rows of each room taken one to one
//! (matched by `rtypeDesc`, never by id), Open rooms open to their category's scope.
//!
//! Ids stay the source's (`prinID`, `nodeID`), as the §2 side keeps them, so the access
//! comparison maps both the same way.

use std::collections::{BTreeSet, HashMap};

use super::target::{Model, TargetNode, TargetPrincipal};
use crate::mapping::legacy::Role;
use crate::model::{Snapshot, SourceVersion, VISIBILITY_PRIVATE};

/// Whether `snap` was read from a Persistent Chat 2013 `mgc` database.
pub fn is_mgc(snap: &Snapshot) -> bool {
    snap.version == Some(SourceVersion::Mgc2013)
}

/// The §3 model of an `mgc` source snapshot: every principal, affiliation, node, scope row
/// and room role row, as stored. A row naming a missing principal grants nobody; a room
/// without a visibility is read narrowly (Secret, never Open).
pub fn model(snap: &Snapshot) -> Model {
    let mut t = Model::default();
    for p in snap.principals.values() {
        let is_user = snap.principal_types.get(&p.type_id).is_some_and(|ty| ty.is_user);
        t.by_guid.insert(p.guid.to_ascii_lowercase(), p.id);
        t.by_uri.insert(p.uri.to_ascii_lowercase(), p.id);
        t.principals
            .insert(p.id, TargetPrincipal { uri: p.uri.clone(), disabled: p.disabled, is_user });
    }
    t.affiliate_known(&snap.affiliations);
    for n in snap.nodes.values() {
        t.nodes.insert(
            n.id,
            TargetNode {
                guid: n.guid.clone(),
                parent: n.parent_id.unwrap_or(1),
                is_category: n.is_category,
                name: n.name.clone(),
                disabled: n.disabled,
                behavior: n.behavior,
                visibility: n.visibility.unwrap_or(VISIBILITY_PRIVATE),
            },
        );
    }
    for s in snap.scopes.iter().filter(|s| t.principals.contains_key(&s.prin_id)) {
        let e = t.scopes.entry(s.node_id).or_default();
        (if s.denied { &mut e.denied } else { &mut e.allowed }).insert(s.prin_id);
    }
    let roles: HashMap<i64, Option<Role>> =
        snap.role_types.iter().map(|(id, d)| (*id, Role::from_desc(d))).collect();
    let rooms: BTreeSet<i64> =
        snap.nodes.values().filter(|n| !n.is_category).map(|n| n.id).collect();
    for r in snap.roles.iter().filter(|r| rooms.contains(&r.node_id)) {
        if !t.principals.contains_key(&r.prin_id) {
            continue;
        }
        let lists = t.lists.entry(r.node_id).or_default();
        match roles.get(&r.role_type_id).copied().flatten() {
            Some(Role::Member) => lists.members.insert(r.prin_id),
            Some(Role::Manager) => lists.managers.insert(r.prin_id),
            Some(Role::Voiced) => lists.presenters.insert(r.prin_id),
            Some(Role::Creator) | None => false,
        };
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Node, Principal, PrincipalType, RoleRow, ScopeRow, VISIBILITY_OPEN};

    fn prin(id: i64, ty: i64) -> Principal {
        Principal { guid: format!("g{id}"), uri: format!("sip:{id}"), ..Principal::blank(id, ty) }
    }

    /// Category 2 allows group 20, denies user 11; room 3 (Closed) lists group 20 as
    /// members and 12 as manager; room 4 is Open with no lists. Role ids are shuffled.
    fn snap() -> Snapshot {
        let mut s = Snapshot { version: Some(SourceVersion::Mgc2013), ..Default::default() };
        for (id, user) in [(5, true), (9, false)] {
            let t = PrincipalType {
                id,
                desc: String::new(),
                is_system_user: false,
                is_user: user,
                is_federated: false,
            };
            s.principal_types.insert(id, t);
        }
        for (id, ty) in [(10, 5), (11, 5), (12, 5), (20, 9)] {
            s.principals.insert(id, prin(id, ty));
        }
        s.affiliations = vec![(10, 20), (11, 20)];
        s.nodes.insert(1, Node::blank(1, Some(1), true, "root"));
        s.nodes.insert(2, Node::blank(2, Some(1), true, "Cat"));
        let mut closed = Node::blank(3, Some(2), false, "closed");
        closed.visibility = Some(3);
        let mut open = Node::blank(4, Some(2), false, "open");
        open.visibility = Some(VISIBILITY_OPEN);
        s.nodes.insert(3, closed);
        s.nodes.insert(4, open);
        s.role_types = [(7, "Manager".into()), (8, "Member".into()), (9, "Creator".into())].into();
        s.scopes = vec![
            ScopeRow { node_id: 2, prin_id: 20, denied: false },
            ScopeRow { node_id: 2, prin_id: 11, denied: true },
        ];
        let role = |node_id, prin_id, role_type_id| RoleRow {
            node_id,
            prin_id,
            role_type_id,
            honors_scope: true,
        };
        s.roles = vec![role(3, 20, 8), role(3, 12, 7), role(2, 10, 9)];
        s
    }

    #[test]
    fn an_mgc_source_is_judged_by_section_3() {
        let m = model(&snap());
        // Denied wins over the allowed group; 12 manages nothing outside the scope.
        let closed = m.rights(3);
        assert_eq!(closed.keys().copied().collect::<Vec<_>>(), vec![10]);
        assert!(closed[&10].read && closed[&10].post && !closed[&10].manage);
        // Open: the whole scope reads, without any list.
        assert_eq!(m.rights(4).keys().copied().collect::<Vec<_>>(), vec![10]);
        // The Creator row of the category is no room list.
        assert!(m.lists(2).members.is_empty());
    }
}
