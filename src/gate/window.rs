//! The `deploy-window` gate: allow rules, deny rules, holidays and runway in an IANA time zone.
//!
//! The policy is turned into a timeline of half-open UTC spans: allow spans (or everything when
//! there are no allow rules) minus deny spans and holidays. Local wall-clock times are resolved
//! per day, so DST is handled where it happens: a time that does not exist (spring forward) moves
//! to the first instant after the gap, and a time that happens twice (fall back) takes the first.

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::config::duration::Human;
use crate::config::{
    bound_end, bound_start, DaySet, DenyKind, HourRange, RunwaySource, WindowPolicy,
};
use crate::decision::{Evidence, GateId, Override, RuleKind, Status, Verdict, When};
use crate::time::{self, local_instant, FloatingDay};

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
    if request.reason.chars().any(char::is_control) {
        return Err(
            "the emergency reason contains a newline or another control character".to_owned(),
        );
    }
    let length = visible_length(request.reason.trim());
    if length < policy.emergency.min_reason_length {
        return Err(format!(
            "the emergency reason is {length} characters; this config requires at least {}",
            policy.emergency.min_reason_length
        ));
    }
    Ok(())
}

/// Characters a reader sees: zero-width and format characters, and combining marks (an `é`
/// written as `e` + U+0301 is one character), do not count towards the reason's length.
fn visible_length(text: &str) -> usize {
    text.chars()
        .filter(|c| {
            !matches!(*c as u32,
                0x00AD | 0x034F | 0x061C | 0x180E
                | 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
                | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFE00..=0xFE0F | 0xFEFF)
        })
        .count()
}

/// Why the window is closed at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Closure {
    kind: RuleKind,
    rule: String,
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

/// The spans of a yearly deny range that meet `[from, to)`: for each year, whole local days from
/// `first` to `last` inclusive (`last` in the next year when it falls before `first`). A year
/// without one of the days (a 5th weekday) has no span.
fn yearly_spans(
    tz: Tz,
    first: FloatingDay,
    last: FloatingDay,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Span> {
    let start_year = from.with_timezone(&tz).year() - 1;
    let end_year = to.with_timezone(&tz).year();
    let mut spans = Vec::new();
    for year in start_year..=end_year {
        let Some(start) = first.on(year) else {
            continue;
        };
        let end = match last.on(year) {
            Some(end) if end >= start => Some(end),
            _ => last.on(year + 1).filter(|end| *end >= start),
        };
        let Some(end) = end else {
            continue;
        };
        let span = (
            local_instant(tz, start, NaiveTime::MIN),
            local_instant(tz, end + Days::new(1), NaiveTime::MIN),
        );
        if span.1 > from && span.0 < to {
            spans.push(span);
        }
    }
    spans
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
                DenyKind::Yearly {
                    from: first,
                    to: last,
                } => {
                    closed.extend(
                        yearly_spans(tz, *first, *last, from, to)
                            .into_iter()
                            .map(|s| (s, closure())),
                    );
                }
                DenyKind::Cron { cron, duration, .. } => {
                    let length = to_chrono(*duration);
                    let Some(start) = from.checked_sub_signed(length) else {
                        continue;
                    };
                    let mut cursor = start.with_timezone(&tz);
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
                    time::holidays(*calendar, year)
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
        for day in &self.policy.floating_holidays {
            for year in first.year()..=last.year() {
                if let Some(date) = day.on(year) {
                    days.push((date, format!("{day} (every year)")));
                }
            }
        }
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
    /// When the window opens, or the start of the range asked about if it is open by then.
    pub opens: When,
    /// When it closes, or the end of the range asked about if it is still open then.
    pub closes: When,
    pub open_before: bool,
    pub open_after: bool,
    /// The last moment a deploy may start: `runway` before the close.
    pub last_start: When,
}

/// The openings in `[from, from + days)` long enough for the runway, clamped to that range.
pub fn openings(policy: &WindowPolicy, from: DateTime<Utc>, days: u32) -> Vec<Opening> {
    let timeline = Timeline { policy };
    let to = from + chrono::Duration::days(i64::from(days));
    let runway = to_chrono(policy.runway);
    let tz = policy.timezone;
    // Look a little past both ends so that spans crossing them are whole where it matters.
    let margin = runway.max(chrono::Duration::days(1));
    timeline
        .open_spans(from - margin, to + margin)
        .into_iter()
        .filter(|(start, end)| *end > from && *start < to && *end - *start >= runway)
        .filter(|(_, end)| *end - runway >= from)
        .map(|(start, end)| Opening {
            opens: when(tz, start.max(from)),
            closes: when(tz, end.min(to)),
            open_before: start < from,
            open_after: end > to,
            last_start: when(tz, end - runway),
        })
        .collect()
}

/// Evaluates the deploy window at `now`. `None` policy: no windows apply. Without approval
/// facts, an override that `emergency.requires_approval` is refused.
pub fn evaluate(
    policy: Option<&WindowPolicy>,
    now: DateTime<Utc>,
    emergency: Option<&EmergencyRequest>,
) -> Verdict {
    evaluate_with_approval(policy, now, emergency, None)
}

/// [`evaluate`] with what the approval facts say of the run: its approvers, or why it is not
/// approved (`emergency.requires_approval` reads it; `None`: not known).
pub fn evaluate_with_approval(
    policy: Option<&WindowPolicy>,
    now: DateTime<Utc>,
    emergency: Option<&EmergencyRequest>,
    approved: Option<&Result<String, String>>,
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
                            end.with_timezone(&tz).format(
                                if end.with_timezone(&tz).date_naive() == local.date_naive() {
                                    "%H:%M %Z"
                                } else {
                                    "%a %Y-%m-%d %H:%M %Z"
                                }
                            )
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
        // A derived runway says where it came from; a configured one is the config's own.
        runway: match &policy.runway_source {
            RunwaySource::Derived { .. } => {
                format!("{runway} ({})", policy.runway_source.describe())
            }
            _ => runway.clone(),
        },
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
        apply_emergency(&mut verdict, policy, request, approved);
    }
    verdict
}

fn apply_emergency(
    verdict: &mut Verdict,
    policy: &WindowPolicy,
    request: &EmergencyRequest,
    approved: Option<&Result<String, String>>,
) {
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
    let refusal = refusal.or_else(|| {
        if !policy.emergency.requires_approval {
            return None;
        }
        match approved {
            Some(Ok(_)) => None,
            Some(Err(why)) => Some(format!(
                "`emergency.requires_approval`: the run is not approved ({why})"
            )),
            None => {
                Some("`emergency.requires_approval`: the run's approval is not known".to_owned())
            }
        }
    });
    match refusal {
        Some(why) => {
            verdict.summary = format!("{} (emergency override refused)", verdict.summary);
            verdict.evidence.push(Evidence::Note {
                text: format!("emergency override refused: {why}"),
            });
        }
        None => {
            if let (true, Some(Ok(by))) = (policy.emergency.requires_approval, approved) {
                verdict.evidence.push(Evidence::Note {
                    text: format!("emergency override approved by {by}"),
                });
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WindowPolicy;

    const HOTDASH: &str = r#"
timezone: America/Los_Angeles
allow:
  - name: Business hours (PT)
    days: mon-fri
    hours: "09:00-17:00"
deny:
  - name: Friday afternoon
    days: fri
    hours: "12:00-24:00"
  - name: Black Friday / Cyber Monday
    from: 2026-11-27
    to: 2026-11-30
  - name: Weekly release freeze
    cron: "0 18 * * thu"
    duration: 14h
holidays: [us-federal]
extra_holidays: [2026-12-24]
runway: 30m
emergency:
  min_reason_length: 15
"#;

    /// A window policy from the `windows:` block of a config file.
    pub(crate) fn policy(windows: &str) -> WindowPolicy {
        let indented: String = windows.lines().map(|l| format!("  {l}\n")).collect();
        let text = format!("version: 1\nchecks: {{ required: [ci] }}\nwindows:\n{indented}environments:\n  production: {{ app: demo }}\n");
        let config = crate::config::parse(std::path::Path::new("test.yml"), &text)
            .unwrap_or_else(|error| panic!("{error:?}"));
        config.windows.expect("windows block")
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("RFC 3339")
            .with_timezone(&Utc)
    }

    fn window_evidence(
        verdict: &Verdict,
    ) -> (
        bool,
        String,
        RuleKind,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    ) {
        match &verdict.evidence[0] {
            Evidence::Window {
                open,
                rule,
                rule_kind,
                closes_at,
                next_opening,
                ..
            } => (
                *open,
                rule.clone(),
                *rule_kind,
                closes_at.as_ref().map(|w| w.utc),
                next_opening.as_ref().map(|w| w.utc),
            ),
            other => panic!("expected window evidence, got {other:?}"),
        }
    }

    #[test]
    fn hotdash_runbook_table() {
        let policy = policy(HOTDASH);
        // (instant, open, rule that decided, next opening if closed)
        let table = [
            (
                "2026-11-24T10:00:00-08:00",
                true,
                "Business hours (PT)",
                None,
            ),
            (
                "2026-11-24T08:59:00-08:00",
                false,
                "outside every allow rule",
                Some("2026-11-24T09:00:00-08:00"),
            ),
            (
                "2026-11-24T16:45:00-08:00",
                false,
                "runway 30m: closes at 17:00 PST (outside every allow rule)",
                Some("2026-11-25T09:00:00-08:00"),
            ),
            (
                "2026-11-26T10:00:00-08:00",
                false,
                "Thanksgiving Day",
                Some("2026-12-01T09:00:00-08:00"),
            ),
            (
                "2026-11-27T10:00:00-08:00",
                false,
                "Black Friday / Cyber Monday",
                Some("2026-12-01T09:00:00-08:00"),
            ),
            (
                "2026-11-30T16:00:00-08:00",
                false,
                "Black Friday / Cyber Monday",
                Some("2026-12-01T09:00:00-08:00"),
            ),
            (
                "2026-12-03T17:45:00-08:00",
                false,
                "outside every allow rule",
                Some("2026-12-04T09:00:00-08:00"),
            ),
            (
                "2026-12-03T16:20:00-08:00",
                true,
                "Business hours (PT)",
                None,
            ),
            (
                "2026-12-04T07:30:00-08:00",
                false,
                "Weekly release freeze",
                Some("2026-12-04T09:00:00-08:00"),
            ),
            (
                "2026-12-04T11:45:00-08:00",
                false,
                "runway 30m: closes at 12:00 PST (Friday afternoon)",
                Some("2026-12-07T09:00:00-08:00"),
            ),
            (
                "2026-12-04T13:00:00-08:00",
                false,
                "Friday afternoon",
                Some("2026-12-07T09:00:00-08:00"),
            ),
            (
                "2026-12-24T10:00:00-08:00",
                false,
                "extra holiday",
                Some("2026-12-28T09:00:00-08:00"),
            ),
            (
                "2026-12-25T10:00:00-08:00",
                false,
                "Christmas Day",
                Some("2026-12-28T09:00:00-08:00"),
            ),
            (
                "2026-07-03T10:00:00-07:00",
                false,
                "Independence Day (observed)",
                Some("2026-07-06T09:00:00-07:00"),
            ),
        ];
        for (now, open, rule, next) in table {
            let verdict = evaluate(Some(&policy), at(now), None);
            let (is_open, decided_by, _, _, next_opening) = window_evidence(&verdict);
            assert_eq!((is_open, decided_by.as_str()), (open, rule), "at {now}");
            assert_eq!(next_opening, next.map(at), "next opening from {now}");
            assert_eq!(
                verdict.status,
                if open { Status::Pass } else { Status::Fail },
                "at {now}"
            );
        }
    }

    #[test]
    fn the_weekly_freeze_spans_thursday_night() {
        let policy = policy("timezone: America/Los_Angeles\ndeny:\n  - { name: freeze, cron: \"0 18 * * thu\", duration: 14h }\n");
        for (now, open) in [
            ("2026-12-03T17:59:00-08:00", true),
            ("2026-12-03T18:00:00-08:00", false),
            ("2026-12-04T07:59:00-08:00", false),
            ("2026-12-04T08:00:00-08:00", true),
        ] {
            let (is_open, _, _, _, _) = window_evidence(&evaluate(Some(&policy), at(now), None));
            assert_eq!(is_open, open, "at {now}");
        }
    }

    #[test]
    fn a_closed_verdict_names_the_next_opening_in_local_time_and_utc() {
        let verdict = evaluate(
            Some(&policy(HOTDASH)),
            at("2026-11-27T10:00:00-08:00"),
            None,
        );
        assert_eq!(
            verdict.summary,
            "closed at Fri 2026-11-27 10:00 PST: Black Friday / Cyber Monday; next opening Tue 2026-12-01 09:00 PST (2026-12-01 17:00 UTC)"
        );
    }

    #[test]
    fn allow_hours_follow_dst_in_los_angeles() {
        let policy = policy("timezone: America/Los_Angeles\nallow:\n  - { days: mon-fri, hours: \"09:00-17:00\" }\n");
        // Friday before the fall-back (PDT, UTC-7) and Monday after it (PST, UTC-8).
        let (open, ..) =
            window_evidence(&evaluate(Some(&policy), at("2026-10-30T16:30:00Z"), None));
        assert!(open, "09:30 PDT on Friday");
        let (_, _, _, _, next) =
            window_evidence(&evaluate(Some(&policy), at("2026-10-31T12:00:00Z"), None));
        assert_eq!(
            next,
            Some(at("2026-11-02T17:00:00Z")),
            "09:00 PST is 17:00 UTC"
        );
        // Spring forward on 2026-03-08: Monday 09:00 PDT is 16:00 UTC.
        let (_, _, _, _, next) =
            window_evidence(&evaluate(Some(&policy), at("2026-03-07T12:00:00Z"), None));
        assert_eq!(next, Some(at("2026-03-09T16:00:00Z")));
    }

    #[test]
    fn a_start_in_the_spring_forward_gap_moves_to_the_end_of_the_gap() {
        // Europe/Berlin skips 02:00-03:00 on 2026-03-29.
        let policy = policy("timezone: Europe/Berlin\nallow:\n  - { hours: \"02:30-03:30\" }\n");
        let (open, ..) =
            window_evidence(&evaluate(Some(&policy), at("2026-03-29T00:59:00Z"), None));
        assert!(!open, "01:59 CET is before the window");
        let (open, ..) =
            window_evidence(&evaluate(Some(&policy), at("2026-03-29T01:00:00Z"), None));
        assert!(open, "03:00 CEST is the first instant after the gap");
        let (open, ..) =
            window_evidence(&evaluate(Some(&policy), at("2026-03-29T01:30:00Z"), None));
        assert!(!open, "03:30 CEST closes it");
    }

    #[test]
    fn a_repeated_hour_at_fall_back_counts_from_its_first_occurrence() {
        // Europe/Berlin repeats 02:00-03:00 on 2026-10-25: 02:00 CEST is 00:00 UTC, 03:00 CET is 02:00 UTC.
        let policy = policy("timezone: Europe/Berlin\nallow:\n  - { hours: \"02:00-03:00\" }\n");
        for (now, open) in [
            ("2026-10-24T23:59:00Z", false),
            ("2026-10-25T00:00:00Z", true),
            ("2026-10-25T01:30:00Z", true),
            ("2026-10-25T02:00:00Z", false),
        ] {
            let (is_open, ..) = window_evidence(&evaluate(Some(&policy), at(now), None));
            assert_eq!(is_open, open, "at {now}");
        }
    }

    #[test]
    fn cron_denies_follow_vixie_cron_across_dst() {
        // `30 2 * * *` in Berlin: on the spring-forward day it fires once, at 03:00 CEST.
        let policy = policy("timezone: Europe/Berlin\ndeny:\n  - { name: nightly, cron: \"30 2 * * *\", duration: 1h }\n");
        let (open, rule, ..) =
            window_evidence(&evaluate(Some(&policy), at("2026-03-29T01:30:00Z"), None));
        assert!(!open);
        assert_eq!(rule, "nightly");
        let (open, ..) =
            window_evidence(&evaluate(Some(&policy), at("2026-03-29T02:00:00Z"), None));
        assert!(open, "the deny ends one hour after 03:00 CEST");
    }

    #[test]
    fn datetime_ranges_are_exact() {
        let policy = policy("deny:\n  - { name: migration, from: \"2026-12-01T18:00:00-08:00\", to: \"2026-12-02T06:00:00-08:00\" }\n");
        let (open, rule, kind, _, next) = window_evidence(&evaluate(
            Some(&policy),
            at("2026-12-02T05:00:00-08:00"),
            None,
        ));
        assert_eq!(
            (open, rule.as_str(), kind),
            (false, "migration", RuleKind::Deny)
        );
        assert_eq!(next, Some(at("2026-12-02T14:00:00Z")));
        let (open, _, kind, ..) = window_evidence(&evaluate(
            Some(&policy),
            at("2026-12-01T17:59:00-08:00"),
            None,
        ));
        assert_eq!((open, kind), (true, RuleKind::NoRules));
    }

    #[test]
    fn a_window_that_never_opens_says_so() {
        let policy = policy("deny:\n  - { name: always, days: mon-sun }\n");
        let verdict = evaluate(Some(&policy), at("2026-12-02T05:00:00Z"), None);
        assert_eq!(verdict.status, Status::Fail);
        assert!(
            verdict.summary.ends_with("no opening in the next 400 days"),
            "{}",
            verdict.summary
        );
    }

    #[test]
    fn no_policy_is_skipped() {
        assert_eq!(
            evaluate(None, at("2026-12-02T05:00:00Z"), None).status,
            Status::Skipped
        );
    }

    #[test]
    fn an_emergency_passes_a_closed_window_and_stays_visible() {
        let policy = policy(HOTDASH);
        let request = EmergencyRequest {
            reason: "INC-142 checkout returns 500".to_owned(),
            actor: Some("octocat".to_owned()),
        };
        let verdict = evaluate(
            Some(&policy),
            at("2026-11-27T10:00:00-08:00"),
            Some(&request),
        );
        assert_eq!(verdict.status, Status::Pass);
        assert!(
            verdict.summary.starts_with("EMERGENCY OVERRIDE"),
            "{}",
            verdict.summary
        );
        let over = verdict.overridden.expect("override recorded");
        assert_eq!(
            (over.actor.as_deref(), over.reason.as_str(), over.overrode),
            (
                Some("octocat"),
                "INC-142 checkout returns 500",
                Status::Fail
            )
        );
    }

    #[test]
    fn an_emergency_that_requires_approval_holds_only_on_an_approved_run() {
        let request = EmergencyRequest {
            reason: "INC-142 checkout returns 500".to_owned(),
            actor: Some("octocat".to_owned()),
        };
        let closed = at("2026-11-27T10:00:00-08:00");
        let needs = policy(&format!("{HOTDASH}  requires_approval: true\n"));
        let table = [
            (Some(Ok("hubot".to_owned())), Status::Pass, "emergency override approved by hubot"),
            (
                Some(Err("rejected by hubot".to_owned())),
                Status::Fail,
                "emergency override refused: `emergency.requires_approval`: the run is not approved (rejected by hubot)",
            ),
            (None, Status::Fail, "the run's approval is not known"),
        ];
        for (approved, status, note) in table {
            let verdict =
                evaluate_with_approval(Some(&needs), closed, Some(&request), approved.as_ref());
            assert_eq!(verdict.status, status, "{approved:?}");
            assert_eq!(verdict.overridden.is_some(), status == Status::Pass);
            assert!(
                verdict
                    .evidence
                    .iter()
                    .any(|e| matches!(e, Evidence::Note { text } if text.contains(note))),
                "{:?}",
                verdict.evidence
            );
        }
        // Without `requires_approval` the approval does not matter.
        let plain = evaluate(Some(&policy(HOTDASH)), closed, Some(&request));
        assert_eq!(plain.status, Status::Pass);
    }

    #[test]
    fn an_emergency_is_refused_for_unlisted_actors_and_when_disabled() {
        let request = EmergencyRequest {
            reason: "INC-142 checkout returns 500".to_owned(),
            actor: Some("mallory".to_owned()),
        };
        let listed = policy(&format!("{HOTDASH}  actors: [octocat, hubot]\n"));
        let verdict = evaluate(
            Some(&listed),
            at("2026-11-27T10:00:00-08:00"),
            Some(&request),
        );
        assert_eq!(verdict.status, Status::Fail);
        assert!(verdict.overridden.is_none());
        assert!(verdict.evidence.iter().any(
            |e| matches!(e, Evidence::Note { text } if text.contains("`mallory` may not override"))
        ));

        let anonymous = EmergencyRequest {
            actor: None,
            ..request.clone()
        };
        assert_eq!(
            evaluate(
                Some(&listed),
                at("2026-11-27T10:00:00-08:00"),
                Some(&anonymous)
            )
            .status,
            Status::Fail
        );

        let disabled = policy("allow:\n  - { days: mon-fri }\nemergency:\n  allowed: false\n");
        let verdict = evaluate(Some(&disabled), at("2026-11-28T10:00:00Z"), Some(&request));
        assert_eq!(verdict.status, Status::Fail);
        assert!(verdict.summary.contains("emergency override refused"));
    }

    #[test]
    fn an_emergency_in_an_open_window_is_not_used() {
        let request = EmergencyRequest {
            reason: "INC-142 checkout returns 500".to_owned(),
            actor: None,
        };
        let verdict = evaluate(
            Some(&policy(HOTDASH)),
            at("2026-11-24T10:00:00-08:00"),
            Some(&request),
        );
        assert_eq!(verdict.status, Status::Pass);
        assert!(verdict.overridden.is_none());
    }

    #[test]
    fn invisible_characters_do_not_make_a_reason_long() {
        let policy = policy(HOTDASH);
        let request = |reason: &str| EmergencyRequest {
            reason: reason.to_owned(),
            actor: None,
        };
        assert!(validate_emergency(&policy, &request(&"\u{200B}".repeat(20))).is_err());
        assert!(validate_emergency(&policy, &request(&"e\u{301}".repeat(8))).is_err());
        assert_eq!(
            validate_emergency(&policy, &request("INC-1234567890 fix\n::warning::x")),
            Err("the emergency reason contains a newline or another control character".to_owned())
        );
        assert!(validate_emergency(&policy, &request("Störung im Checkout, INC-42")).is_ok());
    }

    #[test]
    fn the_reason_must_be_long_enough() {
        let policy = policy(HOTDASH);
        let short = EmergencyRequest {
            reason: "   hotfix   ".to_owned(),
            actor: None,
        };
        assert_eq!(
            validate_emergency(&policy, &short),
            Err(
                "the emergency reason is 6 characters; this config requires at least 15".to_owned()
            )
        );
        let long = EmergencyRequest {
            reason: "hotfix for INC-142".to_owned(),
            actor: None,
        };
        assert_eq!(validate_emergency(&policy, &long), Ok(()));
    }

    #[test]
    fn openings_of_thanksgiving_week() {
        let list = openings(&policy(HOTDASH), at("2026-11-23T00:00:00-08:00"), 7);
        let spans: Vec<(String, String)> = list
            .iter()
            .map(|o| (o.opens.local.clone(), o.closes.local.clone()))
            .collect();
        assert_eq!(
            spans,
            [
                (
                    "2026-11-23T09:00:00-08:00".to_owned(),
                    "2026-11-23T17:00:00-08:00".to_owned()
                ),
                (
                    "2026-11-24T09:00:00-08:00".to_owned(),
                    "2026-11-24T17:00:00-08:00".to_owned()
                ),
                (
                    "2026-11-25T09:00:00-08:00".to_owned(),
                    "2026-11-25T17:00:00-08:00".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn twenty_four_hundred_ends_at_the_next_midnight() {
        let policy = policy("timezone: America/Los_Angeles\ndeny:\n  - { name: late friday, days: fri, hours: \"12:00-24:00\" }\n");
        let (open, ..) = window_evidence(&evaluate(
            Some(&policy),
            at("2026-12-04T23:59:00-08:00"),
            None,
        ));
        assert!(!open);
        let (open, ..) = window_evidence(&evaluate(
            Some(&policy),
            at("2026-12-05T00:00:00-08:00"),
            None,
        ));
        assert!(open);
    }
}
