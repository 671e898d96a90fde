//! `gcmigrate rollback`: render (and optionally run) a wave's rollback script.

use anyhow::Result;

use crate::cli::RollbackArgs;
use crate::error::{bad_input, Outcome};
use crate::progress::Progress;

/// Runs `rollback`.
pub async fn run(_args: RollbackArgs, _progress: Progress) -> Result<Outcome> {
    Err(bad_input("`gcmigrate rollback` is not built yet in this version; nothing was done"))
}
