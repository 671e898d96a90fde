//! The plan report: `plan.json` (rooms with principal URIs), `plan.md`, `findings.csv`,
//! `rooms.csv`, `categories.csv` and the
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
    members: Names<'a>,
    managers: Names<'a>,
    presenters: Names<'a>,
    visibility: &'static str,
    behavior: &'static str,
    disabled: bool,
    message_count: u64,
}

/// A list of legacy principals, written as their URIs as it is serialized (1.6 million
/// entries at the largest pool: no list of them is built).
struct Names<'a>(&'a [i64], &'a HashMap<i64, &'a str>);

impl Serialize for Names<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|i| self.1.get(i).copied().unwrap_or("?")))
    }
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
    scripts: &'a [crate::plan::ScriptFile],
}

/// Writes plan.json, plan.md, plan.html, findings.csv, rooms.csv and categories.csv;
/// returns their paths.
pub fn write_all(dir: &Path, plan: &Plan) -> Result<Vec<PathBuf>> {
    let uris: HashMap<i64, &str> =
        plan.principals.iter().map(|p| (p.legacy_id, p.uri.as_str())).collect();
    let uris = &uris;
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
            members: Names(&r.members, uris),
            managers: Names(&r.managers, uris),
            presenters: Names(&r.presenters, uris),
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
        scripts: &plan.scripts,
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
    out.push(rooms_csv(dir, plan)?);
    out.push(categories_csv(dir, plan)?);
    Ok(out)
}

/// `rooms.csv`: every planned room, one line each (the HTML lists the first of each wave).
fn rooms_csv(dir: &Path, plan: &Plan) -> Result<PathBuf> {
    let names: HashMap<&str, &str> =
        plan.categories.iter().map(|c| (c.key.as_str(), c.name.as_str())).collect();
    let path = dir.join("rooms.csv");
    let mut w = csv::Writer::from_path(&path)?;
    w.write_record([
        "wave",
        "pool",
        "target_category",
        "target_name",
        "legacy_path",
        "legacy_guid",
        "behavior",
        "visibility",
        "disabled",
        "members",
        "managers",
        "presenters",
        "messages",
    ])?;
    for r in &plan.rooms {
        let n = |v: usize| v.to_string();
        w.write_record([
            r.wave.as_str(),
            &r.pool,
            names.get(r.category.as_str()).copied().unwrap_or(&r.category),
            &r.target_name,
            &r.legacy_path,
            &r.legacy_guid,
            if r.behavior == 5 { "auditorium" } else { "normal" },
            match r.visibility {
                2 => "secret",
                6 => "open",
                _ => "closed",
            },
            if r.disabled { "true" } else { "false" },
            &n(r.members.len()),
            &n(r.managers.len()),
            &n(r.presenters.len()),
            &r.message_count.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(path)
}

/// `categories.csv`: every target category with the legacy category it comes from.
fn categories_csv(dir: &Path, plan: &Plan) -> Result<PathBuf> {
    let mut rooms: HashMap<&str, (usize, u64)> = HashMap::new();
    for r in &plan.rooms {
        let e = rooms.entry(r.category.as_str()).or_default();
        e.0 += 1;
        e.1 += r.message_count;
    }
    let path = dir.join("categories.csv");
    let mut w = csv::Writer::from_path(&path)?;
    w.write_record([
        "target_category",
        "pool",
        "legacy_path",
        "split_reason",
        "rooms",
        "messages",
    ])?;
    for c in &plan.categories {
        let (n, m) = rooms.get(c.key.as_str()).copied().unwrap_or_default();
        w.write_record([
            c.name.as_str(),
            &c.pool,
            &c.legacy_path,
            c.split_reason.as_deref().unwrap_or(""),
            &n.to_string(),
            &m.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(path)
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
         | Findings | {} error, {} warning, {} info |\n\
         | Configuration scripts (scripts/) | {} file(s), {:.1} MB |\n",
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
        plan.scripts.len(),
        plan.script_bytes() as f64 / 1e6,
    );
    let _ = writeln!(s, "## Categories\n\n| Category | From | Rooms | Split |\n|---|---|---|---|");
    let mut per: HashMap<&str, usize> = HashMap::new();
    for r in &plan.rooms {
        *per.entry(r.category.as_str()).or_default() += 1;
    }
    for c in plan.categories.iter().take(MD_ROWS) {
        let n = per.get(c.key.as_str()).copied().unwrap_or(0);
        let _ = writeln!(
            s,
            "| {} | {} | {n} | {} |",
            md(&c.name),
            md(&c.legacy_path),
            md(c.split_reason.as_deref().unwrap_or(""))
        );
    }
    if plan.categories.len() > MD_ROWS {
        let _ = writeln!(
            s,
            "\n… and {} more categories: all of them are in categories.csv.",
            plan.categories.len() - MD_ROWS
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
    let _ = writeln!(
        s,
        "\n## Findings\n\nBy code, with the first {MD_EXAMPLES} of each; every finding is in findings.csv.\n\n\
         | Severity | Code | Count | Subject | Message |\n|---|---|---|---|---|"
    );
    let mut codes: std::collections::BTreeMap<(Severity, &str), Vec<&crate::plan::Finding>> =
        Default::default();
    for f in &plan.findings {
        codes.entry((f.severity, f.code.as_str())).or_default().push(f);
    }
    for ((sev, code), list) in &codes {
        for (i, f) in list.iter().take(MD_EXAMPLES).enumerate() {
            let n = if i == 0 { list.len().to_string() } else { String::new() };
            let _ =
                writeln!(s, "| {sev:?} | {code} | {n} | {} | {} |", md(&f.subject), md(&f.message));
        }
        if list.len() > MD_EXAMPLES {
            let _ = writeln!(s, "| | {code} | | … and {} more | |", list.len() - MD_EXAMPLES);
        }
    }
    s
}

/// Rows of plan.md's category table, and examples per finding code (the CSVs hold all).
const MD_ROWS: usize = 1000;
const MD_EXAMPLES: usize = 20;

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
