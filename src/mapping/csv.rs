//! The CSV tables of a mappings directory (`principals.csv`, `categories.csv`,
//! `rooms.csv`): reading them with the `csv` crate into [`Row`]s, which `csv_rules.rs`
//! turns into rules.
//!
//! The crate splits records; this module adds what it leaves to us: a UTF-8 BOM, `#`
//! comment lines and blank lines, trimmed fields, header checks, and the 1-based line and
//! character column where each field starts. The crate only reports where a record starts
//! (and that offset can sit before skipped comment lines), so fields are located by
//! re-scanning the raw record. Every error reads `file:line:column: message` (exit 2).

use std::fmt::Display;

use anyhow::Result;

use super::files::{line_col, Pos};
use crate::error::bad_input;

/// The columns a table accepts, and which of them must be present.
pub(super) struct Columns {
    pub(super) known: &'static [&'static str],
    pub(super) required: &'static [&'static str],
}

/// A data row: trimmed values by column, with where each field starts.
pub(super) struct Row {
    /// Where the record starts.
    pub(super) start: Pos,
    fields: Vec<(&'static str, String, Pos)>,
}

impl Row {
    /// The trimmed value of `col`; empty when the table has no such column.
    pub(super) fn value(&self, col: &str) -> &str {
        self.fields.iter().find(|f| f.0 == col).map_or("", |f| f.1.as_str())
    }

    /// The value of `col` when not empty.
    pub(super) fn opt(&self, col: &str) -> Option<String> {
        Some(self.value(col).to_string()).filter(|v| !v.is_empty())
    }

    /// A bad-input error at the start of field `col` (the record start when absent).
    pub(super) fn err(&self, col: &str, msg: impl Display) -> anyhow::Error {
        let pos = self.fields.iter().find(|f| f.0 == col).map_or(&self.start, |f| &f.2);
        bad_input(format!("{pos}: {msg}"))
    }

    /// Position of field `col` (the record start when absent).
    pub(super) fn pos(&self, col: &str) -> Pos {
        self.fields.iter().find(|f| f.0 == col).map_or_else(|| self.start.clone(), |f| f.2.clone())
    }
}

/// Byte offsets of line starts, to turn offsets into positions without rescanning.
struct Lines<'a> {
    file: &'a str,
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        let starts =
            std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { file, text, starts }
    }

    /// Position of byte `offset` (a char boundary).
    fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = self.text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        Pos { file: self.file.to_string(), line, column }
    }
}

/// Moves from a record offset reported by the crate to its first byte: past line ends and
/// whole `#` comment lines.
fn skip_to_content(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        if b[i] == b'\r' || b[i] == b'\n' {
            i += 1;
        } else if b[i] == b'#' && (i == 0 || b[i - 1] == b'\n') {
            i = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |n| i + n + 1);
        } else {
            break;
        }
    }
    i
}

/// Where each field of the record at `i` starts, and where the record ends; `Err` with the
/// offset of the opening quote when a quoted field runs to the end of the file. Mirrors the
/// crate: a quote opens a quoted field only as the field's first byte, `""` escapes.
fn field_starts(b: &[u8], mut i: usize) -> std::result::Result<(Vec<usize>, usize), usize> {
    let mut starts = vec![i];
    let mut quoted = b.get(i) == Some(&b'"');
    if quoted {
        i += 1;
    }
    while i < b.len() {
        match (quoted, b[i]) {
            (true, b'"') if b.get(i + 1) == Some(&b'"') => i += 1,
            (true, b'"') => quoted = false,
            (true, _) => {}
            (false, b',') => {
                starts.push(i + 1);
                quoted = b.get(i + 1) == Some(&b'"');
                i += usize::from(quoted);
            }
            (false, b'\r' | b'\n') => return Ok((starts, i)),
            (false, _) => {}
        }
        i += 1;
    }
    match quoted {
        true => Err(*starts.last().unwrap_or(&0)),
        false => Ok((starts, b.len())),
    }
}

/// Reads a table: header first (after comments and blank lines), then data rows.
pub(super) fn read_table(file: &str, bytes: &[u8], cols: &Columns) -> Result<Vec<Row>> {
    // A BOM is not part of the first column's name, nor a character of its column.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        let (line, col) = line_col(valid, valid.len());
        bad_input(format!("{file}:{line}:{col}: not UTF-8 text (save the file as UTF-8)"))
    })?;
    let lines = Lines::new(file, text);
    let at = |off: usize, msg: String| bad_input(format!("{}: {msg}", lines.pos(off)));
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let mut header: Option<Vec<(&'static str, Pos)>> = None;
    let mut rows = Vec::new();
    let mut rec = ::csv::ByteRecord::new();
    while rdr.read_byte_record(&mut rec).map_err(|e| bad_input(format!("{file}: {e}")))? {
        let start = skip_to_content(bytes, rec.position().map_or(0, |p| p.byte() as usize));
        let (starts, end) = field_starts(bytes, start)
            .map_err(|q| at(q, "unterminated quoted field: this `\"` is never closed".into()))?;
        let values: Vec<String> =
            rec.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
        if values.iter().all(String::is_empty) {
            continue;
        }
        // Point at the value itself, past blanks that trimming removes.
        let field_pos = |k: usize| {
            let mut off = starts.get(k).copied().unwrap_or(end);
            while matches!(bytes.get(off), Some(b' ' | b'\t')) {
                off += 1;
            }
            lines.pos(off)
        };
        let Some(head) = &header else {
            header = Some(read_header(&values, field_pos, cols, &lines.pos(start))?);
            continue;
        };
        if values.len() != head.len() {
            let (n, m) = (values.len(), head.len());
            return Err(if n > m {
                at(starts.get(m).copied().unwrap_or(end), format!(
                    "{n} fields, but the header has {m} columns (quote a value that contains a comma)"))
            } else {
                at(end, format!("{n} fields, but the header has {m} columns: add empty fields for the missing ones"))
            });
        }
        let fields =
            head.iter().zip(values).enumerate().map(|(k, ((c, _), v))| (*c, v, field_pos(k)));
        rows.push(Row { start: lines.pos(start), fields: fields.collect() });
    }
    Ok(rows)
}

/// Checks the header: known, unique column names; every required column present.
fn read_header(
    values: &[String],
    field_pos: impl Fn(usize) -> Pos,
    cols: &Columns,
    start: &Pos,
) -> Result<Vec<(&'static str, Pos)>> {
    let mut out: Vec<(&'static str, Pos)> = Vec::new();
    for (k, v) in values.iter().enumerate() {
        let name = v.to_lowercase();
        let pos = field_pos(k);
        let Some(col) = cols.known.iter().find(|c| **c == name) else {
            return Err(bad_input(format!(
                "{pos}: unknown column `{v}` (expected {})",
                cols.known.join(", ")
            )));
        };
        if let Some((_, first)) = out.iter().find(|(c, _)| c == col) {
            return Err(bad_input(format!(
                "{pos}: column `{col}` appears twice (also at column {})",
                first.column
            )));
        }
        out.push((col, pos));
    }
    if let Some(missing) = cols.required.iter().find(|r| !out.iter().any(|(c, _)| c == *r)) {
        return Err(bad_input(format!("{start}: missing required column `{missing}`")));
    }
    Ok(out)
}
