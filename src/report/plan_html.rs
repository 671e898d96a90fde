//! `plan.html`: the dry-run assessment report for stakeholders. One self-contained page
//! (inline CSS and SVG, no scripts, no external assets): a verdict and headline numbers,
//! the category tree before and after, history volume per category, the findings by
//! severity and one table per wave. Built from the `html` building blocks; every name
//! is escaped, and control or bidi-override characters are made visible first.

mod lists;
mod tree;

use std::fmt::Write as _;

use crate::plan::{Plan, Severity};
use crate::report::html::{self, badge, cards, esc, fmt_num, table};

/// Styles this report adds to the shared sheet (tree picture, verdict, layout helpers).
const EXTRA_STYLE: &str = r#"<style>
.verdict{border-radius:8px;padding:18px 24px;margin:0 0 20px;color:#fff}
.verdict.pass{background:var(--ok)}.verdict.fail{background:var(--err)}
.verdict h2{margin:0 0 6px;font-size:22px;color:#fff}.verdict p{margin:0;font-size:15px;max-width:70em}
.group{margin:0 0 14px}.group h3{margin:0 0 8px;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.card .s{color:var(--muted);font-size:12px}
.scroll{overflow-x:auto}.legend{margin:0 0 10px;color:var(--muted);font-size:12px}
.legend i{display:inline-block;width:14px;height:10px;border-radius:2px;margin:0 4px 0 12px;vertical-align:middle}
.tree text.col{font-size:12px;font-weight:700;fill:#486581;letter-spacing:.04em}
.tree text.h{font-size:13px;font-weight:600;fill:#102a43}.tree text.n{font-size:12px}
.tree text.muted{fill:#829ab1}.tree text.m{font-size:11px;fill:#616e7c}.tree text.r{font-size:12px}
.tree text.w{font-size:11px;fill:#b7791f;font-weight:600}
td .sub{display:block;color:var(--muted);font-size:12px}.codes{margin:0 0 10px}
.codes span{display:inline-block;background:#f0f4f8;border-radius:4px;padding:1px 8px;margin:0 6px 4px 0;font-size:12px}
.brk{overflow-wrap:anywhere}.nw{white-space:nowrap}
nav.toc{margin:0 0 16px;font-size:13px}nav.toc a{margin-right:16px;color:var(--accent);text-decoration:none}
</style>"#;

/// Renders the whole `plan.html` document.
pub fn render(plan: &Plan) -> String {
    let legacy = tree::legacy_tree(plan);
    let mut body = String::from(EXTRA_STYLE);
    body.push_str(&verdict(plan, legacy.len()));
    body.push_str(
        "<nav class=\"toc\"><a href=\"#summary\">Summary</a><a href=\"#tree\">Categories before → after</a>\
         <a href=\"#history\">History volume</a><a href=\"#findings\">Findings</a><a href=\"#waves\">Waves</a></nav>",
    );
    body.push_str(&summary(plan, legacy.len()));
    let _ = write!(
        body,
        "<section id=\"tree\"><h2>Categories before → after</h2><p class=\"muted\">Persistent Chat has one level of \
         categories. Each legacy category on the left becomes the target categories its arrows point to; rooms whose \
         scope or settings differ from their siblings' are split into a separate category instead of being widened.</p>\
         <div class=\"legend\"><i style=\"background:#eef4ff;border:1px solid #2f6fde\"></i>target category\
         <i style=\"background:#fff8e6;border:1px solid #b7791f\"></i>split category\
         <i style=\"background:#f5f7fa;border:1px dashed #bcccdc\"></i>legacy category without rooms of its own\
         <i style=\"background:#fdecea;border:1px dashed #c62828\"></i>rooms not migrated</div>\
         <div class=\"scroll\">{}</div></section>",
        if legacy.len() > lists::TREE_CATEGORIES {
            lists::tree_summary(plan, legacy.len())
        } else {
            tree::svg(plan, &legacy)
        }
    );
    body.push_str(&lists::history(plan));
    body.push_str(&lists::findings(plan));
    body.push_str(&lists::waves(plan));
    let subtitle = format!(
        "Dry-run assessment · source: {} · {} rooms in {} target categories",
        shown(&plan.source_version),
        fmt_num(plan.rooms.len() as f64),
        fmt_num(plan.categories.len() as f64)
    );
    html::page("Group Chat → Persistent Chat migration plan", &subtitle, &body)
}

/// Text as it should appear on the page: line breaks and other control characters become
/// spaces, and bidi embedding/override/isolate characters are shown as `[U+202E]` so a
/// hostile name cannot reorder the text around it.
pub(crate) fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}' => {
                let _ = write!(out, "[U+{:04X}]", c as u32);
            }
            '\u{2028}' | '\u{2029}' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Shown, escaped text that may break anywhere: a 256-character name without spaces must
/// not stretch a table off the page.
fn brk(s: &str) -> String {
    format!("<span class=\"brk\">{}</span>", esc(&shown(s)))
}

fn count(plan: &Plan, sev: Severity) -> usize {
    plan.findings.iter().filter(|f| f.severity == sev).count()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", fmt_num(n as f64), if n == 1 { one } else { many })
}

/// The coloured verdict box: ready to load, or how many blocking errors stand in the way.
fn verdict(plan: &Plan, legacy_categories: usize) -> String {
    let errors = count(plan, Severity::Error) as u64;
    let warnings = count(plan, Severity::Warning) as u64;
    let m = &plan.messages;
    let excluded: u64 = m.excluded.values().sum();
    let rejected: u64 = m.rejected.values().sum();
    let pools: std::collections::BTreeSet<&str> =
        plan.categories.iter().map(|c| c.pool.as_str()).collect();
    let mut text = format!(
        "The plan moves {} from {} into {} in {} and {}, carrying {} of the {} read.",
        plural(plan.rooms.len() as u64, "room", "rooms"),
        plural(legacy_categories as u64, "nested legacy category", "nested legacy categories"),
        plural(
            plan.categories.len() as u64,
            "Persistent Chat category",
            "Persistent Chat categories"
        ),
        plural(pools.len() as u64, "pool", "pools"),
        plural(plan.waves.len() as u64, "wave", "waves"),
        fmt_num(m.load as f64),
        plural(m.read, "message", "messages"),
    );
    if excluded + rejected > 0 {
        let _ = write!(
            text,
            " {} excluded by a named rule and {} rejected with a reason (listed in rejects/); nothing is dropped silently.",
            fmt_num(excluded as f64),
            fmt_num(rejected as f64)
        );
    }
    if m.rejected_at_extract > 0 {
        let _ = write!(
            text,
            " {} could not be read at extract and were never staged (listed in rejects/extract.csv).",
            plural(m.rejected_at_extract, "source row", "source rows")
        );
    }
    if !plan.excluded_rooms.is_empty() {
        let _ = write!(
            text,
            " {} not migrated.",
            plural(plan.excluded_rooms.len() as u64, "legacy room is", "legacy rooms are")
        );
    }
    let (class, head) = if errors > 0 {
        let codes: std::collections::BTreeSet<&str> = plan
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.code.as_str())
            .collect();
        let _ = write!(
            text,
            " Before loading, fix the blocking errors ({}) in the source data or the mapping files and run gcmigrate plan again.",
            codes.into_iter().collect::<Vec<_>>().join(", ")
        );
        (
            "fail",
            format!(
                "Not ready: {} must be fixed",
                plural(errors, "blocking error", "blocking errors")
            ),
        )
    } else {
        ("pass", "Ready to load".to_owned())
    };
    if warnings > 0 {
        let _ = write!(
            text,
            " {} worth reading before the cutover.",
            plural(warnings, "warning is", "warnings are")
        );
    }
    format!(
        "<div class=\"verdict {class}\"><h2>{}</h2><p>{}</p></div>",
        esc(&head),
        esc(&shown(&text))
    )
}

/// Headline cards in three groups, then the message reconciliation.
fn summary(plan: &Plan, legacy_categories: usize) -> String {
    let m = &plan.messages;
    let excluded: u64 = m.excluded.values().sum();
    let rejected: u64 = m.rejected.values().sum();
    let n = |v: u64| fmt_num(v as f64);
    let mut s = String::from("<section id=\"summary\"><h2>Summary</h2>");
    let groups: [(&str, Vec<(&str, String)>); 3] = [
        (
            "Structure",
            vec![
                (
                    "Categories, legacy → target",
                    format!(
                        "{} → {}",
                        n(legacy_categories as u64),
                        n(plan.categories.len() as u64)
                    ),
                ),
                ("Rooms to migrate", n(plan.rooms.len() as u64)),
                ("Rooms not migrated", n(plan.excluded_rooms.len() as u64)),
                ("Principals", n(plan.principals.len() as u64)),
                ("Waves", n(plan.waves.len() as u64)),
                (
                    "Configuration scripts",
                    format!("{} · {:.1} MB", plan.scripts.len(), plan.script_bytes() as f64 / 1e6),
                ),
            ],
        ),
        (
            "History",
            vec![
                ("Messages read", n(m.read)),
                ("Messages to load", n(m.load)),
                ("Excluded by rule", n(excluded)),
                ("Rejected", n(rejected)),
            ],
        ),
        (
            "Findings",
            vec![
                ("Blocking errors", n(count(plan, Severity::Error) as u64)),
                ("Warnings", n(count(plan, Severity::Warning) as u64)),
                ("Info", n(count(plan, Severity::Info) as u64)),
            ],
        ),
    ];
    for (title, items) in &groups {
        let _ = write!(s, "<div class=\"group\"><h3>{}</h3>{}</div>", esc(title), cards(items));
    }
    let mut rows = vec![
        vec!["Read from the source".to_owned(), n(m.read)],
        vec!["To load".to_owned(), n(m.load)],
    ];
    for (rule, v) in &m.excluded {
        rows.push(vec![format!("Excluded by rule: <code>{}</code>", esc(&shown(rule))), n(*v)]);
    }
    for (reason, v) in &m.rejected {
        rows.push(vec![format!("Rejected: <code>{}</code>", esc(&shown(reason))), n(*v)]);
    }
    let balanced = m.load + excluded + rejected == m.read;
    let status = if balanced {
        badge("ok", "reconciles: read = load + excluded + rejected")
    } else {
        badge(
            "error",
            &format!(
                "does not reconcile: {} unaccounted",
                m.read as i128 - (m.load + excluded + rejected) as i128
            ),
        )
    };
    let _ = write!(
        s,
        "<h3>Message reconciliation {status}</h3>{}</section>",
        table(&["Messages", "#Count"], &rows)
    );
    s
}

#[cfg(test)]
pub(crate) mod tests;
