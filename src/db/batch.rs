//! Rows to write, independent of the backend: typed values, the target tables' column
//! lists, and a [`Batch`] of tables that a target applies in one transaction.

use std::collections::BTreeMap;

use super::int_cells::IntCells;
use super::packed_rows::PackedRows;
use super::Dialect;

/// A column's SQL type, which decides casts and encodings per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `int`, `bigint`, `smallint`, `bit` (0/1).
    Int,
    /// `nvarchar` text.
    Text,
    /// `uniqueidentifier`, as lowercase text.
    Guid,
    /// `datetime`, as `YYYY-MM-DD HH:MM:SS` text.
    DateTime,
}

/// A value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (bits are 0/1).
    Int(i64),
    /// Text (also GUIDs and datetimes, by the column's [`Ty`]).
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v as i64)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A target table and the columns the migration writes, in order.
#[derive(Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// Table name (Microsoft's spelling).
    pub name: &'static str,
    /// Columns and their types.
    pub cols: &'static [(&'static str, Ty)],
}

use Ty::{DateTime, Guid, Int, Text};

/// `tblPrincipal`.
pub const PRINCIPAL: TableSpec = TableSpec {
    name: "tblPrincipal",
    cols: &[
        ("prinID", Int),
        ("prinGuid", Guid),
        ("prinUri", Text),
        ("prinName", Text),
        ("prinDisplayName", Text),
        ("prinCompanyName", Text),
        ("prinEmail", Text),
        ("prinADPath", Text),
        ("prinADUserPrincipalName", Text),
        ("prinDisabled", Int),
        ("prinTypeID", Int),
        ("prinAddedBy", Int),
        ("prinAddedOn", Int),
        ("prinUpdatedBy", Int),
        ("prinUpdatedOn", Int),
        ("prinVerifiedOn", DateTime),
    ],
};
/// `tblPrincipalAffiliations`.
pub const AFFILIATION: TableSpec = TableSpec {
    name: "tblPrincipalAffiliations",
    cols: &[("principalID", Int), ("affiliationID", Int), ("\"index\"", Int), ("updatedBy", Int)],
};
/// `tblSiopWhiteList`.
pub const ADDIN: TableSpec = TableSpec {
    name: "tblSiopWhiteList",
    cols: &[("siopID", Guid), ("siopName", Text), ("siopUrl", Text)],
};
/// `tblNode`.
pub const NODE: TableSpec = TableSpec {
    name: "tblNode",
    cols: &[
        ("nodeID", Int),
        ("nodeGuid", Guid),
        ("parentID", Int),
        ("nodeType", Int),
        ("nodeName", Text),
        ("nodeDesc", Text),
        ("invite", Int),
        ("logged", Int),
        ("filePost", Int),
        ("disabled", Int),
        ("behavior", Int),
        ("visibility", Int),
        ("siopID", Guid),
        ("nodeAddedBy", Int),
        ("nodeAddedOn", Int),
        ("nodeUpdatedBy", Int),
        ("nodeUpdatedOn", Int),
    ],
};
/// `tblScopePrincipal`.
pub const SCOPE: TableSpec = TableSpec {
    name: "tblScopePrincipal",
    cols: &[
        ("scopeNodeID", Int),
        ("scopePrinID", Int),
        ("scopeIsDenied", Int),
        ("scopeUpdatedBy", Int),
    ],
};
/// `tblPrincipalRole`.
pub const ROLE: TableSpec = TableSpec {
    name: "tblPrincipalRole",
    cols: &[
        ("prinRoleNodeID", Int),
        ("prinRolePrinID", Int),
        ("prinRoleTypeID", Int),
        ("prinRoleUpdatedBy", Int),
    ],
};
/// `tblPrincipalInvites`.
pub const INVITE: TableSpec = TableSpec {
    name: "tblPrincipalInvites",
    cols: &[("prinID", Int), ("invID", Int), ("nodeID", Int), ("createdOn", DateTime)],
};
/// `tblChat` (`rtf` is left NULL).
pub const CHAT: TableSpec = TableSpec {
    name: "tblChat",
    cols: &[
        ("channelId", Int),
        ("chatId", Int),
        ("chatDate", Int),
        ("userId", Int),
        ("isAlert", Int),
        ("content", Text),
    ],
};
/// `tblLastChatId`.
pub const LAST_CHAT_ID: TableSpec =
    TableSpec { name: "tblLastChatId", cols: &[("nodeID", Int), ("lastChatID", Int)] };
/// `tblLastInviteId`: per principal, the highest invitation id handed out.
pub const LAST_INVITE_ID: TableSpec =
    TableSpec { name: "tblLastInviteId", cols: &[("prinID", Int), ("lastInviteID", Int)] };
/// The migration's own ledger in the target.
pub const LEDGER: TableSpec = TableSpec {
    name: "gcmigrate_ledger",
    cols: &[
        ("run_id", Text),
        ("wave", Text),
        ("kind", Text),
        ("room_id", Int),
        ("first_chat", Int),
        ("last_chat", Int),
        ("rows_written", Int),
        ("body", Text),
        ("written_at", Text),
        ("deployment", Text),
        ("pool", Text),
    ],
};

/// Rows per part that [`int_rows`] hands a writer.
const INT_ROWS_PER_STEP: usize = 8_192;

/// One step of a batch.
#[derive(Debug, Clone)]
pub enum Op {
    /// Insert rows into a table.
    Insert(&'static TableSpec, Vec<Vec<Value>>),
    /// Insert rows of a table whose columns are all integers, flat: the table's columns per
    /// row, four or eight bytes a cell ([`IntCells`]). An eighth of the memory of
    /// [`Op::Insert`]'s values and no allocation per row: the configuration of the largest
    /// pool holds millions of role and affiliation rows (255 MB of the load's peak as
    /// values). Writers take its rows a part at a time ([`int_rows`]).
    InsertInts(&'static TableSpec, IntCells),
    /// Insert rows of a table with text columns (but `tblChat` and the ledger), encoded in
    /// one buffer ([`PackedRows`]): the largest pool's 150,000 principals took 93 MB as
    /// values. Writers take its rows a part at a time ([`PackedRows::parts`]).
    InsertPacked(&'static TableSpec, PackedRows),
    /// `DELETE FROM table WHERE col = value` (used to replace `tblLastChatId` rows).
    DeleteEq(&'static TableSpec, &'static str, i64),
    /// `DELETE FROM table WHERE c1 = k1 AND c2 = k2 …`, once per key (integer keys).
    DeleteKeys(&'static TableSpec, &'static [&'static str], Vec<Vec<i64>>),
    /// `UPDATE table SET c = v, … WHERE key = id` (a converged node row).
    Update(&'static TableSpec, &'static str, i64, Vec<(&'static str, Value)>),
}

impl Op {
    /// Rows an insert step holds (`None`: not an insert).
    pub fn rows(&self) -> Option<usize> {
        match self {
            Op::Insert(_, rows) => Some(rows.len()),
            Op::InsertInts(t, cells) => Some(cells.len() / t.cols.len().max(1)),
            Op::InsertPacked(_, rows) => Some(rows.len()),
            _ => None,
        }
    }

    /// The table a step writes.
    pub fn table(&self) -> &'static TableSpec {
        match self {
            Op::Insert(t, _)
            | Op::InsertInts(t, _)
            | Op::InsertPacked(t, _)
            | Op::DeleteEq(t, _, _)
            | Op::DeleteKeys(t, _, _)
            | Op::Update(t, _, _, _) => t,
        }
    }
}

/// Writes that a target applies in one transaction, in order.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The steps.
    pub ops: Vec<Op>,
}

impl Batch {
    /// Gives back the room the steps' lists grew into (up to half of each: a list grows by
    /// doubling), before a large batch is written.
    pub fn shrink_to_fit(&mut self) {
        for op in &mut self.ops {
            match op {
                Op::Insert(_, rows) => rows.shrink_to_fit(),
                Op::InsertInts(_, cells) => cells.shrink_to_fit(),
                Op::InsertPacked(_, rows) => rows.shrink_to_fit(),
                _ => {}
            }
        }
    }

    /// Makes room for `rows` more integer rows of `table` (a table of integer columns
    /// only), so that a list of millions is not grown by doubling.
    pub fn reserve_ints(&mut self, table: &'static TableSpec, rows: usize) {
        debug_assert!(table.cols.iter().all(|c| c.1 == Ty::Int), "{}", table.name);
        let cells = rows * table.cols.len();
        match self.ops.last_mut() {
            Some(Op::InsertInts(t, c)) if same(t, table) => c.reserve_exact(cells),
            _ if rows > 0 => self.ops.push(Op::InsertInts(table, IntCells::with_capacity(cells))),
            _ => {}
        }
    }

    /// Adds rows to a table (appending to the last step when it is the same table); a row
    /// of integers only, into a table of integer columns only, is kept flat
    /// ([`Op::InsertInts`]), any other row is packed ([`Op::InsertPacked`]) but a message's
    /// or a ledger row's: a chunk's messages go to the bulk paths as they are, and a ledger
    /// row is one row whose body (megabytes at the largest pool) a packed copy would double.
    pub fn insert(&mut self, table: &'static TableSpec, row: Vec<Value>) {
        debug_assert_eq!(row.len(), table.cols.len(), "{}", table.name);
        let ints: Option<Vec<i64>> = match table.cols.iter().all(|c| c.1 == Ty::Int) {
            true => {
                row.iter().map(|v| if let Value::Int(i) = v { Some(*i) } else { None }).collect()
            }
            false => None,
        };
        match (self.ops.last_mut(), ints) {
            (Some(Op::InsertInts(t, cells)), Some(ints)) if same(t, table) => cells.extend(&ints),
            (_, Some(ints)) => self.ops.push(Op::InsertInts(table, ints.into())),
            (Some(Op::Insert(t, rows)), None) if same(t, table) => rows.push(row),
            (Some(Op::InsertPacked(t, rows)), None) if same(t, table) => rows.push(&row),
            (_, None) if same(table, &CHAT) || same(table, &LEDGER) => {
                self.ops.push(Op::Insert(table, vec![row]))
            }
            (_, None) => {
                let mut rows = PackedRows::default();
                rows.push(&row);
                self.ops.push(Op::InsertPacked(table, rows));
            }
        }
    }

    /// Adds a delete step.
    pub fn delete_eq(&mut self, table: &'static TableSpec, col: &'static str, v: i64) {
        self.ops.push(Op::DeleteEq(table, col, v));
    }

    /// Adds a step deleting the rows with these integer keys (nothing when there are none).
    pub fn delete_keys(
        &mut self,
        table: &'static TableSpec,
        cols: &'static [&'static str],
        keys: Vec<Vec<i64>>,
    ) {
        if !keys.is_empty() {
            self.ops.push(Op::DeleteKeys(table, cols, keys));
        }
    }

    /// Adds a step updating columns of the row whose `key` column is `id`.
    pub fn update(
        &mut self,
        table: &'static TableSpec,
        key: &'static str,
        id: i64,
        set: Vec<(&'static str, Value)>,
    ) {
        if !set.is_empty() {
            self.ops.push(Op::Update(table, key, id, set));
        }
    }

    /// Rows inserted per table.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for op in &self.ops {
            if let Some(n) = op.rows() {
                *out.entry(op.table().name.to_string()).or_default() += n as u64;
            }
        }
        out
    }
}

/// Whether two specs are the same table, by name and columns: a `const` is not one address
/// everywhere (each use may be a copy), so a pointer comparison can miss.
fn same(a: &TableSpec, b: &TableSpec) -> bool {
    a == b
}

/// The rows of an [`Op::InsertPacked`] of `t`, as values, in parts of at most
/// [`INT_ROWS_PER_STEP`] rows made one at a time.
pub fn packed_rows<'a>(
    t: &'a TableSpec,
    rows: &'a PackedRows,
) -> impl Iterator<Item = Vec<Vec<Value>>> + 'a {
    rows.parts(t.cols.len(), INT_ROWS_PER_STEP)
}

/// The rows of an [`Op::InsertInts`] of `t`, as values, in parts of at most
/// [`INT_ROWS_PER_STEP`] rows made one at a time.
pub fn int_rows<'a>(
    t: &'a TableSpec,
    cells: &'a IntCells,
) -> impl Iterator<Item = Vec<Vec<Value>>> + 'a {
    let arity = t.cols.len().max(1);
    let rows = cells.len() / arity;
    (0..rows).step_by(INT_ROWS_PER_STEP).map(move |first| {
        (first..rows.min(first + INT_ROWS_PER_STEP))
            .map(|r| (0..arity).map(|c| Value::Int(cells.get(r * arity + c))).collect())
            .collect()
    })
}

/// `DELETE FROM t WHERE c1 = $1 AND c2 = $2 …`.
pub fn delete_keys_sql(t: &TableSpec, cols: &[&str]) -> String {
    let cond: Vec<String> =
        cols.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
    format!("DELETE FROM {} WHERE {}", t.name, cond.join(" AND "))
}

/// `UPDATE t SET c1 = $1, … WHERE key = $n`, with the dialect's casts for GUID columns
/// and a literal `NULL` where the value is NULL (SQL Server's TDS refuses untyped NULL
/// parameters on some servers); the parameters are the non-NULL values, then the key.
pub fn update_sql(t: &TableSpec, key: &str, set: &[(&str, Value)], dialect: Dialect) -> String {
    let mut n = 0;
    let mut parts = Vec::with_capacity(set.len());
    for (c, v) in set {
        if matches!(v, Value::Null) {
            parts.push(format!("{c} = NULL"));
            continue;
        }
        n += 1;
        let ty = t.cols.iter().find(|x| x.0 == *c).map_or(Ty::Int, |x| x.1);
        let p = match ty {
            Ty::Guid => dialect.guid_param(n),
            Ty::DateTime => dialect.datetime_param(n),
            Ty::Int | Ty::Text => format!("${n}"),
        };
        parts.push(format!("{c} = {p}"));
    }
    format!("UPDATE {} SET {} WHERE {key} = ${}", t.name, parts.join(", "), n + 1)
}

/// The parameters of [`update_sql`]: the non-NULL values, then the key.
pub fn update_params(set: &[(&str, Value)], id: i64) -> Vec<Value> {
    let mut out: Vec<Value> =
        set.iter().filter(|(_, v)| !matches!(v, Value::Null)).map(|(_, v)| v.clone()).collect();
    out.push(Value::Int(id));
    out
}

/// `INSERT INTO t (cols) VALUES (...), (...)` with dialect casts for GUID/datetime columns.
pub fn insert_sql(t: &TableSpec, rows: usize, dialect: Dialect) -> String {
    let cols: Vec<&str> = t.cols.iter().map(|c| c.0).collect();
    let mut values = String::with_capacity(rows * t.cols.len() * 6);
    for r in 0..rows {
        values.push_str(if r == 0 { "(" } else { ", (" });
        for (c, (_, ty)) in t.cols.iter().enumerate() {
            if c > 0 {
                values.push_str(", ");
            }
            let n = r * t.cols.len() + c + 1;
            match ty {
                // SQLite gets anonymous `?` everywhere (no casts needed): sqlx resolves `$n`
                // names one by one through sqlite3_bind_parameter_name, quadratic in the
                // parameters of a statement.
                _ if dialect == Dialect::Sqlite => values.push('?'),
                Ty::Guid => values.push_str(&dialect.guid_param(n)),
                Ty::DateTime => values.push_str(&dialect.datetime_param(n)),
                Ty::Int | Ty::Text => {
                    values.push('$');
                    values.push_str(&n.to_string());
                }
            }
        }
        values.push(')');
    }
    format!("INSERT INTO {} ({}) VALUES {values}", t.name, cols.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_rows_are_kept_flat_in_order_and_handed_out_in_parts() {
        let n = INT_ROWS_PER_STEP as i64 + 3;
        let mut b = Batch::default();
        for i in 0..n {
            b.insert(&LAST_CHAT_ID, vec![i.into(), (i * 2).into()]);
        }
        // A row with a NULL is a row of values: a step of its own, in its place.
        b.insert(&LAST_CHAT_ID, vec![Value::Null, 1i64.into()]);
        b.insert(&LAST_CHAT_ID, vec![5i64.into(), 6i64.into()]);
        assert_eq!(b.ops.len(), 3);
        assert!(matches!(&b.ops[0], Op::InsertInts(_, c) if c.len() == 2 * n as usize));
        assert!(matches!(&b.ops[1], Op::InsertPacked(_, r) if r.len() == 1));
        assert!(matches!(&b.ops[2], Op::InsertInts(_, c) if c.to_vec() == [5, 6]));
        assert_eq!(b.counts()["tblLastChatId"], n as u64 + 2);
        let Op::InsertInts(t, cells) = &b.ops[0] else { panic!("{:?}", b.ops[0]) };
        let parts: Vec<Vec<Vec<Value>>> = int_rows(t, cells).collect();
        assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [INT_ROWS_PER_STEP, 3]);
        assert_eq!(parts[1][2], vec![Value::Int(n - 1), Value::Int(2 * (n - 1))]);
        // A table with a text column is never flat: packed, and handed out as it went in;
        // messages stay values (the bulk paths take them as they are).
        let mut c = Batch::default();
        let row = |i: i64| NODE.cols.iter().map(|_| Value::Int(i)).collect::<Vec<Value>>();
        c.insert(&NODE, row(1));
        c.insert(&NODE, row(2));
        c.insert(&CHAT, CHAT.cols.iter().map(|_| Value::Int(1)).collect());
        c.insert(&LEDGER, LEDGER.cols.iter().map(|_| Value::Int(1)).collect());
        assert_eq!(c.ops.len(), 3);
        let Op::InsertPacked(t, rows) = &c.ops[0] else { panic!("{:?}", c.ops[0]) };
        assert_eq!(packed_rows(t, rows).collect::<Vec<_>>(), [vec![row(1), row(2)]]);
        assert!(matches!(&c.ops[1], Op::Insert(t, _) if t.name == CHAT.name));
        assert!(matches!(&c.ops[2], Op::Insert(t, _) if t.name == LEDGER.name));
        assert_eq!(c.counts()["tblNode"], 2);
    }

    #[test]
    fn reserved_room_is_filled_by_the_rows_that_follow_and_given_back_when_unused() {
        let mut b = Batch::default();
        b.reserve_ints(&ROLE, 0);
        assert!(b.ops.is_empty(), "nothing reserved for no rows");
        b.reserve_ints(&ROLE, 1000);
        for i in 0..10 {
            b.insert(&ROLE, vec![i.into(), 2i64.into(), 3i64.into(), 1i64.into()]);
        }
        assert_eq!(b.ops.len(), 1, "the rows went into the reserved step");
        let Op::InsertInts(_, cells) = &b.ops[0] else { panic!("{:?}", b.ops[0]) };
        assert!(cells.capacity() >= 4000);
        b.shrink_to_fit();
        let Op::InsertInts(_, cells) = &b.ops[0] else { panic!("{:?}", b.ops[0]) };
        assert_eq!((cells.len(), cells.capacity()), (40, 40));
        assert_eq!(b.counts()["tblPrincipalRole"], 10);
    }
}
