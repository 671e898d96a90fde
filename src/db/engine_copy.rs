//! The engine's own copies that `gcmigrate bench` measures the pipeline against, and the
//! scratch databases it runs on: what each engine does fastest with no pipeline on top —
//! SQLite `ATTACH` + `INSERT … SELECT`, PostgreSQL `COPY … TO` then `COPY … FROM`, SQL
//! Server bulk load through the writer `load` uses. Engine-specific by definition, so
//! they live in the backend layer.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;

use super::{Db, DbUrl, Dialect, OpenMode};

/// The engine's own copy of `tblChat` from `source` into a fresh `target`, given the mgc
/// schema's DDL for the target's dialect.
pub async fn baseline(source: &DbUrl, target: &DbUrl, mgc_ddl: &str) -> Result<f64> {
    #[cfg(feature = "mssql")]
    if target.dialect() == Dialect::Mssql {
        return baseline_mssql(source, target, mgc_ddl).await;
    }
    let db = Db::connect(target, OpenMode::Create, 1).await?;
    db.run_script("the mgc schema", mgc_ddl).await?;
    let t = Instant::now();
    match source.dialect() {
        Dialect::Sqlite => {
            let mut conn = db.pool.acquire().await?;
            let path = source.sqlite_path().unwrap_or_default();
            sqlx::raw_sql(&format!(
                "ATTACH DATABASE '{}' AS src; BEGIN; INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content, rtf) \
                 SELECT channelId, chatId, chatDate, userId, isAlert, content, NULL FROM src.tblChat; COMMIT; DETACH DATABASE src;",
                path.display().to_string().replace('\'', "''")
            ))
            .execute(&mut *conn)
            .await?;
        }
        _ => {
            let src = sqlx::PgPool::connect(source.expose()).await?;
            let dst = sqlx::PgPool::connect(target.expose()).await?;
            let mut out_conn = src.acquire().await?;
            let mut input = out_conn
                .copy_out_raw("COPY tblChat (channelId, chatId, chatDate, userId, isAlert, content) TO STDOUT")
                .await?;
            let mut in_conn = dst.acquire().await?;
            let mut copy = in_conn
                .copy_in_raw("COPY tblChat (channelId, chatId, chatDate, userId, isAlert, content) FROM STDIN")
                .await?;
            while let Some(bytes) = input.try_next().await? {
                copy.send(bytes).await?;
            }
            copy.finish().await?;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    db.pool.close().await;
    Ok(secs)
}

/// SQL Server: an SQLite source's `tblChat` bulk-loaded into a fresh mgc through the
/// writer `load` uses (TDS `INSERT BULK`), 10,000 rows a transaction, read on a thread of
/// its own so that reading and writing overlap as in `load`.
#[cfg(feature = "mssql")]
async fn baseline_mssql(source: &DbUrl, target: &DbUrl, mgc_ddl: &str) -> Result<f64> {
    use crate::db::batch::{Batch, Value, CHAT};
    const ROWS: usize = 10_000;
    let path = source.sqlite_path().context("the SQL Server run reads an SQLite source")?;
    let t = crate::db::TargetDb::open(target, crate::db::OpenMode::Existing, 1).await?;
    t.run_script("the mgc schema", mgc_ddl).await?;
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(2);
    let reader = std::thread::spawn(move || -> Result<()> {
        let conn = crate::db::lite::open(&path, false, false)?;
        let mut st = conn.prepare(
            "SELECT channelId, chatId, chatDate, userId, isAlert, content FROM tblChat ORDER BY channelId, chatId",
        )?;
        let mut rows = st.query([])?;
        let mut batch = Batch::default();
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let ints = (0..5).map(|i| r.get::<_, i64>(i).map(Value::Int));
            let row =
                ints.chain([r.get::<_, String>(5).map(Value::Text)]).collect::<Result<_, _>>()?;
            batch.insert(&CHAT, row);
            n += 1;
            if n % ROWS == 0 && tx.blocking_send(std::mem::take(&mut batch)).is_err() {
                return Ok(());
            }
        }
        let _ = tx.blocking_send(batch);
        Ok(())
    });
    while let Some(batch) = rx.recv().await {
        t.apply(&batch).await?;
    }
    reader.join().map_err(|_| anyhow::anyhow!("bench: the SQLite reader panicked"))??;
    let secs = start.elapsed().as_secs_f64();
    t.close().await;
    Ok(secs)
}

/// SQLite only: the two engine copies that a staged pipeline cannot do without — the
/// source's `tblChat` into a staging file shaped like the workspace's `history.db`, then
/// that into a fresh mgc target — and nothing else. `extract` and `load` each make one of
/// these copies, so this step's ratio to the baseline is the floor of theirs: what is
/// left between the two is the pipeline's own work (configuration, ledger, rules).
pub async fn floor(
    source: &str,
    dir: &Path,
    tag: &str,
    staging_columns: &str,
    mgc_ddl: &str,
) -> Result<f64> {
    let staged = dir.join(format!("gcm_bench_floor_{tag}.stg.db"));
    let _ = std::fs::remove_file(&staged);
    let target = fresh(Dialect::Sqlite, dir, None, None, &format!("gcm_bench_floor_{tag}")).await?;
    let target = DbUrl::parse(&target)?;
    let db = Db::connect(&target, OpenMode::Create, 1).await?;
    db.run_script("the mgc schema", mgc_ddl).await?;
    let quote = |p: &Path| p.display().to_string().replace('\'', "''");
    let src = DbUrl::parse(source)?.sqlite_path().unwrap_or_default();
    let mut conn = db.pool.acquire().await?;
    let t = Instant::now();
    sqlx::raw_sql(&format!(
        "ATTACH DATABASE '{stg}' AS stg; PRAGMA stg.page_size = 16384; \
         PRAGMA stg.journal_mode = DELETE; PRAGMA stg.synchronous = NORMAL; \
         CREATE TABLE stg.snap_chat {staging_columns}; ATTACH DATABASE '{src}' AS src; \
         BEGIN; INSERT INTO stg.snap_chat SELECT channelId, chatId, chatDate, userId, isAlert, content \
         FROM src.tblChat; COMMIT; \
         BEGIN; INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content, rtf) \
         SELECT channel_id, chat_id, chat_date, user_id, is_alert, content, NULL FROM stg.snap_chat; \
         COMMIT; DETACH DATABASE src; DETACH DATABASE stg;",
        stg = quote(&staged),
        src = quote(&src),
    ))
    .execute(&mut *conn)
    .await
    .context("bench: the floor's two copies")?;
    let secs = t.elapsed().as_secs_f64();
    drop(conn);
    db.pool.close().await;
    // Only the time matters: give the disk back before the pipeline runs.
    for f in [staged, target.sqlite_path().unwrap_or_default()] {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
        }
    }
    Ok(secs)
}

/// A fresh database URL for a name: a SQLite file in `dir`, or a new PostgreSQL or SQL
/// Server database.
pub async fn fresh(
    engine: Dialect,
    dir: &Path,
    postgres: Option<&str>,
    mssql: Option<&str>,
    name: &str,
) -> Result<String> {
    let pg = postgres;
    #[cfg(not(feature = "mssql"))]
    let _ = mssql;
    match engine {
        Dialect::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("{name}.db{suffix}")));
            }
            Ok(format!("sqlite://{}", dir.join(format!("{name}.db")).display()))
        }
        #[cfg(feature = "mssql")]
        Dialect::Mssql => {
            let base = mssql.context("a SQL Server run needs --mssql URL")?;
            crate::db::mssql::recreate_database(base, name).await
        }
        _ => {
            let base = pg.context("a PostgreSQL run needs --postgres URL")?;
            let admin = sqlx::PgPool::connect(base).await?;
            // Two statements: DROP/CREATE DATABASE cannot share an implicit transaction.
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin)
                .await?;
            sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
            admin.close().await;
            let (head, _) =
                base.rsplit_once('/').context("the PostgreSQL URL needs a database name")?;
            Ok(format!("{head}/{name}"))
        }
    }
}
