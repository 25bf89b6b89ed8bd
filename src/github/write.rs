//! What shipgate writes to GitHub: the gate check run, the sticky PR comment, Deployments and
//! workflow dispatches. Writes go out once (see `Client::write`); where a write may have raced
//! with another run, the state is read again and put right.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::json;

use super::client::{Client, GitHubError};
use super::gather::Repo;
use super::path::{query, segment};
use crate::render::github::parse_marker;

fn decode<T: serde::de::DeserializeOwned>(path: &str, body: &str) -> Result<T, GitHubError> {
    serde_json::from_str(body).map_err(|e| GitHubError::Decode {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Deserialize)]
struct Id {
    id: u64,
}

/// `POST /repos/{o}/{r}/check-runs` with status `in_progress`.
pub async fn start_check_run(
    client: &Client,
    repo: &Repo,
    name: &str,
    sha: &str,
    started_at: DateTime<Utc>,
    details_url: Option<&str>,
    title: &str,
) -> Result<u64, GitHubError> {
    let path = repo.path("/check-runs");
    let mut body = json!({
        "name": name,
        "head_sha": sha,
        "status": "in_progress",
        "started_at": rfc3339(started_at),
        "output": { "title": title, "summary": "shipgate is waiting for the required checks." },
    });
    if let Some(url) = details_url {
        body["details_url"] = json!(url);
    }
    match client.write("POST", &path, Some(&body)).await {
        Ok((_, answer)) => match decode::<Id>(&path, &answer) {
            Ok(id) => Ok(id.id),
            // Created, but the answer was lost: re-read and take over our own run.
            Err(error) => find_check_run(client, repo, sha, name).await?.ok_or(error),
        },
        Err(error) if error.status().is_none_or(|s| s >= 500) => {
            find_check_run(client, repo, sha, name).await?.ok_or(error)
        }
        Err(error) => Err(error),
    }
}

/// The newest unfinished check run called `name` on `sha`, after a create whose answer was lost.
async fn find_check_run(
    client: &Client,
    repo: &Repo,
    sha: &str,
    name: &str,
) -> Result<Option<u64>, GitHubError> {
    #[derive(Deserialize)]
    struct Runs {
        check_runs: Vec<Run>,
    }
    #[derive(Deserialize)]
    struct Run {
        id: u64,
        status: String,
    }
    let path = repo.path(&format!(
        "/commits/{}/check-runs?{}",
        segment(sha),
        query([
            ("check_name", name),
            ("filter", "latest"),
            ("per_page", "100"),
        ])
    ));
    let runs: Runs = decode(&path, &client.get(&path).await?)?;
    Ok(runs
        .check_runs
        .into_iter()
        .filter(|r| r.status != "completed")
        .map(|r| r.id)
        .max())
}

/// `PATCH /repos/{o}/{r}/check-runs/{id}`: completed, with the conclusion and the report.
pub async fn complete_check_run(
    client: &Client,
    repo: &Repo,
    id: u64,
    conclusion: &str,
    completed_at: DateTime<Utc>,
    title: &str,
    summary: &str,
) -> Result<(), GitHubError> {
    let path = repo.path(&format!("/check-runs/{id}"));
    let body = json!({
        "status": "completed",
        "conclusion": conclusion,
        "completed_at": rfc3339(completed_at),
        "output": { "title": title, "summary": summary },
    });
    // Completing is idempotent (the same PATCH twice leaves the same check run), so unlike
    // other writes it is tried again: a gate left in progress would block the PR for good.
    let mut last_error = None;
    for attempt in 0..3u64 {
        match client.write("PATCH", &path, Some(&body)).await {
            Ok(_) => return Ok(()),
            Err(error) if error.status().is_some_and(|s| s < 500) => return Err(error),
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1 + attempt)).await;
    }
    Err(last_error.unwrap_or_else(|| GitHubError::Unavailable {
        url: path,
        detail: "no answer".to_owned(),
    }))
}

#[derive(Debug, Clone, Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
struct User {
    login: String,
}

/// What happened to the sticky comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentAction {
    Created(u64),
    Updated(u64),
    Unchanged(u64),
}

/// Who writes the comments: a user token's login (`GET /user`), or, for an app's installation
/// token (the Actions token among them, which may not read `/user`), `None`: any bot.
/// Whose comments the GitHub Actions token writes.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// Who the token writes as: `github-actions[bot]` for the Actions token (known without asking),
/// else the token's user.
pub async fn identity(client: &Client, actions_token: bool) -> Result<Option<String>, GitHubError> {
    if actions_token {
        return Ok(Some(ACTIONS_BOT.to_owned()));
    }
    match client.get("/user").await {
        Ok(body) => Ok(Some(decode::<User>("/user", &body)?.login)),
        // An installation token may not read `/user` ("Resource not accessible by
        // integration"): the Actions token is one, and its comments are the bot's.
        Err(error) if matches!(error.status(), Some(401 | 403)) => Ok(Some(ACTIONS_BOT.to_owned())),
        // Unknown: write a new comment rather than adopt someone else's.
        Err(error) => {
            tracing::warn!(%error, "could not tell whose comments are shipgate's");
            Ok(None)
        }
    }
}

async fn own_comments(
    client: &Client,
    repo: &Repo,
    pr: u64,
    key: &str,
    login: Option<&str>,
) -> Result<Vec<(Comment, u64)>, GitHubError> {
    let path = repo.path(&format!(
        "/issues/{pr}/comments?{}",
        query([("per_page", "100")])
    ));
    let mut found = Vec::new();
    for page in client.get_list::<Vec<Comment>>(&path).await?.pages {
        for comment in page.value.iter().cloned() {
            // The marker says "shipgate wrote this"; the author says "and not someone
            // imitating it": the token's own identity, and no one else (unknown: no one).
            let mine = comment
                .user
                .as_ref()
                .zip(login)
                .is_some_and(|(u, login)| u.login.eq_ignore_ascii_case(login));
            let marker = comment.body.as_deref().and_then(parse_marker);
            if let (true, Some((found_key, hash))) = (mine, marker) {
                if found_key == key {
                    found.push((comment, hash));
                }
            }
        }
    }
    found.sort_by_key(|(c, _)| c.id);
    Ok(found)
}

/// Creates or updates shipgate's one comment for `key` on a PR. Found by the hidden marker and
/// the writer's login; not written when the report's hash is unchanged; duplicates left by a race
/// between two runs are collapsed onto the oldest.
pub async fn upsert_comment(
    client: &Client,
    repo: &Repo,
    pr: u64,
    key: &str,
    login: Option<&str>,
    body: &str,
) -> Result<CommentAction, GitHubError> {
    let hash = parse_marker(body).map(|(_, h)| h);
    let existing = own_comments(client, repo, pr, key, login).await?;
    let action = match existing.first() {
        Some((oldest, old_hash)) if Some(*old_hash) == hash => CommentAction::Unchanged(oldest.id),
        Some((oldest, _)) => {
            let path = repo.path(&format!("/issues/comments/{}", oldest.id));
            client
                .write("PATCH", &path, Some(&json!({ "body": body })))
                .await?;
            CommentAction::Updated(oldest.id)
        }
        None => {
            let path = repo.path(&format!("/issues/{pr}/comments"));
            let (_, answer) = client
                .write("POST", &path, Some(&json!({ "body": body })))
                .await?;
            CommentAction::Created(decode::<Id>(&path, &answer)?.id)
        }
    };
    // Another run may have posted at the same time: keep the oldest, remove the rest.
    let after = if matches!(action, CommentAction::Created(_)) {
        own_comments(client, repo, pr, key, login).await?
    } else {
        existing
    };
    if after.len() > 1 {
        let keep = after[0].0.id;
        for (duplicate, _) in &after[1..] {
            let path = repo.path(&format!("/issues/comments/{}", duplicate.id));
            match client.write("DELETE", &path, None).await {
                // Another run removed it first: the goal is reached.
                Err(error) if error.status() == Some(404) => {}
                result => drop(result?),
            }
        }
        if let CommentAction::Created(id) = action {
            if id != keep {
                client
                    .write(
                        "PATCH",
                        &repo.path(&format!("/issues/comments/{keep}")),
                        Some(&json!({ "body": body })),
                    )
                    .await?;
                return Ok(CommentAction::Updated(keep));
            }
        }
    }
    Ok(action)
}

/// Deletes shipgate's comments for `key` (e.g. the "invalid config" one, once the config is fixed).
pub async fn delete_comments(
    client: &Client,
    repo: &Repo,
    pr: u64,
    key: &str,
    login: Option<&str>,
) -> Result<usize, GitHubError> {
    let found = own_comments(client, repo, pr, key, login).await?;
    for (comment, _) in &found {
        let path = repo.path(&format!("/issues/comments/{}", comment.id));
        match client.write("DELETE", &path, None).await {
            Err(error) if error.status() == Some(404) => {}
            result => drop(result?),
        }
    }
    Ok(found.len())
}

/// `POST /repos/{o}/{r}/deployments`: never auto-merges and never re-checks contexts (shipgate
/// already did); the reason and any override travel in `payload`.
pub use crate::facts::delivery::{TASK_DEPLOY, TASK_ROLLBACK};

/// A Deployment to create.
pub struct NewDeployment<'a> {
    /// The commit (or ref) deployed.
    pub sha: &'a str,
    pub environment: &'a str,
    /// [`TASK_DEPLOY`] or [`TASK_ROLLBACK`].
    pub task: &'a str,
    pub production: bool,
    pub description: &'a str,
    pub payload: serde_json::Value,
}

pub async fn create_deployment(
    client: &Client,
    repo: &Repo,
    deployment: NewDeployment<'_>,
) -> Result<u64, GitHubError> {
    let path = repo.path("/deployments");
    let body = json!({
        "ref": deployment.sha,
        "environment": deployment.environment,
        "task": deployment.task,
        "auto_merge": false,
        "required_contexts": [],
        "description": deployment.description.chars().take(140).collect::<String>(),
        "production_environment": deployment.production,
        "transient_environment": false,
        "payload": deployment.payload,
    });
    let (_, answer) = client.write("POST", &path, Some(&body)).await?;
    Ok(decode::<Id>(&path, &answer)?.id)
}

/// `POST /repos/{o}/{r}/deployments/{id}/statuses`.
pub async fn set_deployment_status(
    client: &Client,
    repo: &Repo,
    deployment: u64,
    state: &str,
    log_url: Option<&str>,
    environment_url: Option<&str>,
    description: &str,
) -> Result<(), GitHubError> {
    let path = repo.path(&format!("/deployments/{deployment}/statuses"));
    let mut body = json!({
        "state": state,
        "description": description.chars().take(140).collect::<String>(),
        "auto_inactive": true,
    });
    if let Some(url) = log_url {
        body["log_url"] = json!(url);
    }
    if let Some(url) = environment_url {
        body["environment_url"] = json!(url);
    }
    client.write("POST", &path, Some(&body)).await.map(drop)
}

/// The state of a deployment's latest status, if it has one.
pub async fn latest_status_state(
    client: &Client,
    repo: &Repo,
    deployment: u64,
) -> Result<Option<String>, GitHubError> {
    #[derive(Deserialize)]
    struct State {
        state: String,
    }
    let path = repo.path(&format!(
        "/deployments/{deployment}/statuses?{}",
        query([("per_page", "1")])
    ));
    let statuses: Vec<State> = decode(&path, &client.get(&path).await?)?;
    Ok(statuses.into_iter().next().map(|s| s.state))
}

/// The latest deployment of `sha` to `environment` and its latest status state, if any.
pub async fn latest_deployment_state(
    client: &Client,
    repo: &Repo,
    sha: &str,
    environment: &str,
) -> Result<Option<(u64, Option<String>)>, GitHubError> {
    #[derive(Deserialize)]
    struct State {
        state: String,
    }
    let path = repo.path(&format!(
        "/deployments?{}",
        query([
            ("sha", sha),
            ("environment", environment),
            // Deploys only: a rollback (`deploy:rollback`) records the ref it ran from, which
            // says nothing about whether that commit was deployed there.
            ("task", TASK_DEPLOY),
            ("per_page", "1"),
        ])
    ));
    let deployments: Vec<Id> = decode(&path, &client.get(&path).await?)?;
    let Some(latest) = deployments.first() else {
        return Ok(None);
    };
    let path = repo.path(&format!(
        "/deployments/{}/statuses?{}",
        latest.id,
        query([("per_page", "1")])
    ));
    let statuses: Vec<State> = decode(&path, &client.get(&path).await?)?;
    Ok(Some((
        latest.id,
        statuses.into_iter().next().map(|s| s.state),
    )))
}

/// A dispatched workflow run, when GitHub said which one it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    pub run_id: Option<u64>,
    pub run_url: Option<String>,
}

/// `POST .../actions/workflows/{workflow}/dispatches` with `return_run_details: true`. GitHub
/// answers 200 with the run, or 204 (older servers) with nothing: then the run is found by the
/// correlation id that the workflow puts in its `run-name`.
pub async fn dispatch_workflow(
    client: &Client,
    repo: &Repo,
    workflow: &str,
    git_ref: &str,
    inputs: &serde_json::Map<String, serde_json::Value>,
    correlation_id: &str,
    since: DateTime<Utc>,
) -> Result<Dispatched, GitHubError> {
    #[derive(Deserialize)]
    struct Details {
        workflow_run_id: Option<u64>,
        html_url: Option<String>,
    }
    let path = repo.path(&format!(
        "/actions/workflows/{}/dispatches",
        segment(workflow)
    ));
    let body = json!({ "ref": git_ref, "inputs": inputs, "return_run_details": true });
    let mut sent = client.write("POST", &path, Some(&body)).await;
    if sent
        .as_ref()
        .is_err_and(|error| matches!(error.status(), Some(400 | 422)))
    {
        // Older GitHub Enterprise Server refuses the unknown key before dispatching anything:
        // once more without it; the run is then found by its correlation id.
        let plain = json!({ "ref": git_ref, "inputs": inputs });
        sent = client.write("POST", &path, Some(&plain)).await;
    }
    let (status, answer) = match sent {
        Ok(answered) => answered,
        // The dispatch may have happened even though its answer was lost: look before failing,
        // so a rollback is neither reported as not started nor started twice.
        Err(error) if error.status().is_none_or(|s| s >= 500) => {
            let found =
                find_run_by_correlation(client, repo, workflow, correlation_id, since).await?;
            return if found.run_id.is_some() {
                Ok(found)
            } else {
                Err(error)
            };
        }
        Err(error) => Err(error)?,
    };
    if status == 200 {
        if let Ok(details) = serde_json::from_str::<Details>(&answer) {
            if details.workflow_run_id.is_some() {
                return Ok(Dispatched {
                    run_id: details.workflow_run_id,
                    run_url: details.html_url,
                });
            }
        }
    }
    find_run_by_correlation(client, repo, workflow, correlation_id, since).await
}

async fn find_run_by_correlation(
    client: &Client,
    repo: &Repo,
    workflow: &str,
    correlation_id: &str,
    since: DateTime<Utc>,
) -> Result<Dispatched, GitHubError> {
    #[derive(Deserialize)]
    struct Runs {
        workflow_runs: Vec<Run>,
    }
    #[derive(Deserialize)]
    struct Run {
        id: u64,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        display_title: Option<String>,
        #[serde(default)]
        html_url: Option<String>,
    }
    let created = format!(">={}", rfc3339(since - chrono::Duration::minutes(1)));
    let path = repo.path(&format!(
        "/actions/workflows/{}/runs?{}",
        segment(workflow),
        query([
            ("event", "workflow_dispatch"),
            ("per_page", "100"),
            ("created", &created),
        ])
    ));
    // The run appears a moment after the dispatch: look a few times.
    for attempt in 0..5u32 {
        let runs: Runs = decode(&path, &client.get(&path).await?)?;
        let found = runs.workflow_runs.into_iter().find(|run| {
            [&run.display_title, &run.name].iter().any(|t| {
                t.as_deref().is_some_and(|t| {
                    t.split(|c: char| c.is_whitespace() || "()[],;:".contains(c))
                        .any(|word| word == correlation_id)
                })
            })
        });
        if let Some(run) = found {
            return Ok(Dispatched {
                run_id: Some(run.id),
                run_url: run.html_url,
            });
        }
        tokio::time::sleep(std::time::Duration::from_secs(1 + u64::from(attempt))).await;
    }
    Ok(Dispatched {
        run_id: None,
        run_url: None,
    })
}
