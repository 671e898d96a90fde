//! Cutover-safe waves (issue "Cutover-safe waves and pools"): a wave's rooms are staged
//! (disabled) in the target until its cutover, every load converges the configuration
//! onto the current plan, and a load refuses to touch staged rooms that hold rows the
//! migration did not write.

use std::path::Path;

use crate::util::*;

/// Contoso with the shipped mappings (pilot = the Sales tree, in pool `default`), and a
/// target created from the mgc schema so its rows before the first load can be compared.
fn env(name: &str) -> TestEnv {
    let env = TestEnv::new(name).contoso().mappings_from("mappings");
    let schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/schema/mgc2013.sqlite.sql"),
    )
    .unwrap();
    std::fs::File::create(env.dir.join("mgc.db")).unwrap();
    exec(&env.target, &schema);
    env.extract().plan();
    env
}

/// `load --wave pilot --pool default` (the shipped mappings have two pools).
fn load_pilot(env: &TestEnv) -> Outcome {
    env.output(&["load", "--wave", "pilot", "--pool", "default", "--target", &env.target])
}

/// The GUIDs of the plan's rooms of a wave in pool `default`.
fn planned_guids(env: &TestEnv, wave: &str) -> Vec<String> {
    let plan = env.report("plan.json");
    let mut v: Vec<String> = plan["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["wave"] == wave && r["pool"] == "default")
        .map(|r| r["legacy_guid"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// The GUIDs of the target's rooms, and how many are enabled.
fn target_rooms(env: &TestEnv) -> (Vec<String>, i64) {
    let n = scalar(&env.target, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0");
    let mut guids = Vec::new();
    for i in 0..n {
        let g = text(
            &env.target,
            &format!(
            "SELECT nodeGuid FROM tblNode WHERE nodeType = 0 ORDER BY nodeGuid LIMIT 1 OFFSET {i}"
        ),
        );
        guids.push(g.to_lowercase());
    }
    let enabled =
        scalar(&env.target, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0 AND disabled = 0");
    (guids, enabled)
}

/// In legacy, after the bulk load: a manager added to Pipeline (EMEA), a member removed
/// from Sales_EMEA/Pipeline, Deals renamed, messages posted in Pipeline and Key Accounts.
fn legacy_changes(env: &TestEnv) {
    let src = &env.source;
    exec(
        src,
        "INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, \
               prinRoleUpdatedBy, honorsOverride, honorsScope) VALUES (4, 22, 7, 40, 0, 0)",
    );
    exec(src, "DELETE FROM tblPrincipalRole WHERE prinRoleNodeID = 13 AND prinRolePrinID = 45");
    exec(src, "UPDATE tblNode SET nodeName = 'Deals 2027' WHERE nodeID = 5");
    for room in [4, 7] {
        let next =
            scalar(src, &format!("SELECT MAX(chatId) + 1 FROM tblChat WHERE channelId = {room}"));
        exec(
            src,
            &format!(
            "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) VALUES \
             ({room}, {next}, 634700000000000000, 21, 0, 'posted after the bulk load')"
        ),
        );
    }
}

/// The freeze, the delta extract and the plan of a staged cutover.
fn freeze_and_delta(env: &TestEnv) {
    env.run(&["freeze", "-q", "--wave", "pilot", "--source", &env.source]);
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
}

/// Access in the target equals legacy: nothing gained, and nothing lost but what the
/// mapping rules drop on purpose and explain (Contoso's root manager outside the Sales
/// scope, MAPPING.md §4 "Rooms"), none of which blocks.
fn assert_exact(verify: &serde_json::Value, console: &str) {
    let access = &verify["access"];
    assert_eq!(access["gained"].as_array().unwrap().len(), 0, "{console}");
    let lost = access["lost"].as_array().unwrap();
    assert!(lost.iter().all(|c| c["blocking"] == false && c["rule"].is_string()), "{lost:?}");
    assert!(console.contains(" 0 gained,") && console.contains("(0 unexplained)"), "{console}");
}

#[test]
fn staged_cutover_converges_and_ends_with_access_equal_to_legacy() {
    let env = env("staged-cutover");
    load_pilot(&env).expect(0);
    let pilot = planned_guids(&env, "pilot");
    let (guids, enabled) = target_rooms(&env);
    assert!(!pilot.is_empty());
    assert_eq!(guids, pilot, "exactly the pilot rooms of pool default, no other wave's");
    assert_eq!(enabled, 0, "staged rooms are disabled until the cutover");

    legacy_changes(&env);
    freeze_and_delta(&env);
    let out = load_pilot(&env).expect(0);
    let err = out.stderr;
    assert!(err.contains("+ manager sip:fatima.alsayed@contoso.com"), "{err}");
    assert!(err.contains("Deals 2027"), "{err}");
    assert!(err.contains("2 read, 2 loaded"), "only the delta's messages: {err}");
    assert_eq!(
        0,
        scalar(&env.target, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0 AND disabled = 0")
    );

    let out = env
        .output(&["verify", "--wave", "pilot", "--pool", "default", "--target", &env.target])
        .expect(0);
    let verify = env.report("verify-pilot@default.json");
    assert_exact(&verify, &out.stderr);

    env.run(&["cutover", "--wave", "pilot", "--pool", "default", "--target", &env.target]);
    let (_, enabled) = target_rooms(&env);
    assert_eq!(enabled as usize, pilot.len(), "every pilot room gets its planned (enabled) state");
    let script = std::fs::read_to_string(env.ws.join("scripts/cutover-pilot@default.ps1")).unwrap();
    assert!(script.contains("Grant-CsPersistentChatPolicy"), "{script}");

    // Access in the target now equals legacy exactly, with the rooms live.
    let out = env.run(&["verify", "--wave", "pilot", "--pool", "default", "--target", &env.target]);
    let verify = env.report("verify-pilot@default.json");
    assert_exact(&verify, &out.stderr);
    assert_eq!(verify["staged"], serde_json::json!([]), "cut over: judged as it is");
    assert!(verify["access"]["pairs"].as_u64().unwrap() > 0);
    let renamed = "SELECT COUNT(*) FROM tblNode WHERE nodeName = 'Sales_EMEA_Deals 2027'";
    assert_eq!(scalar(&env.target, renamed), 1);

    // Live rooms are the users' now: a further load of the wave is refused, writing nothing.
    let live = fingerprint(&env.target, None);
    let out = load_pilot(&env).expect(2);
    assert!(out.stderr.contains("was cut over"), "{out}");
    assert_eq!(fingerprint(&env.target, None), live);
}

#[test]
fn a_message_posted_into_a_staged_room_stops_the_delta_load_with_nothing_written() {
    let env = env("staged-guard");
    load_pilot(&env).expect(0);
    legacy_changes(&env);
    freeze_and_delta(&env);
    // Someone in the live pool found a staged room and posted at the next chatId.
    let room = scalar(&env.target, "SELECT MIN(channelId) FROM tblChat");
    exec(&env.target, &format!(
        "INSERT INTO tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
         SELECT {room}, MAX(chatId) + 1, 634700000000000000, 1, 0, 'hello?' FROM tblChat WHERE channelId = {room}"
    ));
    let before = fingerprint(&env.target, None);
    let out = load_pilot(&env).expect(1);
    assert!(out.stderr.contains("message(s) the ledger did not write"), "{out}");
    assert!(out.stderr.contains("nothing was written"), "{out}");
    assert_eq!(fingerprint(&env.target, None), before, "a refused load wrote");

    // A role row someone added is found the same way.
    exec(
        &env.target,
        &format!("DELETE FROM tblChat WHERE channelId = {room} AND content = 'hello?'"),
    );
    exec(&env.target, &format!("INSERT INTO tblPrincipalRole VALUES ({room}, 1, 1, 1)"));
    let out = load_pilot(&env).expect(1);
    assert!(out.stderr.contains("member row for principal 1"), "{out}");
    exec(
        &env.target,
        &format!(
            "DELETE FROM tblPrincipalRole WHERE prinRoleNodeID = {room} AND prinRolePrinID = 1"
        ),
    );
    load_pilot(&env).expect(0);
}

#[test]
fn dry_run_prints_the_difference_and_rollback_after_convergence_is_exact() {
    let env = env("staged-rollback");
    let empty = fingerprint(&env.target, None);
    load_pilot(&env).expect(0);
    legacy_changes(&env);
    // A pilot room now skipped by rooms.csv is removed with its history.
    let rooms = std::fs::read_to_string(env.maps().join("rooms.csv")).unwrap();
    std::fs::write(
        env.maps().join("rooms.csv"),
        format!("{rooms}/Sales/North America/Pipeline,,,,true\n"),
    )
    .unwrap();
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    let bulk = fingerprint(&env.target, None);
    let out = env.run(&[
        "load",
        "--dry-run",
        "--wave",
        "pilot",
        "--pool",
        "default",
        "--target",
        &env.target,
    ]);
    assert!(out.stderr.contains("would change"), "{out}");
    assert!(out.stderr.contains("- room `Sales_North America_Pipeline`"), "{out}");
    assert!(out.stderr.contains("skipped") || out.stderr.contains("excluded"), "{out}");
    assert_eq!(fingerprint(&env.target, None), bulk, "a dry run wrote");

    load_pilot(&env).expect(0);
    let gone = "SELECT COUNT(*) FROM tblNode WHERE nodeName = 'Sales_North America_Pipeline'";
    assert_eq!(scalar(&env.target, gone), 0);
    load_pilot(&env).expect(0);
    let again = load_pilot(&env).expect(0);
    assert!(again.stderr.contains("configuration unchanged"), "{again}");

    env.run(&[
        "rollback",
        "--wave",
        "pilot",
        "--pool",
        "default",
        "--dialect",
        "sqlite",
        "--execute",
        "--target",
        &env.target,
    ]);
    assert_eq!(
        fingerprint(&env.target, None),
        empty,
        "rollback after convergence restores the target exactly"
    );
}

#[test]
fn a_room_moved_to_another_wave_leaves_its_old_wave_first() {
    let env = env("staged-moved");
    load_pilot(&env).expect(0);
    let rooms = std::fs::read_to_string(env.maps().join("rooms.csv")).unwrap();
    std::fs::write(env.maps().join("rooms.csv"), format!("{rooms}/Sales/EMEA/Deals,,,wave3,\n"))
        .unwrap();
    env.plan();
    let load3 = |e: &TestEnv| {
        e.output(&["load", "--wave", "wave3", "--pool", "default", "--target", &e.target])
    };
    let out = load3(&env).expect(2);
    assert!(out.stderr.contains("load wave `pilot` first"), "{out}");
    let out = load_pilot(&env).expect(0);
    assert!(out.stderr.contains("moved to wave `wave3`"), "{out}");
    load3(&env).expect(0);
    let deals = "SELECT COUNT(*) FROM tblNode WHERE nodeName = 'Sales_EMEA_Deals'";
    assert_eq!(scalar(&env.target, deals), 1);
    env.run(&["verify", "--wave", "wave3", "--pool", "default", "--target", &env.target]);
}

#[test]
fn merge_converges_onto_the_targets_own_category_and_rolls_back_exactly() {
    let env = env("staged-merge");
    exec(&env.target, "INSERT INTO tblNode (nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, invite, \
        logged, filePost, disabled, behavior, visibility, siopID, nodeAddedBy, nodeAddedOn, nodeUpdatedBy, \
        nodeUpdatedOn) VALUES (500, '11111111-2222-3333-4444-555555555555', 1, 1, 'Company', 'theirs', 1, 1, 1, \
        0, 4, 3, NULL, 1, 0, 1, 0); INSERT INTO tblScopePrincipal VALUES (500, 1, 0, 1);");
    let before = fingerprint(&env.target, None);
    let maps = env.maps();
    env.run(&["plan", "-q", "--mappings", maps.to_str().unwrap(), "--target", &env.target]);
    let plan = env.report("plan.json");
    let merged =
        plan["findings"].as_array().unwrap().iter().any(|f| f["code"] == "CATEGORY_MERGED");
    assert!(merged, "on_conflict = merge is an info finding, not a blocking collision");
    let wave = plan["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["legacy_path"] == "/Company/Town Hall")
        .unwrap()["wave"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.run(&["load", "--wave", &wave, "--pool", "default", "--target", &env.target]);
    assert!(out.stderr.contains("merges into the target's existing category"), "{out}");
    let inside =
        scalar(&env.target, "SELECT COUNT(*) FROM tblNode WHERE parentID = 500 AND nodeType = 0");
    assert!(inside >= 5, "the Company rooms are in the existing category");
    assert_eq!(1, scalar(&env.target, "SELECT COUNT(*) FROM tblNode WHERE nodeName = 'Company'"));
    assert_eq!("theirs", text(&env.target, "SELECT nodeDesc FROM tblNode WHERE nodeID = 500"));
    env.run(&[
        "rollback",
        "--wave",
        &wave,
        "--pool",
        "default",
        "--dialect",
        "sqlite",
        "--execute",
        "--target",
        &env.target,
    ]);
    assert_eq!(fingerprint(&env.target, None), before, "the existing category is as it was");
}

#[test]
fn a_category_new_in_legacy_shifts_no_existing_object() {
    let env = env("staged-newcat");
    load_pilot(&env).expect(0);
    let before = fingerprint(&env.target, None);
    // `/Sales/Accounts` sorts before every other Sales category: the plan's category keys
    // after it shift, the target's categories must not.
    let node = "INSERT INTO tblNode (nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, topic, \
        filestoreURI, inheritance, scopeChange, overrideMember, invite, logged, filePost, disabled, \
        restrictChildCreate, behavior, visibility, scopeDefinerId, roleDefinerId, siopID, nodeAddedBy, \
        nodeAddedOn, nodeUpdatedBy, nodeUpdatedOn) VALUES";
    exec(&env.source, &format!(
        "{node} (90, 'aaaaaaaa-0000-4000-8000-000000000090', 2, 1, 'Accounts', '', '', NULL, 0, 0, 0, \
         NULL, NULL, NULL, 0, 0, 4, 3, 2, 2, NULL, 40, 634267908000000000, 40, 634273956000000000), \
         (91, 'aaaaaaaa-0000-4000-8000-000000000091', 90, 0, 'Key Clients', '', '', NULL, 0, 0, 0, \
         NULL, NULL, NULL, 0, 0, 4, 3, 2, 2, NULL, 40, 634267908000000000, 40, 634273956000000000)"
    ));
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    let out = load_pilot(&env).expect(0);
    assert!(!out.stderr.contains("converging"), "no existing object changes: {out}");
    let after = fingerprint(&env.target, None);
    let nodes = |f: &Fingerprint| f.iter().find(|t| t.0.eq_ignore_ascii_case("tblNode")).unwrap().1;
    assert_eq!(nodes(&after), nodes(&before) + 2, "the new category and its room");
    let new = "SELECT COUNT(*) FROM tblNode WHERE nodeGuid = 'aaaaaaaa-0000-4000-8000-000000000091' AND disabled = 1";
    assert_eq!(scalar(&env.target, new), 1, "staged like the rest");
    let out = env.run(&["verify", "--wave", "pilot", "--pool", "default", "--target", &env.target]);
    assert_exact(&env.report("verify-pilot@default.json"), &out.stderr);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn staged_cutover_on_postgres() {
    let Some(pg) = pg_database("staged_pg") else { return };
    let env = TestEnv::new("staged-pg").contoso().mappings_from("mappings").target(&pg);
    env.extract().plan();
    let load = ["load", "--wave", "pilot", "--pool", "default", "--target", &env.target];
    env.run(&[&load[..], &["--create-schema"]].concat());
    let enabled =
        scalar(&env.target, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0 AND disabled = 0");
    assert_eq!(enabled, 0, "staged");
    legacy_changes(&env);
    freeze_and_delta(&env);
    let out = env.run(&load);
    assert!(out.stderr.contains("+ manager sip:fatima.alsayed@contoso.com"), "{out}");
    let out = env.run(&["verify", "--wave", "pilot", "--pool", "default", "--target", &env.target]);
    assert_exact(&env.report("verify-pilot@default.json"), &out.stderr);
    env.run(&["cutover", "--wave", "pilot", "--pool", "default", "--target", &env.target]);
    let out = env.run(&["verify", "--wave", "pilot", "--pool", "default", "--target", &env.target]);
    assert_exact(&env.report("verify-pilot@default.json"), &out.stderr);
    let rollback = ["rollback", "--wave", "pilot", "--pool", "default", "--dialect", "postgres"];
    env.run(&[&rollback[..], &["--execute", "--target", &env.target]].concat());
    assert_eq!(scalar(&env.target, "SELECT COUNT(*) FROM tblNode"), 1, "only the root is left");
    assert_eq!(
        scalar(&env.target, "SELECT COUNT(*) FROM tblPrincipal"),
        1,
        "only the system principal"
    );
}
