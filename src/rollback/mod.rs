//! Rollback of a loaded wave: the keys its load wrote (from the target's ledger, or the
//! workspace journal offline) → one script per dialect → optionally run on the target.
//!
//! The script holds no names at all, only integer keys, GUID literals and the load's run
//! id, so hostile wave, room or principal names cannot break it. It removes what the
//! wave's load wrote, in dependency order, inside one transaction, after guards that
//! refuse — before anything is deleted — when the target holds messages the migration
//! did not write, or when objects the wave inserted are used outside it (a later wave).
//! The target is read (`keys.rs`: its ledger, its nodes' references) and the script run
//! (`exec.rs`) through the backend layer's [`TargetDb`], the same code on every engine.
//! See: issue "Loading in waves", item 6; issue "One backend layer".

mod exec;
pub mod keys;
pub mod script;
mod wave_keys;

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::db::{DbUrl, Dialect, OpenMode, TargetDb};
use crate::error::bad_input;
use crate::progress::Progress;
use crate::staging::Workspace;

pub use exec::Executed;
pub use keys::LoadedWave;
#[cfg(test)]
use wave_keys::is_guid;
pub use wave_keys::WaveKeys;

/// What the script does with messages posted in the wave's rooms after the cutover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NewMessages {
    /// Refuse to run (the default): they are not ours to delete.
    Refuse,
    /// Delete them with the rest (`--discard-new-messages`).
    Discard,
}

/// Whether the script is only written, or also run against the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Write the script and stop.
    Render,
    /// Write it, then run it on `--target`.
    Execute,
}

/// A check the script makes before deleting anything; each aborts the whole script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Guard {
    /// The target holds no (or no single) ledger row of the load run: rolled back already,
    /// or the script is meant for another database.
    NotLoaded,
    /// Something outside the wave uses what it inserted (a later wave, or use after cutover).
    InUse,
    /// The wave's rooms hold messages the migration did not write.
    NewMessages,
}

impl Guard {
    /// Every guard, in the order the script checks them.
    pub const ALL: [Guard; 3] = [Guard::NotLoaded, Guard::InUse, Guard::NewMessages];

    /// The identifier that names the guard in every dialect's error (constraint name on
    /// SQLite, message prefix elsewhere); executors recognise a refusal by it.
    pub fn token(self) -> &'static str {
        match self {
            Guard::NotLoaded => "wave_not_loaded_in_this_target",
            Guard::InUse => "keys_still_used_outside_this_wave",
            Guard::NewMessages => "new_messages_posted_after_cutover",
        }
    }

    /// The error text the script raises: plain ASCII, no quotes, `%` or `$`.
    pub fn message(self) -> String {
        let why = match self {
            Guard::NotLoaded => "this target does not hold the ledger rows of exactly these load runs (rolled back already, or another database)",
            Guard::InUse => "objects this wave inserted are used outside it (by a later wave or after the cutover): roll that back first",
            Guard::NewMessages => {
                "the wave rooms hold messages the migration did not write: rerun with --discard-new-messages to delete them too"
            }
        };
        format!("gcmigrate rollback refused ({}): {why} (nothing was deleted)", self.token())
    }
}

/// Options of one rollback, resolved from the command line.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    /// The wave, as the load named it (`None`: every wave the pool's ledger holds, newest
    /// first).
    pub wave: Option<String>,
    /// The pool (`None`: the plan's only pool).
    pub pool: Option<String>,
    /// Script dialect.
    pub dialect: Dialect,
    /// Where the script goes (None: `DIR/scripts/rollback-<wave>[@<pool>].<dialect>.sql`).
    pub out: Option<PathBuf>,
    /// The target: its ledger is the authority for the keys when given.
    pub target: Option<DbUrl>,
    /// Render only, or render and run.
    pub mode: RunMode,
    /// Guard against, or delete, messages posted after the cutover.
    pub new_messages: NewMessages,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// The wave.
    pub wave: String,
    /// The keys the script removes.
    pub keys: WaveKeys,
    /// Where the keys came from: the target's ledger or the workspace journal.
    pub keys_from: &'static str,
    /// The script file.
    pub script: PathBuf,
    /// Whether it ran, and how that ended (None: rendered only).
    pub executed: Option<Executed>,
    /// Differences between the workspace journal and the target ledger, for the user.
    pub notes: Vec<String>,
}

/// Rolls back one pool of a target: the wave asked for, else every wave the pool's ledger
/// (or, offline, the journal) holds, newest first, each with its own script and, in
/// [`RunMode::Execute`], its own transaction; stops at the first refusal. Rolling back every
/// wave is also how a wave named `all` by an earlier gcmigrate (which `--wave` no longer
/// accepts) is undone.
pub async fn rollback(
    ws: &Workspace,
    opts: &RollbackOptions,
    progress: &Progress,
) -> Result<Vec<RollbackReport>> {
    let plan: crate::plan::Plan = ws.load_plan().await?;
    let pool = crate::plan::select::choose_pool(&plan, opts.pool.as_deref(), "rollback")?;
    let several = plan.pools().len() > 1;
    if several && opts.target.is_none() {
        return Err(bad_input(format!(
            "the plan has several pools and the workspace journal does not record which pool a \
             load wrote: pass --target (the URL of pool `{pool}`), whose ledger does"
        )));
    }
    let waves = match &opts.wave {
        Some(w) => vec![w.clone()],
        None => waves_newest_first(ws, opts, &pool).await?,
    };
    if waves.len() > 1 && opts.out.is_some() {
        return Err(bad_input(format!(
            "--out names one script, and every wave means {} ({}): pass --wave too, or drop \
             --out (the scripts go to the workspace's scripts/)",
            waves.len(),
            waves.join(", ")
        )));
    }
    let mut reports = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for wave in waves {
        let one = One { wave: &wave, pool: &pool, several, done: &done };
        let r = rollback_wave(ws, opts, &one, progress).await?;
        let refused = matches!(r.executed, Some(Executed::Refused(_)));
        reports.push(r);
        done.push(wave);
        if refused {
            break;
        }
    }
    Ok(reports)
}

/// One wave of a rollback run.
struct One<'a> {
    /// The wave.
    wave: &'a str,
    /// Its pool.
    pool: &'a str,
    /// Whether the plan has several pools (the pool is then part of the script's name).
    several: bool,
    /// Waves this run already rolled back (or rendered): no longer "others" that depend on
    /// this wave's keys.
    done: &'a [String],
}

/// The waves of `pool` the target's ledger (else the journal) holds, newest first (by
/// their first load), so that no wave is rolled back under a later one that uses its keys.
async fn waves_newest_first(
    ws: &Workspace,
    opts: &RollbackOptions,
    pool: &str,
) -> Result<Vec<String>> {
    let loaded = match &opts.target {
        Some(t) => {
            let c = TargetDb::open(t, OpenMode::Existing, 1).await?;
            let mine = crate::load::ledger::Mine::of(ws, &ws.load_snapshot().await?).await;
            let read = async {
                let (mut own, _) = keys::from_ledger(&c, &mine?).await?;
                let runs = crate::load::pool_guard::runs_of(&c, pool).await?;
                own.retain(|w| w.runs.iter().all(|r| runs.contains(r)));
                anyhow::Ok(own)
            }
            .await;
            c.close().await;
            read?
        }
        None => keys::from_journal(ws).await?,
    };
    let mut waves: Vec<String> = Vec::new();
    for w in loaded {
        if !waves.contains(&w.wave) {
            waves.push(w.wave);
        }
    }
    if waves.is_empty() {
        return Err(bad_input(format!(
            "the {} holds no load of pool `{pool}`; nothing to roll back",
            if opts.target.is_some() { "target's ledger" } else { "workspace journal" }
        )));
    }
    waves.reverse();
    Ok(waves)
}

/// Renders the rollback script of a wave, writes it and, in [`RunMode::Execute`], runs it
/// holding the workspace lock and the target lock (a second writer is refused at once).
async fn rollback_wave(
    ws: &Workspace,
    opts: &RollbackOptions,
    one: &One<'_>,
    progress: &Progress,
) -> Result<RollbackReport> {
    let what = format!("gcmigrate rollback --execute --wave {} --pool {}", one.wave, one.pool);
    let _lock = match opts.mode {
        RunMode::Execute => Some(crate::staging::lock::WorkspaceLock::acquire(ws.dir(), &what)?),
        RunMode::Render => None,
    };
    if let Some(n) = _lock.as_ref().and_then(|l| l.took_over.as_deref()) {
        progress.note(&format!("rollback: note: {n}"));
    }
    if opts.mode == RunMode::Execute {
        let t = opts.target.as_ref().ok_or_else(|| bad_input("--execute needs --target URL"))?;
        if t.dialect() != opts.dialect {
            return Err(bad_input(format!(
                "--dialect {} does not match the target {t} ({})",
                opts.dialect.name(),
                t.dialect().name()
            )));
        }
    }
    let conn = match &opts.target {
        Some(t) => Some(TargetDb::open(t, OpenMode::Existing, 2).await?),
        None => None,
    };
    let out = match (&conn, opts.mode) {
        (Some(c), RunMode::Execute) => {
            let note = |n: &str| progress.note(&format!("rollback: note: {n}"));
            crate::load::lock::with_lock(c, &what, note, run(ws, opts, one, progress, &conn)).await
        }
        _ => run(ws, opts, one, progress, &conn).await,
    };
    if let Some(c) = conn {
        c.close().await;
    }
    out
}

/// The rollback proper, once the target (if any) is open and, to execute, locked.
async fn run(
    ws: &Workspace,
    opts: &RollbackOptions,
    one: &One<'_>,
    progress: &Progress,
    conn: &Option<TargetDb>,
) -> Result<RollbackReport> {
    let wave = one.wave;
    let journal = keys::from_journal(ws).await?;
    let (ledger, foreign) = match &conn {
        Some(c) => {
            let mine = crate::load::ledger::Mine::of(ws, &ws.load_snapshot().await?).await?;
            let (mut own, foreign) = keys::from_ledger(c, &mine).await?;
            // Only the rows of this pool (a target is one pool; older rows cover theirs).
            let runs = crate::load::pool_guard::runs_of(c, one.pool).await?;
            own.retain(|w| w.runs.iter().all(|r| runs.contains(r)));
            if !own.iter().any(|w| w.wave == wave) {
                if let Some(e) = keys::foreign_wave(&foreign, wave, &mine) {
                    return Err(e);
                }
            }
            (Some(own), foreign)
        }
        None => (None, Vec::new()),
    };
    let (loaded, keys_from) = match &ledger {
        Some(l) => (l, "target's ledger"),
        None => (&journal, "workspace journal"),
    };
    let (mut this, mut others) = keys::pick(loaded, wave, keys_from)?;
    others.retain(|o| !one.done.contains(&o.wave));
    let mut notes = if ledger.is_some() { keys::cross_check(&this, &journal) } else { Vec::new() };
    keys::check_dependents(&this, &others, conn.as_deref()).await?;
    let kept = keys::keep_foreign_principals(&mut this, &foreign);
    if !kept.is_empty() {
        let ids: Vec<String> = kept.iter().map(|(p, d)| format!("{p} (used by {d})")).collect();
        notes.push(format!(
            "kept {} principal(s) this wave inserted that another deployment's loads use: prinID {}",
            kept.len(),
            ids.join(", ")
        ));
    }
    // The wave's cutover rows: the ledger's (the authority) and, offline, the journal's.
    let mut cutovers: Vec<String> = crate::cutover::records::cutover_runs(ws, wave, one.pool)
        .await?
        .into_iter()
        .map(|(run, _)| run)
        .collect();
    if let Some(c) = conn {
        let mine = crate::load::ledger::Mine::of(ws, &ws.load_snapshot().await?).await?;
        let rows = crate::load::staged::cutovers(c, &mine).await?;
        let ours = |r: &crate::load::staged::Cutover| {
            r.wave == wave && r.pool.as_deref().is_none_or(|p| p == one.pool)
        };
        cutovers.extend(rows.into_iter().filter(ours).map(|r| r.run_id));
    }
    let keys = WaveKeys::new(&this)?.with_cutovers(cutovers)?;
    let text = script::render(&keys, opts.dialect, opts.new_messages);
    let path = match &opts.out {
        Some(p) => p.clone(),
        None => ws.scripts_dir().join(format!(
            "rollback-{}.{}.sql",
            file_stem(&crate::plan::scope::label(Some(wave), one.pool, one.several)),
            opts.dialect.name()
        )),
    };
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    let mut executed = None;
    if let (RunMode::Execute, Some(c)) = (opts.mode, conn) {
        progress.note(&format!("rollback: running {} on {}", path.display(), c.url()));
        let outcome = exec::execute(c, &text).await?;
        if outcome == Executed::Committed {
            let body = serde_json::json!({
                "load_runs": keys.runs, "dialect": opts.dialect.name(), "script": path,
                "new_messages": opts.new_messages, "nodes": keys.nodes.len(),
                "principals": keys.principals.len(), "addins": keys.addins.len(),
            });
            let run_id = format!(
                "rollback-{}-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S"),
                std::process::id()
            );
            ws.journal(&run_id, wave, "rollback", &body.to_string()).await?;
        }
        executed = Some(outcome);
    }
    Ok(RollbackReport { wave: wave.to_string(), keys, keys_from, script: path, executed, notes })
}

/// Every T-SQL statement rollback sends besides the script, named and as SQL Server
/// receives it, for the parse tests.
#[cfg(feature = "mssql")]
pub fn tsql_statements() -> Vec<(String, String)> {
    use crate::db::mssql::{pool::placeholders, presence_sql, probe_sql};
    // What `load::ledger::exists` probes.
    let (table, probe) = (crate::db::batch::LEDGER.name, "kind");
    vec![
        ("rollback: ledger".into(), placeholders(crate::load::ledger::CONFIGS).into_owned()),
        (
            "rollback: ledger (unowned)".into(),
            placeholders(crate::load::ledger::CONFIGS_UNOWNED).into_owned(),
        ),
        ("rollback: node references".into(), keys::node_refs_sql(Dialect::Mssql)),
        (
            "rollback: end an open transaction".into(),
            crate::db::transaction::ROLLBACK_IF_OPEN.into(),
        ),
        ("rollback: probe the ledger".into(), presence_sql(table, probe)),
        ("rollback: probe the ledger by select".into(), probe_sql(table, probe)),
    ]
}

/// A file-name-safe form of a wave name (`@` joins it to a pool); a hash keeps altered
/// names apart.
fn file_stem(wave: &str) -> String {
    let safe: String = wave
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_@".contains(c) { c } else { '_' })
        .collect();
    if safe == wave && !safe.is_empty() {
        safe
    } else {
        format!("{safe}-{}", &blake3::hash(wave.as_bytes()).to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::config::Inserted;

    #[test]
    fn file_stems_are_safe_and_distinct() {
        assert_eq!(file_stem("pilot"), "pilot");
        assert_eq!(file_stem("pilot@pc-eng"), "pilot@pc-eng");
        let a = file_stem("../x\n*/");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'), "{a}");
        assert_ne!(a, file_stem("../x\n/*"));
    }

    #[test]
    fn refuses_ids_that_could_carry_sql() {
        let wave = |run: &str, addin: &str| LoadedWave {
            wave: "w".into(),
            runs: vec![run.into()],
            inserted: Inserted {
                addins: vec![addin.into()],
                nodes: vec![3, 2, 3],
                ..Inserted::default()
            },
            deployment: None,
            uses: std::collections::BTreeSet::new(),
        };
        let guid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(WaveKeys::new(&wave("20240101T000000.123-42", guid)).unwrap().nodes, [2, 3]);
        assert!(WaveKeys::new(&wave("x'; DROP TABLE tblNode; --", guid)).is_err());
        assert!(WaveKeys::new(&wave("r1", &format!("{guid}'--"))).is_err());
        assert!(is_guid("{0F8FAD5B-D9CB-469F-A165-70867728950E}"));
    }

    #[test]
    fn guard_messages_are_safe_in_every_dialect() {
        for g in Guard::ALL {
            let m = g.message();
            assert!(m.is_ascii() && !m.contains(['\'', '%', '$', '"', ';']), "{m}");
            assert!(m.contains(g.token()));
        }
    }
}
