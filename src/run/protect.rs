//! The [`Protection`] that answers GitHub's deployment protection rule as the GitHub App: the
//! policy is read from the repository's default branch (a branch cannot weaken it), the facts of
//! the event's SHA are gathered and judged by the same path `deploy` takes (`Session::facts`,
//! then `decide` with `gates_of("protection")`: required checks, window, staging), and the
//! Decision becomes a [`Verdict`] by one pure function, [`verdict_of`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::decide::{decide, gates_of};
use super::gather::{Poll, Session, Target};
use super::protection::{AnswerState, Protection, ProtectionRequest, Verdict};
use super::{Clock, Context, RunError};
use crate::config::{self, ClosedWindow, ConfigError, Environment};
use crate::decision::{Decision, Evidence, GateId, Status};
use crate::env::{
    Ambient, SHIPGATE_APP_ID, SHIPGATE_APP_PRIVATE_KEY, SHIPGATE_APP_PRIVATE_KEY_FILE,
};
use crate::facts::OwnChecks;
use crate::gate::{Policy, Request};
use crate::github::app::{App, AppKey};
use crate::github::client::{Client, RetryPolicy};
use crate::github::gather::{self as github_gather, Repo};
use crate::github::protection::{self as github_protection, File};
use crate::report;
use crate::secret::Secret;

/// Slack on top of `checks.wait` for the requests of the final round.
const FINAL_ROUND_GRACE: Duration = Duration::from_secs(120);

/// The protection rule answered by a GitHub App, from the app's credentials.
pub struct GitHubProtection {
    app: App,
    ambient: Ambient,
    retry: RetryPolicy,
}

impl std::fmt::Debug for GitHubProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubProtection")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl GitHubProtection {
    /// The app named by `SHIPGATE_APP_ID` and `SHIPGATE_APP_PRIVATE_KEY` (or
    /// `SHIPGATE_APP_PRIVATE_KEY_FILE`), at `GITHUB_API_URL`. Must be called inside a tokio
    /// runtime. A missing or unusable credential is an input error naming the variable.
    pub fn from_env(ambient: &Ambient) -> Result<Self, RunError> {
        let app_id = ambient.app_id.as_deref().ok_or_else(|| {
            RunError::input(
                format!("{SHIPGATE_APP_ID} is not set"),
                "set it to the App ID shown on the GitHub App's settings page",
            )
        })?;
        let pem = private_key(ambient)?;
        let key = AppKey::from_pem(app_id, &pem).map_err(|error| {
            let hint = match error {
                crate::github::app::AppKeyError::BadId { .. } => {
                    format!("set {SHIPGATE_APP_ID} to the App ID shown on the GitHub App's settings page")
                }
                crate::github::app::AppKeyError::BadKey { .. } => format!(
                    "set {SHIPGATE_APP_PRIVATE_KEY} (or {SHIPGATE_APP_PRIVATE_KEY_FILE}) to the .pem file GitHub generated for the app"
                ),
            };
            RunError::input(error.to_string(), hint)
        })?;
        Self::new(ambient, key)
    }

    /// The app with this key, at `ambient.api_url`.
    pub fn new(ambient: &Ambient, key: AppKey) -> Result<Self, RunError> {
        let app = App::new(&ambient.api_url, key).map_err(|error| {
            RunError::input(
                error.to_string(),
                "set GITHUB_API_URL to https://api.github.com or https://HOST/api/v3",
            )
        })?;
        Ok(GitHubProtection {
            app,
            // The server acts for many repositories: nothing of a workflow run applies.
            ambient: Ambient {
                api_url: ambient.api_url.clone(),
                fly: ambient.fly.clone(),
                ..Ambient::default()
            },
            retry: RetryPolicy::default(),
        })
    }

    /// Another retry policy for the GitHub reads (tests shorten the delays).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The GitHub App this server authenticates as.
    pub fn app(&self) -> &App {
        &self.app
    }

    async fn client(&self, request: &ProtectionRequest) -> anyhow::Result<(Client, Repo)> {
        let repo = Repo::parse(&request.repo)
            .ok_or_else(|| anyhow::anyhow!("`{}` is not an OWNER/NAME repository", request.repo))?;
        let client = self
            .app
            .client(request.installation_id, self.retry)
            .await
            .map_err(|error| match error.status() {
                Some(404) => anyhow::anyhow!(
                    "{error} (installation {} of app {} is unknown: is the app still installed on {}?)",
                    request.installation_id,
                    self.app.app_id(),
                    request.repo
                ),
                _ => anyhow::Error::new(error),
            })?;
        Ok((client, repo))
    }

    async fn decide(
        &self,
        request: &ProtectionRequest,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Verdict> {
        let (client, repo) = self.client(request).await?;
        let to_error = |error| anyhow::Error::new(super::github::error(error, &repo));
        let default_branch = github_gather::default_branch(&client, &repo)
            .await
            .map_err(to_error)?;
        let policy_file = github_protection::file(
            &client,
            &repo,
            config::DEFAULT_PATH,
            &default_branch,
            config::MAX_BYTES,
        )
        .await
        .map_err(to_error)?;
        let text = match policy_file {
            File::Text(text) => text,
            File::Missing => {
                return Ok(Verdict::Reject {
                    comment: format!(
                        "shipgate rejected: there is no {} on the default branch `{default_branch}`; the policy is read from there only",
                        config::DEFAULT_PATH
                    ),
                })
            }
        };
        let shown = PathBuf::from(format!("{}@{default_branch}", config::DEFAULT_PATH));
        let config = match config::parse(&shown, &text) {
            Ok(config) => config,
            Err(error) => return Ok(invalid_policy(&error)),
        };
        let Some(env) = config.environment(&request.environment) else {
            let names: Vec<&str> = config.environments.keys().map(String::as_str).collect();
            return Ok(Verdict::Reject {
                comment: format!(
                    "shipgate rejected: `{}` is not an environment of {} (it has: {})",
                    request.environment,
                    shown.display(),
                    names.join(", ")
                ),
            });
        };
        let wait = env.checks.wait;
        let client = client.with_deadline(tokio::time::Instant::now() + wait + FINAL_ROUND_GRACE);
        let context = Context {
            ambient: &self.ambient,
            reporter: &report::Log,
            clock: Clock::starting_at(now),
        };
        let session = Session {
            client,
            repo: &repo,
            target: Target {
                sha: request.sha.clone(),
                label: request
                    .git_ref
                    .clone()
                    .unwrap_or_else(|| request.sha.clone()),
                pr: None,
                // The default branch's required checks, as its policy: the event's branch
                // (any branch may target an environment) could require fewer.
                branch: Some(default_branch.clone()),
            },
        };
        let poll = Poll::waiting(wait, env.checks.interval, OwnChecks::default());
        let facts = session
            .facts(&context, Some(env), &env.checks, &poll, Some(&config))
            .await?;
        let decision = decide(
            "protection",
            &facts,
            &Policy::of(env),
            &Request::of(gates_of("protection")),
        );
        Ok(verdict_of(&decision, env))
    }
}

/// The private key from `SHIPGATE_APP_PRIVATE_KEY`, or the file `SHIPGATE_APP_PRIVATE_KEY_FILE`
/// names; one of them, not both.
fn private_key(ambient: &Ambient) -> Result<Secret, RunError> {
    match (&ambient.app_private_key, &ambient.app_private_key_file) {
        (Some(_), Some(_)) => Err(RunError::input(
            format!("both {SHIPGATE_APP_PRIVATE_KEY} and {SHIPGATE_APP_PRIVATE_KEY_FILE} are set"),
            "set one of them: the key itself, or the path of its .pem file",
        )),
        (Some(key), None) => Ok(key.clone()),
        (None, Some(path)) => read_key_file(path),
        (None, None) => Err(RunError::input(
            format!("neither {SHIPGATE_APP_PRIVATE_KEY} nor {SHIPGATE_APP_PRIVATE_KEY_FILE} is set"),
            "set one to the GitHub App's private key (the .pem file GitHub generated), or the path of that file",
        )),
    }
}

/// A PEM file is a few kilobytes; anything much larger is not one.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

fn read_key_file(path: &Path) -> Result<Secret, RunError> {
    let unreadable = |detail: String| {
        RunError::input(
            format!(
                "cannot read {SHIPGATE_APP_PRIVATE_KEY_FILE}={}: {detail}",
                path.display()
            ),
            "point it at the GitHub App's private key, the .pem file GitHub generated",
        )
    };
    let size = std::fs::metadata(path)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if size > MAX_KEY_FILE_BYTES {
        return Err(unreadable(format!(
            "{size} bytes is too large for a private key"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    Secret::new(text).ok_or_else(|| unreadable("the file is empty".to_owned()))
}

impl Protection for GitHubProtection {
    fn evaluate<'a>(
        &'a self,
        request: &'a ProtectionRequest,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, anyhow::Result<Verdict>> {
        Box::pin(self.decide(request, now))
    }

    fn answer<'a>(
        &'a self,
        request: &'a ProtectionRequest,
        state: AnswerState,
        comment: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let (client, repo) = self.client(request).await?;
            github_protection::review_run(
                &client,
                &repo,
                request.run_id,
                &request.environment,
                state.as_str(),
                comment,
            )
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "answering `{}` for run {} of {} failed: {error}",
                    state.as_str(),
                    request.run_id,
                    request.repo
                )
            })
        })
    }
}

/// A policy that does not validate rejects every request: its first problems, located.
fn invalid_policy(error: &ConfigError) -> Verdict {
    let detail = match error {
        ConfigError::Invalid { diagnostics, .. } => {
            let shown: Vec<String> = diagnostics.iter().take(3).map(|d| d.to_string()).collect();
            let more = diagnostics.len().saturating_sub(3);
            let mut text = shown.join("; ");
            if more > 0 {
                text.push_str(&format!("; and {more} more"));
            }
            text
        }
        ConfigError::Read { .. } => error.to_string(),
    };
    Verdict::Reject {
        comment: format!("shipgate rejected: the policy is invalid: {detail}"),
    }
}

/// The answer to a protection rule, from the Decision of its gates: every gate passing (or not
/// applying) approves; a closed window with nothing else failing (checks may still be pending) is
/// held until its next opening when the environment says `closed_window: hold`; anything else
/// rejects, naming the gates that did not pass. Pure.
pub fn verdict_of(decision: &Decision, env: &Environment) -> Verdict {
    let closed_window = env.protection_rule.closed_window;
    let blocking: Vec<&crate::decision::Verdict> = decision
        .verdicts
        .iter()
        .filter(|v| !matches!(v.status, Status::Pass | Status::Skipped))
        .collect();
    let sha = decision
        .subject
        .sha
        .as_deref()
        .map(|sha| sha.chars().take(7).collect::<String>())
        .unwrap_or_default();
    let about = format!("{sha} to {}", env.name);
    let gates = |verdicts: &[&crate::decision::Verdict]| -> String {
        verdicts
            .iter()
            .map(|v| format!("{}: {} ({})", v.gate, v.status.as_str(), v.summary))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let overrides: Vec<String> = decision
        .overrides()
        .map(|(verdict, o)| {
            format!(
                "override of {} by {}: {}",
                verdict.gate,
                o.actor.as_deref().unwrap_or("someone"),
                o.reason
            )
        })
        .collect();
    let with_overrides = |text: String| {
        if overrides.is_empty() {
            text
        } else {
            format!("{text}. {}", overrides.join("; "))
        }
    };
    if blocking.is_empty() {
        let all: Vec<&crate::decision::Verdict> = decision.verdicts.iter().collect();
        return Verdict::Approve {
            comment: with_overrides(format!("shipgate approved {about}: {}", gates(&all))),
        };
    }
    // Held: the window is closed and nothing else failed. Checks still pending are decided at
    // the opening, when the request is evaluated again.
    let closed = blocking
        .iter()
        .find(|v| v.gate == GateId::DeployWindow && v.status == Status::Fail);
    let only_waiting = blocking.iter().all(|v| {
        v.gate == GateId::DeployWindow
            || (v.gate == GateId::RequiredChecks && v.status == Status::Pending)
    });
    if let (Some(window), true, ClosedWindow::Hold) = (closed, only_waiting, closed_window) {
        if let Some(until) = next_opening(window) {
            return Verdict::Hold {
                until,
                comment: format!(
                    "shipgate holds {about} until the window opens: {}",
                    gates(&blocking)
                ),
            };
        }
    }
    let named: Vec<&str> = blocking.iter().map(|v| v.gate.as_str()).collect();
    Verdict::Reject {
        comment: with_overrides(format!(
            "shipgate rejected {about}: {} did not pass. {}",
            named.join(", "),
            gates(&blocking)
        )),
    }
}

/// The next opening a closed window's evidence names.
fn next_opening(verdict: &crate::decision::Verdict) -> Option<DateTime<Utc>> {
    verdict.evidence.iter().find_map(|e| match e {
        Evidence::Window {
            next_opening: Some(when),
            ..
        } => Some(when.utc),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::TimeZone;

    use super::*;
    use crate::decision::{Override, Subject, Verdict as GateVerdict, When};

    const POLICY: &str =
        "version: 1\nenvironments:\n  production:\n    app: web\n    health:\n      machines: true\n";

    fn env(closed_window: &str) -> Environment {
        let text = format!("{POLICY}    protection_rule:\n      closed_window: {closed_window}\n");
        let config = config::parse(Path::new("shipgate.yml"), &text).expect("valid");
        config
            .environment("production")
            .expect("production")
            .clone()
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, hour, 0, 0)
            .single()
            .expect("a time")
    }

    fn decision(verdicts: Vec<GateVerdict>) -> Decision {
        let subject = Subject {
            sha: Some("0123456789abcdef".to_owned()),
            environment: Some("production".to_owned()),
            ..Subject::default()
        };
        Decision::new("protection", subject, at(8), verdicts, None)
    }

    fn pass(gate: GateId, summary: &str) -> GateVerdict {
        GateVerdict::new(gate, Status::Pass, summary)
    }

    fn closed(next: Option<DateTime<Utc>>) -> GateVerdict {
        GateVerdict::new(
            GateId::DeployWindow,
            Status::Fail,
            "closed at Sat 10:00: weekend",
        )
        .with_evidence(vec![Evidence::Window {
            at: When {
                utc: at(8),
                local: "x".to_owned(),
                timezone: "UTC".to_owned(),
            },
            open: false,
            rule: "weekend".to_owned(),
            rule_kind: crate::decision::RuleKind::Deny,
            closes_at: None,
            next_opening: next.map(|utc| When {
                utc,
                local: "x".to_owned(),
                timezone: "UTC".to_owned(),
            }),
            runway: String::new(),
        }])
    }

    #[test]
    fn every_gate_passing_approves_with_each_verdict_in_the_comment() {
        let verdicts = vec![
            pass(GateId::RequiredChecks, "2 of 2 required checks pass"),
            pass(GateId::DeployWindow, "open at Mon 09:00"),
            GateVerdict::new(
                GateId::Staging,
                Status::Skipped,
                "no environment is required first",
            ),
        ];
        let Verdict::Approve { comment } = verdict_of(&decision(verdicts), &env("reject")) else {
            panic!("expected an approval");
        };
        assert!(
            comment.starts_with("shipgate approved 0123456 to production"),
            "{comment}"
        );
        assert!(
            comment.contains("required-checks: pass (2 of 2 required checks pass)"),
            "{comment}"
        );
        assert!(comment.contains("staging: skipped"), "{comment}");
    }

    #[test]
    fn an_override_is_named_in_the_approval() {
        let mut window = pass(GateId::DeployWindow, "open by emergency");
        window.overridden = Some(Override {
            actor: Some("octocat".to_owned()),
            reason: "INC-142 hotfix".to_owned(),
            overrode: Status::Fail,
        });
        let verdicts = vec![pass(GateId::RequiredChecks, "ok"), window];
        let Verdict::Approve { comment } = verdict_of(&decision(verdicts), &env("reject")) else {
            panic!("expected an approval");
        };
        assert!(
            comment.contains("override of deploy-window by octocat: INC-142 hotfix"),
            "{comment}"
        );
    }

    #[test]
    fn a_failing_gate_rejects_naming_it_whatever_the_window_policy() {
        for policy in ["reject", "hold"] {
            let verdicts = vec![
                GateVerdict::new(GateId::RequiredChecks, Status::Fail, "failing: Gitleaks"),
                closed(Some(at(9))),
                GateVerdict::new(GateId::Staging, Status::Fail, "not deployed to staging"),
            ];
            let Verdict::Reject { comment } = verdict_of(&decision(verdicts), &env(policy)) else {
                panic!("expected a rejection with {policy}");
            };
            assert!(
                comment.contains("required-checks, deploy-window, staging did not pass"),
                "{comment}"
            );
            assert!(comment.contains("failing: Gitleaks"), "{comment}");
        }
    }

    #[test]
    fn pending_or_unchecked_gates_never_approve() {
        for status in [Status::Pending, Status::NotChecked] {
            let verdicts = vec![GateVerdict::new(GateId::RequiredChecks, status, "waiting")];
            assert!(
                matches!(
                    verdict_of(&decision(verdicts), &env("hold")),
                    Verdict::Reject { .. }
                ),
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_closed_window_alone_rejects_or_holds_until_the_next_opening() {
        let verdicts = || vec![pass(GateId::RequiredChecks, "ok"), closed(Some(at(9)))];
        let Verdict::Reject { comment } = verdict_of(&decision(verdicts()), &env("reject")) else {
            panic!("expected a rejection");
        };
        assert!(comment.contains("deploy-window did not pass"), "{comment}");
        match verdict_of(&decision(verdicts()), &env("hold")) {
            Verdict::Hold { until, comment } => {
                assert_eq!(until, at(9));
                assert!(comment.contains("until the window opens"), "{comment}");
            }
            other => panic!("expected a hold, got {other:?}"),
        }
        // Checks still pending are decided at the opening; a failing one is not waited for.
        let pending = vec![
            GateVerdict::new(GateId::RequiredChecks, Status::Pending, "waiting: build"),
            closed(Some(at(9))),
        ];
        assert!(matches!(
            verdict_of(&decision(pending.clone()), &env("hold")),
            Verdict::Hold { .. }
        ));
        assert!(matches!(
            verdict_of(&decision(pending), &env("reject")),
            Verdict::Reject { .. }
        ));
        // A window that never opens again cannot be waited for.
        let never = vec![pass(GateId::RequiredChecks, "ok"), closed(None)];
        assert!(matches!(
            verdict_of(&decision(never), &env("hold")),
            Verdict::Reject { .. }
        ));
    }
}
