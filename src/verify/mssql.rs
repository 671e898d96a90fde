//! Verification against a SQL Server `mgc` (tiberius): the same id map, history
//! checksums, target model and invariant facts as the sqlx path reads, through one
//! session. Only the SQL differs (T-SQL, `@P1`, `COUNT_BIG`); every comparison is the
//! shared code of `history.rs`, `target.rs` and `invariants.rs`.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};

use super::history::Rooms;
use super::invariants::ChatFacts;
use super::target::{Target, TargetNode, TargetPrincipal};
use super::RoomCheck;
use crate::db::mssql::{flag, int, req_int, req_text, text, Session};
use crate::db::DbUrl;
use crate::error::bad_input;
use crate::load::IdMap;
use crate::mapping::legacy::{Affiliations, Role};
use crate::model::Snapshot;
use crate::plan::Plan;
use crate::staging::Workspace;

const LEDGER_CONFIGS: &str =
    "SELECT body FROM gcmigrate_ledger WHERE kind = N'config' ORDER BY written_at";
const PRINCIPAL_TYPES: &str = "SELECT ptypeID, ptypeIsUser FROM tblPrincipalType";
const PRINCIPALS: &str =
    "SELECT prinID, prinUri, prinDisabled, prinTypeID, prinGuid FROM tblPrincipal";
const AFFILIATIONS: &str = "SELECT principalID, affiliationID FROM tblPrincipalAffiliations";
const NODES: &str = "SELECT nodeID, nodeGuid, parentID, nodeType, nodeName, disabled, behavior, \
    visibility FROM tblNode";
const SCOPES: &str = "SELECT scopeNodeID, scopePrinID, scopeIsDenied FROM tblScopePrincipal";
// Role names, never ids (MAPPING.md §1): a target may number its role types differently.
const ROLES: &str = "SELECT r.prinRoleNodeID, r.prinRolePrinID, t.rtypeDesc \
    FROM tblPrincipalRole AS r JOIN tblRoleType AS t ON t.rtypeID = r.prinRoleTypeID";
const URIS: &str = "SELECT prinID, prinUri FROM tblPrincipal";
// Authors become URIs through the map read with URIS, as in history.rs.
const ROOM_HISTORY: &str = "SELECT chatId, chatDate, userId, isAlert, content FROM tblChat \
    WHERE channelId = @P1 ORDER BY chatId";
const EXISTING_NODES: &str = "SELECT nodeID, nodeType, nodeName FROM tblNode WHERE nodeID <> 1";
const MAX_CHAT: &str = "SELECT channelId, MAX(chatId) FROM tblChat GROUP BY channelId";
const LAST_CHAT: &str = "SELECT nodeID, lastChatID FROM tblLastChatId";
const ORPHAN_CHANNELS: &str = "SELECT c.channelId, COUNT_BIG(*) FROM tblChat AS c \
    LEFT JOIN tblNode AS n ON n.nodeID = c.channelId AND n.nodeType = 0 \
    WHERE n.nodeID IS NULL GROUP BY c.channelId";
const ORPHAN_AUTHORS: &str = "SELECT c.channelId, c.userId, COUNT_BIG(*) FROM tblChat AS c \
    LEFT JOIN tblPrincipal AS p ON p.prinID = c.userId \
    WHERE p.prinID IS NULL GROUP BY c.channelId, c.userId";

/// Every T-SQL statement verify sends, named, for the parse tests.
pub fn all_statements() -> Vec<(String, String)> {
    [
        ("verify: ledger configs", LEDGER_CONFIGS),
        ("verify: principal types", PRINCIPAL_TYPES),
        ("verify: principals", PRINCIPALS),
        ("verify: affiliations", AFFILIATIONS),
        ("verify: nodes", NODES),
        ("verify: scopes", SCOPES),
        ("verify: roles", ROLES),
        ("verify: principal URIs", URIS),
        ("verify: room history", ROOM_HISTORY),
        ("plan --target: existing nodes", EXISTING_NODES),
        ("verify: highest chatId", MAX_CHAT),
        ("verify: tblLastChatId", LAST_CHAT),
        ("verify: orphan channels", ORPHAN_CHANNELS),
        ("verify: orphan authors", ORPHAN_AUTHORS),
    ]
    .iter()
    .map(|(n, s)| (n.to_string(), s.to_string()))
    .collect()
}

/// A SQL Server mgc opened for verification.
pub struct Mgc {
    s: Session,
}

impl Mgc {
    /// Connects (a failure is one line and exit 3, within the connect timeout).
    pub async fn open(url: &DbUrl) -> Result<Mgc> {
        Ok(Mgc { s: Session::connect(url).await? })
    }

    /// The merged id map of the ledger; bad input (exit 2) when the database has no ledger.
    pub async fn ledger_map(&mut self) -> Result<IdMap> {
        if !self.s.has_columns("gcmigrate_ledger", "kind").await? {
            return Err(bad_input(format!(
                "SQL Server {} holds no gcmigrate ledger: nothing was loaded into it (is it the mgc \
                 database?)",
                self.s.label()
            )));
        }
        let rows = self.s.rows("reading gcmigrate_ledger", LEDGER_CONFIGS, &[]).await?;
        let bodies = rows.iter().map(|r| req_text(r, 0)).collect::<Result<Vec<_>>>()?;
        let maps: Result<Vec<IdMap>> =
            bodies.iter().map(|b| Ok(serde_json::from_str(b)?)).collect();
        Ok(crate::load::ledger::merge(maps?))
    }

    /// Every node but the root, as (nodeID, is a category, name), for `plan --target`;
    /// bad input (exit 2) when the database is not an mgc.
    pub async fn existing_nodes(&mut self) -> Result<Vec<(i64, bool, String)>> {
        let mut missing = Vec::new();
        for (table, cols) in crate::load::config::NEEDED {
            if !self.s.has_columns(table, cols).await? {
                missing.push(*table);
            }
        }
        if !missing.is_empty() {
            return Err(bad_input(format!(
                "SQL Server {} is not a Persistent Chat mgc database: missing or incomplete {}",
                self.s.label(),
                missing.join(", ")
            )));
        }
        let rows = self.s.rows("reading tblNode", EXISTING_NODES, &[]).await?;
        rows.iter().map(|r| Ok((req_int(r, 0)?, req_int(r, 1)? == 1, req_text(r, 2)?))).collect()
    }

    /// The target model (MAPPING.md §3); role lists only for `rooms`.
    pub async fn target(&mut self, rooms: &BTreeSet<i64>) -> Result<Target> {
        let mut t = Target::default();
        let mut user_types = HashMap::new();
        for r in self.s.rows("reading tblPrincipalType", PRINCIPAL_TYPES, &[]).await? {
            user_types.insert(req_int(&r, 0)?, flag(&r, 1)?.unwrap_or(false));
        }
        let s = &mut self.s;
        s.for_each("reading tblPrincipal", PRINCIPALS, &[], |r| {
            let id = req_int(&r, 0)?;
            let p = TargetPrincipal {
                uri: req_text(&r, 1)?,
                disabled: flag(&r, 2)?.unwrap_or(false),
                is_user: int(&r, 3)?.and_then(|ty| user_types.get(&ty).copied()).unwrap_or(false),
            };
            t.by_guid.insert(req_text(&r, 4)?.to_ascii_lowercase(), id);
            t.by_uri.insert(p.uri.to_ascii_lowercase(), id);
            t.principals.insert(id, p);
            Ok(())
        })
        .await?;
        let mut pairs = Vec::new();
        s.for_each("reading tblPrincipalAffiliations", AFFILIATIONS, &[], |r| {
            pairs.push((req_int(&r, 0)?, req_int(&r, 1)?));
            Ok(())
        })
        .await?;
        t.affs = Affiliations::build(&pairs, t.principals.keys().copied());
        s.for_each("reading tblNode", NODES, &[], |r| {
            let node = TargetNode {
                guid: req_text(&r, 1)?.to_ascii_lowercase(),
                parent: int(&r, 2)?.unwrap_or(1),
                is_category: req_int(&r, 3)? == 1,
                name: req_text(&r, 4)?,
                disabled: flag(&r, 5)?.unwrap_or(false),
                behavior: req_int(&r, 6)?,
                visibility: req_int(&r, 7)?,
            };
            t.nodes.insert(req_int(&r, 0)?, node);
            Ok(())
        })
        .await?;
        s.for_each("reading tblScopePrincipal", SCOPES, &[], |r| {
            let scope = t.scopes.entry(req_int(&r, 0)?).or_default();
            let list =
                if flag(&r, 2)?.unwrap_or(false) { &mut scope.denied } else { &mut scope.allowed };
            list.insert(req_int(&r, 1)?);
            Ok(())
        })
        .await?;
        s.for_each("reading tblPrincipalRole", ROLES, &[], |r| {
            let node = req_int(&r, 0)?;
            if !rooms.contains(&node) {
                return Ok(());
            }
            let lists = t.lists.entry(node).or_default();
            let prin = req_int(&r, 1)?;
            match Role::from_desc(&req_text(&r, 2)?) {
                Some(Role::Member) => lists.members.insert(prin),
                Some(Role::Manager) => lists.managers.insert(prin),
                Some(Role::Voiced) => lists.presenters.insert(prin),
                Some(Role::Creator) | None => false,
            };
            Ok(())
        })
        .await?;
        Ok(t)
    }

    /// What the history invariants need from `tblChat` and `tblLastChatId`.
    pub async fn chat_facts(&mut self) -> Result<ChatFacts> {
        let mut f = ChatFacts::default();
        for r in self.s.rows("reading the highest chatId per room", MAX_CHAT, &[]).await? {
            f.max_chat.insert(req_int(&r, 0)?, req_int(&r, 1)?);
        }
        for r in self.s.rows("reading tblLastChatId", LAST_CHAT, &[]).await? {
            f.last_rows.entry(req_int(&r, 0)?).or_default().push(req_int(&r, 1)?);
        }
        for r in self.s.rows("checking tblChat.channelId", ORPHAN_CHANNELS, &[]).await? {
            f.orphan_channels.push((req_int(&r, 0)?, req_int(&r, 1)?));
        }
        for r in self.s.rows("checking tblChat.userId", ORPHAN_AUTHORS, &[]).await? {
            f.orphan_authors.push((req_int(&r, 0)?, req_int(&r, 1)?, req_int(&r, 2)?));
        }
        Ok(f)
    }

    /// Per-room counts and checksums, as `history::check` computes them for sqlx targets.
    pub async fn history(
        &mut self,
        ws: &Workspace,
        plan: &Plan,
        snap: &Snapshot,
        map: &IdMap,
        wave: Option<&str>,
    ) -> Result<Vec<RoomCheck>> {
        let mut uris = HashMap::new();
        self.s
            .for_each("reading tblPrincipal", URIS, &[], |r| {
                uris.insert(req_int(&r, 0)?, req_text(&r, 1)?);
                Ok(())
            })
            .await?;
        let rooms = Rooms::new(ws, plan, snap, map, uris);
        let mut out = Vec::new();
        for room in plan.rooms_in(wave) {
            // As in history.rs: checksums only, and a second pass keeping (chatId, hash)
            // pairs for a room that disagrees.
            for collect in [false, true] {
                let mut pass = crate::db::lite::blocking(|| rooms.source_pass(room, collect))?;
                if let Some(id) = pass.target_id() {
                    // channelId is an int column: an int parameter keeps the index seek.
                    let id = i32::try_from(id).context("a target nodeID beyond int")?;
                    self.s
                        .for_each("reading tblChat", ROOM_HISTORY, &[&id], |r| {
                            let content = text(&r, 4)?.unwrap_or_default();
                            pass.target_row(&rooms.target_key(
                                req_int(&r, 0)?,
                                req_int(&r, 1)?,
                                req_int(&r, 2)?,
                                flag(&r, 3)?.unwrap_or(false),
                                content.as_bytes(),
                            ));
                            Ok(())
                        })
                        .await?;
                }
                if let Some(c) = pass.finish() {
                    out.push(c);
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Ends the session.
    pub async fn close(self) {
        self.s.close().await;
    }
}
