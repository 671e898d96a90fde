//! OCS 2007 R2 and not-quite-2010 sources: the R2 fixture (`fixtures/schema/ocs2007r2.*`,
//! `fixtures/r2/contoso-r2.sql`) agrees with Contoso row for row, goes through extract →
//! plan → load → verify on SQLite and PostgreSQL with a `SOURCE_COLUMN_DEFAULTED` finding
//! per default and the same access as Contoso; a "2010" database that lacks a required
//! column and a required table is refused in one line naming both.

use gcmigrate::db::{Conn, DbUrl, Dialect, OpenMode};

use crate::util::*;

/// The R2 data (Contoso without what R2 lacks).
pub(crate) const R2_DATA: &str = include_str!("../fixtures/r2/contoso-r2.sql");

/// The R2 DDL for a dialect.
pub(crate) fn r2_ddl(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => include_str!("../fixtures/schema/ocs2007r2.sqlite.sql"),
        Dialect::Postgres => include_str!("../fixtures/schema/ocs2007r2.postgres.sql"),
        Dialect::Mssql => include_str!("../fixtures/schema/ocs2007r2.tsql.sql"),
    }
}

/// Builds the R2 fixture at a SQLite or PostgreSQL URL.
pub(crate) fn r2(url: &str) {
    let url = DbUrl::parse(url).unwrap();
    block_on(async {
        let db = Conn::open(&url, OpenMode::Create, 1, None).await.unwrap();
        db.run_script("ocs2007r2 DDL", r2_ddl(db.dialect())).await.unwrap();
        db.run_script("contoso-r2.sql", R2_DATA).await.unwrap();
        db.close().await;
    });
}

/// What the R2 source lacks, each named by a `SOURCE_COLUMN_DEFAULTED` finding.
const DEFAULTED: &[&str] = &[
    "tblPrincipalType.ptypeIsFederated",
    "tblNode.scopeDefinerId",
    "tblNode.roleDefinerId",
    "tblNode.siopID",
    "tblPrincipalRole.honorsScope",
    "tblSiopWhiteList",
    "tblPrincipalInvites",
];

/// `(table, columns)` of every INSERT in the R2 data.
fn r2_tables() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in R2_DATA.lines().filter(|l| l.starts_with("INSERT INTO ")) {
        let rest = &line["INSERT INTO ".len()..];
        let (table, cols) = rest.split_once(" (").unwrap();
        let cols = cols.split_once(") VALUES").unwrap().0.to_string();
        if !out.iter().any(|(t, _)| t == table) {
            out.push((table.to_string(), cols));
        }
    }
    out
}

#[test]
fn r2_fixture_is_contoso_without_what_r2_lacks() {
    let dir = tmp_dir("r2-agrees");
    let (r2_url, full) = (sqlite_url(&dir, "r2.db"), sqlite_url(&dir, "contoso.db"));
    r2(&r2_url);
    contoso(&full);
    let tables = r2_tables();
    assert!(tables.len() >= 12, "{tables:?}");
    let list: Tables = Box::leak(
        tables
            .iter()
            .map(|(t, c)| {
                let (t, c): (&'static str, &'static str) =
                    (Box::leak(t.clone().into_boxed_str()), Box::leak(c.clone().into_boxed_str()));
                (t, c, c)
            })
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let (a, b) = (fingerprint(&r2_url, Some(list)), fingerprint(&full, Some(list)));
    assert_eq!(a, b, "every row of the R2 fixture is Contoso's, column for column");
    assert!(a.iter().all(|(_, n, _)| *n > 0), "{a:?}");
    // And it really lacks what R2 may lack.
    for (table, col) in [("tblNode", "scopeDefinerId"), ("tblPrincipalType", "ptypeIsFederated")] {
        let sql = format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = '{col}'");
        assert_eq!((scalar(&r2_url, &sql), scalar(&full, &sql)), (0, 1), "{table}.{col}");
    }
    let gone = "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('tblSiopWhiteList', 'tblPrincipalInvites')";
    assert_eq!((scalar(&r2_url, gone), scalar(&full, gone)), (0, 2));
}

/// The plan without what R2 cannot carry (add-ins, invitations) and without the findings
/// and version, to compare an R2 plan with Contoso's.
/// The subjects of a plan's `SOURCE_COLUMN_DEFAULTED` findings.
fn defaulted_subjects(plan: &serde_json::Value) -> Vec<&str> {
    plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "SOURCE_COLUMN_DEFAULTED")
        .map(|f| f["subject"].as_str().unwrap())
        .collect()
}

fn comparable(mut p: serde_json::Value) -> serde_json::Value {
    // The scripts name the source version in their header: their sizes differ too.
    for k in ["source_version", "findings", "addins", "unused_addins", "options", "scripts"] {
        p[k] = serde_json::Value::Null;
    }
    for r in p["rooms"].as_array_mut().unwrap() {
        r["addin"] = serde_json::Value::Null;
    }
    p
}

/// Runs the R2 source `src` through extract, plan, load into `target` and verify; checks
/// the version, the findings and that the plan grants what Contoso's grants.
/// `extra` are further defaulted subjects the source was stripped of.
fn r2_pipeline(name: &str, src: &str, target: &str, extra: &[&str]) {
    let env = TestEnv::new(name).source(src).target(target);
    env.extract();
    assert_eq!(env.report("extract-full.json")["version"], "OCS 2007 R2 Group Chat");
    env.plan();
    let plan = env.report("plan.json");
    let defaulted = defaulted_subjects(&plan);
    let mut want = [DEFAULTED, extra].concat();
    want.sort_unstable();
    let mut got = defaulted.clone();
    got.sort_unstable();
    assert_eq!(got, want, "one finding per default, no more");
    let roles = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "tblPrincipalRole.honorsScope");
    assert!(roles.unwrap()["message"].as_str().unwrap().contains("tblRoleType.honorsScope"));
    // Derived definers and role flags give Contoso's access exactly.
    let reference = TestEnv::new(&format!("{name}-contoso")).contoso();
    reference.extract().plan();
    assert_eq!(comparable(plan), comparable(reference.report("plan.json")));
    env.load().verify();
    let out = env.run(&["verify", "--target", target]);
    assert!(out.all().contains("PASS"), "{out}");
}

#[test]
fn r2_goes_through_extract_plan_load_verify_on_sqlite() {
    let env = TestEnv::new("r2-sqlite");
    r2(&env.source);
    r2_pipeline("r2-sqlite-run", &env.source, &env.target, &[]);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn r2_goes_through_extract_plan_load_verify_on_postgres() {
    let Some(src) = pg_database("r2_source") else { return };
    let Some(target) = pg_database("r2_target") else { return };
    r2(&src);
    r2_pipeline("r2-pg", &src, &target, &[]);
}

/// Without `overrideMember` and `tblRoleType.honorsScope` too, the member lists start
/// where a node has Member rows of its own and managers ignore the scope by name: on
/// Contoso that is what the columns said, so the plan is Contoso's still.
const STRIP: &str = "ALTER TABLE tblNode DROP COLUMN overrideMember; ALTER TABLE tblRoleType DROP COLUMN honorsScope;";
const STRIPPED: &[&str] = &["tblNode.overrideMember", "tblRoleType.honorsScope"];

#[test]
fn r2_without_member_overrides_and_role_flags_is_read_from_its_rows_on_sqlite() {
    let env = TestEnv::new("r2-stripped");
    r2(&env.source);
    exec(&env.source, STRIP);
    r2_pipeline("r2-stripped-run", &env.source, &env.target, STRIPPED);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn r2_without_member_overrides_and_role_flags_is_read_from_its_rows_on_postgres() {
    let Some(src) = pg_database("r2_stripped") else { return };
    let Some(target) = pg_database("r2_stripped_target") else { return };
    r2(&src);
    exec(&src, STRIP);
    r2_pipeline("r2-pg-stripped", &src, &target, STRIPPED);
}

/// A "2010" database without a required column and a required table: exit 2, one line
/// naming both (not the first only), on SQLite and PostgreSQL alike.
fn refuses_naming_every_missing(src: &str) {
    exec(src, "ALTER TABLE tblNode DROP COLUMN nodeName; DROP TABLE tblRoleType;");
    let env = TestEnv::new("r2-missing").source(src);
    let target = env.target.clone();
    for args in [
        &["extract", "-q", "--source", src][..],
        &["migrate", "-q", "--source", src, "--target", &target],
    ] {
        let out = env.output(args).expect(2);
        let lines: Vec<&str> =
            out.stderr.lines().filter(|l| l.contains("tblNode.nodeName")).collect();
        assert_eq!(lines.len(), 1, "{out}");
        assert!(lines[0].contains("missing") && lines[0].contains("tblRoleType"), "{out}");
        assert!(!out.all().contains("panicked"), "{out}");
    }
}

#[test]
fn a_2010_database_missing_a_column_and_a_table_is_refused_naming_both() {
    let env = TestEnv::new("r2-missing-src").contoso();
    refuses_naming_every_missing(&env.source);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn a_postgres_2010_database_missing_a_column_and_a_table_is_refused_naming_both() {
    let Some(pg) = pg_database("r2_missing") else { return };
    contoso(&pg);
    refuses_naming_every_missing(&pg);
}

#[test]
fn a_2010_database_without_optional_columns_is_read_with_defaults() {
    // Contoso minus two optional columns: still Lync 2010 (its markers are there), the same
    // plan, and a finding for each column.
    let env = TestEnv::new("r2-optional").contoso();
    exec(&env.source, "ALTER TABLE tblPrincipal DROP COLUMN prinEmail; ALTER TABLE tblNode DROP COLUMN nodeUpdatedBy;");
    env.extract().plan();
    assert_eq!(env.report("extract-full.json")["version"], "Lync Server 2010 Group Chat");
    let plan = env.report("plan.json");
    let subjects = defaulted_subjects(&plan);
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects.contains(&"tblPrincipal.prinEmail") && subjects.contains(&"tblNode.nodeUpdatedBy")
    );
    let full = TestEnv::new("r2-optional-ref").contoso();
    full.extract().plan();
    let strip = |mut p: serde_json::Value| {
        p["findings"] = serde_json::Value::Null;
        p
    };
    assert_eq!(strip(plan), strip(full.report("plan.json")));
}
