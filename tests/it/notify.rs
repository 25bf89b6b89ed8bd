//! Notifications end to end: the real binary deploys (the fake GitHub, the fake flyctl, a health
//! app) and tells a real SMTP server (python3-aiosmtpd, STARTTLS with a CA minted per test, AUTH)
//! and a Slack-compatible receiver. No secret reaches a message or the log; an undeliverable
//! notification only warns.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::deploy::{
    config, deploy_args, deploy_with, github, previous_release, Fly, APP, FLY_TOKEN, GH_TOKEN,
    OPEN, SHA,
};
use crate::support::health_app::{Behaviour, HealthApp};
use crate::support::smtp_server::SmtpServer;

const SMTP_PASSWORD: &str = "smtp-pa55word-0a1b2c3d";
const SLACK_SECRET: &str = "T000/B000/slacksecret42";

/// Adds a `notify:` block (and any more lines under `rollback:`) to the deploy harness config.
fn with_notify(path: &Path, notify: &str, rollback_extra: &str) {
    let text = std::fs::read_to_string(path).expect("config").replace(
        "    rollback:\n      direct: true\n",
        &format!("    notify:\n{notify}    rollback:\n      direct: true\n{rollback_extra}"),
    );
    std::fs::write(path, text).expect("config");
}

const EMAIL: &str = "      email:
        to: [oncall@example.com, \"Ops Team <ops@example.com>\"]
        from: \"shipgate <deploys@example.com>\"
";

fn smtp_envs(smtp: &SmtpServer) -> Vec<(&'static str, String)> {
    vec![
        ("SHIPGATE_SMTP_URL", smtp.url()),
        ("SHIPGATE_SMTP_CA_FILE", smtp.ca_file.display().to_string()),
        ("GITHUB_ACTOR", "octocat".to_owned()),
        ("GITHUB_RUN_ID", "4242".to_owned()),
    ]
}

fn assert_no_secret(place: &str, text: &str) {
    for secret in [GH_TOKEN, FLY_TOKEN, SMTP_PASSWORD, SLACK_SECRET] {
        assert!(!text.contains(secret), "{secret} in {place}:\n{text}");
    }
}

#[test]
fn a_healthy_deploy_emails_started_and_succeeded_to_both_recipients_and_posts_block_kit() {
    let smtp = SmtpServer::start("deployer", SMTP_PASSWORD);
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    app.set(&format!("/slack/{SLACK_SECRET}"), Behaviour::Status(200));
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let email = format!("{EMAIL}        events: [started, succeeded, failed]\n");
    let chats = "      slack: { url_env: TEAM_SLACK_URL }
      teams: { url_env: TEAM_TEAMS_URL, events: [succeeded] }
      discord: { url_env: TEAM_DISCORD_URL, events: [started] }
";
    with_notify(&path, &format!("{email}{chats}"), "");
    app.set("/teams", Behaviour::Status(200));
    app.set("/discord", Behaviour::Status(204));
    let mut envs = smtp_envs(&smtp);
    envs.push((
        "TEAM_SLACK_URL",
        format!("{}/slack/{SLACK_SECRET}", app.url()),
    ));
    envs.push(("TEAM_TEAMS_URL", format!("{}/teams", app.url())));
    envs.push(("TEAM_DISCORD_URL", format!("{}/discord", app.url())));
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &envs);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("stdout", &out.stdout);

    let messages = smtp.messages();
    let subjects: Vec<&str> = messages.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Production Deployment Started",
            "Production Deployment Successful"
        ]
    );
    let run_url = "https://github.com/hotdash-dev/hotdash/actions/runs/4242".to_owned();
    for message in &messages {
        assert!(message.tls && message.authenticated, "{message:?}");
        assert_eq!(message.rcpt_tos, ["oncall@example.com", "ops@example.com"]);
        assert_eq!(message.mail_from, "deploys@example.com");
        assert!(
            message.to.contains("Ops Team <ops@example.com>"),
            "{}",
            message.to
        );
        let text = message.text.as_deref().expect("a plain-text part");
        let html = message.html.as_deref().expect("an HTML part");
        for field in [
            SHA,
            "ship the new dashboard",
            "octocat",
            APP,
            run_url.as_str(),
        ] {
            assert!(text.contains(field), "{field} not in:\n{text}");
            assert!(html.contains(field), "{field} not in:\n{html}");
        }
        assert_no_secret("an email", &message.raw);
        assert_no_secret("an email", text);
    }
    let done = messages[1].text.as_deref().unwrap_or_default();
    for field in [
        "Version:",
        "Previous version:",
        "Health:",
        "pass",
        "Duration:",
    ] {
        assert!(done.contains(field), "{field} not in:\n{done}");
    }

    // Slack: the default events (no `started`), as Block Kit with a button to the run.
    let bodies = app.bodies(&format!("/slack/{SLACK_SECRET}"));
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_no_secret("the Slack message", &bodies[0]);
    let message: Value = serde_json::from_str(&bodies[0]).expect("JSON");
    let blocks = message["blocks"].as_array().expect("blocks");
    let kinds: Vec<&str> = blocks.iter().filter_map(|b| b["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["header", "section", "section", "section", "context", "actions"]
    );
    assert_eq!(
        blocks[0]["text"]["text"],
        "Production Deployment Successful"
    );
    assert_eq!(blocks[5]["elements"][0]["url"], run_url.as_str());
    assert!(message["text"].as_str().unwrap_or_default().contains(SHA));

    // Teams: an Adaptive Card for `succeeded`; Discord: an embed for `started`.
    let teams = app.bodies("/teams");
    assert_eq!(teams.len(), 1, "{teams:?}");
    let teams: Value = serde_json::from_str(&teams[0]).expect("JSON");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(
        card["content"]["body"][0]["text"],
        "Production Deployment Successful"
    );
    let discord = app.bodies("/discord");
    assert_eq!(discord.len(), 1, "{discord:?}");
    let discord: Value = serde_json::from_str(&discord[0]).expect("JSON");
    assert_eq!(
        discord["embeds"][0]["title"],
        "Production Deployment Started"
    );
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
}

#[test]
fn a_rolled_back_deploy_emails_failed_and_rollback_executed_with_the_recovery_time() {
    let smtp = SmtpServer::start("deployer", SMTP_PASSWORD);
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail_once", previous_release());
    let (_dir, path) = config(&app, OPEN);
    with_notify(&path, EMAIL, "      recovery_target: 5m\n");
    let envs = smtp_envs(&smtp);
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &envs);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let incident = &decision["report"]["incident"];
    assert_eq!(incident["recovery_target_ms"], 300_000);
    assert_eq!(incident["recovery_target_met"], true);

    let messages = smtp.messages();
    let subjects: Vec<&str> = messages.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Production Deployment Failed",
            "Production Rollback Executed"
        ]
    );
    for message in &messages {
        let text = message.text.as_deref().unwrap_or_default();
        assert!(
            text.contains("Recovery time:") && text.contains("target 5m: met"),
            "{text}"
        );
        assert!(
            text.contains("Incident:") && text.contains("fly deploy failed"),
            "{text}"
        );
        assert_no_secret("an email", &message.raw);
    }
}

#[test]
fn a_dead_smtp_server_only_warns_after_bounded_attempts() {
    // A server that takes each connection and closes it at once: every attempt fails.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    with_notify(&path, EMAIL, "");
    let url = format!("smtp://deployer:{SMTP_PASSWORD}@127.0.0.1:{port}");
    let out = deploy_with(
        &fake,
        &path,
        &fly,
        &deploy_args(),
        &[("SHIPGATE_SMTP_URL", &url)],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "warning: the `succeeded` notification (email) was not delivered: the SMTP server could not take the message"
        ) && out.stderr.contains("(3 attempts)"),
        "{}",
        out.stderr
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    assert_no_secret("stderr", &out.stderr);
    assert_no_secret("stdout", &out.stdout);
}

#[test]
fn an_smtp_url_without_a_host_is_exit_2_before_anything_changes() {
    let app = HealthApp::start();
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    with_notify(&path, EMAIL, "");
    let url = format!("smtp://deployer:{SMTP_PASSWORD}@");
    let out = deploy_with(
        &fake,
        &path,
        &fly,
        &deploy_args(),
        &[("SHIPGATE_SMTP_URL", &url)],
    );
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("$SHIPGATE_SMTP_URL (environments.production.notify.email) has no host")
            && out
                .stderr
                .contains("hint: use smtp://USER:PASSWORD@HOST:587"),
        "{}",
        out.stderr
    );
    assert_no_secret("stderr", &out.stderr);
    assert!(fly.calls().is_empty(), "{:?}", fly.calls());
    assert!(fake.requests().is_empty());
}

#[test]
fn the_smtp_server_refuses_a_wrong_password_and_the_deploy_only_warns() {
    let smtp = SmtpServer::start("deployer", SMTP_PASSWORD);
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    with_notify(&path, EMAIL, "");
    let url = format!(
        "smtp://deployer:wrong-{SMTP_PASSWORD}@127.0.0.1:{}",
        smtp.port
    );
    let ca = smtp.ca_file.display().to_string();
    let out = deploy_with(
        &fake,
        &path,
        &fly,
        &deploy_args(),
        &[("SHIPGATE_SMTP_URL", &url), ("SHIPGATE_SMTP_CA_FILE", &ca)],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("warning: the `succeeded` notification (email) was not delivered")
            && out.stderr.contains("(1 attempt)"),
        "{}",
        out.stderr
    );
    assert!(smtp.messages().is_empty());
    assert_no_secret("stderr", &out.stderr);

    // Without the test's CA, the server's certificate is not trusted: nothing is sent.
    let url = smtp.url();
    let out = deploy_with(
        &fake,
        &path,
        &fly,
        &deploy_args(),
        &[("SHIPGATE_SMTP_URL", &url)],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("warning: the `succeeded` notification (email) was not delivered"),
        "{}",
        out.stderr
    );
    assert!(smtp.messages().is_empty());
}

#[test]
fn a_manual_rollback_emails_started_and_rollback_executed() {
    let smtp = SmtpServer::start("deployer", SMTP_PASSWORD);
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", crate::deploy::two_releases());
    let (_dir, path) = config(&app, OPEN);
    let email = format!("{EMAIL}        events: [started, rolled_back, rollback_failed]\n");
    with_notify(&path, &email, "      recovery_target: 10m\n");
    let envs = smtp_envs(&smtp);
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = [
        "rollback",
        "--environment",
        "production",
        "--reason",
        "INC-7 checkout broken",
    ];
    let out = deploy_with(&fake, &path, &fly, &args, &envs);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let messages = smtp.messages();
    let subjects: Vec<&str> = messages.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Production Rollback Started",
            "Production Rollback Executed"
        ]
    );
    let done = messages[1].text.as_deref().unwrap_or_default();
    for field in [
        "Rolled back by:",
        "octocat",
        "INC-7 checkout broken",
        "target 10m: met",
        "Rollback version:",
    ] {
        assert!(done.contains(field), "{field} not in:\n{done}");
    }
    assert_no_secret("an email", &messages[1].raw);
}
