//! A sign-off checks something: `verify` refuses an unknown wave and a wave with no rooms,
//! keeps every run's report, `plan` re-uses the remembered mappings (and `NONE` opts out),
//! and `since` moves older messages to "excluded by rule" instead of emptying the load.

use crate::util::*;

/// Contoso with a pilot wave (two rooms) and the rest in `main`.
fn waved(name: &str) -> TestEnv {
    let env = TestEnv::new(name)
        .contoso()
        .mapping("gcmigrate.toml", "default_wave = \"main\"\n")
        .mapping("rooms.csv", "room,wave\n/Sales/EMEA/Pipeline,pilot\n/Sales/EMEA/Deals,pilot\n");
    env.extract().plan();
    env
}

fn waves(env: &TestEnv) -> Vec<String> {
    let plan = env.report("plan.json");
    plan["waves"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap().into()).collect()
}

#[test]
fn verify_refuses_an_unknown_wave_as_load_does() {
    let env = waved("signoff-typo");
    env.run(&["load", "-q", "--create-schema", "--target", &env.target, "--wave", "pilot"]);
    let verify =
        env.output(&["verify", "-q", "--target", &env.target, "--wave", "Pilot"]).expect(2);
    let load = env.output(&["load", "-q", "--target", &env.target, "--wave", "Pilot"]).expect(2);
    assert!(verify.stderr.contains("no wave `Pilot` in the plan (waves: "), "{verify}");
    assert_eq!(verify.stderr, load.stderr, "the same message as load");
    assert!(!env.ws.join("reports/verify-Pilot.json").exists(), "no report over nothing");
    env.run(&["verify", "-q", "--target", &env.target, "--wave", "pilot"]);
}

#[test]
fn a_plan_without_rooms_is_nothing_to_verify_not_a_pass() {
    let env = TestEnv::new("signoff-empty").contoso();
    exec(&env.source, "DELETE FROM tblNode WHERE nodeType = 0;");
    env.extract().plan().load();
    let out = env.output(&["verify", "-q", "--target", &env.target]).expect(2);
    assert!(out.stderr.contains("nothing to verify: the plan has no rooms"), "{out}");
    assert!(!env.ws.join("reports/verify-all.json").exists(), "{out}");
}

#[test]
fn each_verify_run_keeps_its_report_and_the_latest_is_copied() {
    let env = TestEnv::new("signoff-runs").contoso();
    env.extract().plan().load().verify();
    // Tamper with one message: the second run fails, and the first run's PASS is kept.
    exec(
        &env.target,
        "UPDATE tblChat SET content = 'edited' WHERE chatId = (SELECT MIN(chatId) FROM tblChat);",
    );
    env.output(&["verify", "-q", "--target", &env.target]).expect(1);
    let reports = env.ws.join("reports");
    let mut runs: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("verify-all-") && n.ends_with(".json"))
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for ext in ["md", "csv", "html"] {
        for run in &runs {
            let other = run.replace(".json", &format!(".{ext}"));
            assert!(reports.join(&other).exists(), "{other}");
        }
    }
    let (first, second) = (json(&reports.join(&runs[0])), json(&reports.join(&runs[1])));
    assert_eq!((first["ok"].as_bool(), second["ok"].as_bool()), (Some(true), Some(false)));
    assert_eq!(env.report("verify-all.json"), second, "the latest is the second run");
    let html = std::fs::read(reports.join("verify-all.html")).unwrap();
    assert_eq!(html, std::fs::read(reports.join(runs[1].replace(".json", ".html"))).unwrap());
}

#[test]
fn plan_reuses_the_remembered_mappings_and_none_opts_out() {
    let env = waved("signoff-maps");
    assert_eq!(waves(&env), ["pilot", "main"]);
    // Re-planned without --mappings (the README's cutover snippet): the same waves, said so.
    let out = env.run(&["plan"]);
    assert!(
        out.stderr.contains("using the mappings of the last plan")
            && out.stderr.contains("(unchanged)"),
        "{out}"
    );
    assert_eq!(waves(&env), ["pilot", "main"]);
    // The files changed: re-read as they are now, and the console says they changed.
    std::fs::write(env.maps().join("rooms.csv"), "room,wave\n/Sales/EMEA/Pipeline,pilot\n")
        .unwrap();
    let out = env.run(&["plan"]);
    assert!(out.stderr.contains("CHANGED since that plan"), "{out}");
    let plan = env.report("plan.json");
    let pilot = plan["rooms"].as_array().unwrap().iter().filter(|r| r["wave"] == "pilot").count();
    assert_eq!(pilot, 1, "the changed file is what the plan follows");
    // NONE plans with the defaults, and is remembered in turn.
    env.run(&["plan", "-q", "--mappings", "NONE"]);
    assert_eq!(waves(&env), ["default"]);
    let out = env.run(&["plan"]);
    assert!(out.stderr.contains("--mappings NONE"), "{out}");
    assert_eq!(waves(&env), ["default"]);
    // A remembered directory that vanished is refused, not silently dropped.
    env.run(&["plan", "-q", "--mappings", env.maps().to_str().unwrap()]);
    std::fs::rename(env.maps(), env.dir.join("maps-moved")).unwrap();
    let out = env.output(&["plan", "-q"]).expect(2);
    assert!(out.stderr.contains("no longer exists") && out.stderr.contains("--mappings"), "{out}");
    assert_eq!(waves(&env), ["pilot", "main"], "the refused plan left the last one as it was");
}

#[test]
fn since_excludes_only_older_messages_and_the_rest_loads() {
    // Contoso's history runs from 2010-11-20 to 2011-08-20.
    let env = TestEnv::new("signoff-since")
        .contoso()
        .mapping("gcmigrate.toml", "since = \"2011-03-01\"\n");
    env.extract().plan();
    let plan = env.report("plan.json");
    let m = &plan["messages"];
    let (load, excluded) =
        (m["load"].as_u64().unwrap(), m["excluded"]["before_since"].as_u64().unwrap());
    assert!(load > 0 && excluded > 0, "{m}");
    let rejected: u64 =
        m["rejected"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(load + excluded + rejected, m["read"].as_u64().unwrap(), "{m}");
    env.load().verify();
    let cutoff = 634345344000000000i64; // 2011-03-01 in .NET ticks
    assert_eq!(
        scalar(&env.target, &format!("SELECT COUNT(*) FROM tblChat WHERE chatDate < {cutoff}")),
        0
    );
    assert_eq!(scalar(&env.target, "SELECT COUNT(*) FROM tblChat") as u64, load);
}
