//! The `staging` gate: the commit reached every environment required first (its latest
//! GitHub Deployment there succeeded), and each of them is healthy now (one round of its health
//! endpoints, when it has a `url` and endpoints). `--skip-staging` in an emergency overrides it,
//! and says so.

use super::{Policy, Request};
use crate::decision::{Evidence, GateId, Override, Status, Verdict};
use crate::facts::{Facts, Readable, StagingFact};

/// The gate over gathered facts: deployments, then health now, then the emergency override.
pub fn gate(facts: &Facts, policy: &Policy<'_>, request: &Request) -> Verdict {
    if policy.requires.is_empty() {
        return evaluate(&[]);
    }
    let mut verdict = match &facts.staging {
        Readable::Read(deployments) => evaluate(deployments),
        Readable::NotAsked(why) | Readable::Unknown(why) => Verdict::new(
            GateId::Staging,
            Status::NotChecked,
            format!(
                "not checked ({why}): needs this commit deployed successfully to {} and healthy now",
                policy.requires.join(", ")
            ),
        ),
    };
    if verdict.status == Status::Pass {
        for probed in &facts.staging_health {
            let health = super::health::evaluate(
                &probed.policy,
                std::slice::from_ref(&probed.round),
                true,
                facts.now,
            );
            let text = format!("{} health now: {}", probed.environment, health.summary);
            if health.status > Status::Pass {
                verdict.status = Status::Fail;
                verdict.summary = text.clone();
            }
            verdict.evidence.push(Evidence::Note { text });
        }
    }
    if request.skip_staging && verdict.status > Status::Pass {
        let overrode = verdict.status;
        verdict.status = Status::Pass;
        verdict.summary = format!("EMERGENCY: skipped ({})", verdict.summary);
        let emergency = request.emergency.as_ref();
        verdict.overridden = Some(Override {
            actor: emergency.and_then(|e| e.actor.clone()),
            reason: emergency.map(|e| e.reason.clone()).unwrap_or_default(),
            overrode,
        });
    }
    verdict
}

/// The `staging` gate over the deployments alone.
pub fn evaluate(required: &[StagingFact]) -> Verdict {
    if required.is_empty() {
        return Verdict::new(
            GateId::Staging,
            Status::Skipped,
            "no environment is required first",
        );
    }
    let mut status = Status::Pass;
    let mut parts = Vec::new();
    for fact in required {
        let (state, text) = match &fact.deployment {
            None => (
                Status::Fail,
                format!("{}: this commit was never deployed there", fact.environment),
            ),
            Some((id, None)) => (
                Status::Pending,
                format!("{}: deployment {id} has no status yet", fact.environment),
            ),
            Some((id, Some(state))) => match state.as_str() {
                "success" => (
                    Status::Pass,
                    format!("{}: deployment {id} succeeded", fact.environment),
                ),
                // `auto_inactive` marks a successful deployment inactive once a newer one
                // replaces it: this commit did reach the environment.
                "inactive" => (
                    Status::Pass,
                    format!(
                        "{}: deployment {id} succeeded (since replaced by a newer one)",
                        fact.environment
                    ),
                ),
                "queued" | "pending" | "in_progress" => (
                    Status::Pending,
                    format!("{}: deployment {id} is {state}", fact.environment),
                ),
                other => (
                    Status::Fail,
                    format!("{}: deployment {id} is {other}", fact.environment),
                ),
            },
        };
        status = status.max(state);
        parts.push(text);
    }
    Verdict::new(GateId::Staging, status, parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(state: Option<Option<&str>>) -> StagingFact {
        StagingFact {
            environment: "staging".to_owned(),
            deployment: state.map(|s| (41, s.map(str::to_owned))),
        }
    }

    #[test]
    fn the_latest_deployment_state_decides() {
        let table = [
            (
                None,
                Status::Fail,
                "staging: this commit was never deployed there",
            ),
            (
                Some(None),
                Status::Pending,
                "staging: deployment 41 has no status yet",
            ),
            (
                Some(Some("success")),
                Status::Pass,
                "staging: deployment 41 succeeded",
            ),
            (
                Some(Some("inactive")),
                Status::Pass,
                "staging: deployment 41 succeeded (since replaced by a newer one)",
            ),
            (
                Some(Some("in_progress")),
                Status::Pending,
                "staging: deployment 41 is in_progress",
            ),
            (
                Some(Some("failure")),
                Status::Fail,
                "staging: deployment 41 is failure",
            ),
            (
                Some(Some("error")),
                Status::Fail,
                "staging: deployment 41 is error",
            ),
        ];
        for (state, status, summary) in table {
            let verdict = evaluate(&[fact(state)]);
            assert_eq!(
                (verdict.status, verdict.summary.as_str()),
                (status, summary)
            );
        }
        assert_eq!(evaluate(&[]).status, Status::Skipped);
        let worst = evaluate(&[fact(Some(Some("success"))), fact(None)]);
        assert_eq!(worst.status, Status::Fail);
    }
}
