//! Where one room's messages go: one conversation file at a time (the room's, or its
//! current day's or month's), written to a hidden temporary file while its SHA-256 is
//! computed, then renamed into place. A killed export leaves at most temporary files,
//! which the rerun removes; a file under its final name is always complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::manifest::FileEntry;
use super::xml::{Conversation, Message};
use super::Slice;
use crate::model::ticks_to_iso7;

/// A writer that hashes and counts what passes through it.
pub struct Hashing<W: Write> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The SHA-256 of `bytes`, lowercase hex.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

struct Open {
    slice: Option<String>,
    name: String,
    tmp: PathBuf,
    conv: Conversation<Hashing<BufWriter<File>>>,
}

/// One room's files.
pub struct RoomSink<'a> {
    dir: &'a Path,
    slice: Slice,
    legacy_id: i64,
    guid: &'a str,
    path: &'a str,
    channel_uri: &'a str,
    name: &'a str,
    open: Option<Open>,
    /// The files finished so far.
    pub done: Vec<FileEntry>,
}

impl<'a> RoomSink<'a> {
    /// The sink of one room.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dir: &'a Path,
        slice: Slice,
        legacy_id: i64,
        guid: &'a str,
        path: &'a str,
        channel_uri: &'a str,
        name: &'a str,
    ) -> RoomSink<'a> {
        RoomSink {
            dir,
            slice,
            legacy_id,
            guid,
            path,
            channel_uri,
            name,
            open: None,
            done: Vec::new(),
        }
    }

    /// Writes a message into the file of its slice (messages come in time order, so a
    /// slice's file is finished when the next slice starts).
    pub fn message(&mut self, m: &Message<'_>) -> Result<()> {
        let key = slice_of(self.slice, m.ticks)?;
        if self.open.as_ref().is_some_and(|o| o.slice != key) {
            self.close()?;
        }
        if self.open.is_none() {
            let name = file_name(self.legacy_id, key.as_deref());
            let tmp = self.dir.join(format!(".{name}.tmp"));
            let f =
                File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
            let h = Hashing { inner: BufWriter::new(f), sha: Sha256::new(), bytes: 0 };
            let conv = Conversation::start(h, self.channel_uri, self.name)?;
            self.open = Some(Open { slice: key, name, tmp, conv });
        }
        let open = self.open.as_mut().context("a conversation file is open")?;
        open.conv.message(m)
    }

    /// Finishes the open file, if any: closes its document, renames it into place and
    /// records it.
    pub fn close(&mut self) -> Result<()> {
        let Some(o) = self.open.take() else { return Ok(()) };
        let (messages, replaced_chars) = (o.conv.messages, o.conv.replaced);
        let mut h = o.conv.finish()?;
        h.flush()?;
        let Hashing { inner, sha, bytes } = h;
        inner.into_inner().map_err(|e| e.into_error())?;
        std::fs::rename(&o.tmp, self.dir.join(&o.name))
            .with_context(|| format!("cannot rename {} to {}", o.tmp.display(), o.name))?;
        self.done.push(FileEntry {
            file: o.name,
            room_guid: self.guid.to_string(),
            room_path: self.path.to_string(),
            slice: o.slice,
            messages,
            replaced_chars,
            bytes,
            sha256: hex(&sha.finalize()),
        });
        Ok(())
    }
}

/// The slice a message at `ticks` belongs to: its UTC day or month, or None for the whole
/// room.
pub fn slice_of(slice: Slice, ticks: i64) -> Result<Option<String>> {
    let len = match slice {
        Slice::None => return Ok(None),
        Slice::Day => 10,
        Slice::Month => 7,
    };
    let iso = ticks_to_iso7(ticks)
        .with_context(|| format!("chatDate {ticks} is outside .NET's DateTime range"))?;
    Ok(Some(iso[..len].to_string()))
}

/// `room-<nodeID>.xml`, or `room-<nodeID>-<slice>.xml`: ids and dates only, whatever the
/// room is called (its name and GUID are in the file and the manifest).
pub fn file_name(legacy_id: i64, slice: Option<&str>) -> String {
    match slice {
        Some(s) => format!("room-{legacy_id}-{s}.xml"),
        None => format!("room-{legacy_id}.xml"),
    }
}

/// Whether `name` is a file this export writes (or its temporary form): what a rerun may
/// remove when the new export does not produce it again.
pub fn is_ours(name: &str) -> bool {
    let bare = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")).unwrap_or(name);
    let rest = bare.strip_prefix("room-").and_then(|n| n.strip_suffix(".xml"));
    let xml = rest.is_some_and(|r| {
        !r.is_empty()
            && r.chars().all(|c| c.is_ascii_digit() || c == '-')
            && r.starts_with(|c: char| c.is_ascii_digit())
    });
    xml || matches!(bare, "manifest.json" | "manifest.csv" | "left-out.csv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_and_names() {
        let t = crate::model::date_to_ticks("2012-02-29").unwrap() + 1;
        assert_eq!(slice_of(Slice::Day, t).unwrap().as_deref(), Some("2012-02-29"));
        assert_eq!(slice_of(Slice::Month, t).unwrap().as_deref(), Some("2012-02"));
        assert_eq!(slice_of(Slice::None, -5).unwrap(), None);
        assert!(slice_of(Slice::Day, -5).is_err());
        assert_eq!(file_name(7, Some("2012-02")), "room-7-2012-02.xml");
        for ours in [
            "room-7.xml",
            "room-7-2012-02-29.xml",
            ".room-7.xml.tmp",
            "manifest.json",
            ".manifest.csv.tmp",
        ] {
            assert!(is_ours(ours), "{ours}");
        }
        for theirs in ["room-.xml", "room-x.xml", "notes.txt", "room-7.xml.bak", ".hidden"] {
            assert!(!is_ours(theirs), "{theirs}");
        }
    }
}
