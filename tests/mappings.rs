//! Mapping files through the command line: the shipped examples apply to Contoso, and
//! every broken file gives `file:line:column: message`, exit 2 and no plan.

use std::path::Path;

use crate::util::*;

/// Contoso, extracted, in a fresh environment.
fn extracted(name: &str) -> TestEnv {
    let env = TestEnv::new(name).contoso();
    env.extract();
    env
}

#[test]
fn shipped_mappings_apply_to_contoso() {
    let env = extracted("mappings-shipped").mappings_from("mappings");
    env.plan();
    let plan = env.report("plan.json");
    let waves: Vec<&str> =
        plan["waves"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(waves, ["pilot", "wave2", "default"], "cutover order: the default wave last");
    let pools: Vec<&str> = plan["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pool"].as_str().unwrap())
        .collect();
    assert!(pools.contains(&"pc-eng"));
    let excluded = plan["excluded_rooms"].as_array().unwrap();
    assert!(excluded.iter().any(|e| e["legacy_path"] == "/Company/Old Water Cooler"
        && e["rule"].as_str().unwrap().starts_with("rooms.csv:")));
    let jane = plan["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uri"] == "sip:jane.doe@contoso.com")
        .expect("Jane remapped");
    assert_eq!(jane["disabled"], false);
    // Every wave can be loaded on its own, then verified, pool by pool (a target is one
    // pool): wave2 has rooms in both.
    let rooms = plan["rooms"].as_array().unwrap();
    for pool in ["default", "pc-eng"] {
        let target = sqlite_url(&env.dir, &format!("{pool}.db"));
        for w in &waves {
            if !rooms.iter().any(|r| r["wave"] == *w && r["pool"] == pool) {
                continue;
            }
            let (w, p, t) = (*w, pool, target.as_str());
            env.run(&["load", "-q", "--create-schema", "--wave", w, "--pool", p, "--target", t]);
            env.run(&["verify", "-q", "--wave", w, "--pool", p, "--target", t]);
        }
    }
}

/// `wave_order` puts the listed waves first, in its order; a bad name in it is refused.
#[test]
fn wave_order_sets_the_cutover_order() {
    let env = extracted("mappings-order").mappings_from("mappings");
    let toml = env.maps().join("gcmigrate.toml");
    let shipped = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{shipped}\nwave_order = [\"default\", \"wave2\"]\n")).unwrap();
    env.plan();
    let plan = env.report("plan.json");
    let waves: Vec<&str> =
        plan["waves"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(waves, ["default", "wave2", "pilot"]);
    std::fs::write(&toml, format!("{shipped}\nwave_order = [\"all\"]\n")).unwrap();
    let out = env.output(&["plan", "--mappings", env.maps().to_str().unwrap()]).expect(2);
    assert!(out.stderr.contains("gcmigrate.toml:") && out.stderr.contains("wave_order"), "{out}");
}

#[test]
fn broken_mapping_files_name_file_line_and_column_and_exit_2() {
    let env = extracted("mappings-broken");
    let ws = &env.ws;
    let cases = [
        ("bad-row", "rooms.csv:4:47:"),
        ("unterminated-quote", "categories.csv:3:1:"),
        ("unknown-column", "principals.csv:1:38:"),
        ("missing-column", "rooms.csv:2:1:"),
        ("duplicate-key", "categories.csv:5:1:"),
        ("bad-enum", "rooms.csv:2:30:"),
        ("bad-action", "principals.csv:2:31:"),
        ("missing-principal", "principals.csv:4:1:"),
        ("missing-room", "rooms.csv:2:1:"),
        ("bom-crlf-bad", "categories.csv:3:43:"),
    ];
    for (case, expected) in cases {
        let _ = std::fs::remove_file(ws.join("reports/plan.json"));
        let maps =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mappings-broken").join(case);
        let out = env.command(&["plan"]).arg("--mappings").arg(&maps).assert().code(2);
        let out = out.get_output();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{case}: expected `{expected}` in: {err}");
        assert!(!ws.join("reports/plan.json").exists(), "{case}: no plan is written");
    }
    let ok = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mappings-broken/bom-crlf");
    env.command(&["plan", "-q"]).arg("--mappings").arg(&ok).assert().success();
}

#[test]
fn names_taken_in_the_target_block_or_are_renamed() {
    let env = extracted("collide");
    let target = env.target.clone();
    exec(
        &format!("{target}?mode=rwc"),
        gcmigrate::schema::ddl(
            gcmigrate::schema::SchemaKind::Mgc2013,
            gcmigrate::db::Dialect::Sqlite,
        ),
    );
    exec(&target, "INSERT INTO tblNode (nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, invite, logged, filePost, \
                   disabled, behavior, visibility, nodeAddedBy, nodeAddedOn, nodeUpdatedBy, nodeUpdatedOn) VALUES \
                   (500, 'aaaaaaaa-0000-0000-0000-000000000001', 1, 1, 'company', '', 1, 1, 1, 0, 4, 3, 1, 0, 1, 0)");
    let out = env.command(&["plan", "--target", &target]).assert().code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("TARGET_COLLISION"));
    let env = env.mapping("categories.csv", "legacy_path,on_conflict\n/Company,rename\n");
    env.command(&["plan", "-q", "--target", &target])
        .arg("--mappings")
        .arg(env.maps())
        .assert()
        .success();
    let plan = env.report("plan.json");
    assert!(
        plan["categories"].as_array().unwrap().iter().any(|c| c["name"] == "Company (2)"),
        "renamed"
    );
}
