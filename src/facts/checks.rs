//! What GitHub says about a commit's checks, as the `required-checks` gate reads it: check runs,
//! commit statuses and required contexts. The GitHub edge deserializes its answers straight into
//! these shapes (lenient: fields shipgate does not need are not declared, every enum is an open
//! set).

use chrono::{DateTime, Utc};
use serde::Deserialize;

open_enum!(
    /// `check_run.status` (spec component `check-run`; `waiting`, `requested` and `pending` are
    /// reserved for GitHub Actions).
    CheckRunStatus {
        Queued = "queued",
        InProgress = "in_progress",
        Completed = "completed",
        Waiting = "waiting",
        Requested = "requested",
        Pending = "pending",
    }
);

open_enum!(
    /// `check_run.conclusion`. The response enum lists seven values; `stale` and
    /// `startup_failure` appear elsewhere in the spec and in practice.
    Conclusion {
        Success = "success",
        Failure = "failure",
        Neutral = "neutral",
        Cancelled = "cancelled",
        Skipped = "skipped",
        TimedOut = "timed_out",
        ActionRequired = "action_required",
        Stale = "stale",
        StartupFailure = "startup_failure",
    }
);

open_enum!(
    /// A commit status `state`.
    StatusState {
        Success = "success",
        Pending = "pending",
        Failure = "failure",
        Error = "error",
    }
);

/// The app that created a check run.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct App {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub slug: Option<String>,
}

/// A check run (`GET /repos/{owner}/{repo}/commits/{ref}/check-runs`).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub head_sha: Option<String>,
    pub status: CheckRunStatus,
    #[serde(default)]
    pub conclusion: Option<Conclusion>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub details_url: Option<String>,
    #[serde(default)]
    pub app: Option<App>,
}

/// A commit status (`GET .../commits/{ref}/status` or `.../statuses`).
#[derive(Debug, Clone, Deserialize)]
pub struct CommitStatus {
    pub id: u64,
    pub context: String,
    pub state: StatusState,
    #[serde(default)]
    pub target_url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A required status check from a ruleset or branch protection: a name, optionally pinned to the
/// app that must report it (`integration_id` in rulesets, `app_id` in protection).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RequiredContext {
    pub context: String,
    #[serde(default, alias = "integration_id")]
    pub app_id: Option<u64>,
}

/// Whether more rounds may follow. A missing check is pending while waiting and fails at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Waiting,
    Final,
}
