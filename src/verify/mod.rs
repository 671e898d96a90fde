//! Verification of a loaded wave: per-room counts and an order-sensitive checksum of the
//! history on both sides, with the first differing `chatId` when they disagree.
//!
//! The source side is the staged snapshot after the plan's message rules; the target side
//! is read back from the target database, never from the plan.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, DbUrl, OpenMode};
use crate::error::bad_input;
use crate::load::IdMap;
use crate::model::{ticks_to_iso, Chat, Snapshot};
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::Plan;
use crate::staging::Workspace;

/// Verification of one room.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoomCheck {
    /// Legacy GUID.
    pub legacy_guid: String,
    /// Legacy path.
    pub legacy_path: String,
    /// Target `nodeID` (None when the room is missing in the target).
    pub target_id: Option<i64>,
    /// Staged rows.
    pub read: u64,
    /// Rows the rules load (expected in the target).
    pub expected: u64,
    /// Rows found in the target.
    pub loaded: u64,
    /// Rows excluded by rule.
    pub excluded: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// First and last `chatDate` of the expected rows (ISO).
    pub first_date: Option<String>,
    /// Last `chatDate`.
    pub last_date: Option<String>,
    /// Checksums agree (and counts do).
    pub checksum_match: bool,
    /// The first differing message, when they disagree.
    pub first_mismatch: Option<Mismatch>,
}

/// Where two histories first differ.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mismatch {
    /// The `chatId`.
    pub chat_id: i64,
    /// What differs: `missing in target`, `extra in target`, `content`, `chatDate`, `author`, `isAlert`.
    pub what: String,
}

/// The verification result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Everything reconciles.
    pub ok: bool,
    /// Wave.
    pub wave: String,
    /// Target (redacted).
    pub target: String,
    /// Per room.
    pub rooms: Vec<RoomCheck>,
    /// Totals: read = loaded + excluded + rejected.
    pub totals: BTreeMap<String, u64>,
}

/// One message as both sides compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    chat_id: i64,
    date: i64,
    author: String,
    alert: bool,
    content: String,
}

fn hash(h: &mut blake3::Hasher, k: &Key) {
    h.update(&k.chat_id.to_le_bytes());
    h.update(&k.date.to_le_bytes());
    h.update(&(k.author.len() as u64).to_le_bytes());
    h.update(k.author.as_bytes());
    h.update(&[k.alert as u8]);
    h.update(&(k.content.len() as u64).to_le_bytes());
    h.update(k.content.as_bytes());
}

/// Reads the id map the load runs recorded in the target's ledger.
pub async fn ledger_map(db: &Db) -> Result<IdMap> {
    let rows = sqlx::query("SELECT body FROM gcmigrate_ledger WHERE kind = 'config' ORDER BY written_at")
        .fetch_all(&db.pool)
        .await
        .map_err(|_| bad_input(format!("{} holds no gcmigrate ledger: nothing was loaded into it", db.url)))?;
    let mut map = IdMap::default();
    for r in rows {
        let m: IdMap = serde_json::from_str(&r.try_get::<String, _>(0)?)?;
        map.principals.extend(m.principals);
        map.categories.extend(m.categories);
        map.rooms.extend(m.rooms);
    }
    Ok(map)
}

/// Verifies the history of a wave (or all) against `target`.
pub async fn verify(ws: &Workspace, plan: &Plan, snap: &Snapshot, target: &DbUrl, wave: Option<&str>) -> Result<VerifyReport> {
    let db = Db::connect(target, OpenMode::Existing, 4).await?;
    let map = ledger_map(&db).await?;
    let uris: HashMap<i64, String> = sqlx::query("SELECT CAST(prinID AS BIGINT), prinUri FROM tblPrincipal")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<_>>()?;
    let classifier = Classifier::new(&plan.rooms, &plan.excluded_rooms, snap, plan.options.since.as_deref());
    let mut report = VerifyReport { ok: true, wave: wave.unwrap_or("all").into(), target: target.to_string(), ..Default::default() };
    for room in plan.rooms_in(wave) {
        let mut check = RoomCheck { legacy_guid: room.legacy_guid.clone(), legacy_path: room.legacy_path.clone(), ..Default::default() };
        check.target_id = map.rooms.get(&room.legacy_id).copied();
        let mut expected = Vec::new();
        let mut src_hash = blake3::Hasher::new();
        ws.for_each_chat(room.legacy_id, |c: Chat| {
            check.read += 1;
            match classifier.classify(c.channel_id, c.user_id, c.chat_date) {
                Disposition::Load => {
                    let author = map.principals.get(&c.user_id).and_then(|t| uris.get(t)).cloned().unwrap_or_default();
                    let k = Key { chat_id: c.chat_id, date: c.chat_date, author, alert: c.is_alert, content: c.content };
                    hash(&mut src_hash, &k);
                    check.first_date.get_or_insert_with(|| ticks_to_iso(k.date).unwrap_or_default());
                    check.last_date = ticks_to_iso(k.date);
                    check.expected += 1;
                    expected.push((k.chat_id, blake3::hash(k.content.as_bytes())));
                }
                Disposition::Excluded(_) => check.excluded += 1,
                Disposition::Rejected(_) => check.rejected += 1,
            }
        })
        .await?;
        let mut tgt_hash = blake3::Hasher::new();
        let mut actual = Vec::new();
        if let Some(id) = check.target_id {
            let mut rows = sqlx::query(
                "SELECT CAST(c.chatId AS BIGINT), CAST(c.chatDate AS BIGINT), p.prinUri, CAST(c.isAlert AS BIGINT), c.content \
                 FROM tblChat c LEFT JOIN tblPrincipal p ON p.prinID = c.userId WHERE c.channelId = $1 ORDER BY c.chatId",
            )
            .bind(id)
            .fetch(&db.pool);
            while let Some(r) = rows.try_next().await.context("reading tblChat from the target")? {
                let k = Key {
                    chat_id: r.try_get(0)?,
                    date: r.try_get(1)?,
                    author: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                    alert: r.try_get::<i64, _>(3)? != 0,
                    content: r.try_get(4)?,
                };
                hash(&mut tgt_hash, &k);
                check.loaded += 1;
                actual.push((k.chat_id, blake3::hash(k.content.as_bytes())));
            }
        }
        check.checksum_match = check.target_id.is_some() && check.loaded == check.expected && src_hash.finalize() == tgt_hash.finalize();
        if !check.checksum_match {
            report.ok = false;
            check.first_mismatch = first_mismatch(&expected, &actual);
        }
        report.rooms.push(check);
    }
    for (k, v) in [
        ("read", report.rooms.iter().map(|r| r.read).sum::<u64>()),
        ("expected", report.rooms.iter().map(|r| r.expected).sum()),
        ("loaded", report.rooms.iter().map(|r| r.loaded).sum()),
        ("excluded", report.rooms.iter().map(|r| r.excluded).sum()),
        ("rejected", report.rooms.iter().map(|r| r.rejected).sum()),
    ] {
        report.totals.insert(k.into(), v);
    }
    db.pool.close().await;
    Ok(report)
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
            (Some(e), Some(a)) if e.0 < a.0 => return Some(Mismatch { chat_id: e.0, what: "missing in target".into() }),
            (Some(_), Some(a)) => return Some(Mismatch { chat_id: a.0, what: "extra in target".into() }),
            (Some(e), None) => return Some(Mismatch { chat_id: e.0, what: "missing in target".into() }),
            (None, Some(a)) => return Some(Mismatch { chat_id: a.0, what: "extra in target".into() }),
            (None, None) => break,
        }
    }
    exp.first().map(|e| Mismatch { chat_id: e.0, what: "chatDate, author or isAlert".into() })
}
