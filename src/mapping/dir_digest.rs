//! The digest of a mappings directory: SHA-256 over its regular files, by name, each as
//! its name, a NUL, its length (8 bytes, little-endian) and its contents. `plan`
//! remembers it with the directory, so a later `plan` without `--mappings` can say that
//! the files changed since the plan they made.

use std::path::Path;

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::error::bad_input;

/// The digest of `dir`'s regular files (not subdirectories), as lowercase hex.
pub fn digest(dir: &Path) -> Result<String> {
    let cannot = |e: std::io::Error| bad_input(format!("{}: cannot read: {e}", dir.display()));
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        if entry.file_type().map_err(cannot)?.is_file() {
            files.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for (name, path) in files {
        let body = std::fs::read(&path)
            .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update((body.len() as u64).to_le_bytes());
        h.update(&body);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_follows_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rooms.csv"), "room,wave\n").unwrap();
        let a = digest(dir.path()).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(digest(dir.path()).unwrap(), a, "stable");
        std::fs::write(dir.path().join("rooms.csv"), "room,wave\n/A,w\n").unwrap();
        let b = digest(dir.path()).unwrap();
        assert_ne!(a, b, "contents count");
        std::fs::rename(dir.path().join("rooms.csv"), dir.path().join("categories.csv")).unwrap();
        std::fs::write(dir.path().join("categories.csv"), "room,wave\n/A,w\n").unwrap();
        assert_ne!(digest(dir.path()).unwrap(), b, "names count");
    }
}
