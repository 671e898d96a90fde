//! The migration's ledger in the target (`gcmigrate_ledger`): what makes reruns exact and
//! rollbacks possible. Every load writes one `config` row per configuration it commits (its
//! JSON [`IdMap`]) and one `chat` row per history chunk, in the chunk's own transaction.
//! Load, verify and rollback read it only through this module, on any engine.

use anyhow::{Context, Result};

use super::IdMap;
use crate::db::{Cells, Conn, Value};
use crate::error::bad_input;

/// The configuration rows, oldest first.
pub const CONFIGS: &str =
    "SELECT run_id, wave, body FROM gcmigrate_ledger WHERE kind = 'config' ORDER BY written_at";
/// The highest legacy `chatId` the ledger records as committed for a target room.
pub const RESUME: &str = "SELECT CAST(MAX(last_chat) AS BIGINT) FROM gcmigrate_ledger \
    WHERE kind = 'chat' AND room_id = $1";
/// The column whose presence says the ledger exists.
const PROBE: (&str, &str) = ("gcmigrate_ledger", "kind");

/// A ledger row as a batch carries it.
pub fn row(
    run_id: &str,
    wave: &str,
    kind: &str,
    room: Option<(i64, i64, i64)>,
    rows: u64,
    body: Option<String>,
) -> Vec<Value> {
    let (room_id, first, last) = match room {
        Some((r, f, l)) => (r.into(), f.into(), l.into()),
        None => (Value::Null, Value::Null, Value::Null),
    };
    vec![
        run_id.into(),
        wave.into(),
        kind.into(),
        room_id,
        first,
        last,
        (rows as i64).into(),
        body.into(),
        chrono::Utc::now().to_rfc3339().into(),
    ]
}

/// Creates the ledger when missing.
pub async fn ensure(db: &Conn) -> Result<()> {
    db.run_script("creating gcmigrate_ledger in the target", db.dialect().create_ledger()).await
}

/// Whether the target has a ledger (anything was ever loaded into it).
pub async fn exists(db: &Conn) -> Result<bool> {
    db.has_columns(PROBE.0, PROBE.1).await
}

/// Reads the ledger; `None` when the target has none. The ledger is looked for only when
/// the read failed, so a load's per-room reads cost one round trip.
async fn read<T>(
    db: &Conn,
    sql: &str,
    params: &[Value],
    decode: impl FnMut(&dyn Cells) -> Result<T>,
) -> Result<Option<Vec<T>>> {
    match db.rows("reading gcmigrate_ledger", sql, params, decode).await {
        Ok(rows) => Ok(Some(rows)),
        Err(_) if !exists(db).await? => Ok(None),
        Err(e) => Err(e),
    }
}

/// One configuration load as the ledger records it.
#[derive(Debug, Clone)]
pub struct ConfigRow {
    /// The load run.
    pub run_id: String,
    /// The wave it loaded.
    pub wave: String,
    /// Its id map.
    pub map: IdMap,
}

/// Every configuration load the ledger holds, oldest first (none without a ledger).
pub async fn configs(db: &Conn) -> Result<Vec<ConfigRow>> {
    let rows = read(db, CONFIGS, &[], |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?))).await?;
    rows.unwrap_or_default()
        .into_iter()
        .map(|(run_id, wave, body)| {
            let map: IdMap = serde_json::from_str(&body).with_context(|| {
                format!("the ledger's configuration row of run {run_id} is unreadable")
            })?;
            Ok(ConfigRow { run_id, wave, map })
        })
        .collect()
}

/// The merged id map of every configuration the ledger holds (later runs win).
pub async fn id_map(db: &Conn) -> Result<IdMap> {
    Ok(merge(configs(db).await?.into_iter().map(|c| c.map)))
}

/// The ledger's id map, refusing a target that has no ledger (verify, rollback).
pub async fn required_id_map(db: &Conn) -> Result<IdMap> {
    if !exists(db).await? {
        return Err(bad_input(format!(
            "{} holds no gcmigrate ledger: nothing was loaded into it",
            db.url()
        )));
    }
    id_map(db).await
}

/// Merges id maps, oldest first.
pub fn merge(maps: impl IntoIterator<Item = IdMap>) -> IdMap {
    let mut known = IdMap::default();
    for m in maps {
        known.principals.extend(m.principals);
        known.categories.extend(m.categories);
        known.rooms.extend(m.rooms);
    }
    known
}

/// The highest legacy `chatId` of a target room that the ledger records as committed.
pub async fn resume_point(db: &Conn, target_room: i64) -> Result<Option<i64>> {
    let rows = read(db, RESUME, &[Value::Int(target_room)], |r| r.opt_int(0)).await?;
    Ok(rows.unwrap_or_default().into_iter().next().flatten())
}

/// Every statement of this module, for the T-SQL parse tests.
pub fn statements() -> Vec<(&'static str, &'static str)> {
    vec![("ledger configs", CONFIGS), ("resume point", RESUME)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_merge_oldest_first() {
        let map = |room: i64, target: i64| {
            let mut m = IdMap::default();
            m.rooms.insert(room, target);
            m.principals.insert(1, 2);
            m
        };
        let m = merge([map(10, 5), map(11, 6), map(10, 7)]);
        assert_eq!(m.rooms.into_iter().collect::<Vec<_>>(), [(10, 7), (11, 6)]);
        assert!(merge([]).rooms.is_empty());
    }
}
