//! Facts: everything the gates look at, gathered before any gate runs. The edges fill these in
//! (from GitHub, fly, probes, or saved answers); the core only reads them.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::decision::Subject;
use crate::gate::window::EmergencyRequest;
use crate::github::model::{
    Branch, BranchRule, CheckRun, CheckRunsPage, CombinedStatus, CommitStatus, RequiredContext,
    RequiredStatusChecks,
};

/// The default name of shipgate's own gate check run; never waited on by itself.
pub const DEFAULT_GATE_CHECK_NAME: &str = "shipgate";

#[derive(Debug, Clone)]
pub struct Facts {
    /// The single clock reading of the run (or `--at`).
    pub now: DateTime<Utc>,
    pub subject: Subject,
    pub actor: Option<String>,
    pub emergency: Option<EmergencyRequest>,
    /// `None` when checks were not gathered (offline).
    pub checks: Option<ChecksFacts>,
}

/// A source that may or may not have been readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readable<T> {
    Read(T),
    /// Asked, but could not be read (e.g. 403): unknown, never "none".
    Unknown(String),
    /// Not asked in this run.
    NotAsked(String),
}

/// What identifies shipgate's own check runs, so the gate never waits on itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnChecks {
    pub names: Vec<String>,
    pub check_run_ids: Vec<u64>,
    /// The Actions job running shipgate, when known: its check run is unfinished, belongs to this
    /// workflow run, and is named after the job (`gate`, or `gate (matrix values)`).
    pub job: Option<CurrentJob>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentJob {
    /// `GITHUB_RUN_ID`
    pub run_id: String,
    /// `GITHUB_JOB`: the job's id, which is its check run's name unless the job sets `name:`.
    pub job: String,
}

impl CurrentJob {
    /// Whether `run` is this job's check run.
    pub fn is(&self, run: &crate::github::model::CheckRun) -> bool {
        let in_this_run = [&run.html_url, &run.details_url].iter().any(|u| {
            u.as_deref()
                .is_some_and(|u| u.contains(&format!("/actions/runs/{}/job/", self.run_id)))
        });
        let named = run.name == self.job || run.name.starts_with(&format!("{} (", self.job));
        let unfinished = run.status != crate::github::model::CheckRunStatus::Completed;
        in_this_run && named && unfinished
    }
}

impl Default for OwnChecks {
    fn default() -> Self {
        OwnChecks {
            names: vec![DEFAULT_GATE_CHECK_NAME.to_owned()],
            check_run_ids: Vec::new(),
            job: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChecksFacts {
    pub check_runs: Vec<CheckRun>,
    pub statuses: Vec<CommitStatus>,
    /// Required checks of the target branch's active rulesets.
    pub rulesets: Readable<Vec<RequiredContext>>,
    /// Required checks of the target branch's classic protection.
    pub protection: Readable<Vec<RequiredContext>>,
    pub own: OwnChecks,
}

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
            Some(rules) => {
                Readable::Read(rules.iter().flat_map(BranchRule::required_checks).collect())
            }
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
        }
    }
}

/// The latest deployment of the commit to one environment required first.
pub struct StagingFact {
    pub environment: String,
    /// `(deployment id, latest status state)`, or `None` when never deployed.
    pub deployment: Option<(u64, Option<String>)>,
}
