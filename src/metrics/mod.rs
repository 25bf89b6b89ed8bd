//! The metrics edge: reads the post-deploy watch's rules' metrics and returns
//! [`Reading`]s. No policy: whether a reading passes is `gate::watch`'s to say.
//!
//! A [`Meter`] is built once per watch from the policy and the [`Target`] (refused when a rule
//! needs a source that is not configured), takes a [`Meter::baseline`] right after the deploy is
//! healthy, then one [`Meter::measure`] per interval: one reading per rule, in the policy's order.
//! Per interval it makes exactly one request per `prometheus` rule (all at once), one GET of the
//! app's metrics endpoint shared by the `scrape` rules, and one `fly logs` shared by the `logs`
//! rules, the three sources concurrently.
//!
//! - [`prometheus`]: an instant query; a vector of several samples is judged by its worst sample
//!   for the rule's condition (the highest for a `max`, the lowest for a `min`); NaN samples
//!   are left out, and a vector of NaN alone is no data.
//! - [`scrape`]: two scrapes of the app's own endpoint, one interval apart.
//! - [`logs`]: lines of the new release's machines matching a regex, per interval.

pub mod logs;
pub mod prometheus;
pub mod scrape;
pub mod text;

use std::time::Duration;

use regex::Regex;

use crate::config::{Condition, Metric, WatchPolicy};
use crate::facts::watch::Reading;
use crate::fly::Fly;
use crate::secret::Secret;

use self::logs::LogReader;
use self::prometheus::{Prometheus, QueryError};
use self::scrape::{Compiled, Scraper};

/// How long [`check_query`] waits for the server.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// What is watched: the app, its new release, and where its metrics are read.
#[derive(Debug)]
pub struct Target<'a> {
    pub app: &'a str,
    /// The new release's version, for `${version}`.
    pub version: Option<u64>,
    /// The environment's URL, which `scrape.path` is joined to.
    pub base_url: Option<&'a url::Url>,
    pub interval: Duration,
    /// For `logs` rules.
    pub fly: Option<&'a Fly>,
    /// The Prometheus API's base URL (from `prometheus.url_env`).
    pub prometheus_url: Option<url::Url>,
    /// The `Authorization` header value (from `prometheus.auth_env`).
    pub prometheus_auth: Option<Secret>,
    /// The new release's machine ids: the `logs` rules count their lines only (all lines when
    /// empty).
    pub machines: Vec<String>,
}

/// The meter could not be built: a rule needs a source that is not configured, or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("watch rule {rule:?} queries Prometheus, but {env} is not set: set {env} to the base URL of a Prometheus-compatible API (https://api.fly.io/prometheus/<org> for Fly's)")]
    PrometheusUrlUnset { rule: String, env: String },
    #[error(
        "watch rule {rule:?} scrapes the app's metrics, but the environment has no url to scrape"
    )]
    ScrapeUrlUnset { rule: String },
    #[error("watch rule {rule:?} reads fly logs, but no fly binary is available")]
    FlyUnavailable { rule: String },
    #[error("watch rule {rule:?}: {detail}")]
    BadPattern { rule: String, detail: String },
    #[error("could not set up the HTTP client for metrics: {0}")]
    Client(#[source] reqwest::Error),
}

/// How each rule is read.
#[derive(Debug)]
enum Source {
    /// The query with its placeholders filled, or why it cannot be.
    Prometheus(Result<String, String>),
    /// The index into `Meter::scrape_queries`.
    Scrape(usize),
    /// The index into `Meter::log_patterns`.
    Logs(usize),
}

/// Reads every rule's metric, once per interval.
#[derive(Debug)]
pub struct Meter {
    rules: Vec<(Condition, Source)>,
    timeout: Duration,
    prometheus: Option<Prometheus>,
    scraper: Option<Scraper>,
    scrape_queries: Vec<Compiled>,
    logs: Option<LogReader>,
    log_patterns: Vec<Regex>,
}

impl Meter {
    pub fn new(policy: &WatchPolicy, target: Target<'_>) -> Result<Meter, MetricsError> {
        let timeout = scrape::timeout(target.interval);
        let client = client(timeout)?;
        let mut meter = Meter {
            rules: Vec::with_capacity(policy.rules.len()),
            timeout,
            prometheus: None,
            scraper: None,
            scrape_queries: Vec::new(),
            logs: None,
            log_patterns: Vec::new(),
        };
        for rule in &policy.rules {
            let bad = |detail: String| MetricsError::BadPattern {
                rule: rule.name.clone(),
                detail,
            };
            let source = match &rule.metric {
                Metric::Prometheus { query } => {
                    if meter.prometheus.is_none() {
                        let url = target.prometheus_url.as_ref().ok_or_else(|| {
                            MetricsError::PrometheusUrlUnset {
                                rule: rule.name.clone(),
                                env: policy.prometheus.url_env.clone(),
                            }
                        })?;
                        meter.prometheus = Some(Prometheus::new(
                            client.clone(),
                            url,
                            target.prometheus_auth.clone(),
                        ));
                    }
                    Source::Prometheus(fill_query(
                        query,
                        target.app,
                        target.version,
                        target.interval,
                    ))
                }
                Metric::Scrape(query) => {
                    if meter.scraper.is_none() {
                        let base = target
                            .base_url
                            .ok_or_else(|| MetricsError::ScrapeUrlUnset {
                                rule: rule.name.clone(),
                            })?;
                        meter.scraper = Some(Scraper::new(
                            client.clone(),
                            join(base, &policy.scrape.path),
                        ));
                    }
                    meter
                        .scrape_queries
                        .push(Compiled::new(query).map_err(bad)?);
                    Source::Scrape(meter.scrape_queries.len() - 1)
                }
                Metric::Logs { pattern } => {
                    if meter.logs.is_none() {
                        let fly = target.fly.ok_or_else(|| MetricsError::FlyUnavailable {
                            rule: rule.name.clone(),
                        })?;
                        meter.logs = Some(LogReader::new(
                            fly.clone(),
                            target.app,
                            target.machines.clone(),
                            timeout,
                        ));
                    }
                    let regex = Regex::new(pattern)
                        .map_err(|e| bad(format!("bad log pattern {pattern:?}: {e}")))?;
                    meter.log_patterns.push(regex);
                    Source::Logs(meter.log_patterns.len() - 1)
                }
            };
            meter.rules.push((rule.condition.clone(), source));
        }
        Ok(meter)
    }

    /// The first scrape and the logs cursor, so that the first interval has something to compare
    /// with. A source that cannot be read now makes its first measure a baseline instead.
    pub async fn baseline(&mut self) {
        let scrape = async {
            if let Some(scraper) = self.scraper.as_mut() {
                scraper.baseline().await;
            }
        };
        let logs = async {
            if let Some(reader) = self.logs.as_mut() {
                reader.baseline().await;
            }
        };
        futures::join!(scrape, logs);
    }

    /// One reading per rule, in the policy's order.
    pub async fn measure(&mut self) -> Vec<Reading> {
        let Meter {
            rules,
            timeout,
            prometheus,
            scraper,
            scrape_queries,
            logs,
            log_patterns,
        } = self;
        let timeout = *timeout;
        let prometheus = prometheus.as_ref();
        let queries = rules.iter().filter_map(|(condition, source)| match source {
            Source::Prometheus(query) => Some(async move {
                match (query, prometheus) {
                    (Err(why), _) => Reading::Error { why: why.clone() },
                    (Ok(query), Some(server)) => {
                        worst(server.query(query.as_str(), timeout).await, condition)
                    }
                    (Ok(_), None) => Reading::Error {
                        why: "no Prometheus API is configured".to_owned(),
                    },
                }
            }),
            _ => None,
        });
        let scrape = async {
            match scraper.as_mut() {
                Some(scraper) => {
                    let all: Vec<&Compiled> = scrape_queries.iter().collect();
                    scraper.measure(&all).await
                }
                None => Vec::new(),
            }
        };
        let lines = async {
            match logs.as_mut() {
                Some(reader) => {
                    let all: Vec<&Regex> = log_patterns.iter().collect();
                    reader.measure(&all).await
                }
                None => Vec::new(),
            }
        };
        let (queried, scraped, counted) =
            futures::join!(futures::future::join_all(queries), scrape, lines);
        let mut queried = queried.into_iter();
        rules
            .iter()
            .map(|(_, source)| {
                let reading = match source {
                    Source::Prometheus(_) => queried.next(),
                    Source::Scrape(index) => scraped.get(*index).cloned(),
                    Source::Logs(index) => counted.get(*index).cloned(),
                };
                reading.unwrap_or_else(|| Reading::Error {
                    why: "internal: the source returned too few readings".to_owned(),
                })
            })
            .collect()
    }
}

/// The reading of a query's answer for `condition`: its worst sample (see the module doc).
fn worst(answer: Result<Vec<f64>, QueryError>, condition: &Condition) -> Reading {
    let values = match answer {
        Ok(values) => values,
        Err(error) => {
            return Reading::Error {
                why: error.to_string(),
            }
        }
    };
    if values.is_empty() {
        return Reading::NoData {
            why: "the query returned no samples".to_owned(),
        };
    }
    let numbers: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
    let highest = numbers.iter().copied().reduce(f64::max);
    let lowest = numbers.iter().copied().reduce(f64::min);
    let (Some(highest), Some(lowest)) = (highest, lowest) else {
        return Reading::NoData {
            why: "the query returned NaN (as 0/0 with no traffic)".to_owned(),
        };
    };
    // The highest when it crosses `max` or there is no `min`; else the lowest (which crosses
    // `min`, or is the closest to).
    let over = condition
        .max
        .as_ref()
        .is_some_and(|max| highest > max.value);
    let value = if over || condition.min.is_none() {
        highest
    } else {
        lowest
    };
    Reading::Value { value }
}

/// `query` with `${app}`, `${version}` (decimal) and `${interval}` (a PromQL duration: `60s`,
/// `1500ms`) filled. `Err` when it names `${version}` and the version is not known.
pub fn fill_query(
    query: &str,
    app: &str,
    version: Option<u64>,
    interval: Duration,
) -> Result<String, String> {
    use crate::config::placeholder::{substitute, Substitution};
    substitute(query, |name| match name {
        "app" => Ok(app.to_owned()),
        "interval" => Ok(promql_duration(interval)),
        "version" => version.map(|v| v.to_string()).ok_or_else(|| {
            "the query names ${version}, but the deployed release's version is not known".to_owned()
        }),
        other => Err(format!("`${{{other}}}` is not a query placeholder")),
    })
    .map_err(|error| match error {
        Substitution::Unclosed(text) => format!("unclosed placeholder `{text}`"),
        Substitution::Lookup(why) => why,
    })
}

/// A PromQL duration: whole seconds as `60s`, else milliseconds (`1500ms`).
pub fn promql_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// Why [`check_query`] did not accept a query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// The server answered and refused it: the query is bad input. Holds the server's error.
    #[error("{0}")]
    Rejected(String),
    /// The server could not be asked, or failed: nothing is known of the query.
    #[error("{0}")]
    Unavailable(String),
}

/// Asks the server at `url` whether it accepts `query` (already filled, see [`fill_query`]): one
/// instant query. A query that runs is accepted, whatever it returns.
pub async fn check_query(
    url: &url::Url,
    auth: Option<&Secret>,
    query: &str,
) -> Result<(), CheckError> {
    let client = client(CHECK_TIMEOUT).map_err(|e| CheckError::Unavailable(e.to_string()))?;
    let server = Prometheus::new(client, url, auth.cloned());
    match server.query(query, CHECK_TIMEOUT).await {
        Ok(_) | Err(QueryError::NotNumbers(_)) => Ok(()),
        Err(QueryError::Rejected { error }) => Err(CheckError::Rejected(error)),
        Err(other) => Err(CheckError::Unavailable(other.to_string())),
    }
}

/// One HTTP client for a meter's requests: rustls (ring), no redirects, no proxy, `timeout` for
/// each whole request.
fn client(timeout: Duration) -> Result<reqwest::Client, MetricsError> {
    // One TLS crypto provider for the whole binary (ring); installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("shipgate/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(MetricsError::Client)
}

/// `base` with `path` appended to its path, never doubling a slash.
pub(crate) fn join(base: &url::Url, path: &str) -> url::Url {
    let mut joined = base.clone();
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    };
    let prefix = base.path().trim_end_matches('/');
    joined.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
    joined.set_query(query);
    joined
}

/// A transport error in a few words: `timed out`, `Connection refused (os error 111)`, … Never
/// the URL (it may carry credentials) nor a header.
pub(crate) fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut innermost = None;
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        innermost = Some(inner.to_string());
        source = inner.source();
    }
    innermost.unwrap_or_else(|| {
        if error.is_connect() {
            "could not connect".to_owned()
        } else if error.is_body() {
            "the body could not be read".to_owned()
        } else {
            "the request failed".to_owned()
        }
    })
}

/// A URL as shown in a message: without its user and password.
pub(crate) fn shown(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The body, at most `limit` bytes (more is an error: a metrics answer is never that large).
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Threshold, Unit};

    fn threshold(value: f64) -> Option<Threshold> {
        Some(Threshold {
            value,
            unit: Unit::Ratio,
            text: format!("{value}"),
        })
    }

    #[test]
    fn the_worst_sample_depends_on_the_condition() {
        let max = Condition {
            max: threshold(0.5),
            min: None,
        };
        let min = Condition {
            max: None,
            min: threshold(0.5),
        };
        let both = Condition {
            max: threshold(0.9),
            min: threshold(0.2),
        };
        let values = || Ok(vec![0.3, f64::NAN, 0.1, 0.7]);
        assert_eq!(worst(values(), &max), Reading::Value { value: 0.7 });
        assert_eq!(worst(values(), &min), Reading::Value { value: 0.1 });
        assert_eq!(worst(values(), &both), Reading::Value { value: 0.1 });
        assert_eq!(
            worst(Ok(vec![0.3, 0.95]), &both),
            Reading::Value { value: 0.95 }
        );
        assert!(matches!(worst(Ok(vec![]), &max), Reading::NoData { .. }));
        assert!(matches!(
            worst(Ok(vec![f64::NAN]), &max),
            Reading::NoData { .. }
        ));
        assert!(matches!(
            worst(Err(QueryError::Unreachable("down".to_owned())), &max),
            Reading::Error { why } if why == "down"
        ));
    }

    #[test]
    fn placeholders_are_filled_as_text() {
        let query = "sum(rate(m{app=\"${app}\",v=\"${version}\"}[${interval}]))";
        assert_eq!(
            fill_query(query, "web", Some(42), Duration::from_secs(60)),
            Ok("sum(rate(m{app=\"web\",v=\"42\"}[60s]))".to_owned())
        );
        assert_eq!(
            fill_query("m[${interval}]", "web", None, Duration::from_millis(1500)),
            Ok("m[1500ms]".to_owned())
        );
        let error =
            fill_query(query, "web", None, Duration::from_secs(60)).expect_err("no version");
        assert!(error.contains("${version}"), "{error}");
    }

    #[test]
    fn join_appends_the_path() {
        let base = url::Url::parse("https://api.fly.io/prometheus/personal/").expect("url");
        assert_eq!(
            join(&base, "/api/v1/query").as_str(),
            "https://api.fly.io/prometheus/personal/api/v1/query"
        );
        let base = url::Url::parse("http://127.0.0.1:9090").expect("url");
        assert_eq!(
            join(&base, "/metrics?x=1").as_str(),
            "http://127.0.0.1:9090/metrics?x=1"
        );
    }
}
