//! gcmigrate — migrate Lync Server 2010 / OCS 2007 R2 Group Chat into Lync Server 2013
//! Persistent Chat.
//!
//! The pipeline is `extract` (legacy DB → workspace snapshot) → `plan` (mapping rules,
//! findings, reports) → `load` (journaled, resumable, per wave) → `verify`. Each stage is a
//! module; `commands/` wires them to the command line.

pub mod bench;
pub mod bench_cutover;
pub mod cli;
pub mod commands;
pub mod compliance;
pub mod cutover;
pub mod db;
pub mod error;
pub mod export;
pub mod extract;
pub mod files;
pub mod freeze;
pub mod load;
pub mod mapping;
pub mod model;
pub mod plan;
pub mod progress;
pub mod report;
pub mod rollback;
pub mod schema;
pub mod source;
pub mod staging;
pub mod synth;
pub mod timings;
pub mod verify;

use std::process::ExitCode;

use clap::Parser;

use crate::error::exit_code_for;
use crate::progress::Progress;

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main_entry() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let progress = if cli.quiet { Progress::Quiet } else { Progress::Auto };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            progress::err_line(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(commands::run(cli.command, progress)) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            progress::err_line(&format!("error: {}", db::redact(&format!("{err:#}"))));
            exit_code_for(&err)
        }
    }
}
