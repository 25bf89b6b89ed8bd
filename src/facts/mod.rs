//! Facts: everything the gates look at, gathered before any gate runs. The edges fill these in
//! (from GitHub, fly, probes, or saved answers); the core only reads them.

pub mod approval;
pub mod checks;
pub mod delivery;
pub mod fly;
pub mod health;
pub mod watch;

use chrono::{DateTime, Utc};

use crate::decision::Subject;
use checks::{CheckRun, CheckRunStatus, CommitStatus, RequiredContext};

/// The default name of shipgate's own gate check run; never waited on by itself.
pub const DEFAULT_GATE_CHECK_NAME: &str = "shipgate";

/// Everything the gates look at, gathered before any gate runs: what is decided about, the one
/// clock reading, and what GitHub, the probes and Fly said. A source a command does not gather is
/// `NotAsked`, with the reason the verdict shows.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The single clock reading of the run (or `--at`).
    pub now: DateTime<Utc>,
    pub subject: Subject,
    /// The commit's checks and the required sets of its branch.
    pub checks: Readable<ChecksFacts>,
    /// The commit's latest deployment to each environment required first.
    pub staging: Readable<Vec<StagingFact>>,
    /// One round of each required environment's health endpoints, taken now.
    pub staging_health: Vec<StagingHealth>,
    /// The health of what a deploy put in place.
    pub health: HealthFacts,
    /// What the post-deploy watch measured.
    pub watch: watch::WatchFacts,
    /// The deploy run's approval by the environment's required reviewers.
    pub approval: Readable<approval::ApprovalFacts>,
}

impl Facts {
    /// Facts with nothing gathered but the clock reading: every source is `NotAsked(why)`.
    pub fn nothing_gathered(now: DateTime<Utc>, subject: Subject, why: &str) -> Self {
        Facts {
            now,
            subject,
            checks: Readable::NotAsked(why.to_owned()),
            staging: Readable::NotAsked(why.to_owned()),
            staging_health: Vec::new(),
            health: HealthFacts::NotMeasured("runs after the deploy; see the plan".to_owned()),
            watch: watch::WatchFacts::NotRun("runs after the deploy is healthy".to_owned()),
            approval: Readable::NotAsked(why.to_owned()),
        }
    }
}

/// One round of a required environment's health endpoints, with that environment's policy.
#[derive(Debug, Clone)]
pub struct StagingHealth {
    pub environment: String,
    pub policy: crate::config::HealthPolicy,
    pub round: health::Round,
}

/// What is known of the health of the release a deploy put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthFacts {
    /// Not measured in this run, and why (`runs after the deploy`, `a gate blocked the deploy`).
    NotMeasured(String),
    /// `fly deploy` failed: there is nothing new to measure.
    DeployFailed(String),
    /// Fly reported success, but none of the serving machines of the release is started: the
    /// count that showed it.
    NoMachineStarted(health::MachineState),
    /// The environment configures no endpoints and no machine checks.
    NothingToMeasure,
    /// Nothing could be measured at all (no `url`, no HTTP client), and why.
    Unmeasurable(String),
    /// The rounds taken until the gate decided or the deadline passed.
    Rounds(Vec<health::Round>),
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
    pub fn is(&self, run: &CheckRun) -> bool {
        let in_this_run = [&run.html_url, &run.details_url].iter().any(|u| {
            u.as_deref()
                .is_some_and(|u| u.contains(&format!("/actions/runs/{}/job/", self.run_id)))
        });
        let named = run.name == self.job || run.name.starts_with(&format!("{} (", self.job));
        let unfinished = run.status != CheckRunStatus::Completed;
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
    /// Whether more rounds may follow: a missing check is pending while waiting, failing at the end.
    pub round: checks::Round,
    /// `false` when a failing check run decided the gate before every page of check runs and
    /// statuses was read: a check with no source is then unknown, not missing.
    pub lists_complete: bool,
}

/// The latest deployment of the commit to one environment required first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingFact {
    pub environment: String,
    /// `(deployment id, latest status state)`, or `None` when never deployed.
    pub deployment: Option<(u64, Option<String>)>,
}
