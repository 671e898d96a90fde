//! Which mappings directory a `plan` reads. The workspace remembers the directory the
//! last plan read (absolute path) and the digest of its files, so that a later `plan`
//! without `--mappings` — the README's cutover snippet re-plans that way — re-uses it and
//! says so, instead of silently planning with the defaults (after which every named wave
//! vanished and `verify` had nothing to check). `--mappings NONE` plans with the defaults
//! on purpose and is remembered too.
//!
//! When the remembered files changed since that plan, they are re-read (the plan follows
//! the files as they are now) and the console says that they changed; a remembered
//! directory that is gone is bad input: pass `--mappings DIR` or `--mappings NONE`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::bad_input;
use crate::progress::Progress;
use crate::staging::Workspace;

/// The `--mappings` value that opts out of any mappings directory.
pub const NONE: &str = "NONE";

const DIR_KEY: &str = "mappings_dir";
const DIGEST_KEY: &str = "mappings_digest";

/// The mappings a plan reads: a directory (absolute) with its digest, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// The directory; `None` plans with the defaults.
    pub dir: Option<PathBuf>,
    /// The digest of its files when it was read.
    pub digest: Option<String>,
}

/// Decides the mappings from the `--mappings` argument and what the workspace remembers.
pub async fn choose(ws: &Workspace, arg: Option<&Path>, progress: Progress) -> Result<Chosen> {
    match arg {
        Some(p) if p.as_os_str() == NONE => Ok(Chosen { dir: None, digest: None }),
        Some(p) => {
            if !p.is_dir() {
                return Err(bad_input(format!(
                    "mappings directory {} does not exist: give the directory holding gcmigrate.toml \
                     and the CSV tables, or --mappings {NONE} to plan with the defaults",
                    p.display()
                )));
            }
            let dir = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            let digest = crate::mapping::dir_digest::digest(&dir)?;
            Ok(Chosen { dir: Some(dir), digest: Some(digest) })
        }
        None => remembered(ws, progress).await,
    }
}

/// What the last plan read, re-used and announced.
async fn remembered(ws: &Workspace, progress: Progress) -> Result<Chosen> {
    let none = Chosen { dir: None, digest: None };
    let Some(dir) = ws.meta(DIR_KEY).await?.filter(|d| !d.is_empty()) else {
        return Ok(none);
    };
    if dir == NONE {
        progress.note(&format!(
            "plan: no mappings directory (the last plan used --mappings {NONE}); pass --mappings DIR to use one"
        ));
        return Ok(none);
    }
    let path = PathBuf::from(&dir);
    if !path.is_dir() {
        return Err(bad_input(format!(
            "the last plan of this workspace read the mappings in {dir}, which no longer exists: \
             pass --mappings DIR, or --mappings {NONE} to plan with the defaults"
        )));
    }
    let digest = crate::mapping::dir_digest::digest(&path)?;
    let before = ws.meta(DIGEST_KEY).await?.unwrap_or_default();
    if before == digest {
        progress.note(&format!(
            "plan: using the mappings of the last plan, {dir} (unchanged); --mappings {NONE} plans without them"
        ));
    } else {
        progress.note(&format!(
            "plan: using the mappings of the last plan, {dir}: its files CHANGED since that plan \
             and are re-read as they are now; --mappings {NONE} plans without them"
        ));
    }
    Ok(Chosen { dir: Some(path), digest: Some(digest) })
}

/// Remembers what a successful plan read.
pub async fn remember(ws: &Workspace, chosen: &Chosen) -> Result<()> {
    let dir = chosen.dir.as_ref().map_or(NONE.to_string(), |d| d.display().to_string());
    ws.set_meta(DIR_KEY, &dir).await?;
    ws.set_meta(DIGEST_KEY, chosen.digest.as_deref().unwrap_or("")).await
}
