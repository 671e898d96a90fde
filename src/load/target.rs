//! Opening the target of a load, and where its batches go: the database itself, or — for
//! `--dry-run` — a recorder that counts the rows that would be written.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::Result;

use super::{config, ledger};
use crate::db::{Batch, DbUrl, OpenMode, TargetDb};
use crate::schema::{self, SchemaKind};

/// Opens the target of a load. `None` when a dry run targets a database that does not exist
/// yet or holds no mgc tables (it is then planned against an empty mgc); a dry run's schema
/// is checked here. A real load [`prepare`]s the target once it holds the target lock, so
/// two loads never both create the schema.
pub async fn open(
    url: &DbUrl,
    dry_run: bool,
    create: bool,
    conns: u32,
) -> Result<Option<TargetDb>> {
    let db = if dry_run {
        match TargetDb::open_if_exists(url, conns).await? {
            Some(db) => db,
            None => return Ok(None),
        }
    } else {
        let mode = if create { OpenMode::Create } else { OpenMode::Existing };
        return Ok(Some(TargetDb::open(url, mode, conns).await?));
    };
    let has_mgc = db.has_columns("tblNode", "nodeID").await?;
    if !has_mgc {
        db.close().await;
        return Ok(None);
    }
    config::check_schema(&db).await?;
    Ok(Some(db))
}

/// Readies the target of a real load (under the target lock): creates the mgc schema when
/// asked and absent, checks it, and creates (or upgrades) the ledger.
pub async fn prepare(db: &TargetDb, create: bool) -> Result<()> {
    let has_mgc = db.has_columns("tblNode", "nodeID").await?;
    if !has_mgc && create {
        schema::create(db, SchemaKind::Mgc2013).await?;
    }
    config::check_schema(db).await?;
    ledger::ensure(db).await
}

/// Where a load's batches go.
pub enum Writer<'a> {
    /// The target database.
    Target(&'a TargetDb),
    /// `--dry-run`: rows counted per table, nothing written.
    Recording(Mutex<BTreeMap<String, u64>>),
}

impl Writer<'_> {
    /// Applies (or, dry, counts) a batch.
    pub async fn apply(&self, batch: &Batch) -> Result<()> {
        match self {
            Writer::Target(db) => db.apply(batch).await,
            Writer::Recording(m) => {
                let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
                for (t, n) in batch.counts() {
                    *m.entry(t).or_default() += n;
                }
                Ok(())
            }
        }
    }

    /// Rows recorded per table by a dry run (empty for a real one).
    pub fn recorded(&self) -> BTreeMap<String, u64> {
        match self {
            Writer::Recording(m) => m.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Writer::Target(_) => BTreeMap::new(),
        }
    }
}
