//! The health gate's measurements: rounds of endpoint probes (and Fly machine state) until the
//! gate decides or the deadline passes; and the `health` command, which measures the live app and
//! asks the gate. The probe edge measures, Fly reports machine state, `gate::health` decides.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Context, RunError};
use crate::config::duration::Human;
use crate::config::{Endpoint, Environment, HealthPolicy};
use crate::decision::Decision;
use crate::facts::health::{self as measured, Expected, Round};
use crate::facts::{Facts, HealthFacts};
use crate::fly::Fly;
use crate::gate::{health, machines as counted, Policy, Request};
use crate::probe::Prober;
use crate::report::Reporter;

/// The policy for `--url` alone: that exact URL must answer 200, three times in a row, 2 s apart.
fn url_policy(url: &url::Url) -> HealthPolicy {
    HealthPolicy {
        initial_delay: Duration::ZERO,
        interval: Duration::from_secs(2),
        deadline: Duration::from_secs(60),
        consecutive_successes: 3,
        failure_limit: 0,
        consecutive_error_limit: 4,
        request_timeout: Duration::from_secs(5),
        p95_latency: None,
        machines: false,
        tls_min_days: None,
        headers: Vec::new(),
        endpoints: vec![Endpoint {
            path: match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            },
            status: vec![200],
            json: Default::default(),
            fallback: None,
            prometheus: false,
        }],
    }
}

/// Where an environment's health endpoints are probed: its `url`. With no endpoints (machine
/// state only) nothing is probed, and a placeholder stands in; endpoints without a `url` are an
/// error (config validation refuses them; this keeps the edge honest all the same).
pub fn environment_base(env: &Environment) -> Result<url::Url, String> {
    match &env.url {
        Some(url) => Ok(url.clone()),
        None if env.health.endpoints.is_empty() => {
            url::Url::parse("http://127.0.0.1/").map_err(|e| e.to_string())
        }
        None => Err(format!(
            "environment `{}` has health endpoints but no `url`",
            env.name
        )),
    }
}

/// Where a round reads Fly machine state: the fly binary, the app, and the release the deploy
/// made when known (else the gate counts the highest release among the serving machines).
#[derive(Debug, Clone, Copy)]
pub struct MachineSource<'a> {
    pub fly: &'a Fly,
    pub app: &'a str,
    pub release: Option<u64>,
}

/// What `health` measures, settled before any async work (finding fly reads the file system).
pub struct Measure {
    policy: HealthPolicy,
    base: url::Url,
    fly: Option<Fly>,
}

pub fn prepare(
    context: &Context<'_>,
    env: Option<&Environment>,
    url: Option<&url::Url>,
) -> Result<Measure, RunError> {
    let (policy, base) = match (env, url) {
        (Some(env), Some(url)) => (env.health.clone(), url.clone()),
        (Some(env), None) => (
            env.health.clone(),
            environment_base(env).map_err(|message| {
                RunError::input(message, "add `url:` to the environment, or pass --url")
            })?,
        ),
        (None, Some(url)) => {
            let mut base = url.clone();
            base.set_path("/");
            base.set_query(None);
            (url_policy(url), base)
        }
        (None, None) => {
            return Err(RunError::input(
                "nothing to probe",
                "pass --environment ENV or --url URL",
            ))
        }
    };
    // Machine state is read with flyctl and a token: without either, say so now (no round could
    // read it, and a gate that cannot count machines must not pass or time out in silence).
    let fly = match (policy.machines, env) {
        (true, Some(env)) => {
            let fly = Fly::locate(context.ambient.fly_override.as_deref()).map_err(|error| {
                RunError::Input {
                    message: format!(
                        "environment `{}` counts Fly machines (`health.machines: true`), but {error}",
                        env.name
                    ),
                    hints: vec![
                        "install flyctl (https://fly.io/docs/flyctl/install/) or set SHIPGATE_FLY to its path".to_owned(),
                        "or probe the endpoints alone: `--url URL`".to_owned(),
                    ],
                }
            })?;
            if context.ambient.fly_token.is_none() {
                return Err(RunError::Input {
                    message: format!(
                        "environment `{}` counts Fly machines (`health.machines: true`), but FLY_API_TOKEN is not set: fly cannot read them",
                        env.name
                    ),
                    hints: vec![
                        "set FLY_API_TOKEN from a secret (a deploy token: `fly tokens create deploy`)".to_owned(),
                        "or probe the endpoints alone: `--url URL`".to_owned(),
                    ],
                });
            }
            Some(
                fly.with_token(context.ambient.fly_token.clone())
                    .with_masked(context.ambient.other_secrets()),
            )
        }
        _ => None,
    };
    Ok(Measure { policy, base, fly })
}

/// `health`: the health gate alone, against the live app.
pub async fn health(
    context: &Context<'_>,
    env: Option<&Environment>,
    measure: Measure,
) -> Result<Decision, RunError> {
    let Measure { policy, base, fly } = measure;
    let prober = Prober::new(policy.request_timeout).map_err(|e| RunError::Unavailable {
        message: e.to_string(),
        hints: Vec::new(),
    })?;
    let machines = match (&fly, env) {
        (Some(fly), Some(env)) => Some(MachineSource {
            fly,
            app: env.app.as_str(),
            release: None,
        }),
        _ => None,
    };
    let now = context.clock.now();
    // Nothing was deployed here: an expectation naming `${sha}`, `${version}` or `${image}` fails,
    // saying the value is not known.
    let rounds = run_rounds(
        context.reporter,
        &prober,
        &base,
        &policy,
        machines,
        &Expected::nothing(),
        now,
    )
    .await;
    let facts = Facts {
        health: HealthFacts::Rounds(rounds),
        ..Facts::nothing_gathered(
            context.clock.now(),
            super::gather::subject(None, env, None, None),
            "not gathered by this command",
        )
    };
    Ok(super::decide::decide(
        "health",
        &facts,
        &Policy::health_only(&policy),
        &Request::of(super::decide::gates_of("health")),
    ))
}

/// Rounds on a fixed schedule (every `interval` after `initial_delay`) until the gate decides or
/// the deadline passes: the probes, and Fly machine state (counted by `gate::machines`) when
/// `machines` says where to read it. `expected` is what the run deployed, for the placeholders of
/// the endpoints' JSON expectations. `now` is the run's clock reading, for the gate's certificate
/// days.
pub async fn run_rounds(
    reporter: &dyn Reporter,
    prober: &Prober,
    base: &url::Url,
    policy: &HealthPolicy,
    machines: Option<MachineSource<'_>>,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Vec<Round> {
    let started = tokio::time::Instant::now();
    if !policy.initial_delay.is_zero() {
        reporter.progress(&format!(
            "health: first round in {} (initial_delay), then every {} for up to {}",
            Human(policy.initial_delay),
            Human(policy.interval),
            Human(policy.deadline)
        ));
    }
    tokio::time::sleep(policy.initial_delay).await;
    let mut rounds: Vec<Round> = Vec::new();
    loop {
        let round_started = tokio::time::Instant::now();
        let offset = started.elapsed();
        let mut round = prober.round(base, policy, expected, offset).await;
        if let (true, Some(source)) = (policy.machines, machines) {
            round.machines = match source
                .fly
                .machines(
                    source.app,
                    policy.request_timeout.max(Duration::from_secs(30)),
                )
                .await
            {
                Ok(machines) => Some(counted::count(&machines, source.release)),
                Err(error) => {
                    tracing::warn!(%error, "could not read machine state");
                    None
                }
            };
        }
        reporter.progress(&progress(&round, rounds.len() + 1, &policy.endpoints));
        rounds.push(round);
        if health::decided(policy, &rounds, now) || started.elapsed() >= policy.deadline {
            return rounds;
        }
        tokio::time::sleep_until(round_started + policy.interval).await;
    }
}

/// `health round 2: /health ok 41ms, /metrics ok 12ms`; when a fallback answered, both paths:
/// `/health 404 -> / ok 12ms`.
fn progress(round: &Round, number: usize, endpoints: &[Endpoint]) -> String {
    let parts: Vec<String> = round
        .samples
        .iter()
        .map(|sample| {
            let path = sample.label(endpoints);
            let latency = sample
                .latency
                .map(|l| format!(" {}ms", l.as_millis()))
                .unwrap_or_default();
            match &sample.outcome {
                measured::Outcome::Success => format!("{path} ok{latency}"),
                measured::Outcome::Failure { reason } => format!("{path} {reason}{latency}"),
                measured::Outcome::Error { reason } => format!("{path} {reason}"),
            }
        })
        .collect();
    format!("health round {number}: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Fallback;
    use crate::facts::health::{Outcome, Sample, Tls, Via};

    fn sample(endpoint: &str, via: Via, outcome: Outcome, ms: Option<u64>) -> Sample {
        Sample {
            endpoint: endpoint.to_owned(),
            via,
            outcome,
            latency: ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn the_round_log_names_the_fallback_that_answered() {
        let health = Endpoint {
            fallback: Some(Fallback {
                path: "/".to_owned(),
                status: vec![200, 302],
                when: vec![404, 405],
            }),
            ..url_policy(&url::Url::parse("http://a.test/health").expect("URL")).endpoints[0]
                .clone()
        };
        let metrics = Endpoint {
            path: "/metrics".to_owned(),
            fallback: None,
            ..health.clone()
        };
        let round = |samples| Round {
            offset: Duration::ZERO,
            samples,
            machines: None,
            tls: Tls::Plain,
        };
        let endpoints = [health, metrics];
        let fallback = Via::Fallback { status: 404 };
        let cases = [
            (
                vec![
                    sample("/health", Via::Endpoint, Outcome::Success, Some(41)),
                    sample("/metrics", Via::Endpoint, Outcome::Success, Some(12)),
                ],
                "health round 2: /health ok 41ms, /metrics ok 12ms",
            ),
            (
                vec![sample("/health", fallback, Outcome::Success, Some(12))],
                "health round 2: /health 404 -> / ok 12ms",
            ),
            (
                vec![sample(
                    "/health",
                    fallback,
                    Outcome::Failure {
                        reason: "answered 500".to_owned(),
                    },
                    Some(7),
                )],
                "health round 2: /health 404 -> / answered 500 7ms",
            ),
            (
                vec![sample(
                    "/health",
                    Via::Endpoint,
                    Outcome::Error {
                        reason: "timed out after 5s".to_owned(),
                    },
                    None,
                )],
                "health round 2: /health timed out after 5s",
            ),
        ];
        for (samples, want) in cases {
            assert_eq!(progress(&round(samples), 2, &endpoints), want);
        }
    }
}
