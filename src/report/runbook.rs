//! The runbook of a wave's cutover (`cutover::runbook`) rendered for people: Markdown and
//! a self-contained HTML checklist, and JSON: `reports/runbook-<label>.{md,html,json}`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::html::{cards, esc, page};
use crate::cutover::runbook::{Runbook, Status};

/// Writes the runbook's three files; returns their paths.
pub fn write_all(dir: &Path, rb: &Runbook) -> Result<Vec<PathBuf>> {
    let stem = format!("runbook-{}", crate::export::file_stem(&rb.label));
    Ok(vec![
        super::write(dir, &format!("{stem}.md"), &markdown(rb))?,
        super::write(dir, &format!("{stem}.html"), &html(rb))?,
        super::write_json(dir, &format!("{stem}.json"), rb)?,
    ])
}

/// A status as a word.
fn word(s: &Status) -> String {
    match s {
        Status::Done(at) => format!("done — {at}"),
        Status::Todo => "to do".into(),
        Status::Manual => "by hand".into(),
    }
}

/// The measured throughput, as a line.
fn rates(rb: &Runbook) -> String {
    let r = |x: Option<f64>| {
        x.map_or("not measured yet (no run of over 1,000 messages)".to_string(), |v| {
            format!("{v:.0} messages/s")
        })
    };
    format!("extract {}, load {}", r(rb.rates.0), r(rb.rates.1))
}

/// The Markdown checklist.
pub fn markdown(rb: &Runbook) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Cutover runbook: wave {} (pool {})\n", rb.wave, rb.pool);
    let _ = writeln!(
        s,
        "{} room(s), {} user(s), {} message(s). Source `{}`, target `{}`. Measured throughput: {}. \
         Passwords are redacted: set them in the URLs before running a command. Written {}.\n",
        rb.rooms,
        rb.users,
        rb.messages,
        rb.source,
        rb.target.as_deref().unwrap_or("$MGC (not loaded yet)"),
        rates(rb),
        rb.written_at
    );
    for (i, st) in rb.steps.iter().enumerate() {
        let tick = if matches!(st.status, Status::Done(_)) { "x" } else { " " };
        let _ = writeln!(s, "{}. [{tick}] **{}** ({})", i + 1, st.title, word(&st.status));
        if let Some(c) = &st.command {
            let _ = writeln!(s, "   ```sh\n   {c}\n   ```");
        }
        let expected = st.expected.as_deref().map_or(String::new(), |e| format!(" Expected: {e}."));
        let _ = writeln!(s, "   Touches: {}.{expected}\n", st.touches);
    }
    if !rb.capacity.is_empty() {
        let _ = writeln!(s, "## Capacity\n");
        for c in &rb.capacity {
            let _ = writeln!(s, "- {c}");
        }
    }
    s
}

/// The HTML checklist: one card row, then one table row per step.
pub fn html(rb: &Runbook) -> String {
    let done = rb.steps.iter().filter(|s| matches!(s.status, Status::Done(_))).count();
    let mut body = cards(&[
        ("rooms", rb.rooms.to_string()),
        ("users", rb.users.to_string()),
        ("messages", rb.messages.to_string()),
        ("steps done", format!("{done} / {}", rb.steps.len())),
    ]);
    let _ = write!(
        body,
        "<section><p class=\"muted\">Source <code>{}</code> · target <code>{}</code> · measured \
         throughput: {} · passwords are redacted: set them before running a command.</p>\
         <table class=\"stack\"><thead><tr><th>#</th><th>Step</th><th>Command</th><th>Touches</th><th>Expected</th>\
         <th>Status</th></tr></thead><tbody>",
        esc(&rb.source),
        esc(rb.target.as_deref().unwrap_or("$MGC (not loaded yet)")),
        esc(&rates(rb))
    );
    for (i, st) in rb.steps.iter().enumerate() {
        let badge = match st.status {
            Status::Done(_) => "b-ok",
            Status::Todo => "b-warning",
            Status::Manual => "b-info",
        };
        let _ = write!(
            body,
            "<tr><td class=\"num\">{}</td><td data-label=\"Step\">{}</td><td data-label=\"Command\"><code>{}</code></td>\
             <td data-label=\"Touches\">{}</td><td data-label=\"Expected\">{}</td>\
             <td><span class=\"badge {badge}\">{}</span></td></tr>",
            i + 1,
            esc(&st.title),
            esc(st.command.as_deref().unwrap_or("")),
            esc(&st.touches),
            esc(st.expected.as_deref().unwrap_or("")),
            esc(&word(&st.status))
        );
    }
    body.push_str("</tbody></table></section>");
    if !rb.capacity.is_empty() {
        body.push_str("<section><h2>Capacity</h2><ul>");
        for c in &rb.capacity {
            let _ = write!(body, "<li>{}</li>", esc(c));
        }
        body.push_str("</ul></section>");
    }
    let sub = format!(
        "pool {} · written {} · durations are estimates from this workspace's own runs",
        rb.pool, rb.written_at
    );
    page(&format!("Cutover runbook: wave {}", rb.wave), &sub, &body)
}
