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
        "extract", "plan", "load", "verify", "rollback", "export", "freeze", "cutover", "migrate",
        "demo", "synth", "bench",
    ] {
        let out = gcm().args([cmd, "--help"]).assert().success().get_output().clone();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("gcmigrate "),
            "{cmd} --help has an example"
        );
    }
}

#[test]
fn zero_jobs_chunks_and_unsafe_wave_names_are_refused_by_the_parser() {
    let dir = tmp_dir("options");
    let ws = dir.to_str().unwrap();
    let target = sqlite_url(&dir, "mgc.db");
    for (args, says) in [
        (vec!["load", "--jobs", "0"], "--jobs"),
        (vec!["load", "--chunk", "0"], "--chunk"),
        (vec!["load", "--jobs", "two"], "`two` is not a whole number"),
        (vec!["load", "--wave", "../../x"], "wave name `../../x`"),
        (vec!["load", "--wave", ".."], "`..` is not a valid wave name"),
        (vec!["verify", "--wave", "a b"], "wave name `a b`"),
        (vec!["rollback", "--wave", "x/y"], "wave name `x/y`"),
        (vec!["freeze", "--wave", "p\u{e9}", "--source", "sqlite://x.db"], "wave name"),
        (vec!["migrate", "--source", "sqlite://x.db", "--jobs", "0"], "--jobs"),
        (vec!["bench", "--repeat", "0"], "--repeat"),
    ] {
        let mut cmd = gcm();
        cmd.args(&args).args(["--workspace", ws]);
        if matches!(args[0], "load" | "verify" | "migrate") {
            cmd.args(["--target", &target]);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} names the problem: {err}");
        assert!(!dir.join("mgc.db").exists(), "{args:?}: nothing was opened");
    }
}

#[test]
fn an_unsafe_wave_name_in_the_mapping_files_is_refused_before_anything_is_planned() {
    let env = TestEnv::new("wavefiles").contoso();
    env.extract();
    for (file, text, says) in [
        (
            "gcmigrate.toml",
            "separator = \"-\"\ndefault_wave = \"../../x\"\n",
            "gcmigrate.toml:2:1: default_wave",
        ),
        ("rooms.csv", "room,wave\n/Sales/EMEA/Pipeline,a/b\n", "rooms.csv:2:"),
        ("categories.csv", "legacy_path,wave\n/Sales/**,..\n", "categories.csv:2:"),
    ] {
        let _ = std::fs::remove_dir_all(env.maps());
        let env = env.copy(&format!("wavefiles-{file}")).mapping(file, text);
        let out = env.output(&["plan", "-q", "--mappings", env.maps().to_str().unwrap()]).expect(2);
        let first = out.stderr.lines().next().unwrap_or("");
        assert!(first.contains(says) && first.contains("wave"), "{file}: {first}");
        assert!(!env.ws.join("reports/plan.json").exists(), "{file}: no plan is written");
    }
}

#[test]
fn a_missing_mappings_directory_is_bad_input_naming_it() {
    let env = TestEnv::new("nomaps").contoso();
    env.extract();
    let out = env.output(&["plan", "-q", "--mappings", "/nonexistent/maps"]).expect(2);
    assert!(out.stderr.contains("mappings directory /nonexistent/maps does not exist"), "{out}");
    assert!(out.stderr.contains("--mappings NONE"), "says what to do: {out}");
}

#[test]
fn files_that_are_not_sqlite_databases_fail_at_once_naming_the_file() {
    let env = TestEnv::new("notsqlite").contoso();
    env.extract().plan();
    std::fs::write(env.dir.join("mgc.db"), vec![0x5a; 8192]).unwrap();
    let start = std::time::Instant::now();
    let out = env.output(&["load", "-q", "--target", &env.target]).expect(2);
    assert!(start.elapsed() < std::time::Duration::from_secs(10), "no connection retries");
    assert!(
        out.stderr.starts_with("error: ") && out.stderr.contains("mgc.db: not an SQLite database"),
        "{out}"
    );
    // A workspace whose history file was cut short.
    let hist = env.ws.join("history.db");
    let body = std::fs::read(&hist).unwrap();
    std::fs::write(&hist, &body[..body.len() / 3]).unwrap();
    let out = env.output(&["plan", "-q"]).expect(2);
    assert!(out.stderr.contains("history.db: truncated SQLite database"), "{out}");
}

#[test]
fn an_unanswering_postgres_fails_within_its_connect_timeout_with_a_hint() {
    let dir = tmp_dir("pg-timeout");
    // TEST-NET-1 (RFC 5737): never routed, so either nothing answers or the network says so.
    let start = std::time::Instant::now();
    let out = gcm()
        .args([
            "extract",
            "-q",
            "--source",
            "postgres://u:s3cret@192.0.2.1:5432/gc?connect_timeout=2",
        ])
        .arg("--workspace")
        .arg(&dir)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(8), "took {:?}", start.elapsed());
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("cannot connect to PostgreSQL") && err.contains("connect_timeout"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    let out = gcm()
        .args(["extract", "--source", "postgres://u@127.0.0.1:1/gc?connect_timeout=zero"])
        .arg("--workspace")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `gcmigrate ARGS…` with stdout and stderr on a pipe whose reading end is closed
/// before it starts: every write fails with EPIPE.
fn with_closed_pipes(env: &TestEnv, args: &[&str]) -> std::process::ExitStatus {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("gcmigrate"));
    cmd.current_dir(&env.dir).args(args).args(["--workspace", env.ws.to_str().unwrap()]);
    cmd.stdout(writer.try_clone().unwrap()).stderr(writer);
    cmd.status().unwrap()
}

#[test]
fn a_closed_pipe_keeps_the_exit_code_and_never_panics() {
    let env = TestEnv::new("pipes").contoso();
    env.extract().plan().load();
    // `verify … 2>&1 | head -1`: the PASS still exits 0 …
    assert_eq!(with_closed_pipes(&env, &["verify", "--target", &env.target]).code(), Some(0));
    // … a refusal still exits 2 (its message is lost, not turned into a panic) …
    let typo = with_closed_pipes(&env, &["verify", "--target", &env.target, "--wave", "Pilot"]);
    assert_eq!(typo.code(), Some(2));
    // … and a command that prints to stdout (rollback prints the script's path) exits 0.
    let rb = with_closed_pipes(&env, &["rollback", "--dialect", "sqlite", "--target", &env.target]);
    assert_eq!(rb.code(), Some(0));
}

/// The plan and snapshot stream from the workspace as they are parsed: a body cut short
/// (a disk that filled up, a copy interrupted) is one line naming what is unreadable, never
/// a panic, and nothing is written to the target.
#[test]
fn a_truncated_stored_plan_or_snapshot_is_one_clear_error() {
    let env = TestEnv::new("truncated-body").contoso();
    env.extract().plan();
    let staging = sqlite_url(&env.ws, "staging.db");
    for (table, what) in [("plan", "plan"), ("snapshot", "snapshot")] {
        let copy = env.copy(&format!("truncated-{table}"));
        let staging_copy = sqlite_url(&copy.ws, "staging.db");
        exec(&staging_copy, &format!("UPDATE {table} SET body = substr(body, 1, 1000)"));
        let out = copy.output(&["load", "--target", &copy.target, "--create-schema"]);
        assert_eq!(out.code, 3, "{out}");
        assert!(out.all().contains(&format!("the workspace's {what} is unreadable")), "{out}");
        assert!(!out.all().contains("panicked"), "{out}");
        assert!(
            !copy.dir.join("mgc.db").exists()
                || scalar(&copy.target, "SELECT COUNT(*) FROM tblChat") == 0
        );
    }
    // The untouched workspace still loads.
    assert!(scalar(&staging, "SELECT length(body) FROM plan") > 1000);
    env.load();
}
