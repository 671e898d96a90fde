//! `gcmigrate migrate`: extract, plan, load and verify in one go.

use anyhow::Result;

use crate::cli::MigrateArgs;
use crate::db::DbUrl;
use crate::error::Outcome;
use crate::extract::ExtractMode;
use crate::load::LoadOptions;
use crate::progress::Progress;
use crate::staging::Workspace;

/// Runs `migrate`.
pub async fn run(args: MigrateArgs, progress: Progress) -> Result<Outcome> {
    let source = DbUrl::parse(&args.source)?;
    let target = DbUrl::parse(&args.target)?;
    let ws = Workspace::open(&args.ws.workspace, true).await?;
    let opts = LoadOptions {
        wave: None,
        pool: None,
        jobs: args.jobs,
        create_schema: args.create_schema,
        chunk: 5000,
        dry_run: false,
    };
    pipeline(&ws, &source, &target, args.mappings.as_deref(), &opts, progress).await
}

/// extract → plan → load → verify; stops with findings when the plan has errors.
pub async fn pipeline(
    ws: &Workspace,
    source: &DbUrl,
    target: &DbUrl,
    mappings: Option<&std::path::Path>,
    opts: &LoadOptions,
    progress: Progress,
) -> Result<Outcome> {
    let ex = super::extract::stage(ws, source, ExtractMode::Full, progress).await?;
    progress.note(&super::extract::summary(&ex));
    let plan = super::plan::stage(ws, mappings, progress).await?;
    if plan.has_errors() {
        progress.note("migrate: the plan has blocking findings; nothing was loaded");
        return Ok(Outcome::Findings);
    }
    super::load::stage(ws, target, opts, progress).await?;
    let report =
        super::verify::stage(ws, target, opts.wave.as_deref(), opts.pool.as_deref(), progress)
            .await?;
    Ok(if report.ok { Outcome::Success } else { Outcome::Findings })
}
