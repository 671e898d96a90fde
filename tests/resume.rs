//! A load killed with SIGKILL at random moments, then rerun, equals an uninterrupted load.

use std::time::Duration;

use crate::util::*;

fn killed_then_rerun(reference: &str, victim: &str) {
    killed_then_rerun_with(reference, victim, &|url| fingerprint(url, Some(LOADED_ROWS)));
}

/// Loads a synthetic deployment into `reference`, then into `victim` killed (SIGKILL) three
/// times at pseudo-random moments and rerun; both targets must have the same
/// `fingerprint` and the victim must verify. Returns the environment of the workspace.
pub(crate) fn killed_then_rerun_with(
    reference: &str,
    victim: &str,
    fingerprint: &dyn Fn(&str) -> Fingerprint,
) -> TestEnv {
    let env =
        TestEnv::new("resume").synth(&["--messages", "20000", "--rooms", "40", "--seed", "3"]);
    env.extract().plan();
    // Not through the env: the load is spawned and killed.
    let load = |target: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gcmigrate"));
        c.current_dir(&env.dir)
            .args([
                "load",
                "-q",
                "--create-schema",
                "--chunk",
                "50",
                "--jobs",
                "2",
                "--target",
                target,
                "--workspace",
            ])
            .arg(&env.ws);
        c
    };
    let started = std::time::Instant::now();
    assert!(load(reference).status().unwrap().success());
    // Kill moments fall inside the time an uninterrupted load takes on this machine.
    let span = started.elapsed().as_millis().max(20) as u64;

    // Kill the load three times at pseudo-random moments, then let it finish.
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
            as u64;
    let mut kills = 0;
    for i in 0..3u64 {
        // The first kill falls early (5–35 % of the reference's time), so that a victim run
        // faster than the reference on a busy machine is still killed at least once; the
        // others anywhere in 10–90 %.
        let (from, width) =
            if i == 0 { (span / 20, span * 3 / 10) } else { (span / 10, span * 8 / 10) };
        let delay = from
            + (seed.wrapping_mul(6364136223846793005).wrapping_add(i * 1442695040888963407) >> 33)
                % width.max(1);
        let mut child = load(victim).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
        eprintln!("resume test: run {i} killed after {delay} ms (seed {seed})");
    }
    assert!(load(victim).status().unwrap().success());
    assert!(kills > 0, "the load finished before any kill: make it bigger");
    assert_eq!(fingerprint(reference), fingerprint(victim), "seed {seed}");
    env.run(&["verify", "-q", "--target", victim]);
    env
}

#[test]
fn sqlite_load_killed_and_rerun_equals_uninterrupted() {
    let dir = tmp_dir("resume-sqlite");
    killed_then_rerun(&sqlite_url(&dir, "ref.db"), &sqlite_url(&dir, "victim.db"));
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn postgres_load_killed_and_rerun_equals_uninterrupted() {
    let (Some(a), Some(b)) = (pg_database("resume_ref"), pg_database("resume_victim")) else {
        return;
    };
    killed_then_rerun(&a, &b);
}
