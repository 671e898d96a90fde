//! A look at an SQLite file's header before any driver opens it: a file that is not an
//! SQLite database (random bytes, a text file, a directory) or one cut short by an
//! incomplete copy is bad input at once (exit 2, naming the file), instead of a pool
//! that retries its connection until the acquire timeout and then reports a runtime
//! failure.
//!
//! The header is documented at <https://www.sqlite.org/fileformat.html#the_database_header>:
//! the magic string, the page size at offset 16, the change counter at 24, the page count
//! at 28, valid when the "version-valid-for" number at 92 equals the change counter.

use std::io::Read;
use std::path::Path;

use anyhow::Result;

use crate::error::bad_input;

/// The 16 bytes every SQLite 3 database starts with.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The header's length.
const HEADER: usize = 100;

/// Checks the file at `path` when it exists: an empty file passes (SQLite treats it as an
/// empty database); anything else must carry a valid header and be as long as the header
/// says.
pub fn check(path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
    if meta.is_dir() {
        return Err(bad_input(format!(
            "{} is a directory, not an SQLite database file: give the path of the .db file",
            path.display()
        )));
    }
    let len = meta.len();
    if len == 0 {
        return Ok(());
    }
    let head =
        header(path).map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
    // In WAL mode the pages past the main file's end may still be in `<file>-wal` (a
    // process that ended before its checkpoint): SQLite completes the file from it on open,
    // so the length is judged only without a write-ahead log.
    verdict(&head, (!has_wal(path)).then_some(len))
        .map_err(|why| bad_input(format!("{}: {why}", path.display())))
}

/// The file's first [`HEADER`] bytes (fewer when it is shorter).
fn header(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEADER);
    std::fs::File::open(path)?.take(HEADER as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Whether `<path>-wal` exists and is not empty.
fn has_wal(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0)
}

/// The identity of the file's current state, for a cache of what was proven about it:
/// length, modification time, inode, and the header's format, change counter and page
/// count (in rollback-journal mode SQLite bumps the counter on every committed write).
/// `None` when the file cannot be read or has a non-empty write-ahead log, whose writes
/// change neither: such a state is never taken as proven.
pub fn stamp(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if has_wal(path) {
        return None;
    }
    let head = header(path).ok()?;
    if head.len() < HEADER {
        return None;
    }
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    let hex: String = [&head[18..20], &head[24..32], &head[92..96]]
        .concat()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(format!("{}:{}:{inode}:{hex}", meta.len(), modified.as_nanos()))
}

/// What is wrong with a file that starts with `head`, if anything; its length `len` is
/// judged against the header's page count when given.
fn verdict(head: &[u8], len: Option<u64>) -> Result<(), String> {
    let not_sqlite = "not an SQLite database (the file does not start with the SQLite \
                      header): check the path, or restore the file from a backup";
    if head.len() < MAGIC.len() || &head[..MAGIC.len()] != MAGIC {
        return Err(not_sqlite.into());
    }
    if head.len() < HEADER {
        return Err(format!(
            "truncated SQLite database ({} bytes, shorter than its 100-byte header): \
             copy or restore the file again",
            head.len()
        ));
    }
    let be16 = |o: usize| u64::from(u16::from_be_bytes([head[o], head[o + 1]]));
    let be32 = |o: usize| u32::from_be_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
    let page = match be16(16) {
        1 => 65_536,
        p if (512..=32_768).contains(&p) && p.is_power_of_two() => p,
        _ => return Err(not_sqlite.into()),
    };
    let pages = u64::from(be32(28));
    let size_valid = be32(92) == be32(24) && pages > 0;
    if let Some(len) = len.filter(|&len| size_valid && len < pages * page) {
        return Err(format!(
            "truncated SQLite database ({len} bytes, its header says {} pages of {page} bytes): \
             the copy is incomplete; copy or restore the file again",
            pages
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(page: u16, pages: u32, counter: u32, valid_for: u32) -> Vec<u8> {
        let mut h = vec![0u8; HEADER];
        h[..16].copy_from_slice(MAGIC);
        h[16..18].copy_from_slice(&page.to_be_bytes());
        h[24..28].copy_from_slice(&counter.to_be_bytes());
        h[28..32].copy_from_slice(&pages.to_be_bytes());
        h[92..96].copy_from_slice(&valid_for.to_be_bytes());
        h
    }

    #[test]
    fn headers_are_judged_before_any_driver_sees_them() {
        assert_eq!(verdict(&header(4096, 3, 7, 7), Some(3 * 4096)), Ok(()));
        // A longer file is fine (free pages past the count); a stale count is not trusted.
        assert_eq!(verdict(&header(4096, 3, 7, 7), Some(4 * 4096)), Ok(()));
        assert_eq!(verdict(&header(4096, 9, 7, 6), Some(4096)), Ok(()));
        let short = verdict(&header(4096, 3, 7, 7), Some(2 * 4096)).unwrap_err();
        assert!(short.starts_with("truncated SQLite database"), "{short}");
        let cut = verdict(&header(4096, 3, 7, 7)[..50], Some(50)).unwrap_err();
        assert!(cut.starts_with("truncated"), "{cut}");
        let random = verdict(b"\x8f\x01garbage that is long enough to be a header", Some(4096));
        assert!(random.unwrap_err().starts_with("not an SQLite database"));
        assert!(verdict(&header(1000, 3, 7, 7), Some(3000))
            .unwrap_err()
            .starts_with("not an SQLite"));
        assert_eq!(verdict(&header(1, 1, 1, 1), Some(65_536)), Ok(()));
        // With a write-ahead log the pages past the end may be in `-wal`: no length verdict,
        // but the header itself is still judged.
        assert_eq!(verdict(&header(4096, 3, 7, 7), None), Ok(()));
        assert!(verdict(&header(4096, 3, 7, 7)[..50], None).unwrap_err().starts_with("truncated"));
    }
}
