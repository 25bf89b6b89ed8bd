//! Reading an environment's delivery history: its Deployments (newest first, back to a date),
//! each one's statuses, and each deployed commit's merged pull request. Every list is read page
//! by page, conditionally (see [`Client::get_list`]); no policy here.

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::Deserialize;

use super::client::{Client, GitHubError, PAGE_CONCURRENCY};
use super::gather::Repo;
use super::path::{query, segment};
use crate::facts::delivery::{DeploymentRecord, DeploymentStatus, Merge};

/// `GET /repos/{o}/{r}/deployments?environment=NAME&per_page=100`, newest first, every task,
/// page after page until a page ends before `since` (the pages after it are older still).
/// Returns the Deployments created at or after `since`, without their statuses.
pub async fn deployments_since(
    client: &Client,
    repo: &Repo,
    environment: &str,
    since: DateTime<Utc>,
) -> Result<Vec<DeploymentRecord>, GitHubError> {
    let path = repo.path(&format!(
        "/deployments?{}",
        query([("environment", environment), ("per_page", "100")])
    ));
    let list = client
        .get_list_until::<Vec<DeploymentRecord>, _>(&path, |page| {
            page.last().is_none_or(|oldest| oldest.created_at < since)
        })
        .await?;
    Ok(list
        .pages
        .iter()
        .flat_map(|page| page.value.iter())
        .filter(|d| d.created_at >= since)
        .cloned()
        .collect())
}

/// `GET /repos/{o}/{r}/deployments/{id}/statuses?per_page=100`, every page; oldest first.
pub async fn deployment_statuses(
    client: &Client,
    repo: &Repo,
    id: u64,
) -> Result<Vec<DeploymentStatus>, GitHubError> {
    let path = repo.path(&format!(
        "/deployments/{id}/statuses?{}",
        query([("per_page", "100")])
    ));
    let list = client.get_list::<Vec<DeploymentStatus>>(&path).await?;
    let mut statuses: Vec<DeploymentStatus> = list
        .pages
        .iter()
        .flat_map(|page| page.value.iter().cloned())
        .collect();
    statuses.sort_by_key(|s| (s.created_at, s.id));
    Ok(statuses)
}

/// Fills each Deployment's statuses, [`PAGE_CONCURRENCY`] Deployments at a time.
pub async fn with_statuses(
    client: &Client,
    repo: &Repo,
    deployments: Vec<DeploymentRecord>,
) -> Result<Vec<DeploymentRecord>, GitHubError> {
    stream::iter(deployments)
        .map(|mut deployment| async move {
            deployment.statuses = deployment_statuses(client, repo, deployment.id).await?;
            Ok(deployment)
        })
        .buffered(PAGE_CONCURRENCY)
        .collect::<Vec<Result<DeploymentRecord, GitHubError>>>()
        .await
        .into_iter()
        .collect()
}

/// A pull request as `GET .../commits/{sha}/pulls` lists it: only what finding the merge needs.
#[derive(Debug, Clone, Deserialize)]
struct PullSummary {
    number: u64,
    #[serde(default)]
    merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
}

/// `GET /repos/{o}/{r}/commits/{sha}/pulls?per_page=100`: the pull request whose merge commit is
/// `sha`, else the first merged one; `None` when the commit has no merged pull request (or
/// GitHub does not know the commit: 404, 422).
pub async fn merged_pull(
    client: &Client,
    repo: &Repo,
    sha: &str,
) -> Result<Option<Merge>, GitHubError> {
    let path = repo.path(&format!(
        "/commits/{}/pulls?{}",
        segment(sha),
        query([("per_page", "100")])
    ));
    let list = match client.get_list::<Vec<PullSummary>>(&path).await {
        Ok(list) => list,
        Err(error) if matches!(error.status(), Some(404 | 422)) => return Ok(None),
        Err(error) => return Err(error),
    };
    let pulls: Vec<&PullSummary> = list.pages.iter().flat_map(|p| p.value.iter()).collect();
    let merged = |p: &&&PullSummary| p.merged_at.is_some();
    let chosen = pulls
        .iter()
        .filter(merged)
        .find(|p| p.merge_commit_sha.as_deref() == Some(sha))
        .or_else(|| pulls.iter().find(merged));
    Ok(chosen.and_then(|p| {
        Some(Merge {
            number: p.number,
            merged_at: p.merged_at?,
        })
    }))
}

/// [`merged_pull`] for each SHA, [`PAGE_CONCURRENCY`] at a time, in the order given.
pub async fn merged_pulls(
    client: &Client,
    repo: &Repo,
    shas: Vec<String>,
) -> Result<Vec<(String, Option<Merge>)>, GitHubError> {
    stream::iter(shas)
        .map(|sha| async move {
            let merge = merged_pull(client, repo, &sha).await?;
            Ok((sha, merge))
        })
        .buffered(PAGE_CONCURRENCY)
        .collect::<Vec<Result<_, GitHubError>>>()
        .await
        .into_iter()
        .collect()
}
