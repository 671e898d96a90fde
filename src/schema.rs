//! The bundled DDL of the legacy Group Chat and `mgc` schemas, per dialect
//! (`fixtures/schema/*.sql`), and the Contoso fixture data.

use anyhow::Result;

use crate::db::{Conn, Dialect};

/// Which schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// Lync Server 2010 Group Chat (the source).
    Legacy2010,
    /// Lync Server 2013 Persistent Chat `mgc` (the target), with its static seed rows.
    Mgc2013,
}

/// The DDL text of a schema in a dialect.
pub fn ddl(kind: SchemaKind, dialect: Dialect) -> &'static str {
    match (kind, dialect) {
        (SchemaKind::Legacy2010, Dialect::Sqlite) => {
            include_str!("../fixtures/schema/legacy2010.sqlite.sql")
        }
        (SchemaKind::Legacy2010, Dialect::Postgres) => {
            include_str!("../fixtures/schema/legacy2010.postgres.sql")
        }
        (SchemaKind::Legacy2010, Dialect::Mssql) => {
            include_str!("../fixtures/schema/legacy2010.tsql.sql")
        }
        (SchemaKind::Mgc2013, Dialect::Sqlite) => {
            include_str!("../fixtures/schema/mgc2013.sqlite.sql")
        }
        (SchemaKind::Mgc2013, Dialect::Postgres) => {
            include_str!("../fixtures/schema/mgc2013.postgres.sql")
        }
        (SchemaKind::Mgc2013, Dialect::Mssql) => {
            include_str!("../fixtures/schema/mgc2013.tsql.sql")
        }
    }
}

/// The Contoso fixture data (INSERTs for the legacy schema, SQLite and PostgreSQL alike).
pub const CONTOSO: &str = include_str!("../fixtures/contoso/contoso.sql");

/// Creates a schema in a database.
pub async fn create(db: &Conn, kind: SchemaKind) -> Result<()> {
    let name = format!("{kind:?} DDL ({})", db.dialect().name());
    db.run_script(&name, ddl(kind, db.dialect())).await
}
