//! `gcmigrate migrate`: extract, plan, load, verify and (when it passed) cutover in one go.

use anyhow::Result;

use crate::cli::MigrateArgs;
use crate::cutover::CutoverOptions;
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

/// extract → plan → load → verify → cutover (`--without-freeze`); stops with findings when
/// the plan has errors or the verify fails.
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
    // One target is one pool: a plan with several is refused before anything is written.
    if plan.pools().len() > 1 {
        return Err(crate::error::bad_input(format!(
            "the plan has {} pools ({}) and migrate writes one target: load, verify and cut \
             over each pool into its own target with `--pool NAME` (README, \"freeze\" and \
             \"cutover\"); nothing was loaded",
            plan.pools().len(),
            plan.pools().join(", ")
        )));
    }
    let pool = crate::plan::select::choose_pool(&plan, None, "migrate")?;
    super::load::stage(ws, target, opts, progress).await?;
    let report =
        super::verify::stage(ws, target, opts.wave.as_deref(), Some(&pool), false, progress)
            .await?;
    if !report.ok {
        progress.note("migrate: verify failed; the rooms stay staged (no cutover)");
        return Ok(Outcome::Findings);
    }
    // One window with the legacy services stopped: the verify that just passed is the
    // cutover's condition, so a one-shot migration leaves usable rooms.
    for wave in plan.waves.iter().filter(|w| opts.wave.as_ref().is_none_or(|x| *x == w.name)) {
        if plan.rooms_of(Some(&wave.name), &pool).next().is_none() {
            continue;
        }
        let cut = CutoverOptions {
            wave: wave.name.clone(),
            pool: Some(pool.clone()),
            without_freeze: true,
            dry_run: false,
            endpoint: None,
        };
        if super::cutover::stage(ws, target, &cut, progress).await? != Outcome::Success {
            return Ok(Outcome::Findings);
        }
    }
    Ok(Outcome::Success)
}
