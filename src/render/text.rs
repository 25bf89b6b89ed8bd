//! Plain text for terminals and logs: readable without colour.

use std::fmt::Write;

use crate::decision::{Decision, Status};

use super::{argv_text, evidence_lines, one_line};

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
        let _ = writeln!(
            out,
            "  1. run      {} (timeout {})",
            argv_text(&plan.deploy_command),
            plan.deploy_timeout
        );
        let _ = writeln!(
            out,
            "  2. health   {}",
            plan.health.join("\n              ")
        );
        let _ = writeln!(
            out,
            "  3. rollback {}",
            plan.rollback.join("\n              ")
        );
        if !plan.notify.is_empty() {
            let _ = writeln!(
                out,
                "  4. notify   {}",
                plan.notify.join("\n              ")
            );
        }
    }
    out
}
