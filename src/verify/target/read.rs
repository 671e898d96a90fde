//! Reading the [`Model`] back from a target, on any engine: one statement per table, in
//! the dialect's text where it must differ (a GUID read as text).

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;

use super::{Model, TargetNode, TargetPrincipal};
use crate::db::{Conn, Dialect};
use crate::mapping::legacy::{Affiliations, Role};

/// The statements that read the model, in the dialect's text.
pub(in crate::verify) struct Sql {
    pub(in crate::verify) principal_types: &'static str,
    pub(in crate::verify) principals: String,
    pub(in crate::verify) affiliations: &'static str,
    pub(in crate::verify) nodes: String,
    pub(in crate::verify) scopes: &'static str,
    pub(in crate::verify) roles: &'static str,
}

impl Sql {
    pub(in crate::verify) fn new(d: Dialect) -> Sql {
        Sql {
            principal_types: "SELECT CAST(ptypeID AS BIGINT), CAST(ptypeIsUser AS BIGINT) \
                FROM tblPrincipalType",
            principals: format!(
                "SELECT CAST(prinID AS BIGINT), prinUri, CAST(prinDisabled AS BIGINT), \
                 CAST(prinTypeID AS BIGINT), {} FROM tblPrincipal",
                d.as_text("prinGuid")
            ),
            affiliations: "SELECT CAST(principalID AS BIGINT), CAST(affiliationID AS BIGINT) \
                FROM tblPrincipalAffiliations",
            nodes: format!(
                "SELECT CAST(nodeID AS BIGINT), {}, CAST(parentID AS BIGINT), \
                 CAST(nodeType AS BIGINT), nodeName, CAST(disabled AS BIGINT), \
                 CAST(behavior AS BIGINT), CAST(visibility AS BIGINT) FROM tblNode",
                d.as_text("nodeGuid")
            ),
            scopes: "SELECT CAST(scopeNodeID AS BIGINT), CAST(scopePrinID AS BIGINT), \
                CAST(scopeIsDenied AS BIGINT) FROM tblScopePrincipal",
            // Role names, never ids (MAPPING.md §1): a target may number its role types
            // differently.
            roles: "SELECT CAST(r.prinRoleNodeID AS BIGINT), CAST(r.prinRolePrinID AS BIGINT), \
                t.rtypeDesc FROM tblPrincipalRole AS r JOIN tblRoleType AS t \
                ON t.rtypeID = r.prinRoleTypeID",
        }
    }

    /// Every statement, named, for the T-SQL parse tests.
    #[cfg(feature = "mssql")]
    pub(in crate::verify) fn named(self) -> Vec<(&'static str, String)> {
        vec![
            ("verify: principal types", self.principal_types.into()),
            ("verify: principals", self.principals),
            ("verify: affiliations", self.affiliations.into()),
            ("verify: nodes", self.nodes),
            ("verify: scopes", self.scopes.into()),
            ("verify: roles", self.roles.into()),
        ]
    }
}

/// Every node but the root, for `plan --target`.
pub(in crate::verify) const EXISTING_NODES: &str =
    "SELECT CAST(nodeID AS BIGINT), CAST(nodeType AS BIGINT), nodeName FROM tblNode \
     WHERE nodeID <> 1";

/// Every node of an existing target but the root, as (nodeID, is a category, name), for
/// `plan --target`; bad input (exit 2) when the database is not an mgc.
pub async fn existing_nodes(db: &Conn) -> Result<Vec<(i64, bool, String)>> {
    crate::load::config::check_schema(db).await?;
    db.rows("reading tblNode", EXISTING_NODES, &[], |r| Ok((r.int(0)?, r.int(1)? == 1, r.text(2)?)))
        .await
}

impl Model {
    /// Reads the model; role lists only for `rooms` (target `nodeID`s).
    pub async fn read(db: &Conn, rooms: &BTreeSet<i64>) -> Result<Model> {
        let mut t = Model::default();
        let sql = Sql::new(db.dialect());
        let mut user_types: HashMap<i64, bool> = HashMap::new();
        db.each_row("reading tblPrincipalType", sql.principal_types, &[], |r| {
            user_types.insert(r.int(0)?, r.opt_int(1)?.unwrap_or(0) != 0);
            Ok(())
        })
        .await?;
        db.each_row("reading tblPrincipal", &sql.principals, &[], |r| {
            let is_user = r.opt_int(3)?.and_then(|ty| user_types.get(&ty).copied());
            let p = TargetPrincipal {
                uri: r.text(1)?,
                disabled: r.opt_int(2)?.unwrap_or(0) != 0,
                is_user: is_user.unwrap_or(false),
            };
            let id = r.int(0)?;
            t.by_guid.insert(r.text(4)?.to_ascii_lowercase(), id);
            t.by_uri.insert(p.uri.to_ascii_lowercase(), id);
            t.principals.insert(id, p);
            Ok(())
        })
        .await?;
        let pairs = db
            .rows("reading tblPrincipalAffiliations", sql.affiliations, &[], |r| {
                Ok((r.int(0)?, r.int(1)?))
            })
            .await?;
        t.affs = Affiliations::build(&pairs, t.principals.keys().copied());
        db.each_row("reading tblNode", &sql.nodes, &[], |r| {
            let node = TargetNode {
                guid: r.text(1)?.to_ascii_lowercase(),
                parent: r.opt_int(2)?.unwrap_or(1),
                is_category: r.int(3)? == 1,
                name: r.text(4)?,
                disabled: r.opt_int(5)?.unwrap_or(0) != 0,
                behavior: r.int(6)?,
                visibility: r.int(7)?,
            };
            t.nodes.insert(r.int(0)?, node);
            Ok(())
        })
        .await?;
        db.each_row("reading tblScopePrincipal", sql.scopes, &[], |r| {
            let s = t.scopes.entry(r.int(0)?).or_default();
            let denied = r.opt_int(2)?.unwrap_or(0) != 0;
            (if denied { &mut s.denied } else { &mut s.allowed }).insert(r.int(1)?);
            Ok(())
        })
        .await?;
        db.each_row("reading tblPrincipalRole", sql.roles, &[], |r| {
            let node = r.int(0)?;
            if !rooms.contains(&node) {
                return Ok(());
            }
            let lists = t.lists.entry(node).or_default();
            let prin = r.int(1)?;
            match Role::from_desc(&r.text(2)?) {
                Some(Role::Member) => lists.members.insert(prin),
                Some(Role::Manager) => lists.managers.insert(prin),
                Some(Role::Voiced) => lists.presenters.insert(prin),
                Some(Role::Creator) | None => false,
            };
            Ok(())
        })
        .await?;
        Ok(t)
    }
}
