//! The backend layer: every database the tool touches — a legacy source or an `mgc`
//! target, on SQLite, PostgreSQL or SQL Server — is reached through this module.
//!
//! - [`DbUrl`] and [`Dialect`]: where a database is and which SQL it speaks;
//! - [`SourceDb`] and [`TargetDb`]: one closed enum per role, opened once from a URL, with
//!   a handful of primitives (run a statement, stream rows through [`Cells`], bulk-append
//!   the rows of a table, run a script in one transaction, commit a [`Batch`] with its
//!   ledger row);
//! - one module per engine below them: `pool` (sqlx), `lite`, `sqlite_writer` and
//!   `sqlite_copy` (rusqlite), `pg_keys` (PostgreSQL's set-aside keys), `mssql` (tiberius).
//!
//! Nothing outside this module and `staging` names a driver crate; where SQL text must
//! differ between engines, [`Dialect`] supplies it.

pub mod batch;
pub mod cells;
pub mod conn;
pub mod engine_copy;
pub mod int_cells;
pub mod ledger_ddl;
pub mod lite;
#[cfg(feature = "mssql")]
pub mod mssql;
pub mod packed_json;
pub mod packed_rows;
mod pair_scan;
pub mod pg_connect;
mod pg_keys;
mod pg_writer;
mod pool;
mod read_sql;
pub mod scan;
pub mod source;
pub mod sqlite_copy;
pub mod sqlite_file;
pub mod sqlite_writer;
pub mod steps;
pub mod target;
pub mod transaction;
mod tsql_tokens;
pub mod tsql_versions;
pub mod tx;
pub mod url;

pub use batch::{Batch, Op, TableSpec, Ty, Value};
pub use cells::Cells;
pub use conn::Conn;
use pool::Db;
pub use pool::OpenMode;
pub use source::SourceDb;
pub use target::TargetDb;
pub use url::{redact, DbUrl};

/// The SQL dialect of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// SQLite, through sqlx.
    Sqlite,
    /// PostgreSQL, through sqlx.
    Postgres,
    /// SQL Server, through tiberius.
    Mssql,
}

impl Dialect {
    /// The name used in messages and file names.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mssql => "tsql",
        }
    }

    /// `SELECT name …`: the tables the login can see, by name.
    pub fn list_tables(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            }
            Dialect::Mssql => "SELECT name FROM sys.tables ORDER BY name",
        }
    }

    /// `expr` read as text: a cast for SQLite and PostgreSQL (a GUID or a number becomes
    /// its text), `expr` itself on SQL Server, whose rows decode a `uniqueidentifier` as text.
    pub fn as_text(self, expr: &str) -> String {
        match self {
            Dialect::Mssql => expr.to_string(),
            _ => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// The `n`th bound parameter of a statement with many: `$n`, except on SQLite, which
    /// gets an anonymous `?` (sqlx resolves `$n` names one by one through
    /// `sqlite3_bind_parameter_name`, quadratic in the parameters of a statement).
    pub fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".to_string(),
            _ => format!("${n}"),
        }
    }

    /// A bound parameter that must be stored as a GUID (PostgreSQL needs the cast).
    pub fn guid_param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("CAST(${n} AS uuid)"),
            _ => format!("${n}"),
        }
    }

    /// A bound parameter that must be stored as a timestamp (PostgreSQL needs the cast).
    pub fn datetime_param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("CAST(${n} AS timestamp)"),
            _ => format!("${n}"),
        }
    }
}

/// Splits SQL text into statements at `;` outside quotes and comments.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = script.chars().peekable();
    let (mut in_str, mut in_ident) = (false, false);
    while let Some(c) = chars.next() {
        if in_str {
            cur.push(c);
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    cur.push(chars.next().unwrap_or('\''));
                } else {
                    in_str = false;
                }
            }
            continue;
        }
        if in_ident {
            cur.push(c);
            in_ident = c != '"' && c != ']';
            continue;
        }
        match c {
            '\'' => {
                in_str = true;
                cur.push(c);
            }
            '"' | '[' => {
                in_ident = true;
                cur.push(c);
            }
            '-' if chars.peek() == Some(&'-') => {
                for c2 in chars.by_ref() {
                    if c2 == '\n' {
                        cur.push('\n');
                        break;
                    }
                }
            }
            ';' => {
                let stmt = cur.trim();
                if !stmt.is_empty() {
                    out.push(stmt.to_string());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_url_and_connection_string_passwords() {
        assert_eq!(redact("mssql://u:secret@host:1/db"), "mssql://u:***@host:1/db");
        assert_eq!(
            redact("postgres://u@h/db?password=x&a=b"),
            "postgres://u@h/db?password=***&a=b"
        );
        let ado = redact("Server=h;Database=d;User Id=u;Password=s3cr;et;Encrypt=true");
        assert!(!ado.contains("s3cr"), "{ado}");
        assert!(DbUrl::parse("mssql://u:pw@h/d").unwrap().to_string().contains("***"));
        let quoted = redact("Server=h;Database=d;User Id=u;Password='se;cret';Encrypt=true");
        assert!(!quoted.contains("cret"), "{quoted}");
    }

    #[test]
    fn picks_dialect_from_scheme() {
        assert_eq!(DbUrl::parse("sqlite://x.db").unwrap().dialect(), Dialect::Sqlite);
        assert_eq!(DbUrl::parse("postgres://a@b/c").unwrap().dialect(), Dialect::Postgres);
        assert_eq!(DbUrl::parse("Server=a;Database=b").unwrap().dialect(), Dialect::Mssql);
        assert!(DbUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn splits_statements_outside_strings_and_comments() {
        let s = "INSERT INTO t VALUES ('a;b', 'it''s');\n-- c; d\nSELECT \"x;\" FROM [y;];";
        let v = split_statements(s);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].contains("'a;b'"));
    }
}
