//! Rooms on their way into categories: the class key whose differences split a legacy
//! category, the drafts and rejections of step 1, and the target rooms of step 3 (their
//! category, wave, access lists, settings, add-in and unique name).

use std::collections::BTreeMap;

use super::access::{note_principal, restrict, Restriction};
use super::findings::Findings;
use super::groups::{List, Pending};
use super::integrity::{behavior_known, visibility_known};
use super::names::{fold_topic, unique_name};
use super::Builder;
use crate::mapping::legacy::{Role, Scope, TreeError, ROOT};
use crate::mapping::{Naming, RoomRule};
use crate::model::{
    Node, BEHAVIOR_AUDITORIUM, BEHAVIOR_NORMAL, VISIBILITY_PRIVATE, VISIBILITY_SCOPED,
};
use crate::plan::{ExcludedRoom, PlanRoom, Severity};

/// Category-level properties shared by the rooms of one target category.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct ClassKey {
    pub(super) parent: i64,
    pub(super) scope: Scope,
    pub(super) logged: bool,
    pub(super) file_post: bool,
    pub(super) invite: bool,
}

/// A legacy room that will be migrated, with its path, chain and class.
pub(super) struct RoomDraft<'a> {
    pub(super) node: &'a Node,
    pub(super) path: String,
    pub(super) chain: Vec<i64>,
    pub(super) key: ClassKey,
}

/// The legacy parent of a room, from its chain (room first, root last).
pub(super) fn key_parent(chain: &[i64]) -> i64 {
    chain.get(1).copied().unwrap_or(ROOT)
}

/// Rejects a room whose tree data is broken, with a finding.
fn reject_room(
    f: &mut Findings,
    out: &mut Vec<ExcludedRoom>,
    node: &Node,
    e: &TreeError,
    msgs: u64,
) {
    let subject = format!("node {} ({})", node.id, node.name);
    f.add(Severity::Warning, "DATA_ERROR", &subject, Some(&node.guid),
        format!("{e}; the room and its {msgs} message(s) are rejected, the rest of the tree is migrated"));
    out.push(ExcludedRoom {
        legacy_id: node.id,
        legacy_guid: node.guid.clone(),
        legacy_path: subject,
        disposition: "rejected".into(),
        rule: format!("tree: {e}"),
        message_count: msgs,
    });
}

impl<'a> Builder<'a> {
    /// Step 1: sorts the legacy rooms into drafts (in path order) and rooms left out by a
    /// rule or for broken tree data.
    pub(super) fn draft_rooms(
        &mut self,
        room_counts: &BTreeMap<i64, u64>,
    ) -> (Vec<RoomDraft<'a>>, Vec<ExcludedRoom>) {
        let (snap, mappings, opts) = (self.snap, self.mappings, self.opts);
        let lg = &self.lg;
        let mut drafts = Vec::new();
        let mut excluded = Vec::new();
        for node in snap.nodes.values().filter(|n| !n.is_category) {
            let msgs = room_counts.get(&node.id).copied().unwrap_or(0);
            let chain =
                match lg.ancestors_or_self(node.id).and_then(|c| lg.scope(node.id).map(|s| (c, s)))
                {
                    Ok(x) => x,
                    Err(e) => {
                        reject_room(&mut self.f, &mut excluded, node, &e, msgs);
                        continue;
                    }
                };
            let (chain, scope) = chain;
            let path = self.path_of(&chain);
            let skip_rule = mappings
                .room_rule(&path, &node.guid)
                .filter(|r| r.skip)
                .map(|r| format!("rooms.csv:{}", r.source.line));
            let skip_rule = skip_rule.or_else(|| {
                (node.disabled && opts.skip_disabled_rooms)
                    .then(|| "skip_disabled_rooms".to_string())
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
        (drafts, excluded)
    }

    /// Step 3: plans the target room of every draft, then reports root managers fanning out.
    pub(super) fn plan_rooms(
        &mut self,
        drafts: &[RoomDraft<'a>],
        room_counts: &BTreeMap<i64, u64>,
    ) -> Vec<PlanRoom> {
        let root_managers = self.lg.grants(ROOT, Role::Manager);
        let mut rooms = Vec::new();
        for d in drafts {
            let room = self.plan_room(d, room_counts);
            rooms.push(room);
        }
        let fans_out = !root_managers.is_empty() && !self.opts.drop_root_managers;
        if fans_out && !rooms.is_empty() && !self.mgc() {
            self.f.add(Severity::Warning, "ROOT_MANAGER_FANOUT", "/", self.lg.node(ROOT).map(|n| n.guid.as_str()),
                format!("{} root-category manager(s) become managers of all {} rooms (as Microsoft's import does); \
                         set drop_root_managers = true to turn this off", root_managers.len(), rooms.len()));
        }
        rooms
    }

    /// Plans one room: its category and pool, wave, access lists, settings, add-in and name.
    fn plan_room(&mut self, d: &RoomDraft<'a>, room_counts: &BTreeMap<i64, u64>) -> PlanRoom {
        let (mappings, opts) = (self.mappings, self.opts);
        let node = d.node;
        let room_rule = mappings.room_rule(&d.path, &node.guid);
        let cat_key = self.room_category(d, room_rule);
        let cat = self.categories.iter().find(|c| c.key == cat_key).expect("category planned");
        let pool = cat.pool.clone();
        let wave = room_rule
            .and_then(|r| r.wave.clone())
            .or_else(|| {
                mappings.category_rule(&self.path_of(&d.chain[1..])).and_then(|r| r.wave.clone())
            })
            .unwrap_or_else(|| opts.default_wave.clone());
        let allowed = cat.allowed.clone();
        let mgc = self.mgc();
        let (members, managers, presenters) = if mgc {
            let cat = cat.clone();
            self.mgc_room_access(d, &cat)
        } else {
            self.room_access(d, &allowed)
        };
        // An out-of-enum value (a DATA_ERROR finding) is read narrowly: Secret.
        let visibility = match self.lg.visibility(node.id, VISIBILITY_SCOPED) {
            _ if mgc => self.mgc_visibility(d),
            v if v != VISIBILITY_PRIVATE && visibility_known(v, self.snap.version) => {
                VISIBILITY_SCOPED
            }
            _ => VISIBILITY_PRIVATE,
        };
        let parent_invite = self.lg.inherited(d.key.parent, |n| n.invite, true);
        if node.invite == Some(true) && !parent_invite {
            self.f.add(Severity::Warning, "INVITATION_CONFLICT", &d.path, Some(&node.guid),
                "the room turns invitations on under a category that turns them off; Microsoft's import \
                 forces them off, this plan keeps them on by placing the room in a category with \
                 invitations on".into());
        }
        let desc = fold_topic(&mut self.f, node, &d.path);
        let addin = self.room_addin(d);
        if node.disabled {
            self.f.add(Severity::Info, "DISABLED_ROOM", &d.path, Some(&node.guid),
                "the room is disabled and stays disabled; set skip_disabled_rooms = true to leave it out".into());
        }
        let target_name = self.room_name(d, room_rule, &pool);
        PlanRoom {
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
            // Out of the enum (a DATA_ERROR finding): only presenters post, as §2 reads it.
            behavior: if behavior_known(node.behavior) {
                node.behavior
            } else {
                BEHAVIOR_AUDITORIUM
            },
            disabled: node.disabled,
            // An mgc room keeps its own setting: off, or inherited from its category.
            invite: if mgc {
                (node.invite == Some(false)).then_some(false)
            } else {
                (!self.lg.inherited(node.id, |n| n.invite, true)).then_some(false)
            },
            desc,
            addin,
            message_count: room_counts.get(&node.id).copied().unwrap_or(0),
        }
    }

    /// The key of the room's category: its class's, unless rooms.csv names another one.
    fn room_category(&mut self, d: &RoomDraft<'a>, room_rule: Option<&RoomRule>) -> String {
        let node = d.node;
        let mut cat_key = self.class_to_cat[&d.key].clone();
        if let Some(name) = room_rule.and_then(|r| r.target_category.as_ref()) {
            match self.categories.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
                Some(c) => cat_key = c.key.clone(),
                None => self.f.add(Severity::Error, "UNKNOWN_TARGET_CATEGORY", &d.path, Some(&node.guid),
                    format!("rooms.csv line {} names target category `{name}`, which the plan does not create",
                        room_rule.map_or(0, |r| r.source.line))),
            }
        }
        cat_key
    }

    /// The room's member, manager and presenter lists, fitted within `allowed`, with the
    /// findings about what changed and about the principals they name.
    fn room_access(
        &mut self,
        d: &RoomDraft<'a>,
        allowed: &[i64],
    ) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
        let (snap, lg, node) = (self.snap, &self.lg, d.node);
        let scope = &d.key.scope;
        let mut members = lg.members(node.id).unwrap_or_default();
        let managers = lg.managers(node.id, self.opts.drop_root_managers).unwrap_or_default();
        let voiced = lg.voiced(node.id);
        let presenters_src = if node.behavior != BEHAVIOR_NORMAL {
            voiced
        } else {
            if !voiced.is_empty() {
                self.f.add(Severity::Info, "PRESENTER_TO_MEMBER", &d.path, Some(&node.guid),
                    format!("{} presenter(s) of this normal room become members: 2013 allows presenters \
                             only in auditorium rooms, and a member can read and post as they could", voiced.len()));
            }
            members.extend(voiced);
            Vec::new()
        };
        let (members, m_notes) = restrict(lg, &mut self.marks, &members, scope, allowed);
        let (managers, g_notes) = restrict(lg, &mut self.marks, &managers, scope, allowed);
        let (presenters, p_notes) = restrict(lg, &mut self.marks, &presenters_src, scope, allowed);
        for (list, notes) in
            [(List::Members, m_notes), (List::Managers, g_notes), (List::Presenters, p_notes)]
        {
            for note in notes {
                match note {
                    // `groups.rs` decides how the group's in-scope users are represented.
                    Restriction::Expanded { group, users } => {
                        self.pending.push(Pending { room: node.id, list, group, users })
                    }
                    Restriction::Dropped { .. } => self.f.add(
                        Severity::Warning,
                        "ACL_OUTSIDE_SCOPE_DROPPED",
                        &d.path,
                        Some(&node.guid),
                        note.describe(snap),
                    ),
                }
            }
        }
        for p in members.iter().chain(&managers).chain(&presenters) {
            note_principal(&mut self.f, snap, *p, &mut self.fed_seen, &mut self.disabled_seen);
        }
        (members, managers, presenters)
    }

    /// The room's add-in, when the source's whitelist has it; either way with a finding.
    fn room_addin(&mut self, d: &RoomDraft<'a>) -> Option<String> {
        let (snap, f, node) = (self.snap, &mut self.f, d.node);
        node.siop_id.clone().filter(|id| {
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
        })
    }

    /// The room's target name (rooms.csv's, else by the naming option), unique in its pool.
    fn room_name(&mut self, d: &RoomDraft<'a>, room_rule: Option<&RoomRule>, pool: &str) -> String {
        let (opts, node) = (self.opts, d.node);
        let raw_name = match opts.naming {
            _ if room_rule.is_some_and(|r| r.target_name.is_some()) => {
                room_rule.and_then(|r| r.target_name.clone()).unwrap_or_default()
            }
            Naming::Prefix if d.chain.len() > 3 => {
                let parent_path = self.names_down(&d.chain[1..]);
                format!("{}{}{}", parent_path.join(&opts.separator), opts.separator, node.name)
            }
            _ => node.name.clone(),
        };
        unique_name(
            &mut self.f,
            self.used_names.entry(pool.to_string()).or_default(),
            &raw_name,
            &d.path,
            &opts.suffix,
        )
    }
}
