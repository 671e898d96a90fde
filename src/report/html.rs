//! Building blocks of the self-contained HTML reports: the page shell with its inline
//! stylesheet, escaping, tables, badges and SVG bar charts. No external assets: a report
//! opens offline from a mail attachment or a file share.

use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--ink:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f5f7fa;--accent:#2f6fde;
--err:#c62828;--warn:#b7791f;--info:#2f6fde;--ok:#2e7d32}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#102a43;color:#fff;padding:24px 40px}header h1{margin:0;font-size:24px}header p{margin:4px 0 0;color:#bcccdc}
main{padding:24px 40px;max-width:1400px}section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:20px 24px;margin:0 0 20px}
h2{margin:0 0 12px;font-size:18px}h3{font-size:15px;margin:16px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{flex:1 1 150px;border:1px solid var(--line);border-radius:8px;padding:12px 16px;background:#fff}
.card .n{font-size:26px;font-weight:600}.card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.b-error{background:var(--err)}.b-warning{background:var(--warn)}.b-info{background:var(--info)}.b-ok{background:var(--ok)}
.banner{padding:16px 24px;border-radius:8px;color:#fff;font-size:20px;font-weight:600;margin-bottom:20px}
.banner.pass{background:var(--ok)}.banner.fail{background:var(--err)}
.muted{color:var(--muted)}details summary{cursor:pointer;font-weight:600;margin:8px 0}code{font-size:12px}
svg text{font:12px system-ui,sans-serif;fill:var(--ink)}code{overflow-wrap:anywhere}
@media (max-width:720px){header{padding:16px 20px}main{padding:16px 12px}section{padding:14px 14px}
table.stack thead{display:none}table.stack tr{display:block;border-bottom:2px solid var(--line);padding:6px 0}
table.stack td{display:block;border:0;padding:2px 4px;overflow-wrap:anywhere}table.stack td.num{text-align:left}
table.stack td:empty{display:none}table.stack td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:var(--muted)}
svg{max-width:100%;height:auto}}
"#;

/// A complete HTML document with the shared stylesheet.
pub fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\
         <header><h1>{t}</h1><p>{s}</p></header><main>{body}</main></body></html>\n",
        t = esc(title),
        s = esc(subtitle)
    )
}

/// A row of headline numbers.
pub fn cards(items: &[(&str, String)]) -> String {
    let mut s = String::from("<div class=\"cards\">");
    for (label, value) in items {
        let _ = write!(
            s,
            "<div class=\"card\"><div class=\"n\">{}</div><div class=\"l\">{}</div></div>",
            esc(value),
            esc(label)
        );
    }
    s.push_str("</div>");
    s
}

/// A severity or status badge (`error`, `warning`, `info`, `ok`).
pub fn badge(kind: &str, text: &str) -> String {
    format!("<span class=\"badge b-{}\">{}</span>", esc(kind), esc(text))
}

/// A table; cells are HTML already (escape text with [`esc`]). Columns whose header starts
/// with `#` are right-aligned numbers (the `#` is not shown). Below 720 px each row stacks
/// into a block of `header: value` lines, so no column falls off a narrow screen.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let num: Vec<bool> = headers.iter().map(|h| h.starts_with('#')).collect();
    let mut s = String::from("<table class=\"stack\"><thead><tr>");
    for (h, n) in headers.iter().zip(&num) {
        let _ = write!(
            s,
            "<th{}>{}</th>",
            if *n { " class=\"num\"" } else { "" },
            esc(h.trim_start_matches('#'))
        );
    }
    s.push_str("</tr></thead><tbody>");
    for row in rows {
        s.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            // The header again, shown before the cell when a narrow screen stacks the row.
            let label = headers.get(i).map_or("", |h| h.trim_start_matches('#'));
            let label = if label.is_empty() {
                String::new()
            } else {
                format!(" data-label=\"{}\"", esc(label))
            };
            let _ = write!(
                s,
                "<td{}{label}>{cell}</td>",
                if num.get(i).copied().unwrap_or(false) { " class=\"num\"" } else { "" },
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// The line under a cut table or list: "… and N more WHAT: REST." (`rest` is HTML, say a
/// link to the file holding them all), or nothing when nothing was left out.
pub fn more(left: usize, what: &str, rest: &str) -> String {
    if left == 0 {
        return String::new();
    }
    format!("<p class=\"muted\">… and {} more {}: {rest}.</p>", fmt_num(left as f64), esc(what))
}

/// Bars a chart shows at most ([`largest_bars`]).
pub const BARS: usize = 40;

/// The [`BARS`] largest of `items`, largest first (ties by label), and one more bar
/// summing the rest as "the other N {what}".
pub fn largest_bars(mut items: Vec<(String, f64)>, what: &str) -> Vec<(String, f64)> {
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if items.len() > BARS {
        let rest: f64 = items[BARS..].iter().map(|i| i.1).sum();
        let n = items.len() - BARS;
        items.truncate(BARS);
        items.push((format!("the other {} {what}", fmt_num(n as f64)), rest));
    }
    items
}

/// A horizontal SVG bar chart of labelled values.
pub fn bar_chart(items: &[(String, f64)], unit: &str) -> String {
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max).max(1.0);
    let (label_w, bar_w, row_h) = (300.0, 520.0, 22.0);
    let h = row_h * items.len() as f64 + 10.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" role=\"img\">",
        label_w + bar_w + 120.0
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = (v / max * bar_w).max(if *v > 0.0 { 2.0 } else { 0.0 });
        let short: String = label.chars().take(44).collect();
        let short = if short.chars().count() < label.chars().count() {
            format!("{short}…")
        } else {
            short
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" rx=\"3\" fill=\"#2f6fde\"><title>{}: {v} {unit}</title></rect>\
             <text x=\"{:.1}\" y=\"{}\">{} {}</text>",
            label_w - 8.0,
            y + 14.0,
            esc(&short),
            row_h - 6.0,
            esc(label),
            label_w + w + 6.0,
            y + 14.0,
            fmt_num(*v),
            esc(unit)
        );
    }
    s.push_str("</svg>");
    s
}

/// Formats a count with thousands separators.
pub fn fmt_num(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn narrow_screens_stack_each_row_under_its_headers() {
        let t =
            table(&["Room", "#Messages", ""], &[vec!["<b>x</b>".into(), "3".into(), "ok".into()]]);
        assert!(t.starts_with("<table class=\"stack\">"), "{t}");
        assert!(t.contains("<td data-label=\"Room\"><b>x</b></td>"), "{t}");
        assert!(t.contains("<td class=\"num\" data-label=\"Messages\">3</td>"), "{t}");
        assert!(t.contains("<td>ok</td>"), "no label for an unnamed column: {t}");
        let p = page("t", "s", &t);
        assert!(p.contains("@media (max-width:720px)") && p.contains("attr(data-label)"));
    }

    #[test]
    fn formats_thousands() {
        assert_eq!(fmt_num(1234567.0), "1,234,567");
        assert_eq!(fmt_num(12.0), "12");
    }

    #[test]
    fn chart_has_a_bar_per_item() {
        let svg = bar_chart(&[("a".into(), 1.0), ("b<".into(), 3.0)], "msgs");
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("b&lt;"));
    }
}
