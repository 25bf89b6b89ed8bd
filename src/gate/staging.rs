//! The `staging` gate: the commit reached every environment required first (its latest
//! GitHub Deployment there succeeded). Probing that environment's health now belongs to
//! `deploy`, which has the probes.

use crate::decision::{Evidence, GateId, Status, Verdict};
use crate::facts::StagingFact;

/// The `staging` gate over gathered deployment facts. Probing the environment's health now
/// belongs to `deploy`, which has the probes.
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
    Verdict::new(GateId::Staging, status, parts.join("; ")).with_evidence(vec![Evidence::Note {
        text: "the environment's health now is probed by `deploy`".to_owned(),
    }])
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
