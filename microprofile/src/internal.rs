//! The library's own vendor-scope metrics: events it refused or survived instead of panicking.

use crate::counter::Counter;
use crate::metadata::{Metadata, Scope};

/// Updates refused as invalid (negative or NaN increments, NaN observations, bad label indexes).
pub static REJECTED_UPDATES: Counter = Counter::new();
/// Callback gauges that panicked during a scrape (the series was left out of that scrape).
pub static CALLBACK_PANICS: Counter = Counter::new();
/// Updates redirected to a family's overflow series because it held its maximum of series.
pub static CARDINALITY_OVERFLOW: Counter = Counter::new();
/// Registrations refused: invalid static metadata, or conflicts between declarations.
pub static REGISTRATION_ERRORS: Counter = Counter::new();
/// Summary observations that arrived after their slice had left the window (the observing thread
/// stalled between reading the clock and recording): kept in `_sum` and `_count`, not in quantiles.
pub static LATE_OBSERVATIONS: Counter = Counter::new();

crate::register!(
    REJECTED_UPDATES,
    Metadata::new("microprofile_rejected_updates")
        .description(
            "Metric updates refused as invalid (negative or NaN increments, NaN observations)."
        )
        .scope(Scope::Vendor)
);
crate::register!(
    CALLBACK_PANICS,
    Metadata::new("microprofile_callback_panics")
        .description("Gauge callbacks that panicked during a scrape; the series was skipped.")
        .scope(Scope::Vendor)
);
crate::register!(
    REGISTRATION_ERRORS,
    Metadata::new("microprofile_registration_errors")
        .description("Metric registrations refused: invalid metadata or conflicting declarations.")
        .scope(Scope::Vendor)
);
crate::register!(
    CARDINALITY_OVERFLOW,
    Metadata::new("microprofile_cardinality_overflow")
        .description("Updates redirected to a family's overflow series (labelled only mp_overflow=\"true\") because the family held its maximum number of series.")
        .scope(Scope::Vendor)
);
crate::register!(
    LATE_OBSERVATIONS,
    Metadata::new("microprofile_late_observations")
        .description("Summary observations that arrived after their time slice had left the window; counted in _sum and _count, left out of the quantiles.")
        .scope(Scope::Vendor)
);

/// The length of the default name that [`default_name_bytes`] writes.
pub const fn default_name_len(module_path: &str, function: &str) -> usize {
    let mut rest = module_path.as_bytes();
    let mut len = 0;
    while let [first, tail @ ..] = rest {
        rest = match (first, tail) {
            (b':', [b':', after @ ..]) => after,
            _ => tail,
        };
        len += 1;
    }
    len + 1 + function.len()
}

/// The default name of an instrumented function, the Rust analog of MicroProfile's
/// `<package>.<class>.<method>`: its module path with each `::` written `.`, then `.` and the
/// function name (`my_crate::api` and `fetch` give `my_crate.api.fetch`, exposed
/// `my_crate_api_fetch`). `N` must be [`default_name_len`] of the same arguments.
///
/// The macros evaluate it in a `const`, so it runs only at compile time: an index out of bounds
/// there is a compile error, never a panic of the running program.
#[allow(clippy::indexing_slicing)]
pub const fn default_name_bytes<const N: usize>(module_path: &str, function: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    let mut rest = module_path.as_bytes();
    while let [first, tail @ ..] = rest {
        let (byte, after) = match (first, tail) {
            (b':', [b':', after @ ..]) => (b'.', after),
            _ => (*first, tail),
        };
        out[i] = byte;
        i += 1;
        rest = after;
    }
    out[i] = b'.';
    i += 1;
    let mut rest = function.as_bytes();
    while let [first, tail @ ..] = rest {
        out[i] = *first;
        i += 1;
        rest = tail;
    }
    out
}

/// The bytes of [`default_name_bytes`] as text. They are always UTF-8 (a module path and an
/// identifier with ASCII `::` replaced by ASCII `.`); the empty fallback would be refused at
/// registration like any invalid name.
pub const fn default_name_str(bytes: &[u8]) -> &str {
    match core::str::from_utf8(bytes) {
        Ok(name) => name,
        Err(_) => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_follow_the_module_path_with_dots() {
        const LEN: usize = default_name_len("m12_default_name::api", "fetch");
        const BYTES: [u8; LEN] = default_name_bytes("m12_default_name::api", "fetch");
        assert_eq!(default_name_str(&BYTES), "m12_default_name.api.fetch");
        const TOP: [u8; 7] = default_name_bytes("tool", "go");
        assert_eq!(default_name_str(&TOP), "tool.go");
        assert_eq!(default_name_len("a::b::c", "f"), "a.b.c.f".len());
    }
}
