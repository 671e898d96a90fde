//! Database locations: [`DbUrl`] parses a URL or an ADO.NET connection string, picks its
//! [`Dialect`], and never prints a password (its `Display` and `Debug` are redacted, so it
//! can go into logs, reports and errors as it is); [`redact`] does the same for any text.

use std::fmt;

use anyhow::Result;

use super::Dialect;
use crate::error::bad_input;

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
        if let Some(r) = crate::db::mssql::url::redact_connection_string(s) {
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
