//! Telling the team how a deploy or rollback ended (`notify.webhook`). Never fails it.

use super::Context;
use crate::config::Environment;
use crate::decision::{Decision, Outcome};
use crate::github::gather::Repo;

/// With `notify.webhook`, posts how a deploy or rollback ended: deployed, rolled back, rollback
/// failed, or cancelled.
pub async fn deploy_ended(
    context: &Context<'_>,
    env: &Environment,
    decision: &Decision,
    reason: &str,
    repo: Option<&Repo>,
) {
    if !env.notify.webhook
        || !matches!(
            decision.outcome,
            Outcome::Deployed | Outcome::RolledBack | Outcome::RollbackFailed | Outcome::Cancelled
        )
    {
        return;
    }
    let Some(webhook) = &context.ambient.webhook_url else {
        context.reporter.warning(
            "notify.webhook is on but SHIPGATE_WEBHOOK_URL is not set; no notification sent",
        );
        return;
    };
    let run_url = repo.and_then(|repo| context.ambient.run_url(&repo.to_string()));
    let message = crate::render::notify::message(
        decision,
        &crate::render::notify::Context {
            reason,
            actor: context.ambient.actor.as_deref(),
            run_url: run_url.as_deref(),
        },
    );
    if let Err(error) = crate::notify::post(webhook, &message).await {
        context.reporter.warning(&format!(
            "the deploy notification was not delivered: {error}"
        ));
    }
}
