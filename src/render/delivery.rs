//! One [`DeliveryReport`] drawn three ways: text, JSON (`shipgate.metrics/v1`) and Markdown (a
//! job summary with a Mermaid bar chart of deploys per week).

use crate::words::plural;
use std::fmt::Write as _;

use serde_json::json;

use super::Format;
use crate::delivery::{human, percent, DeliveryReport, TargetStatus, SCHEMA};

pub fn render(report: &DeliveryReport, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Json => self::json(report),
        Format::Markdown => markdown(report),
    }
}

fn status_word(status: TargetStatus) -> &'static str {
    match status {
        TargetStatus::Met => "met",
        TargetStatus::Missed => "MISSED",
        TargetStatus::NoData => "no data",
        TargetStatus::NoTarget => "",
    }
}

fn period(report: &DeliveryReport) -> String {
    format!(
        "{} to {}",
        report.since.format("%Y-%m-%d %H:%M:%S UTC"),
        report.until.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

fn counts_line(report: &DeliveryReport) -> String {
    let c = &report.counts;
    format!(
        "{} deploys: {} succeeded, {} failed, {} rolled back, {} unfinished; {} rollback records",
        c.deploys, c.succeeded, c.failed, c.rolled_back, c.unfinished, c.rollbacks
    )
}

fn footnotes(report: &DeliveryReport) -> Vec<String> {
    let mut notes = Vec::new();
    let lead = &report.lead_time;
    if lead.without_merged_pr > 0 || lead.deployed_before_merge > 0 {
        notes.push(format!(
            "lead time: {} {} measured; left out: {} with no merged pull request, {} deployed before the merge",
            lead.changes,
            plural(lead.changes, "change"),
            lead.without_merged_pr,
            lead.deployed_before_merge
        ));
    }
    if report.time_to_restore.unrestored > 0 {
        notes.push(format!(
            "time to restore: {} {} not restored yet",
            report.time_to_restore.unrestored,
            plural(report.time_to_restore.unrestored, "failure")
        ));
    }
    if report.counts.other_tasks > 0 {
        notes.push(format!(
            "{} {} with another task ignored",
            report.counts.other_tasks,
            plural(report.counts.other_tasks, "Deployment")
        ));
    }
    notes
}

fn requests_line(report: &DeliveryReport) -> String {
    format!(
        "GitHub requests: {} ({} answered 304 Not Modified)",
        report.requests, report.not_modified
    )
}

/// `▁▃█` for the weekly counts.
fn sparkline(report: &DeliveryReport) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = report.weeks.iter().map(|w| w.deploys).max().unwrap_or(0);
    report
        .weeks
        .iter()
        .map(|w| match max {
            0 => BARS[0],
            _ => {
                BARS[(w.deploys * (BARS.len() - 1))
                    .div_ceil(max)
                    .min(BARS.len() - 1)]
            }
        })
        .collect()
}

fn text(report: &DeliveryReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Delivery metrics for {} ({})",
        report.environment,
        period(report)
    );
    let _ = writeln!(out, "{}", counts_line(report));
    let _ = writeln!(out);
    let width = report
        .measures
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(0);
    for m in &report.measures {
        let target = match (&m.target, m.status) {
            (Some(target), status) => format!("  target {target}: {}", status_word(status)),
            (None, _) => String::new(),
        };
        let _ = writeln!(out, "  {:width$}  {}{target}", m.name, m.shown);
    }
    let _ = writeln!(out);
    let weekly: Vec<String> = report.weeks.iter().map(|w| w.deploys.to_string()).collect();
    let _ = writeln!(
        out,
        "Deploys per week: {}  {}",
        sparkline(report),
        weekly.join(" ")
    );
    for note in footnotes(report) {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(out, "{}", requests_line(report));
    out
}

fn json(report: &DeliveryReport) -> String {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("schema".to_owned(), json!(SCHEMA));
        object.insert("command".to_owned(), json!("report metrics"));
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

fn markdown(report: &DeliveryReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Delivery metrics: {}\n", report.environment);
    let _ = writeln!(out, "{}. {}.\n", period(report), counts_line(report));
    let _ = writeln!(out, "| Measure | Value | Target | |");
    let _ = writeln!(out, "|---|---|---|---|");
    for m in &report.measures {
        let mark = match m.status {
            TargetStatus::Met => "✅ met",
            TargetStatus::Missed => "❌ missed",
            TargetStatus::NoData => "➖ no data",
            TargetStatus::NoTarget => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {mark} |",
            m.name,
            m.shown,
            m.target.as_deref().unwrap_or("—")
        );
    }
    let labels: Vec<String> = report
        .weeks
        .iter()
        .map(|w| format!("\"{}\"", w.start.format("%b %d")))
        .collect();
    let values: Vec<String> = report.weeks.iter().map(|w| w.deploys.to_string()).collect();
    let top = report
        .weeks
        .iter()
        .map(|w| w.deploys)
        .max()
        .unwrap_or(0)
        .max(1);
    let _ = writeln!(out, "\n```mermaid");
    let _ = writeln!(out, "xychart-beta");
    let _ = writeln!(out, "    title \"Successful deploys per week\"");
    let _ = writeln!(out, "    x-axis [{}]", labels.join(", "));
    let _ = writeln!(out, "    y-axis \"Deploys\" 0 --> {top}");
    let _ = writeln!(out, "    bar [{}]", values.join(", "));
    let _ = writeln!(out, "```\n");
    let _ = writeln!(out, "Deploys per week: `{}`\n", sparkline(report));
    for note in footnotes(report) {
        let _ = writeln!(out, "- {note}");
    }
    if let (Some(rate), Some(cfr)) = (report.success_rate, report.change_failure_rate) {
        let _ = writeln!(
            out,
            "\n<sub>Success rate {} · change failure rate {} · lead time p90 {} · {}</sub>",
            percent(rate),
            percent(cfr),
            report.lead_time.p90.map_or_else(|| "—".to_owned(), human),
            requests_line(report)
        );
    } else {
        let _ = writeln!(out, "\n<sub>{}</sub>", requests_line(report));
    }
    out
}
