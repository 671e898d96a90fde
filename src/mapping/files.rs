//! Mapping files: `gcmigrate.toml` (global options) in a mappings directory.
//!
//! Every error names the file, line and column, and is a bad-input failure (exit 2).

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::error::bad_input;

/// How rooms under nested categories are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Naming {
    /// `<flattened legacy path><sep><room name>` below the first level (Microsoft's way).
    #[default]
    Prefix,
    /// Bare room names, suffixed only on a collision.
    Keep,
}

/// Global options of `gcmigrate.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Joins legacy category names when flattening (default `_`).
    pub separator: String,
    /// Room naming mode.
    pub naming: Naming,
    /// Suffix of a split category or a renamed duplicate; `{n}` is the number (default ` ({n})`).
    pub suffix: String,
    /// Do not fan root-category managers out to every room.
    pub drop_root_managers: bool,
    /// Leave disabled rooms out (counted as excluded by rule).
    pub skip_disabled_rooms: bool,
    /// Pool of categories no rule assigns.
    pub default_pool: String,
    /// Wave of rooms no rule assigns.
    pub default_wave: String,
    /// Messages before this date (`YYYY-MM-DD`, UTC) are excluded by rule.
    pub since: Option<String>,
    /// Principal URI that stands for "every user" in a category's allowed list; by default
    /// the deployment's domain principals (type 8).
    pub everyone_principal: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            separator: "_".into(),
            naming: Naming::Prefix,
            suffix: " ({n})".into(),
            drop_root_managers: false,
            skip_disabled_rooms: false,
            default_pool: "default".into(),
            default_wave: "all".into(),
            since: None,
            everyone_principal: None,
        }
    }
}

/// All mapping inputs, loaded and checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mappings {
    /// Global options.
    pub options: Options,
}

impl Mappings {
    /// Loads `dir/gcmigrate.toml` (absent → defaults).
    pub fn load(dir: Option<&Path>) -> Result<Mappings> {
        let Some(dir) = dir else { return Ok(Mappings::default()) };
        if !dir.is_dir() {
            return Err(bad_input(format!("mappings directory {} does not exist", dir.display())));
        }
        let path = dir.join("gcmigrate.toml");
        let options = if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
            parse_options(&path, &text)?
        } else {
            Options::default()
        };
        Ok(Mappings { options })
    }
}

/// Parses `gcmigrate.toml` text, reporting errors as `file:line:column: message`.
pub fn parse_options(path: &Path, text: &str) -> Result<Options> {
    let opts: Options = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        bad_input(format!("{}:{line}:{col}: {}", path.display(), e.message()))
    })?;
    if let Some(since) = &opts.since {
        if crate::model::date_to_ticks(since).is_none() {
            let off = text.find(since.as_str()).unwrap_or(0);
            let (line, col) = line_col(text, off);
            return Err(bad_input(format!(
                "{}:{line}:{col}: `since` must be a date like 2011-01-31, not `{since}`",
                path.display()
            )));
        }
    }
    Ok(opts)
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_option_names_line_and_column() {
        let err = parse_options(Path::new("m/gcmigrate.toml"), "separator = \"-\"\nfoo = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("m/gcmigrate.toml:2:1:"), "{err}");
        assert!(err.contains("foo"), "{err}");
    }

    #[test]
    fn bad_since_is_rejected_with_position() {
        let err = parse_options(Path::new("g.toml"), "since = \"last year\"\n").unwrap_err().to_string();
        assert!(err.starts_with("g.toml:1:10:"), "{err}");
    }
}
