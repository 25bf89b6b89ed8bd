//! The only place that sequences IO: read the config and inputs, read the clock once, gather
//! facts, call the pure gates, and hand back a Decision (or an error) for `main` to print.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::cli::{ChecksArgs, Cli, Command, ConfigCommand, PlanArgs, WindowArgs};
use crate::config::{self, Config, ConfigError, Environment};
use crate::decision::{Decision, GateId, Status, Subject, Verdict};
use crate::env::Ambient;
use crate::gate::{checks, window};
use crate::github::saved::SavedChecks;
use crate::render::{self, Format};

mod deploy;
mod health;
mod online;

/// A run that could not reach a decision. Each variant knows its exit code and its hints.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{message}")]
    Input { message: String, hints: Vec<String> },
    /// GitHub or Fly could not be reached (after retries) before anything changed: exit 5.
    #[error("{message}")]
    Unavailable { message: String, hints: Vec<String> },
}

impl RunError {
    fn input(message: impl Into<String>, hint: impl Into<String>) -> Self {
        RunError::Input {
            message: message.into(),
            hints: vec![hint.into()],
        }
    }

    /// Bad input or config: exit 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Unavailable { .. } => 5,
            RunError::Config(_) | RunError::Input { .. } => 2,
        }
    }
}

/// What a command produced: a decision to render, or text to print as is.
#[derive(Debug)]
pub enum Output {
    Decision(Box<Decision>),
    Text { text: String, exit_code: u8 },
}

impl Output {
    pub fn exit_code(&self) -> u8 {
        match self {
            Output::Decision(decision) => decision.exit_code,
            Output::Text { exit_code, .. } => *exit_code,
        }
    }

    pub fn render(&self, format: Format) -> String {
        match self {
            Output::Decision(decision) => render::render(decision, format),
            Output::Text { text, .. } => text.clone(),
        }
    }
}

pub fn run(
    cli: &Cli,
    ambient: &Ambient,
    clock: impl Fn() -> DateTime<Utc>,
) -> Result<Output, RunError> {
    let config_path = cli
        .global
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH));
    match &cli.command {
        Command::Config {
            action: ConfigCommand::Schema,
        } => {
            let text = serde_json::to_string_pretty(&config::schema()).unwrap_or_default() + "\n";
            Ok(Output::Text { text, exit_code: 0 })
        }
        Command::Config {
            action: ConfigCommand::Validate,
        } => {
            let config = load(&config_path, cli.global.config.is_some())?;
            let count = config.environments.len();
            let names: Vec<&str> = config.environments.keys().map(String::as_str).collect();
            let text = format!(
                "{}: valid ({count} environment{}: {})\n",
                config_path.display(),
                if count == 1 { "" } else { "s" },
                names.join(", ")
            );
            Ok(Output::Text { text, exit_code: 0 })
        }
        Command::Config {
            action: ConfigCommand::Explain(at),
        } => {
            let config = load(&config_path, cli.global.config.is_some())?;
            let now = at.at.map_or_else(&clock, |t| t.with_timezone(&Utc));
            let text = render::explain::render(
                &config,
                &config_path.display().to_string(),
                now,
                &ambient.fly,
            );
            Ok(Output::Text { text, exit_code: 0 })
        }
        Command::Window(args) => {
            let config = load(&config_path, cli.global.config.is_some())?;
            window_command(&config, args, cli.global.repo.clone(), ambient, clock)
                .map(|d| Output::Decision(Box::new(d)))
        }
        Command::Checks(args) => {
            let config = load(&config_path, cli.global.config.is_some())?;
            checks_command(&config, args, cli.global.repo.clone(), ambient, clock)
                .map(|d| Output::Decision(Box::new(d)))
        }
        Command::Gate(args) => {
            let config = load(&config_path, cli.global.config.is_some())?;
            let env = chosen_environment(&config, args.environment.as_deref())?;
            let policy = env.map_or(&config.checks, |e| &e.checks);
            let repo = online::repo(cli.global.repo.as_deref())?;
            online::block_on(online::gate(ambient, policy, env, &repo, args, &clock))
                .map(|d| Output::Decision(Box::new(d)))
        }
        Command::Readiness(args) => {
            let config = match load(&config_path, cli.global.config.is_some()) {
                Ok(config) => config,
                // A PR that breaks the config hears about it where it is reviewed.
                Err(RunError::Config(error)) if args.comment => {
                    if let Ok(repo) = online::repo(cli.global.repo.as_deref()) {
                        let _ = online::block_on(online::comment_invalid_config(
                            ambient, &repo, args, &error,
                        ));
                    }
                    return Err(RunError::Config(error));
                }
                Err(error) => return Err(error),
            };
            let env =
                chosen_environment(&config, args.environment.as_deref())?.ok_or_else(|| {
                    let names: Vec<&str> = config.environments.keys().map(String::as_str).collect();
                    RunError::input(
                        "which environment?",
                        format!("pass --environment {}", names.join(" | ")),
                    )
                })?;
            let repo = online::repo(cli.global.repo.as_deref())?;
            online::block_on(online::readiness(ambient, env, &repo, args, &clock))
                .map(|d| Output::Decision(Box::new(d)))
        }
        Command::Health(args) => {
            let config = if args.environment.is_some() {
                Some(load(&config_path, cli.global.config.is_some())?)
            } else {
                None
            };
            let env = match (&config, args.environment.as_deref()) {
                (Some(config), Some(name)) => Some(environment(config, name)?),
                _ => None,
            };
            online::block_on(health::health(ambient, env, args.url.as_ref(), &clock))
                .map(|d| Output::Decision(Box::new(d)))
        }
        Command::Deploy(args) => {
            let config = load(&config_path, cli.global.config.is_some())?;
            let env = environment(&config, &args.environment)?;
            let repo = online::repo(cli.global.repo.as_deref())?;
            let decision =
                online::block_on(deploy::deploy(ambient, &config, env, &repo, args, &clock))?;
            notify(ambient, env, &decision, &args.reason, &repo.to_string());
            Ok(Output::Decision(Box::new(decision)))
        }
        Command::Rollback(args) => {
            let config = load(&config_path, cli.global.config.is_some())?;
            let env = environment(&config, &args.environment)?;
            let repo = cli
                .global
                .repo
                .as_deref()
                .and_then(crate::github::gather::Repo::parse);
            online::block_on(deploy::rollback(ambient, env, repo.as_ref(), args, &clock))
                .map(|d| Output::Decision(Box::new(d)))
        }
        Command::Plan(args) => {
            let config = load(&config_path, cli.global.config.is_some())?;
            plan_command(&config, args, cli.global.repo.clone(), ambient, clock)
                .map(|d| Output::Decision(Box::new(d)))
        }
        Command::Action => Err(RunError::input(
            "`action` is the GitHub Action's entrypoint and runs on its own",
            "run a command instead, e.g. `shipgate deploy`",
        )),
    }
}

fn load(path: &Path, explicit: bool) -> Result<Config, RunError> {
    if !explicit && !path.exists() {
        return Err(RunError::Input {
            message: format!("no config file at {}", path.display()),
            hints: vec![
                "create one: examples/shipgate.yml is a complete example".to_owned(),
                "or point to it with --config PATH (or SHIPGATE_CONFIG)".to_owned(),
            ],
        });
    }
    let config = config::load(path)?;
    tracing::info!(
        path = %path.display(),
        environments = config.environments.len(),
        "config loaded"
    );
    Ok(config)
}

fn environment<'c>(config: &'c Config, name: &str) -> Result<&'c Environment, RunError> {
    config.environment(name).ok_or_else(|| {
        let known: Vec<&str> = config.environments.keys().map(String::as_str).collect();
        RunError::input(
            format!("unknown environment `{name}`"),
            config::suggest("use one defined under `environments`", name, &known),
        )
    })
}

/// With `notify.webhook`, tells the team how the deploy ended. Never fails the deploy.
fn notify(ambient: &Ambient, env: &Environment, decision: &Decision, reason: &str, repo: &str) {
    use crate::decision::Outcome;
    if !env.notify.webhook
        || !matches!(
            decision.outcome,
            Outcome::Deployed | Outcome::RolledBack | Outcome::RollbackFailed
        )
    {
        return;
    }
    let Some(webhook) = &ambient.webhook_url else {
        eprintln!("warning: notify.webhook is on but SHIPGATE_WEBHOOK_URL is not set; no notification sent");
        return;
    };
    let run_url = ambient.run_url(repo);
    let context = render::notify::Context {
        reason,
        actor: ambient.actor.as_deref(),
        run_url: run_url.as_deref(),
    };
    let message = render::notify::message(decision, &context);
    if let Err(error) = online::block_on(async { Ok(crate::notify::post(webhook, &message).await) })
        .unwrap_or_else(|e| Err(e.to_string()))
    {
        eprintln!("warning: the deploy notification was not delivered: {error}");
    }
}

/// `--environment` if given; else the only environment, if there is one; else none (the
/// top-level blocks apply).
fn chosen_environment<'c>(
    config: &'c Config,
    name: Option<&str>,
) -> Result<Option<&'c Environment>, RunError> {
    match name {
        Some(name) => environment(config, name).map(Some),
        None if config.environments.len() == 1 => Ok(config.environments.values().next()),
        None => Ok(None),
    }
}

pub(crate) fn subject(
    repo: Option<String>,
    environment: Option<&Environment>,
    git_ref: Option<String>,
) -> Subject {
    Subject {
        repository: repo,
        environment: environment.map(|e| e.name.clone()),
        app: environment.map(|e| e.app.clone()),
        git_ref,
        sha: None,
    }
}

fn emergency_request(args: &WindowArgs, ambient: &Ambient) -> Option<window::EmergencyRequest> {
    args.emergency.emergency.then(|| window::EmergencyRequest {
        reason: args.emergency.reason.clone().unwrap_or_default(),
        actor: ambient.actor.clone(),
    })
}

fn window_command(
    config: &Config,
    args: &WindowArgs,
    repo: Option<String>,
    ambient: &Ambient,
    clock: impl Fn() -> DateTime<Utc>,
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
    let policy = match env {
        Some(env) => env.windows.as_ref(),
        None => config.windows.as_ref(),
    };
    let request = emergency_request(args, ambient);
    if let (Some(policy), Some(request)) = (policy, &request) {
        window::validate_emergency(policy, request)
            .map_err(|message| RunError::input(message, "say what is broken and link the incident, e.g. --reason \"INC-142: checkout 500s, hotfix a1b2c3\""))?;
    }
    let now = args.at.at.map_or_else(&clock, |t| t.with_timezone(&Utc));
    let verdict = window::evaluate(policy, now, request.as_ref());
    Ok(Decision::from_gates(
        "window",
        subject(repo, env, None),
        now,
        vec![verdict],
    ))
}

fn checks_command(
    config: &Config,
    args: &ChecksArgs,
    repo: Option<String>,
    ambient: &Ambient,
    clock: impl Fn() -> DateTime<Utc>,
) -> Result<Decision, RunError> {
    let env = chosen_environment(config, args.environment.as_deref())?;
    let policy = env.map_or(&config.checks, |e| &e.checks);
    let Some(path) = &args.from_file else {
        let git_ref = args.git_ref.as_deref().unwrap_or_default();
        let request = online::ChecksRequest {
            repo: online::repo(repo.as_deref())?,
            git_ref,
            branch: args.branch.as_deref(),
            wait: args.wait.unwrap_or(policy.wait),
            interval: policy.interval,
        };
        let (verdict, sha, now) =
            online::block_on(online::required_checks(ambient, policy, &request, &clock))?;
        let mut subject = subject(repo, env, Some(git_ref.to_owned()));
        subject.sha = Some(sha);
        return Ok(Decision::from_gates("checks", subject, now, vec![verdict]));
    };
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
    let facts = saved.into_facts();
    // Saved answers are one round: nothing more will arrive, so missing checks fail.
    let verdict = checks::evaluate(policy, &facts, checks::Round::Final);
    let mut subject = subject(repo, env, args.git_ref.clone());
    subject.sha = sha;
    // The answers carry no time of their own; the decision is stamped with the newest one.
    let evaluated_at = facts
        .check_runs
        .iter()
        .filter_map(|r| r.completed_at.or(r.started_at))
        .chain(facts.statuses.iter().filter_map(|s| s.updated_at))
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok(Decision::from_gates(
        "checks",
        subject,
        evaluated_at,
        vec![verdict],
    ))
}

fn plan_command(
    config: &Config,
    args: &PlanArgs,
    repo: Option<String>,
    ambient: &Ambient,
    clock: impl Fn() -> DateTime<Utc>,
) -> Result<Decision, RunError> {
    let env = environment(config, &args.environment)?;
    let now = args.at.at.map_or_else(&clock, |t| t.with_timezone(&Utc));
    let why_offline = if args.offline {
        Some("--offline")
    } else if ambient.github_token.is_none() {
        Some("no GITHUB_TOKEN or GH_TOKEN")
    } else if repo.is_none() {
        Some("no --repo or GITHUB_REPOSITORY")
    } else if args.git_ref.is_none() {
        Some("no --ref")
    } else {
        None
    };
    let mut required = env.checks.required.join(", ");
    if env.checks.from_branch_rules {
        required.push_str(if required.is_empty() {
            "the branch's rulesets and protection"
        } else {
            ", plus the branch's rulesets and protection"
        });
    }
    let mut sha = None;
    let checks_verdict = match (why_offline, args.git_ref.as_deref()) {
        (None, Some(git_ref)) => {
            // A dry run does not wait: it reports the checks as they stand.
            let request = online::ChecksRequest {
                repo: online::repo(repo.as_deref())?,
                git_ref,
                branch: None,
                wait: std::time::Duration::ZERO,
                interval: env.checks.interval,
            };
            let (verdict, resolved, _) = online::block_on(online::required_checks(
                ambient,
                &env.checks,
                &request,
                &clock,
            ))?;
            sha = Some(resolved);
            verdict
        }
        (why, _) => Verdict::new(
            GateId::RequiredChecks,
            Status::NotChecked,
            format!(
                "not checked ({}): would require {required}",
                why.unwrap_or("offline")
            ),
        ),
    };
    let why_offline = why_offline.unwrap_or("offline");
    let mut verdicts = vec![
        checks_verdict,
        window::evaluate(env.windows.as_ref(), now, None),
        Verdict::new(
            GateId::Health,
            Status::Skipped,
            "runs after the deploy; see the plan",
        ),
    ];
    verdicts.push(if env.requires.is_empty() {
        Verdict::new(GateId::Staging, Status::Skipped, "no environment is required first")
    } else if let (Some(sha), Some(repo)) = (&sha, repo.as_deref()) {
        // Online: the deployments are read; the "healthy now" round belongs to `deploy`.
        let repo = online::repo(Some(repo))?;
        let facts = online::block_on(async {
            let client = online::client(ambient, &repo, std::time::Duration::from_secs(60))?;
            online::staging_facts(&client, &repo, sha, &env.requires).await
        })?;
        crate::gate::staging::evaluate(&facts)
    } else {
        Verdict::new(
            GateId::Staging,
            Status::NotChecked,
            format!("not checked ({why_offline}): needs this commit deployed successfully to {} and healthy now", env.requires.join(", ")),
        )
    });
    let mut subject = subject(repo, Some(env), args.git_ref.clone());
    subject.sha = sha;
    let mut decision = Decision::from_gates("plan", subject, now, verdicts);
    decision.plan = Some(crate::plan::deploy_plan(&ambient.fly, env, None));
    Ok(decision)
}
