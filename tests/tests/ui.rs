//! Compile-time validation of the macros: one file per mistake in `tests/ui`, each with the
//! `.stderr` the compiler must print (regenerate with `TRYBUILD=overwrite`, then read every diff).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
