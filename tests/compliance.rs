//! The compliance export (issue 21): every Contoso wave of both pools exported, each file
//! parsed with a strict XML parser (roxmltree) and checked against the structure Microsoft
//! documents; per-room counts reconciled with verify's and the load's, checksums
//! recomputed; a killed export rerun writes the same bytes; hostile names and contents are
//! escaped or replaced and still parse; bad arguments and someone else's directory are
//! refused with exit 2.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::util::*;

const EPOCH: i64 = 621_355_968_000_000_000;

/// What one parsed file holds: its messages as (chatId, content), and the room's GUID.
struct Parsed {
    guid: String,
    messages: Vec<(i64, String)>,
}

/// The attribute `name` of `n`, which must be there.
fn attr<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    n.attribute(name).unwrap_or_else(|| panic!("<{}> has no {name}", n.tag_name().name()))
}

/// The element children of `n`, by name.
fn kids<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element()).collect()
}

/// A `since1970`/`string`/`long` triple: consistent, `string` ISO 8601 with 7 digits.
fn time_of(n: roxmltree::Node<'_, '_>) -> i64 {
    let long: i64 = attr(n, "long").parse().unwrap();
    let since: i64 = attr(n, "since1970").parse().unwrap();
    assert_eq!(since, (long - EPOCH) / 10_000, "since1970 of {long}");
    let s = attr(n, "string");
    let b = s.as_bytes();
    assert_eq!(b.len(), 28, "{s}");
    assert!(s.ends_with('Z') && b[4] == b'-' && b[10] == b'T' && b[19] == b'.', "{s}");
    assert_eq!(s[20..27].parse::<i64>().unwrap(), long % 10_000_000, "{s} vs {long}");
    long
}

/// `<Message>`/`<FirstMessage>`: its attributes, `<Sender>` and `<DateTimeUTC>`.
fn message(n: roxmltree::Node<'_, '_>) -> (i64, String, i64, String) {
    assert_eq!(attr(n, "type"), "CHAT");
    let k = kids(n);
    let names: Vec<&str> = k.iter().map(|c| c.tag_name().name()).collect();
    assert_eq!(names, ["Sender", "DateTimeUTC"]);
    let sender = k[0];
    attr(sender, "id").parse::<i64>().expect("a numeric sender id");
    assert!(!attr(sender, "uri").starts_with("sip:") && attr(sender, "uri").contains('@'));
    assert!(!attr(sender, "UserName").is_empty());
    assert!(["true", "false"].contains(&attr(sender, "internal")));
    (
        attr(n, "id").parse().unwrap(),
        attr(n, "content").to_string(),
        time_of(k[1]),
        attr(sender, "uri").into(),
    )
}

/// Parses one export file and checks it against Microsoft's documented structure.
fn parse(path: &Path, domain: &str) -> Parsed {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"), "{}", path.display());
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "Conversations");
    let convs = kids(root);
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0].tag_name().name(), "Conversation");
    let parts = kids(convs[0]);
    let names: Vec<&str> = parts.iter().map(|c| c.tag_name().name()).collect();
    assert_eq!(names, ["Channel", "FirstMessage", "Messages", "StartTimeUTC", "EndTimeUTC"]);
    let uri = attr(parts[0], "uri");
    let guid = uri.strip_prefix(&format!("ma-chan://{domain}/")).unwrap_or_else(|| panic!("{uri}"));
    assert!(!attr(parts[0], "name").is_empty());
    let first = message(parts[1]);
    let msgs: Vec<_> = kids(parts[2])
        .into_iter()
        .map(|m| {
            assert_eq!(m.tag_name().name(), "Message");
            message(m)
        })
        .collect();
    assert!(!msgs.is_empty());
    assert_eq!(first, msgs[0], "FirstMessage is the first message");
    assert!(msgs.windows(2).all(|w| (w[0].2, w[0].0) < (w[1].2, w[1].0)), "time order");
    assert_eq!(time_of(parts[3]), msgs[0].2);
    assert_eq!(time_of(parts[4]), msgs.last().unwrap().2);
    Parsed { guid: guid.to_string(), messages: msgs.into_iter().map(|m| (m.0, m.1)).collect() }
}

fn sha256(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks an export directory (every file parsed, checksums recomputed, each message
/// once); returns its manifest.
fn check_export(dir: &Path) -> serde_json::Value {
    let m = json(&dir.join("manifest.json"));
    let domain = m["channel_domain"].as_str().unwrap();
    let mut per_room: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let files = m["files"].as_array().unwrap();
    for f in files {
        let path = dir.join(f["file"].as_str().unwrap());
        assert_eq!(sha256(&path), f["sha256"], "{}", path.display());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), f["bytes"].as_u64().unwrap());
        let p = parse(&path, domain);
        assert_eq!(p.guid, f["room_guid"]);
        assert_eq!(p.messages.len() as u64, f["messages"].as_u64().unwrap());
        let ids = per_room.entry(p.guid).or_default();
        for (id, _) in p.messages {
            assert!(ids.insert(id), "chatId {id} of {} twice", f["room_guid"]);
        }
    }
    let xml: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    assert_eq!(xml.len(), files.len(), "only the manifest's files: {xml:?}");
    let left = m["left_out"].as_array().unwrap();
    for r in m["rooms"].as_array().unwrap() {
        let guid = r["legacy_guid"].as_str().unwrap();
        let exported = r["exported"].as_u64().unwrap();
        assert_eq!(per_room.get(guid).map_or(0, |s| s.len() as u64), exported, "{guid}");
        let out = left.iter().filter(|l| l["room_guid"] == guid).count() as u64;
        assert_eq!(r["read"].as_u64().unwrap(), exported + out, "{guid}");
    }
    m
}

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

/// Every file of an export directory, by name.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
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
