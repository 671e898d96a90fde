//! [`Conn::each_pair_rows`]: one query with two parameters run for each of a list of
//! (key, bound) pairs, its rows lent as [`ByteCells`] — what an incremental verify reads
//! (a room's messages past its cut) without copying the content into a `String`.

use anyhow::{Context, Result};
use futures_util::TryStreamExt;

use super::scan::ByteCells;
use super::{lite, Conn};

impl Conn {
    /// Runs `sql` — a query with two parameters, `$1` and `$2` — once for each pair of
    /// `pairs`, in order, and hands each row to `f` with the pair's index. `what` names
    /// the read in an error.
    pub async fn each_pair_rows(
        &self,
        what: &str,
        sql: &str,
        pairs: &[(i64, i64)],
        f: &mut (dyn FnMut(usize, &dyn ByteCells) -> Result<()> + Send),
    ) -> Result<()> {
        match self {
            Conn::Sqlite(db, readers) if readers.path().exists() => lite::blocking(|| {
                readers.with(|c| {
                    let mut st = c.prepare_cached(sql)?;
                    for (i, (k, b)) in pairs.iter().enumerate() {
                        let mut rows = st.query((k, b))?;
                        while let Some(r) = rows.next()? {
                            f(i, r)?;
                        }
                    }
                    Ok(())
                })
            })
            .with_context(|| format!("{what} on {}", db.url)),
            Conn::Sqlite(db, _) | Conn::Postgres(db) => {
                for (i, (k, b)) in pairs.iter().enumerate() {
                    let mut rows = sqlx::query(sql).bind(k).bind(b).fetch(&db.pool);
                    while let Some(r) =
                        rows.try_next().await.with_context(|| format!("{what} on {}", db.url))?
                    {
                        f(i, &r)?;
                    }
                }
                Ok(())
            }
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => {
                for (i, (k, b)) in pairs.iter().enumerate() {
                    let params = [super::Value::Int(*k), super::Value::Int(*b)];
                    pool.each_row(what, sql, &params, &mut |r| f(i, r)).await?;
                }
                Ok(())
            }
        }
    }
}
