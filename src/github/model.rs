//! Lenient shapes of the GitHub REST answers shipgate reads. Fields shipgate does not need are
//! not declared (serde skips them); fields GitHub may omit or null are `Option` or defaulted.

use serde::Deserialize;

pub use crate::facts::checks::{
    App, CheckRun, CheckRunStatus, CommitStatus, Conclusion, RequiredContext, StatusState,
};

/// One page of `GET .../commits/{ref}/check-runs`.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRunsPage {
    #[serde(default)]
    pub total_count: u64,
    pub check_runs: Vec<CheckRun>,
}

/// `GET .../commits/{ref}/status`: the latest status per context. Its combined `state` is
/// `pending` when there are no statuses at all, so it is never used as a gate on its own.
#[derive(Debug, Clone, Deserialize)]
pub struct CombinedStatus {
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub total_count: u64,
    pub statuses: Vec<CommitStatus>,
}

/// One active rule for a branch (`GET /repos/{owner}/{repo}/rules/branches/{branch}`). There are
/// about 23 rule types; only `required_status_checks` matters here, the rest are skipped.
#[derive(Debug, Clone, Deserialize)]
pub struct BranchRule {
    #[serde(rename = "type")]
    pub rule_type: String,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    #[serde(default)]
    pub ruleset_id: Option<u64>,
}

impl BranchRule {
    /// The checks this rule requires, if it is a `required_status_checks` rule. A rule of that
    /// type whose parameters do not decode is an error: its checks are unknown, never "none".
    pub fn required_checks(&self) -> Result<Vec<RequiredContext>, String> {
        if self.rule_type != "required_status_checks" {
            return Ok(Vec::new());
        }
        let list = self
            .parameters
            .as_ref()
            .and_then(|p| p.get("required_status_checks"))
            .ok_or_else(|| self.unreadable("it has no `required_status_checks` list"))?;
        serde_json::from_value::<Vec<RequiredContext>>(list.clone())
            .map_err(|error| self.unreadable(&error.to_string()))
    }

    fn unreadable(&self, why: &str) -> String {
        match self.ruleset_id {
            Some(id) => {
                format!("the required_status_checks rule of ruleset {id} could not be read: {why}")
            }
            None => format!("a required_status_checks rule could not be read: {why}"),
        }
    }
}

/// The required checks of a branch's rules: every rule's, or unknown when one cannot be read.
pub fn rules_required_checks<'a>(
    rules: impl IntoIterator<Item = &'a BranchRule>,
) -> crate::facts::Readable<Vec<RequiredContext>> {
    let mut required = Vec::new();
    for rule in rules {
        match rule.required_checks() {
            Ok(checks) => required.extend(checks),
            Err(why) => return crate::facts::Readable::Unknown(why),
        }
    }
    crate::facts::Readable::Read(required)
}

/// `GET /repos/{owner}/{repo}/branches/{branch}`: readable with the default token, and carries a
/// partial view of classic branch protection.
#[derive(Debug, Clone, Deserialize)]
pub struct Branch {
    pub name: String,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub protection: Option<BranchProtection>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BranchProtection {
    #[serde(default)]
    pub required_status_checks: Option<RequiredStatusChecks>,
}

/// Also the shape of `GET .../branches/{branch}/protection/required_status_checks`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequiredStatusChecks {
    #[serde(default)]
    pub contexts: Vec<String>,
    #[serde(default)]
    pub checks: Vec<RequiredContext>,
}

impl RequiredStatusChecks {
    /// `checks` is the current form; `contexts` is deprecated but still sent, and may name checks
    /// that `checks` also has.
    pub fn required(&self) -> Vec<RequiredContext> {
        let mut required = self.checks.clone();
        for context in &self.contexts {
            if !required.iter().any(|r| &r.context == context) {
                required.push(RequiredContext {
                    context: context.clone(),
                    app_id: None,
                });
            }
        }
        required
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_are_kept_not_rejected() {
        let run: CheckRun = serde_json::from_str(
            r#"{"id":1,"name":"build","status":"hibernating","conclusion":"exploded","app":{"id":15368,"slug":"github-actions"}}"#,
        )
        .expect("lenient");
        assert_eq!(run.status, CheckRunStatus::Other("hibernating".to_owned()));
        assert_eq!(
            run.conclusion,
            Some(Conclusion::Other("exploded".to_owned()))
        );
        assert_eq!(
            run.conclusion.as_ref().map(Conclusion::as_str),
            Some("exploded")
        );
    }

    #[test]
    fn ruleset_checks_keep_the_app_pin() {
        let rule: BranchRule = serde_json::from_str(
            r#"{"type":"required_status_checks","ruleset_source_type":"Repository","ruleset_source":"o/r","ruleset_id":7,
               "parameters":{"required_status_checks":[{"context":"build","integration_id":15368},{"context":"lint"}],
               "strict_required_status_checks_policy":true}}"#,
        )
        .expect("rule");
        assert_eq!(
            rule.required_checks().expect("decodes"),
            [
                RequiredContext {
                    context: "build".into(),
                    app_id: Some(15368)
                },
                RequiredContext {
                    context: "lint".into(),
                    app_id: None
                }
            ]
        );
        let other: BranchRule =
            serde_json::from_str(r#"{"type":"copilot_code_review","parameters":{"x":1}}"#)
                .expect("rule");
        assert_eq!(other.required_checks(), Ok(Vec::new()));
        let broken: BranchRule = serde_json::from_str(
            r#"{"type":"required_status_checks","ruleset_id":9,"parameters":{"required_status_checks":[{"integration_id":1}]}}"#,
        )
        .expect("rule");
        let error = broken.required_checks().expect_err("fails closed");
        assert!(
            error.starts_with("the required_status_checks rule of ruleset 9 could not be read"),
            "{error}"
        );
        assert!(matches!(
            rules_required_checks([&other, &broken]),
            crate::facts::Readable::Unknown(_)
        ));
    }

    #[test]
    fn protection_merges_checks_and_deprecated_contexts() {
        let checks: RequiredStatusChecks = serde_json::from_str(
            r#"{"contexts":["ci","legacy"],"checks":[{"context":"ci","app_id":null}]}"#,
        )
        .expect("shape");
        let names: Vec<String> = checks.required().into_iter().map(|r| r.context).collect();
        assert_eq!(names, ["ci", "legacy"]);
    }
}
