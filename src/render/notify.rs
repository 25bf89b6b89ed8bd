//! Notifications: one channel-neutral [`Notice`] per event, built from the Decision (pure), then
//! drawn per channel: Slack Block Kit (with a `text` fallback, so any Slack-compatible webhook
//! takes it), a Teams Adaptive Card message, a Discord embed, and an email (subject, plain text
//! and HTML). The runbook's fields: outcome, commit, reason, deployed by, time, versions, run
//! link, health, any emergency override, durations, and the recovery time against its target.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::NotifyEvent;
use crate::decision::{Decision, GateId, Outcome, ReleaseRef};

/// Who asked, why and when: not part of the Decision.
pub struct Context<'a> {
    pub reason: &'a str,
    pub actor: Option<&'a str>,
    pub run_url: Option<&'a str>,
    /// When the notice is sent.
    pub at: DateTime<Utc>,
}

/// One event of a deploy or rollback, ready for any channel. Values are plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub event: NotifyEvent,
    /// The email subject and the chat header: `Production Deployment Successful`.
    pub title: String,
    /// The line under the title: what happened, in shipgate's words.
    pub headline: String,
    /// `(label, value)`, in the runbook's order.
    pub fields: Vec<(String, String)>,
    pub run_url: Option<String>,
    /// Something a human must look at (a failure, a missed recovery target).
    pub alarm: bool,
}

/// The events a finished deploy or rollback sends, in order. A failed deploy that was rolled
/// back is two events: `failed`, then `rolled_back` (or `rollback_failed`).
pub fn events_of(decision: &Decision) -> Vec<NotifyEvent> {
    use NotifyEvent::*;
    match (decision.command, decision.outcome) {
        ("rollback", Outcome::Deployed) => vec![RolledBack],
        ("rollback", Outcome::RollbackFailed | Outcome::Cancelled) => vec![RollbackFailed],
        ("deploy", Outcome::Deployed) => vec![Succeeded],
        ("deploy", Outcome::RolledBack) => vec![Failed, RolledBack],
        ("deploy", Outcome::RollbackFailed) => vec![Failed, RollbackFailed],
        ("deploy", Outcome::Cancelled) => vec![Failed],
        ("deploy", Outcome::Blocked) => vec![Blocked],
        _ => Vec::new(),
    }
}

/// The environment as a title word: `production` -> `Production`.
fn title_case(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// The notice of one event of this decision. `started` takes a decision of the gates alone.
pub fn notice(decision: &Decision, event: NotifyEvent, context: &Context<'_>) -> Notice {
    let subject = &decision.subject;
    let environment = subject.environment.as_deref().unwrap_or("unknown");
    let env_title = title_case(environment);
    let rollback = decision.command == "rollback";
    let (title, headline) = match (event, rollback) {
        (NotifyEvent::Started, false) => ("Deployment Started", "🚀 deploy started"),
        (NotifyEvent::Started, true) => ("Rollback Started", "↩️ rollback started"),
        (NotifyEvent::Succeeded, _) => ("Deployment Successful", "✅ deployed"),
        (NotifyEvent::Failed, _) if decision.outcome == Outcome::Cancelled => {
            ("Deployment Failed", "🛑 deploy cancelled: check what runs")
        }
        (NotifyEvent::Failed, _) => ("Deployment Failed", "❌ deploy failed"),
        (NotifyEvent::RolledBack, false) => ("Rollback Executed", "⚠️ deploy failed, rolled back"),
        (NotifyEvent::RolledBack, true) => ("Rollback Executed", "↩️ rolled back, healthy"),
        (NotifyEvent::RollbackFailed, _) if decision.outcome == Outcome::Cancelled => {
            ("Rollback Failed", "🛑 rollback cancelled: check what runs")
        }
        (NotifyEvent::RollbackFailed, _) => (
            "Rollback Failed",
            "🚨 the rollback did not recover: act now",
        ),
        (NotifyEvent::Blocked, _) => ("Deployment Blocked", "⛔ deploy blocked"),
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut field = |label: &str, value: String| fields.push((label.to_owned(), one_line(&value)));
    let outcome = match event {
        NotifyEvent::Started if rollback => "rolling back".to_owned(),
        NotifyEvent::Started => "deploying".to_owned(),
        _ => decision.summary.clone(),
    };
    field("Outcome", outcome);
    field(
        "Environment",
        format!(
            "{environment} (Fly app {})",
            subject.app.as_deref().unwrap_or("unknown")
        ),
    );
    if let Some(sha) = &subject.sha {
        field("Commit", sha.clone());
    }
    field("Reason", context.reason.to_owned());
    field(
        if rollback {
            "Rolled back by"
        } else {
            "Deployed by"
        },
        context.actor.unwrap_or("unknown").to_owned(),
    );
    field(
        "Time",
        context.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    // An emergency override never hides: the team hears of it with every event.
    for (verdict, by) in decision.overrides() {
        field(
            "Emergency override",
            format!(
                "{} by {}: {}",
                verdict.gate,
                by.actor.as_deref().unwrap_or("unknown"),
                by.reason
            ),
        );
    }
    // The approval the run carried (the approval gate's evidence): who, and what they said.
    let approvals = decision
        .verdicts
        .iter()
        .filter(|v| v.gate == crate::decision::GateId::Approval)
        .flat_map(|v| &v.evidence);
    for evidence in approvals {
        if let crate::decision::Evidence::Approval {
            environment,
            state,
            by,
            comment,
        } = evidence
        {
            field(
                "Approval",
                format!(
                    "{state} for {environment} by {by}{}",
                    comment
                        .as_deref()
                        .filter(|c| !c.is_empty())
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default()
                ),
            );
        }
    }
    let release =
        |r: Option<&ReleaseRef>| r.map_or_else(|| "unknown".to_owned(), ToString::to_string);
    let mut alarm = matches!(
        event,
        NotifyEvent::Failed | NotifyEvent::RollbackFailed | NotifyEvent::Blocked
    );
    let mut rollback_run = None;
    if let Some(report) = decision
        .report
        .as_ref()
        .filter(|_| event != NotifyEvent::Started)
    {
        match &report.incident {
            Some(incident) => {
                field("Failed version", release(incident.from.as_ref()));
                field("Rollback version", release(incident.to.as_ref()));
                field("Incident", incident.why.clone());
            }
            None => {
                field("Version", release(report.deployed.as_ref()));
                field("Previous version", release(report.previous.as_ref()));
            }
        }
        let health = decision
            .verdicts
            .iter()
            .find(|v| v.gate == GateId::Health)
            .map_or_else(
                || "not run".to_owned(),
                |v| format!("{}: {}", v.status.as_str(), v.summary),
            );
        field("Health", health);
        let total: u64 = report.steps.iter().map(|s| s.duration_ms).sum();
        let mut durations = vec![format!("total {}", super::ms_text(total))];
        if let Some(incident) = &report.incident {
            for (name, ms) in [
                ("time to detect", incident.time_to_detect_ms),
                ("rollback took", incident.rollback_duration_ms),
            ] {
                if let Some(ms) = ms {
                    durations.push(format!("{name} {}", super::ms_text(ms)));
                }
            }
        }
        field("Duration", durations.join(" · "));
        if let Some(incident) = &report.incident {
            let recovery = incident.recovery_text().unwrap_or_else(|| {
                incident.time_to_recover_ms.map_or_else(
                    || "not recovered".to_owned(),
                    |ms| format!("time to recover {} (no target set)", super::ms_text(ms)),
                )
            });
            alarm |= incident.recovery_target_met == Some(false);
            field("Recovery time", recovery);
            if let Some(refused) = &incident.refused {
                field("No rollback", refused.clone());
            }
            rollback_run = incident.rollback_run_url.clone();
        }
    }
    if let Some(url) = &rollback_run {
        field("Rollback run", url.clone());
    }
    if let Some(url) = context.run_url {
        field("Run", url.to_owned());
    }
    Notice {
        event,
        title: format!("{env_title} {title}"),
        headline: headline.to_owned(),
        fields,
        run_url: context.run_url.and_then(super::link_target),
        alarm,
    }
}

fn one_line(text: &str) -> String {
    super::one_line(text)
}

/// Slack treats `<`, `>` and `&` as markup: keep untrusted text from forming links or mentions.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts text to at most `max` characters (chat APIs reject longer fields).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Slack Block Kit: a header, the fields (at most 10 a section), a context line and a button to
/// the run; `text` is the fallback for notifications and for webhooks that ignore blocks.
pub fn slack(notice: &Notice) -> Value {
    let mut text = vec![format!(
        "*{}* — {}",
        slack_escape(&notice.title),
        notice.headline
    )];
    for (label, value) in &notice.fields {
        text.push(format!("{label}: {}", slack_escape(value)));
    }
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&notice.title, 150), "emoji": true}
    })];
    blocks.push(json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut(&notice.headline, 3000)}
    }));
    for chunk in notice.fields.chunks(10) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(label, value)| {
                json!({"type": "mrkdwn", "text": cut(&format!("*{label}*\n{}", slack_escape(value)), 2000)})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("shipgate · event `{}`", notice.event.as_str())}]
    }));
    if let Some(url) = &notice.run_url {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open the run"},
                "url": url,
                "style": if notice.alarm { "danger" } else { "primary" }
            }]
        }));
    }
    json!({"text": text.join("\n"), "blocks": blocks})
}

/// A Teams incoming-webhook message holding an Adaptive Card: a title, the facts, a link.
pub fn teams(notice: &Notice) -> Value {
    let facts: Vec<Value> = notice
        .fields
        .iter()
        .map(|(label, value)| json!({"title": label, "value": value}))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": notice.title, "weight": "Bolder", "size": "Large", "wrap": true,
             "color": if notice.alarm { "Attention" } else { "Good" }},
            {"type": "TextBlock", "text": notice.headline, "wrap": true},
            {"type": "FactSet", "facts": facts}
        ]
    });
    if let Some(url) = &notice.run_url {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open the run", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card
        }]
    })
}

/// A Discord webhook message: one embed with the fields; mentions in values never ping.
pub fn discord(notice: &Notice) -> Value {
    let fields: Vec<Value> = notice
        .fields
        .iter()
        .take(25)
        .map(|(label, value)| {
            json!({"name": cut(label, 256), "value": cut(value, 1024), "inline": value.chars().count() <= 40})
        })
        .collect();
    let mut embed = json!({
        "title": cut(&notice.title, 256),
        "description": cut(&notice.headline, 4096),
        "color": if notice.alarm { 0x00d9_3025 } else { 0x002e_b67d },
        "fields": fields,
        "footer": {"text": format!("shipgate · {}", notice.event.as_str())}
    });
    if let Some(url) = &notice.run_url {
        embed["url"] = json!(url);
    }
    json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
}

/// An email: the runbook's subject, a plain-text body and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn email(notice: &Notice) -> Email {
    let width = notice
        .fields
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let mut text = format!("{}\n{}\n\n", notice.title, notice.headline);
    for (label, value) in &notice.fields {
        text.push_str(&format!("{:width$}  {value}\n", format!("{label}:")));
    }
    text.push_str("\n-- \nshipgate\n");
    let colour = if notice.alarm { "#d93025" } else { "#2eb67d" };
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2 style=\"color:{colour}\">{}</h2>\n<p>{}</p>\n<table cellpadding=\"4\">\n",
        html_escape(&notice.title),
        html_escape(&notice.headline)
    );
    for (label, value) in &notice.fields {
        let value = if matches!(label.as_str(), "Run" | "Rollback run") {
            match super::link_target(value) {
                Some(url) => format!(
                    "<a href=\"{}\">{}</a>",
                    html_escape(&url),
                    html_escape(value)
                ),
                None => html_escape(value),
            }
        } else {
            html_escape(value)
        };
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{value}</td></tr>\n",
            html_escape(label)
        ));
    }
    html.push_str("</table>\n<p style=\"color:#888\">shipgate</p>\n</body></html>\n");
    Email {
        subject: notice.title.clone(),
        text,
        html,
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Status, Subject, Verdict};

    fn context() -> Context<'static> {
        Context {
            reason: "ship <@channel> v1.2\nnow",
            actor: Some("octocat"),
            run_url: Some("https://github.com/o/r/actions/runs/1"),
            at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_emergency_override_is_in_every_event() {
        let mut staging = Verdict::new(GateId::Staging, Status::Pass, "skipped");
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
        for event in NotifyEvent::ALL {
            let notice = notice(&decision, event, &context());
            let text = slack(&notice)["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                text.contains(
                    "Emergency override: staging by octocat: INC-9: checkout down &lt;now&gt;"
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn the_approval_is_in_every_event() {
        let approval =
            Verdict::new(GateId::Approval, Status::Pass, "approved").with_evidence(vec![
                crate::decision::Evidence::Approval {
                    environment: "production".into(),
                    state: "approved".into(),
                    by: "hubot".into(),
                    comment: Some("Ship it".into()),
                },
            ]);
        let decision = Decision::from_gates(
            "deploy",
            Subject::default(),
            chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            vec![approval],
        );
        for event in NotifyEvent::ALL {
            let notice = notice(&decision, event, &context());
            let text = slack(&notice)["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                text.contains("Approval: approved for production by hubot: Ship it"),
                "{text}"
            );
        }
    }

    #[test]
    fn subjects_are_the_runbooks_and_name_the_environment() {
        let subject = Subject {
            environment: Some("staging".into()),
            ..Subject::default()
        };
        let decision = Decision::from_gates(
            "deploy",
            subject,
            chrono::DateTime::<Utc>::UNIX_EPOCH,
            vec![],
        );
        let titles: Vec<String> = NotifyEvent::ALL
            .iter()
            .map(|e| email(&notice(&decision, *e, &context())).subject)
            .collect();
        assert_eq!(
            titles,
            [
                "Staging Deployment Started",
                "Staging Deployment Successful",
                "Staging Deployment Failed",
                "Staging Rollback Executed",
                "Staging Rollback Failed",
                "Staging Deployment Blocked"
            ]
        );
    }

    #[test]
    fn untrusted_text_is_escaped_per_channel() {
        let decision = Decision::from_gates(
            "deploy",
            Subject::default(),
            chrono::DateTime::<Utc>::UNIX_EPOCH,
            vec![],
        );
        let notice = notice(&decision, NotifyEvent::Succeeded, &context());
        let slack = slack(&notice).to_string();
        assert!(slack.contains("ship &lt;@channel&gt; v1.2 now"), "{slack}");
        let email = email(&notice);
        assert!(email.html.contains("ship &lt;@channel&gt; v1.2 now"));
        assert!(email.text.contains("ship <@channel> v1.2 now"));
        assert_eq!(discord(&notice)["allowed_mentions"], json!({"parse": []}));
    }

    #[test]
    fn a_rolled_back_deploy_is_two_events() {
        let mut decision = Decision::from_gates(
            "deploy",
            Subject::default(),
            chrono::DateTime::<Utc>::UNIX_EPOCH,
            vec![],
        );
        decision.outcome = Outcome::RolledBack;
        assert_eq!(
            events_of(&decision),
            [NotifyEvent::Failed, NotifyEvent::RolledBack]
        );
        decision.outcome = Outcome::Blocked;
        assert_eq!(events_of(&decision), [NotifyEvent::Blocked]);
        decision.outcome = Outcome::Go; // a dry run
        assert!(events_of(&decision).is_empty());
        decision.command = "rollback";
        decision.outcome = Outcome::Deployed;
        assert_eq!(events_of(&decision), [NotifyEvent::RolledBack]);
        decision.outcome = Outcome::RollbackFailed;
        assert_eq!(events_of(&decision), [NotifyEvent::RollbackFailed]);
    }
}
