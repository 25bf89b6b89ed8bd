//! The `watch` gate: the post-deploy metrics, judged as Argo Rollouts judges an analysis. Each
//! reading is a success, a failure (outside the rule's condition), inconclusive (no data) or an
//! error (the source could not be read), counted apart; the watch fails past `failure_limit`
//! failures, past `inconclusive_limit` inconclusive readings, or past `consecutive_error_limit`
//! errors in a row, on any rule; it passes when it ran its whole duration.

use serde::Serialize;

use crate::config::{Condition, Rule, Unit, WatchPolicy};
use crate::decision::{Evidence, GateId, Status, Verdict};
use crate::facts::watch::{Reading, RuleSeries, WatchEnd, WatchFacts};

/// What one reading is, against its rule's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Successful,
    Failed,
    Inconclusive,
    Error,
}

/// One reading against a condition: outside `max` or `min` is a failure. NaN is no data.
pub fn classify(reading: &Reading, condition: &Condition) -> Phase {
    match reading {
        Reading::Value { value } if value.is_nan() => Phase::Inconclusive,
        Reading::Value { value } => {
            let over = condition.max.as_ref().is_some_and(|max| *value > max.value);
            let under = condition.min.as_ref().is_some_and(|min| *value < min.value);
            if over || under {
                Phase::Failed
            } else {
                Phase::Successful
            }
        }
        Reading::NoData { .. } => Phase::Inconclusive,
        Reading::Error { .. } => Phase::Error,
    }
}

/// A rule's readings, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub successful: u32,
    pub failed: u32,
    pub inconclusive: u32,
    pub error: u32,
    /// Errors at the end of the series, in a row.
    pub consecutive_errors: u32,
}

pub fn tally(series: &RuleSeries, condition: &Condition) -> Tally {
    let mut tally = Tally::default();
    for measured in &series.measured {
        match classify(&measured.reading, condition) {
            Phase::Successful => tally.successful += 1,
            Phase::Failed => tally.failed += 1,
            Phase::Inconclusive => tally.inconclusive += 1,
            Phase::Error => tally.error += 1,
        }
        tally.consecutive_errors = match classify(&measured.reading, condition) {
            Phase::Error => tally.consecutive_errors + 1,
            _ => 0,
        };
    }
    tally
}

/// Why a rule failed the watch, if it did: the limit it went past.
pub fn breach(tally: &Tally, policy: &WatchPolicy) -> Option<String> {
    if tally.failed > policy.failure_limit {
        return Some(if policy.failure_limit == 0 {
            "failed".to_owned()
        } else {
            format!(
                "{} failed measurements, past failure_limit {}",
                tally.failed, policy.failure_limit
            )
        });
    }
    if let Some(limit) = policy.inconclusive_limit {
        if tally.inconclusive > limit {
            return Some(format!(
                "{} measurements with no data, past inconclusive_limit {limit}",
                tally.inconclusive
            ));
        }
    }
    if tally.consecutive_errors > policy.consecutive_error_limit {
        return Some(format!(
            "{} errors in a row, past consecutive_error_limit {}",
            tally.consecutive_errors, policy.consecutive_error_limit
        ));
    }
    None
}

/// The first rule (in config order) that has failed the watch so far, and why: the watch stops
/// there and the deploy rolls back.
pub fn failing<'r>(rules: &[RuleSeries], policy: &'r WatchPolicy) -> Option<(&'r Rule, String)> {
    policy.rules.iter().find_map(|rule| {
        let series = rules.iter().find(|s| s.rule == rule.name)?;
        breach(&tally(series, &rule.condition), policy).map(|why| (rule, why))
    })
}

/// How a rule's value reads: `1.2%`, `340ms`, `2.5/s`, `3`.
pub fn show(rule: &Rule, value: f64) -> String {
    unit_of(rule).show(value)
}

/// The unit a rule's values are in: its threshold's.
pub fn unit_of(rule: &Rule) -> Unit {
    rule.condition
        .max
        .as_ref()
        .or(rule.condition.min.as_ref())
        .map_or(Unit::Count, |t| t.unit)
}

/// The last readings a verdict shows per rule.
const SHOWN_READINGS: usize = 30;

/// The gate: skipped without a watch; not run before or without a healthy deploy; else failed
/// by the first rule past a limit, or passed when the watch ran its duration.
pub fn gate(facts: &WatchFacts, policy: Option<&WatchPolicy>) -> Verdict {
    let verdict = |status, summary: String| Verdict::new(GateId::Watch, status, summary);
    let Some(policy) = policy else {
        return verdict(Status::Skipped, "no watch configured".to_owned());
    };
    let (rules, planned_ms, elapsed_ms, end) = match facts {
        WatchFacts::NotRun(why) => return verdict(Status::Skipped, why.clone()),
        WatchFacts::Watched {
            rules,
            planned_ms,
            elapsed_ms,
            end,
        } => (rules, *planned_ms, *elapsed_ms, end),
    };
    let evidence: Vec<Evidence> = policy
        .rules
        .iter()
        .map(|rule| {
            let empty = RuleSeries {
                rule: rule.name.clone(),
                measured: Vec::new(),
            };
            let series = rules.iter().find(|s| s.rule == rule.name).unwrap_or(&empty);
            let counts = tally(series, &rule.condition);
            let start = series.measured.len().saturating_sub(SHOWN_READINGS);
            Evidence::Rule {
                rule: rule.name.clone(),
                metric: rule.metric.describe(),
                condition: rule.condition.describe(),
                successful: counts.successful,
                failed: counts.failed,
                inconclusive: counts.inconclusive,
                error: counts.error,
                readings: series.measured[start..]
                    .iter()
                    .map(|m| crate::decision::RuleReading {
                        at: m.at,
                        phase: classify(&m.reading, &rule.condition).as_str(),
                        value: match &m.reading {
                            Reading::Value { value } => show(rule, *value),
                            Reading::NoData { why } => format!("no data: {why}"),
                            Reading::Error { why } => format!("error: {why}"),
                        },
                    })
                    .collect(),
            }
        })
        .collect();
    // Whole seconds: a watch measures in intervals of seconds, not milliseconds.
    let minutes = |ms: u64| {
        crate::config::duration::Human(std::time::Duration::from_secs(
            ms.saturating_add(500) / 1000,
        ))
    };
    let (status, summary) = if let Some((rule, why)) = failing(rules, policy) {
        let last = rules
            .iter()
            .find(|s| s.rule == rule.name)
            .and_then(|s| s.measured.last())
            .map(|m| match &m.reading {
                Reading::Value { value } => format!(
                    " ({} against {})",
                    show(rule, *value),
                    rule.condition.describe()
                ),
                Reading::NoData { why } | Reading::Error { why } => format!(": {why}"),
            })
            .unwrap_or_default();
        (
            Status::Fail,
            format!(
                "{} {why}{last} after {} of watching",
                rule.name,
                minutes(elapsed_ms)
            ),
        )
    } else {
        match end {
            WatchEnd::Completed => {
                let without_data: Vec<&str> = policy
                    .rules
                    .iter()
                    .filter(|rule| {
                        rules
                            .iter()
                            .find(|s| s.rule == rule.name)
                            .is_none_or(|s| tally(s, &rule.condition).successful == 0)
                    })
                    .map(|rule| rule.name.as_str())
                    .collect();
                let rules_text = format!("{} rule(s)", policy.rules.len());
                if without_data.is_empty() {
                    (
                        Status::Pass,
                        format!(
                            "{rules_text} held for {}",
                            minutes(planned_ms.max(elapsed_ms))
                        ),
                    )
                } else {
                    // Nothing contradicted the release, but nothing vouched for it either.
                    (
                        Status::Pass,
                        format!(
                            "{rules_text} held for {}; never measured: {}",
                            minutes(planned_ms.max(elapsed_ms)),
                            without_data.join(", ")
                        ),
                    )
                }
            }
            WatchEnd::Cancelled { signal } => (
                Status::Fail,
                format!(
                    "stopped by {signal} after {} of {}",
                    minutes(elapsed_ms),
                    minutes(planned_ms)
                ),
            ),
            WatchEnd::Decided => (
                Status::Fail,
                "stopped early, but no rule is past a limit".to_owned(),
            ),
        }
    };
    verdict(status, summary).with_evidence(evidence)
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Successful => "successful",
            Phase::Failed => "failed",
            Phase::Inconclusive => "inconclusive",
            Phase::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_threshold, Metric, PrometheusSource, ScrapeSource};
    use crate::facts::watch::Measured;
    use chrono::{TimeZone, Utc};
    use std::time::Duration;

    fn rule(name: &str, max: &str) -> Rule {
        Rule {
            name: name.to_owned(),
            metric: Metric::Prometheus {
                query: "up".to_owned(),
            },
            condition: Condition {
                max: Some(parse_threshold(max, false).expect("threshold")),
                min: None,
            },
        }
    }

    fn policy(failure_limit: u32, inconclusive: Option<u32>, errors: u32) -> WatchPolicy {
        WatchPolicy {
            duration: Duration::from_secs(600),
            emergency_duration: None,
            interval: Duration::from_secs(60),
            failure_limit,
            inconclusive_limit: inconclusive,
            consecutive_error_limit: errors,
            prometheus: PrometheusSource::default(),
            scrape: ScrapeSource::default(),
            rules: vec![rule("error_rate", "1%"), rule("p95", "2s")],
        }
    }

    fn series(name: &str, readings: &[Reading]) -> RuleSeries {
        RuleSeries {
            rule: name.to_owned(),
            measured: readings
                .iter()
                .enumerate()
                .map(|(i, reading)| Measured {
                    at: Utc
                        .with_ymd_and_hms(2026, 12, 4, 12, i as u32, 0)
                        .single()
                        .expect("a time"),
                    reading: reading.clone(),
                })
                .collect(),
        }
    }

    fn v(value: f64) -> Reading {
        Reading::Value { value }
    }
    fn none() -> Reading {
        Reading::NoData {
            why: "empty vector".to_owned(),
        }
    }
    fn err() -> Reading {
        Reading::Error {
            why: "connection refused".to_owned(),
        }
    }

    fn watched(rules: Vec<RuleSeries>, end: WatchEnd) -> WatchFacts {
        WatchFacts::Watched {
            rules,
            planned_ms: 600_000,
            elapsed_ms: 180_000,
            end,
        }
    }

    #[test]
    fn readings_are_classified_against_the_condition() {
        let condition = rule("r", "1%").condition;
        assert_eq!(classify(&v(0.01), &condition), Phase::Successful);
        assert_eq!(classify(&v(0.0101), &condition), Phase::Failed);
        assert_eq!(classify(&v(f64::NAN), &condition), Phase::Inconclusive);
        assert_eq!(classify(&none(), &condition), Phase::Inconclusive);
        assert_eq!(classify(&err(), &condition), Phase::Error);
        let min = Condition {
            max: None,
            min: Some(parse_threshold("1/s", false).expect("threshold")),
        };
        assert_eq!(classify(&v(0.5), &min), Phase::Failed);
        assert_eq!(classify(&v(1.0), &min), Phase::Successful);
    }

    #[test]
    fn limits_as_argo_counts_them() {
        // (failure_limit, inconclusive_limit, consecutive_error_limit, readings, fails?)
        type Case = (u32, Option<u32>, u32, Vec<Reading>, bool);
        let cases: Vec<Case> = vec![
            (0, None, 4, vec![v(0.0), v(0.02)], true),
            (1, None, 4, vec![v(0.02), v(0.0), v(0.0)], false),
            (1, None, 4, vec![v(0.02), v(0.0), v(0.03)], true),
            (
                0,
                None,
                4,
                vec![none(), none(), none(), none(), none()],
                false,
            ),
            (0, Some(2), 4, vec![none(), v(0.0), none()], false),
            (0, Some(2), 4, vec![none(), v(0.0), none(), none()], true),
            (0, None, 2, vec![err(), err(), v(0.0), err(), err()], false),
            (0, None, 2, vec![err(), v(0.0), err(), err(), err()], true),
            (0, None, 0, vec![err()], true),
        ];
        for (i, (failures, inconclusive, errors, readings, fails)) in cases.into_iter().enumerate()
        {
            let policy = policy(failures, inconclusive, errors);
            let rules = vec![series("error_rate", &readings)];
            assert_eq!(failing(&rules, &policy).is_some(), fails, "case {i}");
            let verdict = gate(&watched(rules, WatchEnd::Completed), Some(&policy));
            assert_eq!(
                verdict.status == Status::Fail,
                fails,
                "case {i}: {}",
                verdict.summary
            );
        }
    }

    #[test]
    fn the_verdict_names_the_rule_and_the_value_that_failed() {
        let policy = policy(0, None, 4);
        let rules = vec![
            series("error_rate", &[v(0.001), v(0.002)]),
            series("p95", &[v(0.8), v(12.5)]),
        ];
        let verdict = gate(&watched(rules, WatchEnd::Decided), Some(&policy));
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(
            verdict.summary,
            "p95 failed (12.5s against <= 2s) after 3m of watching"
        );
        let Evidence::Rule {
            readings, failed, ..
        } = &verdict.evidence[1]
        else {
            panic!("rule evidence: {:?}", verdict.evidence);
        };
        assert_eq!(*failed, 1);
        assert_eq!(readings[0].value, "800ms");
        assert_eq!(readings[1].phase, "failed");
    }

    #[test]
    fn a_whole_watch_passes_and_says_which_rules_never_had_data() {
        let policy = policy(0, None, 4);
        let all = vec![series("error_rate", &[v(0.0)]), series("p95", &[v(0.1)])];
        let verdict = gate(&watched(all, WatchEnd::Completed), Some(&policy));
        assert_eq!(
            (verdict.status, verdict.summary.as_str()),
            (Status::Pass, "2 rule(s) held for 10m")
        );
        let quiet = vec![series("error_rate", &[v(0.0)]), series("p95", &[none()])];
        let verdict = gate(&watched(quiet, WatchEnd::Completed), Some(&policy));
        assert_eq!(verdict.status, Status::Pass);
        assert!(
            verdict.summary.ends_with("never measured: p95"),
            "{}",
            verdict.summary
        );
        let cancelled = gate(
            &watched(
                Vec::new(),
                WatchEnd::Cancelled {
                    signal: "SIGTERM".to_owned(),
                },
            ),
            Some(&policy),
        );
        assert_eq!(cancelled.status, Status::Fail);
        assert_eq!(
            gate(&WatchFacts::NotRun("x".to_owned()), Some(&policy)).status,
            Status::Skipped
        );
        assert_eq!(
            gate(&WatchFacts::NotRun("x".to_owned()), None).summary,
            "no watch configured"
        );
    }
}
