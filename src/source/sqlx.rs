//! The SQLite / PostgreSQL legacy reader (sqlx `Any`).
//!
//! One SQL text serves both engines: unquoted identifiers (PostgreSQL folds them to
//! lowercase, which is also what restore tools produce) and explicit casts so that every
//! integer decodes as `i64` and every GUID as text.

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::sync::mpsc;

use super::Watermarks;
use crate::db::cells::each_row;
use crate::db::{Db, Dialect};
use crate::error::bad_input;
use crate::model::*;

/// Detects Lync 2010, OCS 2007 R2 or 2013 `mgc` from the tables and columns present.
pub async fn detect_version(db: &Db) -> Result<SourceVersion> {
    let core = [
        ("tblNode", "nodeID, parentID, nodeType, nodeName"),
        ("tblPrincipal", "prinID, prinGuid, prinUri, prinTypeID"),
        ("tblChat", "channelId, chatId, chatDate, userId, content"),
        ("tblPrincipalRole", "prinRoleNodeID, prinRolePrinID, prinRoleTypeID"),
        ("tblRoleType", "rtypeID, rtypeDesc"),
        ("tblScopePrincipal", "scopeNodeID, scopePrinID"),
    ];
    let mut missing = Vec::new();
    for (table, cols) in core {
        if !db.has_columns(table, cols).await {
            missing.push(table);
        }
    }
    if !missing.is_empty() {
        let found = list_tables(db).await.unwrap_or_default();
        let found = if found.is_empty() { "no tables".to_string() } else { found.join(", ") };
        return Err(bad_input(format!(
            "{} is not a Group Chat database: missing {} (found: {found})",
            db.url,
            missing.join(", ")
        )));
    }
    if db.has_columns("tblScopePrincipal", "scopeIsDenied").await
        || db.has_columns("tblChat", "rtf").await
    {
        return Ok(SourceVersion::Mgc2013);
    }
    if db.has_columns("tblNode", "scopeDefinerId, roleDefinerId").await {
        return Ok(SourceVersion::Lync2010);
    }
    Ok(SourceVersion::Ocs2007R2)
}

async fn list_tables(db: &Db) -> Result<Vec<String>> {
    let sql = match db.dialect {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        _ => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
              WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        }
    };
    let rows = sqlx::query(sql).fetch_all(&db.pool).await?;
    Ok(rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect())
}

/// `expr` when `table.col` exists, else `fallback` — for columns that differ by version.
async fn col_or(db: &Db, table: &str, col: &str, expr: &str, fallback: &str) -> String {
    if db.has_columns(table, col).await {
        expr.to_string()
    } else {
        fallback.to_string()
    }
}

fn b(row: &AnyRow, i: usize) -> Result<bool> {
    Ok(row.try_get::<i64, _>(i)? != 0)
}

fn ob(row: &AnyRow, i: usize) -> Result<Option<bool>> {
    Ok(row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0))
}

fn guid(row: &AnyRow, i: usize) -> Result<String> {
    Ok(row.try_get::<String, _>(i)?.trim().to_ascii_lowercase())
}

/// Reads every table but `tblChat` into memory.
pub(super) async fn read_snapshot(db: &Db, version: SourceVersion) -> Result<Snapshot> {
    let mut s = Snapshot { version: Some(version), ..Snapshot::default() };
    let fed =
        col_or(db, "tblPrincipalType", "ptypeIsFederated", "CAST(ptypeIsFederated AS BIGINT)", "0")
            .await;
    let sql = format!(
        "SELECT CAST(ptypeID AS BIGINT), ptypeDesc, CAST(ptypeIsSystemUser AS BIGINT), \
         CAST(ptypeIsUser AS BIGINT), {fed} FROM tblPrincipalType"
    );
    for r in sqlx::query(&sql).fetch_all(&db.pool).await.context("reading tblPrincipalType")? {
        let t = PrincipalType {
            id: r.try_get(0)?,
            desc: r.try_get(1)?,
            is_system_user: b(&r, 2)?,
            is_user: b(&r, 3)?,
            is_federated: b(&r, 4)? || matches!(r.try_get::<i64, _>(0)?, 6 | 7 | 11),
        };
        s.principal_types.insert(t.id, t);
    }
    let name = col_or(
        db,
        "tblPrincipal",
        "prinDisplayName",
        "COALESCE(prinDisplayName, prinName)",
        "prinName",
    )
    .await;
    let sql = format!(
        "SELECT CAST(prinID AS BIGINT), CAST(prinGuid AS TEXT), prinUri, {name}, prinCompanyName, \
         prinEmail, prinADPath, prinADUserPrincipalName, CAST(prinDisabled AS BIGINT), \
         CAST(prinTypeID AS BIGINT), CAST(prinAddedOn AS BIGINT), CAST(prinUpdatedOn AS BIGINT) \
         FROM tblPrincipal"
    );
    // The two big tables go through `each_row` (rusqlite on a SQLite copy: sqlx's Any
    // driver costs microseconds a row, most of extract's configuration read).
    each_row(db, &sql, |r| {
        let p = Principal {
            id: r.int(0)?,
            guid: r.text(1)?.trim().to_ascii_lowercase(),
            uri: r.text(2)?,
            name: r.opt_text(3)?,
            company: r.opt_text(4)?,
            email: r.opt_text(5)?,
            ad_path: r.opt_text(6)?,
            upn: r.opt_text(7)?,
            disabled: r.int(8)? != 0,
            type_id: r.int(9)?,
            added_on: r.int(10)?,
            updated_on: r.int(11)?,
        };
        s.principals.insert(p.id, p);
        Ok(())
    })
    .await
    .context("reading tblPrincipal")?;
    let sql = "SELECT CAST(principalID AS BIGINT), CAST(affiliationID AS BIGINT) \
               FROM tblPrincipalAffiliations ORDER BY 1, 2";
    each_row(db, sql, |r| {
        s.affiliations.push((r.int(0)?, r.int(1)?));
        Ok(())
    })
    .await
    .context("reading tblPrincipalAffiliations")?;
    read_nodes(db, &mut s).await?;
    for r in sqlx::query("SELECT CAST(rtypeID AS BIGINT), rtypeDesc FROM tblRoleType")
        .fetch_all(&db.pool)
        .await
        .context("reading tblRoleType")?
    {
        s.role_types.insert(r.try_get(0)?, r.try_get(1)?);
    }
    let denied =
        col_or(db, "tblScopePrincipal", "scopeIsDenied", "CAST(scopeIsDenied AS BIGINT)", "0")
            .await;
    let sql = format!(
        "SELECT CAST(scopeNodeID AS BIGINT), CAST(scopePrinID AS BIGINT), {denied} \
         FROM tblScopePrincipal ORDER BY 1, 2"
    );
    for r in sqlx::query(&sql).fetch_all(&db.pool).await.context("reading tblScopePrincipal")? {
        s.scopes.push(ScopeRow {
            node_id: r.try_get(0)?,
            prin_id: r.try_get(1)?,
            denied: b(&r, 2)?,
        });
    }
    let honors =
        col_or(db, "tblPrincipalRole", "honorsScope", "CAST(honorsScope AS BIGINT)", "1").await;
    let sql = format!(
        "SELECT CAST(prinRoleNodeID AS BIGINT), CAST(prinRolePrinID AS BIGINT), \
         CAST(prinRoleTypeID AS BIGINT), {honors} FROM tblPrincipalRole ORDER BY 1, 2, 3"
    );
    for r in sqlx::query(&sql).fetch_all(&db.pool).await.context("reading tblPrincipalRole")? {
        s.roles.push(RoleRow {
            node_id: r.try_get(0)?,
            prin_id: r.try_get(1)?,
            role_type_id: r.try_get(2)?,
            honors_scope: b(&r, 3)?,
        });
    }
    if db.has_columns("tblSiopWhiteList", "siopId, siopName, siopUrl").await {
        let sql = "SELECT CAST(siopId AS TEXT), siopName, siopUrl FROM tblSiopWhiteList ORDER BY 1";
        for r in sqlx::query(sql).fetch_all(&db.pool).await.context("reading tblSiopWhiteList")? {
            s.addins.push(Addin { id: guid(&r, 0)?, name: r.try_get(1)?, url: r.try_get(2)? });
        }
    }
    if db.has_columns("tblPrincipalInvites", "prinID, invID, nodeID, createdOn").await {
        let sql = "SELECT CAST(prinID AS BIGINT), CAST(invID AS BIGINT), CAST(nodeID AS BIGINT), \
                   CAST(createdOn AS TEXT) FROM tblPrincipalInvites ORDER BY 1, 3";
        for r in
            sqlx::query(sql).fetch_all(&db.pool).await.context("reading tblPrincipalInvites")?
        {
            s.invites.push(Invite {
                prin_id: r.try_get(0)?,
                inv_id: r.try_get(1)?,
                node_id: r.try_get(2)?,
                created_on: r.try_get(3)?,
            });
        }
    }
    Ok(s)
}

async fn read_nodes(db: &Db, s: &mut Snapshot) -> Result<()> {
    let t = "tblNode";
    let topic = col_or(db, t, "topic", "topic", "NULL").await;
    let over = col_or(db, t, "overrideMember", "CAST(overrideMember AS BIGINT)", "0").await;
    let sdef = col_or(db, t, "scopeDefinerId", "CAST(scopeDefinerId AS BIGINT)", "NULL").await;
    let rdef = col_or(db, t, "roleDefinerId", "CAST(roleDefinerId AS BIGINT)", "NULL").await;
    let siop = col_or(db, t, "siopID", "CAST(siopID AS TEXT)", "NULL").await;
    let sql = format!(
        "SELECT CAST(nodeID AS BIGINT), CAST(nodeGuid AS TEXT), CAST(parentID AS BIGINT), \
         CAST(nodeType AS BIGINT), nodeName, nodeDesc, {topic}, {over}, CAST(invite AS BIGINT), \
         CAST(logged AS BIGINT), CAST(filePost AS BIGINT), CAST(disabled AS BIGINT), \
         CAST(behavior AS BIGINT), CAST(visibility AS BIGINT), {sdef}, {rdef}, {siop}, \
         CAST(nodeAddedBy AS BIGINT), CAST(nodeAddedOn AS BIGINT), CAST(nodeUpdatedBy AS BIGINT), \
         CAST(nodeUpdatedOn AS BIGINT) FROM tblNode ORDER BY 1"
    );
    for r in sqlx::query(&sql).fetch_all(&db.pool).await.context("reading tblNode")? {
        let n = Node {
            id: r.try_get(0)?,
            guid: guid(&r, 1)?,
            parent_id: r.try_get(2)?,
            is_category: b(&r, 3)?,
            name: r.try_get(4)?,
            desc: r.try_get::<Option<String>, _>(5)?.unwrap_or_default(),
            topic: r.try_get::<Option<String>, _>(6)?.filter(|t| !t.trim().is_empty()),
            override_member: b(&r, 7)?,
            invite: ob(&r, 8)?,
            logged: ob(&r, 9)?,
            file_post: ob(&r, 10)?,
            disabled: b(&r, 11)?,
            behavior: r.try_get(12)?,
            visibility: r.try_get(13)?,
            scope_definer_id: r.try_get(14)?,
            role_definer_id: r.try_get(15)?,
            siop_id: r.try_get::<Option<String>, _>(16)?.map(|g| g.trim().to_ascii_lowercase()),
            added_by: r.try_get::<Option<i64>, _>(17)?.unwrap_or(1),
            added_on: r.try_get::<Option<i64>, _>(18)?.unwrap_or(0),
            updated_by: r.try_get::<Option<i64>, _>(19)?.unwrap_or(1),
            updated_on: r.try_get::<Option<i64>, _>(20)?.unwrap_or(0),
        };
        s.nodes.insert(n.id, n);
    }
    Ok(())
}

const CHAT_COLS: &str =
    "CAST(channelId AS BIGINT), CAST(chatId AS BIGINT), CAST(chatDate AS BIGINT), \
                         CAST(userId AS BIGINT), CAST(isAlert AS BIGINT), content";

fn chat_from(r: &AnyRow) -> Result<Chat> {
    Ok(Chat {
        channel_id: r.try_get(0)?,
        chat_id: r.try_get(1)?,
        chat_date: r.try_get(2)?,
        user_id: r.try_get(3)?,
        is_alert: b(r, 4)?,
        content: r.try_get(5)?,
    })
}

/// Counts history rows past the watermarks.
pub(super) async fn count_chats(db: &Db, after: &Watermarks) -> Result<u64> {
    let total: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM tblChat")
        .fetch_one(&db.pool)
        .await
        .context("counting tblChat")?;
    let mut seen = 0i64;
    for (room, mark) in after {
        seen += sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM tblChat WHERE channelId = $1 AND chatId <= $2",
        )
        .bind(*room)
        .bind(*mark)
        .fetch_one(&db.pool)
        .await?;
    }
    Ok((total - seen).max(0) as u64)
}

/// Streams history past the watermarks to `tx`, `batch` rows at a time.
pub(super) async fn stream_chats(
    db: &Db,
    after: &Watermarks,
    batch: usize,
    tx: mpsc::Sender<Vec<Chat>>,
) -> Result<()> {
    let mut buf = Vec::with_capacity(batch);
    if after.is_empty() {
        let sql = format!("SELECT {CHAT_COLS} FROM tblChat ORDER BY channelId, chatId");
        let mut rows = sqlx::query(&sql).fetch(&db.pool);
        while let Some(r) = rows.try_next().await.context("reading tblChat")? {
            buf.push(chat_from(&r)?);
            if buf.len() >= batch && tx.send(std::mem::take(&mut buf)).await.is_err() {
                return Ok(());
            }
        }
    } else {
        // Delta: every room seen in tblChat, each read past its own watermark.
        let rooms: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT CAST(channelId AS BIGINT) FROM tblChat ORDER BY 1")
                .fetch_all(&db.pool)
                .await?;
        let sql = format!(
            "SELECT {CHAT_COLS} FROM tblChat WHERE channelId = $1 AND chatId > $2 ORDER BY chatId"
        );
        for room in rooms {
            let mark = after.get(&room).copied().unwrap_or(i64::MIN);
            let mut rows = sqlx::query(&sql).bind(room).bind(mark).fetch(&db.pool);
            while let Some(r) = rows.try_next().await.context("reading tblChat")? {
                buf.push(chat_from(&r)?);
                if buf.len() >= batch && tx.send(std::mem::take(&mut buf)).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.send(buf).await;
    }
    Ok(())
}
