//! History reconciliation: per-room counts and an order-sensitive checksum of the messages
//! on both sides, with the first differing `chatId` when they disagree.
//!
//! The source side is the staged snapshot after the plan's message rules; the target side
//! is streamed back from `tblChat`. A passing room keeps only two running checksums; only
//! a room that disagrees is read a second time keeping its (chatId, hash) pairs.

use std::collections::HashMap;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Mismatch, RoomCheck};
use crate::db::Db;
use crate::load::IdMap;
use crate::model::{ticks_to_iso, Chat, Snapshot};
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::Plan;
use crate::staging::Workspace;

/// Checks the history of every room of `wave`, one [`RoomCheck`] per room.
pub async fn check(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    db: &Db,
    map: &IdMap,
    wave: Option<&str>,
) -> Result<Vec<RoomCheck>> {
    let uris: HashMap<i64, String> =
        sqlx::query("SELECT CAST(prinID AS BIGINT), prinUri FROM tblPrincipal")
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)))
            .collect::<Result<_>>()?;
    let classifier =
        Classifier::new(&plan.rooms, &plan.excluded_rooms, snap, plan.options.since.as_deref());
    let lite = db.url.sqlite_path().map(crate::lite::Readers::new);
    let mut out = Vec::new();
    for room in plan.rooms_in(wave) {
        // Pass 1 keeps only the checksums (memory flat in the messages); a room that
        // disagrees is read again, keeping its (chatId, hash) pairs to name the first mismatch.
        for collect in [false, true] {
            let mut check = RoomCheck {
                legacy_guid: room.legacy_guid.clone(),
                legacy_path: room.legacy_path.clone(),
                ..Default::default()
            };
            check.target_id = map.rooms.get(&room.legacy_id).copied();
            let mut expected = Vec::new();
            let mut src_hash = blake3::Hasher::new();
            ws.for_each_chat(room.legacy_id, |c: Chat| {
                check.read += 1;
                match classifier.classify(c.channel_id, c.user_id, c.chat_date) {
                    Disposition::Load => {
                        let author = map
                            .principals
                            .get(&c.user_id)
                            .and_then(|t| uris.get(t))
                            .cloned()
                            .unwrap_or_default();
                        let k = Key {
                            chat_id: c.chat_id,
                            date: c.chat_date,
                            author,
                            alert: c.is_alert,
                            content: c.content,
                        };
                        hash(&mut src_hash, &k);
                        check
                            .first_date
                            .get_or_insert_with(|| ticks_to_iso(k.date).unwrap_or_default());
                        check.last_date = ticks_to_iso(k.date);
                        check.expected += 1;
                        if collect {
                            expected.push((k.chat_id, blake3::hash(k.content.as_bytes())));
                        }
                    }
                    Disposition::Excluded(_) => check.excluded += 1,
                    Disposition::Rejected(_) => check.rejected += 1,
                }
            })
            .await?;
            let mut tgt_hash = blake3::Hasher::new();
            let mut actual = Vec::new();
            if let Some(id) = check.target_id {
                target_chats(db, lite.as_ref(), id, |k| {
                    hash(&mut tgt_hash, &k);
                    check.loaded += 1;
                    if collect {
                        actual.push((k.chat_id, blake3::hash(k.content.as_bytes())));
                    }
                })
                .await?;
            }
            check.checksum_match = check.target_id.is_some()
                && check.loaded == check.expected
                && src_hash.finalize() == tgt_hash.finalize();
            if !check.checksum_match && !collect {
                continue;
            }
            if !check.checksum_match {
                check.first_mismatch = first_mismatch(&expected, &actual);
            }
            out.push(check);
            break;
        }
    }
    Ok(out)
}

const TARGET_CHATS: &str = "SELECT CAST(c.chatId AS BIGINT), CAST(c.chatDate AS BIGINT), p.prinUri, \
    CAST(c.isAlert AS BIGINT), c.content FROM tblChat c LEFT JOIN tblPrincipal p ON p.prinID = c.userId \
    WHERE c.channelId = $1 ORDER BY c.chatId";

/// Streams the target's messages of room `id` in `chatId` order to `f` (an SQLite target
/// directly, see [`crate::lite`]; PostgreSQL through sqlx).
async fn target_chats(
    db: &Db,
    lite: Option<&crate::lite::Readers>,
    id: i64,
    mut f: impl FnMut(Key),
) -> Result<()> {
    if let Some(lite) = lite {
        return crate::lite::blocking(|| {
            lite.with(|c| {
                let mut rows = c.prepare_cached(TARGET_CHATS)?;
                let mut rows = rows.query([id])?;
                while let Some(r) = rows.next()? {
                    f(Key {
                        chat_id: r.get(0)?,
                        date: r.get(1)?,
                        author: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        alert: r.get::<_, i64>(3)? != 0,
                        content: r.get(4)?,
                    });
                }
                Ok(())
            })
        })
        .context("reading tblChat from the target");
    }
    let mut rows = sqlx::query(TARGET_CHATS).bind(id).fetch(&db.pool);
    while let Some(r) = rows.try_next().await.context("reading tblChat from the target")? {
        f(Key {
            chat_id: r.try_get(0)?,
            date: r.try_get(1)?,
            author: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
            alert: r.try_get::<i64, _>(3)? != 0,
            content: r.try_get(4)?,
        });
    }
    Ok(())
}

/// One message as both sides compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Key {
    pub(super) chat_id: i64,
    pub(super) date: i64,
    pub(super) author: String,
    pub(super) alert: bool,
    pub(super) content: String,
}

pub(super) fn hash(h: &mut blake3::Hasher, k: &Key) {
    h.update(&k.chat_id.to_le_bytes());
    h.update(&k.date.to_le_bytes());
    h.update(&(k.author.len() as u64).to_le_bytes());
    h.update(k.author.as_bytes());
    h.update(&[k.alert as u8]);
    h.update(&(k.content.len() as u64).to_le_bytes());
    h.update(k.content.as_bytes());
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
