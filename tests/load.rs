//! `gcmigrate load` and `verify` on SQLite and PostgreSQL targets.

use crate::util::*;

/// Extracts, plans and loads Contoso into the env's target, twice, then verifies.
fn check_load_and_rerun(env: &TestEnv) {
    let target = env.target.as_str();
    env.extract().plan().load();
    let plan = env.report("plan.json");
    let expected = plan["messages"]["load"].as_i64().unwrap();
    assert_eq!(expected, scalar(target, "SELECT COUNT(*) FROM tblChat"));
    // A second run finds everything in the ledger and writes nothing twice.
    let nodes = scalar(target, "SELECT COUNT(*) FROM tblNode");
    env.load();
    assert_eq!(expected, scalar(target, "SELECT COUNT(*) FROM tblChat"));
    assert_eq!(nodes, scalar(target, "SELECT COUNT(*) FROM tblNode"));
    env.verify();
}

#[test]
fn loads_into_sqlite_and_reruns_without_duplicates() {
    check_load_and_rerun(&TestEnv::new("load-sqlite").contoso());
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn loads_into_postgres_and_reruns_without_duplicates() {
    let Some(pg) = pg_database("load_pg") else { return };
    check_load_and_rerun(&TestEnv::new("load-pg").contoso().target(&pg));
}

#[test]
fn verify_names_the_room_and_message_that_differ() {
    let env = TestEnv::new("tamper").contoso();
    env.extract().plan().load();
    let target = env.target.as_str();
    let (room, chat) = {
        let room = scalar(target, "SELECT MIN(channelId) FROM tblChat");
        (
            room,
            scalar(
                target,
                &format!("SELECT MIN(chatId) + 1 FROM tblChat WHERE channelId = {room}"),
            ),
        )
    };
    exec(target, &format!("UPDATE tblChat SET content = content || '!' WHERE channelId = {room} AND chatId = {chat}"));
    env.output(&["verify", "-q", "--target", target]).expect(1);
    let report = env.report("verify-all.json");
    let guid: String = {
        let g = block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(target).await.unwrap();
            let g: String =
                sqlx::query_scalar(&format!("SELECT nodeGuid FROM tblNode WHERE nodeID = {room}"))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            g
        });
        g
    };
    let bad: Vec<_> = report["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["checksum_match"] == false)
        .collect();
    assert_eq!(bad.len(), 1, "{report}");
    assert_eq!(bad[0]["legacy_guid"], guid.as_str());
    assert_eq!(bad[0]["first_mismatch"]["chat_id"], chat);
    assert_eq!(bad[0]["first_mismatch"]["what"], "content");

    exec(target, &format!("DELETE FROM tblChat WHERE channelId = {room} AND chatId = {chat}"));
    env.output(&["verify", "-q", "--target", target]).expect(1);
    let report = env.report("verify-all.json");
    let bad: Vec<_> = report["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["checksum_match"] == false)
        .collect();
    assert_eq!(bad[0]["first_mismatch"]["what"], "missing in target");
}

/// A sum that changes when any foreign key of a PostgreSQL target is created anew.
const KEY_OIDS: &str =
    "SELECT CAST(SUM(CAST(oid AS bigint)) AS bigint) FROM pg_constraint WHERE contype = 'f'";

/// The foreign keys of a PostgreSQL target, as `pg_get_constraintdef` prints them.
fn foreign_keys(url: &str) -> Vec<String> {
    block_on(async {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        keys
    })
}

/// A planned workspace of a synthetic deployment whose configuration is over 2,000 rows.
fn planned_large(name: &str) -> TestEnv {
    let env = TestEnv::new(name).synth(&[
        "--seed",
        "5",
        "--messages",
        "3000",
        "--users",
        "900",
        "--groups",
        "40",
        "--rooms",
        "40",
    ]);
    env.extract().plan();
    env
}

/// Creates the mgc schema in an existing database.
fn create_mgc(url: &str) {
    block_on(async {
        let url = gcmigrate::db::DbUrl::parse(url).unwrap();
        let db = gcmigrate::db::Conn::open(&url, gcmigrate::db::OpenMode::Existing, 1, None)
            .await
            .unwrap();
        gcmigrate::schema::create(&db, gcmigrate::schema::SchemaKind::Mgc2013).await.unwrap();
        db.close().await;
    });
}

/// The foreign keys of a PostgreSQL target, and [`KEY_OIDS`]: equal before and after
/// when no key was dropped and added back.
fn key_state(url: &str) -> (Vec<String>, i64) {
    (foreign_keys(url), scalar(url, KEY_OIDS))
}

/// A fresh PostgreSQL database with the mgc schema already in it (so its keys can be seen
/// before the load), and [`planned_large`]'s workspace; `None` without a server.
fn large_pg(test: &str) -> Option<(PgDb, TestEnv)> {
    let pg = pg_database(test)?;
    let env = planned_large(&test.replace('_', "-"));
    create_mgc(&pg);
    Some((pg, env))
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn a_large_postgres_configuration_checks_its_foreign_keys_set_based_and_keeps_them() {
    let Some((pg, env)) = large_pg("load_pg_keys") else { return };
    let (keys, oids) = key_state(&pg);
    assert!(keys.len() > 5, "{keys:?}");
    env.run(&["load", "-q", "--target", &pg]);
    // Large enough for the set-based path (2,000 rows): the keys were dropped and added
    // back (new constraint rows), exactly as they were.
    let rows = scalar(&pg, "SELECT COUNT(*) FROM tblPrincipalAffiliations")
        + scalar(&pg, "SELECT COUNT(*) FROM tblPrincipalRole");
    assert!(rows > 2_000, "only {rows} configuration rows");
    assert_ne!(oids, scalar(&pg, KEY_OIDS), "the keys were not set aside");
    assert_eq!(foreign_keys(&pg), keys);
    env.run(&["verify", "-q", "--target", &pg]);

    // A large batch with a dangling reference fails whole, naming the key, and changes nothing.
    use gcmigrate::db::batch::{Batch, AFFILIATION};
    use gcmigrate::db::TargetDb as Target;
    let before = scalar(&pg, "SELECT COUNT(*) FROM tblPrincipalAffiliations");
    let err = block_on(async {
        let url = gcmigrate::db::DbUrl::parse(&pg).unwrap();
        let target = Target::open(&url, gcmigrate::db::OpenMode::Existing, 1).await.unwrap();
        let mut batch = Batch::default();
        for i in 0..2_500i64 {
            batch.insert(&AFFILIATION, vec![(-1 - i).into(), (-1 - i).into(), 0.into(), 0.into()]);
        }
        let err = target.apply(&batch).await.unwrap_err();
        target.close().await;
        format!("{err:#}")
    });
    assert!(err.to_lowercase().contains("foreign key"), "{err}");
    assert_eq!(before, scalar(&pg, "SELECT COUNT(*) FROM tblPrincipalAffiliations"));
    assert_eq!(foreign_keys(&pg), keys);
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn a_postgres_writer_that_does_not_own_the_tables_keeps_the_row_by_row_checks() {
    let Some((pg, env)) = large_pg("load_pg_not_owner") else { return };
    let role = format!("gcm_writer_{}", std::process::id());
    let db = pg.rsplit_once('/').unwrap().1;
    exec(
        &pg,
        &format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD 'w'; \
             GRANT CONNECT ON DATABASE {db} TO {role}; GRANT USAGE, CREATE ON SCHEMA public TO {role}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};"
        ),
    );
    let (scheme, rest) = pg.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    let writer = format!("{scheme}://{role}:w@{host}");
    let before = key_state(&pg);
    env.run(&["load", "-q", "--target", &writer]);
    assert!(scalar(&pg, "SELECT COUNT(*) FROM tblPrincipalAffiliations") > 0);
    assert_eq!(key_state(&pg), before, "the keys were never dropped");
    env.run(&["verify", "-q", "--target", &pg]);
    // The role owns the ledger table now: the database goes first, then the role.
    let admin = std::env::var("GCMIGRATE_TEST_PG_URL").unwrap();
    drop(pg);
    exec(&admin, &format!("DROP ROLE {role}"));
}

#[test]
#[cfg_attr(not(gcm_pg), ignore = "set GCMIGRATE_TEST_PG_URL to a PostgreSQL server to run")]
fn a_postgres_reader_holding_a_table_does_not_stall_the_load() {
    let Some((pg, env)) = large_pg("load_pg_reader") else { return };
    let before = key_state(&pg);
    // Another session reads tblPrincipalAffiliations in a long transaction.
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (stop, stop_rx) = std::sync::mpsc::channel::<()>();
    let url = pg.to_string();
    let reader = std::thread::spawn(move || {
        block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql("BEGIN; LOCK TABLE tblPrincipalAffiliations IN ACCESS SHARE MODE")
                .execute(&mut c)
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let _ = stop_rx.recv();
            sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
        })
    });
    ready.recv().unwrap();
    // The keys cannot be dropped under the reader's lock: after a short wait the load
    // keeps the per-row checks and finishes.
    env.run(&["load", "-q", "--target", &pg]);
    stop.send(()).unwrap();
    reader.join().unwrap();
    assert_eq!(key_state(&pg), before, "the keys were never dropped");
    env.run(&["verify", "-q", "--target", &pg]);
}
