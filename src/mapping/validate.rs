//! Checks loaded mapping rules against the legacy snapshot: every exact row must name
//! something that exists, and no two rows may name the same object by different keys.
//!
//! Called by the planner right after it loads the snapshot. Patterns (`sip:*@domain`,
//! `/Sales/**`) may match nothing. All problems are reported at once, one per line, each
//! as `file:line:column: message` (a bad-input failure, exit 2).

use std::collections::HashMap;

use anyhow::Result;

use super::files::{Mappings, PrincipalKey, RoomKey};
use super::legacy::ROOT;
use crate::error::bad_input;
use crate::model::Snapshot;

/// A node's legacy path: `/` and the names below the root down to the node, joined with
/// `/` (`/` for the root). None when the parent chain is broken or cyclic.
pub fn legacy_path(snap: &Snapshot, node_id: i64) -> Option<String> {
    let mut names = Vec::new();
    let mut cur = snap.nodes.get(&node_id)?;
    while cur.id != ROOT && cur.parent_id != Some(cur.id) {
        if names.len() > snap.nodes.len() {
            return None;
        }
        names.push(cur.name.as_str());
        cur = snap.nodes.get(&cur.parent_id?)?;
    }
    names.reverse();
    Some(format!("/{}", names.join("/")))
}

/// Checks `m` against `snap`; the error lists every problem found.
pub fn validate(m: &Mappings, snap: &Snapshot) -> Result<()> {
    let mut problems = Vec::new();
    check_principals(m, snap, &mut problems);
    check_nodes(m, snap, &mut problems);
    if problems.is_empty() {
        return Ok(());
    }
    Err(bad_input(problems.join("\n")))
}

/// `principals.csv`: exact rows name an existing principal, each principal at most once.
fn check_principals(m: &Mappings, snap: &Snapshot, problems: &mut Vec<String>) {
    let mut claimed: HashMap<i64, usize> = HashMap::new();
    for (i, rule) in m.principals.iter().enumerate() {
        let (what, found): (&str, Vec<i64>) = match &rule.key {
            PrincipalKey::Domain(_) => continue,
            PrincipalKey::Uri(u) => ("URI", ids(snap, |p| p.uri.eq_ignore_ascii_case(u))),
            PrincipalKey::Guid(g) => ("GUID", ids(snap, |p| p.guid.eq_ignore_ascii_case(g))),
            PrincipalKey::Dn(d) => {
                ("DN", ids(snap, |p| p.ad_path.as_deref().is_some_and(|a| a.to_lowercase() == *d)))
            }
        };
        if found.is_empty() {
            problems
                .push(format!("{}: no legacy principal has {what} `{}`", rule.source, rule.legacy));
        }
        for id in found {
            if let Some(&first) = claimed.get(&id) {
                let other = &m.principals[first];
                problems.push(format!(
                    "{}: `{}` is principal {id}, already named on line {} as `{}`; keep one row per principal",
                    rule.source, rule.legacy, other.source.line, other.legacy
                ));
            } else {
                claimed.insert(id, i);
            }
        }
    }
}

/// Ids of the principals that satisfy `f`.
fn ids(snap: &Snapshot, f: impl Fn(&crate::model::Principal) -> bool) -> Vec<i64> {
    snap.principals.values().filter(|p| f(p)).map(|p| p.id).collect()
}

/// `rooms.csv` rows name existing rooms, each at most once; exact `categories.csv` rows name
/// existing categories.
fn check_nodes(m: &Mappings, snap: &Snapshot, problems: &mut Vec<String>) {
    let mut by_path: HashMap<String, Vec<i64>> = HashMap::new();
    for id in snap.nodes.keys() {
        if let Some(p) = legacy_path(snap, *id) {
            by_path.entry(p.to_lowercase()).or_default().push(*id);
        }
    }
    let is_cat = |id: &i64| snap.nodes.get(id).is_some_and(|n| n.is_category);
    let mut claimed: HashMap<i64, usize> = HashMap::new();
    for (i, rule) in m.rooms.iter().enumerate() {
        let (what, nodes) = match &rule.key {
            RoomKey::Path(p) => ("path", by_path.get(p).cloned().unwrap_or_default()),
            RoomKey::Guid(g) => (
                "GUID",
                snap.nodes
                    .values()
                    .filter(|n| n.guid.eq_ignore_ascii_case(g))
                    .map(|n| n.id)
                    .collect(),
            ),
        };
        let (cats, rooms): (Vec<i64>, Vec<i64>) = nodes.into_iter().partition(is_cat);
        if rooms.is_empty() {
            let hint = if cats.is_empty() {
                ""
            } else {
                " (it is a category: category rules go in categories.csv)"
            };
            problems
                .push(format!("{}: no legacy room has {what} `{}`{hint}", rule.source, rule.room));
        }
        for id in rooms {
            if let Some(&first) = claimed.get(&id) {
                let other = &m.rooms[first];
                problems.push(format!(
                    "{}: `{}` is the room already named on line {} as `{}`; keep one row per room",
                    rule.source, rule.room, other.source.line, other.room
                ));
            } else {
                claimed.insert(id, i);
            }
        }
    }
    for rule in m.categories.iter().filter(|r| r.pattern.is_exact()) {
        let path = format!("/{}", rule.pattern.0.join("/"));
        let nodes = by_path.get(&path).cloned().unwrap_or_default();
        if !nodes.iter().any(is_cat) {
            let hint =
                if nodes.is_empty() { "" } else { " (it is a room: room rules go in rooms.csv)" };
            problems.push(format!(
                "{}: no legacy category has path `{}`{hint}",
                rule.source, rule.legacy_path
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use super::*;
    use crate::mapping::files::{OnConflict, Resolved};
    use crate::model::{Node, Principal};

    fn node(id: i64, parent: i64, is_category: bool, name: &str) -> Node {
        Node::blank(id, Some(parent), is_category, name)
    }

    /// Root 1 > Sales 2 > Pipeline 3 (room); node 4 has a missing parent; 5 ↔ 6 loop.
    fn small() -> Snapshot {
        let mut s = Snapshot::default();
        for n in [
            node(1, 1, true, "Root"),
            node(2, 1, true, "Sales"),
            node(3, 2, false, "Pipeline"),
            node(4, 99, false, "Orphan"),
            node(5, 6, true, "A"),
            node(6, 5, true, "B"),
        ] {
            s.nodes.insert(n.id, n);
        }
        s.principals.insert(
            20,
            Principal {
                id: 20,
                guid: "08a081e4-2afa-5baa-9e47-230fff345e8f".into(),
                uri: "sip:anna@contoso.com".into(),
                name: None,
                company: None,
                email: None,
                ad_path: Some("CN=Anna,OU=Sales,DC=contoso,DC=com".into()),
                upn: None,
                disabled: false,
                type_id: 5,
                added_on: 0,
                updated_on: 0,
            },
        );
        s
    }

    /// Mappings from CSV texts (empty = no such file), in a fresh directory.
    fn mappings(files: &[(&str, &str)]) -> Mappings {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Mappings::load(Some(dir.path())).unwrap()
    }

    fn fixture(case: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mappings-broken").join(case)
    }

    /// The Contoso snapshot, read once from a SQLite copy built from the fixture.
    fn contoso() -> &'static Snapshot {
        static SNAP: OnceLock<Snapshot> = OnceLock::new();
        SNAP.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let url = crate::db::DbUrl::sqlite_file(&dir.path().join("contoso.db"));
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                crate::commands::demo::build_contoso(&url).await.unwrap();
                let src = crate::db::SourceDb::open(&url).await.unwrap();
                let version = crate::source::detect_version(&src).await.unwrap();
                let snap = crate::source::snapshot(&src, version).await.unwrap();
                src.close().await;
                snap
            })
        })
    }

    #[test]
    fn legacy_paths_walk_up_to_the_root() {
        let s = small();
        assert_eq!(legacy_path(&s, 1).as_deref(), Some("/"));
        assert_eq!(legacy_path(&s, 3).as_deref(), Some("/Sales/Pipeline"));
        assert_eq!(legacy_path(&s, 4), None);
        assert_eq!(legacy_path(&s, 5), None);
        assert_eq!(legacy_path(&s, 42), None);
    }

    #[test]
    fn exact_rows_must_name_existing_objects() {
        let m = mappings(&[
            (
                "principals.csv",
                "legacy,action\nsip:ANNA@contoso.com,disable\nsip:bob@contoso.com,\n\
              \"CN=Anna,OU=Sales,DC=contoso,DC=com\",\nsip:*@nowhere.example,require\n",
            ),
            ("categories.csv", "legacy_path\n/Sales/Pipeline\n/Marketing\n/Sales\n/Nothing/**\n"),
            ("rooms.csv", "room\n/sales/pipeline\n00000000-0000-0000-0000-000000000003\n/Sales\n"),
        ]);
        let e = validate(&m, &small()).unwrap_err().to_string();
        let lines: Vec<&str> = e.lines().map(|l| l.split_once(".csv").unwrap().1).collect();
        assert_eq!(lines, [
            ":3:1: no legacy principal has URI `sip:bob@contoso.com`",
            ":4:1: `CN=Anna,OU=Sales,DC=contoso,DC=com` is principal 20, already named on line 2 as \
             `sip:ANNA@contoso.com`; keep one row per principal",
            ":3:1: `00000000-0000-0000-0000-000000000003` is the room already named on line 2 as \
             `/sales/pipeline`; keep one row per room",
            ":4:1: no legacy room has path `/Sales` (it is a category: category rules go in categories.csv)",
            ":2:1: no legacy category has path `/Sales/Pipeline` (it is a room: room rules go in rooms.csv)",
            ":3:1: no legacy category has path `/Marketing`",
        ], "{e}");
        assert!(e
            .lines()
            .next()
            .unwrap()
            .ends_with("principals.csv:3:1: no legacy principal has URI `sip:bob@contoso.com`"));
    }

    #[test]
    fn shipped_mappings_load_and_fit_contoso() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        let m = Mappings::load(Some(&dir)).unwrap();
        assert_eq!(m.options, crate::mapping::Options::default(), "every option is commented out");
        assert_eq!((m.principals.len(), m.categories.len(), m.rooms.len()), (3, 5, 3));
        validate(&m, contoso()).unwrap();

        let eng = m.category_rule("/Engineering/Platform Engineering").unwrap();
        assert_eq!((eng.pool.as_deref(), eng.wave.as_deref()), (Some("pc-eng"), Some("wave2")));
        let long = legacy_path(contoso(), 21).unwrap();
        assert_eq!(
            m.category_rule(&long).unwrap().target_name.as_deref(),
            Some("Engineering_Incident Governance")
        );
        assert_eq!(m.category_rule("/Sales/EMEA/Germany").unwrap().wave.as_deref(), Some("pilot"));
        assert_eq!(m.category_rule("/Company").unwrap().on_conflict, OnConflict::Merge);
        assert!(m.category_rule("/Leadership").is_none());
        assert!(
            m.room_rule("/Company/Old Water Cooler", "e5a7200d-39b5-58b7-b553-3ef871899fd2")
                .unwrap()
                .skip
        );
        let handoff = m.room_rule("/x", "6175D7DE-75EF-5903-8632-FCC21949AF52").unwrap();
        assert_eq!(handoff.target_name.as_deref(), Some("On-Call Handoff"));
        assert!(m.room_rule("/Company/Social", "6524bb20-c5d4-5dd8-bbf1-4d881630de55").is_none());

        let jane = m.principal_rule(
            "sip:jane.doe@fabrikam.com",
            "11f527b9-1e0e-5227-b058-e12fc3c891cb",
            None,
        );
        assert!(
            matches!(jane, Some(Resolved::Remap { ref uri, guid: None, .. }) if uri == "sip:jane.doe@contoso.com"),
            "{jane:?}"
        );
        let other = m.principal_rule("sip:joe@Fabrikam.com", "", None);
        assert!(
            matches!(other, Some(Resolved::Required { ref source }) if source.line == 9),
            "{other:?}"
        );
        assert!(matches!(
            m.principal_rule("sip:lucas.moreau@adatum.com", "", None),
            Some(Resolved::Disable { .. })
        ));
        assert_eq!(m.principal_rule("sip:anna.lindqvist@contoso.com", "", Some("CN=x")), None);
    }

    #[test]
    fn domain_patterns_rename_and_exact_rows_win() {
        let m = mappings(&[(
            "principals.csv",
            "legacy,target_uri,target_guid\nsip:*@Contoso.com,sip:*@contoso.EXAMPLE,\n\
            \"cn=anna\\, x\",sip:anna@new.example,08A081E4-2AFA-5BAA-9E47-230FFF345E8F\n",
        )]);
        let r = m.principal_rule("sip:Karen.Wright@contoso.com", "g", None).unwrap();
        assert!(
            matches!(r, Resolved::Remap { ref uri, .. } if uri == "sip:Karen.Wright@contoso.example"),
            "{r:?}"
        );
        let r = m.principal_rule("sip:anna@contoso.com", "g", Some("CN=Anna\\, X")).unwrap();
        assert!(
            matches!(r, Resolved::Remap { ref uri, guid: Some(ref g), .. }
            if uri == "sip:anna@new.example" && g == "08a081e4-2afa-5baa-9e47-230fff345e8f"),
            "{r:?}"
        );
        assert_eq!(m.principal_rule("ma-grp://contoso.com/GC-Sales", "g", None), None);
    }

    #[test]
    fn broken_fixtures_are_rejected_with_positions() {
        let cases = [
            ("bad-row", "rooms.csv:4:47: 6 fields, but the header has 5 columns"),
            ("unterminated-quote", "categories.csv:3:1: unterminated quoted field"),
            ("unknown-column", "principals.csv:1:38: unknown column `comment`"),
            ("missing-column", "rooms.csv:2:1: missing required column `room`"),
            ("duplicate-key", "categories.csv:5:1: duplicate legacy_path `/sales/**`: also on line 3"),
            ("bad-enum", "rooms.csv:2:30: skip must be false, true or empty, not `maybe`"),
            ("bad-action", "principals.csv:2:31: action must be remap, require, disable or empty, not `delete`"),
            ("bom-crlf-bad", "categories.csv:3:43: on_conflict must be fail, merge, rename or empty, not `replace`"),
        ];
        for (case, want) in cases {
            let dir = fixture(case);
            let e = Mappings::load(Some(&dir)).unwrap_err();
            let msg = e.to_string();
            let want = format!("{}/{want}", dir.display());
            assert!(msg.starts_with(&want), "{case}: {msg}\nwanted: {want}");
            assert!(crate::error::exit_code_for(&e) == std::process::ExitCode::from(2), "{case}");
        }
        for (case, want) in [
            (
                "missing-principal",
                "principals.csv:4:1: no legacy principal has URI `sip:john.doe@fabrikam.com`",
            ),
            ("missing-room", "rooms.csv:2:1: no legacy room has path `/Company/Water Cooler`"),
        ] {
            let dir = fixture(case);
            let msg =
                validate(&Mappings::load(Some(&dir)).unwrap(), contoso()).unwrap_err().to_string();
            assert_eq!(msg, format!("{}/{want}", dir.display()), "{case}");
        }
    }

    #[test]
    fn bom_and_crlf_files_load() {
        let m = Mappings::load(Some(&fixture("bom-crlf"))).unwrap();
        assert!(m.options.skip_disabled_rooms);
        assert_eq!(m.options.default_wave, "main");
        assert_eq!(m.principals[0].legacy, "sip:jane.doe@fabrikam.com");
        assert_eq!(m.principals[0].target_uri.as_deref(), Some("sip:jane.doe@contoso.com"));
        assert_eq!((m.principals[0].source.line, m.principals[0].source.column), (4, 1));
        assert_eq!(
            m.principals[1].key,
            crate::mapping::PrincipalKey::Guid("0e98c01b-5561-59b2-9ed0-d691f03adc1c".into())
        );
        assert_eq!(m.categories[0].target_name.as_deref(), Some("Sales, EMEA"));
        assert!(m.rooms[0].skip);
        validate(&m, contoso()).unwrap();
    }
}
