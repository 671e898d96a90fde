//! The findings the build accumulates, and the limits of one Persistent Chat pool that
//! `capacity.rs` checks the finished plan against.

use crate::plan::{Finding, Severity};

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
