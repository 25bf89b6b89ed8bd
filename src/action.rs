//! `shipgate action`: the container entrypoint of the GitHub Action (`reference/github.md` C).
//!
//! The inputs (`INPUT_<NAME>`, hyphens kept, values untrimmed, `required` not enforced by the
//! runner) are validated here and mapped onto the CLI's own argument vector, which clap then parses
//! exactly as for a terminal: one validated path for CLI and action. The Decision goes to the log
//! (inside `::stop-commands::`, since it carries text from GitHub), to `GITHUB_STEP_SUMMARY`
//! (Markdown, under 1 MiB) and to `GITHUB_OUTPUT` (heredoc form with a random delimiter).
//!
//! The mapping ([`arguments`]) and the file-command formats ([`output_entry`], [`escape_data`])
//! are pure; [`run`] is the edge that reads and writes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::ConfigError;
use crate::decision::Decision;
use crate::env::Ambient;
use crate::run::{Output, RunError};

/// What kind of value an input takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    /// `true` (the config's `checks.wait`), `false` (no wait) or a duration.
    Wait,
    Secret,
}

/// One input of `action.yml`.
#[derive(Debug, Clone, Copy)]
pub struct Input {
    pub name: &'static str,
    /// The default as `action.yml` declares it (the runner fills it in when the input is unset).
    pub default: &'static str,
    pub kind: Kind,
    /// The commands that use it; empty: all.
    pub used_by: &'static [&'static str],
}

/// The commands the `command` input accepts.
pub const COMMANDS: &[&str] = &[
    "plan",
    "checks",
    "window",
    "gate",
    "readiness",
    "deploy",
    "rollback",
    "health",
];

/// Every input of `action.yml`, in its order. A test holds `action.yml`, the README's usage block
/// and this list together.
pub const INPUTS: &[Input] = &[
    Input {
        name: "command",
        default: "",
        kind: Kind::Text,
        used_by: &[],
    },
    Input {
        name: "environment",
        default: "",
        kind: Kind::Text,
        used_by: &[],
    },
    Input {
        name: "ref",
        default: "",
        kind: Kind::Text,
        used_by: &["plan", "checks", "gate", "readiness", "deploy"],
    },
    Input {
        name: "reason",
        default: "",
        kind: Kind::Text,
        used_by: &["window", "deploy", "rollback"],
    },
    Input {
        name: "emergency",
        default: "false",
        kind: Kind::Bool,
        used_by: &["window", "deploy"],
    },
    Input {
        name: "skip-staging",
        default: "false",
        kind: Kind::Bool,
        used_by: &["deploy"],
    },
    Input {
        name: "image",
        default: "",
        kind: Kind::Text,
        used_by: &["deploy"],
    },
    Input {
        name: "to",
        default: "",
        kind: Kind::Text,
        used_by: &["rollback"],
    },
    Input {
        name: "config",
        default: ".github/shipgate.yml",
        kind: Kind::Text,
        used_by: &[],
    },
    Input {
        name: "github-token",
        default: "${{ github.token }}",
        kind: Kind::Secret,
        used_by: &[],
    },
    Input {
        name: "fly-api-token",
        default: "",
        kind: Kind::Secret,
        used_by: &["deploy", "rollback", "health"],
    },
    Input {
        name: "comment",
        default: "false",
        kind: Kind::Bool,
        used_by: &["readiness"],
    },
    Input {
        name: "check-run",
        default: "false",
        kind: Kind::Bool,
        used_by: &["readiness"],
    },
    Input {
        name: "check-name",
        default: "shipgate",
        kind: Kind::Text,
        used_by: &["gate"],
    },
    Input {
        name: "wait",
        default: "true",
        kind: Kind::Wait,
        used_by: &["checks", "gate"],
    },
    Input {
        name: "dry-run",
        default: "false",
        kind: Kind::Bool,
        used_by: &["deploy"],
    },
];

/// The outputs of `action.yml`, in its order.
pub const OUTPUTS: &[&str] = &[
    "outcome",
    "exit-code",
    "sha",
    "previous-version",
    "previous-image",
    "deployed-version",
    "deployed-image",
    "rollback-triggered",
    "rollback-run-url",
    "deployment-id",
    "decision",
];

/// The runner's environment name of an input: spaces to `_`, upper case, hyphens kept.
pub fn env_name(input: &str) -> String {
    format!("INPUT_{}", input.replace(' ', "_").to_uppercase())
}

/// A bad input: exit 2, with an `::error::` naming the input and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub message: String,
    pub hint: String,
}

impl InputError {
    fn new(input: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        InputError {
            input: input.to_owned(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// The inputs as the container received them, by input name.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    values: BTreeMap<String, String>,
}

impl Inputs {
    /// From `INPUT_*` variables: names are matched back to the inputs of [`INPUTS`].
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let by_env: BTreeMap<String, &str> = INPUTS
            .iter()
            .map(|input| (env_name(input.name), input.name))
            .collect();
        let values = vars
            .into_iter()
            .filter_map(|(key, value)| by_env.get(&key).map(|name| ((*name).to_owned(), value)))
            .collect();
        Inputs { values }
    }

    /// An input's value, trimmed (the runner does not trim; a stray space or newline from a YAML
    /// block scalar must not change the meaning). Unset means its default.
    pub fn get(&self, name: &str) -> &str {
        // A default that is an expression (`${{ github.token }}`) is the runner's to fill in.
        self.values.get(name).map_or_else(
            || {
                INPUTS
                    .iter()
                    .find(|i| i.name == name)
                    .map_or("", |i| i.default)
                    .split("${{")
                    .next()
                    .unwrap_or_default()
            },
            |v| v.trim(),
        )
    }

    fn set(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    fn flag(&self, name: &str) -> Result<bool, InputError> {
        match self.get(name) {
            "" => Ok(false),
            text => boolean(text).ok_or_else(|| {
                InputError::new(
                    name,
                    format!(
                        "input `{name}` is `{}`, not a boolean",
                        crate::render::one_line(text)
                    ),
                    format!("set `{name}: 'true'` or `{name}: 'false'`"),
                )
            }),
        }
    }
}

/// The YAML 1.2 core schema's booleans, as the toolkit's `getBooleanInput` accepts them.
fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// The commit of the workflow's event: `pull_request.head.sha` on pull-request events (`GITHUB_SHA`
/// is a merge commit there), else `GITHUB_SHA`.
pub fn event_commit(
    event_name: Option<&str>,
    event: &Value,
    github_sha: Option<&str>,
) -> Option<String> {
    let pull_request_event = matches!(
        event_name,
        Some("pull_request" | "pull_request_target" | "pull_request_review")
    );
    if pull_request_event {
        if let Some(sha) = event
            .pointer("/pull_request/head/sha")
            .and_then(Value::as_str)
        {
            return Some(sha.to_owned());
        }
    }
    github_sha.map(str::to_owned)
}

/// Maps the inputs onto the CLI's argument vector (`shipgate --config C --format text COMMAND
/// ...`). Free text is passed as `--flag=value`, so a value that starts with `-` stays a value.
/// `event_commit` is the event's commit, used by `plan`, `checks` and `deploy` without `ref`.
/// Also returns warnings for inputs that the command does not use.
pub fn arguments(
    inputs: &Inputs,
    event_commit: Option<&str>,
) -> Result<(Vec<OsString>, Vec<String>), InputError> {
    let command = inputs.get("command");
    if command.is_empty() {
        return Err(InputError::new(
            "command",
            "input `command` is missing or empty",
            format!("set `command:` to one of {}", COMMANDS.join(", ")),
        ));
    }
    if !COMMANDS.contains(&command) {
        return Err(InputError::new(
            "command",
            format!(
                "input `command` is `{}`, not a shipgate command",
                crate::render::one_line(command)
            ),
            crate::config::suggest(
                &format!("use one of {}", COMMANDS.join(", ")),
                command,
                COMMANDS,
            ),
        ));
    }
    let mut warnings = Vec::new();
    for input in INPUTS {
        let applies = input.used_by.is_empty() || input.used_by.contains(&command);
        let left_default = inputs.get(input.name) == input.default
            || (input.kind == Kind::Bool && inputs.flag(input.name) == Ok(false));
        if !applies && !left_default {
            warnings.push(format!(
                "input `{}` is not used by `command: {command}`; it is ignored",
                input.name
            ));
        }
    }
    let mut args: Vec<OsString> = vec!["shipgate".into()];
    let config = inputs.get("config");
    if config.is_empty() {
        return Err(InputError::new(
            "config",
            "input `config` is empty",
            "leave it unset for .github/shipgate.yml, or give the config file's path",
        ));
    }
    args.push(format!("--config={config}").into());
    args.push(command.into());
    let mut push = |flag: &str, value: &str| args.push(format!("--{flag}={value}").into());
    let required = |name: &str, why: &str| -> Result<String, InputError> {
        let value = inputs.get(name);
        if value.is_empty() {
            Err(InputError::new(
                name,
                format!("input `{name}` is missing or empty; `command: {command}` needs it"),
                why.to_owned(),
            ))
        } else {
            Ok(value.to_owned())
        }
    };
    let environment_hint = "set `environment:` to an environment of the config, e.g. production";
    let reason_hint = "set `reason:`, e.g. from a workflow_dispatch input: say what ships and why";
    let event_ref = || {
        event_commit.map(str::to_owned).ok_or_else(|| {
            InputError::new(
                "ref",
                "input `ref` is empty and the event names no commit (no GITHUB_SHA)",
                "set `ref:` to a branch, tag or SHA",
            )
        })
    };
    let the_ref = || -> Result<String, InputError> {
        if inputs.set("ref") {
            Ok(inputs.get("ref").to_owned())
        } else {
            event_ref()
        }
    };
    let wait = || -> Result<Option<String>, InputError> {
        match inputs.get("wait") {
            "" => Ok(None),
            text if boolean(text) == Some(true) => Ok(None),
            text if boolean(text) == Some(false) => Ok(Some("0s".to_owned())),
            other => crate::config::duration::parse(other)
                .map(|_| Some(other.to_owned()))
                .map_err(|error| {
                    InputError::new(
                        "wait",
                        format!("input `wait` is `{}`: {error}", crate::render::one_line(other)),
                        "set `wait:` to 'true' (the config's checks.wait), 'false', or a duration such as 90s or 20m",
                    )
                }),
        }
    };
    let environment = inputs.get("environment");
    match command {
        "plan" => {
            push("environment", &required("environment", environment_hint)?);
            push("ref", &the_ref()?);
        }
        "checks" => {
            if !environment.is_empty() {
                push("environment", environment);
            }
            push("ref", &the_ref()?);
            if let Some(wait) = wait()? {
                push("wait", &wait);
            }
        }
        "window" => {
            if !environment.is_empty() {
                push("environment", environment);
            }
            if inputs.flag("emergency")? {
                args.push("--emergency".into());
                args.push(format!("--reason={}", required("reason", reason_hint)?).into());
            }
        }
        "gate" => {
            if inputs.set("ref") {
                push("ref", inputs.get("ref"));
            }
            if !environment.is_empty() {
                push("environment", environment);
            }
            let name = required("check-name", "leave `check-name` unset for `shipgate`")?;
            push("check-name", &name);
            if let Some(wait) = wait()? {
                push("wait", &wait);
            }
        }
        "readiness" => {
            if inputs.set("ref") {
                push("ref", inputs.get("ref"));
            }
            if !environment.is_empty() {
                push("environment", environment);
            }
            if inputs.flag("comment")? {
                args.push("--comment".into());
            }
            if inputs.flag("check-run")? {
                args.push("--check-run".into());
            }
        }
        "health" => {
            push("environment", &required("environment", environment_hint)?);
        }
        "deploy" => {
            push("environment", &required("environment", environment_hint)?);
            push("ref", &the_ref()?);
            push("reason", &required("reason", reason_hint)?);
            let emergency = inputs.flag("emergency")?;
            if emergency {
                args.push("--emergency".into());
            }
            if inputs.flag("skip-staging")? {
                if !emergency {
                    return Err(InputError::new(
                        "skip-staging",
                        "input `skip-staging` is 'true' without `emergency: 'true'`",
                        "skipping staging is an emergency measure: set `emergency: 'true'` and a `reason`",
                    ));
                }
                args.push("--skip-staging".into());
            }
            if inputs.set("image") {
                args.push(format!("--image={}", inputs.get("image")).into());
            }
            if inputs.flag("dry-run")? {
                args.push("--dry-run".into());
            }
        }
        "rollback" => {
            push("environment", &required("environment", environment_hint)?);
            args.push(format!("--reason={}", required("reason", reason_hint)?).into());
            if inputs.set("to") {
                args.push(format!("--to={}", inputs.get("to")).into());
            }
        }
        _ => unreachable!("checked against COMMANDS above"),
    }
    // Every boolean is checked, even the ones this command ignores: a typo must not pass silently.
    for input in INPUTS.iter().filter(|i| i.kind == Kind::Bool) {
        inputs.flag(input.name)?;
    }
    Ok((args, warnings))
}

/// Workflow-command data escaping (`%`, CR, LF), as the toolkit's `escapeData`.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property escaping: data escaping plus `:` and `,`, as the toolkit's `escapeProperty`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One `GITHUB_OUTPUT` entry in the runner's heredoc form, ending with a newline. The delimiter is
/// `ghadelimiter_` + `token`, made longer until it is not in the value.
pub fn output_entry(name: &str, value: &str, token: &str) -> String {
    let mut delimiter = format!("ghadelimiter_{token}");
    while value.contains(&delimiter) {
        delimiter.push('_');
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// The job summary's limit (`CreateStepSummaryCommand.AttachmentSizeLimit`).
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// An output's size budget for the decision JSON: outputs share 1 MB per job.
const DECISION_LIMIT: usize = 512 * 1024;

/// The outputs of a decision, by name, every one of [`OUTPUTS`] present.
pub fn outputs(decision: &Decision) -> BTreeMap<&'static str, String> {
    let report = decision.report.as_ref();
    let incident = report.and_then(|r| r.incident.as_ref());
    let text = |v: Option<String>| v.unwrap_or_default();
    let mut json = serde_json::to_value(decision).unwrap_or(Value::Null);
    let mut decision_json = json.to_string();
    if decision_json.len() > DECISION_LIMIT {
        // Keep the verdicts' summaries; the evidence is in the job summary and the log.
        if let Some(verdicts) = json.get_mut("verdicts").and_then(Value::as_array_mut) {
            for verdict in verdicts {
                verdict["evidence"] = Value::Array(Vec::new());
            }
        }
        json["truncated"] = Value::Bool(true);
        decision_json = json.to_string();
    }
    BTreeMap::from([
        ("outcome", decision.outcome.as_str().to_owned()),
        ("exit-code", decision.exit_code.to_string()),
        ("sha", text(decision.subject.sha.clone())),
        (
            "previous-version",
            text(report.and_then(|r| r.previous.as_ref()?.version.map(|v| v.to_string()))),
        ),
        (
            "previous-image",
            text(report.and_then(|r| r.previous.as_ref()?.image.clone())),
        ),
        (
            "deployed-version",
            text(report.and_then(|r| r.deployed.as_ref()?.version.map(|v| v.to_string()))),
        ),
        (
            "deployed-image",
            text(report.and_then(|r| r.deployed.as_ref()?.image.clone())),
        ),
        (
            "rollback-triggered",
            incident.is_some_and(|i| i.rollback_triggered).to_string(),
        ),
        (
            "rollback-run-url",
            text(incident.and_then(|i| i.rollback_run_url.clone())),
        ),
        (
            "deployment-id",
            text(report.and_then(|r| r.deployment_id.map(|id| id.to_string()))),
        ),
        ("decision", decision_json),
    ])
}

/// The outputs when no decision was reached (bad input, GitHub or Fly unavailable).
pub fn error_outputs(
    outcome: &str,
    exit_code: u8,
    message: &str,
) -> BTreeMap<&'static str, String> {
    let mut outputs: BTreeMap<&'static str, String> =
        OUTPUTS.iter().map(|name| (*name, String::new())).collect();
    outputs.insert("outcome", outcome.to_owned());
    outputs.insert("exit-code", exit_code.to_string());
    outputs.insert("rollback-triggered", "false".to_owned());
    outputs.insert(
        "decision",
        serde_json::json!({
            "schema": crate::decision::SCHEMA,
            "command": "action",
            "outcome": outcome,
            "exit_code": exit_code,
            "summary": message,
        })
        .to_string(),
    );
    outputs
}

/// The files and inputs of a container action step, read once by `env`.
#[derive(Debug, Default)]
pub struct Step {
    pub inputs: Inputs,
    pub output: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    /// `SHIPGATE_WEBHOOK_URL`'s value, to mask.
    pub webhook: Option<crate::secret::Secret>,
}

fn random_token() -> String {
    (0..4)
        .map(|_| format!("{:08x}", fastrand::u32(..)))
        .collect()
}

/// Runs the step and returns the exit code.
pub fn run(step: &Step, ambient: &Ambient, clock: impl Fn() -> DateTime<Utc>) -> u8 {
    let mut out = std::io::stdout().lock();
    let mut ambient = ambient.clone();
    // Masks first, before anything could print a secret.
    let secrets: Vec<crate::secret::Secret> = [
        crate::secret::Secret::new(step.inputs.get("github-token")),
        crate::secret::Secret::new(step.inputs.get("fly-api-token")),
        ambient.github_token.clone(),
        ambient.fly_token.clone(),
        step.webhook.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for secret in &secrets {
        let value = secret.expose();
        let _ = writeln!(out, "::add-mask::{}", escape_data(value));
        // A Fly macaroon token (`FlyV1 a,b`) is also masked part by part.
        if let Some(body) = value.strip_prefix("FlyV1 ") {
            for part in body.split(',').map(str::trim).filter(|p| p.len() >= 16) {
                let _ = writeln!(out, "::add-mask::{}", escape_data(part));
            }
        }
    }
    if let Some(token) = crate::secret::Secret::new(step.inputs.get("github-token")) {
        ambient.github_token = Some(token);
    }
    if let Some(token) = crate::secret::Secret::new(step.inputs.get("fly-api-token")) {
        ambient.fly_token = Some(token);
    }

    // Where the outputs go must be known to work before anything changes.
    let Some(output_path) = &step.output else {
        return fail(
            &mut out,
            None,
            "GITHUB_OUTPUT",
            "GITHUB_OUTPUT is not set: `shipgate action` runs as a step of a GitHub Actions job",
            "run the CLI commands outside Actions (e.g. `shipgate deploy`), or use the action with `uses:`",
        );
    };
    let mut output_file = match std::fs::OpenOptions::new().append(true).open(output_path) {
        Ok(file) => file,
        Err(error) => {
            return fail(
                &mut out,
                None,
                "GITHUB_OUTPUT",
                &format!("cannot write the step outputs to GITHUB_OUTPUT ({}): {error}", output_path.display()),
                "the runner sets GITHUB_OUTPUT to a writable file; check the step's container mounts",
            );
        }
    };

    // The event: the runner always provides one.
    let event = match &ambient.event_path {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(event) => Some(event),
                Err(error) => {
                    return fail(
                        &mut out,
                        Some(&mut output_file),
                        "GITHUB_EVENT_PATH",
                        &format!("the event file {} is not JSON: {error}", path.display()),
                        "GITHUB_EVENT_PATH must name the webhook payload the runner wrote",
                    );
                }
            },
            Err(error) => {
                return fail(
                    &mut out,
                    Some(&mut output_file),
                    "GITHUB_EVENT_PATH",
                    &format!("cannot read the event file {}: {error}", path.display()),
                    "GITHUB_EVENT_PATH must name the webhook payload the runner wrote",
                );
            }
        },
    };
    let commit = event_commit(
        ambient.event_name.as_deref(),
        event.as_ref().unwrap_or(&Value::Null),
        ambient.sha.as_deref(),
    );

    let (argv, warnings) = match arguments(&step.inputs, commit.as_deref()) {
        Ok(parsed) => parsed,
        Err(error) => {
            let message = format!("{}; {}", error.message, error.hint);
            return fail(&mut out, Some(&mut output_file), &error.input, &message, "");
        }
    };
    for warning in &warnings {
        let _ = writeln!(out, "::warning title=shipgate::{}", escape_data(warning));
    }
    let cli = match <crate::cli::Cli as clap::Parser>::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(error) => {
            let text = error.kind().to_string();
            let rendered = error.to_string();
            let first = rendered.lines().next().unwrap_or(&text).to_owned();
            return fail(
                &mut out,
                Some(&mut output_file),
                "inputs",
                &format!(
                    "the inputs do not make a valid command: {}",
                    first.trim_start_matches("error: ")
                ),
                "check the inputs against the action's documentation",
            );
        }
    };

    let command = step.inputs.get("command").to_owned();
    let grouped = !matches!(command.as_str(), "deploy" | "rollback");
    if grouped {
        let _ = writeln!(out, "::group::shipgate {command}");
    }
    let _ = out.flush();
    let result = crate::run::run(&cli, &ambient, clock);
    if grouped {
        let _ = writeln!(out, "::endgroup::");
    }
    let run_url = cli
        .global
        .repo
        .as_deref()
        .and_then(|repo| ambient.run_url(repo));
    match result {
        Ok(Output::Decision(decision)) => {
            // The report carries text from GitHub (check names, PR titles): no workflow commands
            // inside it may take effect.
            let token = random_token();
            let _ = writeln!(out, "::stop-commands::{token}");
            let _ = out.write_all(crate::render::text::render(&decision).as_bytes());
            let _ = writeln!(out, "::{token}::");
            if let Some(summary) = &step.summary {
                let markdown = crate::render::markdown::render(&decision);
                let markdown = crate::render::github::truncate(
                    &markdown,
                    SUMMARY_LIMIT - 1,
                    run_url.as_deref(),
                );
                if let Err(error) = append(summary, &markdown) {
                    let _ = writeln!(
                        out,
                        "::warning title=shipgate::{}",
                        escape_data(&format!("could not write the job summary: {error}"))
                    );
                }
            }
            if let Err(error) = write_outputs(&mut output_file, &outputs(&decision)) {
                let _ = writeln!(
                    out,
                    "::error title=shipgate::{}",
                    escape_data(&format!("could not write the step outputs: {error}"))
                );
            }
            decision.exit_code
        }
        Ok(Output::Text { text, exit_code }) => {
            let _ = out.write_all(text.as_bytes());
            exit_code
        }
        Err(error) => {
            report_error(&mut out, &error);
            let (outcome, code) = match error.exit_code() {
                5 => ("unavailable", 5),
                code => ("invalid", code),
            };
            let _ = write_outputs(
                &mut output_file,
                &error_outputs(outcome, code, &error.to_string()),
            );
            code
        }
    }
}

fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    Ok(())
}

fn write_outputs(
    file: &mut std::fs::File,
    outputs: &BTreeMap<&'static str, String>,
) -> std::io::Result<()> {
    let token = random_token();
    let mut text = String::new();
    for name in OUTPUTS {
        let value = outputs.get(name).map_or("", String::as_str);
        text.push_str(&output_entry(name, value, &token));
    }
    file.write_all(text.as_bytes())
}

/// Bad input before anything ran: an `::error::` naming it, the outputs, exit 2.
fn fail(
    out: &mut impl Write,
    output_file: Option<&mut std::fs::File>,
    input: &str,
    message: &str,
    hint: &str,
) -> u8 {
    let text = if hint.is_empty() {
        message.to_owned()
    } else {
        format!("{message}; {hint}")
    };
    let _ = writeln!(
        out,
        "::error title={}::{}",
        escape_property(&format!("shipgate: {input}")),
        escape_data(&text)
    );
    if let Some(file) = output_file {
        let _ = write_outputs(file, &error_outputs("invalid", 2, &text));
    }
    2
}

/// An error of the run as annotations: config problems at their file and line.
fn report_error(out: &mut impl Write, error: &RunError) {
    match error {
        RunError::Config(ConfigError::Invalid { diagnostics, .. }) => {
            for diagnostic in diagnostics {
                let mut properties = vec![format!(
                    "file={}",
                    escape_property(&diagnostic.file.display().to_string())
                )];
                if let Some(line) = diagnostic.line {
                    properties.push(format!("line={line}"));
                }
                if let Some(column) = diagnostic.column {
                    properties.push(format!("col={column}"));
                }
                properties.push("title=shipgate config".to_owned());
                let _ = writeln!(
                    out,
                    "::error {}::{}",
                    properties.join(","),
                    escape_data(&format!("{}; {}", diagnostic.message, diagnostic.hint))
                );
            }
        }
        RunError::Input { message, hints } | RunError::Unavailable { message, hints } => {
            let _ = writeln!(
                out,
                "::error title=shipgate::{}",
                escape_data(
                    &std::iter::once(message.as_str())
                        .chain(hints.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            );
        }
        RunError::Config(other) => {
            let _ = writeln!(
                out,
                "::error title=shipgate config::{}",
                escape_data(&other.to_string())
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> Inputs {
        Inputs::from_env(
            pairs
                .iter()
                .map(|(name, value)| (env_name(name), (*value).to_owned())),
        )
    }

    fn argv(pairs: &[(&str, &str)], commit: Option<&str>) -> Result<Vec<String>, InputError> {
        arguments(&inputs(pairs), commit).map(|(args, _)| {
            args.into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn input_names_map_as_the_runner_maps_them() {
        assert_eq!(env_name("github-token"), "INPUT_GITHUB-TOKEN");
        assert_eq!(env_name("dry-run"), "INPUT_DRY-RUN");
        let read = Inputs::from_env([
            ("INPUT_DRY-RUN".to_owned(), " true\n".to_owned()),
            ("INPUT_DRY_RUN".to_owned(), "false".to_owned()),
            ("OTHER".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(read.get("dry-run"), "true");
        assert_eq!(read.get("config"), ".github/shipgate.yml");
    }

    #[test]
    fn deploy_maps_onto_the_cli_flags() {
        assert_eq!(
            argv(
                &[
                    ("command", "deploy"),
                    ("environment", "production"),
                    ("reason", "-rf INC-1; $(reboot)"),
                    ("emergency", "True"),
                    ("skip-staging", "TRUE"),
                    ("image", "registry.fly.io/app:v2"),
                    ("dry-run", "true"),
                ],
                Some("abc123")
            )
            .expect("valid"),
            [
                "shipgate",
                "--config=.github/shipgate.yml",
                "deploy",
                "--environment=production",
                "--ref=abc123",
                "--reason=-rf INC-1; $(reboot)",
                "--emergency",
                "--skip-staging",
                "--image=registry.fly.io/app:v2",
                "--dry-run",
            ]
        );
    }

    #[test]
    fn every_command_parses_with_the_cli() {
        let cases: &[&[(&str, &str)]] = &[
            &[("command", "plan"), ("environment", "production")],
            &[("command", "checks"), ("wait", "false")],
            &[("command", "checks"), ("wait", "20m"), ("ref", "main")],
            &[
                ("command", "window"),
                ("emergency", "true"),
                ("reason", "INC-9 outage fix"),
            ],
            &[("command", "gate"), ("check-name", "deploy-gate")],
            &[
                ("command", "readiness"),
                ("comment", "true"),
                ("check-run", "true"),
            ],
            &[("command", "health"), ("environment", "staging")],
            &[
                ("command", "rollback"),
                ("environment", "production"),
                ("reason", "INC-9"),
                ("to", "v41"),
            ],
        ];
        for case in cases {
            let args = arguments(&inputs(case), Some("abc")).expect("valid").0;
            let parsed = <crate::cli::Cli as clap::Parser>::try_parse_from(&args);
            assert!(parsed.is_ok(), "{case:?}: {:?}", parsed.err());
        }
    }

    #[test]
    fn bad_inputs_name_the_input_and_the_fix() {
        let error = |pairs: &[(&str, &str)]| argv(pairs, Some("abc")).expect_err("invalid");
        let missing = error(&[]);
        assert_eq!(missing.input, "command");
        assert!(missing.message.contains("missing or empty"));
        let blank = error(&[("command", "  ")]);
        assert_eq!(blank.input, "command");
        let unknown = error(&[("command", "deploi")]);
        assert!(
            unknown.hint.contains("did you mean `deploy`"),
            "{unknown:?}"
        );
        let boolean = error(&[
            ("command", "deploy"),
            ("environment", "p"),
            ("reason", "r"),
            ("emergency", "yes-please"),
        ]);
        assert_eq!(boolean.input, "emergency");
        assert!(boolean.message.contains("`yes-please`, not a boolean"));
        assert!(boolean.hint.contains("'true'"));
        // A boolean the command does not use is checked too.
        assert_eq!(
            error(&[
                ("command", "plan"),
                ("environment", "p"),
                ("comment", "yes")
            ])
            .input,
            "comment"
        );
        assert_eq!(
            error(&[("command", "deploy"), ("environment", "p")]).input,
            "reason"
        );
        assert_eq!(
            error(&[("command", "deploy"), ("reason", "r")]).input,
            "environment"
        );
        assert_eq!(
            error(&[
                ("command", "deploy"),
                ("environment", "p"),
                ("reason", "r"),
                ("skip-staging", "true")
            ])
            .input,
            "skip-staging"
        );
        assert_eq!(
            error(&[("command", "checks"), ("wait", "forever")]).input,
            "wait"
        );
        assert_eq!(
            argv(&[("command", "checks")], None)
                .expect_err("no commit")
                .input,
            "ref"
        );
    }

    #[test]
    fn inputs_the_command_ignores_are_warned_about() {
        let (_, warnings) = arguments(
            &inputs(&[
                ("command", "plan"),
                ("environment", "p"),
                ("to", "v3"),
                ("dry-run", "false"),
            ]),
            Some("abc"),
        )
        .expect("valid");
        assert_eq!(
            warnings,
            ["input `to` is not used by `command: plan`; it is ignored"]
        );
    }

    #[test]
    fn a_pull_request_event_gates_its_head_not_the_merge_commit() {
        let event = serde_json::json!({"pull_request": {"head": {"sha": "head123"}, "merge_commit_sha": "merge456"}});
        assert_eq!(
            event_commit(Some("pull_request"), &event, Some("merge456")).as_deref(),
            Some("head123")
        );
        assert_eq!(
            event_commit(Some("push"), &event, Some("push789")).as_deref(),
            Some("push789")
        );
    }

    #[test]
    fn outputs_use_the_runners_heredoc_with_a_delimiter_not_in_the_value() {
        assert_eq!(
            output_entry("sha", "abc", "t0"),
            "sha<<ghadelimiter_t0\nabc\nghadelimiter_t0\n"
        );
        let tricky = "a\nghadelimiter_t0\nb";
        let entry = output_entry("decision", tricky, "t0");
        assert!(entry.starts_with("decision<<ghadelimiter_t0_\n"));
        assert!(entry.ends_with("\nghadelimiter_t0_\n"));
        assert_eq!(escape_data("50%\r\nx"), "50%25%0D%0Ax");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn a_decision_without_a_deploy_has_every_output() {
        let decision = Decision::from_gates(
            "plan",
            crate::decision::Subject {
                sha: Some("abc".into()),
                ..Default::default()
            },
            DateTime::<Utc>::UNIX_EPOCH,
            vec![],
        );
        let outputs = outputs(&decision);
        assert_eq!(outputs.len(), OUTPUTS.len());
        assert_eq!(outputs["outcome"], "go");
        assert_eq!(outputs["exit-code"], "0");
        assert_eq!(outputs["sha"], "abc");
        assert_eq!(outputs["rollback-triggered"], "false");
        assert_eq!(outputs["deployed-version"], "");
        let json: Value = serde_json::from_str(&outputs["decision"]).expect("JSON");
        assert_eq!(json["schema"], crate::decision::SCHEMA);
    }
}
