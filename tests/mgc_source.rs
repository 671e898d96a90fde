//! A Persistent Chat `mgc` as the source (issue #22 item 1, MAPPING.md §1 "A Persistent
//! Chat source"): Contoso migrated into a pool, that pool migrated into a second one. The
//! second must hold the same role rows, scopes, rooms, invitations and history as the
//! first, keyed by GUIDs and URIs (the ids differ); `verify` judges it against the first
//! pool's §3 access, so a Member row deleted afterwards, or a denied scope row lost, fails.

use std::collections::BTreeMap;

use crate::util::*;

/// The rows of a pool that must survive a hop, per table, keyed by GUIDs and URIs.
const KEYED: &[(&str, &str)] = &[
    (
        "roles",
        "SELECT LOWER(CAST(n.nodeGuid AS TEXT)) || '|' || p.prinUri || '|' || t.rtypeDesc \
         FROM tblPrincipalRole r JOIN tblNode n ON n.nodeID = r.prinRoleNodeID \
         JOIN tblPrincipal p ON p.prinID = r.prinRolePrinID JOIN tblRoleType t ON t.rtypeID = r.prinRoleTypeID",
    ),
    (
        "scopes",
        "SELECT LOWER(CAST(n.nodeGuid AS TEXT)) || '|' || p.prinUri || '|' || CAST(s.scopeIsDenied AS TEXT) \
         FROM tblScopePrincipal s JOIN tblNode n ON n.nodeID = s.scopeNodeID \
         JOIN tblPrincipal p ON p.prinID = s.scopePrinID",
    ),
    (
        "nodes",
        "SELECT LOWER(CAST(n.nodeGuid AS TEXT)) || '|' || n.nodeName || '|' || n.nodeDesc || '|' \
         || CAST(n.nodeType AS TEXT) || '|' || CAST(n.disabled AS TEXT) || '|' || CAST(n.behavior AS TEXT) \
         || '|' || CAST(n.visibility AS TEXT) || '|' || COALESCE(CAST(n.invite AS TEXT), '~') || '|' \
         || COALESCE(CAST(n.logged AS TEXT), '~') || '|' || COALESCE(CAST(n.filePost AS TEXT), '~') || '|' \
         || COALESCE(LOWER(CAST(n.siopID AS TEXT)), '~') || '|' || COALESCE(LOWER(CAST(c.nodeGuid AS TEXT)), '~') \
         FROM tblNode n LEFT JOIN tblNode c ON c.nodeID = n.parentID AND c.nodeID <> 1 WHERE n.nodeID <> 1",
    ),
    (
        "history",
        "SELECT LOWER(CAST(n.nodeGuid AS TEXT)) || '|' || CAST(c.chatId AS TEXT) || '|' || CAST(c.chatDate AS TEXT) \
         || '|' || p.prinUri || '|' || CAST(c.isAlert AS TEXT) || '|' || c.content \
         FROM tblChat c JOIN tblNode n ON n.nodeID = c.channelId JOIN tblPrincipal p ON p.prinID = c.userId",
    ),
    (
        "invites",
        "SELECT p.prinUri || '|' || LOWER(CAST(n.nodeGuid AS TEXT)) || '|' || CAST(i.invID AS TEXT) \
         FROM tblPrincipalInvites i JOIN tblNode n ON n.nodeID = i.nodeID JOIN tblPrincipal p ON p.prinID = i.prinID",
    ),
    (
        "role counts",
        "SELECT t.rtypeDesc || ':' || CAST(COUNT(*) AS TEXT) FROM tblPrincipalRole r \
         JOIN tblRoleType t ON t.rtypeID = r.prinRoleTypeID GROUP BY t.rtypeDesc",
    ),
];

/// Every row of a one-column text query, sorted.
fn rows(url: &str, sql: &str) -> Vec<String> {
    let mut v: Vec<String> = block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    });
    v.sort();
    v
}

/// [`KEYED`] of the pool at `url`.
fn keyed(url: &str) -> BTreeMap<&'static str, Vec<String>> {
    KEYED.iter().map(|(name, sql)| (*name, rows(url, sql))).collect()
}

/// `gcmigrate migrate` (extract, plan, load, verify, cutover) from the env's source.
fn migrate(env: &TestEnv) {
    env.run(&[
        "migrate",
        "-q",
        "--create-schema",
        "--source",
        &env.source,
        "--target",
        &env.target,
    ]);
}

/// Contoso migrated into pool A (`mgc.db` of `name-a`, or `target`).
fn pool_a(name: &str, target: Option<&str>) -> TestEnv {
    let mut a = TestEnv::new(&format!("{name}-a")).contoso();
    if let Some(t) = target {
        a = a.target(t);
    }
    migrate(&a);
    a
}

/// Pool A as the source of pool B (`mgc.db` of `name-b`, or `target`), migrated.
fn pool_b(name: &str, a: &TestEnv, target: Option<&str>) -> TestEnv {
    let mut b = TestEnv::new(&format!("{name}-b")).source(&a.target);
    if let Some(t) = target {
        b = b.target(t);
    }
    migrate(&b);
    b
}

/// A Member row of B whose deletion loses access: a user listed directly on an enabled,
/// not Open room, with no other row of that room naming it or one of its affiliations.
const LONE_MEMBER: &str = "SELECT CAST(r.prinRoleNodeID AS TEXT) || ',' || CAST(r.prinRolePrinID AS TEXT) || ',' || p.prinUri \
    FROM tblPrincipalRole r JOIN tblRoleType t ON t.rtypeID = r.prinRoleTypeID AND t.rtypeDesc = 'Member' \
    JOIN tblPrincipal p ON p.prinID = r.prinRolePrinID AND p.prinTypeID = 5 AND p.prinDisabled = 0 \
    JOIN tblNode n ON n.nodeID = r.prinRoleNodeID AND n.visibility <> 6 AND n.disabled = 0 \
    WHERE NOT EXISTS (SELECT 1 FROM tblPrincipalRole o WHERE o.prinRoleNodeID = r.prinRoleNodeID \
      AND NOT (o.prinRolePrinID = r.prinRolePrinID AND o.prinRoleTypeID = r.prinRoleTypeID) \
      AND (o.prinRolePrinID = r.prinRolePrinID OR o.prinRolePrinID IN \
        (SELECT affiliationID FROM tblPrincipalAffiliations WHERE principalID = r.prinRolePrinID)))";

/// The hop keeps every keyed row; B verifies; deleting one lone Member row fails B's
/// verify, naming the user and the right lost.
fn hop_keeps_everything(a: &TestEnv, b: &TestEnv) {
    let (ka, kb) = (keyed(&a.target), keyed(&b.target));
    for (name, rows) in &ka {
        assert!(!rows.is_empty(), "pool A has no {name}");
        assert_eq!(rows, &kb[name], "{name} differ between pool A and pool B");
    }
    let counts = &ka["role counts"];
    for role in ["Member:", "Manager:", "Creator:"] {
        assert!(counts.iter().any(|c| c.starts_with(role)), "no {role} rows in {counts:?}");
    }
    b.verify();
    let report = b.report("verify-all.json");
    let access = &report["access"];
    assert!(access["pairs"].as_u64().unwrap() > 0, "{access}");
    assert_eq!(access["pairs"], access["unchanged"], "{access}");

    let lone = rows(&b.target, LONE_MEMBER);
    let pick = lone.first().expect("a room member listed on their own");
    let mut parts = pick.splitn(3, ',');
    let (room, prin, uri) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    exec(
        &b.target,
        &format!(
            "DELETE FROM tblPrincipalRole WHERE prinRoleNodeID = {room} AND prinRolePrinID = {prin} \
             AND prinRoleTypeID = (SELECT rtypeID FROM tblRoleType WHERE rtypeDesc = 'Member')"
        ),
    );
    let out = b.output(&["verify", "--target", &b.target]).expect(1);
    assert!(out.all().contains("lost read on ") && out.all().contains(uri), "{out}");
    let report = b.report("verify-all.json");
    let lost = report["access"]["lost"].as_array().unwrap();
    assert!(
        lost.iter().any(|c| c["user"] == uri && c["right"] == "read" && c["blocking"] == true),
        "{lost:?}"
    );
}

#[test]
fn a_pool_migrated_as_a_source_keeps_every_role_row_and_access() {
    let a = pool_a("mgc-hop", None);
    let b = pool_b("mgc-hop", &a, None);
    hop_keeps_everything(&a, &b);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn a_pool_migrated_as_a_source_into_postgres_keeps_every_role_row_and_access() {
    let Some(pg) = pg_database("mgc_hop_pg") else { return };
    let a = pool_a("mgc-hop-pg", None);
    let b = pool_b("mgc-hop-pg", &a, Some(&pg));
    hop_keeps_everything(&a, &b);
}

/// A user of `group`'s rooms in category `cat` of pool A: (category nodeID, user prinID,
/// user URI), a user affiliated with a group that is a Member of a room of the category.
const DENY_CANDIDATE: &str = "SELECT CAST(n.parentID AS TEXT) || ',' || CAST(a.principalID AS TEXT) || ',' || p.prinUri \
    FROM tblPrincipalRole r JOIN tblRoleType t ON t.rtypeID = r.prinRoleTypeID AND t.rtypeDesc = 'Member' \
    JOIN tblNode n ON n.nodeID = r.prinRoleNodeID AND n.nodeType = 0 AND n.disabled = 0 \
    JOIN tblPrincipalAffiliations a ON a.affiliationID = r.prinRolePrinID AND a.principalID <> r.prinRolePrinID \
    JOIN tblPrincipal p ON p.prinID = a.principalID AND p.prinTypeID = 5 AND p.prinDisabled = 0 \
    WHERE NOT EXISTS (SELECT 1 FROM tblScopePrincipal s WHERE s.scopeNodeID = n.parentID AND s.scopePrinID = a.principalID)";

#[test]
fn a_denied_scope_and_a_creator_survive_the_hop_and_nobody_gains() {
    let a = pool_a("mgc-deny", None);
    let pick = rows(&a.target, DENY_CANDIDATE);
    let pick = pick.first().expect("a user reaching a room through a group");
    let mut parts = pick.splitn(3, ',');
    let (cat, user, uri) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    // In pool A the user is denied the category; a Creator row is added for them too (a
    // Creator grants no room access under §3, and denied wins over it).
    exec(
        &a.target,
        &format!(
            "INSERT INTO tblScopePrincipal (scopeNodeID, scopePrinID, scopeIsDenied, scopeUpdatedBy) \
             VALUES ({cat}, {user}, 1, 1); \
             INSERT INTO tblPrincipalRole (prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy) \
             SELECT {cat}, {user}, rtypeID, 1 FROM tblRoleType WHERE rtypeDesc = 'Creator'"
        ),
    );
    let b = pool_b("mgc-deny", &a, None);
    let (ka, kb) = (keyed(&a.target), keyed(&b.target));
    assert_eq!(ka["scopes"], kb["scopes"]);
    assert_eq!(ka["roles"], kb["roles"]);
    let denied: Vec<&String> =
        kb["scopes"].iter().filter(|s| s.ends_with(&format!("|{uri}|1"))).collect();
    assert_eq!(denied.len(), 1, "the denied row is in pool B: {:?}", kb["scopes"]);
    assert!(kb["roles"].iter().any(|r| r.ends_with(&format!("|{uri}|Creator"))));
    b.verify();
    let report = b.report("verify-all.json");
    assert_eq!(report["access"]["gained"].as_array().unwrap().len(), 0);

    // Without the denied row pool B would widen access: verify says who gains what.
    exec(
        &b.target,
        &format!(
            "DELETE FROM tblScopePrincipal WHERE scopeIsDenied = 1 AND scopePrinID = \
             (SELECT prinID FROM tblPrincipal WHERE prinUri = '{uri}')"
        ),
    );
    let out = b.output(&["verify", "--target", &b.target]).expect(1);
    assert!(out.all().contains("gained read on ") && out.all().contains(uri), "{out}");
}

/// The deployment the ledger of `target` records.
fn deployments(target: &str) -> Vec<String> {
    rows(target, "SELECT DISTINCT deployment FROM gcmigrate_ledger WHERE deployment IS NOT NULL")
}

#[test]
fn two_pools_are_two_deployments_even_with_one_root_guid() {
    // Two pools created alike (same root and system principal GUIDs, same Contoso rooms):
    // each is its own deployment, by its tblConfig.configPoolID.
    let (a1, a2) = (pool_a("mgc-two-1", None), pool_a("mgc-two-2", None));
    let root = "SELECT LOWER(CAST(nodeGuid AS TEXT)) FROM tblNode WHERE nodeID = 1";
    assert_eq!(rows(&a1.target, root), rows(&a2.target, root));
    let (b1, b2) = (pool_b("mgc-two-1", &a1, None), pool_b("mgc-two-2", &a2, None));
    let (d1, d2) = (deployments(&b1.target), deployments(&b2.target));
    assert_eq!(d1.len(), 1, "{d1:?}");
    assert!(d1[0].starts_with("pool:") && d2[0].starts_with("pool:"), "{d1:?} {d2:?}");
    assert_ne!(d1, d2);
    let pool_id = text(&a1.target, "SELECT LOWER(CAST(configPoolID AS TEXT)) FROM tblConfig");
    assert_eq!(d1[0], format!("pool:{pool_id}"));
}

#[test]
fn a_pool_split_across_two_targets_by_categories_csv_keeps_everything() {
    let a = pool_a("mgc-split", None);
    let cats = rows(&a.target, "SELECT nodeName FROM tblNode WHERE nodeType = 1 AND nodeID <> 1");
    assert!(cats.len() >= 2, "{cats:?}");
    let east = &cats[0];
    let s = TestEnv::new("mgc-split-s")
        .source(&a.target)
        .mapping("categories.csv", &format!("legacy_path,pool\n\"/{east}\",east\n"));
    s.extract().plan();
    let (t_east, t_rest) = (sqlite_url(&s.dir, "east.db"), sqlite_url(&s.dir, "rest.db"));
    s.run(&["load", "-q", "--create-schema", "--pool", "east", "--target", &t_east]);
    s.run(&["load", "-q", "--create-schema", "--pool", "default", "--target", &t_rest]);
    s.run(&["verify", "-q", "--pool", "east", "--target", &t_east]);
    s.run(&["verify", "-q", "--pool", "default", "--target", &t_rest]);
    let in_east = rows(&t_east, "SELECT nodeName FROM tblNode WHERE nodeType = 1 AND nodeID <> 1");
    assert_eq!(in_east, std::slice::from_ref(east));
    let (ka, ke, kr) = (keyed(&a.target), keyed(&t_east), keyed(&t_rest));
    for name in ["roles", "scopes", "history", "invites"] {
        let mut both = [ke[name].clone(), kr[name].clone()].concat();
        both.sort();
        assert_eq!(ka[name], both, "{name}: the two pools together hold pool A's rows");
    }
    // Rooms arrive staged (disabled until their cutover): everything else of a node is kept.
    let unstaged = |v: &[String]| -> Vec<String> {
        let mut v: Vec<String> = v
            .iter()
            .map(|n| {
                n.split('|')
                    .enumerate()
                    .filter(|(i, _)| *i != 4)
                    .map(|(_, x)| x)
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        v.sort();
        v
    };
    let both = [ke["nodes"].clone(), kr["nodes"].clone()].concat();
    assert_eq!(unstaged(&ka["nodes"]), unstaged(&both));
}

#[test]
fn two_pools_read_into_one_target_each_verify_and_roll_back_alone() {
    let a1 = pool_a("mgc-merge-1", None);
    let size = ["--users", "30", "--groups", "4", "--rooms", "12", "--messages", "600"];
    let a2 = TestEnv::new("mgc-merge-2-a").synth(&size);
    migrate(&a2);
    let c = TestEnv::new("mgc-merge-c").source(&a1.target);
    migrate(&c);
    let before = keyed(&c.target);
    // The second pool, into the same target, under its own wave; its room names would
    // clash with the first pool's (MAPPING.md §4 "Names and limits"): rooms.csv renames
    // them, categories.csv renames a clashing category.
    let mut names = String::from("room,target_name\n");
    let sql = "SELECT LOWER(CAST(nodeGuid AS TEXT)) || ',second ' || nodeName FROM tblNode WHERE nodeType = 0";
    for line in rows(&a2.target, sql) {
        names.push_str(&line);
        names.push('\n');
    }
    let c2 = TestEnv::new("mgc-merge-c2")
        .source(&a2.target)
        .target(&c.target)
        .mapping("gcmigrate.toml", "default_wave = \"second\"\n")
        .mapping("categories.csv", "legacy_path,on_conflict\n/**,rename\n")
        .mapping("rooms.csv", &names);
    c2.extract();
    let maps = c2.maps();
    c2.run(&["plan", "-q", "--mappings", maps.to_str().unwrap(), "--target", &c.target]);
    c2.load().verify();
    c.verify();
    assert_eq!(deployments(&c.target).len(), 2, "{:?}", deployments(&c.target));
    // Every role, scope, message and invitation of the second pool is there (its rooms
    // carry new names and arrive staged, so nodes are not compared).
    let (second, merged) = (keyed(&a2.target), keyed(&c.target));
    for name in ["roles", "scopes", "history", "invites"] {
        for r in &second[name] {
            assert!(merged[name].contains(r), "{name}: {r} of the second pool is missing");
        }
    }
    // Rolling the second pool back leaves the first exactly as it was.
    c2.run(&["rollback", "-q", "--execute", "--target", &c.target]);
    let after = keyed(&c.target);
    for name in ["roles", "scopes", "history", "invites", "role counts"] {
        assert_eq!(before[name], after[name], "{name}");
    }
    c.verify();
}
