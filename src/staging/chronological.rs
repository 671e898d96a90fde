//! The staged history of one room in time order (`chatDate`, then `chatId`), streamed:
//! the compliance export writes conversations in the order their messages were posted,
//! and cuts them into day or month slices without ever holding a room in memory (SQLite's
//! sorter spills to its temporary files when a room is larger than its cache).

use anyhow::{Context, Result};

use super::{ChatRef, Workspace};

impl Workspace {
    /// Streams the staged history of one room ordered by (`chatDate`, `chatId`) to `f`,
    /// borrowing each row (the content as stored); the first error `f` returns stops the
    /// stream and is returned.
    pub fn for_each_chat_by_date(
        &self,
        room: i64,
        mut f: impl FnMut(ChatRef<'_>) -> Result<()>,
    ) -> Result<()> {
        self.readers
            .with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT channel_id, chat_id, chat_date, user_id, is_alert, content FROM snap_chat \
                     WHERE channel_id = ?1 ORDER BY chat_date, chat_id",
                )?;
                let mut rows = st.query([room])?;
                while let Some(r) = rows.next()? {
                    let chat = ChatRef {
                        channel_id: r.get(0)?,
                        chat_id: r.get(1)?,
                        chat_date: r.get(2)?,
                        user_id: r.get(3)?,
                        is_alert: r.get(4)?,
                        content: crate::db::lite::bytes(r, 5)?,
                    };
                    f(chat)?;
                }
                Ok(())
            })
            .context("while exporting the staged history")
    }
}
