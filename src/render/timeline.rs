//! Timelines as Mermaid `gantt` charts, which GitHub draws in Markdown (the job summary, the PR
//! comment): a deploy's steps and health rounds, and the coming openings of a deploy window.
//!
//! Every instant is written in UTC to the second (`dateFormat YYYY-MM-DD HH:mm:ss`, parsed as
//! written, so the chart reads the same in every viewer's time zone); a bar is at least a second
//! long. Task names are escaped (Mermaid's `#NN;` entity codes) so that no text can end the task
//! name (`:`), start a comment (`#`, `;`) or close the code fence.

use std::fmt::Write;

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::decision::{Decision, Step};

/// The most health rounds drawn for one step; later ones are summed up in one bar.
const MAX_ROUNDS: usize = 40;

/// A bar of the chart.
pub struct Bar {
    pub section: String,
    pub name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Drawn red (`crit`): a failed step or an unhealthy round.
    pub failed: bool,
    /// Drawn as finished (`done`); otherwise as planned (an opening to come).
    pub done: bool,
}

/// A task name Mermaid shows as written: `#`, `:` and `;` as entity codes, `<` and `>` too, no
/// control characters, no backticks (which could close the Markdown fence).
pub fn task_name(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ':' => out.push_str("#58;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push('\''),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    let trimmed = out.trim();
    if trimmed.is_empty() {
        "(unnamed)".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The chart, fenced for Markdown: `title`, then the bars by section in the order given.
pub fn gantt(title: &str, axis_format: &str, bars: &[Bar]) -> String {
    let mut out = String::from("```mermaid\ngantt\n");
    let _ = writeln!(out, "    title {}", task_name(title));
    let _ = writeln!(out, "    dateFormat YYYY-MM-DD HH:mm:ss");
    let _ = writeln!(out, "    axisFormat {axis_format}");
    let mut section: Option<&str> = None;
    for (i, bar) in bars.iter().enumerate() {
        if section != Some(bar.section.as_str()) {
            let _ = writeln!(out, "    section {}", task_name(&bar.section));
            section = Some(bar.section.as_str());
        }
        // Whole seconds, rounded to the nearest; a bar is at least a second long.
        let second = Duration::seconds(1);
        let start = bar.start.duration_round(second).unwrap_or(bar.start);
        let mut end = bar.end.duration_round(second).unwrap_or(bar.end);
        if end <= start {
            end = start + Duration::seconds(1);
        }
        let status = match (bar.failed, bar.done) {
            (true, true) => "crit, done, ",
            (true, false) => "crit, ",
            (false, true) => "done, ",
            (false, false) => "",
        };
        let _ = writeln!(
            out,
            "    {} :{status}t{}, {}, {}",
            task_name(&bar.name),
            i + 1,
            instant(start),
            instant(end)
        );
    }
    out.push_str("```\n");
    out
}

/// Whether a step ended badly: a configured command that did not succeed, or a detail that says
/// the step failed (`fail: …` from the health gate, `… failed: …` from fly).
fn step_failed(step: &Step) -> bool {
    if let Some(command) = &step.command {
        return command.status != "succeeded";
    }
    step.detail.starts_with("fail") || step.detail.contains(" failed")
}

fn ms(ms: u64) -> Duration {
    Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2))
}

/// The bars of a deploy or rollback report: each step where it ran (back to back for a record
/// that did not keep the starts), grouped into gates, deploy, health, after deploy and rollback;
/// a `health` step's rounds under it. `None` when there is no report or no step.
pub fn deploy_bars(decision: &Decision) -> Option<Vec<Bar>> {
    let report = decision.report.as_ref()?;
    if report.steps.is_empty() {
        return None;
    }
    let origin = report.started_at.unwrap_or_else(|| {
        // Older records: the clock was read when the gates had gathered.
        let gates = report
            .steps
            .first()
            .filter(|s| s.name == "gates")
            .map_or(0, |s| s.duration_ms);
        decision.evaluated_at - ms(gates)
    });
    let rolling_back_from_start = decision.command == "rollback";
    let mut in_rollback = false;
    let mut seen_fly_deploy = false;
    let mut next_start = origin;
    let mut bars = Vec::new();
    for step in &report.steps {
        let start = step.started_ms.map_or(next_start, |at| origin + ms(at));
        let end = start + ms(step.duration_ms);
        next_start = end;
        let hook = step.command.as_ref().map(|c| c.hook);
        if step.name == "rollback workflow"
            || hook == Some("on_rollback")
            || (step.name == "fly deploy" && seen_fly_deploy)
        {
            in_rollback = true;
        }
        seen_fly_deploy |= step.name == "fly deploy";
        let section = match step.name.as_str() {
            "gates" => "Gates",
            _ if in_rollback || (rolling_back_from_start && step.name != "gates") => "Rollback",
            "health" => "Health",
            "watch" => "Watch",
            _ if hook == Some("after_deploy") => "After deploy",
            _ => "Deploy",
        };
        bars.push(Bar {
            section: section.to_owned(),
            name: step.name.clone(),
            start,
            end,
            failed: step_failed(step),
            done: true,
        });
        let rounds = &step.rounds;
        for (n, round) in rounds.iter().enumerate().take(MAX_ROUNDS) {
            let round_start = start + ms(round.offset_ms);
            let round_end = rounds
                .get(n + 1)
                .map_or(end, |next| start + ms(next.offset_ms));
            bars.push(Bar {
                section: section.to_owned(),
                name: format!("round {}", n + 1),
                start: round_start,
                end: round_end.max(round_start),
                failed: !round.healthy,
                done: true,
            });
        }
        if rounds.len() > MAX_ROUNDS {
            let rest = &rounds[MAX_ROUNDS..];
            let first = start + ms(rest[0].offset_ms);
            bars.push(Bar {
                section: section.to_owned(),
                name: format!(
                    "rounds {} to {} ({} unhealthy)",
                    MAX_ROUNDS + 1,
                    rounds.len(),
                    rest.iter().filter(|r| !r.healthy).count()
                ),
                start: first,
                end: end.max(first),
                failed: rest.iter().any(|r| !r.healthy),
                done: true,
            });
        }
    }
    Some(bars)
}

/// The deploy timeline of a decision's report, fenced for Markdown; `None` without steps.
pub fn deploy(decision: &Decision) -> Option<String> {
    let bars = deploy_bars(decision)?;
    let mut what = decision.command.to_owned();
    if let Some(sha) = &decision.subject.sha {
        what.push_str(&format!(" of {}", sha.get(..7).unwrap_or(sha)));
    }
    if let Some(env) = &decision.subject.environment {
        what.push_str(&format!(" to {env}"));
    }
    what.push_str(" (UTC)");
    Some(gantt(&what, "%H:%M:%S", &bars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names_cannot_end_the_name_start_a_comment_or_close_the_fence() {
        assert_eq!(
            task_name("migrate: step #2; ```rm``` <b>\n"),
            "migrate#58; step #35;2#59; '''rm''' #lt;b#gt;"
        );
        assert_eq!(task_name(" \t"), "(unnamed)");
    }

    #[test]
    fn bars_are_whole_seconds_and_at_least_one_long() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("instant")
                .with_timezone(&Utc)
        };
        let bar = |start: &str, end: &str, failed: bool| Bar {
            section: "Deploy".to_owned(),
            name: "fly deploy".to_owned(),
            start: at(start),
            end: at(end),
            failed,
            done: true,
        };
        let chart = gantt(
            "deploy",
            "%H:%M:%S",
            &[
                bar(
                    "2026-11-24T18:00:00.700Z",
                    "2026-11-24T18:00:02.600Z",
                    false,
                ),
                bar("2026-11-24T18:00:03.000Z", "2026-11-24T18:00:03.200Z", true),
            ],
        );
        assert!(
            chart.contains("fly deploy :done, t1, 2026-11-24 18:00:01, 2026-11-24 18:00:03\n"),
            "{chart}"
        );
        assert!(
            chart
                .contains("fly deploy :crit, done, t2, 2026-11-24 18:00:03, 2026-11-24 18:00:04\n"),
            "{chart}"
        );
    }
}
