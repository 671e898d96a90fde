//! Which SQL Server a T-SQL text needs: the constructs newer than the oldest server each
//! side of a migration runs on. A Lync 2010 Group Chat database (the legacy source: every
//! extract, freeze and `verify --source` read) runs on SQL Server 2005 SP3 or later; a
//! Lync 2013 `mgc` (the target: loads, verify, cutover, `plan --target`, the ledger and lock
//! DDL, the rollback scripts) on 2008 R2 SP2 or later. [`newer_than`] lists what a text uses
//! that its side's minimum lacks, so a test can hold everything the tool emits to it.
//!
//! The check is token-aware: string literals (`'…'`, `N'…'`), comments (`--`, nested
//! `/* … */`) and quoted identifiers (`[…]`, `"…"`) never match. It is a list of known
//! constructs, not a parser: what it names is newer for certain; what it does not know it
//! does not see. `date` and `time` count as types where a type stands (after `AS`, as
//! `CONVERT`'s first argument, after a column or variable name in a definition).

/// The side of a migration a text is sent to or written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The legacy Group Chat database: SQL Server 2005 SP3 or later.
    Legacy,
    /// The Lync 2013 Persistent Chat database `mgc`: SQL Server 2008 R2 SP2 or later.
    Mgc,
}

impl Side {
    /// The oldest server of the side, as Microsoft names it.
    pub fn minimum(self) -> &'static str {
        match self {
            Side::Legacy => "SQL Server 2005 SP3",
            Side::Mgc => "SQL Server 2008 R2 SP2",
        }
    }

    /// The side in words.
    pub fn name(self) -> &'static str {
        match self {
            Side::Legacy => "legacy source",
            Side::Mgc => "mgc target",
        }
    }

    /// Whether a construct first in `since` runs on the side's minimum. (2008 R2 added
    /// no T-SQL syntax over 2008.)
    fn runs(self, since: Since) -> bool {
        match self {
            Side::Legacy => false,
            Side::Mgc => since == Since::V2008,
        }
    }
}

/// The release that introduced a construct (only those after 2005 are listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Since {
    /// SQL Server 2008 (2008 R2 added no T-SQL syntax).
    V2008,
    /// SQL Server 2012.
    V2012,
    /// SQL Server 2016.
    V2016,
    /// SQL Server 2017.
    V2017,
    /// SQL Server 2019.
    V2019,
    /// SQL Server 2022.
    V2022,
}

impl Since {
    /// `"SQL Server 2012"` and so on.
    pub fn name(self) -> &'static str {
        match self {
            Since::V2008 => "SQL Server 2008",
            Since::V2012 => "SQL Server 2012",
            Since::V2016 => "SQL Server 2016",
            Since::V2017 => "SQL Server 2017",
            Since::V2019 => "SQL Server 2019",
            Since::V2022 => "SQL Server 2022",
        }
    }
}

/// One construct a text uses that its side's minimum server lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newer {
    /// The construct, as T-SQL writes it (`THROW`, `OFFSET … FETCH`, `IIF()`).
    pub construct: &'static str,
    /// The release that introduced it.
    pub since: Since,
}

impl std::fmt::Display for Newer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (new in {})", self.construct, self.since.name())
    }
}

/// Functions, by name when called (`NAME(`), with the release that added them.
const FUNCTIONS: &[(&str, &str, Since)] = &[
    ("SYSDATETIME", "SYSDATETIME()", Since::V2008),
    ("SYSUTCDATETIME", "SYSUTCDATETIME()", Since::V2008),
    ("SYSDATETIMEOFFSET", "SYSDATETIMEOFFSET()", Since::V2008),
    ("SWITCHOFFSET", "SWITCHOFFSET()", Since::V2008),
    ("TODATETIMEOFFSET", "TODATETIMEOFFSET()", Since::V2008),
    ("GROUPING_ID", "GROUPING_ID()", Since::V2008),
    ("IIF", "IIF()", Since::V2012),
    ("CHOOSE", "CHOOSE()", Since::V2012),
    ("CONCAT", "CONCAT()", Since::V2012),
    ("FORMAT", "FORMAT()", Since::V2012),
    ("TRY_CONVERT", "TRY_CONVERT()", Since::V2012),
    ("TRY_CAST", "TRY_CAST()", Since::V2012),
    ("TRY_PARSE", "TRY_PARSE()", Since::V2012),
    ("PARSE", "PARSE()", Since::V2012),
    ("EOMONTH", "EOMONTH()", Since::V2012),
    ("DATEFROMPARTS", "DATEFROMPARTS()", Since::V2012),
    ("DATETIMEFROMPARTS", "DATETIMEFROMPARTS()", Since::V2012),
    ("DATETIME2FROMPARTS", "DATETIME2FROMPARTS()", Since::V2012),
    ("DATETIMEOFFSETFROMPARTS", "DATETIMEOFFSETFROMPARTS()", Since::V2012),
    ("SMALLDATETIMEFROMPARTS", "SMALLDATETIMEFROMPARTS()", Since::V2012),
    ("TIMEFROMPARTS", "TIMEFROMPARTS()", Since::V2012),
    ("LAG", "LAG()", Since::V2012),
    ("LEAD", "LEAD()", Since::V2012),
    ("FIRST_VALUE", "FIRST_VALUE()", Since::V2012),
    ("LAST_VALUE", "LAST_VALUE()", Since::V2012),
    ("CUME_DIST", "CUME_DIST()", Since::V2012),
    ("PERCENT_RANK", "PERCENT_RANK()", Since::V2012),
    ("PERCENTILE_CONT", "PERCENTILE_CONT()", Since::V2012),
    ("PERCENTILE_DISC", "PERCENTILE_DISC()", Since::V2012),
    ("STRING_SPLIT", "STRING_SPLIT()", Since::V2016),
    ("STRING_ESCAPE", "STRING_ESCAPE()", Since::V2016),
    ("JSON_VALUE", "JSON_VALUE()", Since::V2016),
    ("JSON_QUERY", "JSON_QUERY()", Since::V2016),
    ("JSON_MODIFY", "JSON_MODIFY()", Since::V2016),
    ("ISJSON", "ISJSON()", Since::V2016),
    ("OPENJSON", "OPENJSON()", Since::V2016),
    ("COMPRESS", "COMPRESS()", Since::V2016),
    ("DECOMPRESS", "DECOMPRESS()", Since::V2016),
    ("DATEDIFF_BIG", "DATEDIFF_BIG()", Since::V2016),
    ("SESSION_CONTEXT", "SESSION_CONTEXT()", Since::V2016),
    ("STRING_AGG", "STRING_AGG()", Since::V2017),
    ("CONCAT_WS", "CONCAT_WS()", Since::V2017),
    ("TRIM", "TRIM()", Since::V2017),
    ("TRANSLATE", "TRANSLATE()", Since::V2017),
    ("APPROX_COUNT_DISTINCT", "APPROX_COUNT_DISTINCT()", Since::V2019),
    ("GREATEST", "GREATEST()", Since::V2022),
    ("LEAST", "LEAST()", Since::V2022),
    ("DATETRUNC", "DATETRUNC()", Since::V2022),
    ("DATE_BUCKET", "DATE_BUCKET()", Since::V2022),
    ("GENERATE_SERIES", "GENERATE_SERIES()", Since::V2022),
    ("JSON_OBJECT", "JSON_OBJECT()", Since::V2022),
    ("JSON_ARRAY", "JSON_ARRAY()", Since::V2022),
];

/// Words that are newer wherever they stand as a keyword or type name.
const KEYWORDS: &[(&str, &str, Since)] = &[
    ("THROW", "THROW", Since::V2012),
    ("DATETIME2", "datetime2", Since::V2008),
    ("DATETIMEOFFSET", "datetimeoffset", Since::V2008),
    ("HIERARCHYID", "hierarchyid", Since::V2008),
    ("GEOGRAPHY", "geography", Since::V2008),
    ("GEOMETRY", "geometry", Since::V2008),
    ("READONLY", "table-valued parameter (READONLY)", Since::V2008),
    ("SPARSE", "SPARSE column", Since::V2008),
    ("FILESTREAM", "FILESTREAM", Since::V2008),
    ("DATA_COMPRESSION", "DATA_COMPRESSION", Since::V2008),
];

/// Keyword sequences (`None` matches any one word).
const SEQUENCES: &[(&[Option<&str>], &str, Since)] = &[
    (&[Some("CREATE"), Some("SEQUENCE")], "CREATE SEQUENCE", Since::V2012),
    (&[Some("ALTER"), Some("SEQUENCE")], "ALTER SEQUENCE", Since::V2012),
    (&[Some("NEXT"), Some("VALUE"), Some("FOR")], "NEXT VALUE FOR", Since::V2012),
    (&[Some("WITH"), Some("RESULT"), Some("SETS")], "WITH RESULT SETS", Since::V2012),
    (&[Some("ROWS"), Some("BETWEEN")], "window frame (ROWS BETWEEN)", Since::V2012),
    (&[Some("RANGE"), Some("BETWEEN")], "window frame (RANGE BETWEEN)", Since::V2012),
    (&[Some("ROWS"), Some("UNBOUNDED")], "window frame (ROWS UNBOUNDED)", Since::V2012),
    (&[Some("DROP"), None, Some("IF"), Some("EXISTS")], "DROP … IF EXISTS", Since::V2016),
    (&[Some("CREATE"), Some("OR"), Some("ALTER")], "CREATE OR ALTER", Since::V2016),
    (&[Some("AT"), Some("TIME"), Some("ZONE")], "AT TIME ZONE", Since::V2016),
    (&[Some("IS"), Some("DISTINCT"), Some("FROM")], "IS DISTINCT FROM", Since::V2022),
    (&[Some("IS"), Some("NOT"), Some("DISTINCT"), Some("FROM")], "IS DISTINCT FROM", Since::V2022),
    (&[Some("GROUPING"), Some("SETS")], "GROUPING SETS", Since::V2008),
];

use super::tsql_tokens::{tokens, Tok};

/// Ranking functions, which took `OVER (ORDER BY …)` already in 2005.
const RANKING: &[&str] = &["ROW_NUMBER", "RANK", "DENSE_RANK", "NTILE"];

/// Words that start a statement: where a `DECLARE`'s list ends.
const STATEMENT_STARTS: &[&str] = &[
    "SELECT",
    "SET",
    "IF",
    "INSERT",
    "UPDATE",
    "DELETE",
    "BEGIN",
    "END",
    "EXEC",
    "EXECUTE",
    "DECLARE",
    "WHILE",
    "RETURN",
    "WITH",
    "CREATE",
    "DROP",
    "ALTER",
    "MERGE",
    "PRINT",
    "RAISERROR",
    "COMMIT",
    "ROLLBACK",
    "TRUNCATE",
    "GOTO",
];

/// What `sql` uses that `side`'s minimum server lacks, each construct once, in order of
/// first use.
pub fn newer_than(side: Side, sql: &str) -> Vec<Newer> {
    let mut found: Vec<Newer> = Vec::new();
    let mut add = |construct: &'static str, since: Since| {
        if !side.runs(since) && !found.iter().any(|n| n.construct == construct) {
            found.push(Newer { construct, since });
        }
    };
    let t = tokens(sql);
    let closing = matching_parens(&t);
    let word = |i: usize| match t.get(i) {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    };
    let punct = |i: usize, p: &str| matches!(t.get(i), Some(Tok::Punct(x)) if x == p);
    for i in 0..t.len() {
        if let Tok::Punct(op) = &t[i] {
            if ["+=", "-=", "*=", "/=", "%=", "&=", "|=", "^="].contains(&op.as_str()) {
                add("compound assignment (+= …)", Since::V2008);
            }
            continue;
        }
        let Some(w) = word(i) else { continue };
        let after_dot = i > 0 && punct(i - 1, ".");
        if punct(i + 1, "(") && !after_dot {
            if let Some((_, c, s)) = FUNCTIONS.iter().find(|(f, _, _)| *f == w) {
                add(c, *s);
            }
        }
        if !after_dot {
            if let Some((_, c, s)) = KEYWORDS.iter().find(|(k, _, _)| *k == w) {
                add(c, *s);
            }
        }
        for (seq, c, s) in SEQUENCES {
            let hit = seq.iter().enumerate().all(|(k, want)| match (want, word(i + k)) {
                (Some(want), Some(got)) => *want == got,
                (None, _) => t.get(i + k).is_some(),
                _ => false,
            });
            if hit {
                add(c, *s);
            }
        }
        match w {
            // OFFSET n ROWS [FETCH …]; FETCH NEXT n ROWS ONLY (not a cursor's FETCH NEXT FROM).
            "OFFSET" | "FETCH" => {
                let rows =
                    (i + 1..(i + 6).min(t.len())).any(|k| matches!(word(k), Some("ROW" | "ROWS")));
                let fetch_ok = w == "OFFSET" || matches!(word(i + 1), Some("NEXT" | "FIRST"));
                if rows && fetch_ok {
                    add("OFFSET … FETCH", Since::V2012);
                }
            }
            // The statement, not the join or union hint (`MERGE JOIN`, `MERGE UNION`).
            "MERGE" if !matches!(word(i + 1), Some("JOIN" | "UNION")) => add("MERGE", Since::V2008),
            "DATE" | "TIME" if type_position(&t, i) => {
                add(if w == "DATE" { "date type" } else { "time type" }, Since::V2008)
            }
            // More than one row constructor: VALUES (…), (…).
            "VALUES" if punct(i + 1, "(") => {
                if let Some(&end) = closing.get(&(i + 1)) {
                    if punct(end + 1, ",") && punct(end + 2, "(") {
                        add("multi-row VALUES", Since::V2008);
                    }
                }
            }
            "DECLARE" if declares_with_value(&t, i) => {
                add("DECLARE with an initial value", Since::V2008)
            }
            "OVER" if punct(i + 1, "(") && i >= 1 && punct(i - 1, ")") => {
                let ordered = closing.get(&(i + 1)).is_some_and(|&end| {
                    (i + 2..end).any(|k| word(k) == Some("ORDER") && word(k + 1) == Some("BY"))
                });
                let open = closing.iter().find(|(_, &e)| e == i - 1).map(|(&o, _)| o);
                let func = open.and_then(|o| o.checked_sub(1)).and_then(word);
                // A ranking function took it in 2005; a newer function is named itself.
                let plain = |f: &str| !RANKING.contains(&f) && !FUNCTIONS.iter().any(|x| x.0 == f);
                if ordered && func.is_some_and(plain) {
                    add("aggregate OVER (ORDER BY …)", Since::V2012);
                }
            }
            _ => {}
        }
    }
    found
}

/// Every `(`'s index mapped to its `)`'s.
fn matching_parens(t: &[Tok]) -> std::collections::HashMap<usize, usize> {
    let mut open = Vec::new();
    let mut out = std::collections::HashMap::new();
    for (i, tok) in t.iter().enumerate() {
        match tok {
            Tok::Punct(p) if p == "(" => open.push(i),
            Tok::Punct(p) if p == ")" => {
                if let Some(o) = open.pop() {
                    out.insert(o, i);
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether the word at `i` stands where a type does: `CAST(x AS date)`, `CONVERT(date, …)`,
/// `(col date`, `, col date`, `DECLARE @v date`, `ADD col date`, `ALTER COLUMN col date`.
fn type_position(t: &[Tok], i: usize) -> bool {
    let at = |k: usize| t.get(k);
    let is_word = |k: usize, w: &str| matches!(at(k), Some(Tok::Word(x)) if x == w);
    let is_punct = |k: usize, p: &str| matches!(at(k), Some(Tok::Punct(x)) if x == p);
    if i == 0 {
        return false;
    }
    if is_word(i - 1, "AS") || (i >= 2 && is_punct(i - 1, "(") && is_word(i - 2, "CONVERT")) {
        return true;
    }
    let named = matches!(at(i - 1), Some(Tok::Name | Tok::Word(_)));
    named
        && i >= 2
        && (is_punct(i - 2, "(")
            || is_punct(i - 2, ",")
            || is_word(i - 2, "DECLARE")
            || is_word(i - 2, "ADD")
            || is_word(i - 2, "COLUMN"))
}

/// Whether the `DECLARE` at `i` gives a variable a value (`DECLARE @n int = 0`).
fn declares_with_value(t: &[Tok], i: usize) -> bool {
    let mut depth = 0i32;
    for tok in &t[i + 1..] {
        match tok {
            Tok::Punct(p) if p == "(" => depth += 1,
            Tok::Punct(p) if p == ")" => depth -= 1,
            Tok::Punct(p) if p == ";" && depth == 0 => return false,
            Tok::Punct(p) if p == "=" && depth == 0 => return true,
            Tok::Word(w) if depth == 0 && STATEMENT_STARTS.contains(&w.as_str()) => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
#[path = "tsql_versions_tests.rs"]
mod tests;
