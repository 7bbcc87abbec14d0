//! The text exposition formats: Prometheus 0.0.4 and OpenMetrics 1.0.0.
//! They differ in a few places only, all handled here: a counter's family
//! name (`x` in OpenMetrics, `x_total` in Prometheus text), info families,
//! and the `# EOF` terminator.

use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// OpenMetrics when the `Accept` header lists it with a non-zero
    /// quality, as Prometheus asks since 2.5; everything else gets the
    /// classic text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            if !media.eq_ignore_ascii_case("application/openmetrics-text") {
                continue;
            }
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if !q_zero {
                return Format::OpenMetrics;
            }
        }
        Format::Prometheus
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Gauge,
    Counter,
    Histogram,
    /// A constant-1 gauge whose labels are the data (`…_info`).
    Info,
}

/// Writes one exposition, family by family.
pub struct Writer {
    out: String,
    format: Format,
}

/// Label value escaping, the same in both formats.
pub fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn number(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

impl Writer {
    /// `capacity`: the expected size (the last exposition's), so the text
    /// is written without regrowing, which would hold the old and the new
    /// buffer at once.
    pub fn new(format: Format, capacity: usize) -> Self {
        Writer {
            out: String::with_capacity(capacity),
            format,
        }
    }

    /// Starts a family. `name` is the sample name without suffixes: for a
    /// counter it ends in `_total`, for an info family in `_info`.
    pub fn family(&mut self, name: &str, ty: Type, help: &str) {
        let (family, ty_text) = match (ty, self.format) {
            (Type::Counter, Format::OpenMetrics) => {
                (name.strip_suffix("_total").unwrap_or(name), "counter")
            }
            (Type::Counter, Format::Prometheus) => (name, "counter"),
            (Type::Gauge, _) => (name, "gauge"),
            (Type::Histogram, _) => (name, "histogram"),
            (Type::Info, Format::OpenMetrics) => {
                (name.strip_suffix("_info").unwrap_or(name), "info")
            }
            (Type::Info, Format::Prometheus) => (name, "gauge"),
        };
        let _ = write!(self.out, "# HELP {family} ");
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        let _ = writeln!(self.out, "\n# TYPE {family} {ty_text}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label(v, &mut self.out);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        number(value, &mut self.out);
        self.out.push('\n');
    }

    /// A histogram's samples from per-bucket (not cumulative) counts; the
    /// last count is above every bound. Written cumulative, ending in `+Inf`.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
    ) {
        let mut cumulative = 0u64;
        let bucket = format!("{name}_bucket");
        let mut le = String::new();
        for (i, c) in counts.iter().enumerate() {
            cumulative += c;
            le.clear();
            match bounds.get(i) {
                Some(b) => number(*b, &mut le),
                None => le.push_str("+Inf"),
            }
            let mut l: Vec<(&str, &str)> = labels.to_vec();
            l.push(("le", &le));
            self.sample(&bucket, &l, cumulative as f64);
        }
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, cumulative as f64);
    }

    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; q=0, text/plain")),
            Format::Prometheus
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let mut w = Writer::new(Format::Prometheus, 0);
        w.sample("x", &[("a", "q\"b\\s\nn")], 1.0);
        assert_eq!(w.finish(), "x{a=\"q\\\"b\\\\s\\nn\"} 1\n");
    }

    #[test]
    fn counters_and_info_per_format() {
        let mut w = Writer::new(Format::Prometheus, 0);
        w.family("a_total", Type::Counter, "A.");
        w.sample("a_total", &[], 3.0);
        w.family("b_info", Type::Info, "B.");
        let p = w.finish();
        assert!(p.contains("# TYPE a_total counter\na_total 3\n"), "{p}");
        assert!(p.contains("# TYPE b_info gauge\n"), "{p}");
        assert!(!p.contains("# EOF"));
        let mut w = Writer::new(Format::OpenMetrics, 0);
        w.family("a_total", Type::Counter, "A.");
        w.sample("a_total", &[], 3.0);
        w.family("b_info", Type::Info, "B.");
        let o = w.finish();
        assert!(o.contains("# TYPE a counter\na_total 3\n"), "{o}");
        assert!(o.contains("# TYPE b info\n"), "{o}");
        assert!(o.ends_with("# EOF\n"));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_inf() {
        let mut w = Writer::new(Format::Prometheus, 0);
        w.histogram("h", &[("r", "x")], &[0.1, 1.0], &[2, 0, 3], 7.5);
        assert_eq!(
            w.finish(),
            "h_bucket{r=\"x\",le=\"0.1\"} 2\nh_bucket{r=\"x\",le=\"1\"} 2\nh_bucket{r=\"x\",le=\"+Inf\"} 5\nh_sum{r=\"x\"} 7.5\nh_count{r=\"x\"} 5\n"
        );
    }
}
