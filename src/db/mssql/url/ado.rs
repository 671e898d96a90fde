//! ADO.NET connection strings (`Server=…;Database=…;User Id=…`), the form DBAs copy from
//! existing tools: their quoting rules, the keywords that map onto a [`ConnSpec`], the ones
//! that are accepted and ignored, and the redaction that keeps a password out of messages.

use anyhow::Result;

use super::{parse_bool, parse_encrypt, parse_port, parse_timeout, Builder, ConnSpec, Server};
use crate::error::bad_input;

/// Splits `key=value;…` with ADO.NET quoting: `'…'`, `"…"` (quote doubled inside) or `{…}`.
fn ado_pairs(s: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            chars.next();
            if c == '=' {
                break;
            }
            if c == ';' && key.trim().is_empty() {
                key.clear();
                continue;
            }
            key.push(c);
        }
        let key = key.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
        if key.is_empty() {
            return Ok(out);
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        match chars.peek().copied() {
            Some(q @ ('\'' | '"' | '{')) => {
                chars.next();
                let close = if q == '{' { '}' } else { q };
                loop {
                    match chars.next() {
                        Some(c) if c == close && chars.peek() == Some(&close) => {
                            chars.next();
                            value.push(c);
                        }
                        Some(c) if c == close => break,
                        Some(c) => value.push(c),
                        None => {
                            return Err(bad_input(format!(
                                "unterminated quoted value of `{key}` in the connection string"
                            )))
                        }
                    }
                }
                while chars.peek().is_some_and(|c| *c != ';') {
                    chars.next();
                }
            }
            _ => {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_string();
            }
        }
        chars.next(); // the `;`
        out.push((key, value));
    }
}

/// An ADO.NET connection string with its password replaced by `***`, quoting honoured
/// (`Password='a;b'` hides all of `a;b`); `None` when it does not parse.
pub fn redact_connection_string(s: &str) -> Option<String> {
    let pairs = ado_pairs(s).ok()?;
    let shown: Vec<String> = pairs
        .iter()
        .map(|(k, v)| match k.as_str() {
            "password" | "pwd" => format!("{k}=***"),
            _ if v.contains([';', '\'', '"']) => format!("{k}=\"{}\"", v.replace('"', "\"\"")),
            _ => format!("{k}={v}"),
        })
        .collect();
    Some(shown.join(";"))
}

/// Keys that ADO.NET accepts and that change nothing for a one-connection batch tool.
const IGNORED_ADO_KEYS: &str = "pooling|min pool size|max pool size|multipleactiveresultsets|\
    multiple active result sets|persist security info|persistsecurityinfo|\
    multisubnetfailover|multi subnet failover|connection lifetime|load balance timeout|\
    workstation id|wsid|packet size|application name|app|connect retry count|\
    connectretrycount|connect retry interval|connectretryinterval|current language|\
    language|enlist|transaction binding|type system version|hostnameincertificate|\
    host name in certificate|column encryption setting";

pub(super) fn parse_ado(s: &str) -> Result<ConnSpec> {
    let mut b = Builder::default();
    for (key, v) in ado_pairs(s)? {
        match key.as_str() {
            "server" | "data source" | "address" | "addr" | "network address" => b.server = Some(v),
            "database" | "initial catalog" => b.database = Some(v),
            "user id" | "uid" | "user" | "username" | "userid" => b.user = Some(v),
            "password" | "pwd" => b.password = Some(v),
            "integrated security" | "integratedsecurity" | "trusted_connection" | "trusted connection" => {
                b.integrated = parse_bool(&key, &v)?
            }
            "encrypt" => b.encrypt = Some(parse_encrypt(&key, &v)?),
            "trustservercertificate" | "trust server certificate" => b.trust = parse_bool(&key, &v)?,
            "connect timeout" | "connection timeout" | "timeout" | "connecttimeout" => {
                b.timeout = Some(parse_timeout(&key, &v)?)
            }
            "applicationintent" | "application intent" => b.read_only = v.eq_ignore_ascii_case("readonly"),
            "failover partner" | "failoverpartner" if !v.trim().is_empty() => b.partner = Some(server_of(&v)?),
            "failover partner" | "failoverpartner" => {}
            k if IGNORED_ADO_KEYS.split('|').any(|i| i == k) => {}
            _ => {
                return Err(bad_input(format!(
                    "unsupported connection-string keyword `{key}`: gcmigrate reads Server, Database/Initial \
                     Catalog, User Id, Password, Integrated Security, Encrypt, TrustServerCertificate, \
                     Connect Timeout, ApplicationIntent and Failover Partner"
                )))
            }
        }
    }
    let server = b.server.take().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        bad_input("the connection string has no Server= (or Data Source=): Server=HOST,PORT or Server=HOST\\INSTANCE")
    })?;
    let server = server_of(&server)?;
    b.finish(server, "connection string")
}

/// `Server=` (or `Failover Partner=`): `[tcp:]HOST[\INSTANCE][,PORT]`; pipes, shared memory
/// and LocalDB are refused.
fn server_of(server: &str) -> Result<Server> {
    let server = server.trim();
    let lower = server.to_ascii_lowercase();
    if ["np:", "lpc:", "admin:"].iter().any(|p| lower.starts_with(p))
        || lower.starts_with("(localdb)")
    {
        return Err(bad_input(format!(
            "Server={server}: only TCP connections are supported (tcp:HOST,PORT or HOST\\INSTANCE)"
        )));
    }
    let server = if lower.starts_with("tcp:") { &server[4..] } else { server };
    let (rest, port) = match server.rsplit_once(',') {
        Some((h, p)) => (h, Some(parse_port(p)?)),
        None => (server, None),
    };
    let (host, instance) = match rest.split_once('\\') {
        Some((h, i)) => (h.to_string(), Some(i.to_string())),
        None => (rest.to_string(), None),
    };
    Ok((host, port, instance))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::db::mssql::url::tests::p;
    use crate::db::mssql::url::Encrypt;

    #[test]
    fn parses_ado_net_strings() {
        let c = p("Server=tcp:sql01,1450;Initial Catalog=GroupChat;User ID=gcm;Password='se;cr''et';Encrypt=True;TrustServerCertificate=yes;Connect Timeout=7;Pooling=false");
        assert_eq!(
            (c.host.as_str(), c.port, c.database.as_deref()),
            ("sql01", Some(1450), Some("GroupChat"))
        );
        assert_eq!(c.password(), Some("se;cr'et"));
        assert_eq!(
            (c.encrypt, c.trust_server_certificate, c.connect_timeout),
            (Encrypt::Required, true, Duration::from_secs(7))
        );
        let c = p("Data Source=sql01\\GC;Database=db;UID=u;PWD={a}}b}");
        assert_eq!((c.instance.as_deref(), c.password()), (Some("GC"), Some("a}b")));
        let c = p("Server=(local);Database=db;User Id=u;Password=x;Encrypt=false");
        assert_eq!((c.host.as_str(), c.encrypt), ("localhost", Encrypt::LoginOnly));
        assert_eq!(
            p("server=h\\I,1500;uid=u;pwd=x").port,
            Some(1500),
            "a port wins over the instance"
        );
    }

    #[test]
    fn failover_partner_is_read_in_both_syntaxes() {
        let c = p(
            "Server=sql01,1450;Failover Partner=sql02\\GC;Database=GroupChat;User Id=u;Password=x",
        );
        assert_eq!(c.failover_partner, Some(("sql02".into(), None, Some("GC".into()))));
        let partner = c.partner().unwrap();
        assert_eq!(
            (partner.server_label(), partner.database.clone()),
            ("sql02\\GC".into(), c.database)
        );
        // The partner's partner is the principal: a later failover goes back.
        assert_eq!(partner.partner().unwrap().server_label(), "sql01:1450");
        let u = p("mssql://u:x@sql01/GroupChat?failover_partner=sql02:1500");
        assert_eq!(u.failover_partner, Some(("sql02".into(), Some(1500), None)));
        assert_eq!(p("Server=h;Failover Partner=;User Id=u").failover_partner, None);
        assert!(p("Server=h;User Id=u").partner().is_none());
        let same = ConnSpec::parse_str("Server=h,1;Failover Partner=h,1;User Id=u").unwrap_err();
        assert!(format!("{same}").contains("the server itself"), "{same}");
        let pipe = ConnSpec::parse_str("Server=h;Failover Partner=np:x;User Id=u").unwrap_err();
        assert!(format!("{pipe}").contains("only TCP"), "{pipe}");
    }

    #[test]
    fn redacts_quoted_connection_string_passwords() {
        let r = redact_connection_string("Server=h;User Id=u;Password='se;cr''et';Encrypt=true")
            .unwrap();
        assert_eq!(r, "server=h;user id=u;password=***;encrypt=true");
        assert!(redact_connection_string("Server=h;Password='unterminated").is_none());
    }
}
