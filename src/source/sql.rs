//! The legacy reader's SQL, written once for every engine: the snapshot queries (their
//! select lists follow the columns the [`Schema`] probe found, an absent optional column
//! read as its catalogued default) and the history
//! statements. Every query names its columns (Microsoft does not support `SELECT *` on
//! these schemas); identifiers are unquoted (PostgreSQL folds them to lowercase, as
//! restore tools do) and integers are cast to `BIGINT`; [`Dialect`] supplies GUIDs as
//! text, the invitation date as text, the row limit and the 64-bit count.

use super::schema::Schema;
use crate::db::Dialect;

/// The snapshot queries for the columns present, by table, in reading order.
pub(crate) fn snapshot_sql(d: Dialect, p: &Schema) -> Vec<(&'static str, String)> {
    let queries = snapshot_queries(d, p);
    match d {
        Dialect::Sqlite => queries.into_iter().map(|(t, q)| (t, uncast(&q))).collect(),
        _ => queries,
    }
}

/// An SQLite snapshot query reads integer columns as stored: SQLite's `CAST('x7' AS
/// BIGINT)` is 0, which would turn a key that is text into node 0 without a word, while
/// the column as stored is text and fails to decode, naming its row (exit 2). Columns of
/// INTEGER affinity hold every real integer as one, so nothing valid changes.
fn uncast(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("CAST(") {
        let inner = &rest[at + 5..];
        match inner.find(" AS BIGINT)") {
            Some(end) if inner[..end].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push_str(&rest[..at]);
                out.push_str(&inner[..end]);
                rest = &inner[end + " AS BIGINT)".len()..];
            }
            _ => {
                out.push_str(&rest[..at + 5]);
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The snapshot queries as every engine but SQLite runs them.
fn snapshot_queries(d: Dialect, p: &Schema) -> Vec<(&'static str, String)> {
    let int = |col: &str| format!("CAST({col} AS BIGINT)");
    let col = |t: &str, c: &str, expr: &str| p.pick(t, c, expr);
    let icol = |t: &str, c: &str| p.pick(t, c, &int(c));
    let tcol = |t: &str, c: &str| p.pick(t, c, c);
    let fed = icol("tblPrincipalType", "ptypeIsFederated");
    let name = match (p.has("tblPrincipal", "prinDisplayName"), p.has("tblPrincipal", "prinName")) {
        (true, true) => "COALESCE(prinDisplayName, prinName)".to_string(),
        (true, false) => "prinDisplayName".to_string(),
        (false, _) => tcol("tblPrincipal", "prinName"),
    };
    let prin = |c: &str| tcol("tblPrincipal", c);
    let (company, email, upn) =
        (prin("prinCompanyName"), prin("prinEmail"), prin("prinADUserPrincipalName"));
    let (added, updated) =
        (icol("tblPrincipal", "prinAddedOn"), icol("tblPrincipal", "prinUpdatedOn"));
    let denied = icol("tblScopePrincipal", "scopeIsDenied");
    let honors = icol("tblPrincipalRole", "honorsScope");
    let n = |c: &str| icol("tblNode", c);
    let (desc, topic) = (tcol("tblNode", "nodeDesc"), tcol("tblNode", "topic"));
    let (over, invite, logged, post) =
        (n("overrideMember"), n("invite"), n("logged"), n("filePost"));
    let (disabled, behavior, visibility) = (n("disabled"), n("behavior"), n("visibility"));
    let (sdef, rdef) = (n("scopeDefinerId"), n("roleDefinerId"));
    let siop = col("tblNode", "siopID", &d.as_text("siopID"));
    let (added_by, added_on) = (n("nodeAddedBy"), n("nodeAddedOn"));
    let (updated_by, updated_on) = (n("nodeUpdatedBy"), n("nodeUpdatedOn"));
    vec![
        (
            "tblPrincipalType",
            format!(
                "SELECT CAST(ptypeID AS BIGINT), ptypeDesc, CAST(ptypeIsSystemUser AS BIGINT), \
                 CAST(ptypeIsUser AS BIGINT), {fed} FROM tblPrincipalType ORDER BY ptypeID"
            ),
        ),
        (
            "tblPrincipal",
            format!(
                "SELECT CAST(prinID AS BIGINT), {}, prinUri, {name}, {company}, {email}, \
                 prinADPath, {upn}, CAST(prinDisabled AS BIGINT), \
                 CAST(prinTypeID AS BIGINT), {added}, {updated} FROM tblPrincipal ORDER BY prinID",
                d.as_text("prinGuid")
            ),
        ),
        (
            "tblPrincipalAffiliations",
            "SELECT CAST(principalID AS BIGINT), CAST(affiliationID AS BIGINT) \
             FROM tblPrincipalAffiliations ORDER BY principalID, affiliationID"
                .into(),
        ),
        (
            "tblNode",
            format!(
                "SELECT CAST(nodeID AS BIGINT), {}, CAST(parentID AS BIGINT), \
                 CAST(nodeType AS BIGINT), nodeName, {desc}, {topic}, {over}, {invite}, {logged}, \
                 {post}, {disabled}, {behavior}, {visibility}, {sdef}, {rdef}, {siop}, {added_by}, \
                 {added_on}, {updated_by}, {updated_on} FROM tblNode ORDER BY nodeID",
                d.as_text("nodeGuid")
            ),
        ),
        (
            "tblRoleType",
            "SELECT CAST(rtypeID AS BIGINT), rtypeDesc FROM tblRoleType ORDER BY rtypeID".into(),
        ),
        (
            "tblScopePrincipal",
            format!(
                "SELECT CAST(scopeNodeID AS BIGINT), CAST(scopePrinID AS BIGINT), {denied} \
                 FROM tblScopePrincipal ORDER BY scopeNodeID, scopePrinID"
            ),
        ),
        (
            "tblPrincipalRole",
            format!(
                "SELECT CAST(prinRoleNodeID AS BIGINT), CAST(prinRolePrinID AS BIGINT), \
                 CAST(prinRoleTypeID AS BIGINT), {honors} FROM tblPrincipalRole \
                 ORDER BY prinRoleNodeID, prinRolePrinID, prinRoleTypeID"
            ),
        ),
        // Sorted by id after reading: SQL Server orders uniqueidentifiers by byte groups.
        (
            "tblSiopWhiteList",
            format!("SELECT {}, siopName, siopUrl FROM tblSiopWhiteList", d.as_text("siopId")),
        ),
        (
            "tblPrincipalInvites",
            format!(
                "SELECT CAST(prinID AS BIGINT), CAST(invID AS BIGINT), CAST(nodeID AS BIGINT), \
                 {} FROM tblPrincipalInvites ORDER BY prinID, nodeID",
                d.datetime_text("createdOn")
            ),
        ),
    ]
}

/// The history columns, in [`Chat`](crate::model::Chat) order. The casts are named so
/// that `ORDER BY chatId` is the key column: PostgreSQL names an unnamed cast after its
/// column and would sort by the cast instead of reading the key in order.
const CHAT_COLS: &str =
    "CAST(channelId AS BIGINT) AS channel_id, CAST(chatId AS BIGINT) AS chat_id, \
    CAST(chatDate AS BIGINT) AS chat_date, CAST(userId AS BIGINT) AS user_id, \
    CAST(isAlert AS BIGINT) AS is_alert, content";

/// A room id, named so that `ORDER BY channelId` is the key column (see [`CHAT_COLS`]).
const ROOM: &str = "CAST(channelId AS BIGINT) AS room";

/// All history rows, for progress totals.
pub(crate) fn count_all(d: Dialect) -> String {
    format!("SELECT {} FROM tblChat", d.count_big())
}

/// History rows of room `$1` at or below its watermark `$2`.
pub(crate) fn count_seen(d: Dialect) -> String {
    format!("SELECT {} FROM tblChat WHERE channelId = $1 AND chatId <= $2", d.count_big())
}

/// History rows of room `$1` past its watermark `$2` (a seek of the primary key).
pub(crate) fn count_past(d: Dialect) -> String {
    format!("SELECT {} FROM tblChat WHERE channelId = $1 AND chatId > $2", d.count_big())
}

/// The first room id in `tblChat`.
pub(crate) fn first_room(d: Dialect) -> String {
    d.select_first("1", &format!("{ROOM} FROM tblChat ORDER BY channelId"))
}

/// The next room id in `tblChat` after `$1`: a skip-scan of the `(channelId, chatId)` key,
/// which also finds the messages of rooms `tblNode` no longer holds.
pub(crate) fn next_room(d: Dialect) -> String {
    d.select_first("1", &format!("{ROOM} FROM tblChat WHERE channelId > $1 ORDER BY channelId"))
}

/// One chunk of room `$1`'s history past `chatId` `$2`, at most `$3` rows: a seek of the
/// primary key.
pub(crate) fn chunk(d: Dialect) -> String {
    d.select_first(
        "$3",
        &format!("{CHAT_COLS} FROM tblChat WHERE channelId = $1 AND chatId > $2 ORDER BY chatId"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::schema::{Need, COLUMNS};
    use super::*;

    #[test]
    fn select_lists_are_explicit_with_fallbacks() {
        for d in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mssql] {
            let all = snapshot_sql(d, &Schema::all(true));
            let none = snapshot_sql(d, &Schema::all(false));
            assert_eq!(all.len(), none.len());
            assert!(
                all.iter().chain(&none).all(|(_, s)| !s.contains('*')),
                "explicit column lists only"
            );
            let scopes = match d {
                // SQLite reads integers as stored (see `uncast`).
                Dialect::Sqlite => "SELECT scopeNodeID, scopePrinID, 0 FROM",
                _ => "SELECT CAST(scopeNodeID AS BIGINT), CAST(scopePrinID AS BIGINT), 0 FROM",
            };
            assert!(none.iter().any(|(_, s)| s.contains(scopes)));
            // Every optional column is read when present and only then.
            let optional = COLUMNS.iter().filter(|(t, c, n)| {
                *n != Need::Required && *c != "rtf" && (*t, *c) != ("tblRoleType", "honorsScope")
            });
            for (table, col, _) in optional {
                let sql = |v: &[(&str, String)]| {
                    v.iter().find(|(t, _)| t == table).map(|(_, s)| s.clone()).unwrap()
                };
                assert!(sql(&all).contains(col) && !sql(&none).contains(col), "{table}.{col}");
            }
        }
    }

    #[test]
    fn sqlite_reads_integer_columns_as_stored() {
        let q = snapshot_sql(Dialect::Sqlite, &Schema::all(true));
        assert!(q.iter().all(|(_, s)| !s.contains("AS BIGINT")), "{q:?}");
        let node = &q.iter().find(|(t, _)| *t == "tblNode").unwrap().1;
        assert!(node.starts_with("SELECT nodeID, "), "{node}");
        assert_eq!(
            uncast("SELECT CAST(a AS BIGINT), CAST(COALESCE(b, 0) AS BIGINT)"),
            "SELECT a, CAST(COALESCE(b, 0) AS BIGINT)"
        );
        let pg = snapshot_sql(Dialect::Postgres, &Schema::all(true));
        assert!(pg.iter().any(|(_, s)| s.contains("CAST(nodeID AS BIGINT)")));
    }

    #[test]
    fn optional_tables_are_read_only_when_present() {
        let all = Schema::all(true);
        let none = Schema::all(true).without(&["tblSiopWhiteList", "tblPrincipalInvites"]);
        for t in ["tblSiopWhiteList", "tblPrincipalInvites"] {
            assert!(all.reads(t) && !none.reads(t), "{t}");
        }
        assert!(none.reads("tblNode") && none.reads("tblPrincipal"));
    }

    #[test]
    fn history_placeholders_appear_in_their_order() {
        // SQLite numbers `$n` by first appearance: they must appear as 1, 2, 3.
        let sql = chunk(Dialect::Sqlite);
        let at = |p: &str| sql.find(p).unwrap();
        assert!(at("$1") < at("$2") && at("$2") < at("$3"), "{sql}");
        assert!(chunk(Dialect::Mssql).starts_with("SELECT TOP ($3) "));
    }
}
