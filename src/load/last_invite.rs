//! `tblLastInviteId`: per principal, the highest invitation id Persistent Chat has handed
//! out (`tblPrincipalInvites.invID` comes from it). A load that writes invitations keeps it
//! at least the highest `invID` of each principal's invitations, as `tblLastChatId` is kept
//! for messages, so the server never hands out an id a migrated invitation holds. The value
//! before the load is recorded per principal (`Inserted::last_invites`), for rollback to
//! restore it (never below an invitation that remains).

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;

use crate::db::batch::{Batch, LAST_INVITE_ID};
use crate::db::{Conn, Dialect};

/// Every principal's last invitation id.
pub const READ: &str =
    "SELECT CAST(prinID AS BIGINT), CAST(lastInviteID AS BIGINT) FROM tblLastInviteId";

/// Reads the target's `tblLastInviteId`.
pub async fn read(db: &Conn) -> Result<HashMap<i64, i64>> {
    let rows =
        db.rows("reading tblLastInviteId", READ, &[], |r| Ok((r.int(0)?, r.int(1)?))).await?;
    Ok(rows.into_iter().collect())
}

/// Raises `tblLastInviteId` to the highest `invID` of `written` (target principal, invID)
/// where it is lower or missing: a row inserted or updated per principal in `b`, the
/// target's values in `last` kept current, and each principal's value before the change
/// appended to `before` (`None`: it had no row).
pub fn keep(
    b: &mut Batch,
    last: &mut HashMap<i64, i64>,
    written: &[(i64, i64)],
    before: &mut Vec<(i64, Option<i64>)>,
) {
    let mut high: BTreeMap<i64, i64> = BTreeMap::new();
    for &(p, inv) in written {
        let e = high.entry(p).or_insert(inv);
        *e = (*e).max(inv);
    }
    for (p, inv) in high {
        match last.get(&p).copied() {
            None => {
                b.insert(&LAST_INVITE_ID, vec![p.into(), inv.into()]);
                before.push((p, None));
            }
            Some(cur) if cur < inv => {
                b.update(&LAST_INVITE_ID, "prinID", p, vec![("lastInviteID", inv.into())]);
                before.push((p, Some(cur)));
            }
            Some(_) => continue,
        }
        last.insert(p, inv);
    }
}

/// The statements of this module, for the T-SQL parse tests.
pub fn statements(d: Dialect) -> Vec<(String, String)> {
    use crate::db::batch::{insert_sql, update_sql};
    vec![
        ("last invite: read".into(), READ.into()),
        ("last invite: insert".into(), insert_sql(&LAST_INVITE_ID, 1, d)),
        (
            "last invite: raise".into(),
            update_sql(&LAST_INVITE_ID, "prinID", &[("lastInviteID", 1i64.into())], d),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::batch::Op;

    #[test]
    fn raises_only_what_is_lower_and_records_the_value_before() {
        let mut b = Batch::default();
        let mut last: HashMap<i64, i64> = [(7, 10), (8, 2)].into();
        let mut before = Vec::new();
        keep(&mut b, &mut last, &[(7, 4), (8, 5), (8, 3), (9, 1)], &mut before);
        assert_eq!(before, vec![(8, Some(2)), (9, None)]);
        assert_eq!(last, [(7, 10), (8, 5), (9, 1)].into());
        assert!(matches!(&b.ops[0], Op::Update(_, "prinID", 8, s) if s[0].1 == 5i64.into()));
        // Integer rows are kept flat.
        assert!(matches!(&b.ops[1], Op::InsertInts(_, cells) if cells.to_vec() == [9, 1]));
    }
}
