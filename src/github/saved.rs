//! Saved GitHub answers, for `shipgate checks --from-file`: the bodies of the REST answers the
//! gate reads, exactly as GitHub returned them, turned into the gate's facts.

use serde::Deserialize;

use super::model::{
    Branch, BranchRule, CheckRunsPage, CombinedStatus, CommitStatus, RequiredStatusChecks,
};
use crate::facts::{ChecksFacts, OwnChecks, Readable};

/// Saved GitHub answers for `shipgate checks --from-file`: each field is the body of one REST
/// answer (or a list of pages of it), exactly as GitHub returned it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedChecks {
    /// The commit the answers are about.
    #[serde(default)]
    pub sha: Option<String>,
    /// `GET /repos/{o}/{r}/commits/{ref}/check-runs`: one page or a list of pages.
    #[serde(default)]
    pub check_runs: Option<Pages<CheckRunsPage>>,
    /// `GET /repos/{o}/{r}/commits/{ref}/status`: one page or a list of pages.
    #[serde(default)]
    pub status: Option<Pages<CombinedStatus>>,
    /// `GET /repos/{o}/{r}/commits/{ref}/statuses`: the full list, newest first.
    #[serde(default)]
    pub statuses: Option<Vec<CommitStatus>>,
    /// `GET /repos/{o}/{r}/rules/branches/{branch}`.
    #[serde(default)]
    pub branch_rules: Option<Vec<BranchRule>>,
    /// `GET /repos/{o}/{r}/branches/{branch}` (its partial protection view).
    #[serde(default)]
    pub branch: Option<Branch>,
    /// `GET /repos/{o}/{r}/branches/{branch}/protection/required_status_checks`.
    #[serde(default)]
    pub required_status_checks: Option<RequiredStatusChecks>,
    /// IDs of shipgate's own check runs (the job running it), excluded from the required set.
    #[serde(default)]
    pub own_check_run_ids: Vec<u64>,
}

/// One page, or several pages, of a paginated answer.
#[derive(Debug)]
pub enum Pages<T> {
    Many(Vec<T>),
    One(T),
}

// Not `#[serde(untagged)]`: that would hide the real error ("missing field `name`") behind
// "did not match any variant".
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Pages<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PagesVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for PagesVisitor<T> {
            type Value = Pages<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("one page (an object) or a list of pages")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Pages<T>, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(Pages::Many)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Pages<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Pages::One)
            }
        }
        deserializer.deserialize_any(PagesVisitor(std::marker::PhantomData))
    }
}

impl<T> Pages<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Pages::Many(pages) => pages,
            Pages::One(page) => vec![page],
        }
    }
}

impl SavedChecks {
    pub fn into_facts(self) -> ChecksFacts {
        let check_runs = self
            .check_runs
            .map(Pages::into_vec)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|p| p.check_runs)
            .collect();
        let mut statuses: Vec<CommitStatus> = self
            .status
            .map(Pages::into_vec)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|p| p.statuses)
            .collect();
        statuses.extend(self.statuses.unwrap_or_default());
        let rulesets = match self.branch_rules {
            Some(rules) => super::model::rules_required_checks(&rules),
            None => Readable::NotAsked("no `branch_rules` answer in the file".to_owned()),
        };
        let protection = match (self.required_status_checks, self.branch) {
            (Some(checks), _) => Readable::Read(checks.required()),
            (None, Some(branch)) => {
                match branch.protection.and_then(|p| p.required_status_checks) {
                    Some(checks) => Readable::Read(checks.required()),
                    None if !branch.protected => Readable::Read(Vec::new()),
                    None => Readable::Unknown(format!(
                        "branch `{}` is protected but its required checks are not visible",
                        branch.name
                    )),
                }
            }
            (None, None) => Readable::NotAsked(
                "no `branch` or `required_status_checks` answer in the file".to_owned(),
            ),
        };
        let own = OwnChecks {
            check_run_ids: self.own_check_run_ids,
            ..OwnChecks::default()
        };
        ChecksFacts {
            check_runs,
            statuses,
            rulesets,
            protection,
            own,
            // Saved answers are one round: nothing more will arrive, so missing checks fail.
            round: crate::facts::checks::Round::Final,
            lists_complete: true,
        }
    }
}

/// The answers a live read turned into `facts`, written back in the shape [`SavedChecks`] reads
/// (`checks --save`): the check runs as one page, the statuses as the full list, the required
/// sets as one `required_status_checks` branch rule and the protection's `required_status_checks`.
/// A required set that could not be read is written so that it reads back as unknown; one not
/// asked is left out. Decoding the result gives the same facts as one final round.
pub fn encode(sha: Option<&str>, facts: &ChecksFacts) -> serde_json::Value {
    use serde_json::json;
    let required = |contexts: &[crate::facts::checks::RequiredContext]| -> Vec<serde_json::Value> {
        contexts
            .iter()
            .map(|c| match c.app_id {
                Some(id) => json!({"context": c.context, "integration_id": id}),
                None => json!({"context": c.context}),
            })
            .collect()
    };
    let check_runs: Vec<serde_json::Value> = facts
        .check_runs
        .iter()
        .map(|run| {
            json!({
                "id": run.id,
                "name": run.name,
                "head_sha": run.head_sha,
                "status": run.status.as_str(),
                "conclusion": run.conclusion.as_ref().map(|c| c.as_str()),
                "started_at": run.started_at,
                "completed_at": run.completed_at,
                "html_url": run.html_url,
                "details_url": run.details_url,
                "app": run.app.as_ref().map(|app| json!({"id": app.id, "slug": app.slug})),
            })
        })
        .collect();
    let statuses: Vec<serde_json::Value> = facts
        .statuses
        .iter()
        .map(|status| {
            json!({
                "id": status.id,
                "context": status.context,
                "state": status.state.as_str(),
                "target_url": status.target_url,
                "description": status.description,
                "created_at": status.created_at,
                "updated_at": status.updated_at,
            })
        })
        .collect();
    let mut saved = json!({
        "sha": sha,
        "check_runs": {"total_count": check_runs.len(), "check_runs": check_runs},
        "statuses": statuses,
        "own_check_run_ids": facts.own.check_run_ids,
    });
    match &facts.rulesets {
        Readable::Read(contexts) => {
            saved["branch_rules"] = json!([{
                "type": "required_status_checks",
                "parameters": {"required_status_checks": required(contexts)},
            }]);
        }
        // A rule whose list cannot be read: the required set reads back as unknown.
        Readable::Unknown(_) => {
            saved["branch_rules"] = json!([{"type": "required_status_checks", "parameters": {}}]);
        }
        Readable::NotAsked(_) => {}
    }
    match &facts.protection {
        Readable::Read(contexts) => {
            saved["required_status_checks"] = json!({"checks": required(contexts)});
        }
        // A protected branch whose required checks are not visible: unknown again.
        Readable::Unknown(_) => {
            saved["branch"] = json!({"name": "unknown", "protected": true});
        }
        Readable::NotAsked(_) => {}
    }
    saved
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::SavedChecks;
    use crate::config::ChecksPolicy;
    use crate::decision::Status;
    use crate::gate::checks::{evaluate, Round};

    const HOTDASH: [&str; 5] = [
        "Docs Policy",
        "Danger",
        "Gitleaks",
        "AI Config",
        "Health Check",
    ];

    /// The HotDash checks, and whatever the branch rules require.
    fn policy() -> ChecksPolicy {
        ChecksPolicy {
            required: HOTDASH.iter().map(|name| (*name).to_owned()).collect(),
            from_branch_rules: true,
            ignore: Vec::new(),
            wait: Duration::from_secs(20 * 60),
            interval: Duration::from_secs(15),
        }
    }

    #[test]
    fn the_saved_fixtures_while_waiting_and_at_the_end() {
        let table = [
            (
                "all-green",
                include_str!("../../tests/fixtures/checks/all-green.json"),
                Status::Pass,
                Status::Pass,
            ),
            (
                "failing-and-missing",
                include_str!("../../tests/fixtures/checks/failing-and-missing.json"),
                Status::Fail,
                Status::Fail,
            ),
            (
                "rerun-passes",
                include_str!("../../tests/fixtures/checks/rerun-passes.json"),
                Status::Pass,
                Status::Pass,
            ),
            (
                "run-and-status-disagree",
                include_str!("../../tests/fixtures/checks/run-and-status-disagree.json"),
                Status::Fail,
                Status::Fail,
            ),
            (
                "pending",
                include_str!("../../tests/fixtures/checks/pending.json"),
                Status::Pending,
                Status::Pending,
            ),
            (
                "impostor-app",
                include_str!("../../tests/fixtures/checks/impostor-app.json"),
                Status::Pending,
                Status::Fail,
            ),
            (
                "two-pages",
                include_str!("../../tests/fixtures/checks/two-pages.json"),
                Status::Pass,
                Status::Pass,
            ),
            (
                "unknown-enums",
                include_str!("../../tests/fixtures/checks/unknown-enums.json"),
                Status::Fail,
                Status::Fail,
            ),
            (
                "protection-unknown",
                include_str!("../../tests/fixtures/checks/protection-unknown.json"),
                Status::Pass,
                Status::Pass,
            ),
        ];
        let policy = policy();
        for (name, text, waiting, last) in table {
            let saved: SavedChecks =
                serde_json::from_str(text).unwrap_or_else(|error| panic!("{name}.json: {error}"));
            let facts = saved.into_facts();
            assert_eq!(
                evaluate(&policy, &facts, Round::Waiting).status,
                waiting,
                "{name} while waiting"
            );
            assert_eq!(
                evaluate(&policy, &facts, Round::Final).status,
                last,
                "{name} at the end"
            );
        }
    }
}
