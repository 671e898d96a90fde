//! What the manifest check proved, kept so that it is not proven again: the state of
//! `history.db` (its [`stamp`](crate::db::sqlite_file::stamp): length, modification time,
//! inode, SQLite's change counter) in which a check found exactly the manifest's rows.
//!
//! [`Workspace::check_manifest`] counts every staged row per room, a scan of the whole
//! history (1.7 s at 10 M messages). The first stage after an extract does it and records
//! the state it proved; a later stage that finds `history.db` in that very state skips the
//! scan. Any write to the file (an extract, a hand edit, a copy over it, a truncation)
//! changes the state, and the next stage counts everything again.
//!
//! A delta extract proves its own result when it started from a proven state: it counts,
//! per room, only the rows past the room's previous highest `chatId` and compares them
//! with what it read from the source (the rows before are the proven ones, and the
//! workspace lock kept every other writer out). So the cutover window counts the delta,
//! not the history.

use anyhow::Result;

use super::manifest::Digests;
use super::Workspace;

/// `meta` key of the proven state: `<extract run> <stamp>`.
const KEY: &str = "history_proven";

impl Workspace {
    /// The state of `history.db` now, as the manifest of extract run `run_id` describes it.
    pub(super) fn history_state(&self, run_id: i64) -> Option<String> {
        crate::db::sqlite_file::stamp(&self.history_path()).map(|s| format!("{run_id} {s}"))
    }

    /// Whether a check proved `state` (a state that cannot be read never is).
    pub(super) async fn history_proven(&self, state: Option<&str>) -> Result<bool> {
        let Some(state) = state else { return Ok(false) };
        Ok(self.meta(KEY).await?.as_deref() == Some(state))
    }

    /// Whether the current `history.db` is the proven state of the current manifest.
    pub(super) async fn history_proven_now(&self) -> Result<bool> {
        match self.manifest().await? {
            Some(h) => self.history_proven(self.history_state(h.run_id).as_deref()).await,
            None => Ok(false),
        }
    }

    /// Records `state` as proven. A cache: when it cannot be written (a read-only
    /// workspace), the next stage simply counts everything again.
    pub(super) async fn prove_history(&self, state: Option<String>) {
        if let Some(s) = state {
            let _ = self.set_meta(KEY, &s).await;
        }
    }

    /// After delta extract `run_id` committed over a proven state: proves the new state
    /// when every room holds, past its previous highest `chatId` (`before`), exactly the
    /// rows and highest `chatId` the source gave (`delta`), and the side table held no
    /// other row (`aside`: its row count). Otherwise leaves the state unproven.
    pub(super) async fn prove_delta(
        &self,
        run_id: i64,
        before: &Digests,
        delta: &Digests,
        aside: u64,
    ) -> Result<()> {
        let state = self.history_state(run_id);
        let read: u64 = delta.values().map(|d| d.rows).sum();
        if state.is_none() || aside != read {
            return Ok(());
        }
        let whole = crate::db::lite::blocking(|| {
            self.readers.with(|c| {
                let mut st = c.prepare(
                    "SELECT COUNT(*), MAX(chat_id) FROM snap_chat \
                     WHERE channel_id = ?1 AND chat_id > ?2",
                )?;
                for (room, d) in delta.iter().filter(|(_, d)| d.rows > 0) {
                    let past =
                        before.get(room).filter(|b| b.rows > 0).map_or(i64::MIN, |b| b.max_chat_id);
                    let (n, max): (i64, Option<i64>) = st
                        .query_row(rusqlite::params![room, past], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    if (n as u64, max) != (d.rows, Some(d.max_chat_id)) {
                        return Ok(false);
                    }
                }
                Ok(true)
            })
        })?;
        if whole {
            self.prove_history(state).await;
        }
        Ok(())
    }
}
