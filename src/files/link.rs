//! The `ma-filelink:` grammar, in one place: finding links in message content, telling a
//! file of the legacy repository from a foreign link, the file's path relative to the
//! repository root, and the rewrite of a repository link to the target file store.
//!
//! The real grammar is undocumented. What the fixtures and field reports show is
//! `ma-filelink://<host>/<share>/<room GUID>/<file GUID>/<name>`, the name %-encoded. A
//! link runs from `ma-filelink:` to the first blank, quote or angle bracket; sentence
//! punctuation right after it (`.`, `,`, `;`, `:`, `!`, `?`, `)`, `]`) is not part of it.
//! Rules, first match wins:
//! 1. `[files] prefixes` set: a link is a repository file exactly when it continues with one
//!    of them and `/`; the rest is the relative path;
//! 2. a link that continues with the root node's `filestoreURI` and `/`: the rest;
//! 3. `//host/share/rest` with `host` the `filestoreURI`'s host or one of `[files] hosts`:
//!    `rest`, below its share;
//! 4. anything else is foreign (another host, or no `//host/share/` form at all).
//!
//! The relative path is %-decoded; a path that would leave the store (`..`, `.`, empty
//! segments, `\`, `:`, NUL) is refused rather than resolved.

use std::borrow::Cow;

use crate::mapping::file_options::FileOptions;

/// What starts a file link.
pub const SCHEME: &str = "ma-filelink:";

/// What a link is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A file of the legacy repository.
    Store {
        /// Bytes after `ma-filelink:` that stand for the repository root (the `/` after
        /// them not included): what a rewrite replaces.
        prefix_len: usize,
        /// The path below the root, %-decoded, `/`-separated.
        rel: String,
    },
    /// A link to a host that is not the file store (lower case), or to no host at all
    /// (empty).
    Foreign {
        /// The host.
        host: String,
    },
    /// A repository link whose path would leave the store, or is not UTF-8 once decoded.
    BadPath {
        /// Why.
        reason: String,
    },
}

impl Kind {
    /// The inventory's name for the kind: `store`, `foreign` or `bad-path`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Store { .. } => "store",
            Kind::Foreign { .. } => "foreign",
            Kind::BadPath { .. } => "bad-path",
        }
    }
}

/// One link found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link<'a> {
    /// The link as written, `ma-filelink:` included.
    pub text: &'a str,
    /// Byte offset of the link in the content.
    pub start: usize,
    /// What it is.
    pub kind: Kind,
}

/// The rules in force: built from `[files]` and the snapshot's `filestoreURI`.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    prefixes: Vec<String>,
    store_uri: Option<String>,
    hosts: Vec<String>,
    target: Option<String>,
}

/// Characters that end a link.
fn ends_link(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>')
}

/// Sentence punctuation dropped from a link's end.
fn trailing(b: u8) -> bool {
    matches!(b, b'.' | b',' | b';' | b':' | b'!' | b'?' | b')' | b']')
}

/// `host[:port]` of a URI (`scheme://host/…` or `//host/…`), lower case, without the port.
pub fn host_of(uri: &str) -> Option<String> {
    let rest = uri.split_once("//")?.1;
    let host = rest.split(['/', '\\']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?.trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// `text` starts with `prefix` (ASCII case-insensitive) followed by `/`: the bytes after it.
fn after_prefix<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    (head.eq_ignore_ascii_case(prefix) && text.as_bytes().get(prefix.len()) == Some(&b'/'))
        .then(|| &text[prefix.len() + 1..])
}

/// %-decodes `s` (a `%` not followed by two hex digits stays as it is).
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The decoded relative path, or why it cannot be one.
fn rel_path(raw: &str) -> Result<String, String> {
    let decoded = String::from_utf8(percent_decode(raw))
        .map_err(|_| format!("`{raw}` is not UTF-8 once %-decoded"))?;
    for seg in decoded.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(format!("`{decoded}` has an empty, `.` or `..` segment"));
        }
        if seg.contains(['\\', ':', '\0']) {
            return Err(format!("`{decoded}` holds `\\`, `:` or NUL"));
        }
    }
    Ok(decoded)
}

impl Rules {
    /// The rules of `opts` with the legacy root node's `filestoreURI`.
    pub fn new(opts: &FileOptions, filestore_uri: Option<&str>) -> Rules {
        let trim = |s: &str| s.trim().trim_end_matches('/').to_string();
        let store_uri = filestore_uri.map(trim).filter(|s| !s.is_empty());
        let mut hosts: Vec<String> = opts
            .hosts
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect();
        hosts.extend(store_uri.as_deref().and_then(host_of));
        hosts.sort();
        hosts.dedup();
        Rules {
            prefixes: opts.prefixes.iter().map(|p| trim(p)).collect(),
            store_uri,
            hosts,
            target: opts.filestore_uri.as_deref().map(trim),
        }
    }

    /// Whether links are rewritten (a target `filestore_uri` is set).
    pub fn rewrites(&self) -> bool {
        self.target.is_some()
    }

    /// The hosts of the file store (lower case).
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// What a link (the text after `ma-filelink:`) is.
    pub fn classify(&self, link: &str) -> Kind {
        let store = |prefix_len: usize, raw: &str| match rel_path(raw) {
            Ok(rel) => Kind::Store { prefix_len, rel },
            Err(reason) => Kind::BadPath { reason },
        };
        if !self.prefixes.is_empty() {
            return match self.prefixes.iter().find_map(|p| Some((p, after_prefix(link, p)?))) {
                Some((p, raw)) => store(p.len(), raw),
                None => Kind::Foreign { host: host_of(link).unwrap_or_default() },
            };
        }
        if let Some(raw) = self.store_uri.as_deref().and_then(|u| after_prefix(link, u)) {
            return store(link.len() - raw.len() - 1, raw);
        }
        let host = host_of(link).unwrap_or_default();
        let share_form = link.strip_prefix("//").and_then(|r| {
            let (_host, r) = r.split_once('/')?;
            let (share, rest) = r.split_once('/')?;
            (!share.is_empty() && !rest.is_empty()).then_some(rest)
        });
        match share_form {
            Some(raw) if self.hosts.contains(&host) => store(link.len() - raw.len() - 1, raw),
            _ => Kind::Foreign { host },
        }
    }

    /// Every link of `content`, in order.
    pub fn links<'a>(&'a self, content: &'a str) -> impl Iterator<Item = Link<'a>> + 'a {
        spans(content.as_bytes()).map(move |(start, end)| {
            let text = &content[start..end];
            Link { text, start, kind: self.classify(&text[SCHEME.len()..]) }
        })
    }

    /// `content` with every repository link pointing at the target file store
    /// (`ma-filelink:<filestore_uri>/<path as written>`); borrowed when nothing changes,
    /// which a content without `ma-filelink:` costs one substring search to learn.
    pub fn rewrite<'a>(&self, content: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(target) = &self.target else { return Cow::Borrowed(content) };
        if memchr::memmem::find(content, SCHEME.as_bytes()).is_none() {
            return Cow::Borrowed(content);
        }
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        for (start, end) in spans(content) {
            let Ok(text) = std::str::from_utf8(&content[start + SCHEME.len()..end]) else {
                continue;
            };
            let Kind::Store { prefix_len, .. } = self.classify(text) else { continue };
            let o = out.get_or_insert_with(|| Vec::with_capacity(content.len() + 64));
            let from = start + SCHEME.len();
            o.extend_from_slice(&content[copied..from]);
            o.extend_from_slice(target.as_bytes());
            copied = from + prefix_len;
        }
        match out {
            Some(mut o) => {
                o.extend_from_slice(&content[copied..]);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(content),
        }
    }

    /// [`Rules::rewrite`] of a text (the rewrite only swaps ASCII-delimited parts, so text
    /// stays text).
    pub fn rewrite_text(&self, content: String) -> String {
        match self.rewrite(content.as_bytes()) {
            Cow::Borrowed(_) => content,
            Cow::Owned(b) => String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }

    /// The rules in force, in one sentence for the plan.
    pub fn describe(&self) -> String {
        let from = if !self.prefixes.is_empty() {
            format!("links starting with {} (`[files] prefixes`)", list(&self.prefixes))
        } else {
            let uri = self.store_uri.as_deref().map_or(String::new(), |u| {
                format!("links starting with the filestoreURI `{u}`, and ")
            });
            let hosts = if self.hosts.is_empty() {
                "no host (neither a filestoreURI nor `[files] hosts`)".to_string()
            } else {
                format!("host {}", list(&self.hosts))
            };
            format!("{uri}`ma-filelink://host/share/<path>` links on {hosts}")
        };
        let to = match &self.target {
            Some(t) => format!("the load rewrites them to `ma-filelink:{t}/<path>` (`[files] filestore_uri`), and verify compares accordingly"),
            None => "links are loaded unchanged (no `[files] filestore_uri`)".into(),
        };
        format!("repository files are {from}; {to}")
    }
}

/// `a`, `b`, `c` in backquotes.
fn list(items: &[String]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

/// (start, end) byte offsets of every link in `content`.
fn spans(content: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut last_end = 0;
    memchr::memmem::find_iter(content, SCHEME.as_bytes()).filter_map(move |start| {
        // A scheme inside the previous link is part of it.
        if start < last_end {
            return None;
        }
        let body = start + SCHEME.len();
        let mut end =
            content[body..].iter().position(|&b| ends_link(b)).map_or(content.len(), |n| body + n);
        while end > body && trailing(content[end - 1]) {
            end -= 1;
        }
        last_end = end;
        (end > body).then_some((start, end))
    })
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
