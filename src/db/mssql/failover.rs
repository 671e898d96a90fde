//! Database mirroring's `Failover Partner`: the server named first is tried within the
//! connect timeout, then its partner within its own; the one that answered is said on
//! stderr when it is the partner, and when neither answers the failure is one runtime
//! line (exit 3) naming both with their causes, scrubbed of the password.
//!
//! Any failure of the first server moves on to the partner, as ADO.NET does: a mirror
//! that is not the principal refuses the database (error 4060/955/976) rather than not
//! answering, so "cannot open database" is a reason to try the partner too.

use anyhow::Result;

use super::connect::{attempt, connect_error, Cause};
use super::{Client, ConnSpec};
use crate::error::runtime;

/// Connects to `spec`'s server, or to its failover partner when it fails; returns the
/// session and the spec of the server that answered (whose partner is the other one, so
/// later sessions try it first and fail back).
pub async fn connect_answering(spec: &ConnSpec) -> Result<(Client, ConnSpec)> {
    let first = match attempt(spec).await {
        Ok(c) => return Ok((c, spec.clone())),
        Err(cause) => cause,
    };
    let Some(partner) = spec.partner() else { return Err(connect_error(spec, &first)) };
    match attempt(&partner).await {
        Ok(c) => {
            crate::progress::err_line(&answered_by_partner(spec, &first, &partner));
            Ok((c, partner))
        }
        Err(second) => Err(neither(spec, &first, &partner, &second)),
    }
}

/// The line saying the partner answered.
fn answered_by_partner(spec: &ConnSpec, cause: &Cause, partner: &ConnSpec) -> String {
    let why = reason(spec, cause);
    format!(
        "note: SQL Server {} did not serve the database ({why}); connected to its failover partner {} instead",
        spec.server_label(),
        partner.label()
    )
}

/// The one line when neither server answered.
fn neither(spec: &ConnSpec, a: &Cause, partner: &ConnSpec, b: &Cause) -> anyhow::Error {
    runtime(format!(
        "cannot connect to SQL Server {} nor to its failover partner {}: {}; {}",
        spec.server_label(),
        partner.server_label(),
        reason(spec, a),
        reason(partner, b)
    ))
}

/// `connect_error`'s line for one server (already scrubbed), as a clause.
fn reason(spec: &ConnSpec, cause: &Cause) -> String {
    let line = format!("{:#}", connect_error(spec, cause));
    line.strip_prefix("cannot connect to SQL Server ").unwrap_or(&line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ConnSpec {
        ConnSpec::parse_str(s).unwrap()
    }

    #[test]
    fn both_failures_make_one_line_naming_both_servers_without_the_password() {
        let s = spec(
            "Server=sql01,1450;Failover Partner=sql02;Database=GC;User Id=u;Password=hunter2x",
        );
        let p = s.partner().unwrap();
        let e = neither(
            &s,
            &Cause::Unreachable("Connection refused hunter2x".into()),
            &p,
            &Cause::Timeout,
        );
        let f = e.downcast_ref::<crate::error::Failure>().expect("a Failure");
        assert_eq!(f.kind, crate::error::FailureKind::Runtime);
        let m = format!("{e:#}");
        assert!(m.contains("sql01:1450") && m.contains("sql02:1433"), "{m}");
        assert!(m.contains("Connection refused") && m.contains("no answer within"), "{m}");
        assert!(!m.contains("hunter2x") && !m.contains('\n'), "{m}");
        let note = answered_by_partner(&s, &Cause::Timeout, &p);
        assert!(
            note.contains("failover partner sql02:1433/GC") && note.contains("sql01:1450"),
            "{note}"
        );
    }

    #[tokio::test]
    async fn a_dead_principal_and_a_dead_partner_fail_with_both_named() {
        let s = spec(
            "Server=127.0.0.1,1;Failover Partner=127.0.0.1,2;Database=d;User Id=u;Password=pw9secret;Connect Timeout=3",
        );
        let e = connect_answering(&s).await.expect_err("nothing listens on ports 1 and 2");
        let m = format!("{e:#}");
        assert!(m.contains("127.0.0.1:1") && m.contains("failover partner 127.0.0.1:2"), "{m}");
        assert!(!m.contains("pw9secret"), "{m}");
    }
}
