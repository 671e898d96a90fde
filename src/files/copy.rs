//! `gcmigrate files`: copies the repository files a wave's messages link to from a copy of
//! the legacy repository (`--from`) into the Persistent Chat file store (`--to`), each at
//! the same relative path ([`super`] explains the layout).
//!
//! Every copy is verified: written to a temporary file beside its destination, flushed to
//! disk, read back and hashed, compared with the SHA-256 of what was read from the source,
//! then renamed into place; only then does the workspace's copy journal record it. A
//! rerun (after a kill, say) skips every file the journal records and that is still in
//! place with its size. A destination file the journal does not know is hashed: the same
//! bytes are adopted, different ones stop the run before anything is copied (exit 2,
//! naming it) unless `--overwrite` says to replace them.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::error::{bad_input, runtime};
use crate::progress::Progress;
use crate::staging::{FileLinkRow, Workspace};

/// What the caller asks.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The wave (`None`: every wave).
    pub wave: Option<&'a str>,
    /// The copy of the legacy repository.
    pub from: &'a Path,
    /// The Persistent Chat file store's root.
    pub to: &'a Path,
    /// Only list what would be copied.
    pub dry_run: bool,
    /// Replace destination files that differ.
    pub overwrite: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Files copied by this run, and their bytes.
    pub copied: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Files the journal recorded and that were still in place (not copied again).
    pub in_place: u64,
    /// Files found at the destination with the source's bytes (recorded, not copied).
    pub adopted: u64,
    /// Links whose file is not in `--from`.
    pub missing: Vec<FileLinkRow>,
    /// Files whose SHA-256 differs from what the plan's inventory saw.
    pub changed_since_plan: Vec<String>,
    /// `--dry-run`: (source, destination, size) of each file it would copy.
    pub would_copy: Vec<(PathBuf, PathBuf, u64)>,
}

/// What to do with one file, decided before anything is written.
enum Step {
    Skip,
    Adopt(String, u64),
    Copy,
}

/// Runs the copy.
pub async fn run(ws: &Workspace, req: &Request<'_>, progress: &Progress) -> Result<Outcome> {
    if !req.from.is_dir() {
        return Err(bad_input(format!(
            "--from {} is not a directory: give the mounted copy of the legacy file repository",
            req.from.display()
        )));
    }
    let links: Vec<FileLinkRow> =
        ws.file_links(req.wave).await?.into_iter().filter(|r| r.kind == "store").collect();
    let mut files: BTreeMap<&str, Vec<&FileLinkRow>> = BTreeMap::new();
    for r in &links {
        files.entry(r.rel_path.as_str()).or_default().push(r);
    }
    if !req.dry_run {
        std::fs::create_dir_all(req.to)
            .map_err(|e| bad_input(format!("--to {}: cannot create it: {e}", req.to.display())))?;
    }
    // One copy into a store at a time (a load may run meanwhile: the lock is the store's).
    let _lock = match req.dry_run {
        true => None,
        false => Some(crate::staging::lock::WorkspaceLock::acquire(req.to, "gcmigrate files")?),
    };
    let root = root_key(req.to);
    let journal: BTreeMap<String, (String, u64)> = ws
        .file_copies()
        .await?
        .into_iter()
        .filter(|(r, ..)| *r == root)
        .map(|(_, rel, sha, size)| (rel, (sha, size)))
        .collect();
    let mut out = Outcome::default();
    // Decide every file first: a conflict stops the run before anything is written.
    let mut plan: Vec<(&str, Step)> = Vec::new();
    let mut conflicts = Vec::new();
    for (rel, refs) in &files {
        let (src, dest) = (super::under(req.from, rel), super::under(req.to, rel));
        if !src.is_file() {
            out.missing.extend(refs.iter().map(|r| (*r).clone()));
            continue;
        }
        let step = match (journal.get(*rel), std::fs::metadata(&dest)) {
            (_, Err(_)) => Step::Copy,
            (Some((_, size)), Ok(m)) if m.len() == *size => Step::Skip,
            (_, Ok(_)) => {
                let read = |p: &Path| {
                    super::hash::file(p).with_context(|| format!("reading {}", p.display()))
                };
                let ((theirs, size), (ours, _)) = (read(&dest)?, read(&src)?);
                if theirs == ours {
                    Step::Adopt(ours, size)
                } else {
                    conflicts.push(format!(
                        "{} already exists and differs from {} (SHA-256 {} there, {} in the repository)",
                        dest.display(),
                        src.display(),
                        &theirs[..12],
                        &ours[..12]
                    ));
                    Step::Copy
                }
            }
        };
        plan.push((rel, step));
    }
    if !conflicts.is_empty() && !req.overwrite {
        return Err(bad_input(format!(
            "{}{}: nothing was copied; move the file(s) aside, or rerun with --overwrite to replace them",
            conflicts[0],
            if conflicts.len() > 1 { format!(" (and {} more such file(s))", conflicts.len() - 1) } else { String::new() }
        )));
    }
    let total: u64 = plan
        .iter()
        .filter(|(_, s)| matches!(s, Step::Copy))
        .filter_map(|(rel, _)| std::fs::metadata(super::under(req.from, rel)).ok())
        .map(|m| m.len())
        .sum();
    let bar = if req.dry_run { None } else { Some(progress.bar("files", total)) };
    let pause =
        std::env::var("GCMIGRATE_TEST_FILES_PAUSE").ok().and_then(|v| v.parse::<u64>().ok());
    for (rel, step) in plan {
        let (src, dest) = (super::under(req.from, rel), super::under(req.to, rel));
        match step {
            Step::Skip => out.in_place += 1,
            Step::Adopt(sha, size) if !req.dry_run => {
                ws.record_file_copy(&root, rel, &sha, size).await?;
                out.adopted += 1;
            }
            Step::Adopt(..) => out.adopted += 1,
            Step::Copy if req.dry_run => {
                let size = std::fs::metadata(&src).map_or(0, |m| m.len());
                out.would_copy.push((src, dest, size));
            }
            Step::Copy => {
                let hold = pause.filter(|n| *n == out.copied);
                let (sha, size) = crate::db::lite::blocking(|| copy_one(&src, &dest, hold))?;
                ws.record_file_copy(&root, rel, &sha, size).await?;
                let planned = files[rel].iter().find_map(|r| r.sha256.as_deref());
                if planned.is_some_and(|p| p != sha) {
                    out.changed_since_plan.push(rel.to_string());
                }
                out.copied += 1;
                out.bytes += size;
                if let Some(b) = &bar {
                    b.inc(size);
                }
            }
        }
    }
    if let Some(b) = bar {
        b.finish();
    }
    Ok(out)
}

/// How the journal names a destination root: its canonical path.
pub fn root_key(to: &Path) -> String {
    std::fs::canonicalize(to).unwrap_or_else(|_| to.to_path_buf()).display().to_string()
}

/// The temporary file a copy is written to, beside its destination.
fn temp_of(dest: &Path) -> PathBuf {
    let name = dest.file_name().map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.gcmigrate-part"))
}

/// Copies `src` to `dest` through a temporary file, verified; returns its SHA-256 and size.
/// `hold` (tests only, `GCMIGRATE_TEST_FILES_PAUSE`): stop for a minute after the first
/// chunk, so a test can kill the run mid-copy.
fn copy_one(src: &Path, dest: &Path, hold: Option<u64>) -> Result<(String, u64)> {
    let ctx = |what: &str, p: &Path| format!("{what} {}", p.display());
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).with_context(|| ctx("creating", dir))?;
    }
    let tmp = temp_of(dest);
    let mut input = std::fs::File::open(src).with_context(|| ctx("reading", src))?;
    let mut output = std::fs::File::create(&tmp).with_context(|| ctx("writing", &tmp))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; super::hash::CHUNK];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).with_context(|| ctx("reading", src))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        output.write_all(&buf[..n]).with_context(|| ctx("writing", &tmp))?;
        size += n as u64;
        if hold.is_some() {
            output.flush()?;
            crate::progress::err_line(&format!(
                "files: test pause while copying {}",
                src.display()
            ));
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    }
    output.sync_all().with_context(|| ctx("flushing", &tmp))?;
    drop(output);
    let read = super::hash::hex(h);
    let (written, wsize) = super::hash::file(&tmp).with_context(|| ctx("reading back", &tmp))?;
    if written != read || wsize != size {
        let _ = std::fs::remove_file(&tmp);
        return Err(runtime(format!(
            "the copy of {} to {} reads back differently (SHA-256 {written}, expected {read}): check the destination's disk",
            src.display(),
            dest.display()
        )));
    }
    std::fs::rename(&tmp, dest).with_context(|| ctx("renaming into place", dest))?;
    #[cfg(unix)]
    if let Some(dir) = dest.parent() {
        // The rename itself is durable once its directory is.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| ctx("flushing", dir))?;
    }
    Ok((read, size))
}
