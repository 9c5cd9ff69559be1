//! The naming rules of `microprofile::naming`, applied at compile time.

const RESERVED_TAG_NAMES: &[&str] = &["le", "quantile", "mp_scope", "mp_app", "mp_overflow"];

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `[a-zA-Z_][a-zA-Z0-9_.:-]*`.
pub fn metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let reason = match chars.next() {
        None => {
            Some("the metric name is empty: give a name, or leave `name` out to use the function's")
        }
        Some(c) if c.is_ascii_digit() => Some("a metric name cannot start with a digit"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("a metric name starts with a letter or `_`")
        }
        Some(_)
            if chars
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))) =>
        {
            Some("a metric name may contain only letters, digits, `_`, `.`, `:` and `-`")
        }
        Some(_) => None,
    };
    match reason {
        Some(reason) => Err(format!("invalid metric name {name:?}: {reason}")),
        None => Ok(()),
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not `__…`, not reserved.
pub fn tag_name(name: &str) -> Result<(), String> {
    if !is_identifier(name) {
        return Err(format!(
            "invalid tag key {name:?}: a tag key starts with a letter or `_` and continues with letters, digits or `_`"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "invalid tag key {name:?}: keys starting with `__` are reserved for Prometheus"
        ));
    }
    if RESERVED_TAG_NAMES.contains(&name) {
        return Err(format!(
            "tag key {name:?} is reserved: `le`, `quantile`, `mp_scope`, `mp_app` and `mp_overflow` are set by the exposition"
        ));
    }
    Ok(())
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn scope_name(name: &str) -> Result<(), String> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(format!(
            "invalid scope {name:?}: use \"application\", \"vendor\", \"base\", or a custom name made of letters, digits and `_` (not starting with a digit)"
        ))
    }
}

/// Empty or `[a-zA-Z0-9_]+`.
pub fn unit(unit: &str) -> Result<(), String> {
    if unit.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!(
            "invalid unit {unit:?}: a unit is made of letters, digits and `_` (for example \"seconds\", \"bytes\", \"percent\", \"none\")"
        ))
    }
}

/// Levenshtein distance, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        // `left` is `current[j]`, `diagonal` is `previous[j]`, `up` is `previous[j + 1]`.
        let mut left = i + 1;
        current.push(left);
        for ((cb, &diagonal), &up) in b.iter().zip(&previous).zip(previous.iter().skip(1)) {
            let cost = usize::from(ca != *cb);
            left = (diagonal + cost).min(up + 1).min(left + 1);
            current.push(left);
        }
        previous = current;
    }
    // `previous` always holds `b.len() + 1` entries, so the last one is `previous[b.len()]`.
    previous.last().copied().unwrap_or(b.len())
}
