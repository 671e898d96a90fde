//! The console shows a screenful (issue "The largest pool", item 3): a verify that fails
//! on many rights prints its summary, at most 20 detail lines, and one line saying how
//! many more there are and which report holds them all.

use crate::util::*;

#[test]
fn a_verify_failing_on_many_rights_prints_a_screenful_and_says_where_the_rest_is() {
    let env = TestEnv::new("console").contoso();
    env.extract().plan().load();
    // Every room's role rows gone: every member's access is lost.
    exec(&env.target, "DELETE FROM tblPrincipalRole");
    let out = env.output(&["verify", "--target", &env.target]).expect(1);
    let lost = out.stderr.lines().filter(|l| l.starts_with("  lost ")).count();
    assert_eq!(lost, 20, "{out}");
    let more = out.stderr.lines().find(|l| l.starts_with("  … and ")).expect("the rest");
    assert!(more.contains("more: all") && more.contains("verify-all."), "{more}");
    let total: usize =
        more.split("all ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(total > 20, "{more}");
    assert!(out.stderr.lines().count() < 30, "{out}");
}
