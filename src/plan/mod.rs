//! The migration plan: categories, rooms, principals and waves as they will exist in
//! Persistent Chat, with every decision recorded as a [`Finding`].
//!
//! `build.rs` turns a snapshot and the mappings into a [`Plan`]; `messages.rs` decides
//! what happens to each history row. The plan is data: same input, same plan, byte for byte.

pub mod build;
pub mod collide;
pub mod messages;
pub mod scope;
pub mod select;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::mapping::legacy::Role;
use crate::mapping::Options;
use crate::model::Addin;

pub use build::build;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks the load.
    Error,
    /// Worth reading before the cutover.
    Warning,
    /// Recorded for completeness.
    Info,
}

/// One decision or problem the engineer should know about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// Stable code, e.g. `CATEGORY_SPLIT`.
    pub code: String,
    /// Legacy path of the subject (`/Sales/EMEA/Pipeline`), or a principal URI.
    pub subject: String,
    /// Legacy GUID of the subject, when it has one.
    pub guid: Option<String>,
    /// What happened and how to change it.
    pub message: String,
}

/// Orders findings most severe first, then by code, subject and message (stable reports).
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.severity, &a.code, &a.subject, &a.message)
            .cmp(&(b.severity, &b.code, &b.subject, &b.message))
    });
}

/// A target category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCategory {
    /// Stable key within the plan (`c1`, `c2`, … in legacy path order).
    pub key: String,
    /// Target name.
    pub name: String,
    /// Legacy path of the category the rooms came from.
    pub legacy_path: String,
    /// Legacy `nodeID` of that category.
    pub legacy_id: i64,
    /// GUID for the new category node (the legacy category's for its main class).
    pub guid: String,
    /// Why this category was split from its legacy parent's main class, if it was.
    pub split_reason: Option<String>,
    /// Target pool.
    pub pool: String,
    /// AllowedMembers (legacy prinIDs).
    pub allowed: Vec<i64>,
    /// DeniedMembers (legacy prinIDs).
    pub denied: Vec<i64>,
    /// Creators (legacy prinIDs).
    pub creators: Vec<i64>,
    /// Invitations on.
    pub invite: bool,
    /// Chat history on.
    pub logged: bool,
    /// File upload on.
    pub file_post: bool,
    /// Description.
    pub desc: String,
    /// `on_conflict = merge`: when the target pool already has a category of this name
    /// (not the migration's), the rooms go into it and the load adds the scope and
    /// creator rows the plan needs to it, changing and removing nothing of its own.
    #[serde(default)]
    pub merge: bool,
}

/// A target room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRoom {
    /// Legacy `nodeID`.
    pub legacy_id: i64,
    /// Legacy `nodeGuid` (preserved in the target).
    pub legacy_guid: String,
    /// Legacy path.
    pub legacy_path: String,
    /// Target name.
    pub target_name: String,
    /// Key of the target category.
    pub category: String,
    /// Target pool.
    pub pool: String,
    /// Wave.
    pub wave: String,
    /// Members (legacy prinIDs).
    pub members: Vec<i64>,
    /// Managers (legacy prinIDs).
    pub managers: Vec<i64>,
    /// Presenters (legacy prinIDs; auditorium rooms only).
    pub presenters: Vec<i64>,
    /// 2 Secret, 3 Closed.
    pub visibility: i64,
    /// 4 Normal, 5 Auditorium.
    pub behavior: i64,
    /// Disabled.
    pub disabled: bool,
    /// Room invitations: None inherits from the category.
    pub invite: Option<bool>,
    /// Description (topic folded in).
    pub desc: String,
    /// Add-in GUID.
    pub addin: Option<String>,
    /// Staged messages of the room.
    pub message_count: u64,
}

impl PlanRoom {
    /// The room's role lists, each with the role it gives.
    pub fn role_lists(&self) -> [(&[i64], Role); 3] {
        [
            (&self.members, Role::Member),
            (&self.managers, Role::Manager),
            (&self.presenters, Role::Voiced),
        ]
    }
}

/// A legacy room that will not become a target room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedRoom {
    /// Legacy `nodeID`.
    pub legacy_id: i64,
    /// Legacy `nodeGuid`.
    pub legacy_guid: String,
    /// Legacy path.
    pub legacy_path: String,
    /// `excluded` (by a named rule) or `rejected` (bad data).
    pub disposition: String,
    /// The rule or reason.
    pub rule: String,
    /// Staged messages of the room.
    pub message_count: u64,
}

/// A principal the plan references.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPrincipal {
    /// Legacy `prinID`.
    pub legacy_id: i64,
    /// `prinGuid`.
    pub guid: String,
    /// `prinUri`.
    pub uri: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Target `prinTypeID` (federated types become 5 or 9).
    pub target_type: i64,
    /// Created disabled in the target.
    pub disabled: bool,
    /// Why it is disabled, when the legacy principal was not.
    pub note: Option<String>,
    /// AD distinguished name (`prinADPath`) of a group, OU or domain, which Microsoft's
    /// cmdlets take in their lists; `None` for users (listed by SIP URI) and when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_path: Option<String>,
}

/// A wave: the unit of load, freeze, delta, verification and rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanWave {
    /// Name.
    pub name: String,
    /// Rooms (legacy ids).
    pub rooms: Vec<i64>,
    /// Messages to load.
    pub messages: u64,
}

/// Reconciled message counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTotals {
    /// Staged rows.
    pub read: u64,
    /// To be loaded.
    pub load: u64,
    /// Excluded by a named rule, by rule.
    pub excluded: BTreeMap<String, u64>,
    /// Rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Source rows extract could not read and never staged (not in `read`), listed in
    /// `rejects/extract.csv`.
    #[serde(default)]
    pub rejected_at_extract: u64,
}

/// The whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Source product.
    pub source_version: String,
    /// Options in force.
    pub options: Options,
    /// Target categories.
    pub categories: Vec<PlanCategory>,
    /// Target rooms.
    pub rooms: Vec<PlanRoom>,
    /// Legacy rooms that are not migrated, with their rule.
    pub excluded_rooms: Vec<ExcludedRoom>,
    /// Principals referenced.
    pub principals: Vec<PlanPrincipal>,
    /// Add-ins referenced.
    pub addins: Vec<Addin>,
    /// Legacy add-ins no migrated room references. With `carry_unused_addins` the loads of
    /// the default pool register them too; otherwise they are only listed.
    #[serde(default)]
    pub unused_addins: Vec<Addin>,
    /// Waves.
    pub waves: Vec<PlanWave>,
    /// Message reconciliation.
    pub messages: MessageTotals,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// The configuration scripts `plan` wrote (scripts/), with their sizes.
    #[serde(default)]
    pub scripts: Vec<ScriptFile>,
}

/// A configuration script of the plan and its size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptFile {
    /// File name in the workspace's `scripts/`.
    pub file: String,
    /// Bytes.
    pub bytes: u64,
}

impl Plan {
    /// Gives back the room a parse left in its lists (a list read from JSON grows by
    /// doubling: up to half of it unused, 50 MB at the largest pool).
    pub fn shrink_to_fit(&mut self) {
        for r in &mut self.rooms {
            r.members.shrink_to_fit();
            r.managers.shrink_to_fit();
            r.presenters.shrink_to_fit();
        }
        for c in &mut self.categories {
            c.allowed.shrink_to_fit();
            c.denied.shrink_to_fit();
            c.creators.shrink_to_fit();
        }
        self.rooms.shrink_to_fit();
        self.categories.shrink_to_fit();
        self.principals.shrink_to_fit();
        self.findings.shrink_to_fit();
        self.excluded_rooms.shrink_to_fit();
    }

    /// The scripts' total size in bytes.
    pub fn script_bytes(&self) -> u64 {
        self.scripts.iter().map(|s| s.bytes).sum()
    }
}

impl Plan {
    /// Adds findings made after the plan was built, keeping the report order.
    pub fn add_findings(&mut self, found: Vec<Finding>) {
        self.findings.extend(found);
        sort_findings(&mut self.findings);
    }

    /// Keeps the findings the stages after `plan` act on: blocking ones and capacity ones
    /// whole (load refuses on the first, runbooks quote both), the rooms whose out-of-scope
    /// ACLs were dropped by GUID only (verify explains those losses by them). The others
    /// are the plan stage's reports (findings.csv, plan.json); at the largest pool they
    /// were 90,000 findings and 25 MB of every later stage's memory.
    pub fn keep_findings_acted_on(&mut self) {
        let acl = crate::verify::access::ACL_OUTSIDE_SCOPE_DROPPED;
        self.findings.retain_mut(|f| {
            if f.severity == Severity::Error || f.code.starts_with("CAPACITY") {
                return true;
            }
            if f.code != acl || f.guid.is_none() {
                return false;
            }
            f.subject = String::new();
            f.message = String::new();
            true
        });
        self.findings.shrink_to_fit();
    }

    /// Whether any finding blocks the load.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Rooms of a wave (`None`: every wave).
    pub fn rooms_in<'a>(
        &'a self,
        wave: Option<&'a str>,
    ) -> impl Iterator<Item = &'a PlanRoom> + 'a {
        self.rooms.iter().filter(move |r| wave.is_none_or(|w| r.wave == w))
    }

    /// The add-ins a load of `pool` registers besides those its rooms reference: the
    /// unused ones, into the default pool, when the mappings carry them.
    pub fn carried_addins(&self, pool: &str) -> &[Addin] {
        if self.options.carry_unused_addins && pool == self.options.default_pool {
            &self.unused_addins
        } else {
            &[]
        }
    }

    /// A category by key.
    pub fn category(&self, key: &str) -> Option<&PlanCategory> {
        self.categories.iter().find(|c| c.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity, code: &str, guid: Option<&str>) -> Finding {
        Finding {
            severity,
            code: code.into(),
            subject: "/Sales/Pipeline".into(),
            guid: guid.map(str::to_string),
            message: "what happened and how to change it".into(),
        }
    }

    #[test]
    fn later_stages_keep_the_findings_they_act_on_and_dropped_acls_by_guid_only() {
        let acl = crate::verify::access::ACL_OUTSIDE_SCOPE_DROPPED;
        let mut plan = Plan {
            findings: vec![
                finding(Severity::Error, "NAME_COLLISION", None),
                finding(Severity::Warning, "CAPACITY_HEADROOM", None),
                finding(Severity::Warning, acl, Some("g1")),
                finding(Severity::Warning, acl, None),
                finding(Severity::Warning, "GROUP_EXPANDED", Some("g2")),
                finding(Severity::Info, "TOPIC_FOLDED", Some("g3")),
            ],
            ..Plan::default()
        };
        plan.keep_findings_acted_on();
        let kept: Vec<(&str, Option<&str>, &str)> = plan
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.guid.as_deref(), f.message.as_str()))
            .collect();
        let whole = "what happened and how to change it";
        assert_eq!(
            kept,
            [
                ("NAME_COLLISION", None, whole),
                ("CAPACITY_HEADROOM", None, whole),
                (acl, Some("g1"), "")
            ]
        );
        assert!(plan.has_errors());
    }
}
