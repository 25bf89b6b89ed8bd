//! The GitHub side of the sequencer: which repository, a client with the run's deadline, and
//! what a GitHub failure means for the user (its message, hints and outcome).

use std::time::Duration;

use super::RunError;
use crate::env::Ambient;
use crate::github::client::{Client, GitHubError, RetryPolicy};
use crate::github::gather::Repo;

pub fn repo(repo: Option<&str>) -> Result<Repo, RunError> {
    repo.and_then(Repo::parse).ok_or_else(|| RunError::Input {
        message: "no repository to ask GitHub about".to_owned(),
        hints: vec![
            "pass --repo OWNER/NAME, or set GITHUB_REPOSITORY (the Action sets it)".to_owned(),
        ],
    })
}

/// What a GitHub failure means for the user, and its exit code.
pub fn error(error: GitHubError, repo: &Repo) -> RunError {
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

/// Slack on top of a command's budget for the requests of its final round.
const FINAL_ROUND_GRACE: Duration = Duration::from_secs(120);

/// A client whose requests stop retrying once `budget` (and a grace) has passed.
pub fn client(ambient: &Ambient, repo: &Repo, budget: Duration) -> Result<Client, RunError> {
    Ok(Client::new(
        &ambient.api_url,
        ambient.github_token.as_ref(),
        RetryPolicy::default(),
    )
    .map_err(|e| error(e, repo))?
    .with_deadline(tokio::time::Instant::now() + budget + FINAL_ROUND_GRACE))
}

/// What could not be written, said plainly: a fork's pull request gets a read-only token.
pub fn write_warning(what: &str, error: &GitHubError) -> String {
    match error.status() {
        Some(403) => format!("could not write the {what}: the token is read-only here (a pull request from a fork gets a read-only GITHUB_TOKEN); {error}"),
        _ => format!("could not write the {what}: {error}"),
    }
}
