//! Exit-code policy and the error kinds that decide it.
//!
//! Stage modules return their own typed errors; commands wrap them with `anyhow`
//! context. `main` walks the chain looking for a [`Failure`] to pick the exit code:
//! 0 success, 1 findings (blocking plan errors, verification mismatches), 2 bad usage or
//! bad input, 3 runtime failure (unreachable database, write failed after retries).

use std::fmt;
use std::process::ExitCode;

/// What a command run ended as, before it becomes a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked and nothing needs attention.
    Success,
    /// The command finished, but found something that blocks (plan errors, mismatches).
    Findings,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
        }
    }
}

/// The class of a failure, which fixes its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Bad arguments, broken mapping files, a source that is not Group Chat: exit 2.
    BadInput,
    /// A database unreachable or a write that failed after retries: exit 3.
    Runtime,
    /// A safety check refused to go on (the target holds rows the migration did not
    /// write, a condition of the cutover is unmet): exit 1, nothing written.
    Refused,
}

/// An error carrying its exit-code class; anything else in the chain is a runtime failure.
#[derive(Debug)]
pub struct Failure {
    /// Which exit code this failure maps to.
    pub kind: FailureKind,
    /// The message shown to the user (already redacted).
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Builds a bad-input failure (exit code 2).
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    Failure { kind: FailureKind::BadInput, message: message.into() }.into()
}

/// Builds a runtime failure (exit code 3).
pub fn runtime(message: impl Into<String>) -> anyhow::Error {
    Failure { kind: FailureKind::Runtime, message: message.into() }.into()
}

/// Builds a refusal (exit code 1): a safety check found something, nothing was written.
pub fn refused(message: impl Into<String>) -> anyhow::Error {
    Failure { kind: FailureKind::Refused, message: message.into() }.into()
}

/// Maps an error chain to its exit code: the first [`Failure`] decides, else 3.
pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return match f.kind {
                FailureKind::BadInput => ExitCode::from(2),
                FailureKind::Runtime => ExitCode::from(3),
                FailureKind::Refused => ExitCode::from(1),
            };
        }
        if cause.downcast_ref::<clap::Error>().is_some() {
            return ExitCode::from(2);
        }
    }
    ExitCode::from(3)
}
