//! The `last_invite_id` invariant: every principal with invitations has a
//! `tblLastInviteId` row at least its highest `invID` — Persistent Chat hands out the next
//! invitation id from it, so a lower value would reuse an id a migrated invitation holds.
//! Checked on the whole pool (one row per principal: cheap).

use std::collections::HashMap;

use anyhow::Result;

use super::invariants::Invariant;
use super::target::Model;
use crate::db::Conn;

/// The highest `invID` per principal.
pub(super) const MAX_INVITES: &str = "SELECT CAST(prinID AS BIGINT), CAST(MAX(invID) AS BIGINT) \
    FROM tblPrincipalInvites GROUP BY prinID";

/// Reads both tables and judges them.
pub async fn check(db: &Conn, tg: &Model) -> Result<Invariant> {
    let high =
        db.rows("reading tblPrincipalInvites", MAX_INVITES, &[], |r| Ok((r.int(0)?, r.int(1)?)));
    let high = high.await?;
    let last = crate::load::last_invite::read(db).await?;
    Ok(judge(tg, &high, &last))
}

/// The invariant from each principal's highest `invID` and its `tblLastInviteId`.
pub fn judge(tg: &Model, high: &[(i64, i64)], last: &HashMap<i64, i64>) -> Invariant {
    let mut high = high.to_vec();
    high.sort_unstable();
    let details = high
        .into_iter()
        .filter_map(|(p, max)| {
            let uri =
                tg.principals.get(&p).map_or_else(|| format!("principal {p}"), |x| x.uri.clone());
            match last.get(&p) {
                Some(&v) if v >= max => None,
                Some(&v) => Some(format!(
                    "{uri}: tblLastInviteId has {v}, below its highest invitation id {max}"
                )),
                None => Some(format!(
                    "{uri}: no tblLastInviteId row, its highest invitation id is {max}"
                )),
            }
        })
        .collect();
    Invariant::new("last_invite_id", details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_lower_value_fails_and_names_the_principal() {
        let tg = Model::default();
        let last: HashMap<i64, i64> = [(7, 5), (8, 2)].into();
        assert!(judge(&tg, &[(7, 5)], &last).ok);
        let bad = judge(&tg, &[(7, 5), (8, 3), (9, 1)], &last);
        assert!(!bad.ok);
        assert_eq!(bad.details.len(), 2, "{:?}", bad.details);
        assert!(bad.details[0].contains("principal 8") && bad.details[0].contains("below"));
    }
}
