//! Access equivalence: who could read, post in and manage each room before (MAPPING.md §2,
//! on the legacy snapshot; §3 when the source is a Persistent Chat `mgc`) against who can
//! now (§3, on the target as read back), for every user and every room of the wave.
//!
//! Users are matched through the load's id map (legacy `prinID` → target `prinID`), then —
//! for principals the load did not write, such as users synced from AD into a live pool —
//! by `prinGuid` and `prinUri`, as the load matches them (MAPPING.md §4 Principals). Each
//! difference is **gained** (a security finding, blocking: no mapping rule widens access by
//! default) or **lost**, explained by the rule whose cause holds for that user and room —
//! a federated principal created disabled, a grant that ignored scope dropped to fit the
//! category, a room excluded by rule — or blocking when nothing explains it. Rooms are
//! independent, so they are compared in parallel (pure CPU once the target is read).

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::target::Model;
use crate::load::IdMap;
use crate::mapping::dense::{pack, unpack, Dense, Marks};
use crate::mapping::legacy::{Legacy, Rights, TreeError};
use crate::model::Snapshot;
use crate::plan::Plan;

mod explain;

/// The rule code for a federated principal created disabled.
pub const FEDERATED_DISABLED: &str = "FEDERATED_DISABLED";
/// The rule code for a grant dropped because it lies outside the category's scope.
pub const ACL_OUTSIDE_SCOPE_DROPPED: &str = "ACL_OUTSIDE_SCOPE_DROPPED";

/// One of the three rights of MAPPING.md §2/§3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Right {
    /// Join the room and see its history.
    Read,
    /// Post in the room.
    Post,
    /// Manage the room.
    Manage,
}

impl Right {
    /// All rights, in report order.
    pub const ALL: [Right; 3] = [Right::Read, Right::Post, Right::Manage];

    /// Whether `r` holds this right.
    pub fn held(self, r: &Rights) -> bool {
        match self {
            Right::Read => r.read,
            Right::Post => r.post,
            Right::Manage => r.manage,
        }
    }

    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Post => "post",
            Right::Manage => "manage",
        }
    }
}

/// One right that differs between the legacy and the target side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChange {
    /// The user's `prinUri` (the target's, or the legacy one when it has no counterpart).
    pub user: String,
    /// The room's legacy GUID (preserved as the target `nodeGuid`).
    pub room: String,
    /// The room's legacy path.
    pub room_path: String,
    /// The right gained or lost.
    pub right: Right,
    /// The mapping rule that explains it, if any.
    pub rule: Option<String>,
    /// Blocks the wave: every gain, and every loss no rule explains.
    pub blocking: bool,
    /// The cause, as evaluated.
    pub detail: String,
}

/// The access comparison of a wave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccessReport {
    /// Rooms compared.
    pub rooms: u64,
    /// (user, room) pairs that either side grants something.
    pub pairs: u64,
    /// Of those, pairs with identical rights on both sides.
    pub unchanged: u64,
    /// Rights the target grants that the legacy side did not.
    pub gained: Vec<AccessChange>,
    /// Rights the legacy side granted that the target does not.
    pub lost: Vec<AccessChange>,
}

impl AccessReport {
    /// Differences that block the wave.
    pub fn blocking(&self) -> usize {
        self.gained.iter().chain(&self.lost).filter(|c| c.blocking).count()
    }
}

/// A user as both sides know it: a target principal, or a legacy one with no counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Who {
    Target(i64),
    Unmapped(i64),
}

/// One room to compare.
struct RoomRef<'a> {
    legacy_id: i64,
    guid: &'a str,
    path: &'a str,
    target: Option<i64>,
    /// Set for rooms the plan does not migrate: every legacy right is lost by this rule.
    excluded: Option<&'a str>,
}

/// Everything a room comparison reads; shared by the rayon workers.
struct Compare<'a> {
    lg: Legacy<'a>,
    /// A Persistent Chat source's own §3 model (`mgc_source.rs`): the "before" side of an
    /// `mgc` source instead of `lg`'s §2 rules.
    mgc: Option<Model>,
    tg: &'a Model,
    /// Legacy prinID → target prinID, for every legacy principal that has a counterpart.
    ids: HashMap<i64, i64>,
    /// Rooms (legacy GUIDs) for which the plan dropped a grant outside the category scope.
    acl_dropped: HashSet<&'a str>,
    /// Target prinID → the legacy prinIDs mapped onto it.
    legacy_of: HashMap<i64, Vec<i64>>,
    /// Legacy dense index → target dense index, for users mapped onto an indexed principal.
    l2t: Vec<Option<u32>>,
}

#[derive(Default)]
struct Partial {
    pairs: u64,
    unchanged: u64,
    gained: Vec<AccessChange>,
    lost: Vec<AccessChange>,
}

/// Compares legacy and target access for every room of `wave` (`None`: all, including the
/// rooms the plan excludes by rule).
/// `ids` is [`match_principals`]'s answer.
pub fn compare(
    plan: &Plan,
    snap: &Snapshot,
    tg: &Model,
    ids: HashMap<i64, i64>,
    map: &IdMap,
    wave: Option<&str>,
) -> AccessReport {
    let mut legacy_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for (l, t) in &ids {
        legacy_of.entry(*t).or_default().push(*l);
    }
    let acl_dropped = plan
        .findings
        .iter()
        .filter(|f| f.code == ACL_OUTSIDE_SCOPE_DROPPED)
        .filter_map(|f| f.guid.as_deref())
        .collect();
    let lg = Legacy::new(snap);
    let mgc = super::mgc_source::is_mgc(snap).then(|| super::mgc_source::model(snap));
    let mut cmp = Compare { lg, mgc, tg, ids, acl_dropped, legacy_of, l2t: Vec::new() };
    let (ld, td) = (cmp.before_dense(), tg.dense());
    cmp.l2t =
        (0..ld.len() as u32).map(|l| cmp.ids.get(&ld.id(l)).and_then(|t| td.idx(*t))).collect();
    let mut rooms: Vec<RoomRef<'_>> = plan
        .rooms_in(wave)
        .map(|r| RoomRef {
            legacy_id: r.legacy_id,
            guid: &r.legacy_guid,
            path: &r.legacy_path,
            target: map.rooms.get(&r.legacy_id).copied(),
            excluded: None,
        })
        .collect();
    if wave.is_none() {
        rooms.extend(plan.excluded_rooms.iter().map(|r| RoomRef {
            legacy_id: r.legacy_id,
            guid: &r.legacy_guid,
            path: &r.legacy_path,
            target: None,
            excluded: Some(if r.disposition == "excluded" {
                r.rule.as_str()
            } else {
                "DATA_ERROR"
            }),
        }));
    }
    let parts: Vec<Partial> =
        rooms.par_iter().map_init(|| cmp.scratch(), |s, r| cmp.room(r, s)).collect();
    let mut out = AccessReport { rooms: rooms.len() as u64, ..AccessReport::default() };
    for p in parts {
        out.pairs += p.pairs;
        out.unchanged += p.unchanged;
        out.gained.extend(p.gained);
        out.lost.extend(p.lost);
    }
    let key = |c: &AccessChange| (c.room_path.clone(), c.room.clone(), c.user.clone(), c.right);
    out.gained.sort_by_key(key);
    out.lost.sort_by_key(key);
    out
}

/// Legacy prinID → target prinID: the load's id map, then `prinGuid`, then `prinUri`.
pub fn match_principals(snap: &Snapshot, tg: &Model, map: &IdMap) -> HashMap<i64, i64> {
    snap.principals
        .values()
        .filter_map(|p| {
            let t = map.principals.get(&p.id).copied().or_else(|| {
                tg.by_guid
                    .get(&p.guid.to_ascii_lowercase())
                    .or_else(|| tg.by_uri.get(&p.uri.to_ascii_lowercase()))
                    .copied()
            });
            t.map(|t| (p.id, t))
        })
        .collect()
}

/// One rayon worker's scratch space: marks for both models and a byte per target user
/// holding the packed legacy rights while a room is compared.
struct Scratch {
    legacy: Marks,
    target: Marks,
    acc: Vec<u8>,
    touched: Vec<u32>,
    before: Vec<(u32, Rights)>,
    after: Vec<(u32, Rights)>,
}

impl Compare<'_> {
    /// The dense index of the "before" side (§2's, or an `mgc` source's §3 model's).
    fn before_dense(&self) -> &Dense {
        match &self.mgc {
            Some(m) => m.dense(),
            None => self.lg.dense(),
        }
    }

    /// The "before" rights of a source room: §2, or §3 for an `mgc` source.
    fn before_rights(
        &self,
        id: i64,
        marks: &mut Marks,
        out: &mut Vec<(u32, Rights)>,
    ) -> Result<(), TreeError> {
        match &self.mgc {
            Some(m) => {
                m.rights_dense(id, marks, out);
                Ok(())
            }
            None => self.lg.rights_dense(id, marks, out),
        }
    }

    fn scratch(&self) -> Scratch {
        Scratch {
            legacy: Marks::new(self.before_dense().len()),
            target: self.tg.marks(),
            acc: vec![0; self.tg.dense().len()],
            touched: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
        }
    }

    /// Both sides' rights on one room, and their differences. Legacy rights are folded
    /// onto target users in `acc` (several legacy principals may map onto one target
    /// principal: their rights are OR-ed), then the target's rights are walked against them.
    fn room(&self, room: &RoomRef<'_>, s: &mut Scratch) -> Partial {
        // A broken legacy tree was rejected by the plan with a finding; it grants nothing here.
        if self.before_rights(room.legacy_id, &mut s.legacy, &mut s.before).is_err() {
            s.before.clear();
        }
        let (ld, td) = (self.before_dense(), self.tg.dense());
        // Legacy users with no target user in the index: compared against "no rights".
        let mut odd: HashMap<Who, Rights> = HashMap::new();
        for &(l, r) in &s.before {
            match self.l2t[l as usize] {
                Some(t) => {
                    if s.acc[t as usize] == 0 {
                        s.touched.push(t);
                    }
                    s.acc[t as usize] |= pack(r);
                }
                None => {
                    let lid = ld.id(l);
                    let who = self.ids.get(&lid).map_or(Who::Unmapped(lid), |t| Who::Target(*t));
                    let e = odd.entry(who).or_default();
                    *e = unpack(pack(*e) | pack(r));
                }
            }
        }
        let target_node =
            room.target.filter(|t| self.tg.nodes.get(t).is_some_and(|n| !n.is_category));
        s.after.clear();
        if let (None, Some(t)) = (room.excluded, target_node) {
            self.tg.rights_dense(t, &mut s.target, &mut s.after);
        }
        let mut part = Partial::default();
        let diff = |w: Who, b: Rights, a: Rights, part: &mut Partial| {
            part.pairs += 1;
            if a == b {
                part.unchanged += 1;
            } else {
                self.record(room, target_node, w, b, a, &s.before, part);
            }
        };
        for &(t, a) in &s.after {
            let b = unpack(std::mem::take(&mut s.acc[t as usize]));
            diff(Who::Target(td.id(t)), b, a, &mut part);
        }
        for t in s.touched.drain(..) {
            let b = std::mem::take(&mut s.acc[t as usize]);
            if b != 0 {
                diff(Who::Target(td.id(t)), unpack(b), Rights::default(), &mut part);
            }
        }
        for (w, b) in odd {
            diff(w, b, Rights::default(), &mut part);
        }
        part
    }

    /// Records the gained and lost rights of one (user, room) pair whose rights differ.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        room: &RoomRef<'_>,
        target_node: Option<i64>,
        w: Who,
        b: Rights,
        a: Rights,
        before: &[(u32, Rights)],
        part: &mut Partial,
    ) {
        // The legacy principals behind `w` that had rights here.
        let ld = self.before_dense();
        let had_rights =
            |l: &i64| ld.idx(*l).is_some_and(|i| before.binary_search_by_key(&i, |e| e.0).is_ok());
        let lids: Vec<i64> = match w {
            Who::Unmapped(l) => vec![l],
            Who::Target(t) => {
                self.legacy_of.get(&t).into_iter().flatten().copied().filter(had_rights).collect()
            }
        };
        for right in Right::ALL {
            let (had, has) = (right.held(&b), right.held(&a));
            if had && !has {
                let (rule, detail) = self.explain_lost(room, target_node, w, &lids, right, &a);
                part.lost.push(self.change(room, w, &lids, right, rule, detail));
            } else if has && !had {
                let detail = self.explain_gained(target_node.unwrap_or_default(), w);
                part.gained.push(self.change(room, w, &lids, right, None, detail));
            }
        }
    }

    fn change(
        &self,
        room: &RoomRef<'_>,
        w: Who,
        lids: &[i64],
        right: Right,
        rule: Option<String>,
        detail: String,
    ) -> AccessChange {
        let legacy_uri =
            || lids.first().and_then(|l| self.lg.snap.principals.get(l)).map(|p| p.uri.clone());
        let user = match w {
            Who::Target(t) => self.tg.principals.get(&t).map(|p| p.uri.clone()).or_else(legacy_uri),
            Who::Unmapped(_) => legacy_uri(),
        };
        let user = user.unwrap_or_else(|| format!("{w:?}"));
        let blocking = rule.is_none();
        AccessChange {
            user,
            room: room.guid.into(),
            room_path: room.path.into(),
            right,
            rule,
            blocking,
            detail,
        }
    }
}
