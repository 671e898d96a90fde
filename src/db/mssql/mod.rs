//! SQL Server connections through tiberius: connect (TCP or SQL Browser for a named
//! instance, TLS with rustls, one redirect) within the connect timeout, map failures to
//! one-line messages that say what to check, and small helpers to run statements, read
//! cells whatever the integer width of the column, and encode values with the exact type
//! of the destination column (bulk load accepts nothing else).
//!
//! Every message here is built from [`ConnSpec::label`] (no credentials) and scrubbed of
//! the password, so no secret reaches a log, a report or the terminal.

#[cfg(test)]
mod cells_tests;
pub mod pool;
pub mod session;
pub mod url;
pub mod writer;

use std::borrow::Cow;

use anyhow::Result;
use tiberius::error::{Error as TdsError, IoErrorKind as IoKind};
use tiberius::{ColumnData, IntoSql, Query, SqlBrowser, ToSql, Uuid};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use crate::db::batch::Value;
use crate::db::DbUrl;
use crate::error::runtime;
pub use session::Session;
pub use url::ConnSpec;

/// A connected SQL Server session.
pub type Client = tiberius::Client<Compat<TcpStream>>;

/// A row as tiberius cells, in select-list order (read through [`crate::db::Cells`]).
pub type TdsRow = Vec<ColumnData<'static>>;

/// Connects to the SQL Server database at `url` (an `mssql://` URL or ADO.NET string).
pub async fn connect(url: &DbUrl) -> Result<Client> {
    connect_spec(&ConnSpec::parse(url)?).await
}

/// Connects with a parsed spec; the timeout bounds name resolution, SQL Browser, TCP,
/// TLS and the login together, so nothing hangs past it.
pub async fn connect_spec(spec: &ConnSpec) -> Result<Client> {
    match tokio::time::timeout(spec.connect_timeout, open(spec)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(connect_error(spec, &Cause::from(&e))),
        Err(_) => Err(connect_error(spec, &Cause::Timeout)),
    }
}

async fn open(spec: &ConnSpec) -> Result<Client, TdsError> {
    let mut route: Option<(String, u16)> = None;
    // Azure SQL gateways and read-only routing answer with one redirect.
    for _ in 0..2 {
        let config = spec.to_config(route.as_ref().map(|(h, p)| (h.as_str(), *p)));
        let tcp = match (&route, &spec.instance, spec.port) {
            (None, Some(_), None) => TcpStream::connect_named(&config).await?,
            _ => match &route {
                Some((h, p)) => tcp_connect(h, *p).await?,
                None => tcp_connect(&spec.host, spec.port.unwrap_or(1433)).await?,
            },
        };
        match tiberius::Client::connect(config, tcp.compat_write()).await {
            Err(TdsError::Routing { host, port }) => route = Some((host, port)),
            other => return other,
        }
    }
    Err(TdsError::Protocol("the server redirected the connection more than once".into()))
}

/// Resolves and connects, keeping the real I/O error (refused, unreachable) for the message.
async fn tcp_connect(host: &str, port: u16) -> Result<TcpStream, TdsError> {
    let mut last = None;
    for a in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(a).await {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the host name resolves to no address",
            )
        })
        .into())
}

/// What went wrong, reduced to what decides the advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// No answer within the connect timeout.
    Timeout,
    /// TCP refused, host unreachable, name not resolved.
    Unreachable(String),
    /// SQL Browser did not resolve the named instance.
    Browser(String),
    /// The TLS handshake failed.
    Tls(String),
    /// The server hung up during the handshake.
    Closed(String),
    /// Something answered that does not speak TDS.
    Protocol(String),
    /// A server error: number and message.
    Server(u32, String),
    /// Anything else.
    Other(String),
}

impl From<&TdsError> for Cause {
    fn from(e: &TdsError) -> Self {
        match e {
            // tokio-rustls reports handshake failures as I/O errors.
            TdsError::Io { kind, message } => {
                let m = message.to_ascii_lowercase();
                if *kind == IoKind::InvalidData
                    || ["certificate", "tls", "handshake", "alert"].iter().any(|w| m.contains(w))
                {
                    Cause::Tls(message.clone())
                } else if matches!(
                    kind,
                    IoKind::ConnectionReset | IoKind::ConnectionAborted | IoKind::UnexpectedEof
                ) {
                    Cause::Closed(message.clone())
                } else {
                    Cause::Unreachable(message.clone())
                }
            }
            TdsError::Conversion(m)
                if m.contains("SQL browser") || m.contains("browser instance") =>
            {
                Cause::Browser(m.to_string())
            }
            TdsError::Tls(m) => Cause::Tls(m.clone()),
            TdsError::Protocol(m) => Cause::Protocol(m.to_string()),
            TdsError::Server(t) => Cause::Server(t.code(), t.message().to_string()),
            other => Cause::Other(other.to_string()),
        }
    }
}

/// Login-time server errors that mean "wrong user or password".
const LOGIN_FAILED: &[u32] = &[18456, 18452, 18486, 18487, 18488];
/// Server errors that mean "missing permission".
pub const PERMISSION_DENIED: &[u32] = &[229, 230, 262, 297, 300, 916, 15247];
/// Login-time server errors that mean "cannot open the database": SQL Server says 4060,
/// Babelfish 911.
const CANNOT_OPEN_DATABASE: &[u32] = &[4060, 911];

/// Whether a statement failed for a missing permission. SQL Server numbers the error
/// ([`PERMISSION_DENIED`]); Babelfish reports every statement error as 33557097 with
/// PostgreSQL's text, which starts `permission denied for …`.
pub fn is_permission_denied(e: &TdsError) -> bool {
    matches!(e, TdsError::Server(t) if permission_denied(t.code(), t.message()))
}

/// [`is_permission_denied`] on a server error's number and text.
fn permission_denied(code: u32, message: &str) -> bool {
    PERMISSION_DENIED.contains(&code)
        || message.trim_start().to_ascii_lowercase().starts_with("permission denied")
}

/// The one-line runtime failure (exit 3) for a failed connection.
pub fn connect_error(spec: &ConnSpec, cause: &Cause) -> anyhow::Error {
    let server = spec.server_label();
    let db = spec.database.as_deref().unwrap_or("(default database)");
    let user = spec.user_label();
    let msg = match cause {
        Cause::Timeout => format!(
            "cannot connect to SQL Server {server}: no answer within {}s — check the host name, the port \
             (default 1433), firewalls, and for a named instance the SQL Server Browser service (UDP 1434); \
             raise connect_timeout (Connect Timeout=) only for a slow network",
            spec.connect_timeout.as_secs()
        ),
        Cause::Unreachable(m) => format!(
            "cannot connect to SQL Server {server}: {m} — check the host name and port (default 1433), that \
             SQL Server accepts TCP/IP connections and that no firewall blocks the port"
        ),
        Cause::Browser(_) => format!(
            "cannot connect to SQL Server {server}: the SQL Server Browser service did not resolve instance \
             `{}` — check that it runs and UDP 1434 is open, or give the instance's TCP port \
             (HOST:PORT in the URL, Server=HOST,PORT)",
            spec.instance.as_deref().unwrap_or("")
        ),
        Cause::Tls(m) => format!(
            "cannot connect to SQL Server {server}: the TLS handshake failed ({m}) — for a self-signed \
             certificate add trust_server_certificate=true (TrustServerCertificate=True); a server without \
             TLS 1.2 needs its TLS updates (or encrypt=danger_plaintext in a lab)"
        ),
        Cause::Closed(m) => format!(
            "cannot connect to SQL Server {server}: the server closed the connection during the \
             handshake ({m}) — a server without TLS 1.2 does this (update it, or encrypt=danger_plaintext \
             in a lab); also check that the port is SQL Server's"
        ),
        Cause::Protocol(m) => format!(
            "cannot connect to SQL Server {server}: what answered does not speak TDS ({m}) — check that the port \
             is SQL Server's (default 1433) and not another service or a proxy"
        ),
        Cause::Server(code, m) if LOGIN_FAILED.contains(code) => format!(
            "cannot connect to SQL Server {server}: login failed for `{user}` (error {code}) — check the user \
             name and password, and that the server allows SQL Server authentication (mixed mode)"
        ),
        Cause::Server(code, _) if CANNOT_OPEN_DATABASE.contains(code) => format!(
            "cannot open database `{db}` on SQL Server {server} as `{user}` — check the database name and that \
             the login has a user in that database"
        ),
        Cause::Server(code, m) if PERMISSION_DENIED.contains(code) => permission_message(&spec.label(), *code, m),
        Cause::Server(code, m) => format!("cannot connect to SQL Server {server}: error {code}: {m}"),
        Cause::Other(m) => format!("cannot connect to SQL Server {server}: {m}"),
    };
    runtime(scrub(&msg, spec.password()))
}

fn permission_message(label: &str, code: u32, m: &str) -> String {
    format!(
        "permission denied on SQL Server {label} (error {code}: {m}) — GRANT SELECT on the Group Chat tables \
         or add the user to db_datareader for a source; db_datareader + db_datawriter (and db_ddladmin for \
         --create-schema) for an mgc target"
    )
}

/// One line, with every occurrence of the password replaced.
pub fn scrub(msg: &str, password: Option<&str>) -> String {
    let one_line = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    let redacted = crate::db::redact(&one_line);
    match password {
        Some(p) if !p.is_empty() => redacted.replace(p, "***"),
        _ => redacted,
    }
}

/// A failed statement as a runtime failure; permission errors say what to GRANT.
pub fn statement_error(label: &str, what: &str, e: &TdsError) -> anyhow::Error {
    match e {
        TdsError::Server(t) if is_permission_denied(e) => {
            runtime(scrub(&permission_message(label, t.code(), t.message()), None))
        }
        _ => runtime(scrub(&format!("{what} failed on SQL Server {label}: {e}"), None)),
    }
}

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

/// A cell value bound as a query parameter, whatever its type (`datetime` included).
#[derive(Debug, Clone)]
pub struct Param<'a>(pub ColumnData<'a>);

impl<'a> IntoSql<'a> for Param<'a> {
    fn into_sql(self) -> ColumnData<'a> {
        self.0
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> ColumnData<'_> {
        self.0.clone()
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

/// Runs a statement with `@P1…` parameters; returns the rows affected.
pub async fn execute(
    client: &mut Client,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<u64, TdsError> {
    Ok(client.execute(sql, params).await?.total())
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

/// An integer cell of any width (`bit`, `tinyint` … `bigint`); NULL is `None`.
pub fn int(cells: &[ColumnData<'_>], i: usize) -> Result<Option<i64>> {
    Ok(match cells.get(i) {
        Some(ColumnData::U8(v)) => v.map(i64::from),
        Some(ColumnData::I16(v)) => v.map(i64::from),
        Some(ColumnData::I32(v)) => v.map(i64::from),
        Some(ColumnData::I64(v)) => *v,
        Some(ColumnData::Bit(v)) => v.map(i64::from),
        Some(ColumnData::String(None) | ColumnData::Guid(None) | ColumnData::DateTime(None)) => {
            None
        }
        other => anyhow::bail!("column {} is not an integer ({})", i + 1, kind(other)),
    })
}

/// A non-NULL integer cell.
pub fn req_int(cells: &[ColumnData<'_>], i: usize) -> Result<i64> {
    int(cells, i)?.ok_or_else(|| anyhow::anyhow!("column {} is NULL", i + 1))
}

/// A bit (or integer) cell as a bool; NULL is `None`.
pub fn flag(cells: &[ColumnData<'_>], i: usize) -> Result<Option<bool>> {
    Ok(int(cells, i)?.map(|v| v != 0))
}

/// A text cell; a `uniqueidentifier` becomes its lowercase hyphenated form.
pub fn text(cells: &[ColumnData<'_>], i: usize) -> Result<Option<String>> {
    Ok(match cells.get(i) {
        Some(ColumnData::String(v)) => v.as_ref().map(|s| s.to_string()),
        Some(ColumnData::Guid(v)) => v.map(|g| g.hyphenated().to_string().to_ascii_lowercase()),
        Some(
            ColumnData::I32(None)
            | ColumnData::I64(None)
            | ColumnData::I16(None)
            | ColumnData::U8(None),
        ) => None,
        other => anyhow::bail!("column {} is not text ({})", i + 1, kind(other)),
    })
}

/// A non-NULL text cell.
pub fn req_text(cells: &[ColumnData<'_>], i: usize) -> Result<String> {
    text(cells, i)?.ok_or_else(|| anyhow::anyhow!("column {} is NULL", i + 1))
}

fn kind(c: Option<&ColumnData<'_>>) -> String {
    c.map_or("missing".into(), |c| format!("{c:?}").split('(').next().unwrap_or("?").to_string())
}

/// A destination column type, as `sys.types` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlType {
    /// `bit`.
    Bit,
    /// `tinyint`.
    TinyInt,
    /// `smallint`.
    SmallInt,
    /// `int`.
    Int,
    /// `bigint`.
    BigInt,
    /// `nvarchar`, `nchar`, `varchar`, `char`, `ntext`, `text`.
    Text,
    /// `uniqueidentifier`.
    Guid,
    /// `datetime`.
    DateTime,
    /// Anything else: only ever left NULL.
    Other(String),
}

impl SqlType {
    /// From a `sys.types` name.
    pub fn from_name(name: &str) -> SqlType {
        match name.to_ascii_lowercase().as_str() {
            "bit" => SqlType::Bit,
            "tinyint" => SqlType::TinyInt,
            "smallint" => SqlType::SmallInt,
            "int" => SqlType::Int,
            "bigint" => SqlType::BigInt,
            "nvarchar" | "nchar" | "varchar" | "char" | "ntext" | "text" => SqlType::Text,
            "uniqueidentifier" => SqlType::Guid,
            "datetime" => SqlType::DateTime,
            other => SqlType::Other(other.to_string()),
        }
    }

    /// The typed NULL of this column type (`None` for types we never write).
    pub fn null(&self) -> Option<ColumnData<'static>> {
        Some(match self {
            SqlType::Bit => ColumnData::Bit(None),
            SqlType::TinyInt => ColumnData::U8(None),
            SqlType::SmallInt => ColumnData::I16(None),
            SqlType::Int => ColumnData::I32(None),
            SqlType::BigInt => ColumnData::I64(None),
            SqlType::Text => ColumnData::String(None),
            SqlType::Guid => ColumnData::Guid(None),
            SqlType::DateTime => ColumnData::DateTime(None),
            SqlType::Other(n) if n.contains("binary") || n == "image" => ColumnData::Binary(None),
            SqlType::Other(_) => return None,
        })
    }
}

/// Parses `YYYY-MM-DD[ T]HH:MM:SS[.f][Z|±hh:mm]` or `YYYY-MM-DD` into a TDS `datetime`
/// (days since 1900-01-01 and 1/300 s since midnight), inside datetime's range.
pub fn parse_datetime(s: &str) -> Option<tiberius::time::DateTime> {
    use chrono::{NaiveDate, NaiveDateTime, Timelike};
    let s = s.trim();
    let dt = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
        .or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.naive_utc()))
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let base = NaiveDate::from_ymd_opt(1900, 1, 1)?;
    let mut days = (dt.date() - base).num_days();
    let nanos = u64::from(dt.num_seconds_from_midnight()) * 1_000_000_000
        + u64::from(dt.nanosecond() % 1_000_000_000);
    let mut frags = (nanos * 300 + 500_000_000) / 1_000_000_000;
    if frags >= 300 * 86_400 {
        days += 1;
        frags = 0;
    }
    // datetime holds 1753-01-01 … 9999-12-31.
    if !(-53_690..=2_958_463).contains(&days) {
        return None;
    }
    Some(tiberius::time::DateTime::new(days as i32, frags as u32))
}

/// Encodes a value for a destination column of type `ty` (bulk load needs exact types).
pub fn encode<'v>(v: &'v Value, ty: &SqlType, col: &str) -> Result<ColumnData<'v>, String> {
    let range = |what: &str| format!("{col}: {v:?} does not fit in {what}");
    Ok(match (ty, v) {
        (t, Value::Null) => {
            t.null().ok_or_else(|| format!("{col}: cannot write NULL into a {t:?} column"))?
        }
        (SqlType::Bit, Value::Int(i)) => ColumnData::Bit(Some(*i != 0)),
        (SqlType::TinyInt, Value::Int(i)) => {
            ColumnData::U8(Some(u8::try_from(*i).map_err(|_| range("tinyint"))?))
        }
        (SqlType::SmallInt, Value::Int(i)) => {
            ColumnData::I16(Some(i16::try_from(*i).map_err(|_| range("smallint"))?))
        }
        (SqlType::Int, Value::Int(i)) => {
            ColumnData::I32(Some(i32::try_from(*i).map_err(|_| range("int"))?))
        }
        (SqlType::BigInt, Value::Int(i)) => ColumnData::I64(Some(*i)),
        (SqlType::Text, Value::Text(s)) => ColumnData::String(Some(Cow::Borrowed(s.as_str()))),
        (SqlType::Text, Value::Int(i)) => ColumnData::String(Some(Cow::Owned(i.to_string()))),
        (SqlType::Guid, Value::Text(s)) => ColumnData::Guid(Some(
            Uuid::parse_str(s.trim()).map_err(|_| format!("{col}: `{s}` is not a GUID"))?,
        )),
        (SqlType::DateTime, Value::Text(s)) => ColumnData::DateTime(Some(
            parse_datetime(s).ok_or_else(|| format!("{col}: `{s}` is not a datetime"))?,
        )),
        (t, v) => return Err(format!("{col}: cannot write {v:?} into a {t:?} column")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ConnSpec {
        ConnSpec::parse_str(s).unwrap()
    }

    #[test]
    fn every_connect_failure_is_one_runtime_line_without_the_password() {
        let s = spec("mssql://gcm:secret@sql01:1450/GroupChat");
        for (cause, needle) in [
            (Cause::Timeout, "no answer within 15s"),
            (Cause::Unreachable("Connection refused (os error 111)".into()), "firewall"),
            (Cause::Browser("SQL browser timeout".into()), "UDP 1434"),
            (
                Cause::Tls("invalid peer certificate: UnknownIssuer".into()),
                "trust_server_certificate=true",
            ),
            (Cause::Protocol("header: invalid packet type: 72".into()), "does not speak TDS"),
            (Cause::Closed("Connection reset by peer".into()), "TLS 1.2"),
            (
                Cause::Server(18456, "Login failed for user 'gcm'.".into()),
                "check the user name and password",
            ),
            (
                Cause::Server(4060, "Cannot open database \"GroupChat\"".into()),
                "cannot open database `GroupChat`",
            ),
            // Babelfish's number for the same failure.
            (
                Cause::Server(911, "database \"GroupChat\" does not exist".into()),
                "cannot open database `GroupChat`",
            ),
            (Cause::Server(229, "The SELECT permission was denied".into()), "db_datareader"),
            (Cause::Other("password secret was wrong\nsecond line".into()), "***"),
        ] {
            let e = connect_error(&s, &cause);
            let f = e.downcast_ref::<crate::error::Failure>().expect("a Failure");
            assert_eq!(f.kind, crate::error::FailureKind::Runtime);
            let m = format!("{e:#}");
            assert!(m.contains(needle), "{cause:?}: {m}");
            assert!(m.contains("sql01"), "{m}");
            assert!(!m.contains("secret") && !m.contains('\n'), "{m}");
        }
    }

    #[test]
    fn permission_errors_are_recognised_by_number_or_by_babelfish_text() {
        assert!(permission_denied(229, "The SELECT permission was denied on the object 'tblNode'"));
        assert!(permission_denied(33557097, "permission denied for table tblnode"));
        assert!(!permission_denied(33557097, "relation \"tblnode\" does not exist"));
        assert!(!permission_denied(208, "Invalid object name 'tblNode'."));
    }

    #[test]
    fn presence_probes_name_every_column_as_a_unicode_literal() {
        assert_eq!(
            presence_sql("tblNode", "nodeID, node'Name"),
            "SELECT CASE WHEN COL_LENGTH(N'tblNode', N'nodeID') IS NOT NULL AND \
             COL_LENGTH(N'tblNode', N'node''Name') IS NOT NULL THEN 1 ELSE 0 END"
        );
    }

    #[test]
    fn tiberius_errors_map_to_causes() {
        let io: TdsError =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused").into();
        assert!(matches!(Cause::from(&io), Cause::Unreachable(_)));
        let tls: TdsError = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        )
        .into();
        assert!(matches!(Cause::from(&tls), Cause::Tls(_)));
        let reset: TdsError =
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer").into();
        assert!(matches!(Cause::from(&reset), Cause::Closed(_)));
        assert!(matches!(Cause::from(&TdsError::Tls("bad cert".into())), Cause::Tls(_)));
        let browser =
            TdsError::Conversion("SQL browser timeout during resolving instance X".into());
        assert!(matches!(Cause::from(&browser), Cause::Browser(_)));
    }

    #[test]
    fn cells_read_any_integer_width_and_guids_lowercase() {
        let g = tiberius::Uuid::parse_str("459C34BD-FA4E-50B0-8A7B-F1164310920C").unwrap();
        let row: Vec<ColumnData<'static>> = vec![
            ColumnData::Bit(Some(true)),
            ColumnData::I16(Some(-3)),
            ColumnData::I32(None),
            ColumnData::Guid(Some(g)),
            ColumnData::String(Some("x".into())),
        ];
        assert_eq!(int(&row, 0).unwrap(), Some(1));
        assert_eq!(req_int(&row, 1).unwrap(), -3);
        assert_eq!(int(&row, 2).unwrap(), None);
        assert_eq!(text(&row, 3).unwrap().unwrap(), "459c34bd-fa4e-50b0-8a7b-f1164310920c");
        assert!(int(&row, 4).is_err() && text(&row, 1).is_err() && int(&row, 9).is_err());
        assert!(req_int(&row, 2).unwrap_err().to_string().contains("NULL"));
    }

    #[tokio::test]
    async fn a_silent_server_cannot_hold_the_connect_past_its_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, then never answers the PRELOGIN.
        let hold = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            drop(sock);
        });
        let s = spec(&format!(
            "Server=127.0.0.1,{port};Database=d;User Id=u;Password=secret;Connect Timeout=1"
        ));
        let t0 = std::time::Instant::now();
        let m = format!("{:#}", connect_spec(&s).await.expect_err("times out"));
        assert!(t0.elapsed() < std::time::Duration::from_secs(3), "{:?}", t0.elapsed());
        assert!(m.contains("no answer within 1s") && !m.contains("secret"), "{m}");
        hold.abort();
    }

    #[tokio::test]
    async fn nothing_listening_fails_fast_with_exit_3() {
        let s = spec("mssql://u:secret@127.0.0.1:1/GroupChat?connect_timeout=5");
        let t0 = std::time::Instant::now();
        let e = connect_spec(&s).await.expect_err("port 1 refuses");
        assert!(t0.elapsed() < std::time::Duration::from_secs(6));
        let m = format!("{e:#}");
        assert!(m.contains("127.0.0.1:1") && !m.contains("secret"), "{m}");
    }
}
