//! Which part of a plan a command works on. A target database is one pool
//! (MAPPING.md §4 "Pools and waves"): `load`, `verify`, `cutover` and `rollback` each
//! write or read one pool's categories, rooms and add-ins, chosen with `--pool`; a plan
//! with several pools and no `--pool` is refused (exit 2) with the list of its pools.

use std::collections::BTreeSet;

use anyhow::Result;

use super::{Plan, PlanRoom};
use crate::error::bad_input;

impl Plan {
    /// The plan's pools, sorted: those of its categories and rooms.
    pub fn pools(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .categories
            .iter()
            .map(|c| c.pool.as_str())
            .chain(self.rooms.iter().map(|r| r.pool.as_str()))
            .collect();
        set.into_iter().collect()
    }

    /// Rooms of a wave (`None`: every wave) in one pool.
    pub fn rooms_of<'a>(
        &'a self,
        wave: Option<&'a str>,
        pool: &'a str,
    ) -> impl Iterator<Item = &'a PlanRoom> + 'a {
        self.rooms_in(wave).filter(move |r| r.pool == pool)
    }
}

/// The pool a command works on: `--pool` when given (it must be one of the plan's), else
/// the plan's only pool. Several pools and no `--pool` is exit 2 naming them; a plan with
/// no pool at all (no rooms) falls back to its default pool.
pub fn choose_pool(plan: &Plan, pool: Option<&str>, command: &str) -> Result<String> {
    let pools = plan.pools();
    match pool {
        Some(p) if pools.contains(&p) => Ok(p.to_string()),
        Some(p) => Err(bad_input(format!(
            "no pool `{p}` in the plan (pools: {}); check --pool and the plan's mappings",
            list(&pools)
        ))),
        None => match pools.as_slice() {
            [] => Ok(plan.options.default_pool.clone()),
            [one] => Ok(one.to_string()),
            many => Err(bad_input(format!(
                "the plan has {} pools ({}) and each is its own target database: run \
                 `gcmigrate {command}` once per pool with `--pool NAME` and that pool's --target",
                many.len(),
                list(many)
            ))),
        },
    }
}

/// Pool names for a message.
fn list(pools: &[&str]) -> String {
    if pools.is_empty() {
        "none".into()
    } else {
        pools.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(pools: &[&str]) -> Plan {
        let mut p = Plan::default();
        p.options.default_pool = "default".into();
        for (i, pool) in pools.iter().enumerate() {
            p.rooms.push(PlanRoom {
                legacy_id: i as i64,
                pool: pool.to_string(),
                ..Default::default()
            });
        }
        p
    }

    #[test]
    fn one_pool_is_chosen_several_need_a_name() {
        assert_eq!(choose_pool(&plan(&["a", "a"]), None, "load").unwrap(), "a");
        assert_eq!(choose_pool(&plan(&[]), None, "load").unwrap(), "default");
        let two = plan(&["eu", "us", "eu"]);
        let err = choose_pool(&two, None, "load").unwrap_err().to_string();
        assert!(err.contains("2 pools (eu, us)") && err.contains("--pool"), "{err}");
        assert_eq!(choose_pool(&two, Some("us"), "load").unwrap(), "us");
        let err = choose_pool(&two, Some("asia"), "load").unwrap_err().to_string();
        assert!(err.contains("no pool `asia`"), "{err}");
        assert_eq!(two.rooms_of(None, "eu").count(), 2);
    }
}
