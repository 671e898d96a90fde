//! Which keys a wave's load inserted: read from the target's `gcmigrate_ledger` (the
//! authority) or, offline, from the workspace journal; and whether another loaded wave
//! still depends on them, so that rolling back wave A never pulls principals, categories
//! or add-ins from under a later wave B.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{Context, Result};

use crate::db::{Conn, Dialect};
use crate::error::bad_input;
use crate::load::config::Inserted;
use crate::load::ledger;
use crate::staging::Workspace;

/// Configuration loads of a wave, as the ledger or the journal records them: one run each
/// as read, all runs of the wave once [`pick`]ed.
#[derive(Debug, Clone)]
pub struct LoadedWave {
    /// The wave name the loads used.
    pub wave: String,
    /// The load runs that wrote the configuration.
    pub runs: Vec<String>,
    /// What those runs inserted.
    pub inserted: Inserted,
    /// The deployment the loads came from (`None`: the journal's, or unrecorded).
    pub deployment: Option<String>,
    /// Target principals the loads' id maps reference (reused or inserted) or that their
    /// affiliations name: what another deployment's rollback must leave in place.
    pub uses: BTreeSet<i64>,
}

/// The target ledger's configuration loads, oldest first, split into the workspace's own
/// and other deployments'; refuses a target without a ledger.
pub async fn from_ledger(
    db: &Conn,
    mine: &ledger::Mine,
) -> Result<(Vec<LoadedWave>, Vec<LoadedWave>)> {
    if !ledger::exists(db).await? {
        return Err(bad_input(format!(
            "{} has no readable gcmigrate_ledger (was anything loaded into it? is it the mgc \
             database?)",
            db.url()
        )));
    }
    let (own, foreign): (Vec<_>, Vec<_>) =
        ledger::configs(db).await?.into_iter().partition(|c| mine.owns(c));
    let loaded = |v: Vec<ledger::ConfigRow>| -> Vec<LoadedWave> {
        v.into_iter()
            .map(|c| {
                let mut uses: BTreeSet<i64> = c.map.principals.values().copied().collect();
                uses.extend(c.map.inserted.affiliations.iter().map(|a| a.1));
                LoadedWave {
                    wave: c.wave,
                    runs: vec![c.run_id],
                    inserted: c.map.inserted,
                    deployment: c.deployment,
                    uses,
                }
            })
            .collect()
    };
    Ok((loaded(own), loaded(foreign)))
}

/// Takes out of `this` the principals it inserted that another deployment's loads use,
/// so its rollback leaves them in place; returns them. Ownership is not handed over: a
/// principal is a directory object that Persistent Chat's AD sync maintains, so one left
/// behind when the other deployment is rolled back too is harmless, whereas deleting it
/// would strip the other deployment's roles, scopes and message authors.
pub fn keep_foreign_principals(
    this: &mut LoadedWave,
    foreign: &[LoadedWave],
) -> Vec<(i64, String)> {
    let mut kept = Vec::new();
    this.inserted.principals.retain(|p| match foreign.iter().find(|f| f.uses.contains(p)) {
        Some(f) => {
            kept.push((*p, f.deployment.clone().unwrap_or_else(|| "unrecorded".into())));
            false
        }
        None => true,
    });
    let gone: HashSet<i64> = kept.iter().map(|k| k.0).collect();
    this.inserted.affiliations.retain(|a| !gone.contains(&a.0));
    kept
}

/// The refusal when the target holds `wave` only for another deployment.
pub fn foreign_wave(
    foreign: &[LoadedWave],
    wave: &str,
    mine: &ledger::Mine,
) -> Option<anyhow::Error> {
    let theirs = foreign.iter().find(|w| w.wave == wave)?;
    Some(bad_input(format!(
        "wave {wave:?} in this target was loaded from deployment {}, but this workspace holds \
         deployment {}: roll it back from the workspace that loaded it; nothing was deleted",
        theirs.deployment.as_deref().unwrap_or("(unrecorded)"),
        mine.deployment
    )))
}

/// The workspace journal's configuration loads that no recorded rollback has undone,
/// oldest first.
pub async fn from_journal(ws: &Workspace) -> Result<Vec<LoadedWave>> {
    let mut out: Vec<LoadedWave> = Vec::new();
    for e in ws.journal_entries(&["config", "rollback"]).await? {
        if e.kind == "config" {
            let inserted: Inserted =
                crate::db::packed_json::unpack(&e.body).with_context(|| {
                    format!("the journal's configuration entry of run {} is unreadable", e.run_id)
                })?;
            out.push(LoadedWave {
                wave: e.wave,
                runs: vec![e.run_id],
                inserted,
                deployment: None,
                uses: BTreeSet::new(),
            });
        } else {
            let undone: serde_json::Value = serde_json::from_str(&e.body).unwrap_or_default();
            let undone: Vec<&str> = undone["load_runs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str())
                .collect();
            out.retain(|w| !w.runs.iter().any(|r| undone.contains(&r.as_str())));
        }
    }
    Ok(out)
}

/// Merges the loads of `wave` (every configuration run of it) and lists the other loads.
pub fn pick<'a>(
    loaded: &'a [LoadedWave],
    wave: &str,
    from: &str,
) -> Result<(LoadedWave, Vec<&'a LoadedWave>)> {
    let others = loaded.iter().filter(|w| w.wave != wave).collect();
    let mut this = LoadedWave {
        wave: wave.to_string(),
        runs: Vec::new(),
        inserted: Inserted::default(),
        deployment: None,
        uses: BTreeSet::new(),
    };
    for w in loaded.iter().filter(|w| w.wave == wave) {
        this.deployment = w.deployment.clone();
        let (to, from) = (&mut this.inserted, &w.inserted);
        this.runs.extend(w.runs.iter().cloned());
        to.principals.extend(&from.principals);
        to.affiliations.extend(&from.affiliations);
        to.addins.extend(from.addins.iter().cloned());
        to.nodes.extend(&from.nodes);
        to.scopes.extend(&from.scopes);
        to.roles.extend(&from.roles);
        to.invites.extend(&from.invites);
        to.last_invites.extend(&from.last_invites);
    }
    if this.runs.is_empty() {
        let names: BTreeSet<String> = loaded.iter().map(|w| format!("{:?}", w.wave)).collect();
        let names: Vec<String> = names.into_iter().collect();
        return Err(bad_input(format!(
            "the {from} holds no load of wave {wave:?} (loaded: {}); nothing to roll back",
            if names.is_empty() { "none".into() } else { names.join(", ") }
        )));
    }
    Ok((this, others))
}

/// Notes where the workspace journal disagrees with the target's ledger about `wave`.
pub fn cross_check(ledger: &LoadedWave, journal: &[LoadedWave]) -> Vec<String> {
    let Ok((j, _)) = pick(journal, &ledger.wave, "journal") else {
        return vec!["the workspace journal holds no load of this wave (another workspace?); using the target's ledger".into()];
    };
    let sorted = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    if sorted(&j.runs) != sorted(&ledger.runs) {
        let runs = |v: &[String]| v.join(", ");
        return vec![format!(
            "the workspace journal lists load runs {} of this wave, the target's ledger {}; using the ledger",
            runs(&j.runs),
            runs(&ledger.runs)
        )];
    }
    let keys = |w: &LoadedWave| {
        let i = &w.inserted;
        (
            sorted_ints(&i.nodes),
            sorted_ints(&i.principals),
            i.addins.iter().cloned().collect::<BTreeSet<_>>(),
        )
    };
    if keys(&j) != keys(ledger) {
        return vec![
            "the journal and the ledger list different keys for this wave; using the ledger".into(),
        ];
    }
    vec![]
}

fn sorted_ints(v: &[i64]) -> BTreeSet<i64> {
    v.iter().copied().collect()
}

/// What a node refers to, for the dependency check.
pub(super) struct NodeRefs {
    pub(super) parent: Option<i64>,
    pub(super) siop: Option<String>,
    pub(super) added_by: i64,
    pub(super) updated_by: i64,
}

/// Refuses when another loaded wave uses principals, categories or add-ins `this` inserted.
/// Without a target only the journal's role, scope, invite and affiliation keys are
/// compared; the script's own guard checks the rest when it runs.
pub(super) async fn check_dependents(
    this: &LoadedWave,
    others: &[&LoadedWave],
    target: Option<&Conn>,
) -> Result<()> {
    let prins: HashSet<i64> = this.inserted.principals.iter().copied().collect();
    let nodes: HashSet<i64> = this.inserted.nodes.iter().copied().collect();
    let addins: HashSet<String> = this.inserted.addins.iter().map(|g| norm_guid(g)).collect();
    let refs = match target {
        Some(t) if !others.is_empty() => node_refs(t).await?,
        _ => HashMap::new(),
    };
    for o in others {
        let i = &o.inserted;
        let mut uses = BTreeSet::new();
        if i.roles.iter().any(|r| prins.contains(&r.1))
            || i.scopes.iter().any(|s| prins.contains(&s.1))
            || i.invites.iter().any(|v| prins.contains(&v.0))
            || i.affiliations.iter().any(|a| prins.contains(&a.1))
        {
            uses.insert("principals");
        }
        for n in i.nodes.iter().filter_map(|n| refs.get(n)) {
            if n.parent.is_some_and(|p| nodes.contains(&p)) {
                uses.insert("categories");
            }
            if n.siop.as_deref().is_some_and(|s| addins.contains(&norm_guid(s))) {
                uses.insert("add-ins");
            }
            if prins.contains(&n.added_by) || prins.contains(&n.updated_by) {
                uses.insert("principals");
            }
        }
        if !uses.is_empty() {
            let what: Vec<&str> = uses.into_iter().collect();
            return Err(bad_input(format!(
                "wave {:?} (load run {}) still uses {} that wave {:?} inserted: roll back wave {:?} first",
                o.wave,
                o.runs.join(", "),
                what.join(" and "),
                this.wave,
                o.wave
            )));
        }
    }
    Ok(())
}

/// Parent, add-in and author of every node in the target, the add-in GUID as text.
pub fn node_refs_sql(d: Dialect) -> String {
    format!(
        "SELECT CAST(nodeID AS BIGINT), CAST(parentID AS BIGINT), {}, \
         CAST(nodeAddedBy AS BIGINT), CAST(nodeUpdatedBy AS BIGINT) FROM tblNode",
        d.as_text("siopID")
    )
}

/// Parent, add-in and author of every node in the target.
async fn node_refs(db: &Conn) -> Result<HashMap<i64, NodeRefs>> {
    let mut out = HashMap::new();
    db.each_row("reading the target's nodes", &node_refs_sql(db.dialect()), &[], |r| {
        let n = NodeRefs {
            parent: r.opt_int(1)?,
            siop: r.opt_text(2)?,
            added_by: r.int(3)?,
            updated_by: r.int(4)?,
        };
        out.insert(r.int(0)?, n);
        Ok(())
    })
    .await?;
    Ok(out)
}

/// A GUID as compared here: lower case, no braces.
fn norm_guid(g: &str) -> String {
    g.trim_matches(['{', '}']).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(name: &str, run: &str, ins: Inserted) -> LoadedWave {
        LoadedWave {
            wave: name.into(),
            runs: vec![run.into()],
            inserted: ins,
            deployment: None,
            uses: BTreeSet::new(),
        }
    }

    #[test]
    fn principals_another_deployment_uses_are_kept() {
        let ins = Inserted {
            principals: vec![10, 11],
            affiliations: vec![(10, 10, 0), (11, 11, 0)],
            ..Inserted::default()
        };
        let mut a = wave("a", "r1", ins);
        let mut b = wave("b", "r2", Inserted::default());
        b.deployment = Some("pool:b".into());
        b.uses.insert(11);
        let kept = keep_foreign_principals(&mut a, &[b]);
        assert_eq!(kept, [(11, "pool:b".to_string())]);
        assert_eq!((a.inserted.principals, a.inserted.affiliations), (vec![10], vec![(10, 10, 0)]));
    }

    #[tokio::test]
    async fn names_the_later_wave_that_uses_a_principal() {
        let a = wave(
            "a",
            "r1",
            Inserted { principals: vec![10, 11], nodes: vec![5, 6], ..Inserted::default() },
        );
        let b = wave(
            "b",
            "r2",
            Inserted { nodes: vec![7], roles: vec![(7, 11, 1)], ..Inserted::default() },
        );
        let err = check_dependents(&a, &[&b], None).await.unwrap_err().to_string();
        assert!(err.contains("wave \"b\"") && err.contains("principals"), "{err}");
        assert!(check_dependents(&b, &[&a], None).await.is_ok());
    }

    #[test]
    fn merges_every_run_of_a_wave_and_reports_missing_ones() {
        let ins = |n: i64| Inserted { nodes: vec![n], ..Inserted::default() };
        let all = [wave("a", "r1", ins(2)), wave("b", "r2", ins(3)), wave("b", "r3", ins(4))];
        let (this, others) = pick(&all, "b", "ledger").unwrap();
        assert_eq!((this.runs.len(), this.inserted.nodes, others.len()), (2, vec![3, 4], 1));
        let err = pick(&all, "c", "ledger").unwrap_err().to_string();
        assert!(err.contains("\"a\", \"b\""), "{err}");
    }
}
