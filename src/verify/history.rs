//! History reconciliation: per-room counts and an order-sensitive checksum of the messages
//! on both sides, with the first differing `chatId` when they disagree.
//!
//! The source side is the staged snapshot after the plan's message rules; the target side
//! is streamed back from `tblChat`. A passing room keeps only two running checksums; only
//! a room that disagrees is read a second time keeping its (chatId, hash) pairs.
//!
//! A room check is a [`Pass`]: the source side first ([`Rooms::source_pass`]), then each
//! target row folded in ([`Pass::target_row`]), then [`Pass::finish`]. Every backend drives
//! the same passes; an SQLite target is read directly and its rooms checked in parallel; a
//! PostgreSQL target is read by a spawned task, a room ahead, into a [`TargetDigest`].

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use rayon::prelude::*;
use sqlx::Row;

use super::invariants::RoomFacts;
use super::{Mismatch, RoomCheck};
use crate::db::cells::each_row;
use crate::db::Db;
use crate::load::IdMap;
use crate::model::{ticks_to_iso, Snapshot};
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::{Plan, PlanRoom};
use crate::staging::Workspace;

/// What every room check reads: the staged history, the message rules, the id map and the
/// target's `prinUri` per `prinID` (authors are compared by URI).
pub(super) struct Rooms<'a> {
    ws: &'a Workspace,
    classifier: Classifier,
    map: &'a IdMap,
    uris: Arc<HashMap<i64, String>>,
}

/// One check of one room in progress.
pub(super) struct Pass {
    check: RoomCheck,
    src: blake3::Hash,
    expected: Vec<(i64, blake3::Hash)>,
    target: TargetDigest,
}

/// The target side of a room check: its running checksum and count, and with `collect`
/// the (chatId, content hash) pairs. Built apart from the [`Pass`] when another task reads
/// the target while the source side is hashed.
pub(super) struct TargetDigest {
    collect: bool,
    hasher: blake3::Hasher,
    rows: u64,
    actual: Vec<(i64, blake3::Hash)>,
    facts: RoomFacts,
}

impl TargetDigest {
    fn new(collect: bool) -> TargetDigest {
        TargetDigest {
            collect,
            hasher: blake3::Hasher::new(),
            rows: 0,
            actual: Vec::new(),
            facts: RoomFacts::default(),
        }
    }

    /// Folds one target message in (rows must come in `chatId` order).
    fn row(&mut self, k: &Key<'_>) {
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
        Rooms { ws, classifier, map, uris: Arc::new(uris) }
    }

    /// The target `prinUri` of target principal `id` (empty when it does not exist).
    pub(super) fn uri(&self, id: i64) -> &str {
        uri(&self.uris, id)
    }

    /// [`Key::target`] with this check's target principals.
    pub(super) fn target_key<'k>(
        &'k self,
        chat_id: i64,
        date: i64,
        user: i64,
        alert: bool,
        content: &'k [u8],
    ) -> Key<'k> {
        Key::target(&self.uris, chat_id, date, user, alert, content)
    }

    /// The target room of `room` (`None`: not in the target).
    fn target_of(&self, room: &PlanRoom) -> Option<i64> {
        self.map.rooms.get(&room.legacy_id).copied()
    }

    /// Reads and hashes the source side of `room` (synchronously). With `collect`, keeps
    /// the (chatId, content hash) pairs to name the first mismatch.
    pub(super) fn source_pass(&self, room: &PlanRoom, collect: bool) -> Result<Pass> {
        let mut check = RoomCheck {
            legacy_guid: room.legacy_guid.clone(),
            legacy_path: room.legacy_path.clone(),
            target_id: self.target_of(room),
            ..Default::default()
        };
        let mut expected = Vec::new();
        let mut src = blake3::Hasher::new();
        let mut dates = None;
        self.ws.for_each_chat_ref(room.legacy_id, |c| {
            check.read += 1;
            match self.classifier.classify(c.channel_id, c.user_id, c.chat_date) {
                Disposition::Load => {
                    let author = self.map.principals.get(&c.user_id).map_or("", |t| self.uri(*t));
                    let k = Key {
                        chat_id: c.chat_id,
                        date: c.chat_date,
                        user: c.user_id,
                        known: true,
                        author,
                        alert: c.is_alert,
                        content: c.content,
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
        })?;
        if let Some((first, last)) = dates {
            check.first_date = ticks_to_iso(first);
            check.last_date = ticks_to_iso(last);
        }
        let src = src.finalize();
        Ok(Pass { check, src, expected, target: TargetDigest::new(collect) })
    }
}

impl Pass {
    /// The target room to read (`None`: the room is not in the target).
    pub(super) fn target_id(&self) -> Option<i64> {
        self.check.target_id
    }

    /// Folds one target message in (rows must come in `chatId` order).
    pub(super) fn target_row(&mut self, k: &Key) {
        self.target.row(k);
    }

    /// The room's result; `None` when it disagrees and this pass did not collect the pairs
    /// that name the first mismatch (run it again with `collect`).
    pub(super) fn finish(self) -> Option<RoomCheck> {
        let (mut check, target) = (self.check, self.target);
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

/// Checks the history of every room of `wave`, one [`RoomCheck`] per room.
pub async fn check(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    db: &Db,
    map: &IdMap,
    wave: Option<&str>,
) -> Result<Vec<RoomCheck>> {
    let mut uris: HashMap<i64, String> = HashMap::new();
    each_row(db, "SELECT CAST(prinID AS BIGINT), prinUri FROM tblPrincipal", |r| {
        uris.insert(r.int(0)?, r.text(1)?);
        Ok(())
    })
    .await
    .context("reading tblPrincipal from the target")?;
    let rooms = Rooms::new(ws, plan, snap, map, uris);
    let list: Vec<&PlanRoom> = plan.rooms_in(wave).collect();
    if let Some(path) = db.url.sqlite_path() {
        // Both sides are local files read synchronously: rooms in parallel, one reader of
        // each file per worker.
        let target = crate::db::lite::Readers::new(path);
        return crate::db::lite::blocking(|| {
            list.par_iter()
                .map(|room| {
                    for collect in [false, true] {
                        let mut pass = rooms.source_pass(room, collect)?;
                        if let Some(id) = pass.target_id() {
                            sqlite_chats(&target, id, |k| pass.target_row(&k), &rooms)?;
                        }
                        if let Some(c) = pass.finish() {
                            return Ok(c);
                        }
                    }
                    unreachable!("a collecting pass always finishes")
                })
                .collect()
        });
    }
    // PostgreSQL: a spawned task reads and hashes the next room's target rows while this
    // one hashes the staged side, so the server, the row decoding and the source pass
    // overlap. Each side keeps a running checksum: memory stays flat whatever a room holds.
    let pool = room_reader(db).await?;
    let spawn = |room: &PlanRoom, collect: bool| {
        let (pool, uris) = (pool.clone(), Arc::clone(&rooms.uris));
        rooms.target_of(room).map(|id| tokio::spawn(target_digest(pool, uris, id, collect)))
    };
    let mut out = Vec::new();
    let mut next = list.first().map(|r| spawn(r, false));
    for (i, room) in list.iter().enumerate() {
        let this = next.take().flatten();
        next = list.get(i + 1).map(|r| spawn(r, false));
        let mut pass = crate::db::lite::blocking(|| rooms.source_pass(room, false))?;
        if let Some(task) = this {
            pass.target = task.await.context("the target reader stopped")??;
        }
        let check = match pass.finish() {
            Some(c) => c,
            None => {
                // A mismatch: both sides again, keeping the pairs that name it.
                let mut pass = crate::db::lite::blocking(|| rooms.source_pass(room, true))?;
                if let Some(task) = spawn(room, true) {
                    pass.target = task.await.context("the target reader stopped")??;
                }
                pass.finish().context("a collecting pass always finishes")?
            }
        };
        out.push(check);
    }
    pool.close().await;
    Ok(out)
}

/// Connections for reading a PostgreSQL target room by room, in key order straight off
/// the primary key. Left to itself the planner takes a big room by bitmap heap scan and
/// sorts it, spilling to disk past `work_mem` (1M messages, a 110k-row room: 90 ms, against
/// 38 ms for the ordered index scan). Only these connections are told so: the other
/// queries of `verify` read whole tables, where a sequential scan is right.
async fn room_reader(db: &Db) -> Result<sqlx::AnyPool> {
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(
                    conn,
                    "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off",
                )
                .await?;
                Ok(())
            })
        })
        .connect(db.url.expose())
        .await
        .map_err(|e| {
            crate::error::runtime(format!(
                "cannot connect to {}: {}",
                db.url,
                crate::db::redact(&e.to_string())
            ))
        })
}

/// Reads room `id` of a target pool in `chatId` order into a [`TargetDigest`].
async fn target_digest(
    pool: sqlx::AnyPool,
    uris: Arc<HashMap<i64, String>>,
    id: i64,
    collect: bool,
) -> Result<TargetDigest> {
    let mut d = TargetDigest::new(collect);
    let mut rows = sqlx::query(TARGET_CHATS).bind(id).fetch(&pool);
    while let Some(r) = rows.try_next().await.context("reading tblChat from the target")? {
        let content: String = r.try_get(4)?;
        let alert = r.try_get::<i64, _>(3)? != 0;
        d.row(&Key::target(
            &uris,
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            alert,
            content.as_bytes(),
        ));
    }
    Ok(d)
}

/// `prinUri` of a target principal, empty when there is none.
fn uri(uris: &HashMap<i64, String>, id: i64) -> &str {
    uris.get(&id).map_or("", String::as_str)
}

/// A room's messages; authors are turned into URIs through [`Rooms`]'s map rather than a
/// join, which PostgreSQL would answer with a scan of `tblPrincipal` per room.
const TARGET_CHATS: &str = "SELECT CAST(chatId AS BIGINT), CAST(chatDate AS BIGINT), \
    CAST(userId AS BIGINT), CAST(isAlert AS BIGINT), content FROM tblChat \
    WHERE channelId = $1 ORDER BY chatId";

/// Streams an SQLite target's messages of room `id` in `chatId` order to `f`.
fn sqlite_chats(
    target: &crate::db::lite::Readers,
    id: i64,
    mut f: impl FnMut(Key<'_>),
    rooms: &Rooms<'_>,
) -> Result<()> {
    target
        .with(|c| {
            let mut rows = c.prepare_cached(TARGET_CHATS)?;
            let mut rows = rows.query([id])?;
            while let Some(r) = rows.next()? {
                let content = crate::db::lite::bytes(r, 4)?;
                let alert = r.get::<_, i64>(3)? != 0;
                f(rooms.target_key(r.get(0)?, r.get(1)?, r.get(2)?, alert, content));
            }
            Ok(())
        })
        .context("reading tblChat from the target")
}

/// One message as both sides compare it, borrowed from the row being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key<'a> {
    pub(super) chat_id: i64,
    pub(super) date: i64,
    /// The row's `userId` and whether its side knows that principal: facts for the
    /// history invariants, not part of the checksum (the author's URI is).
    pub(super) user: i64,
    pub(super) known: bool,
    pub(super) author: &'a str,
    pub(super) alert: bool,
    pub(super) content: &'a [u8],
}

impl<'a> Key<'a> {
    /// A target row as the check compares it: its author by the target's `prinUri`
    /// (empty, and not `known`, when `uris` lacks that principal).
    fn target(
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
pub(super) fn first_mismatch(
    exp: &[(i64, blake3::Hash)],
    act: &[(i64, blake3::Hash)],
) -> Option<Mismatch> {
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
