//! Tests of `plan.html` and the hostile plan the export tests share: a name built to break
//! HTML, PowerShell and the layout at once, in every name, pool, wave and URI.

use super::*;
use crate::model::Addin;
use crate::plan::{
    ExcludedRoom, Finding, MessageTotals, PlanCategory, PlanPrincipal, PlanRoom, PlanWave,
};

/// A name built to break HTML, PowerShell and the layout at once.
pub(crate) const HOSTILE: &str =
    "O'Brien's \"room\"; $(rm -rf /) `backtick` <script>alert(1)</script>\r\n\
    line two \u{202E}txt.exe 🔥 ‘curly’ שלום";

fn category(
    key: &str,
    name: String,
    legacy: String,
    pool: &str,
    split: Option<&str>,
) -> PlanCategory {
    PlanCategory {
        key: key.into(),
        name,
        legacy_path: legacy,
        legacy_id: 2,
        guid: format!("{key}-guid"),
        split_reason: split.map(Into::into),
        pool: pool.into(),
        allowed: vec![1, 2],
        denied: vec![3],
        creators: vec![2],
        invite: false,
        logged: true,
        file_post: split.is_none(),
        desc: format!("desc {HOSTILE}"),
        merge: false,
    }
}

fn room(id: i64, name: &str, category: &str, pool: &str, wave: &str, behavior: i64) -> PlanRoom {
    PlanRoom {
        legacy_id: id,
        legacy_guid: format!("guid-{id}"),
        legacy_path: format!("/Sales/{HOSTILE}/{name}"),
        target_name: name.into(),
        category: category.into(),
        pool: pool.into(),
        wave: wave.into(),
        members: vec![1, 2, 3, 99],
        managers: vec![2],
        presenters: if behavior == 5 { vec![1] } else { vec![] },
        visibility: 2,
        behavior,
        disabled: id == 11,
        invite: Some(false),
        desc: HOSTILE.into(),
        addin: (id == 10).then(|| "AAAA-BBBB".to_owned()),
        message_count: id as u64 * 3,
    }
}

fn principal(id: i64, uri: &str, target_type: i64, disabled: bool) -> PlanPrincipal {
    PlanPrincipal {
        legacy_id: id,
        guid: format!("p{id}"),
        uri: uri.into(),
        display_name: Some(HOSTILE.into()),
        target_type,
        disabled,
        note: disabled.then(|| "federated: created disabled".to_owned()),
        ad_path: None,
    }
}

/// A small plan whose every name, pool, wave and URI is hostile.
pub(crate) fn hostile_plan() -> Plan {
    let sales = format!("/Sales/{HOSTILE}");
    let finding = |severity, code: &str| Finding {
        severity,
        code: code.into(),
        subject: HOSTILE.into(),
        guid: None,
        message: format!("message {HOSTILE}"),
    };
    Plan {
        source_version: "Lync Server 2010 Group Chat".into(),
        categories: vec![
            category("c1", HOSTILE.into(), sales.clone(), "pool'1", None),
            category("c2", format!("{HOSTILE} (2)"), sales, "pool'1", Some("file upload is off")),
            category("c3", "Company".into(), "/Company".into(), "pool $(2)", None),
        ],
        rooms: vec![
            room(10, HOSTILE, "c1", "pool'1", "all", 4),
            room(11, "Town Hall", "c2", "pool'1", "all", 5),
            room(12, "Social", "c3", "pool $(2)", "wave 2; $(x)", 4),
        ],
        excluded_rooms: vec![ExcludedRoom {
            legacy_id: 13,
            legacy_guid: "g13".into(),
            legacy_path: format!("/Old/{HOSTILE}"),
            disposition: "excluded".into(),
            rule: "skip_disabled_rooms".into(),
            message_count: 4,
        }],
        principals: vec![
            principal(1, "sip:o'brien@contoso.com", 5, false),
            principal(2, "ma-grp://contoso.com/OU=Sales$(x)`;", 10, false),
            principal(3, "sip:jane@fabrikam.com", 5, true),
        ],
        addins: vec![Addin {
            id: "aaaa-bbbb".into(),
            name: format!("Add-in {HOSTILE}"),
            url: "https://x/?a=1;b=$(y)".into(),
        }],
        waves: vec![
            PlanWave { name: "all".into(), rooms: vec![10, 11], messages: 63 },
            PlanWave { name: "wave 2; $(x)".into(), rooms: vec![12], messages: 36 },
        ],
        messages: MessageTotals {
            read: 110,
            load: 99,
            excluded: [("since".to_owned(), 6)].into(),
            rejected: [(format!("reason {HOSTILE}"), 5)].into(),
            rejected_at_extract: 0,
        },
        findings: vec![
            finding(Severity::Error, "NAME_COLLISION"),
            finding(Severity::Warning, "CATEGORY_SPLIT"),
            finding(Severity::Info, "VOICED_TO_MEMBER"),
        ],
        ..Plan::default()
    }
}

#[test]
fn hostile_names_are_escaped() {
    let page = render(&hostile_plan());
    assert!(!page.to_lowercase().contains("<script"), "unescaped script tag");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("\"room\""), "unescaped double quote");
    assert!(!page.contains('\u{202E}'), "raw bidi override");
    assert!(page.contains("[U+202E]txt.exe"));
    assert!(page.contains("🔥"));
}

#[test]
fn has_summary_tree_and_chart() {
    let page = render(&hostile_plan());
    assert!(page.contains("id=\"summary\""));
    let tree = page.find("<svg class=\"tree\"").expect("tree svg");
    let history = page.find("id=\"history\"").expect("history section");
    assert!(page[history..].contains("<svg"), "chart svg");
    assert!(tree < history);
    // One connector per target category; the split fans out of one legacy box.
    assert_eq!(page.matches("marker-end").count(), 3);
    assert!(page.contains("Not ready: 1 blocking error must be fixed"));
    assert!(page.contains("<details><summary>"), "info findings collapsed");
    assert!(page.contains("reconciles"));
}

#[test]
fn tree_grows_with_the_plan_and_keeps_dfs_order() {
    let mut plan = hostile_plan();
    for i in 0..50 {
        let key = format!("k{i}");
        plan.categories.push(category(
            &key,
            format!("Cat {i}"),
            format!("/Deep/L{}/Cat {i}", i % 5),
            "p",
            None,
        ));
        plan.rooms.push(room(100 + i, &format!("Room {i}"), &key, "p", "all", 4));
    }
    let tree = tree::legacy_tree(&plan);
    let paths: Vec<&str> = tree.iter().map(|n| n.path.as_str()).collect();
    let deep = paths.iter().position(|p| *p == "/Deep").expect("ancestor");
    assert_eq!(paths[deep + 1], "/Deep/L0");
    let svg = tree::svg(&plan, &tree);
    let height: f64 = svg
        .split("height=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .and_then(|h| h.parse().ok())
        .expect("height");
    assert!(height > 50.0 * 60.0, "height {height}");
}

#[test]
fn ready_plan_says_so() {
    let mut plan = hostile_plan();
    plan.findings.retain(|f| f.severity != Severity::Error);
    assert!(render(&plan).contains("Ready to load"));
}

/// At pool scale the page stays proportional to what a person reads: each code's first
/// examples, each wave's first rooms, the largest categories of the chart and, beyond a
/// few hundred legacy categories, a summary instead of the picture; each cut says where
/// the rest is.
#[test]
fn a_pool_sized_plan_gives_a_page_of_readable_size() {
    let mut plan = hostile_plan();
    plan.findings.retain(|f| f.severity != Severity::Error);
    let template = plan.findings[0].clone();
    let (n_rooms, n_cats) = (5_000_i64, 1_000_i64);
    for i in 0..n_cats {
        let key = format!("k{i}");
        let legacy = format!("/Top {}/Cat {i}", i % 7);
        plan.categories.push(category(&key, format!("Cat {i}"), legacy, "p", None));
    }
    for i in 0..n_rooms {
        plan.rooms.push(room(
            1_000 + i,
            &format!("Room {i}"),
            &format!("k{}", i % n_cats),
            "p",
            "big",
            4,
        ));
        let mut f = template.clone();
        f.code = "MANY".into();
        f.subject = format!("room {i}");
        plan.findings.push(f);
    }
    plan.waves.push(PlanWave {
        name: "big".into(),
        rooms: (0..n_rooms).map(|i| 1_000 + i).collect(),
        messages: 1,
    });
    let page = render(&plan);
    assert!(page.len() < 1_000_000, "{} bytes", page.len());
    assert!(!page.contains("<svg class=\"tree\""), "no picture of 1,000 categories");
    assert!(page.contains("/Top 3") && page.contains("categories.csv"));
    let more = |n: i64| format!("… and {} more", crate::report::html::fmt_num(n as f64));
    assert!(page.contains(&(more(n_rooms - 20) + " MANY")), "findings cut");
    assert!(page.contains(&(more(n_rooms - 200) + " rooms")), "wave cut");
    assert!(page.contains("the other "), "chart cut");
    assert_eq!(page.matches("room 4999").count(), 0, "an example past the cut");
}
