//! Numbers as every text format here writes them (Prometheus text, OpenMetrics, the Redis
//! store's fields): `NaN`, `+Inf`, `-Inf`, and the shortest round-tripping decimal of a finite
//! float (ryu), always with a `.` or an exponent (`1.0`, `1e21`). One function, so the store and the
//! encoders cannot drift apart.

use std::fmt::{self, Write};

use crate::metric::Number;

/// Writes `value` as the text formats want it.
pub(crate) fn write_float<W: Write>(out: &mut W, value: f64) -> fmt::Result {
    if value.is_nan() {
        out.write_str("NaN")
    } else if value == f64::INFINITY {
        out.write_str("+Inf")
    } else if value == f64::NEG_INFINITY {
        out.write_str("-Inf")
    } else {
        out.write_str(ryu::Buffer::new().format_finite(value))
    }
}

/// [`write_float`] into a new `String` (the Redis store's fields).
#[cfg(any(feature = "redis", test))]
pub(crate) fn format_float(value: f64) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = write_float(&mut text, value);
    text
}

/// Writes an integer as itself and a float as [`write_float`] does.
pub(crate) fn write_number<W: Write>(out: &mut W, value: Number) -> fmt::Result {
    match value {
        Number::UInt(v) => out.write_str(itoa::Buffer::new().format(v)),
        Number::Int(v) => out.write_str(itoa::Buffer::new().format(v)),
        Number::Float(v) => write_float(out, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        let mut s = String::new();
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0,
            0.005,
            1e21,
            -2.5,
        ] {
            write_float(&mut s, v).unwrap();
            s.push(' ');
        }
        assert_eq!(s, "NaN +Inf -Inf 1.0 0.005 1e21 -2.5 ");
        assert_eq!(format_float(0.25), "0.25");
    }
}
