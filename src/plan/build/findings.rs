//! The findings the build accumulates, and the capacity check that compares the finished
//! plan with what one Persistent Chat pool holds, so that an oversized wave is an error in
//! the plan rather than a failure halfway through the load.

use std::collections::HashSet;

use crate::model::Snapshot;
use crate::plan::{Finding, PlanCategory, PlanPrincipal, PlanRoom, Severity};

/// Access control entries (scope + role rows) a pool holds at most.
pub const ACE_LIMIT: u64 = 2_000_000;
/// Invitations a pool holds at most.
pub const INVITE_LIMIT: u64 = 2_000_000;
/// Users a pool enables at most.
pub const USER_LIMIT: u64 = 150_000;

/// Accumulates findings.
#[derive(Default)]
pub(super) struct Findings(pub(super) Vec<Finding>);

impl Findings {
    pub(super) fn add(
        &mut self,
        severity: Severity,
        code: &str,
        subject: &str,
        guid: Option<&str>,
        message: String,
    ) {
        self.0.push(Finding {
            severity,
            code: code.into(),
            subject: subject.into(),
            guid: guid.map(str::to_string),
            message,
        });
    }
}

/// One `CAPACITY_HEADROOM` finding per Persistent Chat limit (access control entries,
/// invitations, enabled users): an error past the limit, else how much is left.
pub(super) fn capacity(
    f: &mut Findings,
    rooms: &[PlanRoom],
    cats: &[PlanCategory],
    prins: &[PlanPrincipal],
    snap: &Snapshot,
) {
    let aces: u64 = cats
        .iter()
        .map(|c| (c.allowed.len() + c.denied.len() + c.creators.len()) as u64)
        .sum::<u64>()
        + rooms
            .iter()
            .map(|r| (r.members.len() + r.managers.len() + r.presenters.len()) as u64)
            .sum::<u64>();
    let room_ids: HashSet<i64> = rooms.iter().map(|r| r.legacy_id).collect();
    let invites = snap.invites.iter().filter(|i| room_ids.contains(&i.node_id)).count() as u64;
    let users = prins
        .iter()
        .filter(|p| {
            !p.disabled && snap.principal_types.get(&p.target_type).is_none_or(|t| t.is_user)
        })
        .count() as u64;
    for (what, n, limit) in [
        ("access control entries", aces, ACE_LIMIT),
        ("invitations", invites, INVITE_LIMIT),
        ("enabled users", users, USER_LIMIT),
    ] {
        let sev = if n > limit { Severity::Error } else { Severity::Info };
        f.add(
            sev,
            "CAPACITY_HEADROOM",
            "/",
            None,
            format!(
                "{what}: {n} of {limit} ({:.2}% used, {} left)",
                n as f64 * 100.0 / limit as f64,
                limit.saturating_sub(n)
            ),
        );
    }
}
