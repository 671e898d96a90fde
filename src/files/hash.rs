//! SHA-256 of files, streamed (a file is never held in memory), as lower-case hex: the
//! checksum the inventory, the copy journal and `verify --files` record and compare.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Bytes read at a time.
pub const CHUNK: usize = 1 << 20;

/// Lower-case hex of a finished digest.
pub fn hex(h: Sha256) -> String {
    format!("{:x}", h.finalize())
}

/// SHA-256 (hex) and size of the file at `path`.
pub fn file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex(h), size))
}
