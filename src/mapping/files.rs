//! Mapping files: `gcmigrate.toml` (global options) and the optional CSV tables
//! `principals.csv`, `categories.csv` and `rooms.csv` of a mappings directory
//! (MAPPING.md §4 "Principals", "Pools and waves" and §5).
//!
//! This file holds the loaded rules and the lookups the planner calls; `csv.rs` reads the
//! tables and `validate.rs` checks them against a legacy snapshot. Every error names the
//! file, line and column, and is a bad-input failure (exit 2).

use std::fmt;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::csv_rules::{parse_categories, parse_principals, parse_rooms};
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
    /// Register the legacy add-ins that no migrated room references in the default pool
    /// too (they are listed in the plan either way).
    pub carry_unused_addins: bool,
    /// The Persistent Chat tag policy the cutover scripts create when missing and grant.
    pub chat_policy: String,
    /// Grant that policy per user at each cutover (`false`: a site or pool policy enables
    /// the users, and the scripts only create the tag policy).
    pub grant_chat_policy: bool,
    /// The order the waves are cut over (plans, runbooks and exported policy scripts list
    /// them so): these first, in this order, then the others by name, the default wave last.
    pub wave_order: Vec<String>,
    /// Plan past a pool's documented capacity (a warning that says so, not an error).
    pub accept_capacity_overrun: bool,
    /// `[files]`: the legacy file repository and its `ma-filelink:` links.
    pub files: super::file_options::FileOptions,
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
            default_wave: "default".into(),
            since: None,
            everyone_principal: None,
            carry_unused_addins: false,
            chat_policy: "gcmigrate-PersistentChat".into(),
            grant_chat_policy: true,
            wave_order: Vec::new(),
            accept_capacity_overrun: false,
            files: Default::default(),
        }
    }
}

/// Where a rule was written: the file, and the 1-based line and character column of its
/// key field. Displays as `file:line:column`, the prefix of every message about the rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pos {
    /// The file as given (mappings directory joined with the file name).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based character column.
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// How a `principals.csv` row names legacy principals. Stored normalized (lower case,
/// GUIDs without braces) so lookups compare case-insensitively, as AD and SIP do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum PrincipalKey {
    /// A `prinUri` (`sip:…` or `ma-grp:…`).
    Uri(String),
    /// A `prinGuid`.
    Guid(String),
    /// An AD distinguished name (`prinADPath`: `CN=…`, `OU=…`, `DC=…`).
    Dn(String),
    /// Every `sip:` URI of this domain (the row was `sip:*@domain`).
    Domain(String),
}

/// What a `principals.csv` row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalAction {
    /// Map onto the target principal (`target_uri` / `target_guid`; empty keeps the legacy one).
    #[default]
    Remap,
    /// The principal must be remapped by some other row; unmapped it is a blocking finding.
    Require,
    /// Create the principal disabled in the target.
    Disable,
}

/// A `principals.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRule {
    /// The `legacy` field as written.
    pub legacy: String,
    /// The normalized key.
    pub key: PrincipalKey,
    /// Target URI (lower-cased domain pattern `sip:*@domain` on a domain row); None keeps.
    pub target_uri: Option<String>,
    /// Target GUID, lower case; never set on a domain row.
    pub target_guid: Option<String>,
    /// What to do.
    pub action: PrincipalAction,
    /// Position of the `legacy` field.
    pub source: Pos,
}

/// What `principals.csv` says about one legacy principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolved {
    /// Use this target principal: `uri` with any domain pattern applied (the legacy URI when
    /// the row keeps it), matched by `guid` first when given.
    Remap {
        /// Target `prinUri`.
        uri: String,
        /// Target `prinGuid`, when the row gives one.
        guid: Option<String>,
        /// The row that decided.
        source: Pos,
    },
    /// Create the principal disabled.
    Disable {
        /// The row that decided.
        source: Pos,
    },
    /// A `require` row names the principal but no row remaps it: a blocking finding.
    Required {
        /// The `require` row.
        source: Pos,
    },
}

/// What to do when a target category name already exists in the target pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// A blocking finding.
    #[default]
    Fail,
    /// Put the rooms into the existing category.
    Merge,
    /// Create the category under a suffixed name.
    Rename,
}

/// A legacy path pattern: `/`-separated segments, `*` = one segment, `**` = any number.
/// Literal segments are stored lower case: legacy names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PathPattern(pub Vec<String>);

impl PathPattern {
    /// Whether the pattern has no wildcard (it names one path).
    pub fn is_exact(&self) -> bool {
        self.0.iter().all(|s| s != "*" && s != "**")
    }

    /// Whether `path` (`/A/B`, as [`crate::mapping::validate::legacy_path`] builds it) matches.
    pub fn matches(&self, path: &str) -> bool {
        let lower = path.to_lowercase();
        let segs: Vec<&str> = lower.split('/').filter(|s| !s.is_empty()).collect();
        let pat: Vec<&str> = self.0.iter().map(String::as_str).collect();
        match_segments(&pat, &segs)
    }
}

/// Glob over path segments; `**` backtracks (patterns are short).
fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| match_segments(rest, &segs[i..])),
        Some((p, rest)) => segs
            .split_first()
            .is_some_and(|(s, more)| (*p == "*" || p == s) && match_segments(rest, more)),
    }
}

/// A `categories.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRule {
    /// The `legacy_path` field as written.
    pub legacy_path: String,
    /// The parsed pattern.
    pub pattern: PathPattern,
    /// New target category name (replaces the flattened name).
    pub target_name: Option<String>,
    /// Target pool; None = `default_pool`.
    pub pool: Option<String>,
    /// Wave of the rooms under the category; None = `default_wave`.
    pub wave: Option<String>,
    /// What to do when the name exists in the target.
    pub on_conflict: OnConflict,
    /// Position of the `legacy_path` field.
    pub source: Pos,
}

/// How a `rooms.csv` row names its room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum RoomKey {
    /// A legacy path, lower case.
    Path(String),
    /// A legacy `nodeGuid`, lower case.
    Guid(String),
}

/// A `rooms.csv` row: per-room overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRule {
    /// The `room` field as written.
    pub room: String,
    /// The normalized key.
    pub key: RoomKey,
    /// New room name.
    pub target_name: Option<String>,
    /// Name of the target category to put the room in instead of its own.
    pub target_category: Option<String>,
    /// Wave, overriding the category's.
    pub wave: Option<String>,
    /// Leave the room out (counted as excluded by rule).
    pub skip: bool,
    /// Position of the `room` field.
    pub source: Pos,
}

/// All mapping inputs, loaded and checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mappings {
    /// Global options.
    pub options: Options,
    /// `principals.csv` rows, in file order.
    #[serde(default)]
    pub principals: Vec<PrincipalRule>,
    /// `categories.csv` rows, in file order (the first match wins).
    #[serde(default)]
    pub categories: Vec<CategoryRule>,
    /// `rooms.csv` rows, in file order.
    #[serde(default)]
    pub rooms: Vec<RoomRule>,
}

impl Mappings {
    /// Loads `dir/gcmigrate.toml` and the CSV tables present (absent files → defaults).
    pub fn load(dir: Option<&Path>) -> Result<Mappings> {
        let Some(dir) = dir else { return Ok(Mappings::default()) };
        if !dir.is_dir() {
            return Err(bad_input(format!("mappings directory {} does not exist", dir.display())));
        }
        let path = dir.join("gcmigrate.toml");
        let options = if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
            // Windows editors save a BOM, which TOML does not allow.
            parse_options(&path, text.strip_prefix('\u{feff}').unwrap_or(&text))?
        } else {
            Options::default()
        };
        let table = |name: &str| -> Result<Option<(String, Vec<u8>)>> {
            let path = dir.join(name);
            if !path.exists() {
                return Ok(None);
            }
            let bytes = std::fs::read(&path)
                .map_err(|e| bad_input(format!("{}: cannot read: {e}", path.display())))?;
            Ok(Some((path.display().to_string(), bytes)))
        };
        let mut m = Mappings { options, ..Mappings::default() };
        if let Some((file, bytes)) = table("principals.csv")? {
            m.principals = parse_principals(&file, &bytes)?;
        }
        if let Some((file, bytes)) = table("categories.csv")? {
            m.categories = parse_categories(&file, &bytes)?;
        }
        if let Some((file, bytes)) = table("rooms.csv")? {
            m.rooms = parse_rooms(&file, &bytes)?;
        }
        Ok(m)
    }

    /// The first `categories.csv` rule (file order) whose pattern matches a legacy category path.
    pub fn category_rule(&self, legacy_path: &str) -> Option<&CategoryRule> {
        self.categories.iter().find(|r| r.pattern.matches(legacy_path))
    }

    /// The first `rooms.csv` rule naming the room by legacy path (case-insensitive) or GUID.
    pub fn room_rule(&self, legacy_path: &str, legacy_guid: &str) -> Option<&RoomRule> {
        let (path, guid) = (legacy_path.to_lowercase(), legacy_guid.to_lowercase());
        self.rooms.iter().find(|r| match &r.key {
            RoomKey::Path(p) => *p == path,
            RoomKey::Guid(g) => *g == guid,
        })
    }

    /// What `principals.csv` says about a legacy principal, or None (default handling).
    ///
    /// Exact rows (URI, GUID, DN) win over domain patterns; within each kind the first row in
    /// file order decides. A `require` row only records that some other row must remap.
    pub fn principal_rule(&self, uri: &str, guid: &str, ad_path: Option<&str>) -> Option<Resolved> {
        let (uri_l, guid_l, dn_l) =
            (uri.to_lowercase(), guid.to_lowercase(), ad_path.map(str::to_lowercase));
        let domain = uri_l.strip_prefix("sip:").and_then(|u| u.rsplit_once('@')).map(|(_, d)| d);
        let exact = |r: &&PrincipalRule| match &r.key {
            PrincipalKey::Uri(u) => *u == uri_l,
            PrincipalKey::Guid(g) => *g == guid_l,
            PrincipalKey::Dn(d) => dn_l.as_deref() == Some(d.as_str()),
            PrincipalKey::Domain(_) => false,
        };
        let pattern = |r: &&PrincipalRule| matches!(&r.key, PrincipalKey::Domain(d) if Some(d.as_str()) == domain);
        let mut required = None;
        for r in self.principals.iter().filter(exact).chain(self.principals.iter().filter(pattern))
        {
            match r.action {
                PrincipalAction::Require => {
                    required.get_or_insert_with(|| r.source.clone());
                }
                PrincipalAction::Disable => {
                    return Some(Resolved::Disable { source: r.source.clone() })
                }
                PrincipalAction::Remap => {
                    let target = match (&r.key, &r.target_uri) {
                        (_, None) => uri.to_string(),
                        (PrincipalKey::Domain(_), Some(t)) => apply_domain(uri, t),
                        (_, Some(t)) => t.clone(),
                    };
                    let guid = r.target_guid.clone();
                    return Some(Resolved::Remap { uri: target, guid, source: r.source.clone() });
                }
            }
        }
        required.map(|source| Resolved::Required { source })
    }
}

/// `sip:jane@old.example` with `sip:*@new.example` → `sip:jane@new.example` (the user part
/// keeps its case).
fn apply_domain(uri: &str, target: &str) -> String {
    let user = uri.get(4..).and_then(|u| u.rsplit_once('@')).map_or("", |(u, _)| u);
    target.replacen('*', user, 1)
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
    for w in &opts.wave_order {
        if let Err(e) = super::check_wave_name(w) {
            let off = text.find("wave_order").unwrap_or(0);
            let (line, col) = line_col(text, off);
            return Err(bad_input(format!("{}:{line}:{col}: wave_order: {e}", path.display())));
        }
    }
    if let Some((key, e)) = opts.files.problem() {
        let (line, col) = line_col(text, text.find(key).unwrap_or(0));
        return Err(bad_input(format!("{}:{line}:{col}: files.{key}: {e}", path.display())));
    }
    if let Err(e) = super::check_wave_name(&opts.default_wave) {
        let off = text.find("default_wave").unwrap_or(0);
        let (line, col) = line_col(text, off);
        return Err(bad_input(format!("{}:{line}:{col}: default_wave: {e}", path.display())));
    }
    if let Err(e) = super::wave_name::check_pool_name(&opts.default_pool) {
        let off = text.find("default_pool").unwrap_or(0);
        let (line, col) = line_col(text, off);
        return Err(bad_input(format!("{}:{line}:{col}: default_pool: {e}", path.display())));
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
#[path = "files_tests.rs"]
mod tests;
