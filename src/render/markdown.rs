//! Markdown: the job summary, the PR comment and the check-run output all start from this.

use std::fmt::Write;

use crate::decision::{Decision, Evidence, PlanPart, Status};

use super::{argv_text, evidence_lines, incident_lines, ms_text};

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
///
/// It may come from outside (check names, a `--reason`): it must not open HTML, links or images,
/// and must not @-mention anyone.
pub(crate) fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '[' => out.push_str("\\["),
            ']' => out.push_str("\\]"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("&#64;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
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
            "> [!WARNING]\n> **Emergency override** of `{}` by {}: {}\n",
            verdict.gate,
            cell(actor),
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
                            .find_map(|s| s.url.as_deref().and_then(super::link_target))
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
        for (i, (part, lines)) in super::plan_parts(plan).into_iter().enumerate() {
            let n = i + 1;
            match part {
                PlanPart::Run => {
                    let _ = writeln!(
                        out,
                        "{n}. `{}` (timeout {}{})",
                        argv_text(&plan.deploy_command),
                        plan.deploy_timeout,
                        super::strategy_note(plan)
                    );
                }
                PlanPart::Notify if lines.len() == 1 => {
                    let _ = writeln!(out, "{n}. Notify: {}", cell(&lines[0]));
                }
                _ => {
                    let _ = writeln!(out, "{n}. {}:", part.heading());
                    for line in &lines {
                        let _ = writeln!(out, "   - {}", cell(line));
                    }
                }
            }
        }
    }
    if let Some(report) = &decision.report {
        if let Some(incident) = &report.incident {
            let kind = if incident.recovered {
                "WARNING"
            } else {
                "CAUTION"
            };
            let _ = writeln!(out, "\n> [!{kind}]\n> **Incident**");
            for line in incident_lines(incident) {
                let _ = writeln!(out, "> - {}", cell(&line));
            }
        }
        let who = [
            ("by", report.actor.as_deref()),
            ("why", report.reason.as_deref()),
        ];
        let who: Vec<String> = who
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| format!("{name}: {}", cell(v))))
            .collect();
        if !who.is_empty() {
            let _ = writeln!(out, "\n{}", who.join(" · "));
        }
        let releases = [
            (
                "GitHub Deployment",
                report.deployment_id.map(|id| id.to_string()),
            ),
            (
                "previous release",
                report.previous.as_ref().map(ToString::to_string),
            ),
            (
                "deployed release",
                report.deployed.as_ref().map(ToString::to_string),
            ),
        ];
        let releases: Vec<String> = releases
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| format!("{name}: {}", cell(&v))))
            .collect();
        if !releases.is_empty() {
            let _ = writeln!(out, "\n{}", releases.join(" · "));
        }
        // The timeline, where there is more than the gates to draw.
        if report.steps.len() > 1 {
            if let Some(chart) = super::timeline::deploy(decision) {
                let _ = write!(out, "\n{chart}");
            }
        }
        if !report.steps.is_empty() {
            let _ = writeln!(out, "\n| step | took | detail |\n|---|---|---|");
            for step in &report.steps {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    cell(&step.name),
                    ms_text(step.duration_ms),
                    cell(&step.detail)
                );
            }
            for step in &report.steps {
                let lines = super::failed_output(step);
                if !lines.is_empty() {
                    let _ = writeln!(
                        out,
                        "\n<details><summary>last lines of {}</summary>\n\n```text",
                        cell(&step.name)
                    );
                    for line in lines {
                        let _ = writeln!(out, "{}", line.replace("```", "` ` `"));
                    }
                    let _ = writeln!(out, "```\n\n</details>");
                }
            }
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

#[cfg(test)]
mod tests {
    use super::super::{link_target, one_line};
    use super::cell;

    #[test]
    fn untrusted_text_cannot_open_html_links_or_mentions() {
        assert_eq!(
            cell("<img src=x> [a](https://evil.example) @ops-team | ok\r\n::warning::x"),
            "&lt;img src=x&gt; \\[a\\](https://evil.example) &#64;ops-team \\| ok  ::warning::x"
        );
    }

    #[test]
    fn only_plain_http_links_are_kept() {
        assert_eq!(
            link_target("https://ok.example/a) **and** ![p](https://evil.example/p.png"),
            Some(
                "https://ok.example/a%29%20**and**%20![p]%28https://evil.example/p.png".to_owned()
            )
        );
        assert_eq!(link_target("javascript:alert(1)"), None);
        assert_eq!(link_target("not a url"), None);
    }

    #[test]
    fn text_output_keeps_untrusted_text_on_one_line() {
        assert_eq!(one_line("a\n::error::b\r\tc"), "a ::error::b  c");
    }
}
