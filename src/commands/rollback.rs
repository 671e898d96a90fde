//! `gcmigrate rollback`: render (and optionally run) the script that undoes a wave's load
//! (every wave of the pool, newest first, without `--wave`).

use anyhow::Result;

use crate::cli::RollbackArgs;
use crate::db::{DbUrl, Dialect};
use crate::error::{bad_input, Outcome};
use crate::progress::Progress;
use crate::rollback::{rollback, Executed, NewMessages, RollbackOptions, RunMode};
use crate::staging::Workspace;

/// Runs `rollback`: prints the script's path; exits 1 when a guard refused.
pub async fn run(args: RollbackArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    let opts = options(args)?;
    let mut outcome = Outcome::Success;
    for report in rollback(&ws, &opts, &progress).await? {
        outcome = one(&report, &progress);
    }
    Ok(outcome)
}

/// The console lines of one wave's rollback, and its outcome.
fn one(report: &crate::rollback::RollbackReport, progress: &Progress) -> Outcome {
    for n in &report.notes {
        progress.note(&format!("rollback: note: {n}"));
    }
    crate::progress::out_line(&report.script.display().to_string());
    let k = &report.keys;
    let what = format!(
        "wave {}: {} nodes, {} principals, {} add-ins of load runs {}",
        report.wave,
        k.nodes.len(),
        k.principals.len(),
        k.addins.len(),
        k.runs.join(", ")
    );
    match report.executed {
        None => {
            progress.note(&format!(
                "rollback: script written ({what}; keys from the {})",
                report.keys_from
            ));
            Outcome::Success
        }
        Some(Executed::Committed) => {
            progress.note(&format!("rollback: done, removed {what}"));
            Outcome::Success
        }
        Some(Executed::Refused(g)) => {
            // The outcome itself, not progress: shown even with --quiet.
            crate::progress::err_line(&g.message());
            Outcome::Findings
        }
    }
}

/// Resolves the flags: the dialect comes from `--dialect`, else from the target's scheme.
fn options(args: RollbackArgs) -> Result<RollbackOptions> {
    let target = args.target.as_deref().map(DbUrl::parse).transpose()?;
    let dialect = match (args.dialect.as_deref(), &target) {
        (Some("tsql"), _) => Dialect::Mssql,
        (Some("sqlite"), _) => Dialect::Sqlite,
        (Some("postgres"), _) => Dialect::Postgres,
        (Some(other), _) => {
            return Err(bad_input(format!(
                "unknown --dialect {other:?}: use tsql, sqlite or postgres"
            )))
        }
        (None, Some(t)) => t.dialect(),
        (None, None) => {
            return Err(bad_input(
                "pass --dialect tsql|sqlite|postgres (or --target URL to take it from)",
            ))
        }
    };
    Ok(RollbackOptions {
        wave: args.wave,
        pool: args.pool,
        dialect,
        out: args.out,
        target,
        mode: if args.execute { RunMode::Execute } else { RunMode::Render },
        new_messages: if args.discard_new_messages {
            NewMessages::Discard
        } else {
            NewMessages::Refuse
        },
    })
}
