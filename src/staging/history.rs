//! Reading the staged history back (`history.db`): one room at a time in `chatId` order,
//! owned or borrowed, and the per-(room, author) counts `plan` needs.

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::Workspace;
use crate::model::Chat;
use crate::plan::messages::AuthorCounts;

/// A staged message borrowed from the row being read.
#[derive(Debug, Clone, Copy)]
pub struct ChatRef<'a> {
    /// `channelId`.
    pub channel_id: i64,
    /// `chatId`.
    pub chat_id: i64,
    /// `chatDate` (ticks).
    pub chat_date: i64,
    /// `userId`.
    pub user_id: i64,
    /// `isAlert`.
    pub is_alert: bool,
    /// `content`, as stored.
    pub content: &'a [u8],
}

impl Workspace {
    /// Staged history of one room with `chatId` in (`after`, ...], at most `limit` rows.
    pub async fn chats_after(&self, room: i64, after: i64, limit: i64) -> Result<Vec<Chat>> {
        crate::db::lite::blocking(|| {
            self.readers.with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT channel_id, chat_id, chat_date, user_id, is_alert, content FROM snap_chat \
                     WHERE channel_id = ?1 AND chat_id > ?2 ORDER BY chat_id LIMIT ?3",
                )?;
                let rows = st.query_map((room, after, limit), crate::db::lite::chat)?;
                Ok(rows.collect::<rusqlite::Result<Vec<Chat>>>()?)
            })
        })
        .context("reading the staged history")
    }

    /// Streams the staged history of one room in `chatId` order to `f`, as owned rows
    /// (content that is not UTF-8 is converted lossily; checksums use
    /// [`Workspace::for_each_chat_ref`], which hands over the bytes as stored).
    pub async fn for_each_chat(&self, room: i64, mut f: impl FnMut(Chat)) -> Result<()> {
        crate::db::lite::blocking(|| {
            self.for_each_chat_ref(room, |c| {
                f(Chat {
                    channel_id: c.channel_id,
                    chat_id: c.chat_id,
                    chat_date: c.chat_date,
                    user_id: c.user_id,
                    is_alert: c.is_alert,
                    content: String::from_utf8_lossy(c.content).into_owned(),
                })
            })
        })
    }

    /// Streams the staged history of one room in `chatId` order to `f`, borrowing each
    /// row from SQLite (no copy of the content; it is handed over as stored).
    pub fn for_each_chat_ref(&self, room: i64, f: impl FnMut(ChatRef<'_>)) -> Result<()> {
        self.for_each_chat_ref_after(room, i64::MIN, f)
    }
}

/// Per-(room, author) counts, and each counted room's highest `chatId`.
pub(super) type Counted = (Vec<AuthorCounts>, Vec<(i64, i64)>);

/// Ranges [`count_all`] cuts the rooms into: more than the cores, so that
/// rayon evens out rooms of very different sizes.
const COUNT_PARTS: usize = 8;

/// The staged rooms, by a loose scan of the key (two seeks per room).
pub(super) fn rooms_sql() -> String {
    crate::db::lite::loose_scan("snap_chat", "channel_id", "c")
}

/// `rooms` (ascending) cut into at most `parts` inclusive ranges of `channel_id` that
/// together cover every value, in order.
pub(super) fn key_ranges(rooms: &[i64], parts: usize) -> Vec<(i64, i64)> {
    let per = rooms.len().div_ceil(parts.max(1)).max(1);
    let starts: Vec<i64> = rooms.chunks(per).skip(1).map(|c| c[0]).collect();
    let mut out = Vec::with_capacity(starts.len() + 1);
    let mut lo = i64::MIN;
    for s in starts {
        out.push((lo, s - 1));
        lo = s;
    }
    out.push((lo, i64::MAX));
    out
}

/// The rows `SELECT channel_id, user_id, chat_date, chat_id` of `st` with `params`, in key
/// order, aggregated here: rows arrive room by room, so only one room's authors are held
/// at a time, and SQLite is spared the sort a `GROUP BY channel_id, user_id` needs (a
/// third of the time). Returns the counts and each room's highest `chatId`.
pub(super) fn tally(
    st: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
    since: Option<i64>,
) -> Result<Counted> {
    let since = since.unwrap_or(i64::MIN);
    let mut out: Vec<AuthorCounts> = Vec::new();
    let mut upto: Vec<(i64, i64)> = Vec::new();
    let mut room: std::collections::HashMap<i64, AuthorCounts> = Default::default();
    let flush = |room: &mut std::collections::HashMap<i64, AuthorCounts>,
                 out: &mut Vec<AuthorCounts>| {
        let start = out.len();
        out.extend(room.drain().map(|(_, v)| v));
        out[start..].sort_unstable_by_key(|a| a.user_id);
    };
    let mut rows = st.query(params)?;
    while let Some(r) = rows.next()? {
        let (channel_id, user_id, date, chat_id): (i64, i64, i64, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        match upto.last_mut() {
            Some((c, last)) if *c == channel_id => *last = chat_id,
            _ => {
                flush(&mut room, &mut out);
                upto.push((channel_id, chat_id));
            }
        }
        let a = room.entry(user_id).or_insert(AuthorCounts {
            channel_id,
            user_id,
            total: 0,
            bad_date: 0,
            before_since: 0,
        });
        a.total += 1;
        if !(0..=crate::model::MAX_TICKS).contains(&date) {
            a.bad_date += 1;
        } else if date < since {
            a.before_since += 1;
        }
    }
    flush(&mut room, &mut out);
    Ok((out, upto))
}

/// Counts from a row `channel_id, user_id, total, bad_date, before_since`.
pub(super) fn counts_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuthorCounts> {
    Ok(AuthorCounts {
        channel_id: r.get(0)?,
        user_id: r.get(1)?,
        total: r.get::<_, i64>(2)? as u64,
        bad_date: r.get::<_, i64>(3)? as u64,
        before_since: r.get::<_, i64>(4)? as u64,
    })
}

/// One pass over the staged rooms `lo..=hi` in key order (the primary key's: no sort).
pub(super) fn count_range(
    c: &rusqlite::Connection,
    since: Option<i64>,
    lo: i64,
    hi: i64,
) -> Result<Counted> {
    let mut st = c.prepare_cached(
        "SELECT channel_id, user_id, chat_date, chat_id FROM snap_chat \
         WHERE channel_id BETWEEN ?1 AND ?2 ORDER BY channel_id, chat_id",
    )?;
    tally(&mut st, [lo, hi], since)
}

/// Every staged room counted: the rooms cut into a few ranges of the key, counted on
/// rayon's threads, each over its own connection.
pub(super) fn count_all(readers: &crate::db::lite::Readers, since: Option<i64>) -> Result<Counted> {
    let rooms: Vec<i64> = readers.with(|c| {
        let mut st = c.prepare(&rooms_sql())?;
        let rooms = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(rooms)
    })?;
    let parts: Vec<Counted> = key_ranges(&rooms, COUNT_PARTS)
        .into_par_iter()
        .map(|(lo, hi)| readers.with(|c| count_range(c, since, lo, hi)))
        .collect::<Result<_>>()?;
    let (mut counts, mut upto) = (Vec::new(), Vec::new());
    for (c, u) in parts {
        counts.extend(c);
        upto.extend(u);
    }
    Ok((counts, upto))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rust aggregation equals the `GROUP BY` it replaced, dates and `since` included.
    #[test]
    fn author_counts_match_a_group_by() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(&format!("CREATE TABLE snap_chat {}", super::super::SNAP_CHAT_COLUMNS))
            .unwrap();
        let mut st = c.prepare("INSERT INTO snap_chat VALUES (?1, ?2, ?3, ?4, 0, 'x')").unwrap();
        let mut seed = 7u64;
        for i in 0..3000i64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let room = (seed >> 60) as i64; // 16 rooms
            let user = (seed >> 20) as i64 % 9;
            let date = match seed % 10 {
                0 => -5,                          // before .NET's range
                1 => crate::model::MAX_TICKS + 1, // after it
                d => (d as i64) * 100,
            };
            st.execute((room, i, date, user)).unwrap();
        }
        for since in [None, Some(450)] {
            let got = count_range(&c, since, i64::MIN, i64::MAX).unwrap().0;
            // Cut into ranges as the parallel count does, the parts add up to the whole.
            let rooms: Vec<i64> = c
                .prepare(&rooms_sql())
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(rooms.len(), 16);
            for parts in [1, 3, 8, 40] {
                let ranges = key_ranges(&rooms, parts);
                assert!(ranges.len() <= parts.max(1) && ranges.len() <= rooms.len());
                let cut: Vec<AuthorCounts> = ranges
                    .iter()
                    .flat_map(|(lo, hi)| count_range(&c, since, *lo, *hi).unwrap().0)
                    .collect();
                assert_eq!(cut, got, "{parts} parts");
            }
            let mut q = c
                .prepare(
                    "SELECT channel_id, user_id, COUNT(*), \
                     SUM(CASE WHEN chat_date < 0 OR chat_date > ?1 THEN 1 ELSE 0 END), \
                     SUM(CASE WHEN chat_date >= 0 AND chat_date <= ?1 AND chat_date < ?2 THEN 1 ELSE 0 END) \
                     FROM snap_chat GROUP BY channel_id, user_id ORDER BY channel_id, user_id",
                )
                .unwrap();
            let want: Vec<AuthorCounts> = q
                .query_map((crate::model::MAX_TICKS, since.unwrap_or(i64::MIN)), counts_row)
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(want.len() > 100);
            assert_eq!(got, want, "since {since:?}");
        }
    }
}
