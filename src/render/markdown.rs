//! Markdown: the job summary, the PR comment and the check-run output all start from this.

use std::fmt::Write;

use crate::decision::{Decision, Evidence, Status};

use super::{argv_text, evidence_lines};

fn icon(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅ pass",
        Status::Fail => "❌ fail",
        Status::Pending => "⏳ pending",
        Status::Skipped => "➖ skipped",
        Status::NotChecked => "❔ not checked",
    }
}

/// Text from GitHub or the config goes into table cells: keep it from breaking the table.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn render(decision: &Decision) -> String {
    let mut out = String::new();
    let env = decision
        .subject
        .environment
        .as_deref()
        .map(|e| format!(" · `{e}`"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "### shipgate {}{env}: **{}**\n",
        decision.command,
        decision.outcome.as_str()
    );
    let _ = writeln!(out, "{}\n", cell(&decision.summary));
    for (verdict, over) in decision.overrides() {
        let actor = over.actor.as_deref().unwrap_or("unknown actor");
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **Emergency override** of `{}` by `{actor}`: {}\n",
            verdict.gate,
            cell(&over.reason)
        );
    }
    let _ = writeln!(out, "| gate | status | summary |\n|---|---|---|");
    for verdict in &decision.verdicts {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            verdict.gate,
            icon(verdict.status),
            cell(&verdict.summary)
        );
    }
    for verdict in decision.verdicts.iter().filter(|v| !v.evidence.is_empty()) {
        let _ = writeln!(
            out,
            "\n<details><summary><code>{}</code> evidence</summary>\n",
            verdict.gate
        );
        for evidence in &verdict.evidence {
            for line in evidence_lines(evidence) {
                match evidence {
                    Evidence::Check { sources, .. } => {
                        let link = sources
                            .iter()
                            .find_map(|s| s.url.as_deref())
                            .map(|u| format!(" ([details]({u}))"))
                            .unwrap_or_default();
                        let _ = writeln!(out, "- {}{link}", cell(&line));
                    }
                    _ => drop(writeln!(out, "- {}", cell(&line))),
                }
            }
        }
        let _ = writeln!(out, "\n</details>");
    }
    if let Some(plan) = &decision.plan {
        let _ = writeln!(out, "\n**What deploy would do**\n");
        let _ = writeln!(
            out,
            "1. `{}` (timeout {})",
            argv_text(&plan.deploy_command),
            plan.deploy_timeout
        );
        let _ = writeln!(out, "2. Health gate:");
        for line in &plan.health {
            let _ = writeln!(out, "   - {}", cell(line));
        }
        let _ = writeln!(out, "3. Rollback:");
        for line in &plan.rollback {
            let _ = writeln!(out, "   - {}", cell(line));
        }
        for line in &plan.notify {
            let _ = writeln!(out, "4. Notify: {}", cell(line));
        }
    }
    let _ = writeln!(
        out,
        "\n<sub>evaluated at {} · schema {}</sub>",
        decision.evaluated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        decision.schema
    );
    out
}
