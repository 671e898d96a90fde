//! The read side of a load target, whatever its backend: the ledger's configuration
//! rows, the state the configuration phase plans against, and each room's resume point.
//! SQLite and PostgreSQL read through sqlx; SQL Server through a small second tiberius
//! pool (the writer's connections stay busy with history chunks).

use anyhow::{Context, Result};
use sqlx::Row;

use super::config::TargetState;
use crate::db::target::LEDGER_DDL;
use crate::db::{Db, DbUrl, Dialect, OpenMode};

/// The ledger's configuration rows, oldest first.
const LEDGER_CONFIGS: &str =
    "SELECT body FROM gcmigrate_ledger WHERE kind = 'config' ORDER BY written_at";
/// The highest legacy `chatId` the ledger records as committed for a target room.
const RESUME: &str = "SELECT CAST(MAX(last_chat) AS BIGINT) FROM gcmigrate_ledger \
    WHERE kind = 'chat' AND room_id = $1";

/// A target opened for reading.
pub enum Reader {
    /// SQLite or PostgreSQL.
    Sql(Db),
    /// SQL Server.
    #[cfg(feature = "mssql")]
    Mssql(Box<crate::db::mssql::writer::MssqlTarget>),
}

impl Reader {
    /// The JSON bodies of the ledger's configuration rows (none when there is no ledger:
    /// a dry run against a target never loaded).
    pub async fn ledger_configs(&self) -> Result<Vec<String>> {
        match self {
            Reader::Sql(db) => match sqlx::query(LEDGER_CONFIGS).fetch_all(&db.pool).await {
                Ok(rows) => rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect(),
                Err(_) => Ok(Vec::new()),
            },
            #[cfg(feature = "mssql")]
            Reader::Mssql(t) => crate::db::mssql::writer::ledger_configs(t).await,
        }
    }

    /// Next free ids, existing principals, role types and add-ins.
    pub async fn state(&self) -> Result<TargetState> {
        match self {
            Reader::Sql(db) => TargetState::read(db).await,
            #[cfg(feature = "mssql")]
            Reader::Mssql(t) => crate::db::mssql::writer::read_state(t).await,
        }
    }

    /// The highest legacy `chatId` of a room that the ledger records as committed.
    pub async fn resume_point(&self, target_room: i64) -> Result<Option<i64>> {
        match self {
            Reader::Sql(db) => Ok(sqlx::query_scalar(RESUME)
                .bind(target_room)
                .fetch_one(&db.pool)
                .await
                .unwrap_or(None)),
            #[cfg(feature = "mssql")]
            Reader::Mssql(t) => crate::db::mssql::writer::resume_point(t, target_room).await,
        }
    }

    /// Closes the connections.
    pub async fn close(self) {
        match self {
            Reader::Sql(db) => db.pool.close().await,
            #[cfg(feature = "mssql")]
            Reader::Mssql(t) => crate::db::mssql::writer::close(*t).await,
        }
    }
}

/// Opens the read side of a target: `None` when a dry run targets a database that does not
/// exist yet or holds no mgc tables (it is then planned against an empty mgc). Otherwise
/// creates the schema when asked, checks it, and creates the ledger when not dry.
pub async fn open_reader(url: &DbUrl, dry_run: bool, create: bool) -> Result<Option<Reader>> {
    if url.dialect() == Dialect::Mssql {
        return open_mssql(url, dry_run, create).await;
    }
    if dry_run && url.sqlite_path().is_some_and(|p| !p.exists()) {
        return Ok(None);
    }
    let mode = if create && !dry_run { OpenMode::Create } else { OpenMode::Existing };
    let db = Db::connect(url, mode, 4).await?;
    if create && !dry_run && !db.has_columns("tblNode", "nodeID").await {
        crate::schema::create(&db, crate::schema::SchemaKind::Mgc2013).await?;
    }
    if dry_run && !db.has_columns("tblNode", "nodeID").await {
        return Ok(None);
    }
    super::config::check_schema(&db).await?;
    if !dry_run {
        sqlx::query(LEDGER_DDL)
            .execute(&db.pool)
            .await
            .context("creating gcmigrate_ledger in the target")?;
    }
    Ok(Some(Reader::Sql(db)))
}

#[cfg(feature = "mssql")]
async fn open_mssql(url: &DbUrl, dry_run: bool, create: bool) -> Result<Option<Reader>> {
    // Two connections: configuration reads, and resume points looked up by the writers.
    let t = crate::db::mssql::writer::open(url, 2).await?;
    if crate::db::mssql::writer::prepare(&t, create, dry_run).await? {
        Ok(Some(Reader::Mssql(Box::new(t))))
    } else {
        crate::db::mssql::writer::close(t).await;
        Ok(None)
    }
}

#[cfg(not(feature = "mssql"))]
async fn open_mssql(url: &DbUrl, _dry_run: bool, _create: bool) -> Result<Option<Reader>> {
    Err(crate::error::bad_input(format!(
        "{url} is a SQL Server database, and this gcmigrate was built without the `mssql` feature"
    )))
}
