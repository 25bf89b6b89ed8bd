//! Meaning of `steps:` and `watch:`: argument vectors and their placeholders, durations, rules
//! with exactly one metric, thresholds with units, and the shortcuts expanded into the queries
//! they stand for.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::duration;
use super::issues::{parse_duration, suggest, Issues};
use super::locate::YamlPath;
use super::placeholder;
use super::raw::*;
use super::watch::*;

/// The placeholders a step's arguments may name, and what each stands for.
pub const STEP_PLACEHOLDERS: [(&str, &str); 7] = [
    ("sha", "the commit deployed"),
    ("ref", "the ref the deploy was asked for"),
    ("environment", "the environment's name"),
    ("app", "the Fly app"),
    ("url", "the environment's url"),
    (
        "version",
        "the Fly release version the deploy made (not known before it)",
    ),
    (
        "previous_version",
        "the Fly release version running before the deploy",
    ),
];

/// The placeholders a PromQL query may name.
pub const QUERY_PLACEHOLDERS: [(&str, &str); 3] = [
    ("app", "the Fly app"),
    ("version", "the Fly release version deployed"),
    (
        "interval",
        "the watch interval, as a PromQL duration (`60s`)",
    ),
];

/// Default time limit of one step.
const STEP_TIMEOUT: &str = "10m";
/// GitHub-hosted jobs end after 6 hours: a longer watch outlives the job that runs it.
pub const JOB_LIMIT: Duration = Duration::from_secs(6 * 60 * 60);
/// At most this many steps per hook, and rules per watch: a config can come from a pull request.
const MAX_ITEMS: usize = 50;

pub(super) fn steps_policy(
    raw: Option<&RawSteps>,
    path: &YamlPath,
    issues: &mut Issues,
) -> StepsPolicy {
    let Some(raw) = raw else {
        return StepsPolicy::default();
    };
    let hook = |list: &Option<Vec<RawStep>>, hook: Hook, issues: &mut Issues| {
        let here = path.key(hook.as_str());
        let list = list.as_deref().unwrap_or_default();
        if list.len() > MAX_ITEMS {
            issues.push(
                &here,
                format!("{} steps; at most {MAX_ITEMS} are allowed", list.len()),
                "put the commands in a script of the repository and run that",
            );
        }
        let mut seen = BTreeSet::new();
        list.iter()
            .enumerate()
            .map(|(i, step)| {
                let at = here.index(i);
                if !seen.insert(step.name.trim().to_owned()) {
                    issues.push(
                        &at.key("name"),
                        format!("two `{}` steps named `{}`", hook.as_str(), step.name),
                        "give each step its own name: the report tells them apart by it",
                    );
                }
                step_command(step, hook, &at, issues)
            })
            .collect()
    };
    StepsPolicy {
        before_deploy: hook(&raw.before_deploy, Hook::BeforeDeploy, issues),
        after_deploy: hook(&raw.after_deploy, Hook::AfterDeploy, issues),
        on_rollback: hook(&raw.on_rollback, Hook::OnRollback, issues),
    }
}

fn step_command(raw: &RawStep, hook: Hook, path: &YamlPath, issues: &mut Issues) -> StepCommand {
    if raw.name.trim().is_empty() {
        issues.push(
            &path.key("name"),
            "empty step name",
            "name the step, e.g. `name: backup`",
        );
    }
    match raw.run.first() {
        None => issues.push(
            &path.key("run"),
            "empty argument vector",
            "give the program and its arguments, e.g. `run: [pg_dump, --file, backup.sql]`",
        ),
        Some(program) if program.trim().is_empty() => issues.push(
            &path.key("run").index(0),
            "empty program name",
            "name the program to run first, e.g. `run: [npm, run, test:smoke]`",
        ),
        Some(program) if program.contains(' ') && raw.run.len() == 1 => issues.push(
            &path.key("run").index(0),
            format!("`{program}` is one argument: steps never run a shell"),
            "split it into the program and its arguments, e.g. `run: [npm, run, test:smoke]`",
        ),
        Some(_) => {}
    }
    for (i, argument) in raw.run.iter().enumerate() {
        check_template(argument, hook, false, &path.key("run").index(i), issues);
    }
    let mut env = BTreeMap::new();
    for (name, value) in raw.env.iter().flat_map(|m| m.iter()) {
        let here = path.key("env").key(name);
        let valid_name = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            issues.push(
                &here,
                format!("`{name}` is not an environment variable name"),
                "use letters, digits and `_`, not starting with a digit",
            );
        }
        check_template(value, hook, true, &here, issues);
        env.insert(name.clone(), value.clone());
    }
    let timeout = match &raw.timeout {
        Some(text) => {
            let value = parse_duration(&text.0, &path.key("timeout"), issues);
            if value.is_zero() {
                issues.push(
                    &path.key("timeout"),
                    "must be more than 0",
                    "use a positive duration, e.g. `10m`",
                );
            }
            value
        }
        None => duration::parse(STEP_TIMEOUT).unwrap_or_default(),
    };
    if let Some(dir) = &raw.working_directory {
        if dir.trim().is_empty() {
            issues.push(
                &path.key("working_directory"),
                "empty path",
                "name a directory of the repository, or remove the key",
            );
        }
    }
    StepCommand {
        name: raw.name.trim().to_owned(),
        run: raw.run.clone(),
        env,
        timeout,
        working_directory: raw.working_directory.clone(),
    }
}

/// Every `${...}` in a step's argument (or `env` value, where `${env.NAME}` is allowed too) must
/// be a placeholder known when the hook runs.
fn check_template(text: &str, hook: Hook, env_value: bool, path: &YamlPath, issues: &mut Issues) {
    let names = match placeholder::names(text) {
        Ok(names) => names,
        Err(unclosed) => {
            issues.push(
                path,
                format!("unclosed placeholder `{unclosed}`"),
                "close it with `}`, e.g. `${sha}`",
            );
            return;
        }
    };
    let known: Vec<&str> = STEP_PLACEHOLDERS.iter().map(|(n, _)| *n).collect();
    for name in names {
        if env_value {
            if let Some(variable) = name.strip_prefix("env.") {
                if variable.is_empty()
                    || !variable
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    issues.push(
                        path,
                        format!("`${{{name}}}` does not name an environment variable"),
                        "write `${env.NAME}`, e.g. `${env.DATABASE_URL}`",
                    );
                }
                continue;
            }
        }
        if !known.contains(&name.as_str()) {
            let also = if env_value {
                ", and `${env.NAME}` for a variable of shipgate's environment"
            } else if name.starts_with("env.") {
                "; `${env.NAME}` is allowed in `env:` values only (a secret never goes on a command line)"
            } else {
                ""
            };
            issues.push(
                path,
                format!("unknown variable `${{{name}}}`"),
                format!("{}{also}", suggest("the placeholders are", &name, &known)),
            );
        } else if name == "version" && hook == Hook::BeforeDeploy {
            issues.push(
                path,
                "`${version}` is not known before the deploy: fly has not made the release yet",
                "use `${previous_version}` (the release running now), or move the step to `after_deploy`",
            );
        }
    }
}

pub(super) fn watch_policy(
    raw: Option<&RawWatch>,
    path: &YamlPath,
    has_url: bool,
    issues: &mut Issues,
) -> Option<WatchPolicy> {
    let raw = raw?;
    let duration = parse_duration(&raw.duration.0, &path.key("duration"), issues);
    let interval = match &raw.interval {
        Some(text) => parse_duration(&text.0, &path.key("interval"), issues),
        None => Duration::from_secs(60),
    };
    if interval < Duration::from_secs(1) {
        issues.push(
            &path.key("interval"),
            "the interval must be at least 1s",
            "measure every `30s` or `1m`: metrics sources aggregate over seconds, not less",
        );
    }
    if duration < interval {
        issues.push(
            &path.key("duration"),
            format!(
                "the watch ({}) is shorter than one interval ({})",
                duration::Human(duration),
                duration::Human(interval)
            ),
            "watch for at least one interval, e.g. `duration: 15m` with `interval: 1m`",
        );
    }
    let emergency_duration = raw.emergency_duration.as_ref().map(|text| {
        let value = parse_duration(&text.0, &path.key("emergency_duration"), issues);
        if value < interval {
            issues.push(
                &path.key("emergency_duration"),
                "shorter than one interval",
                "watch an emergency deploy at least as long as one interval, e.g. `2h`",
            );
        }
        value
    });
    let source = match raw.source.as_deref() {
        None | Some("prometheus") => Source::Prometheus,
        Some("scrape") => Source::Scrape,
        Some(other) => {
            issues.push(
                &path.key("source"),
                format!("unknown source `{other}`"),
                suggest("use one of", other, &["prometheus", "scrape"]),
            );
            Source::Prometheus
        }
    };
    let prometheus = {
        let default = PrometheusSource::default();
        let raw = raw.prometheus.as_ref();
        let env_name = |value: Option<&String>, key: &str, default: String, issues: &mut Issues| {
            let Some(value) = value else { return default };
            if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                issues.push(
                    &path.key("prometheus").key(key),
                    format!("`{value}` is not an environment variable name"),
                    "name the variable that holds it, e.g. `PROMETHEUS_URL`; never the value itself",
                );
            }
            value.clone()
        };
        PrometheusSource {
            url_env: env_name(
                raw.and_then(|r| r.url_env.as_ref()),
                "url_env",
                default.url_env,
                issues,
            ),
            auth_env: env_name(
                raw.and_then(|r| r.auth_env.as_ref()),
                "auth_env",
                default.auth_env,
                issues,
            ),
        }
    };
    let scrape = {
        let default = ScrapeSource::default();
        let raw = raw.scrape.as_ref();
        let pick = |value: Option<&String>, default: String| value.cloned().unwrap_or(default);
        let scrape = ScrapeSource {
            path: pick(raw.and_then(|r| r.path.as_ref()), default.path),
            requests: pick(raw.and_then(|r| r.requests.as_ref()), default.requests),
            status_label: pick(
                raw.and_then(|r| r.status_label.as_ref()),
                default.status_label,
            ),
            duration: pick(raw.and_then(|r| r.duration.as_ref()), default.duration),
        };
        if !scrape.path.starts_with('/') {
            issues.push(
                &path.key("scrape").key("path"),
                format!("`{}` must start with `/`", scrape.path),
                "write it relative to the environment's url, e.g. `/metrics`",
            );
        }
        for (key, name) in [
            ("requests", &scrape.requests),
            ("status_label", &scrape.status_label),
            ("duration", &scrape.duration),
        ] {
            if !metric_name(name) {
                issues.push(
                    &path.key("scrape").key(key),
                    format!("`{name}` is not a metric or label name"),
                    "use letters, digits, `_` and `:`, not starting with a digit",
                );
            }
        }
        scrape
    };
    if raw.rules.is_empty() {
        issues.push(
            &path.key("rules"),
            "the watch has no rules",
            "add one, e.g. `- error_rate: {max: 1%}`, or remove `watch`",
        );
    }
    if raw.rules.len() > MAX_ITEMS {
        issues.push(
            &path.key("rules"),
            format!("{} rules; at most {MAX_ITEMS} are allowed", raw.rules.len()),
            "watch the few numbers that decide a rollback",
        );
    }
    let mut names = BTreeSet::new();
    let rules: Vec<Rule> = raw
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| {
            let at = path.key("rules").index(i);
            let rule = rule_of(rule, source, &scrape, &at, issues)?;
            if !names.insert(rule.name.clone()) {
                issues.push(
                    &at,
                    format!("two rules named `{}`", rule.name),
                    "give each rule its own `name:`",
                );
            }
            Some(rule)
        })
        .collect();
    if !has_url && rules.iter().any(|r| matches!(r.metric, Metric::Scrape(_))) {
        issues.push(
            &path.key("rules"),
            "`scrape` rules read the app's metrics endpoint, but the environment has no `url`",
            "add `url: https://<app>.fly.dev` to the environment, or use `source: prometheus`",
        );
    }
    Some(WatchPolicy {
        duration,
        emergency_duration,
        interval,
        failure_limit: raw.failure_limit.unwrap_or(0),
        inconclusive_limit: raw.inconclusive_limit,
        consecutive_error_limit: raw.consecutive_error_limit.unwrap_or(4),
        prometheus,
        scrape,
        rules,
    })
}

#[derive(Clone, Copy)]
enum Source {
    Prometheus,
    Scrape,
}

fn rule_of(
    raw: &RawRule,
    source: Source,
    scrape: &ScrapeSource,
    path: &YamlPath,
    issues: &mut Issues,
) -> Option<Rule> {
    let given: Vec<&str> = [
        ("error_rate", raw.error_rate.is_some()),
        ("p95", raw.p95.is_some()),
        ("prometheus", raw.prometheus.is_some()),
        ("scrape", raw.scrape.is_some()),
        ("logs", raw.logs.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    let kind = match given.as_slice() {
        [one] => *one,
        [] => {
            issues.push(
                path,
                "the rule names no metric",
                "give it one of `error_rate`, `p95`, `prometheus`, `scrape` or `logs`",
            );
            return None;
        }
        many => {
            issues.push(
                path,
                format!("the rule names {} metrics: {}", many.len(), many.join(", ")),
                "one metric per rule: split it into several rules",
            );
            return None;
        }
    };
    let shortcut = |raw: &RawShortcut, unit: Unit, key: &str, issues: &mut Issues| {
        threshold(&raw.max.0, false, &path.key(key).key("max"), issues).inspect(|max| {
            if max.unit != unit {
                issues.push(
                    &path.key(key).key("max"),
                    format!("`{}` is not {}", max.text, unit_name(unit)),
                    match unit {
                        Unit::Ratio => "write the error rate as a percentage, e.g. `1%`",
                        _ => "write the latency with its unit, e.g. `2s` or `500ms`",
                    },
                );
            }
        })
    };
    let (default_name, metric, condition) = match kind {
        "error_rate" => {
            let max = shortcut(raw.error_rate.as_ref()?, Unit::Ratio, "error_rate", issues)?;
            let metric = match source {
                Source::Prometheus => Metric::Prometheus {
                    query: FLY_ERROR_RATE.to_owned(),
                },
                Source::Scrape => Metric::Scrape(ScrapeQuery::Ratio {
                    numerator: Selector {
                        name: scrape.requests.clone(),
                        labels: vec![LabelMatcher {
                            label: scrape.status_label.clone(),
                            op: MatchOp::Re,
                            value: "5..".to_owned(),
                        }],
                    },
                    denominator: Selector {
                        name: scrape.requests.clone(),
                        labels: Vec::new(),
                    },
                }),
            };
            (
                "error_rate",
                metric,
                Condition {
                    max: Some(max),
                    min: None,
                },
            )
        }
        "p95" => {
            let max = shortcut(raw.p95.as_ref()?, Unit::Seconds, "p95", issues)?;
            let metric = match source {
                Source::Prometheus => Metric::Prometheus {
                    query: FLY_P95.to_owned(),
                },
                Source::Scrape => Metric::Scrape(ScrapeQuery::Quantile {
                    histogram: Selector {
                        name: scrape.duration.clone(),
                        labels: Vec::new(),
                    },
                    quantile: 0.95,
                }),
            };
            (
                "p95",
                metric,
                Condition {
                    max: Some(max),
                    min: None,
                },
            )
        }
        "prometheus" => {
            let query = raw.prometheus.clone()?;
            check_query_template(&query, &path.key("prometheus"), issues);
            (
                "prometheus",
                Metric::Prometheus { query },
                condition(raw, false, path, issues)?,
            )
        }
        "scrape" => {
            let query = scrape_query(raw.scrape.as_ref()?, &path.key("scrape"), issues)?;
            (
                "scrape",
                Metric::Scrape(query),
                condition(raw, false, path, issues)?,
            )
        }
        _ => {
            let pattern = raw.logs.clone()?;
            if let Err(error) = regex::Regex::new(&pattern) {
                issues.push(
                    &path.key("logs"),
                    format!("bad regex: {}", one_line(&error.to_string())),
                    "write a regular expression (Rust's `regex` syntax), e.g. `(?i)\\berror\\b`",
                );
            }
            let condition = condition(raw, true, path, issues)?;
            if condition
                .max
                .as_ref()
                .is_some_and(|m| m.unit != Unit::Count)
                || condition.min.is_some()
            {
                issues.push(
                    path,
                    "a log rule counts lines: only `max:` with a count applies",
                    "write `max: 0` to allow no matching line",
                );
            }
            ("logs", Metric::Logs { pattern }, condition)
        }
    };
    let shortcut_with_bounds =
        matches!(kind, "error_rate" | "p95") && (raw.max.is_some() || raw.min.is_some());
    if shortcut_with_bounds {
        issues.push(
            path,
            format!("`{kind}` carries its own `max`"),
            format!("write `{kind}: {{max: ...}}` and remove the rule's `max`/`min`"),
        );
    }
    let name = match &raw.name {
        Some(name) if name.trim().is_empty() => {
            issues.push(
                &path.key("name"),
                "empty rule name",
                "name the rule, or remove `name`",
            );
            default_name.to_owned()
        }
        Some(name) => name.trim().to_owned(),
        None if matches!(kind, "error_rate" | "p95") => default_name.to_owned(),
        None => {
            issues.push(
                path,
                format!("a `{kind}` rule needs a `name`"),
                "name it for the report, e.g. `name: checkout errors`",
            );
            default_name.to_owned()
        }
    };
    Some(Rule {
        name,
        metric,
        condition,
    })
}

fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Ratio => "a percentage",
        Unit::Seconds => "a duration",
        Unit::PerSecond => "a rate",
        Unit::Count => "a count",
    }
}

fn condition(raw: &RawRule, logs: bool, path: &YamlPath, issues: &mut Issues) -> Option<Condition> {
    let max = raw
        .max
        .as_ref()
        .and_then(|t| threshold(&t.0, logs, &path.key("max"), issues));
    let min = raw
        .min
        .as_ref()
        .and_then(|t| threshold(&t.0, logs, &path.key("min"), issues));
    if raw.max.is_none() && raw.min.is_none() {
        issues.push(
            path,
            "the rule has no condition",
            "add `max:` (or `min:`), e.g. `max: 1%`, `max: 2s`, `max: 0.5/s`",
        );
        return None;
    }
    if let (Some(max), Some(min)) = (&max, &min) {
        if max.unit != min.unit || min.value > max.value {
            issues.push(
                path,
                format!(
                    "`min: {}` and `max: {}` leave no value that passes",
                    min.text, max.text
                ),
                "use the same unit for both, with `min` under `max`",
            );
        }
    }
    if (raw.max.is_some() && max.is_none()) || (raw.min.is_some() && min.is_none()) {
        return None;
    }
    Some(Condition { max, min })
}

/// `1%`, `0.5 %`, `2s`, `250ms`, `1m`, `0.5/s`, `30/m`, `100 count`; a bare number only where
/// the unit is a count (a log rule).
pub fn parse_threshold(text: &str, bare_is_count: bool) -> Result<Threshold, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    if !number.is_finite() || number < 0.0 {
        return Err(format!("`{text}` must be a number of 0 or more"));
    }
    let (value, unit) = match unit.trim() {
        "%" => (number / 100.0, Unit::Ratio),
        "ms" => (number / 1000.0, Unit::Seconds),
        "s" => (number, Unit::Seconds),
        "m" => (number * 60.0, Unit::Seconds),
        "/s" => (number, Unit::PerSecond),
        "/m" => (number / 60.0, Unit::PerSecond),
        "count" => (number, Unit::Count),
        "" if bare_is_count => (number, Unit::Count),
        "" => return Err(format!("`{text}` has no unit")),
        other => return Err(format!("unknown unit `{other}` in `{text}`")),
    };
    Ok(Threshold {
        value,
        unit,
        text: trimmed.to_owned(),
    })
}

fn threshold(
    text: &str,
    bare_is_count: bool,
    path: &YamlPath,
    issues: &mut Issues,
) -> Option<Threshold> {
    parse_threshold(text, bare_is_count)
        .map_err(|message| {
            issues.push(
                path,
                message,
                "write the unit: `1%` for a ratio, `2s` or `250ms` for a latency, `0.5/s` for a rate, `100 count` for a plain number",
            )
        })
        .ok()
}

fn check_query_template(query: &str, path: &YamlPath, issues: &mut Issues) {
    if query.trim().is_empty() {
        issues.push(
            path,
            "empty query",
            "write a PromQL query, e.g. `sum(rate(errors_total{app=\"${app}\"}[${interval}]))`",
        );
        return;
    }
    let known: Vec<&str> = QUERY_PLACEHOLDERS.iter().map(|(n, _)| *n).collect();
    match placeholder::names(query) {
        Err(unclosed) => issues.push(
            path,
            format!("unclosed placeholder `{unclosed}`"),
            "close it with `}`, e.g. `${app}`",
        ),
        Ok(names) => {
            for name in names.iter().filter(|n| !known.contains(&n.as_str())) {
                issues.push(
                    path,
                    format!("unknown variable `${{{name}}}` in the query"),
                    suggest("a query may name", name, &known),
                );
            }
        }
    }
}

fn scrape_query(raw: &RawScrapeQuery, path: &YamlPath, issues: &mut Issues) -> Option<ScrapeQuery> {
    let given = [
        raw.rate.is_some(),
        raw.ratio.is_some(),
        raw.quantile.is_some(),
        raw.gauge.is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count();
    if given != 1 {
        issues.push(
            path,
            "a scrape rule computes exactly one of `rate`, `ratio`, `quantile`, `gauge`",
            "e.g. `scrape: {rate: 'jobs_failed_total'}`",
        );
        return None;
    }
    let selector = |text: &str, key: &str, issues: &mut Issues| {
        parse_selector(text)
            .map_err(|message| {
                issues.push(
                    &path.key(key),
                    message,
                    "write a metric name with optional matchers, e.g. `http_requests_total{status=~\"5..\"}`",
                )
            })
            .ok()
    };
    if let Some(text) = &raw.rate {
        return Some(ScrapeQuery::Rate {
            counter: selector(text, "rate", issues)?,
        });
    }
    if let Some(ratio) = &raw.ratio {
        let numerator = selector(&ratio.of, "ratio", issues);
        let denominator = selector(&ratio.over, "ratio", issues);
        return Some(ScrapeQuery::Ratio {
            numerator: numerator?,
            denominator: denominator?,
        });
    }
    if let Some(quantile) = &raw.quantile {
        if !(quantile.q > 0.0 && quantile.q < 1.0) {
            issues.push(
                &path.key("quantile").key("q"),
                format!("{} is not a quantile", quantile.q),
                "use a number between 0 and 1, e.g. `0.95`",
            );
            return None;
        }
        return Some(ScrapeQuery::Quantile {
            histogram: selector(&quantile.histogram, "quantile", issues)?,
            quantile: quantile.q,
        });
    }
    let gauge = raw.gauge.as_deref()?;
    Some(ScrapeQuery::Gauge {
        gauge: selector(gauge, "gauge", issues)?,
    })
}

fn metric_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name{label="v",other=~"re"}` as PromQL writes a selector (no offset, no range).
pub fn parse_selector(text: &str) -> Result<Selector, String> {
    let text = text.trim();
    let (name, rest) = match text.find('{') {
        Some(at) => (&text[..at], Some(&text[at..])),
        None => (text, None),
    };
    let name = name.trim();
    if !metric_name(name) {
        return Err(format!("`{name}` is not a metric name"));
    }
    let mut labels = Vec::new();
    if let Some(rest) = rest {
        let inner = rest
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .ok_or_else(|| format!("`{text}`: the matchers must end with `}}`"))?;
        let mut chars = inner.trim();
        while !chars.is_empty() {
            let op_at = chars
                .find(['=', '!'])
                .ok_or_else(|| format!("`{text}`: a matcher needs `=`, `!=`, `=~` or `!~`"))?;
            let label = chars[..op_at].trim();
            if !metric_name(label) || label.contains(':') {
                return Err(format!("`{label}` is not a label name"));
            }
            let after = &chars[op_at..];
            let (op, after) = if let Some(a) = after.strip_prefix("=~") {
                (MatchOp::Re, a)
            } else if let Some(a) = after.strip_prefix("!~") {
                (MatchOp::NotRe, a)
            } else if let Some(a) = after.strip_prefix("!=") {
                (MatchOp::Ne, a)
            } else if let Some(a) = after.strip_prefix('=') {
                (MatchOp::Eq, a)
            } else {
                return Err(format!("`{text}`: unknown matcher operator"));
            };
            let after = after.trim_start();
            let quote = after
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')
                .ok_or_else(|| format!("`{text}`: a label value must be quoted"))?;
            let body = &after[1..];
            let end = body
                .find(quote)
                .ok_or_else(|| format!("`{text}`: unclosed label value"))?;
            let value = body[..end].to_owned();
            if matches!(op, MatchOp::Re | MatchOp::NotRe) {
                regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("bad regex `{value}`: {}", one_line(&e.to_string())))?;
            }
            labels.push(LabelMatcher {
                label: label.to_owned(),
                op,
                value,
            });
            chars = body[end + 1..].trim_start();
            chars = chars.strip_prefix(',').unwrap_or(chars).trim_start();
        }
    }
    Ok(Selector {
        name: name.to_owned(),
        labels,
    })
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_need_their_unit() {
        let cases = [
            ("1%", 0.01, Unit::Ratio),
            ("0.5 %", 0.005, Unit::Ratio),
            ("2s", 2.0, Unit::Seconds),
            ("250ms", 0.25, Unit::Seconds),
            ("1m", 60.0, Unit::Seconds),
            ("0.5/s", 0.5, Unit::PerSecond),
            ("30/m", 0.5, Unit::PerSecond),
            ("100 count", 100.0, Unit::Count),
        ];
        for (text, value, unit) in cases {
            let t = parse_threshold(text, false).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!((t.value - value).abs() < 1e-9, "{text}: {}", t.value);
            assert_eq!(t.unit, unit, "{text}");
        }
        assert!(parse_threshold("5", false)
            .expect_err("no unit")
            .contains("no unit"));
        assert_eq!(parse_threshold("5", true).map(|t| t.unit), Ok(Unit::Count));
        assert!(parse_threshold("5 parsecs", false).is_err());
        assert!(parse_threshold("-1%", false).is_err());
        assert!(parse_threshold("%", false).is_err());
    }

    #[test]
    fn selectors_parse_as_promql_writes_them() {
        let s =
            parse_selector(r#"http_requests_total{status=~"5..", method!="GET"}"#).expect("parses");
        assert_eq!(s.name, "http_requests_total");
        assert_eq!(s.labels.len(), 2);
        assert_eq!(s.labels[0].op, MatchOp::Re);
        assert_eq!(s.labels[1].op, MatchOp::Ne);
        assert_eq!(s.labels[1].value, "GET");
        assert_eq!(
            s.to_string(),
            r#"http_requests_total{status=~"5..",method!="GET"}"#
        );
        assert!(parse_selector("queue_depth").is_ok_and(|s| s.labels.is_empty()));
        for bad in [
            "",
            "9lives",
            "x{a=b}",
            "x{a=\"b\"",
            "x{a=~\"(\"}",
            "x{=\"b\"}",
        ] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
    }
}
