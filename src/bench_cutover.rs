//! `gcmigrate bench --cutover`: the cutover window against the bulk migration, in one run.
//!
//! It generates the synthetic deployment with `synth` (SQLite, the sizes of `bench`),
//! migrates it in bulk — `extract`, `plan`, `load`, `verify --wave default` — then, while
//! users would still be chatting, appends a delta to the legacy database: `--delta-percent`
//! of the messages (every hundredth message at 1%, copied past the highest `chatId`, so
//! spread over the rooms as the history is) and two configuration changes (a room renamed,
//! a member added to a room). Then the window, each step a child process timed alone:
//! `freeze` → `extract --delta` → `plan` → `load` → `verify` → `cutover`, and the window's
//! ratio to the bulk migration (issue 23: at most 20% at 10,000,000 messages with 1%).

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::bench::{child, synth, BenchOptions, Step};
use crate::db::{Conn, DbUrl, OpenMode};

/// The wave the bench migrates (no mapping files: every room is in `default`).
const WAVE: &str = "default";

/// The steps of the bulk migration and of the window.
pub const BULK: [&str; 4] = ["extract", "plan", "load", "verify"];
/// The window's steps, freeze to cutover.
pub const WINDOW: [&str; 6] =
    ["freeze", "extract --delta", "plan (delta)", "load (delta)", "verify (delta)", "cutover"];

/// One cutover bench: its steps and the two totals.
#[derive(Debug, Clone, Serialize)]
pub struct CutoverRun {
    /// Messages of the bulk migration.
    pub messages: u64,
    /// Messages the delta added.
    pub delta_messages: u64,
    /// Every step timed.
    pub steps: Vec<Step>,
    /// Seconds of the bulk migration (extract + plan + load + verify).
    pub bulk_seconds: f64,
    /// Seconds of the window (freeze to cutover).
    pub window_seconds: f64,
}

impl CutoverRun {
    /// The window's share of the bulk migration.
    pub fn ratio(&self) -> f64 {
        self.window_seconds / self.bulk_seconds.max(1e-9)
    }
}

/// Runs the cutover bench at `messages` with a delta of `percent` of them.
pub async fn run(messages: u64, percent: f64, o: &BenchOptions) -> Result<CutoverRun> {
    let dir = o.dir.join(format!("cutover_{messages}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let url = |f: &str| format!("sqlite://{}", dir.join(f).display());
    let (source, target, ws) = (url("legacy.db"), url("mgc.db"), dir.join("ws"));
    let ws = ws.display().to_string();
    let step = |name: &str, (seconds, peak_mib): (f64, f64)| Step {
        engine: "sqlite".into(),
        messages,
        step: name.into(),
        seconds,
        peak_mib,
    };
    let (m, r, u, g) =
        (messages.to_string(), o.rooms.to_string(), o.users.to_string(), o.groups.to_string());
    let mut steps = vec![step("synth (not timed against)", synth(&source, [&m, &r, &u, &g])?)];
    let jobs = o.jobs.to_string();
    let w = ["--workspace", &ws];
    let bulk: [(&str, Vec<&str>); 4] = [
        ("extract", vec!["extract", "--source", &source]),
        ("plan", vec!["plan"]),
        ("load", vec!["load", "--target", &target, "--create-schema", "--jobs", &jobs]),
        ("verify", vec!["verify", "--target", &target, "--wave", WAVE]),
    ];
    for (name, args) in bulk {
        steps.push(step(name, child(&[&args[..], &w[..]].concat())?));
    }
    let clock = Instant::now();
    let delta_messages = append_delta(&dir.join("legacy.db"), percent).await?;
    steps.push(step("delta appended (not timed against)", (clock.elapsed().as_secs_f64(), 0.0)));
    let window: [(&str, Vec<&str>); 6] = [
        ("freeze", vec!["freeze", "--wave", WAVE, "--source", &source]),
        ("extract --delta", vec!["extract", "--delta", "--source", &source]),
        ("plan (delta)", vec!["plan"]),
        ("load (delta)", vec!["load", "--target", &target, "--wave", WAVE, "--jobs", &jobs]),
        ("verify (delta)", vec!["verify", "--target", &target, "--wave", WAVE]),
        ("cutover", vec!["cutover", "--target", &target, "--wave", WAVE]),
    ];
    for (name, args) in window {
        steps.push(step(name, child(&[&args[..], &w[..]].concat())?));
    }
    let sum = |names: &[&str]| {
        steps.iter().filter(|s| names.contains(&s.step.as_str())).map(|s| s.seconds).sum::<f64>()
    };
    let (bulk_seconds, window_seconds) = (sum(&BULK), sum(&WINDOW));
    Ok(CutoverRun { messages, delta_messages, steps, bulk_seconds, window_seconds })
}

/// Appends the delta to the legacy SQLite database at `path`: `percent` of the messages,
/// copied past the highest `chatId` a little later, and the configuration changes.
/// Returns the messages added.
async fn append_delta(path: &Path, percent: f64) -> Result<u64> {
    let url = DbUrl::parse(&format!("sqlite://{}", path.display()))?;
    let db = Conn::open(&url, OpenMode::Existing, 1, None).await?;
    let top = db.scalar("reading tblChat", "SELECT MAX(chatId) FROM tblChat", &[]).await?;
    let every = (100.0 / percent.clamp(0.01, 100.0)).round().max(1.0) as i64;
    // A minute of ticks later, by the same author in the same room.
    let copy = format!(
        "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
         SELECT channelId, chatId + {top}, chatDate + 600000000, userId, isAlert, content \
         FROM (SELECT c.*, ROW_NUMBER() OVER (ORDER BY chatId) AS n FROM tblChat c) \
         WHERE n % {every} = 0",
        top = top.unwrap_or(0)
    );
    // The room with the most history is renamed; a member of one room joins its sibling.
    let config = "UPDATE tblNode SET nodeName = nodeName || ' (renamed)' WHERE nodeID = \
         (SELECT channelId FROM tblChat GROUP BY channelId ORDER BY COUNT(*) DESC LIMIT 1); \
         INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, \
         prinRoleUpdatedBy, honorsOverride, honorsScope) \
         SELECT b.nodeID, r.prinRolePrinID, r.prinRoleTypeID, r.prinRoleUpdatedBy, \
         r.honorsOverride, r.honorsScope FROM tblPrincipalRole r \
         JOIN tblNode a ON a.nodeID = r.prinRoleNodeID \
         JOIN tblNode b ON b.parentID = a.parentID AND b.nodeType = a.nodeType AND b.nodeID <> a.nodeID \
         WHERE a.nodeType = 0 AND NOT EXISTS (SELECT 1 FROM tblPrincipalRole x \
         WHERE x.prinRoleNodeID = b.nodeID AND x.prinRolePrinID = r.prinRolePrinID \
         AND x.prinRoleTypeID = r.prinRoleTypeID) \
         ORDER BY r.prinRoleNodeID, b.nodeID LIMIT 1";
    let before = db.scalar("counting tblChat", "SELECT COUNT(*) FROM tblChat", &[]).await?;
    db.run_script("appending the delta", &format!("{copy}; {config}")).await?;
    let after = db.scalar("counting tblChat", "SELECT COUNT(*) FROM tblChat", &[]).await?;
    db.close().await;
    Ok((after.unwrap_or(0) - before.unwrap_or(0)).max(0) as u64)
}

/// Renders one run: each step's time and the window's ratio to the bulk migration.
pub fn render(run: &CutoverRun) -> String {
    let mut s = format!(
        "cutover window at {} messages, delta {} messages\n{:<38} {:>9} {:>10} {:>9}\n",
        run.messages, run.delta_messages, "step", "seconds", "peak MiB", "% bulk"
    );
    for x in &run.steps {
        let peak = if x.peak_mib == 0.0 { "-".to_string() } else { format!("{:.0}", x.peak_mib) };
        s.push_str(&format!(
            "{:<38} {:>9.2} {peak:>10} {:>8.1}%\n",
            x.step,
            x.seconds,
            100.0 * x.seconds / run.bulk_seconds.max(1e-9)
        ));
    }
    s.push_str(&format!(
        "bulk migration (extract + plan + load + verify) {:.2}s; window (freeze → cutover) {:.2}s = {:.1}% of the bulk\n",
        run.bulk_seconds,
        run.window_seconds,
        100.0 * run.ratio()
    ));
    s
}
