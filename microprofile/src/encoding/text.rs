//! The Prometheus text 0.0.4 and OpenMetrics 1.0 encoder: a [`Gather`] consumer of the read path.
//!
//! The labels of a series are written from the rendered text its collector keeps (member tags,
//! series labels, then the global tags and `mp_scope`, rendered once per scope and scrape), and
//! samples go straight into the output with no allocation per sample. Both formats share this one
//! writer; where they differ (`_total` on the family name, `# UNIT`, `# EOF`, escaping of `HELP`,
//! the histogram sum) the [`Format`] decides.

use std::fmt::{self, Write};

use super::float::{write_float, write_number};
use super::Format;
use crate::metadata::Scope;
use crate::metric::{HistogramView, MetricType, Number, SummaryView, Visitor};
use crate::naming;
use crate::registry::{FamilyInfo, Registry};
use crate::registry::{FamilyRead, Gather, SeriesRead};

fn write_help<W: Write>(out: &mut W, format: Format, text: &str) -> fmt::Result {
    for c in text.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '"' if format == Format::OpenMetrics => out.write_str("\\\"")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

fn write_metadata<W: Write>(
    out: &mut W,
    format: Format,
    family: &str,
    type_word: &str,
    help: &str,
    unit: &str,
) -> fmt::Result {
    out.write_str("# HELP ")?;
    out.write_str(family)?;
    out.write_char(' ')?;
    write_help(out, format, help)?;
    out.write_str("\n# TYPE ")?;
    out.write_str(family)?;
    out.write_char(' ')?;
    out.write_str(type_word)?;
    out.write_char('\n')?;
    if format == Format::OpenMetrics && !unit.is_empty() {
        out.write_str("# UNIT ")?;
        out.write_str(family)?;
        out.write_char(' ')?;
        out.write_str(unit)?;
        out.write_char('\n')?;
    }
    Ok(())
}

/// Writes the samples of one series.
struct SampleWriter<'a, W: Write> {
    out: &'a mut W,
    format: Format,
    name: &'a str,
    /// Rendered label groups, each possibly empty: member tags, series labels, global + scope.
    labels: [&'a str; 3],
    /// The `_max` samples of a summary or timer, written as their own family after it; no
    /// `_max` is written while `max_name` is empty (any other type).
    max_lines: &'a mut String,
    max_name: &'a str,
    result: fmt::Result,
}

impl<W: Write> SampleWriter<'_, W> {
    fn labels_to<O: Write>(
        out: &mut O,
        labels: &[&str; 3],
        extra: Option<(&str, f64)>,
    ) -> fmt::Result {
        out.write_char('{')?;
        let mut first = true;
        for group in labels.iter().filter(|g| !g.is_empty()) {
            if !first {
                out.write_char(',')?;
            }
            out.write_str(group)?;
            first = false;
        }
        if let Some((name, value)) = extra {
            if !first {
                out.write_char(',')?;
            }
            out.write_str(name)?;
            out.write_str("=\"")?;
            write_float(out, value)?;
            out.write_char('"')?;
        }
        out.write_char('}')
    }

    fn sample(&mut self, suffix: &str, extra: Option<(&str, f64)>, value: Number) -> fmt::Result {
        self.out.write_str(self.name)?;
        self.out.write_str(suffix)?;
        Self::labels_to(self.out, &self.labels, extra)?;
        self.out.write_char(' ')?;
        write_number(self.out, value)?;
        self.out.write_char('\n')
    }

    /// The buckets, then `_count` and `_sum`, except where OpenMetrics 1.0 forbids the sum. Its
    /// rules (section "Histogram" of the data model, then of the text format):
    ///
    /// > Semantically, Sum, and buckets values are counters so MUST NOT be NaN or negative.
    /// > Negative threshold buckets MAY be used, but then the Histogram MetricPoint MUST NOT
    /// > contain a sum value as it would no longer be a counter semantically.
    ///
    /// > If and only if a Sum Value is present in a MetricPoint, then the MetricPoint's +Inf
    /// > Bucket value MUST also appear in a Sample with a MetricName with the suffix "_count".
    ///
    /// So OpenMetrics gets `_count` and `_sum` only while the sum is a counter
    /// ([`HistogramView::counter_sum`]: no negative bound, no negative observation, not NaN);
    /// the count stays readable as the `+Inf` bucket. Prometheus text 0.0.4 has no such rule
    /// and always gets both (as the Go client writes them), whatever the sum.
    fn histogram_samples(&mut self, view: &HistogramView<'_>) -> fmt::Result {
        // A timer's maximum, handed over with the view.
        if let Some(max) = view.max() {
            self.max_sample(max)?;
        }
        let mut count = 0;
        for (bound, cumulative) in view.cumulative() {
            self.sample("_bucket", Some(("le", bound)), Number::UInt(cumulative))?;
            count = cumulative;
        }
        let sum = match self.format {
            Format::Prometheus => Some(view.sum()),
            Format::OpenMetrics => view.counter_sum(),
        };
        match sum {
            Some(sum) => {
                self.sample("_count", None, Number::UInt(count))?;
                self.sample("_sum", None, Number::Float(sum))
            }
            None => Ok(()),
        }
    }

    fn summary_samples(&mut self, view: &SummaryView<'_>) -> fmt::Result {
        for &(q, v) in view.quantiles {
            self.sample("", Some(("quantile", q)), Number::Float(v))?;
        }
        self.sample("_count", None, Number::UInt(view.count))?;
        self.sample("_sum", None, Number::Float(view.sum))?;
        self.max_sample(view.max)
    }

    /// Keeps the series' `_max` sample for the family written after this one.
    fn max_sample(&mut self, max: f64) -> fmt::Result {
        if self.max_name.is_empty() {
            return Ok(());
        }
        self.max_lines.write_str(self.max_name)?;
        Self::labels_to(self.max_lines, &self.labels, None)?;
        self.max_lines.write_char(' ')?;
        write_float(self.max_lines, max)?;
        self.max_lines.write_char('\n')
    }
}

impl<W: Write> Visitor for SampleWriter<'_, W> {
    fn counter(&mut self, value: Number) {
        if self.result.is_ok() {
            self.result = self.sample("", None, value);
        }
    }
    fn gauge(&mut self, value: Number) {
        if self.result.is_ok() {
            self.result = self.sample("", None, value);
        }
    }
    fn histogram(&mut self, view: &HistogramView<'_>) {
        if self.result.is_ok() {
            self.result = self.histogram_samples(view);
        }
    }
    fn summary(&mut self, view: &SummaryView<'_>) {
        if self.result.is_ok() {
            self.result = self.summary_samples(view);
        }
    }
}

/// Renders the labels every series of `info` in `scope` gets: global tags the family does not
/// set itself, `mp_app`, and `mp_scope`.
fn scope_suffix(registry: &Registry, info: &FamilyInfo, scope: &Scope) -> String {
    let global = registry.global_tags();
    let mut pairs: Vec<(&str, &str)> = global
        .tags()
        .iter()
        .filter(|(name, _)| !info.tag_names.iter().any(|t| t == name))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if let Some(app) = global.app() {
        pairs.push(("mp_app", app));
    }
    pairs.push(("mp_scope", scope.as_str()));
    naming::render_labels(pairs)
}

/// Writes the families the read path hands over, in one format.
pub(super) struct TextEncoder<'a, W: Write> {
    out: &'a mut W,
    format: Format,
    registry: &'a Registry,
    /// The names of the global tags (a family that sets one itself renders its own suffix).
    global_names: Vec<&'a str>,
    /// The labels every series gets from its scope, rendered once per scope and scrape.
    scope_suffixes: Vec<(Scope, String)>,
    /// The current family: its metadata until the first series writes it, whether it shares the
    /// scope suffixes, and the `_max` lines of a summary or timer, written after the family.
    metadata_pending: bool,
    shares_suffix: bool,
    own_suffix: Option<(Scope, String)>,
    /// The member the last series came from, and the index of its suffix.
    member: Option<(usize, usize)>,
    max_name: String,
    max_lines: String,
    pub(super) result: fmt::Result,
}

impl<'a, W: Write> TextEncoder<'a, W> {
    pub(super) fn new(out: &'a mut W, format: Format, registry: &'a Registry) -> Self {
        let global_names = registry.global_tags().tags().iter();
        TextEncoder {
            out,
            format,
            registry,
            global_names: global_names.map(|(name, _)| name.as_str()).collect(),
            scope_suffixes: Vec::new(),
            metadata_pending: false,
            shares_suffix: true,
            own_suffix: None,
            member: None,
            max_name: String::new(),
            max_lines: String::new(),
            result: Ok(()),
        }
    }

    /// Ends the output (`# EOF` for OpenMetrics).
    pub(super) fn finish(mut self) -> fmt::Result {
        if self.result.is_ok() && self.format == Format::OpenMetrics {
            self.result = self.out.write_str("# EOF\n");
        }
        self.result
    }

    /// The suffix of the series' member: shared per scope, or the family's own.
    fn suffix_index(&mut self, series: &SeriesRead<'_>) -> usize {
        let member = series.member.id();
        if let Some((id, at)) = self.member {
            if id == member {
                return at;
            }
        }
        let scope = series.member.scope();
        let info = series.family.info();
        let at = if self.shares_suffix {
            match self.scope_suffixes.iter().position(|(s, _)| s == scope) {
                Some(at) => at,
                None => {
                    let rendered = scope_suffix(self.registry, info, scope);
                    self.scope_suffixes.push((scope.clone(), rendered));
                    self.scope_suffixes.len() - 1
                }
            }
        } else {
            if self.own_suffix.as_ref().is_none_or(|(s, _)| s != scope) {
                self.own_suffix = Some((scope.clone(), scope_suffix(self.registry, info, scope)));
            }
            usize::MAX
        };
        self.member = Some((member, at));
        at
    }
}

impl<W: Write> Gather for TextEncoder<'_, W> {
    fn family(&mut self, family: &FamilyRead<'_>) {
        let info = family.info();
        // Written with the first series: a family with none at the moment (a labelled family
        // before its first update, a host figure with no source) is left out whole, since
        // HELP and TYPE with no sample say nothing and some consumers flag them.
        self.metadata_pending = true;
        self.shares_suffix = !info
            .tag_names
            .iter()
            .any(|t| self.global_names.contains(&t.as_str()));
        self.own_suffix = None;
        self.member = None;
        // Summaries and timers get a `_max` gauge family (the names the registry reserves for
        // them, `exposition_names`); histograms do not.
        self.max_name.clear();
        if matches!(info.metric_type, MetricType::Summary | MetricType::Timer) {
            self.max_name.push_str(&info.name);
            self.max_name.push_str("_max");
        }
        self.max_lines.clear();
    }

    fn series(&mut self, series: &SeriesRead<'_>) {
        if self.result.is_err() {
            return;
        }
        let info = series.family.info();
        if self.metadata_pending {
            self.metadata_pending = false;
            // OpenMetrics names a counter family without `_total`; Prometheus text with it.
            let family_name = match (self.format, info.metric_type) {
                (Format::OpenMetrics, MetricType::Counter) => {
                    info.name.strip_suffix("_total").unwrap_or(&info.name)
                }
                _ => &info.name,
            };
            let type_word = info.metric_type.exposition_type();
            let help = series.family.help();
            self.result = write_metadata(
                self.out,
                self.format,
                family_name,
                type_word,
                help,
                &info.unit,
            );
            if self.result.is_err() {
                return;
            }
        }
        let at = self.suffix_index(series);
        let suffix = match self.scope_suffixes.get(at) {
            Some((_, suffix)) => suffix.as_str(),
            None => self.own_suffix.as_ref().map_or("", |(_, s)| s.as_str()),
        };
        let mut writer = SampleWriter {
            out: &mut *self.out,
            format: self.format,
            name: &info.name,
            labels: [
                series.member.tags_rendered(),
                series.labels.rendered(),
                suffix,
            ],
            max_lines: &mut self.max_lines,
            max_name: &self.max_name,
            result: Ok(()),
        };
        series.metric.visit(&mut writer);
        self.result = writer.result;
    }

    /// Writes the `_max` gauge family of a summary or timer, if a series handed over a maximum
    /// (a collector of type timer that is not a [`Timer`](crate::Timer) hands over none). Its
    /// HELP is the metric's own description, as MicroProfile Metrics 5.1 writes it for the
    /// maximum and the summary (`rest-endpoints.adoc`). No `# UNIT`: in OpenMetrics a family's
    /// unit must be the suffix of its name, and `x_seconds_max` does not end in `seconds`.
    fn end_family(&mut self, family: &FamilyRead<'_>) {
        if self.result.is_ok() && !self.max_lines.is_empty() {
            self.result = write_metadata(
                self.out,
                self.format,
                &self.max_name,
                "gauge",
                family.help(),
                "",
            )
            .and_then(|()| self.out.write_str(&self.max_lines));
        }
        self.max_lines.clear();
        self.metadata_pending = false;
    }
}
