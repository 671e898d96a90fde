//! The legacy file repository's address: `tblNode.filestoreURI`, which only the root node
//! holds (2010; OCS 2007 R2 sources may have the column; 2013 dropped it).

use anyhow::Result;

use crate::db::Conn;

/// The address, root node first, when the column exists and some node holds one.
pub const SQL: &str = "SELECT filestoreURI FROM tblNode WHERE filestoreURI IS NOT NULL \
    ORDER BY CASE WHEN nodeID = parentID THEN 0 ELSE 1 END, nodeID";

/// Reads the root node's `filestoreURI` (`None` when the column is absent or empty).
pub async fn uri(db: &Conn) -> Result<Option<String>> {
    if !db.has_columns("tblNode", "filestoreURI").await? {
        return Ok(None);
    }
    let found = db.rows("reading tblNode.filestoreURI", SQL, &[], |r| r.opt_text(0)).await?;
    Ok(found.into_iter().flatten().map(|u| u.trim().to_string()).find(|u| !u.is_empty()))
}
