//! Tests of `files.rs`: reading a mappings directory.

use super::*;

#[test]
fn unknown_option_names_line_and_column() {
    let err = parse_options(Path::new("m/gcmigrate.toml"), "separator = \"-\"\nfoo = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("m/gcmigrate.toml:2:1:"), "{err}");
    assert!(err.contains("foo"), "{err}");
}

#[test]
fn bad_since_is_rejected_with_position() {
    let err =
        parse_options(Path::new("g.toml"), "since = \"last year\"\n").unwrap_err().to_string();
    assert!(err.starts_with("g.toml:1:10:"), "{err}");
}

#[test]
fn path_patterns_match_segments() {
    let p = |s: &[&str]| PathPattern(s.iter().map(|x| x.to_string()).collect());
    assert!(p(&["sales", "*"]).matches("/Sales/EMEA"));
    assert!(!p(&["sales", "*"]).matches("/Sales/EMEA/Germany"));
    assert!(!p(&["sales", "*"]).matches("/Sales"));
    assert!(p(&["sales", "**"]).matches("/Sales"));
    assert!(p(&["sales", "**"]).matches("/Sales/EMEA/Germany"));
    assert!(!p(&["sales", "**"]).matches("/Sales_EMEA"));
    assert!(p(&["**", "germany"]).matches("/Sales/EMEA/Germany"));
    assert!(p(&["sales", "**", "germany"]).matches("/Sales/Germany"));
    assert!(p(&["sales", "emea"]).is_exact() && p(&["sales", "emea"]).matches("/SALES/emea"));
    assert!(!p(&["sales", "*"]).is_exact());
}

#[test]
fn old_plan_json_without_tables_still_loads() {
    let m: Mappings = serde_json::from_str(&format!(
        "{{\"options\":{}}}",
        serde_json::to_string(&Options::default()).unwrap()
    ))
    .unwrap();
    assert!(m.principals.is_empty() && m.categories.is_empty() && m.rooms.is_empty());
}
