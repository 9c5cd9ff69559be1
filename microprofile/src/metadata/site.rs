//! Where a metric was declared: plain data, so that errors can name it without depending on
//! the rest of the metadata.

use std::fmt;

/// Where a metric was declared in source, reported with conflicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Site {
    /// Source file.
    pub file: &'static str,
    /// Line, 1-based.
    pub line: u32,
    /// Column, 1-based.
    pub column: u32,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The [`Site`] of the macro call.
#[macro_export]
macro_rules! site {
    () => {
        $crate::Site {
            file: ::core::file!(),
            line: ::core::line!(),
            column: ::core::column!(),
        }
    };
}
