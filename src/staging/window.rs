//! What an incremental verify reads of the staged side (`verify::window`): a room's highest
//! staged `chatId` up to a cut, the rows past it, and the kinds of the extract runs since a
//! given run.

use anyhow::{Context, Result};
use sqlx::Row;

use super::{ChatRef, Workspace};

impl Workspace {
    /// The highest staged `chatId` of `room` up to `upto`: one seek on `snap_chat`'s
    /// primary key (its rows are counted by the manifest, not here: a count would read
    /// every row of this table without rowid).
    pub fn staged_max_upto(&self, room: i64, upto: i64) -> Result<Option<i64>> {
        self.readers
            .with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT MAX(chat_id) FROM snap_chat WHERE channel_id = ?1 AND chat_id <= ?2",
                )?;
                Ok(st.query_row((room, upto), |r| r.get::<_, Option<i64>>(0))?)
            })
            .context("reading the staged history")
    }

    /// Streams the staged rows of `room` with `chatId > after`, in `chatId` order, borrowed
    /// as [`Workspace::for_each_chat_ref`] does.
    pub fn for_each_chat_ref_after(
        &self,
        room: i64,
        after: i64,
        mut f: impl FnMut(ChatRef<'_>),
    ) -> Result<()> {
        self.readers
            .with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT channel_id, chat_id, chat_date, user_id, is_alert, content FROM snap_chat \
                     WHERE channel_id = ?1 AND chat_id > ?2 ORDER BY chat_id",
                )?;
                let mut rows = st.query((room, after))?;
                while let Some(r) = rows.next()? {
                    let content = crate::db::lite::bytes(r, 5)?;
                    f(ChatRef {
                        channel_id: r.get(0)?,
                        chat_id: r.get(1)?,
                        chat_date: r.get(2)?,
                        user_id: r.get(3)?,
                        is_alert: r.get(4)?,
                        content,
                    });
                }
                Ok(())
            })
            .context("reading the staged history")
    }

    /// The kinds (`full`, `delta`, …) of the extract runs started after run `after`, in
    /// order, finished or not: a verify proven up to run `after` may only be extended
    /// incrementally when every one of them is a finished `delta`.
    pub async fn extract_kinds_after(&self, after: i64) -> Result<Vec<(String, bool)>> {
        let rows = sqlx::query(
            "SELECT kind, finished_at IS NOT NULL FROM extract_run WHERE run_id > ?1 ORDER BY run_id",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<bool, _>(1)?))).collect()
    }
}
