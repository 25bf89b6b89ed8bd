//! Plain text for terminals and logs: readable without colour.

use std::fmt::Write;

use crate::decision::{Decision, Status};

use super::{evidence_lines, incident_lines, ms_text, one_line};

fn label(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
        Status::Pending => "PENDING",
        Status::Skipped => "skipped",
        Status::NotChecked => "not checked",
    }
}

pub fn render(decision: &Decision) -> String {
    let mut out = String::new();
    // The summary starts with the outcome: "blocked by ...", "go: ...".
    let _ = writeln!(
        out,
        "shipgate {}: {}",
        decision.command,
        one_line(&decision.summary)
    );
    let subject = &decision.subject;
    if let Some(env) = &subject.environment {
        let app = subject
            .app
            .as_ref()
            .map(|a| format!(" (app {a})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  environment  {env}{app}");
    }
    if let Some(repo) = &subject.repository {
        let _ = writeln!(out, "  repository   {repo}");
    }
    match (&subject.git_ref, &subject.sha) {
        (Some(r), Some(sha)) => drop(writeln!(out, "  commit       {sha} ({r})")),
        (None, Some(sha)) => drop(writeln!(out, "  commit       {sha}")),
        (Some(r), None) => drop(writeln!(out, "  ref          {r}")),
        (None, None) => {}
    }
    let _ = writeln!(
        out,
        "  evaluated    {}",
        decision.evaluated_at.format("%Y-%m-%dT%H:%M:%SZ")
    );
    for (verdict, over) in decision.overrides() {
        let actor = one_line(over.actor.as_deref().unwrap_or("unknown actor"));
        let _ = writeln!(
            out,
            "  !! EMERGENCY OVERRIDE of {} by {actor}: {}",
            verdict.gate,
            one_line(&over.reason)
        );
    }
    out.push('\n');
    let width = decision
        .verdicts
        .iter()
        .map(|v| v.gate.as_str().len())
        .max()
        .unwrap_or(0);
    for verdict in &decision.verdicts {
        let _ = writeln!(
            out,
            "  {:<11}  {:<width$}  {}",
            label(verdict.status),
            verdict.gate.as_str(),
            one_line(&verdict.summary)
        );
        for evidence in &verdict.evidence {
            for line in evidence_lines(evidence) {
                let _ = writeln!(out, "  {:<11}  {:<width$}    {}", "", "", one_line(&line));
            }
        }
    }
    if let Some(plan) = &decision.plan {
        let _ = writeln!(out, "\nwhat deploy would do:");
        for (i, (part, lines)) in super::plan_parts(plan).into_iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. {:<8} {}",
                i + 1,
                part.label(),
                lines.join("\n              ")
            );
        }
    }
    if let Some(report) = &decision.report {
        if report.actor.is_some() || report.reason.is_some() {
            out.push('\n');
        }
        if let Some(actor) = &report.actor {
            let _ = writeln!(out, "  by           {}", one_line(actor));
        }
        if let Some(reason) = &report.reason {
            let _ = writeln!(out, "  why          {}", one_line(reason));
        }
        if let Some(id) = report.deployment_id {
            let _ = writeln!(out, "\n  GitHub Deployment {id}");
        }
        if let Some(previous) = &report.previous {
            let _ = writeln!(out, "  previous     {}", one_line(&previous.to_string()));
        }
        if let Some(deployed) = &report.deployed {
            let _ = writeln!(out, "  deployed     {}", one_line(&deployed.to_string()));
        }
        if !report.steps.is_empty() {
            let _ = writeln!(out, "\nsteps:");
            let width = report.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
            for step in &report.steps {
                let _ = writeln!(
                    out,
                    "  {:<width$}  {:>7}  {}",
                    step.name,
                    ms_text(step.duration_ms),
                    one_line(&step.detail)
                );
                for line in super::failed_output(step) {
                    let _ = writeln!(out, "  {:<width$}  {:>7}  | {}", "", "", one_line(line));
                }
            }
        }
        if let Some(incident) = &report.incident {
            let _ = writeln!(out, "\nincident:");
            for line in incident_lines(incident) {
                let _ = writeln!(out, "  {}", one_line(&line));
            }
        }
    }
    out
}
