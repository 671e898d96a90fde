//! The legacy file repository: the `ma-filelink:` grammar (`link.rs`), the inventory `plan`
//! takes of every link (`inventory.rs`), the verified, resumable copy into the Persistent
//! Chat file store (`copy.rs`) and the streamed SHA-256 all of them use (`hash.rs`).
//! `verify --files` is in `crate::verify::files`.
//!
//! Layout: a link's path relative to the legacy repository root (`<room GUID>/<file
//! GUID>/<name>` in every deployment seen) is kept as it is below the target store's root,
//! which is what Microsoft's documented step (XCOPY of the whole uploaded-files folder
//! into the new store) produces, so Persistent Chat finds the files where legacy clients
//! left them.

pub mod copy;
pub mod hash;
pub mod inventory;
pub mod link;

use std::path::{Path, PathBuf};

/// `dir` joined with a `/`-separated relative path (one component per segment, so the
/// path means the same on every platform; [`link`] refuses `..` and friends).
pub fn under(dir: &Path, rel: &str) -> PathBuf {
    let mut p = dir.to_path_buf();
    p.extend(rel.split('/'));
    p
}

/// A size for people: bytes, KB or MB (1 KB = 1,024 bytes, as `MaxFileSizeKB` counts).
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}
