//! Gathering facts from GitHub: no policy here, only reading. Each function names the endpoint it
//! reads (GitHub's REST contracts) and turns GitHub's answer into the lenient models.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::client::{Client, GitHubError, List};
use super::model::{
    Branch, BranchRule, CheckRun, CheckRunsPage, CombinedStatus, CommitStatus, RequiredContext,
    RequiredStatusChecks,
};
use super::path::{query, segment};
use crate::facts::approval::{EnvironmentSettings, Review};
use crate::facts::Readable;

/// `owner/name`, already validated by the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl Repo {
    pub fn parse(text: &str) -> Option<Repo> {
        let (owner, name) = text.split_once('/')?;
        (!owner.is_empty() && !name.is_empty() && !name.contains('/')).then(|| Repo {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `/repos/{owner}/{name}` and `rest`, whose own segments are already encoded.
    pub(crate) fn path(&self, rest: &str) -> String {
        format!(
            "/repos/{}/{}{rest}",
            segment(&self.owner),
            segment(&self.name)
        )
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

fn decode<T: DeserializeOwned>(path: &str, body: &str) -> Result<T, GitHubError> {
    serde_json::from_str(body).map_err(|e| GitHubError::Decode {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// The items of every page of a list, in order.
fn items<P, T: Clone>(list: &List<P>, of: impl Fn(&P) -> &[T]) -> Vec<T> {
    list.pages
        .iter()
        .flat_map(|p| of(&p.value).iter().cloned())
        .collect()
}

/// `GET /repos/{o}/{r}/commits/{ref}` with `Accept: application/vnd.github.sha`: the SHA a
/// branch, tag or SHA names, answered as bare text (not the commit with its files).
pub async fn resolve_ref(
    client: &Client,
    repo: &Repo,
    git_ref: &str,
) -> Result<String, GitHubError> {
    let path = repo.path(&format!("/commits/{}", segment(git_ref)));
    let body = client.get_as(&path, "application/vnd.github.sha").await?;
    let sha = body.trim();
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    if matches!(sha.len(), 40 | 64) && hex(sha) {
        Ok(sha.to_ascii_lowercase())
    } else {
        Err(GitHubError::Decode {
            path,
            detail: format!(
                "expected a bare commit SHA, got {} bytes starting {:?}",
                body.len(),
                body.chars().take(40).collect::<String>()
            ),
        })
    }
}

/// `GET /repos/{o}/{r}`: the default branch, whose rules apply when the ref is not a branch.
pub async fn default_branch(client: &Client, repo: &Repo) -> Result<String, GitHubError> {
    #[derive(Deserialize)]
    struct Repository {
        default_branch: String,
    }
    let path = repo.path("");
    let repository: Repository = decode(&path, &client.get(&path).await?)?;
    Ok(repository.default_branch)
}

/// `GET /repos/{o}/{r}/branches/{branch}`; `None` when there is no such branch.
pub async fn branch(
    client: &Client,
    repo: &Repo,
    name: &str,
) -> Result<Option<Branch>, GitHubError> {
    let path = repo.path(&format!("/branches/{}", segment(name)));
    match client.get(&path).await {
        Ok(body) => decode(&path, &body).map(Some),
        Err(error) if error.status() == Some(404) => Ok(None),
        Err(error) => Err(error),
    }
}

/// `GET /repos/{o}/{r}/rules/branches/{branch}`: required checks of the active rulesets.
pub async fn ruleset_checks(
    client: &Client,
    repo: &Repo,
    branch: &str,
) -> Result<Readable<Vec<RequiredContext>>, GitHubError> {
    let path = repo.path(&format!(
        "/rules/branches/{}?{}",
        segment(branch),
        query([("per_page", "100")])
    ));
    match client.get_list::<Vec<BranchRule>>(&path).await {
        Ok(pages) => Ok(super::model::rules_required_checks(
            pages.pages.iter().flat_map(|p| p.value.iter()),
        )),
        Err(error) if matches!(error.status(), Some(403 | 404)) => {
            Ok(Readable::Unknown(error.to_string()))
        }
        Err(error) => Err(error),
    }
}

/// Required checks of classic branch protection: the admin endpoint when the token may read it
/// (a 403 is "unknown", never "none"), else the partial view on the branch.
pub async fn protection_checks(
    client: &Client,
    repo: &Repo,
    branch: Option<&Branch>,
) -> Result<Readable<Vec<RequiredContext>>, GitHubError> {
    let Some(branch) = branch else {
        return Ok(Readable::Read(Vec::new()));
    };
    if !branch.protected {
        return Ok(Readable::Read(Vec::new()));
    }
    let path = repo.path(&format!(
        "/branches/{}/protection/required_status_checks",
        segment(&branch.name)
    ));
    match client.get(&path).await {
        Ok(body) => Ok(Readable::Read(
            decode::<RequiredStatusChecks>(&path, &body)?.required(),
        )),
        // The branch says it is protected, so a 404 here cannot mean "no protection": like a 403,
        // it is "not visible to this token" (reference A3).
        Err(error) if matches!(error.status(), Some(403 | 404)) => {
            // The default GITHUB_TOKEN cannot read protection; the branch's partial view can help.
            match branch
                .protection
                .as_ref()
                .and_then(|p| p.required_status_checks.as_ref())
            {
                Some(partial) => Ok(Readable::Read(partial.required())),
                None => Ok(Readable::Unknown(format!(
                    "{error} (the token cannot read branch protection)"
                ))),
            }
        }
        Err(error) => Err(error),
    }
}

fn check_runs_path(repo: &Repo, sha: &str) -> String {
    repo.path(&format!(
        "/commits/{}/check-runs?{}",
        segment(sha),
        query([("filter", "latest"), ("per_page", "100")])
    ))
}

/// `GET /repos/{o}/{r}/commits/{sha}/check-runs?filter=latest&per_page=100`, every page,
/// conditionally. Returns the runs and whether any page changed since the last call.
pub async fn check_runs(
    client: &Client,
    repo: &Repo,
    sha: &str,
) -> Result<(Vec<CheckRun>, bool), GitHubError> {
    let list = client
        .get_list::<CheckRunsPage>(&check_runs_path(repo, sha))
        .await?;
    Ok((items(&list, |p| &p.check_runs), list.changed()))
}

/// What [`check_runs_until`] read.
#[derive(Debug, Clone)]
pub struct CheckRunsRead {
    /// The runs of the pages read, in GitHub's order: every run unless `stopped`.
    pub runs: Vec<CheckRun>,
    /// Whether any page read changed since the last read (`false`: every one was a 304).
    pub changed: bool,
    /// `stop` returned true on a page; the pages after it were not read, so `runs` may lack
    /// runs that exist. Only what `stop` saw is known to be complete.
    pub stopped: bool,
}

/// [`check_runs`] that ends early: `stop` sees the runs of each page as it arrives, in page
/// order, and once it returns true (the gate is decided, e.g. a required check is failing) no
/// further page is read. Pages are then read two at a time, so at most one request goes out
/// after the deciding page (the page after it, already in flight); on a list of one page,
/// none does.
pub async fn check_runs_until(
    client: &Client,
    repo: &Repo,
    sha: &str,
    mut stop: impl FnMut(&[CheckRun]) -> bool + Send,
) -> Result<CheckRunsRead, GitHubError> {
    let list = client
        .get_list_until::<CheckRunsPage, _>(&check_runs_path(repo, sha), |page| {
            stop(&page.check_runs)
        })
        .await?;
    Ok(CheckRunsRead {
        runs: items(&list, |p| &p.check_runs),
        changed: list.changed(),
        stopped: list.stopped,
    })
}

/// `GET /repos/{o}/{r}/commits/{sha}/status?per_page=100`: the latest status per context,
/// every page, conditionally.
pub async fn statuses(
    client: &Client,
    repo: &Repo,
    sha: &str,
) -> Result<(Vec<CommitStatus>, bool), GitHubError> {
    let path = repo.path(&format!(
        "/commits/{}/status?{}",
        segment(sha),
        query([("per_page", "100")])
    ));
    let list = client.get_list::<CombinedStatus>(&path).await?;
    Ok((items(&list, |p| &p.statuses), list.changed()))
}

/// A pull request's head and base (`GET /repos/{o}/{r}/pulls/{n}`).
#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub head: PullRef,
    pub base: PullRef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRef {
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
}

pub async fn pull_request(
    client: &Client,
    repo: &Repo,
    number: u64,
) -> Result<PullRequest, GitHubError> {
    let path = repo.path(&format!("/pulls/{number}"));
    decode(&path, &client.get(&path).await?)
}

/// `GET /repos/{o}/{r}/actions/runs/{run_id}/approvals`: the run's review history (one list, not
/// paginated). A 403 or 404 is unknown, never "no approval".
pub async fn run_approvals(
    client: &Client,
    repo: &Repo,
    run_id: &str,
) -> Result<Readable<Vec<Review>>, GitHubError> {
    let path = repo.path(&format!("/actions/runs/{}/approvals", segment(run_id)));
    match client.get(&path).await {
        Ok(body) => decode(&path, &body).map(Readable::Read),
        Err(error) if matches!(error.status(), Some(403 | 404)) => {
            Ok(Readable::Unknown(error.to_string()))
        }
        Err(error) => Err(error),
    }
}

/// `GET /repos/{o}/{r}/environments/{environment_name}`: its protection rules. A 404 (no such
/// GitHub Environment) or 403 is unknown.
pub async fn environment_settings(
    client: &Client,
    repo: &Repo,
    name: &str,
) -> Result<Readable<EnvironmentSettings>, GitHubError> {
    let path = repo.path(&format!("/environments/{}", segment(name)));
    match client.get(&path).await {
        Ok(body) => decode(&path, &body).map(Readable::Read),
        Err(error) if matches!(error.status(), Some(403 | 404)) => {
            Ok(Readable::Unknown(error.to_string()))
        }
        Err(error) => Err(error),
    }
}
