//! Why a right was lost or gained: the mapping rule whose cause holds for that user and
//! room, or what was found instead, for the report's `rule` and `detail`.

use super::{Compare, Right, RoomRef, Who, ACL_OUTSIDE_SCOPE_DROPPED, FEDERATED_DISABLED};
use crate::mapping::legacy::Rights;
use crate::model::{BEHAVIOR_NORMAL, VISIBILITY_OPEN};

impl Compare<'_> {
    /// The rule whose cause holds for a lost right, or None with what was found instead.
    pub(super) fn explain_lost(
        &self,
        room: &RoomRef<'_>,
        node: Option<i64>,
        w: Who,
        lids: &[i64],
        right: Right,
        now: &Rights,
    ) -> (Option<String>, String) {
        if let Some(rule) = room.excluded {
            return (Some(rule.into()), format!("the room is not migrated ({rule})"));
        }
        let Some(node) = node else { return (None, "the room is missing in the target".into()) };
        let target = match w {
            Who::Target(t) => Some(t),
            Who::Unmapped(_) => None,
        };
        if let Some(t) = target {
            let Some(p) = self.tg.principals.get(&t) else {
                return (None, format!("target principal {t} no longer exists"));
            };
            if p.disabled {
                let snap = self.lg.snap;
                let federated = |l: &i64| {
                    let ty =
                        snap.principals.get(l).and_then(|p| snap.principal_types.get(&p.type_id));
                    ty.is_some_and(|t| t.is_federated)
                };
                return if lids.iter().any(federated) {
                    (
                        Some(FEDERATED_DISABLED.into()),
                        "federated principal, created disabled".into(),
                    )
                } else {
                    (None, "the principal is disabled in the target".into())
                };
            }
        }
        // A federated principal the plan left out entirely (e.g. outside every allowed list
        // once "every user" became the domain) loses its rooms by the same rule.
        let snap = self.lg.snap;
        let federated = |l: &i64| {
            snap.principals
                .get(l)
                .and_then(|p| snap.principal_types.get(&p.type_id))
                .is_some_and(|t| t.is_federated)
        };
        if target.is_none() && lids.iter().any(federated) {
            return (
                Some(FEDERATED_DISABLED.into()),
                "federated principal, not created in the target".into(),
            );
        }
        let n = &self.tg.nodes[&node];
        if n.disabled && right != Right::Manage {
            return (None, "the room is disabled in the target".into());
        }
        // Affiliations in target ids; a principal the target lacks is judged by its legacy
        // affiliations that do exist there.
        let affs: Vec<i64> = match target {
            Some(t) => self.tg.affs.of(t).collect(),
            None => lids
                .iter()
                .flat_map(|l| self.lg.affs.of(*l))
                .filter_map(|a| self.ids.get(&a).copied())
                .collect(),
        };
        let scope = self.tg.scope(n.parent);
        // Denied members are users outside the legacy scope (the plan denies the out-of-scope
        // users of a group it keeps): for the rule below they are outside it, as is anyone
        // the allowed list does not reach.
        let denied = affs.iter().any(|a| scope.denied.contains(a));
        if denied || !affs.iter().any(|a| scope.allowed.contains(a)) {
            // The plan dropped an out-of-scope grant here, and the legacy right did not depend
            // on the legacy scope: only a grant with honorsScope = 0 gives that.
            let legacy_scope = self.lg.scope(room.legacy_id).ok();
            let ignored_scope =
                legacy_scope.is_some_and(|s| lids.iter().all(|l| !self.lg.affs.in_scope(*l, &s)));
            if self.acl_dropped.contains(room.guid) && ignored_scope {
                return (
                    Some(ACL_OUTSIDE_SCOPE_DROPPED.into()),
                    "outside the category's allowed members; the legacy grant ignored scope (honorsScope = 0)".into(),
                );
            }
            return (
                None,
                if denied {
                    "denied by the category's scope"
                } else {
                    "not within the category's allowed members"
                }
                .into(),
            );
        }
        if target.is_none() {
            return (
                None,
                "the principal is not in the target (not migrated, or not yet synced from AD)"
                    .into(),
            );
        }
        if right == Right::Post && now.read && n.behavior != BEHAVIOR_NORMAL {
            return (None, "not a presenter of the auditorium room".into());
        }
        let role =
            if right == Right::Manage { "managers" } else { "members, managers or presenters" };
        (None, format!("no longer within the room's {role}"))
    }

    /// What grants a gained right on the target side.
    pub(super) fn explain_gained(&self, node: i64, w: Who) -> String {
        let Who::Target(t) = w else { return String::new() };
        let legacy = self.legacy_of.get(&t);
        let mut why = match legacy {
            None => "a target principal with no legacy counterpart".to_string(),
            Some(l) if l.iter().any(|l| self.lg.is_disabled(*l)) => {
                "disabled in the source, enabled in the target".into()
            }
            Some(_) => String::new(),
        };
        let lists = self.tg.lists(node);
        let affs: Vec<i64> = self.tg.affs.of(t).collect();
        let via = lists.named().into_iter().find_map(|(role, set)| {
            affs.iter().find(|a| set.contains(a)).map(|a| {
                let uri =
                    self.tg.principals.get(a).map_or_else(|| a.to_string(), |p| p.uri.clone());
                if *a == t {
                    format!("listed as {role}")
                } else {
                    format!("{role} through {uri}")
                }
            })
        });
        let open = self.tg.nodes.get(&node).is_some_and(|n| n.visibility == VISIBILITY_OPEN);
        let via = via.or_else(|| open.then(|| "the room is Open to the category's scope".into()));
        if let Some(v) = via {
            if !why.is_empty() {
                why.push_str("; ");
            }
            why.push_str(&v);
        }
        why
    }
}
