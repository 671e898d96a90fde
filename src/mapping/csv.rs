//! The CSV tables of a mappings directory (`principals.csv`, `categories.csv`,
//! `rooms.csv`): reading them with the `csv` crate and turning rows into rules.
//!
//! The crate splits records; this module adds what it leaves to us: a UTF-8 BOM, `#`
//! comment lines and blank lines, trimmed fields, header checks, and the 1-based line and
//! character column where each field starts. The crate only reports where a record starts
//! (and that offset can sit before skipped comment lines), so fields are located by
//! re-scanning the raw record. Every error reads `file:line:column: message` (exit 2).

use std::collections::HashMap;
use std::fmt::Display;

use anyhow::Result;

use super::files::{
    line_col, CategoryRule, OnConflict, PathPattern, Pos, PrincipalAction, PrincipalKey,
    PrincipalRule, RoomKey, RoomRule,
};
use crate::error::bad_input;

/// Longest target name Persistent Chat stores (`nvarchar(256)`).
const MAX_NAME: usize = 256;

/// The columns a table accepts, and which of them must be present.
struct Columns {
    known: &'static [&'static str],
    required: &'static [&'static str],
}

/// A data row: trimmed values by column, with where each field starts.
struct Row {
    /// Where the record starts.
    start: Pos,
    fields: Vec<(&'static str, String, Pos)>,
}

impl Row {
    /// The trimmed value of `col`; empty when the table has no such column.
    fn value(&self, col: &str) -> &str {
        self.fields.iter().find(|f| f.0 == col).map_or("", |f| f.1.as_str())
    }

    /// The value of `col` when not empty.
    fn opt(&self, col: &str) -> Option<String> {
        Some(self.value(col).to_string()).filter(|v| !v.is_empty())
    }

    /// A bad-input error at the start of field `col` (the record start when absent).
    fn err(&self, col: &str, msg: impl Display) -> anyhow::Error {
        let pos = self.fields.iter().find(|f| f.0 == col).map_or(&self.start, |f| &f.2);
        bad_input(format!("{pos}: {msg}"))
    }

    /// Position of field `col` (the record start when absent).
    fn pos(&self, col: &str) -> Pos {
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
fn read_table(file: &str, bytes: &[u8], cols: &Columns) -> Result<Vec<Row>> {
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

/// Remembers keys seen, to reject a second row with the same key, naming both lines.
#[derive(Default)]
struct Keys(HashMap<String, usize>);

impl Keys {
    fn check(&mut self, row: &Row, col: &str, key: String) -> Result<()> {
        let line = row.pos(col).line;
        match self.0.insert(key, line) {
            Some(first) => Err(
                row.err(col, format!("duplicate {col} `{}`: also on line {first}", row.value(col)))
            ),
            None => Ok(()),
        }
    }
}

/// A GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, braces allowed), lower case.
pub(crate) fn parse_guid(s: &str) -> std::result::Result<String, String> {
    let g = s.strip_prefix('{').and_then(|g| g.strip_suffix('}')).unwrap_or(s);
    let ok = g.len() == 36
        && g.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    ok.then(|| g.to_ascii_lowercase()).ok_or_else(|| {
        format!("`{s}` is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    })
}

/// Parses a principal reference: a URI, a `sip:*@domain` pattern, a GUID or an AD DN.
fn principal_key(s: &str) -> std::result::Result<PrincipalKey, String> {
    let l = s.to_lowercase();
    let bad_domain = |d: &str| d.is_empty() || d.contains(['*', '@', '/', ' ', '\t']);
    if let Some(rest) = l.strip_prefix("sip:").or(l.starts_with("*@").then_some(l.as_str())) {
        if let Some(domain) = rest.strip_prefix("*@") {
            if bad_domain(domain) {
                return Err(format!("malformed domain pattern `{s}` (expected sip:*@domain)"));
            }
            return Ok(PrincipalKey::Domain(domain.to_string()));
        }
        if rest.contains('*') {
            return Err(format!(
                "malformed pattern `{s}`: only the whole user part can be `*` (sip:*@domain)"
            ));
        }
        return match rest.split_once('@') {
            Some((u, d)) if !u.is_empty() && !u.contains(char::is_whitespace) && !bad_domain(d) => {
                Ok(PrincipalKey::Uri(l.clone()))
            }
            _ => Err(format!("`{s}` is not a SIP URI (expected sip:user@domain)")),
        };
    }
    if l.starts_with("ma-grp:") && l.len() > 7 && !l.contains('*') {
        return Ok(PrincipalKey::Uri(l));
    }
    if ["cn=", "ou=", "dc="].iter().any(|p| l.starts_with(p)) && l.len() > 3 {
        return Ok(PrincipalKey::Dn(l));
    }
    parse_guid(s).map(PrincipalKey::Guid).map_err(|_| {
        format!("`{s}` is not a SIP URI (sip:user@domain), a domain pattern (sip:*@domain), a GUID or an AD DN (CN=…)")
    })
}

/// Parses `principals.csv`.
pub fn parse_principals(file: &str, bytes: &[u8]) -> Result<Vec<PrincipalRule>> {
    const COLS: Columns = Columns {
        known: &["legacy", "target_uri", "target_guid", "action"],
        required: &["legacy"],
    };
    let (mut keys, mut out) = (Keys::default(), Vec::new());
    for row in read_table(file, bytes, &COLS)? {
        let key = principal_key(row.value("legacy")).map_err(|m| row.err("legacy", m))?;
        let action = choice(
            &row,
            "action",
            &[
                ("remap", PrincipalAction::Remap),
                ("require", PrincipalAction::Require),
                ("disable", PrincipalAction::Disable),
            ],
        )?;
        let (mut target_uri, mut target_guid) = (row.opt("target_uri"), row.opt("target_guid"));
        if action != PrincipalAction::Remap {
            if let Some(col) = [("target_uri", &target_uri), ("target_guid", &target_guid)]
                .iter()
                .find(|c| c.1.is_some())
                .map(|c| c.0)
            {
                return Err(row.err(
                    col,
                    format!(
                        "a `{}` row takes no {col}: remap in a row of its own",
                        row.value("action").to_lowercase()
                    ),
                ));
            }
        }
        let domain_row = matches!(key, PrincipalKey::Domain(_));
        if let Some(t) = &target_uri {
            target_uri = Some(match (domain_row, principal_key(t)) {
                (true, Ok(PrincipalKey::Domain(d))) => format!("sip:*@{d}"),
                (false, Ok(PrincipalKey::Uri(u))) => u,
                (true, _) => return Err(row.err("target_uri", format!("a domain pattern maps onto a domain pattern like sip:*@new.example, not `{t}`"))),
                (false, _) => return Err(row.err("target_uri", format!("target_uri must be a URI like sip:user@domain, not `{t}`"))),
            });
        }
        if let Some(g) = &target_guid {
            if domain_row {
                return Err(row.err("target_guid", "a domain pattern cannot map onto one GUID"));
            }
            target_guid = Some(parse_guid(g).map_err(|m| row.err("target_guid", m))?);
        }
        let norm = match &key {
            PrincipalKey::Uri(k) | PrincipalKey::Guid(k) | PrincipalKey::Dn(k) => k.clone(),
            PrincipalKey::Domain(d) => format!("sip:*@{d}"),
        };
        keys.check(&row, "legacy", norm)?;
        let (legacy, source) = (row.value("legacy").to_string(), row.pos("legacy"));
        out.push(PrincipalRule { legacy, key, target_uri, target_guid, action, source });
    }
    Ok(out)
}

/// Parses a legacy path (`/A/B`), with `*`/`**` segments when `patterns` is set.
fn path_pattern(s: &str, patterns: bool) -> std::result::Result<PathPattern, String> {
    let Some(rest) = s.strip_prefix('/') else {
        return Err(format!("a legacy path starts with `/` (like /Sales/EMEA), not `{s}`"));
    };
    if rest.is_empty() {
        return Err("`/` is the root; name a category below it (`/**` for all)".into());
    }
    let segs: Vec<String> = rest.split('/').map(str::to_lowercase).collect();
    if segs.iter().any(String::is_empty) {
        return Err(format!("empty segment in `{s}` (`//` or a trailing `/`)"));
    }
    let wild = |g: &String| g == "*" || g == "**";
    if segs.iter().any(|g| g.contains('*') && !wild(g)) {
        return Err(format!(
            "malformed pattern `{s}`: `*` and `**` must be whole segments (/Sales/*, /Sales/**)"
        ));
    }
    if !patterns && segs.iter().any(wild) {
        return Err(format!("`{s}` is a pattern; rooms.csv names single rooms (use categories.csv for groups of rooms)"));
    }
    Ok(PathPattern(segs))
}

/// One of a closed set of values (case-insensitive); empty means the first.
fn choice<T: Copy>(row: &Row, col: &str, values: &[(&str, T)]) -> Result<T> {
    let v = row.value(col).to_lowercase();
    if v.is_empty() {
        return Ok(values[0].1);
    }
    values.iter().find(|(name, _)| *name == v).map(|(_, t)| *t).ok_or_else(|| {
        let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
        row.err(
            col,
            format!("{col} must be {} or empty, not `{}`", names.join(", "), row.value(col)),
        )
    })
}

/// An optional pool or wave name: letters, digits, `-`, `_`, `.`.
fn ident(row: &Row, col: &str) -> Result<Option<String>> {
    let v = row.opt(col);
    match &v {
        Some(s) if !s.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c)) => {
            Err(row
                .err(col, format!("{col} `{s}` may hold only letters, digits, `-`, `_` and `.`")))
        }
        _ => Ok(v),
    }
}

/// An optional target name: at most 256 characters, no control characters.
fn name(row: &Row, col: &str) -> Result<Option<String>> {
    let v = row.opt(col);
    match &v {
        Some(s) if s.chars().count() > MAX_NAME => Err(row.err(
            col,
            format!(
                "{col} is {} characters long; Persistent Chat allows {MAX_NAME}",
                s.chars().count()
            ),
        )),
        Some(s) if s.chars().any(char::is_control) => {
            Err(row.err(col, format!("{col} contains a control character")))
        }
        _ => Ok(v),
    }
}

/// Parses `categories.csv`.
pub fn parse_categories(file: &str, bytes: &[u8]) -> Result<Vec<CategoryRule>> {
    const COLS: Columns = Columns {
        known: &["legacy_path", "target_name", "pool", "wave", "on_conflict"],
        required: &["legacy_path"],
    };
    let (mut keys, mut out) = (Keys::default(), Vec::<CategoryRule>::new());
    for row in read_table(file, bytes, &COLS)? {
        let pattern =
            path_pattern(row.value("legacy_path"), true).map_err(|m| row.err("legacy_path", m))?;
        keys.check(&row, "legacy_path", format!("/{}", pattern.0.join("/")))?;
        if pattern.is_exact() {
            // First match wins, so an exact row below a pattern that covers it is dead.
            if let Some(r) = out.iter().find(|r| r.pattern.matches(row.value("legacy_path"))) {
                return Err(row.err(
                    "legacy_path",
                    format!(
                    "this row never applies: line {} (`{}`) matches first; move this row above it",
                    r.source.line, r.legacy_path),
                ));
            }
        }
        let on_conflict = choice(
            &row,
            "on_conflict",
            &[
                ("fail", OnConflict::Fail),
                ("merge", OnConflict::Merge),
                ("rename", OnConflict::Rename),
            ],
        )?;
        out.push(CategoryRule {
            legacy_path: row.value("legacy_path").to_string(),
            pattern,
            target_name: name(&row, "target_name")?,
            pool: ident(&row, "pool")?,
            wave: ident(&row, "wave")?,
            on_conflict,
            source: row.pos("legacy_path"),
        });
    }
    Ok(out)
}

/// Parses `rooms.csv`.
pub fn parse_rooms(file: &str, bytes: &[u8]) -> Result<Vec<RoomRule>> {
    const COLS: Columns = Columns {
        known: &["room", "target_name", "target_category", "wave", "skip"],
        required: &["room"],
    };
    let (mut keys, mut out) = (Keys::default(), Vec::new());
    for row in read_table(file, bytes, &COLS)? {
        let room = row.value("room");
        let key = if room.starts_with('/') {
            path_pattern(room, false).map(|p| RoomKey::Path(format!("/{}", p.0.join("/"))))
        } else {
            parse_guid(room).map(RoomKey::Guid).map_err(|_| {
                format!("`{room}` is neither a legacy room path (/Category/Room) nor a room GUID")
            })
        }
        .map_err(|m| row.err("room", m))?;
        let (RoomKey::Path(k) | RoomKey::Guid(k)) = &key;
        keys.check(&row, "room", k.clone())?;
        let skip = choice(&row, "skip", &[("false", false), ("true", true)])?;
        out.push(RoomRule {
            room: room.to_string(),
            key,
            target_name: name(&row, "target_name")?,
            target_category: name(&row, "target_category")?,
            wave: ident(&row, "wave")?,
            skip,
            source: row.pos("room"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error message of parsing `text` as table `which` in file `f.csv`.
    fn err<T>(which: fn(&str, &[u8]) -> Result<Vec<T>>, text: &str) -> String {
        which("f.csv", text.as_bytes()).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn bom_crlf_comments_blanks_and_quotes_are_read() {
        let text = "\u{feff}# principals\r\nlegacy , target_uri,action\r\n\r\n  \r\n\
                    # a comment\r\n\"CN=Doe, Jane,DC=c\", sip:jane@c.example ,\r\n";
        let rules = parse_principals("f.csv", text.as_bytes()).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].key, PrincipalKey::Dn("cn=doe, jane,dc=c".into()));
        assert_eq!(rules[0].target_uri.as_deref(), Some("sip:jane@c.example"));
        assert_eq!(rules[0].action, PrincipalAction::Remap);
        assert_eq!(rules[0].source.to_string(), "f.csv:6:1");
    }

    #[test]
    fn columns_count_characters_after_a_bom_and_quoted_fields() {
        assert!(err(parse_principals, "\u{feff}legacy,colour\n")
            .starts_with("f.csv:1:8: unknown column `colour`"));
        let e = err(parse_principals, "legacy,action\n\"CN=Doe, Jane,DC=c\",delete\n");
        assert!(e.starts_with("f.csv:2:21: action must be remap"), "{e}");
        // Line numbers count the lines inside a quoted field; columns count characters.
        let e = err(parse_rooms, "room,target_name,skip\n/A/Ü,\"é\",maybe\n");
        assert!(e.starts_with("f.csv:2:10: skip must be false, true or empty, not `maybe`"), "{e}");
        // Lines inside a quoted field count; a line break is no part of a name.
        let e = err(parse_rooms, "room,target_name\n\"/A/\nB\",x\n/A/C,\"two\nlines\"\n");
        assert!(e.starts_with("f.csv:4:6: target_name contains a control character"), "{e}");
    }

    #[test]
    fn broken_records_are_located() {
        let e = err(parse_rooms, "room,skip\n/A/B,\"true\n/A/C,false\n");
        assert!(e.starts_with("f.csv:2:6: unterminated quoted field"), "{e}");
        let e = err(parse_rooms, "room,skip\n/A/B,true,extra\n");
        assert!(e.starts_with("f.csv:2:11: 3 fields, but the header has 2 columns"), "{e}");
        let e = err(parse_rooms, "room,wave,skip\n/A/B,w1\r\n");
        assert!(e.starts_with("f.csv:2:8: 2 fields, but the header has 3 columns"), "{e}");
        let e = err(parse_rooms, "# rooms\n\nwave,skip\n");
        assert!(e.starts_with("f.csv:3:1: missing required column `room`"), "{e}");
        let e = err(parse_rooms, "room, Wave,wave\n");
        assert!(e.starts_with("f.csv:1:12: column `wave` appears twice (also at column 7)"), "{e}");
        assert!(parse_rooms("f.csv", b"").unwrap().is_empty());
        let e = parse_rooms("f.csv", b"room\n/A/\xff\n").unwrap_err().to_string();
        assert_eq!(e, "f.csv:2:4: not UTF-8 text (save the file as UTF-8)");
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let e = err(parse_principals, "legacy\nsip:a@b.com\n#\nSIP:A@B.COM\n");
        assert!(e.starts_with("f.csv:4:1: duplicate legacy `SIP:A@B.COM`: also on line 2"), "{e}");
        let e = err(parse_categories, "legacy_path,pool\n/Sales/*,p\n/sales/*,q\n");
        assert!(
            e.starts_with("f.csv:3:1: duplicate legacy_path `/sales/*`: also on line 2"),
            "{e}"
        );
        let e = err(parse_rooms, "target_name,room\nx,{AF71BDBA-29D1-587B-81B3-8BC94EF857D7}\ny,af71bdba-29d1-587b-81b3-8bc94ef857d7\n");
        assert!(e.starts_with("f.csv:3:3: duplicate room"), "{e}");
    }

    #[test]
    fn bad_values_are_rejected() {
        let p = |t: &str| {
            err(parse_principals, &format!("legacy,target_uri,target_guid,action\n{t}\n"))
        };
        assert!(p("sip:a*@b.com,,,").starts_with("f.csv:2:1: malformed pattern"));
        assert!(p("sip:*@,,,").starts_with("f.csv:2:1: malformed domain pattern"));
        assert!(p("jane,,,").starts_with("f.csv:2:1: `jane` is not a SIP URI"));
        assert!(p("sip:a@b.com,,1234,").starts_with("f.csv:2:14: `1234` is not a GUID"));
        assert!(p("sip:a@b.com,sip:c@d.com,,require")
            .starts_with("f.csv:2:13: a `require` row takes no target_uri"));
        assert!(p("sip:*@b.com,sip:c@d.com,,")
            .starts_with("f.csv:2:13: a domain pattern maps onto a domain pattern"));
        assert!(p("sip:*@b.com,sip:*@d.com,0e98c01b-5561-59b2-9ed0-d691f03adc1c,")
            .contains("cannot map onto one GUID"));
        let c = |t: &str| {
            err(parse_categories, &format!("legacy_path,target_name,pool,wave,on_conflict\n{t}\n"))
        };
        assert!(c("Sales,,,,").starts_with("f.csv:2:1: a legacy path starts with `/`"));
        assert!(c("/Sal*,,,,").starts_with("f.csv:2:1: malformed pattern"));
        assert!(c("/Sales//EMEA,,,,").contains("empty segment"));
        assert!(c("/Sales,,,,x")
            .starts_with("f.csv:2:11: on_conflict must be fail, merge, rename or empty, not `x`"));
        assert!(c("/Sales,,pool one,,").starts_with("f.csv:2:9: pool `pool one` may hold only"));
        assert!(c(&format!("/Sales,{},,,", "n".repeat(257))).contains("257 characters long"));
        let e = err(parse_categories, "legacy_path,wave\n/Sales/**,w\n/Sales/EMEA,v\n");
        assert!(
            e.starts_with("f.csv:3:1: this row never applies: line 2 (`/Sales/**`) matches first"),
            "{e}"
        );
        assert!(
            err(parse_rooms, "room\n/Sales/*\n").starts_with("f.csv:2:1: `/Sales/*` is a pattern")
        );
        assert!(
            err(parse_rooms, "room\nPipeline\n").starts_with("f.csv:2:1: `Pipeline` is neither")
        );
    }
}
