//! The `gcmigrate` binary: parse arguments, run, map the outcome to an exit code.
fn main() -> std::process::ExitCode {
    gcmigrate::main_entry()
}
