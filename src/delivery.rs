//! Delivery metrics, pure: the four DORA measures and the runbooks' deployment success rate over
//! an environment's GitHub Deployments, compared with the config's targets. No IO, no clock:
//! the period and every fact come in [`DeliveryFacts`].
//!
//! Definitions (the README's "Delivery metrics" says the same):
//!
//! - A **deploy** is a Deployment with task `deploy`; a **rollback record** one with task
//!   `deploy:rollback` (shipgate's rollbacks). Other tasks are ignored (and counted).
//! - A Deployment's **outcome** is its newest status that is `success`, `failure` or `error`
//!   (`inactive`, `queued`, `pending` and `in_progress` do not change it); with none it is
//!   unfinished and left out of every rate.
//! - A deploy is **rolled back** when a rollback record is the next record after it.
//! - **Deployment frequency**: successful deploys ÷ the period in weeks (days ÷ 7).
//! - **Deployment success rate**: successful deploys ÷ finished deploys.
//! - **Change failure rate**: finished deploys that failed or were rolled back ÷ finished deploys.
//! - **Lead time for changes**: per deployed commit, its first successful deploy in the period
//!   (the success status's time) − its pull request's `merged_at`; median and p90 (nearest
//!   rank). Commits with no merged pull request, or deployed before their merge, are left out and
//!   counted.
//! - **Time to restore**: per failed deploy, from its failure status to the next `success` status
//!   of any Deployment of the environment; median and max. A failure not yet followed by a
//!   success is counted as unrestored.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::DeliveryTargets;
use crate::facts::delivery::{DeliveryFacts, DeploymentRecord};
pub use crate::facts::delivery::{TASK_DEPLOY, TASK_ROLLBACK};

/// The JSON schema id of [`DeliveryReport`].
pub const SCHEMA: &str = "shipgate.metrics/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Unfinished,
}

/// Whether a measure met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Met,
    Missed,
    /// A target is set but there is nothing to measure (no deploys, no failures).
    NoData,
    NoTarget,
}

/// One measure against its target, for every renderer alike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// `deployment_frequency`, `lead_time`, `change_failure_rate`, `time_to_restore`,
    /// `success_rate`.
    pub id: &'static str,
    pub name: &'static str,
    /// The value compared (per week, a ratio, or seconds); `None` without data.
    pub value: Option<f64>,
    /// The value as shown: `3.0/week`, `16.7%`, `1h 5m`.
    pub shown: String,
    /// The target as shown, with its direction: `≥ 1/week`, `≤ 5%`.
    pub target: Option<String>,
    pub status: TargetStatus,
}

/// Deploys in the period, by what became of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Deploy records (task `deploy`).
    pub deploys: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub unfinished: usize,
    /// Deploys a rollback record followed (failed or not).
    pub rolled_back: usize,
    /// Finished deploys that failed or were rolled back.
    pub change_failures: usize,
    /// Rollback records (task `deploy:rollback`).
    pub rollbacks: usize,
    /// Deployments with another task, ignored.
    pub other_tasks: usize,
}

/// Successful deploys in one week of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Week {
    pub start: DateTime<Utc>,
    pub deploys: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LeadTime {
    #[serde(serialize_with = "seconds")]
    pub median: Option<Duration>,
    #[serde(serialize_with = "seconds")]
    pub p90: Option<Duration>,
    /// Commits measured.
    pub changes: usize,
    /// Deployed commits with no merged pull request (left out).
    pub without_merged_pr: usize,
    /// Commits deployed before their pull request was merged (left out).
    pub deployed_before_merge: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Restore {
    #[serde(serialize_with = "seconds")]
    pub median: Option<Duration>,
    #[serde(serialize_with = "seconds")]
    pub max: Option<Duration>,
    pub restored: usize,
    /// Failures with no success after them yet.
    pub unrestored: usize,
}

/// The measures of one environment over one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryReport {
    pub environment: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub counts: Counts,
    pub weeks: Vec<Week>,
    pub deploys_per_week: f64,
    pub success_rate: Option<f64>,
    pub change_failure_rate: Option<f64>,
    pub lead_time: LeadTime,
    pub time_to_restore: Restore,
    /// The five measures against their targets, in the README's order.
    pub measures: Vec<Measure>,
    pub requests: u32,
    pub not_modified: u32,
}

fn seconds<S: serde::Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => s.serialize_u64(d.as_secs()),
        None => s.serialize_none(),
    }
}

/// The outcome of a Deployment and the time of the status that decided it.
pub fn outcome(record: &DeploymentRecord) -> (Outcome, Option<DateTime<Utc>>) {
    let mut statuses: Vec<_> = record.statuses.iter().collect();
    statuses.sort_by_key(|s| (s.created_at, s.id));
    statuses
        .iter()
        .rev()
        .find_map(|s| match s.state.as_str() {
            "success" => Some((Outcome::Succeeded, Some(s.created_at))),
            "failure" | "error" => Some((Outcome::Failed, Some(s.created_at))),
            _ => None,
        })
        .unwrap_or((Outcome::Unfinished, None))
}

const WEEK_SECS: i64 = 7 * 24 * 3600;

/// The measures over `facts`, against `targets`.
pub fn compute(facts: &DeliveryFacts, targets: &DeliveryTargets) -> DeliveryReport {
    let mut records: Vec<&DeploymentRecord> = facts
        .deployments
        .iter()
        .filter(|d| d.created_at >= facts.since && d.created_at <= facts.until)
        .collect();
    records.sort_by_key(|d| (d.created_at, d.id));
    let mut counts = Counts::default();

    // Rolled back: the next deploy or rollback record after a deploy is a rollback record.
    let relevant: Vec<&DeploymentRecord> = records
        .iter()
        .copied()
        .filter(|d| d.task == TASK_DEPLOY || d.task == TASK_ROLLBACK)
        .collect();
    counts.other_tasks = records.len() - relevant.len();
    let rolled_back: BTreeSet<u64> = relevant
        .windows(2)
        .filter(|pair| pair[0].task == TASK_DEPLOY && pair[1].task == TASK_ROLLBACK)
        .map(|pair| pair[0].id)
        .collect();

    // Every success status on the environment, for time to restore (any record, any time).
    let mut successes: Vec<DateTime<Utc>> = facts
        .deployments
        .iter()
        .flat_map(|d| d.statuses.iter())
        .filter(|s| s.state == "success")
        .map(|s| s.created_at)
        .collect();
    successes.sort();

    let mut first_success: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    let mut restores = Vec::new();
    let span = (facts.until - facts.since).num_seconds().max(1);
    let week_count = usize::try_from((span + WEEK_SECS - 1) / WEEK_SECS).unwrap_or(1);
    // Weeks end at `until`: the newest is whole, the oldest may be short.
    let mut weeks: Vec<Week> = (0..week_count)
        .rev()
        .map(|back| Week {
            start: (facts.until - chrono::Duration::seconds(WEEK_SECS * (back as i64 + 1)))
                .max(facts.since),
            deploys: 0,
        })
        .collect();

    for record in relevant.iter() {
        if record.task == TASK_ROLLBACK {
            counts.rollbacks += 1;
            continue;
        }
        counts.deploys += 1;
        let (outcome, at) = outcome(record);
        let rolled = rolled_back.contains(&record.id);
        if rolled {
            counts.rolled_back += 1;
        }
        match (outcome, at) {
            (Outcome::Succeeded, Some(at)) => {
                counts.succeeded += 1;
                if rolled {
                    counts.change_failures += 1;
                }
                let first = first_success.entry(record.sha.as_str()).or_insert(at);
                *first = (*first).min(at);
                if let Some(week) = weeks
                    .iter_mut()
                    .rev()
                    .find(|w| w.start <= record.created_at)
                {
                    week.deploys += 1;
                }
            }
            (Outcome::Failed, Some(at)) => {
                counts.failed += 1;
                counts.change_failures += 1;
                match successes.iter().find(|s| **s > at) {
                    Some(restored) => restores.push((*restored - at).to_std().unwrap_or_default()),
                    None => restores.push(Duration::MAX),
                }
            }
            _ => counts.unfinished += 1,
        }
    }

    let finished = counts.succeeded + counts.failed;
    let ratio = |n: usize| (finished > 0).then(|| n as f64 / finished as f64);
    let success_rate = ratio(counts.succeeded);
    let change_failure_rate = ratio(counts.change_failures);
    let deploys_per_week = counts.succeeded as f64 / (span as f64 / WEEK_SECS as f64);

    let mut lead = LeadTime::default();
    let mut leads = Vec::new();
    for (sha, deployed) in &first_success {
        match facts.merges.get(*sha).cloned().flatten() {
            Some(merge) if merge.merged_at <= *deployed => {
                leads.push((*deployed - merge.merged_at).to_std().unwrap_or_default())
            }
            Some(_) => lead.deployed_before_merge += 1,
            None => lead.without_merged_pr += 1,
        }
    }
    leads.sort();
    lead.changes = leads.len();
    lead.median = median(&leads);
    lead.p90 = nearest_rank(&leads, 0.9);

    let mut restore = Restore::default();
    let mut restored: Vec<Duration> = restores
        .iter()
        .copied()
        .filter(|d| *d != Duration::MAX)
        .collect();
    restored.sort();
    restore.unrestored = restores.len() - restored.len();
    restore.restored = restored.len();
    restore.median = median(&restored);
    restore.max = restored.last().copied();

    let measures = vec![
        Measure {
            id: "deployment_frequency",
            name: "Deployment frequency",
            value: Some(deploys_per_week),
            shown: format!("{deploys_per_week:.1}/week"),
            target: targets
                .deploys_per_week
                .map(|t| format!("≥ {}/week", number(t))),
            status: against(Some(deploys_per_week), targets.deploys_per_week, |v, t| {
                v >= t
            }),
        },
        Measure {
            id: "lead_time",
            name: "Lead time for changes (median)",
            value: lead.median.map(|d| d.as_secs_f64()),
            shown: match (lead.median, lead.p90) {
                (Some(median), Some(p90)) => {
                    format!("{} (p90 {})", human(median), human(p90))
                }
                _ => "no merged changes".to_owned(),
            },
            target: targets.lead_time.map(|t| format!("≤ {}", human(t))),
            status: against(
                lead.median.map(|d| d.as_secs_f64()),
                targets.lead_time.map(|t| t.as_secs_f64()),
                |v, t| v <= t,
            ),
        },
        Measure {
            id: "change_failure_rate",
            name: "Change failure rate",
            value: change_failure_rate,
            shown: change_failure_rate.map_or_else(|| "no finished deploys".to_owned(), percent),
            target: targets
                .change_failure_rate
                .map(|t| format!("≤ {}", percent(t))),
            status: against(change_failure_rate, targets.change_failure_rate, |v, t| {
                v <= t
            }),
        },
        Measure {
            id: "time_to_restore",
            name: "Time to restore (median)",
            value: restore.median.map(|d| d.as_secs_f64()),
            shown: match (restore.median, restore.max) {
                (Some(median), Some(max)) => format!("{} (max {})", human(median), human(max)),
                _ if restore.unrestored > 0 => "not restored yet".to_owned(),
                _ => "no failures".to_owned(),
            },
            target: targets.time_to_restore.map(|t| format!("≤ {}", human(t))),
            status: if restore.unrestored > 0 && targets.time_to_restore.is_some() {
                TargetStatus::Missed
            } else {
                against(
                    restore.median.map(|d| d.as_secs_f64()),
                    targets.time_to_restore.map(|t| t.as_secs_f64()),
                    |v, t| v <= t,
                )
            },
        },
        Measure {
            id: "success_rate",
            name: "Deployment success rate",
            value: success_rate,
            shown: success_rate.map_or_else(|| "no finished deploys".to_owned(), percent),
            target: targets.success_rate.map(|t| format!("≥ {}", percent(t))),
            status: against(success_rate, targets.success_rate, |v, t| v >= t),
        },
    ];

    DeliveryReport {
        environment: facts.environment.clone(),
        since: facts.since,
        until: facts.until,
        counts,
        weeks,
        deploys_per_week,
        success_rate,
        change_failure_rate,
        lead_time: lead,
        time_to_restore: restore,
        measures,
        requests: facts.requests,
        not_modified: facts.not_modified,
    }
}

fn against(
    value: Option<f64>,
    target: Option<f64>,
    meets: impl Fn(f64, f64) -> bool,
) -> TargetStatus {
    match (value, target) {
        (_, None) => TargetStatus::NoTarget,
        (None, Some(_)) => TargetStatus::NoData,
        // A hair of slack: 95% of 20 deploys is exactly 0.95, whatever the float rounding.
        (Some(v), Some(t)) if meets(v, t) || (v - t).abs() < 1e-9 => TargetStatus::Met,
        _ => TargetStatus::Missed,
    }
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(sorted: &[Duration]) -> Option<Duration> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

/// The nearest-rank percentile: the smallest value with at least `p` of the values at or below.
pub fn nearest_rank(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// `16.7%`, `100%`.
pub fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    if (p - p.round()).abs() < 0.05 {
        format!("{}%", p.round())
    } else {
        format!("{p:.1}%")
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// `45s`, `12m`, `1h 5m`, `2d 3h`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 if (s % 3600) / 60 == 0 => format!("{}h", s / 3600),
        3600..86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ if (s % 86_400) / 3600 == 0 => format!("{}d", s / 86_400),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::delivery::{DeploymentStatus, Merge};

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-04-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
            + chrono::Duration::minutes((hours as f64 * 60.0) as i64)
    }

    fn atm(minutes: i64) -> DateTime<Utc> {
        at(0) + chrono::Duration::minutes(minutes)
    }

    /// A record created at `hour`, with (state, minutes after creation) statuses.
    fn record(
        id: u64,
        sha: &str,
        task: &str,
        hour: i64,
        states: &[(&str, i64)],
    ) -> DeploymentRecord {
        DeploymentRecord {
            id,
            sha: sha.to_owned(),
            task: task.to_owned(),
            created_at: at(hour),
            statuses: states
                .iter()
                .enumerate()
                .map(|(i, (state, minutes))| DeploymentStatus {
                    id: id * 10 + i as u64,
                    state: (*state).to_owned(),
                    created_at: at(hour) + chrono::Duration::minutes(*minutes),
                })
                .collect(),
        }
    }

    fn facts(deployments: Vec<DeploymentRecord>, merges: &[(&str, Option<i64>)]) -> DeliveryFacts {
        DeliveryFacts {
            environment: "production".to_owned(),
            since: at(0),
            until: at(28 * 24),
            deployments,
            merges: merges
                .iter()
                .map(|(sha, hour)| {
                    (
                        (*sha).to_owned(),
                        hour.map(|h| Merge {
                            number: 1,
                            merged_at: at(h),
                        }),
                    )
                })
                .collect(),
            requests: 3,
            not_modified: 1,
        }
    }

    fn status_of(report: &DeliveryReport, id: &str) -> TargetStatus {
        report
            .measures
            .iter()
            .find(|m| m.id == id)
            .expect("measure")
            .status
    }

    #[test]
    fn the_outcome_is_the_newest_deciding_status() {
        let cases: &[(&[(&str, i64)], Outcome)] = &[
            (&[("in_progress", 0), ("success", 5)], Outcome::Succeeded),
            (
                &[("in_progress", 0), ("success", 5), ("inactive", 60)],
                Outcome::Succeeded,
            ),
            (&[("in_progress", 0), ("failure", 5)], Outcome::Failed),
            (&[("in_progress", 0), ("error", 5)], Outcome::Failed),
            (&[("success", 5), ("failure", 9)], Outcome::Failed),
            (&[("queued", 0), ("in_progress", 1)], Outcome::Unfinished),
            (&[("inactive", 1)], Outcome::Unfinished),
            (&[("exploded", 1)], Outcome::Unfinished),
            (&[], Outcome::Unfinished),
        ];
        for (states, expected) in cases {
            let r = record(1, "a", TASK_DEPLOY, 0, states);
            assert_eq!(outcome(&r).0, *expected, "{states:?}");
        }
    }

    #[test]
    fn the_four_measures_over_a_month() {
        // 4 weeks: 6 deploys, one fails and is rolled back 20 minutes later, one succeeds and is
        // rolled back by hand the next day (no failure status: no time to restore), one pending.
        let deployments = vec![
            record(
                1,
                "s1",
                TASK_DEPLOY,
                10,
                &[("in_progress", 0), ("success", 10)],
            ),
            record(
                2,
                "s2",
                TASK_DEPLOY,
                7 * 24 + 10,
                &[("in_progress", 0), ("failure", 10)],
            ),
            record(
                3,
                "s1",
                TASK_ROLLBACK,
                7 * 24 + 10,
                &[("in_progress", 12), ("success", 30)],
            ),
            record(4, "s3", TASK_DEPLOY, 8 * 24, &[("success", 60)]),
            record(5, "s4", TASK_DEPLOY, 15 * 24, &[("success", 60)]),
            record(6, "s3", TASK_ROLLBACK, 16 * 24, &[("success", 5)]),
            record(
                7,
                "s5",
                TASK_DEPLOY,
                22 * 24,
                &[("success", 30), ("inactive", 600)],
            ),
            record(8, "s6", TASK_DEPLOY, 27 * 24, &[("in_progress", 0)]),
            record(9, "s6", "deploy:migrations", 27 * 24, &[("success", 1)]),
        ];
        // s1 merged 2h before (lead 2h10m), s3 1h before (2h), s4 none, s5 after its deploy.
        let merges = [
            ("s1", Some(8)),
            ("s3", Some(8 * 24 - 1)),
            ("s4", None),
            ("s5", Some(23 * 24)),
        ];
        let report = compute(&facts(deployments, &merges), &DeliveryTargets::default());
        assert_eq!(
            report.counts,
            Counts {
                deploys: 6,
                succeeded: 4,
                failed: 1,
                unfinished: 1,
                rolled_back: 2,
                change_failures: 2,
                rollbacks: 2,
                other_tasks: 1,
            }
        );
        assert_eq!(report.deploys_per_week, 1.0);
        assert_eq!(report.success_rate, Some(0.8));
        assert_eq!(report.change_failure_rate, Some(0.4));
        assert_eq!(
            report.weeks.iter().map(|w| w.deploys).collect::<Vec<_>>(),
            [1, 1, 1, 1]
        );
        assert_eq!(report.weeks[0].start, at(0));
        assert_eq!(report.lead_time.changes, 2);
        assert_eq!(report.lead_time.without_merged_pr, 1);
        assert_eq!(report.lead_time.deployed_before_merge, 1);
        // 2h10m and 2h: the median is their mean, p90 the larger.
        assert_eq!(report.lead_time.median, Some(Duration::from_secs(7500)));
        assert_eq!(report.lead_time.p90, Some(Duration::from_secs(7800)));
        // Failed at +10m, the rollback's success at +30m.
        assert_eq!(
            report.time_to_restore.median,
            Some(Duration::from_secs(20 * 60))
        );
        assert_eq!(
            report.time_to_restore.max,
            Some(Duration::from_secs(20 * 60))
        );
        assert_eq!(report.time_to_restore.unrestored, 0);
        assert_eq!(report.requests, 3);
        assert!(report
            .measures
            .iter()
            .all(|m| m.status == TargetStatus::NoTarget));
    }

    #[test]
    fn targets_are_met_or_missed_in_their_direction() {
        let deployments = vec![
            record(1, "s1", TASK_DEPLOY, 10, &[("success", 10)]),
            record(2, "s2", TASK_DEPLOY, 20, &[("failure", 10)]),
            record(3, "s3", TASK_DEPLOY, 30, &[("success", 40)]),
        ];
        let merges = [("s1", Some(9)), ("s3", Some(29))];
        let facts = facts(deployments, &merges);
        // Success 2/3, failure 1/3, restore 10h30m (failure at 20:10, next success at 30:40),
        // lead median (1h10m + 1h40m) / 2 = 1h25m, 0.5 deploys a week.
        let lenient = DeliveryTargets {
            success_rate: Some(0.5),
            change_failure_rate: Some(0.5),
            time_to_restore: Some(Duration::from_secs(11 * 3600)),
            lead_time: Some(Duration::from_secs(2 * 3600)),
            deploys_per_week: Some(0.5),
        };
        let report = compute(&facts, &lenient);
        assert_eq!(
            report.time_to_restore.median,
            Some(Duration::from_secs(10 * 3600 + 30 * 60))
        );
        assert_eq!(
            report.lead_time.median,
            Some(Duration::from_secs(3600 + 25 * 60))
        );
        for id in [
            "deployment_frequency",
            "lead_time",
            "change_failure_rate",
            "time_to_restore",
            "success_rate",
        ] {
            assert_eq!(status_of(&report, id), TargetStatus::Met, "{id}");
        }
        let strict = DeliveryTargets {
            success_rate: Some(0.95),
            change_failure_rate: Some(0.05),
            time_to_restore: Some(Duration::from_secs(30 * 60)),
            lead_time: Some(Duration::from_secs(3600)),
            deploys_per_week: Some(1.0),
        };
        let report = compute(&facts, &strict);
        for id in [
            "deployment_frequency",
            "lead_time",
            "change_failure_rate",
            "time_to_restore",
            "success_rate",
        ] {
            assert_eq!(status_of(&report, id), TargetStatus::Missed, "{id}");
        }
    }

    #[test]
    fn nothing_to_measure_is_no_data_not_a_pass() {
        let targets = DeliveryTargets {
            success_rate: Some(0.95),
            time_to_restore: Some(Duration::from_secs(1800)),
            ..DeliveryTargets::default()
        };
        let report = compute(&facts(Vec::new(), &[]), &targets);
        assert_eq!(status_of(&report, "success_rate"), TargetStatus::NoData);
        assert_eq!(status_of(&report, "time_to_restore"), TargetStatus::NoData);
        assert_eq!(
            status_of(&report, "deployment_frequency"),
            TargetStatus::NoTarget
        );
        assert_eq!(report.deploys_per_week, 0.0);
        // A failure never restored misses a restore target.
        let failed = vec![record(1, "s1", TASK_DEPLOY, 10, &[("failure", 1)])];
        let report = compute(&facts(failed, &[]), &targets);
        assert_eq!(report.time_to_restore.unrestored, 1);
        assert_eq!(status_of(&report, "time_to_restore"), TargetStatus::Missed);
    }

    #[test]
    fn records_outside_the_period_are_left_out_but_restore_them() {
        let mut late = record(2, "s2", TASK_DEPLOY, 28 * 24 + 1, &[("success", 1)]);
        late.statuses[0].created_at = atm(28 * 24 * 60 + 61);
        let deployments = vec![
            record(1, "s1", TASK_DEPLOY, 28 * 24 - 1, &[("failure", 1)]),
            late,
        ];
        let report = compute(&facts(deployments, &[]), &DeliveryTargets::default());
        assert_eq!(report.counts.deploys, 1);
        assert_eq!(
            report.time_to_restore.median,
            Some(Duration::from_secs(2 * 3600))
        );
    }

    #[test]
    fn percentiles_and_durations() {
        let d = |s: u64| Duration::from_secs(s);
        let values: Vec<Duration> = (1..=10).map(d).collect();
        assert_eq!(nearest_rank(&values, 0.9), Some(d(9)));
        assert_eq!(nearest_rank(&values[..1], 0.9), Some(d(1)));
        assert_eq!(median(&values[..3]), Some(d(2)));
        assert_eq!(median(&[]), None);
        assert_eq!(human(d(45)), "45s");
        assert_eq!(human(d(3900)), "1h 5m");
        assert_eq!(human(d(7200)), "2h");
        assert_eq!(human(d(2 * 86_400 + 3 * 3600)), "2d 3h");
        assert_eq!(percent(1.0 / 6.0), "16.7%");
        assert_eq!(percent(0.95), "95%");
    }
}
