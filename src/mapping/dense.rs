//! Dense principal indexes for evaluating access over millions of (user, room) pairs.
//!
//! Both access models (§2 on the legacy side, §3 on the target side) ask the same question
//! for every user a room's lists reach: which of the room's sets (members, managers, scope…)
//! hold one of the user's affiliations? Asked through hash sets per pair that costs
//! microseconds; here principals get dense `u32` indexes, a room marks its sets once in a
//! byte array (one bit per set), and a user's answer is the OR of the marks over its
//! "closure" — its affiliations as stored, itself included (never followed further: see
//! `affiliations.rs`) — a handful of array reads. At 20,000 users and 2,000 rooms this is what keeps
//! `plan` and `verify` near the speed of reading the data.

use std::collections::HashMap;

use super::legacy::{Affiliations, Rights};

/// Principals by dense index, their affiliation closures and the reverse index.
#[derive(Debug, Default)]
pub struct Dense {
    ids: Vec<i64>,
    index: HashMap<i64, u32>,
    /// Closure of each principal (itself included), as CSR offsets into `aff`.
    aff_off: Vec<u32>,
    aff: Vec<u32>,
    /// For each principal, the *enabled users* whose closure contains it.
    rev_off: Vec<u32>,
    rev: Vec<u32>,
}

impl Dense {
    /// Indexes `ids` with their closures from `affs`; `enabled_user` picks the principals
    /// whose rights are evaluated (users that are not disabled).
    pub fn build(
        affs: &Affiliations,
        ids: impl Iterator<Item = i64>,
        enabled_user: impl Fn(i64) -> bool,
    ) -> Dense {
        let mut d = Dense { ids: ids.collect(), ..Dense::default() };
        d.ids.sort_unstable();
        d.ids.dedup();
        d.index = d.ids.iter().enumerate().map(|(i, p)| (*p, i as u32)).collect();
        let mut users = Vec::with_capacity(d.ids.len());
        d.aff_off.push(0);
        for &p in &d.ids {
            users.push(enabled_user(p));
            // An affiliation that is not a principal of this side cannot be listed anywhere.
            d.aff.extend(affs.of(p).filter_map(|a| d.index.get(&a).copied()));
            d.aff_off.push(d.aff.len() as u32);
        }
        d.aff.shrink_to_fit();
        // The reverse index by counting (no list per principal: the domain's holds everyone).
        let mut count = vec![0u32; d.ids.len() + 1];
        for i in (0..d.ids.len()).filter(|&i| users[i]) {
            for &a in d.closure(i as u32) {
                count[a as usize + 1] += 1;
            }
        }
        for i in 1..count.len() {
            count[i] += count[i - 1];
        }
        let mut rev = vec![0u32; count[d.ids.len()] as usize];
        let mut next = count.clone();
        for i in (0..d.ids.len()).filter(|&i| users[i]) {
            for &a in d.closure(i as u32) {
                rev[next[a as usize] as usize] = i as u32;
                next[a as usize] += 1;
            }
        }
        d.rev_off = count;
        d.rev = rev;
        d
    }

    /// Principals indexed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The dense index of `prinID` `p`.
    pub fn idx(&self, p: i64) -> Option<u32> {
        self.index.get(&p).copied()
    }

    /// The `prinID` of dense index `i`.
    pub fn id(&self, i: u32) -> i64 {
        self.ids[i as usize]
    }

    fn closure(&self, i: u32) -> &[u32] {
        &self.aff[self.aff_off[i as usize] as usize..self.aff_off[i as usize + 1] as usize]
    }

    fn reached(&self, i: u32) -> &[u32] {
        &self.rev[self.rev_off[i as usize] as usize..self.rev_off[i as usize + 1] as usize]
    }

    fn closure_len(&self, i: u32) -> usize {
        (self.aff_off[i as usize + 1] - self.aff_off[i as usize]) as usize
    }

    fn reached_len(&self, i: u32) -> usize {
        (self.rev_off[i as usize + 1] - self.rev_off[i as usize]) as usize
    }
}

/// One thread's scratch space for evaluating rooms: a mark byte per principal, and the
/// candidate users of the room being evaluated. Reset after each room in O(marks set).
#[derive(Debug, Default)]
pub struct Marks {
    mark: Vec<u8>,
    /// Per user, the OR of the marks spread to it (see [`Marks::evaluate`]); zero between rooms.
    acc: Vec<u8>,
    touched: Vec<u32>,
    seen: Vec<u32>,
    epoch: u32,
    cand: Vec<u32>,
}

impl Marks {
    /// Scratch space for a [`Dense`] of `n` principals.
    pub fn new(n: usize) -> Marks {
        Marks { mark: vec![0; n], acc: vec![0; n], seen: vec![0; n], epoch: 1, ..Marks::default() }
    }

    /// Adds `bit` to principal `p`'s mark (a principal the index lacks is ignored: nobody
    /// can be affiliated with it).
    pub fn set(&mut self, d: &Dense, p: i64, bit: u8) {
        if let Some(i) = d.idx(p) {
            let m = &mut self.mark[i as usize];
            if *m == 0 {
                self.touched.push(i);
            }
            *m |= bit;
        }
    }

    /// Makes every enabled user affiliated with `p` a candidate of the room.
    pub fn reach(&mut self, d: &Dense, p: i64) {
        let Some(i) = d.idx(p) else { return };
        for &u in d.reached(i) {
            if self.seen[u as usize] != self.epoch {
                self.seen[u as usize] = self.epoch;
                self.cand.push(u);
            }
        }
    }

    /// The OR of the marks over `p`'s closure (0 for a principal the index lacks).
    pub fn mask_of(&self, d: &Dense, p: i64) -> u8 {
        d.idx(p).map_or(0, |i| d.closure(i).iter().fold(0u8, |m, a| m | self.mark[*a as usize]))
    }

    /// Clears the marks (and candidates) without evaluating.
    pub fn clear(&mut self) {
        self.evaluate_with(None, |_, _| {});
    }

    /// Calls `f(user, mask)` for each candidate in index order, where `mask` is the OR of
    /// the marks over the user's closure; then clears the room.
    ///
    /// Two ways give the same masks, and the cheaper one for the room is taken: gather
    /// (each candidate ORs the marks over its closure) costs the candidates' closure sizes;
    /// spread (each marked principal ORs its mark into the candidates it reaches) costs the
    /// marked principals' reach. A room listing a few groups of many users spreads for a
    /// fraction of what its users would gather.
    pub fn evaluate(&mut self, d: &Dense, f: impl FnMut(u32, u8)) {
        let gather: usize = self.cand.iter().map(|&u| d.closure_len(u)).sum();
        let spread: usize = self.touched.iter().map(|&i| d.reached_len(i)).sum();
        self.evaluate_with(Some((d, spread < gather)), f);
    }

    fn evaluate_with(&mut self, d: Option<(&Dense, bool)>, mut f: impl FnMut(u32, u8)) {
        if let Some((d, spread)) = d {
            self.cand.sort_unstable();
            if spread {
                // `seen` keeps the spread to this room's candidates, so `acc` stays clean.
                for &i in &self.touched {
                    let m = self.mark[i as usize];
                    for &u in d.reached(i) {
                        if self.seen[u as usize] == self.epoch {
                            self.acc[u as usize] |= m;
                        }
                    }
                }
                for &u in &self.cand {
                    f(u, std::mem::take(&mut self.acc[u as usize]));
                }
            } else {
                for &u in &self.cand {
                    let mask = d.closure(u).iter().fold(0u8, |m, a| m | self.mark[*a as usize]);
                    f(u, mask);
                }
            }
        }
        for &i in &self.touched {
            self.mark[i as usize] = 0;
        }
        self.touched.clear();
        self.cand.clear();
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.seen.fill(0);
            self.epoch = 1;
        }
    }
}

/// [`Rights`] packed in a byte: read, post, manage, and a "present" bit so that an entry
/// with no rights is told apart from no entry.
pub fn pack(r: Rights) -> u8 {
    8 | r.read as u8 | (r.post as u8) << 1 | (r.manage as u8) << 2
}

/// The inverse of [`pack`].
pub fn unpack(b: u8) -> Rights {
    Rights { read: b & 1 != 0, post: b & 2 != 0, manage: b & 4 != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_the_or_over_the_closure_and_rooms_reset() {
        // 10 and 11 in group 20, 20 in 30 (not followed: as stored); 12 disabled.
        let affs = Affiliations::build(
            &[(10, 20), (11, 20), (20, 30), (12, 30)],
            [10, 11, 12].into_iter(),
        );
        let d = Dense::build(&affs, [10, 11, 12, 20, 30].into_iter(), |p| p == 10 || p == 11);
        let mut m = Marks::new(d.len());
        m.set(&d, 30, 1);
        m.set(&d, 11, 2);
        m.set(&d, 20, 16);
        m.set(&d, 99, 4); // unknown: ignored
        m.reach(&d, 30);
        m.reach(&d, 11);
        m.reach(&d, 20);
        let mut got = Vec::new();
        m.evaluate(&d, |u, mask| got.push((d.id(u), mask)));
        assert_eq!(got, vec![(10, 16), (11, 18)], "group 30 reaches nobody through group 20");
        m.reach(&d, 10);
        let mut again = Vec::new();
        m.evaluate(&d, |u, mask| again.push((d.id(u), mask)));
        assert_eq!(again, vec![(10, 0)], "marks and candidates of the last room are gone");
    }

    #[test]
    fn gather_and_spread_give_the_same_masks() {
        // Users 1..=40 in groups 100 + u % 4; groups 100, 101 in 200; user 40 disabled.
        let mut pairs: Vec<(i64, i64)> = (1..=40).map(|u| (u, 100 + u % 4)).collect();
        pairs.extend([(100, 200), (101, 200), (5, 200)]);
        let affs = Affiliations::build(&pairs, 1..=40);
        let ids = (1..=40).chain([100, 101, 102, 103, 200]);
        let d = Dense::build(&affs, ids, |p| (1..40).contains(&p));
        let run = |spread: bool| {
            let mut m = Marks::new(d.len());
            let mut got = Vec::new();
            for room in 0..3u8 {
                m.set(&d, 200, 1);
                m.set(&d, 102, 2 << room);
                m.set(&d, 7, 16);
                m.set(&d, 40, 32);
                m.reach(&d, 102);
                m.reach(&d, 7);
                m.reach(&d, 40);
                if room > 0 {
                    m.reach(&d, 200);
                }
                m.evaluate_with(Some((&d, spread)), |u, mask| got.push((room, d.id(u), mask)));
            }
            got
        };
        let gathered = run(false);
        assert_eq!(gathered, run(true));
        // Room 0: the candidates are group 102's users and user 7 (40 is disabled).
        let room0: Vec<(i64, u8)> =
            gathered.iter().filter(|g| g.0 == 0).map(|g| (g.1, g.2)).collect();
        let group_102 = (2..40).step_by(4).map(|u| (u, 2));
        let mut want: Vec<(i64, u8)> = group_102.chain([(7, 16)]).collect();
        want.sort_unstable();
        assert_eq!(room0, want);
        // Room 1 also reaches group 200: user 5 (a row of its own) has its mark; user 1
        // (in group 101, which is in 200) does not: rows of groups are not followed.
        let of = |u: i64| gathered.iter().find(|g| g.0 == 1 && g.1 == u).map(|g| g.2);
        assert_eq!((of(5), of(1), of(3), of(40)), (Some(1), None, None, None));
    }

    #[test]
    fn packing_round_trips() {
        for b in 0..8u8 {
            let r = Rights { read: b & 1 != 0, post: b & 2 != 0, manage: b & 4 != 0 };
            assert_eq!(unpack(pack(r)), r);
            assert_ne!(pack(r), 0);
        }
    }
}
