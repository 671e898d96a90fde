//! The naming rules that both categories and rooms go through: flattened names cut to the
//! limit and made unique within their pool, GUIDs derived for split categories, and legacy
//! topics folded into descriptions (2013 rooms have none).

use std::collections::HashSet;

use super::findings::Findings;
use crate::model::Node;
use crate::plan::Severity;

/// Persistent Chat's name limit (`nvarchar(256)`).
pub const NAME_LIMIT: usize = 256;

/// A deterministic GUID for a split category, derived from its legacy category's GUID.
pub(super) fn derived_guid(guid: &str, i: usize) -> String {
    let h = blake3::hash(format!("{guid}/split/{i}").as_bytes());
    let b = h.as_bytes();
    let hex: String = b[..16].iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-4{}-8{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// Fits a name within 256 characters and makes it unique (case-insensitively) in `used`.
pub(super) fn unique_name(
    f: &mut Findings,
    used: &mut HashSet<String>,
    name: &str,
    subject: &str,
    suffix: &str,
) -> String {
    let mut base: String = name.to_string();
    if base.chars().count() > NAME_LIMIT {
        base = base.chars().take(NAME_LIMIT).collect();
        f.add(Severity::Warning, "NAME_TOO_LONG", subject, None,
            format!("the name is {} characters after flattening; it is cut to `{base}` (limit {NAME_LIMIT}); \
                     give it a shorter name in rooms.csv or categories.csv", name.chars().count()));
    }
    let mut candidate = base.clone();
    let mut n = 2;
    while used.contains(&candidate.to_lowercase()) {
        let sfx = suffix.replace("{n}", &n.to_string());
        let keep = NAME_LIMIT.saturating_sub(sfx.chars().count());
        candidate = format!("{}{sfx}", base.chars().take(keep).collect::<String>());
        n += 1;
    }
    if candidate != base {
        f.add(Severity::Warning, "NAME_COLLISION", subject, None,
            format!("`{base}` is already taken in the pool after flattening; this one becomes `{candidate}`"));
    }
    used.insert(candidate.to_lowercase());
    candidate
}

/// Folds a room's topic into its description (2013 rooms have none), within the name limit.
pub(super) fn fold_topic(f: &mut Findings, node: &Node, path: &str) -> String {
    let Some(topic) = &node.topic else { return node.desc.clone() };
    let full = if node.desc.is_empty() {
        format!("Topic: {topic}")
    } else {
        format!("{} — Topic: {topic}", node.desc)
    };
    if full.chars().count() > NAME_LIMIT {
        let cut: String = full.chars().take(NAME_LIMIT).collect();
        f.add(Severity::Warning, "TOPIC_TRUNCATED", path, Some(&node.guid),
            format!("2013 rooms have no topic; folded into the description and cut at {NAME_LIMIT} characters \
                     ({} lost)", full.chars().count() - NAME_LIMIT));
        cut
    } else {
        f.add(
            Severity::Info,
            "TOPIC_FOLDED",
            path,
            Some(&node.guid),
            "2013 rooms have no topic; it is appended to the description".into(),
        );
        full
    }
}
