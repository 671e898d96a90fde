//! Add-ins per pool (issue "The cutover runbook", item 3): each pool registers the add-ins
//! its own rooms need, and the legacy add-ins no room references are listed in the plan and
//! registered in the default pool only when the mappings carry them.

use crate::util::*;

/// Contoso's unused add-in.
const DASHBOARD: &str = "27f1b4b2-f20f-5a5b-aebd-b0052fa7aaf8";
/// Contoso's add-in of /Company/Help Desk (pool default).
const TICKETS: &str = "422b2ad0-0160-5c78-a937-c0a3e110b0bb";

fn addins(target: &str) -> i64 {
    scalar(target, "SELECT COUNT(*) FROM tblSiopWhiteList")
}

fn has(target: &str, id: &str) -> bool {
    scalar(
        target,
        &format!("SELECT COUNT(*) FROM tblSiopWhiteList WHERE CAST(siopID AS TEXT) = '{id}'"),
    ) == 1
}

#[test]
fn each_pool_registers_its_rooms_add_ins_and_unused_ones_only_when_carried() {
    let env = TestEnv::new("addins").contoso().mappings_from("mappings");
    // An Engineering room (pool pc-eng) now uses the dashboard.
    exec(&env.source, &format!("UPDATE tblNode SET siopID = '{DASHBOARD}' WHERE nodeID = 16"));
    env.extract().plan();
    let (a, b) = (sqlite_url(&env.dir, "default.db"), sqlite_url(&env.dir, "eng.db"));
    for (pool, t) in [("default", &a), ("pc-eng", &b)] {
        env.run(&["load", "-q", "--create-schema", "--pool", pool, "--target", t]);
    }
    assert!(has(&a, TICKETS) && !has(&a, DASHBOARD), "default: the Help Desk's add-in only");
    assert!(has(&b, DASHBOARD) && !has(&b, TICKETS), "pc-eng: the Build room's add-in only");
    let plan = env.report("plan.json");
    assert_eq!(plan["unused_addins"].as_array().unwrap().len(), 0);
}

#[test]
fn unused_add_ins_are_listed_and_carried_into_the_default_pool_on_request() {
    let env = TestEnv::new("addins-unused").contoso();
    env.extract().plan();
    let plan = env.report("plan.json");
    let unused: Vec<&str> = plan["unused_addins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(unused, [DASHBOARD]);
    let finding = plan["findings"].as_array().unwrap().iter().find(|f| f["code"] == "ADDIN_UNUSED");
    assert!(finding.is_some_and(|f| f["message"].as_str().unwrap().contains("carry_unused_addins")));
    let md = std::fs::read_to_string(env.ws.join("reports/plan.md")).unwrap();
    assert!(md.contains("| Sales Dashboard |") && md.contains("no (unused)"), "{md}");
    env.load();
    assert_eq!(addins(&env.target), 1, "not carried by default");

    let carried =
        env.copy("addins-carried").mapping("gcmigrate.toml", "carry_unused_addins = true\n");
    let fresh = sqlite_url(&carried.dir, "fresh.db");
    carried.plan();
    carried.run(&["load", "-q", "--create-schema", "--target", &fresh]);
    assert!(has(&fresh, DASHBOARD) && has(&fresh, TICKETS), "carried into the default pool");
    carried.run(&["rollback", "-q", "--dialect", "sqlite", "--execute", "--target", &fresh]);
    assert_eq!(addins(&fresh), 0, "a rollback removes the carried add-in too");
}
