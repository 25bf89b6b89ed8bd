//! The Prometheus text exposition format (0.0.4, and the OpenMetrics text an app may serve in
//! its place), parsed into samples: `name{label="value",...} value [timestamp]`.
//!
//! Written here rather than taken from `prometheus-parse` (0.2.5, 2023): that crate matches
//! samples with a regex that stops a label set at the first `}` (a label value holding `}` is
//! misread) and refuses metric names with `:`. This parser follows the grammar of
//! `probe::prometheus_text` and keeps the values: `# HELP`, `# TYPE` and other comments are
//! skipped, label values are unescaped (`\\`, `\"`, `\n`), values are Go floats (`NaN`, `+Inf`,
//! `-Inf`), timestamps are read and dropped (the scraper times its own scrapes).

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// As written, in order; a label is absent rather than empty when not written.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// The value of `label`, or `""` when the sample has no such label (as PromQL reads it).
    pub fn label(&self, label: &str) -> &str {
        self.labels
            .iter()
            .find(|(name, _)| name == label)
            .map_or("", |(_, value)| value.as_str())
    }

    /// The series' identity: its name and its labels sorted by name.
    pub fn series_key(&self) -> String {
        let mut labels: Vec<&(String, String)> = self.labels.iter().collect();
        labels.sort();
        let mut key = self.name.clone();
        for (name, value) in labels {
            key.push('\u{0}');
            key.push_str(name);
            key.push('=');
            key.push_str(value);
        }
        key
    }
}

/// The samples of `text`, in order. `Err` names the first bad line: `line 3: bad value "abc"`.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        samples.push(sample(line).map_err(|problem| format!("line {}: {problem}", index + 1))?);
    }
    Ok(samples)
}

/// One sample line: `name{labels} value [timestamp]`.
pub fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !metric_name(name) {
        return Err(format!("bad metric name {:?}", short(name)));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inside) = rest.strip_prefix('{') {
        rest = label_set(inside, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or_else(|| "no value".to_owned())?;
    let value = float(value).ok_or_else(|| format!("bad value {:?}", short(value)))?;
    if let Some(timestamp) = fields.next() {
        // Integer milliseconds in 0.0.4; OpenMetrics writes seconds with a fraction.
        if timestamp.parse::<f64>().is_err() {
            return Err(format!("bad timestamp {:?}", short(timestamp)));
        }
    }
    if let Some(extra) = fields.next() {
        // OpenMetrics exemplars (`# {trace_id="…"} 1`) follow the value; they are not read.
        if !extra.starts_with('#') {
            return Err(format!("unexpected {:?} after the value", short(extra)));
        }
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads `name="value",...}` (after the `{`) into `labels`; returns what follows the `}`.
fn label_set<'t>(text: &'t str, labels: &mut Vec<(String, String)>) -> Result<&'t str, String> {
    let mut rest = text.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .ok_or_else(|| "unterminated labels".to_owned())?;
        let name = &rest[..name_end];
        if !label_name(name) {
            return Err(format!("bad label name {:?}", short(name)));
        }
        rest = rest[name_end..].trim_start();
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| format!("no `=` after label {name}"))?
            .trim_start();
        rest = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name} has no quoted value"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let close = loop {
            match chars.next() {
                None => return Err(format!("label {name} has an unterminated value")),
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    _ => return Err(format!("label {name} has a bad escape")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        rest = rest[close + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.starts_with('}') {
            return Err(format!("expected `,` or `}}` after label {name}"));
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A float as Go's `strconv.ParseFloat` reads it (Prometheus's parsers use it, and `le` labels
/// hold such text): decimal or exponent notation, `NaN`, `+Inf`, `-Inf` (infinities and NaN in
/// any case). Other spellings Rust accepts are refused.
pub fn float(text: &str) -> Option<f64> {
    let unsigned = text.trim_start_matches(['+', '-']);
    if text.len() - unsigned.len() > 1 {
        return None;
    }
    let negative = text.starts_with('-');
    match unsigned.to_ascii_lowercase().as_str() {
        "inf" | "infinity" if negative => Some(f64::NEG_INFINITY),
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" if unsigned.len() == text.len() => Some(f64::NAN),
        _ => {
            let plain = unsigned
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
                && unsigned
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == '.');
            if plain {
                text.parse::<f64>().ok()
            } else {
                None
            }
        }
    }
}

fn short(text: &str) -> String {
    let mut cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_labels_and_values() {
        let text = "# HELP http_requests_total The total.\n\
                    # TYPE http_requests_total counter\n\
                    http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
                    http_requests_total{method=\"post\",code=\"400\",} 3\n\
                    \n\
                    odd{path=\"C:\\\\DIR\\\\}{x\",error=\"a\\n\\\"b\\\"\"} 1.458255915e9\n\
                    ns:rule_total 12.47\n\
                    up NaN\n\
                    a +Inf\n\
                    b -Inf\n\
                    c{} -0.5\n\
                    # EOF\n";
        let samples = parse(text).expect("valid text");
        assert_eq!(samples.len(), 8);
        assert_eq!(samples[0].name, "http_requests_total");
        assert_eq!(samples[0].label("code"), "200");
        assert_eq!(samples[0].label("absent"), "");
        assert_eq!(samples[0].value, 1027.0);
        assert_eq!(samples[2].label("path"), "C:\\DIR\\}{x");
        assert_eq!(samples[2].label("error"), "a\n\"b\"");
        assert_eq!(samples[3].name, "ns:rule_total");
        assert!(samples[4].value.is_nan());
        assert_eq!(samples[5].value, f64::INFINITY);
        assert_eq!(samples[6].value, f64::NEG_INFINITY);
        assert_eq!(samples[7].value, -0.5);
    }

    #[test]
    fn the_series_key_ignores_label_order() {
        let a = parse("m{a=\"1\",b=\"2\"} 1\nm{b=\"2\",a=\"1\"} 2\nm{a=\"1\"} 3\n").expect("ok");
        assert_eq!(a[0].series_key(), a[1].series_key());
        assert_ne!(a[0].series_key(), a[2].series_key());
    }

    #[test]
    fn names_the_first_bad_line() {
        let cases = [
            ("m 1\nm abc\n", "line 2: bad value \"abc\""),
            ("m{a=\"1\" 1\n", "line 1: expected `,` or `}` after label a"),
            ("m{a=1} 1\n", "line 1: label a has no quoted value"),
            ("9m 1\n", "line 1: bad metric name \"9m\""),
            ("m infinite\n", "line 1: bad value \"infinite\""),
            ("m 0x10\n", "line 1: bad value \"0x10\""),
            ("m 1 2 3\n", "line 1: unexpected \"3\" after the value"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).expect_err(text), want, "{text}");
        }
    }
}
