//! Two legacy deployments loaded side by side into one target (issue #16, Deliver 2):
//! each verifies, neither reuses the other's id map, rolling one back leaves the other's
//! rows byte-identical, and a workspace whose deployment does not own a wave in the
//! target is refused before anything is written.

use crate::util::*;

/// Synthetic deployment sizes: small, with history in every room.
const SIZE: &[&str] = &["--users", "30", "--groups", "4", "--rooms", "12", "--messages", "600"];

/// Deployment A (seed 1) in `name`, loaded into its target (wave `default`).
fn deployment_a(name: &str, target: Option<&str>) -> TestEnv {
    let mut env = TestEnv::new(name);
    if let Some(t) = target {
        env = env.target(t);
    }
    let env = env.synth(&[SIZE, &["--seed", "1"]].concat());
    env.extract().plan().load();
    env
}

/// Deployment B (seed 2) in `name`, into `target`, planned with mappings that follow
/// MAPPING.md §4 "Names and limits": its own wave `b`, categories renamed on a collision,
/// every room given its own name. Its users are other people than A's (synth gives both
/// the same SIP URIs and groups): principals.csv moves them to another domain.
fn deployment_b(name: &str, target: &str) -> TestEnv {
    deployment_b_with(name, target, true)
}

/// [`deployment_b`]; `other_people: false` keeps A's SIP URIs, so B reuses A's principals.
fn deployment_b_with(name: &str, target: &str, other_people: bool) -> TestEnv {
    deployment_b_toml(name, target, other_people, "default_wave = \"b\"\n")
}

/// [`deployment_b_with`] with its own `gcmigrate.toml`.
fn deployment_b_toml(name: &str, target: &str, other_people: bool, toml: &str) -> TestEnv {
    let env = TestEnv::new(name).target(target).synth(&[SIZE, &["--seed", "2"]].concat());
    let mut rooms = String::from("room,target_name\n");
    for (guid, id) in
        rows2(&env.source, "SELECT nodeGuid, CAST(nodeID AS TEXT) FROM tblNode WHERE nodeType = 0")
    {
        rooms.push_str(&format!("{guid},B room {id}\n"));
    }
    let mut prins = String::from("legacy,target_uri\n");
    if other_people {
        prins.push_str("sip:*@contoso.example,sip:*@fabrikam.example\n");
    }
    let groups = if other_people { "ma-grp:%" } else { "none" };
    let sql = format!("SELECT prinUri, '' FROM tblPrincipal WHERE prinUri LIKE '{groups}'");
    for (uri, _) in rows2(&env.source, &sql) {
        prins.push_str(&format!("\"{uri}\",\"{}\"\n", uri.replace("contoso", "fabrikam")));
    }
    let env = env
        .mapping("gcmigrate.toml", toml)
        .mapping("categories.csv", "legacy_path,on_conflict\n/**,rename\n")
        .mapping("rooms.csv", &rooms)
        .mapping("principals.csv", &prins);
    env.extract();
    let maps = env.maps();
    env.run(&["plan", "-q", "--mappings", maps.to_str().unwrap(), "--target", target]);
    env
}

/// Every row of a two-column text query.
fn rows2(url: &str, sql: &str) -> Vec<(String, String)> {
    block_on(async {
        use sqlx::Row;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows.iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))).collect()
    })
}

/// The rows of the target that belong to the deployment whose rooms are `rooms` (SQL
/// yielding its room and category nodeIDs): its nodes, their history, ACLs and invitations,
/// and every principal and affiliation they reference; each row as text, sorted.
fn dump(url: &str, nodes: &str) -> Vec<String> {
    let prins = format!(
        "(SELECT prinRolePrinID FROM tblPrincipalRole WHERE prinRoleNodeID IN ({nodes}) \
         UNION SELECT scopePrinID FROM tblScopePrincipal WHERE scopeNodeID IN ({nodes}) \
         UNION SELECT userId FROM tblChat WHERE channelId IN ({nodes}) \
         UNION SELECT prinID FROM tblPrincipalInvites WHERE nodeID IN ({nodes}))"
    );
    let queries = [
        (
            "tblNode",
            "nodeID, nodeGuid, parentID, nodeType, nodeName, disabled, visibility",
            format!("nodeID IN ({nodes})"),
        ),
        (
            "tblChat",
            "channelId, chatId, chatDate, userId, isAlert, content",
            format!("channelId IN ({nodes})"),
        ),
        ("tblLastChatId", "nodeID, lastChatID", format!("nodeID IN ({nodes})")),
        (
            "tblPrincipalRole",
            "prinRoleNodeID, prinRolePrinID, prinRoleTypeID",
            format!("prinRoleNodeID IN ({nodes})"),
        ),
        (
            "tblScopePrincipal",
            "scopeNodeID, scopePrinID, scopeIsDenied",
            format!("scopeNodeID IN ({nodes})"),
        ),
        ("tblPrincipalInvites", "prinID, invID, nodeID", format!("nodeID IN ({nodes})")),
        (
            "tblPrincipal",
            "prinID, prinGuid, prinUri, prinDisplayName, prinDisabled, prinTypeID",
            format!("prinID IN {prins}"),
        ),
        (
            "tblPrincipalAffiliations",
            "principalID, affiliationID",
            format!("principalID IN {prins}"),
        ),
    ];
    let mut out = Vec::new();
    for (t, cols, cond) in queries {
        let exprs: Vec<String> =
            cols.split(", ").map(|c| format!("COALESCE(CAST({c} AS TEXT), '~')")).collect();
        let sql = format!("SELECT '{t}', {} FROM {t} WHERE {cond}", exprs.join(" || '|' || "));
        out.extend(rows2(url, &sql).into_iter().map(|(t, r)| format!("{t}: {r}")));
    }
    out.sort();
    out
}

/// The node ids (as a SQL list) the target holds now, besides the root.
fn node_list(url: &str) -> String {
    let ids = rows2(url, "SELECT CAST(nodeID AS TEXT), '' FROM tblNode WHERE nodeID <> 1");
    let ids: Vec<String> = ids.into_iter().map(|r| r.0).collect();
    if ids.is_empty() {
        "-1".into()
    } else {
        ids.join(", ")
    }
}

fn side_by_side(a: &TestEnv, name: &str) {
    let target = a.target.clone();
    let deployment = |env: &TestEnv| {
        let s = rows2(
            &sqlite_url(&env.ws, "staging.db"),
            "SELECT section, CAST(body AS TEXT) FROM snapshot WHERE section = 'config'",
        );
        let body: serde_json::Value = serde_json::from_str(&s[0].1).unwrap();
        body["deployment"].as_str().unwrap().to_string()
    };
    let a_nodes = node_list(&target);
    let a_alone = fingerprint(&target, None);
    let a_rows = dump(&target, &a_nodes);
    let b = deployment_b(&format!("{name}-b"), &target);
    let (da, db) = (deployment(a), deployment(&b));
    assert!(da.starts_with("pool:") && db.starts_with("pool:") && da != db, "{da} {db}");

    b.run(&["load", "-q", "--wave", "b", "--target", &target]);
    // Both verify; B's rooms are its own (no id map shared): A's rows did not change.
    a.verify();
    b.verify();
    let b_nodes =
        format!("SELECT nodeID FROM tblNode WHERE nodeID <> 1 AND nodeID NOT IN ({a_nodes})");
    assert!(scalar(&target, &format!("SELECT COUNT(*) FROM ({b_nodes}) AS n")) > 12);
    assert_eq!(dump(&target, &a_nodes), a_rows, "loading B changed A's rows");
    let ledger =
        rows2(&target, "SELECT DISTINCT deployment, wave FROM gcmigrate_ledger ORDER BY 2");
    assert_eq!(ledger, [(db, "b".into()), (da, "default".into())]);

    // Rolling B back leaves the target exactly as A alone left it.
    b.run(&["rollback", "-q", "--wave", "b", "--execute", "--target", &target]);
    assert_eq!(fingerprint(&target, None), a_alone, "B's rollback touched A's rows");
    a.verify();

    // B again, then A rolled back: B's rows (and the principals they use) stay as they were.
    b.run(&["load", "-q", "--wave", "b", "--target", &target]);
    let b_list = node_list_of(&target, &b_nodes);
    let b_rows = dump(&target, &b_list);
    a.run(&["rollback", "-q", "--wave", "default", "--execute", "--target", &target]);
    assert_eq!(dump(&target, &b_list), b_rows, "A's rollback touched B's rows");
    assert_eq!(
        scalar(&target, &format!("SELECT COUNT(*) FROM tblNode WHERE nodeID IN ({a_nodes})")),
        0
    );
    b.verify();
    // A's journal and the ledger agree that A is gone; B's workspace still owns wave b.
    let again =
        a.output(&["rollback", "--wave", "default", "--execute", "--target", &target]).expect(2);
    assert!(again.stderr.contains("no load of wave"), "{again}");
}

fn node_list_of(url: &str, sql: &str) -> String {
    let ids = rows2(url, &format!("SELECT CAST(nodeID AS TEXT), '' FROM ({sql}) AS n"));
    ids.into_iter().map(|r| r.0).collect::<Vec<_>>().join(", ")
}

#[test]
fn two_deployments_side_by_side_in_sqlite() {
    let a = deployment_a("dep-sqlite", None);
    side_by_side(&a, "dep-sqlite");
}

#[test]
fn two_deployments_side_by_side_in_postgres() {
    let Some(pg) = pg_database("two_deployments_side_by_side_in_postgres") else { return };
    let a = deployment_a("dep-pg", Some(&*pg));
    side_by_side(&a, "dep-pg");
}

#[test]
fn another_deployment_into_a_loaded_wave_is_refused_and_writes_nothing() {
    let a = deployment_a("dep-refuse-a", None);
    let target = a.target.clone();
    let before = fingerprint(&target, None);
    let ledger = || {
        rows2(
            &target,
            "SELECT run_id, CAST(COUNT(*) AS TEXT) FROM gcmigrate_ledger GROUP BY run_id",
        )
    };
    let rows = ledger();
    // B under the default wave `default`, which A's load owns in this target.
    let b = TestEnv::new("dep-refuse-b").target(&target).synth(&[SIZE, &["--seed", "2"]].concat());
    b.extract().plan();
    let out = b.output(&["load", "-q", "--target", &target]).expect(2);
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{out}");
    assert!(line.contains("wave `default`") && line.contains("holds deployment pool:"), "{out}");
    assert!(line.contains("this workspace was extracted from deployment pool:"), "{out}");
    assert_eq!(fingerprint(&target, None), before, "the refused load wrote");
    assert_eq!(ledger(), rows);
    // Nor does its rollback touch A's wave.
    let out =
        b.output(&["rollback", "--wave", "default", "--execute", "--target", &target]).expect(2);
    assert!(out.stderr.contains("was loaded from deployment pool:"), "{out}");
    assert_eq!(fingerprint(&target, None), before);
    a.verify();
}

#[test]
fn a_snapshot_without_its_deployment_must_be_re_extracted() {
    let env = TestEnv::new("dep-old-snapshot").synth(&[SIZE, &["--seed", "3"]].concat());
    env.extract().plan();
    exec(
        &sqlite_url(&env.ws, "staging.db"),
        "UPDATE snapshot SET body = json_remove(CAST(body AS TEXT), '$.deployment') WHERE section = 'config'",
    );
    let out = env.output(&["load", "-q", "--create-schema", "--target", &env.target]).expect(2);
    assert!(out.stderr.contains("rerun `gcmigrate extract`"), "{out}");
    env.extract().plan().load().verify();
}

#[test]
fn a_source_without_a_pool_id_gets_a_stable_hash_identity() {
    let env = TestEnv::new("dep-hash").synth(&[SIZE, &["--seed", "4"]].concat());
    exec(&env.source, "DELETE FROM tblVersion");
    env.extract();
    let read = || {
        let s = rows2(
            &sqlite_url(&env.ws, "staging.db"),
            "SELECT section, CAST(body AS TEXT) FROM snapshot WHERE section = 'config'",
        );
        let body: serde_json::Value = serde_json::from_str(&s[0].1).unwrap();
        body["deployment"].as_str().unwrap().to_string()
    };
    let first = read();
    assert!(first.starts_with("hash:"), "{first}");
    // A copy of the database elsewhere is the same deployment; a new category does not
    // change it.
    let copy = env.dir.join("copy.db");
    std::fs::copy(env.dir.join("legacy.db"), &copy).unwrap();
    exec(
        &sqlite_url(&env.dir, "copy.db"),
        "UPDATE tblNode SET nodeName = 'renamed' WHERE nodeID = (SELECT MAX(nodeID) FROM tblNode)",
    );
    env.run(&["extract", "-q", "--source", &sqlite_url(&env.dir, "copy.db")]);
    assert_eq!(read(), first);
}

#[test]
fn principals_the_other_deployment_uses_survive_a_rollback() {
    let a = deployment_a("dep-shared-a", None);
    let target = a.target.clone();
    let a_nodes = node_list(&target);
    let b = deployment_b_with("dep-shared-b", &target, false);
    b.run(&["load", "-q", "--wave", "b", "--target", &target]);
    let b_nodes = node_list_of(
        &target,
        &format!("SELECT nodeID FROM tblNode WHERE nodeID <> 1 AND nodeID NOT IN ({a_nodes})"),
    );
    let b_rows = dump(&target, &b_nodes);
    // B reused principals A inserted (the same SIP URIs).
    let shared = scalar(
        &target,
        &format!("SELECT COUNT(DISTINCT prinRolePrinID) FROM tblPrincipalRole WHERE prinRoleNodeID IN ({b_nodes}) AND prinRolePrinID > 1"),
    );
    assert!(shared > 0);
    let out = a.run(&["rollback", "--wave", "default", "--execute", "--target", &target]);
    assert!(
        out.stderr.contains("principal(s) this wave inserted that another deployment's loads use"),
        "{out}"
    );
    assert_eq!(dump(&target, &b_nodes), b_rows, "A's rollback touched B's rows or principals");
    assert_eq!(
        scalar(&target, &format!("SELECT COUNT(*) FROM tblNode WHERE nodeID IN ({a_nodes})")),
        0
    );
}

#[test]
fn a_ledger_from_before_deployments_is_upgraded_and_claimed_by_its_workspace() {
    let a = deployment_a("dep-upgrade-a", None);
    let target = a.target.clone();
    let rows = scalar(&target, "SELECT COUNT(*) FROM gcmigrate_ledger");
    // The ledger as an older gcmigrate left it.
    exec(&target, "ALTER TABLE gcmigrate_ledger DROP COLUMN deployment; ALTER TABLE gcmigrate_ledger DROP COLUMN pool");
    // Verify reads it: the rows whose runs A's journal lists are A's.
    a.verify();
    // Another deployment cannot claim wave `default`.
    let b = TestEnv::new("dep-upgrade-b").target(&target).synth(&[SIZE, &["--seed", "2"]].concat());
    b.extract().plan();
    let out = b.output(&["load", "-q", "--target", &target]).expect(2);
    assert!(out.stderr.contains("older gcmigrate that did not record the deployment"), "{out}");
    // A's next load upgrades the ledger and claims its rows, writing nothing twice.
    let out = a.run(&["load", "--target", &target]);
    assert!(out.stderr.contains(&format!("claimed {rows} ledger row(s) of wave default")), "{out}");
    assert_eq!(
        scalar(&target, "SELECT COUNT(*) FROM gcmigrate_ledger WHERE deployment LIKE 'pool:%'"),
        rows
    );
    a.verify();
    let out = b.output(&["load", "-q", "--target", &target]).expect(2);
    assert!(out.stderr.contains("holds deployment pool:"), "{out}");
}

#[test]
fn another_deployment_under_its_own_pool_name_loads_beside_this_one() {
    // Two legacy deployments consolidated into one target pool: B's mappings call the pool
    // `consolidated`, A's `default`. Pool names are each deployment's own: not refused.
    let a = deployment_a("dep-pool-a", None);
    let target = a.target.clone();
    let toml = "default_wave = \"b\"\ndefault_pool = \"consolidated\"\n";
    let b = deployment_b_toml("dep-pool-b", &target, true, toml);
    b.run(&["load", "-q", "--target", &target]);
    a.verify();
    b.verify();
    let pools = rows2(&target, "SELECT DISTINCT wave, pool FROM gcmigrate_ledger ORDER BY 1");
    assert_eq!(pools, [("b".into(), "consolidated".into()), ("default".into(), "default".into())]);
    // Each rolls back its own rows only.
    b.run(&["rollback", "-q", "--execute", "--target", &target]);
    a.verify();
}
