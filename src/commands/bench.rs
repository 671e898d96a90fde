//! `gcmigrate bench`: throughput and peak memory against the raw-copy baseline.

use anyhow::Result;

use crate::bench::{render, run_size, scaling, BenchOptions};
use crate::cli::BenchArgs;
use crate::db::Dialect;
use crate::error::Outcome;
use crate::progress::Progress;

/// Runs `bench`.
pub async fn run(args: BenchArgs, progress: Progress) -> Result<Outcome> {
    let (messages, rooms, users, groups) =
        args.preset.map_or((args.messages, args.rooms, args.users, args.groups), |p| p.sizes());
    let o = BenchOptions {
        messages,
        rooms,
        users,
        groups,
        scale: args.scale.max(1),
        dir: args.dir,
        postgres: args.postgres,
        mssql: args.mssql,
        jobs: args.jobs,
        repeat: args.repeat.max(1),
    };
    std::fs::create_dir_all(&o.dir)?;
    if args.cutover {
        return cutover(&o, args.delta_percent, &progress).await;
    }
    let mut engines = vec![Dialect::Sqlite];
    if o.postgres.is_some() {
        engines.push(Dialect::Postgres);
    } else {
        progress.note("bench: no --postgres URL (or GCMIGRATE_BENCH_PG_URL): SQLite → SQLite only");
    }
    if o.mssql.is_some() {
        if !cfg!(feature = "mssql") {
            return Err(crate::error::bad_input(
                "bench --mssql needs SQL Server support: build with the default features",
            ));
        }
        engines.push(Dialect::Mssql);
    }
    let mut sizes = vec![o.messages];
    if o.scale > 1 {
        sizes.push(o.messages * o.scale);
    }
    let mut steps = Vec::new();
    for &m in &sizes {
        for &e in &engines {
            progress.note(&format!("bench: {} at {m} messages …", e.name()));
            steps.extend(run_size(e, m, &o).await?);
            // Print as we go: a 10x run takes a while.
            crate::progress::out_line(&render(&steps));
        }
    }
    if sizes.len() > 1 {
        crate::progress::out_line(&scaling(&steps, sizes[0], sizes[1]));
    }
    crate::report::write_json(&o.dir, "bench.json", &steps)?;
    Ok(Outcome::Success)
}

/// `bench --cutover`: the window against the bulk migration, at each size.
async fn cutover(o: &BenchOptions, percent: f64, progress: &Progress) -> Result<Outcome> {
    if !(percent > 0.0 && percent <= 100.0) {
        return Err(crate::error::bad_input(
            "--delta-percent must be more than 0 and at most 100 (say 1 for a 1% delta)",
        ));
    }
    let mut sizes = vec![o.messages];
    if o.scale > 1 {
        sizes.push(o.messages * o.scale);
    }
    let mut runs = Vec::new();
    for m in sizes {
        progress.note(&format!("bench --cutover: SQLite at {m} messages, {percent}% delta …"));
        let run = crate::bench_cutover::run(m, percent, o).await?;
        crate::progress::out_line(&crate::bench_cutover::render(&run));
        runs.push(run);
    }
    crate::report::write_json(&o.dir, "bench-cutover.json", &runs)?;
    Ok(Outcome::Success)
}
