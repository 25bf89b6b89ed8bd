//! Renderers: each draws one `Decision` as text, JSON or Markdown. Pure functions to `String`;
//! writing happens at the edges.

pub mod annotations;
pub mod delivery;
pub mod explain;
pub mod github;
pub mod json;
pub mod manifest;
pub mod markdown;
pub mod notify;
pub mod outputs;
pub mod text;
pub mod timeline;

use crate::decision::{CheckSource, Evidence, Incident, When};

/// Output formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub fn render(decision: &crate::decision::Decision, format: Format) -> String {
    match format {
        Format::Text => text::render(decision),
        Format::Json => json::render(decision),
        Format::Markdown => markdown::render(decision),
    }
}

/// Text that came from outside (GitHub, the config, a `--reason`) on one line: control
/// characters, newlines included, become spaces, so nothing can start a line of its own (a
/// `::workflow-command::` in a log, a fake verdict in the text output).
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A duration in milliseconds as `1.2s`.
pub(crate) fn ms_text(ms: u64) -> String {
    // Display only: a millisecond count far below f64's 2^53 exact range.
    #[allow(clippy::cast_precision_loss)]
    let seconds = ms as f64 / 1000.0;
    format!("{seconds:.1}s")
}

/// The incident record as lines: what, when, why, from and to, and the durations.
pub(crate) fn incident_lines(incident: &Incident) -> Vec<String> {
    let mut lines = vec![
        format!(
            "{} at {}: {}",
            incident.what,
            incident.at.format("%Y-%m-%d %H:%M:%S UTC"),
            incident.why
        ),
        format!(
            "from {} to {}",
            incident
                .from
                .as_ref()
                .map_or_else(|| "unknown release".to_owned(), ToString::to_string),
            incident
                .to
                .as_ref()
                .map_or_else(|| "nothing".to_owned(), ToString::to_string)
        ),
    ];
    if let Some(refused) = &incident.refused {
        lines.push(format!("no rollback: {refused}"));
    }
    if let Some(url) = &incident.rollback_run_url {
        lines.push(format!("rollback workflow run: {url}"));
    }
    let timings = [
        ("time to detect", incident.time_to_detect_ms),
        ("rollback started after", incident.rollback_started_after_ms),
        ("rollback took", incident.rollback_duration_ms),
        ("time to recover", incident.time_to_recover_ms),
    ];
    let timings: Vec<String> = timings
        .iter()
        .filter_map(|(name, ms)| ms.map(|ms| format!("{name} {}", ms_text(ms))))
        .collect();
    if !timings.is_empty() {
        lines.push(timings.join(" · "));
    }
    if let Some(recovery) = incident.recovery_text() {
        lines.push(format!("recovery target: {recovery}"));
    }
    lines.push(if incident.recovered {
        "verified healthy on the release rolled back to".to_owned()
    } else {
        "NOT verified healthy: a human must act".to_owned()
    });
    lines
}

/// An http(s) URL safe to put inside a Markdown link, or nothing.
pub(crate) fn link_target(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(url.as_str().replace('(', "%28").replace(')', "%29"))
}

/// `2026-11-30T09:00:00-08:00 America/Los_Angeles (2026-11-30 17:00:00 UTC)`: local first, UTC
/// beside it, both to the second.
pub(crate) fn when_text(when: &When) -> String {
    format!(
        "{} {} ({})",
        when.local,
        when.timezone,
        when.utc.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

pub(crate) use crate::plan::argv_text;

pub(crate) fn sources_text(sources: &[CheckSource]) -> String {
    if sources.is_empty() {
        return "no check run or status on this commit".to_owned();
    }
    sources
        .iter()
        .map(|s| format!("{} {}", s.kind.replace('_', " "), s.result))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Evidence lines shared by the text and Markdown renderers (without markup).
pub(crate) fn evidence_lines(evidence: &Evidence) -> Vec<String> {
    match evidence {
        Evidence::Check {
            name,
            state,
            sources,
            app_id,
            ..
        } => {
            let pin = app_id.map(|id| format!(" [app {id}]")).unwrap_or_default();
            if let (true, Some(id)) = (sources.is_empty(), app_id) {
                return vec![format!(
                    "{}: {name}{pin} (no check run from app {id} on this commit)",
                    state.as_str()
                )];
            }
            vec![format!(
                "{}: {name}{pin} ({})",
                state.as_str(),
                sources_text(sources)
            )]
        }
        Evidence::RequiredSource { source, state } => {
            let source = match source {
                crate::decision::RequiredBy::Config => "config",
                crate::decision::RequiredBy::Ruleset => "rulesets",
                crate::decision::RequiredBy::BranchProtection => "branch protection",
            };
            let state = match state {
                crate::decision::SourceState::Read { names } if names.is_empty() => {
                    "none".to_owned()
                }
                crate::decision::SourceState::Read { names } => names.join(", "),
                crate::decision::SourceState::Unknown { reason } => format!("unknown ({reason})"),
                crate::decision::SourceState::NotChecked { reason } => {
                    format!("not checked ({reason})")
                }
            };
            vec![format!("required by {source}: {state}")]
        }
        Evidence::Excluded { name, reason } => vec![format!("excluded: {name} ({reason})")],
        Evidence::Window {
            at,
            rule,
            closes_at,
            next_opening,
            runway,
            ..
        } => {
            let mut lines = vec![format!("at: {}", when_text(at)), format!("rule: {rule}")];
            if let Some(closes) = closes_at {
                lines.push(format!("closes: {}", when_text(closes)));
            }
            if let Some(next) = next_opening {
                lines.push(format!("next opening: {}", when_text(next)));
            }
            if runway != "0s" {
                lines.push(format!("runway: {runway}"));
            }
            lines
        }
        Evidence::Note { text } => vec![text.clone()],
        Evidence::Approval {
            environment,
            state,
            by,
            comment,
        } => vec![match comment {
            Some(comment) => format!(
                "{state} for {environment} by {by}: \"{}\"",
                one_line(comment)
            ),
            None => format!("{state} for {environment} by {by}"),
        }],
        Evidence::Rule {
            rule,
            metric,
            condition,
            successful,
            failed,
            inconclusive,
            error,
            readings,
        } => {
            let last: Vec<&str> = readings
                .iter()
                .rev()
                .take(5)
                .rev()
                .map(|r| r.value.as_str())
                .collect();
            vec![
                format!(
                    "{rule} {condition}: {successful} ok, {failed} failed, {inconclusive} no data, {error} errors{}",
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!("; last: {}", last.join(", "))
                    }
                ),
                format!("  reads {metric}"),
            ]
        }
    }
}

/// `; strategy from fly.toml's ...`, when the plan says.
pub(crate) fn strategy_note(plan: &crate::decision::DeployPlan) -> String {
    if plan.strategy.is_empty() {
        String::new()
    } else {
        format!("; {}", plan.strategy)
    }
}

/// The parts of a plan that have something to say, in the order deploy runs them (the
/// `fly deploy` line is [`PlanPart::Run`]'s).
pub(crate) fn plan_parts(
    plan: &crate::decision::DeployPlan,
) -> Vec<(crate::decision::PlanPart, Vec<String>)> {
    use crate::decision::PlanPart;
    let run = vec![format!(
        "{} (timeout {}{})",
        argv_text(&plan.deploy_command),
        plan.deploy_timeout,
        strategy_note(plan)
    )];
    [
        (PlanPart::BeforeDeploy, plan.before_deploy.clone()),
        (PlanPart::Run, run),
        (PlanPart::Health, plan.health.clone()),
        (PlanPart::AfterDeploy, plan.after_deploy.clone()),
        (PlanPart::Watch, plan.watch.clone()),
        (PlanPart::Rollback, plan.rollback.clone()),
        (PlanPart::Notify, plan.notify.clone()),
    ]
    .into_iter()
    .filter(|(_, lines)| !lines.is_empty())
    .collect()
}

/// The last lines of a configured command that did not succeed (at most 10): what a reader needs
/// to see why it failed.
pub(crate) fn failed_output(step: &crate::decision::Step) -> &[String] {
    match &step.command {
        Some(run) if run.status != "succeeded" => {
            let start = run.last_lines.len().saturating_sub(10);
            &run.last_lines[start..]
        }
        _ => &[],
    }
}
