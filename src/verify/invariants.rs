//! Target invariants: rules Persistent Chat itself relies on, checked on the target as it
//! is now. Each becomes `{name, ok, details[]}` in the verification report.
//!
//! Room lists and presenters are checked for the wave's rooms; names and history
//! references for the whole pool, since a clash with any other object breaks it too.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::target::Model;
use crate::db::scan::Fold;
use crate::db::Conn;
use crate::model::BEHAVIOR_NORMAL;
use crate::plan::build::NAME_LIMIT;

/// Details kept per invariant; the rest are counted, so a broken pool cannot flood the report.
const MAX_DETAILS: usize = 200;

/// One checked invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invariant {
    /// Stable name, e.g. `room_lists_within_scope`.
    pub name: String,
    /// The invariant holds.
    pub ok: bool,
    /// One line per violation (capped).
    pub details: Vec<String>,
}

impl Invariant {
    pub(super) fn new(name: &str, mut details: Vec<String>) -> Invariant {
        if details.len() > MAX_DETAILS {
            let more = details.len() - MAX_DETAILS;
            details.truncate(MAX_DETAILS);
            details.push(format!("… and {more} more"));
        }
        Invariant { name: name.into(), ok: details.is_empty(), details }
    }
}

/// What the history invariants need from `tblChat` and `tblLastChatId`.
#[derive(Debug, Clone, Default)]
pub struct ChatFacts {
    /// Highest `chatId` per `channelId`.
    pub max_chat: HashMap<i64, i64>,
    /// `tblLastChatId.lastChatID` rows per `nodeID`.
    pub last_rows: HashMap<i64, Vec<i64>>,
    /// (channelId, messages) of channels that are not a room in `tblNode`.
    pub orphan_channels: Vec<(i64, i64)>,
    /// (channelId, userId, messages) of authors missing from `tblPrincipal`.
    pub orphan_authors: Vec<(i64, i64, i64)>,
}

/// What the history pass saw of one room's rows in the target — enough for the history
/// invariants, so that the rooms it read are not read a second time for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomFacts {
    rows: i64,
    max_chat: Option<i64>,
    /// Messages per author that the target does not hold.
    unknown: BTreeMap<i64, i64>,
}

impl RoomFacts {
    /// Counts one row of the room; `known`: the target holds principal `user`.
    pub(crate) fn row(&mut self, chat: i64, user: i64, known: bool) {
        self.authors(user, 1, chat, known);
    }

    /// Adds `rows` rows proven earlier (their authors known then), the highest `max`.
    pub(crate) fn earlier(&mut self, rows: i64, max: Option<i64>) {
        self.rows += rows;
        self.max_chat = self.max_chat.max(max);
    }

    /// The highest `chatId` seen.
    pub(crate) fn max_chat(&self) -> Option<i64> {
        self.max_chat
    }

    /// Counts `n` rows of the room by `user`, the highest with `chatId` `max`.
    fn authors(&mut self, user: i64, n: i64, max: i64, known: bool) {
        self.rows += n;
        self.max_chat = Some(self.max_chat.map_or(max, |m| m.max(max)));
        if !known {
            *self.unknown.entry(user).or_default() += n;
        }
    }
}

/// A channel's messages summed by author: (`userId`, messages, highest `chatId`).
pub(super) const CHANNEL_AUTHORS: &str =
    "SELECT CAST(userId AS BIGINT), CAST(COUNT(*) AS BIGINT), \
    CAST(MAX(chatId) AS BIGINT) FROM tblChat WHERE channelId = $1 GROUP BY userId";
/// Each room's recorded last message.
pub(super) const LAST_CHAT: &str =
    "SELECT CAST(nodeID AS BIGINT), CAST(lastChatID AS BIGINT) FROM tblLastChatId";

/// Checks every invariant; `rooms` are the wave's target room `nodeID`s, `checked` the
/// history checks, whose rooms are not read again.
pub async fn check(
    db: &Conn,
    tg: &Model,
    rooms: &[i64],
    checked: &[super::RoomCheck],
) -> Result<Vec<Invariant>> {
    let mut out = check_facts(tg, rooms, &chat_facts(db, tg, checked).await?);
    out.push(super::last_invite::check(db, tg).await?);
    Ok(out)
}

/// [`ChatFacts`] of the target, judging references against the target model (which holds
/// every node and principal of the pool). Rooms the history pass read give their
/// [`RoomFacts`]; every other channel of `tblChat` is summed by author on the server.
async fn chat_facts(db: &Conn, tg: &Model, checked: &[super::RoomCheck]) -> Result<ChatFacts> {
    let covered: HashMap<i64, &RoomFacts> =
        checked.iter().filter_map(|c| Some((c.target_id?, c.facts.as_ref()?))).collect();
    let mut tally = Tally::default();
    let mut rest = Vec::new();
    for channel in db.distinct_ints("tblChat", "channelId").await? {
        match covered.get(&channel) {
            Some(f) => tally.room(channel, f),
            None => rest.push(Some(channel)),
        }
    }
    let authors = Fold::new(Vec::new, |v, r| {
        v.push((r.int(0)?, r.int(1)?, r.int(2)?));
        Ok(())
    });
    let facts = |(), authors: Vec<(i64, i64, i64)>| {
        let mut f = RoomFacts::default();
        for (user, n, max) in authors {
            f.authors(user, n, max, tg.principals.contains_key(&user));
        }
        Ok(f)
    };
    let sums = db
        .fold_each_key("reading tblChat", CHANNEL_AUTHORS, &rest, &authors, |_| Ok(()), facts)
        .await?;
    for (channel, f) in rest.into_iter().flatten().zip(sums) {
        tally.room(channel, &f);
    }
    let mut f = tally.finish(tg);
    db.each_row("reading tblLastChatId", LAST_CHAT, &[], |r| {
        f.last_rows.entry(r.int(0)?).or_default().push(r.int(1)?);
        Ok(())
    })
    .await?;
    Ok(f)
}

/// Chat facts being gathered: per channel, rows and highest `chatId`; per (channel,
/// author the target lacks), rows.
#[derive(Default)]
struct Tally {
    max_chat: HashMap<i64, i64>,
    per_channel: BTreeMap<i64, i64>,
    orphans: BTreeMap<(i64, i64), i64>,
}

impl Tally {
    /// Adds what is known of some rows of `channel`.
    fn room(&mut self, channel: i64, f: &RoomFacts) {
        let Some(top) = f.max_chat else { return };
        let max = self.max_chat.entry(channel).or_insert(top);
        *max = (*max).max(top);
        *self.per_channel.entry(channel).or_default() += f.rows;
        for (user, n) in &f.unknown {
            *self.orphans.entry((channel, *user)).or_default() += n;
        }
    }

    fn finish(self, tg: &Model) -> ChatFacts {
        let is_room = |c: &i64| tg.nodes.get(c).is_some_and(|n| !n.is_category);
        ChatFacts {
            max_chat: self.max_chat,
            last_rows: HashMap::new(),
            orphan_channels: self.per_channel.into_iter().filter(|(c, _)| !is_room(c)).collect(),
            orphan_authors: self.orphans.into_iter().map(|((c, u), n)| (c, u, n)).collect(),
        }
    }
}

/// Every invariant, on the target model and the chat facts read from the target.
pub fn check_facts(tg: &Model, rooms: &[i64], facts: &ChatFacts) -> Vec<Invariant> {
    let mut out = vec![lists_within_scope(tg, rooms), no_presenters_in_normal_rooms(tg, rooms)];
    out.extend(names(tg));
    out.push(last_chat_id(facts, tg, rooms));
    out.push(chat_references(facts));
    out
}

/// `` `name` (guid) `` for messages.
fn label(tg: &Model, node: i64) -> String {
    tg.nodes
        .get(&node)
        .map_or_else(|| format!("node {node}"), |n| format!("`{}` ({})", n.name, n.guid))
}

fn uri(tg: &Model, p: i64) -> String {
    tg.principals.get(&p).map_or_else(|| format!("principal {p}"), |x| x.uri.clone())
}

/// Room lists ⊆ allowed(c) − denied(c), expanding affiliations (MAPPING.md §4 Rooms).
fn lists_within_scope(tg: &Model, rooms: &[i64]) -> Invariant {
    let mut details = Vec::new();
    for &r in rooms {
        let Some(node) = tg.nodes.get(&r) else { continue };
        for (role, list) in tg.lists(r).named() {
            for &p in list.iter().filter(|p| !tg.in_scope(**p, node.parent)) {
                details.push(format!(
                    "{}: {role} {} is not within the allowed minus denied members of category {}",
                    label(tg, r),
                    uri(tg, p),
                    label(tg, node.parent)
                ));
            }
        }
    }
    Invariant::new("room_lists_within_scope", details)
}

/// Presenters exist only in auditorium rooms.
fn no_presenters_in_normal_rooms(tg: &Model, rooms: &[i64]) -> Invariant {
    let mut details = Vec::new();
    for &r in rooms {
        if tg.nodes.get(&r).is_some_and(|n| n.behavior == BEHAVIOR_NORMAL) {
            for &p in &tg.lists(r).presenters {
                details.push(format!(
                    "{}: presenter {} in a normal room",
                    label(tg, r),
                    uri(tg, p)
                ));
            }
        }
    }
    Invariant::new("no_presenters_in_normal_rooms", details)
}

/// Names unique per pool across rooms and categories (case-insensitive), and ≤ 256 characters.
fn names(tg: &Model) -> [Invariant; 2] {
    let mut by_name: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut long = Vec::new();
    for (id, n) in &tg.nodes {
        by_name.entry(n.name.to_lowercase()).or_default().push(*id);
        let len = n.name.chars().count();
        if len > NAME_LIMIT {
            long.push(format!("{}: {len} characters (limit {NAME_LIMIT})", label(tg, *id)));
        }
    }
    let dups = by_name
        .values()
        .filter(|ids| ids.len() > 1)
        .map(|ids| {
            format!(
                "{} share one name",
                ids.iter().map(|i| label(tg, *i)).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    [Invariant::new("unique_names", dups), Invariant::new("name_length", long)]
}

/// `tblLastChatId` holds each room's highest `chatId` (no row for a room without history).
fn last_chat_id(f: &ChatFacts, tg: &Model, rooms: &[i64]) -> Invariant {
    let mut details = Vec::new();
    for &r in rooms {
        let rows = f.last_rows.get(&r).map_or(&[][..], Vec::as_slice);
        let ok = match f.max_chat.get(&r) {
            Some(m) => rows == [*m],
            None => rows.is_empty() || rows == [0],
        };
        if !ok {
            let have = if rows.is_empty() { "no row".into() } else { format!("{rows:?}") };
            let want = f
                .max_chat
                .get(&r)
                .map_or_else(|| "no history".into(), |m| format!("highest chatId {m}"));
            details
                .push(format!("{}: tblLastChatId has {have}, the room has {want}", label(tg, r)));
        }
    }
    Invariant::new("last_chat_id", details)
}

/// Every `tblChat` row points at an existing room node and an existing principal.
fn chat_references(f: &ChatFacts) -> Invariant {
    let mut details = Vec::new();
    for (room, n) in &f.orphan_channels {
        details.push(format!("{n} message(s) in channelId {room}, which is not a room in tblNode"));
    }
    for (room, user, n) in &f.orphan_authors {
        details.push(format!(
            "{n} message(s) in channelId {room} by userId {user}, which is not in tblPrincipal"
        ));
    }
    Invariant::new("chat_references", details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::target::{CategoryScope, RoomLists, TargetNode, TargetPrincipal};

    fn node(parent: i64, name: &str, is_category: bool) -> TargetNode {
        TargetNode {
            guid: format!("g-{name}"),
            parent,
            is_category,
            name: name.into(),
            disabled: false,
            behavior: 4,
            visibility: 3,
        }
    }

    #[test]
    fn flags_out_of_scope_lists_presenters_and_name_clashes() {
        let mut tg = Model::default();
        for id in [10, 11] {
            tg.principals.insert(
                id,
                TargetPrincipal { uri: format!("sip:{id}"), disabled: false, is_user: true },
            );
        }
        tg.nodes.insert(2, node(1, "Sales", true));
        tg.nodes.insert(5, node(2, "sales", false));
        tg.nodes.insert(6, node(2, &"x".repeat(NAME_LIMIT + 1), false));
        tg.scopes.insert(2, CategoryScope { allowed: [10].into(), denied: Default::default() });
        tg.lists.insert(
            5,
            RoomLists { members: [10, 11].into(), presenters: [10].into(), ..Default::default() },
        );
        let lists = lists_within_scope(&tg, &[5, 6]);
        assert_eq!(lists.details.len(), 1, "{lists:?}");
        assert!(lists.details[0].contains("member sip:11"));
        assert!(!no_presenters_in_normal_rooms(&tg, &[5]).ok);
        let [unique, long] = names(&tg);
        assert!(!unique.ok && unique.details[0].contains("`Sales`"));
        assert_eq!(long.details.len(), 1);
    }

    #[test]
    fn chat_facts_flag_stale_last_chat_ids_and_dangling_references() {
        let mut tg = Model::default();
        for (id, name) in [(5, "a"), (6, "b"), (7, "c")] {
            tg.nodes.insert(id, node(2, name, false));
        }
        let facts = ChatFacts {
            max_chat: [(5, 10), (6, 3)].into(),
            last_rows: [(5, vec![10]), (6, vec![2]), (7, vec![0])].into(),
            orphan_channels: vec![(9, 4)],
            orphan_authors: vec![(5, 77, 2)],
        };
        let all = check_facts(&tg, &[5, 6, 7], &facts);
        let get = |n: &str| all.iter().find(|i| i.name == n).unwrap();
        let last = get("last_chat_id");
        assert_eq!(last.details.len(), 1, "{last:?}");
        assert!(last.details[0].contains("`b`") && last.details[0].contains("highest chatId 3"));
        let refs = get("chat_references");
        assert!(!refs.ok && refs.details.len() == 2, "{refs:?}");
        assert!(refs.details[0].contains("channelId 9") && refs.details[1].contains("userId 77"));
    }

    #[test]
    fn caps_details() {
        let inv = Invariant::new("x", (0..MAX_DETAILS + 5).map(|i| i.to_string()).collect());
        assert_eq!(inv.details.len(), MAX_DETAILS + 1);
        assert!(inv.details.last().is_some_and(|d| d.contains("5 more")));
    }
}
