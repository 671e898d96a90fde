//! `gcmigrate demo`: the whole pipeline on the bundled Contoso fixture, SQLite at both ends.

use anyhow::{Context, Result};

use crate::cli::DemoArgs;
use crate::db::{Conn, DbUrl, OpenMode};
use crate::error::Outcome;
use crate::load::LoadOptions;
use crate::progress::Progress;
use crate::schema::{self, SchemaKind};
use crate::staging::Workspace;

/// Runs `demo`.
pub async fn run(args: DemoArgs, progress: Progress) -> Result<Outcome> {
    let dir = &args.workspace;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A demo starts clean: the fixture, the target and the workspace databases are rebuilt.
    for f in ["contoso-legacy.db", "target-mgc.db", "staging.db", "history.db"] {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(dir.join(format!("{f}{suffix}")));
        }
    }
    let source = DbUrl::sqlite_file(&dir.join("contoso-legacy.db"));
    let target = DbUrl::sqlite_file(&dir.join("target-mgc.db"));
    build_contoso(&source).await?;
    progress.note(&format!("demo: built the Contoso legacy database at {source}"));
    let ws = Workspace::open(dir, true).await?;
    let opts = LoadOptions {
        wave: None,
        pool: None,
        jobs: 1,
        create_schema: true,
        chunk: 5000,
        dry_run: false,
    };
    let outcome = super::migrate::pipeline(&ws, &source, &target, None, &opts, progress).await?;
    progress.note(&format!(
        "demo: done. Workspace {} — reports in {}, rejected rows in {}; inspect the target with\n  sqlite3 {} 'SELECT nodeID, nodeType, nodeName FROM tblNode'",
        dir.display(),
        ws.reports_dir().display(),
        ws.rejects_dir().display(),
        dir.join("target-mgc.db").display()
    ));
    Ok(outcome)
}

/// Creates the Contoso legacy database (schema + data) at a SQLite or PostgreSQL URL.
pub async fn build_contoso(url: &DbUrl) -> Result<()> {
    let db = Conn::open(url, OpenMode::Create, 1, None).await?;
    schema::create(&db, SchemaKind::Legacy2010).await?;
    db.run_script("fixtures/contoso/contoso.sql", schema::CONTOSO).await?;
    db.close().await;
    Ok(())
}
