//! The principal lists of a configure script. Each distinct list (its entries sorted, so
//! the same principals in another order are the same list) is declared once at the top as
//! an array variable (`$List1`, …) and the categories and rooms refer to it: a script grows
//! with its principals and rooms, not with rooms × members, when rooms share lists (as
//! inherited legacy lists do).
//!
//! Entries are what Microsoft's cmdlets take: users by SIP URI, groups, OUs and domains by
//! their AD distinguished name (`prinADPath`, carried in the plan). Disabled principals,
//! principals not in the plan and groups without a DN are left out with a comment (the
//! cmdlets resolve every entry in AD and would stop the script); the last get a plan
//! finding `PRINCIPAL_WITHOUT_DN` too.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use super::{comment, quote};
use crate::plan::PlanPrincipal;

/// One list as written: entry lines (value → line) and left-out comments, both sorted.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Rendered {
    entries: BTreeMap<String, String>,
    left_out: BTreeSet<String>,
}

/// The lists one script uses, numbered in order of first use.
pub(super) struct Lists<'a> {
    principals: HashMap<i64, &'a PlanPrincipal>,
    index: HashMap<Rendered, usize>,
    declared: Vec<Rendered>,
    /// URIs of the groups, OUs and domains left out for want of a DN.
    pub(super) without_dn: BTreeSet<String>,
}

impl<'a> Lists<'a> {
    pub(super) fn new(principals: &'a [PlanPrincipal]) -> Self {
        Lists {
            principals: principals.iter().map(|p| (p.legacy_id, p)).collect(),
            index: HashMap::new(),
            declared: Vec::new(),
            without_dn: BTreeSet::new(),
        }
    }

    fn render(&mut self, ids: &[i64]) -> Rendered {
        let mut entries = BTreeMap::new();
        let mut left_out = BTreeSet::new();
        for id in ids {
            match self.principals.get(id) {
                Some(p) if p.disabled => {
                    let why = p.note.as_deref().unwrap_or("disabled in the target");
                    left_out.insert(format!("# left out: {} ({})", comment(&p.uri), comment(why)));
                }
                Some(p) if matches!(p.target_type, 8..=10) => {
                    let kind = match p.target_type {
                        8 => "domain",
                        9 => "group",
                        _ => "OU or container",
                    };
                    match p.ad_path.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                        Some(dn) => {
                            let line = format!("{}  # {kind} {}", quote(dn), comment(&p.uri));
                            entries.entry(dn.to_lowercase()).or_insert(line);
                        }
                        None => {
                            self.without_dn.insert(p.uri.clone());
                            left_out.insert(format!(
                                "# left out: {kind} {} has no AD distinguished name in the snapshot \
                                 (finding PRINCIPAL_WITHOUT_DN): add its DN by hand",
                                comment(&p.uri)
                            ));
                        }
                    }
                }
                Some(p) => {
                    let note = if p.uri.starts_with("sip:") { "" } else { "  # not a SIP URI" };
                    entries
                        .entry(p.uri.to_lowercase())
                        .or_insert_with(|| format!("{}{note}", quote(&p.uri)));
                }
                None => {
                    left_out
                        .insert(format!("# left out: legacy principal {id} is not in the plan"));
                }
            }
        }
        Rendered { entries, left_out }
    }

    /// Writes one `Key = @{ Add = $ListN }` entry of a splat (or a comment when the list
    /// has nothing to add), declaring the list if it is new. Nothing for an empty list.
    pub(super) fn splat(&mut self, s: &mut String, key: &str, ids: &[i64]) {
        if ids.is_empty() {
            return;
        }
        let rendered = self.render(ids);
        let empty = rendered.entries.is_empty();
        let n = match self.index.get(&rendered) {
            Some(&n) => n,
            None => {
                self.declared.push(rendered.clone());
                self.index.insert(rendered, self.declared.len());
                self.declared.len()
            }
        };
        if empty {
            let _ =
                writeln!(s, "    # {key}: nothing to add (see $List{n}: every entry is left out)");
        } else {
            let _ = writeln!(s, "    {key:<14} = @{{ Add = $List{n} }}");
        }
    }

    /// The declarations, in order of first use.
    pub(super) fn declarations(&self) -> String {
        let mut s = String::new();
        if self.declared.is_empty() {
            return s;
        }
        s.push_str(
            "\n# Principal lists, each declared once; the categories and rooms below refer to them.\n\
             # Users are SIP URIs; groups, OUs and domains are AD distinguished names (prinADPath).\n",
        );
        for (i, r) in self.declared.iter().enumerate() {
            let _ = writeln!(s, "\n$List{} = @(", i + 1);
            for line in r.entries.values().chain(&r.left_out) {
                let _ = writeln!(s, "    {line}");
            }
            s.push_str(")\n");
        }
        s
    }
}
