//! The steps of a deploy and of a rollback, each a function with a typed result: find fly, record
//! the running release, run `fly deploy`, measure the health of what it put in place. Every step
//! is timed and told through the reporter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::super::health::{environment_base, run_rounds, MachineSource};
use super::super::RunError;
use crate::config::Environment;
use crate::decision::{Decision, Evidence, GateId, ReleaseRef, Report, Status, Step, Verdict};
use crate::env::Ambient;
use crate::facts::fly::Release;
use crate::facts::{Facts, HealthFacts};
use crate::fly::{Fly, FlyError};
use crate::gate::{self, health, machines as counted, Policy, Request};
use crate::probe::Prober;
use crate::report::Reporter;

/// Timeout of the read-only fly commands (`releases`, `machine list`).
pub const FLY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Every step with its duration, in order, and the notes that go with the health verdict.
pub struct Steps<'a> {
    reporter: &'a dyn Reporter,
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

impl<'a> Steps<'a> {
    pub fn new(reporter: &'a dyn Reporter) -> Self {
        Steps {
            reporter,
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn done(&mut self, step: &str, started: Instant, detail: impl Into<String>) {
        let step = Step {
            name: step.to_owned(),
            duration_ms: ms(started.elapsed()),
            detail: detail.into(),
        };
        self.reporter.step(&step);
        self.steps.push(step);
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.reporter.progress(&text);
        self.notes.push(text);
    }

    /// The notes, appended to the verdict they explain (the health gate's).
    pub fn annotate(&mut self, verdict: &mut Verdict) {
        verdict.evidence.extend(
            std::mem::take(&mut self.notes)
                .into_iter()
                .map(|text| Evidence::Note { text }),
        );
    }
}

pub fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

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
    Ok(fly.with_token(ambient.fly_token.clone()))
}

pub fn fly_unavailable(what: &str, error: &FlyError) -> RunError {
    RunError::Unavailable {
        message: format!("{what}: {error}"),
        hints: vec!["nothing was deployed; run it again when Fly answers".to_owned()],
    }
}

/// The exact command line, for logs and `--dry-run` (arguments with spaces quoted).
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `fly deploy ... --image IMAGE --strategy immediate`: the rollback redeploy.
pub fn rollback_args(program: &str, env: &Environment, image: &str) -> Vec<String> {
    let mut argv = crate::plan::fly_deploy_args(program, env, Some(image));
    if let Some(at) = argv.iter().position(|a| a == "--strategy") {
        if let Some(value) = argv.get_mut(at + 1) {
            *value = "immediate".to_owned();
        }
    }
    argv
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

/// `fly deploy`, timed, then the health gate on what it deployed (not run when fly failed).
pub async fn deploy_and_verify(
    reporter: &dyn Reporter,
    fly: &Fly,
    argv: &[String],
    env: &Environment,
    steps: &mut Steps<'_>,
    what: &str,
    now: DateTime<Utc>,
) -> Deployed {
    let started = Instant::now();
    let release = run_fly_deploy(reporter, fly, argv, env.deploy_timeout).await;
    let detail = match &release {
        Ok(Some(release)) => format!("{what} succeeded: {release}"),
        Ok(None) => format!("{what} succeeded"),
        Err(error) => format!("{what} failed: {error}"),
    };
    steps.done("fly deploy", started, detail);
    let (health, verdict) = match &release {
        Ok(made) => {
            let version = made.as_ref().and_then(|r| r.version);
            verify_step(reporter, env, fly, version, steps, now).await
        }
        Err(error) => {
            let health = HealthFacts::DeployFailed(error.to_string());
            let verdict = health::judge(&health, Some(&env.health), now);
            (health, verdict)
        }
    };
    Deployed {
        release,
        health,
        verdict,
    }
}

/// The `health` step: what is live now, measured and judged. `release` is the version that
/// should be serving, when known.
pub async fn verify_step(
    reporter: &dyn Reporter,
    env: &Environment,
    fly: &Fly,
    release: Option<u64>,
    steps: &mut Steps<'_>,
    now: DateTime<Utc>,
) -> (HealthFacts, Verdict) {
    let started = Instant::now();
    let measured = verify(reporter, env, fly, release, now).await;
    let verdict = health::judge(&measured, Some(&env.health), now);
    steps.done(
        "health",
        started,
        format!("{}: {}", verdict.status.as_str(), verdict.summary),
    );
    (measured, verdict)
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

/// Runs one `fly deploy`, its output streamed through the reporter.
async fn run_fly_deploy(
    reporter: &dyn Reporter,
    fly: &Fly,
    argv: &[String],
    timeout: Duration,
) -> Result<Option<ReleaseRef>, FlyError> {
    reporter.begin_output(&command_line(argv));
    let result = fly
        .deploy(argv, timeout, |line| reporter.output_line(&line.text))
        .await;
    reporter.end_output();
    result.map(|output| {
        crate::fly::emitted_release(&output).map(|release| ReleaseRef {
            version: release.version,
            image: release.image_ref,
        })
    })
}

/// The health of what is live now: a deploy that fly reports as successful but that leaves zero
/// started serving machines of `release` (counted as the health gate counts them) fails at once;
/// else rounds until the gate decides.
pub async fn verify(
    reporter: &dyn Reporter,
    env: &Environment,
    fly: &Fly,
    release: Option<u64>,
    now: DateTime<Utc>,
) -> HealthFacts {
    match fly.machines(&env.app, FLY_READ_TIMEOUT).await {
        Ok(machines) => {
            let state = counted::count(&machines, release);
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
        release,
    });
    HealthFacts::Rounds(run_rounds(reporter, &prober, &base, policy, machines, now).await)
}
