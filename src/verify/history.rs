//! History reconciliation: per-room counts and an order-sensitive checksum of the messages
//! on both sides, with the first differing `chatId` when they disagree.
//!
//! The source side is the staged snapshot after the plan's message rules; the target side
//! is streamed back from `tblChat`. A passing room keeps only two running checksums; only
//! a room that disagrees is read a second time keeping its (chatId, hash) pairs.
//!
//! A room check is a `Pass`: the source side (`Rooms::source_pass`) and the target rows
//! folded into a `TargetDigest`, then `Pass::finish`. One pass for every engine:
//! [`Conn::fold_each_key`] reads each room's target rows the engine's fastest way (SQLite
//! rooms in parallel, PostgreSQL a room ahead) while the staged side is hashed.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::invariants::RoomFacts;
use super::{Mismatch, RoomCheck};
use crate::db::scan::Fold;
use crate::db::Conn;
use crate::load::IdMap;
use crate::model::{ticks_to_iso, Snapshot};
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::{Plan, PlanRoom};
use crate::staging::Workspace;

/// What every room check reads: the staged history, the message rules, the id map and the
/// target's `prinUri` per `prinID` (authors are compared by URI).
pub(super) struct Rooms<'a> {
    pub(super) ws: &'a Workspace,
    classifier: Classifier,
    map: &'a IdMap,
    pub(super) uris: Arc<HashMap<i64, String>>,
    /// The load's `ma-filelink:` rewrite, applied to the source side too.
    rewrite: Option<crate::files::link::Rules>,
}

/// One check of one room in progress: its source side, hashed.
pub(super) struct Pass {
    check: RoomCheck,
    src: blake3::Hash,
    expected: Vec<(i64, blake3::Hash)>,
}

/// The target side of a room check: its running checksum and count, and with `collect`
/// the (chatId, content hash) pairs. Built apart from the [`Pass`]: the engine may read
/// the target on another task while the source side is hashed.
pub(super) struct TargetDigest {
    collect: bool,
    hasher: blake3::Hasher,
    rows: u64,
    actual: Vec<(i64, blake3::Hash)>,
    facts: RoomFacts,
}

impl TargetDigest {
    pub(super) fn new(collect: bool) -> TargetDigest {
        TargetDigest {
            collect,
            hasher: blake3::Hasher::new(),
            rows: 0,
            actual: Vec::new(),
            facts: RoomFacts::default(),
        }
    }

    /// Folds one target message in (rows must come in `chatId` order).
    pub(super) fn row(&mut self, k: &Key<'_>) {
        hash(&mut self.hasher, k);
        self.rows += 1;
        self.facts.row(k.chat_id, k.user, k.known);
        if self.collect {
            self.actual.push((k.chat_id, blake3::hash(k.content)));
        }
    }
}

impl<'a> Rooms<'a> {
    /// The shared state of a history check; `uris` are the target's principals.
    pub(super) fn new(
        ws: &'a Workspace,
        plan: &Plan,
        snap: &Snapshot,
        map: &'a IdMap,
        uris: HashMap<i64, String>,
    ) -> Rooms<'a> {
        let since = plan.options.since.as_deref();
        let classifier = Classifier::new(&plan.rooms, &plan.excluded_rooms, snap, since);
        let rules =
            crate::files::link::Rules::new(&plan.options.files, snap.filestore_uri.as_deref());
        let rewrite = rules.rewrites().then_some(rules);
        Rooms { ws, classifier, map, uris: Arc::new(uris), rewrite }
    }

    /// The target `prinUri` of target principal `id` (empty when it does not exist).
    pub(super) fn uri(&self, id: i64) -> &str {
        uri(&self.uris, id)
    }

    /// The target room of `room` (`None`: not in the target).
    pub(super) fn target_of(&self, room: &PlanRoom) -> Option<i64> {
        self.map.rooms.get(&room.legacy_id).copied()
    }

    /// Reads and hashes the source side of `room` (synchronously): every staged row, or
    /// with `after` only those past that `chatId`. With `collect`, keeps the (chatId,
    /// content hash) pairs to name the first mismatch.
    pub(super) fn source_pass(
        &self,
        room: &PlanRoom,
        collect: bool,
        after: Option<i64>,
    ) -> Result<Pass> {
        let mut check = RoomCheck {
            legacy_guid: room.legacy_guid.clone(),
            legacy_path: room.legacy_path.clone(),
            target_id: self.target_of(room),
            ..Default::default()
        };
        let mut expected = Vec::new();
        let mut src = blake3::Hasher::new();
        let mut dates = None;
        let row = |c: crate::staging::ChatRef<'_>| {
            check.read += 1;
            check.cut = c.chat_id;
            match self.classifier.classify(c.channel_id, c.user_id, c.chat_date) {
                Disposition::Load => {
                    let author = self.map.principals.get(&c.user_id).map_or("", |t| self.uri(*t));
                    let content = match &self.rewrite {
                        Some(r) => r.rewrite(c.content),
                        None => std::borrow::Cow::Borrowed(c.content),
                    };
                    let k = Key {
                        chat_id: c.chat_id,
                        date: c.chat_date,
                        user: c.user_id,
                        known: true,
                        author,
                        alert: c.is_alert,
                        content: &content,
                    };
                    hash(&mut src, &k);
                    // Dates are formatted once per room, after the pass.
                    dates.get_or_insert((k.date, k.date)).1 = k.date;
                    check.expected += 1;
                    if collect {
                        expected.push((k.chat_id, blake3::hash(k.content)));
                    }
                }
                Disposition::Excluded(_) => check.excluded += 1,
                Disposition::Rejected(_) => check.rejected += 1,
            }
        };
        match after {
            None => self.ws.for_each_chat_ref(room.legacy_id, row)?,
            Some(cut) => self.ws.for_each_chat_ref_after(room.legacy_id, cut, row)?,
        }
        if let Some((first, last)) = dates {
            check.first_date = ticks_to_iso(first);
            check.last_date = ticks_to_iso(last);
        }
        let src = src.finalize();
        Ok(Pass { check, src, expected })
    }
}

impl Pass {
    /// Staged rows this pass read.
    pub(super) fn read(&self) -> u64 {
        self.check.read
    }

    /// The room's result against its `target` side; `None` when they disagree and this
    /// pass did not collect the pairs that name the first mismatch (run it again with
    /// `collect`).
    pub(super) fn finish(self, target: TargetDigest) -> Option<RoomCheck> {
        let mut check = self.check;
        check.loaded = target.rows;
        // The room's rows were all read: the invariants need not read them again.
        check.facts = check.target_id.map(|_| target.facts);
        check.checksum_match = check.target_id.is_some()
            && check.loaded == check.expected
            && self.src == target.hasher.finalize();
        if !check.checksum_match {
            if !target.collect {
                return None;
            }
            check.first_mismatch = first_mismatch(&self.expected, &target.actual);
        }
        Some(check)
    }
}

/// Checks the history of every room of `wave`, one [`RoomCheck`] per room: the rooms
/// `base` (a passing verify's baseline) may vouch for incrementally (`window.rs`), then
/// every other room keeping checksums only, then again, a few rooms at a time, each room
/// that disagrees, keeping the (chatId, hash) pairs that name its first mismatch.
pub async fn check(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    db: &Conn,
    map: &IdMap,
    wave: Option<&str>,
    base: Option<&super::window::Baseline>,
) -> Result<(Vec<RoomCheck>, super::window::HistoryMode)> {
    let uris = db
        .rows("reading tblPrincipal", URIS, &[], |r| Ok((r.int(0)?, r.text(1)?)))
        .await?
        .into_iter()
        .collect();
    let rooms = Rooms::new(ws, plan, snap, map, uris);
    let list: Vec<&PlanRoom> = plan.rooms_in(wave).collect();
    let (mut out, mut mode) = super::window::incremental(db, &rooms, snap, &list, base).await?;
    let whole: Vec<usize> = (0..out.len()).filter(|&i| out[i].is_none()).collect();
    let some: Vec<&PlanRoom> = whole.iter().map(|&i| list[i]).collect();
    for (&i, check) in whole.iter().zip(passes(db, &rooms, &some, false).await?) {
        out[i] = check;
    }
    let again: Vec<usize> = whole.iter().copied().filter(|&i| out[i].is_none()).collect();
    // Memory stays flat: a collecting pass holds its rooms' pairs, so few rooms at once.
    for chunk in again.chunks(rayon::current_num_threads().max(1)) {
        let some: Vec<&PlanRoom> = chunk.iter().map(|&i| list[i]).collect();
        for (&i, check) in chunk.iter().zip(passes(db, &rooms, &some, true).await?) {
            out[i] = Some(check.context("a collecting pass always finishes")?);
        }
    }
    let out: Vec<RoomCheck> = out.into_iter().flatten().collect();
    mode.rooms_full = whole.len() as u64;
    mode.target_rows_read += whole.iter().map(|&i| out[i].loaded).sum::<u64>();
    Ok((out, mode))
}

/// The checks of `list` ([`Pass::finish`]): each room's staged side hashed while the
/// engine reads its target rows (see [`Conn::fold_each_key`]).
async fn passes(
    db: &Conn,
    rooms: &Rooms<'_>,
    list: &[&PlanRoom],
    collect: bool,
) -> Result<Vec<Option<RoomCheck>>> {
    let keys: Vec<Option<i64>> = list.iter().map(|r| rooms.target_of(r)).collect();
    let uris = Arc::clone(&rooms.uris);
    let target = Fold::new(
        move || TargetDigest::new(collect),
        move |d, r| {
            let alert = r.int(3)? != 0;
            d.row(&Key::target(&uris, r.int(0)?, r.int(1)?, r.int(2)?, alert, r.bytes(4)?));
            Ok(())
        },
    );
    let source = |i: usize| rooms.source_pass(list[i], collect, None);
    let finish = |pass: Pass, target| Ok(pass.finish(target));
    db.fold_each_key("reading tblChat", TARGET_CHATS, &keys, &target, source, finish).await
}

/// `prinUri` of a target principal, empty when there is none.
fn uri(uris: &HashMap<i64, String>, id: i64) -> &str {
    uris.get(&id).map_or("", String::as_str)
}

/// The target's principals: authors are compared by URI.
pub(super) const URIS: &str = "SELECT CAST(prinID AS BIGINT), prinUri FROM tblPrincipal";

/// A room's messages; authors are turned into URIs through [`Rooms`]'s map rather than a
/// join, which PostgreSQL would answer with a scan of `tblPrincipal` per room.
pub(super) const TARGET_CHATS: &str = "SELECT CAST(chatId AS BIGINT), CAST(chatDate AS BIGINT), \
    CAST(userId AS BIGINT), CAST(isAlert AS BIGINT), content FROM tblChat \
    WHERE channelId = $1 ORDER BY chatId";

/// One message as both sides compare it, borrowed from the row being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key<'a> {
    chat_id: i64,
    date: i64,
    /// The row's `userId` and whether its side knows that principal: facts for the
    /// history invariants, not part of the checksum (the author's URI is).
    user: i64,
    known: bool,
    author: &'a str,
    alert: bool,
    content: &'a [u8],
}

impl<'a> Key<'a> {
    /// A target row as the check compares it: its author by the target's `prinUri`
    /// (empty, and not `known`, when `uris` lacks that principal).
    pub(super) fn target(
        uris: &'a HashMap<i64, String>,
        chat_id: i64,
        date: i64,
        user: i64,
        alert: bool,
        content: &'a [u8],
    ) -> Key<'a> {
        let author = uris.get(&user);
        Key {
            chat_id,
            date,
            user,
            known: author.is_some(),
            author: author.map_or("", String::as_str),
            alert,
            content,
        }
    }
}

/// Folds a message into a room checksum: the fixed-size fields go in as one block, each
/// text with its length before it, so no two messages hash alike by shifting bytes.
pub(super) fn hash(h: &mut blake3::Hasher, k: &Key<'_>) {
    let mut head = [0u8; 24];
    head[..8].copy_from_slice(&k.chat_id.to_le_bytes());
    head[8..16].copy_from_slice(&k.date.to_le_bytes());
    head[16..].copy_from_slice(&(k.author.len() as u64).to_le_bytes());
    h.update(&head);
    h.update(k.author.as_bytes());
    let mut mid = [0u8; 9];
    mid[0] = k.alert as u8;
    mid[1..].copy_from_slice(&(k.content.len() as u64).to_le_bytes());
    h.update(&mid);
    h.update(k.content);
}

/// The first chatId where the (id, content hash) sequences differ; other fields are
/// covered by the room checksum, so a same-content mismatch is reported as `metadata`.
fn first_mismatch(exp: &[(i64, blake3::Hash)], act: &[(i64, blake3::Hash)]) -> Option<Mismatch> {
    let (mut i, mut j) = (0, 0);
    while i < exp.len() || j < act.len() {
        match (exp.get(i), act.get(j)) {
            (Some(e), Some(a)) if e.0 == a.0 => {
                if e.1 != a.1 {
                    return Some(Mismatch { chat_id: e.0, what: "content".into() });
                }
                i += 1;
                j += 1;
            }
            (Some(e), Some(a)) if e.0 < a.0 => {
                return Some(Mismatch { chat_id: e.0, what: "missing in target".into() })
            }
            (Some(_), Some(a)) => {
                return Some(Mismatch { chat_id: a.0, what: "extra in target".into() })
            }
            (Some(e), None) => {
                return Some(Mismatch { chat_id: e.0, what: "missing in target".into() })
            }
            (None, Some(a)) => {
                return Some(Mismatch { chat_id: a.0, what: "extra in target".into() })
            }
            (None, None) => break,
        }
    }
    exp.first().map(|e| Mismatch { chat_id: e.0, what: "chatDate, author or isAlert".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(ids: &[(i64, &str)]) -> Vec<(i64, blake3::Hash)> {
        ids.iter().map(|(i, c)| (*i, blake3::hash(c.as_bytes()))).collect()
    }

    #[test]
    fn names_the_first_differing_chat_id() {
        let exp = seq(&[(1, "a"), (2, "b"), (3, "c")]);
        let what =
            |act: &[(i64, &str)]| first_mismatch(&exp, &seq(act)).map(|m| (m.chat_id, m.what));
        assert_eq!(what(&[(1, "a"), (3, "c")]), Some((2, "missing in target".into())));
        assert_eq!(what(&[(1, "a"), (2, "B"), (3, "c")]), Some((2, "content".into())));
        assert_eq!(
            what(&[(1, "a"), (2, "b"), (3, "c"), (4, "d")]),
            Some((4, "extra in target".into()))
        );
        assert_eq!(
            what(&[(1, "a"), (2, "b"), (3, "c")]),
            Some((1, "chatDate, author or isAlert".into()))
        );
    }
}
