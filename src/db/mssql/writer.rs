//! The SQL Server `mgc` writer and reader (tiberius).
//!
//! A [`Batch`] is applied in one `BEGIN TRANSACTION … COMMIT TRANSACTION` on one pooled
//! connection, so a history chunk, its `tblLastChatId` row and its ledger row commit
//! together. Large `tblChat` chunks go through TDS bulk load (`INSERT BULK`, which joins
//! the open transaction); everything else is parameterized multi-row `INSERT`s.
//! Bulk load is kept to `tblChat` because tiberius sends no `CHECK_CONSTRAINTS` hint: on a
//! table with foreign keys (all the configuration tables) the server would mark them
//! untrusted. Values are encoded by the destination column's real type, read once per
//! table from `sys.columns` (bit → bool, smallint → i16, uniqueidentifier → Uuid,
//! datetime → TDS datetime), because bulk load accepts only exact types.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tiberius::error::Error as TdsError;
use tiberius::{ToSql, TokenRow};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{
    self as mssql, connect_spec, encode, execute_params, has_columns, int, is_permission_denied,
    presence_sql, probe_sql, query, quote, req_int, req_text, scrub, statement_error, text, Cells,
    Client, ConnSpec, Param, SqlType,
};
use crate::db::batch::{
    Batch, Op, TableSpec, Value, ADDIN, AFFILIATION, CHAT, INVITE, LAST_CHAT_ID, LEDGER, NODE,
    PRINCIPAL, ROLE, SCOPE,
};
use crate::db::{split_statements, DbUrl, Dialect};
use crate::error::{bad_input, runtime};
use crate::load::config::TargetState;
use crate::mapping::legacy::Role;

/// The ledger table, created when missing (one idempotent statement, safe under concurrency).
pub const LEDGER_DDL_TSQL: &str = "IF OBJECT_ID(N'gcmigrate_ledger', N'U') IS NULL CREATE TABLE gcmigrate_ledger (\
    run_id nvarchar(64) NOT NULL, wave nvarchar(256) NOT NULL, kind nvarchar(16) NOT NULL, \
    room_id bigint NULL, first_chat bigint NULL, last_chat bigint NULL, rows_written bigint NOT NULL, \
    body nvarchar(max) NULL, written_at nvarchar(40) NOT NULL)";
/// Opens a batch's transaction.
pub const BEGIN: &str = "BEGIN TRANSACTION";
/// Commits it.
pub const COMMIT: &str = "COMMIT TRANSACTION";
/// Undoes it after a failure.
pub const ROLLBACK: &str = "ROLLBACK TRANSACTION";
/// The writable columns of a table in `column_id` order (the order bulk load expects).
pub const LAYOUT: &str = "SELECT c.name, t.name, c.is_nullable FROM sys.columns AS c \
    JOIN sys.types AS t ON t.user_type_id = c.system_type_id \
    WHERE c.object_id = OBJECT_ID(@P1) AND c.is_identity = 0 AND c.is_computed = 0 AND t.name <> N'timestamp' \
    ORDER BY c.column_id";
const NEXT_PRIN: &str = "SELECT CAST(ISNULL(MAX(prinID), 0) + 1 AS BIGINT) FROM tblPrincipal";
const NEXT_NODE: &str = "SELECT CAST(ISNULL(MAX(nodeID), 1) + 1 AS BIGINT) FROM tblNode";
const PRINCIPALS: &str = "SELECT prinID, prinGuid, prinUri FROM tblPrincipal";
const ROLE_TYPES: &str = "SELECT rtypeID, rtypeDesc FROM tblRoleType";
const ADDINS: &str = "SELECT siopID FROM tblSiopWhiteList";
const LEDGER_CONFIGS: &str =
    "SELECT body FROM gcmigrate_ledger WHERE kind = N'config' ORDER BY written_at";
const RESUME: &str =
    "SELECT MAX(last_chat) FROM gcmigrate_ledger WHERE kind = N'chat' AND room_id = @P1";
use crate::load::config::NEEDED;
/// Every table the load writes.
pub const TABLES: [&TableSpec; 10] = [
    &PRINCIPAL,
    &AFFILIATION,
    &ADDIN,
    &NODE,
    &SCOPE,
    &ROLE,
    &INVITE,
    &CHAT,
    &LAST_CHAT_ID,
    &LEDGER,
];
/// From this many rows a `tblChat` insert goes through bulk load.
const BULK_FROM: usize = 128;
/// tiberius compares an `nvarchar(max)` value's bytes with 0xFFFF in bulk load; longer
/// strings go through an INSERT instead.
const BULK_MAX_UTF16: usize = 0xFFFF / 2;

/// `INSERT INTO [t] ([c], …) VALUES (@P1, …), …` for `rows` rows.
pub fn insert_sql(t: &TableSpec, rows: usize) -> String {
    insert_values_sql(t, rows, |_, _| false)
}

/// `INSERT INTO [t] ([c], …) VALUES (@P1, NULL, …), …` for `rows` rows: a literal `NULL`
/// where `is_null(row, column)`, the next parameter elsewhere. tiberius sends every NULL
/// parameter as the untyped NULL (type 0x1F), which SQL Server accepts and Babelfish
/// refuses; a literal NULL works on both.
pub fn insert_values_sql(
    t: &TableSpec,
    rows: usize,
    is_null: impl Fn(usize, usize) -> bool,
) -> String {
    let cols: Vec<String> = t.cols.iter().map(|c| quote(c.0)).collect();
    let mut next = 0;
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..cols.len())
                .map(|c| {
                    if is_null(r, c) {
                        "NULL".to_string()
                    } else {
                        next += 1;
                        format!("@P{next}")
                    }
                })
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    format!("INSERT INTO {} ({}) VALUES {}", quote(t.name), cols.join(", "), values.join(", "))
}

/// Rows per INSERT: at most 2,100 parameters per statement (SQL Server's limit) and 200
/// rows. A statement is compiled once per text, and the cost of compiling a `VALUES` list
/// grows faster than its rows: on the local TDS server (Babelfish) 700-row statements
/// insert 0.4 times as many rows a second as 50-row ones, and the bench's configuration of
/// 5,000 users (64,000 rows) took 19.3 s at up to 1,000 rows a statement and 13.5 s at 200
/// (medians of three). SQL Server allows 1,000.
pub fn rows_per_insert(t: &TableSpec) -> usize {
    (2099 / t.cols.len().max(1)).clamp(1, 200)
}

/// `DELETE FROM [t] WHERE [col] = @P1`.
pub fn delete_sql(t: &TableSpec, col: &str) -> String {
    format!("DELETE FROM {} WHERE {} = @P1", quote(t.name), quote(col))
}

/// Every T-SQL statement this module can send (tiberius adds `SELECT TOP 0 * FROM [tblChat]`
/// and `INSERT BULK` for bulk load), named, for the parse tests.
pub fn all_statements() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        ("begin", BEGIN),
        ("commit", COMMIT),
        ("rollback", ROLLBACK),
        ("layout", LAYOUT),
        ("next prinID", NEXT_PRIN),
        ("next nodeID", NEXT_NODE),
        ("principals", PRINCIPALS),
        ("role types", ROLE_TYPES),
        ("add-ins", ADDINS),
        ("ledger configs", LEDGER_CONFIGS),
        ("resume point", RESUME),
        ("ledger DDL", LEDGER_DDL_TSQL),
        ("bulk metadata (tiberius)", "SELECT TOP 0 * FROM [tblChat]"),
    ]
    .iter()
    .map(|(n, s)| (n.to_string(), s.to_string()))
    .collect();
    for t in TABLES {
        out.push((format!("insert {} (1 row)", t.name), insert_sql(t, 1)));
        out.push((format!("insert {} (max rows)", t.name), insert_sql(t, rows_per_insert(t))));
        let nulls = insert_values_sql(t, 2, |r, c| (r + c) % 2 == 0);
        out.push((format!("insert {} (literal NULLs)", t.name), nulls));
    }
    out.push(("delete tblLastChatId".into(), delete_sql(&LAST_CHAT_ID, "nodeID")));
    for (t, c) in NEEDED.iter().chain([&(LEDGER.name, "kind")]) {
        out.push((format!("probe {t}"), presence_sql(t, c)));
        out.push((format!("probe {t} by select"), probe_sql(t, c)));
    }
    out
}

/// A writable destination column.
#[derive(Debug, Clone)]
pub struct DestCol {
    /// Column name.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
    /// Whether it accepts NULL.
    pub nullable: bool,
}

/// A SQL Server mgc database: a small connection pool and the column layouts it has seen.
pub struct MssqlTarget {
    spec: ConnSpec,
    label: String,
    idle: Mutex<Vec<Client>>,
    slots: Semaphore,
    layouts: Mutex<HashMap<&'static str, Arc<Vec<DestCol>>>>,
}

/// Connects (once, to fail fast with a clear message) with at most `conns` connections.
pub async fn open(url: &DbUrl, conns: u32) -> Result<MssqlTarget> {
    let spec = ConnSpec::parse(url)?;
    let first = connect_spec(&spec).await?;
    Ok(MssqlTarget {
        label: spec.label(),
        spec,
        idle: Mutex::new(vec![first]),
        slots: Semaphore::new(conns.max(1) as usize),
        layouts: Mutex::new(HashMap::new()),
    })
}

impl MssqlTarget {
    async fn take(&self) -> Result<(SemaphorePermit<'_>, Client)> {
        let permit =
            self.slots.acquire().await.context("the SQL Server connection pool is closed")?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let client = match idle {
            Some(c) => c,
            None => connect_spec(&self.spec).await?,
        };
        Ok((permit, client))
    }

    fn give_back(&self, c: Client) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(c);
    }

    /// Runs a read: the outer error is a failed connect (already a clear message), the
    /// inner one the statement's. The connection is kept unless it broke.
    async fn read(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Result<Vec<Cells>, TdsError>> {
        let (_permit, mut c) = self.take().await?;
        let r = query(&mut c, sql, params).await;
        if matches!(r, Ok(_) | Err(TdsError::Server(_))) {
            self.give_back(c);
        }
        Ok(r)
    }

    async fn rows(&self, what: &str, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Cells>> {
        self.read(sql, params).await?.map_err(|e| statement_error(&self.label, what, &e))
    }

    /// Whether `table` has the columns `cols`; permission errors are errors.
    pub async fn has_columns(&self, table: &str, cols: &str) -> Result<bool> {
        let (_permit, mut c) = self.take().await?;
        let r = has_columns(&mut c, table, cols).await;
        if matches!(r, Ok(_) | Err(TdsError::Server(_))) {
            self.give_back(c);
        }
        r.map_err(|e| statement_error(&self.label, &format!("reading {table}"), &e))
    }

    /// A read of the ledger: `Ok(None)` when the target has no ledger yet (a dry run, or
    /// `plan --target`). The ledger is looked for only when the read failed, so a load's
    /// per-room reads cost one round trip.
    async fn read_ledger(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Option<Vec<Cells>>> {
        match self.read(sql, params).await? {
            Ok(rows) => Ok(Some(rows)),
            Err(e)
                if !is_permission_denied(&e) && !self.has_columns(LEDGER.name, "kind").await? =>
            {
                Ok(None)
            }
            Err(e) => Err(statement_error(&self.label, "reading gcmigrate_ledger", &e)),
        }
    }

    async fn layout(
        &self,
        c: &mut Client,
        t: &'static TableSpec,
    ) -> Result<Arc<Vec<DestCol>>, TdsError> {
        if let Some(l) = self.layouts.lock().unwrap_or_else(|e| e.into_inner()).get(t.name) {
            return Ok(l.clone());
        }
        let mut cols = Vec::new();
        for r in query(c, LAYOUT, &[&t.name]).await? {
            let name = text(&r, 0).ok().flatten().unwrap_or_default();
            let ty = SqlType::from_name(&text(&r, 1).ok().flatten().unwrap_or_default());
            cols.push(DestCol { name, ty, nullable: int(&r, 2).ok().flatten() != Some(0) });
        }
        if cols.is_empty() {
            return Err(TdsError::Conversion(format!("the target has no table {}", t.name).into()));
        }
        let l = Arc::new(cols);
        self.layouts.lock().unwrap_or_else(|e| e.into_inner()).insert(t.name, l.clone());
        Ok(l)
    }
}

/// For each spec column, its destination column (case-insensitively, as SQL Server does).
fn positions(t: &TableSpec, layout: &[DestCol]) -> Result<Vec<usize>, TdsError> {
    t.cols
        .iter()
        .map(|(c, _)| {
            let c = c.trim_matches('"');
            layout.iter().position(|d| d.name.eq_ignore_ascii_case(c)).ok_or_else(|| {
                TdsError::Conversion(
                    format!("the target's {} has no column {c}: is it an mgc database?", t.name)
                        .into(),
                )
            })
        })
        .collect()
}

fn conv(e: String) -> TdsError {
    TdsError::Conversion(e.into())
}

/// One bulk-load row: every writable column of the table, NULL where the spec has none.
pub fn token_row<'v>(
    t: &TableSpec,
    layout: &[DestCol],
    pos: &[usize],
    row: &'v [Value],
) -> Result<TokenRow<'v>, String> {
    let mut out = TokenRow::with_capacity(layout.len());
    for (i, d) in layout.iter().enumerate() {
        let v = match pos.iter().position(|p| *p == i) {
            Some(k) => encode(&row[k], &d.ty, &format!("{}.{}", t.name, d.name))?,
            None if d.nullable => d.ty.null().ok_or_else(|| {
                format!("{}.{}: cannot bulk-load NULL into {:?}", t.name, d.name, d.ty)
            })?,
            None => {
                return Err(format!(
                    "{}.{} is NOT NULL and gcmigrate writes no value to it",
                    t.name, d.name
                ))
            }
        };
        out.push(v);
    }
    Ok(out)
}

async fn insert_rows(
    c: &mut Client,
    t: &TableSpec,
    layout: &[DestCol],
    rows: &[&Vec<Value>],
) -> Result<(), TdsError> {
    let pos = positions(t, layout)?;
    for part in rows.chunks(rows_per_insert(t)) {
        let sql = insert_values_sql(t, part.len(), |r, k| matches!(part[r][k], Value::Null));
        let mut params = Vec::with_capacity(part.len() * pos.len());
        for row in part {
            for (k, p) in pos.iter().enumerate() {
                if matches!(row[k], Value::Null) {
                    continue;
                }
                let d = &layout[*p];
                params.push(Param(
                    encode(&row[k], &d.ty, &format!("{}.{}", t.name, d.name)).map_err(conv)?,
                ));
            }
        }
        execute_params(c, &sql, params).await?;
    }
    Ok(())
}

async fn bulk(
    c: &mut Client,
    t: &TableSpec,
    layout: &[DestCol],
    rows: &[&Vec<Value>],
) -> Result<(), TdsError> {
    let pos = positions(t, layout)?;
    let table = quote(t.name);
    let mut req = c.bulk_insert(&table).await?;
    for row in rows {
        req.send(token_row(t, layout, &pos, row).map_err(conv)?).await?;
    }
    req.finalize().await?;
    Ok(())
}

fn too_long_for_bulk(row: &[Value]) -> bool {
    row.iter().any(|v| matches!(v, Value::Text(s) if s.len() > BULK_MAX_UTF16 && s.encode_utf16().count() > BULK_MAX_UTF16))
}

/// Whether the server refused a bulk load's stream. Babelfish does so when the load's final
/// DONE token is split across two TDS packets (legal TDS, which SQL Server reassembles):
/// measured, 130 rows fail for exactly the content lengths that put the DONE token within
/// 13 bytes of a packet's end. The batch is then applied again with INSERTs only.
fn bulk_stream_refused(e: &TdsError) -> bool {
    matches!(e, TdsError::Server(t)
        if t.message().contains("Bulk Load") && t.message().contains("protocol stream is incorrect"))
}

async fn apply_once(
    t: &MssqlTarget,
    c: &mut Client,
    batch: &Batch,
    bulk_allowed: bool,
) -> Result<(), TdsError> {
    let mut layouts = Vec::with_capacity(batch.ops.len());
    for op in &batch.ops {
        let (Op::Insert(spec, _) | Op::DeleteEq(spec, _, _)) = op;
        layouts.push(t.layout(c, spec).await?);
    }
    mssql::batch(c, BEGIN).await?;
    for (op, layout) in batch.ops.iter().zip(&layouts) {
        match op {
            Op::Insert(spec, rows)
                if bulk_allowed && spec.name == CHAT.name && rows.len() >= BULK_FROM =>
            {
                let (long, short): (Vec<&Vec<Value>>, Vec<&Vec<Value>>) =
                    rows.iter().partition(|r| too_long_for_bulk(r));
                if !short.is_empty() {
                    bulk(c, spec, layout, &short).await?;
                }
                insert_rows(c, spec, layout, &long).await?;
            }
            Op::Insert(spec, rows) => {
                insert_rows(c, spec, layout, &rows.iter().collect::<Vec<_>>()).await?
            }
            Op::DeleteEq(spec, col, v) => {
                let pos = layout
                    .iter()
                    .position(|d| d.name.eq_ignore_ascii_case(col))
                    .ok_or_else(|| conv(format!("{}: no column {col}", spec.name)))?;
                let value = Value::Int(*v);
                let p = encode(&value, &layout[pos].ty, col).map_err(conv)?;
                execute_params(c, &delete_sql(spec, col), vec![Param(p)]).await?;
            }
        }
    }
    mssql::batch(c, COMMIT).await
}

/// Deadlocks, lock timeouts, broken connections and Azure throttling are worth a retry.
fn is_transient(e: &TdsError) -> bool {
    match e {
        TdsError::Io { .. } => true,
        TdsError::Server(t) => matches!(
            t.code(),
            1205 | 1222
                | 233
                | 10053
                | 10054
                | 10060
                | 40197
                | 40501
                | 40613
                | 49918
                | 49919
                | 49920
        ),
        _ => false,
    }
}

/// Applies a batch in one transaction, retrying transient failures with backoff (a retry
/// can never half-apply: the failed attempt was rolled back or its session ended). A batch
/// whose bulk load the server refuses ([`bulk_stream_refused`]) is applied again with
/// INSERTs.
pub async fn apply(t: &MssqlTarget, batch: &Batch) -> Result<()> {
    let mut delay = Duration::from_millis(200);
    let mut bulk_allowed = true;
    for attempt in 1..=5 {
        let (permit, mut c) = match t.take().await {
            Ok(pc) => pc,
            // A failover or a network blip: the connect is retried like a transient error.
            Err(_) if attempt < 5 => {
                backoff(&mut delay).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let err = match apply_once(t, &mut c, batch, bulk_allowed).await {
            Ok(()) => {
                t.give_back(c);
                return Ok(());
            }
            Err(e) => e,
        };
        // A server error leaves the stream usable: roll back and keep the connection.
        // Anything else (I/O, a half-sent bulk load) drops it; the server then rolls back.
        if matches!(err, TdsError::Server(_))
            && matches!(
                tokio::time::timeout(Duration::from_secs(10), mssql::batch(&mut c, ROLLBACK)).await,
                Ok(Ok(()))
            )
        {
            t.give_back(c);
        }
        drop(permit);
        if bulk_allowed && bulk_stream_refused(&err) {
            bulk_allowed = false;
            continue;
        }
        if attempt < 5 && is_transient(&err) {
            backoff(&mut delay).await;
            continue;
        }
        if is_permission_denied(&err) {
            return Err(statement_error(&t.label, "writing", &err));
        }
        let what = if is_transient(&err) { "after 5 attempts" } else { "permanently" };
        return Err(runtime(scrub(&format!(
            "a write to SQL Server {} failed {what}: {err}; nothing of this chunk was committed — fix the cause \
             and rerun the same `gcmigrate load`, it resumes where it stopped", t.label), t.spec.password())));
    }
    unreachable!("the retry loop returns")
}

/// Waits `delay`, then doubles it (the retry backoff).
async fn backoff(delay: &mut Duration) {
    tokio::time::sleep(*delay).await;
    *delay *= 2;
}

/// Closes every pooled connection.
pub async fn close(t: MssqlTarget) {
    let idle = std::mem::take(&mut *t.idle.lock().unwrap_or_else(|e| e.into_inner()));
    for c in idle {
        let _ = c.close().await;
    }
}

/// Reads what the configuration phase needs (next ids, principals, role types, add-ins).
pub async fn read_state(t: &MssqlTarget) -> Result<TargetState> {
    let one =
        |rows: Vec<Cells>| rows.first().map(|r| req_int(r, 0)).transpose().map(|v| v.unwrap_or(1));
    let next_prin = one(t.rows("reading tblPrincipal", NEXT_PRIN, &[]).await?)?;
    let next_node = one(t.rows("reading tblNode", NEXT_NODE, &[]).await?)?;
    let mut st = TargetState { next_prin, next_node, ..TargetState::empty() };
    st.roles.clear();
    for r in t.rows("reading tblPrincipal", PRINCIPALS, &[]).await? {
        let id = req_int(&r, 0)?;
        st.by_guid.insert(req_text(&r, 1)?.to_ascii_lowercase(), id);
        st.by_uri.insert(req_text(&r, 2)?.to_ascii_lowercase(), id);
    }
    for r in t.rows("reading tblRoleType", ROLE_TYPES, &[]).await? {
        if let Some(role) = Role::from_desc(&req_text(&r, 1)?) {
            st.roles.insert(role, req_int(&r, 0)?);
        }
    }
    for role in [Role::Member, Role::Manager, Role::Voiced, Role::Creator] {
        if !st.roles.contains_key(&role) {
            return Err(bad_input(format!(
                "the target's tblRoleType has no `{role:?}` row; is {} an mgc database?",
                t.label
            )));
        }
    }
    for r in t.rows("reading tblSiopWhiteList", ADDINS, &[]).await? {
        st.addins.insert(req_text(&r, 0)?.to_ascii_lowercase());
    }
    Ok(st)
}

/// The JSON bodies of the ledger's configuration rows, oldest first (none without a ledger).
pub async fn ledger_configs(t: &MssqlTarget) -> Result<Vec<String>> {
    let rows = t.read_ledger(LEDGER_CONFIGS, &[]).await?.unwrap_or_default();
    rows.iter().map(|r| req_text(r, 0)).collect()
}

/// The highest legacy `chatId` the ledger records as committed for a target room.
pub async fn resume_point(t: &MssqlTarget, target_room: i64) -> Result<Option<i64>> {
    let rows = t.read_ledger(RESUME, &[&target_room]).await?.unwrap_or_default();
    Ok(rows.first().map(|r| int(r, 0)).transpose()?.flatten())
}

/// Checks the mgc tables the load writes exist; bad input (exit 2) when they do not.
pub async fn check_schema(t: &MssqlTarget) -> Result<()> {
    let mut missing = Vec::new();
    for (table, cols) in NEEDED {
        if !t.has_columns(table, cols).await? {
            missing.push(*table);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(bad_input(format!(
        "SQL Server {} is not a Persistent Chat mgc database: missing or incomplete {}; pass --create-schema \
         to create the mgc tables in an empty rehearsal database",
        t.label,
        missing.join(", ")
    )))
}

async fn run_in_transaction(t: &MssqlTarget, what: &str, statements: &[String]) -> Result<()> {
    let (_permit, mut c) = t.take().await?;
    let mut result = mssql::batch(&mut c, BEGIN).await;
    for s in statements {
        if result.is_err() {
            break;
        }
        result = mssql::batch(&mut c, s).await;
    }
    if result.is_ok() {
        result = mssql::batch(&mut c, COMMIT).await;
    }
    match result {
        Ok(()) => {
            t.give_back(c);
            Ok(())
        }
        Err(e) => {
            let _ =
                tokio::time::timeout(Duration::from_secs(10), mssql::batch(&mut c, ROLLBACK)).await;
            Err(statement_error(&t.label, what, &e))
        }
    }
}

/// Creates the mgc tables and seed rows (`fixtures/schema/mgc2013.tsql.sql`) in one transaction.
pub async fn create_schema(t: &MssqlTarget) -> Result<()> {
    let ddl = crate::schema::ddl(crate::schema::SchemaKind::Mgc2013, Dialect::Mssql);
    run_in_transaction(t, "creating the mgc schema", &split_statements(ddl)).await
}

/// Creates `gcmigrate_ledger` when missing.
pub async fn ensure_ledger(t: &MssqlTarget) -> Result<()> {
    run_in_transaction(t, "creating gcmigrate_ledger", &[LEDGER_DDL_TSQL.to_string()]).await
}

/// The read side of `open_reader` for SQL Server: creates the schema when asked and absent,
/// checks it, creates the ledger. `Ok(false)`: a dry run against a database without mgc
/// tables (plan against an empty mgc).
pub async fn prepare(t: &MssqlTarget, create: bool, dry_run: bool) -> Result<bool> {
    let has_mgc = t.has_columns("tblNode", "nodeID").await?;
    if !has_mgc && create && !dry_run {
        create_schema(t).await?;
    } else if !has_mgc && dry_run {
        return Ok(false);
    }
    check_schema(t).await?;
    if !dry_run {
        ensure_ledger(t).await?;
    }
    Ok(true)
}
