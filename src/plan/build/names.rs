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

/// The name of the category that holds the rooms placed directly under the legacy root
/// (the target has its own root category; a second one named after the legacy root would
/// be a look-alike of it). `categories.csv` can name it (path `/`).
pub const ROOT_ROOMS_CATEGORY: &str = "Top-level rooms";

/// Whether Persistent Chat names cannot hold `c`: the C0 and C1 controls (line breaks,
/// tabs, U+0000–U+001F, U+007F, U+0080–U+009F) and the Unicode line and paragraph
/// separators — exactly what the PowerShell export would otherwise turn into spaces.
pub fn is_name_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// A name with each control character replaced by a space (runs of spaces kept), as
/// MAPPING.md "Names and limits" says; the plan decides uniqueness on this name, and every
/// artefact (target rows, PowerShell, reports) uses it.
pub fn clean_name(name: &str) -> String {
    name.chars().map(|c| if is_name_control(c) { ' ' } else { c }).collect()
}

/// Replaces control characters by spaces, fits the name within 256 characters and makes
/// it unique (case-insensitively) in `used`, reporting each change.
pub(super) fn unique_name(
    f: &mut Findings,
    used: &mut HashSet<String>,
    name: &str,
    subject: &str,
    suffix: &str,
) -> String {
    let cleaned = clean_name(name);
    if cleaned != name {
        f.add(Severity::Warning, "NAME_CONTROL_CHARACTERS", subject, None,
            format!("the name {name:?} holds control characters (line breaks, tabs…), which a Persistent Chat name \
                     cannot: each becomes a space, giving `{cleaned}` before uniqueness is decided; rename it in \
                     rooms.csv or categories.csv to choose otherwise"));
    }
    let name = cleaned.as_str();
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
