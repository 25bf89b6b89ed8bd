//! The commands around a deploy (`steps:`): each one's templates filled, run as an argument vector
//! (never a shell) through [`crate::process`], its output streamed through the reporter in a group
//! of its own, masked, timed, and its last lines kept for the report.

use std::path::PathBuf;

use tokio::time::Instant;

use super::cancel::Signals;
use super::progress::{command_line, ms, Steps};
use super::RunError;
use crate::config::placeholder::{substitute, Substitution};
use crate::config::{Environment, Hook, StepCommand};
use crate::decision::{CommandRun, Step};
use crate::process::{self, Masker, ProcessError, Spawn};
use crate::secret::Secret;

/// What a step's `${...}` can name, known when its hook runs.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// The commit deployed (empty in a manual rollback, which does not know it).
    pub sha: String,
    /// The ref the deploy was asked for (empty in a manual rollback).
    pub git_ref: String,
    pub environment: String,
    pub app: String,
    pub url: Option<String>,
    /// The release the hook's deploy made (after `fly deploy`, or the rollback's redeploy).
    pub version: Option<u64>,
    /// The release running before the deploy.
    pub previous_version: Option<u64>,
}

impl Values {
    /// What an environment's steps can name before anything is known of the deploy: its name,
    /// app and url; the rest is filled in as the run learns it.
    pub fn of(env: &Environment) -> Values {
        Values {
            environment: env.name.clone(),
            app: env.app.clone(),
            url: env
                .url
                .as_ref()
                .map(|u| u.as_str().trim_end_matches('/').to_owned()),
            ..Values::default()
        }
    }

    fn lookup(&self, name: &str) -> Result<String, String> {
        let unknown = |what: &str| Err(format!("`${{{name}}}` is not known here: {what}"));
        match name {
            "sha" if self.sha.is_empty() => {
                unknown("a manual rollback does not know which deploy's commit it undoes")
            }
            "ref" if self.git_ref.is_empty() => {
                unknown("a manual rollback does not know which ref was deployed")
            }
            "sha" => Ok(self.sha.clone()),
            "ref" => Ok(self.git_ref.clone()),
            "environment" => Ok(self.environment.clone()),
            "app" => Ok(self.app.clone()),
            "url" => self
                .url
                .clone()
                .map_or_else(|| unknown("the environment has no url"), Ok),
            "version" => self.version.map_or_else(
                || unknown("fly did not report the release it made"),
                |v| Ok(v.to_string()),
            ),
            "previous_version" => self.previous_version.map_or_else(
                || unknown("no release was running before the deploy"),
                |v| Ok(v.to_string()),
            ),
            other => unknown(&format!("`{other}` is not a placeholder")),
        }
    }
}

/// Why a hook stopped: the step, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailure {
    pub hook: Hook,
    pub step: String,
    pub why: String,
}

impl std::fmt::Display for HookFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} step `{}` {}",
            self.hook.as_str(),
            self.step,
            self.why
        )
    }
}

/// Runs the configured commands of an environment, with the secrets they name resolved once,
/// before anything changes.
pub struct Hooks {
    /// `${env.NAME}` values, by name: given to the steps that name them, masked everywhere.
    resolved: Vec<(String, Secret)>,
    masker: Masker,
}

impl Hooks {
    /// Every `${env.NAME}` the environment's steps name must be set: a deploy that would stop at
    /// its migration for want of `DATABASE_URL` does not start (exit 2). `secrets` are shipgate's
    /// own, masked in every step's output too.
    pub fn prepare(env: &Environment, secrets: Vec<Secret>) -> Result<Hooks, RunError> {
        let mut resolved: Vec<(String, Secret)> = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        let all = [
            &env.steps.before_deploy,
            &env.steps.after_deploy,
            &env.steps.on_rollback,
        ];
        for command in all.into_iter().flatten() {
            for value in command.env.values() {
                let _ = substitute(value, |name| {
                    if let Some(variable) = name.strip_prefix("env.") {
                        if resolved.iter().any(|(n, _)| n == variable)
                            || missing.iter().any(|n| n == variable)
                        {
                            return Ok::<_, ()>(String::new());
                        }
                        match crate::env::named(variable).and_then(Secret::new) {
                            Some(value) => resolved.push((variable.to_owned(), value)),
                            None => missing.push(variable.to_owned()),
                        }
                    }
                    Ok(String::new())
                });
            }
        }
        if !missing.is_empty() {
            return Err(RunError::input(
                format!(
                    "the steps of `{}` name {} that {} not set: {}",
                    env.name,
                    if missing.len() == 1 {
                        "a variable"
                    } else {
                        "variables"
                    },
                    if missing.len() == 1 { "is" } else { "are" },
                    missing.join(", ")
                ),
                "set them in the job's `env:` from secrets (e.g. `DATABASE_URL: ${{ secrets.DATABASE_URL }}`); nothing was deployed",
            ));
        }
        let mut masked = secrets;
        masked.extend(resolved.iter().map(|(_, value)| value.clone()));
        Ok(Hooks {
            masker: Masker::new(&masked),
            resolved,
        })
    }

    /// Runs `commands` in order, each step recorded; stops at the first that fails, times out or
    /// is cancelled (`signals.which()` then says by what).
    pub async fn run(
        &self,
        hook: Hook,
        commands: &[StepCommand],
        values: &Values,
        steps: &mut Steps<'_>,
        signals: &mut Signals,
    ) -> Result<(), HookFailure> {
        for command in commands {
            self.run_one(hook, command, values, steps, signals).await?;
        }
        Ok(())
    }

    async fn run_one(
        &self,
        hook: Hook,
        command: &StepCommand,
        values: &Values,
        steps: &mut Steps<'_>,
        signals: &mut Signals,
    ) -> Result<(), HookFailure> {
        let started = Instant::now();
        let failure = |why: String| HookFailure {
            hook,
            step: command.name.clone(),
            why,
        };
        let not_started = |steps: &mut Steps<'_>, why: String| {
            steps.record(Step {
                name: command.name.clone(),
                duration_ms: 0,
                detail: format!("{}: not started: {why}", hook.as_str()),
                started_ms: None,
                rounds: Vec::new(),
                command: Some(CommandRun {
                    hook: hook.as_str(),
                    status: "not_started",
                    exit_code: None,
                    lines: 0,
                    last_lines: Vec::new(),
                }),
            });
            failure(format!("could not start: {why}"))
        };
        let argv: Vec<String> = match command
            .run
            .iter()
            .map(|argument| fill(argument, values, &[]))
            .collect::<Result<_, _>>()
        {
            Ok(argv) => argv,
            Err(why) => return Err(not_started(steps, why)),
        };
        let mut env = Vec::new();
        for (name, template) in &command.env {
            match fill(template, values, &self.resolved) {
                Ok(value) => env.push((name.clone(), value)),
                Err(why) => return Err(not_started(steps, why)),
            }
        }
        let cwd = command.working_directory.as_ref().map(PathBuf::from);
        let reporter = steps.reporter();
        let title = format!(
            "{} step `{}`: {}",
            hook.as_str(),
            command.name,
            command_line(&argv)
        );
        reporter.begin_output(&self.masker.mask(&title));
        let result = process::run(
            Spawn {
                argv: &argv,
                env,
                env_remove: crate::env::WITHHELD_FROM_STEPS
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect(),
                cwd: cwd.as_deref(),
                timeout: command.timeout,
                masker: &self.masker,
                collect: false,
            },
            |line| reporter.output_line(&line.text),
            signals.received(),
        )
        .await;
        reporter.end_output();
        let (status, exit_code, lines, last_lines, why) = match &result {
            Ok(finished) => (
                "succeeded",
                Some(0),
                finished.line_count,
                finished.last_lines.clone(),
                None,
            ),
            Err(error) => {
                let (status, code) = match error {
                    ProcessError::Failed { code, .. } => ("failed", Some(*code)),
                    ProcessError::TimedOut { .. } => ("timed_out", None),
                    ProcessError::Cancelled { .. } => ("cancelled", None),
                    ProcessError::Killed { .. } | ProcessError::Spawn { .. } => ("failed", None),
                };
                let why = match error {
                    ProcessError::Spawn { program, source } => {
                        format!("could not start `{program}`: {source}")
                    }
                    other => {
                        let last = other
                            .last_lines()
                            .iter()
                            .rev()
                            .find(|l| !l.trim().is_empty())
                            .map(|l| format!(": {}", l.trim()))
                            .unwrap_or_default();
                        format!("{}{last}", describe(other, command))
                    }
                };
                (
                    status,
                    code,
                    error.last_lines().len() as u64,
                    error.last_lines().to_vec(),
                    Some(why),
                )
            }
        };
        let detail = match &why {
            None => format!("{}: succeeded", hook.as_str()),
            Some(why) => format!("{}: {why}", hook.as_str()),
        };
        steps.record(Step {
            name: command.name.clone(),
            duration_ms: ms(started.elapsed()),
            detail,
            started_ms: None,
            rounds: Vec::new(),
            command: Some(CommandRun {
                hook: hook.as_str(),
                status,
                exit_code,
                lines,
                last_lines,
            }),
        });
        match why {
            None => Ok(()),
            Some(why) => Err(failure(why)),
        }
    }
}

fn describe(error: &ProcessError, command: &StepCommand) -> String {
    match error {
        ProcessError::Failed { code, .. } => format!("exited with code {code}"),
        ProcessError::TimedOut { .. } => format!(
            "did not finish within {} and was stopped",
            crate::config::duration::Human(command.timeout)
        ),
        ProcessError::Cancelled { signal, .. } => {
            format!("was stopped: shipgate received {signal}")
        }
        ProcessError::Killed { signal, .. } => format!("was killed by signal {signal}"),
        ProcessError::Spawn { program, source } => format!("could not start `{program}`: {source}"),
    }
}

/// One argument or `env` value with its placeholders filled; `${env.NAME}` only from `resolved`.
fn fill(template: &str, values: &Values, resolved: &[(String, Secret)]) -> Result<String, String> {
    substitute(template, |name| match name.strip_prefix("env.") {
        Some(variable) => resolved
            .iter()
            .find(|(n, _)| n == variable)
            .map(|(_, value)| value.expose().to_owned())
            .ok_or_else(|| format!("`${{env.{variable}}}` is not set")),
        None => values.lookup(name),
    })
    .map_err(|error| match error {
        Substitution::Unclosed(text) => format!("unclosed placeholder `{text}`"),
        Substitution::Lookup(why) => why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_single_arguments_and_env_values_only_from_resolved_secrets() {
        let values = Values {
            sha: "3e7a91c4".to_owned(),
            git_ref: "main".to_owned(),
            environment: "production".to_owned(),
            app: "hotdash".to_owned(),
            url: Some("https://hotdash.fly.dev".to_owned()),
            version: None,
            previous_version: Some(41),
        };
        assert_eq!(
            fill("--url=${url}/health?v=${previous_version}", &values, &[]),
            Ok("--url=https://hotdash.fly.dev/health?v=41".to_owned())
        );
        assert!(fill("${version}", &values, &[])
            .expect_err("unknown before the deploy")
            .contains("did not report"));
        let secret = Secret::new("postgres://u:p@db/app").expect("a secret");
        let resolved = vec![("DATABASE_URL".to_owned(), secret)];
        assert_eq!(
            fill("${env.DATABASE_URL}", &values, &resolved),
            Ok("postgres://u:p@db/app".to_owned())
        );
        assert!(fill("${env.OTHER}", &values, &resolved).is_err());
        // A value that looks like a placeholder is never filled twice.
        let values = Values {
            git_ref: "${sha}".to_owned(),
            ..values
        };
        assert_eq!(fill("${ref}", &values, &[]), Ok("${sha}".to_owned()));
    }
}
