//! [`Conn::execute_steps`]: several different statements, each with its own parameters,
//! in one transaction on every engine, with a step of the caller's before the commit — the
//! cutover's room updates and its ledger row, which must commit together or not at all
//! ([`Conn::execute_each`], one statement for each parameter set, is a case of it).

use anyhow::{Context, Result};

use super::{Conn, Value};

#[cfg(feature = "mssql")]
use super::transaction::ROLLBACK_WAIT;

impl Conn {
    /// Runs `steps` (SQL written once with `$n` placeholders, and its parameters) in order
    /// in one transaction; then `before_commit` with the rows each step affected, and
    /// commits only when it succeeds. Any failure rolls the whole transaction back.
    pub async fn execute_steps<T>(
        &self,
        what: &str,
        steps: &[(String, Vec<Value>)],
        before_commit: impl AsyncFnOnce(Vec<u64>) -> Result<T>,
    ) -> Result<T> {
        match self {
            Conn::Sqlite(..) | Conn::Postgres(_) => {
                let mut tx = self.begin().await?;
                let mut affected = Vec::with_capacity(steps.len());
                for (sql, params) in steps {
                    affected.push(tx.execute(what, sql, params).await?);
                }
                let out = before_commit(affected).await?;
                tx.commit()
                    .await
                    .with_context(|| format!("committing {what} on {}", self.url()))?;
                Ok(out)
            }
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => {
                use super::mssql::{batch, pool as p};
                let (_permit, mut c) = pool.take().await?;
                let result: Result<T> = async {
                    batch(&mut c, p::BEGIN)
                        .await
                        .map_err(|e| pool.error("starting a transaction", &e))?;
                    let mut affected = Vec::with_capacity(steps.len());
                    for (sql, params) in steps {
                        let sql = p::placeholders(sql);
                        let done = p::query(&sql, params).execute(&mut c).await;
                        affected.push(done.map_err(|e| pool.error(what, &e))?.total());
                    }
                    let out = before_commit(affected).await?;
                    batch(&mut c, p::COMMIT).await.map_err(|e| pool.error("committing", &e))?;
                    Ok(out)
                }
                .await;
                if result.is_ok() {
                    pool.give_back(c);
                } else if let Ok(Ok(())) =
                    tokio::time::timeout(ROLLBACK_WAIT, batch(&mut c, p::ROLLBACK)).await
                {
                    pool.give_back(c);
                }
                result
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Conn, DbUrl, OpenMode, Value};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_step_commits_or_none_does() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse(&format!("sqlite://{}", dir.path().join("t.db").display())).unwrap();
        let db = Conn::open(&url, OpenMode::Create, 1, None).await.unwrap();
        db.run_script("t", "CREATE TABLE a (x BIGINT); CREATE TABLE b (y BIGINT NOT NULL);")
            .await
            .unwrap();
        let steps = |y: Value| {
            vec![
                ("INSERT INTO a (x) VALUES ($1)".to_string(), vec![Value::Int(1)]),
                ("INSERT INTO b (y) VALUES ($1)".to_string(), vec![y]),
            ]
        };
        // The second step fails: the first is rolled back with it.
        assert!(db.execute_steps("t", &steps(Value::Null), async |_| Ok(())).await.is_err());
        // The step before the commit fails: nothing commits.
        let refused: anyhow::Result<()> =
            db.execute_steps("t", &steps(Value::Int(2)), async |_| anyhow::bail!("no")).await;
        assert!(refused.is_err());
        assert_eq!(db.scalar("t", "SELECT COUNT(*) FROM a", &[]).await.unwrap(), Some(0));
        let n = db.execute_steps("t", &steps(Value::Int(2)), async |n| Ok(n)).await.unwrap();
        assert_eq!(n, [1, 1]);
        assert_eq!(db.scalar("t", "SELECT COUNT(*) FROM b", &[]).await.unwrap(), Some(1));
    }
}
