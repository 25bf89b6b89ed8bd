//! What shipgate writes to GitHub, against the stateful fake: the gate check run, the sticky
//! readiness comment, the readiness check run, Deployments and workflow dispatches; and the
//! subject of a run (`--pr`, `--ref`, the `pull_request` event).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::*;
use crate::support::fake_github::*;

const REPO: &str = "hotdash-dev/hotdash";
const SHA: &str = "3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3";
/// The head commit of the pull requests below.
const PR_SHA: &str = "b5c0ffee00112233445566778899aabbccddeeff";
/// The merge commit GitHub Actions puts in `GITHUB_SHA` on `pull_request` events.
const MERGE_SHA: &str = "0e0e0e0e1f1f1f1f2a2a2a2a3b3b3b3b4c4c4c4c";
const TOKEN: &str = "ghs_testtoken0123456789";
const HOTDASH: [&str; 5] = [
    "Docs Policy",
    "Danger",
    "Gitleaks",
    "AI Config",
    "Health Check",
];
const MARKER: &str = "<!-- shipgate:readiness:production hash=";
const SERVER_URL: &str = "https://github.example.com";
const RUN_ID: &str = "4242";
const RUN_URL: &str = "https://github.example.com/hotdash-dev/hotdash/actions/runs/4242";

/// The HotDash checks and environments, with a 1s poll interval (waiting tests stay short) and
/// no deploy windows (readiness must not depend on the wall clock).
const FAST_CONFIG: &str = "version: 1
checks:
  required: [Docs Policy, Danger, Gitleaks, AI Config, Health Check]
  from_branch_rules: true
  wait: 20s
  interval: 1s
environments:
  staging:
    app: hotdash-staging
    windows: false
  production:
    app: hotdash-production
    requires: [staging]
    windows: false
";

fn against(fake: &FakeGitHub, config: &Path) -> assert_cmd::Command {
    let mut command = with_config(config);
    command
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", REPO);
    command
}

fn shipgate_against(fake: &FakeGitHub) -> assert_cmd::Command {
    against(fake, &example_config())
}

fn fast_config() -> (tempfile::TempDir, PathBuf) {
    temp_config(FAST_CONFIG)
}

/// The five HotDash checks green on `sha`, plus `build`, which main's ruleset requires.
fn green(fake: &FakeGitHub, sha: &str, first_id: u64) {
    fake.add_check_runs(
        REPO,
        sha,
        HOTDASH
            .iter()
            .chain(["build"].iter())
            .enumerate()
            .map(|(i, name)| check_run(first_id + i as u64, name, "completed", Some("success"))),
    );
}

/// main -> SHA, everything green, and a ruleset on main that requires `build`; classic
/// protection is not readable (403), as with `GITHUB_TOKEN`.
fn hotdash(fake: &FakeGitHub) {
    fake.set_ref(REPO, "main", SHA);
    green(fake, SHA, 100);
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("build", None)],
                true,
            )],
        );
        repo.set_branch_protection("main", json!({ "enabled": true }));
        repo.set_classic_protection("*", ClassicProtection::Forbidden);
    });
}

/// hotdash, plus PR `number` from `feature` (head PR_SHA, everything green) into main.
fn hotdash_pr(fake: &FakeGitHub, number: u64) {
    hotdash(fake);
    fake.set_ref(REPO, "feature", PR_SHA);
    green(fake, PR_SHA, 400);
    fake.repo(REPO, |repo| {
        repo.add_pull(pull_request(REPO, number, PR_SHA, "feature", "main"));
    });
}

/// A deployment of `sha` to `environment` with these statuses (oldest first); returns its id.
fn add_deployment(fake: &FakeGitHub, sha: &str, environment: &str, states: &[&str]) -> u64 {
    fake.update(|state| {
        let id = state.next_id();
        let status_ids: Vec<u64> = states.iter().map(|_| state.next_id()).collect();
        let repo = state.repo(REPO);
        repo.deployments.push(json!({
            "id": id,
            "sha": sha,
            "ref": sha,
            "task": "deploy",
            "payload": {},
            "environment": environment,
            "original_environment": environment,
            "description": null,
            "created_at": "2026-05-01T12:00:00Z",
            "updated_at": "2026-05-01T12:00:00Z",
            "transient_environment": false,
            "production_environment": environment == "production",
        }));
        let statuses = states
            .iter()
            .zip(status_ids)
            .map(|(state, status_id)| {
                json!({
                    "id": status_id,
                    "state": state,
                    "environment": environment,
                    "created_at": "2026-05-01T12:00:00Z",
                })
            })
            .collect();
        repo.deployment_statuses.insert(id, statuses);
        id
    })
}

fn json_out(out: &Run) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

fn verdict<'a>(decision: &'a Value, gate: &str) -> &'a Value {
    decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["gate"] == gate)
        .unwrap_or_else(|| panic!("no {gate} verdict in {decision:#}"))
}

fn evidence<'a>(decision: &'a Value, gate: &str, kind: &str) -> Vec<&'a Value> {
    verdict(decision, gate)["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Requests with this method whose path contains `part`.
fn sent(fake: &FakeGitHub, method: &str, part: &str) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.contains(part))
        .collect()
}

/// Every request that is not a GET.
fn writes(fake: &FakeGitHub) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

fn position(requests: &[Recorded], what: impl Fn(&Recorded) -> bool) -> usize {
    requests
        .iter()
        .position(what)
        .unwrap_or_else(|| panic!("no such request in {requests:#?}"))
}

/// The check runs named `name` on `sha`, as the fake holds them.
fn check_runs_named(fake: &FakeGitHub, sha: &str, name: &str) -> Vec<Value> {
    fake.repo(REPO, |repo| {
        repo.check_runs
            .get(sha)
            .into_iter()
            .flatten()
            .filter(|run| run["name"] == name)
            .cloned()
            .collect()
    })
}

fn comments(fake: &FakeGitHub, pr: u64) -> Vec<Value> {
    fake.repo(REPO, |repo| repo.comments_on(pr))
}

fn id_of(value: &Value) -> u64 {
    value["id"].as_u64().expect("an id")
}

fn assert_rfc3339(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
}

// ----- gate ----------------------------------------------------------------------------------

#[test]
fn gate_creates_its_check_run_at_once_waits_without_waiting_on_itself_then_completes_it() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    // The ruleset also requires the gate itself (branch protection requires `shipgate`).
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("build", None), ("shipgate", None)],
                true,
            )],
        );
    });
    // Danger is re-running; it finishes on the second poll.
    fake.add_check_runs(REPO, SHA, [check_run(301, "Danger", "in_progress", None)]);
    fake.on_poll("/check-runs", 2, |state| {
        state
            .repo(REPO)
            .set_check_run(301, "completed", Some("success"));
    });
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config)
        .args(["gate", "--ref", "main", "--wait", "20s", "--format", "json"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("Danger (in_progress)"),
        "it waited for Danger: {}",
        out.stderr
    );
    let decision = json_out(&out);
    assert_eq!(decision["command"], "gate");
    assert_eq!(decision["outcome"], "go");
    assert_eq!(decision["subject"]["sha"], SHA);
    let excluded = evidence(&decision, "required-checks", "excluded");
    assert_eq!(excluded.len(), 1, "{decision:#}");
    assert_eq!(excluded[0]["name"], "shipgate");
    assert_eq!(excluded[0]["reason"], "shipgate's own check");

    let requests = fake.requests();
    // The check run is created first: before the rules are read and before any poll.
    let create = position(&requests, |r| {
        r.method == "POST" && r.path == format!("/repos/{REPO}/check-runs")
    });
    let first_poll = position(&requests, |r| {
        r.method == "GET" && r.path.ends_with("/check-runs")
    });
    let rules = position(&requests, |r| r.path.contains("/rules/branches/"));
    assert!(create < first_poll && create < rules, "{requests:#?}");
    let body = requests[create].json();
    assert_eq!(body["name"], "shipgate");
    assert_eq!(body["head_sha"], SHA);
    assert_eq!(body["status"], "in_progress");
    assert_rfc3339(&body["started_at"]);
    assert!(body.get("conclusion").is_none(), "{body:#}");

    // The fake lists the gate's own run among the check runs of the SHA while it waits.
    let own = check_runs_named(&fake, SHA, "shipgate");
    assert_eq!(own.len(), 1, "one gate check run: {own:#?}");
    let id = id_of(&own[0]);
    let polls: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/check-runs"))
        .collect();
    // Two polls: the one that saw Danger in progress and the one that saw it pass. Waiting on its
    // own check run would have gone on polling until `--wait` ran out.
    assert_eq!(polls.len(), 2, "it waited on itself: {polls:#?}");

    // Completed last, with the report.
    let patches: Vec<&Recorded> = requests.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 1, "{patches:#?}");
    assert_eq!(patches[0].path, format!("/repos/{REPO}/check-runs/{id}"));
    let last_poll = requests
        .iter()
        .rposition(|r| r.method == "GET" && r.path.ends_with("/check-runs"))
        .expect("a poll");
    let patch = position(&requests, |r| r.method == "PATCH");
    assert!(patch > last_poll, "completed after the last poll");
    let body = patches[0].json();
    assert_eq!(body["status"], "completed");
    assert_eq!(body["conclusion"], "success");
    assert_rfc3339(&body["completed_at"]);
    let summary = body["output"]["summary"].as_str().expect("a summary");
    assert!(
        summary.contains("| gate | status | summary |")
            && summary.contains("| `required-checks` | ✅ pass | 6 of 6 required checks pass |"),
        "{summary}"
    );
    assert!(
        summary.contains("excluded: shipgate (shipgate's own check)"),
        "{summary}"
    );
    assert!(
        body["output"]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{body:#}"
    );
    // The fake now shows it completed.
    let own = check_runs_named(&fake, SHA, "shipgate");
    assert_eq!(own[0]["status"], "completed");
    assert_eq!(own[0]["conclusion"], "success");
    // Exactly two writes: the POST and the PATCH.
    assert_eq!(writes(&fake).len(), 2, "{:#?}", writes(&fake));
}

#[test]
fn gate_with_a_failing_required_check_completes_its_check_run_as_failure() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.add_check_runs(
        REPO,
        SHA,
        [check_run(301, "Gitleaks", "completed", Some("failure"))],
    );
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config).args(["gate", "--ref", "main", "--wait", "5s"]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let patches = sent(&fake, "PATCH", "");
    assert_eq!(patches.len(), 1, "{patches:#?}");
    let body = patches[0].json();
    assert_eq!(body["status"], "completed");
    assert_eq!(body["conclusion"], "failure");
    let summary = body["output"]["summary"].as_str().expect("a summary");
    assert!(summary.contains("failing: Gitleaks"), "{summary}");
    assert!(summary.contains("**blocked**"), "{summary}");
    let own = check_runs_named(&fake, SHA, "shipgate");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["conclusion"], "failure");
}

#[test]
fn check_name_renames_the_gate_check_run_and_that_name_is_never_waited_on() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("build", None), ("Deploy gate", None)],
                true,
            )],
        );
    });
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config).args([
        "gate",
        "--ref",
        "main",
        "--check-name",
        "Deploy gate",
        "--wait",
        "10s",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // Everything else is green: one poll decides, unless it waits on its own check run.
    assert_eq!(
        fake.count("GET", "/check-runs"),
        1,
        "it waited on itself: {:#?}",
        fake.requests()
    );
    let decision = json_out(&out);
    let excluded = evidence(&decision, "required-checks", "excluded");
    assert_eq!(excluded.len(), 1, "{decision:#}");
    assert_eq!(excluded[0]["name"], "Deploy gate");

    let posts = sent(&fake, "POST", "/check-runs");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].json()["name"], "Deploy gate");
    assert!(check_runs_named(&fake, SHA, "shipgate").is_empty());
    let own = check_runs_named(&fake, SHA, "Deploy gate");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["status"], "completed");
    assert_eq!(own[0]["conclusion"], "success");
}

#[test]
fn gate_on_a_pr_uses_its_head_sha_and_its_base_branch_rules() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    // PR 12: feature (PR_SHA) into release. Only release requires `e2e`; main requires `build`.
    fake.set_ref(REPO, "release", "1111111111111111111111111111111111111111");
    fake.set_ref(REPO, "feature", PR_SHA);
    fake.add_check_runs(
        REPO,
        PR_SHA,
        HOTDASH
            .iter()
            .enumerate()
            .map(|(i, name)| check_run(400 + i as u64, name, "completed", Some("success"))),
    );
    fake.add_check_runs(
        REPO,
        PR_SHA,
        [check_run(450, "e2e", "completed", Some("success"))],
    );
    fake.repo(REPO, |repo| {
        repo.add_pull(pull_request(REPO, 12, PR_SHA, "feature", "release"));
        repo.set_rules(
            "release",
            vec![required_status_checks_rule(REPO, 8, &[("e2e", None)], true)],
        );
    });
    let (_dir, config) = fast_config();
    let gate = |fake: &FakeGitHub| {
        run(against(fake, &config).args(["gate", "--pr", "12", "--wait", "0", "--format", "json"]))
    };
    let out = gate(&fake);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert_eq!(decision["subject"]["sha"], PR_SHA);
    assert_eq!(
        verdict(&decision, "required-checks")["summary"],
        "6 of 6 required checks pass"
    );
    let rulesets = evidence(&decision, "required-checks", "required_source");
    assert!(
        rulesets
            .iter()
            .any(|e| e["source"] == "ruleset" && e["names"] == json!(["e2e"])),
        "{rulesets:#?}"
    );
    assert_eq!(sent(&fake, "GET", "/pulls/12").len(), 1);
    assert!(!sent(&fake, "GET", "/rules/branches/release").is_empty());
    assert!(sent(&fake, "GET", "/rules/branches/main").is_empty());
    assert!(sent(&fake, "GET", "/rules/branches/feature").is_empty());
    let polls = sent(&fake, "GET", "/check-runs");
    assert!(!polls.is_empty());
    assert!(
        polls
            .iter()
            .all(|r| r.path == format!("/repos/{REPO}/commits/{PR_SHA}/check-runs")),
        "{polls:#?}"
    );
    assert_eq!(
        sent(&fake, "POST", "/check-runs")[0].json()["head_sha"],
        PR_SHA
    );
    assert_eq!(check_runs_named(&fake, PR_SHA, "shipgate").len(), 1);
    assert!(check_runs_named(&fake, SHA, "shipgate").is_empty());

    // The base branch's rule bites: e2e failing on the head blocks the gate.
    fake.add_check_runs(
        REPO,
        PR_SHA,
        [check_run(451, "e2e", "completed", Some("failure"))],
    );
    let out = gate(&fake);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        verdict(&json_out(&out), "required-checks")["summary"],
        "failing: e2e"
    );
}

#[test]
fn on_a_pull_request_event_the_gate_looks_at_the_head_sha_not_github_sha() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    // The merge commit fails everything: looking at it would block.
    fake.add_check_runs(
        REPO,
        MERGE_SHA,
        HOTDASH
            .iter()
            .chain(["build"].iter())
            .enumerate()
            .map(|(i, name)| check_run(700 + i as u64, name, "completed", Some("failure"))),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        json!({
            "action": "synchronize",
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": {"sha": PR_SHA, "ref": "feature"},
                "base": {"sha": SHA, "ref": "main"},
            },
        })
        .to_string(),
    )
    .expect("write the event");
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config)
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_SHA", MERGE_SHA)
        .args(["gate", "--wait", "0", "--format", "json"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert_eq!(decision["subject"]["sha"], PR_SHA);
    assert_eq!(
        sent(&fake, "POST", "/check-runs")[0].json()["head_sha"],
        PR_SHA
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.path.contains(MERGE_SHA) && !r.body.contains(MERGE_SHA)),
        "GITHUB_SHA was used: {:#?}",
        fake.requests()
    );
    // The base branch's rules applied.
    assert!(!sent(&fake, "GET", "/rules/branches/main").is_empty());
}

// ----- readiness: the sticky comment ---------------------------------------------------------

fn readiness(fake: &FakeGitHub, config: &Path, extra: &[&str]) -> Run {
    run(against(fake, config)
        .args([
            "readiness",
            "--pr",
            "7",
            "--environment",
            "production",
            "--format",
            "json",
        ])
        .args(extra))
}

/// Writes to the comment endpoints.
fn comment_writes(fake: &FakeGitHub) -> Vec<Recorded> {
    writes(fake)
        .into_iter()
        .filter(|r| r.path.contains("/comments"))
        .collect()
}

fn marker_hash(body: &str) -> &str {
    let first = body.lines().next().expect("a first line");
    first
        .strip_prefix(MARKER)
        .and_then(|rest| rest.strip_suffix(" -->"))
        .unwrap_or_else(|| panic!("no marker in {first:?}"))
}

#[test]
fn the_readiness_comment_is_posted_once_not_rewritten_when_unchanged_and_updated_in_place() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["in_progress", "success"]);
    let (_dir, config) = fast_config();

    // 1. Created.
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json_out(&out)["outcome"], "ready");
    let posted = comment_writes(&fake);
    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert_eq!(posted[0].method, "POST");
    assert_eq!(posted[0].path, format!("/repos/{REPO}/issues/7/comments"));
    let body = posted[0].json()["body"]
        .as_str()
        .expect("a body")
        .to_owned();
    assert!(body.starts_with(MARKER), "{body}");
    let first_hash = marker_hash(&body).to_owned();
    assert_eq!(first_hash.len(), 16, "{first_hash}");
    assert!(
        body.contains("### shipgate readiness · `production`: **ready**"),
        "{body}"
    );
    let on_pr = comments(&fake, 7);
    assert_eq!(on_pr.len(), 1);
    let id = id_of(&on_pr[0]);
    assert_eq!(on_pr[0]["user"]["login"], ACTIONS_BOT_LOGIN);

    // 2. Same facts: read, not written.
    fake.clear_requests();
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !sent(&fake, "GET", "/issues/7/comments").is_empty(),
        "the comments were read"
    );
    assert!(
        comment_writes(&fake).is_empty(),
        "unchanged report rewritten: {:#?}",
        comment_writes(&fake)
    );
    assert!(writes(&fake).is_empty(), "{:#?}", writes(&fake));

    // 3. A check changed: the same comment is updated, never a second one posted.
    fake.add_check_runs(
        REPO,
        PR_SHA,
        [check_run(460, "Gitleaks", "completed", Some("failure"))],
    );
    fake.clear_requests();
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let written = comment_writes(&fake);
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!(written[0].method, "PATCH");
    assert_eq!(
        written[0].path,
        format!("/repos/{REPO}/issues/comments/{id}")
    );
    let body = written[0].json()["body"]
        .as_str()
        .expect("a body")
        .to_owned();
    assert_ne!(marker_hash(&body), first_hash);
    assert!(body.contains("failing: Gitleaks"), "{body}");
    let on_pr = comments(&fake, 7);
    assert_eq!(on_pr.len(), 1, "{on_pr:#?}");
    assert_eq!(id_of(&on_pr[0]), id);
    assert_eq!(on_pr[0]["body"], body.as_str());
}

#[test]
fn duplicate_readiness_comments_from_a_race_collapse_onto_the_oldest() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    let stale = format!("{MARKER}0000000000000001 -->\n### an older report");
    let (someone, oldest, newer) = fake.repo(REPO, |repo| {
        // Copied by someone else, with the marker: not ours.
        let someone = repo.add_comment(7, &stale, "mallory", "User");
        let oldest = repo.add_comment(7, &stale, ACTIONS_BOT_LOGIN, "Bot");
        repo.add_comment(7, "LGTM", "octocat", "User");
        let newer = repo.add_comment(7, &stale, ACTIONS_BOT_LOGIN, "Bot");
        (someone, oldest, newer)
    });
    let (_dir, config) = fast_config();
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let written = comment_writes(&fake);
    let summary: Vec<(String, String)> = written
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "PATCH".to_owned(),
                format!("/repos/{REPO}/issues/comments/{oldest}")
            ),
            (
                "DELETE".to_owned(),
                format!("/repos/{REPO}/issues/comments/{newer}")
            ),
        ],
        "{written:#?}"
    );
    let on_pr = comments(&fake, 7);
    let ids: Vec<u64> = on_pr.iter().map(id_of).collect();
    assert_eq!(ids.len(), 3, "{on_pr:#?}");
    assert_eq!(ids[0], someone);
    assert_eq!(ids[1], oldest);
    assert_eq!(
        on_pr[0]["body"],
        stale.as_str(),
        "someone else's comment untouched"
    );
    let kept = on_pr[1]["body"].as_str().expect("a body");
    assert!(kept.starts_with(MARKER) && !kept.starts_with(&stale[..MARKER.len() + 16]));
    assert!(kept.contains("**ready**"), "{kept}");
}

#[test]
fn a_marker_comment_by_another_user_is_left_alone() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    let copied = format!("{MARKER}00000000000000ff -->\nquoting the bot");
    let theirs = fake.repo(REPO, |repo| repo.add_comment(7, &copied, "mallory", "User"));
    let (_dir, config) = fast_config();
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let written = comment_writes(&fake);
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!(written[0].method, "POST");
    assert_eq!(written[0].path, format!("/repos/{REPO}/issues/7/comments"));
    let on_pr = comments(&fake, 7);
    assert_eq!(on_pr.len(), 2);
    assert_eq!(id_of(&on_pr[0]), theirs);
    assert_eq!(on_pr[0]["body"], copied.as_str());
    assert_eq!(on_pr[1]["user"]["login"], ACTIONS_BOT_LOGIN);
}

#[test]
fn with_a_personal_token_the_comment_is_found_by_that_user_not_by_the_actions_bot() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    fake.update(|state| {
        state.viewer_login = "hotdash-deployer".to_owned();
        state.viewer_type = "User".to_owned();
    });
    // Left by an Actions run of the workflow: the bot's, not this user's.
    let bots = format!("{MARKER}0000000000000001 -->\nfrom the workflow");
    let bot_comment = fake.repo(REPO, |repo| {
        repo.add_comment(7, &bots, ACTIONS_BOT_LOGIN, "Bot")
    });
    let (_dir, config) = fast_config();
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(sent(&fake, "GET", "/user").len(), 1);
    let written = comment_writes(&fake);
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!(written[0].method, "POST");
    let on_pr = comments(&fake, 7);
    assert_eq!(on_pr.len(), 2);
    assert_eq!(id_of(&on_pr[0]), bot_comment);
    assert_eq!(on_pr[0]["body"], bots.as_str());
    assert_eq!(on_pr[1]["user"]["login"], "hotdash-deployer");

    // Found again on the next run: unchanged, so not written.
    fake.clear_requests();
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(writes(&fake).is_empty(), "{:#?}", writes(&fake));
}

#[test]
fn comment_without_a_pull_request_warns_and_writes_nothing() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    add_deployment(&fake, SHA, "staging", &["success"]);
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config).args([
        "readiness",
        "--ref",
        "main",
        "--environment",
        "production",
        "--comment",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json_out(&out)["subject"]["sha"], SHA);
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("--comment needs a pull request")),
        "{}",
        out.stderr
    );
    assert!(writes(&fake).is_empty(), "{:#?}", writes(&fake));
}

#[test]
fn readiness_on_a_pull_request_event_comments_on_that_pr_about_its_head() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        json!({"pull_request": {
            "number": 7,
            "head": {"sha": PR_SHA, "ref": "feature"},
            "base": {"sha": SHA, "ref": "main"},
        }})
        .to_string(),
    )
    .expect("write the event");
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config)
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_SHA", MERGE_SHA)
        .args([
            "readiness",
            "--environment",
            "production",
            "--comment",
            "--format",
            "json",
        ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json_out(&out)["subject"]["sha"], PR_SHA);
    assert_eq!(sent(&fake, "POST", "/issues/7/comments").len(), 1);
    assert_eq!(
        sent(&fake, "GET", "/deployments")[0]
            .param("sha")
            .as_deref(),
        Some(PR_SHA)
    );
    assert!(fake
        .requests()
        .iter()
        .all(|r| !r.path.contains(MERGE_SHA) && !r.query.contains(MERGE_SHA)));
    assert_eq!(comments(&fake, 7).len(), 1);
}

#[test]
fn the_staging_gate_reads_the_deployments_of_the_sha() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    // Staging has this PR's head only as a deployment of another SHA, and production has it.
    add_deployment(&fake, SHA, "staging", &["success"]);
    add_deployment(&fake, PR_SHA, "production", &["success"]);
    let (_dir, config) = fast_config();

    let out = readiness(&fake, &config, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert_eq!(decision["outcome"], "blocked");
    let staging = verdict(&decision, "staging");
    assert_eq!(staging["status"], "fail", "{staging:#}");
    assert_eq!(
        staging["summary"],
        "staging: this commit was never deployed there"
    );
    let asked: Vec<Recorded> = sent(&fake, "GET", "/deployments")
        .into_iter()
        .filter(|r| r.path.ends_with("/deployments"))
        .collect();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(asked[0].param("sha").as_deref(), Some(PR_SHA));
    assert_eq!(asked[0].param("environment").as_deref(), Some("staging"));
    assert!(
        writes(&fake).is_empty(),
        "no --comment, no --check-run: no writes"
    );

    // The latest status of the latest deployment decides.
    let failed = add_deployment(&fake, PR_SHA, "staging", &["success", "failure"]);
    let out = readiness(&fake, &config, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        verdict(&json_out(&out), "staging")["summary"],
        format!("staging: deployment {failed} is failure")
    );
    assert!(!sent(&fake, "GET", &format!("/deployments/{failed}/statuses")).is_empty());

    let good = add_deployment(&fake, PR_SHA, "staging", &["in_progress", "success"]);
    let out = readiness(&fake, &config, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert_eq!(decision["outcome"], "ready");
    let staging = verdict(&decision, "staging");
    assert_eq!(staging["status"], "pass");
    assert_eq!(
        staging["summary"],
        format!("staging: deployment {good} succeeded")
    );
}

#[test]
fn readiness_check_run_is_created_and_completed() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config)
        .env("GITHUB_SERVER_URL", SERVER_URL)
        .env("GITHUB_RUN_ID", RUN_ID)
        .args([
            "readiness",
            "--pr",
            "7",
            "--environment",
            "production",
            "--check-run",
        ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let posts = sent(&fake, "POST", "/check-runs");
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let body = posts[0].json();
    assert_eq!(body["name"], "shipgate readiness (production)");
    assert_eq!(body["head_sha"], PR_SHA);
    assert_eq!(body["status"], "in_progress");
    assert_eq!(body["details_url"], RUN_URL);
    let runs = check_runs_named(&fake, PR_SHA, "shipgate readiness (production)");
    assert_eq!(runs.len(), 1);
    let id = id_of(&runs[0]);
    let patches = sent(&fake, "PATCH", &format!("/check-runs/{id}"));
    assert_eq!(patches.len(), 1);
    let body = patches[0].json();
    assert_eq!(body["conclusion"], "success");
    assert!(
        body["output"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("| `staging` | ✅ pass |")),
        "{body:#}"
    );
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["conclusion"], "success");
    assert!(comment_writes(&fake).is_empty(), "no --comment");
}

// ----- read-only tokens ----------------------------------------------------------------------

fn assert_read_only_warning(out: &Run, what: &str) {
    let warning = out
        .stderr
        .lines()
        .find(|line| line.starts_with("warning: "))
        .unwrap_or_else(|| panic!("no warning: line in\n{}", out.stderr));
    assert!(
        warning.contains(what) && warning.contains("read-only"),
        "{warning}"
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn a_read_only_token_cannot_comment_but_readiness_still_answers() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    fake.fail_next_method("POST", "/issues/7/comments", Fault::Status(403), 1);
    let (_dir, config) = fast_config();
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json_out(&out)["outcome"], "ready");
    assert_read_only_warning(&out, "PR comment");
    assert_eq!(sent(&fake, "POST", "/issues/7/comments")[0].status, 403);
    assert!(comments(&fake, 7).is_empty());

    // The same for the readiness check run, on a blocked commit: exit 1, the gate's own code.
    fake.add_check_runs(
        REPO,
        PR_SHA,
        [check_run(460, "Gitleaks", "completed", Some("failure"))],
    );
    fake.fail_next_method("POST", "/check-runs", Fault::Status(403), 1);
    let out = readiness(&fake, &config, &["--check-run"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json_out(&out)["outcome"], "blocked");
    assert_read_only_warning(&out, "readiness check run");
    assert!(sent(&fake, "PATCH", "/check-runs/").is_empty());
}

#[test]
fn a_read_only_token_cannot_create_the_gate_check_run_but_the_gate_still_decides() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.fail_next_method("POST", "/check-runs", Fault::Status(403), 2);
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config).args(["gate", "--ref", "main", "--wait", "0"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_read_only_warning(&out, "gate check run");
    assert!(sent(&fake, "PATCH", "").is_empty(), "nothing to complete");

    fake.add_check_runs(
        REPO,
        SHA,
        [check_run(301, "Gitleaks", "completed", Some("failure"))],
    );
    let out =
        run(against(&fake, &config)
            .args(["gate", "--ref", "main", "--wait", "0", "--format", "json"]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_read_only_warning(&out, "gate check run");
    let decision = json_out(&out);
    assert_eq!(decision["outcome"], "blocked");
    // The warning is in the report too.
    let notes = evidence(&decision, "required-checks", "note");
    assert!(
        notes
            .iter()
            .any(|n| n["text"].as_str().is_some_and(|t| t.contains("read-only"))),
        "{notes:#?}"
    );
    assert!(check_runs_named(&fake, SHA, "shipgate").is_empty());
}

// ----- size limits ---------------------------------------------------------------------------

/// 700 required checks with long names, all present and passing on `sha`.
fn many_checks(fake: &FakeGitHub, sha: &str, branch: &str) {
    let names: Vec<String> = (0..700)
        .map(|i| {
            format!("integration / end-to-end suite shard {i:03} of 700 (ubuntu-24.04, node 22)")
        })
        .collect();
    let checks: Vec<(&str, Option<u64>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    fake.repo(REPO, |repo| {
        repo.set_rules(
            branch,
            vec![required_status_checks_rule(REPO, 9, &checks, true)],
        );
    });
    fake.add_check_runs(
        REPO,
        sha,
        names
            .iter()
            .enumerate()
            .map(|(i, name)| check_run(20_000 + i as u64, name, "completed", Some("success"))),
    );
}

fn assert_truncated(text: &str, limit: usize) {
    let chars = text.chars().count();
    assert!(chars <= limit, "{chars} characters");
    assert!(chars > limit - 5_000, "cut far below the limit: {chars}");
    assert!(
        text.ends_with(&format!(
            "… truncated: the full report is in [the run]({RUN_URL})."
        )),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count(),
        "an open <details> swallows the footer"
    );
}

#[test]
fn a_huge_report_is_truncated_under_githubs_limits_with_a_link_to_the_run() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    many_checks(&fake, SHA, "main");
    many_checks(&fake, PR_SHA, "main");
    let (_dir, config) = fast_config();
    let with_run = |command: &mut assert_cmd::Command| {
        command
            .env("GITHUB_SERVER_URL", SERVER_URL)
            .env("GITHUB_RUN_ID", RUN_ID);
    };

    // The gate's check run summary: under 65,535 characters.
    let mut gate = against(&fake, &config);
    with_run(&mut gate);
    let out = run(gate.args(["gate", "--ref", "main", "--wait", "0", "--format", "json"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.chars().count() > 70_000,
        "the whole report is big: {}",
        out.stdout.chars().count()
    );
    let patches = sent(&fake, "PATCH", "/check-runs/");
    assert_eq!(patches.len(), 1, "{:#?}", fake.requests().len());
    assert_eq!(patches[0].status, 200, "GitHub accepted it");
    let summary = patches[0].json()["output"]["summary"]
        .as_str()
        .expect("a summary")
        .to_owned();
    assert_truncated(&summary, 65_535);
    assert!(
        summary.starts_with("### shipgate gate: **go**"),
        "{}",
        &summary[..200]
    );
    assert!(!out.stderr.contains("warning:"), "{}", out.stderr);

    // The PR comment: under 65,536 characters, marker first.
    let mut readiness = against(&fake, &config);
    with_run(&mut readiness);
    let out = run(readiness.args([
        "readiness",
        "--pr",
        "7",
        "--environment",
        "production",
        "--comment",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("warning:"), "{}", out.stderr);
    let posts = sent(&fake, "POST", "/issues/7/comments");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].status, 201, "GitHub accepted it");
    let body = posts[0].json()["body"].as_str().expect("a body").to_owned();
    assert!(body.starts_with(MARKER));
    assert_truncated(&body, 65_536);
    assert_eq!(comments(&fake, 7).len(), 1);
}

// ----- checks: conclusions GitHub may send ---------------------------------------------------

fn checks_main(fake: &FakeGitHub) -> (i32, Value) {
    let out =
        run(shipgate_against(fake)
            .args(["checks", "--ref", "main", "--wait", "0", "--format", "json"]));
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    (out.code, json_out(&out))
}

#[test]
fn an_unknown_conclusion_on_a_required_check_fails_without_crashing() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.add_check_runs(
        REPO,
        SHA,
        [check_run(301, "Gitleaks", "completed", Some("exploded"))],
    );
    let (code, decision) = checks_main(&fake);
    assert_eq!(code, 1, "{decision:#}");
    assert_eq!(decision["outcome"], "blocked");
    assert_eq!(
        verdict(&decision, "required-checks")["summary"],
        "failing: Gitleaks"
    );
}

#[test]
fn a_check_run_and_a_status_with_the_same_name_must_both_pass() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.add_statuses(REPO, SHA, [commit_status(501, "Danger", "failure")]);
    let (code, decision) = checks_main(&fake);
    assert_eq!(code, 1, "{decision:#}");
    assert_eq!(
        verdict(&decision, "required-checks")["summary"],
        "failing: Danger"
    );
    let danger = evidence(&decision, "required-checks", "check")
        .into_iter()
        .find(|e| e["name"] == "Danger")
        .expect("Danger");
    assert_eq!(
        danger["sources"].as_array().map(Vec::len),
        Some(2),
        "{danger:#}"
    );

    // A newer success status for the same context puts it right.
    fake.add_statuses(REPO, SHA, [commit_status(502, "Danger", "success")]);
    let (code, decision) = checks_main(&fake);
    assert_eq!(code, 0, "{decision:#}");
}

#[test]
fn a_re_run_that_passes_after_a_failure_passes() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.add_check_runs(
        REPO,
        SHA,
        [
            check_run(301, "Gitleaks", "completed", Some("failure")),
            check_run(302, "Gitleaks", "completed", Some("success")),
        ],
    );
    let (code, decision) = checks_main(&fake);
    assert_eq!(code, 0, "{decision:#}");
    assert_eq!(
        verdict(&decision, "required-checks")["summary"],
        "6 of 6 required checks pass"
    );
}

#[test]
fn neutral_and_skipped_pass() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.add_check_runs(
        REPO,
        SHA,
        [
            check_run(301, "AI Config", "completed", Some("neutral")),
            check_run(302, "Docs Policy", "completed", Some("skipped")),
        ],
    );
    let (code, decision) = checks_main(&fake);
    assert_eq!(code, 0, "{decision:#}");
    let states: Vec<(String, String)> = evidence(&decision, "required-checks", "check")
        .into_iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_owned(),
                e["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        states.iter().all(|(_, state)| state == "passing"),
        "{states:?}"
    );
    assert_eq!(states.len(), 6);
}

// ----- the library: dispatch and deployments -------------------------------------------------

mod library {
    use serde_json::{json, Map, Value};
    use shipgate::github::client::{Client, RetryPolicy};
    use shipgate::github::gather::Repo;
    use shipgate::github::write;
    use shipgate::secret::Secret;

    use super::{REPO, SHA, TOKEN};
    use crate::support::fake_github::*;

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    }

    fn client(fake: &FakeGitHub) -> Client {
        let token = Secret::new(TOKEN).expect("a token");
        Client::new(fake.url(), Some(&token), RetryPolicy::default()).expect("a client")
    }

    fn repo() -> Repo {
        Repo::parse(REPO).expect("owner/name")
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        std::time::SystemTime::now().into()
    }

    fn rollback_inputs(correlation_id: &str) -> Map<String, Value> {
        let inputs = json!({
            "reason": "health gate failed: /health answered 503",
            "failed_sha": SHA,
            "target_image": "registry.fly.io/hotdash-production:deployment-01J",
            "correlation_id": correlation_id,
        });
        inputs.as_object().expect("an object").clone()
    }

    fn dispatches(fake: &FakeGitHub) -> Vec<Recorded> {
        fake.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/dispatches"))
            .collect()
    }

    #[test]
    fn a_dispatch_answered_200_returns_the_run_from_the_answer() {
        let fake = FakeGitHub::start();
        fake.set_ref(REPO, "main", SHA);
        let inputs = rollback_inputs("sg-7f3a");
        let dispatched = block_on(async {
            write::dispatch_workflow(
                &client(&fake),
                &repo(),
                "rollback-production.yml",
                "main",
                &inputs,
                "sg-7f3a",
                now(),
            )
            .await
        })
        .expect("dispatched");
        let run = fake
            .repo(REPO, |repo| repo.last_dispatched_run())
            .expect("a run");
        assert_eq!(dispatched.run_id, Some(run));
        assert_eq!(
            dispatched.run_url.as_deref(),
            Some(format!("https://github.com/{REPO}/actions/runs/{run}").as_str())
        );
        let sent = dispatches(&fake);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].path,
            format!("/repos/{REPO}/actions/workflows/rollback-production.yml/dispatches")
        );
        assert_eq!(sent[0].status, 200);
        let body = sent[0].json();
        assert_eq!(body["ref"], "main");
        assert_eq!(body["inputs"], Value::Object(inputs));
        assert_eq!(body["return_run_details"], true);
        assert_eq!(fake.count("GET", "/runs"), 0, "no need to look for the run");
    }

    #[test]
    fn a_dispatch_answered_204_finds_the_run_by_its_correlation_id() {
        let fake = FakeGitHub::start();
        fake.set_ref(REPO, "main", SHA);
        fake.set_dispatch_returns_run_details(false);
        fake.update(|state| state.dispatch_run_visible_after_polls = 1);
        // A newer dispatched run of another rollback: not ours.
        let mut other = workflow_run(
            5_000_000,
            "rollback-production sg-other",
            "workflow_dispatch",
            "queued",
            None,
            SHA,
        );
        other["created_at"] = json!(now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        fake.repo(REPO, |repo| {
            repo.add_workflow_run("rollback-production.yml", other);
        });
        let inputs = rollback_inputs("sg-7f3a");
        let dispatched = block_on(async {
            write::dispatch_workflow(
                &client(&fake),
                &repo(),
                "rollback-production.yml",
                "main",
                &inputs,
                "sg-7f3a",
                now(),
            )
            .await
        })
        .expect("dispatched");
        // The fake titles a dispatched run after its `correlation_id` input.
        let run = fake
            .repo(REPO, |repo| {
                repo.workflow_runs
                    .iter()
                    .find(|r| r["display_title"] == "rollback-production sg-7f3a")
                    .and_then(|r| r["id"].as_u64())
            })
            .expect("the dispatched run");
        assert_ne!(run, 5_000_000);
        assert_eq!(dispatched.run_id, Some(run));
        assert_eq!(
            dispatched.run_url.as_deref(),
            Some(format!("https://github.com/{REPO}/actions/runs/{run}").as_str())
        );
        let sent = dispatches(&fake);
        assert_eq!(sent.len(), 1, "a write is never repeated");
        assert_eq!(sent[0].status, 204);
        let body = sent[0].json();
        assert_eq!(body["ref"], "main");
        assert_eq!(body["inputs"], Value::Object(inputs));
        assert_eq!(body["return_run_details"], true);
        let lists: Vec<Recorded> = fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/runs"))
            .collect();
        assert!(
            lists.len() >= 2,
            "looked again until it appeared: {lists:#?}"
        );
        assert_eq!(
            lists[0].param("event").as_deref(),
            Some("workflow_dispatch")
        );
        assert!(
            lists[0]
                .param("created")
                .is_some_and(|c| c.starts_with(">=")),
            "{lists:#?}"
        );
    }

    #[test]
    fn deployments_are_created_with_their_statuses_and_read_back() {
        let fake = FakeGitHub::start();
        fake.set_ref(REPO, "main", SHA);
        // Something unrelated fails on the commit: GitHub would refuse the deployment unless
        // `required_contexts` is empty (shipgate has already decided).
        fake.add_check_runs(
            REPO,
            SHA,
            [check_run(100, "lint", "completed", Some("failure"))],
        );
        let payload = json!({
            "reason": "ship the dashboard fix",
            "override": {"gate": "deploy-window", "reason": "INC-2041: checkout is down"},
        });
        let description = "d".repeat(200);
        let (id, none_before, state) = block_on(async {
            let client = client(&fake);
            let repo = repo();
            let none_before = write::latest_deployment_state(&client, &repo, SHA, "production")
                .await
                .expect("read");
            let id = write::create_deployment(
                &client,
                &repo,
                write::NewDeployment {
                    sha: SHA,
                    environment: "production",
                    task: write::TASK_DEPLOY,
                    production: true,
                    description: &description,
                    payload: payload.clone(),
                },
            )
            .await
            .expect("created");
            write::set_deployment_status(
                &client,
                &repo,
                id,
                "in_progress",
                Some("https://github.com/hotdash-dev/hotdash/actions/runs/1"),
                None,
                "deploying",
            )
            .await
            .expect("in progress");
            write::set_deployment_status(
                &client,
                &repo,
                id,
                "success",
                Some("https://github.com/hotdash-dev/hotdash/actions/runs/1"),
                Some("https://hotdash-production.fly.dev"),
                "deployed and healthy",
            )
            .await
            .expect("success");
            // A rollback recorded on the same commit afterwards is not a deploy of it.
            let rollback = write::create_deployment(
                &client,
                &repo,
                write::NewDeployment {
                    sha: SHA,
                    environment: "production",
                    task: write::TASK_ROLLBACK,
                    production: true,
                    description: "rollback",
                    payload: json!({}),
                },
            )
            .await
            .expect("rollback created");
            write::set_deployment_status(&client, &repo, rollback, "failure", None, None, "x")
                .await
                .expect("rollback status");
            let state = write::latest_deployment_state(&client, &repo, SHA, "production")
                .await
                .expect("read");
            (id, none_before, state)
        });
        assert_eq!(none_before, None);
        assert_eq!(state, Some((id, Some("success".to_owned()))));

        let requests = fake.requests();
        let create = requests
            .iter()
            .find(|r| r.method == "POST" && r.path == format!("/repos/{REPO}/deployments"))
            .expect("created");
        assert_eq!(create.status, 201);
        let body = create.json();
        assert_eq!(body["ref"], SHA);
        assert_eq!(body["environment"], "production");
        assert_eq!(body["task"], "deploy");
        assert_eq!(body["auto_merge"], false);
        assert_eq!(body["required_contexts"], json!([]));
        assert_eq!(body["production_environment"], true);
        assert_eq!(body["payload"], payload);
        assert_eq!(
            body["description"].as_str().map(|d| d.chars().count()),
            Some(140)
        );
        let statuses: Vec<Value> = requests
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path.ends_with(&format!("/deployments/{id}/statuses"))
            })
            .map(Recorded::json)
            .collect();
        assert_eq!(statuses.len(), 2);
        assert_eq!(statuses[0]["state"], "in_progress");
        assert!(
            statuses[0].get("environment_url").is_none(),
            "{:#}",
            statuses[0]
        );
        assert_eq!(statuses[1]["state"], "success");
        assert_eq!(
            statuses[1]["log_url"],
            "https://github.com/hotdash-dev/hotdash/actions/runs/1"
        );
        assert_eq!(
            statuses[1]["environment_url"],
            "https://hotdash-production.fly.dev"
        );
        // Stored as sent.
        fake.repo(REPO, |repo| {
            assert_eq!(repo.deployments.len(), 2, "the deploy and the rollback");
            assert_eq!(repo.deployments[0]["payload"], payload);
            assert_eq!(repo.deployments[1]["task"], "deploy:rollback");
        });
    }
}

// ----- bugs found while writing these tests --------------------------------------------------

#[test]
fn with_deploy_windows_an_unchanged_readiness_comment_is_not_rewritten() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    // examples/shipgate.yml: production has deploy windows.
    let readiness = |fake: &FakeGitHub| {
        run(shipgate_against(fake).args([
            "readiness",
            "--pr",
            "7",
            "--environment",
            "production",
            "--comment",
        ]))
    };
    let first = readiness(&fake);
    assert!(first.code == 0 || first.code == 1, "{}", first.stderr);
    assert_eq!(comments(&fake, 7).len(), 1, "{}", first.stderr);
    let before = comments(&fake, 7)[0]["body"].clone();
    fake.clear_requests();
    let second = readiness(&fake);
    assert_eq!(second.code, first.code, "{}", second.stderr);
    let after = comments(&fake, 7)[0]["body"].clone();
    assert!(
        comment_writes(&fake).is_empty(),
        "the same facts rewrote the comment:\n{before}\n---\n{after}"
    );
}

#[test]
fn the_gate_never_waits_on_the_job_running_it() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    // Branch protection requires the job `gate`, which is the job running shipgate right now.
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[("build", None), ("gate", None)],
                true,
            )],
        );
    });
    let mut job = check_run(300, "gate", "in_progress", None);
    let job_url = format!("https://github.com/{REPO}/actions/runs/{RUN_ID}/job/300");
    job["html_url"] = json!(job_url);
    job["details_url"] = json!(job_url);
    fake.add_check_runs(REPO, SHA, [job]);
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", RUN_ID)
        .env("GITHUB_JOB", "gate")
        .args(["gate", "--ref", "main", "--wait", "3s", "--format", "json"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = json_out(&out);
    assert!(
        evidence(&decision, "required-checks", "excluded")
            .iter()
            .any(|e| e["name"] == "gate"),
        "{decision:#}"
    );
}

#[test]
fn a_gate_that_errors_after_starting_its_check_run_still_completes_it() {
    let fake = FakeGitHub::start();
    hotdash(&fake);
    fake.fail_next_method("GET", "/rules/branches/", Fault::Status(503), 10);
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config).args(["gate", "--ref", "main", "--wait", "0"]));
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    let own = check_runs_named(&fake, SHA, "shipgate");
    assert_eq!(own.len(), 1, "{own:#?}");
    assert_eq!(
        own[0]["status"], "completed",
        "left in progress: {:#}",
        own[0]
    );
    assert_ne!(own[0]["conclusion"], "success");
}

#[test]
fn the_comment_is_written_whoever_answers_user_and_never_adopts_another_bots() {
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    // Another app's bot left a comment with shipgate's marker.
    let other = format!("{MARKER}0000000000000001 -->\nfrom another app");
    let theirs = fake.repo(REPO, |repo| {
        repo.add_comment(7, &other, "other-app[bot]", "Bot")
    });
    // `/user` fails for a reason other than the token: the comment is still written, new.
    fake.fail_next("/user", Fault::Status(502), 10);
    let (_dir, config) = fast_config();
    let out = readiness(&fake, &config, &["--comment"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let on_pr = comments(&fake, 7);
    assert_eq!(on_pr.len(), 2, "{on_pr:#?}");
    assert_eq!(id_of(&on_pr[0]), theirs);
    assert_eq!(on_pr[0]["body"], other.as_str());

    // In an Actions run, the workflow's token is the Actions bot without asking `/user`.
    let fake = FakeGitHub::start();
    hotdash_pr(&fake, 7);
    add_deployment(&fake, PR_SHA, "staging", &["success"]);
    let (_dir, config) = fast_config();
    let out = run(against(&fake, &config).env("GITHUB_RUN_ID", RUN_ID).args([
        "readiness",
        "--pr",
        "7",
        "--environment",
        "production",
        "--comment",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(sent(&fake, "GET", "/user").is_empty());
    assert_eq!(comments(&fake, 7).len(), 1);
}
