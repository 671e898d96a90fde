//! The legacy deployment's identity, recorded in the snapshot and in every target ledger
//! row, so that two deployments loaded into one target never share an id map and a
//! rollback of one never touches another's rows.
//!
//! The identity is `pool:<guid>` from `tblVersion.poolId` (the documented "unique ID of
//! this database instance") when the table has a non-null one, else `hash:<hex>`: a hash
//! of the root node's `nodeGuid` and the system principals' `prinGuid`s. Both are written
//! once when Group Chat is installed and travel with every backup/restore of the
//! database, so a restored copy on another server is the same deployment while two
//! installations differ. The server's URL takes no part. Categories are deliberately not
//! hashed: adding one between two extracts must not change the deployment.
//!
//! A Persistent Chat `mgc` source has no `tblVersion`: its `tblConfig.configPoolID` (the
//! documented "unique ID of the database instance") is its identity, `pool:<guid>` too, so
//! several pools read into one target stay apart even where their roots share a GUID.

use anyhow::Result;

use crate::db::Conn;
use crate::model::Snapshot;

/// The column probed before reading the version row.
const PROBE: (&str, &str) = ("tblVersion", "versionId, poolId");

/// The `mgc` configuration row's pool id, probed the same way.
const MGC_PROBE: (&str, &str) = ("tblConfig", "configLabel, configPoolID");

/// The `mgc` pool id (the `pool` row's first), as text.
pub fn config_pool_sql(d: crate::db::Dialect) -> String {
    format!(
        "SELECT {} FROM tblConfig WHERE configPoolID IS NOT NULL ORDER BY configLabel DESC",
        d.as_text("configPoolID")
    )
}

/// The newest version row's `poolId`, as text.
pub fn pool_id_sql(d: crate::db::Dialect) -> String {
    format!(
        "SELECT {} FROM tblVersion WHERE poolId IS NOT NULL ORDER BY versionId DESC",
        d.as_text("poolId")
    )
}

/// Reads the deployment identity of the source `db`, whose snapshot `s` was just read.
pub async fn identity(db: &Conn, s: &Snapshot) -> Result<String> {
    let d = db.dialect();
    for (probe, what, sql) in [
        (PROBE, "reading tblVersion.poolId", pool_id_sql(d)),
        (MGC_PROBE, "reading tblConfig.configPoolID", config_pool_sql(d)),
    ] {
        if db.has_columns(probe.0, probe.1).await? {
            let ids = db.rows(what, &sql, &[], |r| r.opt_text(0)).await?;
            if let Some(id) = ids.into_iter().flatten().map(|g| norm(&g)).find(|g| !g.is_empty()) {
                return Ok(format!("pool:{id}"));
            }
        }
    }
    Ok(from_snapshot(s))
}

/// The fallback identity: a hash of the root node's and the system principals' GUIDs.
pub fn from_snapshot(s: &Snapshot) -> String {
    let mut parts: Vec<String> = s
        .nodes
        .values()
        .filter(|n| n.parent_id.is_none_or(|p| p == n.id))
        .map(|n| format!("node:{}", norm(&n.guid)))
        .collect();
    let system: Vec<i64> =
        s.principal_types.values().filter(|t| t.is_system_user).map(|t| t.id).collect();
    parts.extend(
        s.principals
            .values()
            .filter(|p| system.contains(&p.type_id))
            .map(|p| format!("prin:{}", norm(&p.guid))),
    );
    parts.sort();
    parts.dedup();
    let hash = blake3::hash(parts.join("\n").as_bytes()).to_hex();
    format!("hash:{}", &hash[..32])
}

/// A GUID as compared: lower case, no braces or blanks.
fn norm(g: &str) -> String {
    g.trim().trim_matches(['{', '}']).to_ascii_lowercase()
}

/// Every statement of this module, for the T-SQL parse tests.
pub fn statements(d: crate::db::Dialect) -> Vec<(String, String)> {
    vec![
        ("deployment: tblVersion.poolId".into(), pool_id_sql(d)),
        ("deployment: tblConfig.configPoolID".into(), config_pool_sql(d)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Node;

    #[test]
    fn the_fallback_ignores_categories_and_tells_installations_apart() {
        let mut s = Snapshot::default();
        let mut root = Node::blank(1, Some(1), true, "root");
        root.guid = "{AAAA0000-0000-0000-0000-000000000001}".into();
        s.nodes.insert(1, root);
        let a = from_snapshot(&s);
        assert!(a.starts_with("hash:") && a.len() == 37, "{a}");
        s.nodes.insert(2, Node::blank(2, Some(1), true, "new category"));
        assert_eq!(from_snapshot(&s), a, "a new category changed the identity");
        s.nodes.get_mut(&1).unwrap().guid = "aaaa0000-0000-0000-0000-000000000002".into();
        assert_ne!(from_snapshot(&s), a);
    }
}
