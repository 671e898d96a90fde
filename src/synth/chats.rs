//! The chat history: how many messages each room gets, what they say, and streaming them
//! into `tblChat` while they are generated, so that memory never grows with the number of
//! messages.

use anyhow::Result;

use super::batch::{Batch, ChatBatch};
use super::principals::Ids;
use super::rng::Rng;
use super::text::{fill_words, item, CATEGORIES};
use super::tree::NodeSpec;
use super::{SynthOptions, DAY};
use crate::db::Conn;
use crate::progress::Bar;

const ROWS_PER_TX: u64 = 50_000;

/// Splits `total` exactly by integer weights (largest remainder, ties to the lower index).
fn apportion(total: u64, weights: &[u128]) -> Vec<u64> {
    let sum: u128 = weights.iter().sum::<u128>().max(1);
    let t = u128::from(total);
    let mut counts: Vec<u64> = weights.iter().map(|&w| (t * w / sum) as u64).collect();
    let left = total - counts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(t * weights[i] % sum), i));
    for &i in order.iter().take(left as usize) {
        counts[i] += 1;
    }
    counts
}

/// Messages per room, Zipf-like: weight 1/rank over shuffled ranks, jittered; ~5% of the
/// rooms are never used. Integer arithmetic only, and the counts sum to `total` exactly.
fn room_counts(total: u64, rooms: usize, rng: &mut Rng) -> Vec<u64> {
    let mut rank: Vec<u64> = (0..rooms as u64).collect();
    for i in (1..rooms).rev() {
        rank.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut weight = |r: u64| {
        if r > 0 && rng.chance(50) {
            0
        } else {
            u128::from(rng.range(50, 150)) * 1_000_000_000_000 / u128::from(r + 1)
        }
    };
    let weights: Vec<u128> = rank.iter().map(|&r| weight(r)).collect();
    apportion(total, &weights)
}

/// A message body: mostly short, a few KB now and then, with file links, HTML links,
/// stories and unicode; never a NUL.
fn content(rng: &mut Rng, room_guid: &str) -> String {
    let target = match rng.below(1000) {
        0..=549 => rng.range(10, 60),
        550..=899 => rng.range(60, 200),
        900..=994 => rng.range(200, 1000),
        _ => rng.range(1000, 8000),
    } as usize;
    let mut s = String::with_capacity(target + 64);
    if target >= 1000 {
        s.push_str("[STORY]");
    }
    // 1% file links (which a mapping rule may rewrite), 0.5% HTML links.
    let link = rng.below(1000);
    if link < 15 {
        let word = item(CATEGORIES, rng.next()).replace(' ', "-");
        let text = if link < 10 {
            let (file, ext) = (rng.guid(), item("docx|xlsx|pdf|png", rng.next()));
            format!(
                "ma-filelink://fs.contoso.example/GroupChatFiles/{room_guid}/{file}/{word}.{ext} "
            )
        } else {
            format!("<a href=\"https://intranet.contoso.example/wiki/{word}\">{word}</a> ")
        };
        s.push_str(&text);
    }
    fill_words(rng, &mut s, target);
    s
}

/// Streams the history room by room: chatId 1.. per room, increasing chatDate, posters
/// skewed within a per-room circle of users; then `tblLastChatId`.
pub(super) async fn write_chats(
    db: &Conn,
    rooms: &[NodeSpec],
    opts: &SynthOptions,
    bar: &Bar,
) -> Result<()> {
    let (ids, mut rng) = (Ids::new(opts), Rng::new(opts.seed, 4));
    let counts = room_counts(opts.messages, rooms.len(), &mut rng);
    let mut chats = ChatBatch::new(db.dialect());
    let mut last = Batch::new("tblLastChatId", "nodeID, lastChatId");
    let mut tx = db.begin().await?;
    let mut in_tx = 0;
    for (room, &count) in rooms.iter().zip(&counts) {
        let (id, base, circle) =
            (room.id, rng.skewed(ids.users), rng.range(2, 60).min(ids.users.max(1)));
        let mut date = room.added + rng.range(DAY / 24, 30 * DAY);
        let gap = (rng.range(180, 1400) * DAY / count.max(1)).max(1);
        for chat_id in 1..=count {
            date += 1 + rng.below(2 * gap);
            let user = ids.user((base + rng.skewed(circle)) % ids.users.max(1));
            let alert = u8::from(rng.chance(5));
            chats.rows.push((id, chat_id, date, user, alert, content(&mut rng, &room.guid)));
            let written = chats.flush_full(&mut tx).await?;
            bar.inc(written);
            in_tx += written;
            if in_tx >= ROWS_PER_TX {
                tx.commit().await?;
                tx = db.begin().await?;
                in_tx = 0;
            }
        }
        if count > 0 {
            last.add(format_args!("({id}, {count})"));
        }
    }
    bar.inc(chats.flush(&mut tx).await?);
    last.flush(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_counts_sum_exactly_and_are_skewed() {
        for (total, rooms) in
            [(0, 5), (1, 1), (3, 10), (1000, 7), (1_000_003, 1000), (10_000_000, 33)]
        {
            let c = room_counts(total, rooms, &mut Rng::new(9, 4));
            assert_eq!((c.len(), c.iter().sum::<u64>()), (rooms, total));
        }
        let c = room_counts(1_000_000, 1000, &mut Rng::new(9, 4));
        assert!(*c.iter().max().unwrap_or(&0) > 50_000, "the largest room should be big");
        assert!(c.iter().filter(|&&n| n < 500).count() > 500, "most rooms should be small");
    }

    #[test]
    fn content_has_no_nul_and_a_sane_length() {
        let mut rng = Rng::new(3, 4);
        for _ in 0..20_000 {
            let s = content(&mut rng, "00000000-0000-4000-8000-000000000000");
            assert!(s.len() >= 10 && s.len() < 9000 && !s.contains('\0'), "{s:?}");
        }
    }
}
