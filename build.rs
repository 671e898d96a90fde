//! Tells the integration tests which test servers they may use, so that without one
//! `cargo test` lists its tests as ignored, with the reason, instead of passing them.
//! `cfg(gcm_pg)` is set when `GCMIGRATE_TEST_PG_URL` is, `cfg(gcm_mssql)` when
//! `GCMIGRATE_TEST_MSSQL_URL` is (non-empty); changing either rebuilds the crate.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for (var, cfg) in
        [("GCMIGRATE_TEST_PG_URL", "gcm_pg"), ("GCMIGRATE_TEST_MSSQL_URL", "gcm_mssql")]
    {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var(var).is_ok_and(|url| !url.trim().is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
