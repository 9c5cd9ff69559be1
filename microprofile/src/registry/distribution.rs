//! MicroProfile Metrics 5.1's distribution configuration (`histogram-timer-config.adoc`): the
//! percentiles and buckets of histograms and timers, chosen per metric name by properties
//! (`mp.metrics.distribution.*`), read from the environment as MicroProfile Config maps
//! properties to variables, or given with a builder.
//!
//! How the spec's kinds map onto this crate's: a MicroProfile *histogram* with percentiles is a
//! [`Summary`](crate::Summary) here (its quantiles), with buckets a
//! [`Histogram`](crate::Histogram); a *timer* is a [`Timer`](crate::Timer) (always bucketed, in
//! seconds). The configuration applies to metrics the run-time API makes without explicit
//! buckets or quantiles ([`Registry::histogram`](crate::Registry::histogram),
//! [`Registry::timer`](crate::Registry::timer), [`Registry::summary`](crate::Registry::summary)),
//! matched by their declared name. An attribute's metric (`#[timed]`, `#[metric]`) has its buckets
//! fixed at compile time, where they are checked: the configuration does not change them.

use crate::error::Error;

/// One configuration property of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DistributionProperty {
    /// `mp.metrics.distribution.percentiles`: `name=q1,q2;…`, quantiles in [0, 1]; a name with no
    /// value disables the percentiles of that metric, an empty property those of all.
    Percentiles,
    /// `mp.metrics.distribution.histogram.buckets`: `name=b1,b2;…`, bounds greater than 0.
    HistogramBuckets,
    /// `mp.metrics.distribution.timer.buckets`: `name=500ms,2s,3m;…`, whole numbers with a unit
    /// (`ms`, `s`, `m`, `h`; none means milliseconds).
    TimerBuckets,
    /// `mp.metrics.distribution.percentiles-histogram.enabled`: `name=true|false;…`: the default
    /// buckets, within the min and max values below.
    DefaultBuckets,
    /// `mp.metrics.distribution.histogram.min-value`: `name=v;…`, greater than 0.
    HistogramMin,
    /// `mp.metrics.distribution.histogram.max-value`.
    HistogramMax,
    /// `mp.metrics.distribution.timer.min-value`: `name=v;…`, a whole number with a unit.
    TimerMin,
    /// `mp.metrics.distribution.timer.max-value`.
    TimerMax,
}

impl DistributionProperty {
    /// Every property, in the spec's order.
    pub const ALL: [DistributionProperty; 8] = [
        DistributionProperty::Percentiles,
        DistributionProperty::HistogramBuckets,
        DistributionProperty::TimerBuckets,
        DistributionProperty::DefaultBuckets,
        DistributionProperty::HistogramMin,
        DistributionProperty::HistogramMax,
        DistributionProperty::TimerMin,
        DistributionProperty::TimerMax,
    ];

    /// The MicroProfile Config property name.
    pub const fn name(self) -> &'static str {
        match self {
            DistributionProperty::Percentiles => "mp.metrics.distribution.percentiles",
            DistributionProperty::HistogramBuckets => "mp.metrics.distribution.histogram.buckets",
            DistributionProperty::TimerBuckets => "mp.metrics.distribution.timer.buckets",
            DistributionProperty::DefaultBuckets => {
                "mp.metrics.distribution.percentiles-histogram.enabled"
            }
            DistributionProperty::HistogramMin => "mp.metrics.distribution.histogram.min-value",
            DistributionProperty::HistogramMax => "mp.metrics.distribution.histogram.max-value",
            DistributionProperty::TimerMin => "mp.metrics.distribution.timer.min-value",
            DistributionProperty::TimerMax => "mp.metrics.distribution.timer.max-value",
        }
    }
}

/// A metric-name pattern: the name itself, or a prefix when it ends in `*`.
#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        match text.strip_suffix('*') {
            Some(prefix) => Pattern::Prefix(prefix.to_owned()),
            None => Pattern::Exact(text.to_owned()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Exact(exact) => exact == name,
            Pattern::Prefix(prefix) => name.starts_with(prefix.as_str()),
        }
    }
}

/// The entries of one property, in the order given: the last one matching a name wins.
#[derive(Debug, Clone, PartialEq)]
struct Rules<T>(Vec<(Pattern, T)>);

impl<T> Default for Rules<T> {
    fn default() -> Self {
        Rules(Vec::new())
    }
}

impl<T> Rules<T> {
    fn find(&self, name: &str) -> Option<&T> {
        self.0
            .iter()
            .rev()
            .find(|(pattern, _)| pattern.matches(name))
            .map(|(_, value)| value)
    }
}

/// The distribution configuration: which percentiles and buckets each histogram and timer gets.
///
/// ```
/// use microprofile::registry::DistributionConfig;
///
/// let config = DistributionConfig::new()
///     .percentiles("alpha.*=0.6;alpha.test.histogram=0.4").unwrap()
///     .timer_buckets("alpha.timer=500ms,2s,3m").unwrap();
/// assert_eq!(config.percentiles_for("alpha.other"), Some(&[0.6][..]));
/// assert_eq!(config.percentiles_for("alpha.test.histogram"), Some(&[0.4][..]));
/// assert_eq!(config.percentiles_for("beta"), None); // the defaults
/// assert_eq!(config.timer_buckets_for("alpha.timer"), Some(&[0.5, 2.0, 180.0][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistributionConfig {
    percentiles: Rules<Vec<f64>>,
    histogram_buckets: Rules<Vec<f64>>,
    timer_buckets: Rules<Vec<f64>>,
    default_buckets: Rules<bool>,
    histogram_min: Rules<f64>,
    histogram_max: Rules<f64>,
    timer_min: Rules<f64>,
    timer_max: Rules<f64>,
}

/// Why an entry of a property was skipped.
fn invalid(property: DistributionProperty, entry: &str, reason: impl Into<String>) -> Error {
    Error::InvalidDistribution {
        property: property.name(),
        entry: entry.to_owned(),
        reason: reason.into(),
    }
}

/// A value greater than 0 (a histogram's bucket or limit).
fn positive(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{text:?} is not a number greater than 0")),
    }
}

/// A duration as the spec writes a timer's: a whole number with `ms`, `s`, `m` or `h` (none
/// means milliseconds), in seconds.
fn duration(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, seconds) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (text, 0.001)
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n as f64 * seconds),
        _ => Err(format!(
            "{text:?} is not a whole number greater than 0 with a unit (ms, s, m, h)"
        )),
    }
}

/// Sorted, without repeats.
fn bounds(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values.dedup();
    values
}

impl DistributionConfig {
    /// No configuration: every metric keeps the defaults it is made with.
    pub fn new() -> DistributionConfig {
        DistributionConfig::default()
    }

    /// Reads every property from the environment, each as MicroProfile Config maps it to a
    /// variable (`mp.metrics.distribution.percentiles`, then `mp_metrics_distribution_percentiles`,
    /// then `MP_METRICS_DISTRIBUTION_PERCENTILES`; the first set decides). An entry that does not
    /// read is skipped and returned as an error, as for `MP_METRICS_TAGS`; the others apply. A
    /// percentiles variable that is set but empty disables the percentiles of every metric, as the
    /// spec's `mp.metrics.distribution.percentiles=`.
    pub fn from_env() -> (DistributionConfig, Vec<Error>) {
        let mut config = DistributionConfig::new();
        let mut errors = Vec::new();
        for property in DistributionProperty::ALL {
            if let Some(value) = crate::registry::global_tags::config_value(property.name()) {
                errors.extend(config.apply(property, &value));
            }
        }
        (config, errors)
    }

    /// Adds the entries of `value` for `property` (after those already there, so they win);
    /// returns the entries skipped, each with its reason.
    pub fn apply(&mut self, property: DistributionProperty, value: &str) -> Vec<Error> {
        let mut errors = Vec::new();
        if property == DistributionProperty::Percentiles && value.trim().is_empty() {
            self.percentiles
                .0
                .push((Pattern::Prefix(String::new()), Vec::new()));
            return errors;
        }
        for entry in value.split(';').filter(|e| !e.trim().is_empty()) {
            let Some((name, values)) = entry.split_once('=') else {
                errors.push(invalid(property, entry, "expected name=values"));
                continue;
            };
            let name = name.trim();
            if name.is_empty() {
                errors.push(invalid(property, entry, "no metric name"));
                continue;
            }
            let pattern = Pattern::parse(name);
            let items: Vec<&str> = values
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            if let Err(reason) = self.add(property, pattern, &items) {
                errors.push(invalid(property, entry, reason));
            }
        }
        errors
    }

    fn add(
        &mut self,
        property: DistributionProperty,
        pattern: Pattern,
        items: &[&str],
    ) -> Result<(), String> {
        let single = |parse: fn(&str) -> Result<f64, String>| -> Result<f64, String> {
            match items {
                [one] => parse(one),
                _ => Err("expected one value".to_owned()),
            }
        };
        match property {
            DistributionProperty::Percentiles => {
                // Invalid percentiles are ignored; the valid ones apply (a name with none at
                // all disables the metric's percentiles).
                let mut quantiles: Vec<f64> = items
                    .iter()
                    .filter_map(|q| q.parse::<f64>().ok())
                    .filter(|q| (0.0..=1.0).contains(q))
                    .collect();
                let ignored = items.len() - quantiles.len();
                quantiles = bounds(quantiles);
                self.percentiles.0.push((pattern, quantiles));
                if ignored > 0 {
                    return Err(format!(
                        "{ignored} value(s) outside [0, 1] ignored, the others apply"
                    ));
                }
            }
            DistributionProperty::HistogramBuckets | DistributionProperty::TimerBuckets => {
                if items.is_empty() {
                    return Err("no bucket values: no effect".to_owned());
                }
                let parse = if property == DistributionProperty::TimerBuckets {
                    duration
                } else {
                    positive
                };
                let values = items
                    .iter()
                    .map(|v| parse(v))
                    .collect::<Result<Vec<f64>, String>>()
                    .map_err(|e| format!("{e}: no effect"))?;
                let rules = if property == DistributionProperty::TimerBuckets {
                    &mut self.timer_buckets
                } else {
                    &mut self.histogram_buckets
                };
                rules.0.push((pattern, bounds(values)));
            }
            DistributionProperty::DefaultBuckets => {
                let enabled = match items {
                    [v] if v.eq_ignore_ascii_case("true") => true,
                    [v] if v.eq_ignore_ascii_case("false") => false,
                    _ => return Err("expected true or false: no effect".to_owned()),
                };
                self.default_buckets.0.push((pattern, enabled));
            }
            DistributionProperty::HistogramMin => {
                self.histogram_min.0.push((pattern, single(positive)?));
            }
            DistributionProperty::HistogramMax => {
                self.histogram_max.0.push((pattern, single(positive)?));
            }
            DistributionProperty::TimerMin => {
                self.timer_min.0.push((pattern, single(duration)?));
            }
            DistributionProperty::TimerMax => {
                self.timer_max.0.push((pattern, single(duration)?));
            }
        }
        Ok(())
    }

    /// Builder form of [`apply`](Self::apply): the first entry that does not read is an error.
    fn with(mut self, property: DistributionProperty, value: &str) -> Result<Self, Error> {
        match self.apply(property, value).into_iter().next() {
            Some(error) => Err(error),
            None => Ok(self),
        }
    }

    /// Adds `mp.metrics.distribution.percentiles` entries (`alpha.histogram=0.3,0.4;alpha.*=0.6`).
    pub fn percentiles(self, value: &str) -> Result<Self, Error> {
        self.with(DistributionProperty::Percentiles, value)
    }

    /// Adds `mp.metrics.distribution.histogram.buckets` entries (`alpha.histogram=10,50,100`).
    pub fn histogram_buckets(self, value: &str) -> Result<Self, Error> {
        self.with(DistributionProperty::HistogramBuckets, value)
    }

    /// Adds `mp.metrics.distribution.timer.buckets` entries (`alpha.timer=500ms,2s,3m`).
    pub fn timer_buckets(self, value: &str) -> Result<Self, Error> {
        self.with(DistributionProperty::TimerBuckets, value)
    }

    /// Adds `mp.metrics.distribution.percentiles-histogram.enabled` entries (`alpha.*=true`).
    pub fn default_buckets(self, value: &str) -> Result<Self, Error> {
        self.with(DistributionProperty::DefaultBuckets, value)
    }

    /// Adds entries of any property.
    pub fn property(self, property: DistributionProperty, value: &str) -> Result<Self, Error> {
        self.with(property, value)
    }

    /// The quantiles of a summary of this declared name: `Some(&[])` when its percentiles are
    /// disabled, `None` when nothing matches (the metric's own defaults).
    pub fn percentiles_for(&self, name: &str) -> Option<&[f64]> {
        self.percentiles.find(name).map(Vec::as_slice)
    }

    /// The bucket bounds of a histogram of this declared name, if configured.
    pub fn histogram_buckets_for(&self, name: &str) -> Option<&[f64]> {
        self.histogram_buckets.find(name).map(Vec::as_slice)
    }

    /// The bucket bounds, in seconds, of a timer of this declared name, if configured.
    pub fn timer_buckets_for(&self, name: &str) -> Option<&[f64]> {
        self.timer_buckets.find(name).map(Vec::as_slice)
    }

    /// Whether default buckets are asked for (or refused) for this declared name.
    pub fn default_buckets_for(&self, name: &str) -> Option<bool> {
        self.default_buckets.find(name).copied()
    }

    /// The buckets a histogram of this name gets when made without explicit ones: the
    /// configured ones, else (the spec's optional default buckets, which this crate always has)
    /// `defaults` within the configured min and max values; `None` to keep `defaults` whole.
    pub fn histogram_bounds(&self, name: &str, defaults: &[f64]) -> Option<Vec<f64>> {
        if let Some(configured) = self.histogram_buckets_for(name) {
            return Some(configured.to_vec());
        }
        within(
            defaults,
            self.histogram_min.find(name),
            self.histogram_max.find(name),
        )
    }

    /// [`histogram_bounds`](Self::histogram_bounds) for a timer (seconds).
    pub fn timer_bounds(&self, name: &str, defaults: &[f64]) -> Option<Vec<f64>> {
        if let Some(configured) = self.timer_buckets_for(name) {
            return Some(configured.to_vec());
        }
        within(
            defaults,
            self.timer_min.find(name),
            self.timer_max.find(name),
        )
    }
}

/// `defaults` within `[min, max]`, with the limits themselves as bounds; `None` without limits.
/// A range that leaves no default bound keeps the limits alone.
fn within(defaults: &[f64], min: Option<&f64>, max: Option<&f64>) -> Option<Vec<f64>> {
    if min.is_none() && max.is_none() {
        return None;
    }
    let low = min.copied().unwrap_or(0.0);
    let high = max.copied().unwrap_or(f64::INFINITY);
    let mut out: Vec<f64> = defaults
        .iter()
        .copied()
        .filter(|b| *b >= low && *b <= high)
        .collect();
    out.extend(min.copied());
    out.extend(max.copied().filter(|m| m.is_finite()));
    Some(bounds(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The spec's own examples (`histogram-timer-config.adoc`).
    #[test]
    fn the_specs_percentile_examples() {
        let c = DistributionConfig::new()
            .percentiles("alpha.histogram=0.3,0.4;alpha.timer=0.5,0.8")
            .unwrap();
        assert_eq!(c.percentiles_for("alpha.histogram"), Some(&[0.3, 0.4][..]));
        assert_eq!(c.percentiles_for("alpha.timer"), Some(&[0.5, 0.8][..]));
        let c = DistributionConfig::new()
            .percentiles("alpha.*=0.6")
            .unwrap();
        assert_eq!(c.percentiles_for("alpha.anything"), Some(&[0.6][..]));
        assert_eq!(c.percentiles_for("beta"), None);
        let c = DistributionConfig::new()
            .percentiles("alpha.*=0.6;alpha.test.histogram=0.4")
            .unwrap();
        assert_eq!(c.percentiles_for("alpha.test.histogram"), Some(&[0.4][..]));
        assert_eq!(c.percentiles_for("alpha.x"), Some(&[0.6][..]));
        // Disabled: for all, two ways.
        for spec in ["*=", ""] {
            let c = DistributionConfig::new().percentiles(spec).unwrap();
            assert_eq!(c.percentiles_for("anything"), Some(&[][..]), "{spec:?}");
        }
        // Invalid values are ignored, the others apply (and the builder reports them).
        let mut c = DistributionConfig::new();
        let errors = c.apply(DistributionProperty::Percentiles, "a=0.5,1.5,x");
        assert_eq!(errors.len(), 1);
        assert_eq!(c.percentiles_for("a"), Some(&[0.5][..]));
    }

    #[test]
    fn the_specs_bucket_examples() {
        let c = DistributionConfig::new()
            .histogram_buckets("alpha.histogram=10.0,50.0,100.0;beta.histogram=30.0,50.0,123")
            .unwrap();
        assert_eq!(
            c.histogram_buckets_for("alpha.histogram"),
            Some(&[10.0, 50.0, 100.0][..])
        );
        assert_eq!(
            c.histogram_buckets_for("beta.histogram"),
            Some(&[30.0, 50.0, 123.0][..])
        );
        let c = DistributionConfig::new()
            .histogram_buckets("beta.*=50.0,100.0;beta.test.histogram=100.0")
            .unwrap();
        assert_eq!(c.histogram_buckets_for("beta.x"), Some(&[50.0, 100.0][..]));
        assert_eq!(
            c.histogram_buckets_for("beta.test.histogram"),
            Some(&[100.0][..])
        );
        assert_eq!(c.histogram_buckets_for("gamma"), None);
        let c = DistributionConfig::new()
            .timer_buckets("alpha.timer=500ms,2s,3m;beta.timer=10s,2m,5h")
            .unwrap();
        assert_eq!(
            c.timer_buckets_for("alpha.timer"),
            Some(&[0.5, 2.0, 180.0][..])
        );
        assert_eq!(
            c.timer_buckets_for("beta.timer"),
            Some(&[10.0, 120.0, 18_000.0][..])
        );
        // No unit: milliseconds; later entries win.
        let c = DistributionConfig::new()
            .timer_buckets("alpha.*=50s,100s;alpha.test.timer=100")
            .unwrap();
        assert_eq!(c.timer_buckets_for("alpha.test.timer"), Some(&[0.1][..]));
        assert_eq!(c.timer_buckets_for("alpha.x"), Some(&[50.0, 100.0][..]));
        let c = DistributionConfig::new()
            .default_buckets("alpha.timer=true;alpha.histogram=false")
            .unwrap();
        assert_eq!(c.default_buckets_for("alpha.timer"), Some(true));
        assert_eq!(c.default_buckets_for("alpha.histogram"), Some(false));
    }

    #[test]
    fn malformed_entries_are_skipped_with_a_reason() {
        let mut c = DistributionConfig::new();
        let errors = c.apply(
            DistributionProperty::TimerBuckets,
            "a=1.5s;b=;c=2x;=5s;d;e=3s",
        );
        // Floats, no values, a bad unit, no name, no `=`: five skipped; `e` applies.
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors
            .iter()
            .all(|e| e.to_string().contains("timer.buckets")));
        assert_eq!(c.timer_buckets_for("e"), Some(&[3.0][..]));
        assert_eq!(c.timer_buckets_for("a"), None);
        let errors = c.apply(DistributionProperty::HistogramBuckets, "h=-1,2;g=0");
        assert_eq!(errors.len(), 2);
        assert_eq!(c.histogram_buckets_for("h"), None);
        let errors = c.apply(DistributionProperty::DefaultBuckets, "x=yes");
        assert_eq!(errors.len(), 1);
        assert!(DistributionConfig::new().timer_buckets("a=1.5s").is_err());
    }

    #[test]
    fn min_and_max_values_limit_the_default_buckets() {
        let defaults = [0.005, 0.01, 0.1, 1.0, 10.0];
        let c = DistributionConfig::new()
            .property(DistributionProperty::HistogramMin, "h=0.05")
            .unwrap()
            .property(DistributionProperty::HistogramMax, "h=2")
            .unwrap()
            .property(DistributionProperty::TimerMax, "t=1s")
            .unwrap();
        assert_eq!(
            c.histogram_bounds("h", &defaults),
            Some(vec![0.05, 0.1, 1.0, 2.0])
        );
        assert_eq!(
            c.timer_bounds("t", &defaults),
            Some(vec![0.005, 0.01, 0.1, 1.0])
        );
        assert_eq!(c.histogram_bounds("other", &defaults), None);
        // Configured buckets come before the limits.
        let c = c.histogram_buckets("h=3,4").unwrap();
        assert_eq!(c.histogram_bounds("h", &defaults), Some(vec![3.0, 4.0]));
    }
}
