//! The `scrape` source: the app's own metrics endpoint (`{url}{scrape.path}`), read once per
//! interval, and each [`ScrapeQuery`] computed between the previous scrape and this one.
//!
//! - `Rate`: the summed increase of the matching series over the seconds between the scrapes.
//! - `Ratio`: the numerator's increase over the denominator's; no denominator increase is no data
//!   ("no requests").
//! - `Quantile`: Prometheus's `histogram_quantile` over the increase of `<name>_bucket`, summed by
//!   `le`.
//! - `Gauge`: the summed current value.
//!
//! An increase is per series: a counter lower than at the previous scrape was reset (the app
//! restarted) and its increase is its current value; a series the previous scrape did not have
//! starts from 0 (client libraries create labelled series on first use, so the first `500` of a
//! release appears as a new series). Label matchers follow PromQL: `=~` and `!~` are anchored
//! regexes, and a label a series lacks reads as `""`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use regex::Regex;

use super::text::{self, Sample};
use crate::config::{LabelMatcher, MatchOp, ScrapeQuery, Selector};
use crate::facts::watch::Reading;

/// The most of a metrics body that is read.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A selector with its regexes compiled.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    labels: Vec<(String, Test)>,
    shown: String,
}

#[derive(Debug, Clone)]
enum Test {
    Eq(String),
    Ne(String),
    Re(Regex),
    NotRe(Regex),
}

impl Matcher {
    /// `Err` says which regex does not compile.
    pub fn new(selector: &Selector) -> Result<Matcher, String> {
        Matcher::named(selector, selector.name.clone())
    }

    /// The selector, matching metric `name` instead of its own.
    fn named(selector: &Selector, name: String) -> Result<Matcher, String> {
        let labels = selector
            .labels
            .iter()
            .map(|LabelMatcher { label, op, value }| {
                let anchored = || {
                    Regex::new(&format!("^(?:{value})$"))
                        .map_err(|e| format!("bad regex {value:?} for label {label}: {e}"))
                };
                let test = match op {
                    MatchOp::Eq => Test::Eq(value.clone()),
                    MatchOp::Ne => Test::Ne(value.clone()),
                    MatchOp::Re => Test::Re(anchored()?),
                    MatchOp::NotRe => Test::NotRe(anchored()?),
                };
                Ok((label.clone(), test))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Matcher {
            name,
            labels,
            shown: selector.to_string(),
        })
    }

    pub fn matches(&self, sample: &Sample) -> bool {
        sample.name == self.name
            && self.labels.iter().all(|(label, test)| {
                let value = sample.label(label);
                match test {
                    Test::Eq(want) => value == want,
                    Test::Ne(want) => value != want,
                    Test::Re(re) => re.is_match(value),
                    Test::NotRe(re) => !re.is_match(value),
                }
            })
    }
}

/// A [`ScrapeQuery`] ready to run.
#[derive(Debug, Clone)]
pub enum Compiled {
    Rate(Matcher),
    Ratio(Matcher, Matcher),
    Quantile(Matcher, f64),
    Gauge(Matcher),
}

impl Compiled {
    pub fn new(query: &ScrapeQuery) -> Result<Compiled, String> {
        Ok(match query {
            ScrapeQuery::Rate { counter } => Compiled::Rate(Matcher::new(counter)?),
            ScrapeQuery::Ratio {
                numerator,
                denominator,
            } => Compiled::Ratio(Matcher::new(numerator)?, Matcher::new(denominator)?),
            ScrapeQuery::Quantile {
                histogram,
                quantile,
            } => {
                let name = if histogram.name.ends_with("_bucket") {
                    histogram.name.clone()
                } else {
                    format!("{}_bucket", histogram.name)
                };
                Compiled::Quantile(Matcher::named(histogram, name)?, *quantile)
            }
            ScrapeQuery::Gauge { gauge } => Compiled::Gauge(Matcher::new(gauge)?),
        })
    }
}

/// One scrape: its samples and when it was read.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub at: Instant,
    pub samples: Vec<Sample>,
}

/// `query`'s reading between `previous` and `current`; without a previous scrape, no data
/// ("baseline") for everything but a gauge.
pub fn compute(query: &Compiled, previous: Option<&Scrape>, current: &Scrape) -> Reading {
    if let Compiled::Gauge(gauge) = query {
        let values: Vec<f64> = current
            .samples
            .iter()
            .filter(|s| gauge.matches(s))
            .map(|s| s.value)
            .collect();
        return if values.is_empty() {
            no_data(format!("no series matches {}", gauge.shown))
        } else {
            value(values.iter().sum())
        };
    }
    let Some(previous) = previous else {
        return no_data("baseline: the first scrape, nothing to compare with yet".to_owned());
    };
    let seconds = current.at.duration_since(previous.at).as_secs_f64();
    match query {
        Compiled::Rate(counter) => match increase(counter, previous, current) {
            None => no_data(format!("no series matches {}", counter.shown)),
            Some(_) if seconds <= 0.0 => no_data("no time between two scrapes".to_owned()),
            Some(total) => value(total / seconds),
        },
        Compiled::Ratio(numerator, denominator) => {
            let Some(below) = increase(denominator, previous, current) else {
                return no_data(format!("no series matches {}", denominator.shown));
            };
            if below <= 0.0 {
                return no_data(format!(
                    "no requests: {} did not increase",
                    denominator.shown
                ));
            }
            let above = increase(numerator, previous, current).unwrap_or(0.0);
            value(above / below)
        }
        Compiled::Quantile(histogram, q) => quantile(histogram, *q, previous, current),
        Compiled::Gauge(_) => unreachable_gauge(),
    }
}

/// Gauges returned above; kept out of the match's way without a panic.
fn unreachable_gauge() -> Reading {
    Reading::Error {
        why: "internal: a gauge is read from one scrape".to_owned(),
    }
}

fn value(value: f64) -> Reading {
    Reading::Value { value }
}

fn no_data(why: String) -> Reading {
    Reading::NoData { why }
}

/// The increase of each current series matching `matcher` since `previous`, keyed by series;
/// `None` when no current series matches.
fn increases(matcher: &Matcher, previous: &Scrape, current: &Scrape) -> Vec<(Sample, f64)> {
    let before: BTreeMap<String, f64> = previous
        .samples
        .iter()
        .filter(|s| matcher.matches(s))
        .map(|s| (s.series_key(), s.value))
        .collect();
    current
        .samples
        .iter()
        .filter(|s| matcher.matches(s) && !s.value.is_nan())
        .map(|s| {
            let increase = match before.get(&s.series_key()) {
                Some(&was) if s.value >= was => s.value - was,
                // A reset (the counter went down) or a new series: it counted up from 0.
                _ => s.value,
            };
            (s.clone(), increase)
        })
        .collect()
}

/// The summed increase of the series matching `matcher`, `None` when none matches.
fn increase(matcher: &Matcher, previous: &Scrape, current: &Scrape) -> Option<f64> {
    let all = increases(matcher, previous, current);
    (!all.is_empty()).then(|| all.iter().map(|(_, increase)| increase).sum())
}

fn quantile(matcher: &Matcher, q: f64, previous: &Scrape, current: &Scrape) -> Reading {
    let mut by_le: Vec<(f64, f64)> = Vec::new();
    for (sample, increase) in increases(matcher, previous, current) {
        let Some(le) = text::float(sample.label("le")) else {
            continue;
        };
        match by_le.iter_mut().find(|(bound, _)| *bound == le) {
            Some((_, count)) => *count += increase,
            None => by_le.push((le, increase)),
        }
    }
    if by_le.is_empty() {
        return no_data(format!("no bucket series matches {}", matcher.shown));
    }
    match histogram_quantile(q, by_le) {
        Ok(v) => value(v),
        Err(why) => no_data(why),
    }
}

/// Prometheus's `histogram_quantile` (promql/quantile.go, `BucketQuantile`) over cumulative
/// `(upper bound, count)` buckets: sorted by bound, counts forced monotonic, the quantile's rank
/// found and interpolated linearly within its bucket (from 0 for the first bucket when its bound
/// is positive); a rank in the `+Inf` bucket answers the highest finite bound. `Err` where
/// Prometheus answers NaN (no `+Inf` bucket, fewer than two buckets, no observations), saying
/// why. `q` below 0 is `-Inf` and above 1 `+Inf`, as in Prometheus.
pub fn histogram_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> Result<f64, String> {
    if q.is_nan() {
        return Err("the quantile is NaN".to_owned());
    }
    if q < 0.0 {
        return Ok(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Ok(f64::INFINITY);
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
        return Err("the histogram has no le=\"+Inf\" bucket".to_owned());
    }
    // Equal bounds (as "1" and "1.0") are one bucket.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (le, count) in buckets {
        match merged.last_mut() {
            Some((last, total)) if *last == le => *total += count,
            _ => merged.push((le, count)),
        }
    }
    let mut buckets = merged;
    // A cumulative count lower than the one before (scrapes racing observations) is raised.
    let mut max = f64::NEG_INFINITY;
    for (_, count) in buckets.iter_mut() {
        if *count < max {
            *count = max;
        }
        max = *count;
    }
    if buckets.len() < 2 {
        return Err("the histogram has only the +Inf bucket".to_owned());
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations <= 0.0 {
        return Err("no observations between the two scrapes".to_owned());
    }
    let mut rank = q * observations;
    let b = buckets
        .iter()
        .position(|(_, count)| *count >= rank)
        .unwrap_or(buckets.len() - 1);
    if b == buckets.len() - 1 {
        return Ok(buckets[buckets.len() - 2].0);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return Ok(buckets[0].0);
    }
    let mut start = 0.0;
    let end = buckets[b].0;
    let mut count = buckets[b].1;
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    Ok(start + (end - start) * (rank / count))
}

/// The scraper: one client, the endpoint, and the previous scrape.
#[derive(Debug)]
pub struct Scraper {
    client: reqwest::Client,
    url: url::Url,
    previous: Option<Scrape>,
}

impl Scraper {
    pub fn new(client: reqwest::Client, url: url::Url) -> Scraper {
        Scraper {
            client,
            url,
            previous: None,
        }
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Reads the endpoint once and keeps it as the previous scrape (when it could be read).
    pub async fn baseline(&mut self) {
        if let Ok(scrape) = self.get().await {
            self.previous = Some(scrape);
        }
    }

    /// Reads the endpoint once and computes each query against the previous scrape, which this
    /// one then replaces. A failed read is an error for every query, and the previous scrape is
    /// kept (the next reading spans both intervals).
    pub async fn measure(&mut self, queries: &[&Compiled]) -> Vec<Reading> {
        match self.get().await {
            Ok(current) => {
                let readings = queries
                    .iter()
                    .map(|query| compute(query, self.previous.as_ref(), &current))
                    .collect();
                self.previous = Some(current);
                readings
            }
            Err(why) => queries
                .iter()
                .map(|_| Reading::Error { why: why.clone() })
                .collect(),
        }
    }

    async fn get(&self) -> Result<Scrape, String> {
        let url = super::shown(&self.url);
        let response = self
            .client
            .get(self.url.clone())
            .header(
                reqwest::header::ACCEPT,
                "text/plain;version=0.0.4;q=0.9,*/*;q=0.1",
            )
            .send()
            .await
            .map_err(|e| format!("could not scrape {url}: {}", super::transport(&e)))?;
        let at = Instant::now();
        let status = response.status();
        if !status.is_success() {
            return Err(format!("scraping {url} answered {}", status.as_u16()));
        }
        let body = super::read_body(response, BODY_LIMIT)
            .await
            .map_err(|e| format!("could not read the scrape of {url}: {e}"))?;
        let text = String::from_utf8_lossy(&body);
        let samples = text::parse(&text)
            .map_err(|problem| format!("the scrape of {url} is not Prometheus text: {problem}"))?;
        Ok(Scrape { at, samples })
    }
}

/// How long a scrape may take: the interval, at most 30 seconds.
pub fn timeout(interval: Duration) -> Duration {
    interval.min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LabelMatcher, MatchOp, ScrapeQuery, Selector};

    fn selector(name: &str, labels: &[(&str, MatchOp, &str)]) -> Selector {
        Selector {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(label, op, value)| LabelMatcher {
                    label: (*label).to_owned(),
                    op: *op,
                    value: (*value).to_owned(),
                })
                .collect(),
        }
    }

    fn scrape(at: Instant, text: &str) -> Scrape {
        Scrape {
            at,
            samples: text::parse(text).expect("test text parses"),
        }
    }

    fn two(before: &str, after: &str, seconds: u64) -> (Scrape, Scrape) {
        let t0 = Instant::now();
        (
            scrape(t0, before),
            scrape(t0 + Duration::from_secs(seconds), after),
        )
    }

    fn run(query: ScrapeQuery, previous: Option<&Scrape>, current: &Scrape) -> Reading {
        compute(&Compiled::new(&query).expect("compiles"), previous, current)
    }

    fn requests(status: &str) -> Selector {
        selector("http_requests_total", &[("status", MatchOp::Re, status)])
    }

    #[track_caller]
    fn assert_value(reading: Reading, want: f64) {
        match reading {
            Reading::Value { value } => {
                assert!((value - want).abs() < 1e-9, "got {value}, want {want}")
            }
            other => panic!("want {want}, got {other:?}"),
        }
    }

    #[track_caller]
    fn assert_no_data(reading: Reading, says: &str) {
        match reading {
            Reading::NoData { why } => assert!(why.contains(says), "{why:?} lacks {says:?}"),
            other => panic!("want no data ({says}), got {other:?}"),
        }
    }

    const BEFORE: &str = "# TYPE http_requests_total counter\n\
        http_requests_total{status=\"200\",path=\"/\"} 100\n\
        http_requests_total{status=\"200\",path=\"/a\"} 50\n\
        http_requests_total{status=\"500\",path=\"/\"} 5\n";

    #[test]
    fn rate_sums_the_increase_of_matching_series_per_second() {
        let (before, after) = two(
            BEFORE,
            "http_requests_total{path=\"/\",status=\"200\"} 130\n\
             http_requests_total{status=\"200\",path=\"/a\"} 60\n\
             http_requests_total{status=\"500\",path=\"/\"} 25\n",
            10,
        );
        let all = selector("http_requests_total", &[]);
        assert_value(
            run(ScrapeQuery::Rate { counter: all }, Some(&before), &after),
            6.0,
        );
        assert_value(
            run(
                ScrapeQuery::Rate {
                    counter: requests("5.."),
                },
                Some(&before),
                &after,
            ),
            2.0,
        );
        let not_root = selector(
            "http_requests_total",
            &[
                ("path", MatchOp::Ne, "/"),
                ("status", MatchOp::NotRe, "5.."),
            ],
        );
        assert_value(
            run(
                ScrapeQuery::Rate { counter: not_root },
                Some(&before),
                &after,
            ),
            1.0,
        );
    }

    #[test]
    fn regex_matchers_are_anchored_and_missing_labels_read_empty() {
        let (before, after) = two(
            "m{code=\"500\"} 0\nm{code=\"1500\"} 0\nm 0\n",
            "m{code=\"500\"} 1\nm{code=\"1500\"} 10\nm 100\n",
            1,
        );
        let rate = |labels: &[(&str, MatchOp, &str)]| {
            run(
                ScrapeQuery::Rate {
                    counter: selector("m", labels),
                },
                Some(&before),
                &after,
            )
        };
        assert_value(rate(&[("code", MatchOp::Re, "5..")]), 1.0);
        assert_value(rate(&[("code", MatchOp::Eq, "")]), 100.0);
        assert_value(rate(&[("code", MatchOp::Re, ".+")]), 11.0);
        assert_value(rate(&[("code", MatchOp::NotRe, "5..")]), 110.0);
    }

    #[test]
    fn a_counter_reset_counts_from_zero_and_a_new_series_too() {
        let (before, after) = two(
            BEFORE,
            // The app restarted: 200s went 150 -> 40 (reset); a new path appeared with 7.
            "http_requests_total{status=\"200\",path=\"/\"} 30\n\
             http_requests_total{status=\"200\",path=\"/a\"} 10\n\
             http_requests_total{status=\"200\",path=\"/new\"} 7\n\
             http_requests_total{status=\"500\",path=\"/\"} 5\n",
            2,
        );
        assert_value(
            run(
                ScrapeQuery::Rate {
                    counter: requests("2.."),
                },
                Some(&before),
                &after,
            ),
            (30.0 + 10.0 + 7.0) / 2.0,
        );
        assert_value(
            run(
                ScrapeQuery::Ratio {
                    numerator: requests("5.."),
                    denominator: requests(".*"),
                },
                Some(&before),
                &after,
            ),
            0.0,
        );
    }

    #[test]
    fn ratio_is_the_share_of_the_increase_and_no_requests_is_no_data() {
        let (before, after) = two(
            BEFORE,
            "http_requests_total{status=\"200\",path=\"/\"} 130\n\
             http_requests_total{status=\"200\",path=\"/a\"} 60\n\
             http_requests_total{status=\"500\",path=\"/\"} 15\n",
            10,
        );
        let ratio = || ScrapeQuery::Ratio {
            numerator: requests("5.."),
            denominator: requests(".*"),
        };
        assert_value(run(ratio(), Some(&before), &after), 10.0 / 50.0);
        let (same, again) = two(BEFORE, BEFORE, 10);
        assert_no_data(run(ratio(), Some(&same), &again), "no requests");
        // The numerator's series not existing yet is no errors, not no data.
        let (before, after) = two(
            "http_requests_total{status=\"200\"} 1\n",
            "http_requests_total{status=\"200\"} 5\n",
            1,
        );
        assert_value(run(ratio(), Some(&before), &after), 0.0);
        assert_no_data(
            run(
                ScrapeQuery::Ratio {
                    numerator: requests("5.."),
                    denominator: selector("nope_total", &[]),
                },
                Some(&before),
                &after,
            ),
            "no series matches nope_total",
        );
    }

    #[test]
    fn the_first_scrape_is_a_baseline_except_for_a_gauge() {
        let only = scrape(Instant::now(), "inflight{a=\"1\"} 3\ninflight{a=\"2\"} 4\n");
        assert_no_data(
            run(
                ScrapeQuery::Rate {
                    counter: selector("inflight", &[]),
                },
                None,
                &only,
            ),
            "baseline",
        );
        assert_value(
            run(
                ScrapeQuery::Gauge {
                    gauge: selector("inflight", &[]),
                },
                None,
                &only,
            ),
            7.0,
        );
        assert_no_data(
            run(
                ScrapeQuery::Gauge {
                    gauge: selector("absent", &[]),
                },
                None,
                &only,
            ),
            "no series matches absent",
        );
    }

    fn histogram(counts: [(&str, f64); 5], extra: &str) -> String {
        let mut text = String::from("# TYPE d histogram\n");
        for (le, count) in counts {
            text.push_str(&format!("d_bucket{{le=\"{le}\"{extra}}} {count}\n"));
        }
        text.push_str("d_sum 0\nd_count 0\n");
        text
    }

    #[test]
    fn quantile_interpolates_within_the_bucket_of_the_increase() {
        // Before: 10 observations <= 0.1 already; between: 100 more, 50 <= 0.1, 40 in (0.1, 0.5],
        // 10 in (0.5, 1].
        let before = histogram(
            [
                ("0.1", 10.0),
                ("0.5", 10.0),
                ("1", 10.0),
                ("5", 10.0),
                ("+Inf", 10.0),
            ],
            "",
        );
        let after = histogram(
            [
                ("0.1", 60.0),
                ("0.5", 100.0),
                ("1", 110.0),
                ("5", 110.0),
                ("+Inf", 110.0),
            ],
            "",
        );
        let (before, after) = two(&before, &after, 5);
        let q = |quantile: f64| {
            run(
                ScrapeQuery::Quantile {
                    histogram: selector("d", &[]),
                    quantile,
                },
                Some(&before),
                &after,
            )
        };
        // rank 50 -> the end of the first bucket; 0.5 * 0.1.
        assert_value(q(0.5), 0.1);
        assert_value(q(0.25), 0.05);
        // rank 70: 20 of the 40 in (0.1, 0.5].
        assert_value(q(0.7), 0.1 + 0.4 * 0.5);
        // rank 95: 5 of the 10 in (0.5, 1].
        assert_value(q(0.95), 0.75);
    }

    #[test]
    fn quantile_in_the_inf_bucket_is_the_highest_finite_bound() {
        let before = histogram(
            [
                ("0.1", 0.0),
                ("0.5", 0.0),
                ("1", 0.0),
                ("5", 0.0),
                ("+Inf", 0.0),
            ],
            "",
        );
        let after = histogram(
            [
                ("0.1", 1.0),
                ("0.5", 1.0),
                ("1", 1.0),
                ("5", 1.0),
                ("+Inf", 10.0),
            ],
            "",
        );
        let (before, after) = two(&before, &after, 5);
        assert_value(
            run(
                ScrapeQuery::Quantile {
                    histogram: selector("d", &[]),
                    quantile: 0.95,
                },
                Some(&before),
                &after,
            ),
            5.0,
        );
    }

    #[test]
    fn quantile_sums_series_by_le_and_selects_by_label() {
        let zero = [
            ("0.1", 0.0),
            ("0.5", 0.0),
            ("1", 0.0),
            ("5", 0.0),
            ("+Inf", 0.0),
        ];
        let before = format!(
            "{}{}",
            histogram(zero, ",path=\"/a\""),
            histogram(zero, ",path=\"/b\"")
        );
        let after = format!(
            "{}{}",
            // /a: 10 observations <= 0.1; /b: 10 in (0.5, 1].
            histogram(
                [
                    ("0.1", 10.0),
                    ("0.5", 10.0),
                    ("1", 10.0),
                    ("5", 10.0),
                    ("+Inf", 10.0)
                ],
                ",path=\"/a\""
            ),
            histogram(
                [
                    ("0.1", 0.0),
                    ("0.5", 0.0),
                    ("1", 10.0),
                    ("5", 10.0),
                    ("+Inf", 10.0)
                ],
                ",path=\"/b\""
            ),
        );
        let (before, after) = two(&before, &after, 5);
        let q = |labels: &[(&str, MatchOp, &str)]| {
            run(
                ScrapeQuery::Quantile {
                    histogram: selector("d", labels),
                    quantile: 0.75,
                },
                Some(&before),
                &after,
            )
        };
        // 20 observations, rank 15: 5 of the 10 in (0.5, 1].
        assert_value(q(&[]), 0.75);
        // /a alone: rank 7.5 of 10 in the first bucket.
        assert_value(q(&[("path", MatchOp::Eq, "/a")]), 0.075);
    }

    #[test]
    fn quantile_edge_cases_follow_prometheus() {
        let buckets = |pairs: &[(f64, f64)]| pairs.to_vec();
        let inf = f64::INFINITY;
        // No observations, no +Inf bucket, only +Inf: NaN in Prometheus, no data here.
        assert!(histogram_quantile(0.5, buckets(&[(1.0, 0.0), (inf, 0.0)])).is_err());
        assert!(histogram_quantile(0.5, buckets(&[(1.0, 5.0), (2.0, 5.0)])).is_err());
        assert!(histogram_quantile(0.5, buckets(&[(inf, 5.0)])).is_err());
        assert!(histogram_quantile(f64::NAN, buckets(&[(1.0, 1.0), (inf, 1.0)])).is_err());
        // q outside [0, 1].
        assert_eq!(
            histogram_quantile(-0.1, buckets(&[(1.0, 1.0), (inf, 1.0)])),
            Ok(f64::NEG_INFINITY)
        );
        assert_eq!(
            histogram_quantile(1.1, buckets(&[(1.0, 1.0), (inf, 1.0)])),
            Ok(inf)
        );
        // Unsorted input, a non-monotonic count (raised to 10), a first bound <= 0.
        assert_eq!(
            histogram_quantile(0.5, buckets(&[(inf, 10.0), (2.0, 8.0), (1.0, 10.0)])),
            Ok(0.5)
        );
        assert_eq!(
            histogram_quantile(0.5, buckets(&[(-1.0, 10.0), (1.0, 10.0), (inf, 10.0)])),
            Ok(-1.0)
        );
        // q = 0 and q = 1.
        assert_eq!(
            histogram_quantile(0.0, buckets(&[(1.0, 4.0), (2.0, 8.0), (inf, 8.0)])),
            Ok(0.0)
        );
        assert_eq!(
            histogram_quantile(1.0, buckets(&[(1.0, 4.0), (2.0, 8.0), (inf, 8.0)])),
            Ok(2.0)
        );
        // The same bound written twice is one bucket.
        assert_eq!(
            histogram_quantile(0.5, buckets(&[(1.0, 2.0), (1.0, 2.0), (inf, 4.0)])),
            Ok(0.5)
        );
    }

    #[test]
    fn a_bad_regex_is_refused_when_compiled() {
        let bad = ScrapeQuery::Rate {
            counter: selector("m", &[("code", MatchOp::Re, "5(")]),
        };
        let error = Compiled::new(&bad).expect_err("unbalanced");
        assert!(error.contains("bad regex \"5(\" for label code"), "{error}");
    }
}
