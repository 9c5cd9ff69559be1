//! The default name of an instrumented function, computed in `const` by the code the macros
//! generate.

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
