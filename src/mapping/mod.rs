//! Mapping rules: the legacy access model (`legacy.rs`) and the user's mapping files
//! (`files.rs`: `gcmigrate.toml` and the CSV tables of MAPPING.md §5, read into rows by
//! `csv.rs` and into rules by `csv_rules.rs`, checked against the legacy snapshot by
//! `validate.rs`; the wave-name rule is `wave_name.rs`).

pub mod affiliations;
pub mod csv;
pub mod csv_rules;
pub mod dense;
pub mod dir_digest;
pub mod file_options;
pub mod files;
pub mod legacy;
pub mod validate;
pub mod wave_name;

pub use files::{
    CategoryRule, Mappings, Naming, OnConflict, Options, PathPattern, Pos, PrincipalAction,
    PrincipalKey, PrincipalRule, Resolved, RoomKey, RoomRule,
};
pub use validate::{legacy_path, validate};
pub use wave_name::check_wave_name;
