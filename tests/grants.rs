//! The policy grants of each wave's cutover script (issue "The cutover runbook", item 1):
//! per wave, the users who can read one of its rooms in the target once live, minus those
//! an earlier wave granted — computed here independently, with SQL over the targets.

use std::collections::{BTreeMap, BTreeSet};

use crate::util::*;

/// (user URI, room GUID) pairs with read access in a target: the room enabled, the user an
/// enabled user principal, within the category's allowed and not its denied scope, and on
/// one of the room's role lists (directly or through a group, OU or domain).
const READERS: &str = "SELECT DISTINCT lower(p.prinUri) || ' ' || lower(CAST(n.nodeGuid AS TEXT)) \
    FROM tblNode n \
    JOIN tblPrincipalRole r ON r.prinRoleNodeID = n.nodeID \
    JOIN tblPrincipalAffiliations fu ON fu.affiliationID = r.prinRolePrinID \
    JOIN tblPrincipal p ON p.prinID = fu.principalID \
    JOIN tblPrincipalType t ON t.ptypeID = p.prinTypeID AND t.ptypeIsUser = 1 \
    WHERE n.nodeType = 0 AND n.disabled = 0 AND p.prinDisabled = 0 \
    AND EXISTS (SELECT 1 FROM tblScopePrincipal s JOIN tblPrincipalAffiliations fa \
        ON fa.affiliationID = s.scopePrinID AND fa.principalID = p.prinID \
        WHERE s.scopeNodeID = n.parentID AND s.scopeIsDenied = 0) \
    AND NOT EXISTS (SELECT 1 FROM tblScopePrincipal s JOIN tblPrincipalAffiliations fa \
        ON fa.affiliationID = s.scopePrinID AND fa.principalID = p.prinID \
        WHERE s.scopeNodeID = n.parentID AND s.scopeIsDenied = 1)";

fn rows(url: &str, sql: &str) -> Vec<String> {
    block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let v: Vec<String> = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    })
}

/// The SIP URIs a script grants the policy to: the single-quoted entries of its `$users`.
fn granted(script: &str) -> BTreeSet<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("'sip:") && l.ends_with('\''))
        .map(|l| l[1..l.len() - 1].replace("''", "'").to_lowercase())
        .collect()
}

#[test]
fn each_wave_grants_its_readers_minus_earlier_waves() {
    let env = TestEnv::new("grants").contoso().mappings_from("mappings");
    env.extract().plan();
    let plan = env.report("plan.json");
    let targets = [
        ("default", sqlite_url(&env.dir, "default.db")),
        ("pc-eng", sqlite_url(&env.dir, "eng.db")),
    ];
    let wave_of: BTreeMap<String, (String, String)> = plan["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("legacy_guid").to_lowercase(), (s("wave"), s("pool")))
        })
        .collect();
    // The engineer's order: the pilot first, the default wave last.
    let order =
        [("pilot", "default"), ("wave2", "default"), ("wave2", "pc-eng"), ("default", "default")];
    let target = |pool: &str| &targets.iter().find(|t| t.0 == pool).unwrap().1;
    for (pool, t) in &targets {
        env.run(&["load", "-q", "--create-schema", "--pool", pool, "--target", t]);
        env.run(&["verify", "-q", "--pool", pool, "--target", t]);
    }
    for (w, pool) in order {
        env.run(&[
            "cutover",
            "-q",
            "--without-freeze",
            "--wave",
            w,
            "--pool",
            pool,
            "--target",
            target(pool),
        ]);
    }
    // Readers per (wave, pool), from the targets once every wave is live.
    let mut readers: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (_, t) in &targets {
        for row in rows(t, READERS) {
            let (uri, guid) = row.split_once(' ').unwrap();
            readers.entry(wave_of[guid].clone()).or_default().insert(uri.to_string());
        }
    }
    let mut earlier: BTreeSet<String> = BTreeSet::new();
    for (w, pool) in order {
        let key = (w.to_string(), pool.to_string());
        let expected: BTreeSet<String> =
            readers.get(&key).cloned().unwrap_or_default().difference(&earlier).cloned().collect();
        let script =
            std::fs::read_to_string(env.ws.join(format!("scripts/cutover-{w}@{pool}.ps1")))
                .unwrap();
        assert_eq!(granted(&script), expected, "wave {w} in pool {pool}");
        // The deployment's last cutover moves the legacy lookup address, and only it.
        let last = (w, pool) == ("default", "default");
        assert_eq!(
            script.contains("New-CsPersistentChatEndpoint"),
            last,
            "wave {w} in pool {pool}"
        );
        if last {
            assert!(script.contains("$LegacyLookup = 'sip:ocschat@contoso.com'"), "{script}");
        }
        earlier.extend(expected);
    }
    assert!(!earlier.is_empty());

    // `export`, for shops that configure through PowerShell only, writes the same scripts
    // from the plan alone: earlier grants are those of the waves before in plan order (the
    // order above), and the last script moves the address `--endpoint` gives.
    let out = env.dir.join("exported");
    env.output(&["export", "-q", "--out", out.to_str().unwrap(), "--endpoint", "gc@contoso.com"])
        .expect(2);
    env.run(&["export", "-q", "--out", out.to_str().unwrap(), "--endpoint", "sip:gc@contoso.com"]);
    let mut earlier: BTreeSet<String> = BTreeSet::new();
    for (i, (w, pool)) in order.iter().enumerate() {
        let key = (w.to_string(), pool.to_string());
        let expected: BTreeSet<String> =
            readers.get(&key).cloned().unwrap_or_default().difference(&earlier).cloned().collect();
        let script = std::fs::read_to_string(out.join(format!("cutover-{w}@{pool}.ps1"))).unwrap();
        assert_eq!(granted(&script), expected, "exported wave {w} in pool {pool}");
        let last = i + 1 == order.len();
        assert_eq!(script.contains("$LegacyLookup = 'sip:gc@contoso.com'"), last, "{w}@{pool}");
        earlier.extend(expected);
    }
}
