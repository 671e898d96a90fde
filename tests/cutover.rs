//! A staged cutover: load, freeze the wave, extract the delta, load it, verify, unfreeze.

use crate::util::*;

fn cutover(env: &TestEnv) {
    let (src, target) = (env.source.as_str(), env.target.as_str());
    env.extract().plan().load();
    let before = scalar(target, "SELECT COUNT(*) FROM tblChat");
    let enabled = scalar(src, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0 AND disabled = 0");

    env.run(&["freeze", "-q", "--wave", "default", "--source", src]);
    assert_eq!(0, scalar(src, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0 AND disabled = 0"));

    // Messages posted before the freeze took effect, in two rooms.
    let rooms: Vec<i64> = (0..2)
        .map(|i| {
            scalar(
                src,
                &format!(
                    "SELECT channelId FROM tblChat c JOIN tblNode n ON n.nodeID = c.channelId \
                                         GROUP BY channelId ORDER BY channelId LIMIT 1 OFFSET {i}"
                ),
            )
        })
        .collect();
    for room in &rooms {
        let next =
            scalar(src, &format!("SELECT MAX(chatId) + 1 FROM tblChat WHERE channelId = {room}"));
        exec(src, &format!(
            "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
             ({room}, {next}, 634600000000000000, 20, 0, 'late news'), ({room}, {}, 634600000000000001, 21, 0, 'later')",
            next + 1
        ));
    }
    env.run(&["extract", "-q", "--delta", "--source", src]);
    assert_eq!(env.report("extract-delta.json")["messages"], 4, "only the delta is read");
    env.plan();
    let err = env.run(&["load", "--target", target]).stderr;
    assert!(err.contains("4 read, 4 loaded"), "only the delta is written: {err}");
    assert_eq!(before + 4, scalar(target, "SELECT COUNT(*) FROM tblChat"));
    env.verify();

    env.run(&["freeze", "-q", "--wave", "default", "--source", src, "--undo"]);
    assert_eq!(
        enabled,
        scalar(src, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0 AND disabled = 0")
    );
}

#[test]
fn delta_cutover_on_sqlite() {
    cutover(&TestEnv::new("cutover").contoso());
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn delta_cutover_on_postgres() {
    let Some(pg) = pg_database("cutover_pg") else { return };
    cutover(&TestEnv::new("cutover").contoso().target(&pg));
}

#[test]
fn dry_run_reports_rows_and_writes_nothing() {
    let env = TestEnv::new("dry").contoso();
    env.extract().plan();
    let target = env.dir.join("mgc.db");
    let out = env.run(&["load", "--dry-run", "--create-schema", "--target", &env.target]);
    assert!(!target.exists(), "a dry run creates nothing");
    let plan = env.report("plan.json");
    let err = out.stderr;
    assert!(err.contains(&format!("tblChat {}", plan["messages"]["load"])), "{err}");
    assert!(
        err.contains(&format!(
            "tblNode {}",
            plan["rooms"].as_array().unwrap().len() + plan["categories"].as_array().unwrap().len()
        )),
        "{err}"
    );
}
