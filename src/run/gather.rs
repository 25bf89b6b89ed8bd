//! Gather once: every command that decides builds one `Facts` here, from GitHub, the probes and
//! the clock, and hands it to `gate::evaluate`. Reads that do not depend on each other run
//! concurrently; the clock is read once, when the facts are complete.

use std::time::Duration;

use super::github::{self, error as github_error};
use super::{Context, RunError};
use crate::cli::TargetArgs;
use crate::config::duration::Human;
use crate::config::{ChecksPolicy, Config, Environment};
use crate::decision::{CheckState, Evidence, Status, Subject, Verdict};
use crate::env::Ambient;
use crate::facts::approval::ApprovalFacts;
use crate::facts::checks::{CheckRun, CommitStatus, RequiredContext, Round};
use crate::facts::health::Expected;
use crate::facts::{
    ChecksFacts, CurrentJob, Facts, HealthFacts, OwnChecks, Readable, StagingFact, StagingHealth,
};
use crate::gate::{self, checks};
use crate::github::client::{Client, GitHubError};
use crate::github::gather::{self, Repo};
use crate::github::write;
use crate::probe::Prober;

/// What a command is about: a commit, and the PR and branch it belongs to.
#[derive(Debug, Clone)]
pub struct Target {
    pub sha: String,
    pub label: String,
    pub pr: Option<u64>,
    /// The branch whose rules apply (a PR's base).
    pub branch: Option<String>,
}

/// The commit of the workflow's pull request event, read before any async work begins (the file
/// is the runner's; reading it is blocking IO). An unreadable event is an error only for a
/// command that needs it.
pub type EventTarget = Result<Option<Target>, RunError>;

/// On `pull_request` events the subject is `pull_request.head.sha` (GITHUB_SHA is a merge commit
/// there).
pub fn event_target(ambient: &Ambient) -> EventTarget {
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

/// `--pr N`, `--ref REF`, or, in Actions, the event: a pull request's head, else GITHUB_SHA.
pub async fn resolve_target(
    client: &Client,
    repo: &Repo,
    ambient: &Ambient,
    target: &TargetArgs,
    event: EventTarget,
) -> Result<Target, RunError> {
    let fail = |e: GitHubError| github_error(e, repo);
    if let Some(number) = target.pr {
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
    if let Some(git_ref) = target.git_ref.as_deref() {
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
    if let Some(event) = event? {
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

/// The required sets of the target branch: its rulesets and its classic protection.
#[derive(Debug, Clone)]
pub struct Rules {
    pub rulesets: Readable<Vec<RequiredContext>>,
    pub protection: Readable<Vec<RequiredContext>>,
}

/// Reads [`Rules`]. A branch name that is not a branch (a tag, a SHA) falls back to the default
/// branch.
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
    let (rulesets, protection) = tokio::join!(
        gather::ruleset_checks(client, repo, &branch),
        gather::protection_checks(client, repo, found.as_ref())
    );
    Ok(Rules {
        rulesets: rulesets.map_err(fail)?,
        protection: protection.map_err(fail)?,
    })
}

/// How the checks are looked at.
#[derive(Debug, Clone)]
pub struct Poll {
    /// When the command began: `wait` counts from here, not from the first round.
    pub started: tokio::time::Instant,
    pub wait: Duration,
    pub interval: Duration,
    pub own: OwnChecks,
    /// One look, no waiting, and a missing check reads as "not yet" (readiness of an open PR).
    pub snapshot: bool,
}

impl Poll {
    /// Polls from now until the checks decide or `wait` is over.
    pub fn waiting(wait: Duration, interval: Duration, own: OwnChecks) -> Self {
        Poll {
            started: tokio::time::Instant::now(),
            wait,
            interval,
            own,
            snapshot: false,
        }
    }

    /// One look, no waiting; a missing check reads as "not yet".
    pub fn snapshot(interval: Duration) -> Self {
        Poll {
            snapshot: true,
            ..Poll::waiting(Duration::ZERO, interval, OwnChecks::default())
        }
    }
}

/// The Actions job running shipgate, when known.
pub fn current_job(ambient: &Ambient) -> Option<CurrentJob> {
    match (&ambient.run_id, &ambient.job) {
        (Some(run_id), Some(job)) => Some(CurrentJob {
            run_id: run_id.clone(),
            job: job.clone(),
        }),
        _ => None,
    }
}

/// Polls check runs and statuses on a fixed schedule (round n starts at `interval` × n; unchanged
/// pages are 304s) until the gate passes, fails, or the wait is over. Returns the facts of the
/// deciding round.
pub async fn poll_checks(
    context: &Context<'_>,
    client: &Client,
    repo: &Repo,
    policy: &ChecksPolicy,
    sha: &str,
    rules: &Rules,
    poll: &Poll,
) -> Result<ChecksFacts, RunError> {
    let mut round = 0u32;
    loop {
        let round_started = tokio::time::Instant::now();
        round += 1;
        let mut facts = read_round(client, repo, policy, sha, rules, poll).await?;
        let elapsed = poll.started.elapsed();
        let last = poll.snapshot || elapsed >= poll.wait;
        if last && !poll.snapshot {
            facts.round = Round::Final;
        }
        let verdict = checks::evaluate(policy, &facts, facts.round);
        if verdict.status != Status::Pending || last {
            let stats = client.stats();
            tracing::info!(
                round,
                requests = stats.requests,
                not_modified = stats.not_modified,
                retries = stats.retries,
                "required checks decided"
            );
            return Ok(facts);
        }
        context
            .reporter
            .progress(&progress_line(&verdict, elapsed, poll.wait));
        let deadline = poll.started + poll.wait;
        let next = (round_started + poll.interval).min(deadline);
        tokio::time::sleep_until(next.max(tokio::time::Instant::now() + MIN_PAUSE)).await;
    }
}

/// The shortest pause between rounds, so a round that overran its interval still yields.
const MIN_PAUSE: Duration = Duration::from_millis(10);

/// One round: the check runs and the statuses, read concurrently. A failing required check run
/// decides the gate: no further page of check runs is read (at most the one in flight), and the
/// statuses' read is dropped if it is still going.
async fn read_round(
    client: &Client,
    repo: &Repo,
    policy: &ChecksPolicy,
    sha: &str,
    rules: &Rules,
    poll: &Poll,
) -> Result<ChecksFacts, RunError> {
    let fail = |e: GitHubError| github_error(e, repo);
    let facts = |check_runs: Vec<CheckRun>, statuses: Option<Vec<CommitStatus>>| ChecksFacts {
        check_runs,
        lists_complete: statuses.is_some(),
        statuses: statuses.unwrap_or_default(),
        rulesets: rules.rulesets.clone(),
        protection: rules.protection.clone(),
        own: poll.own.clone(),
        round: Round::Waiting,
    };
    let decided = |facts: &ChecksFacts| {
        checks::evaluate(policy, facts, Round::Waiting).status == Status::Fail
    };
    let mut seen: Vec<CheckRun> = Vec::new();
    let stop = |page: &[CheckRun]| {
        seen.extend_from_slice(page);
        let failing = |run: &CheckRun| checks::check_run_state(run) == CheckState::Failing;
        page.iter().any(failing) && decided(&facts(seen.clone(), None))
    };
    let runs = gather::check_runs_until(client, repo, sha, stop);
    let statuses = gather::statuses(client, repo, sha);
    tokio::pin!(runs, statuses);
    let mut read_statuses = None;
    let read = loop {
        tokio::select! {
            answer = &mut runs => break answer.map_err(fail)?,
            answer = &mut statuses, if read_statuses.is_none() => {
                read_statuses = Some(answer.map_err(fail)?.0);
            }
        }
    };
    if read.stopped {
        return Ok(facts(read.runs, None));
    }
    if read_statuses.is_none() {
        let so_far = facts(read.runs, None);
        if decided(&so_far) {
            return Ok(so_far);
        }
        read_statuses = Some(statuses.await.map_err(fail)?.0);
        return Ok(facts(so_far.check_runs, read_statuses));
    }
    Ok(facts(read.runs, read_statuses))
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
        "waiting {} of {}: {}",
        Human(Duration::from_secs(elapsed.as_secs())),
        Human(wait),
        crate::render::one_line(&waiting.join(", "))
    )
}

/// The latest deployment of `sha` to each environment in `requires`, read concurrently.
pub async fn staging_deployments(
    client: &Client,
    repo: &Repo,
    sha: &str,
    requires: &[String],
) -> Result<Vec<StagingFact>, RunError> {
    let reads = requires.iter().map(|name| async move {
        write::latest_deployment_state(client, repo, sha, name)
            .await
            .map(|deployment| StagingFact {
                environment: name.clone(),
                deployment,
            })
            .map_err(|e| github_error(e, repo))
    });
    futures::future::try_join_all(reads).await
}

/// One round of each required environment's health endpoints, probed concurrently. An
/// environment without a `url` or endpoints is not probed. Each should run `sha` (the staging
/// gate found it deployed there): `${sha}` in an expectation is that commit; the release and image
/// there are not known.
pub async fn staging_health(config: &Config, requires: &[String], sha: &str) -> Vec<StagingHealth> {
    let expected = Expected {
        sha: Some(sha.to_owned()),
        ..Expected::nothing()
    };
    let expected = &expected;
    let probes = requires
        .iter()
        .filter_map(|name| config.environment(name))
        .filter_map(|env| {
            let base = env.url.as_ref()?;
            if env.health.endpoints.is_empty() {
                return None;
            }
            let mut policy = env.health.clone();
            policy.machines = false;
            policy.consecutive_successes = 1;
            let prober = Prober::new(policy.request_timeout).ok()?;
            Some(async move {
                let round = prober.round(base, &policy, expected, Duration::ZERO).await;
                StagingHealth {
                    environment: env.name.clone(),
                    policy,
                    round,
                }
            })
        });
    futures::future::join_all(probes).await
}

/// A command's view of GitHub: a client with the command's budget, the repository, and the
/// commit the command is about, resolved once.
pub struct Session<'a> {
    pub client: Client,
    pub repo: &'a Repo,
    pub target: Target,
}

/// Opens a session: the client, then the target (`--pr`, `--ref`, or the event).
pub async fn session<'a>(
    context: &Context<'_>,
    repo: &'a Repo,
    budget: Duration,
    target: &TargetArgs,
    event: EventTarget,
) -> Result<Session<'a>, RunError> {
    let client = github::client(context.ambient, repo, budget)?;
    let target = resolve_target(&client, repo, context.ambient, target, event).await?;
    Ok(Session {
        client,
        repo,
        target,
    })
}

impl Session<'_> {
    /// Gathers the facts of one decision about the target: the required checks (polled as
    /// `poll` says), then, with `staging` (the config, for the required environments' health),
    /// the deployments to the environments required first (read concurrently) and, where the
    /// commit reached them, their health now. The clock is read when they are complete.
    pub async fn facts(
        &self,
        context: &Context<'_>,
        env: Option<&Environment>,
        policy: &ChecksPolicy,
        poll: &Poll,
        staging: Option<&Config>,
    ) -> Result<Facts, RunError> {
        let (client, repo, target) = (&self.client, self.repo, &self.target);
        let rules = required_rules(client, repo, policy, target.branch.as_deref()).await?;
        let checks = poll_checks(context, client, repo, policy, &target.sha, &rules, poll).await?;
        let requires = env.map_or(&[][..], |e| e.requires.as_slice());
        let (staging, staging_health) = match staging {
            Some(config) if !requires.is_empty() => {
                let deployments = staging_deployments(client, repo, &target.sha, requires).await?;
                // Health now matters only where the commit got to: no probe for a gate lost.
                let reached = gate::staging::evaluate(&deployments).status == Status::Pass;
                let health = if reached {
                    staging_health(config, requires, &target.sha).await
                } else {
                    Vec::new()
                };
                (Readable::Read(deployments), health)
            }
            Some(_) => (Readable::Read(Vec::new()), Vec::new()),
            None => (
                Readable::NotAsked("not gathered by this command".to_owned()),
                Vec::new(),
            ),
        };
        Ok(Facts {
            now: context.clock.now(),
            subject: subject(
                Some(repo.to_string()),
                env,
                Some(target.label.clone()),
                Some(target.sha.clone()),
            ),
            checks: Readable::Read(checks),
            staging,
            staging_health,
            health: HealthFacts::NotMeasured("runs after a deploy".to_owned()),
            watch: crate::facts::watch::WatchFacts::NotRun(
                "runs after the deploy is healthy".to_owned(),
            ),
            approval: Readable::NotAsked(NOT_DEPLOY.to_owned()),
        })
    }

    /// The deploy run's approval: its review history and the environment's settings, read
    /// concurrently. Read only where `needed` (the gate or the emergency override asks for it)
    /// and only in Actions, where there is a run to ask about.
    pub async fn approval(
        &self,
        context: &Context<'_>,
        env: &Environment,
        needed: bool,
    ) -> Result<Readable<ApprovalFacts>, RunError> {
        if !needed {
            return Ok(Readable::NotAsked("not required".to_owned()));
        }
        let Some(run_id) = context.ambient.run_id.clone() else {
            return Ok(Readable::NotAsked(
                "outside GitHub Actions: no GITHUB_RUN_ID".to_owned(),
            ));
        };
        let (client, repo) = (&self.client, self.repo);
        let fail = |e: GitHubError| github_error(e, repo);
        let (reviews, environment) = tokio::join!(
            gather::run_approvals(client, repo, &run_id),
            gather::environment_settings(client, repo, &env.name)
        );
        Ok(match reviews.map_err(fail)? {
            Readable::Read(reviews) => Readable::Read(ApprovalFacts {
                run_id,
                actor: context.ambient.actor.clone(),
                reviews,
                environment: environment.map_err(fail)?,
            }),
            Readable::Unknown(why) => Readable::Unknown(format!(
                "the approvals of run {run_id} could not be read: {why}"
            )),
            Readable::NotAsked(why) => Readable::NotAsked(why),
        })
    }
}

/// Why a command other than `deploy` does not read the run's approval.
pub const NOT_DEPLOY: &str = "decided by `deploy`, in the job the reviewers approve";

pub fn subject(
    repo: Option<String>,
    environment: Option<&Environment>,
    git_ref: Option<String>,
    sha: Option<String>,
) -> Subject {
    Subject {
        repository: repo,
        environment: environment.map(|e| e.name.clone()),
        app: environment.map(|e| e.app.clone()),
        git_ref,
        sha,
    }
}
