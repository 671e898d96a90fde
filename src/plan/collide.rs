//! Collisions with objects that already exist in the target pool (`plan --target`).
//!
//! Names are unique per pool across rooms and categories, case-insensitively. A planned
//! category whose name is taken follows its `categories.csv` `on_conflict` (`fail` by
//! default: a blocking finding; `rename`: the next free suffix; `merge`: its rooms go into
//! the existing category, an info finding); a planned room whose name
//! is taken is blocking (rename it in rooms.csv). Objects an earlier load of this
//! workspace created are ours, not collisions.

use std::collections::HashSet;

use super::{Finding, Plan, Severity};
use crate::mapping::{Mappings, OnConflict};

/// A node that exists in the target: (nodeID, is a category, name).
pub type Existing = (i64, bool, String);

/// Applies the collision rules to the plan's names, adding findings.
pub fn apply(plan: &mut Plan, mappings: &Mappings, existing: &[Existing], ours: &HashSet<i64>) {
    let taken: HashSet<String> = existing
        .iter()
        .filter(|(id, _, _)| !ours.contains(id))
        .map(|(_, _, n)| n.to_lowercase())
        .collect();
    let mut used: HashSet<String> = taken.clone();
    used.extend(plan.categories.iter().map(|c| c.name.to_lowercase()));
    used.extend(plan.rooms.iter().map(|r| r.target_name.to_lowercase()));
    let mut found = Vec::new();
    for c in &mut plan.categories {
        if !taken.contains(&c.name.to_lowercase()) {
            continue;
        }
        let rule = mappings.category_rule(&c.legacy_path);
        match rule.map_or(OnConflict::Fail, |r| r.on_conflict) {
            OnConflict::Rename => {
                let mut n = 2;
                let new = loop {
                    let candidate = format!("{}{}", c.name, plan.options.suffix.replace("{n}", &n.to_string()));
                    if !used.contains(&candidate.to_lowercase()) {
                        break candidate;
                    }
                    n += 1;
                };
                used.insert(new.to_lowercase());
                found.push(finding(Severity::Warning, "TARGET_COLLISION", &c.legacy_path, &c.guid,
                    format!("a category named `{}` already exists in the target; renamed to `{new}` (on_conflict = rename)", c.name)));
                c.name = new;
            }
            OnConflict::Merge => found.push(finding(Severity::Info, "CATEGORY_MERGED", &c.legacy_path, &c.guid,
                format!("a category named `{}` already exists in the target; its rooms go into it (on_conflict = merge): \
                         the load adds the allowed, denied and creator entries they need and changes nothing else there", c.name))),
            OnConflict::Fail => found.push(finding(Severity::Error, "TARGET_COLLISION", &c.legacy_path, &c.guid,
                format!("a category named `{}` already exists in the target; set on_conflict = rename in categories.csv \
                         or give it another target_name", c.name))),
        }
    }
    for r in &plan.rooms {
        if taken.contains(&r.target_name.to_lowercase()) {
            found.push(finding(Severity::Error, "TARGET_COLLISION", &r.legacy_path, &r.legacy_guid,
                format!("a room or category named `{}` already exists in the target; give the room another \
                         target_name in rooms.csv", r.target_name)));
        }
    }
    plan.add_findings(found);
}

fn finding(severity: Severity, code: &str, subject: &str, guid: &str, message: String) -> Finding {
    Finding {
        severity,
        code: code.into(),
        subject: subject.into(),
        guid: Some(guid.into()),
        message,
    }
}
