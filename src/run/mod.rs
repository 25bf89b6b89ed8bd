//! The sequencer: the only place that orders IO. Each command reads its config and inputs,
//! gathers facts (`gather`), asks the one ordered list of gates (`gate::evaluate`), and acts on
//! the verdicts; what it says while running goes through one `Reporter`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::cli::{At, Cli, Command, ConfigCommand, ReportCommand, ServeArgs, ServeCommand};
use crate::config::{self, Config, ConfigError, Environment};
use crate::decision::{Decision, Outcome};
use crate::env::Ambient;
use crate::render::{self, Format};
use crate::report::{self, Reporter};

mod cancel;
mod decide;
mod delivery;
mod deploy;
mod fly_toml;
mod gather;
mod github;
mod health;
mod hooks;
mod init;
mod notify;
mod progress;
pub mod protect;
pub mod protection;
mod record_file;
mod rollback;
mod watch;

/// A run that could not reach a decision. Each variant knows its outcome, and so its exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{message}")]
    Input { message: String, hints: Vec<String> },
    /// GitHub or Fly could not be reached (after retries) before anything changed: exit 5.
    #[error("{message}")]
    Unavailable { message: String, hints: Vec<String> },
    /// SIGTERM or SIGINT before anything changed: exit 6, nothing to roll back.
    #[error("{message}")]
    Cancelled { message: String },
}

impl RunError {
    fn input(message: impl Into<String>, hint: impl Into<String>) -> Self {
        RunError::Input {
            message: message.into(),
            hints: vec![hint.into()],
        }
    }

    /// Bad input or config is `invalid`; GitHub or Fly out of reach is `unavailable`.
    pub fn outcome(&self) -> Outcome {
        match self {
            RunError::Unavailable { .. } => Outcome::Unavailable,
            RunError::Cancelled { .. } => Outcome::Cancelled,
            RunError::Config(_) | RunError::Input { .. } => Outcome::Invalid,
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.outcome().exit_code()
    }

    /// The hints that go with the message (none for a config error, whose diagnostics carry
    /// their own, or a cancellation).
    pub fn hints(&self) -> &[String] {
        match self {
            RunError::Input { hints, .. } | RunError::Unavailable { hints, .. } => hints,
            RunError::Config(_) | RunError::Cancelled { .. } => &[],
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

/// The run's one wall-clock reading, carried forward by the monotonic clock: every later instant
/// (an incident's time, a check run's completion) is that reading plus the time elapsed.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: DateTime<Utc>,
    started: tokio::time::Instant,
}

impl Clock {
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        Clock {
            wall,
            started: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        chrono::Duration::from_std(self.started.elapsed())
            .ok()
            .and_then(|elapsed| self.wall.checked_add_signed(elapsed))
            .unwrap_or(self.wall)
    }
}

/// [`instant_at`] for an environment: its windows' time zone.
pub fn instant_at_env(
    at: Option<At>,
    env: &crate::config::Environment,
    context: &Context<'_>,
) -> Result<DateTime<Utc>, RunError> {
    instant_at(
        at,
        env.windows.as_ref().map(|w| w.timezone),
        &format!(
            "environment `{}` has no deploy windows to give a time zone",
            env.name
        ),
        context,
    )
}

/// The instant `--at` names, or now. A local time (no offset) is read in `timezone`, the time
/// zone of the deploy windows that apply, and echoed with the offset it got; `whose` says why
/// there is none, for the error.
pub fn instant_at(
    at: Option<At>,
    timezone: Option<chrono_tz::Tz>,
    whose: &str,
    context: &Context<'_>,
) -> Result<DateTime<Utc>, RunError> {
    match at {
        None => Ok(context.clock.now()),
        Some(At::Instant(instant)) => Ok(instant.with_timezone(&Utc)),
        Some(At::Local(local)) => {
            let Some(timezone) = timezone else {
                return Err(RunError::input(
                    format!(
                        "--at {} has no offset, and {whose}",
                        local.format("%Y-%m-%dT%H:%M:%S")
                    ),
                    "write the offset: e.g. 2026-11-27T10:00:00-08:00, or 2026-11-27T18:00:00Z",
                ));
            };
            let instant = crate::time::local_instant(timezone, local.date(), local.time());
            context.reporter.progress(&format!(
                "--at {} read in {timezone}: {}",
                local.format("%Y-%m-%dT%H:%M:%S"),
                instant
                    .with_timezone(&timezone)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
            Ok(instant)
        }
    }
}

/// What every command's IO needs: the ambient values, the reporter, the clock.
pub struct Context<'a> {
    pub ambient: &'a Ambient,
    pub reporter: &'a dyn Reporter,
    pub clock: Clock,
}

/// Runs a command: the reporter follows the ambient (an Actions log or a terminal), and `clock`
/// is read once.
pub fn run(
    cli: &Cli,
    ambient: &Ambient,
    clock: impl Fn() -> DateTime<Utc>,
) -> Result<Output, RunError> {
    let reporter: Box<dyn Reporter> = if ambient.run_id.is_some() {
        Box::new(report::Actions::default())
    } else {
        Box::new(report::Terminal)
    };
    run_with(cli, ambient, reporter.as_ref(), clock())
}

/// Runs a command with this reporter, from this clock reading.
pub fn run_with(
    cli: &Cli,
    ambient: &Ambient,
    reporter: &dyn Reporter,
    now: DateTime<Utc>,
) -> Result<Output, RunError> {
    let context = Context {
        ambient,
        reporter,
        clock: Clock::starting_at(now),
    };
    let config_path = cli
        .global
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH));
    let explicit = cli.global.config.is_some();
    let repo = cli.global.repo.as_deref();
    let decision = |d: Decision| Output::Decision(Box::new(d));
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
            let config = load(&config_path, explicit)?;
            for warning in &config.warnings {
                reporter.warning(&format!("{warning}; {}", warning.hint));
            }
            for env in config.environments.values() {
                fly_toml::check(env)?;
                for warning in env.watch.iter().flat_map(|w| w.warnings(&env.name)) {
                    reporter.warning(&warning);
                }
            }
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
            let config = load(&config_path, explicit)?;
            // The top-level windows' zone, else the one every environment's windows share.
            let mut zones = config
                .windows
                .iter()
                .chain(config.environments.values().filter_map(|e| e.windows.as_ref()))
                .map(|w| w.timezone);
            let first = zones.next();
            let timezone = match config.windows.as_ref() {
                Some(windows) => Some(windows.timezone),
                None => first.filter(|tz| zones.all(|other| other == *tz)),
            };
            let now = instant_at(
                at.at,
                timezone,
                "this config has no one time zone (no top-level `windows`; its environments' differ or have none)",
                &context,
            )?;
            let explain = match cli.global.format {
                Format::Markdown => render::explain::render_markdown,
                Format::Text | Format::Json => render::explain::render,
            };
            let text = explain(
                &config,
                &config_path.display().to_string(),
                now,
                &ambient.fly,
            );
            Ok(Output::Text { text, exit_code: 0 })
        }
        Command::Window(args) => {
            let config = load(&config_path, explicit)?;
            decide::window(&context, &config, args, repo).map(decision)
        }
        Command::Checks(args) => {
            let config = load(&config_path, explicit)?;
            if let Some(path) = &args.from_file {
                return decide::checks_from_file(&config, args, path, repo).map(decision);
            }
            block_on(decide::checks(&context, &config, args, repo)).map(decision)
        }
        Command::Gate(args) => {
            let config = load(&config_path, explicit)?;
            let env = chosen_environment(&config, args.environment.as_deref())?;
            let repo = github::repo(repo)?;
            let event = gather::event_target(ambient);
            block_on(decide::gate(&context, &config, env, &repo, args, event)).map(decision)
        }
        Command::Readiness(args) => {
            let event = gather::event_target(ambient);
            let config = match load(&config_path, explicit) {
                Ok(config) => config,
                // A PR that breaks the config hears about it where it is reviewed.
                Err(RunError::Config(error)) if args.comment => {
                    if let Ok(repo) = github::repo(repo) {
                        let _ = block_on(decide::comment_invalid_config(
                            &context, &repo, args, event, &error,
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
            let repo = github::repo(repo)?;
            block_on(decide::readiness(
                &context, &config, env, &repo, args, event,
            ))
            .map(decision)
        }
        Command::Health(args) => {
            let config = match args.environment {
                Some(_) => Some(load(&config_path, explicit)?),
                None => None,
            };
            let env = match (&config, args.environment.as_deref()) {
                (Some(config), Some(name)) => Some(environment(config, name)?),
                _ => None,
            };
            let measure = health::prepare(&context, env, args.url.as_ref())?;
            block_on(health::health(&context, env, measure)).map(decision)
        }
        Command::Deploy(args) => {
            let config = load(&config_path, explicit)?;
            let env = environment(&config, &args.environment)?;
            // Before the Deployment is created: flyctl would refuse this strategy anyway.
            fly_toml::check(env)?;
            // A dry run without a repository decides what needs none.
            let repo = match (args.dry_run, repo) {
                (true, None) => None,
                (_, repo) => Some(github::repo(repo)?),
            };
            let record = args.record.record.as_deref();
            record.map(record_file::check).transpose()?;
            let prepared = deploy::prepare(&context, env, args)?;
            let notifier = notify::Notifier::prepare(&context, env)?;
            block_on(async {
                let mut decision =
                    deploy::deploy(&context, &config, env, repo.as_ref(), args, prepared, &notifier)
                        .await?;
                who_and_why(&mut decision, ambient, &args.reason);
                if !args.dry_run {
                    notifier
                        .ended(&context, &decision, &args.reason, repo.as_ref())
                        .await;
                }
                Ok(decision)
            })
            .inspect(|d| {
                // `--dry-run` writes nothing.
                if let (Some(dir), false) = (record, args.dry_run) {
                    record_file::write(dir, d, reporter);
                }
            })
            .map(decision)
        }
        Command::Rollback(args) => {
            let config = load(&config_path, explicit)?;
            let env = environment(&config, &args.environment)?;
            let repo = repo.and_then(crate::github::gather::Repo::parse);
            let record = args.record.record.as_deref();
            record.map(record_file::check).transpose()?;
            let prepared = rollback::prepare(&context, env, args)?;
            let notifier = notify::Notifier::prepare(&context, env)?;
            block_on(async {
                let mut decision =
                    rollback::rollback(&context, env, repo.as_ref(), args, prepared, &notifier)
                        .await?;
                who_and_why(&mut decision, ambient, &args.reason);
                notifier
                    .ended(&context, &decision, &args.reason, repo.as_ref())
                    .await;
                Ok(decision)
            })
            .inspect(|d| {
                if let Some(dir) = record {
                    record_file::write(dir, d, reporter);
                }
            })
            .map(decision)
        }
        Command::Plan(args) => {
            let config = load(&config_path, explicit)?;
            let env = environment(&config, &args.environment)?;
            fly_toml::check(env)?;
            block_on(decide::plan(&context, &config, env, args, repo)).map(decision)
        }
        Command::Init(args) => init::init(&context, args, repo),
        Command::Report(args) => match (&args.from_json, &args.command) {
            (Some(path), _) => record_file::report(path, cli.global.format),
            (None, Some(ReportCommand::Metrics(metrics))) => {
                let config = load(&config_path, explicit)?;
                let env = environment(&config, &metrics.environment)?;
                block_on(delivery::metrics(
                    &context,
                    env,
                    repo,
                    metrics,
                    cli.global.format,
                ))
            }
            (None, None) => Err(RunError::input(
                "which report?",
                "pass --from-json FILE (the .json of a deploy record, which --record DIR writes), or run `shipgate report metrics --environment ENV`",
            )),
        },
        Command::Action => Err(RunError::input(
            "`action` is the GitHub Action's entrypoint and runs on its own",
            "run a command instead, e.g. `shipgate deploy`",
        )),
        Command::Serve(ServeArgs {
            command: Some(ServeCommand::Manifest(args)),
            ..
        }) => {
            let base = render::manifest::base_url(&args.url).map_err(|message| {
                RunError::input(message, "pass the server's public address, e.g. --url https://shipgate-gates.fly.dev")
            })?;
            let name = args.name.clone().unwrap_or_else(|| render::manifest::default_name(&base));
            if name.trim().is_empty() || name.chars().count() > render::manifest::MAX_APP_NAME {
                return Err(RunError::input(
                    format!("the app name `{name}` is empty or longer than {} characters", render::manifest::MAX_APP_NAME),
                    "pass a shorter --name",
                ));
            }
            let manifest = render::manifest::app_manifest(&base, &name);
            let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
            Ok(Output::Text { text, exit_code: 0 })
        }
        Command::Serve(_) => Err(RunError::input(
            "`serve` is the protection-rule server and runs on its own",
            "run `shipgate serve` from the command line",
        )),
    }
}

/// Who ran a deploy or rollback and why, in its report (and so in every rendering and record).
fn who_and_why(decision: &mut Decision, ambient: &Ambient, reason: &str) {
    if let Some(report) = decision.report.as_mut() {
        report.actor.clone_from(&ambient.actor);
        report.reason = Some(reason.to_owned());
    }
}

/// The process's one async runtime, single-threaded: shipgate's IO is a few requests and one
/// child process at a time. Each command enters it once.
fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, RunError>>,
) -> Result<T, RunError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Unavailable {
            message: format!("cannot start the async runtime: {e}"),
            hints: Vec::new(),
        })?
        .block_on(future)
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
