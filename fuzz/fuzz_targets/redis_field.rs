//! The Redis field-name codec: decoding any string never panics, and whatever encodes decodes back
//! to the same name, extension and labels (label values with `:`, `,`, `"`, `\` included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprofile::redis::codec::{decode_field, encode_field, Extension};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(field) = decode_field(&text) {
        if let Ok(again) = field.encode() {
            assert_eq!(decode_field(&again).as_ref(), Ok(&field), "{text:?} -> {again:?}");
        }
    }
    let mut values = text.splitn(2, '\u{0}');
    let a = values.next().unwrap_or_default();
    let b = values.next().unwrap_or_default();
    for extension in [Extension::Count, Extension::Sum, Extension::Bucket, Extension::Type] {
        let Ok(encoded) = encode_field("fuzz_metric", extension, &[("zeta", b), ("alpha", a)]) else {
            continue;
        };
        let decoded = decode_field(&encoded).unwrap_or_else(|e| panic!("{encoded:?}: {e}"));
        assert_eq!(decoded.name, "fuzz_metric");
        assert_eq!(decoded.extension, extension);
        assert_eq!(decoded.label("alpha"), Some(a));
        assert_eq!(decoded.label("zeta"), Some(b));
    }
});
