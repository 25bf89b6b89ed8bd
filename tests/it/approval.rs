//! The `approval` gate end to end: the real binary against the fake GitHub's run approvals and
//! environment settings, the fake flyctl and a local health app.

use serde_json::Value;

use crate::deploy::{
    config, decision, deploy_args, deploy_with, deployments, github, previous_release, Fly, REPO,
};
use crate::support::fake_github::*;
use crate::support::health_app::{Behaviour, HealthApp};

const RUN_ID: &str = "7012345678";
const RUN: u64 = 7_012_345_678;

const REQUIRED: &str = "windows: false
    approval:
      required: true
      reviewers_from: environment";

/// A closed window whose emergency override requires an approved run; no approval gate.
const CLOSED_NEEDS_APPROVAL: &str = "windows:
      timezone: UTC
      deny:
        - name: Forever freeze
          from: 2000-01-01
          to: 2099-12-31
      emergency:
        requires_approval: true";

fn in_actions(actor: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("GITHUB_RUN_ID", RUN_ID), ("GITHUB_ACTOR", actor)]
}

fn verdict(decision: &Value, gate: &str) -> Value {
    decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["gate"] == gate)
        .unwrap_or_else(|| panic!("no {gate} verdict: {decision}"))
        .clone()
}

fn healthy() -> HealthApp {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    app
}

/// Nothing changed: exit 1, fly never called, no Deployment, no write to GitHub.
fn assert_blocked_and_unchanged(out: &crate::common::Run, fake: &FakeGitHub, fly: &Fly) {
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(decision(out)["outcome"], "blocked");
    assert!(fly.calls().is_empty(), "{:?}", fly.calls());
    assert!(deployments(fake).is_empty());
    assert_eq!(
        fake.requests().iter().filter(|r| r.method != "GET").count(),
        0
    );
}

#[test]
fn an_approved_run_deploys_and_the_deployment_records_the_approver() {
    let app = healthy();
    let fake = github();
    fake.repo(REPO, |repo| {
        repo.set_environment(environment("production", &["octocat"], true));
        repo.add_run_approval(
            RUN,
            environment_approval("approved", "octocat", &["production"], "Ship it!"),
        );
    });
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, REQUIRED);
    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &in_actions("alice"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    let approval = verdict(&decision, "approval");
    assert_eq!(approval["status"], "pass");
    assert_eq!(
        approval["evidence"][0],
        serde_json::json!({"kind": "approval", "environment": "production", "state": "approved",
                           "by": "octocat", "comment": "Ship it!"})
    );
    // The gates are in their one order, approval before health.
    let gates: Vec<&str> = decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .filter_map(|v| v["gate"].as_str())
        .collect();
    assert_eq!(
        gates,
        [
            "required-checks",
            "deploy-window",
            "staging",
            "approval",
            "health",
            "watch"
        ]
    );
    let deployments = deployments(&fake);
    assert_eq!(deployments.len(), 1);
    let recorded = &deployments[0]["payload"]["approval"];
    assert_eq!(recorded["status"], "pass");
    assert_eq!(recorded["reviews"][0]["by"], "octocat");
    assert_eq!(recorded["reviews"][0]["comment"], "Ship it!");
    assert_eq!(fly.deploys().len(), 1);
    // Both reads, once each.
    assert_eq!(
        fake.count("GET", &format!("/actions/runs/{RUN_ID}/approvals")),
        1
    );
    assert_eq!(fake.count("GET", "/environments/production"), 1);
}

#[test]
fn a_run_without_approval_is_blocked_and_nothing_changes() {
    let app = healthy();
    let fake = github();
    fake.repo(REPO, |repo| {
        repo.set_environment(environment("production", &["octocat"], false));
        // An approval of another environment does not count.
        repo.add_run_approval(
            RUN,
            environment_approval("approved", "octocat", &["staging"], ""),
        );
    });
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, REQUIRED);
    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &in_actions("alice"));
    assert_blocked_and_unchanged(&out, &fake, &fly);
    let decision = decision(&out);
    assert_eq!(decision["summary"], "blocked by approval");
    let approval = verdict(&decision, "approval");
    assert_eq!(approval["status"], "fail");
    assert!(approval["summary"].as_str().is_some_and(
        |s| s.contains("the environment's required reviewers have not approved this run")
    ));
    assert!(
        approval.to_string().contains("environment: production"),
        "{approval}"
    );
}

#[test]
fn a_rejected_run_is_blocked_naming_the_reviewer() {
    let app = healthy();
    let fake = github();
    fake.repo(REPO, |repo| {
        repo.set_environment(environment("production", &["carol"], false));
        repo.add_run_approval(
            RUN,
            environment_approval("rejected", "carol", &["production"], "not during the sale"),
        );
    });
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, REQUIRED);
    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &in_actions("alice"));
    assert_blocked_and_unchanged(&out, &fake, &fly);
    let approval = verdict(&decision(&out), "approval");
    assert!(approval["summary"]
        .as_str()
        .is_some_and(|s| s.contains("rejected for `production` by carol")));
}

#[test]
fn self_approval_where_the_environment_forbids_it_is_blocked() {
    let app = healthy();
    let fake = github();
    fake.repo(REPO, |repo| {
        repo.set_environment(environment("production", &["alice", "octocat"], true));
        repo.add_run_approval(
            RUN,
            environment_approval("approved", "alice", &["production"], "lgtm"),
        );
    });
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, REQUIRED);
    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &in_actions("alice"));
    assert_blocked_and_unchanged(&out, &fake, &fly);
    let approval = verdict(&decision(&out), "approval");
    assert_eq!(approval["status"], "fail");
    assert!(approval["summary"]
        .as_str()
        .is_some_and(|s| s.contains("self-approval is not approval here")));

    // The same approval, by someone other than the run's actor, deploys.
    let fly = Fly::new("ok", previous_release());
    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &in_actions("bob"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn an_emergency_that_requires_approval_is_refused_on_an_unapproved_run() {
    let app = healthy();
    let fake = github();
    fake.repo(REPO, |repo| {
        repo.set_environment(environment("production", &["octocat"], false));
    });
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, CLOSED_NEEDS_APPROVAL);
    let mut args = deploy_args();
    args.extend(["--emergency"]);
    let at = args
        .iter()
        .position(|a| *a == "--reason")
        .expect("--reason");
    args[at + 1] = "INC-142: checkout 500s, hotfix";
    let out = deploy_with(&fake, &path, &fly, &args, &in_actions("alice"));
    assert_blocked_and_unchanged(&out, &fake, &fly);
    let blocked = decision(&out);
    let window = verdict(&blocked, "deploy-window");
    assert_eq!(window["status"], "fail");
    assert!(window.get("override").is_none());
    assert!(
        window.to_string().contains(
            "emergency override refused: `emergency.requires_approval`: the run is not approved (the run has no approval for `production`"
        ),
        "{window}"
    );
    // No approval gate is configured: it does not apply.
    assert_eq!(verdict(&blocked, "approval")["status"], "skipped");

    // Approved by a reviewer: the override holds, and the Deployment says who approved.
    fake.repo(REPO, |repo| {
        repo.add_run_approval(
            RUN,
            environment_approval("approved", "octocat", &["production"], "go"),
        );
    });
    let out = deploy_with(&fake, &path, &fly, &args, &in_actions("alice"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let window = verdict(&decision(&out), "deploy-window");
    assert_eq!(window["override"]["overrode"], "fail");
    let recorded = &deployments(&fake)[0]["payload"]["approval"];
    assert_eq!(recorded["status"], "approved");
    assert_eq!(recorded["by"], "octocat");
}

#[test]
fn outside_actions_the_gate_is_not_checked_and_blocks_the_deploy() {
    let app = healthy();
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, REQUIRED);
    let out = deploy_with(&fake, &path, &fly, &deploy_args(), &[]);
    assert_blocked_and_unchanged(&out, &fake, &fly);
    let approval = verdict(&decision(&out), "approval");
    assert_eq!(approval["status"], "not_checked");
    assert!(approval["summary"]
        .as_str()
        .is_some_and(|s| s.starts_with("not checked (outside GitHub Actions: no GITHUB_RUN_ID)")));
    assert!(approval
        .to_string()
        .contains("runs in a GitHub Actions job whose environment has required reviewers"));
    // Nothing was asked of GitHub about a run that does not exist.
    assert_eq!(fake.count("GET", "/approvals"), 0);
    assert_eq!(fake.count("GET", "/environments/"), 0);
}

#[test]
fn plan_shows_the_gate_as_decided_by_deploy() {
    let app = healthy();
    let (_dir, path) = config(&app, REQUIRED);
    let out = crate::common::run(crate::common::with_config(&path).args([
        "plan",
        "--environment",
        "production",
        "--offline",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    let approval = verdict(&decision, "approval");
    assert_eq!(approval["status"], "not_checked");
    assert!(decision["summary"]
        .as_str()
        .is_some_and(|s| s.contains("not checked: ") && s.contains("approval")));
}

#[test]
fn config_explain_says_what_approval_asks() {
    let app = healthy();
    let (_dir, path) = config(&app, REQUIRED);
    let out = crate::common::run(crate::common::with_config(&path).args(["config", "explain"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "  approval: the deploy run approved by the GitHub Environment's required reviewers"
        ),
        "{}",
        out.stdout
    );
    let (_dir, path) = config(&app, CLOSED_NEEDS_APPROVAL);
    let out = crate::common::run(crate::common::with_config(&path).args(["config", "explain"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(", on an approved run only; always shown"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("  approval:"), "{}", out.stdout);
}
