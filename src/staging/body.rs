//! The configuration snapshot and the plan: one JSON body each in `staging.db`, written
//! and read as a stream through SQLite's incremental blob I/O. At Microsoft's largest pool
//! they are 86 MB and 81 MB; read whole, every stage held each three times over (SQLite's
//! row buffer, the driver's copy, the string) before parsing it.

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{params, DatabaseName, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::lite;

/// Where a body lives: its table, key column and key.
pub(super) struct Body<'a> {
    pub(super) table: &'a str,
    pub(super) key_col: &'a str,
    pub(super) key: &'a str,
}

/// Counts the bytes written to it.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Body<'_> {
    /// Replaces the body with `value` in one transaction: its size is counted first, the
    /// row is written as a zero-filled BLOB of that many bytes, then the JSON streamed into
    /// it. A BLOB, not TEXT: SQLite writes a `zeroblob` straight into its pages, while
    /// `CAST(zeroblob(n) AS TEXT)` builds the n bytes in memory (twice: the value and the
    /// record), a 160 MB spike at the largest pool. Read it as text with `CAST(body AS TEXT)`.
    pub(super) fn write<T: Serialize>(&self, db: &Path, value: &T) -> Result<()> {
        let mut n = Count(0);
        serde_json::to_writer(&mut n, value)?;
        let (table, key_col) = (self.table, self.key_col);
        lite::blocking(|| {
            let conn = lite::open(db, true, false)?;
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO {table} ({key_col}, body) VALUES (?1, zeroblob(?2))"
                ),
                params![self.key, n.0 as i64],
            )?;
            let rowid = tx.last_insert_rowid();
            {
                let blob = tx.blob_open(DatabaseName::Main, table, "body", rowid, false)?;
                let mut w = BufWriter::with_capacity(1 << 16, blob);
                serde_json::to_writer(&mut w, value)?;
                w.flush()?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// The body parsed as it streams from the database, or None when there is no row.
    pub(super) fn read<T: DeserializeOwned>(&self, db: &Path) -> Result<Option<T>> {
        let (table, key_col) = (self.table, self.key_col);
        lite::blocking(|| {
            let conn = lite::open(db, true, false)?;
            let rowid: Option<i64> = conn
                .query_row(
                    &format!("SELECT rowid FROM {table} WHERE {key_col} = ?1"),
                    [self.key],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(rowid) = rowid else { return Ok(None) };
            let blob = conn.blob_open(DatabaseName::Main, table, "body", rowid, true)?;
            let value = serde_json::from_reader(BufReader::with_capacity(1 << 16, blob))
                .with_context(|| format!("the workspace's {table} is unreadable"))?;
            Ok(Some(value))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: Body<'static> = Body { table: "plan", key_col: "id", key: "1" };

    fn db() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("staging.db");
        let conn = lite::open(&path, true, true).expect("open");
        conn.execute_batch(
            "CREATE TABLE plan (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)",
        )
        .expect("table");
        (dir, path)
    }

    #[test]
    fn a_body_is_written_as_a_blob_replaced_whole_and_read_back() {
        let (_dir, path) = db();
        assert_eq!(PLAN.read::<Vec<String>>(&path).unwrap(), None);
        let long: Vec<String> = (0..20_000).map(|i| format!("room {i} é")).collect();
        PLAN.write(&path, &long).unwrap();
        PLAN.write(&path, &vec!["short".to_string()]).unwrap();
        assert_eq!(PLAN.read::<Vec<String>>(&path).unwrap(), Some(vec!["short".to_string()]));
        let conn = lite::open(&path, false, false).unwrap();
        let (ty, text): (String, String) = conn
            .query_row("SELECT typeof(body), CAST(body AS TEXT) FROM plan", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((ty.as_str(), text.as_str()), ("blob", r#"["short"]"#));
    }

    #[test]
    fn a_body_stored_as_text_by_an_earlier_version_still_reads_and_a_cut_one_is_an_error() {
        let (_dir, path) = db();
        let conn = lite::open(&path, true, false).unwrap();
        conn.execute("INSERT INTO plan (id, body) VALUES (1, '[\"old\",\"text\"]')", []).unwrap();
        let read = PLAN.read::<Vec<String>>(&path).unwrap();
        assert_eq!(read, Some(vec!["old".to_string(), "text".to_string()]));
        conn.execute("UPDATE plan SET body = '[\"cut' WHERE id = 1", []).unwrap();
        let err = PLAN.read::<Vec<String>>(&path).unwrap_err();
        assert!(format!("{err:#}").contains("the workspace's plan is unreadable"), "{err:#}");
    }
}
