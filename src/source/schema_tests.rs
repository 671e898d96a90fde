//! The catalogue's promises: every missing required table and column named at once, an
//! optional one read as its default with a finding, the version markers.

use super::*;

#[test]
fn every_missing_required_table_and_column_is_named() {
    let s = Schema::all(true).without(&[
        "tblRoleType",
        "tblNode.nodeName",
        "tblChat.isAlert",
        "tblSiopWhiteList",
        "tblNode.topic",
    ]);
    // The optional table and column are not missing; both required ones and the table are.
    assert_eq!(s.missing(), ["tblNode.nodeName", "tblChat.isAlert", "tblRoleType"]);
    assert!(Schema::all(true).missing().is_empty());
    assert!(Schema::all(false).missing().is_empty(), "required columns suffice");
    // An optional table that is there needs its columns.
    let half = Schema::all(true).without(&["tblPrincipalInvites.createdOn"]);
    assert_eq!(half.missing(), ["tblPrincipalInvites.createdOn"]);
    let nothing = Schema::default().missing();
    assert_eq!(nothing.len(), 8, "whole tables only, no columns of absent tables: {nothing:?}");
}

#[test]
fn defaults_are_reported_once_each_and_only_when_used() {
    assert!(Schema::all(true).defaulted().is_empty());
    let r2 = Schema::all(true).without(&[
        "tblNode.scopeDefinerId",
        "tblNode.roleDefinerId",
        "tblPrincipalInvites",
        "tblRoleType.honorsScope",
        "tblScopePrincipal.scopeIsDenied",
    ]);
    let d: Vec<String> = r2.defaulted().into_iter().map(|(s, _)| s).collect();
    // 2013-only columns are no finding; the role type's flag is unread while the row's is there.
    assert_eq!(d, ["tblPrincipalInvites", "tblNode.scopeDefinerId", "tblNode.roleDefinerId"]);
    // A source without any Group Chat table: the tables, tblNode first, no columns.
    assert_eq!(Schema::default().missing()[..2], ["tblNode", "tblPrincipal"]);
    let flags = r2.without(&["tblPrincipalRole.honorsScope"]).defaulted();
    assert!(flags
        .iter()
        .any(|(s, says)| s == "tblRoleType.honorsScope" && says.contains("Manager")));
    assert!(flags.iter().any(|(s, _)| s == "tblPrincipalRole.honorsScope"));
}

#[test]
fn defaults_are_expressions_and_role_flags_fall_back_twice() {
    let all = Schema::all(true);
    assert_eq!(all.pick("tblNode", "topic", "topic"), "topic");
    let none = Schema::all(false);
    assert_eq!(none.pick("tblNode", "topic", "topic"), "NULL");
    assert_eq!(none.pick("tblNode", "behavior", "x"), "4");
    let by_name = none.pick("tblPrincipalRole", "honorsScope", "x");
    assert!(by_name.contains("UPPER(st.rtypeDesc) = 'MANAGER'"), "{by_name}");
    let by_type = all.without(&["tblPrincipalRole.honorsScope"]);
    let by_type = by_type.pick("tblPrincipalRole", "honorsScope", "x");
    assert!(by_type.contains("CAST(st.honorsScope AS BIGINT)"), "{by_type}");
    // A required column keeps its expression (never absent once accepted).
    assert_eq!(none.pick("tblNode", "nodeName", "nodeName"), "nodeName");
}

#[test]
fn versions_follow_the_markers() {
    let all = Schema::all(true);
    assert_eq!(all.version(), SourceVersion::Mgc2013);
    let lync = all.without(&["tblScopePrincipal.scopeIsDenied", "tblChat.rtf"]);
    assert_eq!(lync.version(), SourceVersion::Lync2010);
    let r2 = lync.without(&["tblNode.roleDefinerId"]);
    assert_eq!(r2.version(), SourceVersion::Ocs2007R2);
}

#[test]
fn findings_name_the_column_and_the_default() {
    let snap = Snapshot {
        version: Some(SourceVersion::Ocs2007R2),
        defaulted: vec![("tblNode.siopID".into(), "no add-in".into())],
        ..Snapshot::default()
    };
    let f = defaulted_findings(&snap);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].code.as_str(), f[0].subject.as_str()),
        ("SOURCE_COLUMN_DEFAULTED", "tblNode.siopID")
    );
    assert!(
        f[0].message.contains("OCS 2007 R2") && f[0].message.contains("no add-in"),
        "{}",
        f[0].message
    );
}

#[test]
fn catalogue_has_no_duplicates() {
    let mut seen = std::collections::BTreeSet::new();
    for (t, c, _) in COLUMNS {
        assert!(seen.insert((t.to_ascii_lowercase(), c.to_ascii_lowercase())), "{t}.{c}");
    }
    for (t, _) in OPTIONAL_TABLES {
        assert!(tables().contains(t), "{t}");
    }
}
