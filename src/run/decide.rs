//! The commands that decide and change nothing in production: `window`, `checks`, `gate`,
//! `readiness` and `plan`. Each gathers its facts, asks `gate::evaluate`, and differs from the
//! others only in what it gathers and what it does with the verdicts (a check run, a comment).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::gather::{self, EventTarget, Poll, Target};
use super::github::write_warning;
use super::{chosen_environment, Context, RunError};
use crate::cli::{ChecksArgs, GateArgs, PlanArgs, ReadinessArgs, TargetArgs, WindowArgs};
use crate::config::{Config, ConfigError, Environment};
use crate::decision::{Decision, Evidence, GateId};
use crate::facts::{Facts, HealthFacts, OwnChecks, Readable};
use crate::gate::{self, window, EmergencyRequest, Policy, Request};
use crate::github::client::Client;
use crate::github::gather::Repo;
use crate::github::saved::SavedChecks;
use crate::github::write;
use crate::render::github;

/// `window`: the deploy-window gate alone, at `--at` or now.
pub fn window(
    context: &Context<'_>,
    config: &Config,
    args: &WindowArgs,
    repo: Option<&str>,
) -> Result<Decision, RunError> {
    let env = chosen_environment(config, args.environment.as_deref())?;
    if env.is_none() && config.windows.is_none() {
        let with_windows: Vec<&str> = config
            .environments
            .values()
            .filter(|e| e.windows.is_some())
            .map(|e| e.name.as_str())
            .collect();
        if !with_windows.is_empty() {
            return Err(RunError::input(
                "there is no top-level `windows` block, and environments have their own",
                format!("name one: --environment {}", with_windows.join(" | ")),
            ));
        }
    }
    let policy = Policy::chosen(config, env);
    let emergency = args.emergency.emergency.then(|| EmergencyRequest {
        reason: args.emergency.reason.clone().unwrap_or_default(),
        actor: context.ambient.actor.clone(),
    });
    validate_emergency(
        &policy,
        emergency.as_ref(),
        "say what is broken and link the incident, e.g. --reason \"INC-142: checkout 500s, hotfix a1b2c3\"",
    )?;
    let now = super::instant_at(
        args.at.at,
        policy.windows.map(|w| w.timezone),
        "no deploy windows apply here to give a time zone",
        context,
    )?;
    let facts = Facts::nothing_gathered(
        now,
        gather::subject(repo.map(str::to_owned), env, None, None),
        "not gathered by this command",
    );
    let request = Request {
        emergency,
        ..Request::of(gates_of("window"))
    };
    Ok(decide("window", &facts, &policy, &request))
}

/// The parts of an emergency request that are input, not policy: a reason long enough.
pub fn validate_emergency(
    policy: &Policy<'_>,
    emergency: Option<&EmergencyRequest>,
    hint: &str,
) -> Result<(), RunError> {
    if let (Some(windows), Some(request)) = (policy.windows, emergency) {
        window::validate_emergency(windows, request)
            .map_err(|message| RunError::input(message, hint))?;
    }
    Ok(())
}

/// The decision of `command` over `facts`: the gates `request` asks for, in their one order.
pub fn decide(
    command: &'static str,
    facts: &Facts,
    policy: &Policy<'_>,
    request: &Request,
) -> Decision {
    let verdicts = gate::evaluate(facts, policy, request);
    Decision::new(command, facts.subject.clone(), facts.now, verdicts, None)
}

/// `checks --ref`: resolve the ref once, read the required set once, then poll.
pub async fn checks(
    context: &Context<'_>,
    config: &Config,
    args: &ChecksArgs,
    repo: Option<&str>,
) -> Result<Decision, RunError> {
    let env = chosen_environment(config, args.environment.as_deref())?;
    let policy = Policy::chosen(config, env);
    let repo = super::github::repo(repo)?;
    let wait = args.wait.unwrap_or(policy.checks.wait);
    let poll = Poll::waiting(wait, policy.checks.interval, OwnChecks::default());
    let target = TargetArgs {
        pr: None,
        git_ref: args.git_ref.clone(),
    };
    let mut session = gather::session(context, &repo, wait, &target, Ok(None)).await?;
    if let Some(branch) = &args.branch {
        session.target.branch = Some(branch.clone());
    }
    let facts = session
        .facts(context, env, policy.checks, &poll, None)
        .await?;
    if let Some(path) = &args.save {
        save_answers(path, &facts)?;
    }
    Ok(decide(
        "checks",
        &facts,
        &policy,
        &Request::of(gates_of("checks")),
    ))
}

/// `checks --save FILE`: the answers read, in the `--from-file` format.
fn save_answers(path: &Path, facts: &Facts) -> Result<(), RunError> {
    let Readable::Read(checks) = &facts.checks else {
        return Err(RunError::input(
            format!(
                "nothing to save to {}: the checks were not read",
                path.display()
            ),
            "run it again when GitHub answers",
        ));
    };
    let saved = crate::github::saved::encode(facts.subject.sha.as_deref(), checks);
    let text = serde_json::to_string_pretty(&saved).unwrap_or_default() + "\n";
    std::fs::write(path, text).map_err(|error| {
        RunError::input(
            format!("cannot write {}: {error}", path.display()),
            "pass --save a path in a directory that exists and is writable",
        )
    })
}

/// `checks --from-file`: saved GitHub answers are one final round.
pub fn checks_from_file(
    config: &Config,
    args: &ChecksArgs,
    path: &Path,
    repo: Option<&str>,
) -> Result<Decision, RunError> {
    let env = chosen_environment(config, args.environment.as_deref())?;
    let policy = Policy::chosen(config, env);
    let text = std::fs::read_to_string(path).map_err(|error| {
        RunError::input(
            format!("cannot read {}: {error}", path.display()),
            "pass a JSON file of saved GitHub answers (see tests/fixtures/checks/)",
        )
    })?;
    let saved: SavedChecks = serde_json::from_str(&text).map_err(|error| {
        RunError::input(
            {
                let text = error.to_string();
                // serde_json ends its message with " at line L column C"; the location leads instead.
                let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(message, _)| message);
                format!("{}:{}:{}: {message}", path.display(), error.line(), error.column())
            },
            "the file holds GitHub's answers as returned: keys `check_runs`, `status`, `statuses`, `branch_rules`, `branch`, `required_status_checks`, `sha`, `own_check_run_ids`",
        )
    })?;
    let sha = saved.sha.clone();
    let checks = saved.into_facts();
    // The answers carry no time of their own; the decision is stamped with the newest one.
    let evaluated_at = checks
        .check_runs
        .iter()
        .filter_map(|r| r.completed_at.or(r.started_at))
        .chain(checks.statuses.iter().filter_map(|s| s.updated_at))
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let facts = Facts {
        checks: Readable::Read(checks),
        ..Facts::nothing_gathered(
            evaluated_at,
            gather::subject(repo.map(str::to_owned), env, args.git_ref.clone(), sha),
            "not gathered by this command",
        )
    };
    Ok(decide(
        "checks",
        &facts,
        &policy,
        &Request::of(gates_of("checks")),
    ))
}

/// `gate`: one check run that stands for every required check. It is created `in_progress` at
/// once (so branch protection shows it), excludes itself, waits, and completes with the report.
pub async fn gate(
    context: &Context<'_>,
    config: &Config,
    env: Option<&Environment>,
    repo: &Repo,
    args: &GateArgs,
    event: EventTarget,
) -> Result<Decision, RunError> {
    let policy = Policy::chosen(config, env);
    let wait = args.wait.unwrap_or(policy.checks.wait);
    let mut poll = Poll::waiting(wait, policy.checks.interval, OwnChecks::default());
    let session = gather::session(context, repo, wait, &args.target, event).await?;
    let (client, target) = (&session.client, &session.target);
    let run_url = context.ambient.run_url(&repo.to_string());
    let mut notes = Vec::new();
    let check_run = match write::start_check_run(
        client,
        repo,
        &args.check_name,
        &target.sha,
        context.clock.now(),
        run_url.as_deref(),
        "Waiting for the required checks",
    )
    .await
    {
        Ok(id) => Some(id),
        Err(error) => {
            let warning = write_warning("gate check run", &error);
            context.reporter.warning(&warning);
            notes.push(warning);
            None
        }
    };
    poll.own = OwnChecks {
        names: vec![args.check_name.clone()],
        check_run_ids: check_run.into_iter().collect(),
        job: gather::current_job(context.ambient),
    };
    let gathered = session
        .facts(context, env, policy.checks, &poll, None)
        .await;
    let facts = match (gathered, check_run) {
        (Ok(facts), _) => facts,
        (Err(error), Some(id)) => {
            // Never leave the gate in progress: it would block forever without saying why.
            let summary = format!("shipgate could not decide: {error}");
            let title: String = summary.chars().take(200).collect();
            complete_gate(context, client, repo, id, "failure", &title, &summary).await;
            return Err(error);
        }
        (Err(error), None) => return Err(error),
    };
    let mut decision = decide("gate", &facts, &policy, &Request::of(gates_of("gate")));
    if let Some(verdict) = decision.verdicts.first_mut() {
        verdict
            .evidence
            .extend(notes.into_iter().map(|text| Evidence::Note { text }));
    }
    if let Some(id) = check_run {
        let (title, summary) = github::check_run_output(&decision, run_url.as_deref());
        let conclusion = github::check_run_conclusion(decision.outcome);
        complete_gate(context, client, repo, id, conclusion, &title, &summary).await;
    }
    Ok(decision)
}

/// Completes the gate's check run. When that fails the check run stays in progress: branch
/// protection keeps blocking, which is safe, and the run says why.
async fn complete_gate(
    context: &Context<'_>,
    client: &Client,
    repo: &Repo,
    id: u64,
    conclusion: &str,
    title: &str,
    summary: &str,
) {
    let completed = write::complete_check_run(
        client,
        repo,
        id,
        conclusion,
        context.clock.now(),
        title,
        summary,
    )
    .await;
    if let Err(error) = completed {
        context
            .reporter
            .warning(&write_warning("gate check run's result", &error));
    }
}

/// The gates a commit must pass before `deploy` changes anything.
pub const DEPLOY_GATES: &[GateId] = gate::ALL;

/// The gates each command decides: the only thing, besides what they gather and what they do
/// with the verdicts, in which the commands differ.
pub fn gates_of(command: &str) -> &'static [GateId] {
    match command {
        "checks" | "gate" => &[GateId::RequiredChecks],
        "window" => &[GateId::DeployWindow],
        "health" | "rollback" => &[GateId::Health],
        // A deployment protection rule answers before the job starts: GitHub's own reviewers
        // are another rule, and health and watch are judged after a deploy.
        "protection" => &[
            GateId::RequiredChecks,
            GateId::DeployWindow,
            GateId::Staging,
        ],
        // plan, readiness, deploy
        _ => DEPLOY_GATES,
    }
}

/// `readiness`: where a commit stands for an environment, as one Decision; optionally the sticky
/// PR comment and a check run.
pub async fn readiness(
    context: &Context<'_>,
    config: &Config,
    env: &Environment,
    repo: &Repo,
    args: &ReadinessArgs,
    event: EventTarget,
) -> Result<Decision, RunError> {
    let mut poll = Poll::snapshot(env.checks.interval);
    // Its own check run of an earlier readiness is neither required nor "failing" news.
    poll.own.names.push(readiness_check_name(env));
    let session =
        gather::session(context, repo, Duration::from_secs(60), &args.target, event).await?;
    let facts = session
        .facts(context, Some(env), &env.checks, &poll, Some(config))
        .await?;
    let (client, target) = (&session.client, &session.target);
    let decision = decide(
        "readiness",
        &facts,
        &Policy::of(env),
        &Request::of(gates_of("readiness")),
    );
    let run_url = context.ambient.run_url(&repo.to_string());
    if args.comment {
        readiness_comment(
            context,
            client,
            repo,
            env,
            target,
            &decision,
            run_url.as_deref(),
        )
        .await;
    }
    if args.check_run {
        let name = readiness_check_name(env);
        let (title, summary) = github::check_run_output(&decision, run_url.as_deref());
        let conclusion = github::check_run_conclusion(decision.outcome);
        let result = match write::start_check_run(
            client,
            repo,
            &name,
            &target.sha,
            facts.now,
            run_url.as_deref(),
            &title,
        )
        .await
        {
            Ok(id) => {
                write::complete_check_run(
                    client,
                    repo,
                    id,
                    conclusion,
                    context.clock.now(),
                    &title,
                    &summary,
                )
                .await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            context
                .reporter
                .warning(&write_warning("readiness check run", &error));
        }
    }
    Ok(decision)
}

/// The name of the check run `readiness --check-run` writes.
fn readiness_check_name(env: &Environment) -> String {
    format!("shipgate readiness ({})", env.name)
}

/// The sticky readiness comment of the target's pull request.
async fn readiness_comment(
    context: &Context<'_>,
    client: &Client,
    repo: &Repo,
    env: &Environment,
    target: &Target,
    decision: &Decision,
    run_url: Option<&str>,
) {
    let Some(pr) = target.pr else {
        context.reporter.warning(
            "--comment needs a pull request (--pr N, or a pull_request event); no comment written",
        );
        return;
    };
    let key = format!("readiness:{}", env.name);
    let body = github::comment_body(decision, &key, run_url);
    // The comment written while the config was invalid is now out of date.
    sticky_comment(
        context,
        client,
        repo,
        pr,
        &key,
        &body,
        Some(INVALID_CONFIG_KEY),
    )
    .await;
}

/// Whether the token is the workflow's own (an installation token inside an Actions run): it
/// writes as `github-actions[bot]`, and `GET /user` would only refuse it.
fn actions_token(context: &Context<'_>) -> bool {
    context.ambient.run_id.is_some()
        && context
            .ambient
            .github_token
            .as_ref()
            .is_some_and(|token| token.expose().starts_with("ghs_"))
}

/// Writes the sticky comment `key` on `pr` (as the token's user), and removes the one under
/// `replaces` once it is written. A failure is a warning: the decision stands.
async fn sticky_comment(
    context: &Context<'_>,
    client: &Client,
    repo: &Repo,
    pr: u64,
    key: &str,
    body: &str,
    replaces: Option<&str>,
) {
    let result = match write::identity(client, actions_token(context)).await {
        Ok(login) => {
            let upserted =
                write::upsert_comment(client, repo, pr, key, login.as_deref(), body).await;
            if let (Ok(_), Some(old)) = (&upserted, replaces) {
                if let Err(error) =
                    write::delete_comments(client, repo, pr, old, login.as_deref()).await
                {
                    tracing::warn!(%error, "could not remove the replaced comment");
                }
            }
            upserted
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(action) => tracing::info!(?action, "sticky comment"),
        Err(error) => context
            .reporter
            .warning(&write_warning("PR comment", &error)),
    }
}

/// The comment key used when the config is invalid and no `--environment` names the comment.
const INVALID_CONFIG_KEY: &str = "readiness:config";

/// `readiness --comment` when the config cannot be loaded: the comment says what to fix.
pub async fn comment_invalid_config(
    context: &Context<'_>,
    repo: &Repo,
    args: &ReadinessArgs,
    event: EventTarget,
    error: &ConfigError,
) -> Result<(), RunError> {
    let ConfigError::Invalid { diagnostics, .. } = error else {
        return Ok(());
    };
    let session =
        gather::session(context, repo, Duration::from_secs(60), &args.target, event).await?;
    let Some(pr) = session.target.pr else {
        return Ok(());
    };
    let key = format!(
        "readiness:{}",
        args.environment.as_deref().unwrap_or("config")
    );
    let body = github::invalid_config_body(
        &key,
        diagnostics,
        context.ambient.run_url(&repo.to_string()).as_deref(),
    );
    sticky_comment(context, &session.client, repo, pr, &key, &body, None).await;
    Ok(())
}

/// `plan`: every gate as it stands now (checks not waited for), and what `deploy` would run.
/// Offline (or without a token, repository or ref) GitHub's gates are `not checked`.
pub async fn plan(
    context: &Context<'_>,
    config: &Config,
    env: &Environment,
    args: &PlanArgs,
    repo: Option<&str>,
) -> Result<Decision, RunError> {
    let now = super::instant_at_env(args.at.at, env, context)?;
    let why_offline = if args.offline {
        Some("--offline")
    } else if context.ambient.github_token.is_none() {
        Some("no GITHUB_TOKEN or GH_TOKEN")
    } else if repo.is_none() {
        Some("no --repo or GITHUB_REPOSITORY")
    } else if args.git_ref.is_none() {
        Some("no --ref")
    } else {
        None
    };
    let mut facts = match why_offline {
        Some(why) => Facts::nothing_gathered(
            now,
            gather::subject(
                repo.map(str::to_owned),
                Some(env),
                args.git_ref.clone(),
                None,
            ),
            why,
        ),
        None => {
            let repo = super::github::repo(repo)?;
            // A dry run does not wait: it reports the checks as they stand.
            let poll = Poll::waiting(Duration::ZERO, env.checks.interval, OwnChecks::default());
            let target = TargetArgs {
                pr: None,
                git_ref: args.git_ref.clone(),
            };
            let budget = Duration::from_secs(60);
            let session = gather::session(context, &repo, budget, &target, Ok(None)).await?;
            let facts = session
                .facts(context, Some(env), &env.checks, &poll, Some(config))
                .await?;
            Facts { now, ..facts }
        }
    };
    facts.health = HealthFacts::NotMeasured("runs after the deploy; see the plan".to_owned());
    if let Some(watch) = &env.watch {
        for warning in watch.warnings(&env.name) {
            context.reporter.warning(&warning);
        }
        if !args.offline {
            super::watch::check_queries(env, watch, context.reporter).await?;
        }
    }
    let mut decision = decide("plan", &facts, &Policy::of(env), &Request::of(DEPLOY_GATES));
    let mut plan = crate::plan::deploy_plan(&context.ambient.fly, env, None);
    plan.checked = Some(crate::decision::Checked::of(&decision.verdicts));
    decision.plan = Some(plan);
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::decision::Status;
    use crate::facts::checks::{CheckRun, Round};
    use crate::facts::{ChecksFacts, StagingFact};

    const CONFIG: &str = "version: 1
checks:
  required: [build, lint]
  from_branch_rules: false
environments:
  staging:
    app: hotdash-staging
  production:
    app: hotdash-production
    requires: [staging]
    windows:
      timezone: UTC
      allow:
        - days: mon-fri
          hours: 09:00-17:00
";

    fn facts() -> Facts {
        let runs: Vec<CheckRun> = serde_json::from_value(json!([
            {"id": 1, "name": "build", "status": "completed", "conclusion": "success"},
            {"id": 2, "name": "lint", "status": "in_progress"},
        ]))
        .expect("check runs");
        let now = "2026-12-05T10:00:00Z".parse().expect("instant"); // a Saturday
        Facts {
            checks: Readable::Read(ChecksFacts {
                check_runs: runs,
                statuses: Vec::new(),
                rulesets: Readable::NotAsked("test".to_owned()),
                protection: Readable::NotAsked("test".to_owned()),
                own: OwnChecks::default(),
                round: Round::Final,
                lists_complete: true,
            }),
            staging: Readable::Read(vec![StagingFact {
                environment: "staging".to_owned(),
                deployment: Some((7, Some("success".to_owned()))),
            }]),
            ..Facts::nothing_gathered(now, Default::default(), "test")
        }
    }

    #[test]
    fn the_same_facts_give_every_command_the_same_verdicts() {
        let config = crate::config::parse(Path::new("shipgate.yml"), CONFIG).expect("valid");
        let env = config.environment("production").expect("production");
        let policy = Policy::of(env);
        let facts = facts();
        let commands = [
            "plan",
            "readiness",
            "deploy",
            "checks",
            "gate",
            "window",
            "protection",
        ];
        let mut by_gate: std::collections::BTreeMap<GateId, Vec<(&str, crate::decision::Verdict)>> =
            Default::default();
        for command in commands {
            let verdicts = gate::evaluate(&facts, &policy, &Request::of(gates_of(command)));
            assert_eq!(verdicts.len(), gates_of(command).len(), "{command}");
            for verdict in verdicts {
                by_gate
                    .entry(verdict.gate)
                    .or_default()
                    .push((command, verdict));
            }
        }
        for (gate, verdicts) in &by_gate {
            let (first_command, first) = &verdicts[0];
            for (command, verdict) in verdicts {
                assert_eq!(verdict, first, "{gate}: {command} vs {first_command}");
            }
        }
        // The verdicts are the facts' own: lint is still running at the final look, the window
        // is closed on a Saturday, staging got the commit.
        assert_eq!(by_gate[&GateId::RequiredChecks].len(), 6);
        assert_eq!(
            by_gate[&GateId::RequiredChecks][0].1.status,
            Status::Pending
        );
        assert_eq!(by_gate[&GateId::DeployWindow][0].1.status, Status::Fail);
        assert_eq!(by_gate[&GateId::Staging][0].1.status, Status::Pass);
        assert_eq!(by_gate[&GateId::Health][0].1.status, Status::Skipped);
    }

    #[test]
    fn overrides_apply_inside_their_gates() {
        let config = crate::config::parse(Path::new("shipgate.yml"), CONFIG).expect("valid");
        let env = config.environment("production").expect("production");
        let mut facts = facts();
        facts.staging = Readable::Read(vec![StagingFact {
            environment: "staging".to_owned(),
            deployment: None,
        }]);
        let plain = gate::evaluate(&facts, &Policy::of(env), &Request::of(DEPLOY_GATES));
        let emergency = Request {
            emergency: Some(EmergencyRequest {
                reason: "INC-9: checkout down, hotfix".to_owned(),
                actor: Some("octocat".to_owned()),
            }),
            skip_staging: true,
            ..Request::of(DEPLOY_GATES)
        };
        let overridden = gate::evaluate(&facts, &Policy::of(env), &emergency);
        assert_eq!(plain[2].status, Status::Fail);
        assert_eq!(overridden[2].status, Status::Pass);
        let by = overridden[2]
            .overridden
            .as_ref()
            .expect("override recorded");
        assert_eq!(by.overrode, Status::Fail);
        assert_eq!(by.actor.as_deref(), Some("octocat"));
        // The checks are untouched by an emergency.
        assert_eq!(plain[0], overridden[0]);
    }
}
