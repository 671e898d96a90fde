//! One target, one pool (MAPPING.md §4 "Pools and waves"): the ledger records the pool of
//! every row a load writes ([`super::ledger::Owner::pool`]), and a load of pool P into a
//! target whose ledger holds rows of this deployment for another pool is refused (exit 2)
//! before anything is written. Verify and rollback read only the rows of their pool.
//!
//! Rows of other deployments are not judged: their pool names are their own mappings'
//! names, and two legacy deployments consolidated into one target pool is legitimate.
//! Rows written before rows carried their pool (`pool` NULL) belong to every pool; a row
//! written by an earlier gcmigrate that loaded several pools at once records them
//! comma-separated, and belongs to each of them.

use anyhow::Result;

use super::ledger::{self, ConfigRow, Mine, Owner};
use super::IdMap;
use crate::db::Conn;
use crate::error::bad_input;

/// Whether a ledger row's pool column covers `pool`.
pub fn covers(row_pool: Option<&str>, pool: &str) -> bool {
    row_pool.is_none_or(|p| p.split(',').any(|x| x == pool))
}

/// The other pools this deployment's rows hold in the target, with their waves.
pub fn other_pools<'a>(configs: &'a [ConfigRow], owner: &Owner) -> Vec<(&'a str, &'a str)> {
    configs
        .iter()
        .filter(|c| c.deployment.as_deref() == Some(owner.deployment.as_str()))
        .filter_map(|c| c.pool.as_deref().map(|p| (p, c.wave.as_str())))
        .filter(|(p, _)| *p != owner.pool)
        .collect()
}

/// Refuses (exit 2) a load of `owner.pool` into a target whose ledger holds this
/// deployment's rows of another pool.
pub async fn check(db: &Conn, owner: &Owner) -> Result<()> {
    // No ledger yet: nothing to compare. Asked first, because a load running meanwhile
    // may be creating it (the check under the target lock then sees it whole).
    if !ledger::exists(db).await? {
        return Ok(());
    }
    let configs = ledger::configs(db).await?;
    let others = other_pools(&configs, owner);
    let Some((theirs, wave)) = others.first() else {
        return Ok(());
    };
    Err(bad_input(format!(
        "{} already holds pool `{theirs}` of this deployment (wave `{wave}`), and this load is \
         pool `{}`: a target database is one pool — load pool `{}` with its own --target, or \
         roll pool `{theirs}` back from this target first (`gcmigrate rollback --pool {theirs}`); \
         nothing was written",
        db.url(),
        owner.pool,
        owner.pool,
    )))
}

/// The merged id map of the workspace's own configuration rows of `pool` (verify).
pub async fn id_map(db: &Conn, mine: &Mine, pool: &str) -> Result<IdMap> {
    let configs = ledger::configs(db).await?;
    Ok(ledger::merge(
        configs
            .into_iter()
            .filter(|c| mine.owns(c) && covers(c.pool.as_deref(), pool))
            .map(|c| c.map),
    ))
}

/// The configuration runs whose rows cover `pool` (rollback reads only those).
pub async fn runs_of(db: &Conn, pool: &str) -> Result<std::collections::HashSet<String>> {
    let configs = ledger::configs(db).await?;
    Ok(configs.into_iter().filter(|c| covers(c.pool.as_deref(), pool)).map(|c| c.run_id).collect())
}

/// [`id_map`], refusing a target that has no ledger (nothing was loaded into it).
pub async fn required_id_map(db: &Conn, mine: &Mine, pool: &str) -> Result<IdMap> {
    if !ledger::exists(db).await? {
        return Err(bad_input(format!(
            "{} holds no gcmigrate ledger: nothing was loaded into it",
            db.url()
        )));
    }
    id_map(db, mine, pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(wave: &str, dep: Option<&str>, pool: Option<&str>) -> ConfigRow {
        ConfigRow {
            run_id: "r".into(),
            wave: wave.into(),
            map: IdMap::default(),
            deployment: dep.map(Into::into),
            pool: pool.map(Into::into),
        }
    }

    #[test]
    fn only_this_deployments_rows_of_another_pool_count() {
        let owner = Owner { deployment: "pool:a".into(), pool: "eu".into() };
        let rows = [
            row("pilot", Some("pool:a"), Some("eu")),
            row("pilot", Some("pool:b"), Some("us")),
            row("old", None, None),
        ];
        assert!(other_pools(&rows, &owner).is_empty(), "another deployment's pool is its own");
        let rows =
            [row("pilot", Some("pool:a"), Some("eu")), row("w2", Some("pool:a"), Some("us"))];
        assert_eq!(other_pools(&rows, &owner), [("us", "w2")]);
        let mixed = [row("all", Some("pool:a"), Some("eu,us"))];
        assert_eq!(other_pools(&mixed, &owner).len(), 1, "an older load of several pools");
    }

    #[test]
    fn a_row_covers_its_pools_and_unrecorded_rows_cover_all() {
        assert!(covers(Some("eu"), "eu"));
        assert!(!covers(Some("eu"), "us"));
        assert!(covers(Some("eu,us"), "us"));
        assert!(!covers(Some("eu,us"), "e"));
        assert!(covers(None, "anything"));
    }
}
