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
        if let Some(by_room) = self.room_disposition(room) {
            return by_room;
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

    /// The fate every message of `room` shares, when its room alone decides it (an
    /// unknown, rejected or excluded room); `None` for a planned room.
    fn room_disposition(&self, room: i64) -> Option<Disposition> {
        match self.rooms.get(&room) {
            None => Some(Disposition::Rejected("room_unknown")),
            Some(RoomState::Rejected) => Some(Disposition::Rejected("room_rejected")),
            Some(RoomState::Excluded(rule)) => Some(Disposition::Excluded(rule)),
            Some(RoomState::Planned) => None,
        }
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
        // Only the room decides for the whole aggregate; the date rules split it below.
        // (Classifying a stand-in date here counted every message as before `since`.)
        if let Some(by_room) = self.room_disposition(c.channel_id) {
            return vec![(by_room, c.total)];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// With `since` set, the messages at or after the cut-off are counted as to load and
    /// only the older ones as excluded by rule (the aggregate used to go wholly to
    /// `before_since`, so `plan` said 0 messages to load).
    #[test]
    fn since_splits_an_aggregate_instead_of_excluding_it() {
        let mut snap = Snapshot::default();
        let p = crate::model::Principal {
            guid: String::new(),
            uri: "sip:a@x".into(),
            ..crate::model::Principal::blank(5, 2)
        };
        snap.principals.insert(5, p);
        let room = PlanRoom {
            legacy_id: 7,
            legacy_path: "/R".into(),
            target_name: "R".into(),
            pool: "default".into(),
            wave: "all".into(),
            visibility: 3,
            behavior: 4,
            message_count: 10,
            ..PlanRoom::default()
        };
        let c = Classifier::new(std::slice::from_ref(&room), &[], &snap, Some("2011-01-01"));
        let counts =
            AuthorCounts { channel_id: 7, user_id: 5, total: 10, bad_date: 1, before_since: 3 };
        let mut t = MessageTotals::default();
        c.tally(&counts, &mut t);
        assert_eq!((t.read, t.load), (10, 6));
        assert_eq!(t.excluded.get("before_since"), Some(&3));
        assert_eq!(t.rejected.get("chat_date_out_of_range"), Some(&1));
        assert_eq!(c.loadable_per_room(&[counts]).get(&7), Some(&6));
        let cut = crate::model::date_to_ticks("2011-01-01").unwrap();
        assert_eq!(c.classify(7, 5, cut), Disposition::Load);
        assert_eq!(c.classify(7, 5, cut - 1), Disposition::Excluded("before_since"));
        assert_eq!(c.classify(8, 5, cut), Disposition::Rejected("room_unknown"));
    }
}
