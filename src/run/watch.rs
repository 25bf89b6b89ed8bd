//! The post-deploy watch: every interval, each rule's metric is read through
//! [`crate::metrics::Meter`] (one request per rule, one scrape, one logs read), kept with the time
//! it was read, and the run stops as soon as a rule is past a limit (`gate::watch`). The verdict
//! is the gate's, over the readings kept here.

use std::time::Duration;

use tokio::time::Instant;

use super::cancel::Signals;
use super::progress::{ms, Steps, FLY_READ_TIMEOUT};
use super::{Clock, RunError};
use crate::config::{Environment, Metric, WatchPolicy};
use crate::facts::watch::{Measured, Reading, RuleSeries, WatchEnd, WatchFacts};
use crate::gate::watch as judged;
use crate::metrics::{Meter, Target};
use crate::secret::Secret;

/// Where the watch reads Prometheus, from the variables the config names; checked before the
/// deploy starts: a watch that cannot read its metrics must not let a deploy begin.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub prometheus_url: Option<url::Url>,
    pub prometheus_auth: Option<Secret>,
}

impl Sources {
    pub fn prepare(env: &Environment) -> Result<Sources, RunError> {
        let Some(policy) = &env.watch else {
            return Ok(Sources::default());
        };
        let needs_prometheus = policy
            .rules
            .iter()
            .any(|rule| matches!(rule.metric, Metric::Prometheus { .. }));
        if !needs_prometheus {
            return Ok(Sources::default());
        }
        let name = &policy.prometheus.url_env;
        let Some(text) = crate::env::named(name) else {
            return Err(RunError::input(
                format!(
                    "the watch of `{}` queries Prometheus, but {name} is not set",
                    env.name
                ),
                format!("set {name} to the Prometheus API's base URL (Fly's: https://api.fly.io/prometheus/<org>), or use `source: scrape`; nothing was deployed"),
            ));
        };
        let url = url::Url::parse(&text).map_err(|error| {
            RunError::input(
                format!("{name} is not a URL: {error}"),
                "set it to the API's base URL, e.g. https://api.fly.io/prometheus/my-org",
            )
        })?;
        Ok(Sources {
            prometheus_url: Some(url),
            prometheus_auth: crate::env::named(&policy.prometheus.auth_env).and_then(Secret::new),
        })
    }

    /// The secrets the watch holds, masked wherever shipgate writes.
    pub fn secrets(&self) -> Vec<Secret> {
        self.prometheus_auth.iter().cloned().collect()
    }
}

/// What a deploy put in place, for the watch: the environment, fly, the release fly reported, and
/// where the metrics are read.
pub struct Watched<'a> {
    pub env: &'a Environment,
    pub fly: &'a crate::fly::Fly,
    pub version: Option<u64>,
    pub sources: &'a Sources,
}

/// Watches the release a deploy made: `logs` rules count the lines of its machines only (read
/// once, here), every other source as configured.
pub async fn watch_release(
    policy: &WatchPolicy,
    duration: Duration,
    release: Watched<'_>,
    clock: &Clock,
    steps: &mut Steps<'_>,
    signals: &mut Signals,
) -> WatchFacts {
    let started = Instant::now();
    let Watched {
        env,
        fly,
        version,
        sources,
    } = release;
    let reads_logs = policy
        .rules
        .iter()
        .any(|rule| matches!(rule.metric, Metric::Logs { .. }));
    let machines = match (reads_logs, version) {
        (true, Some(version)) => fly
            .machines(&env.app, FLY_READ_TIMEOUT)
            .await
            .map(|all| {
                all.into_iter()
                    .filter(|m| m.release_version() == Some(version))
                    .map(|m| m.id)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let target = Target {
        app: &env.app,
        version,
        base_url: env.url.as_ref(),
        interval: policy.interval,
        fly: Some(fly),
        prometheus_url: sources.prometheus_url.clone(),
        prometheus_auth: sources.prometheus_auth.clone(),
        machines,
    };
    let facts = watch(policy, duration, target, clock, steps, signals).await;
    // A timed step of the report, as health and the after_deploy steps are: the watch is most of
    // a deploy's time.
    let verdict = judged::gate(&facts, Some(policy));
    steps.done("watch", started, verdict.summary);
    facts
}

/// Watches for `duration` (the policy's, or its emergency duration), stopping early when a rule
/// is past a limit or a signal arrives.
async fn watch(
    policy: &WatchPolicy,
    duration: Duration,
    target: Target<'_>,
    clock: &Clock,
    steps: &mut Steps<'_>,
    signals: &mut Signals,
) -> WatchFacts {
    let started = Instant::now();
    let mut series: Vec<RuleSeries> = policy
        .rules
        .iter()
        .map(|rule| RuleSeries {
            rule: rule.name.clone(),
            measured: Vec::new(),
        })
        .collect();
    let facts = |series: Vec<RuleSeries>, end: WatchEnd| WatchFacts::Watched {
        rules: series,
        planned_ms: ms(duration),
        elapsed_ms: ms(started.elapsed()),
        end,
    };
    let mut meter = match Meter::new(policy, target) {
        Ok(meter) => meter,
        Err(error) => {
            // Checked before the deploy; should it still fail here, every rule reads an error.
            let now = clock.now();
            for s in &mut series {
                s.measured.push(Measured {
                    at: now,
                    reading: Reading::Error {
                        why: error.to_string(),
                    },
                });
            }
            return facts(series, WatchEnd::Decided);
        }
    };
    steps.reporter().progress(&format!(
        "watching {} rule(s) every {} for {}",
        policy.rules.len(),
        crate::config::duration::Human(policy.interval),
        crate::config::duration::Human(duration)
    ));
    tokio::select! {
        () = meter.baseline() => {}
        signal = signals.received() => {
            return facts(series, WatchEnd::Cancelled { signal: signal.to_owned() });
        }
    }
    let rounds = (duration.as_millis() / policy.interval.as_millis().max(1)).max(1) as u32;
    for round in 1..=rounds {
        let due = started + policy.interval * round;
        let readings = tokio::select! {
            readings = async {
                tokio::time::sleep_until(due).await;
                meter.measure().await
            } => readings,
            signal = signals.received() => {
                return facts(series, WatchEnd::Cancelled { signal: signal.to_owned() });
            }
        };
        let at = clock.now();
        let mut shown = Vec::new();
        for ((rule, s), reading) in policy.rules.iter().zip(&mut series).zip(readings) {
            shown.push(format!(
                "{} {}",
                rule.name,
                match &reading {
                    Reading::Value { value } => format!(
                        "{} {}",
                        judged::show(rule, *value),
                        judged::classify(&reading, &rule.condition).as_str()
                    ),
                    Reading::NoData { why } => format!("no data ({why})"),
                    Reading::Error { why } => format!("error ({why})"),
                }
            ));
            s.measured.push(Measured { at, reading });
        }
        steps
            .reporter()
            .progress(&format!("watch {round}/{rounds}: {}", shown.join(", ")));
        if judged::failing(&series, policy).is_some() {
            return facts(series, WatchEnd::Decided);
        }
    }
    facts(series, WatchEnd::Completed)
}

/// `plan`, online: each `prometheus` query is asked once of the server (when its URL is set),
/// and one the server rejects is bad input (exit 2), before anything changes.
pub async fn check_queries(
    env: &Environment,
    policy: &WatchPolicy,
    reporter: &dyn crate::report::Reporter,
) -> Result<(), RunError> {
    let Ok(sources) = Sources::prepare(env) else {
        // No URL: nothing to ask; `deploy` refuses to start without one.
        return Ok(());
    };
    let Some(url) = &sources.prometheus_url else {
        return Ok(());
    };
    for rule in &policy.rules {
        let Metric::Prometheus { query } = &rule.metric else {
            continue;
        };
        // The release is not known before the deploy: any version reads the same way.
        let Ok(query) = crate::metrics::fill_query(query, &env.app, Some(0), policy.interval)
        else {
            continue;
        };
        match crate::metrics::check_query(url, sources.prometheus_auth.as_ref(), &query).await {
            Ok(()) => {}
            Err(crate::metrics::CheckError::Rejected(error)) => {
                return Err(RunError::input(
                    format!(
                        "the watch rule `{}` of `{}`: the Prometheus server rejects its query: {error}",
                        rule.name, env.name
                    ),
                    "fix the query (try it in the server's UI); nothing was deployed",
                ));
            }
            Err(crate::metrics::CheckError::Unavailable(error)) => reporter.warning(&format!(
                "could not ask Prometheus about the watch rule `{}`: {error}",
                rule.name
            )),
        }
    }
    Ok(())
}
