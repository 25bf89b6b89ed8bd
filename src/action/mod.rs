//! `shipgate action`: the container entrypoint of the GitHub Action (GitHub's container action contract).
//!
//! The inputs (`INPUT_<NAME>`, hyphens kept, values untrimmed, `required` not enforced by the
//! runner) are validated here and mapped onto the CLI's own argument vector, which clap then parses
//! exactly as for a terminal: one validated path for CLI and action. The Decision goes to the log
//! (inside `::stop-commands::`, since it carries text from GitHub), to `GITHUB_STEP_SUMMARY`
//! (Markdown, under 1 MiB) and to `GITHUB_OUTPUT` (heredoc form with a random delimiter).
//!
//! The mapping (`inputs`), the outputs and annotations (`render::outputs`,
//! `render::annotations`) and the file formats (`files`) are pure; [`run`] is the edge that reads
//! and writes.

mod files;
pub mod inputs;

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::ConfigError;
use crate::env::{Ambient, StepEnv};
use crate::render::annotations;
pub use crate::render::outputs::OUTPUTS;
use crate::render::outputs::{error_outputs, outputs};
use crate::run::{Output, RunError};
use crate::workflow_command::{self, command, random_token};
use files::{append, write_outputs, SUMMARY_LIMIT};
pub use inputs::{arguments, event_commit, Inputs, INPUTS};

/// The files and inputs of a container action step, read once by `env`.
#[derive(Debug, Default)]
pub struct Step {
    pub inputs: Inputs,
    pub output: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    /// `SHIPGATE_WEBHOOK_URL`'s value, to mask.
    pub webhook: Option<crate::secret::Secret>,
}

impl From<StepEnv> for Step {
    fn from(env: StepEnv) -> Self {
        Step {
            inputs: Inputs::from_env(env.vars),
            output: env.output,
            summary: env.summary,
            webhook: env.webhook,
        }
    }
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
        let _ = writeln!(out, "{}", command("add-mask", &[], value));
        // A Fly macaroon token (`FlyV1 a,b`) is also masked part by part.
        if let Some(body) = value.strip_prefix("FlyV1 ") {
            for part in body.split(',').map(str::trim).filter(|p| p.len() >= 16) {
                let _ = writeln!(out, "{}", command("add-mask", &[], part));
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
        let _ = writeln!(out, "{}", annotations::warning("shipgate", warning));
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

    let name = step.inputs.get("command").to_owned();
    let grouped = !matches!(name.as_str(), "deploy" | "rollback");
    if grouped {
        let _ = writeln!(
            out,
            "{}",
            command("group", &[], &format!("shipgate {name}"))
        );
    }
    let _ = out.flush();
    let result = crate::run::run(&cli, &ambient, clock);
    if grouped {
        let _ = writeln!(out, "{}", command("endgroup", &[], ""));
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
            let _ = writeln!(out, "{}", workflow_command::stop_commands(&token));
            let _ = out.write_all(crate::render::text::render(&decision).as_bytes());
            let _ = writeln!(out, "{}", workflow_command::resume_commands(&token));
            if let Some(summary) = &step.summary {
                let markdown = crate::render::markdown::render(&decision);
                let markdown = crate::render::github::truncate(
                    &markdown,
                    SUMMARY_LIMIT - 1,
                    run_url.as_deref(),
                );
                if let Err(error) = append(summary, &markdown) {
                    let text = format!("could not write the job summary: {error}");
                    let _ = writeln!(out, "{}", annotations::warning("shipgate", &text));
                }
            }
            if let Err(error) = write_outputs(&mut output_file, &outputs(&decision)) {
                let text = format!("could not write the step outputs: {error}");
                let _ = writeln!(out, "{}", annotations::error("shipgate", &text));
            }
            decision.exit_code
        }
        Ok(Output::Text { text, exit_code }) => {
            let _ = out.write_all(text.as_bytes());
            exit_code
        }
        Err(error) => {
            report_error(&mut out, &error);
            let outcome = error.outcome();
            let (outcome, code) = (outcome.as_str(), outcome.exit_code());
            let _ = write_outputs(
                &mut output_file,
                &error_outputs(outcome, code, &error.to_string()),
            );
            code
        }
    }
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
        "{}",
        annotations::error(&format!("shipgate: {input}"), &text)
    );
    if let Some(file) = output_file {
        let _ = write_outputs(file, &error_outputs("invalid", 2, &text));
    }
    2
}

/// An error of the run as annotations: config problems at their file and line.
fn report_error(out: &mut impl Write, error: &RunError) {
    let lines = match error {
        RunError::Config(ConfigError::Invalid { diagnostics, .. }) => {
            annotations::config_problems(diagnostics)
        }
        RunError::Input { message, hints } | RunError::Unavailable { message, hints } => {
            let text = std::iter::once(message.as_str())
                .chain(hints.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("; ");
            vec![annotations::error("shipgate", &text)]
        }
        RunError::Config(other) => vec![annotations::error("shipgate config", &other.to_string())],
        RunError::Cancelled { message } => vec![annotations::error("shipgate", message)],
    };
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}
