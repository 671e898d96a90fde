//! Tests of the PowerShell scripts: exact quoting, names that never leave their strings
//! (checked by a small tokenizer that reads strings and comments as PowerShell does), and
//! `unconfigure` undoing `configure`.

use super::*;
use crate::report::plan_html::tests::{hostile_plan, HOSTILE};

/// A piece of a script: code outside strings and comments, or a decoded single-quoted
/// string.
#[derive(Debug, PartialEq)]
enum Tok {
    Code(String),
    Str(String),
}

fn is_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

/// Splits a script the way PowerShell's tokenizer reads single-quoted strings and line
/// comments (the only string and comment forms the generator emits).
fn tokenize(script: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut code = String::new();
    let mut it = script.chars().peekable();
    while let Some(c) = it.next() {
        if c == '#' {
            for c in it.by_ref() {
                if c == '\n' {
                    code.push('\n');
                    break;
                }
            }
        } else if is_quote(c) {
            out.push(Tok::Code(std::mem::take(&mut code)));
            let mut lit = String::new();
            loop {
                let c = it.next().expect("unterminated string");
                if is_quote(c) {
                    match it.peek() {
                        Some(&n) if is_quote(n) => lit.push(it.next().expect("peeked")),
                        _ => break,
                    }
                } else {
                    lit.push(c);
                }
            }
            out.push(Tok::Str(lit));
        } else {
            code.push(c);
        }
    }
    out.push(Tok::Code(code));
    merge_chars(out)
}

/// Folds `'a' + [char]0x202E + 'b'` (what [`quote`] writes for bidi controls) into one
/// string token.
fn merge_chars(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::new();
    let mut it = toks.into_iter().peekable();
    while let Some(t) = it.next() {
        let joined = match (&t, out.last_mut()) {
            (Tok::Code(c), Some(Tok::Str(prev))) => c
                .trim()
                .strip_prefix("+ [char]0x")
                .and_then(|h| h.strip_suffix(" +"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .filter(|_| matches!(it.peek(), Some(Tok::Str(_))))
                .map(|ch| {
                    prev.push(ch);
                    if let Some(Tok::Str(next)) = it.next() {
                        prev.push_str(&next);
                    }
                })
                .is_some(),
            _ => false,
        };
        if !joined {
            out.push(t);
        }
    }
    out
}

fn code_of(toks: &[Tok]) -> String {
    toks.iter().filter_map(|t| if let Tok::Code(c) = t { Some(c.as_str()) } else { None }).collect()
}

/// (kind, pool variable, name) of every `$id = $Pool + '\name'` … `Test-PcObject Kind $id`.
fn objects(toks: &[Tok]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for w in toks.windows(3) {
        if let [Tok::Code(before), Tok::Str(lit), Tok::Code(after)] = w {
            let before = before.trim_end();
            let before = before.strip_suffix('(').unwrap_or(before).trim_end();
            let Some(var) =
                before.strip_suffix('+').and_then(|b| b.trim_end().rsplit("$id = ").next())
            else {
                continue;
            };
            let Some(kind) = after.split("Test-PcObject ").nth(1).and_then(|k| k.split(' ').next())
            else {
                continue;
            };
            if let Some(name) = lit.strip_prefix('\\') {
                out.push((kind.to_owned(), var.trim().to_owned(), name.to_owned()));
            }
        }
    }
    out
}

#[test]
fn quoting_doubles_every_quote() {
    assert_eq!(quote("O'Brien’s"), "'O''Brien’’s'");
    assert_eq!(quote("a\r\nb`$(c);"), "'a  b`$(c);'");
    assert_eq!(quote("a\u{202E}b"), "('a' + [char]0x202E + 'b')");
    let decoded = HOSTILE.replace(['\r', '\n'], " ");
    assert_eq!(
        tokenize(&quote(HOSTILE)),
        vec![Tok::Code("(".into()), Tok::Str(decoded), Tok::Code(")".into())]
    );
}

#[test]
fn names_never_leave_their_strings() {
    let plan = hostile_plan();
    for wave in ["all", "wave 2; $(x)"] {
        for script in [configure(&plan, wave), unconfigure(&plan, wave)] {
            let toks = tokenize(&script);
            let code = code_of(&toks);
            for bad in ["$(", "`", ";", "\"", "rm -rf", "alert", "<script", "O''Brien"] {
                assert!(!code.contains(bad), "{bad:?} outside strings in:\n{script}");
            }
            let names: Vec<&str> = toks
                .iter()
                .filter_map(|t| if let Tok::Str(s) = t { Some(s.as_str()) } else { None })
                .collect();
            assert!(names.iter().all(|n| !n.contains('\n') && !n.contains('\r')));
            assert!(!script.chars().any(is_bidi), "raw bidi control in:\n{script}");
        }
    }
    let all = configure(&plan, "all");
    assert!(all.contains(&format!("Name                   = {}", quote(HOSTILE))));
    assert!(all.contains(
        "'O''Brien''s \"room\"; $(rm -rf /) `backtick` <script>alert(1)</script>  line two"
    ));
    assert!(all.contains("‘‘curly’’"));
    assert!(all.contains("Set-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'"));
    assert!(all.contains("[string]$PoolFqdn\n"), "one pool, one parameter");
}

#[test]
fn unconfigure_removes_what_configure_creates() {
    let plan = hostile_plan();
    for wave in ["all", "wave 2; $(x)"] {
        let created = objects(&tokenize(&configure(&plan, wave)));
        let removed = objects(&tokenize(&unconfigure(&plan, wave)));
        assert!(!created.is_empty());
        let (mut a, mut b) = (created.clone(), removed.clone());
        a.sort();
        b.sort();
        assert_eq!(a, b, "wave {wave}");
        // Rooms, then categories, then add-ins.
        let rank =
            |k: &str| ["Room", "Category", "Addin"].iter().position(|x| *x == k).expect("kind");
        assert!(removed.windows(2).all(|p| rank(&p[0].0) <= rank(&p[1].0)), "{removed:?}");
    }
    let all = objects(&tokenize(&configure(&plan, "all")));
    assert!(all.contains(&("Room".into(), "$PoolFqdn".into(), HOSTILE.replace(['\r', '\n'], " "))));
    // Only the categories the wave's rooms need: c1 and c2, not Company.
    assert_eq!(all.iter().filter(|o| o.0 == "Category").count(), 2);
    assert_eq!(all.iter().filter(|o| o.0 == "Addin").count(), 1);
}

#[test]
fn lists_leave_out_disabled_and_unknown_principals() {
    let script = configure(&hostile_plan(), "all");
    assert!(script.contains("# left out: sip:jane@fabrikam.com (federated: created disabled)"));
    assert!(script.contains("# left out: legacy principal 99 is not in the plan"));
    assert!(
        script.contains("'ma-grp://contoso.com/OU=Sales$(x)`;'  # OU or container (ma-grp URI)")
    );
    assert!(script.contains("Type                   = 'Auditorium'"));
    assert!(script.contains("Disabled               = $true"));
    assert_eq!(script, configure(&hostile_plan(), "all"), "reproducible");
}
