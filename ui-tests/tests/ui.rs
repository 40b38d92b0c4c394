//! trybuild snapshots for `#[chsk::events]` and `#[chsk::handler]`.
//!
//! Regenerate with `TRYBUILD=overwrite cargo test -p ui-tests` and review the `.stderr` diffs.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/*/pass/*.rs");
    t.compile_fail("tests/ui/*/fail/*.rs");
}
