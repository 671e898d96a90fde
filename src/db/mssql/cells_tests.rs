//! The legacy reader's row decoders (`crate::source::rows`, written once for every engine)
//! fed SQL Server cells: every integer width, `bit`, `uniqueidentifier` and NULLs of each,
//! through the tiberius [`Cells`](crate::db::Cells) implementation.

use tiberius::ColumnData;

use crate::model::Snapshot;
use crate::source::rows::{add_row, chat_from};

#[test]
fn rows_decode_from_sql_server_cell_types() {
    let mut s = Snapshot::default();
    let g = tiberius::Uuid::parse_str("70B3427B-2A75-5EEF-805F-02CE5DD28DFE").unwrap();
    let node: Vec<ColumnData<'static>> = vec![
        ColumnData::I32(Some(7)),
        ColumnData::Guid(Some(g)),
        ColumnData::I32(Some(1)),
        ColumnData::Bit(Some(false)),
        ColumnData::String(Some("Sales".into())),
        ColumnData::String(Some("d".into())),
        ColumnData::String(Some("  ".into())),
        ColumnData::Bit(Some(true)),
        ColumnData::Bit(None),
        ColumnData::Bit(Some(true)),
        ColumnData::Bit(None),
        ColumnData::Bit(Some(false)),
        ColumnData::I16(Some(5)),
        ColumnData::I16(None),
        ColumnData::I32(Some(1)),
        ColumnData::I32(Some(1)),
        ColumnData::Guid(None),
        ColumnData::I32(Some(2)),
        ColumnData::I64(Some(634294368000000000)),
        ColumnData::I32(Some(2)),
        ColumnData::I64(Some(634294368000000001)),
    ];
    add_row(&mut s, "tblNode", &node).unwrap();
    let n = &s.nodes[&7];
    assert_eq!(n.guid, "70b3427b-2a75-5eef-805f-02ce5dd28dfe");
    assert_eq!(
        (n.is_category, n.topic.clone(), n.override_member, n.invite, n.logged),
        (false, None, true, None, Some(true))
    );
    assert_eq!(
        (n.behavior, n.visibility, n.siop_id.clone(), n.updated_on),
        (5, None, None, 634294368000000001)
    );
    let chat: Vec<ColumnData<'static>> = vec![
        ColumnData::I32(Some(7)),
        ColumnData::I64(Some(3)),
        ColumnData::I64(Some(9)),
        ColumnData::I32(Some(2)),
        ColumnData::Bit(Some(true)),
        ColumnData::String(Some("héllo\n😀".into())),
    ];
    let chat = chat_from(&chat).unwrap();
    assert_eq!(
        (chat.channel_id, chat.chat_id, chat.is_alert, chat.content.as_str()),
        (7, 3, true, "héllo\n😀")
    );
    let role: Vec<ColumnData<'static>> = vec![ColumnData::I32(None), ColumnData::String(None)];
    assert!(add_row(&mut s, "tblRoleType", &role).is_err());
}
