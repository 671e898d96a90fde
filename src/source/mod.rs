//! Reading a legacy Group Chat database, on any engine, through the backend layer's
//! primitives ([`Conn`]: probe a table, stream rows as [`Cells`](crate::db::Cells)):
//! version detection, the configuration snapshot and the history stream, each written
//! once. The SQL is in `sql.rs`, the row decoders in `rows.rs`, the history reader in
//! `history.rs`. The source is only ever read.

pub mod deployment;
mod history;
mod named;
pub(crate) mod rows;
mod sql;

use anyhow::Result;

use crate::db::Conn;
use crate::error::bad_input;
use crate::model::{Snapshot, SourceVersion};

pub use history::{count_chats, each_chat_upto, stream_chats};

/// Per-room highest `chatId` already extracted; empty for a full extract.
pub type Watermarks = std::collections::BTreeMap<i64, i64>;

/// Tables a Group Chat database must have, with the columns read unconditionally.
pub const CORE: &[(&str, &str)] = &[
    ("tblNode", "nodeID, parentID, nodeType, nodeName"),
    ("tblPrincipal", "prinID, prinGuid, prinUri, prinTypeID"),
    ("tblChat", "channelId, chatId, chatDate, userId, content"),
    ("tblPrincipalRole", "prinRoleNodeID, prinRolePrinID, prinRoleTypeID"),
    ("tblRoleType", "rtypeID, rtypeDesc"),
    ("tblScopePrincipal", "scopeNodeID, scopePrinID"),
];

/// Columns that only 2013 `mgc` has (either one), then the columns only Lync 2010 has.
const MGC_2013: [(&str, &str); 2] = [("tblScopePrincipal", "scopeIsDenied"), ("tblChat", "rtf")];
const LYNC_2010: (&str, &str) = ("tblNode", "scopeDefinerId, roleDefinerId");

/// Detects Lync 2010, OCS 2007 R2 or 2013 `mgc` from the tables and columns present;
/// anything else is bad input (exit 2). On SQL Server a missing permission is an error
/// that says what to GRANT, not a missing table.
pub async fn detect_version(db: &Conn) -> Result<SourceVersion> {
    let mut missing = Vec::new();
    for (table, cols) in CORE {
        if !db.has_columns(table, cols).await? {
            missing.push(*table);
        }
    }
    if !missing.is_empty() {
        let tables = db.list_tables().await.unwrap_or_default();
        let has = |t: &str| tables.iter().any(|f| f.eq_ignore_ascii_case(t));
        // A table that is there but lacks a column read unconditionally: name the columns.
        let (partial, absent): (Vec<&str>, Vec<&str>) = missing.iter().partition(|t| has(t));
        let mut what: Vec<String> = Vec::new();
        if !absent.is_empty() {
            what.push(format!("missing {}", absent.join(", ")));
        }
        for t in partial {
            let cols = CORE.iter().find(|(c, _)| *c == t).map_or("", |(_, c)| *c);
            what.push(format!("{t} lacks one of the columns {cols}"));
        }
        let found = if tables.is_empty() { "no tables".to_string() } else { tables.join(", ") };
        return Err(bad_input(format!(
            "{} is not a Group Chat database: {} (found: {found}); give a complete Lync 2010, \
             OCS 2007 R2 or Persistent Chat 2013 database (a full restore, not a partial copy)",
            db.label(),
            what.join("; ")
        )));
    }
    for (table, cols) in MGC_2013 {
        if db.has_columns(table, cols).await? {
            return Ok(SourceVersion::Mgc2013);
        }
    }
    if db.has_columns(LYNC_2010.0, LYNC_2010.1).await? {
        return Ok(SourceVersion::Lync2010);
    }
    Ok(SourceVersion::Ocs2007R2)
}

/// Reads every table but `tblChat` into memory.
pub async fn snapshot(db: &Conn, version: SourceVersion) -> Result<Snapshot> {
    let mut s = Snapshot { version: Some(version), ..Snapshot::default() };
    let present = sql::Present::probe(db).await?;
    let label = db.label();
    for (table, sql) in sql::snapshot_sql(db.dialect(), &present) {
        if !present.reads(table) {
            continue;
        }
        let mut n = 0u64;
        db.each_row(&format!("reading {table}"), &sql, &[], |r| {
            n += 1;
            let row = named::Tracked::new(r);
            rows::add_row(&mut s, table, &row).map_err(|e| row.error(table, n, &label, &e))
        })
        .await?;
    }
    // SQL Server orders uniqueidentifiers by byte groups; every engine sorts by the text.
    s.addins.sort_by(|a, b| a.id.cmp(&b.id));
    s.deployment = Some(deployment::identity(db, &s).await?);
    Ok(s)
}

/// Every T-SQL statement the reader can send, named, as SQL Server receives it
/// (placeholders renamed): for the parse tests.
#[cfg(feature = "mssql")]
pub fn tsql_statements() -> Vec<(String, String)> {
    use crate::db::mssql::{pool::placeholders, presence_sql, probe_sql};
    use crate::db::Dialect;
    let d = Dialect::Mssql;
    let mut out: Vec<(String, String)> = [
        ("isolation", crate::db::source::ISOLATION.to_string()),
        ("list tables", d.list_tables().to_string()),
        ("count all", sql::count_all(d)),
        ("count seen", sql::count_seen(d)),
        ("first room", sql::first_room(d)),
        ("next room", sql::next_room(d)),
        ("chunk", sql::chunk(d)),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    let probes = CORE.iter().chain(&MGC_2013).chain([&LYNC_2010]).chain(&sql::OPTIONAL);
    for (t, c) in probes {
        let name = format!("probe {t} ({c})");
        if !out.iter().any(|(n, _)| *n == name) {
            let by_select = (format!("{name} by select"), probe_sql(t, c));
            out.extend([(name, presence_sql(t, c)), by_select]);
        }
    }
    for (on, tag) in [(true, "all columns"), (false, "fallbacks")] {
        let all = sql::snapshot_sql(d, &sql::Present::all(on));
        out.extend(all.into_iter().map(|(t, s)| (format!("{t} ({tag})"), s)));
    }
    for (_, s) in &mut out {
        *s = placeholders(s).into_owned();
    }
    out
}
