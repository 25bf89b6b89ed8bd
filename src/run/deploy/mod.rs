//! `deploy`: the only command that changes production. Sequencing only: the
//! facts are gathered once, `gate::evaluate` decides, and the steps run in order: record the
//! GitHub Deployment, record the running release, `fly deploy`, verify, roll back on failure.
//! Each step returns a typed result, collected in the report.

mod record;
pub mod steps;

use serde_json::json;
use tokio::time::Instant;

use super::decide::{validate_emergency, DEPLOY_GATES};
use super::gather::{self, Poll};
use super::github::error as github_error;
use super::{Context, RunError};
use crate::cli::{DeployArgs, TargetArgs};
use crate::config::{Config, Environment};
use crate::decision::{Decision, Incident, Outcome, ReleaseRef, Report, ReportKind, Status};
use crate::facts::fly::Release;
use crate::facts::health::Expected;
use crate::facts::{Facts, HealthFacts, OwnChecks};
use crate::fly::Fly;
use crate::gate::{self, EmergencyRequest, Policy, Request};
use crate::github::client::Client;
use crate::github::gather::Repo;
use crate::github::write::{self, NewDeployment};
use crate::rollback;
use futures::FutureExt;
pub use record::Recorder;
use steps::{
    command_line, fly_unavailable, locate_fly, ms, release_ref, rollback_args, rollback_expected,
    short, Deployed, Deployer, Steps, FLY_READ_TIMEOUT,
};

use super::cancel::Signals;
use super::hooks::{Hooks, Values};
use super::watch::{watch_release, Sources, Watched};
use crate::config::Hook;
use crate::facts::watch::WatchFacts;

/// The GitHub budget of a deploy or rollback: writes happen until the rollback is verified.
pub fn budget(env: &Environment) -> std::time::Duration {
    env.checks.wait + env.deploy_timeout * 2 + env.health.deadline * 2
}

/// The approval the Deployment records (`payload.approval`): the approval gate's verdict and the
/// reviews it rests on, when the gate applied; else, when the approval was read (for an emergency
/// override that requires it), who approved.
fn approval_payload(
    gates: &[crate::decision::Verdict],
    facts: &Facts,
    environment: &str,
) -> Option<serde_json::Value> {
    let Some(verdict) = gates
        .iter()
        .find(|v| v.gate == crate::decision::GateId::Approval && v.status != Status::Skipped)
    else {
        if !matches!(facts.approval, crate::facts::Readable::Read(_)) {
            return None;
        }
        return Some(
            match gate::approval::approved(&facts.approval, environment) {
                Ok(by) => json!({"status": "approved", "by": by}),
                Err(why) => json!({"status": "not approved", "why": why}),
            },
        );
    };
    let reviews: Vec<serde_json::Value> = verdict
        .evidence
        .iter()
        .filter_map(|e| match e {
            crate::decision::Evidence::Approval {
                environment,
                state,
                by,
                comment,
            } => Some(
                json!({"environment": environment, "state": state, "by": by, "comment": comment}),
            ),
            _ => None,
        })
        .collect();
    Some(json!({
        "status": verdict.status.as_str(),
        "summary": verdict.summary,
        "reviews": reviews,
    }))
}

/// The deploy's inputs, checked before anything is read or changed.
fn request(
    context: &Context<'_>,
    env: &Environment,
    args: &DeployArgs,
) -> Result<Request, RunError> {
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
    let request = Request {
        emergency: args.emergency.then(|| EmergencyRequest {
            reason: args.reason.clone(),
            actor: context.ambient.actor.clone(),
        }),
        skip_staging: args.skip_staging,
        ..Request::of(DEPLOY_GATES)
    };
    validate_emergency(&Policy::of(env), request.emergency.as_ref(), reason_hint)?;
    Ok(request)
}

/// What a deploy starts from: its checked inputs, and fly found (before anything changes, and
/// before any async work: finding it reads the file system).
pub struct Prepared {
    request: Request,
    /// fly, found; a dry run goes on without it, saying why it was not found.
    fly: Result<Fly, String>,
    /// The steps around the deploy, their secrets resolved.
    hooks: Hooks,
    /// Where the watch reads its metrics.
    sources: Sources,
}

pub fn prepare(
    context: &Context<'_>,
    env: &Environment,
    args: &DeployArgs,
) -> Result<Prepared, RunError> {
    let request = request(context, env, args)?;
    let sources = Sources::prepare(env)?;
    // A dry run changes nothing: it goes on without fly, and says what that left unchecked.
    let fly = match locate_fly(context.ambient, !args.dry_run) {
        Ok(fly) => Ok(fly.with_masked(sources.secrets())),
        Err(RunError::Input { message, .. }) if args.dry_run => Err(message),
        Err(error) => return Err(error),
    };
    let mut secrets = context.ambient.other_secrets();
    secrets.extend(context.ambient.fly_token.clone());
    secrets.extend(sources.secrets());
    let hooks = Hooks::prepare(env, secrets)?;
    Ok(Prepared {
        request,
        fly,
        hooks,
        sources,
    })
}

/// `deploy`: the steps of the README's "Deploy and rollback", 1 to 7.
pub async fn deploy(
    context: &Context<'_>,
    config: &Config,
    env: &Environment,
    repo: Option<&Repo>,
    args: &DeployArgs,
    prepared: Prepared,
    notifier: &super::notify::Notifier,
) -> Result<Decision, RunError> {
    let Prepared {
        request,
        fly,
        hooks,
        sources,
    } = prepared;
    let policy = Policy::of(env);
    let mut steps = Steps::new(context.reporter, context.clock.now());
    let run_started = Instant::now();
    // From here a signal no longer ends the process: every step below settles what it started.
    let mut signals = Signals::listen()?;

    // 1. Resolve, gather, evaluate.
    let t = Instant::now();
    // A dry run waits for pending checks as the deploy would: it answers "would this deploy?".
    let wait = env.checks.wait;
    // The job running shipgate is never waited on.
    let own = OwnChecks {
        job: gather::current_job(context.ambient),
        ..OwnChecks::default()
    };
    let poll = Poll::waiting(wait, env.checks.interval, own);
    let target = TargetArgs {
        pr: None,
        git_ref: Some(args.git_ref.clone()),
    };
    // The run's approval: for the gate, or for an emergency override that requires it.
    let approval_needed = env.approval.required
        || (args.emergency
            && env
                .windows
                .as_ref()
                .is_some_and(|w| w.emergency.requires_approval));
    // A dry run without a repository or a token still decides what it can (the window, the
    // plan); the GitHub gates are `not checked`, saying why.
    let offline = match (args.dry_run, repo) {
        (false, _) => None,
        (true, None) => Some("no --repo or GITHUB_REPOSITORY"),
        (true, Some(_)) if context.ambient.github_token.is_none() => {
            Some("no GITHUB_TOKEN or GH_TOKEN")
        }
        (true, Some(_)) => None,
    };
    let gathered = async {
        let repo = match (offline, repo) {
            (None, Some(repo)) => repo,
            (why, repo) => {
                let subject = gather::subject(
                    repo.map(ToString::to_string),
                    Some(env),
                    Some(args.git_ref.clone()),
                    None,
                );
                let why = why.unwrap_or("no --repo or GITHUB_REPOSITORY");
                let facts = Facts::nothing_gathered(context.clock.now(), subject, why);
                return Ok::<_, RunError>((None, facts));
            }
        };
        let session = gather::session(context, repo, budget(env), &target, Ok(None)).await?;
        let (facts, approval) = tokio::join!(
            session.facts(context, Some(env), &env.checks, &poll, Some(config)),
            session.approval(context, env, approval_needed)
        );
        let facts = Facts {
            approval: approval?,
            ..facts?
        };
        Ok::<_, RunError>((Some(session), facts))
    };
    let (session, mut facts) = tokio::select! {
        gathered = gathered => gathered?,
        signal = signals.received() => return Err(cancelled_before_anything(signal)),
    };
    let sha = session
        .as_ref()
        .map_or_else(|| args.git_ref.clone(), |s| s.target.sha.clone());
    let gates = gate::evaluate(&facts, &policy, &request);
    // A deploy goes only on gates that passed; a dry run goes on past what it could not check
    // here, and says so.
    let blocked = gates.iter().any(|v| {
        !v.gate.after_deploy()
            && v.status > Status::Pass
            && !(args.dry_run && v.status == Status::NotChecked)
    });
    steps.done(
        "gates",
        t,
        if blocked {
            "a gate did not pass"
        } else {
            "every gate passed"
        },
    );
    let run = Run {
        context,
        env,
        args,
        policy,
        request,
        sha,
        hooks: &hooks,
    };
    if blocked {
        facts.health = HealthFacts::NotMeasured("not run: a gate blocked the deploy".to_owned());
        let mut decision = run.decide(&facts, &mut steps, Report::new(ReportKind::NotStarted));
        let gates_summary =
            crate::decision::summarize(Outcome::of_gates(&decision.verdicts), &decision.verdicts);
        decision.summary = if Outcome::of_gates(&decision.verdicts) == Outcome::Blocked {
            gates_summary
        } else {
            format!("{gates_summary}; not deployed")
        };
        return Ok(decision);
    }
    if args.dry_run {
        return Ok(run.dry_run(fly.as_ref(), facts, steps).await);
    }
    let (Some(session), Some(repo), Ok(fly)) = (session, repo, fly) else {
        // `prepare` and the command refuse a deploy without fly or a repository.
        return Err(RunError::input(
            "deploy needs flyctl, a repository and a GitHub token",
            "pass --repo OWNER/NAME with GITHUB_TOKEN set, and put flyctl on PATH",
        ));
    };
    let client = session.client;

    // 2. The GitHub Deployment.
    let t = Instant::now();
    let run_url = context.ambient.run_url(&repo.to_string());
    let overrides: Vec<serde_json::Value> = gates
        .iter()
        .filter_map(|v| v.overridden.as_ref().map(|o| (v.gate, o)))
        .map(|(gate, o)| {
            json!({"gate": gate.as_str(), "actor": o.actor, "reason": o.reason, "overrode": o.overrode.as_str()})
        })
        .collect();
    let emergency_override = !overrides.is_empty();
    let mut payload = json!({
        "reason": args.reason,
        "actor": context.ambient.actor,
        "emergency": args.emergency,
        "overrides": overrides,
        "image": args.image,
        "run_url": run_url,
    });
    if let Some(approval) = approval_payload(&gates, &facts, &env.name) {
        payload["approval"] = approval;
    }
    let recorder = Recorder::create(
        &client,
        repo,
        context.reporter,
        NewDeployment {
            sha: &run.sha,
            environment: &env.name,
            task: write::TASK_DEPLOY,
            production: env.production,
            description: &format!("shipgate: {}", args.reason),
            payload,
        },
        run_url,
        env.url.as_ref(),
    )
    .await
    .map_err(|e| github_error(e, repo))?;
    recorder.set("in_progress", false, "deploying").await;
    steps.done(
        "deployment",
        t,
        format!("GitHub Deployment {} in_progress", recorder.id),
    );
    let mut report = Report {
        deployment_id: Some(recorder.id),
        ..Report::new(ReportKind::Deploy)
    };
    // The gates passed and the Deployment exists: production is about to change.
    let gates_decision = Decision::from_gates(
        "deploy",
        facts.subject.clone(),
        context.clock.now(),
        gates.clone(),
    );
    notifier
        .started(context, &gates_decision, &args.reason, Some(repo))
        .await;

    // 3. The rollback target, fixed before anything changes.
    let t = Instant::now();
    let releases = match fly.releases(&env.app, FLY_READ_TIMEOUT).await {
        Ok(releases) => releases,
        Err(error) => {
            recorder
                .set("error", false, "fly releases failed; nothing deployed")
                .await;
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

    // Before fly: the configured commands (a backup, a migration). One that fails stops the
    // deploy here: fly never runs, and the record names the step.
    let mut values = Values {
        sha: run.sha.clone(),
        git_ref: args.git_ref.clone(),
        previous_version: previous.as_ref().and_then(|r| r.version),
        ..Values::of(env)
    };
    if let Err(failure) = hooks
        .run(
            Hook::BeforeDeploy,
            &env.steps.before_deploy,
            &values,
            &mut steps,
            &mut signals,
        )
        .await
    {
        if let Some(signal) = signals.which() {
            let text = format!("cancelled by {signal} during {failure}; fly did not start");
            let settled = recorder.set("error", false, &text);
            let _ = tokio::time::timeout(CANCEL_GRACE, settled).await;
            return Err(cancelled_before_anything(signal));
        }
        recorder
            .set("failure", false, &format!("{failure}; not deployed"))
            .await;
        facts.health = HealthFacts::NotMeasured(format!("not run: {failure}"));
        facts.watch = WatchFacts::NotRun(format!("not run: {failure}"));
        report.kind = ReportKind::NotStarted;
        let mut decision = run.decide(&facts, &mut steps, report);
        decision.plan = None;
        decision.summary = format!(
            "not deployed: {failure}; {} still runs {}",
            env.name,
            previous
                .as_ref()
                .map_or_else(|| "what it ran".to_owned(), rollback::label)
        );
        return Ok(decision);
    }

    // Before fly starts, a signal changes nothing more: the record says nothing was deployed.
    if let Some(signal) = signals.received().now_or_never() {
        let text = format!("cancelled by {signal} before fly started; nothing deployed");
        recorder.set("error", false, &text).await;
        return Err(cancelled_before_anything(signal));
    }

    // 4. fly deploy, 5. the health gate.
    let program = fly.program().display().to_string();
    let deploy_argv = crate::plan::fly_deploy_args(&program, env, args.image.as_deref());
    let deploy_started = Instant::now();
    let expected = Expected {
        sha: Some(run.sha.clone()),
        version: None,
        image: args.image.clone(),
    };
    let deployer = Deployer {
        reporter: context.reporter,
        fly: &fly,
        env,
    };
    let deployed = deployer
        .deploy_and_verify(
            &deploy_argv,
            &mut steps,
            "fly deploy",
            expected,
            facts.now,
            &mut signals,
        )
        .await;
    report.deployed = deployed.release.as_ref().ok().map(|emitted| {
        emitted.clone().unwrap_or(ReleaseRef {
            version: None,
            image: args.image.clone(),
        })
    });
    let mut healthy = deployed.healthy();
    facts.health = deployed.health.clone();
    let mut failure: Option<String> = None;
    let mut stage = match &deployed.release {
        Err(_) => "during fly deploy",
        Ok(_) => "during the health gate after fly deploy",
    };
    // After a healthy deploy: the configured commands (smoke tests), then the watch. Either
    // failing is a failed deploy, rolled back as a health failure is.
    values.version = report.deployed.as_ref().and_then(|r| r.version);
    if healthy && signals.which().is_none() {
        stage = "during an after_deploy step";
        if let Err(failed) = hooks
            .run(
                Hook::AfterDeploy,
                &env.steps.after_deploy,
                &values,
                &mut steps,
                &mut signals,
            )
            .await
        {
            failure = Some(failed.to_string());
        }
    }
    if let (Some(policy), true, None, None) = (&env.watch, healthy, &failure, signals.which()) {
        stage = "during the watch";
        let duration = policy.duration_for(args.emergency);
        facts.watch = watch_release(
            policy,
            duration,
            Watched {
                env,
                fly: &fly,
                version: values.version,
                sources: &sources,
            },
            &context.clock,
            &mut steps,
            &mut signals,
        )
        .await;
        let verdict = crate::gate::watch::gate(&facts.watch, Some(policy));
        if verdict.status > Status::Pass && signals.which().is_none() {
            failure = Some(format!("watch failed: {}", verdict.summary));
        }
    } else if env.watch.is_some() {
        facts.watch = WatchFacts::NotRun(match (&failure, healthy) {
            (Some(failed), _) => format!("not run: {failed}"),
            (None, false) => "not run: the deploy was not healthy".to_owned(),
            (None, true) => "not run".to_owned(),
        });
    }
    if failure.is_some() {
        healthy = false;
    }
    if let Some(signal) = signals.which() {
        let cancel = Cancel {
            signal,
            stage,
            started_fly: true,
        };
        return Ok(run
            .cancelled(
                &cancel,
                &client,
                repo,
                &recorder,
                previous.as_ref(),
                &mut report,
                &facts,
                &mut steps,
            )
            .await);
    }

    // 6. Success.
    if healthy {
        recorder.set("success", true, "deployed and healthy").await;
        steps.note(format!(
            "total {}",
            crate::render::ms_text(ms(run_started.elapsed()))
        ));
        let mut decision = run.decide(&facts, &mut steps, report);
        decision.summary = format!(
            "deployed {} to {}: healthy{}",
            short(&run.sha),
            env.name,
            if emergency_override {
                " (EMERGENCY OVERRIDE)"
            } else {
                ""
            }
        );
        return Ok(decision);
    }

    // 7. Failure: mark it, then roll back.
    let why = match (&deployed.release, failure) {
        (Err(error), _) => format!("fly deploy failed: {error}"),
        (Ok(_), Some(failure)) => failure,
        (Ok(_), None) => deployed.verdict.summary.clone(),
    };
    let failed_at = Instant::now();
    // fly records a failed deploy as a release of its own: name it in the incident.
    let recorded = match &report.deployed {
        Some(_) => None,
        None => fly
            .releases(&env.app, FLY_READ_TIMEOUT)
            .await
            .ok()
            .and_then(|after| {
                let before = previous.as_ref().map_or(0, Release::version);
                after.into_iter().find(|r| r.version() > before)
            })
            .map(|release| release_ref(&release)),
    };
    let failed = Failed {
        at: failed_at,
        detected_after_ms: ms(deploy_started.elapsed()),
        why,
        releases,
        previous,
        recorded,
    };
    let (mut incident, detail) = run
        .roll_back(
            &deployer,
            &client,
            repo,
            &recorder,
            &failed,
            &mut report,
            &mut steps,
            &mut signals,
        )
        .await;
    if let Some(signal) = signals.which() {
        // The rollback's own redeploy was stopped: nothing is verified, and nothing is dispatched
        // again (a configured workflow already was).
        report.incident = Some(incident);
        let cancel = Cancel {
            signal,
            stage: "during the rollback after a failed deploy",
            started_fly: false,
        };
        return Ok(run
            .cancelled(
                &cancel,
                &client,
                repo,
                &recorder,
                failed.previous.as_ref(),
                &mut report,
                &facts,
                &mut steps,
            )
            .await);
    }
    let recovered = incident.recovered;
    if let Some(missed) = incident.judge_recovery(env.rollback.recovery_target) {
        context
            .reporter
            .warning(&format!("recovery target missed: {missed}"));
    }
    report.incident = Some(incident);
    let mut decision = run.decide(&facts, &mut steps, report);
    decision.summary = match (recovered, &failed.previous) {
        (true, Some(previous)) => format!(
            "rolled back to {}: {} failed: {}",
            rollback::label(previous),
            short(&run.sha),
            failed.why
        ),
        _ => format!(
            "ROLLBACK FAILED: {} failed ({}); {detail}; a human must act",
            short(&run.sha),
            failed.why
        ),
    };
    Ok(decision)
}

/// What a failed deploy leaves for the rollback.
struct Failed {
    /// When the failure was decided.
    at: Instant,
    /// From the start of `fly deploy` to the failed verdict.
    detected_after_ms: u64,
    why: String,
    releases: Vec<Release>,
    previous: Option<Release>,
    /// The release fly recorded for the failed deploy, when fly did not report one itself.
    recorded: Option<ReleaseRef>,
}

/// One deploy run, once its gates have been evaluated.
struct Run<'r> {
    context: &'r Context<'r>,
    env: &'r Environment,
    args: &'r DeployArgs,
    policy: Policy<'r>,
    request: Request,
    sha: String,
    hooks: &'r Hooks,
}

impl Run<'_> {
    /// The decision over the facts as they now stand (the health gate included), with the report
    /// and its steps; the step notes go with the health verdict.
    fn decide(&self, facts: &Facts, steps: &mut Steps<'_>, report: Report) -> Decision {
        // What deploy would do is news only where it did not run: blocked, or a dry run.
        let would_run = matches!(report.kind, ReportKind::NotStarted | ReportKind::DryRun);
        let mut decision =
            steps::decision("deploy", facts, &self.policy, &self.request, steps, report);
        decision.plan = would_run.then(|| crate::decision::DeployPlan {
            checked: Some(crate::decision::Checked::of(&decision.verdicts)),
            ..crate::plan::deploy_plan(
                &self.context.ambient.fly,
                self.env,
                self.args.image.as_deref(),
            )
        });
        decision
    }

    /// `--dry-run`: what would run, and the rollback it would have; nothing changes. What it
    /// could not check here (no fly, no token) is said, each as `not checked: WHAT (WHY)`.
    async fn dry_run(
        &self,
        fly: Result<&Fly, &String>,
        mut facts: Facts,
        mut steps: Steps<'_>,
    ) -> Decision {
        let (env, args) = (self.env, self.args);
        let program = match fly {
            Ok(fly) => fly.program().display().to_string(),
            Err(_) => self.context.ambient.fly.clone(),
        };
        let deploy_argv = crate::plan::fly_deploy_args(&program, env, args.image.as_deref());
        let mut not_checked: Vec<&str> = Vec::new();
        let releases = match fly {
            Err(why) => {
                steps.note(format!("not checked: the rollback target ({why})"));
                not_checked.push("the rollback target");
                None
            }
            Ok(_) if self.context.ambient.fly_token.is_none() => {
                steps.note(
                    "not checked: the rollback target (no FLY_API_TOKEN: fly cannot read the releases)",
                );
                not_checked.push("the rollback target");
                None
            }
            Ok(fly) => match fly.releases(&env.app, FLY_READ_TIMEOUT).await {
                Ok(releases) => Some(releases),
                Err(error) => {
                    steps.note(format!(
                        "not checked: the rollback target (fly releases failed: {error})"
                    ));
                    not_checked.push("the rollback target");
                    None
                }
            },
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
            None => {}
        }
        if let (Some(releases), Some(_)) = (&releases, previous) {
            let image = args.image.as_deref();
            if let Some(reason) = rollback::refusal(releases, image, env.rollback.max_consecutive) {
                steps.note(format!(
                    "dry run: an automatic rollback would be refused: {reason}"
                ));
            }
        }
        facts.health = HealthFacts::NotMeasured("dry run: runs after the deploy".to_owned());
        let report = Report {
            previous: previous.map(release_ref),
            ..Report::new(ReportKind::DryRun)
        };
        let mut decision = self.decide(&facts, &mut steps, report);
        let gates = crate::decision::summarize(Outcome::Go, &decision.verdicts);
        decision.summary = format!("dry run: {gates}; nothing deployed");
        if !not_checked.is_empty() {
            decision
                .summary
                .push_str(&format!("; not checked here: {}", not_checked.join(", ")));
        }
        decision
    }

    /// A deploy stopped by a signal once fly had started (or its rollback had): fly's process
    /// group is already stopped; the Deployment becomes `error` saying what may be running, the
    /// rollback workflow is dispatched if one is configured and fly had started (one call, no
    /// redeploy), and the report says it all. GitHub gets [`CANCEL_GRACE`] in all, so the run
    /// ends within seconds of the signal.
    #[allow(clippy::too_many_arguments)]
    async fn cancelled(
        &self,
        cancel: &Cancel,
        client: &Client,
        repo: &Repo,
        recorder: &Recorder<'_>,
        previous: Option<&Release>,
        report: &mut Report,
        facts: &Facts,
        steps: &mut Steps<'_>,
    ) -> Decision {
        let env = self.env;
        let running = match (&report.deployed, previous) {
            (Some(deployed), _) => format!("{} runs {deployed}, not verified healthy", env.name),
            (None, Some(previous)) => format!(
                "{} may run {}, the new release, or a mix of both",
                env.name,
                rollback::label(previous)
            ),
            (None, None) => format!("{} may run the new release, or a mix", env.name),
        };
        let why = format!("shipgate received {} {}", cancel.signal, cancel.stage);
        let mut incident = report.incident.take().unwrap_or_else(|| Incident {
            what: format!("deploy of {} to {} cancelled", short(&self.sha), env.name),
            at: self.context.clock.now(),
            why: why.clone(),
            from: report.deployed.clone(),
            to: report.previous.clone(),
            rollback_triggered: false,
            refused: None,
            rollback_run_url: None,
            time_to_detect_ms: None,
            rollback_started_after_ms: None,
            rollback_duration_ms: None,
            time_to_recover_ms: None,
            recovered: false,
            recovery_target_ms: None,
            recovery_target_met: None,
        });
        incident.recovered = false;
        let settle = async {
            recorder
                .set("error", false, &format!("cancelled: {why}; {running}"))
                .await;
            let image = previous.and_then(|p| p.image_ref.clone());
            match (&env.rollback.workflow, image, cancel.started_fly) {
                (Some(workflow), Some(image), true) => {
                    self.dispatch_rollback(
                        client,
                        repo,
                        workflow,
                        &why,
                        &image,
                        steps,
                        &mut incident,
                    )
                    .await
                }
                _ => None,
            }
        };
        let dispatch_failed = match tokio::time::timeout(CANCEL_GRACE, settle).await {
            Ok(failed) => failed,
            Err(_) => Some("GitHub did not answer in time".to_owned()),
        };
        let rollback = if incident.rollback_triggered {
            format!(
                "rollback workflow dispatched{}",
                incident
                    .rollback_run_url
                    .as_deref()
                    .map(|url| format!(": {url}"))
                    .unwrap_or_default()
            )
        } else if let Some(failed) = dispatch_failed {
            format!("no rollback started ({failed})")
        } else {
            "no rollback started".to_owned()
        };
        steps.note(format!("cancelled: {why}; {running}; {rollback}"));
        report.incident = Some(incident);
        report.kind = ReportKind::Cancelled;
        let mut decision = self.decide(facts, steps, report.clone());
        decision.summary =
            format!("CANCELLED: {why}; {running}; {rollback}; a human must check what runs");
        decision
    }

    /// Dispatches the rollback workflow with the image to return to. Returns why it could not
    /// be dispatched, if it could not.
    #[allow(clippy::too_many_arguments)]
    async fn dispatch_rollback(
        &self,
        client: &Client,
        repo: &Repo,
        workflow: &str,
        why: &str,
        image: &str,
        steps: &mut Steps<'_>,
        incident: &mut Incident,
    ) -> Option<String> {
        let (context, env) = (self.context, self.env);
        let t = Instant::now();
        let correlation_id = format!(
            "shipgate-{}-{}",
            context.ambient.run_id.as_deref().unwrap_or("local"),
            short(&self.sha)
        );
        let mut inputs = serde_json::Map::new();
        inputs.insert("reason".into(), json!(format!("shipgate: {why}")));
        inputs.insert("failed_sha".into(), json!(self.sha));
        inputs.insert("target_image".into(), json!(image));
        inputs.insert("correlation_id".into(), json!(correlation_id));
        match write::dispatch_workflow(
            client,
            repo,
            workflow,
            &env.rollback.git_ref,
            &inputs,
            &correlation_id,
            context.clock.now(),
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
                None
            }
            Err(error) => {
                let text = format!("could not dispatch {workflow}: {error}");
                steps.done("rollback workflow", t, text.clone());
                Some(text)
            }
        }
    }

    /// The rollback of a failed deploy: refused, or the workflow dispatched and/or the previous
    /// image redeployed and verified. Returns the incident and, when not recovered, why.
    #[allow(clippy::too_many_arguments)]
    async fn roll_back(
        &self,
        deployer: &Deployer<'_>,
        client: &Client,
        repo: &Repo,
        recorder: &Recorder<'_>,
        failed: &Failed,
        report: &mut Report,
        steps: &mut Steps<'_>,
        signals: &mut Signals,
    ) -> (Incident, String) {
        let (context, env) = (self.context, self.env);
        let mut incident = Incident {
            what: format!("deploy of {} to {} failed", short(&self.sha), env.name),
            at: context.clock.now(),
            why: failed.why.clone(),
            from: report.deployed.clone().or_else(|| failed.recorded.clone()),
            to: report.previous.clone(),
            rollback_triggered: false,
            refused: None,
            rollback_run_url: None,
            time_to_detect_ms: Some(failed.detected_after_ms),
            rollback_started_after_ms: None,
            rollback_duration_ms: None,
            time_to_recover_ms: None,
            recovered: false,
            recovery_target_ms: None,
            recovery_target_met: None,
        };
        let failed_image = report.deployed.as_ref().and_then(|d| d.image.as_deref());
        let refused =
            rollback::refusal(&failed.releases, failed_image, env.rollback.max_consecutive);
        let (Some(previous), None) = (&failed.previous, &refused) else {
            recorder
                .set("failure", false, "failed; not rolled back")
                .await;
            let refused = refused.unwrap_or_default();
            incident.refused = Some(refused.clone());
            return (incident, refused);
        };
        recorder.set("failure", false, "failed; rolling back").await;
        let image = previous.image_ref.clone().unwrap_or_default();
        let label = rollback::label(previous);
        let rollback_started = Instant::now();
        let mut dispatch_failed = None;
        if let Some(workflow) = &env.rollback.workflow {
            incident.rollback_started_after_ms = Some(ms(failed.at.elapsed()));
            dispatch_failed = self
                .dispatch_rollback(
                    client,
                    repo,
                    workflow,
                    &failed.why,
                    &image,
                    steps,
                    &mut incident,
                )
                .await;
        }
        let mut recovered = false;
        let mut on_rollback_failed = None;
        if env.rollback.direct {
            incident
                .rollback_started_after_ms
                .get_or_insert(ms(failed.at.elapsed()));
            incident.rollback_triggered = true;
            // The rollback is recorded as the manual one is, so the environment's latest record
            // says what runs once it is done.
            let run_url = context.ambient.run_url(&repo.to_string());
            let record = Recorder::rollback(
                client,
                repo,
                context.reporter,
                env,
                &format!("shipgate automatic rollback to {label}: {}", failed.why),
                json!({
                    "reason": format!("shipgate: {}", failed.why),
                    "automatic": true,
                    "failed_sha": self.sha,
                    "rollback": {"from": incident.from, "to": incident.to},
                    "run_url": run_url,
                }),
                run_url.clone(),
            )
            .await;
            let program = deployer.fly.program().display().to_string();
            let argv = rollback_args(&program, env, &image);
            let Deployed {
                release, verdict, ..
            } = deployer
                .deploy_and_verify(
                    &argv,
                    steps,
                    &format!("rollback redeploy of {label}"),
                    rollback_expected(&image),
                    context.clock.now(),
                    signals,
                )
                .await;
            recovered = release.is_ok() && verdict.status <= Status::Pass;
            // After the redeploy: the configured restore (the database back to its backup).
            if recovered && signals.which().is_none() {
                let values = Values {
                    sha: self.sha.clone(),
                    git_ref: self.args.git_ref.clone(),
                    version: release
                        .as_ref()
                        .ok()
                        .and_then(|r| r.as_ref())
                        .and_then(|r| r.version),
                    previous_version: previous.version,
                    ..Values::of(env)
                };
                if let Err(failed) = self
                    .hooks
                    .run(
                        Hook::OnRollback,
                        &env.steps.on_rollback,
                        &values,
                        steps,
                        signals,
                    )
                    .await
                {
                    recovered = false;
                    on_rollback_failed = Some(failed.to_string());
                }
            }
            if let Some(record) = &record {
                match signals.which() {
                    Some(signal) => {
                        let text =
                            format!("cancelled by {signal}: rollback to {label} not verified");
                        let settled = record.set("error", false, &text);
                        let _ = tokio::time::timeout(CANCEL_GRACE, settled).await;
                    }
                    None if recovered => {
                        record.set("success", true, "rolled back and healthy").await
                    }
                    None => {
                        let text = match &on_rollback_failed {
                            Some(failed) => format!("rolled back, but {failed}"),
                            None => "rollback not verified healthy".to_owned(),
                        };
                        record.set("failure", false, &text).await
                    }
                }
            }
            // What runs now is what the rollback deployed.
            if let Ok(emitted) = release {
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
            incident.time_to_recover_ms = Some(ms(failed.at.elapsed()));
        }
        let mut detail = match &on_rollback_failed {
            Some(failed) => format!("{failed} after {} was rolled back to {label}", env.name),
            None => format!("{} is not verified healthy on {label}", env.name),
        };
        if let Some(failed) = dispatch_failed {
            detail = format!("{failed}; {detail}");
        }
        (incident, detail)
    }
}

/// How long GitHub gets, once a signal has stopped fly, to record the Deployment's end and
/// dispatch the rollback workflow.
pub const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_millis(2500);

/// A signal, and where in the deploy it arrived.
struct Cancel {
    signal: &'static str,
    stage: &'static str,
    /// Whether fly had started changing production (then the rollback workflow is dispatched).
    started_fly: bool,
}

/// A signal before fly started: nothing changed, and there is no decision to report.
fn cancelled_before_anything(signal: &'static str) -> RunError {
    RunError::Cancelled {
        message: format!("cancelled by {signal} before fly started: nothing was deployed"),
    }
}
