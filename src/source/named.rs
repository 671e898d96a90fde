//! Decode errors that name their row: a snapshot row the decoders cannot read (a NULL
//! where a value is required, text in an integer column, a name that is not valid
//! UTF-8) is bad input (exit 2) naming the table, the row's key and the column, and what
//! to do — never a bare driver message with exit 3.
//!
//! [`Tracked`] wraps a row and remembers the first column whose read failed; the column
//! names follow the select lists of `sql.rs`, in order.

use std::cell::Cell;

use anyhow::Result;

use crate::db::Cells;
use crate::error::bad_input;

/// The legacy columns of each snapshot query, in select-list order, and how many of the
/// first ones make up the row's key.
fn columns(table: &str) -> (&'static [&'static str], usize) {
    match table {
        "tblPrincipalType" => {
            (&["ptypeID", "ptypeDesc", "ptypeIsSystemUser", "ptypeIsUser", "ptypeIsFederated"], 1)
        }
        "tblPrincipal" => (
            &[
                "prinID",
                "prinGuid",
                "prinUri",
                "prinDisplayName/prinName",
                "prinCompanyName",
                "prinEmail",
                "prinADPath",
                "prinADUserPrincipalName",
                "prinDisabled",
                "prinTypeID",
                "prinAddedOn",
                "prinUpdatedOn",
            ],
            1,
        ),
        "tblPrincipalAffiliations" => (&["principalID", "affiliationID"], 2),
        "tblNode" => (
            &[
                "nodeID",
                "nodeGuid",
                "parentID",
                "nodeType",
                "nodeName",
                "nodeDesc",
                "topic",
                "overrideMember",
                "invite",
                "logged",
                "filePost",
                "disabled",
                "behavior",
                "visibility",
                "scopeDefinerId",
                "roleDefinerId",
                "siopID",
                "nodeAddedBy",
                "nodeAddedOn",
                "nodeUpdatedBy",
                "nodeUpdatedOn",
            ],
            1,
        ),
        "tblRoleType" => (&["rtypeID", "rtypeDesc"], 1),
        "tblScopePrincipal" => (&["scopeNodeID", "scopePrinID", "scopeIsDenied"], 2),
        "tblPrincipalRole" => {
            (&["prinRoleNodeID", "prinRolePrinID", "prinRoleTypeID", "honorsScope"], 3)
        }
        "tblSiopWhiteList" => (&["siopId", "siopName", "siopUrl"], 1),
        "tblPrincipalInvites" => (&["prinID", "invID", "nodeID", "createdOn"], 3),
        _ => (&[], 0),
    }
}

/// A row that remembers the first column whose read failed.
pub(crate) struct Tracked<'a> {
    row: &'a dyn Cells,
    failed: Cell<Option<usize>>,
}

impl<'a> Tracked<'a> {
    /// Wraps `row`.
    pub(crate) fn new(row: &'a dyn Cells) -> Tracked<'a> {
        Tracked { row, failed: Cell::new(None) }
    }

    fn note<T>(&self, i: usize, r: Result<T>) -> Result<T> {
        if r.is_err() && self.failed.get().is_none() {
            self.failed.set(Some(i));
        }
        r
    }

    /// The row's key as `col=value, …` (`?` for a key column that cannot be read).
    fn key(&self, table: &str) -> String {
        let (cols, n) = columns(table);
        let value = |i: usize| match self.row.opt_int(i) {
            Ok(Some(v)) => v.to_string(),
            Ok(None) => "NULL".into(),
            Err(_) => match self.row.opt_text(i) {
                Ok(Some(t)) => format!("'{}'", t.escape_debug()),
                Ok(None) => "NULL".into(),
                Err(_) => "?".into(),
            },
        };
        cols.iter()
            .take(n)
            .enumerate()
            .map(|(i, c)| format!("{c}={}", value(i)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The bad-input error for a failed decode of this `table` row, the `n`th read, from
    /// the source `label`.
    pub(crate) fn error(
        &self,
        table: &str,
        n: u64,
        label: &str,
        cause: &anyhow::Error,
    ) -> anyhow::Error {
        let (cols, _) = columns(table);
        let column = match self.failed.get() {
            Some(i) => cols.get(i).map_or(format!("column {}", i + 1), |c| format!("column {c}")),
            None => "a column".into(),
        };
        bad_input(format!(
            "{label}: {table} row {} (row {n} in key order), {column}: {cause:#} — correct or \
             delete that row in the legacy database (or in a restored copy of it) and rerun \
             `gcmigrate extract`",
            self.key(table)
        ))
    }
}

impl Cells for Tracked<'_> {
    fn int(&self, i: usize) -> Result<i64> {
        self.note(i, self.row.int(i))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.note(i, self.row.opt_int(i))
    }
    fn text(&self, i: usize) -> Result<String> {
        self.note(i, self.row.text(i))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.note(i, self.row.opt_text(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of text cells (None = NULL).
    struct Row(Vec<Option<&'static str>>);

    impl Cells for Row {
        fn int(&self, i: usize) -> Result<i64> {
            self.opt_int(i)?.ok_or_else(|| anyhow::anyhow!("NULL where a value is required"))
        }
        fn opt_int(&self, i: usize) -> Result<Option<i64>> {
            self.0[i]
                .map(|t| t.parse::<i64>().map_err(|_| anyhow::anyhow!("`{t}` is not an integer")))
                .transpose()
        }
        fn text(&self, i: usize) -> Result<String> {
            self.opt_text(i)?.ok_or_else(|| anyhow::anyhow!("NULL where a value is required"))
        }
        fn opt_text(&self, i: usize) -> Result<Option<String>> {
            Ok(self.0[i].map(str::to_string))
        }
    }

    #[test]
    fn a_failed_decode_names_table_key_and_column() {
        let row = Row(vec![Some("4"), None]);
        let t = Tracked::new(&row);
        let mut s = crate::model::Snapshot::default();
        let e = super::super::rows::add_row(&mut s, "tblRoleType", &t).unwrap_err();
        let msg = t.error("tblRoleType", 3, "sqlite://x.db", &e).to_string();
        assert!(msg.starts_with("sqlite://x.db: tblRoleType row rtypeID=4 (row 3 in key order), column rtypeDesc: NULL"), "{msg}");
        assert!(msg.contains("rerun `gcmigrate extract`"), "{msg}");
        let row = Row(vec![Some("x1"), Some("Member")]);
        let t = Tracked::new(&row);
        let e = super::super::rows::add_row(&mut s, "tblRoleType", &t).unwrap_err();
        let msg = t.error("tblRoleType", 1, "src", &e).to_string();
        assert!(msg.contains("row rtypeID='x1'") && msg.contains("column rtypeID"), "{msg}");
    }
}
