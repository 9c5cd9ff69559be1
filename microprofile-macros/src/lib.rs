//! Procedural macros for `microprofile`. Use them through the `microprofile` crate, which re-exports
//! them; the generated code only names paths under `::microprofile::__private`.
