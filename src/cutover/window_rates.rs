//! The cutover window's measured rates (issue 23), for the runbook's expected durations of
//! the steps between the freeze and the cutover, which read what changed rather than the
//! whole history. Constants, from `gcmigrate bench --cutover --messages 1000000 --scale 10`
//! (release build, SQLite → SQLite, 2 shared cores, 2,000 rooms, 1% delta); a workspace's
//! own extract and load rates, when it has measured them, win for those two steps.

use super::runbook::duration;

/// Seconds per room of the incremental verify's cheap check and per-room reads (both
/// sides, count and highest `chatId` through the index, the delta past the cut), measured
/// at 10,000,000 messages: the verify step's time less its delta messages.
pub const VERIFY_SECONDS_PER_ROOM: f64 = 0.0012;
/// Messages per second the incremental verify re-reads and compares past the cut.
pub const VERIFY_DELTA_RATE: f64 = 100_000.0;
/// Seconds of `plan` per 1,000 rooms of the deployment at the bench's sizes (it rebuilds the
/// whole plan from the staged configuration; it does not read the history's rows).
pub const PLAN_SECONDS_PER_1000_ROOMS: f64 = 0.6;

/// The window verify's expected duration: the cheap check of `rooms`, then the delta.
pub fn verify(rooms: usize) -> String {
    format!(
        "{} for the per-room check of {rooms} room(s), then {} per 100,000 new messages \
         (incremental: the last passing verify covers the rest; --full: as the bulk verify)",
        duration(rooms as f64 * VERIFY_SECONDS_PER_ROOM),
        duration(1e5 / VERIFY_DELTA_RATE)
    )
}

/// The window plan's expected duration for a deployment of `rooms` rooms.
pub fn plan(rooms: usize) -> String {
    duration(rooms as f64 / 1000.0 * PLAN_SECONDS_PER_1000_ROOMS)
}
