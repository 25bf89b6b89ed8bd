//! The command line: clap derive, argument groups with help headings, env fallbacks. Values are
//! parsed here (times, repository names); meaning is checked against the config in `run`.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use clap::{Args, Parser, Subcommand};

use crate::render::Format;

/// Deploy gate for Fly.io apps shipped from GitHub: required checks, deploy windows,
/// health-gated deploys with automatic rollback.
#[derive(Debug, Parser)]
#[command(
    name = "shipgate",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit codes: 0 go, 1 blocked, 2 invalid input or config, 3 rolled back, 4 rollback failed, 5 GitHub or Fly unavailable, 6 cancelled by a signal."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Config file [default: .github/shipgate.yml]
    #[arg(long, global = true, env = "SHIPGATE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// The GitHub repository
    #[arg(long, global = true, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME", value_parser = parse_repo)]
    pub repo: Option<String>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Print nothing but errors; the exit code tells the outcome
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log more to stderr (-v, -vv)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dry run: evaluate every gate and print what `deploy` would do. Changes nothing
    Plan(PlanArgs),
    /// The required-checks gate alone
    Checks(ChecksArgs),
    /// The deploy-window gate alone, with the rule that decided and the next opening
    Window(WindowArgs),
    /// Branch-protection gate: wait for the required checks of the head commit (excluding
    /// itself), then complete one check run. One required check to rule them all
    Gate(GateArgs),
    /// Readiness of a PR or commit for an environment: checks, window, staging; posts the sticky
    /// PR comment and/or a check run
    Readiness(ReadinessArgs),
    /// The health gate alone, against the live app: rounds of endpoint probes (and Fly machine
    /// state) until it passes, fails, or reaches its deadline
    Health(HealthArgs),
    /// Gates, then Fly deploy, then the health gate, then rollback on failure
    Deploy(DeployArgs),
    /// Redeploy the previous good release (or the one named) and verify its health
    Rollback(RollbackArgs),
    /// Reports: a saved Decision rendered again (`--from-json`), or `report metrics` (delivery
    /// metrics from GitHub Deployments)
    Report(ReportArgs),
    /// Set up a repository: write `.github/shipgate.yml` and the four workflows (deploy to
    /// production and staging, PR readiness, rollback), then say what is left to do
    Init(InitArgs),
    /// Validate the config, print its JSON Schema, or explain it in plain words
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Serve the gates as a GitHub deployment protection rule: webhooks in, answers to GitHub,
    /// holds until a window opens (needs SHIPGATE_WEBHOOK_SECRET and the GitHub App);
    /// `serve manifest` prints the GitHub App's manifest
    Serve(ServeArgs),
    /// The GitHub Action's container entrypoint: reads INPUT_* and GITHUB_*, runs the command
    /// named by the `command` input, writes GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
    Action,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,

    /// The address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,

    /// Where requests, holds and decisions are kept: sqlite://PATH (created when missing) or
    /// postgres://USER@HOST/DB (several replicas on one database)
    #[arg(
        long,
        value_name = "URL",
        env = "SHIPGATE_DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://shipgate-serve.db"
    )]
    pub database_url: String,

    /// Log lines as text or JSON (one object a line)
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Print the GitHub App manifest of the server for GitHub's manifest flow (JSON)
    Manifest(AppManifestArgs),
}

#[derive(Debug, Args)]
pub struct AppManifestArgs {
    /// The server's public base URL (https); GitHub delivers webhooks to URL/webhook
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The app's name, unique on GitHub (at most 34 characters) [default: shipgate-HOST]
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The environment to plan a deploy to
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: String,

    /// Branch, tag or SHA to deploy
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,

    #[command(flatten)]
    pub at: AtArg,

    /// Evaluate only what needs no network; mark the rest "not checked"
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The production Fly app
    #[arg(long, value_name = "APP")]
    pub app: String,

    /// The staging Fly app
    #[arg(long, value_name = "APP")]
    pub staging_app: String,

    /// IANA time zone of the deploy windows (e.g. America/New_York)
    #[arg(long, value_name = "ZONE")]
    pub timezone: String,

    /// Required checks [default: the default branch's, read from GitHub with GITHUB_TOKEN]
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub checks: Option<Vec<String>>,

    /// The repository's root directory
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// Overwrite files that exist
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct AtArg {
    /// Evaluate at this instant instead of now: RFC 3339 (2026-11-27T10:00:00-08:00), or a local
    /// time without an offset (2026-11-27T10:00), read in the config's time zone
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    pub at: Option<At>,
}

/// `--at`: an instant with its offset, or a wall-clock time that the config's time zone places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Instant(DateTime<FixedOffset>),
    /// No offset given: read in the time zone of the deploy windows that apply.
    Local(chrono::NaiveDateTime),
}

fn parse_at(text: &str) -> Result<At, String> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(At::Instant(instant));
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .map(At::Local)
        .ok_or_else(|| {
            format!(
                "`{text}` is not a time; write RFC 3339 with an offset (2026-11-27T10:00:00-08:00, \
                 2026-11-27T18:00:00Z), or a local time (2026-11-27T10:00) read in the config's time zone"
            )
        })
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// Environment whose `checks` block applies [default: the top-level block]
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: Option<String>,

    /// Branch, tag or SHA whose checks to evaluate; resolved to a SHA once
    #[arg(
        long = "ref",
        value_name = "REF",
        required_unless_present = "from_file"
    )]
    pub git_ref: Option<String>,

    /// Wait this long for pending or missing checks (`20m`; `0` = don't) [default: checks.wait]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_flag, conflicts_with = "from_file")]
    pub wait: Option<std::time::Duration>,

    /// Branch whose rulesets and protection apply [default: the ref if it is a branch, else the default branch]
    #[arg(long, value_name = "BRANCH", conflicts_with = "from_file")]
    pub branch: Option<String>,

    /// Evaluate saved GitHub API answers (JSON) instead of asking GitHub
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,

    /// Write GitHub's answers, as read, to FILE in the --from-file format
    #[arg(long, value_name = "FILE", conflicts_with = "from_file")]
    pub save: Option<PathBuf>,
}

/// What to look at: a PR, a ref, or (in Actions) the event's commit.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Pull request number: its head commit, with its base branch's rules
    #[arg(long, value_name = "N", conflicts_with = "git_ref")]
    pub pr: Option<u64>,

    /// Branch, tag or SHA; resolved to a SHA once
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Name of the gate's check run (the one branch protection requires); never waited on
    #[arg(long, value_name = "NAME", default_value = "shipgate")]
    pub check_name: String,

    /// Environment whose `checks` block applies [default: the only one, else the top-level block]
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: Option<String>,

    /// Wait this long for pending or missing checks [default: checks.wait]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_flag)]
    pub wait: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct ReadinessArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// The environment to check readiness for [default: the only one]
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: Option<String>,

    /// Create or update the sticky readiness comment on the PR
    #[arg(long)]
    pub comment: bool,

    /// Post the readiness as a check run on the commit
    #[arg(long)]
    pub check_run: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["environment", "url"])))]
pub struct HealthArgs {
    /// Environment whose `health` block and `url` apply
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: Option<String>,

    /// Probe this URL: with --environment, instead of its `url`; alone, this exact URL expecting 200
    #[arg(long, value_name = "URL", value_parser = parse_http_url)]
    pub url: Option<url::Url>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The environment to deploy to
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: String,

    /// Branch, tag or SHA to deploy; resolved to a SHA once, at the start
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: String,

    /// Why this deploy happens (recorded in the GitHub Deployment)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// Override a closed deploy window; audited and shown everywhere
    #[arg(long)]
    pub emergency: bool,

    /// Do not require the staging deploy (an emergency measure: needs --emergency)
    #[arg(long, requires = "emergency")]
    pub skip_staging: bool,

    /// Deploy this prebuilt image instead of building
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// Evaluate the gates and print the fly commands; write nothing, deploy nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub record: RecordArg,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment to roll back
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: String,

    /// Why (recorded in the GitHub Deployment)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// The release version or image to return to [default: the newest complete release before the current one]
    #[arg(long, value_name = "VERSION|IMAGE")]
    pub to: Option<String>,

    #[command(flatten)]
    pub record: RecordArg,
}

#[derive(Debug, Args)]
pub struct RecordArg {
    /// Write the deploy record to this directory: <date>-<env>-<sha7>.md and .json, even when
    /// the run fails or is blocked (not on --dry-run)
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
}

/// `report`: a saved record rendered again (`--from-json`); a subcommand may sit beside it.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    /// The saved Decision (`shipgate.decision/v1`) to render with --format
    #[arg(long, value_name = "FILE")]
    pub from_json: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<ReportCommand>,
}

#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Environment whose windows apply [default: the top-level block]
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: Option<String>,

    #[command(flatten)]
    pub at: AtArg,

    #[command(flatten)]
    pub emergency: EmergencyArgs,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Emergency override")]
pub struct EmergencyArgs {
    /// Override a closed window; audited and shown everywhere
    #[arg(long, requires = "reason")]
    pub emergency: bool,

    /// Why the override is needed (incident, ticket)
    #[arg(long, value_name = "TEXT", requires = "emergency")]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the config; print every problem as file:line:column with a hint
    Validate,
    /// Print the JSON Schema of the config file
    Schema,
    /// Explain the config in plain words, with the next 7 days of deploy-window openings
    Explain(AtArg),
}

// ---- `shipgate report` ------------------------------------------------------------------------

/// The subcommands of `report`, beside `--from-json`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Delivery metrics of an environment from its GitHub Deployments: deployment frequency, lead
    /// time for changes, change failure rate, time to restore, and the deployment success rate,
    /// against `delivery_targets`
    Metrics(MetricsArgs),
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The environment whose Deployments to measure
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: String,

    /// The period measured, up to now (or --at): `30d`, `2w`, `12h`
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_period)]
    pub since: std::time::Duration,

    /// End the period at this instant instead of now (RFC 3339, or a local time read in the
    /// environment's time zone)
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    pub at: Option<At>,

    /// Keep GitHub's pages (ETags and bodies) in this file: the next run asks conditionally and
    /// unchanged pages are 304s, which cost no rate limit
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
}

/// A period for `--since`: a duration with a unit, weeks allowed (`2w`), at most 366 days.
fn parse_period(text: &str) -> Result<std::time::Duration, String> {
    let hint = "write a period such as 30d, 2w or 12h";
    let trimmed = text.trim();
    let period = match trimmed.strip_suffix('w') {
        Some(weeks) => weeks
            .parse::<u64>()
            .map(|w| std::time::Duration::from_secs(w * 7 * 86_400))
            .map_err(|_| format!("`{trimmed}` is not a number of weeks; {hint}"))?,
        None => crate::config::duration::parse(trimmed).map_err(|e| format!("{e}; {hint}"))?,
    };
    if period.is_zero() {
        return Err(format!("the period must be longer than 0; {hint}"));
    }
    if period > std::time::Duration::from_secs(366 * 86_400) {
        return Err(format!(
            "`{trimmed}` is longer than a year; use at most 366d"
        ));
    }
    Ok(period)
}

fn parse_duration_flag(text: &str) -> Result<std::time::Duration, String> {
    crate::config::duration::parse(text)
        .map_err(|error| format!("{error}; write e.g. 90s, 20m or 1h30m"))
}

fn parse_http_url(text: &str) -> Result<url::Url, String> {
    let hint = "write an http(s) URL such as https://my-app.fly.dev/health";
    let url = url::Url::parse(text).map_err(|e| format!("{e}; {hint}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(hint.to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("remove `user:password@` from the URL".to_owned());
    }
    Ok(url)
}

fn parse_repo(text: &str) -> Result<String, String> {
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match text.split_once('/') {
        Some((owner, name)) if valid(owner) && valid(name) => Ok(text.to_owned()),
        _ => Err("write the repository as OWNER/NAME, e.g. octo-org/hotdash".to_owned()),
    }
}
