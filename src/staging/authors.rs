//! The distinct authors of some rooms' staged messages, in one set-based query over
//! `history.db` (the rooms passed as one JSON array), never message by message in Rust:
//! what a pool's load needs to know which principals its messages reference.

use std::collections::BTreeSet;

use anyhow::{Context, Result};

use super::Workspace;

/// The distinct `user_id`s of `snap_chat` rows in the listed rooms, from `chat_date` on.
const AUTHORS: &str = "SELECT DISTINCT user_id FROM snap_chat \
    WHERE channel_id IN (SELECT value FROM json_each(?1)) AND chat_date >= ?2";

impl Workspace {
    /// The distinct authors of the staged messages of `rooms` (legacy `channelId`s) dated
    /// at or after `since` (ticks; `None`: every message).
    pub async fn authors_of(&self, rooms: &[i64], since: Option<i64>) -> Result<BTreeSet<i64>> {
        if rooms.is_empty() {
            return Ok(BTreeSet::new());
        }
        let list = serde_json::to_string(rooms)?;
        let since = since.unwrap_or(i64::MIN);
        crate::db::lite::blocking(|| {
            self.readers.with(|c| {
                let mut st = c.prepare(AUTHORS)?;
                let rows = st.query_map(rusqlite::params![list, since], |r| r.get(0))?;
                Ok(rows.collect::<rusqlite::Result<BTreeSet<i64>>>()?)
            })
        })
        .context("reading the authors of the staged history")
    }
}
