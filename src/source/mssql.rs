//! The live legacy reader: a Lync 2010 / OCS 2007 R2 Group Chat database on SQL Server,
//! through tiberius on one connection.
//!
//! The legacy service keeps running while we read, so every statement is short and sees
//! only committed rows: the session runs at READ COMMITTED (set explicitly, in case the
//! login's default differs), there are no `NOLOCK` hints (they can skip or repeat rows)
//! and no long cursor. History is read per room in `chatId` chunks that seek the
//! `(channelId, chatId)` primary key, and every chunk is fully drained before it is
//! handed to the staging writer, so no statement holds locks while we wait.
//! Rooms are found by a skip-scan of that key, which also finds messages of rooms that
//! `tblNode` no longer holds (they must be read to be reported).

use anyhow::{Context, Result};
use tiberius::ColumnData;
use tokio::sync::{mpsc, Mutex};

use super::Watermarks;
use crate::db::mssql::{self, flag, int, req_int, req_text, text, Client, ConnSpec, TdsRow};
use crate::db::DbUrl;
use crate::error::bad_input;
use crate::model::*;

/// The isolation level set on the source session.
pub const ISOLATION: &str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";
/// Tables a Group Chat database must have, with the columns we read unconditionally.
pub const CORE: &[(&str, &str)] = &[
    ("tblNode", "nodeID, parentID, nodeType, nodeName"),
    ("tblPrincipal", "prinID, prinGuid, prinUri, prinTypeID"),
    ("tblChat", "channelId, chatId, chatDate, userId, content"),
    ("tblPrincipalRole", "prinRoleNodeID, prinRolePrinID, prinRoleTypeID"),
    ("tblRoleType", "rtypeID, rtypeDesc"),
    ("tblScopePrincipal", "scopeNodeID, scopePrinID"),
];
/// Lists the tables visible to the login, for the "not Group Chat" message.
pub const LIST_TABLES: &str = "SELECT name FROM sys.tables ORDER BY name";
const CHAT_COLS: &str = "channelId, chatId, chatDate, userId, isAlert, content";
/// All history rows, for progress totals.
pub const COUNT_ALL: &str = "SELECT COUNT_BIG(*) FROM tblChat";
/// History rows of a room at or below its watermark.
pub const COUNT_SEEN: &str =
    "SELECT COUNT_BIG(*) FROM tblChat WHERE channelId = @P1 AND chatId <= @P2";
/// The first room id in `tblChat`.
pub const FIRST_ROOM: &str = "SELECT TOP (1) channelId FROM tblChat ORDER BY channelId";
/// The next room id in `tblChat` after `@P1` (a skip-scan of the primary key).
pub const NEXT_ROOM: &str =
    "SELECT TOP (1) channelId FROM tblChat WHERE channelId > @P1 ORDER BY channelId";

/// One chunk of a room's history past `@P3`.
pub fn chunk_sql() -> String {
    format!("SELECT TOP (@P1) {CHAT_COLS} FROM tblChat WHERE channelId = @P2 AND chatId > @P3 ORDER BY chatId")
}

/// Which version-dependent columns exist, deciding the snapshot queries' select lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct Present {
    /// `tblPrincipalType.ptypeIsFederated` (2010).
    pub federated: bool,
    /// `tblPrincipal.prinDisplayName` (2013).
    pub display_name: bool,
    /// `tblScopePrincipal.scopeIsDenied` (2013).
    pub denied: bool,
    /// `tblPrincipalRole.honorsScope` (2010).
    pub honors: bool,
    /// `tblNode.topic`, `overrideMember`, `scopeDefinerId`, `roleDefinerId`, `siopID`.
    pub node: [bool; 5],
}

const NODE_OPTIONAL: [(&str, &str); 5] = [
    ("topic", "NULL"),
    ("overrideMember", "0"),
    ("scopeDefinerId", "NULL"),
    ("roleDefinerId", "NULL"),
    ("siopID", "NULL"),
];

fn pick(present: bool, expr: &str, fallback: &str) -> String {
    if present {
        expr.to_string()
    } else {
        fallback.to_string()
    }
}

/// The snapshot queries for the columns present, by table.
pub fn snapshot_sql(p: &Present) -> Vec<(&'static str, String)> {
    let node: Vec<String> =
        NODE_OPTIONAL.iter().zip(p.node).map(|((c, f), on)| pick(on, c, f)).collect();
    vec![
        ("tblPrincipalType", format!(
            "SELECT ptypeID, ptypeDesc, ptypeIsSystemUser, ptypeIsUser, {} FROM tblPrincipalType ORDER BY ptypeID",
            pick(p.federated, "ptypeIsFederated", "0"))),
        ("tblPrincipal", format!(
            "SELECT prinID, prinGuid, prinUri, {}, prinCompanyName, prinEmail, prinADPath, prinADUserPrincipalName, \
             prinDisabled, prinTypeID, prinAddedOn, prinUpdatedOn FROM tblPrincipal ORDER BY prinID",
            pick(p.display_name, "COALESCE(prinDisplayName, prinName)", "prinName"))),
        ("tblPrincipalAffiliations",
            "SELECT principalID, affiliationID FROM tblPrincipalAffiliations ORDER BY principalID, affiliationID".into()),
        ("tblNode", format!(
            "SELECT nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, {}, {}, invite, logged, filePost, \
             disabled, behavior, visibility, {}, {}, {}, nodeAddedBy, nodeAddedOn, nodeUpdatedBy, nodeUpdatedOn \
             FROM tblNode ORDER BY nodeID", node[0], node[1], node[2], node[3], node[4])),
        ("tblRoleType", "SELECT rtypeID, rtypeDesc FROM tblRoleType ORDER BY rtypeID".into()),
        ("tblScopePrincipal", format!(
            "SELECT scopeNodeID, scopePrinID, {} FROM tblScopePrincipal ORDER BY scopeNodeID, scopePrinID",
            pick(p.denied, "scopeIsDenied", "0"))),
        ("tblPrincipalRole", format!(
            "SELECT prinRoleNodeID, prinRolePrinID, prinRoleTypeID, {} FROM tblPrincipalRole \
             ORDER BY prinRoleNodeID, prinRolePrinID, prinRoleTypeID", pick(p.honors, "honorsScope", "1"))),
        ("tblSiopWhiteList", "SELECT siopId, siopName, siopUrl FROM tblSiopWhiteList".into()),
        // Style 120 is `yyyy-mm-dd hh:mi:ss` whatever the session's language and DATEFORMAT.
        ("tblPrincipalInvites",
            "SELECT prinID, invID, nodeID, CONVERT(nvarchar(19), createdOn, 120) FROM tblPrincipalInvites \
             ORDER BY prinID, nodeID".into()),
    ]
}

/// Every T-SQL statement this reader can send, named, for the parse tests.
pub fn all_statements() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![
        ("isolation".into(), ISOLATION.into()),
        ("list tables".into(), LIST_TABLES.into()),
        ("count all".into(), COUNT_ALL.into()),
        ("count seen".into(), COUNT_SEEN.into()),
        ("first room".into(), FIRST_ROOM.into()),
        ("next room".into(), NEXT_ROOM.into()),
        ("chunk".into(), chunk_sql()),
    ];
    for (t, c) in CORE.iter().chain(OPTIONAL_PROBES) {
        out.push((format!("probe {t} ({c})"), mssql::presence_sql(t, c)));
        out.push((format!("probe {t} ({c}) by select"), mssql::probe_sql(t, c)));
    }
    for (on, tag) in [(true, "all columns"), (false, "fallbacks")] {
        let p = Present { federated: on, display_name: on, denied: on, honors: on, node: [on; 5] };
        out.extend(snapshot_sql(&p).into_iter().map(|(t, s)| (format!("{t} ({tag})"), s)));
    }
    out
}

/// Columns whose presence tells the versions apart or changes a select list.
const OPTIONAL_PROBES: &[(&str, &str)] = &[
    ("tblScopePrincipal", "scopeIsDenied"),
    ("tblChat", "rtf"),
    ("tblNode", "scopeDefinerId, roleDefinerId"),
    ("tblPrincipalType", "ptypeIsFederated"),
    ("tblPrincipal", "prinDisplayName"),
    ("tblPrincipalRole", "honorsScope"),
    ("tblNode", "topic"),
    ("tblNode", "overrideMember"),
    ("tblNode", "scopeDefinerId"),
    ("tblNode", "roleDefinerId"),
    ("tblNode", "siopID"),
    ("tblSiopWhiteList", "siopId, siopName, siopUrl"),
    ("tblPrincipalInvites", "prinID, invID, nodeID, createdOn"),
];

/// A legacy Group Chat database on SQL Server.
pub struct MssqlSource {
    client: Mutex<Client>,
    label: String,
}

impl MssqlSource {
    /// Connects and sets READ COMMITTED.
    pub async fn connect(url: &DbUrl) -> Result<MssqlSource> {
        let spec = ConnSpec::parse(url)?;
        let mut client = mssql::connect_spec(&spec).await?;
        let label = spec.label();
        mssql::batch(&mut client, ISOLATION)
            .await
            .map_err(|e| mssql::statement_error(&label, "setting the isolation level", &e))?;
        Ok(MssqlSource { client: Mutex::new(client), label })
    }

    async fn rows(
        &self,
        what: &str,
        sql: &str,
        params: &[&dyn tiberius::ToSql],
    ) -> Result<Vec<TdsRow>> {
        let mut c = self.client.lock().await;
        mssql::query(&mut c, sql, params)
            .await
            .map_err(|e| mssql::statement_error(&self.label, what, &e))
    }

    /// Whether `table` has the columns `cols`; a permission error is an error, not "absent".
    pub async fn has_columns(&self, table: &str, cols: &str) -> Result<bool> {
        let mut c = self.client.lock().await;
        mssql::has_columns(&mut c, table, cols)
            .await
            .map_err(|e| mssql::statement_error(&self.label, &format!("reading {table}"), &e))
    }

    /// Detects Lync 2010, OCS 2007 R2 or 2013 `mgc`; anything else is bad input (exit 2).
    pub async fn detect_version(&self) -> Result<SourceVersion> {
        let mut missing = Vec::new();
        for (table, cols) in CORE {
            if !self.has_columns(table, cols).await? {
                missing.push(*table);
            }
        }
        if !missing.is_empty() {
            let found: Vec<String> = self
                .rows("listing tables", LIST_TABLES, &[])
                .await
                .unwrap_or_default()
                .iter()
                .filter_map(|r| text(r, 0).ok().flatten())
                .collect();
            let found = if found.is_empty() { "no tables".to_string() } else { found.join(", ") };
            return Err(bad_input(format!(
                "SQL Server {} is not a Group Chat database: missing {} (found: {found})",
                self.label,
                missing.join(", ")
            )));
        }
        if self.has_columns("tblScopePrincipal", "scopeIsDenied").await?
            || self.has_columns("tblChat", "rtf").await?
        {
            return Ok(SourceVersion::Mgc2013);
        }
        if self.has_columns("tblNode", "scopeDefinerId, roleDefinerId").await? {
            return Ok(SourceVersion::Lync2010);
        }
        Ok(SourceVersion::Ocs2007R2)
    }

    async fn present(&self) -> Result<Present> {
        let mut node = [false; 5];
        for (i, (col, _)) in NODE_OPTIONAL.iter().enumerate() {
            node[i] = self.has_columns("tblNode", col).await?;
        }
        Ok(Present {
            federated: self.has_columns("tblPrincipalType", "ptypeIsFederated").await?,
            display_name: self.has_columns("tblPrincipal", "prinDisplayName").await?,
            denied: self.has_columns("tblScopePrincipal", "scopeIsDenied").await?,
            honors: self.has_columns("tblPrincipalRole", "honorsScope").await?,
            node,
        })
    }

    /// Reads every table but `tblChat` into memory.
    pub async fn read_snapshot(&self, version: SourceVersion) -> Result<Snapshot> {
        let mut s = Snapshot { version: Some(version), ..Snapshot::default() };
        let addins = self.has_columns("tblSiopWhiteList", "siopId, siopName, siopUrl").await?;
        let invites =
            self.has_columns("tblPrincipalInvites", "prinID, invID, nodeID, createdOn").await?;
        for (table, sql) in snapshot_sql(&self.present().await?) {
            if (table == "tblSiopWhiteList" && !addins)
                || (table == "tblPrincipalInvites" && !invites)
            {
                continue;
            }
            let rows = self.rows(&format!("reading {table}"), &sql, &[]).await?;
            for (n, r) in rows.iter().enumerate() {
                add_row(&mut s, table, r).with_context(|| {
                    format!("{table} row {} on SQL Server {}", n + 1, self.label)
                })?;
            }
        }
        // SQL Server orders uniqueidentifiers by byte groups; sort as the other backends do.
        s.addins.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(s)
    }

    /// Counts history rows past the watermarks.
    pub async fn count_chats(&self, after: &Watermarks) -> Result<u64> {
        let total = self
            .rows("counting tblChat", COUNT_ALL, &[])
            .await?
            .first()
            .map(|r| req_int(r, 0))
            .transpose()?
            .unwrap_or(0);
        let mut seen = 0i64;
        for (room, mark) in after {
            let (room, mark) = (to_i32(*room)?, *mark);
            seen += self
                .rows("counting tblChat", COUNT_SEEN, &[&room, &mark])
                .await?
                .first()
                .map(|r| req_int(r, 0))
                .transpose()?
                .unwrap_or(0);
        }
        Ok((total - seen).max(0) as u64)
    }

    /// Streams history past the watermarks to `tx` in (room, chatId) order, `batch` rows at a time.
    pub async fn stream_chats(
        &self,
        after: &Watermarks,
        batch: usize,
        tx: mpsc::Sender<Vec<Chat>>,
    ) -> Result<()> {
        let batch = batch.max(1);
        let top = i32::try_from(batch).unwrap_or(i32::MAX);
        let chunk = chunk_sql();
        let mut buf: Vec<Chat> = Vec::with_capacity(batch);
        let mut previous: Option<i32> = None;
        loop {
            let next = match previous {
                None => self.rows("reading tblChat rooms", FIRST_ROOM, &[]).await?,
                Some(p) => self.rows("reading tblChat rooms", NEXT_ROOM, &[&p]).await?,
            };
            let Some(room) = next.first().map(|r| req_int(r, 0)).transpose()? else { break };
            let room32 = to_i32(room)?;
            previous = Some(room32);
            let mut mark = after.get(&room).copied().unwrap_or(i64::MIN);
            loop {
                let rows = self.rows("reading tblChat", &chunk, &[&top, &room32, &mark]).await?;
                let n = rows.len();
                for r in &rows {
                    buf.push(chat_from(r).with_context(|| {
                        format!("tblChat room {room} on SQL Server {}", self.label)
                    })?);
                }
                if let Some(last) = rows.last() {
                    mark = req_int(last, 1)?;
                }
                // The statement is complete before we wait on the writer: no locks held.
                if buf.len() >= batch && tx.send(std::mem::take(&mut buf)).await.is_err() {
                    return Ok(());
                }
                if n < batch {
                    break;
                }
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(buf).await;
        }
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.client.into_inner().close().await;
    }
}

/// `tblChat.channelId` is `int`: a watermark key outside it cannot match any row.
fn to_i32(v: i64) -> Result<i32> {
    i32::try_from(v)
        .map_err(|_| anyhow::anyhow!("room id {v} is outside the range of tblChat.channelId (int)"))
}

fn chat_from(r: &[ColumnData<'_>]) -> Result<Chat> {
    Ok(Chat {
        channel_id: req_int(r, 0)?,
        chat_id: req_int(r, 1)?,
        chat_date: req_int(r, 2)?,
        user_id: req_int(r, 3)?,
        is_alert: flag(r, 4)?.unwrap_or(false),
        content: text(r, 5)?.unwrap_or_default(),
    })
}

fn b(r: &[ColumnData<'_>], i: usize) -> Result<bool> {
    Ok(flag(r, i)?.unwrap_or(false))
}

/// Adds one row of a snapshot query to the snapshot.
fn add_row(s: &mut Snapshot, table: &str, r: &[ColumnData<'_>]) -> Result<()> {
    match table {
        "tblPrincipalType" => {
            let id = req_int(r, 0)?;
            let t = PrincipalType {
                id,
                desc: req_text(r, 1)?,
                is_system_user: b(r, 2)?,
                is_user: b(r, 3)?,
                is_federated: b(r, 4)? || matches!(id, 6 | 7 | 11),
            };
            s.principal_types.insert(id, t);
        }
        "tblPrincipal" => {
            let p = Principal {
                id: req_int(r, 0)?,
                guid: req_text(r, 1)?.trim().to_ascii_lowercase(),
                uri: req_text(r, 2)?,
                name: text(r, 3)?,
                company: text(r, 4)?,
                email: text(r, 5)?,
                ad_path: text(r, 6)?,
                upn: text(r, 7)?,
                disabled: b(r, 8)?,
                type_id: req_int(r, 9)?,
                added_on: req_int(r, 10)?,
                updated_on: req_int(r, 11)?,
            };
            s.principals.insert(p.id, p);
        }
        "tblPrincipalAffiliations" => s.affiliations.push((req_int(r, 0)?, req_int(r, 1)?)),
        "tblNode" => {
            let n = Node {
                id: req_int(r, 0)?,
                guid: req_text(r, 1)?.trim().to_ascii_lowercase(),
                parent_id: int(r, 2)?,
                is_category: b(r, 3)?,
                name: req_text(r, 4)?,
                desc: text(r, 5)?.unwrap_or_default(),
                topic: text(r, 6)?.filter(|t| !t.trim().is_empty()),
                override_member: b(r, 7)?,
                invite: flag(r, 8)?,
                logged: flag(r, 9)?,
                file_post: flag(r, 10)?,
                disabled: b(r, 11)?,
                behavior: req_int(r, 12)?,
                visibility: int(r, 13)?,
                scope_definer_id: int(r, 14)?,
                role_definer_id: int(r, 15)?,
                siop_id: text(r, 16)?.map(|g| g.trim().to_ascii_lowercase()),
                added_by: int(r, 17)?.unwrap_or(1),
                added_on: int(r, 18)?.unwrap_or(0),
                updated_by: int(r, 19)?.unwrap_or(1),
                updated_on: int(r, 20)?.unwrap_or(0),
            };
            s.nodes.insert(n.id, n);
        }
        "tblRoleType" => {
            s.role_types.insert(req_int(r, 0)?, req_text(r, 1)?);
        }
        "tblScopePrincipal" => s.scopes.push(ScopeRow {
            node_id: req_int(r, 0)?,
            prin_id: req_int(r, 1)?,
            denied: b(r, 2)?,
        }),
        "tblPrincipalRole" => s.roles.push(RoleRow {
            node_id: req_int(r, 0)?,
            prin_id: req_int(r, 1)?,
            role_type_id: req_int(r, 2)?,
            honors_scope: b(r, 3)?,
        }),
        "tblSiopWhiteList" => s.addins.push(Addin {
            id: req_text(r, 0)?.trim().to_ascii_lowercase(),
            name: req_text(r, 1)?,
            url: req_text(r, 2)?,
        }),
        "tblPrincipalInvites" => s.invites.push(Invite {
            prin_id: req_int(r, 0)?,
            inv_id: req_int(r, 1)?,
            node_id: req_int(r, 2)?,
            created_on: req_text(r, 3)?,
        }),
        other => anyhow::bail!("no reader for {other}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_decode_from_sql_server_cell_types() {
        let mut s = Snapshot::default();
        let g = tiberius::Uuid::parse_str("70B3427B-2A75-5EEF-805F-02CE5DD28DFE").unwrap();
        let node: Vec<ColumnData<'static>> = vec![
            ColumnData::I32(Some(7)),
            ColumnData::Guid(Some(g)),
            ColumnData::I32(Some(1)),
            ColumnData::Bit(Some(false)),
            ColumnData::String(Some("Sales".into())),
            ColumnData::String(Some("d".into())),
            ColumnData::String(Some("  ".into())),
            ColumnData::Bit(Some(true)),
            ColumnData::Bit(None),
            ColumnData::Bit(Some(true)),
            ColumnData::Bit(None),
            ColumnData::Bit(Some(false)),
            ColumnData::I16(Some(5)),
            ColumnData::I16(None),
            ColumnData::I32(Some(1)),
            ColumnData::I32(Some(1)),
            ColumnData::Guid(None),
            ColumnData::I32(Some(2)),
            ColumnData::I64(Some(634294368000000000)),
            ColumnData::I32(Some(2)),
            ColumnData::I64(Some(634294368000000001)),
        ];
        add_row(&mut s, "tblNode", &node).unwrap();
        let n = &s.nodes[&7];
        assert_eq!(n.guid, "70b3427b-2a75-5eef-805f-02ce5dd28dfe");
        assert_eq!(
            (n.is_category, n.topic.clone(), n.override_member, n.invite, n.logged),
            (false, None, true, None, Some(true))
        );
        assert_eq!(
            (n.behavior, n.visibility, n.siop_id.clone(), n.updated_on),
            (5, None, None, 634294368000000001)
        );
        let chat = chat_from(&[
            ColumnData::I32(Some(7)),
            ColumnData::I64(Some(3)),
            ColumnData::I64(Some(9)),
            ColumnData::I32(Some(2)),
            ColumnData::Bit(Some(true)),
            ColumnData::String(Some("héllo\n😀".into())),
        ])
        .unwrap();
        assert_eq!(
            (chat.channel_id, chat.chat_id, chat.is_alert, chat.content.as_str()),
            (7, 3, true, "héllo\n😀")
        );
        assert!(add_row(&mut s, "tblRoleType", &[ColumnData::I32(None), ColumnData::String(None)])
            .is_err());
    }

    #[test]
    fn select_lists_are_explicit_with_fallbacks() {
        let all = snapshot_sql(&Present {
            federated: true,
            display_name: true,
            denied: true,
            honors: true,
            node: [true; 5],
        });
        let none = snapshot_sql(&Present::default());
        assert_eq!(all.len(), none.len());
        assert!(
            all.iter().chain(&none).all(|(_, s)| !s.contains('*')),
            "explicit column lists only"
        );
        assert!(none.iter().any(|(_, s)| s.contains("SELECT scopeNodeID, scopePrinID, 0 FROM")));
    }
}
