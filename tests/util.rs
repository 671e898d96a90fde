//! Test helpers: a [`TestEnv`] per test (a fresh directory with a legacy source, a
//! workspace, mapping files and a target, and the binary run in it); scratch databases,
//! queries and the [`fingerprint`] of a database's rows are in `util/db.rs`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::Command;

mod db;
pub(crate) use db::*;

/// A fresh directory for one test under the cargo target tmpdir.
pub(crate) fn tmp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The gcmigrate binary, quiet about progress bars.
pub(crate) fn gcm() -> Command {
    let mut c = Command::cargo_bin("gcmigrate").unwrap();
    c.env_remove("GCMIGRATE_SOURCE").env_remove("GCMIGRATE_TARGET");
    c
}

/// A sqlite:// URL for a file in `dir`.
pub(crate) fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}", dir.join(file).display())
}

/// One test's environment in a fresh directory: a legacy source (`legacy.db` unless
/// given), the workspace `ws/`, mapping files in `maps/` and a target (`mgc.db` unless
/// given). The builder methods set it up; the step methods run the standard subcommands
/// in it, and any run that ends unexpectedly panics showing the whole run.
pub(crate) struct TestEnv {
    /// The test's own directory; gcmigrate runs in it.
    pub(crate) dir: PathBuf,
    /// The workspace, `DIR/ws`.
    pub(crate) ws: PathBuf,
    /// The legacy database.
    pub(crate) source: String,
    /// The mgc database the loads write.
    pub(crate) target: String,
}

impl TestEnv {
    /// A fresh directory for the test `name`; no database is built yet.
    pub(crate) fn new(name: &str) -> TestEnv {
        let dir = tmp_dir(name);
        let (source, target) = (sqlite_url(&dir, "legacy.db"), sqlite_url(&dir, "mgc.db"));
        TestEnv { ws: dir.join("ws"), dir, source, target }
    }

    /// Reads the legacy database at `url` (say a [`PgDb`]) instead of `legacy.db`.
    pub(crate) fn source(mut self, url: &str) -> Self {
        self.source = url.to_string();
        self
    }

    /// Loads into `url` instead of `mgc.db`.
    pub(crate) fn target(mut self, url: &str) -> Self {
        self.target = url.to_string();
        self
    }

    /// Builds the Contoso fixture at the source.
    pub(crate) fn contoso(self) -> Self {
        contoso(&self.source);
        self
    }

    /// Generates a synthetic deployment at the source: `gcmigrate synth -q --out SOURCE ARGS…`.
    #[track_caller]
    pub(crate) fn synth(self, args: &[&str]) -> Self {
        let line = [&["synth", "-q", "--out", &self.source][..], args].concat();
        self.launch(&line.iter().map(|a| a.to_string()).collect::<Vec<_>>()).expect(0);
        self
    }

    /// Copies the repository's mapping directory `from` (`mappings`, say) into `maps/`.
    pub(crate) fn mappings_from(self, from: &str) -> Self {
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(from), &self.maps());
        self
    }

    /// Writes the mapping file `file` into `maps/`.
    pub(crate) fn mapping(self, file: &str, text: &str) -> Self {
        std::fs::create_dir_all(self.maps()).unwrap();
        std::fs::write(self.maps().join(file), text).unwrap();
        self
    }

    /// The mapping directory, `DIR/maps`; [`plan`](Self::plan) reads it when it exists.
    pub(crate) fn maps(&self) -> PathBuf {
        self.dir.join("maps")
    }

    /// A copy of this environment in a fresh directory, its SQLite files moved along, so a
    /// fixture built once can serve several tests.
    pub(crate) fn copy(&self, name: &str) -> TestEnv {
        let dir = tmp_dir(name);
        copy_dir(&self.dir, &dir);
        let moved = |url: &str| match url.strip_prefix(&sqlite_url(&self.dir, "")) {
            Some(file) => sqlite_url(&dir, file),
            None => url.to_string(),
        };
        let (source, target) = (moved(&self.source), moved(&self.target));
        TestEnv { ws: dir.join("ws"), dir, source, target }
    }

    /// `gcmigrate ARGS… --workspace WS`, run in the environment's directory and without
    /// the caller's `GCMIGRATE_SOURCE`/`GCMIGRATE_TARGET`.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = gcm();
        c.current_dir(&self.dir).args(self.with_ws(args));
        c
    }

    /// Runs [`command`](Self::command) and returns how it ended, whatever its exit code.
    #[track_caller]
    pub(crate) fn output(&self, args: &[&str]) -> Outcome {
        self.launch(&self.with_ws(args))
    }

    /// Runs [`command`](Self::command), which must exit 0.
    #[track_caller]
    pub(crate) fn run(&self, args: &[&str]) -> Outcome {
        self.output(args).expect(0)
    }

    /// `gcmigrate extract -q --source SOURCE`.
    #[track_caller]
    pub(crate) fn extract(&self) -> &Self {
        self.run(&["extract", "-q", "--source", &self.source]);
        self
    }

    /// `gcmigrate plan -q`, with `--mappings maps/` when there are mapping files.
    #[track_caller]
    pub(crate) fn plan(&self) -> &Self {
        let maps = self.maps();
        if maps.is_dir() {
            self.run(&["plan", "-q", "--mappings", maps.to_str().unwrap()]);
        } else {
            self.run(&["plan", "-q"]);
        }
        self
    }

    /// `gcmigrate load -q --create-schema --target TARGET`.
    #[track_caller]
    pub(crate) fn load(&self) -> &Self {
        self.run(&["load", "-q", "--create-schema", "--target", &self.target]);
        self
    }

    /// `gcmigrate verify -q --target TARGET`, which must pass.
    #[track_caller]
    pub(crate) fn verify(&self) -> &Self {
        self.run(&["verify", "-q", "--target", &self.target]);
        self
    }

    /// A JSON report of the workspace: `ws/reports/FILE`.
    pub(crate) fn report(&self, file: &str) -> serde_json::Value {
        json(&self.ws.join("reports").join(file))
    }

    /// `ARGS… --workspace WS`.
    fn with_ws(&self, args: &[&str]) -> Vec<String> {
        let ws = self.ws.to_str().expect("a UTF-8 workspace path");
        args.iter().copied().chain(["--workspace", ws]).map(str::to_string).collect()
    }

    /// Runs `gcmigrate ARGS…` in the directory; panics if a signal ended it.
    #[track_caller]
    fn launch(&self, args: &[String]) -> Outcome {
        let out = gcm().current_dir(&self.dir).args(args).output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut o = Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
            cwd: self.dir.clone(),
            line: std::iter::once("gcmigrate".to_string())
                .chain(args.iter().map(|a| shell_word(&redact(a))))
                .collect::<Vec<_>>()
                .join(" "),
        };
        if out.status.code().is_none() {
            o.line = format!("{} (ended by {})", o.line, out.status);
            panic!("gcmigrate did not exit\n{o}");
        }
        o
    }
}

/// How a run of gcmigrate ended and what it printed; `Display` shows the whole run.
pub(crate) struct Outcome {
    /// The exit code.
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// The directory it ran in.
    cwd: PathBuf,
    /// The command line, passwords hidden.
    line: String,
}

impl Outcome {
    /// Panics, showing the whole run, unless it exited with `code`.
    #[track_caller]
    pub(crate) fn expect(self, code: i32) -> Self {
        if self.code != code {
            panic!("expected exit code {code}, got {}\n{self}", self.code);
        }
        self
    }

    /// Stdout, then stderr.
    pub(crate) fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "cwd: {}\ncommand: {}\nexit code: {}",
            self.cwd.display(),
            self.line,
            self.code
        )?;
        write!(f, "--- stdout ---\n{}\n--- stderr ---\n{}", self.stdout, self.stderr)
    }
}

/// A location with its password replaced by `***` (URL or `Password=`/`PWD=` keys).
fn redact(arg: &str) -> String {
    if let Some((scheme, rest)) = arg.split_once("://") {
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        return match authority.rsplit_once('@').and_then(|(u, _)| u.split_once(':')) {
            Some((user, pass)) => {
                format!("{scheme}://{user}:***{}", &rest[user.len() + 1 + pass.len()..])
            }
            None => arg.to_string(),
        };
    }
    let secret = |k: &str| ["password", "pwd"].contains(&k.trim().to_ascii_lowercase().as_str());
    arg.split(';')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if secret(k) => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// An argument as a POSIX shell reads it back, so a printed command line can be rerun.
fn shell_word(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Copies a directory tree.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Builds the Contoso legacy database at a URL.
pub(crate) fn contoso(url: &str) {
    let url = gcmigrate::db::DbUrl::parse(url).unwrap();
    block_on(gcmigrate::commands::demo::build_contoso(&url)).unwrap();
}

/// Reads a JSON report.
pub(crate) fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}
