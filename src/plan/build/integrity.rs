//! Broken legacy data, found before anything is planned (MAPPING.md "Broken data is read
//! narrowly, never widely").
//!
//! Two kinds of finding come out of here:
//! - `DATA_ERROR` (a warning): a reference that points at nothing — a `scopeDefinerId` or
//!   `roleDefinerId` naming a missing node, a scope or role row naming a missing principal
//!   — or a value outside a documented enum that has a narrow reading (`behavior` is read
//!   as Auditorium, `visibility` as Private/Secret, a node of unknown `nodeType` rejects
//!   the rooms below it). The access model (`mapping::legacy`) applies the narrow reading;
//!   this file names the object so the engineer can fix the source or accept the loss.
//! - `DUPLICATE_GUID` and `INVALID_GUID` (errors, blocking): `nodeGuid`, `prinGuid` and
//!   `siopId` are carried into the target as keys; one that is not a GUID, or is used
//!   twice (also differing only in case), would fail the load halfway or make the wave's
//!   rows impossible to tell apart at rollback, so `plan` refuses it.

use std::collections::{BTreeMap, HashSet};

use super::Builder;
use crate::model::{
    Node, SourceVersion, BEHAVIOR_AUDITORIUM, BEHAVIOR_NORMAL, VISIBILITY_OPEN, VISIBILITY_PRIVATE,
    VISIBILITY_SCOPED,
};
use crate::plan::{PlanPrincipal, PlanRoom, Severity};

/// Whether `s` is a GUID in the canonical form the target keeps (`8-4-4-4-12` hex digits).
pub(super) fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Whether a legacy `behavior` is in the documented enum.
pub(super) fn behavior_known(b: i64) -> bool {
    matches!(b, BEHAVIOR_NORMAL | BEHAVIOR_AUDITORIUM)
}

/// Whether a legacy `visibility` is in the documented enum of the source's version (Open
/// exists only in a 2013 source).
pub(super) fn visibility_known(v: i64, version: Option<SourceVersion>) -> bool {
    matches!(v, VISIBILITY_PRIVATE | VISIBILITY_SCOPED)
        || (v == VISIBILITY_OPEN && version == Some(SourceVersion::Mgc2013))
}

impl Builder<'_> {
    /// Reports every broken reference, duplicate or malformed identifier and out-of-enum
    /// value of the snapshot.
    pub(super) fn data_errors(&mut self) {
        self.dangling_references();
        self.missing_principals();
        self.bad_enums();
        self.bad_guids();
    }

    /// Drops, with a `DATA_ERROR` finding, any principal a room or category lists that the
    /// plan does not carry: the load must never meet a reference it cannot resolve. (The
    /// access model already leaves out rows naming missing principals; this is the
    /// guarantee, whatever a later step adds.)
    pub(super) fn drop_unresolvable(
        &mut self,
        rooms: &mut [PlanRoom],
        principals: &[PlanPrincipal],
    ) {
        let known: HashSet<i64> = principals.iter().map(|p| p.legacy_id).collect();
        let mut dropped: Vec<(String, Option<String>, &str, Vec<i64>)> = Vec::new();
        let keep = |list: &mut Vec<i64>| {
            let gone: Vec<i64> = list.iter().copied().filter(|p| !known.contains(p)).collect();
            list.retain(|p| known.contains(p));
            gone
        };
        for r in rooms.iter_mut() {
            for (what, list) in [
                ("members", &mut r.members),
                ("managers", &mut r.managers),
                ("presenters", &mut r.presenters),
            ] {
                let gone = keep(list);
                if !gone.is_empty() {
                    dropped.push((r.legacy_path.clone(), Some(r.legacy_guid.clone()), what, gone));
                }
            }
        }
        for c in self.categories.iter_mut() {
            for (what, list) in [
                ("allowed members", &mut c.allowed),
                ("denied members", &mut c.denied),
                ("creators", &mut c.creators),
            ] {
                let gone = keep(list);
                if !gone.is_empty() {
                    dropped.push((c.legacy_path.clone(), Some(c.guid.clone()), what, gone));
                }
            }
        }
        for (subject, guid, what, gone) in dropped {
            let list = gone.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
            self.f.add(Severity::Warning, "DATA_ERROR", &subject, guid.as_deref(),
                format!("the {what} list names prinID(s) {list}, which are not in tblPrincipal; they are dropped (nobody \
                         gains access through them); fix the rows in the source and re-extract"));
        }
    }

    /// The legacy path of a node, or `node <id> (<name>)` when its chain is broken.
    fn subject(&self, n: &Node) -> String {
        match self.lg.ancestors_or_self(n.id) {
            Ok(chain) => self.path_of(&chain),
            Err(_) => format!("node {} ({})", n.id, n.name),
        }
    }

    /// `scopeDefinerId` / `roleDefinerId` naming a node that is not in `tblNode`.
    fn dangling_references(&mut self) {
        let snap = self.snap;
        for n in snap.nodes.values() {
            let missing = |d: Option<i64>| d.filter(|d| !snap.nodes.contains_key(d));
            if let Some(d) = missing(n.scope_definer_id) {
                let subject = self.subject(n);
                self.f.add(Severity::Warning, "DATA_ERROR", &subject, Some(&n.guid),
                    format!("node {} `{}`: tblNode.scopeDefinerId {d} names no node; its scope is read narrowly as \
                             nobody (no user keeps access through it, the rest migrates); fix scopeDefinerId in the \
                             source and re-extract to keep its users", n.id, n.name));
            }
            let own_chain_ok = self.lg.ancestors_or_self(n.id).is_ok();
            let definer = n.scope_definer_id.filter(|d| snap.nodes.contains_key(d));
            if let Some((d, e)) =
                definer.and_then(|d| self.lg.ancestors_or_self(d).err().map(|e| (d, e)))
            {
                if own_chain_ok {
                    let subject = self.subject(n);
                    self.f.add(Severity::Warning, "DATA_ERROR", &subject, Some(&n.guid),
                        format!("node {} `{}`: tblNode.scopeDefinerId {d} names a node whose tree is broken ({e}); \
                                 its scope is read narrowly as nobody (the rest migrates); fix the tree in the source \
                                 and re-extract to keep its users", n.id, n.name));
                }
            }
            if let Some(d) = missing(n.role_definer_id) {
                let subject = self.subject(n);
                self.f.add(Severity::Warning, "DATA_ERROR", &subject, Some(&n.guid),
                    format!("node {} `{}`: tblNode.roleDefinerId {d} names no node; its member list is read \
                             narrowly as empty (managers and presenters are kept); fix roleDefinerId in the source \
                             and re-extract to keep its members", n.id, n.name));
            }
        }
    }

    /// Scope and role rows naming a principal that is not in `tblPrincipal`: dropped.
    fn missing_principals(&mut self) {
        let snap = self.snap;
        let mut by_node: BTreeMap<(i64, &str), Vec<i64>> = BTreeMap::new();
        for s in snap.scopes.iter().filter(|s| !snap.principals.contains_key(&s.prin_id)) {
            by_node.entry((s.node_id, "tblScopePrincipal")).or_default().push(s.prin_id);
        }
        for r in snap.roles.iter().filter(|r| !snap.principals.contains_key(&r.prin_id)) {
            by_node.entry((r.node_id, "tblPrincipalRole")).or_default().push(r.prin_id);
        }
        for ((node_id, table), mut prins) in by_node {
            prins.sort_unstable();
            prins.dedup();
            let list = prins.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
            let (subject, guid) = match snap.nodes.get(&node_id) {
                Some(n) => (self.subject(n), Some(n.guid.as_str())),
                None => (format!("node {node_id}"), None),
            };
            let effect = if table == "tblScopePrincipal" {
                "the rows are dropped, and a scope list left with none of its principals is read as nobody \
                 (never as the wider scope above it)"
            } else {
                "the grants are dropped (nobody gains access through them)"
            };
            self.f.add(Severity::Warning, "DATA_ERROR", &subject, guid,
                format!("node {node_id}: {table} rows name prinID(s) {list}, which are not in tblPrincipal; {effect}; \
                         fix or delete the rows in the source and re-extract"));
        }
    }

    /// `behavior`, `visibility` and `nodeType` values outside their documented enums.
    fn bad_enums(&mut self) {
        let snap = self.snap;
        for n in snap.nodes.values() {
            if let Some(t) = n.node_type.filter(|t| !matches!(t, 0 | 1)) {
                let subject = self.subject(n);
                self.f.add(Severity::Warning, "DATA_ERROR", &subject, Some(&n.guid),
                    format!("node {} `{}` has nodeType {t}, neither a room (0) nor a category (1): it is not migrated \
                             and the rooms below it are rejected; fix tblNode.nodeType in the source and re-extract",
                        n.id, n.name));
            }
            if !n.is_category && !behavior_known(n.behavior) {
                let subject = self.subject(n);
                self.f.add(Severity::Warning, "DATA_ERROR", &subject, Some(&n.guid),
                    format!("room {} `{}` has behavior {}, neither Normal (4) nor Auditorium (5): it is read narrowly \
                             as an auditorium (only its presenters post, as the legacy server allowed); fix \
                             tblNode.behavior in the source or accept it", n.id, n.name, n.behavior));
            }
            if let Some(v) = n.visibility.filter(|v| !visibility_known(*v, snap.version)) {
                let subject = self.subject(n);
                self.f.add(Severity::Warning, "DATA_ERROR", &subject, Some(&n.guid),
                    format!("node {} `{}` has visibility {v}, neither Private (2) nor Scoped (3): its rooms are read \
                             narrowly as Secret (hidden from search); fix tblNode.visibility in the source or accept \
                             it", n.id, n.name));
            }
        }
    }

    /// `nodeGuid`, `prinGuid` and `siopId` values that are not GUIDs or are used twice.
    fn bad_guids(&mut self) {
        let snap = self.snap;
        let mut seen: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        let mut bad: Vec<(&str, String, &str)> = Vec::new();
        for n in snap.nodes.values() {
            let who = format!("node {} ({})", n.id, n.name);
            seen.entry(("tblNode.nodeGuid", &n.guid)).or_default().push(who.clone());
            if !is_guid(&n.guid) {
                bad.push(("tblNode.nodeGuid", who.clone(), &n.guid));
            }
            if let Some(s) = n.siop_id.as_deref().filter(|s| !is_guid(s)) {
                bad.push(("tblNode.siopID", who, s));
            }
        }
        for p in snap.principals.values() {
            let who = format!("principal {} ({})", p.id, p.uri);
            seen.entry(("tblPrincipal.prinGuid", &p.guid)).or_default().push(who.clone());
            if !is_guid(&p.guid) {
                bad.push(("tblPrincipal.prinGuid", who, &p.guid));
            }
        }
        for a in &snap.addins {
            let who = format!("add-in `{}`", a.name);
            seen.entry(("tblSiopWhiteList.siopId", &a.id)).or_default().push(who.clone());
            if !is_guid(&a.id) {
                bad.push(("tblSiopWhiteList.siopId", who, &a.id));
            }
        }
        for (column, who, value) in bad {
            self.f.add(Severity::Error, "INVALID_GUID", &who, None,
                format!("{column} of {who} is `{value}`, not a GUID; it is carried into the target as a key, so the \
                         load could not write it: fix the value in the source and re-extract"));
        }
        for ((column, guid), rows) in seen.into_iter().filter(|(_, rows)| rows.len() > 1) {
            self.f.add(Severity::Error, "DUPLICATE_GUID", &rows[0], Some(guid),
                format!("{column} `{guid}` is used by {} rows ({}), compared case-insensitively; GUIDs are kept in \
                         the target and must be unique (the load would fail or its rollback could not tell the rows \
                         apart): give each row its own GUID in the source and re-extract",
                    rows.len(), rows.join(", ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_guids_pass() {
        assert!(is_guid("70b3427b-2a75-5eef-805f-02ce5dd28dfe"));
        assert!(is_guid("70B3427B-2A75-5EEF-805F-02CE5DD28DFE"));
        for bad in [
            "",
            "not-a-guid",
            "{70b3427b-2a75-5eef-805f-02ce5dd28dfe}",
            "70b3427b2a755eef805f02ce5dd28dfe",
            "70b3427b-2a75-5eef-805f-02ce5dd28dfg",
            "70b3427b-2a75-5eef-805f_02ce5dd28dfe",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
    }

    #[test]
    fn enums_follow_the_source_version() {
        assert!(behavior_known(4) && behavior_known(5) && !behavior_known(0) && !behavior_known(6));
        assert!(visibility_known(2, None) && visibility_known(3, None));
        assert!(!visibility_known(6, Some(SourceVersion::Lync2010)));
        assert!(visibility_known(6, Some(SourceVersion::Mgc2013)));
        assert!(!visibility_known(7, Some(SourceVersion::Mgc2013)));
    }
}
