//! The verification report, per run `verify-<wave>-<run>.*` and the latest run's copy at
//! `verify-<wave>.*` (`verify_runs.rs`): `verify-<wave>.json` (the [`VerifyReport`] as it is),
//! `verify-<wave>.md` (for a ticket), `verify-<wave>.csv` (one row per room, then one per
//! access change and per invariant, for a spreadsheet) and `verify-<wave>.html` (a
//! self-contained page with a PASS/FAIL banner for the cutover meeting).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::verify::{AccessChange, RoomCheck, VerifyReport};

mod html;

pub use html::render_html;

/// The files one verify run wrote: its own, and the copies at `verify-<wave>.*`.
#[derive(Debug, Clone)]
pub struct Written {
    /// `verify-<wave>-<run>.{json,md,csv,html}`, kept.
    pub run: Vec<PathBuf>,
    /// `verify-<wave>.{json,md,csv,html}`, the latest run's copies.
    pub latest: Vec<PathBuf>,
}

/// Writes the JSON, Markdown, CSV and HTML reports of this run under their own names
/// ([`super::verify_runs`]) and copies them to `verify-<label>.*` (the wave or `all`, with
/// `@<pool>` when the plan has several pools).
pub fn write_all(dir: &Path, r: &VerifyReport) -> Result<Written> {
    let label = if r.label.is_empty() { &r.wave } else { &r.label };
    let run = write_files(dir, &super::verify_runs::run_stem(dir, label), r)?;
    let latest = super::verify_runs::publish_latest(dir, &run, label)?;
    Ok(Written { run, latest })
}

/// Writes the four files as `<stem>.<ext>`.
fn write_files(dir: &Path, stem: &str, r: &VerifyReport) -> Result<Vec<PathBuf>> {
    let mut out = vec![super::write_json(dir, &format!("{stem}.json"), r)?];
    out.push(super::write(dir, &format!("{stem}.md"), &markdown(r))?);
    let path = dir.join(format!("{stem}.csv"));
    write_csv(&path, r)?;
    out.push(path);
    out.push(super::write(dir, &format!("{stem}.html"), &render_html(r))?);
    Ok(out)
}

/// What each invariant means, for people.
pub(crate) fn describe(name: &str) -> &'static str {
    match name {
        "room_lists_within_scope" => "Room members, managers and presenters lie within their category's allowed minus denied principals",
        "no_presenters_in_normal_rooms" => "Presenters only in auditorium rooms",
        "unique_names" => "Room and category names are unique in the pool (case-insensitive)",
        "name_length" => "Names fit in 256 characters",
        "last_chat_id" => "tblLastChatId holds each room's highest chatId",
        "last_invite_id" => "tblLastInviteId of each principal is at least its highest invitation id",
        "chat_references" => "Every message points at an existing room and principal",
        _ => "",
    }
}

/// Counts of what failed, for the verdict line.
pub(crate) struct Failures {
    mismatched: usize,
    gained: usize,
    lost_blocking: usize,
    lost_explained: usize,
    invariants: usize,
}

impl Failures {
    pub(crate) fn of(r: &VerifyReport) -> Failures {
        Failures {
            mismatched: r.rooms.iter().filter(|x| !x.checksum_match).count(),
            gained: r.access.gained.len(),
            lost_blocking: r.access.lost.iter().filter(|c| c.blocking).count(),
            lost_explained: r.access.lost.iter().filter(|c| !c.blocking).count(),
            invariants: r.invariants.iter().filter(|i| !i.ok).count(),
        }
    }

    pub(crate) fn verdict(&self, ok: bool) -> String {
        if ok {
            return "PASS — every message reconciles, nobody gained access, every loss is explained by a mapping rule, \
                    every invariant holds"
                .into();
        }
        let mut why = Vec::new();
        for (n, what) in [
            (self.mismatched, "room(s) whose history differs"),
            (self.gained, "access right(s) gained"),
            (self.lost_blocking, "access right(s) lost without an explaining rule"),
            (self.invariants, "invariant(s) failing"),
        ] {
            if n > 0 {
                why.push(format!("{n} {what}"));
            }
        }
        format!("FAIL — {}", why.join(", "))
    }
}

fn status(c: &AccessChange) -> &'static str {
    if c.blocking {
        "blocking"
    } else {
        "explained"
    }
}

pub(crate) fn room_label(c: &RoomCheck) -> String {
    c.target_name.clone().unwrap_or_else(|| c.legacy_path.clone())
}

/// What the report says of staged waves (empty when none).
pub(crate) fn staged_line(r: &VerifyReport) -> String {
    if r.staged.is_empty() {
        return String::new();
    }
    format!(
        "Staged (not cut over yet): wave {}. Their rooms are disabled in the target until the \
         cutover and were judged by their planned state: access as it will be once they are enabled.",
        r.staged.join(", ")
    )
}

/// The Markdown report.
pub fn markdown(r: &VerifyReport) -> String {
    let f = Failures::of(r);
    let mut s = format!(
        "# Verification — wave `{}`\n\nTarget: {}\n\n**{}**\n\n",
        r.wave,
        r.target,
        f.verdict(r.ok)
    );
    if !r.staged.is_empty() {
        let _ = writeln!(s, "{}\n", staged_line(r));
    }
    let t = |k: &str| r.totals.get(k).copied().unwrap_or(0);
    let _ = writeln!(
        s,
        "| | |\n|---|---|\n| Rooms | {} ({} mismatched) |\n| Messages read | {} |\n| Expected in target | {} |\n\
         | Found in target | {} |\n| Excluded by rule | {} |\n| Rejected | {} |\n| (user, room) pairs compared | {} ({} unchanged) |\n\
         | Access gained | {} |\n| Access lost | {} explained, {} blocking |\n| Invariants | {} of {} hold |\n",
        r.rooms.len(), f.mismatched, t("read"), t("expected"), t("loaded"), t("excluded"), t("rejected"),
        r.access.pairs, r.access.unchanged, f.gained, f.lost_explained, f.lost_blocking,
        r.invariants.len() - f.invariants, r.invariants.len()
    );
    let _ = writeln!(s, "## Rooms\n\n| Room | Category | Expected | Found | Excluded | Rejected | History |\n|---|---|---|---|---|---|---|");
    let mut rooms: Vec<&RoomCheck> = r.rooms.iter().collect();
    rooms.sort_by_key(|c| c.checksum_match);
    for c in rooms.iter().take(html::ROWS) {
        let hist = match (&c.first_mismatch, c.checksum_match) {
            (_, true) => "match".to_string(),
            (Some(m), false) => format!("**mismatch** at chatId {}: {}", m.chat_id, m.what),
            (None, false) => "**mismatch**".into(),
        };
        let _ = writeln!(
            s,
            "| {} <br>`{}` | {} | {} | {} | {} | {} | {hist} |",
            md(&c.legacy_path),
            c.legacy_guid,
            md(c.category.as_deref().unwrap_or("—")),
            c.expected,
            c.loaded,
            c.excluded,
            c.rejected
        );
    }
    if rooms.len() > html::ROWS {
        let _ = writeln!(s, "\n… and {} more rooms (mismatched ones are listed first): all are in the CSV and JSON.", rooms.len() - html::ROWS);
    }
    for (title, list) in [("Access gained", &r.access.gained), ("Access lost", &r.access.lost)] {
        let _ = writeln!(s, "\n## {title}\n");
        if list.is_empty() {
            let _ = writeln!(s, "None.");
            continue;
        }
        let _ = writeln!(
            s,
            "| Status | User | Room | Right | Rule | Cause |\n|---|---|---|---|---|---|"
        );
        let mut list: Vec<&AccessChange> = list.iter().collect();
        list.sort_by_key(|c| !c.blocking);
        for c in list.iter().take(html::ROWS) {
            let _ = writeln!(
                s,
                "| {} | {} | {} <br>`{}` | {} | {} | {} |",
                status(c),
                md(&c.user),
                md(&c.room_path),
                c.room,
                c.right.as_str(),
                c.rule.as_deref().unwrap_or("—"),
                md(&c.detail)
            );
        }
        if list.len() > html::ROWS {
            let _ = writeln!(
                s,
                "\n… and {} more (blocking ones are listed first): all are in the CSV and JSON.",
                list.len() - html::ROWS
            );
        }
    }
    let _ = writeln!(s, "\n## Invariants\n\n| Invariant | Holds | Details |\n|---|---|---|");
    for i in &r.invariants {
        let _ = writeln!(
            s,
            "| `{}` — {} | {} | {} |",
            i.name,
            describe(&i.name),
            if i.ok { "yes" } else { "**no**" },
            md(&i.details.join("; "))
        );
    }
    s
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn write_csv(path: &Path, r: &VerifyReport) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "record",
        "status",
        "room",
        "room_path",
        "category",
        "target_id",
        "read",
        "expected",
        "loaded",
        "excluded",
        "rejected",
        "first_mismatch",
        "user",
        "right",
        "rule",
        "detail",
    ])?;
    for c in &r.rooms {
        let mismatch = c
            .first_mismatch
            .as_ref()
            .map(|m| format!("{}: {}", m.chat_id, m.what))
            .unwrap_or_default();
        let n = |v: u64| v.to_string();
        w.write_record([
            "room",
            if c.checksum_match { "match" } else { "mismatch" },
            &c.legacy_guid,
            &c.legacy_path,
            c.category.as_deref().unwrap_or(""),
            &c.target_id.map(|t| t.to_string()).unwrap_or_default(),
            &n(c.read),
            &n(c.expected),
            &n(c.loaded),
            &n(c.excluded),
            &n(c.rejected),
            &mismatch,
            "",
            "",
            "",
            "",
        ])?;
    }
    for (kind, list) in [("gained", &r.access.gained), ("lost", &r.access.lost)] {
        for c in list {
            w.write_record([
                kind,
                status(c),
                &c.room,
                &c.room_path,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                &c.user,
                c.right.as_str(),
                c.rule.as_deref().unwrap_or(""),
                &c.detail,
            ])?;
        }
    }
    for i in &r.invariants {
        w.write_record([
            "invariant",
            if i.ok { "ok" } else { "fail" },
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            &i.name,
            &i.details.join("; "),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{AccessReport, Invariant, Right};

    fn report() -> VerifyReport {
        let change = AccessChange {
            user: "sip:a@x".into(),
            room: "g1".into(),
            room_path: "/A|B".into(),
            right: Right::Read,
            rule: None,
            blocking: true,
            detail: "<b>".into(),
        };
        VerifyReport {
            wave: "all".into(),
            rooms: vec![RoomCheck {
                legacy_guid: "g1".into(),
                legacy_path: "/A|B".into(),
                checksum_match: true,
                ..Default::default()
            }],
            access: AccessReport { gained: vec![change], ..Default::default() },
            invariants: vec![Invariant { name: "unique_names".into(), ok: true, details: vec![] }],
            ..Default::default()
        }
    }

    #[test]
    fn html_escapes_and_shows_the_verdict() {
        let h = render_html(&report());
        assert!(h.contains("banner fail") && h.contains("1 access right(s) gained"));
        assert!(h.contains("&lt;b&gt;") && !h.contains("<b>"));
    }

    /// Thousands of rooms and access changes: the page and the Markdown keep the first
    /// rows, the mismatched room and the blocking change among them, and say the rest is
    /// in the CSV and JSON.
    #[test]
    fn large_reports_list_what_fails_first_and_cut_the_rest() {
        let mut r = report();
        let room = r.rooms[0].clone();
        let explained =
            AccessChange { blocking: false, rule: Some("r".into()), ..r.access.gained[0].clone() };
        let blocking = r.access.gained.pop().unwrap();
        for i in 0..5_000 {
            let guid = format!("g{i}");
            r.rooms.push(RoomCheck {
                legacy_guid: guid.clone(),
                legacy_path: format!("/P/{i}"),
                ..room.clone()
            });
            r.access.lost.push(AccessChange {
                room: guid,
                user: format!("sip:u{i}@x"),
                ..explained.clone()
            });
        }
        r.rooms.push(RoomCheck {
            legacy_guid: "bad".into(),
            legacy_path: "/Bad".into(),
            checksum_match: false,
            ..room
        });
        r.access.lost.push(AccessChange { user: "sip:blocked@x".into(), ..blocking });
        let h = render_html(&r);
        assert!(h.len() < 1_000_000, "{} bytes", h.len());
        assert!(h.contains("/Bad") && h.contains("sip:blocked@x"), "failures are shown");
        assert!(h.contains("… and 4,802 more rooms"), "rooms cut");
        assert!(h.contains("… and 4,801 more rows"), "access cut");
        let m = markdown(&r);
        assert!(m.contains("/Bad") && m.contains("sip:blocked@x") && m.contains("… and 4801 more"));
        assert!(m.len() < 200_000, "{} bytes", m.len());
    }

    #[test]
    fn markdown_escapes_pipes() {
        let m = markdown(&report());
        assert!(m.contains("/A\\|B") && m.contains("| blocking | sip:a@x |"), "{m}");
    }
}
