//! What happens to each history row: loaded, excluded by a named rule, or rejected with a
//! reason. One [`Classifier`] serves `plan` (on aggregated counts), `load` and `verify`
//! (on rows), so their numbers reconcile exactly.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{ExcludedRoom, MessageTotals, PlanRoom};
use crate::model::{date_to_ticks, Snapshot, MAX_TICKS};

/// Staged messages of one (room, author), with the counts the rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorCounts {
    /// Legacy room id.
    pub channel_id: i64,
    /// Legacy author id.
    pub user_id: i64,
    /// Messages.
    pub total: u64,
    /// Messages with a `chatDate` outside .NET's range.
    pub bad_date: u64,
    /// Messages (with a valid date) before the `since` cut-off.
    pub before_since: u64,
}

/// The fate of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Loaded into the target.
    Load,
    /// Left out by a named rule.
    Excluded(&'static str),
    /// Rejected, with the reason.
    Rejected(&'static str),
}

enum RoomState {
    Planned,
    Excluded(&'static str),
    Rejected,
}

/// Applies the message rules.
pub struct Classifier {
    rooms: HashMap<i64, RoomState>,
    authors: HashSet<i64>,
    since: Option<i64>,
}

impl Classifier {
    /// Builds the classifier for a plan.
    pub fn new(
        rooms: &[PlanRoom],
        excluded: &[ExcludedRoom],
        snap: &Snapshot,
        since: Option<&str>,
    ) -> Classifier {
        let mut map: HashMap<i64, RoomState> =
            rooms.iter().map(|r| (r.legacy_id, RoomState::Planned)).collect();
        for e in excluded {
            let state = if e.disposition == "excluded" {
                RoomState::Excluded(if e.rule == "skip_disabled_rooms" {
                    "skip_disabled_rooms"
                } else {
                    "room_skipped"
                })
            } else {
                RoomState::Rejected
            };
            map.insert(e.legacy_id, state);
        }
        Classifier {
            rooms: map,
            authors: snap.principals.keys().copied().collect(),
            since: since.and_then(date_to_ticks),
        }
    }

    /// The `since` option in ticks: older messages are excluded.
    pub fn since(&self) -> Option<i64> {
        self.since
    }

    /// Whether messages by `p` may be loaded (an author the snapshot knows).
    pub fn is_author(&self, p: i64) -> bool {
        self.authors.contains(&p)
    }

    /// The fate of a message of `room` by `author` at `date` (ticks).
    pub fn classify(&self, room: i64, author: i64, date: i64) -> Disposition {
        match self.rooms.get(&room) {
            None => return Disposition::Rejected("room_unknown"),
            Some(RoomState::Rejected) => return Disposition::Rejected("room_rejected"),
            Some(RoomState::Excluded(rule)) => return Disposition::Excluded(rule),
            Some(RoomState::Planned) => {}
        }
        if !(0..=MAX_TICKS).contains(&date) {
            return Disposition::Rejected("chat_date_out_of_range");
        }
        if self.since.is_some_and(|s| date < s) {
            return Disposition::Excluded("before_since");
        }
        if !self.authors.contains(&author) {
            return Disposition::Rejected("author_unknown");
        }
        Disposition::Load
    }

    /// Adds one aggregate to the totals, splitting it by rule exactly as rows would be.
    pub fn tally(&self, c: &AuthorCounts, t: &mut MessageTotals) {
        t.read += c.total;
        for (disp, n) in self.split(c) {
            match disp {
                Disposition::Load => t.load += n,
                Disposition::Excluded(r) => *t.excluded.entry(r.into()).or_default() += n,
                Disposition::Rejected(r) => *t.rejected.entry(r.into()).or_default() += n,
            }
        }
    }

    /// The dispositions of an aggregate and how many messages each gets.
    fn split(&self, c: &AuthorCounts) -> Vec<(Disposition, u64)> {
        match self.classify(c.channel_id, c.user_id, 0) {
            Disposition::Load | Disposition::Rejected("author_unknown") => {}
            other => return vec![(other, c.total)],
        }
        let valid = c.total - c.bad_date;
        let after = valid - c.before_since;
        let author_ok = self.authors.contains(&c.user_id);
        vec![
            (Disposition::Rejected("chat_date_out_of_range"), c.bad_date),
            (Disposition::Excluded("before_since"), c.before_since),
            (
                if author_ok { Disposition::Load } else { Disposition::Rejected("author_unknown") },
                after,
            ),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    /// Messages to load per room.
    pub fn loadable_per_room(&self, counts: &[AuthorCounts]) -> BTreeMap<i64, u64> {
        let mut out = BTreeMap::new();
        for c in counts {
            for (d, n) in self.split(c) {
                if d == Disposition::Load {
                    *out.entry(c.channel_id).or_default() += n;
                }
            }
        }
        out
    }

    /// The `since` cut-off in ticks.
    pub fn since_ticks(&self) -> Option<i64> {
        self.since
    }
}
