//! Rules from the rows of the mapping tables: principal keys and actions, category and
//! room paths with their patterns, names within Persistent Chat's limits, and duplicate
//! keys rejected naming both lines. Every error reads `file:line:column: message` (exit 2).

use std::collections::HashMap;

use anyhow::Result;

use super::csv::{read_table, Columns, Row};
use super::files::{
    CategoryRule, OnConflict, PathPattern, PrincipalAction, PrincipalKey, PrincipalRule, RoomKey,
    RoomRule,
};

/// Longest target name Persistent Chat stores (`nvarchar(256)`).
const MAX_NAME: usize = 256;

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
        // In categories.csv, `/` names the category of the rooms placed directly under the
        // legacy root (plan's ROOT_ROOMS); a room is never the root.
        if patterns {
            return Ok(PathPattern(Vec::new()));
        }
        return Err("`/` is the root; name a room below it".into());
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

/// An optional wave name, checked by [`super::check_wave_name`].
fn wave(row: &Row, col: &str) -> Result<Option<String>> {
    let v = row.opt(col);
    match v.as_deref().map(super::check_wave_name) {
        Some(Err(e)) => Err(row.err(col, e)),
        _ => Ok(v),
    }
}

/// An optional pool name, checked by [`super::wave_name::check_pool_name`].
fn ident(row: &Row, col: &str) -> Result<Option<String>> {
    let v = row.opt(col);
    match v.as_deref().map(super::wave_name::check_pool_name) {
        Some(Err(e)) => Err(row.err(col, e)),
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
            wave: wave(&row, "wave")?,
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
            wave: wave(&row, "wave")?,
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
        assert!(c("/Sales,,pool one,,").starts_with("f.csv:2:9: pool name `pool one` contains"));
        assert!(c("/Sales,,pöol,,").starts_with("f.csv:2:9: pool name `pöol` contains"));
        let e = c("/Sales,,,all,");
        assert!(e.starts_with("f.csv:2:10: `all` is reserved for every wave"), "{e}");
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
