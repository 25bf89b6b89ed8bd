//! `deploy` and `rollback`: sequencing only (SPEC section 5). The gates decide in `gate/`; this
//! file reads the facts, writes the GitHub Deployment, runs fly, and reports every step.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{online, RunError};
use crate::cli::{DeployArgs, RollbackArgs, TargetArgs};
use crate::config::{Config, Environment};
use crate::decision::{
    Decision, Evidence, GateId, Incident, Outcome, Override, ReleaseRef, Report, Status, Step,
    Verdict,
};
use crate::env::Ambient;
use crate::facts::{CurrentJob, OwnChecks};
use crate::fly::{Fly, FlyError, Release};
use crate::gate::{health, staging, window};
use crate::github::client::Client;
use crate::github::gather::Repo;
use crate::github::write;
use crate::probe::Prober;
use crate::rollback;

/// Timeout of the read-only fly commands (`releases`, `machine list`).
const FLY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Every step with its duration, in order, and the notes that go with the health verdict.
#[derive(Default)]
struct Steps {
    steps: Vec<Step>,
    notes: Vec<String>,
}

impl Steps {
    fn done(&mut self, step: &str, started: Instant, detail: impl Into<String>) {
        let step = Step {
            name: step.to_owned(),
            duration_ms: ms(started.elapsed()),
            detail: detail.into(),
        };
        eprintln!(
            "shipgate: step {}: {} ({})",
            step.name,
            crate::render::one_line(&step.detail),
            crate::render::ms_text(step.duration_ms)
        );
        self.steps.push(step);
    }

    fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("shipgate: {}", crate::render::one_line(&text));
        self.notes.push(text);
    }
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn release_ref(release: &Release) -> ReleaseRef {
    ReleaseRef {
        version: release.version,
        image: release.image_ref.clone(),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn locate_fly(ambient: &Ambient, need_token: bool) -> Result<Fly, RunError> {
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

fn fly_unavailable(what: &str, error: &FlyError) -> RunError {
    RunError::Unavailable {
        message: format!("{what}: {error}"),
        hints: vec!["nothing was deployed; run it again when Fly answers".to_owned()],
    }
}

/// The exact command line, for logs and `--dry-run` (arguments with spaces quoted).
fn command_line(argv: &[String]) -> String {
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
fn rollback_args(program: &str, env: &Environment, image: &str) -> Vec<String> {
    let mut argv = crate::plan::fly_deploy_args(program, env, Some(image));
    if let Some(at) = argv.iter().position(|a| a == "--strategy") {
        if let Some(value) = argv.get_mut(at + 1) {
            *value = "immediate".to_owned();
        }
    }
    argv
}

/// `fly deploy`, timed, then the health gate on what it deployed (not run when fly failed).
/// Ok holds the release fly reported making, when it reported one.
async fn deploy_and_verify(
    ambient: &Ambient,
    fly: &Fly,
    argv: &[String],
    env: &Environment,
    steps: &mut Steps,
    what: &str,
    now: DateTime<Utc>,
) -> (Result<Option<ReleaseRef>, FlyError>, Verdict) {
    let started = Instant::now();
    let deployed = run_fly_deploy(ambient, fly, argv, env.deploy_timeout).await;
    let detail = match &deployed {
        Ok(Some(release)) => format!("{what} succeeded: {release}"),
        Ok(None) => format!("{what} succeeded"),
        Err(error) => format!("{what} failed: {error}"),
    };
    steps.done("fly deploy", started, detail);
    let verdict = match &deployed {
        Ok(_) => {
            let started = Instant::now();
            let verdict = verify(env, fly, now).await;
            steps.done(
                "health",
                started,
                format!("{}: {}", verdict.status.as_str(), verdict.summary),
            );
            verdict
        }
        Err(error) => Verdict::new(
            GateId::Health,
            Status::Fail,
            format!("not run: fly deploy failed: {error}"),
        ),
    };
    (deployed, verdict)
}

/// Runs one `fly deploy`, its output streamed to stderr (in a log group in Actions).
async fn run_fly_deploy(
    ambient: &Ambient,
    fly: &Fly,
    argv: &[String],
    timeout: Duration,
) -> Result<Option<ReleaseRef>, FlyError> {
    let in_actions = ambient.run_id.is_some();
    eprintln!("shipgate: running {}", command_line(argv));
    // In Actions: a log group, with workflow commands suspended inside it (fly prints the app's
    // build output, which is not ours to trust).
    let stop = in_actions.then(|| format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)));
    if let Some(token) = &stop {
        eprintln!(
            "::group::{}",
            crate::action::escape_data(&command_line(argv))
        );
        eprintln!("::stop-commands::{token}");
    }
    let result = fly
        .deploy(argv, timeout, |line| eprintln!("  {}", line.text))
        .await;
    if let Some(token) = &stop {
        eprintln!("::{token}::");
        eprintln!("::endgroup::");
    }
    result.map(|output| {
        crate::fly::emitted_release(&output).map(|release| ReleaseRef {
            version: release.version,
            image: release.image_ref,
        })
    })
}

/// The health gate on what is live now: a deploy that fly reports as successful but that leaves
/// zero started machines fails at once; else rounds until pass or fail.
async fn verify(env: &Environment, fly: &Fly, now: DateTime<Utc>) -> Verdict {
    match fly.machines(&env.app, FLY_READ_TIMEOUT).await {
        Ok(machines) => {
            let state = super::health::machine_state(&machines);
            if state.started == 0 {
                return Verdict::new(
                    GateId::Health,
                    Status::Fail,
                    format!(
                        "fly reported success but none of the {} machine(s) is started",
                        state.total
                    ),
                );
            }
        }
        Err(error) => tracing::warn!(%error, "could not read machine state"),
    }
    health_rounds(env, fly, now).await
}

/// The rounds loop of `run/health.rs`, on the environment's policy and `url`.
async fn health_rounds(env: &Environment, fly: &Fly, now: DateTime<Utc>) -> Verdict {
    let policy = env.health.clone();
    if policy.endpoints.is_empty() && !policy.machines {
        return Verdict::new(
            GateId::Health,
            Status::Skipped,
            "no health endpoints and no machine checks configured: fly's exit code decided",
        );
    }
    let base = match super::health::environment_base(env) {
        Ok(base) => base,
        Err(message) => return Verdict::new(GateId::Health, Status::Fail, message),
    };
    let prober = match Prober::new(policy.request_timeout) {
        Ok(prober) => prober,
        Err(error) => {
            return Verdict::new(
                GateId::Health,
                Status::Fail,
                format!("cannot start the HTTP client: {error}"),
            )
        }
    };
    let machines = Some((fly, env.app.as_str()));
    let rounds = super::health::run_rounds(&prober, &base, &policy, machines, now).await;
    health::evaluate(&policy, &rounds, true, now)
}

/// One round of a required environment's health endpoints, now: part of the staging gate.
async fn staging_health_now(env: &Environment, now: DateTime<Utc>) -> Option<(bool, String)> {
    let base = env.url.as_ref()?;
    if env.health.endpoints.is_empty() {
        return None;
    }
    let mut policy = env.health.clone();
    policy.machines = false;
    policy.consecutive_successes = 1;
    let prober = Prober::new(policy.request_timeout).ok()?;
    let round = prober.round(base, &policy, Duration::ZERO).await;
    let verdict = health::evaluate(&policy, &[round], true, now);
    Some((
        verdict.status == Status::Pass,
        format!("{} health now: {}", env.name, verdict.summary),
    ))
}

fn deploy_client(ambient: &Ambient, repo: &Repo, env: &Environment) -> Result<Client, RunError> {
    // Writes happen until the rollback is verified: the budget covers the whole run.
    let budget = env.checks.wait + env.deploy_timeout * 2 + env.health.deadline * 2;
    online::client(ambient, repo, budget)
}

fn warn_write(what: &str, error: &crate::github::client::GitHubError) {
    eprintln!("warning: could not write the {what}: {error}");
}

/// `deploy`: SPEC section 5, steps 1 to 7.
pub async fn deploy(
    ambient: &Ambient,
    config: &Config,
    env: &Environment,
    repo: &Repo,
    args: &DeployArgs,
    clock: &impl Fn() -> DateTime<Utc>,
) -> Result<Decision, RunError> {
    let reason_hint =
        "say what ships and why, e.g. --reason \"INC-142: checkout 500s, hotfix a1b2c3\"";
    if args.reason.trim().is_empty() {
        return Err(RunError::input("--reason is empty", reason_hint));
    }
    if args.skip_staging && !args.emergency {
        return Err(RunError::input(
            "--skip-staging is an emergency measure",
            "pass --emergency with it, and a --reason",
        ));
    }
    if env.url.is_none() && !env.health.endpoints.is_empty() {
        return Err(RunError::input(
            format!(
                "environment `{}` has health endpoints but no `url`",
                env.name
            ),
            "add `url:` to the environment",
        ));
    }
    let request = args.emergency.then(|| window::EmergencyRequest {
        reason: args.reason.clone(),
        actor: ambient.actor.clone(),
    });
    if let (Some(policy), Some(request)) = (env.windows.as_ref(), &request) {
        window::validate_emergency(policy, request)
            .map_err(|message| RunError::input(message, reason_hint))?;
    }
    // Fly must be there before anything changes.
    let fly = locate_fly(ambient, !args.dry_run)?;
    let mut steps = Steps::default();
    let run_started = Instant::now();

    // 1. Resolve, gather, evaluate.
    let t = Instant::now();
    let client = deploy_client(ambient, repo, env)?;
    let fail = |e| online::github_error(e, repo);
    let target = online::resolve_target(
        &client,
        repo,
        ambient,
        &TargetArgs {
            pr: None,
            git_ref: Some(args.git_ref.clone()),
        },
    )
    .await?;
    let sha = target.sha.clone();
    let rules =
        online::required_rules(&client, repo, &env.checks, target.branch.as_deref()).await?;
    let poll = online::Poll {
        started: tokio::time::Instant::now(),
        wait: if args.dry_run {
            Duration::ZERO
        } else {
            env.checks.wait
        },
        interval: env.checks.interval,
        own: OwnChecks {
            job: match (&ambient.run_id, &ambient.job) {
                (Some(run_id), Some(job)) => Some(CurrentJob {
                    run_id: run_id.clone(),
                    job: job.clone(),
                }),
                _ => None,
            },
            ..OwnChecks::default()
        },
        snapshot: false,
    };
    let checks_verdict =
        online::poll_checks(&client, repo, &env.checks, &sha, &rules, &poll).await?;
    let now = clock();
    let window_verdict = window::evaluate(env.windows.as_ref(), now, request.as_ref());
    let required = online::staging_facts(&client, repo, &sha, &env.requires).await?;
    let mut staging_verdict = staging::evaluate(&required);
    if staging_verdict.status == Status::Pass {
        for name in &env.requires {
            let Some(other) = config.environment(name) else {
                continue;
            };
            if let Some((healthy, text)) = staging_health_now(other, now).await {
                if !healthy {
                    staging_verdict.status = Status::Fail;
                    staging_verdict.summary = text.clone();
                }
                staging_verdict.evidence.push(Evidence::Note { text });
            }
        }
    }
    if args.skip_staging && staging_verdict.status > Status::Pass {
        let overrode = staging_verdict.status;
        staging_verdict.status = Status::Pass;
        staging_verdict.summary = format!("EMERGENCY: skipped ({})", staging_verdict.summary);
        staging_verdict.overridden = Some(Override {
            actor: ambient.actor.clone(),
            reason: args.reason.clone(),
            overrode,
        });
    }
    let gates = vec![checks_verdict, window_verdict, staging_verdict];
    let blocked = gates.iter().any(|v| v.status > Status::Pass);
    steps.done(
        "gates",
        t,
        if blocked {
            "a gate did not pass"
        } else {
            "every gate passed"
        },
    );
    let mut subject = super::subject(
        Some(repo.to_string()),
        Some(env),
        Some(args.git_ref.clone()),
    );
    subject.sha = Some(sha.clone());
    let program = fly.program().display().to_string();
    let deploy_argv = crate::plan::fly_deploy_args(&program, env, args.image.as_deref());
    let overrides: Vec<serde_json::Value> = gates
        .iter()
        .filter_map(|v| {
            v.overridden.as_ref().map(|o| {
                json!({"gate": v.gate.as_str(), "actor": o.actor, "reason": o.reason, "overrode": o.overrode.as_str()})
            })
        })
        .collect();

    let finish = |verdicts: Vec<Verdict>, health: Verdict, steps: Steps, report: Report| {
        let mut health = health;
        health
            .evidence
            .extend(steps.notes.into_iter().map(|text| Evidence::Note { text }));
        let mut all = verdicts;
        all.push(health);
        let mut decision = Decision::from_gates("deploy", subject.clone(), now, all);
        decision.plan = Some(crate::plan::deploy_plan(
            &ambient.fly,
            env,
            args.image.as_deref(),
        ));
        decision.report = Some(Report {
            steps: steps.steps,
            ..report
        });
        decision
    };
    let set_outcome = |decision: &mut Decision, outcome: Outcome, summary: String| {
        decision.outcome = outcome;
        decision.exit_code = outcome.exit_code();
        decision.summary = summary;
    };

    if blocked {
        let health = Verdict::new(
            GateId::Health,
            Status::Skipped,
            "not run: a gate blocked the deploy",
        );
        let mut decision = finish(gates, health, steps, Report::default());
        if decision.outcome != Outcome::Blocked {
            let summary = format!("{}; not deployed", decision.summary);
            set_outcome(&mut decision, Outcome::Blocked, summary);
        }
        return Ok(decision);
    }

    if args.dry_run {
        let releases = if ambient.fly_token.is_some() {
            fly.releases(&env.app, FLY_READ_TIMEOUT).await.ok()
        } else {
            None
        };
        let previous = releases.as_deref().and_then(rollback::running);
        steps.note(format!("dry run: would run {}", command_line(&deploy_argv)));
        match previous.and_then(|r| r.image_ref.as_deref()) {
            Some(image) => steps.note(format!(
                "dry run: on failure would run {}",
                command_line(&rollback_args(&program, env, image))
            )),
            None if releases.is_some() => {
                steps.note("dry run: no complete release with an image to roll back to")
            }
            None => steps
                .note("dry run: rollback target not read (no FLY_API_TOKEN or fly did not answer)"),
        }
        if let (Some(releases), Some(_)) = (&releases, previous) {
            let image = args.image.as_deref();
            if let Some(reason) = rollback::refusal(releases, image, env.rollback.max_consecutive) {
                steps.note(format!(
                    "dry run: an automatic rollback would be refused: {reason}"
                ));
            }
        }
        let health = Verdict::new(
            GateId::Health,
            Status::Skipped,
            "dry run: runs after the deploy",
        );
        let report = Report {
            previous: previous.map(release_ref),
            ..Report::default()
        };
        let mut decision = finish(gates, health, steps, report);
        let summary = format!("dry run: {}; nothing deployed", decision.summary);
        set_outcome(&mut decision, Outcome::Go, summary);
        return Ok(decision);
    }

    // 2. The GitHub Deployment.
    let t = Instant::now();
    let run_url = ambient.run_url(&repo.to_string());
    let payload = json!({
        "reason": args.reason,
        "actor": ambient.actor,
        "emergency": args.emergency,
        "overrides": overrides,
        "image": args.image,
        "run_url": run_url,
    });
    let description: String = format!("shipgate: {}", args.reason);
    let deployment = write::create_deployment(
        &client,
        repo,
        write::NewDeployment {
            sha: &sha,
            environment: &env.name,
            task: write::TASK_DEPLOY,
            production: env.name == "production",
            description: &description,
            payload,
        },
    )
    .await
    .map_err(fail)?;
    // A deployment status write; a failed one is a warning (the deploy goes on).
    let status = |state: &'static str, live: bool, text: &'static str| {
        let (client, run_url) = (&client, run_url.as_deref());
        async move {
            let environment_url = env.url.as_ref().filter(|_| live).map(url::Url::as_str);
            if let Err(error) = write::set_deployment_status(
                client,
                repo,
                deployment,
                state,
                run_url,
                environment_url,
                text,
            )
            .await
            {
                warn_write("deployment status", &error);
            }
        }
    };
    status("in_progress", false, "deploying").await;
    steps.done(
        "deployment",
        t,
        format!("GitHub Deployment {deployment} in_progress"),
    );
    let mut report = Report {
        deployment_id: Some(deployment),
        ..Report::default()
    };

    // 3. The rollback target, fixed before anything changes.
    let t = Instant::now();
    let releases = match fly.releases(&env.app, FLY_READ_TIMEOUT).await {
        Ok(releases) => releases,
        Err(error) => {
            status("error", false, "fly releases failed; nothing deployed").await;
            return Err(fly_unavailable("cannot read the running release", &error));
        }
    };
    let previous = rollback::running(&releases).cloned();
    report.previous = previous.as_ref().map(release_ref);
    steps.done(
        "record",
        t,
        match &previous {
            Some(release) => format!("rollback target {}", rollback::label(release)),
            None => "no complete release with an image: nothing to roll back to".to_owned(),
        },
    );

    // 4. fly deploy, 5. the health gate.
    let deploy_started = Instant::now();
    let (deployed, health_verdict) = deploy_and_verify(
        ambient,
        &fly,
        &deploy_argv,
        env,
        &mut steps,
        "fly deploy",
        now,
    )
    .await;
    let healthy = deployed.is_ok() && health_verdict.status <= Status::Pass;
    report.deployed = deployed.as_ref().ok().map(|emitted| {
        emitted.clone().unwrap_or(ReleaseRef {
            version: None,
            image: args.image.clone(),
        })
    });

    // 6. Success.
    if healthy {
        status("success", true, "deployed and healthy").await;
        steps.note(format!(
            "total {}",
            crate::render::ms_text(ms(run_started.elapsed()))
        ));
        let mut decision = finish(gates, health_verdict, steps, report);
        let summary = format!(
            "deployed {} to {}: healthy{}",
            short(&sha),
            env.name,
            if overrides.is_empty() {
                ""
            } else {
                " (EMERGENCY OVERRIDE)"
            }
        );
        set_outcome(&mut decision, Outcome::Deployed, summary);
        return Ok(decision);
    }

    // 7. Failure: mark it, then roll back.
    let failed_at = Instant::now();
    let why = match &deployed {
        Err(error) => format!("fly deploy failed: {error}"),
        Ok(_) => health_verdict.summary.clone(),
    };
    let mut incident = Incident {
        what: format!("deploy of {} to {} failed", short(&sha), env.name),
        at: clock(),
        why: why.clone(),
        from: report.deployed.clone(),
        to: report.previous.clone(),
        rollback_triggered: false,
        refused: None,
        rollback_run_url: None,
        time_to_detect_ms: Some(ms(failed_at.duration_since(deploy_started))),
        rollback_started_after_ms: None,
        rollback_duration_ms: None,
        time_to_recover_ms: None,
        recovered: false,
    };
    let failed_image = report.deployed.as_ref().and_then(|d| d.image.as_deref());
    let refused = rollback::refusal(&releases, failed_image, env.rollback.max_consecutive);
    let rollback_failed = |decision: &mut Decision, detail: &str| {
        set_outcome(
            decision,
            Outcome::RollbackFailed,
            format!(
                "ROLLBACK FAILED: {} failed ({why}); {detail}; a human must act",
                short(&sha)
            ),
        );
    };
    let (Some(previous), None) = (&previous, &refused) else {
        status("failure", false, "failed; not rolled back").await;
        let refused = refused.unwrap_or_default();
        incident.refused = Some(refused.clone());
        report.incident = Some(incident);
        let mut decision = finish(gates, health_verdict, steps, report);
        rollback_failed(&mut decision, &refused);
        return Ok(decision);
    };
    status("failure", false, "failed; rolling back").await;
    let image = previous.image_ref.clone().unwrap_or_default();
    let label = rollback::label(previous);
    let rollback_started = Instant::now();
    let mut dispatch_failed = None;
    if let Some(workflow) = &env.rollback.workflow {
        let t = Instant::now();
        incident.rollback_started_after_ms = Some(ms(failed_at.elapsed()));
        let correlation_id = format!(
            "shipgate-{}-{}",
            ambient.run_id.as_deref().unwrap_or("local"),
            short(&sha)
        );
        let mut inputs = serde_json::Map::new();
        inputs.insert("reason".into(), json!(format!("shipgate: {why}")));
        inputs.insert("failed_sha".into(), json!(sha));
        inputs.insert("target_image".into(), json!(image));
        inputs.insert("correlation_id".into(), json!(correlation_id));
        match write::dispatch_workflow(
            &client,
            repo,
            workflow,
            &env.rollback.git_ref,
            &inputs,
            &correlation_id,
            clock(),
        )
        .await
        {
            Ok(dispatched) => {
                incident.rollback_triggered = true;
                incident.rollback_run_url.clone_from(&dispatched.run_url);
                steps.done(
                    "rollback workflow",
                    t,
                    format!(
                        "dispatched {workflow}: {}",
                        dispatched.run_url.as_deref().unwrap_or("run not found yet")
                    ),
                );
            }
            Err(error) => {
                let text = format!("could not dispatch {workflow}: {error}");
                dispatch_failed = Some(text.clone());
                steps.done("rollback workflow", t, text);
            }
        }
    }
    let mut recovered = false;
    if env.rollback.direct {
        incident
            .rollback_started_after_ms
            .get_or_insert(ms(failed_at.elapsed()));
        incident.rollback_triggered = true;
        let argv = rollback_args(&program, env, &image);
        let (redeployed, verdict) = deploy_and_verify(
            ambient,
            &fly,
            &argv,
            env,
            &mut steps,
            &format!("rollback redeploy of {label}"),
            clock(),
        )
        .await;
        recovered = redeployed.is_ok() && verdict.status <= Status::Pass;
        // What runs now is what the rollback deployed.
        if let Ok(emitted) = redeployed {
            report.deployed = Some(emitted.unwrap_or_else(|| ReleaseRef {
                version: None,
                image: Some(image.clone()),
            }));
        }
        steps.note(format!(
            "rollback to {label}: health {}: {}",
            verdict.status.as_str(),
            verdict.summary
        ));
    } else {
        steps.note("no direct rollback (`rollback.direct: false`): this run cannot verify the rollback workflow's result");
    }
    incident.rollback_duration_ms = Some(ms(rollback_started.elapsed()));
    incident.recovered = recovered;
    if recovered {
        incident.time_to_recover_ms = Some(ms(failed_at.elapsed()));
    }
    report.incident = Some(incident);
    let mut decision = finish(gates, health_verdict, steps, report);
    if recovered {
        set_outcome(
            &mut decision,
            Outcome::RolledBack,
            format!("rolled back to {label}: {} failed: {why}", short(&sha)),
        );
    } else {
        let mut detail = format!("{} is not verified healthy on {label}", env.name);
        if let Some(failed) = dispatch_failed {
            detail = format!("{failed}; {detail}");
        }
        rollback_failed(&mut decision, &detail);
    }
    Ok(decision)
}

/// `rollback`: redeploy the previous good release (or the one named) and verify its health.
pub async fn rollback(
    ambient: &Ambient,
    env: &Environment,
    repo: Option<&Repo>,
    args: &RollbackArgs,
    clock: &impl Fn() -> DateTime<Utc>,
) -> Result<Decision, RunError> {
    if args.reason.trim().is_empty() {
        return Err(RunError::input(
            "--reason is empty",
            "say why, e.g. --reason \"INC-142: checkout 500s since v42\"",
        ));
    }
    let fly = locate_fly(ambient, true)?;
    let mut steps = Steps::default();
    let now = clock();
    let mut subject = super::subject(repo.map(ToString::to_string), Some(env), None);
    subject.sha = None;
    let done =
        |verdict: Verdict, steps: Steps, report: Report, outcome: Outcome, summary: String| {
            let mut verdict = verdict;
            verdict
                .evidence
                .extend(steps.notes.into_iter().map(|text| Evidence::Note { text }));
            let mut decision =
                Decision::from_gates("rollback", subject.clone(), now, vec![verdict]);
            decision.outcome = outcome;
            decision.exit_code = outcome.exit_code();
            decision.summary = summary;
            decision.report = Some(Report {
                steps: steps.steps,
                ..report
            });
            decision
        };

    let t = Instant::now();
    let releases = fly
        .releases(&env.app, FLY_READ_TIMEOUT)
        .await
        .map_err(|e| fly_unavailable("cannot read the releases", &e))?;
    let current = releases.first();
    let target = rollback::target(&releases, args.to.as_deref());
    let (label, image) = match &target {
        rollback::Target::Release { label, image } => (label.clone(), image.clone()),
        rollback::Target::Image(image) => (image.clone(), image.clone()),
        rollback::Target::NoSuchVersion(_) | rollback::Target::Nothing => {
            (String::new(), String::new())
        }
    };
    let mut incident = Incident {
        what: format!("rollback of {}", env.name),
        at: now,
        why: args.reason.clone(),
        from: current.map(release_ref),
        to: (!image.is_empty()).then(|| {
            releases
                .iter()
                .find(|r| r.image_ref.as_deref() == Some(image.as_str()))
                .map_or_else(
                    || ReleaseRef {
                        version: None,
                        image: Some(image.clone()),
                    },
                    release_ref,
                )
        }),
        rollback_triggered: false,
        refused: None,
        rollback_run_url: None,
        time_to_detect_ms: None,
        rollback_started_after_ms: None,
        rollback_duration_ms: None,
        time_to_recover_ms: None,
        recovered: false,
    };
    let mut report = Report {
        previous: incident.from.clone(),
        ..Report::default()
    };
    steps.done(
        "record",
        t,
        format!(
            "current {}; target {}",
            current.map_or_else(|| "none".to_owned(), rollback::label),
            if label.is_empty() { "none" } else { &label }
        ),
    );
    if image.is_empty() {
        let verdict = Verdict::new(
            GateId::Health,
            Status::Skipped,
            "not run: nothing to roll back to",
        );
        let refused = match target {
            rollback::Target::NoSuchVersion(version) => {
                format!("no release v{version} with an image in the last 25 releases")
            }
            _ => "no complete release with an image before the current one".to_owned(),
        };
        incident.refused = Some(refused.clone());
        report.incident = Some(incident);
        let summary = format!("ROLLBACK REFUSED: {refused}; a human must act");
        return Ok(done(
            verdict,
            steps,
            report,
            Outcome::RollbackFailed,
            summary,
        ));
    }

    // Already there (a direct rollback got there first, or a second dispatch): verify, and do not
    // restart every machine again with `--strategy immediate`.
    let running_target = current.is_some_and(|r| {
        r.status == crate::fly::ReleaseStatus::Complete
            && r.image_ref.as_deref() == Some(image.as_str())
    });
    if running_target {
        let t = Instant::now();
        let verdict = verify(env, &fly, now).await;
        steps.done(
            "health",
            t,
            format!("{}: {}", verdict.status.as_str(), verdict.summary),
        );
        if verdict.status <= Status::Pass {
            incident.recovered = true;
            report.deployed = incident.from.clone();
            report.incident = Some(incident);
            let summary = format!(
                "{} already runs {label} and is healthy: nothing redeployed",
                env.name
            );
            return Ok(done(verdict, steps, report, Outcome::Deployed, summary));
        }
        steps.note(format!(
            "{} already runs {label} but is not healthy: redeploying it",
            env.name
        ));
    }

    // The Deployment records the rollback; GitHub being unreachable never blocks it.
    let github = match (repo, &ambient.github_token) {
        (Some(repo), Some(_)) => match deploy_client(ambient, repo, env) {
            Ok(client) => Some((client, repo)),
            Err(error) => {
                eprintln!("warning: no GitHub Deployment: {error}");
                None
            }
        },
        _ => {
            steps.note("no GitHub Deployment recorded (no GITHUB_TOKEN or repository)");
            None
        }
    };
    let run_url = repo.and_then(|r| ambient.run_url(&r.to_string()));
    if let Some((client, repo)) = &github {
        let t = Instant::now();
        let payload = json!({
            "reason": args.reason,
            "actor": ambient.actor,
            "rollback": {"from": incident.from, "to": incident.to},
            "run_url": run_url,
        });
        match write::create_deployment(
            client,
            repo,
            write::NewDeployment {
                sha: &env.rollback.git_ref,
                environment: &env.name,
                task: write::TASK_ROLLBACK,
                production: env.name == "production",
                description: &format!("shipgate rollback to {label}: {}", args.reason),
                payload,
            },
        )
        .await
        {
            Ok(id) => {
                report.deployment_id = Some(id);
                if let Err(error) = write::set_deployment_status(
                    client,
                    repo,
                    id,
                    "in_progress",
                    run_url.as_deref(),
                    None,
                    "rolling back",
                )
                .await
                {
                    warn_write("deployment status", &error);
                }
                steps.done(
                    "deployment",
                    t,
                    format!("GitHub Deployment {id} in_progress"),
                );
            }
            Err(error) => warn_write("rollback deployment", &error),
        }
    }

    let program = fly.program().display().to_string();
    let argv = rollback_args(&program, env, &image);
    let started = Instant::now();
    incident.rollback_triggered = true;
    let (deployed, verdict) = deploy_and_verify(
        ambient,
        &fly,
        &argv,
        env,
        &mut steps,
        &format!("redeploy of {label}"),
        now,
    )
    .await;
    let healthy = deployed.is_ok() && verdict.status <= Status::Pass;
    report.deployed = deployed.ok().map(|emitted| {
        let mut deployed = emitted.unwrap_or_default();
        deployed.image.get_or_insert(image.clone());
        deployed
    });
    incident.rollback_duration_ms = Some(ms(started.elapsed()));
    incident.recovered = healthy;
    if let (Some((client, repo)), Some(id)) = (&github, report.deployment_id) {
        let (state, text) = if healthy {
            ("success", "rolled back and healthy")
        } else {
            ("failure", "rollback not verified healthy")
        };
        if let Err(error) = write::set_deployment_status(
            client,
            repo,
            id,
            state,
            run_url.as_deref(),
            env.url.as_ref().filter(|_| healthy).map(url::Url::as_str),
            text,
        )
        .await
        {
            warn_write("deployment status", &error);
        }
    }
    report.incident = Some(incident);
    let (outcome, summary) = if healthy {
        (
            Outcome::Deployed,
            format!("rolled back {} to {label}: healthy", env.name),
        )
    } else {
        (
            Outcome::RollbackFailed,
            format!(
                "ROLLBACK FAILED: {} is not verified healthy on {label} ({}); a human must act",
                env.name, verdict.summary
            ),
        )
    };
    Ok(done(verdict, steps, report, outcome, summary))
}
