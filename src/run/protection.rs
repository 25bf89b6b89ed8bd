//! A deployment protection rule request, as `shipgate serve` hands it to the sequencer: what
//! GitHub asked (`deployment_protection_rule`, `action: requested`), what the gates say about it
//! and how the answer goes back. The server (`serve/`) parses and stores requests and schedules
//! holds; an implementation of [`Protection`] gathers the facts, runs the gates and posts the
//! answer through the GitHub edge.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// One protection-rule request of a workflow run for an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionRequest {
    /// `X-GitHub-Delivery` of the delivery that brought it (redeliveries reuse it).
    pub delivery_id: String,
    /// `installation.id`: whose installation token answers it.
    pub installation_id: u64,
    /// `owner/name` of the repository.
    pub repo: String,
    /// `environment`: the environment the job targets.
    pub environment: String,
    /// `sha` the job would deploy.
    pub sha: String,
    /// `ref`, when the event carries one.
    pub git_ref: Option<String>,
    /// The workflow run waiting, from `deployment_callback_url` (`…/actions/runs/{run_id}/…`).
    pub run_id: u64,
    /// `deployment_callback_url` as GitHub sent it.
    pub callback_url: String,
}

/// What the gates decided about a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Every gate passed: answer `approved` with this comment.
    Approve { comment: String },
    /// A gate failed: answer `rejected` with this comment (it names the gate).
    Reject { comment: String },
    /// The window is closed and the policy holds such requests: store it and evaluate it again
    /// at `until` (the next opening); nothing is answered yet.
    Hold {
        until: DateTime<Utc>,
        comment: String,
    },
}

/// The `state` of the answer to GitHub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerState {
    Approved,
    Rejected,
}

impl AnswerState {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerState::Approved => "approved",
            AnswerState::Rejected => "rejected",
        }
    }
}

/// Decides and answers protection-rule requests. The server calls `evaluate` in the background
/// after acknowledging a delivery (and again for a hold at its time), then `answer` with the
/// verdict's state (never for a hold).
pub trait Protection: Send + Sync + 'static {
    /// Reads the policy from the repository's default branch, gathers the facts of `request.sha`
    /// and runs the gates at `now` (waiting for pending checks up to `checks.wait`).
    fn evaluate<'a>(
        &'a self,
        request: &'a ProtectionRequest,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, anyhow::Result<Verdict>>;

    /// `POST /repos/{o}/{r}/actions/runs/{run_id}/deployment_protection_rule` with
    /// `{environment_name, state, comment}` as the installation.
    fn answer<'a>(
        &'a self,
        request: &'a ProtectionRequest,
        state: AnswerState,
        comment: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}
