//! Builds a [`Plan`] from the snapshot and the mappings (MAPPING.md §4).
//!
//! `build` walks the steps in order; helpers live in `build/`: `rooms.rs` (drafts, classes,
//! names), `access.rs` (grant lists, principals), `findings.rs` (findings, pool capacity).

mod access;
mod findings;
mod rooms;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::messages::{AuthorCounts, Classifier, Disposition};
use super::*;
use crate::mapping::legacy::{Legacy, Scope, ROOT};
use crate::mapping::{Mappings, Naming};
use crate::model::{Snapshot, BEHAVIOR_AUDITORIUM, VISIBILITY_PRIVATE, VISIBILITY_SCOPED};
use access::{everyone_principals, note_principal, plan_principals, restrict, Restriction};
use findings::{capacity, Findings};
use rooms::{
    derived_guid, fold_topic, key_parent, reject_room, split_reason, unique_name, ClassKey,
    RoomDraft,
};

pub use findings::{ACE_LIMIT, INVITE_LIMIT, USER_LIMIT};
pub use rooms::NAME_LIMIT;

/// Builds the plan. `counts` are the staged messages per (room, author).
pub fn build(snap: &Snapshot, mappings: &Mappings, counts: &[AuthorCounts]) -> Plan {
    let opts = &mappings.options;
    let lg = Legacy::new(snap);
    let mut marks = lg.marks();
    let mut f = Findings::default();
    // Node names from the top of `chain` (child first, root last) down, the root left out.
    let names_down = |chain: &[i64]| -> Vec<&str> {
        let nodes = chain.iter().rev().filter(|&&n| n != ROOT).filter_map(|n| lg.node(*n));
        nodes.map(|n| n.name.as_str()).collect()
    };
    let path_of = |chain: &[i64]| format!("/{}", names_down(chain).join("/"));
    for (row, desc) in &lg.unknown_roles {
        let subject = lg.ancestors_or_self(row.node_id).map(|c| path_of(&c)).unwrap_or_default();
        f.add(Severity::Warning, "UNKNOWN_ROLE", &subject, lg.node(row.node_id).map(|n| n.guid.as_str()),
            format!("role type {} (`{desc}`) granted to principal {} is not Member, Manager or Voiced; \
                     the grant is not migrated", row.role_type_id, row.prin_id));
    }

    // 1. Rooms: classify into drafts or exclusions.
    let mut drafts = Vec::new();
    let mut excluded = Vec::new();
    let room_counts: BTreeMap<i64, u64> = counts.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.channel_id).or_default() += c.total;
        m
    });
    for node in snap.nodes.values().filter(|n| !n.is_category) {
        let msgs = room_counts.get(&node.id).copied().unwrap_or(0);
        let chain =
            match lg.ancestors_or_self(node.id).and_then(|c| lg.scope(node.id).map(|s| (c, s))) {
                Ok(x) => x,
                Err(e) => {
                    reject_room(&mut f, &mut excluded, node, &e, msgs);
                    continue;
                }
            };
        let (chain, scope) = chain;
        let path = path_of(&chain);
        let skip_rule = mappings
            .room_rule(&path, &node.guid)
            .filter(|r| r.skip)
            .map(|r| format!("rooms.csv:{}", r.source.line));
        let skip_rule = skip_rule.or_else(|| {
            (node.disabled && opts.skip_disabled_rooms).then(|| "skip_disabled_rooms".to_string())
        });
        if let Some(rule) = skip_rule {
            excluded.push(ExcludedRoom {
                legacy_id: node.id,
                legacy_guid: node.guid.clone(),
                legacy_path: path,
                disposition: "excluded".into(),
                rule,
                message_count: msgs,
            });
            continue;
        }
        let key = ClassKey {
            parent: key_parent(&chain),
            scope,
            logged: lg.inherited(node.id, |n| n.logged, true),
            file_post: lg.inherited(node.id, |n| n.file_post, true),
            // A room may turn invitations off under a category that has them on (2013 keeps
            // that per room), but not the reverse: only "on below off" needs its own class.
            invite: lg.inherited(node.id, |n| n.invite, true)
                || lg.inherited(key_parent(&chain), |n| n.invite, true),
        };
        drafts.push(RoomDraft { node, path, chain, key });
    }
    drafts.sort_by(|a, b| a.path.cmp(&b.path).then(a.node.id.cmp(&b.node.id)));

    // 2. Categories: one per equivalence class, the parent's own class keeping the base name.
    let mut by_parent: BTreeMap<i64, Vec<ClassKey>> = BTreeMap::new();
    for d in &drafts {
        let classes = by_parent.entry(d.key.parent).or_default();
        if !classes.contains(&d.key) {
            classes.push(d.key.clone());
        }
    }
    let mut parents: Vec<(String, i64)> = by_parent
        .keys()
        .map(|&p| (lg.ancestors_or_self(p).map(|c| path_of(&c)).unwrap_or_default(), p))
        .collect();
    parents.sort();
    let mut categories = Vec::new();
    let mut class_to_cat: HashMap<ClassKey, String> = HashMap::new();
    let mut used_names: HashMap<String, HashSet<String>> = HashMap::new();
    let everyone = everyone_principals(snap, opts.everyone_principal.as_deref());
    for (ppath, parent) in &parents {
        let pnode = lg.node(*parent).expect("parent of a planned room exists");
        let own = ClassKey {
            parent: *parent,
            scope: lg.scope(*parent).unwrap_or(Scope::Everyone),
            logged: lg.inherited(*parent, |n| n.logged, true),
            file_post: lg.inherited(*parent, |n| n.file_post, true),
            invite: lg.inherited(*parent, |n| n.invite, true),
        };
        let mut classes = by_parent[parent].clone();
        let main = classes.iter().position(|k| *k == own).unwrap_or(0);
        let first = classes.remove(main);
        classes.insert(0, first);
        let chain = lg.ancestors_or_self(*parent).unwrap_or_default();
        let depth = chain.len().saturating_sub(1);
        let rule = mappings.category_rule(ppath);
        let pool = rule.and_then(|r| r.pool.clone()).unwrap_or_else(|| opts.default_pool.clone());
        let base = match rule.and_then(|r| r.target_name.clone()) {
            Some(name) => name,
            None if *parent == ROOT => pnode.name.clone(),
            None => chain
                .iter()
                .rev()
                .filter(|&&n| n != ROOT)
                .filter_map(|n| lg.node(*n))
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(&opts.separator),
        };
        if depth >= 2 {
            f.add(
                Severity::Info,
                "FLATTENED_HIERARCHY",
                ppath,
                Some(&pnode.guid),
                format!("nested category {ppath} becomes the top-level category `{base}`"),
            );
        }
        for (i, key) in classes.iter().enumerate() {
            let name = if i == 0 {
                base.clone()
            } else {
                format!("{base}{}", opts.suffix.replace("{n}", &(i + 1).to_string()))
            };
            let split_reason = (i > 0 || *key != own).then(|| split_reason(&own, key, &lg));
            if let Some(reason) = &split_reason {
                f.add(Severity::Warning, "CATEGORY_SPLIT", ppath, Some(&pnode.guid),
                    format!("rooms of {ppath} whose {reason} go to their own category `{name}` instead of \
                             being widened or changed; name the category in categories.csv to choose otherwise"));
            }
            let cat_key = format!("c{}", categories.len() + 1);
            let name = unique_name(
                &mut f,
                used_names.entry(pool.clone()).or_default(),
                &name,
                ppath,
                &opts.suffix,
            );
            let allowed = match &key.scope {
                Scope::Set(s) => s.iter().copied().collect(),
                Scope::Everyone => {
                    if everyone.is_empty() {
                        f.add(Severity::Error, "NO_DOMAIN_PRINCIPAL", ppath, Some(&pnode.guid),
                            "the legacy scope is every user, but the source has no domain principal (type 8) \
                             to stand for it; set `everyone_principal` in gcmigrate.toml".into());
                    }
                    everyone.clone()
                }
            };
            let managers = lg.managers(*parent, opts.drop_root_managers).unwrap_or_default();
            let (creators, _) = restrict(&lg, &mut marks, &managers, &key.scope, &allowed);
            categories.push(PlanCategory {
                key: cat_key.clone(),
                name,
                legacy_path: ppath.clone(),
                legacy_id: *parent,
                guid: if i == 0 { pnode.guid.clone() } else { derived_guid(&pnode.guid, i) },
                split_reason,
                pool: pool.clone(),
                allowed,
                denied: Vec::new(),
                creators,
                invite: key.invite,
                logged: key.logged,
                file_post: key.file_post,
                desc: pnode.desc.clone(),
            });
            class_to_cat.insert(key.clone(), cat_key);
        }
    }

    // 3. Rooms.
    let root_managers = lg.grants(ROOT, crate::mapping::legacy::Role::Manager);
    let mut rooms = Vec::new();
    let mut fed_seen = BTreeSet::new();
    let mut disabled_seen = BTreeSet::new();
    for d in &drafts {
        let node = d.node;
        let room_rule = mappings.room_rule(&d.path, &node.guid);
        let mut cat_key = class_to_cat[&d.key].clone();
        if let Some(name) = room_rule.and_then(|r| r.target_category.as_ref()) {
            match categories.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
                Some(c) => cat_key = c.key.clone(),
                None => f.add(Severity::Error, "UNKNOWN_TARGET_CATEGORY", &d.path, Some(&node.guid),
                    format!("rooms.csv line {} names target category `{name}`, which the plan does not create",
                        room_rule.map_or(0, |r| r.source.line))),
            }
        }
        let cat = categories.iter().find(|c| c.key == cat_key).expect("category planned");
        let pool = cat.pool.clone();
        let wave = room_rule
            .and_then(|r| r.wave.clone())
            .or_else(|| {
                mappings.category_rule(&path_of(&d.chain[1..])).and_then(|r| r.wave.clone())
            })
            .unwrap_or_else(|| opts.default_wave.clone());
        let scope = &d.key.scope;
        let allowed = cat.allowed.clone();
        let mut members = lg.members(node.id).unwrap_or_default();
        let managers = lg.managers(node.id, opts.drop_root_managers).unwrap_or_default();
        let voiced = lg.voiced(node.id);
        let presenters_src = if node.behavior == BEHAVIOR_AUDITORIUM {
            voiced
        } else {
            if !voiced.is_empty() {
                f.add(Severity::Info, "PRESENTER_TO_MEMBER", &d.path, Some(&node.guid),
                    format!("{} presenter(s) of this normal room become members: 2013 allows presenters \
                             only in auditorium rooms, and a member can read and post as they could", voiced.len()));
            }
            members.extend(voiced);
            Vec::new()
        };
        let (members, m_notes) = restrict(&lg, &mut marks, &members, scope, &allowed);
        let (managers, g_notes) = restrict(&lg, &mut marks, &managers, scope, &allowed);
        let (presenters, p_notes) = restrict(&lg, &mut marks, &presenters_src, scope, &allowed);
        for note in m_notes.iter().chain(&g_notes).chain(&p_notes) {
            let (sev, code) = match note {
                Restriction::Expanded { .. } => (Severity::Info, "GROUP_EXPANDED"),
                Restriction::Dropped { .. } => (Severity::Warning, "ACL_OUTSIDE_SCOPE_DROPPED"),
            };
            f.add(sev, code, &d.path, Some(&node.guid), note.describe(snap));
        }
        for p in members.iter().chain(&managers).chain(&presenters) {
            note_principal(&mut f, snap, *p, &mut fed_seen, &mut disabled_seen);
        }
        let visibility = match lg.visibility(node.id, VISIBILITY_SCOPED) {
            VISIBILITY_PRIVATE => VISIBILITY_PRIVATE,
            _ => VISIBILITY_SCOPED,
        };
        let parent_invite = lg.inherited(d.key.parent, |n| n.invite, true);
        if node.invite == Some(true) && !parent_invite {
            f.add(Severity::Warning, "INVITATION_CONFLICT", &d.path, Some(&node.guid),
                "the room turns invitations on under a category that turns them off; Microsoft's import \
                 forces them off, this plan keeps them on by placing the room in a category with \
                 invitations on".into());
        }
        let desc = fold_topic(&mut f, node, &d.path);
        let addin = node.siop_id.clone().filter(|id| {
            let known = snap.addins.iter().any(|a| &a.id == id);
            if known {
                f.add(
                    Severity::Info,
                    "ADDIN_REFERENCED",
                    &d.path,
                    Some(&node.guid),
                    format!("add-in {id} is copied with the room"),
                );
            } else {
                f.add(
                    Severity::Warning,
                    "ADDIN_MISSING",
                    &d.path,
                    Some(&node.guid),
                    format!(
                        "add-in {id} is not in tblSiopWhiteList; the room is migrated without it"
                    ),
                );
            }
            known
        });
        if node.disabled {
            f.add(Severity::Info, "DISABLED_ROOM", &d.path, Some(&node.guid),
                "the room is disabled and stays disabled; set skip_disabled_rooms = true to leave it out".into());
        }
        let raw_name = match opts.naming {
            _ if room_rule.is_some_and(|r| r.target_name.is_some()) => {
                room_rule.and_then(|r| r.target_name.clone()).unwrap_or_default()
            }
            Naming::Prefix if d.chain.len() > 3 => {
                let parent_path = names_down(&d.chain[1..]);
                format!("{}{}{}", parent_path.join(&opts.separator), opts.separator, node.name)
            }
            _ => node.name.clone(),
        };
        let target_name = unique_name(
            &mut f,
            used_names.entry(pool.clone()).or_default(),
            &raw_name,
            &d.path,
            &opts.suffix,
        );
        rooms.push(PlanRoom {
            legacy_id: node.id,
            legacy_guid: node.guid.clone(),
            legacy_path: d.path.clone(),
            target_name,
            category: cat_key,
            pool: pool.clone(),
            wave,
            members,
            managers,
            presenters,
            visibility,
            behavior: node.behavior,
            disabled: node.disabled,
            invite: (!lg.inherited(node.id, |n| n.invite, true)).then_some(false),
            desc,
            addin,
            message_count: room_counts.get(&node.id).copied().unwrap_or(0),
        });
    }
    if !root_managers.is_empty() && !opts.drop_root_managers && !rooms.is_empty() {
        f.add(Severity::Warning, "ROOT_MANAGER_FANOUT", "/", lg.node(ROOT).map(|n| n.guid.as_str()),
            format!("{} root-category manager(s) become managers of all {} rooms (as Microsoft's import does); \
                     set drop_root_managers = true to turn this off", root_managers.len(), rooms.len()));
    }

    // 4. Messages, principals, waves, capacity.
    let classifier = Classifier::new(&rooms, &excluded, snap, opts.since.as_deref());
    let mut totals = MessageTotals::default();
    let mut orphans: BTreeMap<i64, u64> = BTreeMap::new();
    let mut unknown_rooms: BTreeMap<i64, u64> = BTreeMap::new();
    let mut authors = BTreeSet::new();
    for c in counts {
        classifier.tally(c, &mut totals);
        if let Disposition::Rejected("author_unknown") =
            classifier.classify(c.channel_id, c.user_id, 0)
        {
            *orphans.entry(c.channel_id).or_default() += c.total;
        } else if snap.principals.contains_key(&c.user_id) {
            authors.insert(c.user_id);
        }
        if c.bad_date > 0 {
            let path = rooms
                .iter()
                .find(|r| r.legacy_id == c.channel_id)
                .map(|r| r.legacy_path.clone())
                .unwrap_or_default();
            f.add(Severity::Warning, "REJECTED_MESSAGE", &path, None,
                format!("{} message(s) by principal {} have a chatDate outside .NET's range and are rejected \
                         (see rejects/)", c.bad_date, c.user_id));
        }
    }
    for c in counts.iter().filter(|c| !snap.nodes.contains_key(&c.channel_id)) {
        *unknown_rooms.entry(c.channel_id).or_default() += c.total;
    }
    for (room, n) in &unknown_rooms {
        f.add(Severity::Warning, "ORPHANED_MESSAGES", &format!("channel {room}"), None,
            format!("{n} message(s) belong to channelId {room}, which is not a node in tblNode; they are rejected \
                     with their keys in rejects/plan.csv"));
    }
    for (room, n) in &orphans {
        let path = rooms
            .iter()
            .find(|r| r.legacy_id == *room)
            .map(|r| r.legacy_path.clone())
            .unwrap_or_default();
        f.add(
            Severity::Warning,
            "ORPHANED_MESSAGES",
            &path,
            None,
            format!(
                "{n} message(s) were posted by a principal that no longer exists in tblPrincipal; \
                     they are rejected with their keys in rejects/"
            ),
        );
    }
    let principals_out =
        plan_principals(&lg, &rooms, &categories, &authors, snap, mappings, &mut f);
    for p in &principals_out {
        note_principal(&mut f, snap, p.legacy_id, &mut fed_seen, &mut disabled_seen);
    }
    // A remapped federated principal keeps its access: its FEDERATED_DISABLED finding goes.
    let remapped: HashSet<&str> = principals_out
        .iter()
        .filter(|p| p.note.as_deref().is_some_and(|n| n.starts_with("remapped")))
        .map(|p| p.guid.as_str())
        .collect();
    let remapped_legacy: HashSet<String> = principals_out
        .iter()
        .filter(|p| remapped.contains(p.guid.as_str()))
        .filter_map(|p| snap.principals.get(&p.legacy_id).map(|l| l.guid.clone()))
        .collect();
    f.0.retain(|x| {
        !(x.code == "FEDERATED_DISABLED"
            && x.guid.as_ref().is_some_and(|g| remapped_legacy.contains(g)))
    });
    capacity(&mut f, &rooms, &categories, &principals_out, snap);
    let mut waves: BTreeMap<String, PlanWave> = BTreeMap::new();
    for r in &rooms {
        let w = waves.entry(r.wave.clone()).or_insert_with(|| PlanWave {
            name: r.wave.clone(),
            rooms: vec![],
            messages: 0,
        });
        w.rooms.push(r.legacy_id);
    }
    for (room, n) in classifier.loadable_per_room(counts) {
        if let Some(r) = rooms.iter().find(|r| r.legacy_id == room) {
            if let Some(w) = waves.get_mut(&r.wave) {
                w.messages += n;
            }
        }
    }
    let addins = snap
        .addins
        .iter()
        .filter(|a| rooms.iter().any(|r| r.addin.as_ref() == Some(&a.id)))
        .cloned()
        .collect();
    let mut findings = f.0;
    sort_findings(&mut findings);
    findings.dedup();
    Plan {
        source_version: snap.version.map(|v| v.label().to_string()).unwrap_or_default(),
        options: opts.clone(),
        categories,
        rooms,
        excluded_rooms: excluded,
        principals: principals_out,
        addins,
        waves: waves.into_values().collect(),
        messages: totals,
        findings,
    }
}
