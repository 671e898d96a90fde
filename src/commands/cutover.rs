//! `gcmigrate cutover`: give a staged wave's rooms their planned state, once its
//! conditions hold, and write its policy script.

use anyhow::Result;

use crate::cli::CutoverArgs;
use crate::cutover::{cutover, CutoverOptions, Outcome as Cut};
use crate::db::DbUrl;
use crate::error::Outcome;
use crate::progress::Progress;
use crate::staging::Workspace;

/// Runs `cutover`: exit 0 when cut over (or already), 1 when a condition is unmet.
pub async fn run(args: CutoverArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    ws.check_manifest().await?;
    let target = DbUrl::parse(&args.target)?;
    let opts = CutoverOptions {
        wave: args.wave,
        pool: args.pool,
        without_freeze: args.without_freeze,
        dry_run: args.dry_run,
        endpoint: args.endpoint,
    };
    stage(&ws, &target, &opts, progress).await
}

/// The cutover stage with its console lines and report file.
pub async fn stage(
    ws: &Workspace,
    target: &DbUrl,
    opts: &CutoverOptions,
    progress: Progress,
) -> Result<Outcome> {
    let (plan, snap) = super::plan_and_snapshot(ws).await?;
    let out = cutover(ws, &plan, &snap, target, opts, &progress).await?;
    let wave = &opts.wave;
    // The runbook now says what happened (or which condition is still unmet).
    let pool = crate::plan::select::choose_pool(&plan, opts.pool.as_deref(), "cutover")?;
    super::runbooks::write(ws, &plan, &snap, Some((wave, &pool))).await?;
    match &out {
        Cut::Refused { reason } => {
            // The reason for exit 1 is printed even with --quiet.
            crate::progress::err_line(&format!("cutover ({wave}): refused: {reason}; nothing was written"));
            return Ok(Outcome::Findings);
        }
        Cut::Already { run_id, at } => progress.note(&format!(
            "cutover ({wave}): note: already cut over in {target} at {at} (run {run_id}); nothing was written"
        )),
        Cut::Done(r) if r.dry_run => progress.note(&format!(
            "cutover (dry run, {wave}, pool {}): the conditions hold; would enable {} room(s) and \
             keep {} disabled as planned in {target}; nothing was written",
            r.pool, r.enabled, r.disabled
        )),
        Cut::Done(r) => {
            crate::report::write_json(
                &ws.reports_dir(),
                &format!("cutover-{}-{}.json", crate::export::file_stem(wave), r.run_id),
                r,
            )?;
            progress.note(&format!(
                "cutover ({wave}, pool {}): enabled {} room(s), {} stay disabled as planned, in one \
                 transaction in {target}; policy grants for {} user(s): {}",
                r.pool,
                r.enabled,
                r.disabled,
                r.users,
                r.script.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            ));
        }
    }
    Ok(Outcome::Success)
}
