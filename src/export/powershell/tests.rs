//! Tests of the PowerShell scripts: exact quoting, names that never leave their strings
//! (checked by a small tokenizer that reads strings and comments as PowerShell does), and
//! `unconfigure` undoing `configure`.

use super::*;
use crate::plan::Plan;
use crate::report::plan_html::tests::HOSTILE;

/// (wave, pool) of every script of the hostile plan.
const SCRIPTS: [(&str, &str); 2] = [("all", "pool'1"), ("wave 2; $(x)", "pool $(2)")];

/// The hostile plan, its OU with a hostile DN and a group (4, listed on the rooms) without
/// one.
fn hostile_plan() -> Plan {
    let mut plan = crate::report::plan_html::tests::hostile_plan();
    plan.principals[1].ad_path = Some("OU=Sales$(x)`;,OU=O'Brien,DC=contoso,DC=com".into());
    let mut group = plan.principals[1].clone();
    (group.legacy_id, group.uri, group.target_type, group.ad_path) =
        (4, "ma-grp://contoso.com/No-DN".into(), 9, None);
    plan.principals.push(group);
    for r in &mut plan.rooms {
        r.members.push(4);
    }
    plan
}

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
    for (wave, pool) in SCRIPTS {
        for script in [configure(&plan, wave, pool), unconfigure(&plan, wave, pool)] {
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
    let all = configure(&plan, "all", "pool'1");
    assert!(all.contains(&format!("Name                   = {}", quote(HOSTILE))));
    assert!(all.contains(
        "'O''Brien''s \"room\"; $(rm -rf /) `backtick` <script>alert(1)</script>  line two"
    ));
    assert!(all.contains("‘‘curly’’"));
    assert!(all.contains("Set-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'"));
    assert!(all.contains("    [string]$PoolFqdn_pool_1\n)"), "one parameter, named after the pool");
}

#[test]
fn unconfigure_removes_what_configure_creates() {
    let plan = hostile_plan();
    for (wave, pool) in SCRIPTS {
        let created = objects(&tokenize(&configure(&plan, wave, pool)));
        let removed = objects(&tokenize(&unconfigure(&plan, wave, pool)));
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
    let all = objects(&tokenize(&configure(&plan, "all", "pool'1")));
    let room = ("Room".into(), "$PoolFqdn_pool_1".into(), HOSTILE.replace(['\r', '\n'], " "));
    assert!(all.contains(&room));
    // Only the categories the wave's rooms need: c1 and c2, not Company.
    assert_eq!(all.iter().filter(|o| o.0 == "Category").count(), 2);
    assert_eq!(all.iter().filter(|o| o.0 == "Addin").count(), 1);
}

#[test]
fn lists_leave_out_disabled_and_unknown_principals() {
    let script = configure(&hostile_plan(), "all", "pool'1");
    assert!(script.contains("    # left out: sip:jane@fabrikam.com (federated: created disabled)"));
    assert!(script.contains("    # left out: legacy principal 99 is not in the plan"));
    assert!(script.contains("Type                   = 'Auditorium'"));
    assert!(script.contains("Disabled               = $true"));
    assert_eq!(script, configure(&hostile_plan(), "all", "pool'1"), "reproducible");
}

#[test]
fn groups_ous_and_domains_are_listed_by_their_dn() {
    let plan = hostile_plan();
    let script = configure(&plan, "all", "pool'1");
    // The DN, quoted, with the Persistent Chat URI in a comment: never the ma-grp URI as a value.
    assert!(script.contains(
        "    'OU=Sales$(x)`;,OU=O''Brien,DC=contoso,DC=com'  # OU or container ma-grp://contoso.com/OU=Sales$(x)`;\n"
    ));
    let values: Vec<String> = tokenize(&script)
        .into_iter()
        .filter_map(|t| if let Tok::Str(s) = t { Some(s) } else { None })
        .collect();
    assert!(values.iter().all(|v| !v.starts_with("ma-grp:")), "{values:?}");
    // The group without a DN: left out with a comment naming it, and a warning at run time.
    assert!(script.contains(
        "    # left out: group ma-grp://contoso.com/No-DN has no AD distinguished name in the snapshot (finding PRINCIPAL_WITHOUT_DN): add its DN by hand\n"
    ));
    assert!(script.contains("Write-Warning ('gcmigrate: 1 group, OU or domain was left out"));
    // Users stay SIP URIs.
    assert!(script.contains("    'sip:o''brien@contoso.com'\n"));
    let mut with_dn = plan;
    with_dn.principals[3].ad_path = Some("CN=No-DN,OU=Groups,DC=contoso,DC=com".into());
    let fixed = configure(&with_dn, "all", "pool'1");
    assert!(fixed.contains(
        "    'CN=No-DN,OU=Groups,DC=contoso,DC=com'  # group ma-grp://contoso.com/No-DN\n"
    ));
    assert!(!fixed.contains("Write-Warning ('gcmigrate: 1 group"));
}

#[test]
fn pool_variables_are_named_after_the_pools() {
    assert_eq!(pool_variable("pc-eng", true), "$PoolFqdn_pc_eng");
    assert_eq!(pool_variable("pool $(2)", true), "$PoolFqdn_pool_2");
    assert_eq!(pool_variable("élan", true), "$PoolFqdn_lan");
    assert_eq!(pool_variable("$$$", true), "$PoolFqdn_pool");
    assert_eq!(pool_variable("pc-eng", false), "$PoolFqdn");
    let plan = hostile_plan();
    let second = configure(&plan, "wave 2; $(x)", "pool $(2)");
    assert!(second.contains("    [string]$PoolFqdn_pool_2\n)"), "{second}");
    assert!(second
        .contains("#   .\\configure-wave_2____x_@pool___2_.ps1 -PoolFqdn_pool_2 <pool FQDN>\n"));
    assert!(
        !second.contains("pool'1") && !second.contains("PoolFqdn_pool_1"),
        "other pool in:\n{second}"
    );
    // A pool without rooms of the wave: nothing to create.
    assert!(!configure(&plan, "all", "pool $(2)").contains("New-CsPersistentChatRoom"));
}

/// A plan of `rooms` rooms sharing few lists of `members` users each (as inherited legacy
/// lists are), in one pool and wave.
fn shared_lists_plan(rooms: i64, members: i64) -> Plan {
    let mut plan = hostile_plan();
    plan.principals.truncate(1);
    let template = plan.principals[0].clone();
    for id in 100..100 + 4 * members {
        let mut p = template.clone();
        (p.legacy_id, p.uri) = (id, format!("sip:user{id}@contoso.com"));
        plan.principals.push(p);
    }
    let room = plan.rooms[0].clone();
    plan.rooms = (0..rooms)
        .map(|i| {
            let mut r = room.clone();
            r.legacy_id = 1000 + i;
            r.target_name = format!("room {i}");
            // Four lists, the same principals in a different order each time.
            let first = 100 + (i % 4) * members;
            r.members = (first..first + members).collect();
            if i % 2 == 1 {
                r.members.reverse();
            }
            r.managers = vec![100];
            r
        })
        .collect();
    for c in &mut plan.categories {
        (c.allowed, c.denied, c.creators) = (vec![], vec![], vec![]);
    }
    plan
}

#[test]
fn each_distinct_list_is_declared_once_and_the_script_grows_with_rooms_not_members() {
    let script = configure(&shared_lists_plan(200, 50), "all", "pool'1");
    // Four member lists and one manager list.
    for n in 1..=5 {
        assert_eq!(script.matches(&format!("\n$List{n} = @(\n")).count(), 1, "$List{n}");
    }
    assert!(!script.contains("$List6"), "a list declared twice");
    assert_eq!(script.matches("Members        = @{ Add = $List").count(), 200);
    // user100 is in one member list and the manager list: one literal in each, no more.
    assert_eq!(
        script.matches("'sip:user100@contoso.com'").count(),
        2,
        "one literal per list entry"
    );
    // Size: linear in rooms (+ principals); 10x the members add only the longer lists.
    let small = configure(&shared_lists_plan(200, 50), "all", "pool'1").len();
    let wide = configure(&shared_lists_plan(200, 500), "all", "pool'1").len();
    let per_entry = "    'sip:user1000@contoso.com'\n".len();
    assert!(wide - small <= 4 * 450 * per_entry + 4 * 450, "{small} -> {wide}");
    let many = configure(&shared_lists_plan(2000, 50), "all", "pool'1").len();
    assert!(many < 11 * small, "{small} -> {many}");
}
