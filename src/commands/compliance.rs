//! `gcmigrate compliance`: a wave's migrated history as the Persistent Chat compliance
//! service's XML, with a manifest (see [`crate::compliance`]).

use anyhow::Result;

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
