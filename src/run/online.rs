//! The commands' GitHub side: gather facts, poll, and hand them to the pure gates. Sequencing
//! only; what passes is decided in `gate/`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RunError;
use crate::cli::{GateArgs, ReadinessArgs, TargetArgs};
use crate::config::duration::Human;
use crate::config::{ChecksPolicy, ConfigError, Environment};
use crate::decision::{CheckState, Evidence, Status, Verdict};
use crate::decision::{Decision, GateId, Outcome};
use crate::env::Ambient;
use crate::facts::{ChecksFacts, CurrentJob, OwnChecks, Readable};
use crate::gate::checks::{self, Round};
use crate::github::client::{Client, GitHubError, RetryPolicy};
use crate::github::gather::{self, Repo};
use crate::github::model::RequiredContext;
use crate::github::write;
use crate::render::github;

/// Runs `future` on a single-threaded runtime: shipgate's IO is a few sequential requests.
pub fn block_on<T>(
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

pub fn repo(repo: Option<&str>) -> Result<Repo, RunError> {
    repo.and_then(Repo::parse).ok_or_else(|| RunError::Input {
        message: "no repository to ask GitHub about".to_owned(),
        hints: vec![
            "pass --repo OWNER/NAME, or set GITHUB_REPOSITORY (the Action sets it)".to_owned(),
        ],
    })
}

/// What a GitHub failure means for the user, and its exit code.
pub fn github_error(error: GitHubError, repo: &Repo) -> RunError {
    let input = |message: String, hint: &str| RunError::Input {
        message,
        hints: vec![hint.to_owned()],
    };
    match error.status() {
        Some(401) => input(error.to_string(), "check GITHUB_TOKEN (or GH_TOKEN): GitHub did not accept it"),
        Some(403) => input(
            error.to_string(),
            "the token may not read this; it needs `checks: read`, `statuses: read` and `contents: read` (and `pull-requests: read` for --pr)",
        ),
        Some(404) => input(error.to_string(), &format!("check that {repo} exists and that the token can see it (private repositories need a token)")),
        Some(422) => input(error.to_string(), "check --ref: it names no commit in this repository"),
        Some(status) if status >= 500 || status == 408 || status == 429 => RunError::Unavailable {
            message: error.to_string(),
            hints: vec!["GitHub answered with an error after retries; try again, or see https://www.githubstatus.com".to_owned()],
        },
        Some(_) => input(error.to_string(), "GitHub refused the request as it stands; retrying will not help"),
        None => match error {
            GitHubError::BadUrl { .. } => input(error.to_string(), "set GITHUB_API_URL to https://api.github.com or https://HOST/api/v3"),
            _ => RunError::Unavailable { message: error.to_string(), hints: vec!["nothing was changed; run it again when GitHub answers".to_owned()] },
        },
    }
}

pub struct ChecksRequest<'a> {
    pub repo: Repo,
    pub git_ref: &'a str,
    pub branch: Option<&'a str>,
    pub wait: Duration,
    pub interval: Duration,
}

/// Slack on top of `wait` for the requests of the final round.
const FINAL_ROUND_GRACE: Duration = Duration::from_secs(120);

pub fn client(ambient: &Ambient, repo: &Repo, budget: Duration) -> Result<Client, RunError> {
    Ok(Client::new(
        &ambient.api_url,
        ambient.github_token.as_ref(),
        RetryPolicy::default(),
    )
    .map_err(|e| github_error(e, repo))?
    .with_deadline(tokio::time::Instant::now() + budget + FINAL_ROUND_GRACE))
}

/// Resolves the ref once, reads the required set once, then polls: `checks --ref`.
pub async fn required_checks(
    ambient: &Ambient,
    policy: &ChecksPolicy,
    request: &ChecksRequest<'_>,
    clock: &impl Fn() -> DateTime<Utc>,
) -> Result<(Verdict, String, DateTime<Utc>), RunError> {
    let repo = &request.repo;
    let started = tokio::time::Instant::now();
    let client = client(ambient, repo, request.wait)?;
    let fail = |e: GitHubError| github_error(e, repo);
    let sha = gather::resolve_ref(&client, repo, request.git_ref)
        .await
        .map_err(fail)?;
    let branch = match request.branch {
        Some(name) => Some(name.to_owned()),
        None if request.git_ref != sha => {
            Some(request.git_ref.trim_start_matches("refs/heads/").to_owned())
        }
        None => None,
    };
    let rules = required_rules(&client, repo, policy, branch.as_deref()).await?;
    let poll = Poll {
        started,
        wait: request.wait,
        interval: request.interval,
        own: OwnChecks::default(),
        snapshot: false,
    };
    let verdict = poll_checks(&client, repo, policy, &sha, &rules, &poll).await?;
    Ok((verdict, sha, clock()))
}

/// The required sets of the target branch: its rulesets and its classic protection. A branch
/// name that is not a branch (a tag, a SHA) falls back to the default branch.
pub async fn required_rules(
    client: &Client,
    repo: &Repo,
    policy: &ChecksPolicy,
    branch: Option<&str>,
) -> Result<Rules, RunError> {
    if !policy.from_branch_rules {
        let skipped = || Readable::NotAsked("`from_branch_rules: false`".to_owned());
        return Ok(Rules {
            rulesets: skipped(),
            protection: skipped(),
        });
    }
    let fail = |e: GitHubError| github_error(e, repo);
    let mut found = match branch {
        Some(name) => gather::branch(client, repo, name).await.map_err(fail)?,
        None => None,
    };
    if found.is_none() {
        let default = gather::default_branch(client, repo).await.map_err(fail)?;
        found = gather::branch(client, repo, &default).await.map_err(fail)?;
        if found.is_none() {
            return Ok(Rules {
                rulesets: gather::ruleset_checks(client, repo, &default)
                    .await
                    .map_err(fail)?,
                protection: Readable::Unknown(format!(
                    "the default branch `{default}` was not found"
                )),
            });
        }
    }
    let branch = found.as_ref().map(|b| b.name.clone()).unwrap_or_default();
    tracing::info!(%branch, "reading the branch's required checks");
    Ok(Rules {
        rulesets: gather::ruleset_checks(client, repo, &branch)
            .await
            .map_err(fail)?,
        protection: gather::protection_checks(client, repo, found.as_ref())
            .await
            .map_err(fail)?,
    })
}

#[derive(Debug, Clone)]
pub struct Rules {
    pub rulesets: Readable<Vec<RequiredContext>>,
    pub protection: Readable<Vec<RequiredContext>>,
}

pub struct Poll {
    /// When the command began: `wait` counts from here, not from the first poll.
    pub started: tokio::time::Instant,
    pub wait: Duration,
    pub interval: Duration,
    pub own: OwnChecks,
    /// One look, no waiting, and a missing check reads as "not yet" (readiness of an open PR).
    pub snapshot: bool,
}

/// Polls check runs and statuses (conditionally: unchanged pages are 304s) until the gate passes,
/// fails (fail fast), or the wait is over.
pub async fn poll_checks(
    client: &Client,
    repo: &Repo,
    policy: &ChecksPolicy,
    sha: &str,
    rules: &Rules,
    poll: &Poll,
) -> Result<Verdict, RunError> {
    let fail = |e: GitHubError| github_error(e, repo);
    let started = poll.started;
    let mut round = 0u32;
    loop {
        round += 1;
        let (check_runs, _) = gather::check_runs(client, repo, sha).await.map_err(fail)?;
        let (statuses, _) = gather::statuses(client, repo, sha).await.map_err(fail)?;
        let facts = ChecksFacts {
            check_runs,
            statuses,
            rulesets: rules.rulesets.clone(),
            protection: rules.protection.clone(),
            own: poll.own.clone(),
        };
        let elapsed = started.elapsed();
        let last = poll.snapshot || elapsed >= poll.wait;
        let mode = if last && !poll.snapshot {
            Round::Final
        } else {
            Round::Waiting
        };
        let verdict = checks::evaluate(policy, &facts, mode);
        if verdict.status != Status::Pending || last {
            let stats = client.stats();
            tracing::info!(
                round,
                requests = stats.requests,
                not_modified = stats.not_modified,
                retries = stats.retries,
                "required checks decided"
            );
            return Ok(verdict);
        }
        eprintln!("{}", progress_line(&verdict, elapsed, poll.wait));
        let left = poll.wait.saturating_sub(elapsed);
        tokio::time::sleep(poll.interval.min(left).max(Duration::from_millis(10))).await;
    }
}

/// What a command is about: a commit, and the PR and branch it belongs to.
#[derive(Debug, Clone)]
pub struct Target {
    pub sha: String,
    pub label: String,
    pub pr: Option<u64>,
    /// The branch whose rules apply (a PR's base).
    pub branch: Option<String>,
}

/// `--pr N`, `--ref REF`, or, in Actions, the event: on `pull_request` events the subject is
/// `pull_request.head.sha` (GITHUB_SHA is a merge commit there), else GITHUB_SHA.
pub async fn resolve_target(
    client: &Client,
    repo: &Repo,
    ambient: &Ambient,
    target: &TargetArgs,
) -> Result<Target, RunError> {
    let fail = |e: GitHubError| github_error(e, repo);
    let (pr, git_ref) = (target.pr, target.git_ref.as_deref());
    if let Some(number) = pr {
        let pull = gather::pull_request(client, repo, number)
            .await
            .map_err(fail)?;
        return Ok(Target {
            sha: pull.head.sha,
            label: format!("PR #{number}"),
            pr: Some(number),
            branch: Some(pull.base.git_ref),
        });
    }
    if let Some(git_ref) = git_ref {
        let sha = gather::resolve_ref(client, repo, git_ref)
            .await
            .map_err(fail)?;
        let branch = (git_ref != sha).then(|| git_ref.trim_start_matches("refs/heads/").to_owned());
        return Ok(Target {
            sha,
            label: git_ref.to_owned(),
            pr: None,
            branch,
        });
    }
    if let Some(event) = pull_request_event(ambient)? {
        return Ok(event);
    }
    match &ambient.sha {
        Some(sha) => Ok(Target {
            sha: sha.clone(),
            label: ambient.git_ref.clone().unwrap_or_else(|| sha.clone()),
            pr: None,
            // On a push, the pushed branch's rules apply.
            branch: ambient
                .git_ref
                .as_deref()
                .and_then(|r| r.strip_prefix("refs/heads/"))
                .map(str::to_owned),
        }),
        None => Err(RunError::Input {
            message: "no commit to look at".to_owned(),
            hints: vec!["pass --pr N or --ref REF (in Actions the event supplies it)".to_owned()],
        }),
    }
}

fn pull_request_event(ambient: &Ambient) -> Result<Option<Target>, RunError> {
    #[derive(serde::Deserialize)]
    struct Event {
        pull_request: Option<Pull>,
    }
    #[derive(serde::Deserialize)]
    struct Pull {
        number: u64,
        head: gather::PullRef,
        base: gather::PullRef,
    }
    let is_pr = matches!(
        ambient.event_name.as_deref(),
        Some("pull_request" | "pull_request_target" | "pull_request_review")
    );
    let (true, Some(path)) = (is_pr, &ambient.event_path) else {
        return Ok(None);
    };
    let invalid = |detail: String| RunError::Input {
        message: format!("cannot read the event at {}: {detail}", path.display()),
        hints: vec!["GITHUB_EVENT_PATH must name the event JSON the runner wrote".to_owned()],
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    let event: Event = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    Ok(event.pull_request.map(|pull| Target {
        sha: pull.head.sha,
        label: format!("PR #{}", pull.number),
        pr: Some(pull.number),
        branch: Some(pull.base.git_ref),
    }))
}

/// `waiting 2m10s of 20m: Gitleaks (in_progress), Health Check (missing)`.
fn progress_line(verdict: &Verdict, elapsed: Duration, wait: Duration) -> String {
    let waiting: Vec<String> = verdict
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Check {
                name,
                state: CheckState::Pending,
                sources,
                ..
            } => {
                let what = sources
                    .iter()
                    .find(|s| s.state == CheckState::Pending)
                    .map_or("pending", |s| s.result.as_str());
                Some(format!("{name} ({what})"))
            }
            Evidence::Check {
                name,
                state: CheckState::Missing,
                ..
            } => Some(format!("{name} (missing)")),
            _ => None,
        })
        .collect();
    format!(
        "shipgate: waiting {} of {}: {}",
        Human(Duration::from_secs(elapsed.as_secs())),
        Human(wait),
        crate::render::one_line(&waiting.join(", "))
    )
}

/// What could not be written, said plainly: a fork's pull request gets a read-only token.
fn write_warning(what: &str, error: &GitHubError) -> String {
    match error.status() {
        Some(403) => format!("could not write the {what}: the token is read-only here (a pull request from a fork gets a read-only GITHUB_TOKEN); {error}"),
        _ => format!("could not write the {what}: {error}"),
    }
}

/// `gate`: one check run that stands for every required check. It is created `in_progress` at
/// once (so branch protection shows it), excludes itself, waits, and completes with the report.
pub async fn gate(
    ambient: &Ambient,
    policy: &ChecksPolicy,
    env: Option<&Environment>,
    repo: &Repo,
    args: &GateArgs,
    clock: &impl Fn() -> DateTime<Utc>,
) -> Result<Decision, RunError> {
    let wait = args.wait.unwrap_or(policy.wait);
    let started = tokio::time::Instant::now();
    let client = client(ambient, repo, wait)?;
    let target = resolve_target(&client, repo, ambient, &args.target).await?;
    let run_url = ambient.run_url(&repo.to_string());
    let mut notes = Vec::new();
    let check_run = match write::start_check_run(
        &client,
        repo,
        &args.check_name,
        &target.sha,
        clock(),
        run_url.as_deref(),
        "Waiting for the required checks",
    )
    .await
    {
        Ok(id) => Some(id),
        Err(error) => {
            let warning = write_warning("gate check run", &error);
            eprintln!("warning: {warning}");
            notes.push(warning);
            None
        }
    };
    let own = OwnChecks {
        names: vec![args.check_name.clone()],
        check_run_ids: check_run.into_iter().collect(),
        job: match (&ambient.run_id, &ambient.job) {
            (Some(run_id), Some(job)) => Some(CurrentJob {
                run_id: run_id.clone(),
                job: job.clone(),
            }),
            _ => None,
        },
    };
    let poll = Poll {
        started,
        wait,
        interval: policy.interval,
        own,
        snapshot: false,
    };
    let decided = async {
        let rules = required_rules(&client, repo, policy, target.branch.as_deref()).await?;
        poll_checks(&client, repo, policy, &target.sha, &rules, &poll).await
    }
    .await;
    let mut verdict = match (decided, check_run) {
        (Ok(verdict), _) => verdict,
        (Err(error), Some(id)) => {
            // Never leave the gate in progress: it would block forever without saying why.
            let summary = format!("shipgate could not decide: {error}");
            let title: String = summary.chars().take(200).collect();
            if let Err(write_error) =
                write::complete_check_run(&client, repo, id, "failure", clock(), &title, &summary)
                    .await
            {
                eprintln!(
                    "warning: {}",
                    write_warning("gate check run's result", &write_error)
                );
            }
            return Err(error);
        }
        (Err(error), None) => return Err(error),
    };
    verdict
        .evidence
        .extend(notes.into_iter().map(|text| Evidence::Note { text }));
    let mut subject = super::subject(Some(repo.to_string()), env, Some(target.label.clone()));
    subject.sha = Some(target.sha.clone());
    let decision = Decision::from_gates("gate", subject, clock(), vec![verdict]);
    if let Some(id) = check_run {
        let (title, summary) = github::check_run_output(&decision, run_url.as_deref());
        let conclusion = github::check_run_conclusion(decision.outcome);
        if let Err(error) =
            write::complete_check_run(&client, repo, id, conclusion, clock(), &title, &summary)
                .await
        {
            // The check run stays in progress: branch protection keeps blocking, which is safe.
            eprintln!(
                "warning: {}",
                write_warning("gate check run's result", &error)
            );
        }
    }
    Ok(decision)
}

/// `readiness`: where a commit stands for an environment, as one Decision; optionally the sticky
/// PR comment and a check run.
pub async fn readiness(
    ambient: &Ambient,
    env: &Environment,
    repo: &Repo,
    args: &ReadinessArgs,
    clock: &impl Fn() -> DateTime<Utc>,
) -> Result<Decision, RunError> {
    let started = tokio::time::Instant::now();
    let client = client(ambient, repo, Duration::from_secs(60))?;
    let target = resolve_target(&client, repo, ambient, &args.target).await?;
    let rules = required_rules(&client, repo, &env.checks, target.branch.as_deref()).await?;
    let poll = Poll {
        started,
        wait: Duration::ZERO,
        interval: env.checks.interval,
        own: OwnChecks::default(),
        snapshot: true,
    };
    let checks_verdict =
        poll_checks(&client, repo, &env.checks, &target.sha, &rules, &poll).await?;
    let now = clock();
    let window_verdict = crate::gate::window::evaluate(env.windows.as_ref(), now, None);
    let required = staging_facts(&client, repo, &target.sha, &env.requires).await?;
    let staging_verdict = crate::gate::staging::evaluate(&required);
    let mut subject = super::subject(
        Some(repo.to_string()),
        Some(env),
        Some(target.label.clone()),
    );
    subject.sha = Some(target.sha.clone());
    let health = Verdict::new(GateId::Health, Status::Skipped, "runs after a deploy");
    let mut decision = Decision::from_gates(
        "readiness",
        subject,
        now,
        vec![checks_verdict, window_verdict, staging_verdict, health],
    );
    if decision.outcome == Outcome::Go {
        decision.outcome = Outcome::Ready;
        decision.summary = decision.summary.replacen("go", "ready", 1);
    }
    let run_url = ambient.run_url(&repo.to_string());
    if args.comment {
        match target.pr {
            None => eprintln!("warning: --comment needs a pull request (--pr N, or a pull_request event); no comment written"),
            Some(pr) => {
                let body = github::comment_body(&decision, &format!("readiness:{}", env.name), run_url.as_deref());
                let key = format!("readiness:{}", env.name);
                let result = match write::identity(&client).await {
                    Ok(login) => {
                        let upserted = write::upsert_comment(&client, repo, pr, &key, login.as_deref(), &body).await;
                        // The comment written while the config was invalid is now out of date.
                        if upserted.is_ok() {
                            if let Err(error) = write::delete_comments(&client, repo, pr, INVALID_CONFIG_KEY, login.as_deref()).await {
                                tracing::warn!(%error, "could not remove the invalid-config comment");
                            }
                        }
                        upserted
                    }
                    Err(error) => Err(error),
                };
                match result {
                    Ok(action) => tracing::info!(?action, "readiness comment"),
                    Err(error) => eprintln!("warning: {}", write_warning("PR comment", &error)),
                }
            }
        }
    }
    if args.check_run {
        let name = format!("shipgate readiness ({})", env.name);
        let (title, summary) = github::check_run_output(&decision, run_url.as_deref());
        let conclusion = github::check_run_conclusion(decision.outcome);
        let result = match write::start_check_run(
            &client,
            repo,
            &name,
            &target.sha,
            now,
            run_url.as_deref(),
            &title,
        )
        .await
        {
            Ok(id) => {
                write::complete_check_run(&client, repo, id, conclusion, clock(), &title, &summary)
                    .await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            eprintln!("warning: {}", write_warning("readiness check run", &error));
        }
    }
    Ok(decision)
}

/// The comment key used when the config is invalid and no `--environment` names the comment.
const INVALID_CONFIG_KEY: &str = "readiness:config";

/// `readiness --comment` when the config cannot be loaded: the comment says what to fix.
pub async fn comment_invalid_config(
    ambient: &Ambient,
    repo: &Repo,
    args: &ReadinessArgs,
    error: &ConfigError,
) -> Result<(), RunError> {
    let ConfigError::Invalid { diagnostics, .. } = error else {
        return Ok(());
    };
    let client = client(ambient, repo, Duration::from_secs(60))?;
    let target = resolve_target(&client, repo, ambient, &args.target).await?;
    let Some(pr) = target.pr else { return Ok(()) };
    let key = format!(
        "readiness:{}",
        args.environment.as_deref().unwrap_or("config")
    );
    let body = github::invalid_config_body(
        &key,
        diagnostics,
        ambient.run_url(&repo.to_string()).as_deref(),
    );
    let result = match write::identity(&client).await {
        Ok(login) => write::upsert_comment(&client, repo, pr, &key, login.as_deref(), &body).await,
        Err(error) => Err(error),
    };
    if let Err(error) = result {
        eprintln!("warning: {}", write_warning("PR comment", &error));
    }
    Ok(())
}

/// The latest deployment of `sha` to each environment in `requires`, for the staging gate.
pub async fn staging_facts(
    client: &Client,
    repo: &Repo,
    sha: &str,
    requires: &[String],
) -> Result<Vec<crate::facts::StagingFact>, RunError> {
    let mut facts = Vec::new();
    for name in requires {
        let deployment = write::latest_deployment_state(client, repo, sha, name)
            .await
            .map_err(|e| github_error(e, repo))?;
        facts.push(crate::facts::StagingFact {
            environment: name.clone(),
            deployment,
        });
    }
    Ok(facts)
}
