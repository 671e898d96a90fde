//! The target lock: one row in `gcmigrate_lock` (primary key `lock_key`), inserted in its
//! own statement by a `load` or `rollback --execute` before it writes and deleted when it
//! ends, the same on every engine through [`Conn`]. A second writer into the same target —
//! from the same workspace or another — fails that insert and is refused at once (exit 2)
//! with one line naming the holder, never with a raw constraint error. A row left by a
//! process of this host that no longer runs is taken over with a note; a row from another
//! host cannot be checked, and the message gives the statement that clears it.

use anyhow::Result;

use crate::db::{Conn, Value};
use crate::error::bad_input;
use crate::staging::lock::Holder;

/// The one lock of a target: a target is one pool, written by one gcmigrate at a time.
const KEY: &str = "target";
/// Takes the lock.
pub const TAKE: &str =
    "INSERT INTO gcmigrate_lock (lock_key, holder, command, since) VALUES ($1, $2, $3, $4)";
/// Who holds it.
pub const HELD: &str = "SELECT holder, command, since FROM gcmigrate_lock WHERE lock_key = $1";
/// Releases it (only the holder's own row).
pub const RELEASE: &str = "DELETE FROM gcmigrate_lock WHERE lock_key = $1 AND holder = $2";

/// A held target lock; [`TargetLock::release`] it when done (also after a failure).
#[derive(Debug)]
pub struct TargetLock {
    holder: String,
    /// Set when a stale lock row was taken over: what it was.
    pub took_over: Option<String>,
}

impl TargetLock {
    /// Takes the lock of `db` for `command`, or refuses naming who holds it.
    pub async fn acquire(db: &Conn, command: &str) -> Result<TargetLock> {
        let created = db
            .run_script("creating gcmigrate_lock in the target", db.dialect().create_lock())
            .await;
        // Two first runs may create it at once (PostgreSQL then fails one of them).
        if let Err(e) = created {
            if !db.has_columns("gcmigrate_lock", "lock_key, holder").await? {
                return Err(e);
            }
        }
        let holder = Holder::me().label();
        let command: String =
            command.chars().map(|c| if c.is_control() { ' ' } else { c }).take(250).collect();
        let mut took_over = None;
        let mut vanished = 0;
        loop {
            let row: [Value; 4] = [
                KEY.into(),
                holder.as_str().into(),
                command.as_str().into(),
                chrono::Utc::now().to_rfc3339().into(),
            ];
            let Err(err) = db.execute("taking the target lock", TAKE, &row).await else {
                return Ok(TargetLock { holder, took_over });
            };
            let held = db
                .rows("reading gcmigrate_lock", HELD, &[KEY.into()], |r| {
                    Ok((r.text(0)?, r.text(1)?, r.text(2)?))
                })
                .await?;
            // No row: its holder released it between our insert and this read (try again,
            // a few times), or the insert failed for another reason.
            let Some((who, cmd, since)) = held.into_iter().next() else {
                vanished += 1;
                if vanished < 5 {
                    continue;
                }
                return Err(err);
            };
            let dead = Holder::parse(&who).is_some_and(|h| h.is_dead());
            if !dead || took_over.is_some() {
                return Err(bad_input(format!(
                    "{} is in use by `{cmd}` (process {who}, since {since}): wait for it to \
                     finish; if that process is gone, clear the lock with: DELETE FROM \
                     gcmigrate_lock WHERE lock_key = '{KEY}'",
                    db.url()
                )));
            }
            db.execute("clearing a stale target lock", RELEASE, &[KEY.into(), who.as_str().into()])
                .await?;
            took_over = Some(format!(
                "took over the target lock of `{cmd}` (process {who}, since {since}), which no \
                 longer runs"
            ));
        }
    }

    /// Releases the lock.
    pub async fn release(self, db: &Conn) -> Result<()> {
        let params = [KEY.into(), self.holder.as_str().into()];
        db.execute("releasing the target lock", RELEASE, &params).await?;
        Ok(())
    }
}

/// Runs `f` holding the target lock of `db`, and releases it whatever `f` returns.
pub async fn with_lock<T, F>(db: &Conn, command: &str, note: impl Fn(&str), f: F) -> Result<T>
where
    F: std::future::Future<Output = Result<T>>,
{
    let lock = TargetLock::acquire(db, command).await?;
    if let Some(n) = &lock.took_over {
        note(n);
    }
    let out = f.await;
    let released = lock.release(db).await;
    let out = out?;
    released?;
    Ok(out)
}

/// Every statement of this module, for the T-SQL parse tests (placeholders as written).
pub fn statements() -> Vec<(&'static str, &'static str)> {
    vec![("lock: take", TAKE), ("lock: holder", HELD), ("lock: release", RELEASE)]
}
