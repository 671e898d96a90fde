//! Which principals one pool's load needs (MAPPING.md §4 "Pools and waves": principals
//! are created in every pool that references them, and only there): the legacy `prinID`s
//! the rooms' member, manager and presenter lists name, their categories' allowed, denied
//! and creator lists, the invitations of those rooms, and the distinct authors of the
//! rooms' staged messages from the plan's `since` on (one set-based query over the
//! workspace history, see `staging::authors`), and the members of every group or OU among
//! them (their access comes through it).
//!
//! The configuration draft calls it with the rooms it writes and inserts only these
//! principals (and the affiliations among them); a principal another pool's rooms need is
//! created in that pool's target by that pool's load.

use std::collections::{BTreeSet, HashSet};

use anyhow::Result;

use crate::model::Snapshot;
use crate::plan::{Plan, PlanRoom};
use crate::staging::Workspace;

/// The legacy principals `rooms` need, reading the invitations from the workspace's
/// snapshot. Callers that hold the snapshot use [`principals_needed_with`].
pub async fn principals_needed(
    ws: &Workspace,
    plan: &Plan,
    rooms: &[&PlanRoom],
) -> Result<BTreeSet<i64>> {
    let snap = ws.load_snapshot().await?;
    principals_needed_with(ws, plan, &snap, rooms).await
}

/// [`principals_needed`] with the snapshot already in hand.
pub async fn principals_needed_with(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    rooms: &[&PlanRoom],
) -> Result<BTreeSet<i64>> {
    let mut out = listed(plan, snap, rooms);
    let ids: Vec<i64> = rooms.iter().map(|r| r.legacy_id).collect();
    let since = plan.options.since.as_deref().and_then(crate::model::date_to_ticks);
    out.extend(ws.authors_of(&ids, since).await?);
    Ok(with_members(snap, out))
}

/// `needed` and every principal affiliated with one of them: a group or OU on a list grants
/// its members, who must exist in the pool for that access to exist (and to be verified).
/// Affiliation rows are stored flattened (a user lists every group and OU above it), so one
/// pass is the closure.
pub fn with_members(snap: &Snapshot, mut needed: BTreeSet<i64>) -> BTreeSet<i64> {
    let members: Vec<i64> = snap
        .affiliations
        .iter()
        .filter(|(who, aff)| who != aff && needed.contains(aff))
        .map(|(who, _)| *who)
        .collect();
    needed.extend(members);
    needed
}

/// The principals the rooms' lists, their categories' lists and the rooms' invitations
/// name (everything but the message authors).
pub fn listed(plan: &Plan, snap: &Snapshot, rooms: &[&PlanRoom]) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    let mut categories: Vec<&str> = Vec::new();
    for r in rooms {
        out.extend(r.members.iter().chain(&r.managers).chain(&r.presenters));
        if !categories.contains(&r.category.as_str()) {
            categories.push(&r.category);
        }
    }
    for c in plan.categories.iter().filter(|c| categories.contains(&c.key.as_str())) {
        out.extend(c.allowed.iter().chain(&c.denied).chain(&c.creators));
    }
    let ids: HashSet<i64> = rooms.iter().map(|r| r.legacy_id).collect();
    out.extend(snap.invites.iter().filter(|i| ids.contains(&i.node_id)).map(|i| i.prin_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Chat, Invite};
    use crate::plan::PlanCategory;

    fn plan() -> Plan {
        let categories = vec![
            PlanCategory {
                key: "c1".into(),
                allowed: vec![1],
                denied: vec![2],
                creators: vec![3],
                ..Default::default()
            },
            PlanCategory { key: "c2".into(), allowed: vec![90], ..Default::default() },
        ];
        let rooms = vec![
            PlanRoom {
                legacy_id: 10,
                category: "c1".into(),
                members: vec![4],
                managers: vec![5],
                presenters: vec![6],
                ..Default::default()
            },
            PlanRoom {
                legacy_id: 20,
                category: "c2".into(),
                members: vec![91],
                ..Default::default()
            },
        ];
        Plan { categories, rooms, ..Default::default() }
    }

    fn snap() -> Snapshot {
        let inv = |prin_id, node_id| Invite { prin_id, inv_id: 1, node_id, created_on: "x".into() };
        Snapshot { invites: vec![inv(7, 10), inv(92, 20)], ..Default::default() }
    }

    #[test]
    fn lists_scopes_and_invitations_of_the_rooms_only() {
        let (p, s) = (plan(), snap());
        let one: Vec<&PlanRoom> = p.rooms.iter().filter(|r| r.legacy_id == 10).collect();
        assert_eq!(listed(&p, &s, &one).into_iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7]);
        assert!(listed(&p, &s, &[]).is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn authors_come_from_the_rooms_staged_messages_in_one_query() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path(), true).await.unwrap();
        let chat = |channel_id, chat_id, chat_date, user_id| Chat {
            channel_id,
            chat_id,
            chat_date,
            user_id,
            is_alert: false,
            content: "m".into(),
        };
        let run = ws.begin_extract(true).await.unwrap();
        ws.insert_chats(&[
            chat(10, 1, 100, 40),
            chat(10, 2, 200, 41),
            chat(10, 3, 300, 40),
            chat(20, 1, 100, 50),
        ])
        .await
        .unwrap();
        let (snapshot, digests) = (Snapshot::default(), Default::default());
        let commit = crate::staging::Commit {
            snapshot: &snapshot,
            digests: &digests,
            source: "t",
            version: "t",
        };
        ws.commit_extract(&run, commit).await.unwrap();
        let (mut p, s) = (plan(), snap());
        let one: Vec<&PlanRoom> = p.rooms.iter().filter(|r| r.legacy_id == 10).collect();
        let need = principals_needed_with(&ws, &p, &s, &one).await.unwrap();
        assert_eq!(need.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7, 40, 41]);
        assert!(ws.authors_of(&[], None).await.unwrap().is_empty());
        assert_eq!(
            ws.authors_of(&[10], Some(150)).await.unwrap().into_iter().collect::<Vec<_>>(),
            [40, 41]
        );
        p.rooms.clear();
        assert!(principals_needed_with(&ws, &p, &s, &[]).await.unwrap().is_empty());
    }
}
