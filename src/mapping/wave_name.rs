//! The one rule for a wave name, wherever one can be set (`--wave`, `default_wave` in
//! gcmigrate.toml, the `wave` columns of categories.csv and rooms.csv): ASCII letters,
//! digits, `.`, `_` and `-`, at most 64 characters, and not `.` or `..`. A wave name
//! becomes part of file names (`verify-<wave>.html`, `rollback-<wave>.tsql.sql`,
//! `configure-<wave>.ps1`) and of ledger keys, so nothing else may get through.

/// The longest wave name accepted.
pub const MAX_WAVE_NAME: usize = 64;

/// Checks a wave name; the error says what is wrong (without a location: callers add it).
pub fn check_wave_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if name.is_empty() {
        return Err("a wave name may not be empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a valid wave name"));
    }
    if name.len() > MAX_WAVE_NAME {
        return Err(format!("wave name `{name}` is longer than {MAX_WAVE_NAME} characters"));
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "wave name `{}` contains {bad:?}: use only ASCII letters, digits, `.`, `_` and `-`",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// The clap value parser for `--wave`: the same rule as the mapping files.
pub fn parse_wave_arg(s: &str) -> Result<String, String> {
    check_wave_name(s).map(|()| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ascii_names_pass() {
        for ok in ["all", "pilot", "wave-2", "w_3.b", "A", &"x".repeat(64)] {
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
        ] {
            assert!(check_wave_name(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
