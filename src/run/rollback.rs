//! `rollback`: redeploy the previous good release (or the one named) and verify its health. The
//! steps are the deploy's (`deploy::steps`); the GitHub Deployment records it when GitHub is
//! reachable, and its absence never blocks the rollback.

use serde_json::json;
use tokio::time::Instant;

use super::decide::gates_of;
use futures::FutureExt;

use super::cancel::Signals;
use super::deploy::steps::{
    self, fly_unavailable, locate_fly, ms, release_ref, rollback_args, rollback_expected, Deployed,
    Deployer, Steps, FLY_READ_TIMEOUT,
};
use super::deploy::{budget, Recorder};
use super::hooks::{Hooks, Values};
use super::{Context, RunError};
use crate::cli::RollbackArgs;
use crate::config::Environment;
use crate::config::Hook;
use crate::decision::{Decision, Incident, ReleaseRef, Report, ReportKind, Status};
use crate::facts::health::Expected;
use crate::facts::{Facts, HealthFacts};
use crate::fly::Fly;
use crate::gate::{Policy, Request};
use crate::github::gather::Repo;
use crate::rollback;

/// What a rollback starts from: fly found, and the `on_rollback` steps with their secrets.
pub struct Prepared {
    fly: Fly,
    hooks: Hooks,
}

/// The rollback's inputs checked, fly found and the steps' secrets resolved, before any async
/// work.
pub fn prepare(
    context: &Context<'_>,
    env: &Environment,
    args: &RollbackArgs,
) -> Result<Prepared, RunError> {
    if args.reason.trim().is_empty() {
        return Err(RunError::input(
            "--reason is empty",
            "say why, e.g. --reason \"INC-142: checkout 500s since v42\"",
        ));
    }
    let fly = locate_fly(context.ambient, true)?;
    let mut secrets = context.ambient.other_secrets();
    secrets.extend(context.ambient.fly_token.clone());
    let hooks = Hooks::prepare(env, secrets)?;
    Ok(Prepared { fly, hooks })
}

pub async fn rollback(
    context: &Context<'_>,
    env: &Environment,
    repo: Option<&Repo>,
    args: &RollbackArgs,
    prepared: Prepared,
    notifier: &super::notify::Notifier,
) -> Result<Decision, RunError> {
    let Prepared { fly, hooks } = prepared;
    let ambient = context.ambient;
    // From here a signal no longer ends the process: the rollback settles what it started.
    let mut signals = Signals::listen()?;
    let deployer = Deployer {
        reporter: context.reporter,
        fly: &fly,
        env,
    };
    let mut steps = Steps::new(context.reporter, context.clock.now());
    let now = context.clock.now();
    let subject = super::gather::subject(repo.map(ToString::to_string), Some(env), None, None);
    let decide = |health: HealthFacts, steps: &mut Steps<'_>, report: Report, summary: String| {
        let facts = Facts {
            health,
            ..Facts::nothing_gathered(now, subject.clone(), "not gathered by this command")
        };
        let request = Request::of(gates_of("rollback"));
        let mut decision = steps::decision(
            "rollback",
            &facts,
            &Policy::of(env),
            &request,
            steps,
            report,
        );
        decision.summary = summary;
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
        recovery_target_ms: None,
        recovery_target_met: None,
    };
    let mut report = Report {
        previous: incident.from.clone(),
        ..Report::new(ReportKind::Rollback)
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
    if let rollback::Target::NoSuchVersion(version) = target {
        // A version that does not exist is a typo, not a failed rollback: nothing was changed.
        return Err(RunError::input(
            format!(
                "no release v{version} with an image in the last 25 releases of {}",
                env.app
            ),
            format!(
                "list them with `fly releases --app {}`, or pass --to IMAGE",
                env.app
            ),
        ));
    }
    if image.is_empty() {
        let refused = "no complete release with an image before the current one".to_owned();
        incident.refused = Some(refused.clone());
        report.incident = Some(incident);
        let summary = format!("ROLLBACK REFUSED: {refused}; a human must act");
        let health = HealthFacts::NotMeasured("not run: nothing to roll back to".to_owned());
        return Ok(decide(health, &mut steps, report, summary));
    }

    // Already there (a direct rollback got there first, or a second dispatch): verify, and do not
    // restart every machine again with `--strategy immediate`.
    let running_target = current.is_some_and(|r| {
        r.status == crate::fly::ReleaseStatus::Complete
            && r.image_ref.as_deref() == Some(image.as_str())
    });
    if running_target {
        let running = Expected {
            version: current.and_then(|r| r.version),
            ..rollback_expected(&image)
        };
        let (measured, verdict) = deployer
            .verify_step(&mut steps, &running, now, &mut signals)
            .await;
        if let Some(signal) = signals.which() {
            return Err(RunError::Cancelled {
                message: format!(
                    "cancelled by {signal} while checking {}'s health: nothing was redeployed",
                    env.name
                ),
            });
        }
        if verdict.status <= Status::Pass {
            incident.recovered = true;
            report.deployed = incident.from.clone();
            report.incident = Some(incident);
            let summary = format!(
                "{} already runs {label} and is healthy: nothing redeployed",
                env.name
            );
            return Ok(decide(measured, &mut steps, report, summary));
        }
        steps.note(format!(
            "{} already runs {label} but is not healthy: redeploying it",
            env.name
        ));
    }

    // The Deployment records the rollback; GitHub being unreachable never blocks it.
    let client = match (repo, &ambient.github_token) {
        (Some(repo), Some(_)) => match super::github::client(ambient, repo, budget(env)) {
            Ok(client) => Some((client, repo)),
            Err(error) => {
                context
                    .reporter
                    .warning(&format!("no GitHub Deployment: {error}"));
                None
            }
        },
        _ => {
            steps.note("no GitHub Deployment recorded (no GITHUB_TOKEN or repository)");
            None
        }
    };
    let mut recorder = None;
    if let Some((client, repo)) = &client {
        let t = Instant::now();
        let run_url = ambient.run_url(&repo.to_string());
        let payload = json!({
            "reason": args.reason,
            "actor": ambient.actor,
            "rollback": {"from": incident.from, "to": incident.to},
            "run_url": run_url,
        });
        let description = format!("shipgate rollback to {label}: {}", args.reason);
        recorder = Recorder::rollback(
            client,
            repo,
            context.reporter,
            env,
            &description,
            payload,
            run_url,
        )
        .await;
        if let Some(created) = &recorder {
            report.deployment_id = Some(created.id);
            steps.done(
                "deployment",
                t,
                format!("GitHub Deployment {} in_progress", created.id),
            );
        }
    }

    // Before fly starts, a signal changes nothing more.
    if let Some(signal) = signals.received().now_or_never() {
        if let Some(recorder) = &recorder {
            let text = format!("cancelled by {signal} before fly started; nothing redeployed");
            recorder.set("error", false, &text).await;
        }
        return Err(RunError::Cancelled {
            message: format!("cancelled by {signal} before fly started: nothing was redeployed"),
        });
    }
    // Production is about to change.
    let start = crate::decision::Decision::from_gates("rollback", subject.clone(), now, vec![]);
    notifier.started(context, &start, &args.reason, repo).await;
    let program = fly.program().display().to_string();
    let argv = rollback_args(&program, env, &image);
    let started = Instant::now();
    incident.rollback_triggered = true;
    let deployed = deployer
        .deploy_and_verify(
            &argv,
            &mut steps,
            &format!("redeploy of {label}"),
            rollback_expected(&image),
            now,
            &mut signals,
        )
        .await;
    if let Some(signal) = signals.which() {
        let stage = if deployed.release.is_err() {
            "during the redeploy"
        } else {
            "during the health gate after the redeploy"
        };
        let why = format!("shipgate received {signal} {stage} of {label}");
        let running = format!(
            "{} may run {label}, the release before it, or a mix; not verified healthy",
            env.name
        );
        if let Some(recorder) = &recorder {
            let text = format!("cancelled: {why}; {running}");
            let settled = recorder.set("error", false, &text);
            let _ = tokio::time::timeout(super::deploy::CANCEL_GRACE, settled).await;
        }
        steps.note(format!("cancelled: {why}; {running}"));
        incident.rollback_duration_ms = Some(ms(started.elapsed()));
        report.incident = Some(incident);
        report.kind = ReportKind::Cancelled;
        let summary = format!("CANCELLED: {why}; {running}; a human must check what runs");
        return Ok(decide(deployed.health, &mut steps, report, summary));
    }
    let mut healthy = deployed.healthy();
    let Deployed {
        release,
        health,
        verdict,
    } = deployed;
    // After a verified redeploy: the configured restore. Its failure is a failed rollback.
    let mut restore_failed = None;
    if healthy {
        let values = Values {
            version: release
                .as_ref()
                .ok()
                .and_then(|r| r.as_ref())
                .and_then(|r| r.version),
            previous_version: current.and_then(|r| r.version),
            ..Values::of(env)
        };
        if let Err(failed) = hooks
            .run(
                Hook::OnRollback,
                &env.steps.on_rollback,
                &values,
                &mut steps,
                &mut signals,
            )
            .await
        {
            healthy = false;
            restore_failed = Some(failed.to_string());
        }
    }
    report.deployed = release.ok().map(|emitted| {
        let mut deployed = emitted.unwrap_or_default();
        deployed.image.get_or_insert(image.clone());
        deployed
    });
    incident.rollback_duration_ms = Some(ms(started.elapsed()));
    incident.recovered = healthy;
    // A rollback is asked for when production needs it: recovery runs from the redeploy's start.
    if healthy {
        incident.time_to_recover_ms = incident.rollback_duration_ms;
    }
    if let Some(missed) = incident.judge_recovery(env.rollback.recovery_target) {
        context
            .reporter
            .warning(&format!("recovery target missed: {missed}"));
    }
    if let Some(recorder) = &recorder {
        let (state, text) = match (healthy, &restore_failed) {
            (true, _) => ("success", "rolled back and healthy".to_owned()),
            (false, Some(failed)) => ("failure", format!("rolled back, but {failed}")),
            (false, None) => ("failure", "rollback not verified healthy".to_owned()),
        };
        recorder.set(state, healthy, &text).await;
    }
    report.incident = Some(incident);
    let summary = if healthy {
        format!("rolled back {} to {label}: healthy", env.name)
    } else if let Some(failed) = &restore_failed {
        format!(
            "ROLLBACK FAILED: {} runs {label}, healthy, but {failed}; a human must act",
            env.name
        )
    } else {
        format!(
            "ROLLBACK FAILED: {} is not verified healthy on {label} ({}); a human must act",
            env.name, verdict.summary
        )
    };
    Ok(decide(health, &mut steps, report, summary))
}
