//! `gcmigrate export`: the plan's configuration as PowerShell scripts, for shops that
//! will not write to `mgc` directly (history can only be loaded into `mgc`), and the
//! cutover's policy scripts, one per wave and pool.

use anyhow::{Context, Result};

use crate::cli::ExportArgs;
use crate::error::Outcome;
use crate::progress::Progress;
use crate::staging::Workspace;

/// Runs `export`.
pub async fn run(args: ExportArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    let (plan, snap) = super::plan_and_snapshot(&ws).await?;
    let dir = args.out.unwrap_or_else(|| ws.scripts_dir());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for path in crate::export::write_scripts(&dir, &plan)? {
        progress.note(&format!("export: wrote {}", path.display()));
    }
    // The policy scripts too: a shop that configures through PowerShell only runs no
    // `cutover`, so earlier grants come from the plan's order of waves and pools.
    for (name, text) in crate::cutover::policy::for_plan(&plan, &snap, args.endpoint.as_deref()) {
        let path = dir.join(name);
        std::fs::write(&path, crate::export::for_windows(&text))
            .with_context(|| format!("cannot write {}", path.display()))?;
        progress.note(&format!("export: wrote {}", path.display()));
    }
    Ok(Outcome::Success)
}
