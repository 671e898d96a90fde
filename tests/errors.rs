//! Bad input (exit 2) and runtime failures (exit 3), with messages that say what to do.

use crate::util::*;

#[test]
fn unreachable_postgres_is_exit_3_and_hides_the_password() {
    let dir = tmp_dir("unreachable");
    let out = gcm()
        .args(["extract", "--source", "postgres://u:s3cret@127.0.0.1:1/gc", "--workspace"])
        .arg(&dir)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(3)
        .get_output()
        .clone();
    let all =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("cannot connect"), "{all}");
    assert!(!all.contains("s3cret"), "{all}");
}

#[test]
fn missing_sqlite_source_is_bad_input() {
    let dir = tmp_dir("missing");
    let out = gcm()
        .args(["extract", "--source", "sqlite:///nonexistent/x.db", "--workspace"])
        .arg(&dir)
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn plan_without_extract_says_what_to_run() {
    let dir = tmp_dir("noextract");
    let out = gcm()
        .args(["plan", "--workspace"])
        .arg(dir.join("nothing"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("gcmigrate extract"));
}

#[test]
fn broken_mapping_option_names_file_line_and_column() {
    let env = TestEnv::new("badmap").contoso();
    env.extract();
    let env = env.mapping("gcmigrate.toml", "separator = \"-\"\ndrop_root_manager = true\n");
    let out = env.command(&["plan"]).arg("--mappings").arg(env.maps()).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(err.contains("gcmigrate.toml:2:1:"), "{err}");
    assert!(!env.ws.join("reports/plan.json").exists(), "no plan is written on a mapping error");
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for cmd in [
        "extract", "plan", "load", "verify", "rollback", "export", "freeze", "migrate", "demo",
        "synth", "bench",
    ] {
        let out = gcm().args([cmd, "--help"]).assert().success().get_output().clone();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("gcmigrate "),
            "{cmd} --help has an example"
        );
    }
}
