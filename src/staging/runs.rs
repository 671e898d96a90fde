//! The extract runs the workspace recorded (`extract_run`), for the throughput the runbook
//! estimates durations from: each finished run's kind, start, end and rows read.

use anyhow::Result;
use sqlx::Row;

use super::Workspace;

/// One finished extract run.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractRunTimes {
    /// `full` or `delta`.
    pub kind: String,
    /// Seconds from start to finish.
    pub seconds: f64,
    /// Messages read.
    pub rows: u64,
}

impl Workspace {
    /// The finished extract runs (failed ones left out), oldest first.
    pub async fn extract_runs(&self) -> Result<Vec<ExtractRunTimes>> {
        let rows = sqlx::query(
            "SELECT kind, started_at, finished_at, rows_read FROM extract_run \
             WHERE finished_at IS NOT NULL AND kind IN ('full', 'delta') ORDER BY run_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let time = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
        Ok(rows
            .iter()
            .filter_map(|r| {
                let (kind, start, end, n): (String, String, String, i64) = (
                    r.try_get(0).ok()?,
                    r.try_get(1).ok()?,
                    r.try_get(2).ok()?,
                    r.try_get(3).ok()?,
                );
                let seconds = (time(&end)? - time(&start)?).num_milliseconds() as f64 / 1000.0;
                Some(ExtractRunTimes { kind, seconds: seconds.max(0.0), rows: n.max(0) as u64 })
            })
            .collect())
    }
}
