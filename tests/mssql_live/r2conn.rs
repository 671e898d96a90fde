//! SQL Server and the R2 fixture and failover partners: the R2 T-SQL parses; live, the R2
//! fixture built on the server is read like SQLite's, and `Failover Partner` moves to the
//! partner when the principal is gone (saying so) or fails naming both (exit 3).

use gcmigrate::db::mssql::ConnSpec;
use gcmigrate::db::{split_statements, Dialect};

use super::support::*;
use crate::mssql::parse;
use crate::r2::{r2, r2_ddl, R2_DATA};
use crate::util::*;

/// The R2 data for T-SQL: `N'…'` literals, `[index]`, `ymd` dates.
fn r2_tsql() -> Vec<String> {
    let mut out = vec!["SET DATEFORMAT ymd".to_string()];
    for stmt in split_statements(R2_DATA) {
        out.push(n_literals(&stmt.replace("\"index\"", "[index]")));
    }
    out
}

#[test]
fn r2_fixture_tsql_parses_statement_by_statement() {
    let ddl = split_statements(r2_ddl(Dialect::Mssql));
    assert!(ddl.len() > 10);
    let data = r2_tsql();
    assert!(data.len() > 20);
    for s in ddl.iter().chain(&data[1..]) {
        assert!(parse(s).is_ok(), "{s}\n{:?}", parse(s));
    }
    assert!(!ddl.iter().any(|s| s.contains("scopeDefinerId") || s.contains("tblSiopWhiteList")));
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_r2_source_is_read_like_sqlite() {
    let Some(base) = live("live_r2_source_is_read_like_sqlite") else { return };
    let src = scratch(&base, "r2");
    let mut script = split_statements(r2_ddl(Dialect::Mssql));
    script.extend(r2_tsql());
    tsql(&src.url, &[script.join(";\n")]);
    let lite = sqlite_url(&tmp_dir("mssql-r2-ref"), "r2.db");
    r2(&lite);
    let ((ra, pa), (rb, pb)) = (extract_plan(&src.url), extract_plan(&lite));
    assert_eq!(ra["version"], "OCS 2007 R2 Group Chat");
    for k in ["version", "principals", "categories", "rooms", "messages"] {
        assert_eq!(ra[k], rb[k], "{k}");
    }
    assert_eq!(pa, pb, "the same plan, defaults and findings from SQL Server and SQLite");
    // Without the member overrides and role flags too: the derived defaults' T-SQL.
    let strip = [
        "ALTER TABLE tblNode DROP COLUMN overrideMember",
        "ALTER TABLE tblRoleType DROP COLUMN honorsScope",
    ];
    tsql(&src.url, &strip.map(String::from));
    exec(&lite, &format!("{};", strip.join("; ")));
    let ((_, pa), (_, pb)) = (extract_plan(&src.url), extract_plan(&lite));
    let defaulted = |p: &serde_json::Value| {
        p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "SOURCE_COLUMN_DEFAULTED")
            .count()
    };
    assert_eq!((defaulted(&pa), defaulted(&pb)), (9, 9));
    assert_eq!(pa, pb, "derived member lists and role flags alike on SQL Server and SQLite");
}

/// `url` with its server replaced by `principal` and `failover_partner` set.
fn with_principal(url: &str, principal: &str, partner: &str) -> String {
    let spec = ConnSpec::parse_str(url).unwrap();
    let at = format!("@{}:{}/", spec.host, spec.port.unwrap_or(1433));
    assert!(url.contains(&at), "GCMIGRATE_TEST_MSSQL_URL must be mssql://USER:PW@HOST:PORT/…");
    let moved = url.replacen(&at, &format!("@{principal}/"), 1);
    let sep = if moved.contains('?') { '&' } else { '?' };
    format!("{moved}{sep}failover_partner={partner}&connect_timeout=5")
}

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_failover_partner_answers_when_the_principal_is_gone() {
    let Some(base) = live("live_failover_partner_answers_when_the_principal_is_gone") else {
        return;
    };
    let src = legacy_contoso(&base);
    let spec = ConnSpec::parse_str(&src.url).unwrap();
    let real = format!("{}:{}", spec.host, spec.port.unwrap_or(1433));
    // Nothing listens on port 1: the principal refuses, the partner (the real server) answers.
    let mirrored = with_principal(&src.url, "127.0.0.1:1", &real);
    let env = TestEnv::new("mssql-failover").source(&mirrored);
    let out = env.run(&["extract", "-q", "--source", &mirrored]);
    assert!(
        out.stderr.contains("127.0.0.1:1 did not serve the database")
            && out.stderr.contains(&format!("connected to its failover partner {real}/")),
        "{out}"
    );
    assert_eq!(env.report("extract-full.json")["messages"], 354);
    // Neither answers: exit 3, one line naming both, no password.
    let dead = with_principal(&src.url, "127.0.0.1:1", "127.0.0.1:2");
    let out = env.output(&["extract", "-q", "--source", &dead]).expect(3);
    let line: Vec<&str> = out.stderr.lines().filter(|l| l.contains("failover partner")).collect();
    assert_eq!(line.len(), 1, "{out}");
    assert!(line[0].contains("127.0.0.1:1") && line[0].contains("127.0.0.1:2"), "{out}");
    let password = spec.password().unwrap_or("\u{0}");
    assert!(!out.all().contains(password), "{out}");
}

/// Built with `--features integrated-auth`: Windows authentication without a Kerberos
/// ticket is one line saying to `kinit` (exit 3), also through a failover partner.
#[cfg(feature = "integrated-auth")]
#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_integrated_security_without_a_ticket_says_to_kinit() {
    let Some(base) = live("live_integrated_security_without_a_ticket_says_to_kinit") else {
        return;
    };
    let spec = ConnSpec::parse_str(&base).unwrap();
    let real = format!("{},{}", spec.host, spec.port.unwrap_or(1433));
    let env = TestEnv::new("mssql-kerberos");
    for source in [
        format!("Server={real};Database=master;Integrated Security=SSPI;TrustServerCertificate=true"),
        format!("Server=127.0.0.1,1;Failover Partner={real};Database=master;Trusted_Connection=yes;TrustServerCertificate=true"),
    ] {
        let out = env
            .command(&["extract", "-q", "--source", &source])
            .env("KRB5CCNAME", "FILE:/nonexistent/gcm-no-ticket")
            .env_remove("KRB5_CLIENT_KTNAME")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains("Kerberos failed") && err.contains("kinit"), "{err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    }
}
