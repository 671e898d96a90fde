//! Parsing a SQL Server location — `mssql://user:password@host[:port|\instance]/database?…`
//! or an ADO.NET connection string — into a [`ConnSpec`], and a `ConnSpec` into a
//! `tiberius::Config`.
//!
//! Nothing here ever echoes a password: parse errors name the key or the part of the URL
//! that is wrong, and [`ConnSpec`]'s `Debug` prints `***`.

use std::fmt;
use std::time::Duration;

use anyhow::Result;
use tiberius::{AuthMethod, Config, EncryptionLevel};

use crate::db::DbUrl;
use crate::error::bad_input;

mod ado;
#[cfg(test)]
mod tests;

use ado::parse_ado;
pub use ado::redact_connection_string;

/// The same SQL Server location — an `mssql://` URL or an ADO.NET string — naming another
/// database, with everything else as written (for the bench and the live tests, which
/// create scratch databases next to the one they were given).
pub fn with_database(location: &str, database: &str) -> String {
    let lower = location.trim().to_ascii_lowercase();
    if lower.starts_with("mssql://") || lower.starts_with("sqlserver://") {
        let (loc, query) = location.split_once('?').map_or((location, ""), |(l, q)| (l, q));
        // The database is the path after the authority; the password may hold a `/`.
        let scheme_end = loc.find("://").map_or(0, |i| i + 3);
        let auth_end = loc.rfind('@').map_or(scheme_end, |at| at + 1);
        let host_end = loc[auth_end..].find('/').map_or(loc.len(), |i| auth_end + i);
        let db = percent_encode(database);
        let query = if query.is_empty() { String::new() } else { format!("?{query}") };
        format!("{}/{db}{query}", &loc[..host_end])
    } else {
        // ADO.NET: the last `Database=` wins.
        format!(
            "{};Database='{}'",
            location.trim().trim_end_matches(';'),
            database.replace('\'', "''")
        )
    }
}

/// Percent-encodes what a URL path segment cannot hold as it is.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The default connect timeout, as in ADO.NET.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// How the login proves who it is.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// SQL Server authentication (mixed mode).
    Sql {
        /// Login name.
        user: String,
        /// Password (never printed).
        password: String,
    },
    /// Kerberos through GSSAPI (`Integrated Security=SSPI`), with the `integrated-auth` feature.
    Integrated,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Sql { user, .. } => write!(f, "Sql({user}, ***)"),
            Auth::Integrated => f.write_str("Integrated"),
        }
    }
}

/// TLS use on the TDS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    /// Everything encrypted; fail when the server cannot (`encrypt=true`, the default).
    Required,
    /// Only the login packet encrypted, as ADO.NET's `Encrypt=false` (`encrypt=false`).
    LoginOnly,
    /// No TLS at all (`encrypt=danger_plaintext`): for servers without TLS 1.2 in a lab.
    Plaintext,
}

/// A parsed SQL Server location.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnSpec {
    /// Host name or address (`localhost` for `.` and `(local)`).
    pub host: String,
    /// TCP port; when set it wins over the instance name (as in ADO.NET).
    pub port: Option<u16>,
    /// Named instance, resolved through SQL Browser (UDP 1434) when no port is given.
    pub instance: Option<String>,
    /// Database; the login's default database when absent.
    pub database: Option<String>,
    /// Credentials.
    pub auth: Auth,
    /// TLS use.
    pub encrypt: Encrypt,
    /// Accept the server certificate without validating it.
    pub trust_server_certificate: bool,
    /// Bounds the TCP connect and the login together.
    pub connect_timeout: Duration,
    /// `ApplicationIntent=ReadOnly`.
    pub read_only: bool,
    /// The mirroring partner (`Failover Partner=`, `failover_partner=`): host, port, instance;
    /// tried when the server above does not answer (see `failover.rs`).
    pub failover_partner: Option<Server>,
}

/// A server as written: host, TCP port, named instance.
pub type Server = (String, Option<u16>, Option<String>);

impl fmt::Debug for ConnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnSpec({} as {}, {:?})", self.label(), self.user_label(), self.encrypt)
    }
}

impl ConnSpec {
    /// Parses a `DbUrl` of the SQL Server dialect.
    pub fn parse(url: &DbUrl) -> Result<ConnSpec> {
        Self::parse_str(url.expose())
    }

    /// Parses an `mssql://`/`sqlserver://` URL or an ADO.NET connection string.
    pub fn parse_str(s: &str) -> Result<ConnSpec> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        for scheme in ["mssql://", "sqlserver://"] {
            if lower.starts_with(scheme) {
                return parse_url(&s[scheme.len()..]);
            }
        }
        parse_ado(s)
    }

    /// `host:port`, `host\instance` or `host`, for messages.
    pub fn server_label(&self) -> String {
        match (&self.instance, self.port) {
            (_, Some(p)) => format!("{}:{p}", self.host),
            (Some(i), None) => format!("{}\\{i}", self.host),
            (None, None) => format!("{}:1433", self.host),
        }
    }

    /// `server/database`, for messages (no credentials).
    pub fn label(&self) -> String {
        format!(
            "{}/{}",
            self.server_label(),
            self.database.as_deref().unwrap_or("(default database)")
        )
    }

    /// The login name, for messages.
    pub fn user_label(&self) -> String {
        match &self.auth {
            Auth::Sql { user, .. } => user.clone(),
            Auth::Integrated => "(integrated security)".into(),
        }
    }

    /// The password, so that messages can be scrubbed of it.
    pub fn password(&self) -> Option<&str> {
        match &self.auth {
            Auth::Sql { password, .. } if !password.is_empty() => Some(password),
            _ => None,
        }
    }

    /// The same database on the failover partner, whose own partner is this server (so a
    /// later failover goes back); `None` without a partner.
    pub fn partner(&self) -> Option<ConnSpec> {
        let (host, port, instance) = self.failover_partner.clone()?;
        let this = (self.host.clone(), self.port, self.instance.clone());
        Some(ConnSpec { host, port, instance, failover_partner: Some(this), ..self.clone() })
    }

    /// The tiberius configuration; `route` overrides host and port after a redirect.
    pub fn to_config(&self, route: Option<(&str, u16)>) -> Config {
        let mut c = Config::new();
        match route {
            Some((host, port)) => {
                c.host(host);
                c.port(port);
            }
            None => {
                c.host(&self.host);
                match (self.port, &self.instance) {
                    (Some(p), _) => c.port(p),
                    // Only without a port: tiberius asks SQL Browser on the configured port.
                    (None, Some(i)) => c.instance_name(i),
                    (None, None) => c.port(1433),
                }
            }
        }
        if let Some(db) = &self.database {
            c.database(db);
        }
        c.application_name("gcmigrate");
        c.encryption(match self.encrypt {
            Encrypt::Required => EncryptionLevel::Required,
            Encrypt::LoginOnly => EncryptionLevel::Off,
            Encrypt::Plaintext => EncryptionLevel::NotSupported,
        });
        if self.trust_server_certificate {
            c.trust_cert();
        }
        c.readonly(self.read_only);
        c.authentication(match &self.auth {
            Auth::Sql { user, password } => AuthMethod::sql_server(user, password),
            #[cfg(all(unix, feature = "integrated-auth"))]
            Auth::Integrated => AuthMethod::Integrated,
            // Refused while parsing (see `integrated`), so never reached.
            #[cfg(not(all(unix, feature = "integrated-auth")))]
            Auth::Integrated => AuthMethod::None,
        });
        c
    }
}

/// Options common to both syntaxes, filled key by key.
#[derive(Default)]
struct Builder {
    server: Option<String>,
    database: Option<String>,
    user: Option<String>,
    password: Option<String>,
    integrated: bool,
    encrypt: Option<Encrypt>,
    trust: bool,
    timeout: Option<Duration>,
    read_only: bool,
    partner: Option<Server>,
}

impl Builder {
    /// `server` is (host, port, instance).
    fn finish(
        self,
        server: (String, Option<u16>, Option<String>),
        syntax: &str,
    ) -> Result<ConnSpec> {
        let (host, port, instance) = server;
        let auth = if self.integrated {
            integrated()?
        } else {
            match self.user.filter(|u| !u.is_empty()) {
                Some(user) => Auth::Sql { user, password: self.password.unwrap_or_default() },
                None => {
                    return Err(bad_input(format!(
                        "the SQL Server {syntax} names no login: give {}",
                        if syntax == "URL" {
                            "mssql://USER:PASSWORD@HOST/DATABASE (percent-encode special characters)"
                        } else {
                            "User Id=…;Password=… (or Integrated Security=SSPI)"
                        }
                    )))
                }
            }
        };
        let local = |h: &str| match h.trim() {
            "" | "." | "(local)" => "localhost".to_string(),
            h => h.to_string(),
        };
        let host = local(&host);
        let partner = self.partner.map(|(h, p, i)| (local(&h), p, i.filter(|i| !i.is_empty())));
        if partner.as_ref().is_some_and(|(h, p, _)| *h == host && *p == port) {
            return Err(bad_input(format!(
                "the failover partner is the server itself ({host}): give the mirror's host \
                 (Failover Partner=HOST[,PORT] or failover_partner=HOST[:PORT])"
            )));
        }
        Ok(ConnSpec {
            failover_partner: partner,
            host,
            port,
            instance: instance.filter(|i| !i.is_empty()),
            database: self.database.filter(|d| !d.is_empty()),
            auth,
            encrypt: self.encrypt.unwrap_or(Encrypt::Required),
            trust_server_certificate: self.trust,
            connect_timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            read_only: self.read_only,
        })
    }
}

#[cfg(all(unix, feature = "integrated-auth"))]
fn integrated() -> Result<Auth> {
    Ok(Auth::Integrated)
}

#[cfg(not(all(unix, feature = "integrated-auth")))]
fn integrated() -> Result<Auth> {
    Err(bad_input(
        "integrated security (Kerberos) needs a gcmigrate built with `--features integrated-auth` on Linux \
         (apt-get install libkrb5-dev libclang-dev, then cargo build --release --features integrated-auth; \
         see the README's SQL Server connections); otherwise use SQL Server authentication (User Id=…;Password=…)",
    ))
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "sspi" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(bad_input(format!("`{key}` must be true or false, not `{}`", v.trim()))),
    }
}

fn parse_encrypt(key: &str, v: &str) -> Result<Encrypt> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "mandatory" | "required" => Ok(Encrypt::Required),
        "false" | "no" | "optional" => Ok(Encrypt::LoginOnly),
        "danger_plaintext" => Ok(Encrypt::Plaintext),
        "strict" => Err(bad_input(format!(
            "`{key}=strict` (TDS 8.0) is not supported by gcmigrate's SQL Server driver: use `{key}=true`, \
             which SQL Server accepts unless the server forces strict encryption"
        ))),
        _ => Err(bad_input(format!("`{key}` must be true, false, strict or danger_plaintext, not `{}`", v.trim()))),
    }
}

fn parse_timeout(key: &str, v: &str) -> Result<Duration> {
    match v.trim().parse::<u64>() {
        Ok(n) if (1..=3600).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(bad_input(format!(
            "`{key}` must be a number of seconds from 1 to 3600, not `{}`",
            v.trim()
        ))),
    }
}

fn parse_port(v: &str) -> Result<u16> {
    v.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad_input(format!("invalid SQL Server port `{}`", v.trim())))
}

/// Percent-decodes URL parts (`%40` → `@`); `+` stays `+`.
pub fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
                return Err(bad_input("a `%` in the SQL Server URL is not followed by two hex digits: percent-encode `%` as %25"));
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| bad_input("the SQL Server URL percent-decodes to invalid UTF-8"))
}

/// `host`, `host:port`, `[v6]:port`, `host\instance` (also `%5C`).
fn split_server(hostpart: &str) -> Result<(String, Option<u16>, Option<String>)> {
    let (host, instance) = match hostpart.split_once('\\') {
        Some((h, i)) => (h.to_string(), Some(i.to_string())),
        None => (hostpart.to_string(), None),
    };
    if let Some(rest) = host.strip_prefix('[') {
        let (h, after) =
            rest.split_once(']').ok_or_else(|| bad_input("unclosed `[` in the SQL Server host"))?;
        let port = after.strip_prefix(':').map(parse_port).transpose()?;
        return Ok((h.to_string(), port, instance));
    }
    if let Some((i, p)) = instance.as_deref().and_then(|i| i.split_once(':')) {
        return Ok((host, Some(parse_port(p)?), Some(i.to_string())));
    }
    match host.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), Some(parse_port(p)?), instance)),
        None => Ok((host, None, instance)),
    }
}

fn parse_url(rest: &str) -> Result<ConnSpec> {
    let mut b = Builder::default();
    // Credentials end at the last `@`, so an unencoded `@` or `/` in a password still works.
    let (userinfo, after) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    if let Some(ui) = userinfo {
        let (u, p) = ui.split_once(':').unwrap_or((ui, ""));
        b.user = Some(percent_decode(u)?);
        b.password = Some(percent_decode(p)?);
    }
    let (location, query) = after.split_once('?').unwrap_or((after, ""));
    let (hostpart, db) = location.split_once('/').unwrap_or((location, ""));
    let hostpart = percent_decode(hostpart)?;
    if hostpart.is_empty() {
        return Err(bad_input(
            "the SQL Server URL has no host: mssql://USER:PASSWORD@HOST[:PORT|\\INSTANCE]/DATABASE",
        ));
    }
    let (host, port, instance) = split_server(&hostpart)?;
    b.database = Some(percent_decode(db.trim_end_matches('/'))?);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k)?.to_ascii_lowercase().replace('-', "_");
        let v = percent_decode(v)?;
        match key.as_str() {
            "encrypt" => b.encrypt = Some(parse_encrypt(&key, &v)?),
            "trust_server_certificate" | "trustservercertificate" => b.trust = parse_bool(&key, &v)?,
            "connect_timeout" | "connection_timeout" => b.timeout = Some(parse_timeout(&key, &v)?),
            "integrated_security" => b.integrated = parse_bool(&key, &v)?,
            "application_intent" => b.read_only = v.eq_ignore_ascii_case("readonly"),
            "failover_partner" if !v.trim().is_empty() => b.partner = Some(split_server(v.trim())?),
            "user" => b.user = Some(v),
            "password" => b.password = Some(v),
            _ => {
                return Err(bad_input(format!(
                    "unknown SQL Server URL parameter `{key}`: use encrypt=true|false|danger_plaintext, \
                     trust_server_certificate=true|false, connect_timeout=SECONDS, integrated_security=true, \
                     application_intent=readonly, failover_partner=HOST[:PORT]"
                )))
            }
        }
    }
    b.finish((host, port, instance), "URL")
}
