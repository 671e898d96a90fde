//! The DDL of gcmigrate's own tables in a target, per dialect: the ledger
//! (`gcmigrate_ledger`, what every load wrote, for which deployment and pool), its upgrade
//! from a ledger written before rows carried their deployment, and the lock table
//! (`gcmigrate_lock`, one row per running load, freeze or rollback of the target).

use super::Dialect;

impl Dialect {
    /// Creates the migration's ledger table when missing (one idempotent statement).
    pub fn create_ledger(self) -> &'static str {
        match self {
            Dialect::Mssql => {
                "IF OBJECT_ID(N'gcmigrate_ledger', N'U') IS NULL CREATE TABLE gcmigrate_ledger (\
                 run_id nvarchar(64) NOT NULL, wave nvarchar(256) NOT NULL, kind nvarchar(16) NOT NULL, \
                 room_id bigint NULL, first_chat bigint NULL, last_chat bigint NULL, \
                 rows_written bigint NOT NULL, body nvarchar(max) NULL, written_at nvarchar(40) NOT NULL, \
                 deployment nvarchar(80) NULL, pool nvarchar(256) NULL)"
            }
            _ => {
                "CREATE TABLE IF NOT EXISTS gcmigrate_ledger (\
                 run_id VARCHAR(64) NOT NULL, wave VARCHAR(256) NOT NULL, kind VARCHAR(16) NOT NULL, \
                 room_id BIGINT, first_chat BIGINT, last_chat BIGINT, rows_written BIGINT NOT NULL, \
                 body TEXT, written_at VARCHAR(40) NOT NULL, deployment VARCHAR(80), pool VARCHAR(256))"
            }
        }
    }

    /// Adds the deployment and pool columns to a ledger created before they existed (its
    /// rows keep NULL there until a load claims them). One statement per column: SQLite
    /// adds one at a time.
    pub fn upgrade_ledger(self) -> &'static str {
        match self {
            Dialect::Mssql => {
                "ALTER TABLE gcmigrate_ledger ADD deployment nvarchar(80) NULL;\n\
                 ALTER TABLE gcmigrate_ledger ADD pool nvarchar(256) NULL"
            }
            _ => {
                "ALTER TABLE gcmigrate_ledger ADD deployment VARCHAR(80);\n\
                 ALTER TABLE gcmigrate_ledger ADD pool VARCHAR(256)"
            }
        }
    }

    /// Creates the lock table when missing: its primary key lets one holder in at a time.
    pub fn create_lock(self) -> &'static str {
        match self {
            Dialect::Mssql => {
                "IF OBJECT_ID(N'gcmigrate_lock', N'U') IS NULL CREATE TABLE gcmigrate_lock (\
                 lock_key nvarchar(32) NOT NULL PRIMARY KEY, holder nvarchar(256) NOT NULL, \
                 command nvarchar(256) NOT NULL, since nvarchar(40) NOT NULL)"
            }
            _ => {
                "CREATE TABLE IF NOT EXISTS gcmigrate_lock (\
                 lock_key VARCHAR(32) NOT NULL PRIMARY KEY, holder VARCHAR(256) NOT NULL, \
                 command VARCHAR(256) NOT NULL, since VARCHAR(40) NOT NULL)"
            }
        }
    }
}
