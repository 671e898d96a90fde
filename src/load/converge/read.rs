//! What convergence and its guard read from the target before a load writes anything:
//! the node rows, role rows and scope rows of the nodes the wave touches, and per staged
//! room the messages the target holds against those the ledger records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;

use crate::db::{Conn, Dialect, Value};

/// A `tblNode` row as convergence compares it with the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// `nodeGuid`, lowercase.
    pub guid: String,
    /// `parentID`.
    pub parent: i64,
    /// `nodeType` = 1.
    pub is_category: bool,
    /// `nodeName`.
    pub name: String,
    /// `nodeDesc`.
    pub desc: String,
    /// `invite`.
    pub invite: Option<bool>,
    /// `logged`.
    pub logged: Option<bool>,
    /// `filePost`.
    pub file_post: Option<bool>,
    /// `disabled`.
    pub disabled: bool,
    /// `behavior`.
    pub behavior: i64,
    /// `visibility`.
    pub visibility: i64,
    /// `siopID`, lowercase.
    pub addin: Option<String>,
}

/// The target rows of the nodes a load touches.
#[derive(Debug, Default)]
pub struct TargetRows {
    /// Every node, by `nodeID` (nodes are bounded by rooms and categories).
    pub nodes: BTreeMap<i64, NodeRow>,
    /// Role rows (node, principal, role type) of the nodes asked for.
    pub roles: BTreeSet<(i64, i64, i64)>,
    /// Scope rows (node, principal) → denied, of the nodes asked for.
    pub scopes: BTreeMap<(i64, i64), bool>,
}

/// Every node row.
fn nodes_sql(d: Dialect) -> String {
    format!(
        "SELECT CAST(nodeID AS BIGINT), {}, CAST(parentID AS BIGINT), CAST(nodeType AS BIGINT), \
         nodeName, nodeDesc, CAST(invite AS BIGINT), CAST(logged AS BIGINT), \
         CAST(filePost AS BIGINT), CAST(disabled AS BIGINT), CAST(behavior AS BIGINT), \
         CAST(visibility AS BIGINT), {} FROM tblNode",
        d.as_text("nodeGuid"),
        d.as_text("siopID")
    )
}
/// Every role row.
pub const ROLES: &str = "SELECT CAST(prinRoleNodeID AS BIGINT), CAST(prinRolePrinID AS BIGINT), \
    CAST(prinRoleTypeID AS BIGINT) FROM tblPrincipalRole";
/// Every scope row.
pub const SCOPES: &str = "SELECT CAST(scopeNodeID AS BIGINT), CAST(scopePrinID AS BIGINT), \
    CAST(scopeIsDenied AS BIGINT) FROM tblScopePrincipal";
/// The highest `chatId` a target room holds.
pub const ROOM_CHATS: &str = "SELECT CAST(MAX(chatId) AS BIGINT) FROM tblChat WHERE channelId = $1";
/// The highest `chatId` the ledger records as written, per target room.
pub const LEDGER_CHATS: &str = "SELECT CAST(room_id AS BIGINT), CAST(MAX(last_chat) AS BIGINT) \
    FROM gcmigrate_ledger WHERE kind = 'chat' GROUP BY room_id";

impl TargetRows {
    /// Reads the node rows, and the role and scope rows of `of`.
    pub async fn read(db: &Conn, of: &BTreeSet<i64>) -> Result<TargetRows> {
        let mut out = TargetRows::default();
        let flag = |v: Option<i64>| v.map(|x| x != 0);
        db.each_row("reading tblNode", &nodes_sql(db.dialect()), &[], |r| {
            let row = NodeRow {
                guid: r.text(1)?.to_ascii_lowercase(),
                parent: r.opt_int(2)?.unwrap_or(0),
                is_category: r.opt_int(3)? == Some(1),
                name: r.opt_text(4)?.unwrap_or_default(),
                desc: r.opt_text(5)?.unwrap_or_default(),
                invite: flag(r.opt_int(6)?),
                logged: flag(r.opt_int(7)?),
                file_post: flag(r.opt_int(8)?),
                disabled: r.opt_int(9)?.unwrap_or(0) != 0,
                behavior: r.opt_int(10)?.unwrap_or(0),
                visibility: r.opt_int(11)?.unwrap_or(0),
                addin: r.opt_text(12)?.map(|s| s.to_ascii_lowercase()),
            };
            out.nodes.insert(r.int(0)?, row);
            Ok(())
        })
        .await?;
        db.each_row("reading tblPrincipalRole", ROLES, &[], |r| {
            let node = r.int(0)?;
            if of.contains(&node) {
                out.roles.insert((node, r.int(1)?, r.int(2)?));
            }
            Ok(())
        })
        .await?;
        db.each_row("reading tblScopePrincipal", SCOPES, &[], |r| {
            let node = r.int(0)?;
            if of.contains(&node) {
                out.scopes.insert((node, r.int(1)?), r.opt_int(2)?.unwrap_or(0) != 0);
            }
            Ok(())
        })
        .await?;
        Ok(out)
    }
}

/// The highest `chatId` each of `rooms` holds in the target: one seek of the
/// (channelId, chatId) key per room, not a count of its history.
pub async fn room_chats(db: &Conn, rooms: &[i64]) -> Result<HashMap<i64, Option<i64>>> {
    let mut out = HashMap::with_capacity(rooms.len());
    for &room in rooms {
        db.each_row("reading tblChat", ROOM_CHATS, &[Value::Int(room)], |r| {
            out.insert(room, r.opt_int(0)?);
            Ok(())
        })
        .await?;
    }
    Ok(out)
}

/// The highest `chatId` the ledger records as written, per target room.
pub async fn ledger_chats(db: &Conn) -> Result<HashMap<i64, Option<i64>>> {
    let mut out = HashMap::new();
    db.each_row("reading gcmigrate_ledger", LEDGER_CHATS, &[], |r| {
        if let Some(room) = r.opt_int(0)? {
            out.insert(room, r.opt_int(1)?);
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Every statement of this module, for the T-SQL parse tests.
pub fn statements(d: Dialect) -> Vec<(String, String)> {
    vec![
        ("converge: nodes".into(), nodes_sql(d)),
        ("converge: roles".into(), ROLES.into()),
        ("converge: scopes".into(), SCOPES.into()),
        ("converge: room chats".into(), ROOM_CHATS.into()),
        ("converge: ledger chats".into(), LEDGER_CHATS.into()),
    ]
}
