//! The typed steps around a deploy and the post-deploy watch (`steps:` and `watch:` of an
//! environment), and the documented queries the `error_rate` and `p95` shortcuts expand into.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// `steps:` of an environment: commands run around the deploy.
#[derive(Debug, Clone, Default)]
pub struct StepsPolicy {
    /// After the gates pass and the Deployment is created, before `fly deploy`.
    pub before_deploy: Vec<StepCommand>,
    /// After the health gate passes; a failure rolls back.
    pub after_deploy: Vec<StepCommand>,
    /// After a rollback's redeploy (a database restore); a failure is `rollback_failed`.
    pub on_rollback: Vec<StepCommand>,
}

impl StepsPolicy {
    pub fn is_empty(&self) -> bool {
        self.before_deploy.is_empty() && self.after_deploy.is_empty() && self.on_rollback.is_empty()
    }
}

/// When a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    BeforeDeploy,
    AfterDeploy,
    OnRollback,
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::BeforeDeploy => "before_deploy",
            Hook::AfterDeploy => "after_deploy",
            Hook::OnRollback => "on_rollback",
        }
    }
}

/// One step: a program and its arguments (never a shell), with its environment, time limit and
/// working directory. `run` and `env` values are templates (`${sha}`, `${env.NAME}`), filled when
/// the step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCommand {
    pub name: String,
    /// The argument vector; `run[0]` is the program (looked up on PATH when it has no `/`).
    pub run: Vec<String>,
    /// Extra environment variables; a value may name `${env.NAME}` (a secret from shipgate's own
    /// environment, masked in every output).
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    /// Relative to the directory shipgate runs in; `None` is that directory.
    pub working_directory: Option<String>,
}

/// `watch:` of an environment: metrics read every `interval` for `duration` after the deploy is
/// healthy (Argo Rollouts' analysis, for Fly apps).
#[derive(Debug, Clone)]
pub struct WatchPolicy {
    pub duration: Duration,
    /// The duration of an emergency deploy's watch ("monitoring extended to 2 hours").
    pub emergency_duration: Option<Duration>,
    pub interval: Duration,
    /// Failed measurements allowed; one more fails the watch (`0`: the first failure does).
    pub failure_limit: u32,
    /// Inconclusive measurements (no data) allowed; one more fails the watch. `None`: no limit.
    pub inconclusive_limit: Option<u32>,
    /// Errors in a row allowed (the source could not be read); one more fails the watch.
    pub consecutive_error_limit: u32,
    /// Where `prometheus` rules are read: the URL and an auth header, from the environment.
    pub prometheus: PrometheusSource,
    /// Where `scrape` rules are read: the app's own metrics endpoint.
    pub scrape: ScrapeSource,
    pub rules: Vec<Rule>,
}

impl WatchPolicy {
    /// What is allowed but probably wrong: a watch that outlives a GitHub-hosted job (6 hours).
    pub fn warnings(&self, environment: &str) -> Vec<String> {
        [
            ("duration", Some(self.duration)),
            ("emergency_duration", self.emergency_duration),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .filter(|(_, value)| *value > crate::config::JOB_LIMIT)
        .map(|(key, value)| {
            format!(
                "environments.{environment}.watch.{key} is {}: longer than a GitHub-hosted job may run (6h); the runner would cancel the deploy mid-watch",
                crate::config::duration::Human(value)
            )
        })
        .collect()
    }

    /// How long this deploy's watch runs.
    pub fn duration_for(&self, emergency: bool) -> Duration {
        match (emergency, self.emergency_duration) {
            (true, Some(longer)) => longer,
            _ => self.duration,
        }
    }
}

/// A Prometheus-compatible HTTP API (`/api/v1/query`): Fly's managed Prometheus or the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusSource {
    /// The environment variable holding the base URL (`https://api.fly.io/prometheus/<org>`).
    pub url_env: String,
    /// The environment variable holding the `Authorization` header value (`FlyV1 …`,
    /// `Bearer …`); unset sends none.
    pub auth_env: String,
}

impl Default for PrometheusSource {
    fn default() -> Self {
        PrometheusSource {
            url_env: "SHIPGATE_PROMETHEUS_URL".to_owned(),
            auth_env: "SHIPGATE_PROMETHEUS_AUTH".to_owned(),
        }
    }
}

/// The app's own Prometheus text endpoint, read directly, and the metric names the shortcuts
/// use on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeSource {
    /// Joined to the environment's `url`.
    pub path: String,
    /// The request counter (`http_requests_total`), with a status label.
    pub requests: String,
    pub status_label: String,
    /// The request-duration histogram's base name (`http_request_duration_seconds`).
    pub duration: String,
}

impl Default for ScrapeSource {
    fn default() -> Self {
        ScrapeSource {
            path: "/metrics".to_owned(),
            requests: "http_requests_total".to_owned(),
            status_label: "status".to_owned(),
            duration: "http_request_duration_seconds".to_owned(),
        }
    }
}

/// One watched metric and its condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub metric: Metric,
    pub condition: Condition,
}

/// Where a rule's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// An instant PromQL query; `${app}`, `${version}` and `${interval}` are filled when it runs.
    /// A vector of several samples is judged by its worst sample.
    Prometheus { query: String },
    /// A value computed from two scrapes of the app's metrics endpoint, one interval apart.
    Scrape(ScrapeQuery),
    /// Lines of the new release's logs (`fly logs --no-tail --json`) matching a regex, per
    /// interval.
    Logs { pattern: String },
}

/// What a `scrape` rule computes between two scrapes.
#[derive(Debug, Clone, PartialEq)]
pub enum ScrapeQuery {
    /// The per-second rate of a counter (summed over the matching series; resets handled).
    Rate { counter: Selector },
    /// `numerator`'s increase over `denominator`'s (an error ratio); no increase is no data.
    Ratio {
        numerator: Selector,
        denominator: Selector,
    },
    /// A quantile of a histogram's observations between the two scrapes (as
    /// `histogram_quantile` over the increase of `<name>_bucket`).
    Quantile { histogram: Selector, quantile: f64 },
    /// A gauge's current value (summed over the matching series).
    Gauge { gauge: Selector },
}

/// A metric name and label matchers: `http_requests_total{status=~"5.."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub labels: Vec<LabelMatcher>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatcher {
    pub label: String,
    /// `=` or `=~` (an anchored regex, as PromQL's); `!=`, `!~` negate.
    pub op: MatchOp,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Ne,
    Re,
    NotRe,
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.labels.is_empty() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|m| {
                    let op = match m.op {
                        MatchOp::Eq => "=",
                        MatchOp::Ne => "!=",
                        MatchOp::Re => "=~",
                        MatchOp::NotRe => "!~",
                    };
                    format!("{}{op}{:?}", m.label, m.value)
                })
                .collect();
            write!(f, "{{{}}}", labels.join(","))?;
        }
        Ok(())
    }
}

/// A rule's condition: the value must stay at or under `max` and at or over `min`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub max: Option<Threshold>,
    pub min: Option<Threshold>,
}

/// A threshold as written (`1%`, `2s`, `0.5/s`, `100 count`) and its value in base units
/// (a ratio, seconds, per second, a count).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub value: f64,
    pub unit: Unit,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// `%`: the value is a ratio (1% is 0.01).
    Ratio,
    /// `ms`, `s`, `m`: the value is in seconds.
    Seconds,
    /// `/s`, `/m`: the value is per second.
    PerSecond,
    /// `count`, or a log rule's `max`: a plain number.
    Count,
}

impl Unit {
    /// A value in this unit as people read it: `1.20%`, `340ms`, `2.5/s`, `3`.
    pub fn show(self, value: f64) -> String {
        match self {
            Unit::Ratio => format!("{}%", trim(value * 100.0)),
            Unit::Seconds if value < 1.0 => format!("{}ms", trim(value * 1000.0)),
            Unit::Seconds => format!("{}s", trim(value)),
            Unit::PerSecond => format!("{}/s", trim(value)),
            Unit::Count => trim(value),
        }
    }
}

/// At most three decimals, no trailing zeros.
fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// The documented query the `error_rate` shortcut expands into on Fly's managed Prometheus:
/// the share of edge responses with a 5xx status over the last interval.
pub const FLY_ERROR_RATE: &str = "sum(rate(fly_edge_http_responses_count{app=\"${app}\",status=~\"5..\"}[${interval}])) / sum(rate(fly_edge_http_responses_count{app=\"${app}\"}[${interval}]))";

/// The documented query the `p95` shortcut expands into on Fly's managed Prometheus: the 95th
/// percentile of edge response times over the last interval.
pub const FLY_P95: &str = "histogram_quantile(0.95, sum(rate(fly_edge_http_response_time_seconds_bucket{app=\"${app}\"}[${interval}])) by (le))";

impl Condition {
    /// The condition as text: `<= 1%`, `>= 10/s`, `between 1/s and 5/s`.
    pub fn describe(&self) -> String {
        match (&self.max, &self.min) {
            (Some(max), None) => format!("<= {}", max.text),
            (None, Some(min)) => format!(">= {}", min.text),
            (Some(max), Some(min)) => format!("between {} and {}", min.text, max.text),
            (None, None) => "no condition".to_owned(),
        }
    }
}

impl Metric {
    /// What the rule reads, as text: the query, the scrape expression, the log pattern.
    pub fn describe(&self) -> String {
        match self {
            Metric::Prometheus { query } => format!("prometheus: {query}"),
            Metric::Scrape(query) => match query {
                ScrapeQuery::Rate { counter } => format!("scrape: rate of {counter}"),
                ScrapeQuery::Ratio {
                    numerator,
                    denominator,
                } => format!("scrape: increase of {numerator} / increase of {denominator}"),
                ScrapeQuery::Quantile {
                    histogram,
                    quantile,
                } => format!("scrape: quantile {quantile} of {histogram}"),
                ScrapeQuery::Gauge { gauge } => format!("scrape: {gauge}"),
            },
            Metric::Logs { pattern } => format!("logs matching /{pattern}/"),
        }
    }
}
