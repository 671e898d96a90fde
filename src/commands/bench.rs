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
