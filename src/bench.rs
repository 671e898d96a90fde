//! `gcmigrate bench`: the pipeline against the raw-copy limit, in one run on one machine.
//!
//! For each engine it generates a legacy database with `synth`, times the baseline — the
//! same `tblChat` rows copied by the engine itself (SQLite: `ATTACH` + `INSERT … SELECT`;
//! PostgreSQL: `COPY … TO` then `COPY … FROM`) — then runs `extract`, `plan`, `load` and
//! `verify` as child processes of this binary, so that each stage's wall time and peak
//! resident memory (from `wait4`) are measured alone. The machine is noisy: read ratios,
//! and use `--repeat` for medians.
//!
//! The baseline writes its target exactly as `load` does — a fresh mgc schema opened by
//! `TargetDb::open` (SQLite: WAL, `synchronous = NORMAL`) — so the two differ only in what
//! the pipeline does on top of the copy.
//!
//! On SQLite a second reference, the floor, times the two engine copies a staged pipeline
//! must make (source → staging file → target). `extract + load` cannot beat its ratio;
//! the gap between the two is what the pipeline adds.
//!
//! The SQL Server run (`--mssql`) measures the production target path: an SQLite legacy
//! source (synth writes no SQL Server), loaded into and verified against an mgc on the
//! SQL Server. Its baseline is the same `tblChat` rows bulk-loaded through TDS (`INSERT
//! BULK`, the writer `load` uses) in transactions of 10,000 rows, with nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::db::engine_copy::{baseline, floor, fresh};
use crate::db::{DbUrl, Dialect};
use crate::schema::{ddl, SchemaKind};
use crate::staging::SNAP_CHAT_COLUMNS;

/// Sizes and engines of a benchmark run.
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// Messages of the base size.
    pub messages: u64,
    /// Rooms.
    pub rooms: u64,
    /// Users.
    pub users: u64,
    /// Groups.
    pub groups: u64,
    /// Also run at this multiple of the messages (1 = no scaling run).
    pub scale: u64,
    /// Working directory (databases and workspaces).
    pub dir: PathBuf,
    /// PostgreSQL server for the PostgreSQL run (`None`: SQLite only).
    pub postgres: Option<String>,
    /// SQL Server for the SQL Server target run (`None`: no such run).
    pub mssql: Option<String>,
    /// Parallel writers for `load`.
    pub jobs: usize,
    /// Runs of the baseline and the pipeline per size; each step reports its median.
    pub repeat: usize,
}

/// One measured step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Engine.
    pub engine: String,
    /// Messages in the source.
    pub messages: u64,
    /// Step name.
    pub step: String,
    /// Wall seconds.
    pub seconds: f64,
    /// Peak resident set of the step's process, MiB (0 for in-process steps).
    pub peak_mib: f64,
}

/// Runs a child `gcmigrate` and returns (seconds, peak RSS MiB).
pub(crate) fn child(args: &[&str]) -> Result<(f64, f64)> {
    let exe = std::env::current_exe().context("cannot find the gcmigrate binary")?;
    let t = Instant::now();
    let child =
        Command::new(exe).args(args).arg("--quiet").spawn().context("cannot start a stage")?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; pid is our own child, waited once.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = t.elapsed().as_secs_f64();
    if r < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("`gcmigrate {}` failed (status {status})", args.join(" "));
    }
    Ok((secs, usage.ru_maxrss as f64 / 1024.0))
}

/// The mgc schema's DDL for an engine.
fn mgc_ddl(engine: Dialect) -> &'static str {
    ddl(SchemaKind::Mgc2013, engine)
}

/// Benchmarks one engine at one size.
pub async fn run_size(engine: Dialect, messages: u64, o: &BenchOptions) -> Result<Vec<Step>> {
    let tag = format!("{}_{}", engine.name(), messages);
    let dir = o.dir.join(&tag);
    std::fs::create_dir_all(&dir)?;
    // synth writes no SQL Server: the SQL Server run reads an SQLite legacy database.
    let source_engine = if engine == Dialect::Mssql { Dialect::Sqlite } else { engine };
    let source = fresh(
        source_engine,
        &dir,
        o.postgres.as_deref(),
        o.mssql.as_deref(),
        &format!("gcm_bench_src_{tag}"),
    )
    .await?;
    let (m, r, u, g) =
        (messages.to_string(), o.rooms.to_string(), o.users.to_string(), o.groups.to_string());
    let step = |name: &str, (seconds, peak_mib): (f64, f64)| Step {
        engine: engine.name().into(),
        messages,
        step: name.into(),
        seconds,
        peak_mib,
    };
    let mut steps = vec![step("synth (not timed against)", synth(&source, [&m, &r, &u, &g])?)];
    let mut runs: Vec<Vec<Step>> = Vec::new();
    for _ in 0..o.repeat.max(1) {
        runs.push(pipeline(engine, &dir, &tag, &source, o, &step).await?);
    }
    steps.extend(median(&runs));
    Ok(steps)
}

/// The baseline copy and the four stages once, each on fresh databases and workspace.
async fn pipeline(
    engine: Dialect,
    dir: &Path,
    tag: &str,
    source: &str,
    o: &BenchOptions,
    step: &dyn Fn(&str, (f64, f64)) -> Step,
) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let base_target = fresh(
        engine,
        dir,
        o.postgres.as_deref(),
        o.mssql.as_deref(),
        &format!("gcm_bench_base_{tag}"),
    )
    .await?;
    steps.push(step(
        "baseline copy",
        (
            baseline(&DbUrl::parse(source)?, &DbUrl::parse(&base_target)?, mgc_ddl(engine)).await?,
            0.0,
        ),
    ));
    if engine == Dialect::Sqlite {
        steps.push(step(
            "floor: two engine copies",
            (floor(source, dir, tag, SNAP_CHAT_COLUMNS, mgc_ddl(engine)).await?, 0.0),
        ));
    }
    let target = fresh(
        engine,
        dir,
        o.postgres.as_deref(),
        o.mssql.as_deref(),
        &format!("gcm_bench_tgt_{tag}"),
    )
    .await?;
    let ws = dir.join("ws");
    let _ = std::fs::remove_dir_all(&ws);
    let ws = ws.display().to_string();
    let jobs = o.jobs.to_string();
    steps.push(step("extract", child(&["extract", "--source", source, "--workspace", &ws])?));
    steps.push(step("plan", child(&["plan", "--workspace", &ws])?));
    steps.push(step(
        "load",
        child(&[
            "load",
            "--workspace",
            &ws,
            "--target",
            &target,
            "--create-schema",
            "--jobs",
            &jobs,
        ])?,
    ));
    steps.push(step("verify", child(&["verify", "--workspace", &ws, "--target", &target])?));
    Ok(steps)
}

/// Per step, the run with the median time (its memory with it); runs list the same steps.
fn median(runs: &[Vec<Step>]) -> Vec<Step> {
    let Some(first) = runs.first() else { return Vec::new() };
    (0..first.len())
        .map(|i| {
            let mut xs: Vec<&Step> = runs.iter().map(|r| &r[i]).collect();
            xs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            xs[xs.len() / 2].clone()
        })
        .collect()
}

/// Renders the table: time, rate, peak memory and ratios to the baseline.
pub fn render(steps: &[Step]) -> String {
    let mut s = format!(
        "{:<9} {:>10}  {:<26} {:>9} {:>12} {:>10} {:>8}\n",
        "engine", "messages", "step", "seconds", "msgs/s", "peak MiB", "× base"
    );
    let mut groups: Vec<(String, u64)> =
        steps.iter().map(|x| (x.engine.clone(), x.messages)).collect();
    groups.dedup();
    for (engine, messages) in groups {
        let g: Vec<&Step> =
            steps.iter().filter(|x| x.engine == engine && x.messages == messages).collect();
        let base = g.iter().find(|x| x.step == "baseline copy").map_or(f64::NAN, |x| x.seconds);
        let sum = |names: &[&str]| {
            g.iter().filter(|x| names.contains(&x.step.as_str())).map(|x| x.seconds).sum::<f64>()
        };
        let mut rows: Vec<(String, f64, f64)> =
            g.iter().map(|x| (x.step.clone(), x.seconds, x.peak_mib)).collect();
        rows.push(("extract + load".into(), sum(&["extract", "load"]), f64::NAN));
        rows.push(("whole pipeline".into(), sum(&["extract", "plan", "load", "verify"]), f64::NAN));
        for (name, secs, peak) in rows {
            let peak =
                if peak.is_nan() || peak == 0.0 { "-".to_string() } else { format!("{peak:.0}") };
            s.push_str(&format!(
                "{engine:<9} {messages:>10}  {name:<26} {secs:>9.2} {:>12.0} {peak:>10} {:>8.2}\n",
                messages as f64 / secs.max(1e-9),
                secs / base
            ));
        }
    }
    s
}

/// Scaling ratios between the base size and the scaled size of each engine.
pub fn scaling(steps: &[Step], base: u64, scaled: u64) -> String {
    const PIPELINE: [&str; 4] = ["extract", "plan", "load", "verify"];
    let mut s = String::new();
    for engine in ["sqlite", "postgres", "tsql"] {
        let of = |m: u64| {
            steps.iter().filter(move |x| {
                x.engine == engine && x.messages == m && PIPELINE.contains(&x.step.as_str())
            })
        };
        let time = |m: u64| of(m).map(|x| x.seconds).sum::<f64>();
        let peak = |m: u64| of(m).map(|x| x.peak_mib).fold(0.0, f64::max);
        if time(base) > 0.0 && time(scaled) > 0.0 {
            s.push_str(&format!(
                "{engine}: {}x the messages took {:.2}x the time (linear = {}.00) with {:.2}x the peak memory \
                 (flat = 1.00; {:.0} -> {:.0} MiB)\n",
                scaled / base,
                time(scaled) / time(base),
                scaled / base,
                peak(scaled) / peak(base),
                peak(base),
                peak(scaled)
            ));
        }
    }
    s
}

/// Generates the bench's legacy database at `source` (messages, rooms, users, groups; seed 1)
/// in a child process: its time and peak memory.
pub(crate) fn synth(source: &str, [m, r, u, g]: [&str; 4]) -> Result<(f64, f64)> {
    child(&[
        "synth",
        "--out",
        source,
        "--messages",
        m,
        "--rooms",
        r,
        "--users",
        u,
        "--groups",
        g,
        "--seed",
        "1",
    ])
}
