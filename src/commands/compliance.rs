//! `gcmigrate compliance`: a wave's migrated history as the Persistent Chat compliance
//! service's XML, with a manifest (see [`crate::compliance`]).

use anyhow::Result;

use crate::cutover::records::{loads_of, time, verifies_of};

use crate::cli::ComplianceArgs;
use crate::compliance::{export, Options};
use crate::error::Outcome;
use crate::progress::{out_line, Progress};
use crate::staging::Workspace;

/// Runs `compliance`.
pub async fn run(args: ComplianceArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    ws.check_manifest().await?;
    let (plan, snap) = super::plan_and_snapshot(&ws).await?;
    let opts = Options {
        wave: args.wave,
        pool: args.pool,
        out: args.out,
        slice: args.slice,
        domain: args.domain,
    };
    let m = export(&ws, &plan, &snap, &opts, &progress).await?;
    if let Some(note) = signed_off(&ws, &m.wave, &m.pool).await? {
        progress.note(&format!("compliance ({}@{}): note: {note}", m.wave, m.pool));
    }
    let left: u64 = m.totals.excluded.values().chain(m.totals.rejected.values()).sum();
    if progress != Progress::Quiet {
        out_line(&format!(
            "compliance ({}@{}): {} messages of {} rooms in {} files, {} left out (listed in the \
             manifest); {}",
            m.wave,
            m.pool,
            m.totals.exported,
            m.rooms.len(),
            m.totals.files,
            left,
            opts.out.join("manifest.json").display()
        ));
    }
    Ok(Outcome::Success)
}

/// What the journal says against taking the export as the loaded history: no load of the
/// wave recorded, or no passing verify after its last load (`None`: a verify passed since).
async fn signed_off(ws: &Workspace, wave: &str, pool: &str) -> Result<Option<String>> {
    let Some(load) = loads_of(ws, wave, pool).await?.pop() else {
        return Ok(Some(
            "this workspace records no load of the wave: the files hold what a load would write"
                .into(),
        ));
    };
    let loaded = time(&load.finished_at, "load")?;
    let mut passed = false;
    for v in verifies_of(ws, wave, pool).await? {
        if time(&v.finished_at, "verify")? >= loaded && v.target == load.target {
            passed = v.ok;
        }
    }
    Ok((!passed).then(|| {
        format!(
            "no verify of {} has passed since the last load: run `gcmigrate verify` and keep \
             this export only if it passes",
            load.target
        )
    }))
}
