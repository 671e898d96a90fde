//! `gcmigrate demo`: the Contoso fixture through the whole pipeline.

use crate::util::*;

#[test]
fn demo_loads_every_kept_message_and_verifies() {
    let dir = tmp_dir("demo");
    let out = gcm().args(["demo", "--workspace"]).arg(&dir).assert().success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("verify (all): PASS"), "{stderr}");
    assert!(dir.join("staging.db").exists());

    let plan = json(&dir.join("reports/plan.json"));
    let to_load = plan["messages"]["load"].as_u64().unwrap();
    let read = plan["messages"]["read"].as_u64().unwrap();
    let target = sqlite_url(&dir, "target-mgc.db");
    let legacy = sqlite_url(&dir, "contoso-legacy.db");
    assert_eq!(read as i64, scalar(&legacy, "SELECT COUNT(*) FROM tblChat"));
    assert_eq!(to_load as i64, scalar(&target, "SELECT COUNT(*) FROM tblChat"));
    // Nothing lost, nothing invented: loaded + excluded + rejected = read.
    let sum = |k: &str| {
        plan["messages"][k].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>()
    };
    assert_eq!(to_load + sum("excluded") + sum("rejected"), read);
    // Every rejected row is on file with its reason.
    let rejects = std::fs::read_to_string(dir.join("rejects/load.csv")).unwrap().lines().count()
        - 1
        + std::fs::read_to_string(dir.join("rejects/plan.csv")).unwrap().lines().count()
        - 1;
    assert_eq!(rejects as u64, sum("rejected"));

    // Rooms and categories are there, flat: every room's parent is a category under the root.
    let rooms = plan["rooms"].as_array().unwrap().len() as i64;
    assert_eq!(rooms, scalar(&target, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0"));
    assert_eq!(
        plan["categories"].as_array().unwrap().len() as i64,
        scalar(&target, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 1 AND nodeID <> 1")
    );
    assert_eq!(
        0,
        scalar(
            &target,
            "SELECT COUNT(*) FROM tblNode r JOIN tblNode c ON c.nodeID = r.parentID \
                                   WHERE r.nodeType = 0 AND (c.nodeType <> 1 OR c.parentID <> 1)"
        )
    );
    // GUIDs of rooms are preserved.
    for r in plan["rooms"].as_array().unwrap() {
        let guid = r["legacy_guid"].as_str().unwrap();
        assert_eq!(
            1,
            scalar(&target, &format!("SELECT COUNT(*) FROM tblNode WHERE nodeGuid = '{guid}'")),
            "{guid}"
        );
    }
    // tblLastChatId holds each loaded room's highest chatId.
    assert_eq!(0, scalar(&target, "SELECT COUNT(*) FROM (SELECT channelId, MAX(chatId) m FROM tblChat GROUP BY channelId) x \
                                   LEFT JOIN tblLastChatId l ON l.nodeID = x.channelId AND l.lastChatID = x.m WHERE l.nodeID IS NULL"));
    // Message content is byte for byte (emoji, RTL, newlines).
    assert_eq!(
        scalar(&legacy, "SELECT COUNT(*) FROM tblChat WHERE content LIKE '%ma-filelink:%'"),
        scalar(&target, "SELECT COUNT(*) FROM tblChat WHERE content LIKE '%ma-filelink:%'")
    );
}

#[test]
fn demo_twice_starts_clean_each_time() {
    let dir = tmp_dir("demo-twice");
    gcm().args(["demo", "-q", "--workspace"]).arg(&dir).assert().success();
    gcm().args(["demo", "-q", "--workspace"]).arg(&dir).assert().success();
    let plan = json(&dir.join("reports/plan.json"));
    assert_eq!(
        plan["messages"]["load"].as_i64().unwrap(),
        scalar(&sqlite_url(&dir, "target-mgc.db"), "SELECT COUNT(*) FROM tblChat")
    );
}

#[test]
fn plan_produces_every_finding_the_fixture_readme_lists() {
    let env = TestEnv::new("findings").contoso();
    env.extract().plan();
    let readme = include_str!("../fixtures/README.md");
    let block = readme
        .split("```expected-findings")
        .nth(1)
        .expect("expected-findings block")
        .split("```")
        .next()
        .unwrap();
    let plan = env.report("plan.json");
    let codes: Vec<&str> =
        plan["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    let expected: Vec<&str> = block.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert!(expected.len() >= 15);
    for code in expected {
        assert!(codes.contains(&code), "the plan has no {code} finding; it has {codes:?}");
    }
    // Every legacy room appears exactly once: as a room or as excluded with its rule.
    let mut guids: Vec<&str> = plan["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .chain(plan["excluded_rooms"].as_array().unwrap())
        .map(|r| r["legacy_guid"].as_str().unwrap())
        .collect();
    let n = guids.len();
    guids.sort();
    guids.dedup();
    assert_eq!(n, guids.len());
    assert_eq!(n as i64, scalar(&env.source, "SELECT COUNT(*) FROM tblNode WHERE nodeType = 0"));
}
