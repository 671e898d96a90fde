//! `gcmigrate verify`: reconcile a loaded wave against the snapshot.

use anyhow::{Context, Result};

use crate::cli::VerifyArgs;
use crate::db::DbUrl;
use crate::error::Outcome;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::staging::Workspace;
use crate::verify::{verify, VerifyReport};

/// Runs `verify`.
pub async fn run(args: VerifyArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    let target = DbUrl::parse(&args.target)?;
    let report = stage(&ws, &target, args.wave.as_deref(), progress).await?;
    Ok(if report.ok { Outcome::Success } else { Outcome::Findings })
}

/// The verify stage with its report file.
pub async fn stage(ws: &Workspace, target: &DbUrl, wave: Option<&str>, progress: Progress) -> Result<VerifyReport> {
    let plan: Plan = serde_json::from_str(&ws.load_plan().await?).context("the stored plan is unreadable")?;
    let snap = ws.load_snapshot().await?;
    let report = verify(ws, &plan, &snap, target, wave).await?;
    let path = crate::report::write_json(&ws.reports_dir(), &format!("verify-{}.json", report.wave), &report)?;
    let bad: Vec<_> = report.rooms.iter().filter(|r| !r.checksum_match).collect();
    progress.note(&format!(
        "verify ({}): {} — {} rooms, {} messages expected, {} found; report {}",
        report.wave,
        if report.ok { "PASS" } else { "FAIL" },
        report.rooms.len(),
        report.totals["expected"],
        report.totals["loaded"],
        path.display()
    ));
    for r in bad {
        let m = r.first_mismatch.as_ref().map(|m| format!("chatId {}: {}", m.chat_id, m.what)).unwrap_or_default();
        progress.note(&format!("  mismatch in {} ({}): expected {}, found {}; {m}", r.legacy_path, r.legacy_guid, r.expected, r.loaded));
    }
    Ok(report)
}
