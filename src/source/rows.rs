//! The legacy rows decoded into the model, once for every engine, from [`Cells`] in the
//! select-list order of `sql.rs`.
//!
//! The normalisation is the same whatever the engine returned: GUIDs are trimmed and
//! lowercased, a bit (or integer) flag that is NULL is false (or `None` where the model
//! keeps the NULL), principal types 6, 7 and 11 are federated even where the column is
//! missing, a blank topic is no topic, and a NULL author or date of a node is the system
//! principal (1) or 0.

use anyhow::Result;

use crate::db::Cells;
use crate::model::*;

/// A flag column: non-zero is true, NULL is false.
fn flag(r: &dyn Cells, i: usize) -> Result<bool> {
    Ok(r.opt_int(i)?.is_some_and(|v| v != 0))
}

/// A flag column whose NULL is kept.
fn opt_flag(r: &dyn Cells, i: usize) -> Result<Option<bool>> {
    Ok(r.opt_int(i)?.map(|v| v != 0))
}

/// A GUID read as text, trimmed and lowercased.
fn guid(r: &dyn Cells, i: usize) -> Result<String> {
    Ok(r.text(i)?.trim().to_ascii_lowercase())
}

/// Adds one row of `table`'s snapshot query to the snapshot.
pub(crate) fn add_row(s: &mut Snapshot, table: &str, r: &dyn Cells) -> Result<()> {
    match table {
        "tblPrincipalType" => {
            let id = r.int(0)?;
            let t = PrincipalType {
                id,
                desc: r.text(1)?,
                is_system_user: flag(r, 2)?,
                is_user: flag(r, 3)?,
                is_federated: flag(r, 4)? || matches!(id, 6 | 7 | 11),
            };
            s.principal_types.insert(id, t);
        }
        "tblPrincipal" => {
            let p = Principal {
                id: r.int(0)?,
                guid: guid(r, 1)?,
                uri: r.text(2)?,
                name: r.opt_text(3)?,
                company: r.opt_text(4)?,
                email: r.opt_text(5)?,
                ad_path: r.opt_text(6)?,
                upn: r.opt_text(7)?,
                disabled: flag(r, 8)?,
                type_id: r.int(9)?,
                added_on: r.int(10)?,
                updated_on: r.int(11)?,
            };
            s.principals.insert(p.id, p);
        }
        "tblPrincipalAffiliations" => s.affiliations.push((r.int(0)?, r.int(1)?)),
        "tblNode" => {
            let n = node(r)?;
            s.nodes.insert(n.id, n);
        }
        "tblRoleType" => {
            s.role_types.insert(r.int(0)?, r.text(1)?);
        }
        "tblScopePrincipal" => {
            s.scopes.push(ScopeRow { node_id: r.int(0)?, prin_id: r.int(1)?, denied: flag(r, 2)? })
        }
        "tblPrincipalRole" => s.roles.push(RoleRow {
            node_id: r.int(0)?,
            prin_id: r.int(1)?,
            role_type_id: r.int(2)?,
            honors_scope: flag(r, 3)?,
        }),
        "tblSiopWhiteList" => {
            s.addins.push(Addin { id: guid(r, 0)?, name: r.text(1)?, url: r.text(2)? })
        }
        "tblPrincipalInvites" => s.invites.push(Invite {
            prin_id: r.int(0)?,
            inv_id: r.int(1)?,
            node_id: r.int(2)?,
            created_on: r.text(3)?,
        }),
        other => anyhow::bail!("no reader for {other}"),
    }
    Ok(())
}

/// One `tblNode` row.
fn node(r: &dyn Cells) -> Result<Node> {
    Ok(Node {
        id: r.int(0)?,
        guid: guid(r, 1)?,
        parent_id: r.opt_int(2)?,
        is_category: flag(r, 3)?,
        name: r.text(4)?,
        desc: r.opt_text(5)?.unwrap_or_default(),
        topic: r.opt_text(6)?.filter(|t| !t.trim().is_empty()),
        override_member: flag(r, 7)?,
        invite: opt_flag(r, 8)?,
        logged: opt_flag(r, 9)?,
        file_post: opt_flag(r, 10)?,
        disabled: flag(r, 11)?,
        behavior: r.int(12)?,
        visibility: r.opt_int(13)?,
        scope_definer_id: r.opt_int(14)?,
        role_definer_id: r.opt_int(15)?,
        siop_id: r.opt_text(16)?.map(|g| g.trim().to_ascii_lowercase()),
        added_by: r.opt_int(17)?.unwrap_or(1),
        added_on: r.opt_int(18)?.unwrap_or(0),
        updated_by: r.opt_int(19)?.unwrap_or(1),
        updated_on: r.opt_int(20)?.unwrap_or(0),
    })
}

/// One `tblChat` row.
pub(crate) fn chat_from(r: &dyn Cells) -> Result<Chat> {
    Ok(Chat {
        channel_id: r.int(0)?,
        chat_id: r.int(1)?,
        chat_date: r.int(2)?,
        user_id: r.int(3)?,
        is_alert: flag(r, 4)?,
        content: r.opt_text(5)?.unwrap_or_default(),
    })
}
