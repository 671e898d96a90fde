//! Out-of-scope groups in room lists (MAPPING.md §4 "Rooms"): a group that is not within
//! its category's allowed members but has members who are must still grant exactly those
//! members. Two exact representations exist, and the plan takes the one with fewer access
//! control entries, group by group and category by category:
//! - **expanded**: the group's in-scope users listed one by one in every list that names
//!   the group (`GROUP_EXPANDED`);
//! - **kept**: the group itself in those lists, added to the category's AllowedMembers, with
//!   its out-of-scope users added to the category's DeniedMembers (`GROUP_KEPT`). The
//!   category's effective scope — allowed minus denied, user by user — is then exactly what
//!   it was, so no room of the category gains or loses anyone, and the lists that name the
//!   group grant exactly its in-scope users.
//!
//! Both are exact for the affiliations of the snapshot; a later change of the group's
//! membership in AD is not foreseen by either. A merged category (the target's own) and an
//! `mgc` source are always expanded: their scope rows are not the plan's to widen.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::access::{expanded_text, note_principal};
use super::Builder;
use crate::plan::{PlanRoom, Severity};

/// Which of a room's lists names the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum List {
    Members,
    Managers,
    Presenters,
}

/// An out-of-scope group in one list of one room, with its in-scope users.
pub(super) struct Pending {
    pub(super) room: i64,
    pub(super) list: List,
    pub(super) group: i64,
    pub(super) users: Vec<i64>,
}

/// What keeping one group in one category costs and saves, in access control entries.
#[derive(Clone, Copy)]
struct Choice {
    /// Entries the expansion adds: the in-scope users, in every list that names the group.
    expanded: usize,
    /// Lists that name the group (one entry each when it is kept).
    lists: usize,
    /// Its users within the category's scope (the same in every list of the category).
    in_scope: usize,
}

impl Builder<'_> {
    /// Decides, for every out-of-scope group of every category, whether the group is kept
    /// or expanded (whichever costs fewer entries), and writes the room lists and the
    /// categories' scope lists accordingly, with one finding per decision.
    pub(super) fn fit_groups(&mut self, rooms: &mut [PlanRoom]) {
        let pending = std::mem::take(&mut self.pending);
        let at: BTreeMap<i64, usize> =
            rooms.iter().enumerate().map(|(i, r)| (r.legacy_id, i)).collect();
        let mut costs: BTreeMap<(&str, i64), Choice> = BTreeMap::new();
        for p in &pending {
            let cat = rooms[at[&p.room]].category.as_str();
            let c = costs.entry((cat, p.group)).or_insert(Choice {
                expanded: 0,
                lists: 0,
                in_scope: 0,
            });
            c.expanded += p.users.len();
            c.lists += 1;
            c.in_scope = c.in_scope.max(p.users.len());
        }
        let mut by_cat: BTreeMap<&str, Vec<(i64, Choice)>> = BTreeMap::new();
        for ((cat, group), c) in costs {
            by_cat.entry(cat).or_default().push((group, c));
        }
        let mut kept: BTreeSet<(String, i64)> = BTreeSet::new();
        let mut users_of = HashMap::new();
        for (cat, mut groups) in by_cat {
            // The costliest expansions first: they have the most to save.
            groups.sort_by_key(|(g, c)| (std::cmp::Reverse(c.expanded), *g));
            for (group, denied, c) in self.keepers(cat, &groups, &mut users_of) {
                kept.insert((cat.to_string(), group));
                self.keep_group(cat, group, &denied, &c);
            }
        }
        let snap = self.snap;
        for p in pending {
            let r = &mut rooms[at[&p.room]];
            let list = match p.list {
                List::Members => &mut r.members,
                List::Managers => &mut r.managers,
                List::Presenters => &mut r.presenters,
            };
            if kept.contains(&(r.category.clone(), p.group)) {
                list.push(p.group);
            } else {
                let text = expanded_text(snap, p.group, p.users.len());
                self.f.add(
                    Severity::Info,
                    "GROUP_EXPANDED",
                    &r.legacy_path,
                    Some(&r.legacy_guid),
                    format!("{text} (fewer entries than keeping the group)"),
                );
                self.expansions.push((r.legacy_id, p.group, p.users.len()));
                for u in &p.users {
                    note_principal(
                        &mut self.f,
                        snap,
                        *u,
                        &mut self.fed_seen,
                        &mut self.disabled_seen,
                    );
                }
                list.extend(p.users);
            }
            list.sort_unstable();
            list.dedup();
        }
    }

    /// The groups of category `cat` worth keeping, with the users each adds to the denied
    /// list: kept when one entry per list, the group in AllowedMembers and its out-of-scope
    /// users not denied yet cost fewer entries than its expansion. `users_of` caches each
    /// group's user count, which rules most groups out before their members are walked.
    fn keepers(
        &mut self,
        cat: &str,
        groups: &[(i64, Choice)],
        users_of: &mut HashMap<i64, usize>,
    ) -> Vec<(i64, Vec<i64>, Choice)> {
        let Some(c) = self.categories.iter().find(|c| c.key == cat) else { return vec![] };
        if c.merge || self.mgc() {
            return vec![];
        }
        let (lg, marks) = (&self.lg, &mut self.marks);
        let d = lg.dense();
        c.allowed.iter().for_each(|a| marks.set(d, *a, 1));
        let within =
            |p: i64| marks.mask_of(d, p) != 0 || (d.idx(p).is_none() && c.allowed.contains(&p));
        let mut denied: BTreeSet<i64> = c.denied.iter().copied().collect();
        let mut out = Vec::new();
        for (group, choice) in groups {
            let users = *users_of.entry(*group).or_insert_with(|| {
                lg.affs.members(*group).filter(|u| *u != *group && lg.is_user(*u)).count()
            });
            // At least this many of its users are outside the scope and not denied yet.
            let least_outside = users.saturating_sub(choice.in_scope + denied.len());
            if choice.lists + 1 + least_outside >= choice.expanded {
                continue;
            }
            let outside: Vec<i64> = lg
                .affs
                .members(*group)
                .filter(|u| *u != *group && lg.is_user(*u) && !within(*u) && !denied.contains(u))
                .collect();
            if choice.lists + 1 + outside.len() < choice.expanded {
                denied.extend(&outside);
                out.push((*group, outside, *choice));
            }
        }
        marks.clear();
        out
    }

    /// Adds a kept group to the category's allowed list and its out-of-scope users to its
    /// denied list, with the finding that says what it saved.
    fn keep_group(&mut self, cat: &str, group: i64, denied: &[i64], c: &Choice) {
        let snap = self.snap;
        let Some(cat) = self.categories.iter_mut().find(|x| x.key == cat) else { return };
        cat.allowed.push(group);
        cat.denied.extend(denied);
        cat.denied.sort_unstable();
        cat.denied.dedup();
        let g = snap.principals.get(&group);
        let uri = g.map_or("", |g| g.uri.as_str());
        let cost = c.lists + 1 + denied.len();
        self.f.add(Severity::Info, "GROUP_KEPT", &cat.legacy_path, Some(&cat.guid),
            format!("{uri} is outside category `{}`'s legacy scope but listed in {} room list(s) where some of its \
                     users are within it: the group is added to the category's allowed members and its {} \
                     out-of-scope user(s) to its denied members, so the lists keep the group ({cost} entries instead \
                     of {} listing its users one by one); the category's scope is unchanged",
                cat.name, c.lists, denied.len(), c.expanded));
    }
}
