//! The run's approvals: the reviews GitHub recorded for the environments of a workflow run
//! (`GET /repos/{o}/{r}/actions/runs/{run_id}/approvals`), and whether the environment forbids
//! self-review (`GET /repos/{o}/{r}/environments/{name}`, its `required_reviewers` rule). The
//! edge deserializes straight into these; the gate reads them.

use serde::Deserialize;

use super::Readable;

open_enum!(
    /// A review's state. GitHub documents `approved`, `rejected` and `pending`.
    ReviewState {
        Approved = "approved",
        Rejected = "rejected",
        Pending = "pending",
    }
);

/// One entry of a run's review history. GitHub records no time for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Review {
    /// The environments the review approved or rejected.
    #[serde(default)]
    pub environments: Vec<ReviewedEnvironment>,
    #[serde(default)]
    pub state: ReviewState,
    /// The reviewer; `null` for a deleted account (shown as "ghost").
    #[serde(default)]
    pub user: Option<Login>,
    /// The comment left with the review (empty when none).
    #[serde(default)]
    pub comment: Option<String>,
}

impl Review {
    /// The reviewer's login, or `ghost` (GitHub's name for a deleted account).
    pub fn login(&self) -> &str {
        self.user.as_ref().map_or("ghost", |u| u.login.as_str())
    }

    /// Whether this review is about `environment` (GitHub environment names are
    /// case-insensitive).
    pub fn covers(&self, environment: &str) -> bool {
        self.environments
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(environment))
    }

    /// The comment, trimmed; `None` when empty.
    pub fn comment(&self) -> Option<&str> {
        self.comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReviewedEnvironment {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Login {
    pub login: String,
}

/// The parts of `GET /repos/{o}/{r}/environments/{name}` the gate reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EnvironmentSettings {
    #[serde(default)]
    pub protection_rules: Vec<ProtectionRule>,
}

/// One of an environment's protection rules (`wait_timer`, `required_reviewers`,
/// `branch_policy`, or a type added later).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProtectionRule {
    #[serde(rename = "type", default)]
    pub rule_type: String,
    #[serde(default)]
    pub prevent_self_review: Option<bool>,
}

impl EnvironmentSettings {
    /// Whether the environment has required reviewers.
    pub fn has_required_reviewers(&self) -> bool {
        self.protection_rules
            .iter()
            .any(|r| r.rule_type == "required_reviewers")
    }

    /// Whether the run's own actor may not approve it (`prevent_self_review` of the
    /// `required_reviewers` rule).
    pub fn prevent_self_review(&self) -> bool {
        self.protection_rules
            .iter()
            .any(|r| r.rule_type == "required_reviewers" && r.prevent_self_review == Some(true))
    }
}

/// What is known of the deploy run's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalFacts {
    /// `GITHUB_RUN_ID`: the run whose reviews were read.
    pub run_id: String,
    /// The run's triggering actor (`GITHUB_ACTOR`), when known.
    pub actor: Option<String>,
    /// The run's review history, oldest first as GitHub lists it.
    pub reviews: Vec<Review>,
    /// The GitHub Environment's settings; `Unknown` when they could not be read (a 404: no
    /// such environment in GitHub; a 403: the token may not read it).
    pub environment: Readable<EnvironmentSettings>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shapes_decode_and_unknown_values_do_not_fail() {
        let reviews: Vec<Review> = serde_json::from_str(
            r#"[{"state":"approved","comment":"Ship it!","environments":[{"id":1,"name":"Production"}],
                 "user":{"login":"octocat","id":1}},
                {"state":"dismissed","comment":"","environments":[],"user":null}]"#,
        )
        .expect("reviews");
        assert_eq!(reviews[0].state, ReviewState::Approved);
        assert!(reviews[0].covers("production"));
        assert_eq!(
            (reviews[0].login(), reviews[0].comment()),
            ("octocat", Some("Ship it!"))
        );
        assert_eq!(reviews[1].state, ReviewState::Other("dismissed".to_owned()));
        assert_eq!((reviews[1].login(), reviews[1].comment()), ("ghost", None));

        let settings: EnvironmentSettings = serde_json::from_str(
            r#"{"id":1,"name":"production","protection_rules":[
                 {"id":1,"node_id":"a","type":"wait_timer","wait_timer":30},
                 {"id":2,"node_id":"b","type":"required_reviewers","prevent_self_review":true,"reviewers":[]},
                 {"id":3,"node_id":"c","type":"branch_policy"}]}"#,
        )
        .expect("environment");
        assert!(settings.has_required_reviewers() && settings.prevent_self_review());
        let none: EnvironmentSettings =
            serde_json::from_str(r#"{"id":1,"name":"staging"}"#).expect("environment");
        assert!(!none.has_required_reviewers() && !none.prevent_self_review());
    }
}
