//! Connecting to SQL Server within the connect timeout — TCP, or SQL Browser for a named
//! instance; TLS with rustls; one redirect — and every failure as one runtime line that
//! says what to check, built from [`ConnSpec::label`] and scrubbed of the password, so no
//! secret reaches a log, a report or the terminal.

use anyhow::Result;
use tiberius::error::{Error as TdsError, IoErrorKind as IoKind};
use tiberius::SqlBrowser;
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

use super::{Client, ConnSpec};
use crate::db::DbUrl;
use crate::error::runtime;

/// Connects to the SQL Server database at `url` (an `mssql://` URL or ADO.NET string).
pub async fn connect(url: &DbUrl) -> Result<Client> {
    connect_spec(&ConnSpec::parse(url)?).await
}

/// Connects with a parsed spec, to its failover partner when the server does not answer
/// (`failover.rs`); the timeout bounds name resolution, SQL Browser, TCP, TLS and the
/// login together for each server, so nothing hangs past it.
pub async fn connect_spec(spec: &ConnSpec) -> Result<Client> {
    Ok(super::failover::connect_answering(spec).await?.0)
}

/// One server, within the connect timeout; the failure reduced to its [`Cause`].
pub(super) async fn attempt(spec: &ConnSpec) -> Result<Client, Cause> {
    match tokio::time::timeout(spec.connect_timeout, open(spec)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(Cause::from(&e)),
        Err(_) => Err(Cause::Timeout),
    }
}

async fn open(spec: &ConnSpec) -> Result<Client, TdsError> {
    let mut route: Option<(String, u16)> = None;
    // Azure SQL gateways and read-only routing answer with one redirect.
    for _ in 0..2 {
        let config = spec.to_config(route.as_ref().map(|(h, p)| (h.as_str(), *p)));
        let tcp = match (&route, &spec.instance, spec.port) {
            (None, Some(_), None) => TcpStream::connect_named(&config).await?,
            _ => match &route {
                Some((h, p)) => tcp_connect(h, *p).await?,
                None => tcp_connect(&spec.host, spec.port.unwrap_or(1433)).await?,
            },
        };
        match tiberius::Client::connect(config, tcp.compat_write()).await {
            Err(TdsError::Routing { host, port }) => route = Some((host, port)),
            other => return other,
        }
    }
    Err(TdsError::Protocol("the server redirected the connection more than once".into()))
}

/// Resolves and connects, keeping the real I/O error (refused, unreachable) for the message.
async fn tcp_connect(host: &str, port: u16) -> Result<TcpStream, TdsError> {
    let mut last = None;
    for a in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(a).await {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the host name resolves to no address",
            )
        })
        .into())
}

/// What went wrong, reduced to what decides the advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// No answer within the connect timeout.
    Timeout,
    /// TCP refused, host unreachable, name not resolved.
    Unreachable(String),
    /// SQL Browser did not resolve the named instance.
    Browser(String),
    /// The TLS handshake failed.
    Tls(String),
    /// The server hung up during the handshake.
    Closed(String),
    /// Something answered that does not speak TDS.
    Protocol(String),
    /// A server error: number and message.
    Server(u32, String),
    /// Kerberos (GSSAPI) failed: no ticket, no SPN, clock skew.
    Kerberos(String),
    /// Anything else.
    Other(String),
}

impl From<&TdsError> for Cause {
    fn from(e: &TdsError) -> Self {
        match e {
            // tokio-rustls reports handshake failures as I/O errors.
            TdsError::Io { kind, message } => {
                let m = message.to_ascii_lowercase();
                if *kind == IoKind::InvalidData
                    || ["certificate", "tls", "handshake", "alert"].iter().any(|w| m.contains(w))
                {
                    Cause::Tls(message.clone())
                } else if matches!(
                    kind,
                    IoKind::ConnectionReset | IoKind::ConnectionAborted | IoKind::UnexpectedEof
                ) {
                    Cause::Closed(message.clone())
                } else {
                    Cause::Unreachable(message.clone())
                }
            }
            TdsError::Conversion(m)
                if m.contains("SQL browser") || m.contains("browser instance") =>
            {
                Cause::Browser(m.to_string())
            }
            TdsError::Tls(m) => Cause::Tls(m.clone()),
            TdsError::Protocol(m) => Cause::Protocol(m.to_string()),
            TdsError::Server(t) => Cause::Server(t.code(), t.message().to_string()),
            #[cfg(all(unix, feature = "integrated-auth"))]
            TdsError::Gssapi(m) => Cause::Kerberos(m.clone()),
            other => Cause::Other(other.to_string()),
        }
    }
}

/// Login-time server errors that mean "wrong user or password".
const LOGIN_FAILED: &[u32] = &[18456, 18452, 18486, 18487, 18488];
/// Server errors that mean "missing permission".
pub const PERMISSION_DENIED: &[u32] = &[229, 230, 262, 297, 300, 916, 15247];
/// Login-time server errors that mean "cannot open the database": SQL Server says 4060,
/// Babelfish 911.
const CANNOT_OPEN_DATABASE: &[u32] = &[4060, 911];

/// Whether a statement failed for a missing permission. SQL Server numbers the error
/// ([`PERMISSION_DENIED`]); Babelfish reports every statement error as 33557097 with
/// PostgreSQL's text, which starts `permission denied for …`.
pub fn is_permission_denied(e: &TdsError) -> bool {
    matches!(e, TdsError::Server(t) if permission_denied(t.code(), t.message()))
}

/// [`is_permission_denied`] on a server error's number and text.
fn permission_denied(code: u32, message: &str) -> bool {
    PERMISSION_DENIED.contains(&code)
        || message.trim_start().to_ascii_lowercase().starts_with("permission denied")
}

/// The one-line runtime failure (exit 3) for a failed connection.
pub fn connect_error(spec: &ConnSpec, cause: &Cause) -> anyhow::Error {
    let server = spec.server_label();
    let db = spec.database.as_deref().unwrap_or("(default database)");
    let user = spec.user_label();
    let msg = match cause {
        Cause::Timeout => format!(
            "cannot connect to SQL Server {server}: no answer within {}s — check the host name, the port \
             (default 1433), firewalls, and for a named instance the SQL Server Browser service (UDP 1434); \
             raise connect_timeout (Connect Timeout=) only for a slow network",
            spec.connect_timeout.as_secs()
        ),
        Cause::Unreachable(m) => format!(
            "cannot connect to SQL Server {server}: {m} — check the host name and port (default 1433), that \
             SQL Server accepts TCP/IP connections and that no firewall blocks the port"
        ),
        Cause::Browser(_) => format!(
            "cannot connect to SQL Server {server}: the SQL Server Browser service did not resolve instance \
             `{}` — check that it runs and UDP 1434 is open, or give the instance's TCP port \
             (HOST:PORT in the URL, Server=HOST,PORT)",
            spec.instance.as_deref().unwrap_or("")
        ),
        Cause::Tls(m) => format!(
            "cannot connect to SQL Server {server}: the TLS handshake failed ({m}) — for a self-signed \
             certificate add trust_server_certificate=true (TrustServerCertificate=True); a server without \
             TLS 1.2 needs its TLS updates (or encrypt=danger_plaintext in a lab)"
        ),
        Cause::Closed(m) => format!(
            "cannot connect to SQL Server {server}: the server closed the connection during the \
             handshake ({m}) — a server without TLS 1.2 does this (update it, or encrypt=danger_plaintext \
             in a lab); also check that the port is SQL Server's"
        ),
        Cause::Protocol(m) => format!(
            "cannot connect to SQL Server {server}: what answered does not speak TDS ({m}) — check that the port \
             is SQL Server's (default 1433) and not another service or a proxy"
        ),
        Cause::Kerberos(m) => format!(
            "cannot connect to SQL Server {server} with integrated security: Kerberos failed ({}) — run \
             `kinit USER@REALM` (or set KRB5_CLIENT_KTNAME to a keytab), give the server by its DNS name \
             (the SPN MSSQLSvc/HOST:PORT must be registered for the service account) and check the clocks",
            gssapi_reason(m)
        ),
        Cause::Server(code, m) if LOGIN_FAILED.contains(code) => format!(
            "cannot connect to SQL Server {server}: login failed for `{user}` (error {code}) — check the user \
             name and password, and that the server allows SQL Server authentication (mixed mode)"
        ),
        Cause::Server(code, _) if CANNOT_OPEN_DATABASE.contains(code) => format!(
            "cannot open database `{db}` on SQL Server {server} as `{user}` — check the database name and that \
             the login has a user in that database"
        ),
        Cause::Server(code, m) if PERMISSION_DENIED.contains(code) => permission_message(&spec.label(), *code, m),
        Cause::Server(code, m) => format!("cannot connect to SQL Server {server}: error {code}: {m}"),
        Cause::Other(m) => format!("cannot connect to SQL Server {server}: {m}"),
    };
    runtime(scrub(&msg, spec.password()))
}

/// libgssapi's text without its minor statuses (a list of unrelated codes) and prefix.
fn gssapi_reason(m: &str) -> &str {
    let major = m.split("gssapi minor error").next().unwrap_or(m);
    major.trim().strip_prefix("gssapi major error ").unwrap_or(major.trim())
}

fn permission_message(label: &str, code: u32, m: &str) -> String {
    format!(
        "permission denied on SQL Server {label} (error {code}: {m}) — GRANT SELECT on the Group Chat tables \
         or add the user to db_datareader for a source; db_datareader + db_datawriter (and db_ddladmin for \
         --create-schema) for an mgc target"
    )
}

/// One line, with every occurrence of the password replaced.
pub fn scrub(msg: &str, password: Option<&str>) -> String {
    let one_line = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    let redacted = crate::db::redact(&one_line);
    match password {
        Some(p) if !p.is_empty() => redacted.replace(p, "***"),
        _ => redacted,
    }
}

/// A failed statement as a runtime failure; permission errors say what to GRANT.
pub fn statement_error(label: &str, what: &str, e: &TdsError) -> anyhow::Error {
    match e {
        TdsError::Server(t) if is_permission_denied(e) => {
            runtime(scrub(&permission_message(label, t.code(), t.message()), None))
        }
        _ => runtime(scrub(&format!("{what} failed on SQL Server {label}: {e}"), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ConnSpec {
        ConnSpec::parse_str(s).unwrap()
    }

    #[test]
    fn every_connect_failure_is_one_runtime_line_without_the_password() {
        let s = spec("mssql://gcm:secret@sql01:1450/GroupChat");
        for (cause, needle) in [
            (Cause::Timeout, "no answer within 15s"),
            (Cause::Unreachable("Connection refused (os error 111)".into()), "firewall"),
            (Cause::Browser("SQL browser timeout".into()), "UDP 1434"),
            (
                Cause::Tls("invalid peer certificate: UnknownIssuer".into()),
                "trust_server_certificate=true",
            ),
            (Cause::Protocol("header: invalid packet type: 72".into()), "does not speak TDS"),
            (Cause::Closed("Connection reset by peer".into()), "TLS 1.2"),
            (
                Cause::Server(18456, "Login failed for user 'gcm'.".into()),
                "check the user name and password",
            ),
            (
                Cause::Server(4060, "Cannot open database \"GroupChat\"".into()),
                "cannot open database `GroupChat`",
            ),
            // Babelfish's number for the same failure.
            (
                Cause::Server(911, "database \"GroupChat\" does not exist".into()),
                "cannot open database `GroupChat`",
            ),
            (Cause::Server(229, "The SELECT permission was denied".into()), "db_datareader"),
            (
                Cause::Kerberos(
                    "No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)".into(),
                ),
                "kinit",
            ),
            (Cause::Other("password secret was wrong\nsecond line".into()), "***"),
        ] {
            let e = connect_error(&s, &cause);
            let f = e.downcast_ref::<crate::error::Failure>().expect("a Failure");
            assert_eq!(f.kind, crate::error::FailureKind::Runtime);
            let m = format!("{e:#}");
            assert!(m.contains(needle), "{cause:?}: {m}");
            assert!(m.contains("sql01"), "{m}");
            assert!(!m.contains("secret") && !m.contains('\n'), "{m}");
        }
    }

    #[test]
    fn permission_errors_are_recognised_by_number_or_by_babelfish_text() {
        assert!(permission_denied(229, "The SELECT permission was denied on the object 'tblNode'"));
        assert!(permission_denied(33557097, "permission denied for table tblnode"));
        assert!(!permission_denied(33557097, "relation \"tblnode\" does not exist"));
        assert!(!permission_denied(208, "Invalid object name 'tblNode'."));
    }

    #[test]
    fn tiberius_errors_map_to_causes() {
        let io: TdsError =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused").into();
        assert!(matches!(Cause::from(&io), Cause::Unreachable(_)));
        let tls: TdsError = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        )
        .into();
        assert!(matches!(Cause::from(&tls), Cause::Tls(_)));
        let reset: TdsError =
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer").into();
        assert!(matches!(Cause::from(&reset), Cause::Closed(_)));
        assert!(matches!(Cause::from(&TdsError::Tls("bad cert".into())), Cause::Tls(_)));
        let browser =
            TdsError::Conversion("SQL browser timeout during resolving instance X".into());
        assert!(matches!(Cause::from(&browser), Cause::Browser(_)));
    }

    #[tokio::test]
    async fn a_silent_server_cannot_hold_the_connect_past_its_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, then never answers the PRELOGIN.
        let hold = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            drop(sock);
        });
        let s = spec(&format!(
            "Server=127.0.0.1,{port};Database=d;User Id=u;Password=secret;Connect Timeout=1"
        ));
        let t0 = std::time::Instant::now();
        let m = format!("{:#}", connect_spec(&s).await.expect_err("times out"));
        assert!(t0.elapsed() < std::time::Duration::from_secs(3), "{:?}", t0.elapsed());
        assert!(m.contains("no answer within 1s") && !m.contains("secret"), "{m}");
        hold.abort();
    }

    #[tokio::test]
    async fn nothing_listening_fails_fast_with_exit_3() {
        let s = spec("mssql://u:secret@127.0.0.1:1/GroupChat?connect_timeout=5");
        let t0 = std::time::Instant::now();
        let e = connect_spec(&s).await.expect_err("port 1 refuses");
        assert!(t0.elapsed() < std::time::Duration::from_secs(6));
        let m = format!("{e:#}");
        assert!(m.contains("127.0.0.1:1") && !m.contains("secret"), "{m}");
    }
}
