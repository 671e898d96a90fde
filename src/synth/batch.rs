//! Writing the generated rows: multi-row INSERTs of literals for the small tables and one
//! reused prepared INSERT for `tblChat`. Every phase writes through these, so statement size
//! and SQL quoting are decided in one place.

use std::fmt::{self, Write as _};

use crate::db::tx::Tx;
use crate::db::{Dialect, Value};
use anyhow::Result;

const ROWS_PER_STMT: usize = 500;
const CHAT_COLS: &str = "channelId, chatId, chatDate, userId, isAlert, content";

/// A string as an SQL literal (the generator never produces NUL or backslashes).
pub(super) fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An optional value as SQL: the value, or `NULL`.
pub(super) fn nul<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or("NULL".to_string(), |v| v.to_string())
}

/// Rows of one table, written as multi-row INSERTs of literal values: one SQL text for both
/// engines (PostgreSQL casts quoted literals into uuid and timestamp columns by itself).
pub(super) struct Batch {
    table: &'static str,
    head: usize,
    sql: String,
    rows: usize,
}

impl Batch {
    pub(super) fn new(table: &'static str, cols: &str) -> Batch {
        let sql = format!("INSERT INTO {table} ({cols}) VALUES ");
        Batch { table, head: sql.len(), sql, rows: 0 }
    }

    /// Adds a row (or a few), as parenthesised values; writing to a `String` cannot fail.
    pub(super) fn add(&mut self, rows: fmt::Arguments<'_>) {
        self.sql.push_str(if self.rows > 0 { ", " } else { "" });
        let _ = self.sql.write_fmt(rows);
        self.rows += 1;
    }

    /// Writes the pending rows if they fill a statement; returns how many it wrote.
    pub(super) async fn flush_full(&mut self, conn: &mut Tx) -> Result<u64> {
        if self.rows < ROWS_PER_STMT {
            return Ok(0);
        }
        self.flush(conn).await
    }

    /// Writes the pending rows and returns how many there were.
    pub(super) async fn flush(&mut self, conn: &mut Tx) -> Result<u64> {
        if self.rows == 0 {
            return Ok(0);
        }
        let what = format!("synth: writing {}", self.table);
        conn.execute(&what, &self.sql, &[]).await?;
        self.sql.truncate(self.head);
        Ok(std::mem::take(&mut self.rows) as u64)
    }
}

/// `tblChat` rows, written through one prepared multi-row INSERT that is reused: for the
/// bulk of the data, binding is cheaper than parsing literals on both engines.
pub(super) struct ChatBatch {
    dialect: Dialect,
    full_sql: String,
    pub(super) rows: Vec<(u64, u64, u64, u64, u8, String)>,
}

impl ChatBatch {
    pub(super) fn new(dialect: Dialect) -> ChatBatch {
        ChatBatch { dialect, full_sql: Self::sql(dialect, ROWS_PER_STMT), rows: Vec::new() }
    }

    /// The INSERT for `rows` rows.
    fn sql(dialect: Dialect, rows: usize) -> String {
        let row = |r: usize| {
            let params: Vec<String> = (1..=6).map(|c| dialect.param(r + c)).collect();
            format!("({})", params.join(", "))
        };
        let values: Vec<String> = (0..rows).map(|r| row(r * 6)).collect();
        format!("INSERT INTO tblChat ({CHAT_COLS}) VALUES {}", values.join(", "))
    }

    /// Writes the pending rows if they fill a statement; returns how many it wrote.
    pub(super) async fn flush_full(&mut self, conn: &mut Tx) -> Result<u64> {
        if self.rows.len() < ROWS_PER_STMT {
            return Ok(0);
        }
        self.flush(conn).await
    }

    /// Writes the pending rows and returns how many there were.
    pub(super) async fn flush(&mut self, conn: &mut Tx) -> Result<u64> {
        let n = self.rows.len();
        if n == 0 {
            return Ok(0);
        }
        let partial;
        let sql = if n == ROWS_PER_STMT {
            &self.full_sql
        } else {
            partial = Self::sql(self.dialect, n);
            &partial
        };
        let mut params = Vec::with_capacity(n * 6);
        for (room, chat, date, user, alert, text) in self.rows.drain(..) {
            params.extend([room, chat, date, user].map(|v| Value::Int(v as i64)));
            params.extend([Value::Int(i64::from(alert)), Value::Text(text)]);
        }
        conn.execute("synth: writing tblChat", sql, &params).await?;
        self.rows.clear();
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_text_is_quoted_and_placeholders_fit_the_engine() {
        assert_eq!(q("O'Brien"), "'O''Brien'");
        assert_eq!((nul(None::<i32>), nul(Some(3))), ("NULL".to_string(), "3".to_string()));
        let values = " VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)";
        assert!(ChatBatch::sql(Dialect::Sqlite, 2).ends_with(values));
        let values = " VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12)";
        assert!(ChatBatch::sql(Dialect::Postgres, 2).ends_with(values));
    }
}
