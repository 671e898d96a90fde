//! SQL Server through tiberius: `connect.rs` (TCP or SQL Browser for a named instance, TLS
//! with rustls, one redirect, within the connect timeout; failures as one-line messages
//! that say what to check), `types.rs` (cells of any integer width, values encoded with the
//! exact type of the destination column, which bulk load requires), `pool.rs` (the
//! backend primitives), `writer.rs` (batches, bulk load), `url.rs` (URLs and ADO.NET
//! strings), `failover.rs` (database mirroring's failover partner); here, small helpers to run statements and probe the catalog.

#[cfg(test)]
mod cells_tests;
pub mod connect;
pub mod failover;
pub mod pool;
pub mod types;
pub mod url;
pub mod writer;

use std::borrow::Cow;

use anyhow::Result;
use tiberius::error::Error as TdsError;
use tiberius::{ColumnData, Query, ToSql};
use tokio::net::TcpStream;
use tokio_util::compat::Compat;

pub use connect::{
    connect, connect_error, connect_spec, is_permission_denied, scrub, statement_error, Cause,
    PERMISSION_DENIED,
};
pub use types::{encode, int, parse_datetime, text, Param, SqlType};
pub use url::ConnSpec;

/// A connected SQL Server session.
pub type Client = tiberius::Client<Compat<TcpStream>>;

/// A row as tiberius cells, in select-list order (read through [`crate::db::Cells`]).
pub type TdsRow = Vec<ColumnData<'static>>;

/// `[name]` for an identifier (the table specs write `index` as `"index"`).
pub fn quote(ident: &str) -> String {
    format!("[{}]", ident.trim_matches('"').replace(']', "]]"))
}

/// `N'…'`: a T-SQL Unicode string literal.
pub fn n_literal(s: &str) -> String {
    format!("N'{}'", s.replace('\'', "''"))
}

/// `SELECT CASE WHEN COL_LENGTH(N't', N'c1') IS NOT NULL AND … THEN 1 ELSE 0 END`: 1 when
/// `table` has every column of `cols` (comma-separated) as far as the login can see.
/// Metadata functions answer the same on SQL Server (2005 on) and Babelfish, where the
/// errors of a failing `SELECT` do not (207/208 against 33557097).
pub fn presence_sql(table: &str, cols: &str) -> String {
    let t = n_literal(table);
    let checks: Vec<String> = cols
        .split(',')
        .map(|c| format!("COL_LENGTH({t}, {}) IS NOT NULL", n_literal(c.trim())))
        .collect();
    format!("SELECT CASE WHEN {} THEN 1 ELSE 0 END", checks.join(" AND "))
}

/// `SELECT cols FROM table WHERE 1 = 0`: compiles only when the columns exist and the
/// login may read them.
pub fn probe_sql(table: &str, cols: &str) -> String {
    format!("SELECT {cols} FROM {table} WHERE 1 = 0")
}

/// Whether `table` has every column of `cols`. The catalog decides ([`presence_sql`]),
/// so no error number is needed. A login without permission on a table does not see it
/// in the catalog either, so where the catalog says "absent" a `SELECT … WHERE 1 = 0`
/// tells the two apart: it succeeds (present after all), fails for a permission (an
/// error: the caller says what to GRANT) or fails otherwise (absent).
pub async fn has_columns(c: &mut Client, table: &str, cols: &str) -> Result<bool, TdsError> {
    let rows = query(c, &presence_sql(table, cols), &[]).await?;
    if rows.first().and_then(|r| int(r, 0).ok().flatten()) == Some(1) {
        return Ok(true);
    }
    match query(c, &probe_sql(table, cols), &[]).await {
        Ok(_) => Ok(true),
        Err(e) if is_permission_denied(&e) => Err(e),
        Err(TdsError::Server(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Drops (when present) and creates the database `name` on the server of `location`
/// (an `mssql://` URL or ADO.NET string), connecting through its `master`; returns the
/// location naming the new database. For the bench's scratch databases.
pub async fn recreate_database(location: &str, name: &str) -> Result<String> {
    let spec = ConnSpec::parse_str(&url::with_database(location, "master"))?;
    let mut c = connect_spec(&spec).await?;
    let (lit, ident) = (n_literal(name), quote(name));
    // One statement a batch, outside any transaction (neither statement may run inside one).
    for sql in [
        format!("IF DB_ID({lit}) IS NOT NULL DROP DATABASE {ident}"),
        format!("CREATE DATABASE {ident}"),
    ] {
        batch(&mut c, &sql).await.map_err(|e| {
            statement_error(&spec.label(), &format!("creating database {name}"), &e)
        })?;
    }
    let _ = c.close().await;
    Ok(url::with_database(location, name))
}

/// Runs a statement with bound [`Param`]s; returns the rows affected.
pub async fn execute_params<'a>(
    client: &mut Client,
    sql: &'a str,
    params: Vec<Param<'a>>,
) -> Result<u64, TdsError> {
    let mut q = Query::new(Cow::Borrowed(sql));
    for p in params {
        q.bind(p);
    }
    Ok(q.execute(client).await?.total())
}

/// Runs a query with `@P1…` parameters; returns the first result set as cells.
pub async fn query(
    client: &mut Client,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<Vec<TdsRow>, TdsError> {
    let rows = client.query(sql, params).await?.into_first_result().await?;
    Ok(rows.into_iter().map(|r| r.into_iter().collect()).collect())
}

/// Runs a parameterless batch (`BEGIN TRANSACTION`, DDL), draining its results.
pub async fn batch(client: &mut Client, sql: &str) -> Result<(), TdsError> {
    client.simple_query(sql).await?.into_results().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_probes_name_every_column_as_a_unicode_literal() {
        assert_eq!(
            presence_sql("tblNode", "nodeID, node'Name"),
            "SELECT CASE WHEN COL_LENGTH(N'tblNode', N'nodeID') IS NOT NULL AND \
             COL_LENGTH(N'tblNode', N'node''Name') IS NOT NULL THEN 1 ELSE 0 END"
        );
    }
}
