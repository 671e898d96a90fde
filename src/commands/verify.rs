//! `gcmigrate verify`: reconcile a loaded wave (or every wave) of one pool against the
//! snapshot — history, access and target invariants — and write
//! `reports/verify-<label>-<run>.{json,md,csv,html}` (the latest run also at
//! `reports/verify-<label>.*`), where the label is the wave or `all` for every wave, with
//! `@<pool>` when the plan has several pools (`plan::scope::label`).

use std::time::Instant;

use anyhow::Result;

use crate::cli::VerifyArgs;
use crate::db::DbUrl;
use crate::error::Outcome;
use crate::progress::Progress;
use crate::staging::Workspace;
use crate::verify::{verify_timed, VerifyReport};

/// Runs `verify`: exit code 0 when everything reconciles, 1 otherwise.
pub async fn run(args: VerifyArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    ws.check_manifest().await?;
    let target = DbUrl::parse(&args.target)?;
    let source = args.source.as_deref().map(DbUrl::parse).transpose()?;
    let (wave, pool) = (args.wave.as_deref(), args.pool.as_deref());
    let report = stage(&ws, &target, wave, pool, args.full, progress).await?;
    let against_source = match &source {
        Some(s) => {
            let r = crate::verify::source::check(&ws, s, &target, wave, pool).await?;
            against_source(&ws, &r, &report.label, &progress)?
        }
        None => true,
    };
    let files_ok = match &args.files {
        Some(dir) => files_check(&ws, wave, &report.pool, &report.label, dir, &progress).await?,
        None => true,
    };
    let extra_ok = against_source && files_ok;
    if !extra_ok {
        // The legacy database disagrees, or a file link does not resolve: this verify did
        // not pass, whatever the workspace says.
        let plan = super::stored_plan(&ws).await?;
        let t = target.to_string();
        let records = crate::cutover::records::record_verify;
        records(&ws, &plan, args.wave.as_deref(), &report.pool, false, &t).await?;
    }
    Ok(if report.ok && extra_ok { Outcome::Success } else { Outcome::Findings })
}

/// The verify stage with its report files.
pub async fn stage(
    ws: &Workspace,
    target: &DbUrl,
    wave: Option<&str>,
    pool: Option<&str>,
    full: bool,
    progress: Progress,
) -> Result<VerifyReport> {
    let start = Instant::now();
    let t = crate::timings::phase("verify: plan + snapshot");
    let (mut plan, snap) = super::plan_and_snapshot(ws).await?;
    // Verify reads access back from the target and the snapshot, never from the plan's
    // principals: their memory (about 40 MB at the largest pool) goes at once.
    plan.principals = Vec::new();
    drop(t);
    let (report, t) = verify_timed(ws, &plan, &snap, target, wave, pool, full).await?;
    // What the next verify may extend (before the record that says it passed).
    if let Some(b) = &report.baseline {
        let run_id = format!(
            "verify-baseline-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
            std::process::id()
        );
        let body = serde_json::to_string(b)?;
        ws.journal(&run_id, &report.wave, crate::verify::window::BASELINE, &body).await?;
    }
    // What `cutover` checks: a verify passed after the last load.
    let records = crate::cutover::records::record_verify;
    records(ws, &plan, wave, &report.pool, report.ok, &report.target).await?;
    let paths = crate::report::verify::write_all(&ws.reports_dir(), &report)?;
    let a = &report.access;
    let lost_blocking = a.lost.iter().filter(|c| c.blocking).count();
    progress.note(&format!(
        "verify ({}): {} — {} rooms, {} messages expected, {} found; access: {} pairs, {} gained, {} lost ({} unexplained); \
         invariants {}/{} hold; {:.2}s (history {:.2}s, access {:.2}s, invariants {:.2}s)",
        report.label,
        if report.ok { "PASS" } else { "FAIL" },
        report.rooms.len(),
        report.totals["expected"],
        report.totals["loaded"],
        a.pairs,
        a.gained.len(),
        a.lost.len(),
        lost_blocking,
        report.invariants.iter().filter(|i| i.ok).count(),
        report.invariants.len(),
        start.elapsed().as_secs_f64(),
        t.history.as_secs_f64(),
        t.access.as_secs_f64(),
        t.invariants.as_secs_f64(),
    ));
    if !report.staged.is_empty() {
        progress.note(&format!(
            "verify ({}): staged (not cut over yet): wave(s) {}; their rooms were judged by their \
             planned state, access as it will be once `gcmigrate cutover` enables them",
            report.wave,
            report.staged.join(", ")
        ));
    }
    let html = |files: &[std::path::PathBuf]| {
        files.iter().find(|p| p.extension().is_some_and(|e| e == "html")).cloned()
    };
    let csv = paths.latest.iter().find(|p| p.extension().is_some_and(|e| e == "csv"));
    let rest = csv.or(paths.latest.first()).map_or(String::new(), |p| p.display().to_string());
    let mismatches = report.rooms.iter().filter(|r| !r.checksum_match).map(|r| {
        let m = r
            .first_mismatch
            .as_ref()
            .map(|m| format!("chatId {}: {}", m.chat_id, m.what))
            .unwrap_or_default();
        format!(
            "  mismatch in {} ({}): expected {}, found {}; {m}",
            r.legacy_path, r.legacy_guid, r.expected, r.loaded
        )
    });
    let access = [("gained", &a.gained), ("lost", &a.lost)].into_iter().flat_map(|(verb, list)| {
        list.iter().filter(|c| c.blocking).map(move |c| {
            format!(
                "  {verb} {} on {} ({}) by {}: {}",
                c.right.as_str(),
                c.room_path,
                c.room,
                c.user,
                c.detail
            )
        })
    });
    let invariants = report.invariants.iter().filter(|i| !i.ok).map(|i| {
        format!("  invariant {} fails: {}", i.name, i.details.first().map_or("", String::as_str))
    });
    progress.notes(mismatches.chain(access).chain(invariants), &rest);
    if let (Some(latest), Some(run)) = (html(&paths.latest), html(&paths.run)) {
        progress.note(&format!(
            "verify: report {} (this run's own copy: {})",
            latest.display(),
            run.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    Ok(report)
}

/// `verify --files DIR`: writes `reports/verify-<label>-files.csv` and says PASS or FAIL
/// on one line, with one line per link that does not resolve; returns whether all do.
async fn files_check(
    ws: &Workspace,
    wave: Option<&str>,
    pool: &str,
    label: &str,
    dir: &std::path::Path,
    progress: &Progress,
) -> Result<bool> {
    let stored = super::stored_plan(ws).await?;
    let plan = stored.of_pool(pool);
    let r = crate::verify::files::check(ws, &plan, wave, dir).await?;
    let csv = ws.reports_dir().join(format!("verify-{label}-files.csv"));
    crate::verify::files::write_csv(&csv, &r)?;
    progress.note(&format!(
        "verify --files ({label}): {} — {} file link(s), {} file(s) below {}; {} mismatch(es)",
        if r.ok() { "PASS" } else { "FAIL" },
        r.links,
        r.files,
        r.dir,
        r.mismatches.len()
    ));
    let lines = r.mismatches.iter().map(|m| {
        format!(
            "  file mismatch in {} ({}), chatId {}: {}: {}",
            m.room_path, m.room_guid, m.chat_id, m.path, m.what
        )
    });
    progress.notes(lines, &csv.display().to_string());
    Ok(r.ok())
}

/// Writes `reports/verify-<label>-source.json` and says PASS or FAIL on one line (with one
/// line per mismatched room); returns whether every room agrees.
fn against_source(
    ws: &Workspace,
    report: &crate::verify::source::SourceReport,
    wave: &str,
    progress: &Progress,
) -> Result<bool> {
    crate::report::write_json(&ws.reports_dir(), &format!("verify-{wave}-source.json"), report)?;
    progress.note(&format!(
        "verify --source ({wave}): {} — {} rooms against {}: {} legacy messages up to the watermarks, {} in the target",
        if report.ok() { "PASS" } else { "FAIL" },
        report.rooms,
        report.source,
        report.source_rows,
        report.target_rows
    ));
    for r in &report.mismatched {
        progress.note(&format!(
            "  legacy room {} ({}): {} legacy messages up to chatId {}, {} in the target{}",
            r.legacy_path,
            r.legacy_id,
            r.source_rows,
            r.watermark.map_or("-".into(), |m| m.to_string()),
            r.target_rows,
            if r.source_rows == r.target_rows { ", contents differ" } else { "" }
        ));
    }
    Ok(report.ok())
}
