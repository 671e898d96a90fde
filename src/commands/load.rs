//! `gcmigrate load`: write one pool of the plan — a wave, or each wave under its own
//! name — into an mgc database.

use anyhow::Result;

use crate::cli::LoadArgs;
use crate::db::DbUrl;
use crate::error::Outcome;
use crate::load::{load, LoadOptions, LoadReport};
use crate::progress::Progress;
use crate::staging::Workspace;

/// Change lines shown on the console (the rest are in the load report).
const SHOWN: usize = 20;

/// Runs `load`.
pub async fn run(args: LoadArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    ws.check_manifest().await?;
    let target = DbUrl::parse(&args.target)?;
    let opts = LoadOptions {
        wave: args.wave,
        pool: args.pool,
        jobs: args.jobs,
        create_schema: args.create_schema,
        chunk: args.chunk.max(1),
        dry_run: args.dry_run,
    };
    stage(&ws, &target, &opts, progress).await?;
    Ok(Outcome::Success)
}

/// The load stage with its report files (`load-<wave>[@<pool>][-dry-run]-<run>.json`, one
/// per wave loaded; the pool is in the name when the plan has several).
pub async fn stage(
    ws: &Workspace,
    target: &DbUrl,
    opts: &LoadOptions,
    progress: Progress,
) -> Result<Vec<LoadReport>> {
    let _lock = match opts.dry_run {
        false => Some(crate::staging::lock::WorkspaceLock::acquire(ws.dir(), "gcmigrate load")?),
        true => None,
    };
    if let Some(n) = _lock.as_ref().and_then(|l| l.took_over.as_deref()) {
        progress.note(&format!("load: note: {n}"));
    }
    let t = crate::timings::phase("load: plan + snapshot");
    let (plan, snap) = super::plan_and_snapshot(ws).await?;
    drop(t);
    progress.note(&format!(
        "load: {} {target}",
        if opts.dry_run { "dry run against" } else { "writing into" }
    ));
    let several = plan.pools().len() > 1;
    let reports = load(ws, &plan, &snap, target, opts, &progress).await?;
    if reports.is_empty() {
        progress.note("load: the plan has no rooms in this pool; nothing was loaded");
    }
    for report in &reports {
        if !report.dry_run {
            // What `cutover` checks: this extract is loaded into this target.
            crate::cutover::records::record_load(ws, &plan, report).await?;
        }
        let label = crate::plan::scope::label(Some(&report.wave), &report.pool, several);
        crate::report::write_json(
            &ws.reports_dir(),
            &format!(
                "load-{label}{}-{}.json",
                if report.dry_run { "-dry-run" } else { "" },
                report.run_id
            ),
            report,
        )?;
        summary(report, &label, &progress);
    }
    Ok(reports)
}

/// The console lines of one wave's load.
fn summary(report: &LoadReport, label: &str, progress: &Progress) {
    let h = &report.history;
    let verb = if report.dry_run { "would change" } else { "changed" };
    let report_file = format!(
        "reports/load-{label}{}-{}.json",
        if report.dry_run { "-dry-run" } else { "" },
        report.run_id
    );
    if !report.changes.is_empty() {
        progress.note(&format!(
            "load ({label}): converging onto the plan, {verb} {} row(s) or setting(s) the wave had written:",
            report.changes.len()
        ));
        for line in report.changes.iter().take(SHOWN) {
            progress.note(&format!("  {line}"));
        }
        if report.changes.len() > SHOWN {
            progress
                .note(&format!("  … and {} more in {report_file}", report.changes.len() - SHOWN));
        }
    }
    if !report.left_alone.is_empty() {
        progress.note(&format!(
            "load ({label}): note: {} difference(s) from the plan left as they are (not this wave's rows), first: {}; all in {report_file}",
            report.left_alone.len(),
            report.left_alone[0]
        ));
    }
    if report.dry_run {
        let rows: Vec<String> = report.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
        progress.note(&format!(
            "load (dry run, {label}): would write {}; nothing was written",
            rows.join(", ")
        ));
    }
    progress.note(&format!(
        "load ({label}): configuration {} ({:.1}s); history: {} read, {} loaded, {} excluded, {} rejected in {} chunks ({:.1}s)",
        match (report.config_written, report.changes.is_empty()) {
            (false, _) => "unchanged",
            (true, true) => "written",
            (true, false) => "converged",
        },
        report.config_seconds,
        h.read,
        h.loaded,
        h.excluded.values().sum::<u64>(),
        h.rejected.values().sum::<u64>(),
        h.chunks,
        report.history_seconds
    ));
}
