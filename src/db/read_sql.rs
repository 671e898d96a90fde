//! What a reader's SQL text needs from the engine where it cannot be written once: a row
//! limit, a 64-bit row count and a date as text ([`Dialect`] methods), and how a
//! connection names itself in a message ([`Conn::label`]). The legacy reader
//! (`crate::source`) writes each statement once over these.

use super::{Conn, Dialect};

impl Dialect {
    /// `SELECT` of the first `n` rows of `rest` (a select list, `FROM`, `WHERE` and
    /// `ORDER BY`): `TOP (n)` on SQL Server (2005 has no `OFFSET … FETCH`), `LIMIT n`
    /// elsewhere. `n` may be a placeholder; SQLite numbers `$n` placeholders in the order
    /// they appear, so a placeholder `n` must carry the highest number.
    pub fn select_first(self, n: &str, rest: &str) -> String {
        match self {
            Dialect::Mssql => format!("SELECT TOP ({n}) {rest}"),
            _ => format!("SELECT {rest} LIMIT {n}"),
        }
    }

    /// A row count as a 64-bit integer: SQL Server's `COUNT(*)` is an `int` and fails past
    /// 2^31 rows, hence `COUNT_BIG(*)`.
    pub fn count_big(self) -> &'static str {
        match self {
            Dialect::Mssql => "COUNT_BIG(*)",
            _ => "CAST(COUNT(*) AS BIGINT)",
        }
    }

    /// A date column as `yyyy-mm-dd hh:mi:ss` text. On SQL Server style 120 gives that
    /// whatever the session's language and `DATEFORMAT`.
    pub fn datetime_text(self, expr: &str) -> String {
        match self {
            Dialect::Mssql => format!("CONVERT(nvarchar(19), {expr}, 120)"),
            _ => format!("CAST({expr} AS TEXT)"),
        }
    }
}

impl Conn {
    /// The database as messages name it, without credentials: `SQL Server host/db`, or
    /// the redacted URL.
    pub fn label(&self) -> String {
        match self {
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => format!("SQL Server {}", pool.label()),
            _ => self.url().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_limits_and_counts_per_engine() {
        let rest = "a FROM t WHERE b > $1 ORDER BY a";
        assert_eq!(
            Dialect::Mssql.select_first("$2", rest),
            "SELECT TOP ($2) a FROM t WHERE b > $1 ORDER BY a"
        );
        assert_eq!(
            Dialect::Postgres.select_first("1", rest),
            "SELECT a FROM t WHERE b > $1 ORDER BY a LIMIT 1"
        );
        assert_eq!(Dialect::Sqlite.count_big(), "CAST(COUNT(*) AS BIGINT)");
        assert_eq!(Dialect::Mssql.datetime_text("d"), "CONVERT(nvarchar(19), d, 120)");
    }
}
