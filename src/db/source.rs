//! [`SourceDb`]: a legacy Group Chat database opened for reading (and, during a cutover,
//! for the journaled freeze of a wave's rooms). On SQL Server every session reads at READ
//! COMMITTED — set explicitly, in case the login's default differs — because the legacy
//! service keeps running while we read.

use std::ops::Deref;

use anyhow::Result;

use super::{Conn, DbUrl, OpenMode};

/// The isolation level every SQL Server source session is set to.
pub const ISOLATION: &str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// A connected legacy database: a [`Conn`] with the source's session settings.
pub struct SourceDb(Conn);

impl SourceDb {
    /// Connects to the legacy database at `url`, which must exist.
    pub async fn open(url: &DbUrl) -> Result<SourceDb> {
        Ok(SourceDb(Conn::open(url, OpenMode::Existing, 4, Some(ISOLATION)).await?))
    }

    /// Closes the connections.
    pub async fn close(self) {
        self.0.close().await
    }
}

impl Deref for SourceDb {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.0
    }
}
