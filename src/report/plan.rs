//! The plan report: `plan.json` (rooms with principal URIs), `plan.md`, `findings.csv` and the
//! stakeholder page `plan.html` (rendered by [`super::plan_html`]).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::plan::{Plan, Severity};

#[derive(Serialize)]
struct JsonRoom<'a> {
    legacy_guid: &'a str,
    legacy_path: &'a str,
    target_name: &'a str,
    target_category: &'a str,
    pool: &'a str,
    wave: &'a str,
    members: Vec<&'a str>,
    managers: Vec<&'a str>,
    presenters: Vec<&'a str>,
    visibility: &'static str,
    behavior: &'static str,
    disabled: bool,
    message_count: u64,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    source_version: &'a str,
    categories: &'a [crate::plan::PlanCategory],
    rooms: Vec<JsonRoom<'a>>,
    excluded_rooms: &'a [crate::plan::ExcludedRoom],
    principals: &'a [crate::plan::PlanPrincipal],
    addins: &'a [crate::model::Addin],
    unused_addins: &'a [crate::model::Addin],
    waves: &'a [crate::plan::PlanWave],
    messages: &'a crate::plan::MessageTotals,
    findings: &'a [crate::plan::Finding],
}

/// Writes plan.json, plan.md, plan.html and findings.csv; returns their paths.
pub fn write_all(dir: &Path, plan: &Plan) -> Result<Vec<PathBuf>> {
    let uris: HashMap<i64, &str> =
        plan.principals.iter().map(|p| (p.legacy_id, p.uri.as_str())).collect();
    let names =
        |ids: &[i64]| ids.iter().map(|i| uris.get(i).copied().unwrap_or("?")).collect::<Vec<_>>();
    let rooms = plan
        .rooms
        .iter()
        .map(|r| JsonRoom {
            legacy_guid: &r.legacy_guid,
            legacy_path: &r.legacy_path,
            target_name: &r.target_name,
            target_category: plan.category(&r.category).map_or("", |c| c.name.as_str()),
            pool: &r.pool,
            wave: &r.wave,
            members: names(&r.members),
            managers: names(&r.managers),
            presenters: names(&r.presenters),
            visibility: if r.visibility == 2 { "secret" } else { "closed" },
            behavior: if r.behavior == 5 { "auditorium" } else { "normal" },
            disabled: r.disabled,
            message_count: r.message_count,
        })
        .collect();
    let json = JsonPlan {
        source_version: &plan.source_version,
        categories: &plan.categories,
        rooms,
        excluded_rooms: &plan.excluded_rooms,
        principals: &plan.principals,
        addins: &plan.addins,
        unused_addins: &plan.unused_addins,
        waves: &plan.waves,
        messages: &plan.messages,
        findings: &plan.findings,
    };
    let mut out = vec![super::write_json(dir, "plan.json", &json)?];
    out.push(super::write(dir, "plan.md", &markdown(plan))?);
    out.push(super::write(dir, "plan.html", &super::plan_html::render(plan))?);
    let path = dir.join("findings.csv");
    let mut w = csv::Writer::from_path(&path)?;
    w.write_record(["severity", "code", "subject", "guid", "message"])?;
    for f in &plan.findings {
        let sev = format!("{:?}", f.severity).to_lowercase();
        w.write_record([
            sev.as_str(),
            &f.code,
            &f.subject,
            f.guid.as_deref().unwrap_or(""),
            &f.message,
        ])?;
    }
    w.flush()?;
    out.push(path);
    Ok(out)
}

/// The Markdown report, for a ticket or a wiki.
pub fn markdown(plan: &Plan) -> String {
    let mut s = String::new();
    let count = |sev| plan.findings.iter().filter(|f| f.severity == sev).count();
    let _ = writeln!(s, "# Migration plan\n\nSource: {}\n", plan.source_version);
    let _ = writeln!(
        s,
        "| | |\n|---|---|\n| Target categories | {} |\n| Rooms | {} |\n| Rooms not migrated | {} |\n| Principals | {} |\n\
         | Messages read | {} |\n| Messages to load | {} |\n| Excluded by rule | {} |\n| Rejected | {} |\n\
         | Rejected at extract (rejects/extract.csv) | {} |\n\
         | Findings | {} error, {} warning, {} info |\n",
        plan.categories.len(),
        plan.rooms.len(),
        plan.excluded_rooms.len(),
        plan.principals.len(),
        plan.messages.read,
        plan.messages.load,
        plan.messages.excluded.values().sum::<u64>(),
        plan.messages.rejected.values().sum::<u64>(),
        plan.messages.rejected_at_extract,
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
    let _ = writeln!(s, "## Categories\n\n| Category | From | Rooms | Split |\n|---|---|---|---|");
    for c in &plan.categories {
        let n = plan.rooms.iter().filter(|r| r.category == c.key).count();
        let _ = writeln!(
            s,
            "| {} | {} | {n} | {} |",
            md(&c.name),
            md(&c.legacy_path),
            md(c.split_reason.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(s, "\n## Add-ins\n\n| Add-in | URL | Rooms | Registered |\n|---|---|---|---|");
    for a in plan.addins.iter().chain(&plan.unused_addins) {
        let rooms = plan.rooms.iter().filter(|r| r.addin.as_ref() == Some(&a.id));
        let pools: std::collections::BTreeSet<&str> =
            rooms.clone().map(|r| r.pool.as_str()).collect();
        let pools: Vec<&str> = if pools.is_empty() {
            plan.carried_addins(&plan.options.default_pool)
                .iter()
                .filter(|c| c.id == a.id)
                .map(|_| plan.options.default_pool.as_str())
                .collect()
        } else {
            pools.into_iter().collect()
        };
        let registered = if pools.is_empty() {
            "no (unused)".to_string()
        } else {
            format!("in pool {}", pools.join(", "))
        };
        let _ =
            writeln!(s, "| {} | {} | {} | {registered} |", md(&a.name), md(&a.url), rooms.count());
    }
    let _ =
        writeln!(s, "\n## Findings\n\n| Severity | Code | Subject | Message |\n|---|---|---|---|");
    for f in &plan.findings {
        let _ = writeln!(
            s,
            "| {:?} | {} | {} | {} |",
            f.severity,
            f.code,
            md(&f.subject),
            md(&f.message)
        );
    }
    s
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
