//! Live SQL Server: a staged wave converges on a later load (the writer's `DELETE` by key
//! and `UPDATE` steps through TDS), its guard refuses a message nobody migrated, and the
//! rollback after convergence restores the pre-load state.

use super::support::*;
use crate::util::*;

#[test]
#[cfg_attr(not(gcm_mssql), ignore = "set GCMIGRATE_TEST_MSSQL_URL to a SQL Server to run")]
fn live_staged_wave_converges_guards_and_rolls_back() {
    let Some(base) = live("live_staged_wave_converges_guards_and_rolls_back") else {
        return;
    };
    let mgc = scratch(&base, "staged");
    let ddl =
        gcmigrate::db::split_statements(include_str!("../../fixtures/schema/mgc2013.tsql.sql"));
    tsql(&mgc.url, &[ddl.join(";\n"), gcmigrate::db::Dialect::Mssql.create_ledger().to_string()]);
    let before = mgc_counts(&mgc.url);
    let env = TestEnv::new("mssql-staged").contoso().mappings_from("mappings");
    env.extract().plan();
    let load = ["load", "-q", "--wave", "pilot", "--pool", "default", "--target", &mgc.url];
    let (code, all) = run(&env, &load);
    assert_eq!(code, 0, "bulk load: {all}");
    assert_eq!(
        ms_scalar(&mgc.url, "SELECT COUNT_BIG(*) FROM tblNode WHERE nodeType = 0 AND disabled = 0"),
        0
    );

    let src = &env.source;
    exec(src, "INSERT INTO tblPrincipalRole VALUES (4, 22, 7, 40, 0, 0)");
    exec(src, "DELETE FROM tblPrincipalRole WHERE prinRoleNodeID = 13 AND prinRolePrinID = 45");
    exec(src, "UPDATE tblNode SET nodeName = 'Deals 2027', siopID = 'f0f0f0f0-0000-4000-8000-000000000001' WHERE nodeID = 5");
    exec(src, "INSERT INTO tblSiopWhiteList VALUES ('f0f0f0f0-0000-4000-8000-000000000001', 'Wiki', 'https://wiki')");
    env.run(&["extract", "-q", "--delta", "--source", src]);
    env.plan();
    let (code, all) = run(&env, &load);
    assert_eq!(code, 0, "converging load: {all}");
    assert_eq!(
        ms_scalar(
            &mgc.url,
            "SELECT COUNT_BIG(*) FROM tblNode WHERE nodeName = N'Sales_EMEA_Deals 2027'"
        ),
        1
    );
    assert_eq!(ms_scalar(&mgc.url, "SELECT COUNT_BIG(*) FROM tblSiopWhiteList"), 1);
    let managers = "SELECT COUNT_BIG(*) FROM tblPrincipalRole r JOIN tblPrincipal p ON p.prinID = r.prinRolePrinID \
        WHERE p.prinUri = N'sip:fatima.alsayed@contoso.com' AND r.prinRoleTypeID = 2";
    assert_eq!(ms_scalar(&mgc.url, managers), 1);

    let room = ms_scalar(&mgc.url, "SELECT MIN(channelId) FROM tblChat");
    tsql(&mgc.url, &[format!(
        "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
         SELECT {room}, MAX(chatId) + 1, MAX(chatDate), 1, 0, N'hello?' FROM tblChat WHERE channelId = {room}"
    )]);
    let (code, all) = run(&env, &load);
    assert_eq!(code, 1, "the guard refuses: {all}");
    assert!(all.contains("the ledger did not write"), "{all}");
    tsql(
        &mgc.url,
        &[format!("DELETE FROM tblChat WHERE channelId = {room} AND content = N'hello?'")],
    );

    let args = [
        "rollback",
        "-q",
        "--wave",
        "pilot",
        "--pool",
        "default",
        "--execute",
        "--target",
        &mgc.url,
    ];
    let (code, all) = run(&env, &args);
    assert_eq!(code, 0, "rollback: {all}");
    assert_eq!(
        mgc_counts(&mgc.url),
        before,
        "the rollback after convergence restores the pre-load state"
    );
}
