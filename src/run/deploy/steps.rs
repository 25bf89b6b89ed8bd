//! The steps of a deploy and of a rollback, each a function with a typed result: find fly, record
//! the running release, run `fly deploy`, measure the health of what it put in place. Every step
//! is timed and told through the reporter.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::super::cancel::Signals;
use super::super::health::{environment_base, run_rounds, MachineSource};
use super::super::RunError;
use crate::config::{Environment, Strategy};
use crate::decision::{Decision, GateId, ReleaseRef, Report, RoundMark, Status, Step, Verdict};
use crate::env::Ambient;
use crate::facts::fly::Release;
use crate::facts::health::Expected;
use crate::facts::{Facts, HealthFacts};
use crate::fly::{Fly, FlyError};
use crate::gate::{self, health, machines as counted, Policy, Request};
use crate::probe::Prober;
use crate::report::Reporter;

pub use super::super::progress::{command_line, ms, Steps, FLY_READ_TIMEOUT};

pub fn release_ref(release: &Release) -> ReleaseRef {
    ReleaseRef {
        version: release.version,
        image: release.image_ref.clone(),
    }
}

pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// fly, found before anything changes; a deploy needs its token too.
pub fn locate_fly(ambient: &Ambient, need_token: bool) -> Result<Fly, RunError> {
    let fly = Fly::locate(ambient.fly_override.as_deref()).map_err(|error| {
        RunError::input(
            error.to_string(),
            "install flyctl, or set SHIPGATE_FLY to its path",
        )
    })?;
    if need_token && ambient.fly_token.is_none() {
        return Err(RunError::input(
            "no FLY_API_TOKEN: fly cannot deploy",
            "set FLY_API_TOKEN (a deploy token: `fly tokens create deploy`) from a secret",
        ));
    }
    Ok(fly
        .with_token(ambient.fly_token.clone())
        .with_masked(ambient.other_secrets()))
}

pub fn fly_unavailable(what: &str, error: &FlyError) -> RunError {
    RunError::Unavailable {
        message: format!("{what}: {error}"),
        hints: vec!["nothing was deployed; run it again when Fly answers".to_owned()],
    }
}

/// `fly deploy ... --image IMAGE --strategy immediate`: the rollback redeploy.
pub fn rollback_args(program: &str, env: &Environment, image: &str) -> Vec<String> {
    crate::plan::fly_deploy_args_with(program, env, Some(image), Some(Strategy::Immediate))
}

/// What a rollback to `image` knows of the release it makes before fly reports it: the image.
/// Not the commit: an image does not say which commit it was built from, so an expectation
/// naming `${sha}` cannot pass on a rollback.
pub fn rollback_expected(image: &str) -> Expected {
    Expected {
        image: Some(image.to_owned()),
        ..Expected::nothing()
    }
}

/// What one `fly deploy` and the health gate after it came to.
pub struct Deployed {
    /// The release fly reported making (when it reported one), or why fly failed.
    pub release: Result<Option<ReleaseRef>, FlyError>,
    /// What the health gate measured.
    pub health: HealthFacts,
    /// The health gate's verdict on it.
    pub verdict: Verdict,
}

impl Deployed {
    pub fn healthy(&self) -> bool {
        self.release.is_ok() && self.verdict.status <= Status::Pass
    }
}

/// What runs `fly deploy` and measures its health: the reporter, fly, the environment, and the
/// signals that cancel both.
pub struct Deployer<'a> {
    pub reporter: &'a dyn Reporter,
    pub fly: &'a Fly,
    pub env: &'a Environment,
}

impl Deployer<'_> {
    /// `fly deploy`, timed, then the health gate on what it deployed (not run when fly failed).
    /// A signal stops fly (with its process group) or the health gate; `signals.which()` then
    /// says so.
    ///
    /// `expected` is what is known of the release before fly runs (the commit; the image it is
    /// told to deploy); the version and image fly reports making are added to it.
    pub async fn deploy_and_verify(
        &self,
        argv: &[String],
        steps: &mut Steps<'_>,
        what: &str,
        expected: Expected,
        now: DateTime<Utc>,
        signals: &mut Signals,
    ) -> Deployed {
        let started = Instant::now();
        let release = self.run_fly_deploy(argv, signals).await;
        let detail = match &release {
            Ok(Some(release)) => format!("{what} succeeded: {release}"),
            Ok(None) => format!("{what} succeeded"),
            Err(error) => format!("{what} failed: {error}"),
        };
        steps.done("fly deploy", started, detail);
        let (health, verdict) = match &release {
            Ok(emitted) => {
                let emitted = emitted.as_ref();
                let expected = Expected {
                    version: emitted.and_then(|r| r.version).or(expected.version),
                    image: emitted.and_then(|r| r.image.clone()).or(expected.image),
                    ..expected
                };
                self.verify_step(steps, &expected, now, signals).await
            }
            Err(FlyError::Cancelled { signal, .. }) => self.judged(
                HealthFacts::NotMeasured(format!("not run: shipgate received {signal}")),
                now,
            ),
            Err(error) => self.judged(HealthFacts::DeployFailed(error.to_string()), now),
        };
        Deployed {
            release,
            health,
            verdict,
        }
    }

    fn judged(&self, health: HealthFacts, now: DateTime<Utc>) -> (HealthFacts, Verdict) {
        let verdict = health::judge(&health, Some(&self.env.health), now);
        (health, verdict)
    }

    /// The `health` step: what is live now, measured and judged, unless a signal comes first;
    /// `expected` is what should be answering.
    pub async fn verify_step(
        &self,
        steps: &mut Steps<'_>,
        expected: &Expected,
        now: DateTime<Utc>,
        signals: &mut Signals,
    ) -> (HealthFacts, Verdict) {
        let started = Instant::now();
        let measured = tokio::select! {
            measured = verify(self.reporter, self.env, self.fly, expected, now) => measured,
            signal = signals.received() => {
                HealthFacts::NotMeasured(format!("not finished: shipgate received {signal}"))
            }
        };
        let (measured, verdict) = self.judged(measured, now);
        let rounds = match &measured {
            HealthFacts::Rounds(rounds) => rounds
                .iter()
                .map(|round| RoundMark {
                    offset_ms: ms(round.offset),
                    healthy: round.healthy(),
                })
                .collect(),
            _ => Vec::new(),
        };
        steps.record(Step {
            name: "health".to_owned(),
            duration_ms: ms(started.elapsed()),
            detail: format!("{}: {}", verdict.status.as_str(), verdict.summary),
            started_ms: None,
            rounds,
            command: None,
        });
        (measured, verdict)
    }

    /// Runs one `fly deploy`, its output streamed through the reporter.
    async fn run_fly_deploy(
        &self,
        argv: &[String],
        signals: &mut Signals,
    ) -> Result<Option<ReleaseRef>, FlyError> {
        let reporter = self.reporter;
        reporter.begin_output(&command_line(argv));
        let result = self
            .fly
            .deploy_until(
                argv,
                self.env.deploy_timeout,
                |line| reporter.output_line(&line.text),
                signals.received(),
            )
            .await;
        reporter.end_output();
        result.map(|output| {
            crate::fly::emitted_release(&output).map(|release| ReleaseRef {
                version: release.version,
                image: release.image_ref,
            })
        })
    }
}

/// The decision of a deploy or a rollback over `facts` as they now stand: the verdicts, the step
/// notes with the health verdict they explain, the steps in the report.
pub fn decision(
    command: &'static str,
    facts: &Facts,
    policy: &Policy<'_>,
    request: &Request,
    steps: &mut Steps<'_>,
    report: Report,
) -> Decision {
    let mut verdicts = gate::evaluate(facts, policy, request);
    if let Some(health) = verdicts.iter_mut().find(|v| v.gate == GateId::Health) {
        steps.annotate(health);
    }
    let report = Report {
        started_at: Some(steps.started_at),
        steps: std::mem::take(&mut steps.steps),
        ..report
    };
    Decision::new(
        command,
        facts.subject.clone(),
        facts.now,
        verdicts,
        Some(report),
    )
}

/// The health of what is live now: a deploy that fly reports as successful but that leaves zero
/// started serving machines of the release (counted as the health gate counts them) fails at
/// once; else rounds until the gate decides, the endpoints' JSON expectations filled from
/// `expected` (what should be answering; its version is the release whose machines count).
pub async fn verify(
    reporter: &dyn Reporter,
    env: &Environment,
    fly: &Fly,
    expected: &Expected,
    now: DateTime<Utc>,
) -> HealthFacts {
    match fly.machines(&env.app, FLY_READ_TIMEOUT).await {
        Ok(machines) => {
            let state = counted::count(&machines, expected.version);
            if state.started() == 0 {
                return HealthFacts::NoMachineStarted(state);
            }
        }
        Err(error) => tracing::warn!(%error, "could not read machine state"),
    }
    let policy = &env.health;
    if policy.endpoints.is_empty() && !policy.machines {
        return HealthFacts::NothingToMeasure;
    }
    let base = match environment_base(env) {
        Ok(base) => base,
        Err(message) => return HealthFacts::Unmeasurable(message),
    };
    let prober = match Prober::new(policy.request_timeout) {
        Ok(prober) => prober,
        Err(error) => {
            return HealthFacts::Unmeasurable(format!("cannot start the HTTP client: {error}"))
        }
    };
    let machines = Some(MachineSource {
        fly,
        app: env.app.as_str(),
        release: expected.version,
    });
    HealthFacts::Rounds(run_rounds(reporter, &prober, &base, policy, machines, expected, now).await)
}
