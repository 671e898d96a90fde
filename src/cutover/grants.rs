//! Who the cutover of a wave enables for Persistent Chat (issue "The cutover runbook",
//! item 1): the users who can read a room of the wave once it is live — MAPPING.md §3 on
//! the planned target, exactly what `plan` and `verify` evaluate — minus those the
//! cutovers before it already enabled (the journal records each cutover's grants). Disabled principals (and federated ones, which are
//! created disabled) are never enabled. A pool holds at most 150,000 users enabled for
//! Persistent Chat: the running total is checked against it.

use std::collections::BTreeSet;

use crate::model::Snapshot;
use crate::plan::Plan;
use crate::verify::planned::planned_target;

/// Users a pool may have enabled for Persistent Chat (Microsoft's documented limit).
pub const MAX_ENABLED: usize = 150_000;

/// The grants of one wave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// SIP URIs of the users this wave enables (sorted).
    pub users: Vec<String>,
    /// Users earlier waves enabled (not granted again).
    pub earlier: usize,
    /// Users enabled once this wave's grants are done: earlier waves' and this one's.
    pub total: usize,
}

/// The users who can read a room of `rooms` once live (legacy ids of enabled users). One
/// scratch space serves every room: at pool size (33,000 rooms, 150,000 users) a fresh one
/// per room cost minutes.
fn readers<'a>(
    model: &crate::verify::target::Model,
    rooms: impl Iterator<Item = &'a crate::plan::PlanRoom>,
) -> BTreeSet<i64> {
    let d = model.dense();
    let (mut marks, mut rights) = (model.marks(), Vec::new());
    let mut reads = vec![false; d.len()];
    for r in rooms {
        model.rights_dense(r.legacy_id, &mut marks, &mut rights);
        for (u, x) in &rights {
            reads[*u as usize] |= x.read;
        }
    }
    reads.iter().enumerate().filter(|(_, r)| **r).map(|(u, _)| d.id(u as u32)).collect()
}

/// The grants of (`wave`, `pool`): its readers, minus the users `already` granted (by the
/// cutovers before this one, as the journal records them: a policy grant is the user's,
/// whichever pool or wave it came with, and a rollback does not take it back).
pub fn of_wave(
    plan: &Plan,
    snap: &Snapshot,
    wave: &str,
    pool: &str,
    already: &BTreeSet<String>,
) -> Grants {
    of_wave_in(&planned_target(plan, snap).0, plan, wave, pool, already)
}

/// [`of_wave`] on a planned target built once (`verify::planned::planned_target`), for
/// callers that grant several waves.
pub fn of_wave_in(
    model: &crate::verify::target::Model,
    plan: &Plan,
    wave: &str,
    pool: &str,
    already: &BTreeSet<String>,
) -> Grants {
    let mine = readers(model, plan.rooms_of(Some(wave), pool));
    let uri =
        |p: i64| model.principals.get(&p).map(|x| x.uri.to_lowercase()).filter(|u| !u.is_empty());
    let users: BTreeSet<String> =
        mine.iter().filter_map(|&p| uri(p)).filter(|u| !already.contains(u)).collect();
    Grants {
        total: already.len() + users.len(),
        earlier: already.len(),
        users: users.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Node, Principal, PrincipalType};
    use crate::plan::{PlanCategory, PlanPrincipal, PlanRoom, PlanWave};

    fn principal(id: i64, uri: &str, disabled: bool) -> (Principal, PlanPrincipal) {
        let p = Principal {
            guid: format!("g{id}"),
            uri: uri.into(),
            disabled,
            ..Principal::blank(id, 5)
        };
        let pp = PlanPrincipal {
            legacy_id: id,
            guid: p.guid.clone(),
            uri: uri.into(),
            display_name: None,
            target_type: 5,
            disabled,
            note: None,
            ad_path: None,
        };
        (p, pp)
    }

    #[test]
    fn a_user_is_granted_in_the_first_wave_that_lets_them_read_and_never_when_disabled() {
        let mut snap = Snapshot::default();
        snap.principal_types.insert(
            5,
            PrincipalType {
                id: 5,
                desc: "User".into(),
                is_system_user: false,
                is_user: true,
                is_federated: false,
            },
        );
        let mut plan = Plan::default();
        for (id, uri, off) in
            [(10, "sip:a@x", false), (11, "sip:b@x", false), (12, "sip:c@x", true)]
        {
            let (p, pp) = principal(id, uri, off);
            snap.principals.insert(id, p);
            snap.affiliations.push((id, id));
            plan.principals.push(pp);
        }
        snap.nodes.insert(2, Node::blank(2, Some(1), true, "C"));
        plan.categories.push(PlanCategory {
            key: "c1".into(),
            allowed: vec![10, 11, 12],
            pool: "p".into(),
            ..Default::default()
        });
        let room = |id: i64, wave: &str, members: Vec<i64>| PlanRoom {
            legacy_id: id,
            category: "c1".into(),
            pool: "p".into(),
            wave: wave.into(),
            members,
            behavior: 4,
            visibility: 3,
            ..Default::default()
        };
        plan.rooms = vec![room(20, "one", vec![10, 12]), room(21, "two", vec![10, 11])];
        plan.waves = ["one", "two"]
            .map(|w| PlanWave { name: w.into(), rooms: vec![], messages: 0 })
            .to_vec();
        let none = BTreeSet::new();
        let one = of_wave(&plan, &snap, "one", "p", &none);
        assert_eq!(one.users, ["sip:a@x"], "the disabled member is not granted");
        let already: BTreeSet<String> = one.users.iter().cloned().collect();
        let two = of_wave(&plan, &snap, "two", "p", &already);
        assert_eq!(
            (two.users.as_slice(), two.earlier, two.total),
            (&["sip:b@x".to_string()][..], 1, 2)
        );
    }
}
