//! Rendering a wave's rollback script in T-SQL, PostgreSQL or SQLite.
//!
//! Every script has the same shape: begin → fill temporary key tables (integer keys and
//! GUID literals only, ≤ 1000 rows per INSERT, so thousands of keys stay valid) →
//! guards → deletes in dependency order, each reading the key tables → drop the key
//! tables → commit. Only the transaction statements, key-table DDL and guards differ
//! per dialect; they are the `match`es below.

use std::fmt::Write;

use super::{Guard, NewMessages, WaveKeys};
use crate::db::Dialect;

/// Rows per multi-row INSERT into a key table: SQL Server's limit for a VALUES list.
const ROWS_PER_INSERT: usize = 1000;

/// The temporary tables holding the wave's keys, read by every later statement.
#[derive(Debug, Clone, Copy)]
enum KeyTable {
    Node,
    Prin,
    Addin,
}

impl KeyTable {
    const ALL: [KeyTable; 3] = [KeyTable::Node, KeyTable::Prin, KeyTable::Addin];

    fn name(self, d: Dialect) -> String {
        let base = match self {
            KeyTable::Node => "gcm_rb_node",
            KeyTable::Prin => "gcm_rb_prin",
            KeyTable::Addin => "gcm_rb_addin",
        };
        // SQL Server: a #local temporary table, private to the session.
        if d == Dialect::Mssql {
            format!("#{base}")
        } else {
            base.to_string()
        }
    }

    fn create(self, d: Dialect) -> String {
        let ty = match (self, d) {
            (KeyTable::Addin, Dialect::Mssql) => "UNIQUEIDENTIFIER",
            (KeyTable::Addin, Dialect::Postgres) => "uuid",
            (KeyTable::Addin, Dialect::Sqlite) => "TEXT",
            (_, Dialect::Sqlite) => "INTEGER",
            _ => "BIGINT",
        };
        let temp = if d == Dialect::Mssql { "" } else { "TEMP " };
        format!("CREATE {temp}TABLE {} (id {ty} NOT NULL PRIMARY KEY)", self.name(d))
    }
}

/// A script being written.
struct Script {
    d: Dialect,
    text: String,
    /// SQLite only: appended to every DELETE (see `render`).
    gate: String,
}

impl Script {
    fn stmt(&mut self, sql: &str) {
        self.text.push_str(sql);
        self.text.push_str(";\n");
    }

    fn comment(&mut self, line: &str) {
        let _ = writeln!(self.text, "-- {line}");
    }

    fn insert_keys(&mut self, t: KeyTable, values: &[String]) {
        for chunk in values.chunks(ROWS_PER_INSERT) {
            let mut sql = format!("INSERT INTO {} (id) VALUES", t.name(self.d));
            for (i, v) in chunk.iter().enumerate() {
                let sep = if i == 0 {
                    "\n  "
                } else if i % 16 == 0 {
                    ",\n  "
                } else {
                    ", "
                };
                let _ = write!(sql, "{sep}({v})");
            }
            self.stmt(&sql);
        }
    }

    /// A check that aborts the script when `violations` returns any row.
    fn guard(&mut self, g: Guard, violations: &str) {
        let sql = match self.d {
            // SQL Server 2008 R2 has no THROW, and RAISERROR does not end the batch even
            // under XACT_ABORT: the guard raises (severity 16: `sqlcmd -b` exits 1, the
            // client sees the token), rolls the transaction back and RETURNs, which ends
            // the one-batch script before any DELETE. The state numbers the guard.
            Dialect::Mssql => {
                let state = 1 + Guard::ALL.iter().position(|x| *x == g).unwrap_or(0);
                format!(
                    "IF EXISTS (\n{violations})\nBEGIN\n  RAISERROR (N'{}', 16, {state})\n  ROLLBACK TRANSACTION\n  RETURN\nEND",
                    g.message()
                )
            }
            Dialect::Postgres => {
                format!("DO $$ BEGIN\n  IF EXISTS (\n{violations}) THEN\n    RAISE EXCEPTION '{}';\n  END IF;\nEND $$", g.message())
            }
            // The guard column's CHECK fails the INSERT, and names the guard in the error.
            Dialect::Sqlite => {
                format!("INSERT INTO gcm_guard ({}) SELECT EXISTS (\n{violations})", g.token())
            }
        };
        self.stmt(&sql);
    }

    /// Gives principal `p` its `tblLastInviteId` from before the wave, never below an
    /// invitation that remains (none and no row before: no row).
    fn restore_last_invite(&mut self, p: i64, before: Option<i64>) {
        self.delete("tblLastInviteId", &format!("prinID = {p}"));
        let before = before.map_or(String::new(), |v| format!(" UNION ALL SELECT {v}"));
        let sql = format!(
            "INSERT INTO tblLastInviteId (prinID, lastInviteID) SELECT {p}, m FROM \
             (SELECT MAX(v) AS m FROM (SELECT invID AS v FROM tblPrincipalInvites WHERE prinID = {p}{before}) \
             AS x) AS y WHERE m IS NOT NULL{}",
            self.gate
        );
        self.stmt(&sql);
    }

    fn delete(&mut self, table: &str, cond: &str) {
        let sql = format!("DELETE FROM {table} WHERE {cond}{}", self.gate);
        self.stmt(&sql);
    }
}

/// Renders the rollback script of `keys` in dialect `d`.
pub fn render(keys: &WaveKeys, d: Dialect, new_messages: NewMessages) -> String {
    let guards: Vec<Guard> = Guard::ALL
        .into_iter()
        .filter(|g| *g != Guard::NewMessages || new_messages == NewMessages::Refuse)
        .collect();
    let mut s = Script { d, text: String::new(), gate: String::new() };
    header(&mut s, keys, &guards);
    match d {
        Dialect::Mssql => {
            s.stmt("SET XACT_ABORT ON");
            s.stmt("BEGIN TRANSACTION");
        }
        Dialect::Postgres => {
            s.stmt("BEGIN");
            // Nobody posts between the new-message guard and the deletes.
            s.stmt("LOCK TABLE tblChat IN SHARE ROW EXCLUSIVE MODE");
        }
        // IMMEDIATE takes the write lock now, so no writer slips in after the guards.
        Dialect::Sqlite => s.stmt("BEGIN IMMEDIATE"),
    }

    s.comment("The keys the load inserted.");
    for t in KeyTable::ALL {
        s.stmt(&t.create(d));
    }
    let ints = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>();
    s.insert_keys(KeyTable::Node, &ints(&keys.nodes));
    s.insert_keys(KeyTable::Prin, &ints(&keys.principals));
    s.insert_keys(
        KeyTable::Addin,
        &keys.addins.iter().map(|g| format!("'{g}'")).collect::<Vec<_>>(),
    );

    s.comment("Guards: each aborts the whole script before anything is deleted.");
    let (n, p, a) = (KeyTable::Node.name(d), KeyTable::Prin.name(d), KeyTable::Addin.name(d));
    if d == Dialect::Sqlite {
        let cols: Vec<String> = guards
            .iter()
            .map(|g| format!("{0} INTEGER CONSTRAINT {0} CHECK ({0} = 0)", g.token()))
            .collect();
        s.stmt(&format!("CREATE TEMP TABLE gcm_guard ({})", cols.join(", ")));
    }
    let runs: Vec<String> = keys.runs.iter().map(|r| format!("'{r}'")).collect();
    let runs = format!("IN ({})", runs.join(", "));
    for g in &guards {
        let q = match g {
            Guard::NotLoaded => format!(
                "  SELECT 1 FROM (SELECT COUNT(*) AS n FROM gcmigrate_ledger WHERE kind = 'config' AND run_id {runs}) AS g WHERE g.n <> {}",
                keys.runs.len()
            ),
            Guard::InUse => in_use(&n, &p, &a, keys),
            Guard::NewMessages => new_messages_query(d, &n),
        };
        s.guard(*g, &q);
    }
    match new_messages {
        NewMessages::Refuse => {}
        NewMessages::Discard => {
            s.comment("--discard-new-messages: messages posted after the cutover are deleted too.")
        }
    }
    if d == Dialect::Sqlite {
        // The sqlite3 shell goes on after a failed statement unless run with -bail: every
        // DELETE therefore also requires that every guard row went in.
        s.gate = format!("\n  AND (SELECT COUNT(*) FROM gcm_guard) = {}", guards.len());
    }

    s.comment("History, then configuration, children before parents.");
    let in_nodes = format!("IN (SELECT id FROM {n})");
    let in_prins = format!("IN (SELECT id FROM {p})");
    s.delete("tblChat", &format!("channelId {in_nodes}"));
    s.delete("tblLastChatId", &format!("nodeID {in_nodes}"));
    s.delete("tblPrincipalInvites", &format!("nodeID {in_nodes}"));
    for (p, before) in &keys.last_invites {
        s.restore_last_invite(*p, *before);
    }
    s.delete("tblPrincipalRole", &format!("prinRoleNodeID {in_nodes}"));
    s.delete("tblScopePrincipal", &format!("scopeNodeID {in_nodes}"));
    for (n, p, t) in &keys.roles {
        let cond =
            format!("prinRoleNodeID = {n} AND prinRolePrinID = {p} AND prinRoleTypeID = {t}");
        s.delete("tblPrincipalRole", &cond);
    }
    for (n, p) in &keys.scopes {
        s.delete("tblScopePrincipal", &format!("scopeNodeID = {n} AND scopePrinID = {p}"));
    }
    s.delete("tblNode", &format!("nodeID {in_nodes} AND nodeType = 0"));
    s.delete("tblNode", &format!("nodeID {in_nodes}"));
    s.delete("tblSiopWhiteList", &format!("siopID IN (SELECT id FROM {a})"));
    s.delete("tblPrincipalAffiliations", &format!("principalID {in_prins}"));
    s.delete("tblPrincipal", &format!("prinID {in_prins}"));
    s.delete("gcmigrate_ledger", &format!("kind = 'chat' AND room_id {in_nodes}"));
    s.delete("gcmigrate_ledger", &format!("kind = 'config' AND run_id {runs}"));
    if !keys.cutovers.is_empty() {
        // The cutover mark goes with the wave: reloaded, it is staged again.
        let cut: Vec<String> = keys.cutovers.iter().map(|r| format!("'{r}'")).collect();
        s.delete(
            "gcmigrate_ledger",
            &format!("kind = 'cutover' AND run_id IN ({})", cut.join(", ")),
        );
    }

    for t in KeyTable::ALL {
        s.stmt(&format!("DROP TABLE {}", t.name(d)));
    }
    match d {
        Dialect::Mssql => s.stmt("COMMIT TRANSACTION"),
        Dialect::Sqlite => {
            s.stmt("DROP TABLE gcm_guard");
            s.stmt("COMMIT");
        }
        Dialect::Postgres => s.stmt("COMMIT"),
    }
    s.text
}

fn header(s: &mut Script, keys: &WaveKeys, guards: &[Guard]) {
    s.comment(&format!(
        "gcmigrate rollback script ({}) of load runs {}.",
        s.d.name(),
        keys.runs.join(", ")
    ));
    s.comment(&format!(
        "Removes, in one transaction, the {} nodes (categories and rooms) with their history, roles, scopes and",
        keys.nodes.len()
    ));
    s.comment(&format!(
        "invitations, the {} principals and {} add-ins those runs inserted, and their ledger rows.",
        keys.principals.len(),
        keys.addins.len()
    ));
    let tokens: Vec<&str> = guards.iter().map(|g| g.token()).collect();
    s.comment(&format!("Refuses before deleting anything when: {}.", tokens.join(", ")));
    s.comment(match s.d {
        Dialect::Mssql => "Run it as one batch (it has no GO), e.g. sqlcmd -b -d mgc -i FILE",
        Dialect::Postgres => "Run it e.g. with psql -v ON_ERROR_STOP=1 -d mgc -f FILE",
        Dialect::Sqlite => "Run it e.g. with sqlite3 -bail mgc.db < FILE",
    });
}

/// Rows outside the wave that use what the wave inserted.
fn in_use(n: &str, p: &str, a: &str, keys: &WaveKeys) -> String {
    // The role and scope rows the wave added to nodes it did not insert are its own: they
    // are deleted by key below, so they are no outside use of its principals.
    let own_roles: String = keys
        .roles
        .iter()
        .map(|(n, p, t)| {
            format!(
                " AND NOT (r.prinRoleNodeID = {n} AND r.prinRolePrinID = {p} AND r.prinRoleTypeID = {t})"
            )
        })
        .collect();
    let own_scopes: String = keys
        .scopes
        .iter()
        .map(|(n, p)| format!(" AND NOT (s.scopeNodeID = {n} AND s.scopePrinID = {p})"))
        .collect();
    format!(
        "  SELECT 1 FROM tblNode AS o WHERE o.nodeID NOT IN (SELECT id FROM {n})\n    \
         AND (o.parentID IN (SELECT id FROM {n}) OR o.siopID IN (SELECT id FROM {a})\n      \
         OR o.nodeAddedBy IN (SELECT id FROM {p}) OR o.nodeUpdatedBy IN (SELECT id FROM {p}))\n  \
         UNION ALL SELECT 1 FROM tblPrincipalRole AS r WHERE r.prinRolePrinID IN (SELECT id FROM {p}) \
         AND r.prinRoleNodeID NOT IN (SELECT id FROM {n}){own_roles}\n  \
         UNION ALL SELECT 1 FROM tblScopePrincipal AS s WHERE s.scopePrinID IN (SELECT id FROM {p}) \
         AND s.scopeNodeID NOT IN (SELECT id FROM {n}){own_scopes}\n  \
         UNION ALL SELECT 1 FROM tblPrincipalInvites AS i WHERE i.prinID IN (SELECT id FROM {p}) \
         AND i.nodeID NOT IN (SELECT id FROM {n})\n  \
         UNION ALL SELECT 1 FROM tblPrincipalAffiliations AS f WHERE f.affiliationID IN (SELECT id FROM {p}) \
         AND f.principalID NOT IN (SELECT id FROM {p})\n  \
         UNION ALL SELECT 1 FROM tblChat AS c WHERE c.userId IN (SELECT id FROM {p}) \
         AND c.channelId NOT IN (SELECT id FROM {n})"
    )
}

/// Rooms holding more rows than the ledger says were written, or a `chatId` past the
/// last chunk: messages the migration did not write.
fn new_messages_query(d: Dialect, n: &str) -> String {
    // SQL Server: hold range locks on the wave's rooms until commit, so nobody posts
    // between this check and the delete.
    let hint = if d == Dialect::Mssql { " WITH (UPDLOCK, HOLDLOCK)" } else { "" };
    let ledger = "FROM gcmigrate_ledger AS l WHERE l.kind = 'chat' AND l.room_id = c.channelId";
    format!(
        "  SELECT 1 FROM tblChat AS c{hint} WHERE c.channelId IN (SELECT id FROM {n})\n  \
         GROUP BY c.channelId\n  \
         HAVING COUNT(*) > (SELECT COALESCE(SUM(l.rows_written), 0) {ledger})\n    \
         OR MAX(c.chatId) > (SELECT COALESCE(MAX(l.last_chat), 0) {ledger})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: i64) -> WaveKeys {
        WaveKeys {
            runs: vec!["20240101T000000.001-7".into()],
            nodes: (2..2 + n).collect(),
            principals: (2..2 + n).collect(),
            addins: vec!["0f8fad5b-d9cb-469f-a165-70867728950e".into()],
            cutovers: Vec::new(),
            roles: vec![(1, 2, 3)],
            scopes: vec![(1, 2)],
            last_invites: vec![(2, None), (3, Some(9))],
        }
    }

    #[test]
    fn the_cutover_row_goes_with_the_wave() {
        let mut k = keys(1);
        let plain = render(&k, Dialect::Sqlite, NewMessages::Refuse);
        assert!(!plain.contains("kind = 'cutover'"), "no cutover, no delete of one");
        k.cutovers = vec!["cutover-20260101T000000.000-9".into()];
        for d in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mssql] {
            let text = render(&k, d, NewMessages::Refuse);
            assert!(
                text.contains("kind = 'cutover' AND run_id IN ('cutover-20260101T000000.000-9')"),
                "{text}"
            );
        }
    }

    #[test]
    fn chunks_long_key_lists() {
        let text = render(&keys(2500), Dialect::Mssql, NewMessages::Refuse);
        assert_eq!(text.matches("INSERT INTO #gcm_rb_node").count(), 3);
        assert_eq!(text.matches("INSERT INTO #gcm_rb_prin").count(), 3);
    }

    #[test]
    fn discarding_drops_only_the_new_message_guard() {
        for d in [Dialect::Mssql, Dialect::Postgres, Dialect::Sqlite] {
            let refuse = render(&keys(3), d, NewMessages::Refuse);
            let discard = render(&keys(3), d, NewMessages::Discard);
            assert!(
                refuse.contains(Guard::NewMessages.token()) && refuse.contains("HAVING COUNT(*)")
            );
            assert!(!discard.contains("HAVING COUNT(*)"));
            assert!(
                discard.contains(Guard::InUse.token())
                    && discard.contains(Guard::NotLoaded.token())
            );
        }
    }

    #[test]
    fn sqlite_deletes_are_gated_on_every_guard() {
        let text = render(&keys(3), Dialect::Sqlite, NewMessages::Refuse);
        let deletes = text.matches("DELETE FROM").count();
        // 12 by key table, one each for the role and scope row added to a foreign node, and
        // one per principal whose tblLastInviteId is restored (then its INSERT, gated too).
        assert_eq!(deletes, 16);
        assert_eq!(text.matches("(SELECT COUNT(*) FROM gcm_guard) = 3").count(), deletes + 2);
    }
}
