//! The validated, typed configuration. Everything here has been checked; downstream code never
//! sees raw strings from the file, flags or action inputs.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

pub use crate::time::HolidayCalendar;

/// The whole configuration, per environment, with top-level blocks already merged in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The top-level checks block, for `shipgate checks` without `--environment`.
    pub checks: ChecksPolicy,
    /// The top-level windows block, for `shipgate window` without `--environment`.
    pub windows: Option<WindowPolicy>,
    pub environments: BTreeMap<String, Environment>,
    /// What is allowed but probably wrong (an old time-zone name), located like problems.
    pub warnings: Vec<super::Diagnostic>,
}

impl Config {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.get(name)
    }
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    pub app: String,
    pub fly_config: String,
    /// `--strategy`, passed only when the config sets one; else fly.toml's `[deploy] strategy`
    /// (or flyctl's default, rolling) rules.
    pub strategy: Option<Strategy>,
    /// Extra `fly deploy` flags (`deploy.args`), appended to the argument vector as written.
    pub deploy_args: Vec<String>,
    pub url: Option<url::Url>,
    /// `None` when no windows apply to this environment.
    pub windows: Option<WindowPolicy>,
    pub checks: ChecksPolicy,
    pub requires: Vec<String>,
    pub deploy_timeout: Duration,
    pub health: HealthPolicy,
    pub rollback: RollbackPolicy,
    pub notify: NotifyPolicy,
    /// Commands run around the deploy.
    pub steps: super::StepsPolicy,
    /// Metrics watched after the deploy is healthy.
    pub watch: Option<super::WatchPolicy>,
    /// Whether this is a production environment (`production_environment:`; default: named
    /// `production`). GitHub's Deployments record it.
    pub production: bool,
    /// Targets for the delivery measures (`delivery_targets:`); all optional.
    pub delivery_targets: super::DeliveryTargets,
    /// The approval gate.
    pub approval: ApprovalPolicy,
    /// How `shipgate serve` answers the deployment protection rule (`protection_rule:`).
    pub protection_rule: super::ProtectionRulePolicy,
}

/// The approval gate's policy (`approval:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApprovalPolicy {
    /// `deploy` needs a run approved by `reviewers_from`.
    pub required: bool,
    pub reviewers_from: ReviewersFrom,
}

/// Whose approval counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReviewersFrom {
    /// The GitHub Environment's required reviewers (its deployment protection rule).
    #[default]
    Environment,
}

impl ReviewersFrom {
    pub const ALL: [(&'static str, ReviewersFrom); 1] =
        [("environment", ReviewersFrom::Environment)];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewersFrom::Environment => "environment",
        }
    }
}

/// Fly's deploy strategies (`fly deploy --strategy`). flyctl does not validate the flag and falls
/// back to rolling on a typo, so shipgate does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Rolling,
    Immediate,
    Canary,
    Bluegreen,
}

impl Strategy {
    pub const ALL: [(&'static str, Strategy); 4] = [
        ("rolling", Strategy::Rolling),
        ("immediate", Strategy::Immediate),
        ("canary", Strategy::Canary),
        ("bluegreen", Strategy::Bluegreen),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::Immediate => "immediate",
            Strategy::Canary => "canary",
            Strategy::Bluegreen => "bluegreen",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChecksPolicy {
    pub required: Vec<String>,
    pub from_branch_rules: bool,
    pub ignore: Vec<glob::Pattern>,
    pub wait: Duration,
    pub interval: Duration,
}

impl ChecksPolicy {
    pub fn is_ignored(&self, name: &str) -> bool {
        self.ignore.iter().any(|pattern| pattern.matches(name))
    }
}

#[derive(Debug, Clone)]
pub struct WindowPolicy {
    pub timezone: Tz,
    pub allow: Vec<AllowRule>,
    pub deny: Vec<DenyRule>,
    pub holidays: Vec<HolidayCalendar>,
    pub extra_holidays: Vec<NaiveDate>,
    /// Holidays that move from year to year (`black-friday`, `4th thu nov`), closed every year.
    pub floating_holidays: Vec<crate::time::FloatingDay>,
    pub runway: Duration,
    /// Where `runway` came from: the config, or the environment's deploy and verification times.
    pub runway_source: RunwaySource,
    pub emergency: EmergencyPolicy,
}

#[derive(Debug, Clone)]
pub struct AllowRule {
    pub name: String,
    pub days: DaySet,
    pub hours: HourRange,
}

#[derive(Debug, Clone)]
pub struct DenyRule {
    pub name: String,
    pub kind: DenyKind,
}

#[derive(Debug, Clone)]
pub enum DenyKind {
    Weekly {
        days: DaySet,
        hours: HourRange,
    },
    Range {
        from: Bound,
        to: Bound,
    },
    /// The same days every year, between two floating days (`black-friday` to `cyber-monday`),
    /// whole local days, inclusive.
    Yearly {
        from: crate::time::FloatingDay,
        to: crate::time::FloatingDay,
    },
    Cron {
        pattern: String,
        cron: Box<croner::Cron>,
        duration: Duration,
    },
}

/// Where a window's runway came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunwaySource {
    /// `runway:` in the config.
    Configured,
    /// Not set: the environment's `deploy_timeout` plus its health `deadline`, plus the watch's
    /// `duration` when it watches: the time a deploy needs before it is done.
    Derived {
        deploy_timeout: Duration,
        health_deadline: Duration,
        watch: Option<Duration>,
    },
    /// Not set, and no environment to derive it from (the top-level `windows` block alone).
    Unset,
}

impl RunwaySource {
    /// Where the runway came from, in words: `set in the config`, `deploy_timeout 15m +
    /// health deadline 5m`.
    pub fn describe(&self) -> String {
        use super::duration::Human;
        match self {
            RunwaySource::Configured => "set by `runway`".to_owned(),
            RunwaySource::Derived {
                deploy_timeout,
                health_deadline,
                watch,
            } => {
                let mut text = format!(
                    "derived: deploy_timeout {} + health deadline {}",
                    Human(*deploy_timeout),
                    Human(*health_deadline)
                );
                if let Some(watch) = watch {
                    text.push_str(&format!(" + watch duration {}", Human(*watch)));
                }
                text
            }
            RunwaySource::Unset => "not set, and no environment to derive it from".to_owned(),
        }
    }
}

/// One end of a deny range: a whole local day, or an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Date(NaiveDate),
    Instant(DateTime<FixedOffset>),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Date(date) => write!(f, "{date}"),
            Bound::Instant(at) => write!(f, "{}", at.to_rfc3339()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EmergencyPolicy {
    pub allowed: bool,
    pub min_reason_length: usize,
    pub actors: Vec<String>,
    /// The override is valid only on an approved run.
    pub requires_approval: bool,
}

/// A set of weekdays.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DaySet(u8);

impl DaySet {
    pub const EVERY_DAY: DaySet = DaySet(0b111_1111);

    pub fn empty() -> Self {
        DaySet(0)
    }

    pub fn insert(&mut self, day: Weekday) {
        self.0 |= 1 << day.num_days_from_monday();
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for DaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DaySet({self})")
    }
}

impl fmt::Display for DaySet {
    /// `mon-fri`, `sat,sun`, `every day`: runs of three or more days become ranges.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == DaySet::EVERY_DAY {
            return f.write_str("every day");
        }
        let days: Vec<Weekday> = (0..7)
            .map(|n| Weekday::try_from(n as u8).unwrap_or(Weekday::Mon))
            .filter(|day| self.contains(*day))
            .collect();
        let mut parts = Vec::new();
        let mut start = 0;
        while start < days.len() {
            let mut end = start;
            while end + 1 < days.len()
                && days[end + 1].num_days_from_monday() == days[end].num_days_from_monday() + 1
            {
                end += 1;
            }
            let name = |day: Weekday| day_name(day);
            parts.push(match end - start {
                0 => name(days[start]).to_owned(),
                1 => format!("{},{}", name(days[start]), name(days[end])),
                _ => format!("{}-{}", name(days[start]), name(days[end])),
            });
            start = end + 1;
        }
        f.write_str(&parts.join(","))
    }
}

pub fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// Local hours `start..end` within one day; `end` may be 24:00 (minute 1440).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourRange {
    pub start_minute: u16,
    pub end_minute: u16,
}

impl HourRange {
    pub const WHOLE_DAY: HourRange = HourRange {
        start_minute: 0,
        end_minute: 1440,
    };

    pub fn start_time(self) -> NaiveTime {
        minute_to_time(self.start_minute)
    }

    /// `None` for 24:00, which is midnight of the next day.
    pub fn end_time(self) -> Option<NaiveTime> {
        (self.end_minute < 1440).then(|| minute_to_time(self.end_minute))
    }
}

fn minute_to_time(minute: u16) -> NaiveTime {
    NaiveTime::from_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)
        .unwrap_or(NaiveTime::MIN)
}

impl fmt::Display for HourRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start_minute), hm(self.end_minute))
    }
}

#[derive(Debug, Clone)]
pub struct HealthPolicy {
    pub initial_delay: Duration,
    pub interval: Duration,
    pub deadline: Duration,
    pub consecutive_successes: u32,
    pub failure_limit: u32,
    pub consecutive_error_limit: u32,
    pub request_timeout: Duration,
    pub p95_latency: Option<Duration>,
    pub machines: bool,
    pub tls_min_days: Option<u32>,
    pub headers: Vec<String>,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub path: String,
    pub status: Vec<u16>,
    pub json: BTreeMap<String, serde_json::Value>,
    pub fallback: Option<Fallback>,
    pub prometheus: bool,
}

/// Probed instead of its endpoint when the endpoint answers one of `when` (it does not exist);
/// never when the endpoint answers badly or not at all.
#[derive(Debug, Clone, Serialize)]
pub struct Fallback {
    pub path: String,
    pub status: Vec<u16>,
    /// The endpoint's statuses that hand the sample to the fallback (`[404, 405]`).
    pub when: Vec<u16>,
}

#[derive(Debug, Clone)]
pub struct RollbackPolicy {
    pub workflow: Option<String>,
    pub git_ref: String,
    pub direct: bool,
    pub max_consecutive: u32,
    /// How soon production should be healthy again after a failure.
    pub recovery_target: Option<Duration>,
}

/// The channels that notify, each with its events. Empty: no notification.
#[derive(Debug, Clone, Default)]
pub struct NotifyPolicy {
    pub channels: Vec<NotifyChannel>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyChannel {
    pub kind: ChannelKind,
    pub events: Vec<NotifyEvent>,
}

/// Where a notification goes. URLs are read from the named variables at deploy start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    /// `notify.webhook`: Slack-compatible, to `$SHIPGATE_WEBHOOK_URL`.
    Webhook,
    Slack {
        url_env: String,
    },
    Teams {
        url_env: String,
    },
    Discord {
        url_env: String,
    },
    Email {
        /// Checked mailboxes (`a@b.example` or `Name <a@b.example>`).
        to: Vec<String>,
        from: String,
        smtp_url_env: String,
    },
}

impl ChannelKind {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Teams { .. } => "teams",
            ChannelKind::Discord { .. } => "discord",
            ChannelKind::Email { .. } => "email",
        }
    }
}

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// The gates passed and the Deployment exists: production is about to change.
    Started,
    Succeeded,
    /// The deploy failed (a rolled-back deploy also sends `rolled_back`).
    Failed,
    RolledBack,
    RollbackFailed,
    /// A gate blocked the deploy (opt-in).
    Blocked,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 6] = [
        NotifyEvent::Started,
        NotifyEvent::Succeeded,
        NotifyEvent::Failed,
        NotifyEvent::RolledBack,
        NotifyEvent::RollbackFailed,
        NotifyEvent::Blocked,
    ];
    /// Sent when a channel lists no events.
    pub const DEFAULT: [NotifyEvent; 4] = [
        NotifyEvent::Succeeded,
        NotifyEvent::Failed,
        NotifyEvent::RolledBack,
        NotifyEvent::RollbackFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Started => "started",
            NotifyEvent::Succeeded => "succeeded",
            NotifyEvent::Failed => "failed",
            NotifyEvent::RolledBack => "rolled_back",
            NotifyEvent::RollbackFailed => "rollback_failed",
            NotifyEvent::Blocked => "blocked",
        }
    }

    pub fn parse(text: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|e| e.as_str() == text)
    }
}
