//! Command-line interface: every clap type. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Migrate Lync Server 2010 / OCS 2007 R2 Group Chat into Lync 2013 Persistent Chat.
///
/// The pipeline: extract (legacy DB → workspace) → plan (+ mappings/) → load (per wave,
/// into an mgc database) → verify → rollback/export. Every stage reads and writes one
/// workspace directory and can be rerun.
///
/// Exit codes: 0 success, 1 finished with findings (blocking plan errors, verification
/// mismatches), 2 bad usage or input, 3 runtime failure (database unreachable, write failed).
#[derive(Debug, Parser)]
#[command(name = "gcmigrate", version, after_help = "Start with: gcmigrate demo")]
pub struct Cli {
    /// Print no progress and no summary (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the legacy Group Chat database into the workspace snapshot.
    #[command(
        after_help = "Examples:\n  gcmigrate extract --source sqlite://legacy.db --workspace work\n  \
        gcmigrate extract --source postgres://user@host/groupchat --workspace work --delta"
    )]
    Extract(ExtractArgs),
    /// Turn the snapshot into a validated migration plan and the assessment report.
    #[command(
        after_help = "Examples:\n  gcmigrate plan --workspace work\n  gcmigrate plan --workspace work --mappings mappings/"
    )]
    Plan(PlanArgs),
    /// Write one pool of the plan (a wave, or each wave under its own name) into a
    /// Persistent Chat mgc database.
    #[command(
        after_help = "Examples:\n  gcmigrate load --workspace work --target sqlite://mgc.db --create-schema\n  \
        gcmigrate load --workspace work --target postgres://user@host/mgc --wave pilot --jobs 4\n  \
        gcmigrate load --workspace work --target 'mssql://gcm:PASSWORD@sql01/mgc' --wave pilot\n  \
        gcmigrate load --workspace work --target 'mssql://gcm:PASSWORD@sql02/mgc' --pool pc-eng\n\
        A target database is one pool: a plan with several pools needs --pool (one run and one \
        --target per pool)."
    )]
    Load(LoadArgs),
    /// Reconcile a loaded wave against the snapshot: counts and checksums per room.
    #[command(
        after_help = "Examples:\n  gcmigrate verify --workspace work --target sqlite://mgc.db\n  \
        gcmigrate verify --workspace work --target sqlite://mgc.db --wave pilot\n  \
        gcmigrate verify --workspace work --target sqlite://eng.db --pool pc-eng\n\
        Reports: reports/verify-<wave>.* for one wave, verify-all.* for every wave; with several \
        pools the pool is part of the name (verify-pilot@pc-eng.*)."
    )]
    Verify(VerifyArgs),
    /// Render (or run) the script that removes what a wave's load wrote.
    #[command(
        after_help = "Examples:\n  gcmigrate rollback --workspace work --wave pilot --dialect tsql --out undo.sql\n  \
        gcmigrate rollback --workspace work --wave pilot --dialect sqlite --execute --target sqlite://mgc.db\n  \
        gcmigrate rollback --workspace work --pool pc-eng --execute --target sqlite://eng.db\n\
        Without --wave every wave the pool's ledger holds is undone, newest first, one script \
        each (scripts/rollback-<wave>[@<pool>].<dialect>.sql); that is also how a wave named \
        `all` by an earlier gcmigrate is rolled back."
    )]
    Rollback(RollbackArgs),
    /// Write the plan as PowerShell scripts: configure/unconfigure and the cutover's policy
    /// script, per wave and pool.
    #[command(after_help = "Examples:\n  gcmigrate export --workspace work\n  \
        gcmigrate export --workspace work --out ps --endpoint sip:ocschat@contoso.com\n  \
        then on the Lync server: .\\configure-pilot.ps1 -PoolFqdn pchat.contoso.com\n  \
        and at the pilot's cutover: .\\cutover-pilot.ps1")]
    Export(ExportArgs),
    /// Disable a wave's legacy rooms for the cutover (journaled; --undo re-enables them).
    #[command(
        after_help = "Examples:\n  gcmigrate freeze --workspace work --wave pilot --source sqlite://legacy.db\n  \
        gcmigrate freeze --workspace work --wave pilot --source sqlite://legacy.db --undo"
    )]
    Freeze(FreezeArgs),
    /// Put a staged wave live: its rooms get their planned state, once it is frozen, its
    /// delta loaded and verified (one transaction), and its policy script is written.
    #[command(
        after_help = "Examples:\n  gcmigrate cutover --workspace work --target sqlite://mgc.db --wave pilot\n  \
        gcmigrate cutover --workspace work --target sqlite://mgc.db --wave default --without-freeze\n  \
        gcmigrate cutover --workspace work --target sqlite://eng.db --wave wave2 --pool pc-eng --dry-run"
    )]
    Cutover(CutoverArgs),
    /// Write a wave's migrated history as Persistent Chat compliance XML (the XML
    /// adapter's format), one file per room or per room and day/month, with a manifest.
    #[command(
        after_help = "Examples:\n  gcmigrate compliance --workspace work --wave pilot --out archive/pilot\n  \
        gcmigrate compliance --workspace work --wave wave2 --pool pc-eng --out archive/wave2-eng --slice month\n\
        Writes room-<nodeID>[-<day|month>].xml and manifest.json/.csv (files, SHA-256, per-room \
        counts, every message left out with its reason); the counts equal verify's. A rerun \
        rewrites the same bytes."
    )]
    Compliance(ComplianceArgs),
    /// Copy the files a wave's messages link to (ma-filelink) from the legacy file
    /// repository into the Persistent Chat file store, verified and resumable.
    #[command(
        after_help = "Examples:\n  gcmigrate files --workspace work --wave pilot --from /mnt/gcfiles --to /mnt/pcfiles --dry-run\n  \
        gcmigrate files --workspace work --wave pilot --from /mnt/gcfiles --to /mnt/pcfiles\n\
        Each file keeps its path below the store root (what Microsoft's XCOPY step produces); \
        the copy journal in the workspace lets a rerun skip what was verified. Missing files \
        are listed in reports/files-missing-<wave>.csv (exit 1)."
    )]
    Files(FilesArgs),
    /// Run extract, plan, load, verify and (when it passed) cutover in one go.
    #[command(
        after_help = "Example:\n  gcmigrate migrate --source sqlite://legacy.db --target sqlite://mgc.db --workspace work --create-schema"
    )]
    Migrate(MigrateArgs),
    /// Run the whole pipeline on the bundled Contoso fixture, SQLite at both ends.
    #[command(after_help = "Example:\n  gcmigrate demo --workspace /tmp/gcm-demo")]
    Demo(DemoArgs),
    /// Benchmark the pipeline against the engine's own raw copy (throughput, peak memory).
    #[command(
        after_help = "Examples:\n  gcmigrate bench\n  gcmigrate bench --repeat 3\n  gcmigrate bench --messages 100000 --scale 10\n  \
        gcmigrate bench --preset max-pool\n  \
        gcmigrate bench --cutover --messages 1000000 --scale 10\n  \
        gcmigrate bench --postgres postgres://postgres@127.0.0.1/postgres\n  \
        gcmigrate bench --messages 200000 --mssql 'mssql://gcm_sa:PASSWORD@127.0.0.1:1433/master?trust_server_certificate=true'"
    )]
    Bench(BenchArgs),
    /// Generate a realistic legacy Group Chat database for rehearsals and benchmarks.
    #[command(
        after_help = "Examples:\n  gcmigrate synth --out sqlite://synth.db --messages 20000 --seed 7\n  \
        gcmigrate synth --out postgres://user@host/synth --users 20000 --rooms 2000 --messages 1000000"
    )]
    Synth(SynthArgs),
}

/// The workspace directory.
#[derive(Debug, Args)]
pub struct WorkspaceOpts {
    /// Workspace directory (holds staging.db, reports/, rejects/, scripts/).
    #[arg(long, short = 'w', value_name = "DIR", default_value = "gcm-work")]
    pub workspace: PathBuf,
}

/// `extract` arguments.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The legacy database: sqlite://PATH, postgres://USER@HOST/DB, mssql://USER:PASSWORD@HOST/DB
    /// or an ADO.NET connection string. Only read, never written.
    #[arg(long, short = 's', value_name = "URL", env = "GCMIGRATE_SOURCE")]
    pub source: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// Refresh the configuration and read only messages past each room's watermark.
    #[arg(long)]
    pub delta: bool,
}

/// `plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// Mappings directory (gcmigrate.toml and CSV tables). Without it, the directory the
    /// last plan of this workspace read is read again; `NONE` plans with the defaults.
    #[arg(long, short = 'm', value_name = "DIR")]
    pub mappings: Option<PathBuf>,
    /// The target mgc database: check planned names against what already exists there
    /// (only read).
    #[arg(long, short = 't', value_name = "URL")]
    pub target: Option<String>,
    /// A mounted copy of the legacy file repository: check each linked file's presence,
    /// size and SHA-256 (reports/files.csv, FILE_* findings).
    #[arg(long, value_name = "DIR")]
    pub files_from: Option<PathBuf>,
}

/// `files` arguments.
#[derive(Debug, Args)]
pub struct FilesArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// Copy the files of this wave's messages (default: every wave).
    #[arg(long, value_name = "WAVE", value_parser = crate::mapping::wave_name::parse_wave_arg)]
    pub wave: Option<String>,
    /// The mounted copy of the legacy file repository.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The Persistent Chat file store's root (files keep their path below it).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// List what would be copied; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace destination files whose content differs (default: stop, naming them).
    #[arg(long)]
    pub overwrite: bool,
}

/// `load` arguments.
#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// The target mgc database: mssql://USER:PASSWORD@HOST[:PORT]/DB (or an ADO.NET
    /// connection string), sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, short = 't', value_name = "URL", env = "GCMIGRATE_TARGET")]
    pub target: String,
    /// Load only this wave (default: every wave of the pool, each under its own name).
    #[arg(long, value_name = "WAVE", value_parser = crate::mapping::wave_name::parse_wave_arg)]
    pub wave: Option<String>,
    /// The pool (target database) to work on; needed when the plan has several pools.
    #[arg(long, value_name = "POOL", value_parser = crate::mapping::wave_name::parse_pool_arg)]
    pub pool: Option<String>,
    /// Parallel history writers (one connection each).
    #[arg(long, short = 'j', default_value_t = 2, value_parser = at_least_one)]
    pub jobs: usize,
    /// Messages per chunk; each chunk is one target transaction with its ledger row.
    #[arg(long, default_value_t = 5000, value_parser = at_least_one)]
    pub chunk: usize,
    /// Create the mgc tables when the target has none (rehearsal databases).
    #[arg(long)]
    pub create_schema: bool,
    /// Run the same load against a recording target: report the rows per table that would
    /// be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// The target mgc database that was loaded.
    #[arg(long, short = 't', value_name = "URL", env = "GCMIGRATE_TARGET")]
    pub target: String,
    /// Verify only this wave (default: every wave of the pool; report `verify-all.*`).
    #[arg(long, value_name = "WAVE", value_parser = crate::mapping::wave_name::parse_wave_arg)]
    pub wave: Option<String>,
    /// The pool (target database) to work on; needed when the plan has several pools.
    #[arg(long, value_name = "POOL", value_parser = crate::mapping::wave_name::parse_pool_arg)]
    pub pool: Option<String>,
    /// Also compare the target with this legacy database itself (per-room counts and
    /// checksums up to the extract's watermarks), independent of the workspace.
    #[arg(long, short = 's', value_name = "URL")]
    pub source: Option<String>,
    /// Also check that every file link of the wave resolves to a file below this file
    /// store root with the SHA-256 recorded by `files` (or by `plan --files-from`).
    #[arg(long, value_name = "DIR")]
    pub files: Option<PathBuf>,
    /// Re-read every message. Without it, a wave whose last verify in this target passed
    /// and that has only had delta extracts since re-reads only the messages past what that
    /// verify proved, and proves the rest by count and highest chatId per room.
    #[arg(long)]
    pub full: bool,
}

/// `export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// Write the scripts here instead of DIR/scripts.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The legacy lookup user's SIP address for the endpoint steps of the last policy
    /// script (default: sip:ocschat@<the users' most common SIP domain>).
    #[arg(long, value_name = "SIP", value_parser = crate::cutover::endpoint::parse_arg)]
    pub endpoint: Option<String>,
}

/// `compliance` arguments.
#[derive(Debug, Args)]
pub struct ComplianceArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// The wave whose migrated history is exported.
    #[arg(long, value_name = "WAVE", value_parser = crate::mapping::wave_name::parse_wave_arg)]
    pub wave: String,
    /// The pool; needed when the plan has several pools.
    #[arg(long, value_name = "POOL", value_parser = crate::mapping::wave_name::parse_pool_arg)]
    pub pool: Option<String>,
    /// The export directory (new, empty, or an earlier export of the same wave and pool).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// One file per room (none), or per room and UTC day or month.
    #[arg(long, value_enum, default_value = "none")]
    pub slice: crate::compliance::Slice,
    /// The domain of the ma-chan:// channel URIs (default: the users' most common SIP domain).
    #[arg(long, value_name = "DOMAIN", value_parser = crate::compliance::parse_domain)]
    pub domain: Option<String>,
}

/// `freeze` arguments.
#[derive(Debug, Args)]
pub struct FreezeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// The wave whose legacy rooms are disabled.
    #[arg(long, value_name = "WAVE", value_parser = crate::mapping::wave_name::parse_wave_arg)]
    pub wave: String,
    /// The legacy database (the only write gcmigrate makes to it).
    #[arg(long, short = 's', value_name = "URL", env = "GCMIGRATE_SOURCE")]
    pub source: String,
    /// Re-enable the rooms that earlier freezes of this wave disabled.
    #[arg(long)]
    pub undo: bool,
}

/// `cutover` arguments.
#[derive(Debug, Args)]
pub struct CutoverArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// The target mgc database (one pool).
    #[arg(long, short = 't', value_name = "URL", env = "GCMIGRATE_TARGET")]
    pub target: String,
    /// The wave to cut over.
    #[arg(long, value_name = "WAVE", value_parser = crate::mapping::wave_name::parse_wave_arg)]
    pub wave: String,
    /// The pool the target holds (needed when the plan has several).
    #[arg(long, value_name = "POOL")]
    pub pool: Option<String>,
    /// The legacy services are stopped (one migration window): no freeze and no delta are
    /// needed; a verify that passed after the last load still is.
    #[arg(long)]
    pub without_freeze: bool,
    /// Check the conditions and say what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Add the legacy-endpoint steps (delete the lookup user, create a Persistent Chat
    /// endpoint with its SIP address) with this address, e.g. sip:ocschat@contoso.com; the
    /// deployment's last cutover adds them anyway, with sip:ocschat@<the users' domain>.
    #[arg(long, value_name = "SIP", value_parser = crate::cutover::endpoint::parse_arg)]
    pub endpoint: Option<String>,
}

/// `rollback` arguments.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// The wave whose load runs are undone (default: every wave the pool's ledger holds,
    /// newest first, one script each).
    #[arg(long, value_name = "WAVE", value_parser = crate::mapping::wave_name::parse_wave_arg)]
    pub wave: Option<String>,
    /// The pool (target database) to work on; needed when the plan has several pools.
    #[arg(long, value_name = "POOL", value_parser = crate::mapping::wave_name::parse_pool_arg)]
    pub pool: Option<String>,
    /// Script dialect: tsql (SQL Server), sqlite or postgres.
    #[arg(long, value_name = "DIALECT", value_parser = ["tsql", "sqlite", "postgres"])]
    pub dialect: Option<String>,
    /// Write the script here (default: DIR/scripts/rollback-<wave>.<dialect>.sql).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Run the script against the target instead of only writing it.
    #[arg(long, requires = "target")]
    pub execute: bool,
    /// The target mgc database (needed with --execute; also used to read the ledger).
    #[arg(long, short = 't', value_name = "URL", env = "GCMIGRATE_TARGET")]
    pub target: Option<String>,
    /// Delete messages posted in the wave's rooms after the cutover too (otherwise the
    /// script refuses to run when it finds any).
    #[arg(long)]
    pub discard_new_messages: bool,
}

/// `migrate` arguments.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The legacy database URL.
    #[arg(long, short = 's', value_name = "URL", env = "GCMIGRATE_SOURCE")]
    pub source: String,
    /// The target mgc database URL.
    #[arg(long, short = 't', value_name = "URL", env = "GCMIGRATE_TARGET")]
    pub target: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ws: WorkspaceOpts,
    /// Mappings directory.
    #[arg(long, short = 'm', value_name = "DIR")]
    pub mappings: Option<PathBuf>,
    /// Create the mgc tables when the target has none.
    #[arg(long)]
    pub create_schema: bool,
    /// Parallel history writers.
    #[arg(long, short = 'j', default_value_t = 2, value_parser = at_least_one)]
    pub jobs: usize,
}

/// `demo` arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Workspace directory; the demo's legacy and target SQLite files go inside it too.
    #[arg(long, short = 'w', value_name = "DIR", default_value = "gcm-demo")]
    pub workspace: PathBuf,
}

/// `bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Messages in the generated legacy database.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Rooms.
    #[arg(long, default_value_t = 2_000)]
    pub rooms: u64,
    /// Users.
    #[arg(long, default_value_t = 20_000)]
    pub users: u64,
    /// AD groups.
    #[arg(long, default_value_t = 500)]
    pub groups: u64,
    /// Also run at this many times the messages and report the time and memory ratios.
    #[arg(long, default_value_t = 1)]
    pub scale: u64,
    /// Working directory for the databases and workspaces.
    #[arg(long, value_name = "DIR", default_value = "gcm-bench")]
    pub dir: PathBuf,
    /// A PostgreSQL server (a database URL whose user may create databases) for the
    /// PostgreSQL → PostgreSQL run; without it only SQLite → SQLite runs.
    #[arg(long, value_name = "URL", env = "GCMIGRATE_BENCH_PG_URL")]
    pub postgres: Option<String>,
    /// A SQL Server (a location whose login may create databases, e.g. the local Babelfish
    /// server of the live tests) for an SQLite → SQL Server run: load and verify over TDS.
    #[arg(long, value_name = "URL", env = "GCMIGRATE_BENCH_MSSQL_URL")]
    pub mssql: Option<String>,
    /// Parallel writers for `load`.
    #[arg(long, short = 'j', default_value_t = 2, value_parser = at_least_one)]
    pub jobs: usize,
    /// Run the baseline and the pipeline this many times per size (same generated data)
    /// and report each step's median: on a noisy machine one run can be off by a third.
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub repeat: usize,
    /// A named size instead of --messages/--rooms/--users/--groups: `max-pool` is
    /// Microsoft's largest documented pool (150,000 users, 3,000 groups, 33,077 rooms,
    /// 2,000,000 messages).
    #[arg(long, value_enum, conflicts_with_all = ["messages", "rooms", "users", "groups"])]
    pub preset: Option<BenchPreset>,
    /// Time the cutover window instead: the bulk migration, then a delta appended to the
    /// legacy database, then freeze → extract --delta → plan → load → verify → cutover, and
    /// the window's share of the bulk migration (SQLite; with --scale also at the multiple).
    #[arg(long, conflicts_with_all = ["postgres", "mssql", "repeat"])]
    pub cutover: bool,
    /// With --cutover: the delta's messages, as a percentage of the bulk's.
    #[arg(long, default_value_t = 1.0, value_name = "PERCENT", requires = "cutover")]
    pub delta_percent: f64,
}

/// Named benchmark sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPreset {
    /// Microsoft's planning figures for one pool.
    MaxPool,
}

impl BenchPreset {
    /// (messages, rooms, users, groups).
    pub fn sizes(self) -> (u64, u64, u64, u64) {
        match self {
            BenchPreset::MaxPool => (2_000_000, 33_077, 150_000, 3_000),
        }
    }
}

/// `synth` arguments.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Where to create the legacy database: sqlite://PATH (replaced) or postgres://… (must be empty).
    #[arg(long, value_name = "URL")]
    pub out: String,
    /// Users.
    #[arg(long, default_value_t = 200)]
    pub users: u64,
    /// AD groups.
    #[arg(long, default_value_t = 20)]
    pub groups: u64,
    /// Rooms.
    #[arg(long, default_value_t = 50)]
    pub rooms: u64,
    /// Messages (tblChat rows), exactly.
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,
    /// Random seed: the same seed and sizes give the same database.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A count that must be at least 1 (`--jobs`, `--chunk`, `--repeat`).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("`{s}` is not a whole number: {e}")),
    }
}
