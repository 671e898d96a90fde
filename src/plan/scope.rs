//! What one run of `load`, `verify` or `rollback` covers — one pool, one wave or every
//! wave — and the name its report and script files take (MAPPING.md §4 "Pools and
//! waves"). The pool itself is chosen by [`super::select::choose_pool`].
//!
//! File names: one wave is `<wave>`, every wave is `all` (no wave may be named `all`, see
//! `mapping::wave_name`), so `verify-pilot.*` and `verify-all.*` never collide. When the
//! plan has several pools, the pool is part of the name after an `@` (which neither a wave
//! nor a pool name may hold): `verify-pilot@pc-eng.*`, `verify-all@default.*`. A plan with
//! one pool keeps the short names.

use anyhow::Result;

use super::Plan;
use crate::error::bad_input;
use crate::mapping::wave_name::EVERY_WAVE;

impl Plan {
    /// The plan as one pool sees it: that pool's categories and rooms, the waves with only
    /// their rooms of the pool (every wave kept, so a wave name stays known). Principals,
    /// add-ins, findings and excluded rooms are kept whole: the load writes add-ins by
    /// room, and excluded rooms belong to no pool.
    ///
    /// A plan whose rooms and categories are all in `pool` is returned as it is: at the
    /// largest pool a copy cost verify 110 MB.
    pub fn of_pool(&self, pool: &str) -> std::borrow::Cow<'_, Plan> {
        if self.rooms.iter().all(|r| r.pool == pool)
            && self.categories.iter().all(|c| c.pool == pool)
        {
            return std::borrow::Cow::Borrowed(self);
        }
        // One copy, filtered in place (a copy of every room just to drop it cost as much).
        let mut out = self.clone();
        out.rooms.retain(|r| r.pool == pool);
        out.categories.retain(|c| c.pool == pool);
        for w in &mut out.waves {
            let mine: Vec<_> = out.rooms.iter().filter(|r| r.wave == w.name).collect();
            w.rooms = mine.iter().map(|r| r.legacy_id).collect();
            w.messages = mine.iter().map(|r| r.message_count).sum();
        }
        std::borrow::Cow::Owned(out)
    }

    /// Every (wave, pool) pair holding rooms: waves in plan (cutover) order, then pools —
    /// one configure script, policy script or cutover each.
    pub fn wave_pools(&self) -> Vec<(&str, &str)> {
        let pools = self.pools();
        self.waves
            .iter()
            .flat_map(|w| {
                pools
                    .iter()
                    .filter(|p| self.rooms_of(Some(&w.name), p).next().is_some())
                    .map(move |p| (w.name.as_str(), *p))
            })
            .collect()
    }

    /// The waves holding rooms of `pool`, in plan order.
    pub fn waves_of(&self, pool: &str) -> Vec<String> {
        self.waves
            .iter()
            .filter(|w| self.rooms_of(Some(&w.name), pool).next().is_some())
            .map(|w| w.name.clone())
            .collect()
    }
}

/// Refuses a plan holding a wave literally named `all` (built by an earlier gcmigrate,
/// whose default wave had that name): `all` now means every wave.
pub fn check_wave_names(plan: &Plan) -> Result<()> {
    if plan.waves.iter().any(|w| w.name.eq_ignore_ascii_case(EVERY_WAVE)) {
        return Err(bad_input(
            "the stored plan has a wave named `all`, which now means every wave (the default \
             wave is `default`): rerun `gcmigrate plan` (with the same --mappings) and load again",
        ));
    }
    Ok(())
}

/// The part of a file name that says what a run covered: the wave (`all` for every wave),
/// then `@<pool>` when the plan has several pools.
pub fn label(wave: Option<&str>, pool: &str, several_pools: bool) -> String {
    let wave = wave.unwrap_or(EVERY_WAVE);
    if several_pools {
        format!("{wave}@{pool}")
    } else {
        wave.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanCategory, PlanRoom, PlanWave};

    fn plan() -> Plan {
        let mut p = Plan::default();
        for (id, pool, wave) in [(1, "eu", "pilot"), (2, "us", "pilot"), (3, "us", "late")] {
            p.rooms.push(PlanRoom {
                legacy_id: id,
                pool: pool.into(),
                wave: wave.into(),
                category: pool.into(),
                message_count: 10 * id as u64,
                ..Default::default()
            });
            p.categories.push(PlanCategory {
                key: pool.into(),
                pool: pool.into(),
                ..Default::default()
            });
        }
        p.waves = vec![
            PlanWave { name: "pilot".into(), rooms: vec![1, 2], messages: 30 },
            PlanWave { name: "late".into(), rooms: vec![3], messages: 30 },
        ];
        p
    }

    #[test]
    fn a_pool_sees_only_its_rooms_and_categories() {
        let p = plan();
        let eu = p.of_pool("eu");
        assert_eq!(eu.rooms.iter().map(|r| r.legacy_id).collect::<Vec<_>>(), [1]);
        assert!(eu.categories.iter().all(|c| c.pool == "eu"));
        assert_eq!(eu.waves.len(), 2, "every wave name stays known");
        assert_eq!((eu.waves[0].rooms.as_slice(), eu.waves[0].messages), (&[1][..], 10));
        assert!(eu.waves[1].rooms.is_empty());
        assert_eq!(p.waves_of("eu"), ["pilot"]);
        assert_eq!(p.waves_of("us"), ["pilot", "late"], "plan order");
    }

    #[test]
    fn labels_of_one_wave_every_wave_and_pools_never_collide() {
        let all = [
            label(Some("pilot"), "eu", false),
            label(None, "eu", false),
            label(Some("pilot"), "eu", true),
            label(Some("pilot"), "us", true),
            label(None, "eu", true),
        ];
        assert_eq!(all, ["pilot", "all", "pilot@eu", "pilot@us", "all@eu"]);
        let set: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(set.len(), all.len());
    }

    #[test]
    fn a_plan_with_a_wave_named_all_is_refused() {
        let mut p = plan();
        assert!(check_wave_names(&p).is_ok());
        p.waves[1].name = "all".into();
        let e = check_wave_names(&p).unwrap_err().to_string();
        assert!(e.contains("rerun `gcmigrate plan`"), "{e}");
    }
}
