//! The one rule for a wave or pool name, wherever one can be set (`--wave`, `--pool`,
//! `default_wave` and `default_pool` in gcmigrate.toml, the `wave` columns of
//! categories.csv and rooms.csv, the `pool` column of categories.csv): ASCII letters,
//! digits, `.`, `_` and `-`, at most 64 characters, and not `.` or `..`. Both become part
//! of file names (`verify-<wave>.html`, `verify-<wave>@<pool>.html`,
//! `rollback-<wave>.tsql.sql`, `configure-<wave>.ps1`) and of ledger keys, so nothing else
//! may get through; `@` joins a wave and a pool in file names because neither may hold it.
//!
//! `all` is reserved for "every wave" (the reports of a command run without `--wave`), so
//! no wave may be named `all`; the default wave is `default`.

/// The longest wave name accepted.
pub const MAX_WAVE_NAME: usize = 64;

/// The name that means "every wave" and that no wave may take.
pub const EVERY_WAVE: &str = "all";

/// Checks a wave name; the error says what is wrong (without a location: callers add it).
pub fn check_wave_name(name: &str) -> Result<(), String> {
    check_name("wave", name)?;
    if name.eq_ignore_ascii_case(EVERY_WAVE) {
        return Err(format!(
            "`{name}` is reserved for every wave and cannot name one: omit --wave to cover every \
             wave, and give the wave another name in the mappings (the default wave is `default`)"
        ));
    }
    Ok(())
}

/// Checks a pool name (the same characters as a wave name).
pub fn check_pool_name(name: &str) -> Result<(), String> {
    check_name("pool", name)
}

/// The character and length rule shared by wave and pool names.
fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if name.is_empty() {
        return Err(format!("a {kind} name may not be empty"));
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a valid {kind} name"));
    }
    if name.len() > MAX_WAVE_NAME {
        return Err(format!("{kind} name `{name}` is longer than {MAX_WAVE_NAME} characters"));
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "{kind} name `{}` contains {bad:?}: use only ASCII letters, digits, `.`, `_` and `-`",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// The clap value parser for `--wave`: the same rule as the mapping files.
pub fn parse_wave_arg(s: &str) -> Result<String, String> {
    check_wave_name(s).map(|()| s.to_string())
}

/// The clap value parser for `--pool`: the same rule as the mapping files.
pub fn parse_pool_arg(s: &str) -> Result<String, String> {
    check_pool_name(s).map(|()| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ascii_names_pass() {
        for ok in ["default", "pilot", "wave-2", "w_3.b", "A", &"x".repeat(64)] {
            assert_eq!(check_wave_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../../x",
            "a/b",
            "a\\b",
            "wave 2",
            "pïlot",
            "a\nb",
            "x;y",
            &"x".repeat(65),
            "all",
            "ALL",
        ] {
            assert!(check_wave_name(bad).is_err(), "{bad:?} must be refused");
        }
        let e = check_wave_name("all").unwrap_err();
        assert!(e.contains("omit --wave"), "{e}");
        assert_eq!(check_pool_name("pc-eng"), Ok(()));
        assert_eq!(check_pool_name("all"), Ok(()), "a pool may be named all");
        for bad in ["", "pool one", "p@x", "pöol", "a/b", &"p".repeat(65)] {
            assert!(check_pool_name(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
