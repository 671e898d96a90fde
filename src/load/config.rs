//! The configuration phase of a load: principals, affiliations, add-ins, categories,
//! scopes, creators, rooms, role lists and invitations, planned as one [`Batch`] that the
//! target applies in one transaction together with the ledger row recording every key.
//! `build` adds the rows step by step through `config/draft.rs`.

mod draft;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::db::{Batch, Conn, Dialect};
use crate::error::bad_input;
use crate::mapping::legacy::Role;
use crate::model::Snapshot;
use crate::plan::{Plan, PlanRoom};
use draft::Draft;

/// Legacy → target ids, and what this wave inserted (for rollback).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdMap {
    /// Legacy prinID → target prinID (reused or inserted).
    pub principals: BTreeMap<i64, i64>,
    /// Plan category key → target nodeID.
    pub categories: BTreeMap<String, i64>,
    /// Legacy room nodeID → target nodeID.
    pub rooms: BTreeMap<i64, i64>,
    /// Keys this configuration run inserted.
    pub inserted: Inserted,
    /// Rows this run removed while converging (absent in rows written before convergence).
    #[serde(default)]
    pub removed: Removed,
}

/// Rows one configuration run removed: rows its own wave had written that the plan no
/// longer has, and rooms the wave no longer holds (with their history).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Removed {
    /// `tblPrincipalRole` (node, principal, role type).
    pub roles: Vec<(i64, i64, i64)>,
    /// `tblScopePrincipal` (node, principal).
    pub scopes: Vec<(i64, i64)>,
    /// Rooms removed: (legacy `nodeID`, target `nodeID`).
    pub rooms: Vec<(i64, i64)>,
}

/// Keys inserted by one configuration run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Inserted {
    /// `tblPrincipal.prinID`s.
    pub principals: Vec<i64>,
    /// `tblPrincipalAffiliations` (principalID, affiliationID, index).
    pub affiliations: Vec<(i64, i64, i64)>,
    /// `tblSiopWhiteList.siopID`s.
    pub addins: Vec<String>,
    /// `tblNode.nodeID`s (categories then rooms).
    pub nodes: Vec<i64>,
    /// `tblScopePrincipal` (node, principal).
    pub scopes: Vec<(i64, i64)>,
    /// `tblPrincipalRole` (node, principal, role type).
    pub roles: Vec<(i64, i64, i64)>,
    /// `tblPrincipalInvites` (principal, node).
    pub invites: Vec<(i64, i64)>,
    /// `tblLastInviteId` rows this run inserted or raised, with the value before (`None`:
    /// no row), for rollback to restore (absent in rows written before it was kept).
    #[serde(default)]
    pub last_invites: Vec<(i64, Option<i64>)>,
}

/// What the configuration phase needs to know about the target before writing.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// Next free `prinID`.
    pub next_prin: i64,
    /// Next free `nodeID`.
    pub next_node: i64,
    /// Existing principals by lowercase GUID.
    pub by_guid: HashMap<String, i64>,
    /// Existing principals by lowercase URI.
    pub by_uri: HashMap<String, i64>,
    /// Role type ids by role.
    pub roles: HashMap<Role, i64>,
    /// Existing add-ins (lowercase GUIDs).
    pub addins: HashSet<String>,
    /// `tblLastInviteId` by target `prinID`.
    pub last_invites: HashMap<i64, i64>,
}

impl TargetState {
    /// A freshly created mgc: the system principal 1, the root node 1, role types 1–4.
    pub fn empty() -> TargetState {
        let roles = [(Role::Member, 1), (Role::Manager, 2), (Role::Voiced, 3), (Role::Creator, 4)]
            .into_iter()
            .collect();
        TargetState {
            next_prin: 2,
            next_node: 2,
            by_guid: HashMap::new(),
            by_uri: HashMap::new(),
            roles,
            addins: HashSet::new(),
            last_invites: HashMap::new(),
        }
    }

    /// Reads the state of an existing target.
    pub async fn read(db: &Conn) -> Result<TargetState> {
        let one = |what, sql| async move { db.scalar(what, sql, &[]).await };
        let next_prin = one("reading tblPrincipal", NEXT_PRIN).await?.unwrap_or(1);
        let next_node = one("reading tblNode", NEXT_NODE).await?.unwrap_or(2);
        let mut st = TargetState { next_prin, next_node, ..TargetState::empty() };
        st.roles.clear();
        db.each_row("reading tblPrincipal", &principals_sql(db.dialect()), &[], |r| {
            let id = r.int(0)?;
            st.by_guid.insert(r.text(1)?.to_ascii_lowercase(), id);
            st.by_uri.insert(r.text(2)?.to_ascii_lowercase(), id);
            Ok(())
        })
        .await?;
        db.each_row("reading tblRoleType", ROLE_TYPES, &[], |r| {
            if let Some(role) = Role::from_desc(&r.text(1)?) {
                st.roles.insert(role, r.int(0)?);
            }
            Ok(())
        })
        .await?;
        for role in [Role::Member, Role::Manager, Role::Voiced, Role::Creator] {
            if !st.roles.contains_key(&role) {
                return Err(bad_input(format!(
                    "the target's tblRoleType has no `{role:?}` row; is {} an mgc database?",
                    db.url()
                )));
            }
        }
        db.each_row("reading tblSiopWhiteList", &addins_sql(db.dialect()), &[], |r| {
            st.addins.insert(r.text(0)?.to_ascii_lowercase());
            Ok(())
        })
        .await?;
        st.last_invites = super::last_invite::read(db).await?;
        Ok(st)
    }
}

/// The next free `prinID`.
const NEXT_PRIN: &str = "SELECT CAST(COALESCE(MAX(prinID), 0) + 1 AS BIGINT) FROM tblPrincipal";
/// The next free `nodeID` (1 is the root).
const NEXT_NODE: &str = "SELECT CAST(COALESCE(MAX(nodeID), 1) + 1 AS BIGINT) FROM tblNode";
/// The role types by name.
const ROLE_TYPES: &str = "SELECT CAST(rtypeID AS BIGINT), rtypeDesc FROM tblRoleType";

/// The principals by id, GUID (as text) and URI.
fn principals_sql(d: Dialect) -> String {
    format!("SELECT CAST(prinID AS BIGINT), {}, prinUri FROM tblPrincipal", d.as_text("prinGuid"))
}

/// The add-ins' GUIDs, as text.
fn addins_sql(d: Dialect) -> String {
    format!("SELECT {} FROM tblSiopWhiteList", d.as_text("siopID"))
}

/// Every statement of the state read, for the T-SQL parse tests.
pub fn statements(d: Dialect) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        [("next prinID", NEXT_PRIN), ("next nodeID", NEXT_NODE), ("role types", ROLE_TYPES)]
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
    out.push(("principals".into(), principals_sql(d)));
    out.push(("add-ins".into(), addins_sql(d)));
    out.extend(super::last_invite::statements(d));
    out
}

/// Plans the configuration rows of `rooms` (the wave's rooms the target does not have yet)
/// against the target's state. `known` holds the maps of earlier loads, so shared objects
/// are written once; `wave` is every room of the wave, whose add-ins must exist even when
/// the room does already (a converged room may now name an add-in). `needed` restricts the
/// principals to those the pool's rooms need (`load::pool_scope`); `None` takes them all.
pub fn build(
    plan: &Plan,
    snap: &Snapshot,
    rooms: &[&PlanRoom],
    wave: &[&PlanRoom],
    needed: Option<&BTreeSet<i64>>,
    known: &IdMap,
    st: &mut TargetState,
) -> Result<(Batch, IdMap)> {
    let mut d = Draft::new(plan, snap, known, st);
    d.needed = needed;

    // Principals: matched by GUID, then URI; inserted otherwise, with their affiliations.
    let new_prins = d.match_principals();
    d.insert_principals(&new_prins)?;
    d.insert_affiliations(&new_prins);

    // Add-ins referenced by these rooms.
    d.insert_addins(wave);

    // Categories these rooms need, once, with their scopes and creators.
    // (Of every room of the wave: a room that exists may have moved to a new category.)
    let categories = d.insert_categories(wave)?;

    // Rooms, then the categories' creators and the rooms' role lists.
    d.insert_rooms(rooms)?;
    d.insert_roles(&categories, rooms)?;

    // Invitations of these rooms, for principals that exist in the target, and
    // tblLastInviteId kept at least their highest invID.
    d.insert_invites(rooms);
    Ok(d.finish())
}

/// The mgc tables and columns the load needs (every backend checks the same list).
pub const NEEDED: &[(&str, &str)] = &[
    ("tblPrincipal", "prinID, prinGuid, prinUri, prinDisplayName, prinDisabled"),
    ("tblPrincipalAffiliations", "principalID, affiliationID"),
    ("tblNode", "nodeID, nodeGuid, parentID, nodeType, nodeName, visibility, siopID"),
    ("tblRoleType", "rtypeID, rtypeDesc"),
    ("tblScopePrincipal", "scopeNodeID, scopePrinID, scopeIsDenied"),
    ("tblPrincipalRole", "prinRoleNodeID, prinRolePrinID, prinRoleTypeID"),
    ("tblSiopWhiteList", "siopID, siopName, siopUrl"),
    ("tblPrincipalInvites", "prinID, invID, nodeID, createdOn"),
    ("tblLastInviteId", "prinID, lastInviteID"),
    ("tblChat", "channelId, chatId, chatDate, userId, isAlert, content, rtf"),
    ("tblLastChatId", "nodeID, lastChatID"),
];

/// Checks the target has the mgc tables the load writes.
pub async fn check_schema(db: &Conn) -> Result<()> {
    let mut missing = Vec::new();
    for (t, c) in NEEDED {
        if !db.has_columns(t, c).await? {
            missing.push(*t);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(bad_input(format!(
            "{} is not a Persistent Chat mgc database: missing or incomplete {}; pass --create-schema to \
             create the mgc tables in an empty rehearsal database",
            db.url(),
            missing.join(", ")
        )))
    }
}
