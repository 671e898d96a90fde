//! The migration's ledger in the target (`gcmigrate_ledger`): what makes reruns exact and
//! rollbacks possible. Every load writes one `config` row per configuration it commits (its
//! JSON [`IdMap`]) and one `chat` row per history chunk, in the chunk's own transaction.
//! Load, verify and rollback read it only through this module, on any engine.
//!
//! Every row carries the legacy deployment it came from (`source::deployment`) and the
//! plan's pool: the id maps a load reuses, the keys a rollback removes and the maps
//! verify checks are those of one deployment only, so two deployments loaded side by side
//! into one target never share a mapping, and a wave name belongs to one deployment.

use anyhow::{Context, Result};

use super::IdMap;
use crate::db::{Cells, Conn, Value};
use crate::error::bad_input;

/// The configuration rows, oldest first, with their deployment.
pub const CONFIGS: &str = "SELECT run_id, wave, body, deployment, pool FROM gcmigrate_ledger \
    WHERE kind = 'config' ORDER BY written_at";
/// The highest legacy `chatId` the ledger records as committed for a target room. A
/// target room (`nodeID`) belongs to the one deployment whose configuration row maps it,
/// so the room key alone selects that deployment's rows (as the SQLite engine copy's
/// resume read does).
pub const RESUME: &str = "SELECT CAST(MAX(last_chat) AS BIGINT) FROM gcmigrate_ledger \
    WHERE kind = 'chat' AND room_id = $1";
/// Rows written before rows carried their deployment, of one wave.
pub const UNCLAIMED: &str = "SELECT CAST(COUNT(*) AS BIGINT) FROM gcmigrate_ledger \
    WHERE deployment IS NULL AND wave = $1";
/// Claims a wave's rows written before rows carried their deployment.
pub const CLAIM: &str =
    "UPDATE gcmigrate_ledger SET deployment = $1, pool = $2 WHERE deployment IS NULL AND wave = $3";
/// [`CONFIGS`] of a ledger written before rows carried their deployment.
pub const CONFIGS_UNOWNED: &str = "SELECT run_id, wave, body, NULL, NULL FROM gcmigrate_ledger \
    WHERE kind = 'config' ORDER BY written_at";
/// The column whose presence says the ledger exists.
const PROBE: (&str, &str) = ("gcmigrate_ledger", "kind");
/// The columns whose presence says the ledger records deployments.
const OWNED: (&str, &str) = ("gcmigrate_ledger", "deployment, pool");

/// Whose rows a load writes and reads: the source deployment and the plan's pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The legacy deployment's identity (`pool:<guid>` or `hash:<hex>`).
    pub deployment: String,
    /// The one pool of the load (a target database is one pool; see `pool_guard`). Rows
    /// written by earlier versions may hold several, comma-separated.
    pub pool: String,
}

impl Owner {
    /// The owner of a workspace's loads: its snapshot's deployment, refusing a snapshot
    /// extracted before deployments were recorded.
    pub fn of(snap: &crate::model::Snapshot, pool: String) -> Result<Owner> {
        let deployment = deployment_of(snap)?;
        Ok(Owner { deployment, pool })
    }
}

/// Which configuration rows are a workspace's own: those of its deployment, and rows
/// written before rows carried their deployment whose run its journal lists.
#[derive(Debug, Clone, Default)]
pub struct Mine {
    /// The workspace's deployment.
    pub deployment: String,
    /// The load runs its journal lists.
    pub runs: std::collections::HashSet<String>,
}

impl Mine {
    /// The workspace's own rows.
    pub async fn of(ws: &crate::staging::Workspace, snap: &crate::model::Snapshot) -> Result<Mine> {
        let deployment = deployment_of(snap)?;
        let runs = ws.journal_runs("config").await?.into_iter().collect();
        Ok(Mine { deployment, runs })
    }

    /// Whether a configuration row is the workspace's own.
    pub fn owns(&self, c: &ConfigRow) -> bool {
        match &c.deployment {
            Some(d) => *d == self.deployment,
            None => self.runs.contains(&c.run_id),
        }
    }
}

/// The deployment of a workspace's snapshot, or the line that says to re-extract.
pub fn deployment_of(snap: &crate::model::Snapshot) -> Result<String> {
    snap.deployment.clone().ok_or_else(|| {
        bad_input(
            "the workspace's snapshot does not record which legacy deployment it came from \
             (extracted by an older gcmigrate): rerun `gcmigrate extract` on this workspace",
        )
    })
}

/// A ledger row as a batch carries it.
pub fn row(
    run_id: &str,
    wave: &str,
    kind: &str,
    room: Option<(i64, i64, i64)>,
    rows: u64,
    body: Option<String>,
    owner: &Owner,
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
        owner.deployment.as_str().into(),
        owner.pool.as_str().into(),
    ]
}

/// Creates the ledger when missing, and adds the deployment and pool columns to one
/// written before rows carried them (its rows stay unclaimed until [`claim`]).
pub async fn ensure(db: &Conn) -> Result<()> {
    db.run_script("creating gcmigrate_ledger in the target", db.dialect().create_ledger()).await?;
    if !db.has_columns(OWNED.0, OWNED.1).await? {
        db.run_script(
            "adding the deployment columns to gcmigrate_ledger",
            db.dialect().upgrade_ledger(),
        )
        .await?;
    }
    Ok(())
}

/// Claims for `owner` the rows of `wave` written before rows carried their deployment,
/// when this workspace's journal lists every configuration run of those rows (they are
/// then its own). Returns the rows claimed.
pub async fn claim(db: &Conn, owner: &Owner, wave: &str, mine: &Mine) -> Result<u64> {
    let left = db.scalar("reading gcmigrate_ledger", UNCLAIMED, &[wave.into()]).await?;
    if left.unwrap_or(0) == 0 {
        return Ok(0);
    }
    let unclaimed: Vec<ConfigRow> = configs(db)
        .await?
        .into_iter()
        .filter(|c| c.wave == wave && c.deployment.is_none())
        .collect();
    if unclaimed.is_empty() || !unclaimed.iter().all(|c| mine.runs.contains(&c.run_id)) {
        return Err(bad_input(format!(
            "wave `{wave}` in {} was loaded by an older gcmigrate that did not record the \
             deployment, and this workspace's journal does not list that load: run `load` from \
             the workspace that loaded it (it claims the rows), or load under another wave name",
            db.url()
        )));
    }
    let params = [owner.deployment.as_str().into(), owner.pool.as_str().into(), wave.into()];
    db.execute("claiming gcmigrate_ledger rows", CLAIM, &params).await
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
    mut decode: impl FnMut(&dyn Cells) -> Result<T>,
) -> Result<Option<Vec<T>>> {
    match db.rows("reading gcmigrate_ledger", sql, params, &mut decode).await {
        Ok(rows) => Ok(Some(rows)),
        Err(_) if !exists(db).await? => Ok(None),
        Err(_) if sql == CONFIGS && !db.has_columns(OWNED.0, OWNED.1).await? => {
            db.rows("reading gcmigrate_ledger", CONFIGS_UNOWNED, params, decode).await.map(Some)
        }
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
    /// The deployment it came from (`None`: written before rows carried it).
    pub deployment: Option<String>,
    /// The pool of the rows it wrote (earlier versions: several, comma-separated).
    pub pool: Option<String>,
}

/// Every configuration load the ledger holds, of every deployment, oldest first (none
/// without a ledger).
pub async fn configs(db: &Conn) -> Result<Vec<ConfigRow>> {
    let rows = read(db, CONFIGS, &[], |r| {
        Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.opt_text(3)?, r.opt_text(4)?))
    })
    .await?;
    rows.unwrap_or_default()
        .into_iter()
        .map(|(run_id, wave, body, deployment, pool)| {
            let map: IdMap = crate::db::packed_json::unpack(&body).with_context(|| {
                format!("the ledger's configuration row of run {run_id} is unreadable")
            })?;
            Ok(ConfigRow { run_id, wave, map, deployment, pool })
        })
        .collect()
}

/// The merged id map of every configuration of `deployment` the ledger holds (later runs
/// win); another deployment's maps are never part of it.
pub async fn id_map(db: &Conn, mine: &Mine) -> Result<IdMap> {
    Ok(map_of(&configs(db).await?, mine))
}

/// The merged id map of the workspace's own configuration rows among `configs`.
pub fn map_of(configs: &[ConfigRow], mine: &Mine) -> IdMap {
    merge(configs.iter().filter(|c| mine.owns(c)).map(|c| c.map.clone()))
}

/// The ledger's id map of the workspace's own rows, refusing a target that has no ledger
/// (verify).
pub async fn required_id_map(db: &Conn, mine: &Mine) -> Result<IdMap> {
    if !exists(db).await? {
        return Err(bad_input(format!(
            "{} holds no gcmigrate ledger: nothing was loaded into it",
            db.url()
        )));
    }
    id_map(db, mine).await
}

/// Refuses (exit 2) a load of `wave` by `deployment` when the target's ledger holds the
/// wave for another deployment: a wave name belongs to the deployment that loaded it.
pub fn check_wave_owner(
    configs: &[ConfigRow],
    wave: &str,
    deployment: &str,
    url: &str,
) -> Result<()> {
    let other = configs
        .iter()
        .filter(|c| c.wave == wave)
        .find_map(|c| c.deployment.as_deref().filter(|d| *d != deployment));
    match other {
        None => Ok(()),
        Some(theirs) => Err(bad_input(format!(
            "wave `{wave}` in {url} holds deployment {theirs}, but this workspace was extracted \
             from deployment {deployment}: load this deployment under its own wave names (waves \
             in the mappings, then `load --wave NAME`) or into another target; nothing was written"
        ))),
    }
}

/// Merges id maps, oldest first.
pub fn merge(maps: impl IntoIterator<Item = IdMap>) -> IdMap {
    let mut known = IdMap::default();
    for m in maps {
        known.principals.extend(m.principals);
        known.categories.extend(m.categories);
        known.rooms.extend(m.rooms);
        for (legacy, _) in &m.removed.rooms {
            known.rooms.remove(legacy);
        }
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
    vec![
        ("ledger configs", CONFIGS),
        ("ledger configs (unowned)", CONFIGS_UNOWNED),
        ("resume point", RESUME),
        ("ledger unclaimed rows", UNCLAIMED),
        ("ledger claim", CLAIM),
    ]
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
