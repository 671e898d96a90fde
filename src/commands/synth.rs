//! `gcmigrate synth`: generate a legacy Group Chat database.

use anyhow::Result;

use crate::cli::SynthArgs;
use crate::db::{Conn, DbUrl, Dialect, OpenMode};
use crate::error::{bad_input, Outcome};
use crate::progress::Progress;
use crate::schema::{self, SchemaKind};
use crate::synth::{generate, SynthOptions};

/// Runs `synth`.
pub async fn run(args: SynthArgs, progress: Progress) -> Result<Outcome> {
    let url = DbUrl::parse(&args.out)?;
    if url.dialect() == Dialect::Mssql {
        return Err(bad_input("synth writes sqlite:// or postgres:// databases"));
    }
    let db = Conn::open(&url, OpenMode::Replace, 2, None).await?;
    if db.has_columns("tblNode", "nodeID").await? {
        return Err(bad_input(format!(
            "{url} already holds a tblNode table: synth needs an empty database"
        )));
    }
    schema::create(&db, SchemaKind::Legacy2010).await?;
    let opts = SynthOptions {
        users: args.users,
        groups: args.groups,
        rooms: args.rooms,
        messages: args.messages,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let s = generate(&db, &opts, &progress).await?;
    db.close().await;
    progress.note(&format!(
        "synth: {url}: {} users, {} groups, {} categories, {} rooms, {} messages in {:.1}s",
        s.users,
        s.groups,
        s.categories,
        s.rooms,
        s.messages,
        started.elapsed().as_secs_f64()
    ));
    Ok(Outcome::Success)
}
