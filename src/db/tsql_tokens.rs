//! T-SQL split into tokens for [`super::tsql_versions`]: keywords and identifiers
//! (upper-cased), names that can never be keywords (`@variables`, `[…]`, `"…"`), literals
//! (`'…'`, `N'…'` with `''` inside, numbers), and punctuation with the two-character
//! operators (`+=`, `>=`). Comments (`--` to the end of the line, nested `/* … */`) are
//! dropped.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    /// A keyword or plain identifier, upper-cased.
    Word(String),
    /// `@name`, or `[…]`/`"…"`: a name, never a keyword.
    Name,
    /// A string or number literal.
    Literal,
    /// One punctuation character, or a two-character operator (`+=`, `>=`).
    Punct(String),
}

/// The tokens of `sql`, in order; an unterminated literal, name or comment runs to the end.
pub(super) fn tokens(sql: &str) -> Vec<Tok> {
    let c: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let ident = |ch: char| ch.is_alphanumeric() || "_#@$".contains(ch);
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '-' && next == Some('-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            // T-SQL block comments nest.
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '\'' || ((ch == 'N' || ch == 'n') && next == Some('\'')) {
            i += if ch == '\'' { 1 } else { 2 };
            while i < c.len() {
                if c[i] == '\'' {
                    if c.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            out.push(Tok::Literal);
        } else if ch == '[' || ch == '"' {
            let close = if ch == '[' { ']' } else { '"' };
            i += 1;
            while i < c.len() {
                if c[i] == close {
                    if c.get(i + 1) == Some(&close) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            out.push(Tok::Name);
        } else if ch == '@' {
            i += 1;
            while i < c.len() && ident(c[i]) {
                i += 1;
            }
            out.push(Tok::Name);
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                i += 1;
            }
            out.push(Tok::Literal);
        } else if ch.is_alphabetic() || ch == '_' || ch == '#' {
            let start = i;
            while i < c.len() && ident(c[i]) {
                i += 1;
            }
            out.push(Tok::Word(c[start..i].iter().collect::<String>().to_uppercase()));
        } else if "+-*/%&|^<>!".contains(ch) && next == Some('=') {
            out.push(Tok::Punct([ch, '='].iter().collect()));
            i += 2;
        } else {
            out.push(Tok::Punct(ch.to_string()));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_names_and_comments_end_where_t_sql_ends_them() {
        let w = |s: &str| Tok::Word(s.into());
        let p = |s: &str| Tok::Punct(s.into());
        let sql = "set @n+=1 /* a /* b */ still */ -- line\n[x]]y] N'it''s' \"q\" 12 >=";
        assert_eq!(
            tokens(sql),
            [w("SET"), Tok::Name, p("+="), Tok::Literal, Tok::Name, Tok::Literal, Tok::Name]
                .into_iter()
                .chain([Tok::Literal, p(">=")])
                .collect::<Vec<_>>()
        );
        assert_eq!(tokens("SELECT 'open"), [w("SELECT"), Tok::Literal]);
        assert_eq!(tokens("/* open"), []);
    }
}
