//! Mapping rules: the legacy access model (`legacy.rs`) and the user's mapping files
//! (`files.rs`: `gcmigrate.toml` and the CSV tables of MAPPING.md §5).

pub mod files;
pub mod legacy;

pub use files::{Mappings, Naming, Options};
