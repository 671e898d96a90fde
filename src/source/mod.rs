//! Reading a legacy Group Chat database, on any engine, through the backend layer's
//! primitives ([`Conn`]: probe a table, stream rows as [`Cells`](crate::db::Cells)):
//! version detection, the configuration snapshot and the history stream, each written
//! once. The SQL is in `sql.rs`, the row decoders in `rows.rs`, the history reader in
//! `history.rs`. The source is only ever read.

pub mod deployment;
pub mod filestore;
mod history;
mod named;
pub(crate) mod rows;
mod schema;
mod sql;

use anyhow::Result;

use crate::db::Conn;
use crate::error::bad_input;
use crate::model::{Snapshot, SourceVersion};
use schema::Schema;

pub use schema::defaulted_findings;

pub use history::{count_chats, each_chat_upto, stream_chats};

/// Per-room highest `chatId` already extracted; empty for a full extract.
pub type Watermarks = std::collections::BTreeMap<i64, i64>;

/// Detects Lync 2010, OCS 2007 R2 or 2013 `mgc` from the tables and columns present (the
/// catalogue of `schema.rs`); a source without a required table or column is bad input
/// (exit 2), every missing one named in one line. On SQL Server a missing permission is an
/// error that says what to GRANT, not a missing table.
pub async fn detect_version(db: &Conn) -> Result<SourceVersion> {
    let found = Schema::probe(db).await?;
    let missing = found.missing();
    if !missing.is_empty() {
        let tables = db.list_tables().await.unwrap_or_default();
        let found = if tables.is_empty() { "no tables".to_string() } else { tables.join(", ") };
        return Err(bad_input(format!(
            "{} is not a Group Chat database: missing {} (found: {found}); give a complete Lync 2010, \
             OCS 2007 R2 or Persistent Chat 2013 database (a full restore, not a partial copy)",
            db.label(),
            missing.join(", ")
        )));
    }
    Ok(found.version())
}

/// Reads every table but `tblChat` into memory; what a legacy source lacks and was read
/// as its default is recorded for the plan's `SOURCE_COLUMN_DEFAULTED` findings.
pub async fn snapshot(db: &Conn, version: SourceVersion) -> Result<Snapshot> {
    let mut s = Snapshot { version: Some(version), ..Snapshot::default() };
    let present = Schema::probe(db).await?;
    if version != SourceVersion::Mgc2013 {
        s.defaulted = present.defaulted();
    }
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
    s.filestore_uri = filestore::uri(db).await?;
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
        ("count past a watermark", sql::count_past(d)),
        ("first room", sql::first_room(d)),
        ("next room", sql::next_room(d)),
        ("chunk", sql::chunk(d)),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    let bulk = schema::tables().into_iter().map(|t| (t, schema::bulk_columns(t)));
    let single = schema::COLUMNS.iter().map(|(t, c, _)| (*t, c.to_string()));
    for (t, c) in bulk.chain(single) {
        let name = format!("probe {t} ({c})");
        if !out.iter().any(|(n, _)| *n == name) {
            let by_select = (format!("{name} by select"), probe_sql(t, &c));
            out.extend([(name, presence_sql(t, &c)), by_select]);
        }
    }
    // Every default on its own, then all of them together (the role flag's two fallbacks).
    let mut schemas = vec![("all columns".to_string(), Schema::all(true))];
    schemas.push(("required only".into(), Schema::all(false)));
    schemas.push((
        "role flags by type".into(),
        Schema::all(true).without(&["tblPrincipalRole.honorsScope"]),
    ));
    for (tag, s) in schemas {
        let all = sql::snapshot_sql(d, &s);
        out.extend(all.into_iter().map(|(t, s)| (format!("{t} ({tag})"), s)));
    }
    out.push(("tblNode.filestoreURI".into(), filestore::SQL.into()));
    for (_, s) in &mut out {
        *s = placeholders(s).into_owned();
    }
    out
}
