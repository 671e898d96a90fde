//! SQL Server cells and values: reading a cell whatever the integer width of its column
//! (`bit` … `bigint`; a `uniqueidentifier` as lowercase text), and encoding a [`Value`]
//! with the exact type of its destination column, which bulk load requires.

use std::borrow::Cow;

use anyhow::Result;
use tiberius::{ColumnData, IntoSql, ToSql, Uuid};

use crate::db::batch::Value;
use crate::db::Cells;

/// A cell value bound as a query parameter, whatever its type (`datetime` included).
#[derive(Debug, Clone)]
pub struct Param<'a>(pub ColumnData<'a>);

impl<'a> IntoSql<'a> for Param<'a> {
    fn into_sql(self) -> ColumnData<'a> {
        self.0
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> ColumnData<'_> {
        self.0.clone()
    }
}

/// An integer cell of any width (`bit`, `tinyint` … `bigint`); NULL is `None`.
pub fn int(cells: &[ColumnData<'_>], i: usize) -> Result<Option<i64>> {
    Ok(match cells.get(i) {
        Some(ColumnData::U8(v)) => v.map(i64::from),
        Some(ColumnData::I16(v)) => v.map(i64::from),
        Some(ColumnData::I32(v)) => v.map(i64::from),
        Some(ColumnData::I64(v)) => *v,
        Some(ColumnData::Bit(v)) => v.map(i64::from),
        Some(ColumnData::String(None) | ColumnData::Guid(None) | ColumnData::DateTime(None)) => {
            None
        }
        other => anyhow::bail!("column {} is not an integer ({})", i + 1, kind(other)),
    })
}

/// A text cell; a `uniqueidentifier` becomes its lowercase hyphenated form.
pub fn text(cells: &[ColumnData<'_>], i: usize) -> Result<Option<String>> {
    Ok(match cells.get(i) {
        Some(ColumnData::String(v)) => v.as_ref().map(|s| s.to_string()),
        Some(ColumnData::Guid(v)) => v.map(|g| g.hyphenated().to_string().to_ascii_lowercase()),
        Some(
            ColumnData::I32(None)
            | ColumnData::I64(None)
            | ColumnData::I16(None)
            | ColumnData::U8(None),
        ) => None,
        other => anyhow::bail!("column {} is not text ({})", i + 1, kind(other)),
    })
}

/// A tiberius row read through the one row interface: [`int`] and [`text`], with NULL an
/// error where a value is required.
impl Cells for Vec<ColumnData<'static>> {
    fn int(&self, i: usize) -> Result<i64> {
        int(self, i)?.ok_or_else(|| anyhow::anyhow!("column {} is NULL", i + 1))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        int(self, i)
    }
    fn text(&self, i: usize) -> Result<String> {
        text(self, i)?.ok_or_else(|| anyhow::anyhow!("column {} is NULL", i + 1))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        text(self, i)
    }
}

fn kind(c: Option<&ColumnData<'_>>) -> String {
    c.map_or("missing".into(), |c| format!("{c:?}").split('(').next().unwrap_or("?").to_string())
}

/// A destination column type, as `sys.types` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlType {
    /// `bit`.
    Bit,
    /// `tinyint`.
    TinyInt,
    /// `smallint`.
    SmallInt,
    /// `int`.
    Int,
    /// `bigint`.
    BigInt,
    /// `nvarchar`, `nchar`, `varchar`, `char`, `ntext`, `text`.
    Text,
    /// `uniqueidentifier`.
    Guid,
    /// `datetime`.
    DateTime,
    /// Anything else: only ever left NULL.
    Other(String),
}

impl SqlType {
    /// From a `sys.types` name.
    pub fn from_name(name: &str) -> SqlType {
        match name.to_ascii_lowercase().as_str() {
            "bit" => SqlType::Bit,
            "tinyint" => SqlType::TinyInt,
            "smallint" => SqlType::SmallInt,
            "int" => SqlType::Int,
            "bigint" => SqlType::BigInt,
            "nvarchar" | "nchar" | "varchar" | "char" | "ntext" | "text" => SqlType::Text,
            "uniqueidentifier" => SqlType::Guid,
            "datetime" => SqlType::DateTime,
            other => SqlType::Other(other.to_string()),
        }
    }

    /// The typed NULL of this column type (`None` for types we never write).
    pub fn null(&self) -> Option<ColumnData<'static>> {
        Some(match self {
            SqlType::Bit => ColumnData::Bit(None),
            SqlType::TinyInt => ColumnData::U8(None),
            SqlType::SmallInt => ColumnData::I16(None),
            SqlType::Int => ColumnData::I32(None),
            SqlType::BigInt => ColumnData::I64(None),
            SqlType::Text => ColumnData::String(None),
            SqlType::Guid => ColumnData::Guid(None),
            SqlType::DateTime => ColumnData::DateTime(None),
            SqlType::Other(n) if n.contains("binary") || n == "image" => ColumnData::Binary(None),
            SqlType::Other(_) => return None,
        })
    }
}

/// Parses `YYYY-MM-DD[ T]HH:MM:SS[.f][Z|±hh:mm]` or `YYYY-MM-DD` into a TDS `datetime`
/// (days since 1900-01-01 and 1/300 s since midnight), inside datetime's range.
pub fn parse_datetime(s: &str) -> Option<tiberius::time::DateTime> {
    use chrono::{NaiveDate, NaiveDateTime, Timelike};
    let s = s.trim();
    let dt = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
        .or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.naive_utc()))
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let base = NaiveDate::from_ymd_opt(1900, 1, 1)?;
    let mut days = (dt.date() - base).num_days();
    let nanos = u64::from(dt.num_seconds_from_midnight()) * 1_000_000_000
        + u64::from(dt.nanosecond() % 1_000_000_000);
    let mut frags = (nanos * 300 + 500_000_000) / 1_000_000_000;
    if frags >= 300 * 86_400 {
        days += 1;
        frags = 0;
    }
    // datetime holds 1753-01-01 … 9999-12-31.
    if !(-53_690..=2_958_463).contains(&days) {
        return None;
    }
    Some(tiberius::time::DateTime::new(days as i32, frags as u32))
}

/// Encodes a value for a destination column of type `ty` (bulk load needs exact types).
pub fn encode<'v>(v: &'v Value, ty: &SqlType, col: &str) -> Result<ColumnData<'v>, String> {
    let range = |what: &str| format!("{col}: {v:?} does not fit in {what}");
    Ok(match (ty, v) {
        (t, Value::Null) => {
            t.null().ok_or_else(|| format!("{col}: cannot write NULL into a {t:?} column"))?
        }
        (SqlType::Bit, Value::Int(i)) => ColumnData::Bit(Some(*i != 0)),
        (SqlType::TinyInt, Value::Int(i)) => {
            ColumnData::U8(Some(u8::try_from(*i).map_err(|_| range("tinyint"))?))
        }
        (SqlType::SmallInt, Value::Int(i)) => {
            ColumnData::I16(Some(i16::try_from(*i).map_err(|_| range("smallint"))?))
        }
        (SqlType::Int, Value::Int(i)) => {
            ColumnData::I32(Some(i32::try_from(*i).map_err(|_| range("int"))?))
        }
        (SqlType::BigInt, Value::Int(i)) => ColumnData::I64(Some(*i)),
        (SqlType::Text, Value::Text(s)) => ColumnData::String(Some(Cow::Borrowed(s.as_str()))),
        (SqlType::Text, Value::Int(i)) => ColumnData::String(Some(Cow::Owned(i.to_string()))),
        (SqlType::Guid, Value::Text(s)) => ColumnData::Guid(Some(
            Uuid::parse_str(s.trim()).map_err(|_| format!("{col}: `{s}` is not a GUID"))?,
        )),
        (SqlType::DateTime, Value::Text(s)) => ColumnData::DateTime(Some(
            parse_datetime(s).ok_or_else(|| format!("{col}: `{s}` is not a datetime"))?,
        )),
        (t, v) => return Err(format!("{col}: cannot write {v:?} into a {t:?} column")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_any_integer_width_and_guids_lowercase() {
        let g = tiberius::Uuid::parse_str("459C34BD-FA4E-50B0-8A7B-F1164310920C").unwrap();
        let row: Vec<ColumnData<'static>> = vec![
            ColumnData::Bit(Some(true)),
            ColumnData::I16(Some(-3)),
            ColumnData::I32(None),
            ColumnData::Guid(Some(g)),
            ColumnData::String(Some("x".into())),
        ];
        assert_eq!(int(&row, 0).unwrap(), Some(1));
        assert_eq!(row.int(1).unwrap(), -3);
        assert_eq!(int(&row, 2).unwrap(), None);
        assert_eq!(text(&row, 3).unwrap().unwrap(), "459c34bd-fa4e-50b0-8a7b-f1164310920c");
        assert!(int(&row, 4).is_err() && text(&row, 1).is_err() && int(&row, 9).is_err());
        assert!(Cells::int(&row, 2).unwrap_err().to_string().contains("NULL"));
    }
}
