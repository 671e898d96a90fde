//! Mapping files through the command line: the shipped examples apply to Contoso, and
//! every broken file gives `file:line:column: message`, exit 2 and no plan.

use std::path::Path;

use crate::util::*;

fn extracted(dir: &Path) -> std::path::PathBuf {
    let src = sqlite_url(dir, "legacy.db");
    contoso(&src);
    let ws = dir.join("ws");
    gcm().args(["extract", "-q", "--source", &src, "--workspace"]).arg(&ws).assert().success();
    ws
}

#[test]
fn shipped_mappings_apply_to_contoso() {
    let dir = tmp_dir("mappings-shipped");
    let ws = extracted(&dir);
    let maps = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    gcm().args(["plan", "-q", "--workspace"]).arg(&ws).arg("--mappings").arg(&maps).assert().success();
    let plan = json(&ws.join("reports/plan.json"));
    let waves: Vec<&str> = plan["waves"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert!(waves.contains(&"pilot") && waves.contains(&"wave2"), "{waves:?}");
    let pools: Vec<&str> = plan["categories"].as_array().unwrap().iter().map(|c| c["pool"].as_str().unwrap()).collect();
    assert!(pools.contains(&"pc-eng"));
    let excluded = plan["excluded_rooms"].as_array().unwrap();
    assert!(excluded.iter().any(|e| e["legacy_path"] == "/Company/Old Water Cooler" && e["rule"].as_str().unwrap().starts_with("rooms.csv:")));
    let jane = plan["principals"].as_array().unwrap().iter().find(|p| p["uri"] == "sip:jane.doe@contoso.com").expect("Jane remapped");
    assert_eq!(jane["disabled"], false);
    // Every wave can be loaded on its own, then verified.
    let target = sqlite_url(&dir, "mgc.db");
    for w in waves {
        gcm().args(["load", "-q", "--create-schema", "--wave", w, "--target", &target, "--workspace"]).arg(&ws).assert().success();
        gcm().args(["verify", "-q", "--wave", w, "--target", &target, "--workspace"]).arg(&ws).assert().success();
    }
}

#[test]
fn broken_mapping_files_name_file_line_and_column_and_exit_2() {
    let dir = tmp_dir("mappings-broken");
    let ws = extracted(&dir);
    let cases = [
        ("bad-row", "rooms.csv:4:47:"),
        ("unterminated-quote", "categories.csv:3:1:"),
        ("unknown-column", "principals.csv:1:38:"),
        ("missing-column", "rooms.csv:2:1:"),
        ("duplicate-key", "categories.csv:5:1:"),
        ("bad-enum", "rooms.csv:2:30:"),
        ("bad-action", "principals.csv:2:31:"),
        ("missing-principal", "principals.csv:4:1:"),
        ("missing-room", "rooms.csv:2:1:"),
        ("bom-crlf-bad", "categories.csv:3:43:"),
    ];
    for (case, expected) in cases {
        let _ = std::fs::remove_file(ws.join("reports/plan.json"));
        let maps = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mappings-broken").join(case);
        let out = gcm().args(["plan", "--workspace"]).arg(&ws).arg("--mappings").arg(&maps).assert().code(2).get_output().clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{case}: expected `{expected}` in: {err}");
        assert!(!ws.join("reports/plan.json").exists(), "{case}: no plan is written");
    }
    let ok = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mappings-broken/bom-crlf");
    gcm().args(["plan", "-q", "--workspace"]).arg(&ws).arg("--mappings").arg(&ok).assert().success();
}
