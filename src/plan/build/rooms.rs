//! Rooms on their way into categories: the class key whose differences split a legacy
//! category, the drafts and rejections of step 1, and the naming rules (flattened names
//! made unique, derived GUIDs, topics folded into descriptions) that both categories and
//! rooms go through.

use std::collections::HashSet;

use super::findings::Findings;
use crate::mapping::legacy::{Legacy, Scope, TreeError, ROOT};
use crate::model::Node;
use crate::plan::{ExcludedRoom, Severity};

/// Persistent Chat's name limit (`nvarchar(256)`).
pub const NAME_LIMIT: usize = 256;

/// Category-level properties shared by the rooms of one target category.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct ClassKey {
    pub(super) parent: i64,
    pub(super) scope: Scope,
    pub(super) logged: bool,
    pub(super) file_post: bool,
    pub(super) invite: bool,
}

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

pub(super) fn reject_room(
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

pub(super) fn split_reason(own: &ClassKey, key: &ClassKey, lg: &Legacy<'_>) -> String {
    let mut why = Vec::new();
    if own.scope != key.scope {
        let n = match &key.scope {
            Scope::Everyone => "every user".to_string(),
            Scope::Set(s) => format!("{} principal(s)", s.len()),
        };
        why.push(format!("scope differs ({n})"));
    }
    if own.logged != key.logged {
        why.push(format!("chat history is {}", if key.logged { "on" } else { "off" }));
    }
    if own.file_post != key.file_post {
        why.push(format!("file upload is {}", if key.file_post { "on" } else { "off" }));
    }
    if own.invite != key.invite {
        why.push(format!("invitations are {}", if key.invite { "on" } else { "off" }));
    }
    let _ = lg;
    if why.is_empty() {
        "settings differ".into()
    } else {
        why.join(", ")
    }
}

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
