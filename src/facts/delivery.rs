//! Facts for delivery metrics: an environment's GitHub Deployments with their statuses, and the
//! merged pull request of each deployed commit. The GitHub edge deserializes straight into these.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The Deployment task of a deploy (GitHub's default).
pub const TASK_DEPLOY: &str = "deploy";
/// The Deployment task of a rollback.
pub const TASK_ROLLBACK: &str = "deploy:rollback";

/// One GitHub Deployment of the environment, with its statuses (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeploymentRecord {
    pub id: u64,
    pub sha: String,
    /// `deploy`, `deploy:rollback` (shipgate's rollback records) or anything else a tool wrote.
    #[serde(default)]
    pub task: String,
    pub created_at: DateTime<Utc>,
    /// Filled from `GET .../deployments/{id}/statuses`, oldest first.
    #[serde(default)]
    pub statuses: Vec<DeploymentStatus>,
}

/// One status of a Deployment: `success`, `failure`, `error`, `inactive`, `in_progress`,
/// `queued`, `pending`, or a value GitHub adds later (kept as text).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeploymentStatus {
    #[serde(default)]
    pub id: u64,
    pub state: String,
    pub created_at: DateTime<Utc>,
}

/// The merged pull request that brought a commit, as `GET .../commits/{sha}/pulls` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub number: u64,
    pub merged_at: DateTime<Utc>,
}

/// Everything the delivery measures are computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFacts {
    pub environment: String,
    /// The period measured: `[since, until]`.
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The environment's Deployments created in the period (any task), newest first or not.
    pub deployments: Vec<DeploymentRecord>,
    /// Deployed SHA → its merged pull request (`None`: the commit has none).
    pub merges: BTreeMap<String, Option<Merge>>,
    /// GitHub requests made, and how many of them were answered 304 Not Modified.
    pub requests: u32,
    pub not_modified: u32,
}
