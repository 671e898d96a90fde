//! The keys of one wave's loads as a rollback script embeds them, validated first: the
//! ledger lives in a database anyone may have edited, so a run id or add-in id that is not
//! plainly an id is refused before it can reach a script.

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use super::LoadedWave;
use crate::error::bad_input;

/// The keys of one wave's loads, validated for embedding in a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaveKeys {
    /// The load runs that configured the wave (the first load, and any that added rooms
    /// later); the script checks and removes their configuration ledger rows.
    pub runs: Vec<String>,
    /// `tblNode.nodeID`s the loads inserted (categories and rooms).
    pub nodes: Vec<i64>,
    /// `tblPrincipal.prinID`s the loads inserted.
    pub principals: Vec<i64>,
    /// `tblSiopWhiteList.siopID`s the loads inserted.
    pub addins: Vec<String>,
    /// The wave's cutover runs: the script removes their ledger rows with the wave.
    #[serde(default)]
    pub cutovers: Vec<String>,
    /// Role rows (node, principal, role type) the loads added to nodes they did not
    /// insert (convergence adds to another wave's or the target's own category); rows on
    /// the wave's own nodes go with their node.
    #[serde(default)]
    pub roles: Vec<(i64, i64, i64)>,
    /// Scope rows (node, principal) the loads added to nodes they did not insert.
    #[serde(default)]
    pub scopes: Vec<(i64, i64)>,
    /// `tblLastInviteId` of the principals whose value the loads inserted or raised, with
    /// the value before the wave's first such load (`None`: no row).
    #[serde(default)]
    pub last_invites: Vec<(i64, Option<i64>)>,
}

impl WaveKeys {
    /// Takes the keys of a wave's configuration runs; refuses a run id or add-in id that
    /// is not plainly an id (the ledger is in a database anyone may have edited).
    pub fn new(wave: &LoadedWave) -> Result<WaveKeys> {
        if let Some(bad) = wave.runs.iter().find(|r| !id_ok(r)) {
            return Err(bad_input(format!(
                "the ledger's run id {bad:?} is not a gcmigrate run id; refusing to render"
            )));
        }
        let ins = &wave.inserted;
        if let Some(bad) = ins.addins.iter().find(|g| !is_guid(g)) {
            return Err(bad_input(format!(
                "the ledger's add-in id {bad:?} is not a GUID; refusing to render"
            )));
        }
        // Sorted and unique: the key tables have primary keys.
        let set = |v: &[i64]| v.iter().copied().collect::<BTreeSet<i64>>().into_iter().collect();
        let addins: BTreeSet<String> = ins.addins.iter().cloned().collect();
        let own: BTreeSet<i64> = ins.nodes.iter().copied().collect();
        let roles: BTreeSet<(i64, i64, i64)> =
            ins.roles.iter().copied().filter(|r| !own.contains(&r.0)).collect();
        let scopes: BTreeSet<(i64, i64)> =
            ins.scopes.iter().copied().filter(|r| !own.contains(&r.0)).collect();
        Ok(WaveKeys {
            runs: wave.runs.clone(),
            nodes: set(&ins.nodes),
            principals: set(&ins.principals),
            addins: addins.into_iter().collect(),
            cutovers: Vec::new(),
            roles: roles.into_iter().collect(),
            scopes: scopes.into_iter().collect(),
            last_invites: earliest(&ins.last_invites),
        })
    }

    /// Adds the wave's cutover runs (their ledger rows go with the wave); refuses a run id
    /// that is not plainly an id.
    pub fn with_cutovers(mut self, runs: Vec<String>) -> Result<WaveKeys> {
        if let Some(bad) = runs.iter().find(|r| !id_ok(r)) {
            return Err(bad_input(format!(
                "the cutover run id {bad:?} is not a gcmigrate run id; refusing to render"
            )));
        }
        let set: BTreeSet<String> = runs.into_iter().collect();
        self.cutovers = set.into_iter().collect();
        Ok(self)
    }
}

/// Each principal's value before the first of several loads raised it: no row when any
/// load found none (values only grow), else the lowest.
fn earliest(rows: &[(i64, Option<i64>)]) -> Vec<(i64, Option<i64>)> {
    let mut out: std::collections::BTreeMap<i64, Option<i64>> = Default::default();
    for &(p, before) in rows {
        let e = out.entry(p).or_insert(before);
        *e = match (*e, before) {
            (None, _) | (_, None) => None,
            (Some(a), Some(b)) => Some(a.min(b)),
        };
    }
    out.into_iter().collect()
}

/// Whether a run id read from a ledger or journal is plainly an id (safe in a script).
fn id_ok(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 64
        && r.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:+".contains(c))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, optionally in braces.
pub(super) fn is_guid(s: &str) -> bool {
    let s = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(s);
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}
