//! PostgreSQL: the foreign keys of a large batch, checked once instead of row by row.
//!
//! PostgreSQL checks a foreign key with a trigger per inserted row: one query, and a lock
//! on the referenced row, each time. The configuration of 20,000 users (230,000 rows,
//! about 500,000 checks) spent 4.6 of its 5.5 s in those triggers. So a batch that
//! inserts many rows into tables with foreign keys drops those keys inside its own
//! transaction, inserts, and adds them back with their exact definitions
//! (`pg_get_constraintdef`). Adding a key validates every row in one anti-join per key,
//! as pg_restore and pgloader do after a bulk load.
//!
//! Nothing is given up: PostgreSQL's DDL is transactional, so the keys are either back
//! with every row checked, or the batch fails whole, naming the key a row violates, and
//! nothing has changed. Dropping a key needs to own its table, and locks it against
//! readers for the transaction: when the target refuses, or another session's lock does
//! not come within two seconds (a savepoint catches either), the batch keeps the keys and
//! their row-by-row checks.

use sqlx::{Postgres, Transaction};

use super::batch::{Batch, CHAT};

/// From this many rows into tables other than `tblChat` (which has no foreign key), the
/// keys are checked set-based. A history chunk's few ledger rows stay below it.
const SET_BASED_FROM: usize = 2_000;

/// How long dropping the keys may wait for another session's lock on their tables.
const LOCK_WAIT: &str = "2s";

/// A foreign key set aside for the batch.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(super) struct Key {
    /// The table, as `regclass` prints it (quoted where it must be).
    table: String,
    /// The constraint's name.
    name: String,
    /// Its definition, as `pg_get_constraintdef` prints it.
    def: String,
}

/// Drops, inside `tx`, the foreign keys of the tables `batch` inserts into when it inserts
/// enough rows to make that worth it; returns them for [`restore`]. Returns nothing (and
/// drops nothing) for a small batch, or when the keys cannot be dropped: this user does
/// not own the tables, or another session's lock did not come within `LOCK_WAIT`.
pub(super) async fn set_aside(
    tx: &mut Transaction<'_, Postgres>,
    batch: &Batch,
) -> Result<Vec<Key>, sqlx::Error> {
    let mut tables: Vec<&str> = Vec::new();
    let mut rows = 0;
    for op in &batch.ops {
        if let Some(n) = op.rows() {
            if !std::ptr::eq(op.table(), &CHAT) {
                rows += n;
                tables.push(op.table().name);
            }
        }
    }
    if rows < SET_BASED_FROM {
        return Ok(Vec::new());
    }
    tables.sort_unstable();
    tables.dedup();
    // In table order, so that two batches would take their locks in the same order.
    let keys: Vec<Key> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text AS table, c.conname::text AS name, \
         pg_get_constraintdef(c.oid) AS def FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.conrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) t) \
         ORDER BY 1, 2",
    )
    .bind(&tables)
    .fetch_all(&mut **tx)
    .await?;
    if keys.is_empty() {
        return Ok(keys);
    }
    // Dropping a key locks its table against readers too, where the inserts would not:
    // wait for a reader's lock at most LOCK_WAIT, then keep the per-row checks instead.
    let wait: String =
        sqlx::query_scalar("SELECT current_setting('lock_timeout')").fetch_one(&mut **tx).await?;
    sqlx::query("SAVEPOINT gcm_keys").execute(&mut **tx).await?;
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(LOCK_WAIT)
        .execute(&mut **tx)
        .await?;
    for k in &keys {
        let drop = format!("ALTER TABLE {} DROP CONSTRAINT {}", k.table, quote(&k.name));
        if sqlx::query(&drop).execute(&mut **tx).await.is_err() {
            // Not the owner, or a lock that did not come: keep the row-by-row checks (the
            // rollback also restores lock_timeout).
            sqlx::query("ROLLBACK TO SAVEPOINT gcm_keys").execute(&mut **tx).await?;
            return Ok(Vec::new());
        }
    }
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(&wait)
        .execute(&mut **tx)
        .await?;
    sqlx::query("RELEASE SAVEPOINT gcm_keys").execute(&mut **tx).await?;
    Ok(keys)
}

/// Adds back, inside `tx`, the keys [`set_aside`] dropped: each validates every row of
/// its table, and a row that breaks one fails the batch.
pub(super) async fn restore(
    tx: &mut Transaction<'_, Postgres>,
    keys: &[Key],
) -> Result<(), sqlx::Error> {
    for k in keys {
        let add = format!("ALTER TABLE {} ADD CONSTRAINT {} {}", k.table, quote(&k.name), k.def);
        sqlx::query(&add).execute(&mut **tx).await?;
    }
    Ok(())
}

/// `name` as a quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_as_identifiers() {
        assert_eq!(quote("fk_tblnode_x"), "\"fk_tblnode_x\"");
        assert_eq!(quote("odd\"name"), "\"odd\"\"name\"");
    }
}
