//! The configure scripts as Microsoft documents the cmdlets (issue #18, item 4): groups,
//! OUs and domains by their AD distinguished name from `prinADPath` (a group without one
//! gets a `PRINCIPAL_WITHOUT_DN` finding and a comment, never its `ma-grp:` URI), one script
//! per wave and pool with the reports' label, and scripts whose size follows principals and
//! rooms, not rooms × members.

use std::path::Path;

use crate::util::*;

/// The text of every `configure-*.ps1` in `dir` (BOM and CRLF removed), by file name.
fn configure_scripts(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("configure-"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let text = String::from_utf8(bytes[3..].to_vec()).unwrap().replace("\r\n", "\n");
            (p.file_name().unwrap().to_str().unwrap().to_owned(), text)
        })
        .collect();
    out.sort();
    out
}

/// Every single-quoted value of a script (the generator writes no other string form).
fn values(script: &str) -> Vec<String> {
    let code: String =
        script.lines().map(|l| l.split(" #").next().unwrap()).collect::<Vec<_>>().join("\n");
    code.split('\'').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn contoso_lists_groups_and_ous_by_dn_and_a_group_without_one_gets_a_finding() {
    let env = TestEnv::new("ps-dn").contoso();
    env.extract().plan();
    let scripts = configure_scripts(&env.ws.join("scripts"));
    assert!(!scripts.is_empty());
    let all: String = scripts.iter().map(|s| s.1.as_str()).collect();
    assert!(
        all.contains(
            "'OU=Sales,OU=Corp,DC=contoso,DC=com'  # OU or container ma-grp://contoso.com/OU=Sales"
        ),
        "{all}"
    );
    for (name, text) in &scripts {
        assert!(
            values(text).iter().all(|v| !v.starts_with("ma-grp:")),
            "ma-grp URI as a value in {name}"
        );
        assert!(!text.contains("has no AD distinguished name"), "{name}");
    }
    let plan = env.report("plan.json");
    let codes = |p: &serde_json::Value| -> Vec<String> {
        p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!codes(&plan).contains(&"PRINCIPAL_WITHOUT_DN".to_owned()));

    // The OU loses its DN in the legacy database: a warning naming it, a comment in the
    // script where the DN was, and no trace of the old DN or the URI as a value.
    let broken = env.copy("ps-dn-missing");
    exec(
        &broken.source,
        "UPDATE tblPrincipal SET prinADPath = NULL WHERE prinUri = 'ma-grp://contoso.com/OU=Sales'",
    );
    broken.extract().plan();
    let plan = broken.report("plan.json");
    let f: Vec<&serde_json::Value> = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "PRINCIPAL_WITHOUT_DN")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["subject"], "ma-grp://contoso.com/OU=Sales");
    let scripts = configure_scripts(&broken.ws.join("scripts"));
    let all: String = scripts.iter().map(|s| s.1.as_str()).collect();
    assert!(!all.contains("'OU=Sales,OU=Corp,DC=contoso,DC=com'"));
    assert!(all.contains(
        "# left out: OU or container ma-grp://contoso.com/OU=Sales has no AD distinguished name in the snapshot (finding PRINCIPAL_WITHOUT_DN)"
    ), "{all}");
    assert!(all.contains("Write-Warning ('gcmigrate: 1 group, OU or domain was left out"));
}

#[test]
fn a_large_synthetic_plan_gives_scripts_sized_by_principals_and_rooms() {
    let env = TestEnv::new("ps-size").synth(&[
        "--users",
        "4000",
        "--groups",
        "200",
        "--rooms",
        "3000",
        "--messages",
        "3000",
        "--seed",
        "5",
    ]);
    env.extract().plan();
    let plan = env.report("plan.json");
    let rooms = plan["rooms"].as_array().unwrap();
    let principals = plan["principals"].as_array().unwrap().len();
    // What repeated literals would cost: one line per listed principal per room.
    let entries: usize = rooms
        .iter()
        .map(|r| {
            ["members", "managers", "presenters"]
                .iter()
                .map(|k| r[k].as_array().map_or(0, Vec::len))
                .sum::<usize>()
        })
        .sum();
    let scripts = configure_scripts(&env.ws.join("scripts"));
    let size: usize = scripts.iter().map(|s| s.1.len()).sum();
    let declared: usize = scripts.iter().map(|s| s.1.matches("\n$List").count()).sum();
    eprintln!(
        "{} rooms, {principals} principals, {entries} room list entries: {} script(s), {size} bytes, {declared} lists",
        rooms.len(),
        scripts.len()
    );
    assert!(entries > 10 * rooms.len(), "the fixture must have long lists to mean anything");
    // Bound: about 1 KB of statements per room plus the lists, linear in rooms and principals.
    assert!(size < 1200 * rooms.len() + 200 * principals, "{size} bytes");
    // The lists are shared: far fewer declared than rooms, and their entry lines (one per
    // principal per distinct list) far fewer than the entries of every room's lists.
    assert!(declared < rooms.len() / 2, "{declared} lists");
    let lines: usize = scripts
        .iter()
        .flat_map(|s| s.1.split("\n$List").skip(1))
        .map(|block| block.split("\n)\n").next().unwrap().lines().count() - 1)
        .sum();
    eprintln!("{lines} list entry lines");
    assert!(lines * 4 < entries, "{lines} list lines for {entries} entries");
}

#[test]
fn contoso_with_two_pools_gets_one_script_per_wave_and_pool_naming_its_pool() {
    let env = TestEnv::new("ps-pools").contoso().mappings_from("mappings");
    env.extract().plan();
    let plan = env.report("plan.json");
    // (wave, pool) → the target names of its rooms, from the plan.
    let mut expected: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in plan["rooms"].as_array().unwrap() {
        let label = format!("{}@{}", r["wave"].as_str().unwrap(), r["pool"].as_str().unwrap());
        expected.entry(label).or_default().push(r["target_name"].as_str().unwrap().to_owned());
    }
    let pools: std::collections::BTreeSet<&str> =
        plan["rooms"].as_array().unwrap().iter().map(|r| r["pool"].as_str().unwrap()).collect();
    assert!(pools.len() > 1, "the shipped mappings give Contoso several pools: {pools:?}");
    let scripts = configure_scripts(&env.ws.join("scripts"));
    let names: Vec<&str> = scripts.iter().map(|s| s.0.as_str()).collect();
    let want: Vec<String> = expected.keys().map(|l| format!("configure-{l}.ps1")).collect();
    assert_eq!(names, want, "one script per wave and pool, with the reports' label");
    for (name, text) in &scripts {
        let label = name.trim_start_matches("configure-").trim_end_matches(".ps1");
        let pool = label.split('@').nth(1).unwrap();
        let var = format!("$PoolFqdn_{}", pool.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
        assert!(text.contains(&format!("    [string]{var}\n)")), "{name}: parameter {var}");
        assert!(!text.contains("$PoolFqdn1") && !text.contains("[string]$PoolFqdn\n"), "{name}");
        // Every pool variable used is this script's.
        for other in pools.iter().filter(|p| **p != pool) {
            let v =
                format!("$PoolFqdn_{}", other.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
            assert!(!text.contains(&v), "{name} names pool {other}");
        }
        let mut rooms: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("        Name                   = '"))
            .map(|v| v.trim_end_matches('\'').replace("''", "'"))
            .collect();
        let mut want = expected[label].clone();
        rooms.sort();
        want.sort();
        assert_eq!(rooms, want, "{name}: the rooms of its wave and pool");
        let unconfigure = env.ws.join("scripts").join(format!("un{name}"));
        assert!(unconfigure.exists(), "{}", unconfigure.display());
    }
}
