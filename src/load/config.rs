//! The configuration phase of a load: principals, affiliations, add-ins, categories,
//! scopes, creators, rooms, role lists and invitations, written in one target
//! transaction together with the ledger row that records every key it inserted.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};

use crate::db::{Db, Dialect};
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

/// Target state read before inserting.
struct TargetState {
    next_prin: i64,
    next_node: i64,
    by_guid: HashMap<String, i64>,
    by_uri: HashMap<String, i64>,
    roles: HashMap<Role, i64>,
}

async fn read_state(tx: &mut Transaction<'_, Any>) -> Result<TargetState> {
    let next_prin: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(prinID), 0) + 1 AS BIGINT) FROM tblPrincipal")
        .fetch_one(&mut **tx).await?;
    let next_node: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(nodeID), 1) + 1 AS BIGINT) FROM tblNode")
        .fetch_one(&mut **tx).await?;
    let mut by_guid = HashMap::new();
    let mut by_uri = HashMap::new();
    for r in sqlx::query("SELECT CAST(prinID AS BIGINT), CAST(prinGuid AS TEXT), prinUri FROM tblPrincipal")
        .fetch_all(&mut **tx).await?
    {
        let id: i64 = r.try_get(0)?;
        by_guid.insert(r.try_get::<String, _>(1)?.to_ascii_lowercase(), id);
        by_uri.insert(r.try_get::<String, _>(2)?.to_ascii_lowercase(), id);
    }
    let mut roles = HashMap::new();
    for r in sqlx::query("SELECT CAST(rtypeID AS BIGINT), rtypeDesc FROM tblRoleType").fetch_all(&mut **tx).await? {
        if let Some(role) = Role::from_desc(&r.try_get::<String, _>(1)?) {
            roles.insert(role, r.try_get::<i64, _>(0)?);
        }
    }
    for role in [Role::Member, Role::Manager, Role::Voiced, Role::Creator] {
        if !roles.contains_key(&role) {
            return Err(bad_input(format!("the target's tblRoleType has no `{role:?}` row; is it an mgc database?")));
        }
    }
    Ok(TargetState { next_prin, next_node, by_guid, by_uri, roles })
}

/// Writes the configuration of `rooms` (a wave) and returns the id map.
/// `known` holds the maps of earlier waves, so shared objects are written once.
pub async fn write(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    plan: &Plan,
    snap: &Snapshot,
    rooms: &[&PlanRoom],
    known: &IdMap,
) -> Result<IdMap> {
    let mut st = read_state(tx).await.context("reading the target's principals, nodes and role types")?;
    let mut map = IdMap { principals: known.principals.clone(), categories: known.categories.clone(), rooms: known.rooms.clone(), ..IdMap::default() };
    let now_text = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let g = |n| dialect.guid_param(n);

    // Principals: matched by GUID, then URI; inserted otherwise, with their affiliations.
    let mut new_prins = Vec::new();
    for p in &plan.principals {
        if map.principals.contains_key(&p.legacy_id) {
            continue;
        }
        let found = st.by_guid.get(&p.guid).or_else(|| st.by_uri.get(&p.uri.to_ascii_lowercase()));
        let id = match found {
            Some(id) => *id,
            None => {
                let id = st.next_prin;
                st.next_prin += 1;
                new_prins.push((p, id));
                id
            }
        };
        map.principals.insert(p.legacy_id, id);
    }
    let sql = format!(
        "INSERT INTO tblPrincipal (prinID, prinGuid, prinUri, prinName, prinDisplayName, prinCompanyName, \
         prinEmail, prinADPath, prinADUserPrincipalName, prinDisabled, prinTypeID, prinPoolID, prinPolicyID, \
         prinAddedBy, prinAddedOn, prinUpdatedBy, prinUpdatedOn, prinVerifiedOn) VALUES \
         ($1, {}, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, 1, $12, 1, $13, {})",
        g(2), dialect.datetime_param(14)
    );
    for (p, id) in &new_prins {
        let src = &snap.principals[&p.legacy_id];
        sqlx::query(&sql)
            .bind(*id).bind(&p.guid).bind(&p.uri).bind(common_name(src.ad_path.as_deref(), p.display_name.as_deref()))
            .bind(p.display_name.clone()).bind(src.company.clone()).bind(src.email.clone()).bind(src.ad_path.clone())
            .bind(src.upn.clone()).bind(i16::from(p.disabled) as i32).bind(p.target_type as i32)
            .bind(src.added_on).bind(src.updated_on).bind(&now_text)
            .execute(&mut **tx).await.with_context(|| format!("inserting principal {}", p.uri))?;
        map.inserted.principals.push(*id);
    }
    for (p, id) in &new_prins {
        let mut index = 0;
        let mut pairs: Vec<(i64, i64)> = vec![(*id, -1)];
        for &(who, aff) in &snap.affiliations {
            if who == p.legacy_id && aff != who {
                if let Some(t) = map.principals.get(&aff) {
                    index += 1;
                    pairs.push((*t, index));
                }
            }
        }
        for (aff, idx) in pairs {
            sqlx::query("INSERT INTO tblPrincipalAffiliations (principalID, affiliationID, \"index\", updatedBy) VALUES ($1, $2, $3, 1)")
                .bind(*id).bind(aff).bind(idx).execute(&mut **tx).await?;
            map.inserted.affiliations.push((*id, aff, idx));
        }
    }

    // Add-ins referenced by these rooms.
    for a in plan.addins.iter().filter(|a| rooms.iter().any(|r| r.addin.as_ref() == Some(&a.id))) {
        let exists: Option<i64> = sqlx::query_scalar(&format!("SELECT CAST(1 AS BIGINT) FROM tblSiopWhiteList WHERE siopID = {}", g(1)))
            .bind(&a.id).fetch_optional(&mut **tx).await?;
        if exists.is_none() {
            sqlx::query(&format!("INSERT INTO tblSiopWhiteList (siopID, siopName, siopUrl) VALUES ({}, $2, $3)", g(1)))
                .bind(&a.id).bind(&a.name).bind(&a.url).execute(&mut **tx).await?;
            map.inserted.addins.push(a.id.clone());
        }
    }

    // Categories these rooms need, once.
    let node_sql = format!(
        "INSERT INTO tblNode (nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, invite, logged, filePost, \
         disabled, behavior, visibility, siopID, nodeAddedBy, nodeAddedOn, nodeUpdatedBy, nodeUpdatedOn, purgedOn) \
         VALUES ($1, {}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, {}, $14, $15, $16, $17, NULL)",
        g(2), g(13)
    );
    let now_ticks = chrono::Utc::now().timestamp() * 10_000_000 + 621_355_968_000_000_000;
    let mut cat_keys: Vec<&String> = rooms.iter().map(|r| &r.category).collect();
    cat_keys.sort();
    cat_keys.dedup();
    for key in cat_keys {
        if map.categories.contains_key(key) {
            continue;
        }
        let c = plan.category(key).context("plan category missing")?;
        let id = st.next_node;
        st.next_node += 1;
        let legacy = snap.nodes.get(&c.legacy_id);
        sqlx::query(&node_sql)
            .bind(id).bind(&c.guid).bind(1i64).bind(1i32).bind(&c.name).bind(&c.desc)
            .bind(Some(c.invite as i32)).bind(Some(c.logged as i32)).bind(Some(c.file_post as i32))
            .bind(0i32).bind(BEHAVIOR_NORMAL as i32).bind(VISIBILITY_SCOPED as i32).bind(None::<String>)
            .bind(1i64).bind(legacy.map_or(now_ticks, |n| n.added_on)).bind(1i64).bind(now_ticks)
            .execute(&mut **tx).await.with_context(|| format!("inserting category `{}`", c.name))?;
        map.inserted.nodes.push(id);
        map.categories.insert(key.clone(), id);
        for (list, denied) in [(&c.allowed, false), (&c.denied, true)] {
            for p in list {
                let pid = map.principals[p];
                sqlx::query("INSERT INTO tblScopePrincipal (scopeNodeID, scopePrinID, scopeIsDenied, scopeUpdatedBy) VALUES ($1, $2, $3, 1)")
                    .bind(id).bind(pid).bind(denied as i32).execute(&mut **tx).await?;
                map.inserted.scopes.push((id, pid));
            }
        }
        insert_roles(tx, &mut map, id, &c.creators, st.roles[&Role::Creator]).await?;
    }

    // Rooms and their role lists.
    for r in rooms {
        let id = st.next_node;
        st.next_node += 1;
        let legacy = &snap.nodes[&r.legacy_id];
        let parent = map.categories[&r.category];
        sqlx::query(&node_sql)
            .bind(id).bind(&r.legacy_guid).bind(parent).bind(0i32).bind(&r.target_name).bind(&r.desc)
            .bind(r.invite.map(|b| b as i32)).bind(None::<i32>).bind(None::<i32>)
            .bind(r.disabled as i32).bind(r.behavior as i32).bind(r.visibility as i32).bind(r.addin.clone())
            .bind(map.principals.get(&legacy.added_by).copied().unwrap_or(1)).bind(legacy.added_on)
            .bind(map.principals.get(&legacy.updated_by).copied().unwrap_or(1)).bind(legacy.updated_on)
            .execute(&mut **tx).await.with_context(|| format!("inserting room `{}`", r.target_name))?;
        map.inserted.nodes.push(id);
        map.rooms.insert(r.legacy_id, id);
        insert_roles(tx, &mut map, id, &r.members, st.roles[&Role::Member]).await?;
        insert_roles(tx, &mut map, id, &r.managers, st.roles[&Role::Manager]).await?;
        insert_roles(tx, &mut map, id, &r.presenters, st.roles[&Role::Voiced]).await?;
    }

    // Invitations of these rooms, for principals that exist in the target.
    let inv_sql = format!("INSERT INTO tblPrincipalInvites (prinID, invID, nodeID, createdOn) VALUES ($1, $2, $3, {})", dialect.datetime_param(4));
    for inv in &snap.invites {
        let (Some(room), Some(p)) = (rooms.iter().find(|r| r.legacy_id == inv.node_id), map.principals.get(&inv.prin_id)) else { continue };
        let node = map.rooms[&room.legacy_id];
        sqlx::query(&inv_sql).bind(*p).bind(inv.inv_id).bind(node).bind(&inv.created_on).execute(&mut **tx).await?;
        map.inserted.invites.push((*p, node));
    }
    Ok(map)
}

async fn insert_roles(tx: &mut Transaction<'_, Any>, map: &mut IdMap, node: i64, prins: &[i64], role: i64) -> Result<()> {
    for p in prins {
        let pid = map.principals[p];
        sqlx::query("INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy) VALUES ($1, $2, $3, 1)")
            .bind(node).bind(pid).bind(role).execute(&mut **tx).await?;
        map.inserted.roles.push((node, pid, role));
    }
    Ok(())
}

/// The 2013 `prinName` (common name): the first `CN=` of the AD path, else the display name.
fn common_name(ad_path: Option<&str>, display: Option<&str>) -> Option<String> {
    ad_path
        .and_then(|p| p.split(',').next())
        .and_then(|rdn| rdn.trim().strip_prefix("CN=").or_else(|| rdn.trim().strip_prefix("cn=")))
        .map(str::to_string)
        .or_else(|| display.map(str::to_string))
}

/// Checks the target has the mgc tables the load writes.
pub async fn check_schema(db: &Db) -> Result<()> {
    let needed = [
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
