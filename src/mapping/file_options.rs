//! The `[files]` table of `gcmigrate.toml`: how `ma-filelink:` links map to files of the
//! legacy file repository, the target's file-size limit, and the target file store's
//! address that links are rewritten to (MAPPING.md §4 "History", content rule).

use serde::{Deserialize, Serialize};

/// `[files]` options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileOptions {
    /// Hosts that serve the legacy file repository besides the host of the root node's
    /// `filestoreURI` (a `ma-filelink://host/share/path` link on one of them is a file of
    /// the repository, `path` below its share; on any other host it is foreign).
    pub hosts: Vec<String>,
    /// Link prefixes (what follows `ma-filelink:`, say `//fs.contoso.com/GroupChatFiles`)
    /// that stand for the repository root. When set, they replace the default rules: a
    /// link is a repository file exactly when it starts with one of them and `/`.
    pub prefixes: Vec<String>,
    /// The target file store's address: when set, the load rewrites each repository link
    /// to `ma-filelink:<filestore_uri>/<path>` (verify applies the same rewrite).
    pub filestore_uri: Option<String>,
    /// Persistent Chat's `MaxFileSizeKB` (default 20,000): larger files are flagged.
    pub max_file_size_kb: u64,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            hosts: Vec::new(),
            prefixes: Vec::new(),
            filestore_uri: None,
            max_file_size_kb: 20_000,
        }
    }
}

impl FileOptions {
    /// What is wrong with the options (the key and why), if anything: an address must be
    /// something a link can hold (no blanks, quotes or angle brackets, which end a link).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        let bad =
            |s: &str| s.is_empty() || s.chars().any(|c| c.is_whitespace() || "\"'<>".contains(c));
        if let Some(uri) = &self.filestore_uri {
            if bad(uri) || uri.starts_with("ma-filelink:") {
                return Some((
                    "filestore_uri",
                    format!("`{uri}` is not a file-store address: give what follows `ma-filelink:`, like `//pcfs.contoso.com/PersistentChatFiles`, without blanks or quotes"),
                ));
            }
        }
        if let Some(p) = self.prefixes.iter().find(|p| bad(p) || p.starts_with("ma-filelink:")) {
            return Some((
                "prefixes",
                format!("`{p}` is not a link prefix: give what follows `ma-filelink:`, like `//fs.contoso.com/GroupChatFiles`"),
            ));
        }
        if let Some(h) = self.hosts.iter().find(|h| h.is_empty() || h.contains(['/', ' '])) {
            return Some(("hosts", format!("`{h}` is not a host name (like `fs.contoso.com`)")));
        }
        if self.max_file_size_kb == 0 {
            return Some(("max_file_size_kb", "must be at least 1".into()));
        }
        None
    }
}
