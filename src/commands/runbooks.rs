//! The cutover runbooks (`reports/runbook-<label>.*`): `plan` writes one per wave and pool
//! before the window, `cutover` rewrites its own with what the journal says happened.

use anyhow::Result;

use crate::model::Snapshot;
use crate::plan::Plan;
use crate::staging::Workspace;

/// Writes the runbook of `only` (wave, pool), or of every wave of every pool.
pub async fn write(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    only: Option<(&str, &str)>,
) -> Result<usize> {
    let pairs: Vec<(String, String)> = match only {
        Some((w, p)) => vec![(w.to_string(), p.to_string())],
        None => plan
            .pools()
            .into_iter()
            .flat_map(|p| plan.waves_of(p).into_iter().map(move |w| (w, p.to_string())))
            .collect(),
    };
    for (wave, pool) in &pairs {
        let rb = crate::cutover::runbook::gather(ws, plan, snap, wave, pool).await?;
        crate::report::runbook::write_all(&ws.reports_dir(), &rb)?;
    }
    Ok(pairs.len())
}
