//! The action's outputs: every output of `action.yml` rendered from one Decision (or from an
//! error, when no decision was reached).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::decision::Decision;

/// The outputs of `action.yml`, in its order.
pub const OUTPUTS: &[&str] = &[
    "outcome",
    "exit-code",
    "sha",
    "previous-version",
    "previous-image",
    "deployed-version",
    "deployed-image",
    "rollback-triggered",
    "rollback-run-url",
    "deployment-id",
    "decision",
];

/// An output's size budget for the decision JSON: outputs share 1 MB per job.
const DECISION_LIMIT: usize = 512 * 1024;

/// The outputs of a decision, by name, every one of [`OUTPUTS`] present.
pub fn outputs(decision: &Decision) -> BTreeMap<&'static str, String> {
    let report = decision.report.as_ref();
    let incident = report.and_then(|r| r.incident.as_ref());
    let text = |v: Option<String>| v.unwrap_or_default();
    let mut json = serde_json::to_value(decision).unwrap_or(Value::Null);
    let mut decision_json = json.to_string();
    if decision_json.len() > DECISION_LIMIT {
        // Keep the verdicts' summaries; the evidence is in the job summary and the log.
        if let Some(verdicts) = json.get_mut("verdicts").and_then(Value::as_array_mut) {
            for verdict in verdicts {
                verdict["evidence"] = Value::Array(Vec::new());
            }
        }
        json["truncated"] = Value::Bool(true);
        decision_json = json.to_string();
    }
    BTreeMap::from([
        ("outcome", decision.outcome.as_str().to_owned()),
        ("exit-code", decision.exit_code.to_string()),
        ("sha", text(decision.subject.sha.clone())),
        (
            "previous-version",
            text(report.and_then(|r| r.previous.as_ref()?.version.map(|v| v.to_string()))),
        ),
        (
            "previous-image",
            text(report.and_then(|r| r.previous.as_ref()?.image.clone())),
        ),
        (
            "deployed-version",
            text(report.and_then(|r| r.deployed.as_ref()?.version.map(|v| v.to_string()))),
        ),
        (
            "deployed-image",
            text(report.and_then(|r| r.deployed.as_ref()?.image.clone())),
        ),
        (
            "rollback-triggered",
            incident.is_some_and(|i| i.rollback_triggered).to_string(),
        ),
        (
            "rollback-run-url",
            text(incident.and_then(|i| i.rollback_run_url.clone())),
        ),
        (
            "deployment-id",
            text(report.and_then(|r| r.deployment_id.map(|id| id.to_string()))),
        ),
        ("decision", decision_json),
    ])
}

/// The outputs when no decision was reached (bad input, GitHub or Fly unavailable).
pub fn error_outputs(
    outcome: &str,
    exit_code: u8,
    message: &str,
) -> BTreeMap<&'static str, String> {
    let mut outputs: BTreeMap<&'static str, String> =
        OUTPUTS.iter().map(|name| (*name, String::new())).collect();
    outputs.insert("outcome", outcome.to_owned());
    outputs.insert("exit-code", exit_code.to_string());
    outputs.insert("rollback-triggered", "false".to_owned());
    outputs.insert(
        "decision",
        serde_json::json!({
            "schema": crate::decision::SCHEMA,
            "command": "action",
            "outcome": outcome,
            "exit_code": exit_code,
            "summary": message,
        })
        .to_string(),
    );
    outputs
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    #[test]
    fn a_decision_without_a_deploy_has_every_output() {
        let decision = Decision::from_gates(
            "plan",
            crate::decision::Subject {
                sha: Some("abc".into()),
                ..Default::default()
            },
            DateTime::<Utc>::UNIX_EPOCH,
            vec![],
        );
        let outputs = outputs(&decision);
        assert_eq!(outputs.len(), OUTPUTS.len());
        assert_eq!(outputs["outcome"], "go");
        assert_eq!(outputs["exit-code"], "0");
        assert_eq!(outputs["sha"], "abc");
        assert_eq!(outputs["rollback-triggered"], "false");
        assert_eq!(outputs["deployed-version"], "");
        let json: Value = serde_json::from_str(&outputs["decision"]).expect("JSON");
        assert_eq!(json["schema"], crate::decision::SCHEMA);
    }
}
