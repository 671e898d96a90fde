//! `gcmigrate export`: the plan's configuration as PowerShell scripts, for shops that
//! will not write to `mgc` directly (history can only be loaded into `mgc`).

use anyhow::{Context, Result};

use crate::cli::ExportArgs;
use crate::error::Outcome;
use crate::progress::Progress;
use crate::staging::Workspace;

/// Runs `export`.
pub async fn run(args: ExportArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    let plan = super::stored_plan(&ws).await?;
    let dir = args.out.unwrap_or_else(|| ws.scripts_dir());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for path in crate::export::write_scripts(&dir, &plan)? {
        progress.note(&format!("export: wrote {}", path.display()));
    }
    Ok(Outcome::Success)
}
