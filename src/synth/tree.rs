//! The category tree: a root, categories nested up to four deep and the rooms under them,
//! each with its scopes, member lists, managers and presenters. The tree is built in memory
//! first because definers and ACLs depend on the parent's, then written in one pass.

use anyhow::Result;

use super::batch::{nul, q, Batch};
use super::principals::{distinct, Ids, DOMAIN};
use super::rng::Rng;
use super::text::{fill_words, numbered, CATEGORIES, ROOMS};
use super::{SynthOptions, DAY, T0};

const SCOPE: u64 = 0; // an ACL entry of a node's scope rather than a role
const MEMBER: u64 = 11;
const MANAGER: u64 = 12;
const VOICED: u64 = 13;

const NODE_COLS: &str = "nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, topic, \
    filestoreURI, inheritance, scopeChange, overrideMember, invite, logged, filePost, disabled, \
    restrictChildCreate, behavior, visibility, scopeDefinerId, roleDefinerId, siopID, nodeAddedBy, \
    nodeAddedOn, nodeUpdatedBy, nodeUpdatedOn";
const ROLE_COLS: &str = "prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy, \
    honorsOverride, honorsScope";

/// An ACL entry: (`SCOPE` or a role type, principal).
type Ace = (u64, u64);

/// A category or room: what its descendants and the writer need, row and ACLs included.
#[derive(Debug, Clone, Default)]
pub(super) struct NodeSpec {
    pub(super) id: u64,
    parent: u64,
    depth: u32,
    pub(super) is_cat: bool,
    scope_def: u64,
    role_def: u64,
    pub(super) added: u64,
    pub(super) guid: String,
    /// The `tblNode` values, as SQL.
    row: String,
    acl: Vec<Ace>,
}

/// The ACL entries of a node: scopes on ~60% of the top-level categories (a group or the
/// domain), narrowed to a group on ~20% of the sub-categories; member lists started on some
/// nodes; managers on a few; presenters in auditoriums (behavior 5).
fn node_acl(up: &NodeSpec, is_cat: bool, behavior: u8, ids: &Ids, rng: &mut Rng) -> Vec<Ace> {
    let (top, mut acl) = (up.id == 1, Vec::new());
    if is_cat && top && rng.chance(600) {
        let first = if rng.chance(700) { ids.any_group(rng) } else { DOMAIN };
        acl.push((SCOPE, first));
        if ids.groups > 0 && rng.chance(300) {
            acl.extend(Some((SCOPE, ids.any_group(rng))).filter(|a| a.1 != first));
        }
    } else if is_cat && !top && ids.groups > 0 && rng.chance(200) {
        acl.push((SCOPE, ids.any_group(rng)));
    }
    if rng.chance(if is_cat && top { 500 } else { 250 }) {
        acl.extend(distinct(rng, 1, 3, |r| ids.any_member(r)).into_iter().map(|p| (MEMBER, p)));
    }
    if ids.users > 0 && rng.chance(if is_cat { 150 } else { 100 }) {
        acl.extend(distinct(rng, 1, 2, |r| ids.any_user(r)).into_iter().map(|p| (MANAGER, p)));
    }
    if behavior == 5 && ids.users > 0 {
        let voiced = |r: &mut Rng| if r.chance(200) { ids.any_group(r) } else { ids.any_user(r) };
        acl.extend(distinct(rng, 1, 3, voiced).into_iter().map(|p| (VOICED, p)));
    }
    acl
}

/// Node `id`, the `i`th category or room, under `up`. Definers point at the node itself
/// when it has scope rows / starts a member list, else they are its parent's.
fn make_node(up: &NodeSpec, id: u64, i: u64, is_cat: bool, ids: &Ids, rng: &mut Rng) -> NodeSpec {
    let guid = rng.guid();
    let added = up.added + rng.below(60 * DAY);
    let name = numbered(if is_cat { CATEGORIES } else { ROOMS }, i);
    let mut topic = String::new();
    if !is_cat && rng.chance(300) {
        let target = rng.range(20, 120) as usize;
        fill_words(rng, &mut topic, target);
    }
    let behavior: u8 = if !is_cat && rng.chance(50) { 5 } else { 4 };
    let visibility = match (is_cat, rng.below(10)) {
        (true, 0) | (false, 4 | 5) => Some(2),
        (true, 1) | (false, 0..=3) => Some(3),
        _ => None,
    };
    let acl = node_acl(up, is_cat, behavior, ids, rng);
    let scope_def = if acl.iter().any(|a| a.0 == SCOPE) { id } else { up.scope_def };
    let overrides = acl.iter().any(|a| a.0 == MEMBER);
    let role_def = if overrides { id } else { up.role_def };
    let (pid, guid2, name2) = (up.id, &guid, q(&name));
    let desc = q(&format!("{name} {}", if is_cat { "discussions" } else { "room" }));
    let (topic, cat, ovr, by, visibility) =
        (q(&topic), u8::from(is_cat), u8::from(overrides), ids.admin(), nul(visibility));
    let inherit = u8::from(is_cat && rng.chance(100));
    let narrow = u8::from(is_cat && rng.chance(700));
    let [invite, logged, files] = [50, 50, 50].map(|p| nul(rng.opt_bit(p)));
    let disabled = u8::from(!is_cat && rng.chance(20));
    let restrict = nul(if is_cat { rng.opt_bit(100) } else { None });
    let updated = added + rng.below(200 * DAY);
    let row = format!(
        "({id}, '{guid2}', {pid}, {cat}, {name2}, {desc}, {topic}, NULL, {inherit}, {narrow}, \
         {ovr}, {invite}, {logged}, {files}, {disabled}, {restrict}, {behavior}, {visibility}, \
         {scope_def}, {role_def}, NULL, {by}, {added}, {by}, {updated})"
    );
    let depth = up.depth + 1;
    NodeSpec { id, parent: up.id, depth, is_cat, scope_def, role_def, added, guid, row, acl }
}

/// The whole tree: the root, categories nested at most 4 deep (parents first), then rooms.
pub(super) fn build_tree(opts: &SynthOptions, ids: &Ids, rng: &mut Rng) -> Vec<NodeSpec> {
    let ncat = (opts.rooms / 8).max(3);
    let top = ncat.min(2 + ncat / 5);
    let mut root_acl = vec![(MEMBER, DOMAIN), (MANAGER, ids.admin())];
    root_acl.truncate(if ids.users > 0 { 2 } else { 1 });
    let (guid, added) = (rng.guid(), T0 - 60 * DAY);
    let row = format!(
        "(1, '{guid}', 1, 1, 'Root', 'Contoso Group Chat', '', \
         'https://gcweb.contoso.example/MGCWebService/MGCWebService.asmx', 0, 1, 1, 1, 1, 1, 0, 0, \
         4, 3, 1, 1, NULL, 1, {added}, 1, {})",
        added + 10 * DAY
    );
    let mut root =
        NodeSpec { is_cat: true, added, guid, row, acl: root_acl, ..NodeSpec::default() };
    (root.id, root.parent, root.scope_def, root.role_def) = (1, 1, 1, 1);
    let mut nodes = vec![root];
    for i in 0..ncat {
        let mut parent = 0;
        if i >= top {
            // Half the time one of the latest categories, so that chains grow deep.
            let back = if rng.chance(500) { rng.skewed(i) } else { rng.below(i) };
            parent = (i - back) as usize;
            if nodes[parent].depth >= 4 {
                parent = nodes[parent].parent as usize - 1;
            }
        }
        let node = make_node(&nodes[parent], nodes.len() as u64 + 1, i, true, ids, rng);
        nodes.push(node);
    }
    for j in 0..opts.rooms {
        let parent = 1 + rng.below(ncat) as usize;
        let node = make_node(&nodes[parent], nodes.len() as u64 + 1, j, false, ids, rng);
        nodes.push(node);
    }
    nodes
}

/// Writes the nodes and their ACL rows (honors* copied from the role type).
pub(super) async fn write_tree(
    conn: &mut crate::db::tx::Tx,
    nodes: &[NodeSpec],
    by: u64,
) -> Result<()> {
    let mut rows = Batch::new("tblNode", NODE_COLS);
    let mut scopes = Batch::new("tblScopePrincipal", "scopeNodeID, scopePrinID, scopeUpdatedBy");
    let mut roles = Batch::new("tblPrincipalRole", ROLE_COLS);
    for n in nodes {
        rows.add(format_args!("{}", n.row));
        for &(kind, p) in &n.acl {
            let id = n.id;
            match kind {
                SCOPE => scopes.add(format_args!("({id}, {p}, {by})")),
                MEMBER => roles.add(format_args!("({id}, {p}, {kind}, {by}, 1, 1)")),
                MANAGER => roles.add(format_args!("({id}, {p}, {kind}, {by}, 0, 0)")),
                _ => roles.add(format_args!("({id}, {p}, {kind}, {by}, 0, 1)")),
            }
        }
        for b in [&mut rows, &mut scopes, &mut roles] {
            b.flush_full(conn).await?;
        }
    }
    for b in [&mut rows, &mut scopes, &mut roles] {
        b.flush(conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_definers_follow_the_tree() {
        let opts = SynthOptions { users: 200, groups: 30, rooms: 400, messages: 0, seed: 7 };
        let nodes = build_tree(&opts, &Ids::new(&opts), &mut Rng::new(7, 3));
        assert_eq!(nodes.iter().filter(|n| !n.is_cat).count(), 400);
        for n in &nodes[1..] {
            let p = &nodes[n.parent as usize - 1];
            assert!(p.is_cat && p.id < n.id && n.depth <= 5);
            assert!(n.row.starts_with(&format!("({}, '{}', {}, ", n.id, n.guid, p.id)));
            let has = |kind| n.acl.iter().any(|a| a.0 == kind);
            assert_eq!(n.scope_def, if has(SCOPE) { n.id } else { p.scope_def });
            assert_eq!(n.role_def, if has(MEMBER) { n.id } else { p.role_def });
        }
        assert!(nodes.iter().any(|n| n.depth == 4 && n.is_cat));
        assert!(nodes.iter().any(|n| n.acl.iter().any(|a| a.0 == VOICED)));
    }
}
