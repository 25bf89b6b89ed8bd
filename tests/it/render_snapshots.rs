//! The shape of what shipgate prints and posts, snapshot by snapshot: the deploy report, the
//! rollback incident, the PR comment, the gate check run and the notification, each rendered from
//! a literal `Decision` (no clock, no network), so a change to a renderer shows up as a diff.
//!
//! Every struct literal lives in the builders at the top: when `Decision`, `Report`, `Incident`
//! or their parts gain a field, only the builders change.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use shipgate::decision::{
    CheckSource, CheckState, Decision, DeployPlan, Evidence, GateId, Incident, Outcome, ReleaseRef,
    Report, RequiredBy, RoundMark, RuleKind, SourceState, Status, Step, Subject, Verdict, When,
};
use shipgate::render;

const REPO: &str = "hotdash-dev/hotdash";
const SHA: &str = "3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3";
const PREVIOUS_IMAGE: &str = "registry.fly.io/hotdash-production:deployment-01JD4Q7M2X";
const NEW_IMAGE: &str = "registry.fly.io/hotdash-production:deployment-01JD5R8N3Y";
const RUN_URL: &str = "https://github.com/hotdash-dev/hotdash/actions/runs/19733410221";
const ROLLBACK_RUN_URL: &str = "https://github.com/hotdash-dev/hotdash/actions/runs/19733498765";
const DEPLOYMENT_ID: u64 = 2_871_443_019;
const COMMENT_KEY: &str = "readiness:production";
const HEALTH_FAILED: &str = "/health answered 503 in 3 of 5 rounds (failure_limit 2)";

// ---------------------------------------------------------------------------------------------
// Builders: the only struct literals in this file
// ---------------------------------------------------------------------------------------------

/// 2026-11-24 (a Tuesday) at `hour:minute:second` UTC.
fn at(hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, hour, minute, second)
        .single()
        .expect("a valid instant")
}

fn subject(git_ref: &str) -> Subject {
    Subject {
        repository: Some(REPO.to_owned()),
        environment: Some("production".to_owned()),
        app: Some("hotdash-production".to_owned()),
        git_ref: Some(git_ref.to_owned()),
        sha: Some(SHA.to_owned()),
    }
}

fn release(version: u64, image: &str) -> ReleaseRef {
    ReleaseRef {
        version: Some(version),
        image: Some(image.to_owned()),
    }
}

fn step(name: &str, duration_ms: u64, detail: &str) -> Step {
    Step {
        name: name.to_owned(),
        duration_ms,
        detail: detail.to_owned(),
        started_ms: None,
        rounds: Vec::new(),
        command: None,
    }
}

/// Steps as deploy records them: each started where it did, 50 ms after the one before ended.
fn started(mut steps: Vec<Step>) -> Vec<Step> {
    let mut at = 0;
    for step in &mut steps {
        step.started_ms = Some(at);
        at += step.duration_ms + 50;
    }
    steps
}

/// A `health` step's rounds: `(ms after the step started, healthy)`.
fn with_rounds(mut step: Step, rounds: &[(u64, bool)]) -> Step {
    step.rounds = rounds
        .iter()
        .map(|&(offset_ms, healthy)| RoundMark { offset_ms, healthy })
        .collect();
    step
}

fn note(text: &str) -> Evidence {
    Evidence::Note {
        text: text.to_owned(),
    }
}

/// One required check, named by the config, as one check run says it is.
fn check(name: &str, state: CheckState, result: &str, job: u64) -> Evidence {
    let sources = match state {
        CheckState::Missing => Vec::new(),
        _ => vec![CheckSource {
            kind: "check_run",
            result: result.to_owned(),
            state,
            url: Some(format!("{RUN_URL}/job/{job}")),
            app: Some("github-actions".to_owned()),
        }],
    };
    Evidence::Check {
        name: name.to_owned(),
        state,
        required_by: vec![RequiredBy::Config],
        sources,
        app_id: None,
    }
}

fn required_by_config(names: &[&str]) -> Evidence {
    Evidence::RequiredSource {
        source: RequiredBy::Config,
        state: SourceState::Read {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        },
    }
}

fn protection_unknown() -> Evidence {
    Evidence::RequiredSource {
        source: RequiredBy::BranchProtection,
        state: SourceState::Unknown {
            reason: "403 Resource not accessible by integration".to_owned(),
        },
    }
}

/// The business-hours window, open at 10:00 PST on the day of [`at`].
fn window_open() -> Verdict {
    let when = |utc: DateTime<Utc>, local: &str| When {
        utc,
        local: local.to_owned(),
        timezone: "America/Los_Angeles".to_owned(),
    };
    Verdict::new(
        GateId::DeployWindow,
        Status::Pass,
        "open at Tue 2026-11-24 10:00 PST (Business hours (PT))",
    )
    .with_evidence(vec![Evidence::Window {
        at: when(at(18, 0, 0), "2026-11-24T10:00:00-08:00"),
        open: true,
        rule: "Business hours (PT)".to_owned(),
        rule_kind: RuleKind::Allow,
        closes_at: Some(when(
            at(1, 0, 0) + chrono::Days::new(1),
            "2026-11-24T17:00:00-08:00",
        )),
        next_opening: None,
        runway: "30m".to_owned(),
    }])
}

/// Every required check passing.
fn checks_passing() -> Verdict {
    Verdict::new(
        GateId::RequiredChecks,
        Status::Pass,
        "3 required checks passing",
    )
    .with_evidence(vec![
        required_by_config(&["Danger", "Gitleaks", "Health Check"]),
        protection_unknown(),
        check("Danger", CheckState::Passing, "success", 56_239_005_112),
        check("Gitleaks", CheckState::Passing, "success", 56_239_005_114),
        check(
            "Health Check",
            CheckState::Passing,
            "success",
            56_239_005_118,
        ),
    ])
}

/// Gitleaks failing and Health Check missing.
fn checks_failing() -> Verdict {
    Verdict::new(
        GateId::RequiredChecks,
        Status::Fail,
        "failing: Gitleaks; missing: Health Check",
    )
    .with_evidence(vec![
        required_by_config(&["Danger", "Gitleaks", "Health Check"]),
        protection_unknown(),
        check("Danger", CheckState::Passing, "success", 56_239_005_112),
        check("Gitleaks", CheckState::Failing, "failure", 56_239_005_114),
        check("Health Check", CheckState::Missing, "", 0),
        Evidence::Excluded {
            name: "shipgate".to_owned(),
            reason: "shipgate's own check".to_owned(),
        },
    ])
}

fn staging(status: Status, summary: &str) -> Verdict {
    Verdict::new(GateId::Staging, status, summary).with_evidence(vec![note(
        "the environment's health now is probed by `deploy`",
    )])
}

fn deploy_plan() -> DeployPlan {
    let args = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
    DeployPlan {
        deploy_command: args(
            "flyctl deploy --app hotdash-production --config fly.toml --strategy rolling \
             --remote-only --yes",
        ),
        deploy_timeout: "15m".to_owned(),
        strategy: "strategy rolling, set in the config".to_owned(),
        before_deploy: vec![
            "`backup`: pg_dump --format=custom --file 'backups/pre-deploy-${sha}.dump' with PGDATABASE (timeout 10m)".to_owned(),
        ],
        after_deploy: vec![
            "`smoke tests`: npm run test:smoke -- '--url=${url}' (timeout 10m)".to_owned(),
        ],
        watch: vec![
            "every 1m for 15m (2h after an emergency deploy); fail past 0 failed, 4 errors in a row".to_owned(),
            "error_rate <= 1%: prometheus: sum(rate(fly_edge_http_responses_count{app=\"${app}\",status=~\"5..\"}[${interval}])) / sum(rate(fly_edge_http_responses_count{app=\"${app}\"}[${interval}])) (from $SHIPGATE_PROMETHEUS_URL)".to_owned(),
        ],
        health: vec![
            "after 10s, a round every 10s until 3 in a row pass; deadline 5m".to_owned(),
            "GET https://hotdash-production.fly.dev/health expecting 200".to_owned(),
        ],
        rollback: vec![
            "record the running release and its image (PREVIOUS_IMAGE) with `fly releases --json` before deploying".to_owned(),
            "on failure: dispatch `rollback-production.yml` on `main`".to_owned(),
        ],
        notify: vec!["POST a Slack-compatible message to $SHIPGATE_WEBHOOK_URL".to_owned()],
        health_gate: None,
        rollback_path: None,
        checked: None,
    }
}

fn report(deployed: ReleaseRef, steps: Vec<Step>, incident: Option<Incident>) -> Report {
    Report {
        kind: shipgate::decision::ReportKind::Deploy,
        actor: None,
        reason: None,
        // The run started as the gates began gathering: 1.204 s before the clock was read.
        started_at: Some(at(17, 59, 58) + chrono::Duration::milliseconds(796)),
        deployment_id: Some(DEPLOYMENT_ID),
        previous: Some(release(42, PREVIOUS_IMAGE)),
        deployed: Some(deployed),
        steps,
        incident,
    }
}

/// A deploy whose health gate failed: detected, nothing rolled back yet. The tests fill in what
/// the rollback did.
fn failed_deploy_incident() -> Incident {
    Incident {
        what: "deploy of 3e7a91c to production failed".to_owned(),
        at: at(18, 2, 15),
        why: HEALTH_FAILED.to_owned(),
        from: Some(release(43, NEW_IMAGE)),
        to: Some(release(42, PREVIOUS_IMAGE)),
        rollback_triggered: false,
        refused: None,
        rollback_run_url: None,
        time_to_detect_ms: Some(131_377),
        rollback_started_after_ms: None,
        rollback_duration_ms: None,
        time_to_recover_ms: None,
        recovered: false,
        recovery_target_ms: None,
        recovery_target_met: None,
    }
}

/// `deploy` as it ends: the gates and the health verdict, the plan and the report; then the
/// outcome and the summary set by hand, as deploy does.
fn deploy_decision(health: Verdict, report: Report, outcome: Outcome, summary: &str) -> Decision {
    let gates = vec![
        checks_passing(),
        window_open(),
        staging(Status::Pass, "3e7a91c is deployed to staging and healthy"),
        health,
    ];
    let mut decision = Decision::from_gates("deploy", subject("main"), at(18, 0, 0), gates);
    decision.plan = Some(deploy_plan());
    decision.report = Some(report);
    decision.outcome = outcome;
    decision.exit_code = outcome.exit_code();
    decision.summary = summary.to_owned();
    decision
}

/// `readiness` for PR 7, as it ends: `ready` instead of `go`.
fn readiness_decision(checks: Verdict, staging: Verdict) -> Decision {
    let health = Verdict::new(GateId::Health, Status::Skipped, "runs after a deploy");
    let gates = vec![checks, window_open(), staging, health];
    let mut decision = Decision::from_gates("readiness", subject("#7"), at(18, 0, 0), gates);
    if decision.outcome == Outcome::Go {
        decision.outcome = Outcome::Ready;
        decision.summary = decision.summary.replacen("go", "ready", 1);
    }
    decision
}

/// `gate`: the required-checks gate alone.
fn gate_decision(checks: Verdict) -> Decision {
    Decision::from_gates("gate", subject("main"), at(18, 0, 0), vec![checks])
}

fn notify_context() -> render::notify::Context<'static> {
    render::notify::Context {
        reason: "release v2.14.0: faster checkout",
        actor: Some("octocat"),
        run_url: Some(RUN_URL),
        at: at(18, 9, 30),
    }
}

// ---------------------------------------------------------------------------------------------
// The decisions
// ---------------------------------------------------------------------------------------------

fn deployed() -> Decision {
    let health = Verdict::new(
        GateId::Health,
        Status::Pass,
        "3 rounds in a row healthy (p95 212ms)",
    )
    .with_evidence(vec![note("total 142.6s")]);
    let steps = started(vec![
        step("gates", 1_204, "every gate passed"),
        step(
            "deployment",
            388,
            &format!("GitHub Deployment {DEPLOYMENT_ID} in_progress"),
        ),
        step(
            "record",
            1_930,
            &format!("rollback target v42 ({PREVIOUS_IMAGE})"),
        ),
        step(
            "fly deploy",
            98_415,
            &format!("fly deploy succeeded: v43 ({NEW_IMAGE})"),
        ),
        with_rounds(
            step(
                "health",
                40_662,
                "pass: 3 rounds in a row healthy (p95 212ms)",
            ),
            &[
                (10_000, false),
                (20_000, true),
                (30_000, true),
                (40_000, true),
            ],
        ),
    ]);
    deploy_decision(
        health,
        report(release(43, NEW_IMAGE), steps, None),
        Outcome::Deployed,
        "deployed 3e7a91c to production: healthy",
    )
}

fn failed_health() -> Verdict {
    Verdict::new(GateId::Health, Status::Fail, HEALTH_FAILED)
}

fn failed_steps() -> Vec<Step> {
    vec![
        step("gates", 1_204, "every gate passed"),
        step(
            "deployment",
            388,
            &format!("GitHub Deployment {DEPLOYMENT_ID} in_progress"),
        ),
        step(
            "record",
            1_930,
            &format!("rollback target v42 ({PREVIOUS_IMAGE})"),
        ),
        step(
            "fly deploy",
            97_870,
            &format!("fly deploy succeeded: v43 ({NEW_IMAGE})"),
        ),
        with_rounds(
            step("health", 33_507, &format!("fail: {HEALTH_FAILED}")),
            &[
                (10_000, false),
                (16_000, true),
                (22_000, false),
                (28_000, true),
                (33_000, false),
            ],
        ),
    ]
}

/// Health failed after the deploy; the rollback workflow was dispatched and the direct redeploy
/// of v42 came back healthy.
fn rolled_back() -> Decision {
    let mut incident = failed_deploy_incident();
    incident.rollback_triggered = true;
    incident.rollback_run_url = Some(ROLLBACK_RUN_URL.to_owned());
    incident.rollback_started_after_ms = Some(214);
    incident.rollback_duration_ms = Some(71_830);
    incident.time_to_recover_ms = Some(72_044);
    incident.recovered = true;
    incident.judge_recovery(Some(std::time::Duration::from_secs(300)));
    let mut steps = failed_steps();
    steps.extend([
        step(
            "rollback workflow",
            1_512,
            &format!("dispatched rollback-production.yml: {ROLLBACK_RUN_URL}"),
        ),
        step(
            "fly deploy",
            39_120,
            &format!(
                "rollback redeploy of v42 ({PREVIOUS_IMAGE}) succeeded: v44 ({PREVIOUS_IMAGE})"
            ),
        ),
        step("health", 31_003, "pass: 3 rounds in a row healthy"),
    ]);
    let health = failed_health().with_evidence(vec![note(&format!(
        "rollback to v42 ({PREVIOUS_IMAGE}): health pass: 3 rounds in a row healthy"
    ))]);
    deploy_decision(
        health,
        report(release(44, PREVIOUS_IMAGE), steps, Some(incident)),
        Outcome::RolledBack,
        &format!("rolled back to v42 ({PREVIOUS_IMAGE}): 3e7a91c failed: {HEALTH_FAILED}"),
    )
}

/// Health failed after the deploy, and the automatic rollback was refused: nothing was redeployed.
fn rollback_refused() -> Decision {
    let refused = "3 rollback(s) in a row already (rollback.max_consecutive: 3); automatic \
                   rollback refused";
    let mut incident = failed_deploy_incident();
    incident.refused = Some(refused.to_owned());
    deploy_decision(
        failed_health(),
        report(release(43, NEW_IMAGE), failed_steps(), Some(incident)),
        Outcome::RollbackFailed,
        &format!("ROLLBACK FAILED: 3e7a91c failed ({HEALTH_FAILED}); {refused}; a human must act"),
    )
}

/// Health failed after the deploy; the rollback ran but v42 did not come back healthy either.
fn rollback_failed() -> Decision {
    let mut incident = failed_deploy_incident();
    incident.rollback_triggered = true;
    incident.rollback_run_url = Some(ROLLBACK_RUN_URL.to_owned());
    incident.rollback_started_after_ms = Some(208);
    incident.rollback_duration_ms = Some(301_455);
    incident.judge_recovery(Some(std::time::Duration::from_secs(300)));
    let mut steps = failed_steps();
    steps.extend([
        step(
            "rollback workflow",
            1_498,
            &format!("dispatched rollback-production.yml: {ROLLBACK_RUN_URL}"),
        ),
        step(
            "fly deploy",
            38_944,
            &format!("rollback redeploy of v42 ({PREVIOUS_IMAGE}) succeeded: v44 ({PREVIOUS_IMAGE})"),
        ),
        step(
            "health",
            261_013,
            "fail: no 3 rounds in a row healthy by the 5m deadline (longest 0; 26 failed, 0 could not measure)",
        ),
    ]);
    deploy_decision(
        failed_health(),
        report(release(44, PREVIOUS_IMAGE), steps, Some(incident)),
        Outcome::RollbackFailed,
        &format!(
            "ROLLBACK FAILED: 3e7a91c failed ({HEALTH_FAILED}); production is not verified \
             healthy on v42 ({PREVIOUS_IMAGE}); a human must act"
        ),
    )
}

/// A `before_deploy` migration failed: fly never ran, the Deployment is `failure`, exit 1.
fn migration_failed() -> Decision {
    let mut migrate = step(
        "migrate",
        412,
        "before_deploy: exited with code 3: psql:db/migrate.sql:2: ERROR:  column \"plan\" does not exist",
    );
    migrate.command = Some(shipgate::decision::CommandRun {
        hook: "before_deploy",
        status: "failed",
        exit_code: Some(3),
        lines: 3,
        last_lines: vec![
            "BEGIN".to_owned(),
            "ALTER TABLE".to_owned(),
            "psql:db/migrate.sql:2: ERROR:  column \"plan\" does not exist".to_owned(),
        ],
    });
    let steps = vec![
        step("gates", 1_204, "every gate passed"),
        step(
            "deployment",
            388,
            &format!("GitHub Deployment {DEPLOYMENT_ID} in_progress"),
        ),
        step(
            "record",
            1_930,
            &format!("rollback target v42 ({PREVIOUS_IMAGE})"),
        ),
        step("backup", 2_301, "before_deploy: succeeded"),
        migrate,
    ];
    let health = Verdict::new(
        GateId::Health,
        Status::Skipped,
        "not run: before_deploy step `migrate` exited with code 3",
    );
    let mut report = report(release(42, PREVIOUS_IMAGE), steps, None);
    report.kind = shipgate::decision::ReportKind::NotStarted;
    report.deployed = None;
    let mut decision = deploy_decision(
        health,
        report,
        Outcome::Blocked,
        &format!("not deployed: before_deploy step `migrate` exited with code 3; production still runs v42 ({PREVIOUS_IMAGE})"),
    );
    decision.plan = None;
    decision
}

fn readiness_blocked() -> Decision {
    readiness_decision(
        checks_failing(),
        staging(Status::Fail, "3e7a91c is not deployed to staging"),
    )
}

fn readiness_ready() -> Decision {
    readiness_decision(
        checks_passing(),
        staging(Status::Pass, "3e7a91c is deployed to staging and healthy"),
    )
}

// ---------------------------------------------------------------------------------------------
// The deploy report
// ---------------------------------------------------------------------------------------------

#[test]
fn deploy_report_text() {
    insta::assert_snapshot!(render::text::render(&deployed()));
}

#[test]
fn deploy_report_markdown() {
    insta::assert_snapshot!(render::markdown::render(&deployed()));
}

// ---------------------------------------------------------------------------------------------
// The rollback incident
// ---------------------------------------------------------------------------------------------

#[test]
fn rolled_back_incident_text() {
    insta::assert_snapshot!(render::text::render(&rolled_back()));
}

#[test]
fn rolled_back_incident_markdown() {
    insta::assert_snapshot!(render::markdown::render(&rolled_back()));
}

#[test]
fn failed_migration_text() {
    insta::assert_snapshot!(render::text::render(&migration_failed()));
}

#[test]
fn failed_migration_markdown() {
    insta::assert_snapshot!(render::markdown::render(&migration_failed()));
}

#[test]
fn refused_rollback_incident_text() {
    insta::assert_snapshot!(render::text::render(&rollback_refused()));
}

#[test]
fn refused_rollback_incident_markdown() {
    insta::assert_snapshot!(render::markdown::render(&rollback_refused()));
}

// ---------------------------------------------------------------------------------------------
// The PR comment
// ---------------------------------------------------------------------------------------------

#[test]
fn pr_comment_blocked() {
    let decision = readiness_blocked();
    assert_eq!(decision.outcome, Outcome::Blocked);
    insta::assert_snapshot!(render::github::comment_body(
        &decision,
        COMMENT_KEY,
        Some(RUN_URL)
    ));
}

#[test]
fn pr_comment_ready() {
    let decision = readiness_ready();
    assert_eq!(decision.outcome, Outcome::Ready);
    let body = render::github::comment_body(&decision, COMMENT_KEY, Some(RUN_URL));
    insta::assert_snapshot!(body);

    // The marker's hash covers the facts, not when they were read: a later run on the same facts
    // keeps the marker (and the comment is left alone); a changed fact changes it.
    let marker = |decision: &Decision| {
        render::github::comment_body(decision, COMMENT_KEY, Some(RUN_URL))
            .lines()
            .next()
            .map(str::to_owned)
    };
    let mut later = readiness_ready();
    later.evaluated_at = at(19, 30, 0);
    assert_eq!(marker(&later), marker(&decision));
    assert_ne!(
        render::github::comment_body(&later, COMMENT_KEY, Some(RUN_URL)),
        body
    );
    assert_ne!(marker(&readiness_blocked()), marker(&decision));
}

// ---------------------------------------------------------------------------------------------
// The gate check run
// ---------------------------------------------------------------------------------------------

/// What `gate` writes when it completes its check run: conclusion, title and summary.
fn check_run(decision: &Decision) -> String {
    let (title, summary) = render::github::check_run_output(decision, Some(RUN_URL));
    let conclusion = render::github::check_run_conclusion(decision.outcome);
    format!("conclusion: {conclusion}\ntitle: {title}\n--- summary ---\n{summary}")
}

#[test]
fn gate_check_run_blocked() {
    insta::assert_snapshot!(check_run(&gate_decision(checks_failing())));
}

#[test]
fn gate_check_run_go() {
    insta::assert_snapshot!(check_run(&gate_decision(checks_passing())));
}

#[test]
fn check_run_conclusion_of_every_outcome() {
    let outcomes = [
        Outcome::Go,
        Outcome::Ready,
        Outcome::Deployed,
        Outcome::Blocked,
        Outcome::Invalid,
        Outcome::RolledBack,
        Outcome::RollbackFailed,
        Outcome::Unavailable,
    ];
    let table: String = outcomes
        .iter()
        .map(|outcome| {
            format!(
                "{:<16} {}\n",
                outcome.as_str(),
                render::github::check_run_conclusion(*outcome)
            )
        })
        .collect();
    insta::assert_snapshot!(table);
}

// ---------------------------------------------------------------------------------------------
// The notification
// ---------------------------------------------------------------------------------------------

/// Every event of the decision, as Slack Block Kit.
fn notification(decision: &Decision) -> Value {
    let context = notify_context();
    let messages: Vec<Value> = render::notify::events_of(decision)
        .into_iter()
        .map(|event| render::notify::slack(&render::notify::notice(decision, event, &context)))
        .collect();
    Value::Array(messages)
}

/// Every event of the decision, as the emails sent: subject, plain text and HTML.
fn emails(decision: &Decision) -> String {
    let context = notify_context();
    render::notify::events_of(decision)
        .into_iter()
        .map(|event| {
            let email = render::notify::email(&render::notify::notice(decision, event, &context));
            format!(
                "Subject: {}\n\n{}\n--- html ---\n{}",
                email.subject, email.text, email.html
            )
        })
        .collect::<Vec<_>>()
        .join("\n=====\n")
}

#[test]
fn notification_started() {
    let gates = Decision::from_gates("deploy", subject("main"), at(18, 0, 0), Vec::new());
    let notice = render::notify::notice(
        &gates,
        shipgate::config::NotifyEvent::Started,
        &notify_context(),
    );
    insta::assert_json_snapshot!(render::notify::slack(&notice));
}

#[test]
fn notification_emails_deployed() {
    insta::assert_snapshot!(emails(&deployed()));
}

#[test]
fn notification_emails_rolled_back() {
    insta::assert_snapshot!(emails(&rolled_back()));
}

#[test]
fn notification_teams_and_discord_rolled_back() {
    let context = notify_context();
    let decision = rolled_back();
    let notice = render::notify::notice(
        &decision,
        shipgate::config::NotifyEvent::RolledBack,
        &context,
    );
    insta::assert_json_snapshot!(serde_json::json!({
        "teams": render::notify::teams(&notice),
        "discord": render::notify::discord(&notice),
    }));
}

#[test]
fn notification_deployed() {
    insta::assert_json_snapshot!(notification(&deployed()));
}

#[test]
fn notification_rolled_back() {
    insta::assert_json_snapshot!(notification(&rolled_back()));
}

#[test]
fn notification_rollback_failed() {
    insta::assert_json_snapshot!(notification(&rollback_failed()));
}

// ---------------------------------------------------------------------------------------------
// A saved Decision (a deploy record's .json) reads back as itself
// ---------------------------------------------------------------------------------------------

#[test]
fn every_decision_reads_back_from_its_json_as_itself() {
    let decisions = [
        deployed(),
        rolled_back(),
        rollback_refused(),
        rollback_failed(),
        migration_failed(),
        readiness_blocked(),
        readiness_ready(),
    ];
    for decision in decisions {
        let json = render::json::render(&decision);
        let read = Decision::from_json(&json).unwrap_or_else(|e| panic!("{e}:\n{json}"));
        assert_eq!(read, decision, "{json}");
        assert_eq!(
            render::markdown::render(&read),
            render::markdown::render(&decision)
        );
    }
}
