//! `shipgate config explain`: the config in plain words, with the windows in local time and UTC
//! and the openings of the next days.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Utc};

use crate::config::duration::Human;
use crate::config::{Bound, Config, DenyKind, Environment, HourRange, WindowPolicy};
use crate::gate::window::openings;
use crate::time;
use crate::time::local_instant;

use crate::decision::PlanPart;

/// How many days of openings `explain` lists.
pub const OPENING_DAYS: u32 = 7;

pub fn render(config: &Config, source: &str, now: DateTime<Utc>, fly: &str) -> String {
    let mut out = String::new();
    let count = config.environments.len();
    let _ = writeln!(
        out,
        "{source}: valid, {count} environment{}",
        if count == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        out,
        "explained at {} (pass --at to explain another instant)",
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    for warning in &config.warnings {
        let _ = writeln!(out, "warning: {warning}; {}", warning.hint);
    }
    for environment in config.environments.values() {
        out.push('\n');
        environment_text(&mut out, environment, now, fly);
    }
    out
}

/// `config explain --format markdown`: the explanation as it reads in the terminal, then the
/// openings of the next days of each environment with windows as a Mermaid gantt (in the
/// window's local time: the chart shows wall-clock times as written).
pub fn render_markdown(config: &Config, source: &str, now: DateTime<Utc>, fly: &str) -> String {
    let text = render(config, source, now, fly).replace("```", "` ` `");
    let mut out = format!("### shipgate config explain\n\n```text\n{text}```\n");
    for env in config.environments.values() {
        let Some(policy) = &env.windows else { continue };
        let _ = write!(
            out,
            "\n#### `{}`: openings in the next {OPENING_DAYS} days ({})\n\n{}",
            super::markdown::cell(&env.name),
            policy.timezone.name(),
            openings_chart(&env.name, policy, now)
        );
    }
    out
}

/// The openings as bars in local time: from the opening to the last start (`deploys start`),
/// then the runway (`runway`, drawn red: no deploy starts then), one section per day.
pub fn openings_chart(name: &str, policy: &WindowPolicy, now: DateTime<Utc>) -> String {
    use super::timeline::{gantt, Bar};
    let tz = policy.timezone;
    // Wall-clock time written as if UTC: the chart prints instants as written.
    let local = |at: DateTime<Utc>| at.with_timezone(&tz).naive_local().and_utc();
    let mut bars = Vec::new();
    for opening in openings(policy, now, OPENING_DAYS) {
        let (opens, closes) = (opening.opens.utc, opening.closes.utc);
        let last_start = if opening.open_after {
            closes
        } else {
            opening.last_start.utc.clamp(opens, closes)
        };
        let section = opens.with_timezone(&tz).format("%a %m-%d").to_string();
        bars.push(Bar {
            section: section.clone(),
            name: format!(
                "deploys start {}-{}",
                opens.with_timezone(&tz).format("%H:%M"),
                last_start.with_timezone(&tz).format("%H:%M")
            ),
            start: local(opens),
            end: local(last_start),
            failed: false,
            done: false,
        });
        if last_start < closes {
            bars.push(Bar {
                section,
                name: format!("runway to {}", closes.with_timezone(&tz).format("%H:%M")),
                start: local(last_start),
                end: local(closes),
                failed: true,
                done: false,
            });
        }
    }
    if bars.is_empty() {
        return format!("No opening in the next {OPENING_DAYS} days.\n");
    }
    gantt(
        &format!("{name}: deploy window openings ({})", tz.name()),
        "%a %H:%M",
        &bars,
    )
}

fn environment_text(out: &mut String, env: &Environment, now: DateTime<Utc>, fly: &str) {
    let _ = writeln!(
        out,
        "environment `{}`: Fly app `{}`, {}, {}",
        env.name,
        env.app,
        env.fly_config,
        match env.strategy {
            Some(strategy) => format!("strategy {}", strategy.as_str()),
            None => "strategy from fly.toml's [deploy] strategy (rolling when unset)".to_owned(),
        }
    );
    if !env.deploy_args.is_empty() {
        let _ = writeln!(
            out,
            "  extra fly deploy flags: {}",
            crate::plan::argv_text(&env.deploy_args)
        );
    }
    if let Some(url) = &env.url {
        let _ = writeln!(out, "  url: {url}");
    }
    if !env.requires.is_empty() {
        let _ = writeln!(
            out,
            "  first: the same commit deployed successfully to {} and healthy now",
            env.requires.join(", ")
        );
    }
    if env.approval.required {
        let _ = writeln!(
            out,
            "  approval: the deploy run approved by the GitHub Environment's required reviewers (not by its own actor where the environment forbids self-review)"
        );
    }
    let checks = &env.checks;
    let mut required = if checks.required.is_empty() {
        "none listed".to_owned()
    } else {
        checks.required.join(", ")
    };
    if checks.from_branch_rules {
        required.push_str(", plus what the target branch's rulesets and protection require");
    }
    let _ = writeln!(out, "  required checks: {required}");
    let wait = if checks.wait.is_zero() {
        "no waiting: pending checks block at once".to_owned()
    } else {
        format!(
            "wait up to {} for pending checks, polling every {}",
            Human(checks.wait),
            Human(checks.interval)
        )
    };
    let _ = writeln!(out, "    {wait}");
    if !checks.ignore.is_empty() {
        let _ = writeln!(
            out,
            "    never waited on: {}",
            checks
                .ignore
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match &env.windows {
        None => drop(writeln!(out, "  deploy window: none, deploys any time")),
        Some(policy) => windows_text(out, policy, now),
    }
    let plan = crate::plan::deploy_plan(fly, env, None);
    for (part, lines) in super::plan_parts(&plan) {
        match part {
            PlanPart::Run => {
                let _ = writeln!(out, "  deploy: {}", lines.join(" "));
            }
            PlanPart::Notify => {
                for line in &lines {
                    let _ = writeln!(out, "  notify: {line}");
                }
            }
            _ => {
                let label = match part {
                    PlanPart::BeforeDeploy => "before deploy",
                    PlanPart::AfterDeploy => "after deploy",
                    other => other.label(),
                };
                let _ = writeln!(out, "  {label}:");
                for line in &lines {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
}

/// `09:00-17:00 (17:00-01:00 UTC)`: the UTC times use the offset in force on `on`.
fn hours_text(policy: &WindowPolicy, hours: HourRange, now: DateTime<Utc>) -> String {
    let tz = policy.timezone;
    let today = now.with_timezone(&tz).date_naive();
    let start = local_instant(tz, today, hours.start_time());
    let end = match hours.end_time() {
        Some(end) => local_instant(tz, today, end),
        None => local_instant(
            tz,
            today.succ_opt().unwrap_or(today),
            chrono::NaiveTime::MIN,
        ),
    };
    format!(
        "{hours} ({}-{} UTC)",
        start.format("%H:%M"),
        end.format("%H:%M")
    )
}

fn windows_text(out: &mut String, policy: &WindowPolicy, now: DateTime<Utc>) {
    let tz = policy.timezone;
    let offset = now.with_timezone(&tz).format("%Z, UTC%:z");
    let _ = writeln!(out, "  deploy window, in {} (now {offset}):", tz.name());
    if policy.allow.is_empty() {
        let _ = writeln!(out, "    allowed: any time not denied");
    }
    for rule in &policy.allow {
        let _ = writeln!(
            out,
            "    allowed: {} {} [{}]",
            rule.days,
            hours_text(policy, rule.hours, now),
            rule.name
        );
    }
    for rule in &policy.deny {
        let what = match &rule.kind {
            DenyKind::Weekly { days, hours } => {
                format!("{days} {}", hours_text(policy, *hours, now))
            }
            DenyKind::Range { from, to } => match (from, to) {
                (Bound::Date(_), Bound::Date(_)) => {
                    format!("from {from} to {to} (whole local days, inclusive)")
                }
                _ => format!("from {from} to {to} (a date is a whole local day)"),
            },
            DenyKind::Yearly { from, to } => {
                let today = now.with_timezone(&tz).date_naive();
                // The coming occurrence: this year's, unless it is over.
                let next = [today.year(), today.year() + 1]
                    .into_iter()
                    .find_map(|year| {
                        let start = from.on(year)?;
                        let end = to
                            .on(year)
                            .filter(|end| *end >= start)
                            .or_else(|| to.on(year + 1))?;
                        (end >= today).then_some((start, end))
                    });
                let next = next
                    .map(|(start, end)| format!("; next {start} to {end}"))
                    .unwrap_or_default();
                format!("every year from {from} to {to} (whole local days, inclusive{next})")
            }
            DenyKind::Cron {
                pattern,
                cron,
                duration,
            } => format!(
                "`{pattern}` ({}), for {} each time",
                cron.describe(),
                Human(*duration)
            ),
        };
        let _ = writeln!(out, "    denied: {what} [{}]", rule.name);
    }
    if !policy.holidays.is_empty() || !policy.extra_holidays.is_empty() {
        let today = now.with_timezone(&tz).date_naive();
        let mut upcoming: Vec<(chrono::NaiveDate, String)> = policy
            .holidays
            .iter()
            .flat_map(|c| [today.year(), today.year() + 1].map(|y| time::holidays(*c, y)))
            .flatten()
            .map(|h| (h.date, h.name))
            .chain(
                policy
                    .extra_holidays
                    .iter()
                    .map(|d| (*d, "extra holiday".to_owned())),
            )
            .filter(|(date, _)| *date >= today)
            .collect();
        upcoming.sort();
        let calendars: Vec<&str> = policy.holidays.iter().map(|c| c.as_str()).collect();
        let next: Vec<String> = upcoming
            .iter()
            .take(3)
            .map(|(d, n)| format!("{d} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "    holidays (closed all day): {} ; next: {}",
            if calendars.is_empty() {
                "extra dates only".to_owned()
            } else {
                calendars.join(", ")
            },
            next.join(", ")
        );
    }
    if !policy.floating_holidays.is_empty() {
        let today = now.with_timezone(&tz).date_naive();
        let days: Vec<String> = policy
            .floating_holidays
            .iter()
            .map(|day| {
                let next = [today.year(), today.year() + 1]
                    .into_iter()
                    .filter_map(|year| day.on(year))
                    .find(|date| *date >= today);
                match next {
                    Some(date) => format!("{day} (next {date})"),
                    None => day.to_string(),
                }
            })
            .collect();
        let _ = writeln!(out, "    closed every year: {}", days.join(", "));
    }
    if policy.runway.is_zero() {
        let _ = writeln!(
            out,
            "    runway: none ({}): a deploy may start just before the window closes",
            policy.runway_source.describe()
        );
    } else {
        let _ = writeln!(
            out,
            "    runway: refuse when the window closes or a deny starts within {} ({})",
            Human(policy.runway),
            policy.runway_source.describe()
        );
    }
    let emergency = &policy.emergency;
    if emergency.allowed {
        let who = if emergency.actors.is_empty() {
            "anyone who can run shipgate".to_owned()
        } else {
            emergency.actors.join(", ")
        };
        let approved = if emergency.requires_approval {
            ", on an approved run only"
        } else {
            ""
        };
        let _ = writeln!(out, "    emergency override: --emergency with a reason of {}+ characters, by {who}{approved}; always shown", emergency.min_reason_length);
    } else {
        let _ = writeln!(out, "    emergency override: disabled");
    }
    let list = openings(policy, now, super::explain::OPENING_DAYS);
    let _ = writeln!(out, "    openings in the next {} days:", OPENING_DAYS);
    if list.is_empty() {
        let _ = writeln!(out, "      none");
    }
    for opening in list {
        let (opens, closes) = (
            opening.opens.utc.with_timezone(&tz),
            opening.closes.utc.with_timezone(&tz),
        );
        let same_day = opens.date_naive() == closes.date_naive();
        let from = if opening.open_before {
            format!("already open at {}", opens.format("%a %Y-%m-%d %H:%M %Z"))
        } else {
            opens.format("%a %Y-%m-%d %H:%M %Z").to_string()
        };
        let until = match (opening.open_after, same_day) {
            (true, _) => format!("still open at {}", closes.format("%a %Y-%m-%d %H:%M %Z")),
            (false, true) => closes.format("%H:%M %Z").to_string(),
            (false, false) => closes.format("%a %Y-%m-%d %H:%M %Z").to_string(),
        };
        let last_start = if policy.runway.is_zero() || opening.open_after {
            String::new()
        } else {
            format!(
                ", last start {}",
                opening.last_start.utc.with_timezone(&tz).format("%H:%M")
            )
        };
        let _ = writeln!(
            out,
            "      {from} to {until}{last_start}   ({} to {} UTC)",
            opening.opens.utc.format("%a %m-%d %H:%M"),
            opening.closes.utc.format("%a %m-%d %H:%M"),
        );
    }
}
