//! The checker of compliance exports (see `compliance.rs`): each file parsed with a
//! strict XML parser (roxmltree) and checked against the structure Microsoft documents
//! ("Customizing the XSLT definition file in Lync Server 2013"), the time attributes
//! against each other, the manifest's checksums recomputed, each message counted once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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
pub(crate) fn check_export(dir: &Path) -> serde_json::Value {
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

/// Every file of an export directory, by name.
pub(crate) fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}
