//! `verify --source URL`: the target against the legacy database itself, independent of
//! the workspace's staged history. For every room of the wave, the legacy `tblChat` rows
//! up to the room's watermark (the manifest's highest `chatId`) that the plan's message
//! rules load are counted and hashed, and so are the target room's rows up to the same
//! `chatId`; the two must agree. A target row changed or deleted behind the workspace's
//! back — or a staged snapshot that no longer matches the legacy database — fails the
//! verification even when the workspace is consistent with itself.
//!
//! Both sides are read through [`Conn`], the legacy side in bounded `chatId` chunks (the
//! extract's own statement: short statements on a live server), and hashed by one
//! function over (chatId, chatDate, author URI, isAlert, content bytes).

use std::collections::HashMap;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::db::{Conn, Value};
use crate::load::IdMap;
use crate::model::Snapshot;
use crate::plan::messages::{Classifier, Disposition};
use crate::plan::Plan;
use crate::staging::Workspace;

/// Legacy rows per chunk.
const CHUNK: usize = 5_000;

/// One room compared with the legacy database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceRoom {
    /// Legacy `nodeID`.
    pub legacy_id: i64,
    /// Legacy path.
    pub legacy_path: String,
    /// The watermark compared up to (the manifest's highest `chatId`).
    pub watermark: Option<i64>,
    /// Legacy rows up to the watermark the rules load.
    pub source_rows: u64,
    /// Target rows up to the watermark.
    pub target_rows: u64,
    /// Counts and checksums agree.
    pub matched: bool,
}

/// The comparison with the legacy database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceReport {
    /// The legacy database (redacted).
    pub source: String,
    /// Rooms compared.
    pub rooms: u64,
    /// Rooms whose count or checksum differs (listed in full).
    pub mismatched: Vec<SourceRoom>,
    /// Legacy rows compared in all.
    pub source_rows: u64,
    /// Target rows compared in all.
    pub target_rows: u64,
}

impl SourceReport {
    /// Every room agrees.
    pub fn ok(&self) -> bool {
        self.mismatched.is_empty()
    }
}

/// A room's target rows up to a `chatId`, as verify's history pass reads them.
pub(crate) const TARGET_UPTO: &str = "SELECT CAST(chatId AS BIGINT), CAST(chatDate AS BIGINT), \
    CAST(userId AS BIGINT), CAST(isAlert AS BIGINT), content FROM tblChat \
    WHERE channelId = $1 AND chatId <= $2 ORDER BY chatId";

/// Folds one message into a room checksum (lengths before texts: no shifting collisions).
fn fold(h: &mut blake3::Hasher, id: i64, date: i64, author: &str, alert: bool, content: &[u8]) {
    h.update(&id.to_le_bytes());
    h.update(&date.to_le_bytes());
    h.update(&(author.len() as u64).to_le_bytes());
    h.update(author.as_bytes());
    h.update(&[alert as u8]);
    h.update(&(content.len() as u64).to_le_bytes());
    h.update(content);
}

/// Compares every room of `wave` in the target (`db`, its ids through `map`) with the
/// legacy database `src`.
#[allow(clippy::too_many_arguments)]
pub async fn compare(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    src: &Conn,
    db: &Conn,
    map: &IdMap,
    wave: Option<&str>,
    label: &str,
) -> Result<SourceReport> {
    let marks = ws.manifest_rooms().await?;
    let uris: HashMap<i64, String> = db
        .rows("reading tblPrincipal", super::history::URIS, &[], |r| Ok((r.int(0)?, r.text(1)?)))
        .await?
        .into_iter()
        .collect();
    let uri = |target: Option<&i64>| target.and_then(|t| uris.get(t)).map_or("", String::as_str);
    let since = plan.options.since.as_deref();
    let classifier = Classifier::new(&plan.rooms, &plan.excluded_rooms, snap, since);
    let rules = crate::files::link::Rules::new(&plan.options.files, snap.filestore_uri.as_deref());
    let mut report = SourceReport { source: label.into(), ..Default::default() };
    for room in plan.rooms_in(wave) {
        report.rooms += 1;
        let watermark = marks.get(&room.legacy_id).map(|d| d.max_chat_id);
        let mut out = SourceRoom {
            legacy_id: room.legacy_id,
            legacy_path: room.legacy_path.clone(),
            watermark,
            ..Default::default()
        };
        let (mut sh, mut th) = (blake3::Hasher::new(), blake3::Hasher::new());
        if let Some(mark) = watermark {
            // Legacy side, in chunks of the key up to the watermark.
            crate::source::each_chat_upto(src, room.legacy_id, mark, CHUNK, |c| {
                if let Disposition::Load = classifier.classify(c.channel_id, c.user_id, c.chat_date)
                {
                    let author = uri(map.principals.get(&c.user_id));
                    let content = rules.rewrite(c.content.as_bytes());
                    fold(&mut sh, c.chat_id, c.chat_date, author, c.is_alert, &content);
                    out.source_rows += 1;
                }
            })
            .await
            .with_context(|| format!("reading legacy room {}", room.legacy_id))?;
            // Target side, up to the same chatId.
            if let Some(&target) = map.rooms.get(&room.legacy_id) {
                db.each_row(
                    "reading tblChat",
                    TARGET_UPTO,
                    &[Value::Int(target), Value::Int(mark)],
                    |r| {
                        let author = uris.get(&r.int(2)?).map_or("", String::as_str);
                        fold(
                            &mut th,
                            r.int(0)?,
                            r.int(1)?,
                            author,
                            r.int(3)? != 0,
                            r.text(4)?.as_bytes(),
                        );
                        out.target_rows += 1;
                        Ok(())
                    },
                )
                .await?;
            }
        }
        out.matched = out.source_rows == out.target_rows && sh.finalize() == th.finalize();
        report.source_rows += out.source_rows;
        report.target_rows += out.target_rows;
        if !out.matched {
            report.mismatched.push(out);
        }
    }
    Ok(report)
}

/// `verify --source`: opens both databases and compares the wave's rooms (the command
/// writes the report and the console lines: [`crate::commands`]).
pub async fn check(
    ws: &Workspace,
    source: &crate::db::DbUrl,
    target: &crate::db::DbUrl,
    wave: Option<&str>,
    pool: Option<&str>,
) -> Result<SourceReport> {
    let plan: Plan = ws.load_plan().await?;
    let pool = crate::plan::select::choose_pool(&plan, pool, "verify")?;
    let plan = plan.of_pool(&pool);
    let snap = ws.load_snapshot().await?;
    let src = crate::db::SourceDb::open(source).await?;
    let db = crate::db::TargetDb::open(target, crate::db::OpenMode::Existing, 2).await?;
    let mine = crate::load::ledger::Mine::of(ws, &snap).await?;
    let map = crate::load::pool_guard::required_id_map(&db, &mine, &pool).await?;
    let label = source.to_string();
    let report = compare(ws, &plan, &snap, &src, &db, &map, wave, &label).await;
    src.close().await;
    db.close().await;
    report
}
