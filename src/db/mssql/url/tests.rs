//! Tests of the `mssql://` URL syntax, of the refusals of both syntaxes (which must never
//! echo a password) and of the tiberius configuration a [`ConnSpec`] produces.

use super::*;

/// The spec of `s`, which must parse (also used by the ADO.NET tests).
pub(super) fn p(s: &str) -> ConnSpec {
    ConnSpec::parse_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> String {
    format!("{:#}", ConnSpec::parse_str(s).expect_err(s))
}

#[test]
fn parses_urls_with_port_instance_and_options() {
    let c = p("mssql://sa:p%40ss%3Aw%2Frd@db1.contoso.com:1450/GroupChat?encrypt=false&trust_server_certificate=true&connect_timeout=5");
    assert_eq!(
        (c.host.as_str(), c.port, c.database.as_deref()),
        ("db1.contoso.com", Some(1450), Some("GroupChat"))
    );
    assert_eq!(c.auth, Auth::Sql { user: "sa".into(), password: "p@ss:w/rd".into() });
    assert_eq!(
        (c.encrypt, c.trust_server_certificate, c.connect_timeout),
        (Encrypt::LoginOnly, true, Duration::from_secs(5))
    );
    let c = p("mssql://u:pw@sql01\\GROUPCHAT/GroupChat");
    assert_eq!(
        (c.host.as_str(), c.port, c.instance.as_deref()),
        ("sql01", None, Some("GROUPCHAT"))
    );
    let c = p("sqlserver://u:pw@sql01%5CGC/db");
    assert_eq!(c.instance.as_deref(), Some("GC"));
    assert_eq!(c.encrypt, Encrypt::Required, "encrypted by default");
    assert_eq!(c.connect_timeout, DEFAULT_TIMEOUT);
    let c = p("mssql://u:a@b@[::1]:1433/db");
    assert_eq!((c.host.as_str(), c.port, c.password()), ("::1", Some(1433), Some("a@b")));
}

#[test]
fn refuses_what_it_cannot_do_without_echoing_secrets() {
    for (s, needle) in [
        ("mssql://u:secret@h/db?encrypt=strict", "strict"),
        ("mssql://u:secret@h/db?sslmode=require", "unknown SQL Server URL parameter"),
        ("mssql://h/db", "names no login"),
        ("mssql://u:secret@h:99999/db", "invalid SQL Server port"),
        ("mssql://u:secret@h/db?connect_timeout=0", "connect_timeout"),
        ("Server=np:\\\\.\\pipe\\sql;User Id=u;Password=secret", "only TCP"),
        ("Server=h;User Id=u;Password=secret;Frobnicate=1", "frobnicate"),
        ("Database=d;User Id=u;Password=secret", "no Server="),
        ("Server=h;User Id=u;Password='secret", "unterminated"),
    ] {
        let e = err(s);
        assert!(e.contains(needle), "{s}: {e}");
        assert!(!e.contains("secret"), "{s}: {e}");
    }
    let debug = format!("{:?}", p("mssql://u:secret@h/db"));
    assert!(!debug.contains("secret") && debug.contains("h:1433/db"), "{debug}");
}

#[cfg(not(all(unix, feature = "integrated-auth")))]
#[test]
fn integrated_security_needs_the_feature() {
    assert!(
        err("Server=h;Database=d;Integrated Security=SSPI").contains("--features integrated-auth")
    );
    assert!(err("mssql://h/d?integrated_security=true").contains("integrated-auth"));
    let one = err("Server=h;Database=d;Trusted_Connection=yes");
    assert!(one.contains("libkrb5-dev") && !one.contains('\n'), "{one}");
}

#[cfg(all(unix, feature = "integrated-auth"))]
#[test]
fn integrated_security_is_kerberos_with_the_feature() {
    for s in [
        "Server=sql01.contoso.com;Database=GroupChat;Integrated Security=SSPI",
        "Server=sql01.contoso.com;Database=GroupChat;Trusted_Connection=yes",
        "mssql://sql01.contoso.com/GroupChat?integrated_security=true",
    ] {
        let c = p(s);
        assert_eq!(
            (c.auth.clone(), c.user_label(), c.password()),
            (Auth::Integrated, "(integrated security)".into(), None),
            "{s}"
        );
    }
    // With a failover partner the partner logs in the same way.
    let m =
        p("Server=sql01.contoso.com;Failover Partner=sql02.contoso.com;Integrated Security=SSPI");
    assert_eq!(m.partner().unwrap().auth, Auth::Integrated);
}

#[test]
fn config_points_at_the_port_or_the_instance() {
    assert_eq!(p("mssql://u:x@h:1450/d").to_config(None).get_addr(), "h:1450");
    assert_eq!(p("mssql://u:x@h/d").to_config(None).get_addr(), "h:1433");
    assert_eq!(p("mssql://u:x@h\\I/d").to_config(None).get_addr(), "h:1434", "SQL Browser");
    assert_eq!(p("mssql://u:x@h\\I/d").to_config(Some(("r", 1500))).get_addr(), "r:1500");
}

#[test]
fn another_database_at_the_same_location() {
    for (base, db) in [
        ("mssql://u:se/cr@t@h:1450/master?trust_server_certificate=true", "gcm_x"),
        ("mssql://u:x@h", "gcm x"),
        ("sqlserver://u:x@h\\I/db/", "o'brien"),
        ("Server=h,1450;Database=master;User Id=u;Password='a;b';", "gcm_x"),
        ("Server=h;User Id=u;Password=x", "o'brien"),
    ] {
        let moved = p(&with_database(base, db));
        let original = p(base);
        assert_eq!(moved.database.as_deref(), Some(db), "{base}");
        assert_eq!(
            (moved.host, moved.port, moved.auth),
            (original.host, original.port, original.auth)
        );
        assert_eq!(moved.trust_server_certificate, original.trust_server_certificate, "{base}");
    }
    // Without a login (integrated security): the path still follows the host.
    assert_eq!(
        with_database("mssql://h:1450/master?integrated_security=true", "gcm_x"),
        "mssql://h:1450/gcm_x?integrated_security=true"
    );
    assert_eq!(with_database("mssql://h", "d"), "mssql://h/d");
}
