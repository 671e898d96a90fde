//! `verify-<wave>.html`: one self-contained page (inline CSS and SVG, no scripts) with a
//! big PASS/FAIL banner, what blocks the wave, per-category and per-room history tables,
//! the access changes and the invariants. Every name is escaped, and control or bidi
//! characters are made visible first.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{describe, room_label, Failures};
use crate::report::html::{self, badge, bar_chart, cards, esc, fmt_num, table};
use crate::verify::{AccessChange, Invariant, VerifyReport};

/// Text for the page: control characters become spaces and bidi controls are shown as
/// `[U+202E]`, so a hostile room name cannot reorder the table around it.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}' => {
                format!("[U+{:04X}]", c as u32)
            }
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => " ".into(),
            c => c.to_string(),
        })
        .collect()
}

fn e(s: &str) -> String {
    esc(&shown(s))
}

/// Escaped text cut to `max` characters, the whole text in a tooltip: flattened names reach
/// 300+ characters and would squeeze every other column.
fn cut(s: &str, max: usize) -> String {
    let s = shown(s);
    if s.chars().count() <= max {
        return esc(&s);
    }
    let head: String = s.chars().take(max - 1).collect();
    format!("<span title=\"{}\">{}…</span>", esc(&s), esc(&head))
}

/// Extra styles for this page.
const STYLE: &str = "<style>.banner{font-size:34px;letter-spacing:.04em;padding:22px 28px}\
.banner small{display:block;font-size:15px;font-weight:400;letter-spacing:0;margin-top:4px}.nw{white-space:nowrap}\
td .sub{display:block;color:var(--muted);font-size:11px}.scroll{overflow-x:auto}\
ul.d{margin:0;padding-left:18px}nav.toc{margin:0 0 16px}nav.toc a{margin-right:16px;color:var(--accent);text-decoration:none}\
.codes span{display:inline-block;background:#f0f4f8;border-radius:4px;padding:1px 8px;margin:0 6px 4px 0;font-size:12px}</style>";

/// Renders `verify-<wave>.html`.
pub fn render_html(r: &VerifyReport) -> String {
    let f = Failures::of(r);
    let t = |k: &str| r.totals.get(k).copied().unwrap_or(0) as f64;
    let mut b = String::from(STYLE);
    let (cls, word) = if r.ok { ("pass", "PASS") } else { ("fail", "FAIL") };
    let verdict = f.verdict(r.ok);
    let _ = write!(
        b,
        "<div class=\"banner {cls}\">{word}<small>{}</small></div>",
        esc(verdict.split_once(" — ").map_or("", |x| x.1))
    );
    b.push_str(
        "<nav class=\"toc\"><a href=\"#categories\">Categories</a><a href=\"#rooms\">Rooms</a>\
        <a href=\"#access\">Access</a><a href=\"#invariants\">Invariants</a></nav>",
    );
    let ok_inv = r.invariants.len() - f.invariants;
    let found_label = format!("messages found, of {} expected", fmt_num(t("expected")));
    let _ = write!(
        b,
        "<section><h2>Summary</h2>{}</section>",
        cards(&[
            ("rooms verified", fmt_num(r.rooms.len() as f64)),
            (&found_label, fmt_num(t("loaded"))),
            ("rooms mismatched", fmt_num(f.mismatched as f64)),
            ("access gained", fmt_num(f.gained as f64)),
            ("lost, explained", fmt_num(f.lost_explained as f64)),
            ("lost, blocking", fmt_num(f.lost_blocking as f64)),
            ("invariants holding", format!("{ok_inv} / {}", r.invariants.len())),
        ])
    );
    if !r.staged.is_empty() {
        let _ =
            write!(b, "<section><p class=\"staged\">{}</p></section>", esc(&super::staged_line(r)));
    }
    if !r.ok {
        b.push_str(&attention(r));
    }
    b.push_str(&categories(r));
    b.push_str(&rooms(r));
    b.push_str(&access(r));
    b.push_str(&invariants(&r.invariants));
    let sub = format!(
        "Wave {} · target {} · {} messages read, {} excluded by rule, {} rejected",
        r.wave,
        r.target,
        fmt_num(t("read")),
        fmt_num(t("excluded")),
        fmt_num(t("rejected"))
    );
    html::page("Migration verification", &sub, &b)
}

/// Everything that blocks, in one short table at the top of a failing report.
fn attention(r: &VerifyReport) -> String {
    const MAX: usize = 50;
    let mut rows: Vec<Vec<String>> = Vec::new();
    for c in r.rooms.iter().filter(|c| !c.checksum_match) {
        let what = c.first_mismatch.as_ref().map_or_else(
            || "history differs".into(),
            |m| format!("chatId {}: {}", m.chat_id, m.what),
        );
        rows.push(vec![
            badge("error", "history"),
            format!(
                "{}<span class=\"sub\">{}</span>",
                cut(&c.legacy_path, 80),
                esc(&c.legacy_guid)
            ),
            esc(&what),
        ]);
    }
    for (kind, list) in [("gained", &r.access.gained), ("lost", &r.access.lost)] {
        for c in list.iter().filter(|c| c.blocking) {
            rows.push(vec![
                format!(
                    "<span class=\"nw\">{}</span>",
                    badge("error", &format!("{} {}", kind, c.right.as_str()))
                ),
                format!(
                    "{} in {}<span class=\"sub\">{}</span>",
                    e(&c.user),
                    cut(&c.room_path, 80),
                    esc(&c.room)
                ),
                e(&c.detail),
            ]);
        }
    }
    for i in r.invariants.iter().filter(|i| !i.ok) {
        let more = if i.details.len() > 1 {
            format!(" (and {} more below)", i.details.len() - 1)
        } else {
            String::new()
        };
        rows.push(vec![
            badge("error", "invariant"),
            format!("<code>{}</code>", esc(&i.name)),
            format!("{}{more}", e(i.details.first().map_or("", String::as_str))),
        ]);
    }
    let total = rows.len();
    rows.truncate(MAX);
    let note = if total > MAX {
        format!("<p class=\"muted\">… and {} more in the sections below.</p>", total - MAX)
    } else {
        String::new()
    };
    format!(
        "<section id=\"attention\"><h2>What blocks this wave</h2>{}{note}</section>",
        table(&["", "Where", "What"], &rows)
    )
}

fn categories(r: &VerifyReport) -> String {
    #[derive(Default)]
    struct Cat {
        rooms: usize,
        expected: u64,
        loaded: u64,
        bad: usize,
        gained: usize,
        lost: usize,
        blocking: usize,
    }
    let cat_of: BTreeMap<&str, &str> = r
        .rooms
        .iter()
        .map(|c| (c.legacy_guid.as_str(), c.category.as_deref().unwrap_or("(missing in target)")))
        .collect();
    let mut cats: BTreeMap<&str, Cat> = BTreeMap::new();
    for c in &r.rooms {
        let x = cats.entry(cat_of[c.legacy_guid.as_str()]).or_default();
        x.rooms += 1;
        x.expected += c.expected;
        x.loaded += c.loaded;
        x.bad += usize::from(!c.checksum_match);
    }
    for (list, gained) in [(&r.access.gained, true), (&r.access.lost, false)] {
        for c in list {
            let x = cats
                .entry(cat_of.get(c.room.as_str()).copied().unwrap_or("(not migrated)"))
                .or_default();
            if gained {
                x.gained += 1
            } else {
                x.lost += 1
            }
            x.blocking += usize::from(c.blocking);
        }
    }
    let mut sorted: Vec<(&&str, &Cat)> = cats.iter().collect();
    sorted.sort_by_key(|(_, x)| x.bad == 0 && x.blocking == 0);
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .take(ROWS)
        .map(|(name, x)| {
            let ok = x.bad == 0 && x.blocking == 0;
            vec![
                if ok { badge("ok", "PASS") } else { badge("error", "FAIL") },
                cut(name, 90),
                x.rooms.to_string(),
                fmt_num(x.expected as f64),
                fmt_num(x.loaded as f64),
                x.bad.to_string(),
                x.gained.to_string(),
                x.lost.to_string(),
                x.blocking.to_string(),
            ]
        })
        .collect();
    let chart: Vec<(String, f64)> = cats.iter().map(|(n, x)| (shown(n), x.loaded as f64)).collect();
    let chart = crate::report::html::largest_bars(chart, "categories");
    format!(
        "<section id=\"categories\"><h2>Per category</h2>{}{}<h3>Messages found per category</h3><div class=\"scroll\">{}</div></section>",
        table(&["", "Category", "#Rooms", "#Expected", "#Found", "#Mismatched", "#Gained", "#Lost", "#Blocking"], &rows),
        more(sorted.len().saturating_sub(ROWS), "categories"),
        bar_chart(&chart, "messages")
    )
}

/// The date part of an ISO timestamp, the full value in a tooltip.
fn day(iso: Option<&str>) -> String {
    iso.map_or_else(String::new, |d| {
        format!("<span class=\"nw\" title=\"{}\">{}</span>", esc(d), esc(d.get(..10).unwrap_or(d)))
    })
}

/// Rows of each long table (rooms, categories, access changes); the CSV holds them all.
pub(crate) const ROWS: usize = 200;

/// [`more`](crate::report::html::more), pointing at this report's CSV and JSON.
fn more(left: usize, what: &str) -> String {
    crate::report::html::more(left, what, "every one is in this report's CSV and JSON files")
}

fn rooms(r: &VerifyReport) -> String {
    // Mismatched rooms first: those are what a reader looks for.
    let mut list: Vec<&crate::verify::RoomCheck> = r.rooms.iter().collect();
    list.sort_by_key(|c| c.checksum_match);
    let rows: Vec<Vec<String>> = list
        .iter()
        .take(ROWS)
        .map(|c| {
            let hist = match &c.first_mismatch {
                _ if c.checksum_match => badge("ok", "match"),
                Some(m) => {
                    format!("{} chatId {}: {}", badge("error", "mismatch"), m.chat_id, esc(&m.what))
                }
                None => badge("error", "mismatch"),
            };
            vec![
                format!(
                    "{}<span class=\"sub\">{} · {}</span>",
                    cut(&room_label(c), 70),
                    cut(&c.legacy_path, 70),
                    esc(&c.legacy_guid)
                ),
                cut(c.category.as_deref().unwrap_or("—"), 50),
                fmt_num(c.read as f64),
                fmt_num(c.expected as f64),
                fmt_num(c.loaded as f64),
                fmt_num(c.excluded as f64),
                fmt_num(c.rejected as f64),
                day(c.first_date.as_deref()),
                day(c.last_date.as_deref()),
                hist,
            ]
        })
        .collect();
    format!(
        "<section id=\"rooms\"><h2>Rooms: history</h2><p class=\"muted\">Counts and an order-sensitive checksum of \
         chatId, chatDate, author, isAlert and content on both sides; mismatched rooms first.</p><div class=\"scroll\">{}</div>{}</section>",
        table(&["Room", "Category", "#Read", "#Expected", "#Found", "#Excluded", "#Rejected", "First", "Last", "History"], &rows),
        more(list.len().saturating_sub(ROWS), "rooms")
    )
}

/// (explained, room path, room, user, rule, cause): one table row of access changes.
type RowKey<'a> = (bool, &'a str, &'a str, &'a str, Option<&'a str>, &'a str);

/// One table row per (user, room, rule, cause), its rights joined (`read, post`), blocking first.
fn change_rows(list: &[AccessChange]) -> Vec<Vec<String>> {
    let mut groups: BTreeMap<RowKey<'_>, Vec<&str>> = BTreeMap::new();
    for c in list {
        let key = (
            !c.blocking,
            c.room_path.as_str(),
            c.room.as_str(),
            c.user.as_str(),
            c.rule.as_deref(),
            c.detail.as_str(),
        );
        groups.entry(key).or_default().push(c.right.as_str());
    }
    groups
        .into_iter()
        .map(|((explained, path, guid, user, rule, detail), rights)| {
            vec![
                if explained { badge("ok", "explained") } else { badge("error", "blocking") },
                e(user),
                format!("{}<span class=\"sub\">{}</span>", cut(path, 80), esc(guid)),
                format!("<span class=\"nw\">{}</span>", rights.join(", ")),
                rule.map_or_else(|| "—".into(), |x| format!("<code>{}</code>", esc(x))),
                e(detail),
            ]
        })
        .collect()
}

fn access(r: &VerifyReport) -> String {
    let a = &r.access;
    let mut s = format!(
        "<section id=\"access\"><h2>Access: before (legacy) vs after (Persistent Chat)</h2><p class=\"muted\">{} (user, room) \
         pairs with a right on either side across {} rooms; {} unchanged. A gained right always blocks; a lost right \
         blocks unless the mapping rule that caused it is named.</p>",
        fmt_num(a.pairs as f64), fmt_num(a.rooms as f64), fmt_num(a.unchanged as f64)
    );
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &a.lost {
        *by_rule.entry(c.rule.as_deref().unwrap_or("unexplained")).or_default() += 1;
    }
    if !by_rule.is_empty() {
        s.push_str("<div class=\"codes\">");
        for (rule, n) in by_rule {
            let _ = write!(s, "<span>lost · {} × {n}</span>", esc(rule));
        }
        s.push_str("</div>");
    }
    let headers = ["", "User", "Room", "Rights", "Rule", "Cause"];
    for (title, list) in [("Gained", &a.gained), ("Lost", &a.lost)] {
        let _ = write!(s, "<h3>{title} ({})</h3>", list.len());
        if list.is_empty() {
            s.push_str("<p class=\"muted\">None.</p>");
        } else {
            let rows = change_rows(list);
            let left = rows.len().saturating_sub(ROWS);
            let rows: Vec<Vec<String>> = rows.into_iter().take(ROWS).collect();
            let _ = write!(
                s,
                "<div class=\"scroll\">{}</div>{}",
                table(&headers, &rows),
                more(left, "rows (blocking ones first)")
            );
        }
    }
    s.push_str("</section>");
    s
}

fn invariants(list: &[Invariant]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            let details = if i.details.is_empty() {
                String::new()
            } else {
                format!(
                    "<ul class=\"d\">{}</ul>",
                    i.details.iter().map(|d| format!("<li>{}</li>", e(d))).collect::<String>()
                )
            };
            vec![
                if i.ok { badge("ok", "holds") } else { badge("error", "fails") },
                format!(
                    "<code>{}</code><span class=\"sub\">{}</span>",
                    esc(&i.name),
                    esc(describe(&i.name))
                ),
                details,
            ]
        })
        .collect();
    format!(
        "<section id=\"invariants\"><h2>Target invariants</h2>{}</section>",
        table(&["", "Invariant", "Violations"], &rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_bidi_controls_and_cuts_long_names() {
        assert_eq!(shown("a\u{202E}b\nc"), "a[U+202E]b c");
        let c = cut(&"x".repeat(100), 10);
        assert!(c.contains("title=") && c.contains("xxxxxxxxx…"));
    }
}
