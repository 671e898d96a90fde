//! The long parts of `plan.html`, kept to what a person reads at any deployment size
//! (issue "The largest pool", item 3): findings grouped by code with their counts and the
//! first examples of each, the rooms of each wave up to a limit, the history chart's
//! largest categories, and — beyond a few hundred legacy categories — a summary of the
//! category picture per top-level legacy category. Every cut says how much it left out
//! and which file holds all of it (`findings.csv`, `rooms.csv`, `categories.csv`,
//! `plan.json`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::{brk, plural, shown};
use crate::plan::{Finding, Plan, PlanRoom, Severity};
use crate::report::html::{self, badge, esc, fmt_num, table};

/// Examples shown per finding code.
pub(super) const EXAMPLES_PER_CODE: usize = 20;
/// Rooms listed per wave.
pub(super) const ROOMS_PER_WAVE: usize = 200;
/// Legacy categories the before → after picture draws; beyond, a summary table.
pub(super) const TREE_CATEGORIES: usize = 300;
/// Rows of that summary table.
const SUMMARY_ROWS: usize = 100;

/// [`html::more`], pointing at the file that holds them all.
fn more(left: usize, what: &str, file: &str) -> String {
    html::more(left, what, &format!("all of them are in <a href=\"{file}\">{file}</a>"))
}

/// Findings by severity (errors first, info collapsed); within each, one block per code
/// with its count and the first [`EXAMPLES_PER_CODE`] examples.
pub(super) fn findings(plan: &Plan) -> String {
    let mut s = String::from("<section id=\"findings\"><h2>Findings</h2>");
    if plan.findings.is_empty() {
        s.push_str("<p>No findings.</p>");
    } else {
        s.push_str(
            "<p class=\"muted\">Grouped by code, most frequent first, with the first examples of \
             each; every finding is in <a href=\"findings.csv\">findings.csv</a> and plan.json.</p>",
        );
    }
    for (sev, kind, title) in [
        (Severity::Error, "error", "Blocking errors"),
        (Severity::Warning, "warning", "Warnings"),
        (Severity::Info, "info", "Info"),
    ] {
        let mut codes: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for f in plan.findings.iter().filter(|f| f.severity == sev) {
            codes.entry(f.code.as_str()).or_default().push(f);
        }
        if codes.is_empty() {
            continue;
        }
        let total: usize = codes.values().map(Vec::len).sum();
        let mut codes: Vec<(&str, Vec<&Finding>)> = codes.into_iter().collect();
        codes.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let chips: String = codes
            .iter()
            .map(|(c, v)| {
                format!(
                    "<span><code>{}</code> × {}</span>",
                    esc(&shown(c)),
                    fmt_num(v.len() as f64)
                )
            })
            .collect();
        let mut inner = format!("<div class=\"codes\">{chips}</div>");
        for (code, list) in &codes {
            let rows: Vec<Vec<String>> = list
                .iter()
                .take(EXAMPLES_PER_CODE)
                .map(|f| vec![brk(&f.subject), brk(&f.message)])
                .collect();
            let _ = write!(
                inner,
                "<details{}><summary><code>{}</code> × {}</summary>{}{}</details>",
                if sev == Severity::Info { "" } else { " open" },
                esc(&shown(code)),
                fmt_num(list.len() as f64),
                table(&["Subject", "Message"], &rows),
                more(list.len().saturating_sub(EXAMPLES_PER_CODE), code, "findings.csv")
            );
        }
        let head = format!("{} {}", badge(kind, &fmt_num(total as f64)), esc(title));
        if sev == Severity::Info {
            let _ = write!(s, "<details><summary>{head}</summary>{inner}</details>");
        } else {
            let _ = write!(s, "<h3>{head}</h3>{inner}");
        }
    }
    s.push_str("</section>");
    s
}

/// One table per wave (its first [`ROOMS_PER_WAVE`] rooms), then the rooms not migrated.
pub(super) fn waves(plan: &Plan) -> String {
    let by_id: HashMap<i64, &PlanRoom> = plan.rooms.iter().map(|r| (r.legacy_id, r)).collect();
    let categories: HashMap<&str, &str> =
        plan.categories.iter().map(|c| (c.key.as_str(), c.name.as_str())).collect();
    let mut s = String::from("<section id=\"waves\"><h2>Waves</h2>");
    for w in &plan.waves {
        let rooms: Vec<&PlanRoom> =
            w.rooms.iter().filter_map(|id| by_id.get(id).copied()).collect();
        let _ = write!(
            s,
            "<h3>Wave <code>{}</code> — {}, {} to load</h3>",
            esc(&shown(&w.name)),
            plural(rooms.len() as u64, "room", "rooms"),
            plural(w.messages, "message", "messages")
        );
        let rows: Vec<Vec<String>> =
            rooms.iter().take(ROOMS_PER_WAVE).map(|r| room_row(&categories, r)).collect();
        s.push_str(&table(
            &[
                "Room (legacy path)",
                "Category",
                "Pool",
                "Kind",
                "#Members",
                "#Managers",
                "#Presenters",
                "#Messages",
            ],
            &rows,
        ));
        s.push_str(&more(rooms.len().saturating_sub(ROOMS_PER_WAVE), "rooms", "rooms.csv"));
    }
    if !plan.excluded_rooms.is_empty() {
        let rows: Vec<Vec<String>> = plan
            .excluded_rooms
            .iter()
            .take(ROOMS_PER_WAVE)
            .map(|x| {
                let kind = if x.disposition == "rejected" { "error" } else { "warning" };
                vec![
                    brk(&x.legacy_path),
                    badge(kind, &x.disposition),
                    brk(&x.rule),
                    fmt_num(x.message_count as f64),
                ]
            })
            .collect();
        let _ = write!(
            s,
            "<h3>Rooms not migrated</h3>{}{}",
            table(&["Legacy room", "Disposition", "Rule", "#Messages"], &rows),
            more(
                plan.excluded_rooms.len().saturating_sub(ROOMS_PER_WAVE),
                "rooms not migrated",
                "plan.json"
            )
        );
    }
    s.push_str("</section>");
    s
}

fn room_row(categories: &HashMap<&str, &str>, r: &PlanRoom) -> Vec<String> {
    let category = categories.get(r.category.as_str()).copied().unwrap_or(&r.category);
    let kind = format!(
        "{} · {}",
        if r.behavior == 5 { "auditorium" } else { "normal" },
        match r.visibility {
            2 => "secret",
            6 => "open",
            _ => "closed",
        }
    );
    let mut kind = format!("<span class=\"nw\">{}</span>", esc(&kind));
    if r.disabled {
        kind = format!("{kind} {}", badge("warning", "disabled"));
    }
    let n = |v: usize| fmt_num(v as f64);
    vec![
        format!(
            "{}<span class=\"sub brk\">{}</span>",
            brk(&r.target_name),
            esc(&shown(&r.legacy_path))
        ),
        brk(category),
        esc(&shown(&r.pool)),
        kind,
        n(r.members.len()),
        n(r.managers.len()),
        n(r.presenters.len()),
        fmt_num(r.message_count as f64),
    ]
}

/// Messages to load per target category: the largest, the rest summed ([`html::largest_bars`]).
pub(super) fn history(plan: &Plan) -> String {
    let mut per: HashMap<&str, u64> = HashMap::new();
    for r in &plan.rooms {
        *per.entry(r.category.as_str()).or_default() += r.message_count;
    }
    let items: Vec<(String, f64)> = plan
        .categories
        .iter()
        .map(|c| (shown(&c.name), per.get(c.key.as_str()).copied().unwrap_or(0) as f64))
        .collect();
    let items = html::largest_bars(items, "categories");
    format!(
        "<section id=\"history\"><h2>History volume per target category</h2><p class=\"muted\">Staged messages of the \
         migrated rooms, before the load-time rules (cut-off date, unknown authors) are applied.</p>\
         <div class=\"scroll\">{}</div></section>",
        html::bar_chart(&items, "msgs")
    )
}

/// Beyond [`TREE_CATEGORIES`] legacy categories: per top-level legacy category, how many
/// legacy categories it holds, the target categories they became (and how many are
/// splits), rooms and messages; the largest [`SUMMARY_ROWS`] first.
pub(super) fn tree_summary(plan: &Plan, legacy_categories: usize) -> String {
    #[derive(Default)]
    struct Top {
        legacy: std::collections::BTreeSet<String>,
        targets: usize,
        splits: usize,
        rooms: usize,
        messages: u64,
    }
    let top_of =
        |path: &str| path.trim_start_matches('/').split('/').next().unwrap_or("").to_string();
    let mut tops: BTreeMap<String, Top> = BTreeMap::new();
    let mut key_top: HashMap<&str, String> = HashMap::new();
    for c in &plan.categories {
        let t = tops.entry(top_of(&c.legacy_path)).or_default();
        t.legacy.insert(c.legacy_path.clone());
        t.targets += 1;
        t.splits += usize::from(c.split_reason.is_some());
        key_top.insert(c.key.as_str(), top_of(&c.legacy_path));
    }
    for r in &plan.rooms {
        if let Some(t) = key_top.get(r.category.as_str()).and_then(|k| tops.get_mut(k)) {
            t.rooms += 1;
            t.messages += r.message_count;
        }
    }
    let mut list: Vec<(String, Top)> = tops.into_iter().collect();
    list.sort_by(|a, b| b.1.rooms.cmp(&a.1.rooms).then(a.0.cmp(&b.0)));
    let rows: Vec<Vec<String>> = list
        .iter()
        .take(SUMMARY_ROWS)
        .map(|(name, t)| {
            vec![
                brk(&format!("/{name}")),
                fmt_num(t.legacy.len() as f64),
                fmt_num(t.targets as f64),
                fmt_num(t.splits as f64),
                fmt_num(t.rooms as f64),
                fmt_num(t.messages as f64),
            ]
        })
        .collect();
    format!(
        "<p>{} legacy categories are too many to draw: here is each top-level legacy category with what it becomes, \
         largest first; <a href=\"categories.csv\">categories.csv</a> maps every target category to its legacy path.</p>\
         {}{}",
        fmt_num(legacy_categories as f64),
        table(
            &["Top-level legacy category", "#Legacy categories with rooms", "#Target categories", "#Of them split", "#Rooms", "#Messages"],
            &rows
        ),
        more(list.len().saturating_sub(SUMMARY_ROWS), "top-level categories", "categories.csv")
    )
}
