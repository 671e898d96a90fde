//! The compliance export (issue 21): every Contoso wave of both pools exported, each file
//! parsed with a strict XML parser (roxmltree) and checked against the structure Microsoft
//! documents; per-room counts reconciled with verify's and the load's, checksums
//! recomputed; a killed export rerun writes the same bytes; hostile names and contents are
//! escaped or replaced and still parse; bad arguments and someone else's directory are
//! refused with exit 2.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::compliance_check::{check_export, files_of};
use crate::util::*;

/// Contoso with the shipped mappings (pools default and pc-eng; waves pilot, wave2,
/// default), both pools loaded and every wave verified.
fn contoso_loaded(name: &str) -> TestEnv {
    let env = TestEnv::new(name).contoso().mappings_from("mappings");
    env.extract().plan();
    for pool in ["default", "pc-eng"] {
        let t = sqlite_url(&env.dir, &format!("{pool}.db"));
        env.run(&["load", "-q", "--create-schema", "--pool", pool, "--target", &t]);
    }
    env
}

const WAVES: [(&str, &str); 4] =
    [("pilot", "default"), ("wave2", "default"), ("default", "default"), ("wave2", "pc-eng")];

#[test]
fn contoso_waves_export_and_reconcile_with_verify_and_load() {
    let env = contoso_loaded("compliance-contoso");
    // Loaded, not verified yet: said so.
    let early = env.dir.join("early").to_str().unwrap().to_string();
    let o = env.run(&["compliance", "--wave", "pilot", "--pool", "default", "--out", &early]);
    assert!(
        o.stderr.contains("no verify of") && o.stderr.contains("has passed since the last load"),
        "{o}"
    );
    for (wave, pool) in WAVES {
        let t = sqlite_url(&env.dir, &format!("{pool}.db"));
        env.run(&["verify", "-q", "--wave", wave, "--pool", pool, "--target", &t]);
        let verify = env.report(&format!("verify-{wave}@{pool}.json"));
        for slice in ["none", "day", "month"] {
            let out = env.dir.join(format!("out-{wave}-{pool}-{slice}"));
            let o = out.to_str().unwrap();
            let args = ["--wave", wave, "--pool", pool, "--out", o, "--slice", slice];
            let run = env.run(&[&["compliance"][..], &args].concat());
            // Loaded and verified: no note, a summary line.
            assert!(!run.stderr.contains("note:"), "{run}");
            assert!(run.stdout.contains(&format!("compliance ({wave}@{pool}):")), "{run}");
            let m = check_export(&out);
            assert_eq!((m["wave"].as_str(), m["pool"].as_str()), (Some(wave), Some(pool)));
            // Per room: the export's counts are verify's, source and target side.
            let rooms = m["rooms"].as_array().unwrap();
            let vrooms = verify["rooms"].as_array().unwrap();
            assert_eq!(rooms.len(), vrooms.len(), "{wave}@{pool}");
            for v in vrooms {
                let r = rooms.iter().find(|r| r["legacy_guid"] == v["legacy_guid"]).unwrap();
                assert_eq!(r["exported"], v["expected"], "{wave}@{pool} {}", v["legacy_path"]);
                assert_eq!(r["exported"], v["loaded"], "{wave}@{pool} {}", v["legacy_path"]);
                assert_eq!(r["read"], v["read"]);
                let sum = |k: &str| {
                    r[k].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum::<u64>()
                };
                assert_eq!(sum("excluded"), v["excluded"].as_u64().unwrap());
                assert_eq!(sum("rejected"), v["rejected"].as_u64().unwrap());
            }
            assert_eq!(m["totals"]["exported"], verify["totals"]["loaded"]);
            // The load of this wave wrote as many messages.
            let load = std::fs::read_dir(env.ws.join("reports"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(&format!("load-{wave}@{pool}-"))
                })
                .unwrap();
            assert_eq!(m["totals"]["exported"], json(&load)["history"]["loaded"], "{wave}@{pool}");
            if slice != "none" {
                let n = if slice == "day" { 10 } else { 7 };
                for f in m["files"].as_array().unwrap() {
                    let s = f["slice"].as_str().unwrap();
                    assert_eq!(s.len(), n);
                    let text =
                        std::fs::read_to_string(out.join(f["file"].as_str().unwrap())).unwrap();
                    assert_eq!(
                        text.matches(&format!(" string=\"{s}")).count() as u64,
                        f["messages"].as_u64().unwrap() + 3
                    );
                }
            }
            // The CSV manifest says the same.
            let csv = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
            let files = csv.lines().filter(|l| l.starts_with("file,")).count();
            assert_eq!(files as u64, m["totals"]["files"].as_u64().unwrap());
            let messages = csv.lines().filter(|l| l.starts_with("message,")).count();
            assert_eq!(messages, m["left_out"].as_array().unwrap().len());
        }
    }
    // Contoso's rejects are listed with their reasons.
    let m = json(&env.dir.join("out-default-default-none/manifest.json"));
    let reasons: BTreeSet<&str> =
        m["left_out"].as_array().unwrap().iter().map(|l| l["reason"].as_str().unwrap()).collect();
    assert!(
        reasons.contains("author_unknown") && reasons.contains("chat_date_out_of_range"),
        "{reasons:?}"
    );
}

#[test]
fn a_damaged_export_rerun_writes_the_same_bytes() {
    let env = TestEnv::new("compliance-damaged").contoso();
    env.extract().plan();
    let out = env.dir.join("out");
    let o = out.to_str().unwrap();
    env.run(&["compliance", "-q", "--wave", "default", "--out", o, "--slice", "month"]);
    let before = files_of(&out);
    assert!(before.len() > 10);
    // As a kill leaves it: a file cut short, one missing, the manifest gone, a temporary
    // file half written.
    let xml: Vec<&String> = before.keys().filter(|n| n.ends_with(".xml")).collect();
    std::fs::write(out.join(xml[0]), &before[xml[0]][..100]).unwrap();
    std::fs::remove_file(out.join(xml[1])).unwrap();
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    std::fs::write(out.join(format!(".{}.tmp", xml[2])), "<Conversations>").unwrap();
    env.run(&["compliance", "-q", "--wave", "default", "--out", o, "--slice", "month"]);
    assert_eq!(files_of(&out), before);
    // Another slicing into the same directory replaces the files; slicing back restores them.
    env.run(&["compliance", "-q", "--wave", "default", "--out", o, "--slice", "day"]);
    check_export(&out);
    env.run(&["compliance", "-q", "--wave", "default", "--out", o, "--slice", "month"]);
    assert_eq!(files_of(&out), before);
}

#[test]
fn a_killed_export_rerun_equals_an_uninterrupted_one() {
    let env = TestEnv::new("compliance-killed").synth(&[
        "--messages",
        "150000",
        "--rooms",
        "30",
        "--seed",
        "5",
    ]);
    env.extract().plan();
    let export = |dir: &Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gcmigrate"));
        c.current_dir(&env.dir)
            .args(["compliance", "-q", "--wave", "default", "--slice", "day", "--out"])
            .arg(dir)
            .arg("--workspace")
            .arg(&env.ws);
        c
    };
    let (reference, victim) = (env.dir.join("ref"), env.dir.join("victim"));
    assert!(export(&reference).status().unwrap().success());
    let mut kills = 0;
    for _ in 0..3 {
        let mut child = export(&victim).spawn().unwrap();
        // Killed once it has finished some files and before the manifest.
        let start = std::time::Instant::now();
        loop {
            let done = std::fs::read_dir(&victim)
                .map(|d| {
                    d.filter(|e| {
                        e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".xml")
                    })
                    .count()
                })
                .unwrap_or(0);
            if done > 20 + kills * 100
                || child.try_wait().unwrap().is_some()
                || start.elapsed() > Duration::from_secs(60)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            // A second export into the same directory meanwhile is refused, touching nothing.
            let second = export(&victim).output().unwrap();
            if child.try_wait().unwrap().is_none() {
                assert_eq!(second.status.code(), Some(2), "{second:?}");
                assert!(
                    String::from_utf8_lossy(&second.stderr).contains("in use by"),
                    "{second:?}"
                );
            }
            let _ = child.kill();
        }
        // Killed (not finished on its own just before): a manifest is there only when every
        // file is (the kill fell after its rename).
        if child.wait().unwrap().code().is_none() {
            kills += 1;
            if victim.join("manifest.json").exists() {
                check_export(&victim);
            }
        }
    }
    assert!(kills > 0, "the export finished before any kill: make it bigger");
    assert!(export(&victim).status().unwrap().success());
    assert_eq!(files_of(&victim), files_of(&reference));
    let m = check_export(&victim);
    assert_eq!(
        m["totals"]["exported"].as_u64().unwrap() + m["left_out"].as_array().unwrap().len() as u64,
        150_000
    );
}

/// Runs SQL on a SQLite database.
fn exec_sqlite(url: &str, sql: &str) {
    block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    })
}

#[test]
fn hostile_names_and_contents_are_escaped_and_still_parse() {
    let env = TestEnv::new("compliance-hostile").contoso();
    // XML's specials, C0 controls (invalid in XML 1.0), U+FFFE, whitespace an attribute
    // would normalise, non-BMP characters and a CDATA terminator.
    let content =
        "'<a href=\"x\">&amp;</a> ]]> ' || char(1) || char(27) || char(11) || char(65534) \
                   || char(9) || char(10) || char(13) || '😀𝄞 end'";
    let name = "'R&D <\"lab\"> ''q'' 😀' || char(7) || 'bell'";
    exec_sqlite(
        &env.source,
        &format!(
            "UPDATE tblChat SET content = {content} WHERE channelId = 10 AND chatId = 2; \
             UPDATE tblNode SET nodeName = {name} WHERE nodeID = 10;"
        ),
    );
    env.extract().plan();
    let out = env.dir.join("out");
    env.run(&[
        "compliance",
        "-q",
        "--wave",
        "default",
        "--out",
        out.to_str().unwrap(),
        "--domain",
        "Contoso.com",
    ]);
    let m = check_export(&out);
    assert_eq!(m["channel_domain"], "contoso.com");
    let text = std::fs::read_to_string(out.join("room-10.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let channel = doc.descendants().find(|n| n.has_tag_name("Channel")).unwrap();
    // The target name (the plan already turned the control character into a space).
    let name = channel.attribute("name").unwrap();
    assert!(name.contains("R&D <\"lab\"> 'q' 😀") && name.ends_with("bell"), "{text}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    let msg = doc
        .descendants()
        .find(|n| n.has_tag_name("Message") && n.attribute("id") == Some("2"))
        .unwrap();
    assert_eq!(
        msg.attribute("content").unwrap(),
        "<a href=\"x\">&amp;</a> ]]> \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\t\n\r😀𝄞 end"
    );
    let f = m["files"].as_array().unwrap().iter().find(|f| f["file"] == "room-10.xml").unwrap();
    assert_eq!(f["replaced_chars"], 4);
}

#[test]
fn bad_arguments_and_foreign_directories_are_refused() {
    let env = TestEnv::new("compliance-refused").contoso().mappings_from("mappings");
    env.extract().plan();
    let dir = |n: &str| env.dir.join(n).to_str().unwrap().to_string();
    let one_line = |o: &Outcome, what: &str| {
        assert!(o.stderr.contains(what), "{o}");
    };
    let o = env.output(&["compliance", "--wave", "pilot", "--out", &dir("a")]).expect(2);
    one_line(&o, "--pool");
    let o = env
        .output(&["compliance", "--wave", "nope", "--pool", "default", "--out", &dir("a")])
        .expect(2);
    one_line(&o, "no wave `nope`");
    let o = env
        .output(&["compliance", "--wave", "pilot", "--pool", "pc-eng", "--out", &dir("a")])
        .expect(2);
    one_line(&o, "has no rooms in pool `pc-eng`");
    env.output(&[
        "compliance",
        "--wave",
        "pilot",
        "--pool",
        "default",
        "--out",
        &dir("a"),
        "--domain",
        "a/b",
    ])
    .expect(2);
    // Someone else's files are never touched.
    std::fs::create_dir_all(env.dir.join("theirs")).unwrap();
    std::fs::write(env.dir.join("theirs/notes.txt"), "keep").unwrap();
    let o = env
        .output(&["compliance", "--wave", "pilot", "--pool", "default", "--out", &dir("theirs")])
        .expect(2);
    one_line(&o, "is not empty");
    assert_eq!(std::fs::read_dir(env.dir.join("theirs")).unwrap().count(), 1);
    // Nor another wave's export.
    let o = env.run(&["compliance", "--wave", "pilot", "--pool", "default", "--out", &dir("a")]);
    one_line(&o, "records no load of the wave");
    let before = files_of(&env.dir.join("a"));
    let o = env
        .output(&["compliance", "--wave", "wave2", "--pool", "default", "--out", &dir("a")])
        .expect(2);
    one_line(&o, "holds the compliance export of pilot@default");
    assert_eq!(files_of(&env.dir.join("a")), before);
}

#[test]
fn messages_before_since_are_left_out_and_listed_like_the_load_does() {
    let env = TestEnv::new("compliance-since")
        .contoso()
        .mapping("gcmigrate.toml", "since = \"2011-04-01\"\n");
    env.extract().plan().load().verify();
    let out = env.dir.join("out");
    env.run(&[
        "compliance",
        "-q",
        "--wave",
        "default",
        "--out",
        out.to_str().unwrap(),
        "--slice",
        "month",
    ]);
    let m = check_export(&out);
    let verify = env.report("verify-all.json");
    let before = m["totals"]["excluded"]["before_since"].as_u64().unwrap();
    assert!(before > 0, "{}", m["totals"]);
    assert_eq!(before, verify["totals"]["excluded"].as_u64().unwrap());
    assert_eq!(m["totals"]["exported"], verify["totals"]["loaded"]);
    let listed = m["left_out"].as_array().unwrap();
    assert_eq!(listed.iter().filter(|l| l["reason"] == "before_since").count() as u64, before);
    let cut = 634_372_128_000_000_000i64; // 2011-04-01T00:00:00Z
    for l in listed.iter().filter(|l| l["reason"] == "before_since") {
        assert!(l["chat_date"].as_i64().unwrap() < cut && l["disposition"] == "excluded");
    }
    // No file holds a month before the cut-off.
    for f in m["files"].as_array().unwrap() {
        assert!(f["slice"].as_str().unwrap() >= "2011-04", "{f}");
    }
}
