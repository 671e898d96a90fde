//! Integration tests, one binary. Each module covers one stage or scenario; most set up a
//! `util::TestEnv` (a fresh directory, a legacy source, a workspace and a target).
//!
//! PostgreSQL tests run when `GCMIGRATE_TEST_PG_URL` points at a server whose user may
//! create databases (`.ci/run` starts one), the live SQL Server tests when
//! `GCMIGRATE_TEST_MSSQL_URL` names a login that may create databases. `build.rs` reads
//! both when the tests are built: without one, its tests are listed as
//! `ignored, set GCMIGRATE_TEST_…_URL …`. A test built with its variable but run without
//! it fails rather than passing unrun.

mod util;

// The whole pipeline on the Contoso fixture (SQLite at both ends).
mod demo;
// Extract from SQLite and PostgreSQL; refusing databases that are not Group Chat.
mod extract;
// Load into SQLite and PostgreSQL targets, reruns, verification of tampering.
mod load;
// Bad input and runtime failures: exit codes and messages.
mod errors;
// The corpus of broken legacy databases (fixtures/broken/): exit codes, messages, no panic.
mod broken;
// The synthetic generator: exact counts, determinism.
mod synth;
// Staged cutover: freeze, delta extract and load, unfreeze; dry runs.
mod cutover;
// The cutover command: its conditions, one transaction, migrate, staged verify, rollback after it.
mod cutover_cmd;
// A load killed with SIGKILL and rerun equals an uninterrupted one.
mod resume;
// The plan grants no access the legacy rules did not.
/// Out-of-scope groups: kept or expanded, whichever is cheaper, and exact either way.
mod groups;
mod plan_access;
// Broken and look-alike legacy data: read narrowly, named by findings, never a panic.
mod broken_data;
// Mapping files: the shipped examples and broken ones.
mod mappings;
// Sign-off: verify refuses unknown or empty waves, keeps each run; remembered mappings; since.
mod signoff;
// Verification: history, access equivalence (gained/lost with rules), target invariants, tampering.
mod verify;
// The PowerShell scripts: DNs, one script per wave and pool, size.
mod powershell;
// Rollback scripts: round trips on SQLite and PostgreSQL, guards, wave order, hostile names, T-SQL parsing.
mod rollback;
// Pools and waves: one target per pool, --pool, waves under their own names, report names.
mod pools;
// OCS 2007 R2 and not-quite-2010 sources: the R2 fixture through the pipeline, defaults, refusals.
mod r2;
// SQL Server through tiberius: connection failures, T-SQL parse checks, encoding; live with GCMIGRATE_TEST_MSSQL_URL.
mod mssql;
// SQL Server live: the whole pipeline, freeze, failures (GCMIGRATE_TEST_MSSQL_URL; ignored otherwise).
mod mssql_live;
// Whole snapshots and the manifest: killed, failed and tampered extracts never pass short.
mod snapshot;
// verify --source: the target against the legacy database itself.
mod verify_source;
// Two legacy deployments side by side in one target: own id maps, own rollbacks, refusals.
mod deployments;
// Concurrent runs: the workspace lock file and the target lock row.
mod concurrency;
// Staged rooms, convergence and the guard of a staged cutover.
mod staged;
// Add-ins per pool, and the unused ones listed or carried.
mod addins;
// The cutover runbook a plan writes and a cutover fills in.
mod runbook;
// The policy grants of each wave's cutover script.
mod grants;
// T-SQL versions: every text the tool emits runs on SQL Server 2005 SP3 (legacy) / 2008 R2 SP2 (mgc).
mod tsql_versions;
// A Persistent Chat pool as the source: role rows one to one, §3 access, denied scopes.
mod mgc_source;
// tblLastInviteId kept by every load, checked by verify, restored by rollback.
mod last_invite;
// The compliance export: Microsoft's XML structure, counts reconciled with verify, reruns, hostile text.
mod compliance;
// Its checker: Microsoft's XML structure, checksums, each message once.
mod compliance_check;
// The console shows a screenful and says where the rest is.
mod console;
// The legacy file repository: inventory at plan, the verified resumable copy, verify --files, link rewriting.
mod files;
// The cutover window: incremental verify after a delta load, the cheap check, verify --full.
mod window;
