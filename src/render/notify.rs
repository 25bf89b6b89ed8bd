//! The deploy notification, as a Slack-compatible message (`{"text": ...}`, which Slack, Mattermost
//! and most chat webhooks accept). The runbook's fields: outcome, commit, reason, actor, time,
//! version, run link, health status.

use serde_json::{json, Value};

use crate::decision::{Decision, GateId, Outcome};

/// Who asked, and why: not part of the Decision.
pub struct Context<'a> {
    pub reason: &'a str,
    pub actor: Option<&'a str>,
    pub run_url: Option<&'a str>,
}

pub fn message(decision: &Decision, context: &Context<'_>) -> Value {
    let headline = match (decision.command, decision.outcome) {
        ("rollback", Outcome::Deployed) => "↩️ rolled back, healthy",
        ("rollback", Outcome::RollbackFailed) => "🚨 rollback did not recover: act now",
        ("rollback", Outcome::Cancelled) => "🛑 rollback cancelled: check what runs",
        (_, outcome) => match outcome {
            Outcome::Deployed => "✅ deployed",
            Outcome::RolledBack => "⚠️ deploy failed, rolled back",
            Outcome::RollbackFailed => "🚨 deploy failed and the rollback did not recover: act now",
            Outcome::Blocked => "⛔ deploy blocked",
            Outcome::Cancelled => "🛑 deploy cancelled: check what runs",
            _ => "ℹ️ deploy",
        },
    };
    let subject = &decision.subject;
    let environment = subject.environment.as_deref().unwrap_or("?");
    let app = subject.app.as_deref().unwrap_or("?");
    let sha = subject
        .sha
        .as_deref()
        .map(|s| &s[..s.len().min(12)])
        .unwrap_or("?");
    let health = decision
        .verdicts
        .iter()
        .find(|v| v.gate == GateId::Health)
        .map(|v| format!("{}: {}", v.status.as_str(), v.summary))
        .unwrap_or_else(|| "not run".to_owned());
    let mut lines = vec![
        format!("*shipgate: {headline}* — `{environment}` (Fly app `{app}`)"),
        format!("commit `{sha}` · reason: {}", one_line(context.reason)),
        format!(
            "by {} at {}",
            context.actor.unwrap_or("unknown"),
            decision.evaluated_at.format("%Y-%m-%d %H:%M UTC")
        ),
        format!("health: {}", one_line(&health)),
    ];
    // An emergency override never hides: the team hears of it with the deploy.
    for (verdict, by) in decision.overrides() {
        lines.push(format!(
            "⚠️ EMERGENCY OVERRIDE of `{}` by {}: {}",
            verdict.gate,
            by.actor.as_deref().unwrap_or("unknown"),
            one_line(&by.reason)
        ));
    }
    if let Some(report) = &decision.report {
        let release = |r: Option<&crate::decision::ReleaseRef>| {
            r.map_or_else(|| "unknown".to_owned(), |r| one_line(&r.to_string()))
        };
        let versions = match &report.incident {
            Some(incident) if incident.recovered => format!(
                "version: {} failed; running {} again",
                release(incident.from.as_ref()),
                release(incident.to.as_ref())
            ),
            Some(incident) => format!(
                "version: {} failed; previous {}",
                release(incident.from.as_ref()),
                release(incident.to.as_ref())
            ),
            None => format!(
                "version: {} (previous {})",
                release(report.deployed.as_ref()),
                release(report.previous.as_ref())
            ),
        };
        lines.push(versions);
        if let Some(url) = report
            .incident
            .as_ref()
            .and_then(|i| i.rollback_run_url.as_deref())
        {
            lines.push(format!("<{url}|rollback workflow run>"));
        }
    }
    if let Some(url) = context.run_url {
        lines.push(format!("<{url}|workflow run>"));
    }
    json!({ "text": lines.join("\n") })
}

/// Slack treats `<`, `>` and `&` as markup: keep untrusted text from forming links or mentions.
fn one_line(text: &str) -> String {
    super::one_line(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Status, Subject, Verdict};

    #[test]
    fn an_emergency_override_is_in_the_message() {
        let mut staging = Verdict::new(crate::decision::GateId::Staging, Status::Pass, "skipped");
        staging.overridden = Some(crate::decision::Override {
            actor: Some("octocat".into()),
            reason: "INC-9: checkout down <now>".into(),
            overrode: Status::Fail,
        });
        let decision = Decision::from_gates(
            "deploy",
            Subject::default(),
            chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            vec![staging],
        );
        let context = Context {
            reason: "hotfix",
            actor: Some("octocat"),
            run_url: None,
        };
        let text = message(&decision, &context)["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            text.contains(
                "EMERGENCY OVERRIDE of `staging` by octocat: INC-9: checkout down &lt;now&gt;"
            ),
            "{text}"
        );
    }

    #[test]
    fn carries_the_runbooks_fields_and_escapes_untrusted_text() {
        let subject = Subject {
            environment: Some("production".into()),
            app: Some("hotdash-production".into()),
            sha: Some("3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3".into()),
            ..Subject::default()
        };
        let mut decision = Decision::from_gates(
            "deploy",
            subject,
            chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            vec![Verdict::new(
                GateId::Health,
                Status::Pass,
                "3 rounds in a row healthy",
            )],
        );
        decision.outcome = Outcome::Deployed;
        decision.report = Some(crate::decision::Report {
            previous: Some(crate::decision::ReleaseRef {
                version: Some(41),
                image: Some("registry.fly.io/hotdash:a".into()),
            }),
            deployed: Some(crate::decision::ReleaseRef {
                version: Some(42),
                image: Some("registry.fly.io/hotdash:b".into()),
            }),
            ..crate::decision::Report::new(crate::decision::ReportKind::Deploy)
        });
        let context = Context {
            reason: "ship <@channel> v1.2\nnow",
            actor: Some("octocat"),
            run_url: Some("https://github.com/o/r/actions/runs/1"),
        };
        let text = message(&decision, &context)["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            text,
            "*shipgate: ✅ deployed* — `production` (Fly app `hotdash-production`)\ncommit `3e7a91c4b2d5` · reason: ship &lt;@channel&gt; v1.2 now\nby octocat at 1970-01-01 00:00 UTC\nhealth: pass: 3 rounds in a row healthy\nversion: v42 (registry.fly.io/hotdash:b) (previous v41 (registry.fly.io/hotdash:a))\n<https://github.com/o/r/actions/runs/1|workflow run>"
        );
    }
}
