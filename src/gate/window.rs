//! The `deploy-window` gate: allow rules, deny rules, holidays and runway in an IANA time zone.
//!
//! The policy is turned into a timeline of half-open UTC spans: allow spans (or everything when
//! there are no allow rules) minus deny spans and holidays. Local wall-clock times are resolved
//! per day, so DST is handled where it happens: a time that does not exist (spring forward) moves
//! to the first instant after the gap, and a time that happens twice (fall back) takes the first.

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::calendar;
use crate::config::duration::Human;
use crate::config::{bound_end, bound_start, DaySet, DenyKind, HourRange, WindowPolicy};
use crate::decision::{Evidence, GateId, Override, RuleKind, Status, Verdict, When};

type Span = (DateTime<Utc>, DateTime<Utc>);

/// An emergency override asked for with `--emergency --reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyRequest {
    pub reason: String,
    pub actor: Option<String>,
}

/// Checks the parts of an emergency request that are input, not policy: a reason long enough.
/// An error here is bad input (exit 2); a refused override is a decision (exit 1).
pub fn validate_emergency(policy: &WindowPolicy, request: &EmergencyRequest) -> Result<(), String> {
    let length = request.reason.trim().chars().count();
    if length < policy.emergency.min_reason_length {
        return Err(format!(
            "the emergency reason is {length} characters; this config requires at least {}",
            policy.emergency.min_reason_length
        ));
    }
    Ok(())
}

/// Why the window is closed at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Closure {
    kind: RuleKind,
    rule: String,
}

/// The instant that `date` at local `time` names in `timezone`.
pub fn local_instant(timezone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    let mut probe = naive;
    // Gaps are at most a few hours; step forward to the first wall-clock time that exists.
    for _ in 0..(26 * 60) {
        if let Some(at) = timezone.from_local_datetime(&probe).earliest() {
            return at.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&naive)
}

fn local_dates(
    timezone: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> impl Iterator<Item = NaiveDate> {
    let first = from.with_timezone(&timezone).date_naive() - Days::new(1);
    let last = to.with_timezone(&timezone).date_naive() + Days::new(1);
    first.iter_days().take_while(move |d| *d <= last)
}

fn weekly_spans(
    timezone: Tz,
    days: DaySet,
    hours: HourRange,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Span> {
    local_dates(timezone, from, to)
        .filter(|date| days.contains(date.weekday()))
        .map(|date| {
            let start = local_instant(timezone, date, hours.start_time());
            let end = match hours.end_time() {
                Some(end) => local_instant(timezone, date, end),
                None => local_instant(timezone, date + Days::new(1), NaiveTime::MIN),
            };
            (start, end)
        })
        .filter(|(start, end)| start < end && *end > from && *start < to)
        .collect()
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// The deploy-window policy as spans of time.
struct Timeline<'a> {
    policy: &'a WindowPolicy,
}

impl Timeline<'_> {
    fn allow_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        if self.policy.allow.is_empty() {
            return vec![(from, to)];
        }
        let mut spans: Vec<Span> = self
            .policy
            .allow
            .iter()
            .flat_map(|rule| weekly_spans(self.policy.timezone, rule.days, rule.hours, from, to))
            .collect();
        merge(&mut spans);
        spans
    }

    fn closure_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(Span, Closure)> {
        let tz = self.policy.timezone;
        let mut closed = Vec::new();
        for rule in &self.policy.deny {
            let closure = || Closure {
                kind: RuleKind::Deny,
                rule: rule.name.clone(),
            };
            match &rule.kind {
                DenyKind::Weekly { days, hours } => {
                    closed.extend(
                        weekly_spans(tz, *days, *hours, from, to)
                            .into_iter()
                            .map(|s| (s, closure())),
                    );
                }
                DenyKind::Range {
                    from: start,
                    to: end,
                } => {
                    let span = (bound_start(*start, tz), bound_end(*end, tz));
                    if span.1 > from && span.0 < to {
                        closed.push((span, closure()));
                    }
                }
                DenyKind::Cron { cron, duration, .. } => {
                    let length = to_chrono(*duration);
                    let mut cursor = (from - length).with_timezone(&tz);
                    let mut inclusive = true;
                    // An occurrence at most every minute over the longest horizon searched.
                    for _ in 0..600_000 {
                        let Ok(occurrence) = cron.find_next_occurrence(&cursor, inclusive) else {
                            break;
                        };
                        let start = occurrence.with_timezone(&Utc);
                        if start >= to {
                            break;
                        }
                        if start + length > from {
                            closed.push(((start, start + length), closure()));
                        }
                        cursor = occurrence;
                        inclusive = false;
                    }
                }
            }
        }
        for (date, name) in self.holidays(from, to) {
            let start = local_instant(tz, date, NaiveTime::MIN);
            let end = local_instant(tz, date + Days::new(1), NaiveTime::MIN);
            closed.push((
                (start, end),
                Closure {
                    kind: RuleKind::Holiday,
                    rule: name,
                },
            ));
        }
        closed.retain(|((start, end), _)| start < end);
        closed
    }

    fn holidays(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(NaiveDate, String)> {
        let tz = self.policy.timezone;
        let first = from.with_timezone(&tz).date_naive() - Days::new(1);
        let last = to.with_timezone(&tz).date_naive() + Days::new(1);
        let mut days: Vec<(NaiveDate, String)> = Vec::new();
        for calendar in &self.policy.holidays {
            for year in first.year()..=last.year() {
                days.extend(
                    calendar::holidays(*calendar, year)
                        .into_iter()
                        .map(|h| (h.date, h.name)),
                );
            }
        }
        days.extend(
            self.policy
                .extra_holidays
                .iter()
                .map(|d| (*d, "extra holiday".to_owned())),
        );
        days.retain(|(date, _)| *date >= first && *date <= last);
        days
    }

    /// Open spans within `[from, to)`, merged and sorted.
    fn open_spans(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        let mut closed: Vec<Span> = self
            .closure_spans(from, to)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        merge(&mut closed);
        let mut open = Vec::new();
        for (start, end) in self.allow_spans(from, to) {
            let mut cursor = start.max(from);
            let end = end.min(to);
            for (closed_start, closed_end) in &closed {
                if *closed_end <= cursor || *closed_start >= end {
                    continue;
                }
                if *closed_start > cursor {
                    open.push((cursor, *closed_start));
                }
                cursor = cursor.max(*closed_end);
            }
            if cursor < end {
                open.push((cursor, end));
            }
        }
        merge(&mut open);
        open
    }

    /// What closes the window at `at`, if anything: a holiday, then a deny rule, then the lack of
    /// a matching allow rule.
    fn closure_at(&self, at: DateTime<Utc>) -> Option<Closure> {
        let probe_end = at + chrono::Duration::seconds(1);
        let mut closures: Vec<(Span, Closure)> = self
            .closure_spans(at, probe_end)
            .into_iter()
            .filter(|((start, end), _)| *start <= at && at < *end)
            .collect();
        closures.sort_by_key(|(_, c)| c.kind != RuleKind::Holiday);
        if let Some((_, closure)) = closures.into_iter().next() {
            return Some(closure);
        }
        let inside_allow = self
            .allow_spans(at, probe_end)
            .iter()
            .any(|(start, end)| *start <= at && at < *end);
        (!inside_allow).then(|| Closure {
            kind: RuleKind::OutsideAllow,
            rule: "outside every allow rule".to_owned(),
        })
    }

    fn allow_rule_at(&self, at: DateTime<Utc>) -> Option<String> {
        let probe_end = at + chrono::Duration::seconds(1);
        self.policy
            .allow
            .iter()
            .find(|rule| {
                weekly_spans(self.policy.timezone, rule.days, rule.hours, at, probe_end)
                    .iter()
                    .any(|(start, end)| *start <= at && at < *end)
            })
            .map(|rule| rule.name.clone())
    }

    /// The first instant at or after `at` when the window is open for at least `runway`.
    fn next_opening(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let runway = to_chrono(self.policy.runway);
        let margin = runway.max(chrono::Duration::days(1));
        for horizon_days in [8, 40, 400] {
            let horizon = at + chrono::Duration::days(horizon_days);
            let found = self
                .open_spans(at, horizon + margin)
                .into_iter()
                .find(|(start, end)| *start < horizon && *end - *start >= runway && *end > *start);
            if let Some((start, _)) = found {
                return Some(start);
            }
        }
        None
    }

    /// The end of the open span containing `at`.
    fn closes_at(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        for horizon_days in [8, 40, 400] {
            let horizon = at + chrono::Duration::days(horizon_days);
            let span = self
                .open_spans(at, horizon)
                .into_iter()
                .find(|(start, end)| *start <= at && at < *end);
            match span {
                Some((_, end)) if end < horizon => return Some(end),
                Some(_) => continue,
                None => return None,
            }
        }
        None
    }
}

/// Merges overlapping or touching spans in place.
fn merge(spans: &mut Vec<Span>) {
    spans.sort();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for (start, end) in spans.drain(..) {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    *spans = merged;
}

pub fn when(timezone: Tz, at: DateTime<Utc>) -> When {
    When {
        utc: at,
        local: at.with_timezone(&timezone).to_rfc3339(),
        timezone: timezone.name().to_owned(),
    }
}

/// One opening of the window: for `config explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub opens: When,
    pub closes: When,
}

/// The openings that overlap `[from, from + days)`.
pub fn openings(policy: &WindowPolicy, from: DateTime<Utc>, days: u32) -> Vec<Opening> {
    let timeline = Timeline { policy };
    let to = from + chrono::Duration::days(i64::from(days));
    let tz = policy.timezone;
    timeline
        .open_spans(
            from - chrono::Duration::days(1),
            to + chrono::Duration::days(1),
        )
        .into_iter()
        .filter(|(start, end)| *end > from && *start < to)
        .map(|(start, end)| Opening {
            opens: when(tz, start),
            closes: when(tz, end),
        })
        .collect()
}

/// Evaluates the deploy window at `now`. `None` policy: no windows apply.
pub fn evaluate(
    policy: Option<&WindowPolicy>,
    now: DateTime<Utc>,
    emergency: Option<&EmergencyRequest>,
) -> Verdict {
    let Some(policy) = policy else {
        return Verdict::new(
            GateId::DeployWindow,
            Status::Skipped,
            "no deploy windows apply to this environment",
        );
    };
    let tz = policy.timezone;
    let timeline = Timeline { policy };
    let runway = Human(policy.runway).to_string();
    let local = now.with_timezone(&tz);
    let local_text = local.format("%a %Y-%m-%d %H:%M %Z").to_string();

    let (open, rule, rule_kind, closes_at) = match timeline.closure_at(now) {
        Some(closure) => (false, closure.rule, closure.kind, None),
        None => {
            let closes_at = timeline.closes_at(now);
            let (rule, kind) = match timeline.allow_rule_at(now) {
                Some(rule) => (rule, RuleKind::Allow),
                None => (
                    "no allow rules: open unless denied".to_owned(),
                    RuleKind::NoRules,
                ),
            };
            match closes_at {
                Some(end) if end - now < to_chrono(policy.runway) => {
                    let why = timeline
                        .closure_at(end)
                        .map(|c| c.rule)
                        .unwrap_or_else(|| "the window".to_owned());
                    (
                        false,
                        format!(
                            "runway {runway}: closes at {} ({why})",
                            end.with_timezone(&tz).format("%H:%M %Z")
                        ),
                        RuleKind::Runway,
                        Some(end),
                    )
                }
                _ => (true, rule, kind, closes_at),
            }
        }
    };
    let next_opening = if open {
        None
    } else {
        timeline.next_opening(now)
    };
    let evidence = Evidence::Window {
        at: when(tz, now),
        open,
        rule: rule.clone(),
        rule_kind,
        closes_at: closes_at.map(|at| when(tz, at)),
        next_opening: next_opening.map(|at| when(tz, at)),
        runway: runway.clone(),
    };
    let mut verdict = if open {
        Verdict::new(
            GateId::DeployWindow,
            Status::Pass,
            format!("open at {local_text} ({rule})"),
        )
    } else {
        let next = match next_opening {
            Some(at) => format!(
                "; next opening {} ({})",
                at.with_timezone(&tz).format("%a %Y-%m-%d %H:%M %Z"),
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => "; no opening in the next 400 days".to_owned(),
        };
        Verdict::new(
            GateId::DeployWindow,
            Status::Fail,
            format!("closed at {local_text}: {rule}{next}"),
        )
    }
    .with_evidence(vec![evidence]);

    if let Some(request) = emergency {
        apply_emergency(&mut verdict, policy, request);
    }
    verdict
}

fn apply_emergency(verdict: &mut Verdict, policy: &WindowPolicy, request: &EmergencyRequest) {
    if verdict.status == Status::Pass {
        verdict.evidence.push(Evidence::Note {
            text: "emergency requested, but the window is open: no override used".to_owned(),
        });
        return;
    }
    let refusal = if !policy.emergency.allowed {
        Some("emergency overrides are disabled for this environment (`windows.emergency.allowed: false`)".to_owned())
    } else if !policy.emergency.actors.is_empty() {
        match &request.actor {
            Some(actor)
                if policy
                    .emergency
                    .actors
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(actor)) =>
            {
                None
            }
            Some(actor) => Some(format!(
                "`{actor}` may not override; allowed: {}",
                policy.emergency.actors.join(", ")
            )),
            None => Some(
                "no actor is known (set GITHUB_ACTOR), and only listed actors may override"
                    .to_owned(),
            ),
        }
    } else {
        None
    };
    match refusal {
        Some(why) => {
            verdict.summary = format!("{} (emergency override refused)", verdict.summary);
            verdict.evidence.push(Evidence::Note {
                text: format!("emergency override refused: {why}"),
            });
        }
        None => {
            verdict.overridden = Some(Override {
                actor: request.actor.clone(),
                reason: request.reason.trim().to_owned(),
                overrode: verdict.status,
            });
            verdict.summary = format!(
                "EMERGENCY OVERRIDE of a closed window: {}",
                verdict.summary.trim_start_matches("closed at ")
            );
            verdict.status = Status::Pass;
        }
    }
}
