//! The commands' GitHub side: gather facts, poll, and hand them to the pure gates. Sequencing
//! only; what passes is decided in `gate/`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RunError;
use crate::config::duration::Human;
use crate::config::ChecksPolicy;
use crate::decision::{CheckState, Evidence, Status, Verdict};
use crate::env::Ambient;
use crate::facts::{ChecksFacts, OwnChecks};
use crate::gate::checks::{self, Round};
use crate::github::client::{Client, GitHubError, RetryPolicy};
use crate::github::gather::{self, Repo};

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
        Some(_) => RunError::Unavailable { message: error.to_string(), hints: vec!["GitHub answered with an error after retries; try again, or see https://www.githubstatus.com".to_owned()] },
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

/// Resolves the ref once, reads the required set once, then polls check runs and statuses until
/// the gate passes, fails, or the wait is over. Returns the verdict, the SHA and the instant of
/// the deciding round.
pub async fn required_checks(
    ambient: &Ambient,
    policy: &ChecksPolicy,
    request: &ChecksRequest<'_>,
    clock: &impl Fn() -> DateTime<Utc>,
) -> Result<(Verdict, String, DateTime<Utc>), RunError> {
    let repo = &request.repo;
    let started = tokio::time::Instant::now();
    let client = Client::new(
        &ambient.api_url,
        ambient.github_token.as_ref(),
        RetryPolicy::default(),
    )
    .map_err(|e| github_error(e, repo))?
    .with_deadline(started + request.wait + FINAL_ROUND_GRACE);
    let fail = |e: GitHubError| github_error(e, repo);

    let sha = gather::resolve_ref(&client, repo, request.git_ref)
        .await
        .map_err(fail)?;
    let (rulesets, protection) = if policy.from_branch_rules {
        let branch_name = match request.branch {
            Some(name) => name.to_owned(),
            None if request.git_ref != sha => {
                request.git_ref.trim_start_matches("refs/heads/").to_owned()
            }
            None => gather::default_branch(&client, repo).await.map_err(fail)?,
        };
        let mut branch = gather::branch(&client, repo, &branch_name)
            .await
            .map_err(fail)?;
        let branch_name = match (&branch, request.branch) {
            // The ref is a tag or SHA-like name, not a branch: the default branch's rules apply.
            (None, None) => {
                let default = gather::default_branch(&client, repo).await.map_err(fail)?;
                branch = gather::branch(&client, repo, &default)
                    .await
                    .map_err(fail)?;
                default
            }
            _ => branch_name,
        };
        tracing::info!(branch = %branch_name, "reading the branch's required checks");
        let rulesets = gather::ruleset_checks(&client, repo, &branch_name)
            .await
            .map_err(fail)?;
        let protection = gather::protection_checks(&client, repo, branch.as_ref())
            .await
            .map_err(fail)?;
        (rulesets, protection)
    } else {
        let skipped = || crate::facts::Readable::NotAsked("`from_branch_rules: false`".to_owned());
        (skipped(), skipped())
    };

    let mut round = 0u32;
    loop {
        round += 1;
        let (check_runs, _) = gather::check_runs(&client, repo, &sha)
            .await
            .map_err(fail)?;
        let (statuses, _) = gather::statuses(&client, repo, &sha).await.map_err(fail)?;
        let facts = ChecksFacts {
            check_runs,
            statuses,
            rulesets: rulesets.clone(),
            protection: protection.clone(),
            own: OwnChecks::default(),
        };
        let elapsed = started.elapsed();
        let last = elapsed >= request.wait;
        let verdict = checks::evaluate(
            policy,
            &facts,
            if last { Round::Final } else { Round::Waiting },
        );
        if verdict.status != Status::Pending || last {
            let stats = client.stats();
            tracing::info!(
                round,
                requests = stats.requests,
                not_modified = stats.not_modified,
                retries = stats.retries,
                "required checks decided"
            );
            return Ok((verdict, sha, clock()));
        }
        eprintln!("{}", progress_line(&verdict, elapsed, request.wait));
        let left = request.wait.saturating_sub(elapsed);
        tokio::time::sleep(request.interval.min(left).max(Duration::from_millis(10))).await;
    }
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
