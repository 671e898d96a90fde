//! `gcmigrate freeze`: disable (or, with `--undo`, re-enable) a wave's legacy rooms.

use anyhow::Result;

use crate::cli::FreezeArgs;
use crate::db::DbUrl;
use crate::error::Outcome;
use crate::progress::Progress;
use crate::staging::Workspace;

/// Runs `freeze`.
pub async fn run(args: FreezeArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    let source = DbUrl::parse(&args.source)?;
    if args.undo {
        let n = crate::freeze::unfreeze(&ws, &args.wave, &source).await?;
        progress.note(&format!(
            "freeze --undo ({}): re-enabled {n} legacy room(s) in {source}",
            args.wave
        ));
        return Ok(Outcome::Success);
    }
    let plan = super::stored_plan(&ws).await?;
    let rec = crate::freeze::freeze(&ws, &plan, &args.wave, &source).await?;
    progress.note(&format!(
        "freeze ({}): disabled {} legacy room(s) in {source} (journaled; `gcmigrate freeze --undo` re-enables them). \
         Next: `gcmigrate extract --delta`, `gcmigrate plan`, `gcmigrate load --wave {}`",
        args.wave,
        rec.disabled.len(),
        args.wave
    ));
    Ok(Outcome::Success)
}
