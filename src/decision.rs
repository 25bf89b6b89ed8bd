//! The single result type. Every gate returns a `Verdict`; a command returns a `Decision`, which
//! every renderer (text, JSON, Markdown) draws from and nothing re-derives.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The JSON schema id of `--format json`. Bump only on a breaking change.
pub const SCHEMA: &str = "shipgate.decision/v1";

/// A `&'static str` field of a Decision (a command name, a hook): spelled as an alias so that the
/// serde derive does not borrow it from the input; `saved` reads it back as the constant.
pub type Constant = &'static str;

/// A gate's status, ordered so that the worst decides (`max()` of a list is the overall status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The gate does not apply here (e.g. `windows: false`).
    Skipped,
    Pass,
    /// The gate could not be evaluated in this run (offline, no token); it was not passed.
    NotChecked,
    Pending,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::Pass => "pass",
            Status::NotChecked => "not checked",
            Status::Pending => "pending",
            Status::Fail => "fail",
        }
    }
}

/// The gates, in the order they are evaluated and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GateId {
    #[serde(rename = "required-checks")]
    RequiredChecks,
    #[serde(rename = "deploy-window")]
    DeployWindow,
    #[serde(rename = "staging")]
    Staging,
    #[serde(rename = "approval")]
    Approval,
    #[serde(rename = "health")]
    Health,
    #[serde(rename = "watch")]
    Watch,
}

impl GateId {
    pub fn as_str(self) -> &'static str {
        match self {
            GateId::RequiredChecks => "required-checks",
            GateId::DeployWindow => "deploy-window",
            GateId::Staging => "staging",
            GateId::Approval => "approval",
            GateId::Health => "health",
            GateId::Watch => "watch",
        }
    }

    /// The README section that documents this gate.
    pub fn docs_anchor(self) -> &'static str {
        match self {
            GateId::RequiredChecks => "#gate-required-checks",
            GateId::DeployWindow => "#gate-deploy-window",
            GateId::Staging => "#gate-staging",
            GateId::Approval => "#gate-approval",
            GateId::Health => "#gate-health",
            GateId::Watch => "#gate-watch",
        }
    }

    /// Judged on what a deploy put in place, not before it: these never block a deploy's start.
    pub fn after_deploy(self) -> bool {
        matches!(self, GateId::Health | GateId::Watch)
    }
}

impl fmt::Display for GateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instant shown both in the policy's local time zone and in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct When {
    pub utc: DateTime<Utc>,
    /// RFC 3339 with the local offset, e.g. `2026-11-30T09:00:00-08:00`.
    pub local: String,
    pub timezone: String,
}

/// The state of one required check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Passing,
    Pending,
    Missing,
    Failing,
}

impl CheckState {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Passing => "passing",
            CheckState::Pending => "pending",
            CheckState::Missing => "missing",
            CheckState::Failing => "failing",
        }
    }
}

/// One source reporting a check: a check run or a commit status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSource {
    /// `check_run` or `status`.
    #[serde(deserialize_with = "saved::source_kind")]
    pub kind: Constant,
    /// What GitHub said: a conclusion (`success`), a status (`in_progress`) or a state (`error`).
    pub result: String,
    pub state: CheckState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// Where a required name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequiredBy {
    Config,
    Ruleset,
    BranchProtection,
}

/// Whether one source of required names could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SourceState {
    Read {
        names: Vec<String>,
    },
    /// Could not be read (e.g. a 403): unknown, never "none".
    Unknown {
        reason: String,
    },
    NotChecked {
        reason: String,
    },
}

/// Facts a verdict rests on, told apart so that a reader knows what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Evidence {
    /// One required check and what each source says about it.
    Check {
        name: String,
        state: CheckState,
        required_by: Vec<RequiredBy>,
        sources: Vec<CheckSource>,
        #[serde(skip_serializing_if = "Option::is_none")]
        app_id: Option<u64>,
    },
    /// Where the required set came from.
    RequiredSource {
        source: RequiredBy,
        #[serde(flatten)]
        state: SourceState,
    },
    /// Names left out of the required set, and why.
    Excluded {
        name: String,
        reason: String,
    },
    /// The deploy window at the evaluated instant.
    Window {
        at: When,
        open: bool,
        /// The rule that decided: an allow rule, a deny rule, a holiday, the runway, or none.
        rule: String,
        rule_kind: RuleKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        closes_at: Option<When>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_opening: Option<When>,
        runway: String,
    },
    Note {
        text: String,
    },
    /// A review of the run by the GitHub Environment's required reviewers. GitHub records no
    /// time for it.
    Approval {
        environment: String,
        /// `approved` or `rejected`.
        state: String,
        /// The reviewer's login.
        by: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// One watched rule: what it reads, its condition, its readings counted, and the last ones.
    Rule {
        rule: String,
        metric: String,
        condition: String,
        successful: u32,
        failed: u32,
        inconclusive: u32,
        error: u32,
        readings: Vec<RuleReading>,
    },
}

/// One reading of a watched rule, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleReading {
    pub at: DateTime<Utc>,
    /// `successful`, `failed`, `inconclusive` or `error`.
    #[serde(deserialize_with = "saved::phase")]
    pub phase: Constant,
    /// The value in the rule's unit (`1.2%`, `340ms`), or why there was none.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Allow,
    OutsideAllow,
    Deny,
    Holiday,
    Runway,
    NoRules,
}

/// An emergency override. It never hides: every renderer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub reason: String,
    /// What the verdict would have been without the override.
    pub overrode: Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub gate: GateId,
    pub status: Status,
    /// One line, short enough for a check-run title.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    pub overridden: Option<Override>,
}

impl Verdict {
    pub fn new(gate: GateId, status: Status, summary: impl Into<String>) -> Self {
        Verdict {
            gate,
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            overridden: None,
        }
    }

    pub fn with_evidence(mut self, evidence: Vec<Evidence>) -> Self {
        self.evidence = evidence;
        self
    }
}

/// What the run ended in. Each maps to one exit code (README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Go,
    Ready,
    Deployed,
    Blocked,
    Invalid,
    RolledBack,
    RollbackFailed,
    Unavailable,
    /// SIGTERM or SIGINT stopped a deploy or rollback; the report says what may be running.
    Cancelled,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Go | Outcome::Ready | Outcome::Deployed => 0,
            Outcome::Blocked => 1,
            Outcome::Invalid => 2,
            Outcome::RolledBack => 3,
            Outcome::RollbackFailed => 4,
            Outcome::Unavailable => 5,
            Outcome::Cancelled => 6,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Go => "go",
            Outcome::Ready => "ready",
            Outcome::Deployed => "deployed",
            Outcome::Blocked => "blocked",
            Outcome::Invalid => "invalid",
            Outcome::RolledBack => "rolled_back",
            Outcome::RollbackFailed => "rollback_failed",
            Outcome::Unavailable => "unavailable",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The one place an outcome is derived: from the verdicts, and for `deploy` and `rollback`
    /// from what the report says was done. `readiness` says `ready` where others say `go`.
    pub fn derive(command: &str, verdicts: &[Verdict], report: Option<&Report>) -> Outcome {
        let recovered = report
            .and_then(|r| r.incident.as_ref())
            .map(|i| i.recovered);
        match report.map(|r| r.kind) {
            None => match Outcome::of_gates(verdicts) {
                Outcome::Go if command == "readiness" => Outcome::Ready,
                outcome => outcome,
            },
            // A gate that did not pass, or could not be checked, stops a deploy.
            Some(ReportKind::NotStarted) => Outcome::Blocked,
            Some(ReportKind::DryRun) => Outcome::Go,
            Some(ReportKind::Deploy) => match recovered {
                None => Outcome::Deployed,
                Some(true) => Outcome::RolledBack,
                Some(false) => Outcome::RollbackFailed,
            },
            Some(ReportKind::Rollback) => match recovered {
                Some(true) => Outcome::Deployed,
                _ => Outcome::RollbackFailed,
            },
            Some(ReportKind::Cancelled) => Outcome::Cancelled,
        }
    }

    /// The outcome of an evaluation that changes nothing: `go` unless a gate is pending or failing.
    pub fn of_gates(verdicts: &[Verdict]) -> Outcome {
        match verdicts.iter().map(|v| v.status).max() {
            Some(Status::Pending | Status::Fail) => Outcome::Blocked,
            _ => Outcome::Go,
        }
    }
}

/// What is being decided about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
}

/// What `deploy` would do: shown by `plan`, followed by `deploy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployPlan {
    /// The `fly deploy` argument vector (never run through a shell).
    pub deploy_command: Vec<String>,
    pub deploy_timeout: String,
    /// Which strategy the deploy uses and where it comes from (the config or fly.toml).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub strategy: String,
    /// The commands run before `fly deploy` (`steps.before_deploy`), one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before_deploy: Vec<String>,
    pub health: Vec<String>,
    /// The commands run once healthy (`steps.after_deploy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_deploy: Vec<String>,
    /// The watch: its schedule, limits, and each rule with its expanded query.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<String>,
    pub rollback: Vec<String>,
    pub notify: Vec<String>,
    /// The health gate as data: what `health` says in sentences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_gate: Option<HealthPlan>,
    /// The rollback path as data: what `rollback` says in sentences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_path: Option<RollbackPlan>,
    /// Whether every gate that decides before a deploy was checked, and which were not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<Checked>,
}

/// The health gate of a plan: its schedule, limits and what each round reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthPlan {
    pub initial_delay_seconds: u64,
    pub interval_seconds: u64,
    pub deadline_seconds: u64,
    pub consecutive_successes: u32,
    pub failure_limit: u32,
    pub consecutive_error_limit: u32,
    pub request_timeout_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency_ms: Option<u64>,
    /// Fly machine state is counted (the app's serving machines of the new release).
    pub machines: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_min_days: Option<u32>,
    /// Response headers every answer must carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    pub endpoints: Vec<EndpointPlan>,
}

/// One probed endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointPlan {
    /// The full URL probed, when the environment has a `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub path: String,
    pub status: Vec<u16>,
    /// JSON Pointer -> expected value (placeholders as written).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub json: std::collections::BTreeMap<String, serde_json::Value>,
    /// The body must be Prometheus text.
    pub prometheus: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackPlan {
    pub path: String,
    pub status: Vec<u16>,
    /// The endpoint's answers that hand the probe to the fallback.
    pub when: Vec<u16>,
}

/// The rollback path of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackPlan {
    /// The direct redeploy of the release running before (`PREVIOUS_IMAGE` stands for its image,
    /// read before deploying), then the health gate; absent when `direct: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_command: Option<Vec<String>>,
    /// The workflow dispatched on failure, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<RollbackWorkflow>,
    /// Automatic rollbacks in a row after which the next is refused.
    pub max_consecutive: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_target_seconds: Option<u64>,
    /// The configured commands run after the redeploy (`steps.on_rollback`), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_rollback: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackWorkflow {
    pub file: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub inputs: Vec<String>,
}

/// Whether the gates a deploy waits on were all checked in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    /// Every gate that decides before a deploy was evaluated (none is `not_checked`).
    pub all: bool,
    /// Those that were not, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_checked: Vec<NotChecked>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotChecked {
    pub gate: GateId,
    pub why: String,
}

impl Checked {
    /// From the verdicts: the gates judged before a deploy that are `not_checked`.
    pub fn of(verdicts: &[Verdict]) -> Checked {
        let not_checked: Vec<NotChecked> = verdicts
            .iter()
            .filter(|v| !v.gate.after_deploy() && v.status == Status::NotChecked)
            .map(|v| NotChecked {
                gate: v.gate,
                why: v.summary.clone(),
            })
            .collect();
        Checked {
            all: not_checked.is_empty(),
            not_checked,
        }
    }
}

/// One part of a [`DeployPlan`], in the order deploy runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanPart {
    BeforeDeploy,
    Run,
    Health,
    AfterDeploy,
    Watch,
    Rollback,
    Notify,
}

impl PlanPart {
    /// The label in text output.
    pub fn label(self) -> &'static str {
        match self {
            PlanPart::BeforeDeploy => "before",
            PlanPart::Run => "run",
            PlanPart::Health => "health",
            PlanPart::AfterDeploy => "after",
            PlanPart::Watch => "watch",
            PlanPart::Rollback => "rollback",
            PlanPart::Notify => "notify",
        }
    }

    /// The heading in Markdown.
    pub fn heading(self) -> &'static str {
        match self {
            PlanPart::BeforeDeploy => "Before deploy",
            PlanPart::Run => "Run",
            PlanPart::Health => "Health gate",
            PlanPart::AfterDeploy => "After deploy",
            PlanPart::Watch => "Watch",
            PlanPart::Rollback => "Rollback",
            PlanPart::Notify => "Notify",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(deserialize_with = "saved::schema")]
    pub schema: Constant,
    /// The command that produced it: `plan`, `checks`, `window`, ...
    #[serde(deserialize_with = "saved::command")]
    pub command: Constant,
    pub outcome: Outcome,
    pub exit_code: u8,
    pub summary: String,
    pub subject: Subject,
    /// The one clock reading of the run, or `--at`.
    pub evaluated_at: DateTime<Utc>,
    pub verdicts: Vec<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<DeployPlan>,
    /// What `deploy` or `rollback` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

/// A Fly release as reports name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl fmt::Display for ReleaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.version, &self.image) {
            (Some(v), Some(image)) => write!(f, "v{v} ({image})"),
            (Some(v), None) => write!(f, "v{v}"),
            (None, Some(image)) => f.write_str(image),
            (None, None) => f.write_str("unknown release"),
        }
    }
}

/// One step of a deploy or rollback, timed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub duration_ms: u64,
    pub detail: String,
    /// When it started, in ms after the run started ([`Report::started_at`]). Records written
    /// before this field existed lack it: their steps are drawn back to back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// A `health` step's rounds: when each started and whether it was healthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<RoundMark>,
    /// For a configured command (`steps:`): how it ended and its last lines of output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandRun>,
}

/// One health round of a step, as the timeline draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundMark {
    /// When the round started, in ms after its step started.
    pub offset_ms: u64,
    /// Every endpoint answered as expected and every counted machine was healthy.
    pub healthy: bool,
}

/// How a configured command (`steps:`) ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRun {
    /// `before_deploy`, `after_deploy` or `on_rollback`.
    #[serde(deserialize_with = "saved::hook")]
    pub hook: Constant,
    /// `succeeded`, `failed`, `timed_out`, `cancelled` or `not_started`.
    #[serde(deserialize_with = "saved::command_status")]
    pub status: Constant,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Lines of output, as a count; only the last are kept.
    pub lines: u64,
    /// The last lines of its output, masked.
    pub last_lines: Vec<String>,
}

/// What `deploy` and `rollback` did: the GitHub Deployment, the releases before and after, every
/// step with its duration, and the incident when something failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// What the run did; the outcome follows from it (not serialized: `outcome` says it, and
    /// [`Decision::from_json`] reads it back from there).
    #[serde(skip, default = "ReportKind::unread")]
    pub kind: ReportKind,
    /// Who ran it (`GITHUB_ACTOR`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Why (`--reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the run started: the origin of every step's `started_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<u64>,
    /// The release running before (the rollback target of a deploy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<ReleaseRef>,
    /// The release this run put in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed: Option<ReleaseRef>,
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
}

impl Report {
    /// An empty report of a run of this kind; the steps fill it in.
    pub fn new(kind: ReportKind) -> Self {
        Report {
            kind,
            actor: None,
            reason: None,
            started_at: None,
            deployment_id: None,
            previous: None,
            deployed: None,
            steps: Vec::new(),
            incident: None,
        }
    }
}

/// What a `deploy` or `rollback` run did. No default: the outcome follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// A gate stopped the deploy before anything changed.
    NotStarted,
    /// `--dry-run`: the gates passed; nothing was changed.
    DryRun,
    /// `fly deploy` ran: deployed, or failed with an incident.
    Deploy,
    /// A rollback ran: recovered, or not.
    Rollback,
    /// A signal stopped the run; the incident says what may be running.
    Cancelled,
}

impl ReportKind {
    /// A placeholder while a saved record is read; [`Decision::from_json`] sets the real kind.
    fn unread() -> Self {
        ReportKind::NotStarted
    }

    /// What a saved `deploy` or `rollback` run did, from its outcome ([`Outcome::derive`] read
    /// backwards; the kind is not serialized).
    fn of_saved(command: &str, outcome: Outcome) -> Self {
        match outcome {
            Outcome::Blocked | Outcome::Invalid | Outcome::Unavailable => ReportKind::NotStarted,
            Outcome::Go | Outcome::Ready => ReportKind::DryRun,
            Outcome::Cancelled => ReportKind::Cancelled,
            Outcome::Deployed | Outcome::RolledBack | Outcome::RollbackFailed => {
                if command == "rollback" {
                    ReportKind::Rollback
                } else {
                    ReportKind::Deploy
                }
            }
        }
    }
}

/// The record of a failed deploy or of a rollback: what, when, why, from and to, how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// `deploy failed` or `manual rollback`.
    pub what: String,
    pub at: DateTime<Utc>,
    pub why: String,
    /// The release rolled back from (the failed one), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<ReleaseRef>,
    /// The release rolled back to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<ReleaseRef>,
    pub rollback_triggered: bool,
    /// Why no rollback was started, when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_run_url: Option<String>,
    /// From the start of `fly deploy` to the failed verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_detect_ms: Option<u64>,
    /// From the failed verdict to the rollback's first action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_started_after_ms: Option<u64>,
    /// The rollback itself: redeploy and health gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_duration_ms: Option<u64>,
    /// From the failed verdict to healthy again, when it got there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_recover_ms: Option<u64>,
    /// Verified healthy on the release rolled back to.
    pub recovered: bool,
    /// `rollback.recovery_target`, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_target_ms: Option<u64>,
    /// Whether production was verified healthy within the target (never when not recovered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_target_met: Option<bool>,
}

impl Incident {
    /// Holds the time to recover against the target: met only when recovered within it. A miss
    /// comes back as its [`Incident::recovery_text`], for the run's warning.
    pub fn judge_recovery(&mut self, target: Option<std::time::Duration>) -> Option<String> {
        let target = target?;
        let target_ms = u64::try_from(target.as_millis()).unwrap_or(u64::MAX);
        self.recovery_target_ms = Some(target_ms);
        self.recovery_target_met = Some(
            self.recovered
                && self
                    .time_to_recover_ms
                    .is_some_and(|took| took <= target_ms),
        );
        self.recovery_text()
            .filter(|_| self.recovery_target_met == Some(false))
    }

    /// "time to recover 72.0s, target 5m: met", or why it was missed; none without a target.
    pub fn recovery_text(&self) -> Option<String> {
        let target_ms = self.recovery_target_ms?;
        let target = match target_ms {
            ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
            ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
            ms => format!("{ms}ms"),
        };
        let took = self.time_to_recover_ms.map_or_else(
            || "not recovered".to_owned(),
            // Display only: far below f64's exact range.
            #[allow(clippy::cast_precision_loss)]
            |ms| format!("time to recover {:.1}s", ms as f64 / 1000.0),
        );
        let verdict = if self.recovery_target_met == Some(true) {
            "met"
        } else {
            "MISSED"
        };
        Some(format!("{took}, target {target}: {verdict}"))
    }
}

impl Decision {
    /// Builds a decision whose outcome follows from its verdicts.
    pub fn from_gates(
        command: &'static str,
        subject: Subject,
        evaluated_at: DateTime<Utc>,
        verdicts: Vec<Verdict>,
    ) -> Self {
        Decision::new(command, subject, evaluated_at, verdicts, None)
    }

    /// Builds a decision whose outcome follows from its verdicts and report ([`Outcome::derive`]).
    /// The summary is the gates'; `deploy` and `rollback` say in their own words what they did.
    pub fn new(
        command: &'static str,
        subject: Subject,
        evaluated_at: DateTime<Utc>,
        mut verdicts: Vec<Verdict>,
        report: Option<Report>,
    ) -> Self {
        verdicts.sort_by_key(|v| v.gate);
        let outcome = Outcome::derive(command, &verdicts, report.as_ref());
        let summary = summarize(outcome, &verdicts);
        Decision {
            schema: SCHEMA,
            command,
            outcome,
            exit_code: outcome.exit_code(),
            summary,
            subject,
            evaluated_at,
            verdicts,
            plan: None,
            report,
        }
    }

    pub fn overrides(&self) -> impl Iterator<Item = (&Verdict, &Override)> {
        self.verdicts
            .iter()
            .filter_map(|v| v.overridden.as_ref().map(|o| (v, o)))
    }
}

/// Why a saved Decision (`--format json`, a deploy record) could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("its `schema` is {found}, not `{SCHEMA}`")]
    Schema { found: String },
    #[error("not a `{SCHEMA}` decision: {0}")]
    Shape(String),
}

impl Decision {
    /// A Decision as `--format json` printed it (a deploy record's `.json`), read back. The
    /// `schema` is checked first, so a file of another kind or version is named as such.
    pub fn from_json(text: &str) -> Result<Decision, SavedError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SavedError::NotJson(e.to_string()))?;
        match value.get("schema") {
            Some(serde_json::Value::String(schema)) if schema == SCHEMA => {}
            Some(other) => {
                return Err(SavedError::Schema {
                    // As JSON: quoted, control characters escaped.
                    found: other.to_string(),
                });
            }
            None => {
                return Err(SavedError::Schema {
                    found: "missing".to_owned(),
                })
            }
        }
        let mut decision: Decision =
            serde_json::from_value(value).map_err(|e| SavedError::Shape(e.to_string()))?;
        let (command, outcome) = (decision.command, decision.outcome);
        if let Some(report) = decision.report.as_mut() {
            report.kind = ReportKind::of_saved(command, outcome);
        }
        Ok(decision)
    }
}

/// Reading back the fields that are constants in memory (`&'static str`): a known value is that
/// constant; an unknown one (a record from a newer shipgate) is kept as written, leaked once for
/// the life of the one-shot process that reads the record.
mod saved {
    use serde::{Deserialize, Deserializer};

    fn known<'de, D: Deserializer<'de>>(
        deserializer: D,
        values: &[&'static str],
    ) -> Result<&'static str, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(values
            .iter()
            .find(|v| **v == text)
            .copied()
            .unwrap_or_else(|| Box::leak(text.into_boxed_str())))
    }

    pub(super) fn schema<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let text = String::deserialize(d)?;
        if text == super::SCHEMA {
            Ok(super::SCHEMA)
        } else {
            Err(serde::de::Error::custom(format!(
                "schema `{text}`, expected `{}`",
                super::SCHEMA
            )))
        }
    }

    pub(super) fn command<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let commands = [
            "plan",
            "checks",
            "window",
            "gate",
            "readiness",
            "health",
            "deploy",
            "rollback",
        ];
        known(d, &commands)
    }

    pub(super) fn source_kind<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        known(d, &["check_run", "status"])
    }

    pub(super) fn phase<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        known(d, &["successful", "failed", "inconclusive", "error"])
    }

    pub(super) fn hook<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        known(d, &["before_deploy", "after_deploy", "on_rollback"])
    }

    pub(super) fn command_status<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<&'static str, D::Error> {
        let statuses = [
            "succeeded",
            "failed",
            "timed_out",
            "cancelled",
            "not_started",
        ];
        known(d, &statuses)
    }
}

/// The gates' summary of an outcome: what blocked, what was overridden, what was not checked.
pub fn summarize(outcome: Outcome, verdicts: &[Verdict]) -> String {
    let blocking: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.status >= Status::Pending)
        .map(|v| v.gate.as_str())
        .collect();
    let not_checked: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.status == Status::NotChecked)
        .map(|v| v.gate.as_str())
        .collect();
    let overridden: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.overridden.is_some())
        .map(|v| v.gate.as_str())
        .collect();
    // `ready` is what readiness calls `go`.
    let go = if outcome == Outcome::Ready {
        "ready"
    } else {
        "go"
    };
    let mut summary = match outcome {
        Outcome::Blocked => format!("blocked by {}", blocking.join(", ")),
        _ if !overridden.is_empty() => {
            format!(
                "{go} only by EMERGENCY OVERRIDE of {}",
                overridden.join(", ")
            )
        }
        _ if verdicts.iter().all(|v| v.status == Status::Skipped) => {
            format!("{go}: no gate applies here")
        }
        _ if not_checked.is_empty() => format!("{go}: every gate passed"),
        _ => format!("{go} so far: nothing evaluated blocks"),
    };
    if !not_checked.is_empty() {
        summary.push_str(&format!("; not checked: {}", not_checked.join(", ")));
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_status_decides() {
        let mut statuses = vec![
            Status::Pass,
            Status::Fail,
            Status::Skipped,
            Status::Pending,
            Status::NotChecked,
        ];
        statuses.sort();
        assert_eq!(
            statuses,
            [
                Status::Skipped,
                Status::Pass,
                Status::NotChecked,
                Status::Pending,
                Status::Fail
            ]
        );
    }

    #[test]
    fn exit_codes_follow_the_spec() {
        let table = [
            (Outcome::Go, 0),
            (Outcome::Deployed, 0),
            (Outcome::Ready, 0),
            (Outcome::Blocked, 1),
            (Outcome::Invalid, 2),
            (Outcome::RolledBack, 3),
            (Outcome::RollbackFailed, 4),
            (Outcome::Unavailable, 5),
            (Outcome::Cancelled, 6),
        ];
        for (outcome, code) in table {
            assert_eq!(outcome.exit_code(), code, "{outcome:?}");
        }
    }

    #[test]
    fn pending_blocks_and_not_checked_does_not() {
        let v = |status| Verdict::new(GateId::Health, status, "");
        assert_eq!(
            Outcome::of_gates(&[v(Status::Pass), v(Status::Pending)]),
            Outcome::Blocked
        );
        assert_eq!(
            Outcome::of_gates(&[v(Status::Pass), v(Status::NotChecked)]),
            Outcome::Go
        );
        assert_eq!(Outcome::of_gates(&[v(Status::Skipped)]), Outcome::Go);
    }
}
