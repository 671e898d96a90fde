//! The workspace lock: `gcmigrate.lock` in the workspace directory, created atomically
//! (`create_new`, O_EXCL) by `extract`, `load`, `freeze` and `rollback --execute`, and
//! removed when the command ends. A second such command on the same workspace is refused
//! at once (exit 2) with one line naming the holder. The file holds the holder's host and
//! pid, the command and the time; a lock left by a process that no longer runs on this
//! host is taken over with a note. A lock from another host cannot be checked: the message
//! says how to remove it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::bad_input;

/// The lock file's name in the workspace directory.
pub const FILE: &str = "gcmigrate.lock";

/// A held workspace lock; dropping it removes the file.
#[derive(Debug)]
pub struct WorkspaceLock {
    path: PathBuf,
    /// Set when a stale lock was taken over: what it was.
    pub took_over: Option<String>,
}

/// Who holds a lock: host and process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
}

impl Holder {
    /// This process.
    pub fn me() -> Holder {
        Holder { host: host_name(), pid: std::process::id() }
    }

    /// `host:pid`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.host, self.pid)
    }

    /// Parses [`Holder::label`].
    pub fn parse(s: &str) -> Option<Holder> {
        let (host, pid) = s.trim().rsplit_once(':')?;
        Some(Holder { host: host.to_string(), pid: pid.parse().ok()? })
    }

    /// Whether the holder is a process of this host that no longer runs.
    pub fn is_dead(&self) -> bool {
        self.host == host_name() && self.pid != std::process::id() && !pid_alive(self.pid)
    }
}

impl WorkspaceLock {
    /// Takes the lock of workspace `dir` for `command`, or refuses (exit 2) naming who
    /// holds it.
    pub fn acquire(dir: &Path, command: &str) -> Result<WorkspaceLock> {
        let path = dir.join(FILE);
        let body = format!(
            "holder={}\ncommand={}\nsince={}\n",
            Holder::me().label(),
            one_line(command),
            chrono::Utc::now().to_rfc3339()
        );
        let mut took_over = None;
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(body.as_bytes())
                        .and_then(|_| f.sync_all())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    return Ok(WorkspaceLock { path, took_over });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Released meanwhile: try again.
                    let Some(held) = read_held(&path) else { continue };
                    let field = |k: &str| {
                        held.lines()
                            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                            .unwrap_or("?")
                            .to_string()
                    };
                    let (holder, cmd, since) = (field("holder"), field("command"), field("since"));
                    let dead = Holder::parse(&holder).is_some_and(|h| h.is_dead());
                    if !dead || took_over.is_some() {
                        return Err(bad_input(format!(
                            "workspace {} is in use by `{cmd}` (process {holder}, since {since}): \
                             wait for it to finish; if that process is gone, delete {}",
                            dir.display(),
                            path.display()
                        )));
                    }
                    // Only a lock whose holder is gone is removed; then one retry.
                    let _ = std::fs::remove_file(&path);
                    took_over = Some(format!(
                        "took over the workspace lock of `{cmd}` (process {holder}, since {since}), \
                         which no longer runs"
                    ));
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        Err(bad_input(format!(
            "workspace {} is in use: another process took its lock",
            dir.display()
        )))
    }
}

impl Drop for WorkspaceLock {
    fn drop(&mut self) {
        // Only our own lock: a lock someone took over after deleting ours stays.
        let ours = std::fs::read_to_string(&self.path)
            .map(|b| b.contains(&format!("holder={}\n", Holder::me().label())))
            .unwrap_or(false);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The body of a lock someone holds (`None`: it was released meanwhile). A lock is
/// created empty and then written: a holder still writing it (a second load started at
/// the same instant) is waited for, up to a second, so that the refusal can name it.
fn read_held(path: &Path) -> Option<String> {
    let mut held = String::new();
    for _ in 0..20 {
        match std::fs::read_to_string(path) {
            Ok(body) => held = body,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(_) => {}
        }
        if held.contains("\nsince=") && held.ends_with('\n') {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(held)
}

/// Control characters would break the one-line message.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// This host's name (empty when it cannot be read).
pub fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates or fails.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            return String::from_utf8_lossy(&buf[..end]).replace(':', "_");
        }
        String::new()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_default().replace(':', "_")
    }
}

/// Whether a process with this id runs on this host (unknown elsewhere than Unix: yes).
fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_a_dead_one_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let first = WorkspaceLock::acquire(dir.path(), "load --wave a").unwrap();
        let err = WorkspaceLock::acquire(dir.path(), "load").unwrap_err().to_string();
        assert!(err.contains("in use by `load --wave a`"), "{err}");
        drop(first);
        assert!(!dir.path().join(FILE).exists(), "the lock is removed on drop");
        // A lock left by a process that is gone (pid beyond pid_max) is taken over.
        let dead = format!("holder={}:999999999\ncommand=load\nsince=x\n", host_name());
        std::fs::write(dir.path().join(FILE), dead).unwrap();
        let l = WorkspaceLock::acquire(dir.path(), "rollback").unwrap();
        assert!(l.took_over.as_deref().unwrap_or("").contains("no longer runs"));
        // One from another host is not.
        drop(l);
        std::fs::write(dir.path().join(FILE), "holder=elsewhere:1\ncommand=load\n").unwrap();
        assert!(WorkspaceLock::acquire(dir.path(), "load").is_err());
    }

    #[test]
    fn a_lock_still_being_written_is_named_and_a_released_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        // Created, not yet written: the holder is waited for and named.
        std::fs::write(&path, "").unwrap();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(200));
                std::fs::write(&path, "holder=elsewhere:7\ncommand=load --wave b\nsince=now\n")
            })
        };
        let err = WorkspaceLock::acquire(dir.path(), "load").unwrap_err().to_string();
        writer.join().unwrap().unwrap();
        assert!(
            err.contains("in use by `load --wave b` (process elsewhere:7, since now)"),
            "{err}"
        );
        // Released while being read: taken.
        std::fs::remove_file(&path).unwrap();
        assert!(read_held(&path).is_none());
        assert!(WorkspaceLock::acquire(dir.path(), "load").is_ok());
    }

    #[test]
    fn holders_round_trip() {
        let me = Holder::me();
        assert_eq!(Holder::parse(&me.label()), Some(me.clone()));
        assert!(!me.is_dead());
    }
}
