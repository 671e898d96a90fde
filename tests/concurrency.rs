//! Concurrent runs (issue #16, Deliver 6): while a load, freeze or rollback holds a
//! workspace (its `gcmigrate.lock`) or a target (its `gcmigrate_lock` row), a second one
//! is refused at once with exit 2 and one line naming the holder, and writes nothing; a
//! lock whose process is gone is taken over with a note.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::util::*;
use gcmigrate::staging::lock::{host_name, FILE};

/// A planned synthetic workspace (not loaded).
fn planned(name: &str, seed: &str) -> TestEnv {
    let env = TestEnv::new(name).synth(&[
        "--users",
        "30",
        "--groups",
        "4",
        "--rooms",
        "10",
        "--messages",
        "500",
        "--seed",
        seed,
    ]);
    env.extract().plan();
    env
}

/// A process that runs until killed: the live holder of a lock in these tests.
struct Holder(Child);

impl Holder {
    fn start() -> Holder {
        Holder(Command::new("sleep").arg("120").spawn().unwrap())
    }
    fn label(&self) -> String {
        format!("{}:{}", host_name(), self.0.id())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A pid no process has (above Linux's pid_max).
fn dead_label() -> String {
    format!("{}:999999999", host_name())
}

fn write_lock_file(env: &TestEnv, holder: &str) {
    let body =
        format!("holder={holder}\ncommand=gcmigrate load --wave all\nsince=2026-01-01T00:00:00Z\n");
    std::fs::write(env.ws.join(FILE), body).unwrap();
}

fn insert_lock_row(target: &str, holder: &str) {
    exec(
        target,
        &format!(
            "CREATE TABLE IF NOT EXISTS gcmigrate_lock (lock_key VARCHAR(32) NOT NULL PRIMARY KEY, \
             holder VARCHAR(256) NOT NULL, command VARCHAR(256) NOT NULL, since VARCHAR(40) NOT NULL); \
             INSERT INTO gcmigrate_lock VALUES ('target', '{holder}', 'gcmigrate load --wave all', 'x')"
        ),
    );
}

/// Runs `args`, which must be refused at once (exit 2, one line naming the holder).
#[track_caller]
fn refused(env: &TestEnv, args: &[&str], holder: &str) {
    let t = Instant::now();
    let out = env.output(args).expect(2);
    assert!(t.elapsed() < Duration::from_secs(10), "not refused at once: {:?}\n{out}", t.elapsed());
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{out}");
    assert!(line.contains("is in use by `gcmigrate load --wave all`"), "{out}");
    assert!(line.contains(holder), "{out}");
    assert!(!line.to_lowercase().contains("constraint"), "{out}");
}

#[test]
fn a_running_holder_of_the_workspace_refuses_load_freeze_rollback_and_extract() {
    let env = planned("lock-ws", "1");
    env.load();
    let before = fingerprint(&env.target, None);
    let holder = Holder::start();
    write_lock_file(&env, &holder.label());
    let t = env.target.clone();
    refused(&env, &["load", "-q", "--target", &t], &holder.label());
    refused(
        &env,
        &["rollback", "-q", "--wave", "default", "--execute", "--target", &t],
        &holder.label(),
    );
    refused(
        &env,
        &["freeze", "-q", "--wave", "default", "--source", &env.source.clone()],
        &holder.label(),
    );
    refused(&env, &["extract", "-q", "--source", &env.source.clone()], &holder.label());
    assert_eq!(fingerprint(&env.target, None), before, "a refused run wrote");
    assert_eq!(scalar(&env.source, "SELECT COUNT(*) FROM tblNode WHERE disabled <> 0"), 0);
    assert!(env.ws.join(FILE).exists(), "a refused run removed the holder's lock");
    // Rendering a script only reads: not refused.
    env.run(&["rollback", "-q", "--wave", "default", "--dialect", "sqlite"]);

    // The holder is gone: the next run takes the lock over, says so, and removes it.
    drop(holder);
    let out = env.run(&["load", "--target", &t]);
    assert!(out.stderr.contains("took over the workspace lock"), "{out}");
    assert!(!env.ws.join(FILE).exists());
    env.verify();
}

#[test]
fn a_stale_workspace_lock_is_taken_over() {
    let env = planned("lock-ws-stale", "2");
    write_lock_file(&env, &dead_label());
    let out = env.run(&["load", "--create-schema", "--target", &env.target.clone()]);
    assert!(out.stderr.contains("which no longer runs"), "{out}");
    assert!(!env.ws.join(FILE).exists());
    env.verify();
}

#[test]
fn a_running_holder_of_the_target_refuses_another_workspace() {
    let a = planned("lock-target-a", "1");
    a.load();
    let t = a.target.clone();
    // Another workspace (another deployment, its own wave) into the same target.
    let b = TestEnv::new("lock-target-b").target(&t).synth(&[
        "--users",
        "5",
        "--groups",
        "1",
        "--rooms",
        "3",
        "--messages",
        "50",
        "--seed",
        "9",
    ]);
    let b = b.mapping("gcmigrate.toml", "default_wave = \"b\"\n");
    b.extract();
    b.run(&["plan", "-q", "--mappings", b.maps().to_str().unwrap()]);
    let before = fingerprint(&t, None);
    let holder = Holder::start();
    insert_lock_row(&t, &holder.label());
    refused(&b, &["load", "-q", "--wave", "b", "--target", &t], &holder.label());
    refused(&a, &["load", "-q", "--target", &t], &holder.label());
    refused(
        &a,
        &["rollback", "-q", "--wave", "default", "--execute", "--target", &t],
        &holder.label(),
    );
    let out = b.output(&["load", "-q", "--wave", "b", "--target", &t]);
    assert!(out.stderr.contains("DELETE FROM gcmigrate_lock WHERE lock_key = 'target'"), "{out}");
    assert_eq!(fingerprint(&t, None), before, "a refused run wrote");
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM gcmigrate_lock"), 1, "the holder's row stays");
    // Neither workspace keeps its own lock after the refusal.
    assert!(!a.ws.join(FILE).exists() && !b.ws.join(FILE).exists());

    // The holder is gone: its row is taken over, with a note, and released after.
    drop(holder);
    let out = a.run(&["rollback", "--wave", "default", "--execute", "--target", &t]);
    assert!(out.stderr.contains("took over the target lock"), "{out}");
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM gcmigrate_lock"), 0);
    // A row left by a killed load (dead pid) is taken over too.
    insert_lock_row(&t, &dead_label());
    b.run(&["load", "-q", "--wave", "b", "--target", &t]);
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM gcmigrate_lock"), 0);
    assert!(
        scalar(&t, "SELECT COUNT(*) FROM gcmigrate_ledger WHERE wave = 'b' AND kind = 'chat'") > 0
    );
}

/// Starts `gcmigrate ARGS… --workspace WS` in the background.
fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    let ws = env.ws.to_str().unwrap();
    Command::new(assert_cmd::cargo::cargo_bin("gcmigrate"))
        .current_dir(&env.dir)
        .args(args)
        .args(["--workspace", ws])
        .env_remove("GCMIGRATE_SOURCE")
        .env_remove("GCMIGRATE_TARGET")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn simultaneous_loads_are_one_load_and_clear_refusals() {
    race("lock-race", None);
}

#[test]
fn simultaneous_loads_into_postgres_are_one_load_and_clear_refusals() {
    let Some(pg) = pg_database("simultaneous_loads_into_postgres") else { return };
    race("lock-race-pg", Some(&pg));
}

/// Three loads at once (two of one workspace, one of a copy of it) into one target.
fn race(name: &str, target: Option<&str>) {
    let mut a = planned(&format!("{name}-a"), "5");
    if let Some(t) = target {
        a = a.target(t);
    }
    // The same deployment in a second workspace, into the same target.
    let b = a.copy(&format!("{name}-b"));
    let t = a.target.clone();
    let mut runs = Vec::new();
    for env in [&a, &a, &b] {
        runs.push(spawn(env, &["load", "-q", "--create-schema", "--target", &t]));
    }
    let (mut ok, mut refused) = (0, 0);
    for r in runs {
        let out = r.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => ok += 1,
            Some(2) => {
                assert!(err.contains("is in use by `gcmigrate load"), "{err}");
                refused += 1;
            }
            c => panic!("exit {c:?}: {err}"),
        }
    }
    assert!(ok >= 1 && ok + refused == 3);
    // Whatever interleaving: every message exactly once, and the target verifies.
    let expected = scalar(&t, "SELECT COUNT(*) FROM tblChat");
    a.run(&["load", "-q", "--target", &t]);
    b.run(&["load", "-q", "--target", &t]);
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM tblChat"), expected);
    a.verify();
    b.run(&["verify", "-q", "--target", &t]);
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM gcmigrate_lock"), 0);
}

#[test]
fn a_running_holder_of_the_workspace_or_the_target_refuses_a_cutover() {
    let env = planned("lock-cutover", "3");
    env.load();
    env.verify();
    let t = env.target.clone();
    let cut = ["cutover", "-q", "--without-freeze", "--wave", "default", "--target", &t];
    let before = fingerprint(&t, None);
    let holder = Holder::start();
    write_lock_file(&env, &holder.label());
    refused(&env, &cut, &holder.label());
    std::fs::remove_file(env.ws.join(FILE)).unwrap();
    insert_lock_row(&t, &holder.label());
    refused(&env, &cut, &holder.label());
    assert_eq!(fingerprint(&t, None), before, "a refused cutover wrote");
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM gcmigrate_ledger WHERE kind = 'cutover'"), 0);
    exec(&t, "DELETE FROM gcmigrate_lock");
    env.run(&cut);
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM gcmigrate_ledger WHERE kind = 'cutover'"), 1);
    assert_eq!(
        scalar(&t, "SELECT COUNT(*) FROM gcmigrate_lock"),
        0,
        "the cutover released its lock"
    );
}
