//! The columns and tables the legacy reader needs, in one catalogue: which are required
//! (a source without them is refused, exit 2, with every missing one named at once) and
//! which are optional, each with the default read in its place and a plan finding
//! (`SOURCE_COLUMN_DEFAULTED`) saying so. Version detection and the snapshot's select
//! lists both work from one [`Schema`] probe of the source.
//!
//! Why these are optional: Microsoft published no OCS 2007 R2 schema; its own migration
//! accepts R2 and 2010 alike, so an R2 database is read as "the 2010 schema, possibly
//! without what 2010 is documented to have added" (`ptypeIsFederated`, the denormalized
//! `scopeDefinerId`/`roleDefinerId` pointers, the role flags copied into
//! `tblPrincipalRole`, add-ins, invitations) and without columns the mapping can do
//! without. The README's "Source schemas" table is this catalogue in prose.

use std::collections::BTreeSet;

use anyhow::Result;

use crate::db::Conn;
use crate::model::{Snapshot, SourceVersion};
use crate::plan::{Finding, Severity};

/// What the reader does when a column is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// The source is refused without it.
    Required,
    /// Read as `sql` instead (an expression valid on every engine), described by `says`;
    /// a legacy source without it gets a `SOURCE_COLUMN_DEFAULTED` finding.
    Default { sql: &'static str, says: &'static str },
    /// Only Persistent Chat 2013 has it (a version marker, or read when present): no
    /// finding when a legacy source lacks it. `sql` is read in its place.
    Only2013 { sql: &'static str },
}

use Need::{Default as D, Only2013, Required as R};

/// `overrideMember` when absent: a node with Member rows of its own starts a member list.
const OWN_MEMBERS: &str = "CASE WHEN EXISTS (SELECT 1 FROM tblPrincipalRole mr, tblRoleType mt \
     WHERE mr.prinRoleNodeID = tblNode.nodeID AND mt.rtypeID = mr.prinRoleTypeID \
     AND UPPER(mt.rtypeDesc) = 'MEMBER') THEN 1 ELSE 0 END";

/// `tblPrincipalRole.honorsScope` when absent: the role type's flag (the 2010 reference
/// says the row's flags are copied from `tblRoleType`); `{type}` is that flag's expression.
const ROLE_TYPE_SCOPE: &str = "(SELECT CAST({type} AS BIGINT) FROM tblRoleType st \
     WHERE st.rtypeID = tblPrincipalRole.prinRoleTypeID)";

/// `tblRoleType.honorsScope` when absent too: managers ignore the scope, other roles obey it.
const SCOPE_BY_NAME: &str = "CASE WHEN UPPER(st.rtypeDesc) = 'MANAGER' THEN 0 ELSE 1 END";

/// Every column the reader reads, by table (in the order a refusal names them).
pub(crate) const COLUMNS: &[(&str, &str, Need)] = &[
    ("tblNode", "nodeID", R),
    ("tblNode", "nodeGuid", R),
    ("tblNode", "parentID", R),
    ("tblNode", "nodeType", R),
    ("tblNode", "nodeName", R),
    ("tblNode", "nodeDesc", D { sql: "NULL", says: "an empty description" }),
    ("tblNode", "topic", D { sql: "NULL", says: "no topic" }),
    (
        "tblNode",
        "overrideMember",
        D { sql: OWN_MEMBERS, says: "1 where the node has Member rows of its own, else 0" },
    ),
    ("tblNode", "invite", D { sql: "NULL", says: "NULL (inherited)" }),
    ("tblNode", "logged", D { sql: "NULL", says: "NULL (inherited)" }),
    ("tblNode", "filePost", D { sql: "NULL", says: "NULL (inherited)" }),
    ("tblNode", "disabled", D { sql: "0", says: "0 (enabled)" }),
    ("tblNode", "behavior", D { sql: "4", says: "4 (normal)" }),
    ("tblNode", "visibility", D { sql: "NULL", says: "NULL (inherited)" }),
    (
        "tblNode",
        "scopeDefinerId",
        D { sql: "NULL", says: "derived from the tree: the nearest node with scope rows" },
    ),
    (
        "tblNode",
        "roleDefinerId",
        D { sql: "NULL", says: "derived from the tree: the nearest node with overrideMember" },
    ),
    ("tblNode", "siopID", D { sql: "NULL", says: "no add-in" }),
    ("tblNode", "nodeAddedBy", D { sql: "1", says: "1 (the system principal)" }),
    ("tblNode", "nodeAddedOn", D { sql: "0", says: "0 ticks" }),
    ("tblNode", "nodeUpdatedBy", D { sql: "1", says: "1 (the system principal)" }),
    ("tblNode", "nodeUpdatedOn", D { sql: "0", says: "0 ticks" }),
    ("tblPrincipal", "prinID", R),
    ("tblPrincipal", "prinGuid", R),
    ("tblPrincipal", "prinUri", R),
    ("tblPrincipal", "prinName", D { sql: "NULL", says: "no display name" }),
    ("tblPrincipal", "prinDisplayName", Only2013 { sql: "NULL" }),
    ("tblPrincipal", "prinCompanyName", D { sql: "NULL", says: "no company" }),
    ("tblPrincipal", "prinEmail", D { sql: "NULL", says: "no e-mail address" }),
    ("tblPrincipal", "prinADPath", R),
    ("tblPrincipal", "prinADUserPrincipalName", D { sql: "NULL", says: "no UPN" }),
    ("tblPrincipal", "prinDisabled", R),
    ("tblPrincipal", "prinTypeID", R),
    ("tblPrincipal", "prinAddedOn", D { sql: "0", says: "0 ticks" }),
    ("tblPrincipal", "prinUpdatedOn", D { sql: "0", says: "0 ticks" }),
    ("tblChat", "channelId", R),
    ("tblChat", "chatId", R),
    ("tblChat", "chatDate", R),
    ("tblChat", "userId", R),
    ("tblChat", "isAlert", R),
    ("tblChat", "content", R),
    ("tblChat", "rtf", Only2013 { sql: "NULL" }),
    ("tblPrincipalRole", "prinRoleNodeID", R),
    ("tblPrincipalRole", "prinRolePrinID", R),
    ("tblPrincipalRole", "prinRoleTypeID", R),
    (
        "tblPrincipalRole",
        "honorsScope",
        D { sql: ROLE_TYPE_SCOPE, says: "the role type's tblRoleType.honorsScope" },
    ),
    ("tblRoleType", "rtypeID", R),
    ("tblRoleType", "rtypeDesc", R),
    (
        "tblRoleType",
        "honorsScope",
        D { sql: SCOPE_BY_NAME, says: "0 for Manager, 1 for every other role" },
    ),
    ("tblScopePrincipal", "scopeNodeID", R),
    ("tblScopePrincipal", "scopePrinID", R),
    ("tblScopePrincipal", "scopeIsDenied", Only2013 { sql: "0" }),
    ("tblPrincipalType", "ptypeID", R),
    ("tblPrincipalType", "ptypeDesc", R),
    ("tblPrincipalType", "ptypeIsSystemUser", R),
    ("tblPrincipalType", "ptypeIsUser", R),
    (
        "tblPrincipalType",
        "ptypeIsFederated",
        D { sql: "0", says: "0; principal types 6, 7 and 11 are federated all the same" },
    ),
    ("tblPrincipalAffiliations", "principalID", R),
    ("tblPrincipalAffiliations", "affiliationID", R),
    ("tblSiopWhiteList", "siopId", R),
    ("tblSiopWhiteList", "siopName", R),
    ("tblSiopWhiteList", "siopUrl", R),
    ("tblPrincipalInvites", "prinID", R),
    ("tblPrincipalInvites", "invID", R),
    ("tblPrincipalInvites", "nodeID", R),
    ("tblPrincipalInvites", "createdOn", R),
];

/// Tables a source may lack, with what is read instead. Their columns are required when
/// the table is there.
pub(crate) const OPTIONAL_TABLES: &[(&str, &str)] =
    &[("tblSiopWhiteList", "no add-ins"), ("tblPrincipalInvites", "no invitations")];

/// The tables of [`COLUMNS`], in order, once each.
pub(crate) fn tables() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for (t, _, _) in COLUMNS {
        if !out.contains(t) {
            out.push(t);
        }
    }
    out
}

/// The columns of `table` probed together (all but the 2013-only ones, probed one by one).
pub(crate) fn bulk_columns(table: &str) -> String {
    let cols: Vec<&str> = COLUMNS
        .iter()
        .filter(|(t, _, n)| *t == table && !matches!(n, Only2013 { .. }))
        .map(|(_, c, _)| *c)
        .collect();
    cols.join(", ")
}

/// Which catalogue tables and columns a source has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Schema {
    /// `(table, column)` pairs present.
    columns: BTreeSet<(&'static str, &'static str)>,
}

impl Schema {
    /// Probes the source: one query per table when it is complete, then column by column.
    pub(crate) async fn probe(db: &Conn) -> Result<Schema> {
        let mut columns = BTreeSet::new();
        for table in tables() {
            let all = db.has_columns(table, &bulk_columns(table)).await?;
            for (t, c, need) in COLUMNS.iter().filter(|(t, _, _)| *t == table) {
                let single = !all || matches!(need, Only2013 { .. });
                if !single || db.has_columns(t, c).await? {
                    columns.insert((*t, *c));
                }
            }
        }
        Ok(Schema { columns })
    }

    /// A schema with every catalogue column (`true`), or with only the required ones.
    #[cfg(any(test, feature = "mssql"))]
    pub(crate) fn all(on: bool) -> Schema {
        let columns =
            COLUMNS.iter().filter(|(_, _, n)| on || *n == R).map(|(t, c, _)| (*t, *c)).collect();
        Schema { columns }
    }

    /// A schema without the given `table.column`s or tables (for tests).
    #[cfg(any(test, feature = "mssql"))]
    pub(crate) fn without(mut self, gone: &[&str]) -> Schema {
        self.columns
            .retain(|(t, c)| !gone.contains(&format!("{t}.{c}").as_str()) && !gone.contains(t));
        self
    }

    /// Whether `table.column` is present.
    pub(crate) fn has(&self, table: &str, column: &str) -> bool {
        self.columns.iter().any(|(t, c)| *t == table && *c == column)
    }

    /// Whether any column of `table` is present.
    pub(crate) fn has_table(&self, table: &str) -> bool {
        self.columns.iter().any(|(t, _)| *t == table)
    }

    /// `expr` when `table.column` is present, else the catalogue's default expression.
    pub(crate) fn pick(&self, table: &str, column: &str, expr: &str) -> String {
        if self.has(table, column) {
            return expr.to_string();
        }
        match need(table, column) {
            // The role row's flag falls back on its role type's, itself defaulted by name.
            Some(D { sql, .. }) if sql.contains("{type}") => {
                sql.replace("{type}", &self.pick("tblRoleType", "honorsScope", "st.honorsScope"))
            }
            Some(D { sql, .. } | Only2013 { sql }) => sql.to_string(),
            // A required column is never absent from a schema the reader accepted.
            Some(R) | None => expr.to_string(),
        }
    }

    /// The product that wrote a readable source: a column only 2013 has, then the two
    /// pointers 2010 added; OCS 2007 R2 otherwise.
    pub(crate) fn version(&self) -> SourceVersion {
        if self.has("tblScopePrincipal", "scopeIsDenied") || self.has("tblChat", "rtf") {
            SourceVersion::Mgc2013
        } else if self.has("tblNode", "scopeDefinerId") && self.has("tblNode", "roleDefinerId") {
            SourceVersion::Lync2010
        } else {
            SourceVersion::Ocs2007R2
        }
    }

    /// Whether the snapshot reads `table` (an optional table may be absent).
    pub(crate) fn reads(&self, table: &str) -> bool {
        !OPTIONAL_TABLES.iter().any(|(t, _)| *t == table) || self.has_table(table)
    }

    /// Every required table and column the source lacks, as `tblX` (a whole table) or
    /// `tblX.col`, in catalogue order; empty when the source is readable.
    pub(crate) fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for table in tables() {
            let optional = OPTIONAL_TABLES.iter().any(|(t, _)| *t == table);
            if !self.has_table(table) {
                if !optional {
                    out.push(table.to_string());
                }
                continue;
            }
            for (t, c, n) in COLUMNS {
                if *t == table && *n == R && !self.has(t, c) {
                    out.push(format!("{t}.{c}"));
                }
            }
        }
        out
    }

    /// What a legacy source lacks and is read with a default instead: `(subject, default)`
    /// pairs, `tblX.col` or an optional table. `tblRoleType.honorsScope` counts only when
    /// `tblPrincipalRole.honorsScope` is absent too (only then is it read).
    pub(crate) fn defaulted(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (t, says) in OPTIONAL_TABLES {
            if !self.has_table(t) {
                out.push((t.to_string(), says.to_string()));
            }
        }
        for (t, c, n) in COLUMNS {
            let D { says, .. } = n else { continue };
            let unused = (*t, *c) == ("tblRoleType", "honorsScope")
                && self.has("tblPrincipalRole", "honorsScope");
            if !self.has(t, c) && !unused {
                out.push((format!("{t}.{c}"), says.to_string()));
            }
        }
        out
    }
}

/// One `SOURCE_COLUMN_DEFAULTED` warning per column or table the snapshot's source lacked
/// and read as its default (none for a complete 2010 source).
pub fn defaulted_findings(snap: &Snapshot) -> Vec<Finding> {
    let version = snap.version.map_or("the source", |v| v.label());
    snap.defaulted
        .iter()
        .map(|(subject, says)| Finding {
            severity: Severity::Warning,
            code: "SOURCE_COLUMN_DEFAULTED".into(),
            subject: subject.clone(),
            guid: None,
            message: format!(
                "{version} has no {subject}: read as {says} (see the README's source schemas); \
                 check the plan's access and rooms against the source before the cutover"
            ),
        })
        .collect()
}

/// The catalogue entry of `table.column`.
fn need(table: &str, column: &str) -> Option<Need> {
    COLUMNS.iter().find(|(t, c, _)| *t == table && *c == column).map(|(_, _, n)| *n)
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
