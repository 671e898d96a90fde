//! `gcmigrate extract`: legacy database → workspace snapshot.

use anyhow::Result;

use crate::cli::ExtractArgs;
use crate::db::DbUrl;
use crate::error::Outcome;
use crate::extract::{extract, ExtractMode, ExtractReport};
use crate::progress::Progress;
use crate::staging::Workspace;

/// Runs `extract`.
pub async fn run(args: ExtractArgs, progress: Progress) -> Result<Outcome> {
    let source = DbUrl::parse(&args.source)?;
    let mode = if args.delta { ExtractMode::Delta } else { ExtractMode::Full };
    let ws = Workspace::open(&args.ws.workspace, mode == ExtractMode::Full).await?;
    let report = stage(&ws, &source, mode, progress).await?;
    progress.note(&summary(&report));
    Ok(Outcome::Success)
}

/// The extract stage with its report file.
pub async fn stage(
    ws: &Workspace,
    source: &DbUrl,
    mode: ExtractMode,
    progress: Progress,
) -> Result<ExtractReport> {
    let _lock = crate::staging::lock::WorkspaceLock::acquire(ws.dir(), "gcmigrate extract")?;
    progress.note(&format!("extract: reading {source}"));
    let report = extract(ws, source, mode, &progress).await?;
    crate::report::write_json(
        &ws.reports_dir(),
        &format!("extract-{}.json", report.mode),
        &report,
    )?;
    Ok(report)
}

/// One line for the terminal.
pub fn summary(r: &ExtractReport) -> String {
    let rejected = if r.rejected_total > 0 {
        format!(", {} rows rejected (rejects/extract.csv)", r.rejected_total)
    } else {
        String::new()
    };
    format!(
        "extract ({}): {} — {} principals, {} categories, {} rooms, {} messages{rejected} in {:.1}s",
        r.mode, r.version, r.principals, r.categories, r.rooms, r.messages, r.seconds
    )
}
