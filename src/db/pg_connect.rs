//! PostgreSQL's connect timeout and the one-line hint when the server cannot be reached:
//! `connect_timeout=N` in the URL (seconds, as libpq spells it) bounds the whole connect
//! (name resolution, TCP, TLS, authentication), [`DEFAULT_CONNECT_TIMEOUT`] without it.

use std::time::Duration;

use anyhow::Result;

use super::{redact, DbUrl};
use crate::error::{bad_input, runtime};

/// The connect timeout when the URL gives none.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `connect_timeout` parameter of a PostgreSQL URL (seconds; libpq's name), or the
/// default; 0 or a non-number is bad input.
pub fn connect_timeout(url: &DbUrl) -> Result<Duration> {
    let raw = url.expose();
    let Some(query) = raw.split_once('?').map(|(_, q)| q) else {
        return Ok(DEFAULT_CONNECT_TIMEOUT);
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k.eq_ignore_ascii_case("connect_timeout") {
            return match v.trim().parse::<u64>() {
                Ok(s) if s > 0 => Ok(Duration::from_secs(s)),
                _ => Err(bad_input(format!(
                    "{url}: connect_timeout must be a whole number of seconds above 0, not `{v}`"
                ))),
            };
        }
    }
    Ok(DEFAULT_CONNECT_TIMEOUT)
}

/// The one-line runtime failure (exit 3) for a PostgreSQL server that did not answer.
pub fn unreachable(url: &DbUrl, timeout: Duration, cause: Option<&str>) -> anyhow::Error {
    let what = match cause {
        Some(c) => redact(c),
        None => format!("no answer within {}s", timeout.as_secs()),
    };
    runtime(format!(
        "cannot connect to PostgreSQL {url}: {what} — check the host name and port (default 5432), that \
         the server runs and accepts TCP connections (listen_addresses, pg_hba.conf) and that no firewall \
         blocks the port; raise connect_timeout=N (seconds) in the URL only for a slow network"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_comes_from_the_url_or_the_default() {
        let t = |u: &str| connect_timeout(&DbUrl::parse(u).unwrap());
        assert_eq!(t("postgres://u@h/db").unwrap(), DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(t("postgres://u@h/db?sslmode=disable&connect_timeout=3").unwrap().as_secs(), 3);
        assert!(t("postgres://u@h/db?connect_timeout=0").is_err());
        assert!(t("postgres://u:pw@h/db?connect_timeout=x")
            .unwrap_err()
            .to_string()
            .contains("***"));
    }
}
