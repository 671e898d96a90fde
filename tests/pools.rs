//! Pools and waves (issue #17, items 5 and 6; MAPPING.md §4 "Pools and waves"): Contoso
//! with the shipped mappings has two pools (`default` and `pc-eng`), each loaded into its
//! own target with `--pool`; a plan with several pools and no `--pool` is refused; a
//! target is one pool (another pool of the same deployment is refused, writing nothing);
//! rolling one pool back leaves the other target alone; a load without `--wave` records
//! each wave under its own name, each rolled back alone; `all` is no wave's name; the
//! report files of every wave, of one wave and of each pool never collide.

use std::collections::BTreeSet;

use crate::util::*;

/// Contoso with the shipped mappings, extracted and planned (two pools).
fn two_pools(name: &str, targets: Option<(&str, &str)>) -> (TestEnv, String, String) {
    let env = TestEnv::new(name).contoso().mappings_from("mappings");
    env.extract().plan();
    let (a, b) = match targets {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (sqlite_url(&env.dir, "default.db"), sqlite_url(&env.dir, "pc-eng.db")),
    };
    (env, a, b)
}

/// One text column of a query.
fn texts(url: &str, sql: &str) -> BTreeSet<String> {
    block_on(async {
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows.iter().map(|r| r.get::<String, _>(0).to_lowercase()).collect()
    })
}

/// The plan as the workspace stores it (`staging.db`), with legacy ids and category keys.
fn stored_plan(env: &TestEnv) -> serde_json::Value {
    let body = texts_raw(&sqlite_url(&env.ws, "staging.db"), "SELECT CAST(body AS TEXT) FROM plan");
    serde_json::from_str(&body[0]).unwrap()
}

/// One text column of a query, as stored.
fn texts_raw(url: &str, sql: &str) -> Vec<String> {
    block_on(async {
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows.iter().map(|r| r.get::<String, _>(0)).collect()
    })
}

/// The plan's rooms of `pool`.
fn plan_rooms(env: &TestEnv, pool: &str) -> Vec<serde_json::Value> {
    let plan = stored_plan(env);
    plan["rooms"].as_array().unwrap().iter().filter(|r| r["pool"] == pool).cloned().collect()
}

/// The legacy principals (GUIDs, lower case) the rooms of `pool` need: their lists, their
/// categories' lists, their invitations and their messages' authors, computed from the
/// plan and the legacy database independently of the tool's own code.
fn needed_principals(env: &TestEnv, pool: &str) -> BTreeSet<String> {
    let plan = stored_plan(env);
    let rooms = plan_rooms(env, pool);
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let list = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array().map(|a| a.iter().filter_map(|x| x.as_i64()).collect()).unwrap_or_default()
    };
    let mut keys = BTreeSet::new();
    for r in &rooms {
        for l in ["members", "managers", "presenters"] {
            ids.extend(list(&r[l]));
        }
        keys.insert(r["category"].as_str().unwrap().to_string());
    }
    for c in plan["categories"].as_array().unwrap() {
        if keys.contains(c["key"].as_str().unwrap()) {
            for l in ["allowed", "denied", "creators"] {
                ids.extend(list(&c[l]));
            }
        }
    }
    let room_ids: Vec<String> = rooms.iter().map(|r| r["legacy_id"].to_string()).collect();
    let room_ids = room_ids.join(",");
    for sql in [
        format!(
            "SELECT CAST(prinID AS TEXT) FROM tblPrincipalInvites WHERE nodeID IN ({room_ids})"
        ),
        format!(
            "SELECT DISTINCT CAST(userId AS TEXT) FROM tblChat WHERE channelId IN ({room_ids})"
        ),
    ] {
        ids.extend(texts(&env.source, &sql).iter().map(|s| s.parse::<i64>().unwrap()));
    }
    // The members of a group or OU on a list: their access comes through it.
    let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
    let members = format!(
        "SELECT DISTINCT CAST(principalID AS TEXT) FROM tblPrincipalAffiliations \
         WHERE affiliationID IN ({}) AND principalID <> affiliationID",
        listed.join(",")
    );
    ids.extend(texts(&env.source, &members).iter().map(|s| s.parse::<i64>().unwrap()));
    plan["principals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| ids.contains(&p["legacy_id"].as_i64().unwrap()))
        .map(|p| p["guid"].as_str().unwrap().to_lowercase())
        .collect()
}

/// What each target holds: only its pool's rooms, categories and add-ins, and at least
/// the principals its lists and messages need.
fn holds_only_its_pool(env: &TestEnv, pool: &str, other: &str, target: &str) {
    let guids = texts(target, "SELECT CAST(nodeGuid AS TEXT) FROM tblNode");
    let rooms = |p: &str| -> BTreeSet<String> {
        plan_rooms(env, p)
            .iter()
            .map(|r| r["legacy_guid"].as_str().unwrap().to_lowercase())
            .collect()
    };
    let (mine, theirs) = (rooms(pool), rooms(other));
    assert!(!mine.is_empty() && !theirs.is_empty());
    assert!(mine.is_subset(&guids), "{pool}: every room of the pool is in its target");
    assert!(theirs.is_disjoint(&guids), "{pool}: no room of pool {other} in its target");
    let plan = stored_plan(env);
    let cats = |p: &str| -> BTreeSet<String> {
        plan["categories"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["pool"] == p)
            .map(|c| c["name"].as_str().unwrap().to_lowercase())
            .collect()
    };
    let names = texts(target, "SELECT nodeName FROM tblNode");
    assert!(cats(pool).iter().all(|c| names.contains(c)), "{pool}: its categories");
    let only_theirs: BTreeSet<String> = cats(other).difference(&cats(pool)).cloned().collect();
    assert!(only_theirs.is_disjoint(&names), "{pool}: no category of pool {other}");
    let addins: BTreeSet<String> = plan_rooms(env, pool)
        .iter()
        .filter_map(|r| r["addin"].as_str().map(str::to_lowercase))
        .collect();
    assert_eq!(
        texts(target, "SELECT CAST(siopID AS TEXT) FROM tblSiopWhiteList"),
        addins,
        "{pool}: add-ins"
    );
    // Principal 1 is the seed system principal of every mgc.
    let prins = texts(target, "SELECT CAST(prinGuid AS TEXT) FROM tblPrincipal WHERE prinID <> 1");
    let needed = needed_principals(env, pool);
    assert!(!needed.is_empty() && needed.is_subset(&prins), "{pool}: the principals it needs");
}

/// Loads and verifies both pools, each into its own target; returns the two targets.
fn load_both(env: &TestEnv, a: &str, b: &str) {
    env.run(&["load", "-q", "--create-schema", "--pool", "default", "--target", a]);
    env.run(&["load", "-q", "--create-schema", "--pool", "pc-eng", "--target", b]);
    env.run(&["verify", "-q", "--pool", "default", "--target", a]);
    env.run(&["verify", "-q", "--pool", "pc-eng", "--target", b]);
}

/// The ledger's (wave, pool) pairs.
fn ledger_waves(target: &str) -> BTreeSet<String> {
    texts(target, "SELECT DISTINCT wave || '@' || pool FROM gcmigrate_ledger")
}

/// The whole two-pool scenario on one pair of targets.
fn two_pools_scenario(env: &TestEnv, a: &str, b: &str, sqlite: bool) {
    // No --pool: exit 2 listing the pools, before any target is opened.
    let out = env.output(&["load", "-q", "--create-schema", "--target", a]).expect(2);
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{out}");
    assert!(line.contains("2 pools (default, pc-eng)") && line.contains("--pool"), "{out}");
    if sqlite {
        assert!(!env.dir.join("default.db").exists(), "nothing was written: {out}");
    }
    let out = env.output(&["load", "--pool", "nope", "--target", a]).expect(2);
    assert!(out.stderr.contains("no pool `nope`"), "{out}");

    load_both(env, a, b);
    holds_only_its_pool(env, "default", "pc-eng", a);
    holds_only_its_pool(env, "pc-eng", "default", b);
    // Each wave under its own name, with its pool; wave2 has rooms in both pools.
    assert_eq!(
        ledger_waves(a),
        ["default@default", "pilot@default", "wave2@default"].map(String::from).into()
    );
    assert_eq!(ledger_waves(b), ["wave2@pc-eng".to_string()].into());
    for file in ["verify-all@default.json", "verify-all@pc-eng.json"] {
        assert_eq!(env.report(file)["ok"], true, "{file}");
    }
    // verify without --pool: exit 2 too.
    env.output(&["verify", "--target", a]).expect(2);

    // Pool pc-eng into pool default's target: refused, naming both, nothing written.
    let before = (fingerprint(a, None), ledger_waves(a));
    let out = env.output(&["load", "-q", "--pool", "pc-eng", "--target", a]).expect(2);
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{out}");
    assert!(line.contains("pool `default`") && line.contains("pool `pc-eng`"), "{out}");
    assert!(line.contains("nothing was written"), "{out}");
    let out = env.output(&["load", "--wave", "wave2", "--pool", "pc-eng", "--target", a]).expect(2);
    assert!(out.stderr.contains("a target database is one pool"), "{out}");
    assert_eq!((fingerprint(a, None), ledger_waves(a)), before, "the refused load wrote");

    // Rolling pool default back (every wave, newest first) leaves pc-eng's target alone.
    let b_before = fingerprint(b, None);
    env.output(&["rollback", "--execute", "--target", a]).expect(2);
    env.run(&["rollback", "-q", "--pool", "default", "--execute", "--target", a]);
    assert_eq!(scalar(a, "SELECT COUNT(*) FROM tblChat"), 0);
    assert_eq!(scalar(a, "SELECT COUNT(*) FROM gcmigrate_ledger"), 0);
    assert_eq!(scalar(a, "SELECT COUNT(*) FROM tblNode WHERE nodeID <> 1"), 0);
    assert_eq!(fingerprint(b, None), b_before, "pc-eng's target was touched");
    env.run(&["verify", "-q", "--pool", "pc-eng", "--target", b]);
}

#[test]
fn two_pools_load_into_their_own_targets_and_are_refused_in_each_others() {
    let (env, a, b) = two_pools("pools-two", None);
    two_pools_scenario(&env, &a, &b, true);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn two_pools_on_postgres() {
    let (Some(a), Some(b)) = (pg_database("pools_a"), pg_database("pools_b")) else { return };
    let (env, a, b) = two_pools("pools-pg", Some((&a, &b)));
    two_pools_scenario(&env, &a, &b, false);
}

/// A pool's target holds the principals its lists, invitations and messages need, and the
/// members of the groups and OUs among them: nothing of the other pool's.
#[test]
fn each_target_holds_only_the_principals_its_pool_needs() {
    let (env, a, b) = two_pools("pools-principals", None);
    load_both(&env, &a, &b);
    for (pool, target) in [("default", &a), ("pc-eng", &b)] {
        // Principal 1 is the seed system principal of every mgc.
        let prins =
            texts(target, "SELECT CAST(prinGuid AS TEXT) FROM tblPrincipal WHERE prinID <> 1");
        assert_eq!(prins, needed_principals(&env, pool), "{pool}");
    }
}

#[test]
fn a_load_without_wave_records_each_wave_and_each_rolls_back_alone() {
    let (env, a, _) = two_pools("pools-waves", None);
    let out = env.run(&["load", "--create-schema", "--pool", "default", "--target", &a]);
    for w in ["pilot", "wave2", "default"] {
        assert!(out.stderr.contains(&format!("load ({w}@default)")), "one report per wave: {out}");
    }
    let reports: Vec<String> = std::fs::read_dir(env.ws.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("load-"))
        .collect();
    for w in ["pilot", "wave2", "default"] {
        assert_eq!(
            reports.iter().filter(|n| n.starts_with(&format!("load-{w}@default-"))).count(),
            1,
            "{reports:?}"
        );
    }
    let rooms_of = |w: &str| {
        plan_rooms(&env, "default")
            .iter()
            .filter(|r| r["wave"] == w)
            .map(|r| r["legacy_guid"].as_str().unwrap().to_lowercase())
            .collect::<BTreeSet<String>>()
    };
    // Rendering every wave's script (newest first) refuses none: a wave already rendered
    // no longer counts as a later wave that uses the next one's keys.
    env.run(&["rollback", "-q", "--pool", "default", "--dialect", "sqlite", "--target", &a]);
    for w in ["pilot", "wave2", "default"] {
        assert!(env.ws.join(format!("scripts/rollback-{w}@default.sqlite.sql")).exists(), "{w}");
    }
    let render = ["rollback", "--pool", "default", "--dialect", "sqlite", "--target", &a];
    let out = env.output(&[&render[..], &["--out", "x.sql"]].concat()).expect(2);
    assert!(out.stderr.contains("--out names one script"), "{out}");
    // Offline, the journal does not say which pool a load wrote: --target is needed.
    let out = env.output(&render[..5]).expect(2);
    assert!(out.stderr.contains("pass --target"), "{out}");
    // The waves loaded in cutover order (pilot, wave2, default): pilot's principals are
    // used by the waves after it, so it cannot go first, and nothing is written.
    let one = |w: &str| {
        ["rollback", "-q", "--wave", w, "--pool", "default", "--execute", "--target", &a]
            .map(String::from)
    };
    let before = texts(&a, "SELECT CAST(nodeGuid AS TEXT) FROM tblNode");
    let out = env.output(&one("pilot").each_ref().map(String::as_str)).expect(2);
    assert!(out.stderr.contains("first"), "{out}");
    assert_eq!(texts(&a, "SELECT CAST(nodeGuid AS TEXT) FROM tblNode"), before);
    // The default wave alone: its rooms go, the other waves stay and still verify.
    env.run(&one("default").each_ref().map(String::as_str));
    let guids = texts(&a, "SELECT CAST(nodeGuid AS TEXT) FROM tblNode");
    assert!(rooms_of("default").is_disjoint(&guids));
    assert!(rooms_of("wave2").is_subset(&guids) && rooms_of("pilot").is_subset(&guids));
    assert_eq!(ledger_waves(&a), ["pilot@default", "wave2@default"].map(String::from).into());
    for w in ["pilot", "wave2"] {
        env.run(&["verify", "-q", "--wave", w, "--pool", "default", "--target", &a]);
    }
    // Then wave2 alone.
    env.run(&one("wave2").each_ref().map(String::as_str));
    assert_eq!(ledger_waves(&a), ["pilot@default".to_string()].into());
    env.run(&["verify", "-q", "--wave", "pilot", "--pool", "default", "--target", &a]);
}

#[test]
fn verify_of_every_wave_and_of_one_wave_write_different_reports() {
    // One pool (no mappings): the short names.
    let env = TestEnv::new("pools-reports").contoso();
    env.extract().plan().load();
    env.run(&["verify", "-q", "--target", &env.target]);
    env.run(&["verify", "-q", "--wave", "default", "--target", &env.target]);
    let (all, one) = (env.report("verify-all.json"), env.report("verify-default.json"));
    assert_eq!((all["wave"].as_str(), one["wave"].as_str()), (Some("all"), Some("default")));
    assert_eq!((&all["ok"], &one["ok"]), (&true.into(), &true.into()));
    // Several pools: the pool is in the name, and one wave of a pool is its own file.
    let (env, a, _) = two_pools("pools-reports-2", None);
    env.run(&["load", "-q", "--create-schema", "--pool", "default", "--target", &a]);
    env.run(&["verify", "-q", "--pool", "default", "--target", &a]);
    env.run(&["verify", "-q", "--wave", "pilot", "--pool", "default", "--target", &a]);
    let (all, pilot) =
        (env.report("verify-all@default.json"), env.report("verify-pilot@default.json"));
    let n = |r: &serde_json::Value| r["rooms"].as_array().unwrap().len();
    assert!(n(&all) > n(&pilot) && n(&pilot) > 0, "different rooms, different files");
    assert_eq!(all["pool"], "default");
    assert!(!env.ws.join("reports/verify-all.json").exists());
}

#[test]
fn all_is_no_wave_name_and_pool_names_follow_the_wave_rule() {
    let env = TestEnv::new("pools-names").contoso();
    env.extract().plan();
    for cmd in [&["load", "--target", &env.target][..], &["verify", "--target", &env.target]] {
        let out = env.output(&[cmd, &["--wave", "all"]].concat()).expect(2);
        assert!(out.stderr.contains("omit --wave"), "{out}");
    }
    let out = env.output(&["load", "--pool", "a@b", "--target", &env.target]).expect(2);
    assert!(out.stderr.contains("pool name `a@b` contains '@'"), "{out}");
    assert!(!env.dir.join("mgc.db").exists(), "nothing was opened");
    for (file, text, says) in [
        ("categories.csv", "legacy_path,wave\n/Sales/**,all\n", "categories.csv:2:"),
        ("rooms.csv", "room,wave\n/Sales/EMEA/Pipeline,ALL\n", "rooms.csv:2:"),
        ("gcmigrate.toml", "default_wave = \"all\"\n", "gcmigrate.toml:1:1: default_wave"),
        ("categories.csv", "legacy_path,pool\n/Sales/**,eu@1\n", "categories.csv:2:"),
        (
            "gcmigrate.toml",
            "separator = \"-\"\ndefault_pool = \"a b\"\n",
            "gcmigrate.toml:2:1: default_pool",
        ),
    ] {
        let env = env.copy(&format!("pools-names-{file}")).mapping(file, text);
        let out = env.output(&["plan", "-q", "--mappings", env.maps().to_str().unwrap()]).expect(2);
        let first = out.stderr.lines().next().unwrap_or("");
        assert!(first.contains(says), "{file}: {first}");
        let _ = std::fs::remove_dir_all(env.maps());
    }
}

#[test]
fn a_wave_named_all_by_an_earlier_version_rolls_back_with_every_wave() {
    let env = TestEnv::new("pools-old-all").contoso();
    env.extract().plan().load();
    // The ledger as an earlier gcmigrate wrote it: the default wave named `all`.
    exec(&env.target, "UPDATE gcmigrate_ledger SET wave = 'all'");
    assert!(scalar(&env.target, "SELECT COUNT(*) FROM tblChat") > 0);
    let out =
        env.output(&["rollback", "--wave", "all", "--execute", "--target", &env.target]).expect(2);
    assert!(out.stderr.contains("omit --wave"), "{out}");
    let out = env.run(&["rollback", "--execute", "--target", &env.target]);
    assert!(out.stdout.contains("rollback-all.sqlite.sql"), "{out}");
    for t in ["tblChat", "tblPrincipalRole", "gcmigrate_ledger"] {
        assert_eq!(scalar(&env.target, &format!("SELECT COUNT(*) FROM {t}")), 0, "{t}");
    }
    assert_eq!(scalar(&env.target, "SELECT COUNT(*) FROM tblNode WHERE nodeID <> 1"), 0);
}

#[test]
fn two_pools_loaded_into_one_target_at_once_leave_one_pool() {
    let (env, a, _) = two_pools("pools-race", None);
    // Create the schema first, so both race for the lock and the ledger, not the file.
    env.run(&["load", "-q", "--create-schema", "--dry-run", "--pool", "default", "--target", &a]);
    // Two workspaces of the same deployment (the workspace lock is not what refuses).
    let other = env.copy("pools-race-2");
    let spawn = |env: &TestEnv, pool: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("gcmigrate"))
            .current_dir(&env.dir)
            .args(["load", "-q", "--create-schema", "--pool", pool, "--target", &a])
            .args(["--workspace", env.ws.to_str().unwrap()])
            .env_remove("GCMIGRATE_TARGET")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (x, y) = (spawn(&env, "default"), spawn(&other, "pc-eng"));
    let (x, y) = (x.wait_with_output().unwrap(), y.wait_with_output().unwrap());
    let codes = [x.status.code(), y.status.code()];
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let errs = [err(&x), err(&y)];
    assert!(codes.contains(&Some(0)) && codes.contains(&Some(2)), "{codes:?} {errs:?}");
    let pools = texts(&a, "SELECT DISTINCT pool FROM gcmigrate_ledger");
    assert_eq!(pools.len(), 1, "one pool in the target: {pools:?}");
    let pool = pools.into_iter().next().unwrap();
    let winner = if pool == "default" { &env } else { &other };
    winner.run(&["verify", "-q", "--pool", &pool, "--target", &a]);
}
