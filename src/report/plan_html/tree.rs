//! The BEFORE → AFTER picture of `plan.html`: the legacy nested category tree on the left,
//! the flat Persistent Chat categories with their rooms on the right, and a connector from
//! each legacy category to every target category it became (a split fans out). Inline SVG
//! only; the height grows with the plan, each legacy category gets one horizontal band so
//! connectors never cross.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::shown;
use crate::plan::{Plan, PlanCategory, PlanRoom};
use crate::report::html::{esc, fmt_num};

const WIDTH: f64 = 1180.0;
const LEFT_W: f64 = 420.0;
const RIGHT_X: f64 = 640.0;
const RIGHT_W: f64 = 540.0;
const INDENT: f64 = 20.0;
const MAX_INDENT_DEPTH: usize = 8;
const TOP: f64 = 40.0;
const LEFT_H: f64 = 30.0;
const GAP: f64 = 8.0;
const ROOM_LINE: f64 = 16.0;
const MAX_ROOMS_SHOWN: usize = 6;
/// Rough glyph widths (px) of the two fonts used, to clip text before it overflows a box.
const CHAR_W: f64 = 6.9;
const BOLD_CHAR_W: f64 = 7.9;

/// A legacy category as the picture draws it.
pub(super) struct Legacy {
    /// Full legacy path, `/Sales/EMEA`.
    pub(super) path: String,
    /// 0 for a category directly under the root.
    pub(super) depth: usize,
    /// Last path segment.
    pub(super) name: String,
    /// Migrated rooms directly under it.
    pub(super) rooms: usize,
    /// Legacy rooms directly under it that are not migrated.
    pub(super) excluded: usize,
    /// Indices into `plan.categories` of the target categories it became.
    pub(super) targets: Vec<usize>,
}

/// The legacy categories the plan knows of (those holding rooms, and their ancestors), in
/// tree (depth-first) order.
pub(super) fn legacy_tree(plan: &Plan) -> Vec<Legacy> {
    // Keyed by segment vectors, not path strings: "/Sales EMEA" must not sort between
    // "/Sales" and "/Sales/EMEA".
    let mut nodes: BTreeMap<Vec<&str>, Legacy> = BTreeMap::new();
    for (i, c) in plan.categories.iter().enumerate() {
        touch(&mut nodes, &c.legacy_path).targets.push(i);
    }
    for r in &plan.rooms {
        let parent = plan
            .category(&r.category)
            .map_or_else(|| parent_of(&r.legacy_path), |c| c.legacy_path.as_str());
        touch(&mut nodes, parent).rooms += 1;
    }
    for x in &plan.excluded_rooms {
        touch(&mut nodes, parent_of(&x.legacy_path)).excluded += 1;
    }
    nodes.into_iter().filter(|(k, _)| !k.is_empty()).map(|(_, v)| v).collect()
}

/// Inserts `path` and its ancestors; returns the node of `path` itself. The empty path is
/// the legacy root, which [`legacy_tree`] leaves out of the picture.
fn touch<'m, 'p>(nodes: &'m mut BTreeMap<Vec<&'p str>, Legacy>, path: &'p str) -> &'m mut Legacy {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for n in 0..segs.len() {
        nodes.entry(segs[..n].to_vec()).or_insert_with(|| node(&segs[..n]));
    }
    let own = node(&segs);
    nodes.entry(segs).or_insert(own)
}

fn node(segs: &[&str]) -> Legacy {
    Legacy {
        path: format!("/{}", segs.join("/")),
        depth: segs.len().saturating_sub(1),
        name: segs.last().map_or_else(String::new, |s| (*s).to_owned()),
        rooms: 0,
        excluded: 0,
        targets: Vec::new(),
    }
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Clips `s` to `max` characters, marking the cut with an ellipsis.
pub(super) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn fits(width: f64, char_w: f64) -> usize {
    (width / char_w).floor().max(4.0) as usize
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", fmt_num(n as f64), if n == 1 { one } else { many })
}

/// Height of a target category box.
fn target_h(c: &PlanCategory, rooms: usize) -> f64 {
    let split = if c.split_reason.is_some() { ROOM_LINE } else { 0.0 };
    let more = if rooms > MAX_ROOMS_SHOWN { ROOM_LINE } else { 0.0 };
    44.0 + split + ROOM_LINE * rooms.min(MAX_ROOMS_SHOWN) as f64 + more
}

/// The whole picture.
pub(super) fn svg(plan: &Plan, tree: &[Legacy]) -> String {
    let rooms_of: Vec<Vec<&PlanRoom>> = plan
        .categories
        .iter()
        .map(|c| plan.rooms.iter().filter(|r| r.category == c.key).collect())
        .collect();
    let mut body = String::new();
    let mut y = TOP;
    // Bottom edge of the latest box at each depth: where a child's tree guide starts.
    let mut bottoms: Vec<f64> = Vec::new();
    let mut drawn = vec![false; plan.categories.len()];
    for node in tree {
        let heights: Vec<f64> = node
            .targets
            .iter()
            .map(|&i| target_h(&plan.categories[i], rooms_of[i].len()))
            .collect();
        let stack = heights.iter().sum::<f64>() + GAP * heights.len().saturating_sub(1) as f64;
        left_box(&mut body, node, y, &mut bottoms);
        let mut ty = y;
        for (&i, h) in node.targets.iter().zip(&heights) {
            connector(
                &mut body,
                y + LEFT_H / 2.0,
                ty + 18.0,
                plan.categories[i].split_reason.is_some(),
            );
            target_box(&mut body, &plan.categories[i], &rooms_of[i], ty, *h);
            drawn[i] = true;
            ty += h + GAP;
        }
        y += LEFT_H.max(stack) + if node.targets.is_empty() { 6.0 } else { 14.0 };
    }
    // A target whose legacy path is empty (never expected) still appears, unconnected.
    for (i, c) in plan.categories.iter().enumerate().filter(|(i, _)| !drawn[*i]) {
        let h = target_h(c, rooms_of[i].len());
        target_box(&mut body, c, &rooms_of[i], y, h);
        y += h + GAP;
    }
    let height = y + 4.0;
    format!(
        "<svg class=\"tree\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"Legacy category tree and the target categories it becomes\">\
         <defs><marker id=\"arr\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#2f6fde\"/></marker>\
         <marker id=\"arr-split\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#b7791f\"/></marker></defs>\
         <text class=\"col\" x=\"0\" y=\"18\">BEFORE · Lync 2010 Group Chat — nested categories</text>\
         <text class=\"col\" x=\"{RIGHT_X}\" y=\"18\">AFTER · Persistent Chat — one level of categories</text>\
         <line x1=\"0\" y1=\"28\" x2=\"{LEFT_W}\" y2=\"28\" stroke=\"#d9e2ec\"/>\
         <line x1=\"{RIGHT_X}\" y1=\"28\" x2=\"{WIDTH}\" y2=\"28\" stroke=\"#d9e2ec\"/>{body}</svg>"
    )
}

fn left_box(s: &mut String, node: &Legacy, y: f64, bottoms: &mut Vec<f64>) {
    let x = node.depth.min(MAX_INDENT_DEPTH) as f64 * INDENT;
    let w = LEFT_W - x;
    if node.depth > 0 {
        if let Some(&top) = bottoms.get(node.depth - 1) {
            let gx = x - INDENT + 9.0;
            let mid = y + LEFT_H / 2.0;
            let _ =
                write!(s, "<path d=\"M{gx},{top} V{mid} H{x}\" fill=\"none\" stroke=\"#9fb3c8\"/>");
        }
    }
    bottoms.truncate(node.depth);
    bottoms.push(y + LEFT_H);
    let (fill, stroke, dash, cls) = match (node.targets.is_empty(), node.rooms + node.excluded) {
        (false, _) => ("#ffffff", "#2f6fde", "", ""),
        (true, 0) => ("#f5f7fa", "#bcccdc", " stroke-dasharray=\"4 3\"", " muted"),
        (true, _) => ("#fdecea", "#c62828", " stroke-dasharray=\"4 3\"", ""),
    };
    let mut count = Vec::new();
    if node.rooms > 0 {
        count.push(plural(node.rooms, "room", "rooms"));
    }
    if node.excluded > 0 {
        count.push(format!("{} not migrated", fmt_num(node.excluded as f64)));
    }
    let count = count.join(" · ");
    let name_w = w - 20.0 - count.chars().count() as f64 * 6.2 - 10.0;
    let tip = format!("{}{}{}", node.path, if count.is_empty() { "" } else { " — " }, count);
    let _ = write!(
        s,
        "<g><title>{tip}</title><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{LEFT_H}\" rx=\"5\" fill=\"{fill}\" stroke=\"{stroke}\"{dash}/>\
         <text class=\"n{cls}\" x=\"{tx}\" y=\"{ty}\">{name}</text><text class=\"m\" x=\"{cx}\" y=\"{ty}\" text-anchor=\"end\">{count}</text></g>",
        tip = esc(&shown(&tip)),
        tx = x + 10.0,
        ty = y + 19.5,
        name = esc(&clip(&shown(&node.name), fits(name_w, CHAR_W))),
        cx = LEFT_W - 8.0,
        count = esc(&count),
    );
}

fn connector(s: &mut String, y1: f64, y2: f64, split: bool) {
    let (x1, x2) = (LEFT_W, RIGHT_X - 2.0);
    let (color, marker) = if split { ("#b7791f", "arr-split") } else { ("#2f6fde", "arr") };
    let dash = if split { " stroke-dasharray=\"6 4\"" } else { "" };
    let _ = write!(
        s,
        "<circle cx=\"{x1}\" cy=\"{y1}\" r=\"3\" fill=\"{color}\"/><path d=\"M{x1},{y1} C{c1},{y1} {c2},{y2} {x2},{y2}\" \
         fill=\"none\" stroke=\"{color}\" stroke-width=\"1.6\"{dash} marker-end=\"url(#{marker})\"/>",
        c1 = x1 + 110.0,
        c2 = x2 - 110.0,
    );
}

fn target_box(s: &mut String, c: &PlanCategory, rooms: &[&PlanRoom], y: f64, h: f64) {
    let x = RIGHT_X;
    let (fill, stroke) =
        if c.split_reason.is_some() { ("#fff8e6", "#b7791f") } else { ("#eef4ff", "#2f6fde") };
    let msgs: u64 = rooms.iter().map(|r| r.message_count).sum();
    let meta = format!(
        "{} · {} · pool {}",
        plural(rooms.len(), "room", "rooms"),
        plural(msgs as usize, "message", "messages"),
        shown(&c.pool)
    );
    let tip = format!("{} (from {}) — {meta}", c.name, c.legacy_path);
    let _ = write!(
        s,
        "<g><title>{tip}</title><rect x=\"{x}\" y=\"{y}\" width=\"{RIGHT_W}\" height=\"{h}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
         <text class=\"h\" x=\"{tx}\" y=\"{y1}\">{name}</text><text class=\"m\" x=\"{tx}\" y=\"{y2}\">{meta}</text>",
        tip = esc(&shown(&tip)),
        tx = x + 12.0,
        y1 = y + 19.0,
        y2 = y + 35.0,
        name = esc(&clip(&shown(&c.name), fits(RIGHT_W - 24.0, BOLD_CHAR_W))),
        meta = esc(&clip(&meta, fits(RIGHT_W - 24.0, CHAR_W))),
    );
    let mut ly = y + 35.0;
    if let Some(reason) = &c.split_reason {
        ly += ROOM_LINE;
        let text = clip(&format!("split off: {}", shown(reason)), fits(RIGHT_W - 24.0, CHAR_W));
        let _ = write!(s, "<text class=\"w\" x=\"{}\" y=\"{ly}\">{}</text>", x + 12.0, esc(&text));
    }
    for r in rooms.iter().take(MAX_ROOMS_SHOWN) {
        ly += ROOM_LINE;
        let n = format!("{} msgs", fmt_num(r.message_count as f64));
        let room = clip(
            &format!("• {}", shown(&r.target_name)),
            fits(RIGHT_W - 40.0 - n.len() as f64 * 6.2, CHAR_W),
        );
        let _ = write!(
            s,
            "<text class=\"r\" x=\"{}\" y=\"{ly}\">{}</text><text class=\"m\" x=\"{}\" y=\"{ly}\" text-anchor=\"end\">{}</text>",
            x + 18.0,
            esc(&room),
            x + RIGHT_W - 12.0,
            esc(&n)
        );
    }
    if rooms.len() > MAX_ROOMS_SHOWN {
        ly += ROOM_LINE;
        let more = format!("+ {} more", plural(rooms.len() - MAX_ROOMS_SHOWN, "room", "rooms"));
        let _ = write!(s, "<text class=\"m\" x=\"{}\" y=\"{ly}\">{}</text>", x + 18.0, esc(&more));
    }
    s.push_str("</g>");
}
