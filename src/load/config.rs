//! The configuration phase of a load: principals, affiliations, add-ins, categories,
//! scopes, creators, rooms, role lists and invitations, planned as one [`Batch`] that the
//! target applies in one transaction together with the ledger row recording every key.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::rows::{Batch, Value, ADDIN, AFFILIATION, INVITE, NODE, PRINCIPAL, ROLE, SCOPE};
use crate::db::Db;
use crate::error::bad_input;
use crate::mapping::legacy::Role;
use crate::model::{Snapshot, BEHAVIOR_NORMAL, VISIBILITY_SCOPED};
use crate::plan::{Plan, PlanRoom};

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
        }
    }

    /// Reads the state of an existing target.
    pub async fn read(db: &Db) -> Result<TargetState> {
        let next_prin: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(MAX(prinID), 0) + 1 AS BIGINT) FROM tblPrincipal",
        )
        .fetch_one(&db.pool)
        .await?;
        let next_node: i64 =
            sqlx::query_scalar("SELECT CAST(COALESCE(MAX(nodeID), 1) + 1 AS BIGINT) FROM tblNode")
                .fetch_one(&db.pool)
                .await?;
        let mut st = TargetState { next_prin, next_node, ..TargetState::empty() };
        st.roles.clear();
        for r in sqlx::query(
            "SELECT CAST(prinID AS BIGINT), CAST(prinGuid AS TEXT), prinUri FROM tblPrincipal",
        )
        .fetch_all(&db.pool)
        .await?
        {
            let id: i64 = r.try_get(0)?;
            st.by_guid.insert(r.try_get::<String, _>(1)?.to_ascii_lowercase(), id);
            st.by_uri.insert(r.try_get::<String, _>(2)?.to_ascii_lowercase(), id);
        }
        for r in sqlx::query("SELECT CAST(rtypeID AS BIGINT), rtypeDesc FROM tblRoleType")
            .fetch_all(&db.pool)
            .await?
        {
            if let Some(role) = Role::from_desc(&r.try_get::<String, _>(1)?) {
                st.roles.insert(role, r.try_get::<i64, _>(0)?);
            }
        }
        for role in [Role::Member, Role::Manager, Role::Voiced, Role::Creator] {
            if !st.roles.contains_key(&role) {
                return Err(bad_input(format!(
                    "the target's tblRoleType has no `{role:?}` row; is it an mgc database?"
                )));
            }
        }
        for r in sqlx::query("SELECT CAST(siopID AS TEXT) FROM tblSiopWhiteList")
            .fetch_all(&db.pool)
            .await?
        {
            st.addins.insert(r.try_get::<String, _>(0)?.to_ascii_lowercase());
        }
        Ok(st)
    }
}

/// Plans the configuration rows of `rooms` (a wave) against the target's state. `known`
/// holds the maps of earlier waves, so shared objects are written once.
pub fn build(
    plan: &Plan,
    snap: &Snapshot,
    rooms: &[&PlanRoom],
    known: &IdMap,
    st: &mut TargetState,
) -> (Batch, IdMap) {
    let mut b = Batch::default();
    let mut map = IdMap {
        principals: known.principals.clone(),
        categories: known.categories.clone(),
        rooms: known.rooms.clone(),
        ..IdMap::default()
    };
    let now_text = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let now_ticks = chrono::Utc::now().timestamp() * 10_000_000 + 621_355_968_000_000_000;

    // Principals: matched by GUID, then URI; inserted otherwise, with their affiliations.
    let mut new_prins = Vec::new();
    for p in &plan.principals {
        if map.principals.contains_key(&p.legacy_id) {
            continue;
        }
        let found =
            st.by_guid.get(&p.guid).or_else(|| st.by_uri.get(&p.uri.to_ascii_lowercase())).copied();
        let id = found.unwrap_or_else(|| {
            let id = st.next_prin;
            st.next_prin += 1;
            new_prins.push((p, id));
            id
        });
        map.principals.insert(p.legacy_id, id);
    }
    for (p, id) in &new_prins {
        let src = &snap.principals[&p.legacy_id];
        b.insert(
            &PRINCIPAL,
            vec![
                (*id).into(),
                p.guid.as_str().into(),
                p.uri.as_str().into(),
                common_name(src.ad_path.as_deref(), p.display_name.as_deref()).into(),
                p.display_name.clone().into(),
                src.company.clone().into(),
                src.email.clone().into(),
                src.ad_path.clone().into(),
                src.upn.clone().into(),
                p.disabled.into(),
                p.target_type.into(),
                1i64.into(),
                src.added_on.into(),
                1i64.into(),
                src.updated_on.into(),
                now_text.as_str().into(),
            ],
        );
        map.inserted.principals.push(*id);
    }
    let mut affs_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for &(who, aff) in &snap.affiliations {
        if aff != who {
            affs_of.entry(who).or_default().push(aff);
        }
    }
    for (p, id) in &new_prins {
        let mut pairs: Vec<(i64, i64)> = vec![(*id, -1)];
        for aff in affs_of.get(&p.legacy_id).into_iter().flatten() {
            if let Some(t) = map.principals.get(aff) {
                pairs.push((*t, pairs.len() as i64));
            }
        }
        for (aff, idx) in pairs {
            b.insert(&AFFILIATION, vec![(*id).into(), aff.into(), idx.into(), 1i64.into()]);
            map.inserted.affiliations.push((*id, aff, idx));
        }
    }

    // Add-ins referenced by these rooms.
    for a in plan.addins.iter().filter(|a| rooms.iter().any(|r| r.addin.as_ref() == Some(&a.id))) {
        if st.addins.insert(a.id.clone()) {
            b.insert(
                &ADDIN,
                vec![a.id.as_str().into(), a.name.as_str().into(), a.url.as_str().into()],
            );
            map.inserted.addins.push(a.id.clone());
        }
    }

    // Categories these rooms need, once, with their scopes and creators.
    let mut cat_keys: Vec<&String> = rooms.iter().map(|r| &r.category).collect();
    cat_keys.sort();
    cat_keys.dedup();
    let mut roles = Vec::new();
    for key in cat_keys {
        let Some(c) = plan.category(key).filter(|_| !map.categories.contains_key(key)) else {
            continue;
        };
        let id = st.next_node;
        st.next_node += 1;
        let added = snap.nodes.get(&c.legacy_id).map_or(now_ticks, |n| n.added_on);
        b.insert(
            &NODE,
            vec![
                id.into(),
                c.guid.as_str().into(),
                1i64.into(),
                1i64.into(),
                c.name.as_str().into(),
                c.desc.as_str().into(),
                c.invite.into(),
                c.logged.into(),
                c.file_post.into(),
                false.into(),
                BEHAVIOR_NORMAL.into(),
                VISIBILITY_SCOPED.into(),
                Value::Null,
                1i64.into(),
                added.into(),
                1i64.into(),
                now_ticks.into(),
            ],
        );
        map.inserted.nodes.push(id);
        map.categories.insert(key.clone(), id);
        for (list, denied) in [(&c.allowed, false), (&c.denied, true)] {
            for p in list {
                let pid = map.principals[p];
                b.insert(&SCOPE, vec![id.into(), pid.into(), denied.into(), 1i64.into()]);
                map.inserted.scopes.push((id, pid));
            }
        }
        roles.extend(c.creators.iter().map(|p| (id, map.principals[p], st.roles[&Role::Creator])));
    }

    // Rooms and their role lists.
    for r in rooms {
        let id = st.next_node;
        st.next_node += 1;
        let legacy = &snap.nodes[&r.legacy_id];
        let by = |p: i64| map.principals.get(&p).copied().unwrap_or(1);
        b.insert(
            &NODE,
            vec![
                id.into(),
                r.legacy_guid.as_str().into(),
                map.categories[&r.category].into(),
                0i64.into(),
                r.target_name.as_str().into(),
                r.desc.as_str().into(),
                r.invite.into(),
                Value::Null,
                Value::Null,
                r.disabled.into(),
                r.behavior.into(),
                r.visibility.into(),
                r.addin.clone().into(),
                by(legacy.added_by).into(),
                legacy.added_on.into(),
                by(legacy.updated_by).into(),
                legacy.updated_on.into(),
            ],
        );
        map.inserted.nodes.push(id);
        map.rooms.insert(r.legacy_id, id);
        for (list, role) in [
            (&r.members, Role::Member),
            (&r.managers, Role::Manager),
            (&r.presenters, Role::Voiced),
        ] {
            roles.extend(list.iter().map(|p| (id, map.principals[p], st.roles[&role])));
        }
    }
    for (node, prin, role) in roles {
        b.insert(&ROLE, vec![node.into(), prin.into(), role.into(), 1i64.into()]);
        map.inserted.roles.push((node, prin, role));
    }

    // Invitations of these rooms, for principals that exist in the target.
    for inv in &snap.invites {
        let (Some(node), Some(p)) = (map.rooms.get(&inv.node_id), map.principals.get(&inv.prin_id))
        else {
            continue;
        };
        if !rooms.iter().any(|r| r.legacy_id == inv.node_id) {
            continue;
        }
        b.insert(
            &INVITE,
            vec![(*p).into(), inv.inv_id.into(), (*node).into(), inv.created_on.as_str().into()],
        );
        map.inserted.invites.push((*p, *node));
    }
    (b, map)
}

/// The 2013 `prinName` (common name): the first `CN=` of the AD path, else the display name.
fn common_name(ad_path: Option<&str>, display: Option<&str>) -> Option<String> {
    ad_path
        .and_then(|p| p.split(',').next())
        .and_then(|rdn| rdn.trim().strip_prefix("CN=").or_else(|| rdn.trim().strip_prefix("cn=")))
        .map(str::to_string)
        .or_else(|| display.map(str::to_string))
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
    ("tblChat", "channelId, chatId, chatDate, userId, isAlert, content, rtf"),
    ("tblLastChatId", "nodeID, lastChatID"),
];

/// Checks the target has the mgc tables the load writes.
pub async fn check_schema(db: &Db) -> Result<()> {
    let needed = NEEDED.iter().copied();
    let mut missing = Vec::new();
    for (t, c) in needed {
        if !db.has_columns(t, c).await {
            missing.push(t);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(bad_input(format!(
            "{} is not a Persistent Chat mgc database: missing or incomplete {}; pass --create-schema to \
             create the mgc tables in an empty rehearsal database",
            db.url,
            missing.join(", ")
        )))
    }
}
