//! Reading `tblChat` past the watermarks, one algorithm for every engine.
//!
//! The legacy service keeps running while we read, so every statement is short and sees
//! only committed rows (SQL Server sessions read at READ COMMITTED, without `NOLOCK`
//! hints, which can skip or repeat rows) and none stays open while we wait: rooms are
//! found by a skip-scan of the `(channelId, chatId)` primary key — which also finds the
//! messages of rooms `tblNode` no longer holds, so that they are reported — and each room
//! is read in `chatId` chunks that seek that key. Every chunk is drained before it is
//! handed to the staging writer.

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use super::rows::chat_from;
use super::sql;
use super::Watermarks;
use crate::db::{Conn, Value};
use crate::model::Chat;

/// Counts history rows past the watermarks (for progress totals). Without watermarks (a
/// full extract) every row; with them (a delta) only the rooms they name, each by a seek
/// past its watermark, so that the count is in proportion to the delta rather than the
/// history (a room new since the last extract is read all the same, but not counted).
pub async fn count_chats(db: &Conn, after: &Watermarks) -> Result<u64> {
    let d = db.dialect();
    if !after.is_empty() {
        let past = sql::count_past(d);
        let mut n = 0i64;
        for (room, mark) in after {
            let params = [Value::Int(*room), Value::Int(*mark)];
            n += db.scalar("counting tblChat", &past, &params).await?.unwrap_or(0);
        }
        return Ok(n.max(0) as u64);
    }
    let total = db.scalar("counting tblChat", &sql::count_all(d), &[]).await?.unwrap_or(0);
    let seen_sql = sql::count_seen(d);
    let mut seen = 0i64;
    for (room, mark) in after {
        let params = [Value::Int(*room), Value::Int(*mark)];
        seen += db.scalar("counting tblChat", &seen_sql, &params).await?.unwrap_or(0);
    }
    Ok((total - seen).max(0) as u64)
}

/// Streams history past the watermarks to `tx` in (room, chatId) order, about `batch` rows
/// at a time (chunks of at most `batch` rows).
pub async fn stream_chats(
    db: &Conn,
    after: &Watermarks,
    batch: usize,
    tx: mpsc::Sender<Vec<Chat>>,
) -> Result<()> {
    let batch = batch.max(1);
    let d = db.dialect();
    let (next_room, chunk) = (sql::next_room(d), sql::chunk(d));
    let label = db.label();
    let rooms = "reading tblChat rooms";
    let mut buf: Vec<Chat> = Vec::with_capacity(batch);
    let mut room = db.scalar(rooms, &sql::first_room(d), &[]).await?;
    while let Some(r) = room {
        let mut mark = after.get(&r).copied().unwrap_or(i64::MIN);
        loop {
            let before = buf.len();
            let params = [Value::Int(r), Value::Int(mark), Value::Int(batch as i64)];
            db.each_row("reading tblChat", &chunk, &params, |row| {
                buf.push(chat_from(row).with_context(|| format!("tblChat room {r} on {label}"))?);
                Ok(())
            })
            .await?;
            let read = buf.len() - before;
            if read > 0 {
                mark = buf[buf.len() - 1].chat_id;
            }
            // The statement is complete before we wait on the writer: no locks held.
            if buf.len() >= batch && tx.send(std::mem::take(&mut buf)).await.is_err() {
                return Ok(());
            }
            if read < batch {
                break;
            }
        }
        room = db.scalar(rooms, &next_room, &[Value::Int(r)]).await?;
    }
    if !buf.is_empty() {
        let _ = tx.send(buf).await;
    }
    Ok(())
}

/// Hands `f` room `room`'s history up to `chatId` `mark` in `chatId` order, read in
/// chunks of `batch` rows (the extract's statement). Rows extract would reject (a key,
/// date or author that is no integer) are skipped; they were never staged.
pub async fn each_chat_upto(
    db: &Conn,
    room: i64,
    mark: i64,
    batch: usize,
    mut f: impl FnMut(Chat) + Send,
) -> Result<()> {
    let batch = batch.max(1) as i64;
    let chunk = sql::chunk(db.dialect());
    let mut after = i64::MIN;
    loop {
        let (mut read, mut past) = (0i64, false);
        let params = [Value::Int(room), Value::Int(after), Value::Int(batch)];
        db.each_row("reading tblChat", &chunk, &params, |row| {
            read += 1;
            let Ok(id) = row.int(1) else { return Ok(()) };
            after = id;
            if id > mark {
                past = true;
            } else if let Ok(c) = chat_from(row) {
                f(c);
            }
            Ok(())
        })
        .await?;
        if past || read < batch {
            return Ok(());
        }
    }
}
