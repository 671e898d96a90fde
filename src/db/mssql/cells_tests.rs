//! SQL Server cells as the legacy reader's decoders read them (`crate::source::rows`, which
//! its own tests feed through another `Cells`): every integer width, `bit`,
//! `uniqueidentifier` and NULLs of each, through the tiberius [`Cells`] implementation.

use tiberius::ColumnData;

use crate::db::Cells;

#[test]
fn sql_server_cells_read_as_the_decoders_expect() {
    let g = tiberius::Uuid::parse_str("70B3427B-2A75-5EEF-805F-02CE5DD28DFE").unwrap();
    // A tblNode row as SQL Server sends it: int, uniqueidentifier, bit, nvarchar, smallint, bigint.
    let node: Vec<ColumnData<'static>> = vec![
        ColumnData::I32(Some(7)),
        ColumnData::Guid(Some(g)),
        ColumnData::Bit(Some(false)),
        ColumnData::String(Some("  ".into())),
        ColumnData::Bit(None),
        ColumnData::I16(Some(5)),
        ColumnData::I16(None),
        ColumnData::Guid(None),
        ColumnData::I64(Some(634294368000000001)),
        ColumnData::U8(Some(3)),
    ];
    let r: &dyn Cells = &node;
    assert_eq!(r.int(0).unwrap(), 7);
    assert_eq!(r.text(1).unwrap(), "70b3427b-2a75-5eef-805f-02ce5dd28dfe");
    assert_eq!(r.opt_int(2).unwrap(), Some(0));
    assert_eq!(r.opt_text(3).unwrap().as_deref(), Some("  "));
    assert_eq!(r.opt_int(4).unwrap(), None);
    assert_eq!((r.int(5).unwrap(), r.opt_int(6).unwrap()), (5, None));
    assert_eq!(r.opt_text(7).unwrap(), None);
    assert_eq!((r.int(8).unwrap(), r.int(9).unwrap()), (634294368000000001, 3));
    assert!(r.int(4).is_err(), "a NULL where a value is required is an error");
    assert!(r.int(3).is_err() && r.text(0).is_err(), "no reading text as a number or back");
    let chat: Vec<ColumnData<'static>> =
        vec![ColumnData::Bit(Some(true)), ColumnData::String(Some("héllo\n😀".into()))];
    let r: &dyn Cells = &chat;
    assert_eq!((r.int(0).unwrap(), r.text(1).unwrap().as_str()), (1, "héllo\n😀"));
}
