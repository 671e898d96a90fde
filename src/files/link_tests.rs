//! Unit tests of the `ma-filelink:` grammar.

use super::*;

const ROOM: &str = "f35dda42-98f0-5bb9-936f-df725696c095";
const FILE: &str = "aca5fc37-1342-5963-88bf-7334d3b5a500";

fn contoso(hosts: &[&str], target: Option<&str>) -> Rules {
    let opts = FileOptions {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        filestore_uri: target.map(str::to_string),
        ..FileOptions::default()
    };
    Rules::new(&opts, Some("https://gcweb.contoso.com/MGCWebService/MGCWebService.asmx"))
}

#[test]
fn share_links_resolve_below_their_share_on_a_store_host() {
    let r = contoso(&["FS.Contoso.com"], None);
    let content = format!(
        "Q3 deck: ma-filelink://fs.contoso.com/GroupChatFiles/{ROOM}/{FILE}/Q3%20Kickoff%20EMEA.pptx. Thanks"
    );
    let links: Vec<_> = r.links(&content).collect();
    assert_eq!(links.len(), 1);
    assert!(links[0].text.ends_with(".pptx"), "sentence dot dropped: {}", links[0].text);
    assert_eq!(
        links[0].kind,
        Kind::Store {
            prefix_len: "//fs.contoso.com/GroupChatFiles".len(),
            rel: format!("{ROOM}/{FILE}/Q3 Kickoff EMEA.pptx")
        }
    );
}

#[test]
fn other_hosts_are_foreign_and_the_filestore_uri_host_is_a_store_host() {
    let r = contoso(&[], None);
    let link = format!("//fs.contoso.com/GroupChatFiles/{ROOM}/{FILE}/a.xlsx");
    assert_eq!(r.classify(&link), Kind::Foreign { host: "fs.contoso.com".into() });
    let on_web = format!("//GCWEB.contoso.com:443/Files/{ROOM}/{FILE}/a.xlsx");
    assert!(matches!(r.classify(&on_web), Kind::Store { .. }));
    let by_uri =
        format!("https://gcweb.contoso.com/MGCWebService/MGCWebService.asmx/{ROOM}/a.xlsx");
    assert_eq!(
        r.classify(&by_uri),
        Kind::Store {
            prefix_len: "https://gcweb.contoso.com/MGCWebService/MGCWebService.asmx".len(),
            rel: format!("{ROOM}/a.xlsx")
        }
    );
    assert_eq!(r.classify("report.pdf"), Kind::Foreign { host: String::new() });
}

#[test]
fn explicit_prefixes_replace_the_default_rules() {
    let opts = FileOptions {
        prefixes: vec!["//fs.contoso.com/GroupChatFiles/".into()],
        ..Default::default()
    };
    let r = Rules::new(&opts, Some("https://gcweb.contoso.com/x.asmx"));
    assert!(matches!(r.classify("//FS.contoso.com/GroupChatFiles/a/b.txt"), Kind::Store { .. }));
    assert!(matches!(r.classify("//fs.contoso.com/Other/a/b.txt"), Kind::Foreign { .. }));
    assert!(matches!(r.classify("https://gcweb.contoso.com/x.asmx/a/b.txt"), Kind::Foreign { .. }));
}

#[test]
fn paths_that_leave_the_store_are_refused() {
    let r = contoso(&["fs.contoso.com"], Some("//new/store"));
    for bad in ["a/../../etc/passwd", "a/%2e%2e/b", "a//b", "a/b%5cc", "c:/x", "a/%00"] {
        let link = format!("//fs.contoso.com/share/{bad}");
        assert!(matches!(r.classify(&link), Kind::BadPath { .. }), "{bad}");
        // …and never rewritten.
        let content = format!("ma-filelink:{link}");
        assert_eq!(r.rewrite(content.as_bytes()), content.as_bytes());
    }
}

#[test]
fn rewrite_swaps_only_the_store_prefix_of_store_links() {
    let r = contoso(&["fs.contoso.com"], Some("//pcfs.fabrikam.com/PCFiles/"));
    let content = format!(
        "two: ma-filelink://fs.contoso.com/GroupChatFiles/{ROOM}/{FILE}/a%20b.docx and \
         ma-filelink://elsewhere.example/s/x.pdf, then \"ma-filelink://fs.contoso.com/GroupChatFiles/{ROOM}/c.png\""
    );
    let out = String::from_utf8(r.rewrite(content.as_bytes()).into_owned()).unwrap();
    assert_eq!(
        out,
        format!(
            "two: ma-filelink://pcfs.fabrikam.com/PCFiles/{ROOM}/{FILE}/a%20b.docx and \
             ma-filelink://elsewhere.example/s/x.pdf, then \"ma-filelink://pcfs.fabrikam.com/PCFiles/{ROOM}/c.png\""
        )
    );
    // No link, or no rewrite rule: the content is borrowed as it is.
    assert!(matches!(r.rewrite(b"plain text"), Cow::Borrowed(_)));
    let none = contoso(&["fs.contoso.com"], None);
    assert!(matches!(none.rewrite(content.as_bytes()), Cow::Borrowed(_)));
    assert_eq!(r.rewrite_text(content), out);
}

#[test]
fn odd_contents_never_panic() {
    let r = contoso(&["fs.contoso.com"], Some("//t/s"));
    for c in [
        "ma-filelink:",
        "ma-filelink:.",
        "xma-filelink:ma-filelink://fs.contoso.com/s/a",
        "ma-filelink://fs.contoso.com/s/%",
        "ma-filelink://fs.contoso.com/s/%e2%82",
    ] {
        let _ = r.links(c).count();
        let _ = r.rewrite(c.as_bytes());
    }
    assert_eq!(percent_decode("a%20b%zz%4"), b"a b%zz%4");
    assert_eq!(host_of("https://user@Host.Example:8443/x").as_deref(), Some("host.example"));
}
