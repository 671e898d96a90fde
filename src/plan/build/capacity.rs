//! The capacity check (MAPPING.md §4 "Names and limits"): each pool of the finished plan
//! against what one Persistent Chat pool holds — access control entries, invitations,
//! enabled users — so an oversized pool is an error in the plan rather than a failure
//! halfway through the load. Past the entry limit the finding names what costs the most
//! (the out-of-scope groups listed user by user, the rooms and categories with the most
//! entries) and what the mapping can do; `accept_capacity_overrun = true` in
//! gcmigrate.toml turns the error into a warning that says it was accepted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::findings::{Findings, ACE_LIMIT, INVITE_LIMIT, USER_LIMIT};
use crate::model::Snapshot;
use crate::plan::{PlanCategory, PlanPrincipal, PlanRoom, Severity};

/// An out-of-scope group listed user by user in a room: (room legacy id, group, users).
pub(super) type Expansion = (i64, i64, usize);

/// What [`check`] reads besides the plan's lists.
pub(super) struct Inputs<'a> {
    pub(super) snap: &'a Snapshot,
    pub(super) expansions: &'a [Expansion],
    pub(super) accept_overrun: bool,
}

/// One `CAPACITY_HEADROOM` finding per pool and limit: an error past the limit (a
/// warning when accepted), else how much is left.
pub(super) fn check(
    f: &mut Findings,
    rooms: &[PlanRoom],
    cats: &[PlanCategory],
    prins: &[PlanPrincipal],
    input: &Inputs<'_>,
) {
    let snap = input.snap;
    let pools: BTreeSet<&str> =
        cats.iter().map(|c| c.pool.as_str()).chain(rooms.iter().map(|r| r.pool.as_str())).collect();
    let several = pools.len() > 1;
    let users = prins
        .iter()
        .filter(|p| {
            !p.disabled && snap.principal_types.get(&p.target_type).is_none_or(|t| t.is_user)
        })
        .count() as u64;
    for pool in pools {
        let cats: Vec<&PlanCategory> = cats.iter().filter(|c| c.pool == pool).collect();
        let rooms: Vec<&PlanRoom> = rooms.iter().filter(|r| r.pool == pool).collect();
        let aces = cats.iter().map(|c| cat_entries(c)).sum::<u64>()
            + rooms.iter().map(|r| room_entries(r)).sum::<u64>();
        let ids: HashSet<i64> = rooms.iter().map(|r| r.legacy_id).collect();
        let invites = snap.invites.iter().filter(|i| ids.contains(&i.node_id)).count() as u64;
        let prefix = if several { format!("pool `{pool}`: ") } else { String::new() };
        for (what, n, limit) in [
            ("access control entries", aces, ACE_LIMIT),
            ("invitations", invites, INVITE_LIMIT),
            ("enabled users (every pool's principals)", users, USER_LIMIT),
        ] {
            let mut msg = format!(
                "{prefix}{what}: {n} of {limit} ({:.2}% used, {} left)",
                n as f64 * 100.0 / limit as f64,
                limit.saturating_sub(n)
            );
            let mut sev = Severity::Info;
            if n > limit {
                sev = if input.accept_overrun { Severity::Warning } else { Severity::Error };
                if limit == ACE_LIMIT {
                    msg.push_str(&costliest(&rooms, &cats, &ids, input));
                }
                msg.push_str(if input.accept_overrun {
                    "; the overrun is accepted (accept_capacity_overrun = true in gcmigrate.toml): \
                     Microsoft does not support a pool past its documented limits"
                } else {
                    "; to fit: move categories to another pool (the pool column of categories.csv), \
                     leave disabled rooms out (skip_disabled_rooms = true), stop the root managers' \
                     fan-out (drop_root_managers = true), or accept the overrun explicitly \
                     (accept_capacity_overrun = true in gcmigrate.toml)"
                });
            }
            f.add(sev, "CAPACITY_HEADROOM", "/", None, msg);
        }
    }
}

fn cat_entries(c: &PlanCategory) -> u64 {
    (c.allowed.len() + c.denied.len() + c.creators.len()) as u64
}

fn room_entries(r: &PlanRoom) -> u64 {
    (r.members.len() + r.managers.len() + r.presenters.len()) as u64
}

/// What costs the most entries in the pool: the groups listed user by user (the entries
/// that adds over listing the group once), the rooms and the categories with the most.
fn costliest(
    rooms: &[&PlanRoom],
    cats: &[&PlanCategory],
    ids: &HashSet<i64>,
    input: &Inputs<'_>,
) -> String {
    let uri = |p: i64| {
        input.snap.principals.get(&p).map_or_else(|| format!("principal {p}"), |x| x.uri.clone())
    };
    let mut groups: HashMap<i64, (usize, u64)> = HashMap::new();
    for &(room, group, users) in input.expansions.iter().filter(|e| ids.contains(&e.0)) {
        let _ = room;
        let g = groups.entry(group).or_default();
        g.0 += 1;
        g.1 += users.saturating_sub(1) as u64;
    }
    let mut groups: Vec<(i64, (usize, u64))> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
    let mut parts: Vec<String> = Vec::new();
    if !groups.is_empty() {
        let list: Vec<String> = groups
            .iter()
            .take(5)
            .map(|(g, (n, extra))| {
                format!("{} (listed user by user in {n} room(s): +{extra})", uri(*g))
            })
            .collect();
        parts.push(format!("groups outside a category's scope cost the most: {}", list.join(", ")));
    }
    let mut top: BTreeMap<(std::cmp::Reverse<u64>, String), ()> = BTreeMap::new();
    for r in rooms {
        top.insert((std::cmp::Reverse(room_entries(r)), format!("room {}", r.legacy_path)), ());
    }
    for c in cats {
        top.insert((std::cmp::Reverse(cat_entries(c)), format!("category {}", c.name)), ());
    }
    let list: Vec<String> =
        top.keys().take(5).map(|(std::cmp::Reverse(n), what)| format!("{what} ({n})")).collect();
    parts.push(format!("the most entries: {}", list.join(", ")));
    format!("; {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Principal;

    /// Pool `big` holds a category of 2,000,001 allowed entries and a room where group 7
    /// was listed as 300 users; pool `small` is nearly empty.
    fn plan() -> (Vec<PlanRoom>, Vec<PlanCategory>, Snapshot) {
        let big = PlanCategory {
            key: "c1".into(),
            name: "Huge".into(),
            pool: "big".into(),
            allowed: (0..2_000_001).collect(),
            ..Default::default()
        };
        let small = PlanCategory {
            key: "c2".into(),
            name: "Tiny".into(),
            pool: "small".into(),
            ..Default::default()
        };
        let room = |id: i64, pool: &str, members: Vec<i64>| PlanRoom {
            legacy_id: id,
            legacy_path: format!("/R{id}"),
            pool: pool.into(),
            members,
            ..Default::default()
        };
        let rooms = vec![room(10, "big", (0..300).collect()), room(11, "small", vec![1])];
        let mut snap = Snapshot::default();
        snap.principals
            .insert(7, Principal { uri: "ma-grp://x/Everyone".into(), ..Principal::blank(7, 9) });
        (rooms, vec![big, small], snap)
    }

    fn findings(accept: bool) -> Vec<crate::plan::Finding> {
        let (rooms, cats, snap) = plan();
        let expansions = [(10, 7, 300), (11, 7, 1)];
        let input = Inputs { snap: &snap, expansions: &expansions, accept_overrun: accept };
        let mut f = Findings::default();
        check(&mut f, &rooms, &cats, &[], &input);
        f.0
    }

    #[test]
    fn each_pool_is_checked_and_an_overrun_names_what_costs_the_most() {
        let f = findings(false);
        let errors: Vec<&str> = f
            .iter()
            .filter(|x| x.severity == Severity::Error)
            .map(|x| x.message.as_str())
            .collect();
        assert_eq!(errors.len(), 1, "{f:?}");
        let e = errors[0];
        assert!(e.starts_with("pool `big`: access control entries: 2000301 of 2000000"), "{e}");
        assert!(e.contains("ma-grp://x/Everyone (listed user by user in 1 room(s): +299)"), "{e}");
        assert!(e.contains("category Huge (2000001)") && e.contains("room /R10 (300)"), "{e}");
        assert!(e.contains("accept_capacity_overrun = true"), "{e}");
        let small = f.iter().find(|x| x.message.starts_with("pool `small`: access")).unwrap();
        assert_eq!(small.severity, Severity::Info, "the other pool has room: {small:?}");
    }

    #[test]
    fn an_accepted_overrun_is_a_warning_that_says_so() {
        let f = findings(true);
        assert!(f.iter().all(|x| x.severity != Severity::Error));
        let w = f.iter().find(|x| x.severity == Severity::Warning).expect("warning");
        assert!(w.message.contains("the overrun is accepted"), "{w:?}");
    }
}
