//! The example programs' shared code. The quickstart demo's service lives in [`demo`] so that the
//! test suite can run exactly what `cargo run --example quickstart` serves.
#![deny(missing_docs)]

pub mod demo;
