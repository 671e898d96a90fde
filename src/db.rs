//! Database URLs, dialects and sqlx connections shared by every stage.
//!
//! A URL's scheme picks the backend (`sqlite://`, `postgres://`, `mssql://` or an ADO.NET
//! connection string). [`DbUrl`] never prints a password: its `Display` and `Debug` are
//! redacted, so it can go into logs, reports and errors as it is. SQLite and PostgreSQL
//! go through sqlx's `Any` driver with one SQL text for both (unquoted identifiers,
//! `$n` placeholders); the few dialect differences are methods on [`Dialect`].

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use crate::error::{bad_input, runtime};

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

/// A database location, with its password kept out of every printed form.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    raw: String,
    dialect: Dialect,
}

impl DbUrl {
    /// Parses a URL or an ADO.NET connection string and picks its dialect.
    pub fn parse(s: &str) -> Result<DbUrl> {
        let lower = s.trim().to_ascii_lowercase();
        let dialect = if lower.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Dialect::Postgres
        } else if lower.starts_with("mssql://")
            || lower.starts_with("sqlserver://")
            || lower.contains("server=")
            || lower.contains("data source=")
        {
            Dialect::Mssql
        } else {
            return Err(bad_input(format!(
                "unrecognised database URL `{}`: use sqlite://PATH, postgres://USER@HOST/DB, \
                 mssql://USER:PASSWORD@HOST/DB or an ADO.NET connection string",
                redact(s)
            )));
        };
        Ok(DbUrl { raw: s.trim().to_string(), dialect })
    }

    /// A SQLite URL for a file path.
    pub fn sqlite_file(path: &std::path::Path) -> DbUrl {
        DbUrl { raw: format!("sqlite://{}", path.display()), dialect: Dialect::Sqlite }
    }

    /// The dialect the scheme selects.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The unredacted URL, for handing to a driver only.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The file path of a `sqlite://` URL.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        if self.dialect != Dialect::Sqlite {
            return None;
        }
        let rest =
            self.raw.strip_prefix("sqlite://").or_else(|| self.raw.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        Some(std::path::PathBuf::from(path))
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", redact(&self.raw))
    }
}

/// Replaces the password of a URL (`user:secret@`) or connection string
/// (`Password=secret;`, `Pwd=secret;`) with `***`.
pub fn redact(s: &str) -> String {
    // An ADO.NET connection string may quote a password that contains `;`: parse it.
    #[cfg(feature = "mssql")]
    if !s.contains("://") && s.contains('=') && s.contains(';') && !s.contains(": ") {
        if let Some(r) = crate::mssql::url::redact_connection_string(s) {
            return r;
        }
    }
    let mut out = s.to_string();
    if let Some(scheme_end) = out.find("://") {
        let after = scheme_end + 3;
        let authority_end = out[after..].find('/').map_or(out.len(), |i| after + i);
        if let Some(at) = out[after..authority_end].rfind('@') {
            let userinfo = &out[after..after + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(after + colon + 1..after + at, "***");
            }
        }
    }
    // Query parameters and connection-string keys that carry secrets.
    for key in ["password=", "pwd=", "sslpassword="] {
        let mut from = 0;
        while let Some(i) = out[from..].to_ascii_lowercase().find(key) {
            let start = from + i + key.len();
            let end = out[start..].find([';', '&']).map_or(out.len(), |j| start + j);
            out.replace_range(start..end, "***");
            from = start + 3;
        }
    }
    out
}

/// A connected SQLite or PostgreSQL database (sqlx `Any`).
#[derive(Clone)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// Which SQL dialect the pool speaks.
    pub dialect: Dialect,
    /// Where it points (redacted when printed).
    pub url: DbUrl,
}

/// How to open a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The database must exist already.
    Existing,
    /// A SQLite file is created when missing.
    Create,
}

impl Db {
    /// Connects, within a short timeout, with at most `max_conns` connections.
    pub async fn connect(url: &DbUrl, mode: OpenMode, max_conns: u32) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let mut raw = url.expose().to_string();
        match url.dialect() {
            Dialect::Sqlite => {
                let path = url.sqlite_path().unwrap_or_default();
                if mode == OpenMode::Existing && !path.exists() {
                    return Err(bad_input(format!("SQLite database {} does not exist", path.display())));
                }
                if mode == OpenMode::Create {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("cannot create directory {}", dir.display()))?;
                    }
                    raw = format!("sqlite://{}?mode=rwc", path.display());
                }
            }
            Dialect::Postgres => {}
            Dialect::Mssql => {
                return Err(bad_input(format!(
                    "{url} is a SQL Server database; this operation supports sqlite:// and postgres:// \
                     (SQL Server goes through the tiberius backend)"
                )))
            }
        }
        let dialect = url.dialect();
        let pool = AnyPoolOptions::new()
            .max_connections(max_conns.max(1))
            .acquire_timeout(Duration::from_secs(15))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                             PRAGMA busy_timeout=30000; PRAGMA foreign_keys=OFF;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&raw)
            .await
            .map_err(|e| runtime(format!("cannot connect to {url}: {}", redact(&e.to_string()))))?;
        Ok(Db { pool, dialect, url: url.clone() })
    }

    /// Runs a script of `;`-terminated statements inside one transaction.
    pub async fn run_script(&self, name: &str, script: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (i, stmt) in split_statements(script).iter().enumerate() {
            sqlx::raw_sql(stmt).execute(&mut *tx).await.with_context(|| {
                let first = stmt.lines().next().unwrap_or("").chars().take(80).collect::<String>();
                format!("{name}: statement {} (`{first}`) failed on {}", i + 1, self.url)
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether `SELECT cols FROM table` compiles here: the portable way to probe a schema.
    pub async fn has_columns(&self, table: &str, cols: &str) -> bool {
        let sql = format!("SELECT {cols} FROM {table} WHERE 1 = 0");
        sqlx::query(&sql).fetch_optional(&self.pool).await.is_ok()
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
