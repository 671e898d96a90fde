//! The distinct authors of some rooms' staged messages: what a pool's load needs to know
//! which principals its messages reference. Read from the per-(room, author) counts
//! (`author_cache.rs`), which a load in the cutover window extends by the delta instead of
//! scanning the whole staged history again.

use std::collections::{BTreeSet, HashSet};

use anyhow::Result;

use super::Workspace;

impl Workspace {
    /// The distinct authors of the staged messages of `rooms` (legacy `channelId`s) that
    /// are not before `since` (ticks; `None`: every message). A message with a date outside
    /// .NET's range counts as not before it: it is rejected, and its author is known.
    pub async fn authors_of(&self, rooms: &[i64], since: Option<i64>) -> Result<BTreeSet<i64>> {
        if rooms.is_empty() {
            return Ok(BTreeSet::new());
        }
        let rooms: HashSet<i64> = rooms.iter().copied().collect();
        let counts = self.author_counts(since).await?;
        Ok(counts
            .iter()
            .filter(|a| rooms.contains(&a.channel_id) && a.total > a.before_since)
            .map(|a| a.user_id)
            .collect())
    }
}
