//! Unit tests of [`super::newer_than`]: each construct caught on the side that lacks it,
//! passed on the side that has it, and never seen in literals, comments or quoted names.

use super::*;

fn names(side: Side, sql: &str) -> Vec<&'static str> {
    newer_than(side, sql).into_iter().map(|n| n.construct).collect()
}

#[test]
fn throw_and_offset_fetch_are_caught_on_both_sides() {
    for side in [Side::Legacy, Side::Mgc] {
        let throw = newer_than(side, "THROW 50000, 'x', 1");
        assert_eq!(throw, vec![Newer { construct: "THROW", since: Since::V2012 }], "{side:?}");
        let guarded = "IF EXISTS (SELECT 1 FROM t)\n  THROW 50001, N'refused', 1";
        assert_eq!(names(side, guarded), ["THROW"], "{side:?}");
        let page = "SELECT a FROM t ORDER BY a OFFSET 0 ROWS FETCH NEXT 1 ROWS ONLY";
        assert_eq!(names(side, page), ["OFFSET … FETCH"], "{side:?}");
        let fetch_only = "SELECT a FROM t ORDER BY a OFFSET @P1 ROW";
        assert_eq!(names(side, fetch_only), ["OFFSET … FETCH"], "{side:?}");
    }
    let shown = newer_than(Side::Mgc, "throw 1, 'x', 1")[0].to_string();
    assert_eq!(shown, "THROW (new in SQL Server 2012)");
}

#[test]
fn constructs_from_2012_on_are_caught_on_both_sides() {
    for (sql, construct) in [
        ("SELECT IIF(a > 1, 1, 0) FROM t", "IIF()"),
        ("SELECT CONCAT(a, b) FROM t", "CONCAT()"),
        ("SELECT TRY_CONVERT(int, a) FROM t", "TRY_CONVERT()"),
        ("SELECT try_cast(a AS int) FROM t", "TRY_CAST()"),
        ("SELECT STRING_AGG(a, ',') FROM t", "STRING_AGG()"),
        ("SELECT FORMAT(d, 'yyyy') FROM t", "FORMAT()"),
        ("SELECT CHOOSE(2, 'a', 'b')", "CHOOSE()"),
        ("SELECT TRIM(a) FROM t", "TRIM()"),
        ("CREATE SEQUENCE s START WITH 1", "CREATE SEQUENCE"),
        ("SELECT NEXT VALUE FOR s", "NEXT VALUE FOR"),
        ("DROP TABLE IF EXISTS #k", "DROP … IF EXISTS"),
        ("CREATE OR ALTER VIEW v AS SELECT 1 AS a", "CREATE OR ALTER"),
        ("SELECT SUM(n) OVER (PARTITION BY a ORDER BY b) FROM t", "aggregate OVER (ORDER BY …)"),
        ("SELECT LAG(a) OVER (ORDER BY b) FROM t", "LAG()"),
        ("SELECT a FROM t WHERE a IS NOT DISTINCT FROM b", "IS DISTINCT FROM"),
        ("EXEC p WITH RESULT SETS ((a int))", "WITH RESULT SETS"),
    ] {
        for side in [Side::Legacy, Side::Mgc] {
            assert_eq!(names(side, sql), [construct], "{side:?}: {sql}");
        }
    }
}

#[test]
fn constructs_of_2008_are_caught_on_the_legacy_side_only() {
    for (sql, construct) in [
        ("MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE;", "MERGE"),
        ("INSERT INTO t (a) VALUES (1), (2)", "multi-row VALUES"),
        ("DECLARE @n int = 0", "DECLARE with an initial value"),
        ("DECLARE @a int, @b nvarchar(10) = N'x'", "DECLARE with an initial value"),
        ("SET @n += 1", "compound assignment (+= …)"),
        ("CREATE TABLE t (d datetime2 NOT NULL)", "datetime2"),
        ("SELECT CAST(chatDate AS date) FROM tblChat", "date type"),
        ("SELECT CONVERT(date, x) FROM t", "date type"),
        ("CREATE TABLE t (id int, at time NULL)", "time type"),
        ("DECLARE @d date", "date type"),
        ("SELECT SYSUTCDATETIME()", "SYSUTCDATETIME()"),
        ("SELECT a FROM t GROUP BY GROUPING SETS ((a), ())", "GROUPING SETS"),
    ] {
        assert_eq!(names(Side::Legacy, sql), [construct], "{sql}");
        assert!(names(Side::Mgc, sql).is_empty(), "2008 R2 runs it: {sql}");
    }
}

#[test]
fn literals_comments_and_quoted_names_never_match() {
    let sql = "SELECT N'THROW 1; OFFSET 0 ROWS' AS [THROW], 'IIF(''CONCAT('')' AS \"offset\"\n\
               -- THROW 50000, 'x', 1; SELECT a FROM t OFFSET 0 ROWS\n\
               /* MERGE /* nested: CONCAT( */ TRY_CAST( */ FROM [MERGE] AS m WHERE m.[date] = @date";
    for side in [Side::Legacy, Side::Mgc] {
        assert!(names(side, sql).is_empty(), "{side:?}: {:?}", names(side, sql));
    }
    // And a construct after them is still seen: the literal and comments end where they end.
    let after = format!("{sql}\nTHROW 50000, N'it''s', 1");
    assert_eq!(names(Side::Legacy, &after), ["THROW"]);
}

#[test]
fn what_sql_server_2005_runs_passes_on_both_sides() {
    let sql = "SET XACT_ABORT ON;\n\
        SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\n\
        BEGIN TRANSACTION;\n\
        DECLARE @n int; SET @n = 1;\n\
        WITH r AS (SELECT ROW_NUMBER() OVER (ORDER BY chatId) AS rn, chatDate, COUNT(*) OVER (PARTITION BY channelId) AS c FROM tblChat WITH (UPDLOCK, HOLDLOCK))\n\
        SELECT TOP (@P1) CAST(rn AS BIGINT), chatDate FROM r CROSS APPLY (SELECT 1 AS one) AS x WHERE rn >= 1 AND rn <= 5 AND rn <> 3 ORDER BY rn OPTION (MERGE JOIN);\n\
        IF OBJECT_ID(N'gcmigrate_lock', N'U') IS NULL CREATE TABLE gcmigrate_lock (k nvarchar(32) NOT NULL PRIMARY KEY, since nvarchar(40) NOT NULL, at datetime NULL);\n\
        INSERT INTO t (a) VALUES (1);\n\
        INSERT INTO t (a) SELECT a FROM s;\n\
        DELETE FROM t OUTPUT deleted.a WHERE a IN (SELECT a FROM s);\n\
        BEGIN TRY SELECT 1 END TRY BEGIN CATCH SELECT ERROR_MESSAGE() END CATCH;\n\
        FETCH NEXT FROM c INTO @n;\n\
        IF EXISTS (SELECT 1 FROM t)\nBEGIN\n  RAISERROR (N'refused', 16, 1)\n  ROLLBACK TRANSACTION\n  RETURN\nEND;\n\
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION";
    for side in [Side::Legacy, Side::Mgc] {
        assert!(names(side, sql).is_empty(), "{side:?}: {:?}", names(side, sql));
    }
}

#[test]
fn sides_name_their_minimum_server() {
    assert_eq!(Side::Legacy.minimum(), "SQL Server 2005 SP3");
    assert_eq!(Side::Mgc.minimum(), "SQL Server 2008 R2 SP2");
    let both =
        "SELECT CONCAT(a, b) FROM t; MERGE INTO t USING s ON 1 = 1 WHEN MATCHED THEN DELETE;";
    assert_eq!(names(Side::Legacy, both), ["CONCAT()", "MERGE"], "in order, once each");
    assert_eq!(names(Side::Mgc, &format!("{both} {both}")), ["CONCAT()"]);
}
