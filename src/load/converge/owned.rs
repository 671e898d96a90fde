//! What the ledger says this deployment wrote: every configuration row of the workspace's
//! deployment, replayed oldest first — the rows each run inserted, minus those a later run
//! removed — with the wave (and pool) whose load wrote each. A load changes or removes only
//! rows its own wave wrote; everything else it may only add to.

use std::collections::{BTreeMap, HashMap};

use crate::load::ledger::ConfigRow;

/// Which wave wrote what, replayed from the ledger.
#[derive(Debug, Default)]
pub struct Owned {
    /// Target `nodeID` → the wave that inserted it (rooms removed since are gone).
    pub nodes: HashMap<i64, String>,
    /// Role rows (node, principal, role type) → the wave that inserted them.
    pub roles: HashMap<(i64, i64, i64), String>,
    /// Scope rows (node, principal) → the wave that inserted them.
    pub scopes: HashMap<(i64, i64), String>,
    /// Legacy room `nodeID` → (target `nodeID`, wave, pool) of the rooms the ledger holds.
    pub rooms: BTreeMap<i64, (i64, String, Option<String>)>,
    /// Principals the deployment inserted.
    pub principals: HashMap<i64, String>,
}

impl Owned {
    /// Replays the workspace's own configuration rows, oldest first.
    pub fn replay<'a>(own: impl IntoIterator<Item = &'a ConfigRow>) -> Owned {
        let mut o = Owned::default();
        for c in own {
            let w = || c.wave.clone();
            let ins = &c.map.inserted;
            o.nodes.extend(ins.nodes.iter().map(|n| (*n, w())));
            o.roles.extend(ins.roles.iter().map(|r| (*r, w())));
            o.scopes.extend(ins.scopes.iter().map(|s| (*s, w())));
            o.principals.extend(ins.principals.iter().map(|p| (*p, w())));
            // A row's map carries every room known when it was written; the room belongs to
            // the row that inserted its node.
            let inserted: std::collections::HashSet<i64> = ins.nodes.iter().copied().collect();
            for (legacy, target) in &c.map.rooms {
                if inserted.contains(target) {
                    o.rooms.insert(*legacy, (*target, w(), c.pool.clone()));
                }
            }
            let rm = &c.map.removed;
            for r in &rm.roles {
                o.roles.remove(r);
            }
            for s in &rm.scopes {
                o.scopes.remove(s);
            }
            for (legacy, target) in &rm.rooms {
                o.rooms.remove(legacy);
                o.nodes.remove(target);
                o.roles.retain(|k, _| k.0 != *target);
            }
        }
        o
    }

    /// Whether `wave` wrote node `id`.
    pub fn node_of(&self, id: i64, wave: &str) -> bool {
        self.nodes.get(&id).is_some_and(|w| w == wave)
    }
}
