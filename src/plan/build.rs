//! Builds a [`Plan`] from the snapshot and the mappings (MAPPING.md §4).
//!
//! `build` walks the steps in order on a `Builder`, which holds what the steps share; the
//! steps and their helpers live in `build/`: `rooms.rs` (step 1 drafts, step 3 rooms, class
//! keys), `categories.rs` (step 2), `names.rs` (unique names, derived GUIDs, topics),
//! `access.rs` (grant lists, principals), `groups.rs` (out-of-scope groups kept or expanded), `findings.rs` (findings), `capacity.rs` (pool capacity). Step 4
//! (messages, principals, waves) is here. A Persistent Chat source takes the few steps of
//! `from_mgc.rs` instead (MAPPING.md §3: flat categories, role rows one to one).

mod access;
mod capacity;
mod categories;
mod dn;
mod findings;
mod from_mgc;
mod groups;
mod integrity;
mod names;
mod rooms;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::messages::{AuthorCounts, Classifier, Disposition};
use super::*;
use crate::mapping::dense::Marks;
use crate::mapping::legacy::{Legacy, ROOT};
use crate::mapping::Mappings;
use crate::model::Snapshot;
use access::{note_principal, plan_principals};
use findings::Findings;
use rooms::ClassKey;

pub use findings::{ACE_LIMIT, INVITE_LIMIT, USER_LIMIT};
pub use names::{clean_name, is_name_control, NAME_LIMIT, ROOT_ROOMS_CATEGORY};

/// Builds the plan. `counts` are the staged messages per (room, author).
pub fn build(snap: &Snapshot, mappings: &Mappings, counts: &[AuthorCounts]) -> Plan {
    let opts = &mappings.options;
    let mut b = Builder::new(snap, mappings);
    b.unknown_roles();
    b.data_errors();

    // 1. Rooms: classify into drafts or exclusions.
    let room_counts = room_counts(counts);
    let (mut drafts, excluded) = b.draft_rooms(&room_counts);
    if b.mgc() {
        // A Persistent Chat source is flat already: each category keeps its rooms (§3).
        b.mgc_classes(&mut drafts);
    }

    // 2. Categories: one per equivalence class, the parent's own class keeping the base name.
    b.plan_categories(&drafts);
    if b.mgc() {
        b.mgc_category_access();
    }

    // 3. Rooms.
    let mut rooms = b.plan_rooms(&drafts, &room_counts);
    b.fit_groups(&mut rooms);

    // 4. Messages, principals, waves, capacity.
    let classifier = Classifier::new(&rooms, &excluded, snap, opts.since.as_deref());
    let (totals, authors) = b.tally_messages(&classifier, &rooms, counts);
    let principals_out = b.principals(&rooms, &authors);
    b.drop_unresolvable(&mut rooms, &principals_out);
    let input = capacity::Inputs {
        snap,
        expansions: &b.expansions,
        accept_overrun: opts.accept_capacity_overrun,
    };
    capacity::check(&mut b.f, &rooms, &b.categories, &principals_out, &input);
    let waves = plan_waves(&rooms, &classifier, counts, opts);
    let (addins, unused_addins): (Vec<_>, Vec<_>) = snap
        .addins
        .iter()
        .cloned()
        .partition(|a| rooms.iter().any(|r| r.addin.as_ref() == Some(&a.id)));
    for a in &unused_addins {
        let what = if opts.carry_unused_addins {
            format!("registered in pool `{}` (carry_unused_addins = true)", opts.default_pool)
        } else {
            "not registered: set carry_unused_addins = true in gcmigrate.toml to register it in the default pool".into()
        };
        b.f.add(
            Severity::Info,
            "ADDIN_UNUSED",
            &a.name,
            Some(&a.id),
            format!("add-in `{}` ({}) is referenced by no migrated room; {what}", a.name, a.url),
        );
    }
    let mut findings = b.f.0;
    findings.extend(crate::source::defaulted_findings(snap));
    sort_findings(&mut findings);
    findings.dedup();
    Plan {
        source_version: snap.version.map(|v| v.label().to_string()).unwrap_or_default(),
        options: opts.clone(),
        categories: b.categories,
        rooms,
        excluded_rooms: excluded,
        principals: principals_out,
        addins,
        unused_addins,
        waves,
        messages: totals,
        findings,
        scripts: Vec::new(),
    }
}

/// What the steps of one build share: the inputs, the findings so far, and the categories,
/// names and principal notes that later steps must see.
struct Builder<'a> {
    snap: &'a Snapshot,
    mappings: &'a Mappings,
    opts: &'a Options,
    lg: Legacy<'a>,
    /// Scratch space of `access::restrict`.
    marks: Marks,
    f: Findings,
    categories: Vec<PlanCategory>,
    class_to_cat: HashMap<ClassKey, String>,
    /// Target names taken so far, per pool (lowercase).
    used_names: HashMap<String, HashSet<String>>,
    /// An `mgc` source's scope rows by (node, denied) (empty for a legacy source).
    mgc_scopes: HashMap<(i64, bool), BTreeSet<i64>>,
    /// Principals already reported as federated and as disabled.
    fed_seen: BTreeSet<i64>,
    disabled_seen: BTreeSet<i64>,
    /// Out-of-scope groups listed user by user, for the capacity finding.
    expansions: Vec<capacity::Expansion>,
    /// Out-of-scope groups of the room lists, until `groups.rs` decides how to list them.
    pending: Vec<groups::Pending>,
}

impl<'a> Builder<'a> {
    /// A builder with no findings and nothing planned yet.
    fn new(snap: &'a Snapshot, mappings: &'a Mappings) -> Builder<'a> {
        let lg = Legacy::new(snap);
        let marks = lg.marks();
        Builder {
            snap,
            mappings,
            opts: &mappings.options,
            lg,
            marks,
            f: Findings::default(),
            categories: Vec::new(),
            class_to_cat: HashMap::new(),
            used_names: HashMap::new(),
            mgc_scopes: from_mgc::scope_index(snap),
            fed_seen: BTreeSet::new(),
            disabled_seen: BTreeSet::new(),
            expansions: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Node names from the top of `chain` (child first, root last) down, the root left out.
    fn names_down(&self, chain: &[i64]) -> Vec<&'a str> {
        let nodes = chain.iter().rev().filter(|&&n| n != ROOT).filter_map(|n| self.lg.node(*n));
        nodes.map(|n| n.name.as_str()).collect()
    }

    /// The legacy path of the node `chain` leads up from.
    fn path_of(&self, chain: &[i64]) -> String {
        format!("/{}", self.names_down(chain).join("/"))
    }

    /// Reports the legacy role grants of a type that is not Member, Manager or Voiced.
    fn unknown_roles(&mut self) {
        let lg = &self.lg;
        for (row, desc) in &lg.unknown_roles {
            let subject =
                lg.ancestors_or_self(row.node_id).map(|c| self.path_of(&c)).unwrap_or_default();
            self.f.add(Severity::Warning, "UNKNOWN_ROLE", &subject, lg.node(row.node_id).map(|n| n.guid.as_str()),
                format!("role type {} (`{desc}`) granted to principal {} is not Member, Manager or Voiced; \
                         the grant is not migrated", row.role_type_id, row.prin_id));
        }
    }

    /// Tallies the staged messages by disposition, collects their known authors, and reports
    /// the messages rejected for their date or orphaned by a missing room or author.
    fn tally_messages(
        &mut self,
        classifier: &Classifier,
        rooms: &[PlanRoom],
        counts: &[AuthorCounts],
    ) -> (MessageTotals, BTreeSet<i64>) {
        let snap = self.snap;
        let f = &mut self.f;
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
        (totals, authors)
    }

    /// Plans the principals that the rooms, categories and authors need, with their findings.
    fn principals(&mut self, rooms: &[PlanRoom], authors: &BTreeSet<i64>) -> Vec<PlanPrincipal> {
        let snap = self.snap;
        let mut principals_out = plan_principals(
            &self.lg,
            rooms,
            &self.categories,
            authors,
            snap,
            self.mappings,
            &mut self.f,
        );
        dn::fill(&mut principals_out, snap, rooms, &self.categories, &mut self.f);
        for p in &principals_out {
            note_principal(
                &mut self.f,
                snap,
                p.legacy_id,
                &mut self.fed_seen,
                &mut self.disabled_seen,
            );
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
        self.f.0.retain(|x| {
            !(x.code == "FEDERATED_DISABLED"
                && x.guid.as_ref().is_some_and(|g| remapped_legacy.contains(g)))
        });
        principals_out
    }
}

/// The staged messages per legacy room.
fn room_counts(counts: &[AuthorCounts]) -> BTreeMap<i64, u64> {
    counts.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.channel_id).or_default() += c.total;
        m
    })
}

/// The waves of the rooms, in cutover order (`wave_order` first, then by name, the
/// default wave last), with the messages each will load.
fn plan_waves(
    rooms: &[PlanRoom],
    classifier: &Classifier,
    counts: &[AuthorCounts],
    opts: &crate::mapping::Options,
) -> Vec<PlanWave> {
    let mut waves: BTreeMap<String, PlanWave> = BTreeMap::new();
    for r in rooms {
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
    let mut waves: Vec<PlanWave> = waves.into_values().collect();
    let rank = |w: &PlanWave| {
        let listed = opts.wave_order.iter().position(|o| *o == w.name);
        (listed.is_none(), listed, w.name == opts.default_wave)
    };
    waves.sort_by_cached_key(|w| rank(w));
    waves
}
