//! The cutover runbook (issue "The cutover runbook", item 2): `plan` writes one per wave and
//! pool, every step with its command and what it touches; `cutover` rewrites it with what
//! the journal says happened.

use crate::util::*;

fn runbook(env: &TestEnv, label: &str) -> serde_json::Value {
    env.report(&format!("runbook-{label}.json"))
}

fn statuses(rb: &serde_json::Value) -> Vec<String> {
    rb["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| match &s["status"] {
            serde_json::Value::String(w) => w.clone(),
            serde_json::Value::Object(o) if o.contains_key("done") => "done".into(),
            other => panic!("{other}"),
        })
        .collect()
}

#[test]
fn plan_writes_a_runbook_per_wave_and_pool_and_cutover_fills_it_in() {
    let env = TestEnv::new("runbook").contoso().mappings_from("mappings");
    env.extract().plan();
    for label in ["pilot@default", "wave2@default", "wave2@pc-eng", "default@default"] {
        let rb = runbook(&env, label);
        assert!(rb["rooms"].as_u64().unwrap() > 0, "{label}");
        let html =
            std::fs::read_to_string(env.ws.join(format!("reports/runbook-{label}.html"))).unwrap();
        assert!(html.contains("viewport") && !html.contains("src=\"http"), "self-contained");
    }
    let rb = runbook(&env, "pilot@default");
    let before = statuses(&rb);
    assert_eq!(
        before.iter().filter(|s| *s == "done").count(),
        1,
        "only the plan check: {before:?}"
    );
    let steps = rb["steps"].as_array().unwrap();
    let commands: Vec<&str> = steps.iter().filter_map(|s| s["command"].as_str()).collect();
    for verb in ["freeze", "extract", "load", "verify", "cutover", "rollback"] {
        assert!(
            commands.iter().any(|c| c.contains(&format!("gcmigrate {verb} "))),
            "{verb}: {commands:?}"
        );
    }
    assert!(commands.iter().all(|c| !c.contains("--pool") || c.contains("--pool default")));
    let plan = env.report("plan.json");
    let pilot = plan["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["wave"] == "pilot" && r["pool"] == "default")
        .count();
    assert_eq!(rb["rooms"].as_u64().unwrap() as usize, pilot);

    let t = env.target.as_str();
    let on = ["--wave", "pilot", "--pool", "default", "--target", t];
    env.run(&[&["load", "-q", "--create-schema"][..], &on].concat());
    env.run(&[&["verify", "-q"][..], &on].concat());
    env.run(&["freeze", "-q", "--wave", "pilot", "--source", &env.source]);
    env.run(&["extract", "-q", "--delta", "--source", &env.source]);
    env.plan();
    env.run(&[&["load", "-q"][..], &on].concat());
    env.run(&[&["verify", "-q"][..], &on].concat());
    env.run(&[&["cutover", "-q"][..], &on].concat());
    let after = statuses(&runbook(&env, "pilot@default"));
    let done: Vec<usize> =
        after.iter().enumerate().filter(|(_, s)| *s == "done").map(|(i, _)| i).collect();
    // Plan check, bulk load, its verify, freeze, delta, delta load, sign-off, cutover.
    assert_eq!(done, [0, 1, 2, 3, 4, 6, 7, 8], "{after:?}");
    let md = std::fs::read_to_string(env.ws.join("reports/runbook-pilot@default.md")).unwrap();
    assert!(md.contains("[x] **Cut over"), "{md}");

    // wave2 cut over in pool default without a freeze: its runbook says the freeze and the
    // delta were waived, the verify after the bulk load signed off; wave2 in pool pc-eng
    // (another target) is not cut over.
    let on = ["--wave", "wave2", "--pool", "default", "--target", t];
    env.run(&[&["load", "-q"][..], &on].concat());
    env.run(&[&["verify", "-q"][..], &on].concat());
    env.run(&[&["cutover", "-q", "--without-freeze"][..], &on].concat());
    let rb = runbook(&env, "wave2@default");
    let after = statuses(&rb);
    let done: Vec<usize> =
        after.iter().enumerate().filter(|(_, s)| *s == "done").map(|(i, _)| i).collect();
    assert_eq!(done, [0, 1, 2, 3, 4, 6, 7, 8], "{after:?}");
    assert!(rb.to_string().contains("waived: cut over --without-freeze"), "{rb}");
    let other = statuses(&runbook(&env, "wave2@pc-eng"));
    assert_eq!(other[8], "todo", "another pool's cutover: {other:?}");
}
