//! The cutover window's measured rates (issue 23), for the runbook's expected durations of
//! the steps between the freeze and the cutover, which read what changed rather than the
//! whole history. Constants, from `gcmigrate bench --cutover --messages 1000000 --scale 10`
//! (release build, SQLite → SQLite, 2 shared cores, 2,000 rooms, 1% delta); a workspace's
//! own extract and load rates, when it has measured them, win for those two steps.
//!
//! That run (2026-12-03, issue 23): 1,000,000 messages — bulk 13.7 s, window 9.5 s; at
//! 10,000,000 — bulk 300.2 s, window 33.5 s (11.1%): freeze 0.3 s, extract --delta 4.1 s,
//! plan 8.4 s, load 10.0 s, verify 5.9 s, cutover 4.8 s.

use super::runbook::duration;

/// Seconds per room of the incremental verify's cheap check and per-room reads (both
/// sides, count and highest `chatId` through the index, the delta past the cut) and its
/// access and invariant checks, at 10,000,000 messages in 2,000 rooms: the verify step's
/// 5.9 s less its 100,000 delta messages.
pub const VERIFY_SECONDS_PER_ROOM: f64 = 0.0024;
/// Messages per second the incremental verify re-reads and compares past the cut.
pub const VERIFY_DELTA_RATE: f64 = 100_000.0;
/// Seconds of `plan` per 1,000 rooms of the deployment at the bench's sizes (it rebuilds the
/// whole plan from the staged configuration): 8.4 s less the author counts, for 2,000 rooms.
pub const PLAN_SECONDS_PER_1000_ROOMS: f64 = 2.4;
/// Seconds of `plan` per million staged messages: its per-author counts still read every
/// staged message (3.6 s at 10,000,000).
pub const PLAN_SECONDS_PER_MILLION_MESSAGES: f64 = 0.36;

/// The window verify's expected duration: the cheap check of `rooms`, then the delta.
pub fn verify(rooms: usize) -> String {
    format!(
        "{} for the per-room check of {rooms} room(s), then {} per 100,000 new messages \
         (incremental: the last passing verify covers the rest; --full: as the bulk verify)",
        duration(rooms as f64 * VERIFY_SECONDS_PER_ROOM),
        duration(1e5 / VERIFY_DELTA_RATE)
    )
}

/// The window plan's expected duration for a deployment of `rooms` rooms and `messages`
/// staged messages.
pub fn plan(rooms: usize, messages: u64) -> String {
    duration(
        rooms as f64 / 1000.0 * PLAN_SECONDS_PER_1000_ROOMS
            + messages as f64 / 1e6 * PLAN_SECONDS_PER_MILLION_MESSAGES,
    )
}
