//! The `gcmigrate` binary: parse arguments, run, map the outcome to an exit code.
/// jemalloc (see Cargo.toml): peak resident memory stays close to the live heap.
#[cfg(all(feature = "jemalloc", unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf`, under the crate's symbol prefix): freed pages go
/// back to the system at once instead of after 10 s, which a stage's peak would otherwise
/// count (50 MB at the max-pool plan, for 1-7% of its time). `_RJEM_MALLOC_CONF` overrides.
#[cfg(all(feature = "jemalloc", unix, not(target_env = "musl")))]
#[export_name = "_rjem_malloc_conf"]
#[allow(non_upper_case_globals)]
pub static malloc_conf: &[u8; 34] = b"dirty_decay_ms:0,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    system_malloc_gives_back();
    gcmigrate::main_entry()
}

/// SQLite allocates through the system's malloc, not the Rust allocator: glibc keeps what
/// a reader thread freed in that thread's arena unless told to give back anything above
/// 64 KB (24 MB of the max-pool verify's peak was SQLite pages freed long before).
fn system_malloc_gives_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc's tuning parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 10);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 10);
    }
}
