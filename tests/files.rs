//! The legacy file repository: the plan's inventory of `ma-filelink` links (missing,
//! oversize, foreign), `gcmigrate files` (verified copies, the missing file named by room
//! GUID and chatId, killed and resumed, a different destination file never overwritten
//! silently), `verify --files`, and the link rewrite at load that verify accounts for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::*;

/// The fixture tree: all of Contoso's linked files but the Town Hall recording.
const FIXTURE: &str = "fixtures/contoso-files";
const MISSING_ROOM: &str = "63e7c605-b965-5fc2-81af-0644b678e3b6";
const MISSING: &str = "63e7c605-b965-5fc2-81af-0644b678e3b6/e13406a2-acf7-5dc6-82c8-2762ff24610e/TownHall-2011-04.wmv";
const LARGE: &str = "a17b68b2-5c07-5e53-b373-cfba9ddc1c4c/94b0d32a-53f5-50c9-b305-2bae0e267f6e/falcon-loadtest-2011-05-02.zip";
const SPACED: &str = "f35dda42-98f0-5bb9-936f-df725696c095/aca5fc37-1342-5963-88bf-7334d3b5a500/Q3 Kickoff EMEA.pptx";

/// Contoso extracted, its repository copied to `DIR/repo`, mappings naming the file
/// store's host (plus `extra` lines under `[files]`), planned with `--files-from`.
fn env(name: &str, extra: &str) -> TestEnv {
    let env = TestEnv::new(name)
        .contoso()
        .mapping("gcmigrate.toml", &format!("[files]\nhosts = [\"fs.contoso.com\"]\n{extra}"));
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &env.dir.join("repo"));
    env.extract();
    plan(&env);
    env
}

/// `plan -q --mappings maps --files-from repo`.
fn plan(env: &TestEnv) {
    env.run(&["plan", "-q", "--mappings", "maps", "--files-from", "repo"]);
}

/// `gcmigrate files --from repo --to store` and its outcome.
fn files(env: &TestEnv, more: &[&str]) -> Outcome {
    env.output(&[&["files", "--from", "repo", "--to", "store"][..], more].concat())
}

/// Every regular file below `dir`, relative, `/`-separated, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().components();
                out.push(
                    rel.map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn sha(p: &Path) -> String {
    gcmigrate::files::hash::file(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).0
}

fn findings(env: &TestEnv) -> String {
    std::fs::read_to_string(env.ws.join("reports/findings.csv")).unwrap()
}

fn store(env: &TestEnv) -> PathBuf {
    env.dir.join("store")
}

#[test]
fn files_copies_every_present_file_verified_and_names_the_missing_one() {
    let env = env("files-copy", "");
    let f = findings(&env);
    let missing: Vec<&str> = f.lines().filter(|l| l.contains("FILE_MISSING")).collect();
    assert_eq!(missing.len(), 1, "{f}");
    assert!(
        missing[0].contains(MISSING_ROOM)
            && missing[0].contains("chatId 6")
            && missing[0].contains(MISSING)
    );
    assert!(!f.contains("FILE_TOO_LARGE") && !f.contains("FILE_LINK_FOREIGN_HOST"), "{f}");
    assert!(
        f.contains("FILES_WAVE") && f.contains("19 file link(s)") && f.contains("1 missing"),
        "{f}"
    );
    let inventory = std::fs::read_to_string(env.ws.join("reports/files.csv")).unwrap();
    assert_eq!(inventory.lines().count(), 1 + 19, "{inventory}");

    // A dry run writes nothing and lists every file it would copy.
    let dry = files(&env, &["--dry-run"]).expect(1);
    assert_eq!(dry.stdout.lines().filter(|l| l.starts_with("would copy")).count(), 18, "{dry}");
    assert!(!store(&env).exists(), "a dry run created the store");

    let out = files(&env, &[]).expect(1);
    assert!(out.stderr.contains("18 file(s) copied"), "{out}");
    assert!(out.stderr.contains(MISSING_ROOM) && out.stderr.contains("chatId 6"), "{out}");
    let copied = tree(&store(&env));
    assert_eq!(copied, tree(&env.dir.join("repo")), "same layout below the store root");
    assert!(copied.iter().any(|p| p == SPACED), "the %-decoded name: {copied:?}");
    for rel in &copied {
        assert_eq!(sha(&store(&env).join(rel)), sha(&env.dir.join("repo").join(rel)), "{rel}");
    }
    let csv = std::fs::read_to_string(env.ws.join("reports/files-missing-all.csv")).unwrap();
    assert!(
        csv.lines().nth(1).is_some_and(
            |l| l.starts_with(&format!("{MISSING_ROOM},/Company/Town Hall,6,{MISSING}"))
        ),
        "{csv}"
    );

    // A rerun copies nothing: every file is in the journal and in place.
    let again = files(&env, &[]).expect(1);
    assert!(
        again.stderr.contains("0 file(s) copied") && again.stderr.contains("18 already in place"),
        "{again}"
    );
    // An unknown wave is bad input.
    let bad = env.output(&["files", "--from", "repo", "--to", "store", "--wave", "nope"]).expect(2);
    assert!(bad.stderr.contains("no wave `nope`"), "{bad}");
}

#[test]
fn an_oversize_file_is_flagged_at_plan() {
    let env = env("files-large", "max_file_size_kb = 2\n");
    let f = findings(&env);
    let large: Vec<&str> = f.lines().filter(|l| l.contains("FILE_TOO_LARGE")).collect();
    assert_eq!(large.len(), 1, "{f}");
    assert!(large[0].contains(LARGE) && large[0].contains("MaxFileSizeKB 2"), "{}", large[0]);
    assert!(f.contains("1 over MaxFileSizeKB"), "{f}");
}

#[test]
fn links_to_another_host_are_foreign_without_the_hosts_option() {
    let env = TestEnv::new("files-foreign").contoso();
    env.extract().plan();
    let f = findings(&env);
    let foreign: Vec<&str> = f.lines().filter(|l| l.contains("FILE_LINK_FOREIGN_HOST")).collect();
    assert_eq!(foreign.len(), 1, "one line per host: {f}");
    assert!(
        foreign[0].contains("19 link(s) point to fs.contoso.com")
            && foreign[0].contains("[files] hosts")
    );
    assert!(f.contains("FILES_LINK_RULE"), "the rule in force is reported: {f}");
    // A bad option is bad input naming the file, line and key.
    let env = env.mapping("gcmigrate.toml", "[files]\nfilestore_uri = \"pc files\"\n");
    let out = env.output(&["plan", "-q", "--mappings", "maps"]).expect(2);
    assert!(
        out.stderr.contains("gcmigrate.toml:2:") && out.stderr.contains("files.filestore_uri"),
        "{out}"
    );
}

#[test]
fn verify_files_fails_on_a_missing_or_corrupt_file_and_passes_once_all_resolve() {
    let env = env("files-verify", "");
    env.load();
    files(&env, &[]).expect(1);
    let verify =
        |env: &TestEnv| env.output(&["verify", "--target", &env.target, "--files", "store"]);
    let out = verify(&env).expect(1);
    assert!(out.stderr.contains("verify --files (all): FAIL"), "{out}");
    assert!(
        out.stderr.contains(MISSING_ROOM)
            && out.stderr.contains("chatId 6")
            && out.stderr.contains(MISSING),
        "{out}"
    );
    let csv = std::fs::read_to_string(env.ws.join("reports/verify-all-files.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");

    // The recording turns up in the repository: copied, and every link resolves.
    let found = env.dir.join("repo").join(MISSING);
    std::fs::create_dir_all(found.parent().unwrap()).unwrap();
    std::fs::write(&found, b"the town hall recording").unwrap();
    files(&env, &[]).expect(0);
    let out = verify(&env).expect(0);
    assert!(out.stderr.contains("verify --files (all): PASS"), "{out}");

    // A truncated file in the store is caught, then a deleted one.
    let victim = store(&env).join(LARGE);
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    let out = verify(&env).expect(1);
    assert!(out.stderr.contains("chatId 7") && out.stderr.contains("different: SHA-256"), "{out}");
    std::fs::remove_file(&victim).unwrap();
    let out = verify(&env).expect(1);
    assert!(out.stderr.contains(&format!("{LARGE}: missing")), "{out}");
}

#[test]
fn a_killed_copy_resumes_without_recopying_what_was_verified() {
    use std::io::BufRead;
    let env = env("files-kill", "");
    let bin = assert_cmd::cargo::cargo_bin("gcmigrate");
    let mut child = std::process::Command::new(&bin)
        .current_dir(&env.dir)
        .args(["files", "--from", "repo", "--to", "store", "--workspace"])
        .arg(&env.ws)
        .env("GCMIGRATE_TEST_FILES_PAUSE", "5")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it pauses in the middle of the sixth file, then kill it (SIGKILL).
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let paused = stderr.lines().map_while(Result::ok).any(|l| l.contains("test pause"));
    assert!(paused, "the copy never reached its pause");
    // A second copy into the same store meanwhile is refused.
    let second = files(&env, &[]).expect(2);
    assert!(second.stderr.contains("in use by"), "{second}");
    child.kill().unwrap();
    child.wait().unwrap();

    let before = tree(&store(&env));
    let done: Vec<&String> = before.iter().filter(|p| !p.ends_with(".gcmigrate-part")).collect();
    assert_eq!(done.len(), 5 + 1, "five copies and the lock file: {before:?}");
    assert!(
        before.iter().any(|p| p.ends_with(".gcmigrate-part")),
        "the kill fell mid-copy: {before:?}"
    );
    let mtimes: Vec<_> = done
        .iter()
        .filter(|p| **p != "gcmigrate.lock")
        .map(|p| {
            (p.to_string(), std::fs::metadata(store(&env).join(p)).unwrap().modified().unwrap())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    // The lock of the killed run is stale (its process is gone): taken over.
    let out = files(&env, &[]).expect(1);
    assert!(
        out.stderr.contains("13 file(s) copied") && out.stderr.contains("5 already in place"),
        "{out}"
    );
    for (p, t) in &mtimes {
        assert_eq!(
            std::fs::metadata(store(&env).join(p)).unwrap().modified().unwrap(),
            *t,
            "{p} was copied again"
        );
    }
    let after = tree(&store(&env));
    assert_eq!(after, tree(&env.dir.join("repo")), "no temporary or lock file is left");
    for rel in &after {
        assert_eq!(sha(&store(&env).join(rel)), sha(&env.dir.join("repo").join(rel)), "{rel}");
    }
}

#[test]
fn a_different_file_at_the_destination_is_never_overwritten_silently() {
    let env = env("files-conflict", "");
    let theirs = store(&env).join(SPACED);
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    std::fs::write(&theirs, b"someone else's deck").unwrap();
    // A file with the repository's bytes already there is adopted, not a conflict.
    let same = store(&env).join(LARGE);
    std::fs::create_dir_all(same.parent().unwrap()).unwrap();
    std::fs::copy(env.dir.join("repo").join(LARGE), &same).unwrap();

    let out = files(&env, &[]).expect(2);
    assert!(
        out.stderr.contains("Q3 Kickoff EMEA.pptx")
            && out.stderr.contains("already exists and differs"),
        "{out}"
    );
    assert!(out.stderr.contains("--overwrite"), "{out}");
    assert_eq!(std::fs::read(&theirs).unwrap(), b"someone else's deck");
    assert_eq!(tree(&store(&env)).len(), 2, "nothing was copied: {:?}", tree(&store(&env)));

    let out = files(&env, &["--overwrite"]).expect(1);
    assert!(
        out.stderr.contains("17 file(s) copied")
            && out.stderr.contains("1 found at the destination"),
        "{out}"
    );
    assert_eq!(sha(&theirs), sha(&env.dir.join("repo").join(SPACED)));
}

#[test]
fn links_rewritten_at_load_verify_and_a_wrong_rewrite_fails() {
    let env = env("files-rewrite", "filestore_uri = \"//pcfs.contoso.com/PersistentChatFiles\"\n");
    assert!(findings(&env)
        .contains("rewrites them to `ma-filelink://pcfs.contoso.com/PersistentChatFiles/<path>`"));
    env.load();
    let count = |like: &str| {
        scalar(&env.target, &format!("SELECT COUNT(*) FROM tblChat WHERE content LIKE '%{like}%'"))
    };
    assert_eq!(count("ma-filelink://pcfs.contoso.com/PersistentChatFiles/"), 19);
    assert_eq!(count("//fs.contoso.com"), 0);
    let msg = text(&env.target, "SELECT content FROM tblChat WHERE content LIKE '%Q3%20Kickoff%'");
    assert_eq!(
        msg,
        "Q3 kickoff deck: ma-filelink://pcfs.contoso.com/PersistentChatFiles/f35dda42-98f0-5bb9-936f-df725696c095/aca5fc37-1342-5963-88bf-7334d3b5a500/Q3%20Kickoff%20EMEA.pptx"
    );
    env.verify();
    env.run(&["verify", "-q", "--target", &env.target, "--source", &env.source]);

    // The mapping now names another store: the loaded links are not what it asks for.
    let env = env.mapping(
        "gcmigrate.toml",
        "[files]\nhosts = [\"fs.contoso.com\"]\nfilestore_uri = \"//elsewhere/files\"\n",
    );
    plan(&env);
    let out = env.output(&["verify", "--target", &env.target]).expect(1);
    assert!(
        out.stderr.contains("mismatch in /Sales/EMEA/Pipeline")
            && out.stderr.contains("chatId 8: content"),
        "{out}"
    );
}

/// PostgreSQL at both ends: the root node's filestoreURI read from the source, links
/// rewritten by the row-by-row writer and read back by verify, `verify --files`.
#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn files_and_rewrite_on_postgres() {
    let Some(src) = pg_database("files_source") else { return };
    let Some(tgt) = pg_database("files_target") else { return };
    let env = TestEnv::new("files-pg").source(&src).target(&tgt).contoso().mapping(
        "gcmigrate.toml",
        "[files]\nhosts = [\"fs.contoso.com\"]\nfilestore_uri = \"//pcfs.contoso.com/PersistentChatFiles\"\n",
    );
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &env.dir.join("repo"));
    env.extract();
    plan(&env);
    let f = findings(&env);
    assert!(
        f.contains("the filestoreURI `https://gcweb.contoso.com/MGCWebService/MGCWebService.asmx`"),
        "{f}"
    );
    env.load();
    assert_eq!(scalar(&tgt, "SELECT COUNT(*) FROM tblChat WHERE content LIKE '%ma-filelink://pcfs.contoso.com/PersistentChatFiles/%'"), 19);
    files(&env, &[]).expect(1);
    let found = env.dir.join("repo").join(MISSING);
    std::fs::create_dir_all(found.parent().unwrap()).unwrap();
    std::fs::write(&found, b"the town hall recording").unwrap();
    files(&env, &[]).expect(0);
    let out = env.output(&["verify", "--target", &tgt, "--files", "store"]).expect(0);
    assert!(
        out.stderr.contains("verify --files (all): PASS")
            && out.stderr.contains("verify (all): PASS"),
        "{out}"
    );
}
