//! AD distinguished names of the planned groups, OUs and domains. Microsoft's cmdlets take
//! DNs in their lists (`-AllowedMembers`, `-Members`, …), not `ma-grp:` URIs, and the
//! snapshot holds them (`prinADPath`). A remapped principal takes the DN of the snapshot
//! principal holding its new URI, never its old one (that DN names another object). A
//! group, OU or domain that a room or category lists but that has no DN gets a
//! `PRINCIPAL_WITHOUT_DN` warning: the PowerShell export leaves it out of that list.

use std::collections::{BTreeMap, HashMap};

use super::findings::Findings;
use crate::model::Snapshot;
use crate::plan::{PlanCategory, PlanPrincipal, PlanRoom, Severity};

/// Target principal types listed by DN: domain, group, OU or container.
pub(crate) fn listed_by_dn(target_type: i64) -> bool {
    matches!(target_type, 8..=10)
}

/// Fills `ad_path` of the groups, OUs and domains and adds a finding for each one that a
/// room or category lists without a DN.
pub(super) fn fill(
    principals: &mut [PlanPrincipal],
    snap: &Snapshot,
    rooms: &[PlanRoom],
    cats: &[PlanCategory],
    f: &mut Findings,
) {
    let by_uri: HashMap<String, &str> = snap
        .principals
        .values()
        .filter_map(|p| Some((p.uri.to_lowercase(), dn(p.ad_path.as_deref())?)))
        .collect();
    for p in principals.iter_mut().filter(|p| listed_by_dn(p.target_type)) {
        let remapped = p.note.as_deref().is_some_and(|n| n.starts_with("remapped"));
        p.ad_path = if remapped {
            by_uri.get(&p.uri.to_lowercase()).map(|d| (*d).to_owned())
        } else {
            snap.principals
                .get(&p.legacy_id)
                .and_then(|x| dn(x.ad_path.as_deref()))
                .map(str::to_owned)
        };
    }
    // Where each principal is listed: (lists, rooms or categories) per kind of list.
    let mut uses: BTreeMap<i64, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut count = |ids: &[i64], what: &'static str| {
        for id in ids {
            *uses.entry(*id).or_default().entry(what).or_default() += 1;
        }
    };
    for r in rooms {
        count(&r.members, "Members");
        count(&r.managers, "Managers");
        count(&r.presenters, "Presenters");
    }
    for c in cats {
        count(&c.allowed, "AllowedMembers");
        count(&c.denied, "DeniedMembers");
        count(&c.creators, "Creators");
    }
    for p in principals.iter().filter(|p| listed_by_dn(p.target_type) && !p.disabled) {
        let (None, Some(lists)) = (&p.ad_path, uses.get(&p.legacy_id)) else { continue };
        let on: Vec<String> = lists.iter().map(|(k, n)| format!("{k} of {n}")).collect();
        let deny = if lists.contains_key("DeniedMembers") {
            " On a DeniedMembers list this widens access until it is added."
        } else {
            ""
        };
        f.add(
            Severity::Warning,
            "PRINCIPAL_WITHOUT_DN",
            &p.uri,
            Some(&p.guid),
            format!(
                "this group, OU or domain has no AD distinguished name (prinADPath) in the snapshot, \
                 and Microsoft's cmdlets take DNs: the PowerShell scripts leave it out of its lists \
                 ({}) with a comment.{deny} Set prinADPath in the legacy database and extract again, \
                 or remap it in principals.csv to a principal that has one",
                on.join(", ")
            ),
        );
    }
}

/// A DN worth writing: trimmed, not empty.
fn dn(path: Option<&str>) -> Option<&str> {
    path.map(str::trim).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(id: i64, uri: &str, dn: Option<&str>) -> serde_json::Value {
        serde_json::json!({"id": id, "guid": format!("g{id}"), "uri": uri, "name": null,
            "company": null, "email": null, "ad_path": dn, "upn": null,
            "disabled": false, "type_id": 9, "added_on": 0, "updated_on": 0})
    }

    fn planned(id: i64, uri: &str, note: Option<&str>) -> PlanPrincipal {
        PlanPrincipal {
            legacy_id: id,
            guid: format!("g{id}"),
            uri: uri.into(),
            display_name: None,
            target_type: 9,
            disabled: false,
            note: note.map(Into::into),
            ad_path: None,
        }
    }

    /// Group 1 has a DN; 2 has a blank one; 3 is remapped onto 1's URI; 4 is remapped to a
    /// URI no legacy principal has (its own DN names the old group: not used). Room lists
    /// 1–4, category denies 2.
    #[test]
    fn dns_come_from_the_snapshot_and_a_listed_group_without_one_is_a_warning() {
        let snap: Snapshot = serde_json::from_value(serde_json::json!({
            "principal_types": {}, "affiliations": [],
            "principals": {
                "1": principal(1, "ma-grp://x/A", Some("CN=A,DC=x")),
                "2": principal(2, "ma-grp://x/B", Some("  ")),
                "3": principal(3, "ma-grp://old/A", Some("CN=OldA,DC=old")),
                "4": principal(4, "ma-grp://old/C", Some("CN=OldC,DC=old"))
            },
            "nodes": {}, "role_types": {}, "scopes": [], "roles": [], "addins": [], "invites": []
        }))
        .unwrap();
        let mut ps = vec![
            planned(1, "ma-grp://x/A", None),
            planned(2, "ma-grp://x/B", None),
            planned(3, "MA-GRP://x/a", Some("remapped from ma-grp://old/A by principals.csv")),
            planned(4, "ma-grp://new/C", Some("remapped from ma-grp://old/C by principals.csv")),
        ];
        let rooms = vec![PlanRoom { members: vec![1, 2, 3, 4], ..Default::default() }];
        let cats = vec![PlanCategory { denied: vec![2], ..Default::default() }];
        let mut f = Findings::default();
        fill(&mut ps, &snap, &rooms, &cats, &mut f);
        let dns: Vec<Option<&str>> = ps.iter().map(|p| p.ad_path.as_deref()).collect();
        assert_eq!(dns, [Some("CN=A,DC=x"), None, Some("CN=A,DC=x"), None]);
        let found: Vec<(&str, &str)> =
            f.0.iter().map(|x| (x.code.as_str(), x.subject.as_str())).collect();
        assert_eq!(
            found,
            [("PRINCIPAL_WITHOUT_DN", "ma-grp://x/B"), ("PRINCIPAL_WITHOUT_DN", "ma-grp://new/C")]
        );
        assert_eq!(f.0[0].severity, Severity::Warning);
        assert!(f.0[0].message.contains("DeniedMembers of 1, Members of 1"), "{}", f.0[0].message);
        assert!(f.0[0].message.contains("widens access"));
        assert!(!f.0[1].message.contains("widens access"));
    }
}
