//! Who gets access: room grant lists fitted within their category's allowed members
//! (2013 requires it), the principals standing for "every user", and the principals the
//! plan must create, with their remaps and the findings about federated and disabled ones.

use std::collections::BTreeSet;

use super::findings::Findings;
use super::names::derived_guid;
use crate::mapping::dense::Marks;
use crate::mapping::legacy::{principals, Grant, Legacy, Scope};
use crate::mapping::{Mappings, Resolved};
use crate::model::Snapshot;
use crate::plan::{PlanCategory, PlanPrincipal, PlanRoom, Severity};

/// How a grant list entry was changed to fit `lists ⊆ allowed`.
pub(super) enum Restriction {
    /// The group's in-scope users, which stand for it unless `groups.rs` keeps the group.
    Expanded {
        group: i64,
        users: Vec<i64>,
    },
    Dropped {
        principal: i64,
    },
}

impl Restriction {
    pub(super) fn describe(&self, snap: &Snapshot) -> String {
        match self {
            Restriction::Expanded { group, users } => expanded_text(snap, *group, users.len()),
            Restriction::Dropped { principal } => format!(
                "{} is outside the category's allowed members (2013 requires room lists within them) and is \
                 dropped; it had no access before either, unless its grant ignored scope", uri_of(snap, *principal)),
        }
    }
}

/// The `GROUP_EXPANDED` text: `group` listed as its `users` in-scope users.
pub(super) fn expanded_text(snap: &Snapshot, group: i64, users: usize) -> String {
    format!(
        "{} is not within the category's allowed members, but {users} of its users are; they are \
         listed one by one instead",
        uri_of(snap, group)
    )
}

/// A principal's URI, or `principal N` when the snapshot lacks it.
fn uri_of(snap: &Snapshot, p: i64) -> String {
    snap.principals.get(&p).map_or_else(|| format!("principal {p}"), |x| x.uri.clone())
}

/// Keeps grants within `allowed`: the principals within it, and for each out-of-scope group
/// a note with its in-scope users ([`absorb`] lists them; `groups.rs` may keep the group).
/// `marks` is scratch space: `allowed` is marked once, so "p is within allowed" is a few
/// array reads, and an expansion walks the smaller of the group and the allowed lists.
pub(super) fn restrict(
    lg: &Legacy<'_>,
    marks: &mut Marks,
    grants: &[Grant],
    scope: &Scope,
    allowed: &[i64],
) -> (Vec<i64>, Vec<Restriction>) {
    let d = lg.dense();
    allowed.iter().for_each(|a| marks.set(d, *a, 1));
    let everyone = matches!(scope, Scope::Everyone) && allowed.is_empty();
    // A principal outside the index has only itself as affiliation.
    let fits = |p: i64| {
        everyone || marks.mask_of(d, p) != 0 || (d.idx(p).is_none() && allowed.contains(&p))
    };
    let via_allowed: usize = allowed.iter().map(|a| lg.affs.member_count(*a)).sum();
    let mut out = BTreeSet::new();
    let mut notes = Vec::new();
    for p in principals(grants).into_iter().collect::<BTreeSet<_>>() {
        if fits(p) {
            out.insert(p);
        } else if !lg.is_user(p) {
            let user = |u: &i64| *u != p && lg.is_user(*u);
            let users: BTreeSet<i64> = if lg.affs.member_count(p) <= via_allowed {
                lg.affs.members(p).filter(|u| user(u) && fits(*u)).collect()
            } else {
                let within = allowed.iter().flat_map(|a| lg.affs.members(*a));
                within.filter(|u| user(u) && lg.affs.has(*u, p)).collect()
            };
            if users.is_empty() {
                notes.push(Restriction::Dropped { principal: p });
            } else {
                notes.push(Restriction::Expanded { group: p, users: users.into_iter().collect() });
            }
        } else {
            notes.push(Restriction::Dropped { principal: p });
        }
    }
    marks.clear();
    (out.into_iter().collect(), notes)
}

/// `kept` with the users of every expanded group added (sorted, once each).
pub(super) fn absorb(kept: Vec<i64>, notes: &[Restriction]) -> Vec<i64> {
    let mut all: BTreeSet<i64> = kept.into_iter().collect();
    for n in notes {
        if let Restriction::Expanded { users, .. } = n {
            all.extend(users);
        }
    }
    all.into_iter().collect()
}

/// Reports, once per principal, a listed principal that will arrive disabled: federated
/// (created disabled, as Microsoft does) or already disabled in the source.
pub(super) fn note_principal(
    f: &mut Findings,
    snap: &Snapshot,
    p: i64,
    fed: &mut BTreeSet<i64>,
    dis: &mut BTreeSet<i64>,
) {
    let Some(pr) = snap.principals.get(&p) else { return };
    let federated = snap.principal_types.get(&pr.type_id).is_some_and(|t| t.is_federated);
    if federated && fed.insert(p) {
        f.add(Severity::Warning, "FEDERATED_DISABLED", &pr.uri, Some(&pr.guid),
            "federated principals do not exist in Persistent Chat 2013: created disabled (as Microsoft does), \
             so it loses access to every room it had; remap it in principals.csv to keep access".into());
    } else if pr.disabled && !federated && dis.insert(p) {
        f.add(Severity::Info, "DISABLED_PRINCIPAL", &pr.uri, Some(&pr.guid),
            "the principal is disabled in the source and is migrated disabled: it can do nothing on either side".into());
    }
}

/// The principals standing for "every user": the named one, else the domain principals (type 8).
pub(super) fn everyone_principals(snap: &Snapshot, named: Option<&str>) -> Vec<i64> {
    match named {
        Some(uri) => snap
            .principals
            .values()
            .filter(|p| p.uri.eq_ignore_ascii_case(uri))
            .map(|p| p.id)
            .collect(),
        None => snap.principals.values().filter(|p| p.type_id == 8).map(|p| p.id).collect(),
    }
}

/// The principals the target needs — authors, everyone listed on a room or category, the
/// members of listed groups and all their affiliations — with the mapping files' remaps,
/// disables and required rows applied.
pub(super) fn plan_principals(
    lg: &Legacy<'_>,
    rooms: &[PlanRoom],
    cats: &[PlanCategory],
    authors: &BTreeSet<i64>,
    snap: &Snapshot,
    mappings: &Mappings,
    f: &mut Findings,
) -> Vec<PlanPrincipal> {
    let mut ids: BTreeSet<i64> = authors.clone();
    for r in rooms {
        ids.extend(r.members.iter().chain(&r.managers).chain(&r.presenters));
    }
    for c in cats {
        ids.extend(c.allowed.iter().chain(&c.denied).chain(&c.creators));
    }
    // Members of a referenced group reach rooms through it: they must exist in the target
    // with their affiliations, or they lose access. Then every affiliation of all of those.
    // Sets filled as they go: collected at once, they sort every group's members side by
    // side first (40 MB at the largest pool, whose domain group has everyone).
    let mut reached: BTreeSet<i64> = BTreeSet::new();
    for &p in &ids {
        reached.insert(p);
        reached.extend(lg.affs.members(p));
    }
    let mut closure: BTreeSet<i64> = BTreeSet::new();
    for &p in &reached {
        closure.extend(lg.affs.of(p));
    }
    drop(reached);
    let mut planned: Vec<PlanPrincipal> = closure
        .into_iter()
        .filter_map(|id| snap.principals.get(&id))
        .map(|p| {
            let federated = snap.principal_types.get(&p.type_id).is_some_and(|t| t.is_federated);
            let mut out = PlanPrincipal {
                legacy_id: p.id,
                guid: p.guid.clone(),
                uri: p.uri.clone(),
                display_name: p.name.clone(),
                target_type: match p.type_id {
                    6 | 7 => 5,
                    11 => 9,
                    t => t,
                },
                disabled: p.disabled || federated,
                note: federated.then(|| "federated: created disabled".to_string()),
                ad_path: None,
            };
            match mappings.principal_rule(&p.uri, &p.guid, p.ad_path.as_deref()) {
                Some(Resolved::Remap { uri, guid, source }) => {
                    out.note = Some(format!("remapped from {} by {source}", p.uri));
                    out.uri = uri;
                    // A new URI is a new identity unless the row names its GUID too.
                    out.guid = guid.unwrap_or_else(|| derived_guid(&p.guid, 0));
                    out.disabled = p.disabled;
                }
                Some(Resolved::Disable { source }) => {
                    out.disabled = true;
                    out.note = Some(format!("disabled by {source}"));
                }
                Some(Resolved::Required { source }) => f.add(Severity::Error, "UNMAPPED_PRINCIPAL", &p.uri, Some(&p.guid),
                    format!("{source} says this principal must be remapped, but no principals.csv row maps it")),
                None => {}
            }
            out
        })
        .collect();
    planned.shrink_to_fit();
    merge_same_uri(planned, f)
}

/// Gives every remapped principal whose URI another planned principal has (a principals.csv
/// merger, onto a legacy principal or with several rows onto one URI) that principal's GUID:
/// one identity, so the load writes one target principal per URI. The GUID kept is the one
/// of the principal that was not remapped, else of the first by legacy id.
fn merge_same_uri(mut planned: Vec<PlanPrincipal>, f: &mut Findings) -> Vec<PlanPrincipal> {
    let remapped = |p: &PlanPrincipal| p.note.as_deref().is_some_and(|n| n.starts_with("remapped"));
    let mut keep: std::collections::BTreeMap<String, (bool, String)> = Default::default();
    for p in &planned {
        let e = keep.entry(p.uri.to_lowercase()).or_insert((remapped(p), p.guid.clone()));
        if e.0 && !remapped(p) {
            *e = (false, p.guid.clone());
        }
    }
    for p in planned.iter_mut().filter(|p| remapped(p)) {
        let guid = &keep[&p.uri.to_lowercase()].1;
        if *guid != p.guid {
            f.add(Severity::Info, "PRINCIPAL_MERGED", &p.uri, Some(guid),
                format!("legacy principal {} is remapped onto {}, which the plan already has: they become one target \
                         principal (GUID {guid})", p.legacy_id, p.uri));
            p.guid = guid.clone();
        }
    }
    planned
}
