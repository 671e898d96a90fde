//! The workspace journal (`staging.db`'s `journal` table): what this workspace did to the
//! databases it touched — the configuration each load committed, each executed rollback,
//! each freeze of a wave's legacy rooms. Stages read and write it only through these
//! methods. See: issue "One backend layer", item 3.

use anyhow::Result;
use sqlx::Row;

use super::Workspace;

/// One journal entry, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// The run that wrote it (a load run id, `rollback-…`, `freeze-…`).
    pub run_id: String,
    /// The wave it concerns.
    pub wave: String,
    /// Its position within the run, from 1.
    pub seq: i64,
    /// What it records: `config`, `rollback` or `freeze`.
    pub kind: String,
    /// The record itself (JSON).
    pub body: String,
}

impl Workspace {
    /// Appends a journal entry of a run.
    pub async fn journal(&self, run_id: &str, wave: &str, kind: &str, body: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO journal (run_id, wave, seq, kind, body) VALUES \
             (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal WHERE run_id = ?1), ?3, ?4)",
        )
        .bind(run_id)
        .bind(wave)
        .bind(kind)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The runs with a journal entry of `kind`, without the bodies (a configuration's
    /// body lists every key it wrote).
    pub async fn journal_runs(&self, kind: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT run_id FROM journal WHERE kind = ?1")
            .bind(kind)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
    }

    /// The journal entries of the given kinds, in the order they were written.
    pub async fn journal_entries(&self, kinds: &[&str]) -> Result<Vec<JournalEntry>> {
        let marks: Vec<String> = (1..=kinds.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "SELECT run_id, wave, seq, kind, body FROM journal WHERE kind IN ({}) ORDER BY rowid",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for k in kinds {
            q = q.bind(*k);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(JournalEntry {
                    run_id: r.try_get(0)?,
                    wave: r.try_get(1)?,
                    seq: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    body: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Replaces the record of one journal entry (a freeze marked undone).
    pub async fn rewrite_journal(&self, run_id: &str, seq: i64, body: &str) -> Result<()> {
        sqlx::query("UPDATE journal SET body = ?1 WHERE run_id = ?2 AND seq = ?3")
            .bind(body)
            .bind(run_id)
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entries_come_back_by_kind_in_written_order() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path(), true).await.unwrap();
        ws.journal("r2", "b", "config", "{}").await.unwrap();
        ws.journal("f1", "a", "freeze", "{\"x\":1}").await.unwrap();
        ws.journal("r2", "b", "config", "{\"again\":1}").await.unwrap();
        ws.journal("r1", "a", "rollback", "{}").await.unwrap();
        let got = ws.journal_entries(&["config", "rollback"]).await.unwrap();
        let seen: Vec<(&str, i64, &str)> =
            got.iter().map(|e| (e.run_id.as_str(), e.seq, e.kind.as_str())).collect();
        assert_eq!(seen, [("r2", 1, "config"), ("r2", 2, "config"), ("r1", 1, "rollback")]);
        ws.rewrite_journal("f1", 1, "{\"x\":2}").await.unwrap();
        let f = ws.journal_entries(&["freeze"]).await.unwrap();
        assert_eq!((f.len(), f[0].body.as_str(), f[0].wave.as_str()), (1, "{\"x\":2}", "a"));
    }
}
