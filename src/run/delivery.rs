//! `shipgate report metrics`: the environment's Deployments since the start of the period, their
//! statuses and the deployed commits' merged pull requests (IO, here), then the measures (pure,
//! `crate::delivery`), rendered by `render::delivery`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{github, Context, Output, RunError};
use crate::cli::MetricsArgs;
use crate::config::Environment;
use crate::delivery::{self, Outcome};
use crate::facts::delivery::DeliveryFacts;
use crate::github::client::SavedPages;
use crate::github::delivery as read;
use crate::render::{self, Format};

/// The longest `report metrics` keeps retrying GitHub.
const BUDGET: Duration = Duration::from_secs(10 * 60);

pub async fn metrics(
    context: &Context<'_>,
    env: &Environment,
    repo: Option<&str>,
    args: &MetricsArgs,
    format: Format,
) -> Result<Output, RunError> {
    let repo = github::repo(repo)?;
    let until = super::instant_at_env(args.at, env, context)?;
    let since = until
        - chrono::Duration::from_std(args.since)
            .map_err(|_| RunError::input("--since is too long", "use at most 366d"))?;
    let saved = match &args.cache {
        Some(path) => read_cache(path)?,
        None => SavedPages::default(),
    };
    let client = github::client(context.ambient, &repo, BUDGET)?.with_saved_pages(saved);
    let facts = gather(&client, &repo, &env.name, since, until)
        .await
        .map_err(|e| github::error(e, &repo))?;
    if let Some(path) = &args.cache {
        write_cache(path, &client.saved_pages(), context);
    }
    let stats = client.stats();
    tracing::info!(
        requests = stats.requests,
        not_modified = stats.not_modified,
        deployments = facts.deployments.len(),
        "delivery history read"
    );
    let facts = DeliveryFacts {
        requests: stats.requests,
        not_modified: stats.not_modified,
        ..facts
    };
    let report = delivery::compute(&facts, &env.delivery_targets);
    Ok(Output::Text {
        text: render::delivery::render(&report, format),
        exit_code: 0,
    })
}

async fn gather(
    client: &crate::github::client::Client,
    repo: &crate::github::gather::Repo,
    environment: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<DeliveryFacts, crate::github::client::GitHubError> {
    let deployments = read::deployments_since(client, repo, environment, since).await?;
    let deployments: Vec<_> = deployments
        .into_iter()
        .filter(|d| d.created_at <= until)
        .collect();
    let deployments = read::with_statuses(client, repo, deployments).await?;
    // Lead time needs the merge of each commit a deploy brought successfully.
    let mut shas: Vec<String> = deployments
        .iter()
        .filter(|d| d.task == delivery::TASK_DEPLOY)
        .filter(|d| delivery::outcome(d).0 == Outcome::Succeeded)
        .map(|d| d.sha.clone())
        .collect();
    shas.sort();
    shas.dedup();
    let merges: BTreeMap<_, _> = read::merged_pulls(client, repo, shas)
        .await?
        .into_iter()
        .collect();
    Ok(DeliveryFacts {
        environment: environment.to_owned(),
        since,
        until,
        deployments,
        merges,
        requests: 0,
        not_modified: 0,
    })
}

fn read_cache(path: &std::path::Path) -> Result<SavedPages, RunError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            RunError::input(
                format!("--cache {}: not a shipgate cache: {e}", path.display()),
                "delete the file (the next run reads everything again) or name another",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SavedPages::default()),
        Err(e) => Err(RunError::input(
            format!("--cache {}: {e}", path.display()),
            "name a file this user may read and write",
        )),
    }
}

/// A cache that cannot be written costs the next run its 304s, nothing more: a warning.
fn write_cache(path: &std::path::Path, pages: &SavedPages, context: &Context<'_>) {
    let text = serde_json::to_string(pages).unwrap_or_default();
    if let Err(e) = std::fs::write(path, text) {
        context.reporter.warning(&format!(
            "could not write the cache {}: {e}",
            path.display()
        ));
    }
}
