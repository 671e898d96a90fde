//! The runbook of one wave's cutover in one pool (issue "The cutover runbook", item 2): the
//! ordered checklist — pre-checks, freeze, delta extract, plan, load, verify, cutover, the
//! policy script, the legacy endpoint, user communication, and the way back — each step
//! with its exact command line (URLs redacted), what it touches (from the plan) and an
//! expected duration from the throughput this workspace measured in its earlier extracts
//! and loads. `plan` writes it before the window; `cutover` rewrites it with what happened,
//! read from the same journal records the cutover's conditions read. Rendering is in
//! `report/runbook.rs`.

use anyhow::Result;
use serde::Serialize;

use super::records;
use crate::model::Snapshot;
use crate::plan::{Plan, Severity};
use crate::staging::Workspace;

/// Whether a step is done, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Done, with when and what the journal says.
    Done(String),
    /// Still to do.
    Todo,
    /// Not for gcmigrate to do: a manual step, or one it cannot check.
    Manual,
}

/// One step of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What the step is.
    pub title: String,
    /// The command to run (URLs redacted), if gcmigrate runs it.
    pub command: Option<String>,
    /// What it touches.
    pub touches: String,
    /// Expected duration, from measured throughput, when it can be estimated.
    pub expected: Option<String>,
    /// Done, to do, or manual.
    pub status: Status,
}

/// The runbook of (wave, pool).
#[derive(Debug, Clone, Serialize)]
pub struct Runbook {
    /// `<wave>` or `<wave>@<pool>`: the label of every report of the wave.
    pub label: String,
    /// The wave.
    pub wave: String,
    /// The pool.
    pub pool: String,
    /// Rooms of the wave in the pool.
    pub rooms: usize,
    /// Users the policy script grants.
    pub users: usize,
    /// Messages of those rooms the plan loads.
    pub messages: u64,
    /// The legacy source (redacted), as the last extract read it.
    pub source: String,
    /// The target (redacted) of the last load of the wave, if any.
    pub target: Option<String>,
    /// Measured throughput: extract and load, messages per second.
    pub rates: (Option<f64>, Option<f64>),
    /// Capacity findings of the plan (headroom and limits).
    pub capacity: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// When it was written (RFC 3339).
    pub written_at: String,
}

/// Gathers the runbook of (wave, pool) from the plan, the snapshot and the journal.
pub async fn gather(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    wave: &str,
    pool: &str,
) -> Result<Runbook> {
    let several = plan.pools().len() > 1;
    let label = crate::plan::scope::label(Some(wave), pool, several);
    let rooms: Vec<_> = plan.rooms_of(Some(wave), pool).collect();
    let messages: u64 = rooms.iter().map(|r| r.message_count).sum();
    let already = records::granted(ws, Some((wave, pool))).await?;
    let users = super::grants::of_wave(plan, snap, wave, pool, &already).users.len();
    let source = ws.meta("source").await?.unwrap_or_else(|| "$LEGACY".into());
    let loads = records::loads_of(ws, wave, pool).await?;
    let verifies = records::verifies_of(ws, wave, pool).await?;
    let target = loads.last().map(|l| l.target.clone());
    let rates = (extract_rate(ws).await?, load_rate(&loads));
    let capacity = plan
        .findings
        .iter()
        .filter(|f| f.code.starts_with("CAPACITY"))
        .map(|f| format!("{:?}: {}", f.severity, f.message))
        .collect();
    let w = ws.dir().display().to_string();
    let t = target.clone().unwrap_or_else(|| "$MGC".into());
    let pool_arg = if several { format!(" --pool {pool}") } else { String::new() };
    let freeze = crate::freeze::frozen_since(ws, wave).await?;
    let manifest = ws.manifest().await?.unwrap_or_default();
    let extracted_after_freeze = freeze
        .is_some_and(|f| records::time(&manifest.started_at, "manifest").is_ok_and(|s| s >= f));
    let last_load = loads.last();
    let delta_loaded =
        extracted_after_freeze && last_load.is_some_and(|l| l.extract_run == manifest.run_id);
    let verified_after = last_load
        .and_then(|l| verifies.iter().rev().find(|v| v.finished_at >= l.finished_at).cloned());
    let cut = records::cutover_runs(ws, wave, pool).await?;
    // A cutover --without-freeze waived the freeze, the delta and its verify.
    let waived = cut.iter().any(|(_, r)| r.without_freeze);
    let waive = |st: Status| match st {
        Status::Todo if waived => Status::Done("waived: cut over --without-freeze".into()),
        st => st,
    };
    let done = |yes: bool, what: String| if yes { Status::Done(what) } else { Status::Todo };
    let est = |n: u64, rate: Option<f64>| rate.filter(|r| *r > 0.0).map(|r| duration(n as f64 / r));
    let blocking = plan.findings.iter().filter(|f| f.severity == Severity::Error).count();
    let mut steps = vec![
        Step {
            title: "Pre-check: the plan has no blocking finding and the target has room".into(),
            command: Some(format!("gcmigrate plan -w {w}")),
            touches: format!("{blocking} blocking finding(s); capacity: see below"),
            expected: None,
            status: done(blocking == 0, "the stored plan has none".into()),
        },
        Step {
            title: "Pre-check: bulk load done, days before".into(),
            command: Some(format!("gcmigrate load -w {w} --target {t} --wave {wave}{pool_arg}")),
            touches: format!("{} room(s) created disabled (staged), {messages} message(s)", rooms.len()),
            expected: est(messages, rates.1),
            status: match loads.first() {
                Some(l) => Status::Done(format!("{} ({} message(s) into {})", short(&l.finished_at), l.messages, l.target)),
                None => Status::Todo,
            },
        },
        Step {
            title: "Pre-check: a full verify green after the bulk load, before the freeze (the window's verify then reads only the delta)".into(),
            command: Some(format!("gcmigrate verify -w {w} --target {t} --wave {wave}{pool_arg} --full")),
            touches: format!("{} room(s), every message, read only", rooms.len()),
            expected: est(messages, rates.1),
            status: match loads.first().and_then(|l| {
                verifies.iter().find(|v| v.ok && v.finished_at >= l.finished_at)
            }) {
                Some(v) => Status::Done(format!("passed {}", short(&v.finished_at))),
                None => Status::Todo,
            },
        },
        Step {
            title: "Freeze the wave's legacy rooms (the cutover window starts)".into(),
            command: Some(format!("gcmigrate freeze -w {w} --wave {wave} --source {source}")),
            touches: format!("{} legacy room(s) disabled (the only write to legacy)", rooms.len()),
            expected: Some("seconds".into()),
            status: waive(match freeze {
                Some(f) => Status::Done(short(&f.to_rfc3339())),
                None => Status::Todo,
            }),
        },
        Step {
            title: "Extract the delta".into(),
            command: Some(format!("gcmigrate extract -w {w} --source {source} --delta")),
            touches: "messages posted since the last extract, and the configuration".into(),
            expected: rates.0.map(|r| format!("the configuration, then {} per 100,000 new messages", duration(1e5 / r))),
            status: waive(done(extracted_after_freeze, format!("{} run {} at {}", manifest.kind, manifest.run_id, short(&manifest.finished_at)))),
        },
        Step {
            title: "Plan again (the mappings are remembered)".into(),
            command: Some(format!("gcmigrate plan -w {w}")),
            touches: "the workspace only".into(),
            expected: Some(super::window_rates::plan(
                plan.rooms.len() + plan.excluded_rooms.len(),
                plan.rooms.iter().map(|r| r.message_count).sum::<u64>()
                    + plan.excluded_rooms.iter().map(|r| r.message_count).sum::<u64>(),
            )),
            status: Status::Manual,
        },
        Step {
            title: "Load the delta: new messages and configuration changes converge".into(),
            command: Some(format!("gcmigrate load -w {w} --target {t} --wave {wave}{pool_arg}")),
            touches: format!("{} staged room(s); refused (exit 1) if anything else wrote into them", rooms.len()),
            expected: rates.1.map(|r| format!("configuration, then {} per 100,000 new messages", duration(1e5 / r))),
            status: waive(done(delta_loaded, last_load.map_or(String::new(), |l| format!("{} ({} message(s))", short(&l.finished_at), l.messages)))),
        },
        Step {
            title: "Verify: the sign-off".into(),
            command: Some(format!("gcmigrate verify -w {w} --target {t} --wave {wave}{pool_arg}")),
            touches: format!("{} room(s), read only: the messages since the last passing verify, the rest by count and highest chatId per room", rooms.len()),
            expected: Some(super::window_rates::verify(rooms.len())),
            // Never waived: without a freeze, the verify after the last load is the sign-off.
            status: match &verified_after {
                Some(v) if v.ok && (delta_loaded || waived) => Status::Done(format!("passed {}", short(&v.finished_at))),
                _ => Status::Todo,
            },
        },
        Step {
            title: "Cut over: the rooms go live in one transaction".into(),
            command: Some(format!("gcmigrate cutover -w {w} --target {t} --wave {wave}{pool_arg}")),
            touches: format!("{} room(s) get their planned state", rooms.len()),
            expected: Some("seconds".into()),
            status: match cut.last() {
                Some((run, _)) => Status::Done(format!("run {run}")),
                None => Status::Todo,
            },
        },
        Step {
            title: "Grant the Persistent Chat policy".into(),
            command: Some(format!("powershell -File {w}/scripts/{}", super::policy::file_name(plan, wave, pool))),
            touches: format!("{users} user(s)"),
            expected: None,
            status: Status::Manual,
        },
        Step {
            title: "Legacy endpoint (the deployment's last cutover, or cutover --endpoint): the policy script deletes the legacy lookup user and creates a Persistent Chat endpoint with its SIP address; then uninstall Group Chat, delete the legacy trusted application and its pool, and make this pool each site's default".into(),
            command: Some(format!(
                "powershell -File {w}/scripts/{} -PoolFqdn <pool FQDN>",
                super::policy::file_name(plan, wave, pool)
            )),
            touches: "the legacy Group Chat service and its lookup contact".into(),
            expected: None,
            status: Status::Manual,
        },
        Step {
            title: "Tell the users: their rooms, the new client, where history is".into(),
            command: None,
            touches: format!("{users} user(s), {} room(s)", rooms.len()),
            expected: None,
            status: Status::Manual,
        },
    ];
    let dialect = target.as_deref().map_or("tsql", |t| {
        if t.starts_with("sqlite") {
            "sqlite"
        } else if t.starts_with("postgres") {
            "postgres"
        } else {
            "tsql"
        }
    });
    steps.push(Step {
        title: "The way back, if the sign-off fails: remove what the wave's loads wrote, then re-enable the legacy rooms".into(),
        command: Some(format!(
            "gcmigrate rollback -w {w} --wave {wave}{pool_arg} --dialect {dialect} --execute --target {t} && \
             gcmigrate freeze -w {w} --wave {wave} --source {source} --undo"
        )),
        touches: format!("the wave's {} room(s) and everything its loads inserted; the legacy rooms' disabled flag", rooms.len()),
        expected: Some("seconds to minutes".into()),
        status: Status::Manual,
    });
    Ok(Runbook {
        label,
        wave: wave.into(),
        pool: pool.into(),
        rooms: rooms.len(),
        users,
        messages,
        source,
        target,
        rates,
        capacity,
        steps,
        written_at: short(&chrono::Utc::now().to_rfc3339()),
    })
}

/// Messages per second of the fastest finished extract that read messages.
async fn extract_rate(ws: &Workspace) -> Result<Option<f64>> {
    Ok(ws
        .extract_runs()
        .await?
        .iter()
        .filter(|r| r.rows > 1000 && r.seconds > 0.0)
        .map(|r| r.rows as f64 / r.seconds)
        .reduce(f64::max))
}

/// Messages per second of the loads that loaded messages (the latest one).
fn load_rate(loads: &[records::LoadRecord]) -> Option<f64> {
    loads
        .iter()
        .rev()
        .find(|l| l.messages > 1000 && l.seconds > 0.0)
        .map(|l| l.messages as f64 / l.seconds)
}

/// A journal time as people read it: to the second, UTC (unreadable ones as they are).
fn short(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.to_utc().format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// A duration for people: seconds, minutes or hours, rounded up.
pub fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 1.0 => "under a second".into(),
        s if s < 90.0 => format!("about {} s", s.ceil()),
        s if s < 5400.0 => format!("about {} min", (s / 60.0).ceil()),
        s => format!("about {:.1} h", s / 3600.0),
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(0.2), "under a second");
        assert_eq!(duration(12.3), "about 13 s");
        assert_eq!(duration(600.0), "about 10 min");
        assert_eq!(duration(3.0 * 3600.0), "about 3.0 h");
    }
}
