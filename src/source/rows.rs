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
        node_type: r.opt_int(3)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell of a plain test row: an integer, text or NULL.
    enum Cell {
        Int(i64),
        Text(&'static str),
        Null,
    }

    impl Cells for Vec<Cell> {
        fn int(&self, i: usize) -> Result<i64> {
            self.opt_int(i)?.ok_or_else(|| anyhow::anyhow!("column {} is NULL", i + 1))
        }
        fn opt_int(&self, i: usize) -> Result<Option<i64>> {
            match &self[i] {
                Cell::Int(v) => Ok(Some(*v)),
                Cell::Null => Ok(None),
                Cell::Text(_) => anyhow::bail!("column {} is text", i + 1),
            }
        }
        fn text(&self, i: usize) -> Result<String> {
            self.opt_text(i)?.ok_or_else(|| anyhow::anyhow!("column {} is NULL", i + 1))
        }
        fn opt_text(&self, i: usize) -> Result<Option<String>> {
            match &self[i] {
                Cell::Text(t) => Ok(Some(t.to_string())),
                Cell::Null => Ok(None),
                Cell::Int(_) => anyhow::bail!("column {} is a number", i + 1),
            }
        }
    }

    #[test]
    fn rows_decode_with_the_legacy_normalisation() {
        use Cell::{Int, Null, Text};
        let mut s = Snapshot::default();
        let node = vec![
            Int(7),
            Text(" 70B3427B-2A75-5EEF-805F-02CE5DD28DFE "),
            Int(1),
            Int(0),
            Text("Sales"),
            Text("d"),
            Text("  "),
            Int(1),
            Null,
            Int(1),
            Null,
            Int(0),
            Int(5),
            Null,
            Int(1),
            Int(1),
            Null,
            Int(2),
            Int(634294368000000000),
            Int(2),
            Int(634294368000000001),
        ];
        add_row(&mut s, "tblNode", &node).unwrap();
        let n = &s.nodes[&7];
        assert_eq!(n.guid, "70b3427b-2a75-5eef-805f-02ce5dd28dfe");
        assert_eq!(
            (n.is_category, n.topic.clone(), n.override_member, n.invite, n.logged),
            (false, None, true, None, Some(true))
        );
        assert_eq!(
            (n.behavior, n.visibility, n.siop_id.clone(), n.updated_on),
            (5, None, None, 634294368000000001)
        );
        let chat = chat_from(&vec![Int(7), Int(3), Int(9), Int(2), Int(1), Text("héllo\n😀")]);
        let chat = chat.unwrap();
        assert_eq!(
            (chat.channel_id, chat.chat_id, chat.is_alert, chat.content.as_str()),
            (7, 3, true, "héllo\n😀")
        );
        assert!(add_row(&mut s, "tblRoleType", &vec![Null, Null]).is_err());
    }
}
