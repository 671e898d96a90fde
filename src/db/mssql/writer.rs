//! The SQL Server `mgc` writer (tiberius): `TargetDb::apply` on SQL Server.
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

use tiberius::error::Error as TdsError;
use tiberius::TokenRow;

use super::pool::{Pool, BEGIN, COMMIT, ROLLBACK};
use super::{
    self as mssql, encode, execute_params, int, is_permission_denied, query, quote, text, Client,
    Param, SqlType,
};
use crate::db::batch::{
    Batch, Op, TableSpec, Value, ADDIN, AFFILIATION, CHAT, INVITE, LAST_CHAT_ID, LEDGER, NODE,
    PRINCIPAL, ROLE, SCOPE,
};

/// The writable columns of a table in `column_id` order (the order bulk load expects).
pub const LAYOUT: &str = "SELECT c.name, t.name, c.is_nullable FROM sys.columns AS c \
    JOIN sys.types AS t ON t.user_type_id = c.system_type_id \
    WHERE c.object_id = OBJECT_ID(@P1) AND c.is_identity = 0 AND c.is_computed = 0 AND t.name <> N'timestamp' \
    ORDER BY c.column_id";
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

/// The destination columns of each table written so far, read once per table.
#[derive(Default)]
pub struct Layouts(Mutex<HashMap<&'static str, Arc<Vec<DestCol>>>>);

impl Layouts {
    async fn get(
        &self,
        c: &mut Client,
        t: &'static TableSpec,
    ) -> Result<Arc<Vec<DestCol>>, TdsError> {
        if let Some(l) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(t.name) {
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
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(t.name, l.clone());
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
    layouts_seen: &Layouts,
    c: &mut Client,
    batch: &Batch,
    bulk_allowed: bool,
) -> Result<(), TdsError> {
    let mut layouts = Vec::with_capacity(batch.ops.len());
    for op in &batch.ops {
        layouts.push(layouts_seen.get(c, op.table()).await?);
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
            Op::InsertInts(spec, cells) => {
                for rows in crate::db::batch::int_rows(spec, cells) {
                    insert_rows(c, spec, layout, &rows.iter().collect::<Vec<_>>()).await?;
                }
            }
            Op::InsertPacked(spec, packed) => {
                for rows in crate::db::batch::packed_rows(spec, packed) {
                    insert_rows(c, spec, layout, &rows.iter().collect::<Vec<_>>()).await?;
                }
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
            Op::DeleteKeys(spec, cols, keys) => {
                let sql = super::pool::placeholders(&crate::db::batch::delete_keys_sql(spec, cols))
                    .into_owned();
                let tys = col_types(spec, layout, cols.iter().copied())?;
                for k in keys {
                    let vals: Vec<Value> = k.iter().map(|v| Value::Int(*v)).collect();
                    let mut params = Vec::with_capacity(k.len());
                    for ((v, ty), col) in vals.iter().zip(&tys).zip(cols.iter()) {
                        params.push(Param(encode(v, ty, col).map_err(conv)?));
                    }
                    execute_params(c, &sql, params).await?;
                }
            }
            Op::Update(spec, key, id, set) => {
                let sql = crate::db::batch::update_sql(spec, key, set, crate::db::Dialect::Mssql);
                let sql = super::pool::placeholders(&sql).into_owned();
                let cols = set.iter().filter(|(_, v)| !matches!(v, Value::Null)).map(|(c, _)| *c);
                let tys = col_types(spec, layout, cols.chain([*key]))?;
                let values = crate::db::batch::update_params(set, *id);
                let mut params = Vec::with_capacity(values.len());
                for (v, ty) in values.iter().zip(&tys) {
                    params.push(Param(encode(v, ty, spec.name).map_err(conv)?));
                }
                execute_params(c, &sql, params).await?;
            }
        }
    }
    mssql::batch(c, COMMIT).await
}

/// The destination types of `cols` of `spec`, from its layout.
fn col_types<'a>(
    spec: &TableSpec,
    layout: &[DestCol],
    cols: impl Iterator<Item = &'a str>,
) -> Result<Vec<SqlType>, TdsError> {
    cols.map(|col| {
        layout
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(col))
            .map(|d| d.ty.clone())
            .ok_or_else(|| conv(format!("{}: no column {col}", spec.name)))
    })
    .collect()
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

/// How an attempt at a batch failed, for the retry loop of `TargetDb::apply`.
pub enum Outcome {
    /// Worth another attempt.
    Transient(String),
    /// The server refused the bulk-load stream ([`bulk_stream_refused`]): apply with INSERTs.
    BulkRefused,
    /// Final.
    Permanent(anyhow::Error),
}

/// Applies a batch in one transaction on one session of `pool`. A server error leaves the
/// session usable: the transaction is rolled back and the session kept. Anything else (I/O,
/// a half-sent bulk load) drops the session; the server then rolls back.
pub async fn try_apply(
    pool: &Pool,
    layouts: &Layouts,
    batch: &Batch,
    bulk_allowed: bool,
) -> Result<(), Outcome> {
    // A failover or a network blip: a failed connect is retried like a transient error.
    let (permit, mut c) = pool.take().await.map_err(|e| Outcome::Transient(format!("{e:#}")))?;
    let err = match apply_once(layouts, &mut c, batch, bulk_allowed).await {
        Ok(()) => {
            pool.give_back(c);
            return Ok(());
        }
        Err(e) => e,
    };
    if matches!(err, TdsError::Server(_))
        && matches!(
            tokio::time::timeout(Duration::from_secs(10), mssql::batch(&mut c, ROLLBACK)).await,
            Ok(Ok(()))
        )
    {
        pool.give_back(c);
    }
    drop(permit);
    if bulk_allowed && bulk_stream_refused(&err) {
        return Err(Outcome::BulkRefused);
    }
    if is_transient(&err) {
        return Err(Outcome::Transient(format!("{err}")));
    }
    if is_permission_denied(&err) {
        return Err(Outcome::Permanent(pool.error("writing", &err)));
    }
    Err(Outcome::Permanent(pool.error("writing (nothing of this chunk was committed; fix the cause and rerun the same `gcmigrate load`, it resumes where it stopped)", &err)))
}
