//! `deploy` and `rollback` end to end: the real binary against the fake GitHub, the fake flyctl
//! (behind a logging wrapper) and a local health app.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;
use crate::support::fake_github::*;
use crate::support::health_app::{Behaviour, HealthApp};

pub(crate) const REPO: &str = "hotdash-dev/hotdash";
pub(crate) const SHA: &str = "3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3";
pub(crate) const GH_TOKEN: &str = "ghs_deploytesttoken0123456789";
pub(crate) const FLY_TOKEN: &str =
    "FlyV1 fm2_lJPECAAAAAAAAdeploysecretTOKEN,fm2_lJPEdeploysecondTOKEN";
pub(crate) const APP: &str = "hotdash-production";
pub(crate) const OLD_IMAGE: &str = "registry.fly.io/hotdash-production:deployment-OLD";

/// A temp dir with the fake's state, and a wrapper script that logs every argv to `calls` and,
/// before the Nth `deploy`, sets the fake's behaviour to the contents of `behaviour.N`.
pub(crate) struct Fly {
    pub(crate) dir: tempfile::TempDir,
}

impl Fly {
    pub(crate) fn new(behaviour: &str, releases: Value) -> Fly {
        let dir = tempfile::tempdir().expect("temp dir");
        let version = releases
            .as_array()
            .and_then(|r| r.first())
            .and_then(|r| r["Version"].as_u64())
            .unwrap_or(0);
        std::fs::write(
            dir.path().join("state.json"),
            json!({"behaviour": behaviour, "version": version, "releases": releases}).to_string(),
        )
        .expect("state");
        let script = format!(
            "#!/bin/sh\nD='{dir}'\nprintf '%s\\n' \"$*\" >> \"$D/calls\"\nif [ \"$1\" = deploy ]; then\n  n=$(cat \"$D/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$D/count\"\n  if [ -f \"$D/behaviour.$n\" ]; then b=$(cat \"$D/behaviour.$n\"); sed -i \"s/\\\"behaviour\\\": *\\\"[a-z_]*\\\"/\\\"behaviour\\\": \\\"$b\\\"/\" \"$D/state.json\"; fi\nfi\nexec '{fake}' \"$@\"\n",
            dir = dir.path().display(),
            fake = fake_flyctl().display()
        );
        let wrapper = dir.path().join("flyctl");
        std::fs::write(&wrapper, script).expect("wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Fly { dir }
    }

    /// The behaviour of the Nth deploy (1-based).
    pub(crate) fn then(&self, n: u32, behaviour: &str) -> &Fly {
        std::fs::write(self.dir.path().join(format!("behaviour.{n}")), behaviour).expect("write");
        self
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub(crate) fn deploys(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with("deploy"))
            .collect()
    }

    /// The fake lists every kind of machine a real app has (its `"kinds"` fleet): autostopped,
    /// standby, release-command, console and one-off machines, and a `worker` group.
    fn every_kind_of_machine(&self) -> &Fly {
        self.set("fleet", json!("kinds"));
        self
    }

    /// Sets one key of the fake's state (e.g. `pid_file`).
    pub(crate) fn set(&self, key: &str, value: Value) {
        let mut state = self.state();
        state[key] = value;
        std::fs::write(self.dir.path().join("state.json"), state.to_string()).expect("state");
    }

    fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join("state.json")).expect("state");
        serde_json::from_str(&text).expect("json")
    }
}

pub(crate) fn previous_release() -> Value {
    json!([{
        "ID": "rel_1", "Version": 1, "Stable": true, "Status": "complete",
        "Description": "Deploy image", "CreatedAt": "2026-08-12T16:01:00Z", "ImageRef": OLD_IMAGE,
    }])
}

pub(crate) fn config(health: &HealthApp, windows: &str) -> (tempfile::TempDir, PathBuf) {
    temp_config(&format!(
        "version: 1
checks:
  required: [build]
  from_branch_rules: false
  wait: 0s
  interval: 1s
environments:
  production:
    app: {APP}
    fly_config: fly.toml
    strategy: rolling
    url: {url}
    {windows}
    deploy_timeout: 30s
    health:
      initial_delay: 0s
      interval: 1s
      consecutive_successes: 2
      failure_limit: 0
      deadline: 10s
      request_timeout: 2s
      machines: false
      endpoints:
        - path: /health
          status: [200]
          json: {{ \"/status\": \"healthy\" }}
    rollback:
      direct: true
",
        url = health.url(),
    ))
}

pub(crate) const OPEN: &str = "windows: false";
pub(crate) const CLOSED: &str = "windows:
      timezone: UTC
      deny:
        - name: Forever freeze
          from: 2000-01-01
          to: 2099-12-31";

pub(crate) fn github() -> FakeGitHub {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    fake.add_check_runs(
        REPO,
        SHA,
        [check_run(100, "build", "completed", Some("success"))],
    );
    fake
}

fn deploy(fake: &FakeGitHub, config: &Path, fly: &Fly, extra: &[&str]) -> Run {
    deploy_with(fake, config, fly, extra, &[])
}

/// [`deploy`] with more environment variables (`FAKE_FLY_PRINT`, `SHIPGATE_WEBHOOK_URL`).
pub(crate) fn deploy_with(
    fake: &FakeGitHub,
    config: &Path,
    fly: &Fly,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> Run {
    let mut command = with_config(config);
    command.envs(envs.iter().copied());
    command
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("GITHUB_REPOSITORY", REPO)
        .env("SHIPGATE_FLY", fly.dir.path().join("flyctl"))
        .env("FAKE_FLY_STATE", fly.dir.path().join("state.json"))
        .env("FLY_API_TOKEN", FLY_TOKEN)
        .args(["--format", "json"])
        .args(extra);
    let out = run(&mut command);
    assert!(!out.stdout.contains(FLY_TOKEN) && !out.stderr.contains(FLY_TOKEN));
    assert!(!out.stdout.contains("deploysecret") && !out.stderr.contains("deploysecret"));
    assert!(!out.stdout.contains(GH_TOKEN) && !out.stderr.contains(GH_TOKEN));
    out
}

pub(crate) fn deploy_args() -> Vec<&'static str> {
    vec![
        "deploy",
        "--environment",
        "production",
        "--ref",
        "main",
        "--reason",
        "ship the new dashboard",
    ]
}

pub(crate) fn decision(out: &Run) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

pub(crate) fn deployment_states(fake: &FakeGitHub) -> Vec<String> {
    fake.repo(REPO, |repo| {
        repo.deployment_statuses
            .values()
            .flatten()
            .map(|s| s["state"].as_str().unwrap_or_default().to_owned())
            .collect()
    })
}

pub(crate) fn deployments(fake: &FakeGitHub) -> Vec<Value> {
    fake.repo(REPO, |repo| repo.deployments.clone())
}

#[test]
fn a_healthy_deploy_exits_0_and_marks_the_deployment_successful() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "deployed");
    assert_eq!(
        fly.deploys(),
        vec![format!(
            "deploy --app {APP} --config fly.toml --strategy rolling --remote-only --yes"
        )]
    );
    let deployments = deployments(&fake);
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["sha"], SHA);
    assert_eq!(
        deployments[0]["payload"]["reason"],
        "ship the new dashboard"
    );
    let states = deployment_states(&fake);
    assert_eq!(states, ["in_progress", "success"], "{states:?}");
    let body = sent_json(&fake, "success");
    assert_eq!(body["environment_url"], format!("{}/", app.url()));
    // Every step, timed, and the releases before and after are in the report.
    let report = &decision["report"];
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        steps,
        ["gates", "deployment", "record", "fly deploy", "health"]
    );
    assert!(report["steps"][4]["duration_ms"].as_u64() >= Some(1000));
    assert_eq!(
        report["previous"],
        json!({"version": 1, "image": OLD_IMAGE})
    );
    // fly's FLY_EMIT_RELEASE_JSON line names the new release.
    assert_eq!(report["deployed"]["version"], 2);
    assert_eq!(report["deployment_id"], deployments[0]["id"]);
    assert!(report.get("incident").is_none());
    // Where each step ran, for the timeline: in order, none before the one before it ended.
    assert!(report["started_at"].is_string(), "{report}");
    let starts: Vec<u64> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["started_ms"].as_u64().expect("started_ms"))
        .collect();
    for (n, pair) in starts.windows(2).enumerate() {
        let ended = pair[0] + report["steps"][n]["duration_ms"].as_u64().unwrap_or(0);
        assert!(pair[1] + 1 >= ended, "{report}");
    }
    // The health step's rounds: two healthy ones (consecutive_successes: 2).
    assert_eq!(
        report["steps"][4]["rounds"]
            .as_array()
            .map(|r| r.iter().map(|r| r["healthy"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(true), json!(true)]),
        "{report}"
    );
    // The Markdown of the same decision draws them.
    let saved = shipgate::decision::Decision::from_json(&out.stdout).expect("reads back");
    let markdown = shipgate::render::markdown::render(&saved);
    assert!(
        markdown.contains("```mermaid\ngantt\n")
            && markdown.contains("    section Health\n    health :done, t5, ")
            && markdown.contains("    round 2 :done, t7, "),
        "{markdown}"
    );
}

/// The body of the deployment status POST with this state.
fn sent_json(fake: &FakeGitHub, state: &str) -> Value {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/statuses"))
        .map(|r| r.json())
        .find(|body| body["state"] == state)
        .unwrap_or_else(|| panic!("no {state} status sent"))
}

#[test]
fn a_closed_window_blocks_with_exit_1_and_changes_nothing() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, CLOSED);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(decision(&out)["outcome"], "blocked");
    assert!(deployments(&fake).is_empty());
    assert!(fly.calls().is_empty(), "{:?}", fly.calls());
    assert_eq!(
        fake.requests().iter().filter(|r| r.method != "GET").count(),
        0
    );
}

#[test]
fn a_failed_fly_deploy_rolls_back_to_the_previous_image_with_exit_3() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail", previous_release());
    fly.then(2, "ok");
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(decision(&out)["outcome"], "rolled_back");
    let deploys = fly.deploys();
    assert_eq!(deploys.len(), 2, "{deploys:?}");
    assert_eq!(
        deploys[1],
        format!("deploy --app {APP} --config fly.toml --strategy immediate --remote-only --yes --image {OLD_IMAGE}")
    );
    assert_eq!(fly.state()["releases"][0]["ImageRef"], OLD_IMAGE);
    // The failed deploy's record, then the automatic rollback's, as a manual one is recorded.
    assert_eq!(
        deployment_states(&fake),
        ["in_progress", "failure", "in_progress", "success"]
    );
    let records = deployments(&fake);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["task"], "deploy:rollback");
    assert_eq!(records[1]["payload"]["automatic"], true);
    let incident = &decision(&out)["report"]["incident"];
    assert_eq!(incident["rollback_triggered"], true);
    assert_eq!(incident["recovered"], true);
    // fly recorded the failed deploy as release v2: the incident names it.
    assert_eq!(incident["from"]["version"], 2, "{incident}");
    assert_eq!(incident["to"], json!({"version": 1, "image": OLD_IMAGE}));
    assert!(incident["why"]
        .as_str()
        .is_some_and(|why| why.contains("fly deploy failed")));
    for key in [
        "time_to_detect_ms",
        "rollback_started_after_ms",
        "rollback_duration_ms",
        "time_to_recover_ms",
    ] {
        assert!(incident[key].is_u64(), "{key}: {incident}");
    }
    // The rollback starts at once after the verdict (the runbook wants healthy within minutes).
    assert!(incident["rollback_started_after_ms"].as_u64() < Some(1000));
}

#[test]
fn fly_hanging_past_the_deploy_timeout_is_killed_and_rolled_back() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("hang", previous_release());
    let pid_file = fly.dir.path().join("pids");
    fly.set("pid_file", json!(pid_file));
    fly.then(2, "ok");
    let (_dir, path) = config(&app, OPEN);
    let short = std::fs::read_to_string(&path)
        .expect("config")
        .replace("deploy_timeout: 30s", "deploy_timeout: 2s");
    std::fs::write(&path, short).expect("config");
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert!(
        decision["report"]["incident"]["why"].as_str().is_some_and(
            |why| why == "fly deploy failed: fly did not finish within 2s and was stopped"
        ),
        "{decision}"
    );
    // fly and the process it started were killed with their group, not left running.
    let pids = std::fs::read_to_string(&pid_file).expect("the fake wrote its pids");
    for pid in pids.split_whitespace() {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "));
        assert!(!alive, "process {pid} still runs");
    }
    assert_eq!(fly.deploys().len(), 2);
}

#[test]
fn a_rollback_whose_own_deploy_fails_exits_4() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "rollback_failed");
    assert!(decision["summary"]
        .as_str()
        .is_some_and(|s| s.starts_with("ROLLBACK FAILED")));
    assert_eq!(fly.deploys().len(), 2);
    assert_eq!(decision["report"]["incident"]["recovered"], false);
    assert_eq!(decision["report"]["incident"]["rollback_triggered"], true);
}

#[test]
fn github_unavailable_before_the_deploy_exits_5_and_fly_is_never_called() {
    let app = HealthApp::start();
    let fake = github();
    fake.fail_next("/repos/", Fault::Status(503), 1000);
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.calls().is_empty(), "{:?}", fly.calls());
    assert!(deployments(&fake).is_empty());
    assert!(out.stderr.contains("503"), "{}", out.stderr);
}

#[test]
fn an_emergency_deploy_passes_a_closed_window_and_records_the_override() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, CLOSED);
    let reason = "INC-142: checkout 500s, hotfix";
    let mut args = deploy_args();
    let at = args
        .iter()
        .position(|a| *a == "--reason")
        .expect("--reason");
    args[at + 1] = reason;
    args.push("--emergency");
    let out = deploy(&fake, &path, &fly, &args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert!(decision["summary"]
        .as_str()
        .is_some_and(|s| s.contains("EMERGENCY OVERRIDE")));
    let window = decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["gate"] == "deploy-window")
        .expect("window verdict")
        .clone();
    assert_eq!(window["override"]["reason"], reason);
    let deployments = deployments(&fake);
    assert_eq!(deployments[0]["payload"]["emergency"], true);
    assert_eq!(
        deployments[0]["payload"]["overrides"][0]["gate"],
        "deploy-window"
    );
    assert_eq!(fly.deploys().len(), 1);
}

/// Three failed deploys, each rolled back to `OLD_IMAGE`: the history of a rollback loop.
fn three_rollbacks_in_a_row() -> Value {
    let release = |version: u64, status: &str, image: &str| json!({"ID": format!("rel_{version}"), "Version": version, "Status": status, "ImageRef": image});
    json!([
        release(7, "complete", OLD_IMAGE),
        release(
            6,
            "failed",
            "registry.fly.io/hotdash-production:deployment-C"
        ),
        release(5, "complete", OLD_IMAGE),
        release(
            4,
            "complete",
            "registry.fly.io/hotdash-production:deployment-B"
        ),
        release(3, "complete", OLD_IMAGE),
        release(
            2,
            "failed",
            "registry.fly.io/hotdash-production:deployment-A"
        ),
        release(1, "complete", OLD_IMAGE),
    ])
}

#[test]
fn past_max_consecutive_rollbacks_a_failed_deploy_is_not_rolled_back() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail", three_rollbacks_in_a_row());
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fly.deploys().len(), 1, "no automatic rollback");
    let decision = decision(&out);
    let incident = &decision["report"]["incident"];
    assert_eq!(incident["rollback_triggered"], false);
    assert!(
        incident["refused"].as_str().is_some_and(
            |r| r.contains("3 rollback(s) in a row already (rollback.max_consecutive: 3)")
        ),
        "{incident}"
    );
    assert_eq!(deployment_states(&fake), ["in_progress", "failure"]);

    // With a higher limit the same history is rolled back.
    let raised = std::fs::read_to_string(&path)
        .expect("config")
        .replace("direct: true", "direct: true\n      max_consecutive: 4");
    std::fs::write(&path, raised).expect("config");
    let fly = Fly::new("fail", three_rollbacks_in_a_row());
    fly.then(2, "ok");
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
}

pub(crate) fn with_rollback_workflow(path: &Path, direct: bool) {
    let text = std::fs::read_to_string(path).expect("config").replace(
        "      direct: true",
        &format!("      workflow: rollback-production.yml\n      direct: {direct}"),
    );
    std::fs::write(path, text).expect("config");
}

#[test]
fn the_rollback_workflow_is_dispatched_and_found_when_github_answers_204() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    fake.set_dispatch_returns_run_details(false);
    let fly = Fly::new("fail", previous_release());
    fly.then(2, "ok");
    let (_dir, path) = config(&app, OPEN);
    with_rollback_workflow(&path, true);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let dispatches = fake.repo(REPO, |repo| repo.dispatches.clone());
    assert_eq!(dispatches.len(), 1, "{dispatches:?}");
    let inputs = &dispatches[0]["inputs"];
    assert_eq!(inputs["failed_sha"], SHA);
    assert_eq!(inputs["target_image"], OLD_IMAGE);
    assert!(inputs["reason"]
        .as_str()
        .is_some_and(|r| r.contains("fly deploy failed")));
    let correlation = inputs["correlation_id"].as_str().expect("correlation id");
    assert!(
        correlation.starts_with("shipgate-local-3e7a91c"),
        "{correlation}"
    );
    let decision = decision(&out);
    let run_id = fake
        .repo(REPO, |repo| repo.last_dispatched_run())
        .expect("a run");
    assert!(
        decision["report"]["incident"]["rollback_run_url"]
            .as_str()
            .is_some_and(|url| url.ends_with(&format!("/actions/runs/{run_id}"))),
        "{decision}"
    );
    // The direct rollback ran too, and verified the result.
    assert_eq!(fly.deploys().len(), 2);
}

#[test]
fn a_workflow_only_rollback_cannot_be_verified_here_and_exits_4() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail", previous_release());
    let (_dir, path) = config(&app, OPEN);
    with_rollback_workflow(&path, false);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fly.deploys().len(), 1);
    assert_eq!(fake.repo(REPO, |repo| repo.dispatches.len()), 1);
    let incident = &decision(&out)["report"]["incident"];
    assert_eq!(incident["rollback_triggered"], true);
    assert_eq!(incident["recovered"], false);
}

/// A deploy after which `/health` answers as `path` says until the rollback's redeploy has run,
/// and healthy from then on. A second of initial delay gives the watcher time to see the
/// redeploy before the rollback's first health round.
fn deploy_healed_by_the_rollback(
    app: &HealthApp,
    fake: &FakeGitHub,
    path: &Path,
    fly: &Fly,
    args: &[&str],
) -> Run {
    let slow_start = std::fs::read_to_string(path)
        .expect("config")
        .replace("initial_delay: 0s", "initial_delay: 1s");
    std::fs::write(path, slow_start).expect("config");
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            for _ in 0..2000 {
                if fly.deploys().len() >= 2 {
                    app.set("/health", Behaviour::Healthy);
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let out = deploy(fake, path, fly, args);
        watcher.join().expect("watcher");
        out
    })
}

#[test]
fn a_failed_health_gate_rolls_back_with_exit_3() {
    let app = HealthApp::start();
    app.set(
        "/health",
        Behaviour::Json(200, json!({"status": "degraded"})),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let out = deploy_healed_by_the_rollback(&app, &fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "rolled_back");
    let health = decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["gate"] == "health")
        .expect("health verdict");
    assert_eq!(health["status"], "fail");
    assert!(fly.deploys()[1].ends_with(&format!("--image {OLD_IMAGE}")));
}

#[test]
fn a_degraded_health_endpoint_is_rolled_back_though_its_fallback_answers() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Status(503));
    app.set("/", Behaviour::Redirect(302, "/login".to_owned()));
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let text = std::fs::read_to_string(&path).expect("config").replace(
        "          json: { \"/status\": \"healthy\" }\n",
        "          json: { \"/status\": \"healthy\" }\n          fallback: { path: /, status: [200, 302] }\n",
    );
    assert!(text.contains("fallback: { path: /"), "{text}");
    std::fs::write(&path, text).expect("config");
    let out = deploy_healed_by_the_rollback(&app, &fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "rolled_back");
    assert!(
        decision["report"]["incident"]["why"]
            .as_str()
            .is_some_and(|why| why.contains("/health answered 503")),
        "{decision}"
    );
    assert_eq!(app.count("/"), 0, "the fallback never stood in for /health");
    assert_eq!(fly.deploys().len(), 2);
}

/// Makes `/health` of the config also expect `/deployed` to be `value` (`${sha}`, `${image}`).
fn expecting_deployed(path: &Path, value: &str) {
    let text = std::fs::read_to_string(path).expect("config").replace(
        "json: { \"/status\": \"healthy\" }",
        &format!("json: {{ \"/status\": \"healthy\", \"/deployed\": \"{value}\" }}"),
    );
    assert!(text.contains(value), "{text}");
    std::fs::write(path, text).expect("config");
}

#[test]
fn a_deploy_answered_by_its_new_commit_passes() {
    let app = HealthApp::start();
    app.set(
        "/health",
        Behaviour::Json(200, json!({"status": "healthy", "deployed": SHA})),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    expecting_deployed(&path, "${sha}");
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fly.deploys().len(), 1);
}

#[test]
fn a_deploy_that_leaves_the_old_release_answering_is_rolled_back_with_exit_3() {
    let app = HealthApp::start();
    // The old image keeps answering, before and after the deploy.
    app.set(
        "/health",
        Behaviour::Json(200, json!({"status": "healthy", "deployed": OLD_IMAGE})),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    expecting_deployed(&path, "${image}");
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    let incident = &decision["report"]["incident"];
    let new_image = "registry.fly.io/hotdash-production:deployment-01FAKE00000000000000000002";
    assert!(
        incident["why"]
            .as_str()
            .is_some_and(|why| why.contains(&format!("(expected /deployed = \"{new_image}\")"))),
        "{incident}"
    );
    // The rollback put the old image back, and it is the one answering: verified.
    assert_eq!(incident["recovered"], true);
    assert_eq!(fly.deploys().len(), 2);
    assert!(fly.deploys()[1].ends_with(&format!("--image {OLD_IMAGE}")));
}

#[test]
fn a_deploy_answered_by_the_old_commit_fails_and_its_rollback_cannot_check_the_commit() {
    let app = HealthApp::start();
    let old_sha = "0ld7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c";
    app.set(
        "/health",
        Behaviour::Json(200, json!({"status": "healthy", "deployed": old_sha})),
    );
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    expecting_deployed(&path, "${sha}");
    let out = deploy(&fake, &path, &fly, &deploy_args());
    // The deploy fails on the commit; the rollback redeploys an image whose commit no one told
    // shipgate, so it cannot be verified: a human checks.
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    let incident = &decision["report"]["incident"];
    assert!(
        incident["why"]
            .as_str()
            .is_some_and(|why| why.contains(&format!("(expected /deployed = \"{SHA}\")"))),
        "{incident}"
    );
    assert!(
        out.stdout
            .contains("the deployed commit is not known to this run"),
        "{}",
        out.stdout
    );
    assert_eq!(incident["recovered"], false);
    assert_eq!(fly.deploys().len(), 2);
}

#[test]
fn with_no_previous_release_a_failure_exits_4() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail", json!([]));
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(decision(&out)["outcome"], "rollback_failed");
    assert_eq!(fly.deploys().len(), 1);
    assert_eq!(deployment_states(&fake), ["in_progress", "failure"]);
}

#[test]
fn a_deploy_that_leaves_no_machine_started_rolls_back() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("no_machines_started", previous_release());
    fly.then(2, "ok");
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(out
        .stdout
        .contains("none of the 2 serving machine(s) of release v2 is started"));
}

/// The config of [`config`], with Fly machine state gated.
fn gating_machines(health: &HealthApp) -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = config(health, OPEN);
    let text = std::fs::read_to_string(&path)
        .expect("config")
        .replace("machines: false", "machines: true");
    std::fs::write(&path, text).expect("config");
    (dir, path)
}

fn health_verdict(out: &Run) -> Value {
    decision(out)["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["gate"] == "health")
        .cloned()
        .expect("a health verdict")
}

#[test]
fn a_good_deploy_of_an_app_with_every_kind_of_machine_passes_health() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    fly.every_kind_of_machine();
    let (_dir, path) = gating_machines(&app);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fly.deploys().len(), 1);
    assert_eq!(deployment_states(&fake), ["in_progress", "success"]);
    let health = health_verdict(&out);
    assert_eq!(health["status"], "pass", "{health}");
    let evidence = health["evidence"].to_string();
    for expected in [
        // Both app machines started, the third left stopped by autostop; the worker started.
        "serving machines of release v2, last read: 3 of 4 started, 3 with checks passing, 1 left stopped by autostop",
        "by process group: app 2 of 3 started, 1 left stopped; worker 1 of 1 started",
        "not counted: 5683d920b4e5f6 (standby for 9080e6f1c2d3a4), 1781973f0a9b8c (release command), 32874400c1d2e3 (console), d8907e1f2a3b4c (one-off, not deployed)",
    ] {
        assert!(evidence.contains(expected), "{expected:?} in {evidence}");
    }
}

#[test]
fn a_serving_group_with_no_started_machine_fails_health_and_rolls_back() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("worker_down", previous_release());
    fly.every_kind_of_machine().then(2, "ok");
    let (_dir, path) = gating_machines(&app);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(decision(&out)["outcome"], "rolled_back");
    assert_eq!(fly.deploys().len(), 2);
    assert!(fly.deploys()[1].ends_with(&format!("--image {OLD_IMAGE}")));
    assert!(
        out.stdout.contains(
            "no machine started in process group worker (0 of 1 started) on release v2 (not healthy: 9080e6f1c2d3a4: stopped)"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn checks_that_never_report_are_pending_until_the_deadline_then_roll_back() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("checks_pending", previous_release());
    fly.every_kind_of_machine().then(2, "ok");
    let (_dir, path) = gating_machines(&app);
    let short = std::fs::read_to_string(&path)
        .expect("config")
        .replace("deadline: 10s", "deadline: 3s");
    std::fs::write(&path, short).expect("config");
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fly.deploys().len(), 2);
    assert!(
        out.stdout.contains(
            "at the 3s deadline: checks configured but not all reported on 2 machine(s) of release v2: 148e21ea7e3589, e286065f969386"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn zero_started_serving_machines_fails_at_once_whatever_else_runs() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    // The console and the one-off machine keep running; no serving machine of v2 is started.
    let fly = Fly::new("no_machines_started", previous_release());
    fly.every_kind_of_machine().then(2, "ok");
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("none of the 4 serving machine(s) of release v2 is started"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_dry_run_writes_nothing_and_deploys_nothing() {
    let app = HealthApp::start();
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let mut args = deploy_args();
    args.push("--dry-run");
    let out = deploy(&fake, &path, &fly, &args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.deploys().is_empty());
    assert!(deployments(&fake).is_empty());
    assert!(out.stderr.contains("would run"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("--image {OLD_IMAGE}")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_dry_run_needs_no_flyctl_repository_or_token_and_says_what_it_did_not_check() {
    let app = HealthApp::start();
    let (dir, path) = config(&app, OPEN);
    // No flyctl (PATH is a directory without one), no repository, no GitHub or Fly token.
    let out = run(with_config(&path)
        .env("PATH", dir.path())
        .args(["--format", "json"])
        .args(deploy_args())
        .arg("--dry-run"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    let status = |gate: &str| {
        decision["verdicts"]
            .as_array()
            .and_then(|v| v.iter().find(|v| v["gate"] == gate))
            .map(|v| v["status"].clone())
    };
    assert_eq!(status("required-checks"), Some(json!("not_checked")));
    assert_eq!(status("deploy-window"), Some(json!("skipped")));
    let summary = decision["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("not checked: required-checks")
            && summary.contains("not checked here: the rollback target"),
        "{summary}"
    );
    assert!(
        out.stderr
            .contains("not checked: the rollback target (no fly binary found"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("would run flyctl deploy --app"),
        "{}",
        out.stderr
    );
    assert!(decision["plan"]["deploy_command"].is_array(), "{decision}");
}

#[test]
fn skip_staging_needs_emergency() {
    let app = HealthApp::start();
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let mut args = deploy_args();
    args.push("--skip-staging");
    let out = deploy(&fake, &path, &fly, &args);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.calls().is_empty());
}

pub(crate) fn rollback(fake: &FakeGitHub, config: &Path, fly: &Fly, extra: &[&str]) -> Run {
    let mut args = vec![
        "rollback",
        "--environment",
        "production",
        "--reason",
        "INC-7 checkout broken",
    ];
    args.extend_from_slice(extra);
    deploy(fake, config, fly, &args)
}

pub(crate) fn two_releases() -> Value {
    json!([
        {"ID": "rel_2", "Version": 2, "Status": "complete", "ImageRef": "registry.fly.io/hotdash-production:deployment-NEW"},
        {"ID": "rel_1", "Version": 1, "Status": "complete", "ImageRef": OLD_IMAGE},
    ])
}

#[test]
fn rollback_redeploys_the_release_before_the_current_one() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", two_releases());
    let (_dir, path) = config(&app, OPEN);
    let out = rollback(&fake, &path, &fly, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        fly.deploys(),
        vec![format!("deploy --app {APP} --config fly.toml --strategy immediate --remote-only --yes --image {OLD_IMAGE}")]
    );
    assert_eq!(deployment_states(&fake), ["in_progress", "success"]);
    // The incident record: what, when, why, from and to, durations.
    let incident = &decision(&out)["report"]["incident"];
    assert_eq!(incident["why"], "INC-7 checkout broken");
    assert_eq!(incident["from"]["version"], 2);
    assert_eq!(incident["to"], json!({"version": 1, "image": OLD_IMAGE}));
    assert_eq!(incident["recovered"], true);
    assert!(incident["rollback_duration_ms"].is_u64());
}

#[test]
fn rollback_to_a_named_version_or_image() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", two_releases());
    let (_dir, path) = config(&app, OPEN);
    let out = rollback(&fake, &path, &fly, &["--to", "v1"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.deploys()[0].ends_with(&format!("--image {OLD_IMAGE}")));
    let out = rollback(&fake, &path, &fly, &["--to", "registry.example.com/x:y"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.deploys()[1].ends_with("--image registry.example.com/x:y"));
}

#[test]
fn rollback_with_nothing_to_return_to_refuses_with_exit_4() {
    let app = HealthApp::start();
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let out = rollback(&fake, &path, &fly, &[]);
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.deploys().is_empty());
    // A version that does not exist is a typo: bad input, nothing changed.
    let out = rollback(&fake, &path, &fly, &["--to", "9"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn the_team_is_notified_and_a_dead_webhook_only_warns() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    app.set("/hook", Behaviour::Status(200));
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let with_notify = std::fs::read_to_string(&path).expect("config").replace(
        "    rollback:\n",
        "    notify: { webhook: true }\n    rollback:\n",
    );
    std::fs::write(&path, with_notify).expect("config");
    let hook = format!("{}/hook", app.url());

    let mut command = with_config(&path);
    command
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_ACTOR", "octocat")
        .env("SHIPGATE_FLY", fly.dir.path().join("flyctl"))
        .env("FAKE_FLY_STATE", fly.dir.path().join("state.json"))
        .env("FLY_API_TOKEN", FLY_TOKEN)
        .env("SHIPGATE_WEBHOOK_URL", &hook)
        .args(deploy_args());
    let out = run(&mut command);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let bodies = app.bodies("/hook");
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let message: Value = serde_json::from_str(&bodies[0]).expect("JSON");
    let text = message["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("✅ deployed")
            && text.contains(&SHA[..12])
            && text.contains("ship the new dashboard")
            && text.contains("Deployed by: octocat"),
        "{text}"
    );

    // A webhook that fails is a warning; the deploy still succeeds, and the URL never prints.
    app.set("/hook", Behaviour::Status(500));
    let out = run(&mut command);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "warning: the `succeeded` notification (webhook) was not delivered: the webhook answered 500 (3 attempts)"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&hook) && !out.stdout.contains(&hook));
}

#[test]
fn the_text_and_markdown_reports_show_the_steps_and_the_incident() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail_once", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let mut args = deploy_args();
    args.extend(["--format", "text"]);
    let out = deploy(&fake, &path, &fly, &args);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let text = &out.stdout;
    for expected in [
        "shipgate deploy: rolled back to v1 (registry.fly.io/hotdash-production:deployment-OLD)",
        "  GitHub Deployment ",
        "  previous     v1 (registry.fly.io/hotdash-production:deployment-OLD)",
        "\nsteps:\n  gates ",
        "\nincident:\n  deploy of 3e7a91c to production failed at ",
        // The failed release, as fly recorded it.
        "  from v2 (registry.fly.io/hotdash-production:deployment-01FAKE00000000000000000002) to v1 (registry.fly.io/hotdash-production:deployment-OLD)",
        "  verified healthy on the release rolled back to",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    let fly = Fly::new("fail", previous_release());
    let mut args = deploy_args();
    args.extend(["--format", "markdown"]);
    let out = deploy(&fake, &path, &fly, &args);
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    let markdown = &out.stdout;
    for expected in [
        "> [!CAUTION]\n> **Incident**\n> - deploy of 3e7a91c to production failed at ",
        "> - NOT verified healthy: a human must act",
        "| step | took | detail |\n|---|---|---|\n| gates | ",
        "previous release: v1 (registry.fly.io/hotdash-production:deployment-OLD)",
    ] {
        assert!(
            markdown.contains(expected),
            "{expected:?} not in:\n{markdown}"
        );
    }
}

#[test]
fn rollback_to_the_release_already_running_verifies_it_and_redeploys_nothing() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    // A direct rollback already put OLD_IMAGE back (v3); the dispatched workflow comes second.
    let fly = Fly::new(
        "ok",
        json!([
            {"ID": "rel_3", "Version": 3, "Status": "complete", "ImageRef": OLD_IMAGE},
            {"ID": "rel_2", "Version": 2, "Status": "failed", "ImageRef": "registry.fly.io/hotdash-production:deployment-NEW"},
            {"ID": "rel_1", "Version": 1, "Status": "complete", "ImageRef": OLD_IMAGE},
        ]),
    );
    let (_dir, path) = config(&app, OPEN);
    let out = rollback(&fake, &path, &fly, &["--to", OLD_IMAGE]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.deploys().is_empty(), "{:?}", fly.deploys());
    let decision = decision(&out);
    assert!(decision["summary"]
        .as_str()
        .is_some_and(|s| s.contains("already runs") && s.contains("nothing redeployed")));
    assert!(deployments(&fake).is_empty());
}

#[test]
fn a_mutable_image_tag_is_not_rolled_back_to_itself() {
    let app = HealthApp::start();
    app.set(
        "/health",
        Behaviour::Json(200, json!({"status": "degraded"})),
    );
    let fake = github();
    let tag = "ghcr.io/hotdash-dev/hotdash:main";
    let fly = Fly::new(
        "ok",
        json!([{"ID": "rel_1", "Version": 1, "Status": "complete", "ImageRef": tag}]),
    );
    let (_dir, path) = config(&app, OPEN);
    let mut args = deploy_args();
    args.extend(["--image", tag]);
    let out = deploy(&fake, &path, &fly, &args);
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fly.deploys().len(), 1);
    let incident = &decision(&out)["report"]["incident"];
    assert!(incident["refused"]
        .as_str()
        .is_some_and(|r| r.contains("same image reference")));
}

#[test]
fn a_failed_dispatch_is_not_reported_as_a_triggered_rollback() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    fake.repo(REPO, |repo| {
        repo.workflow_files = Some(["ci.yml".to_owned()].into_iter().collect());
    });
    let fly = Fly::new("fail", previous_release());
    let (_dir, path) = config(&app, OPEN);
    with_rollback_workflow(&path, false);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["report"]["incident"]["rollback_triggered"], false);
    assert!(
        decision["summary"]
            .as_str()
            .is_some_and(|s| s.contains("could not dispatch rollback-production.yml")),
        "{}",
        decision["summary"]
    );
}

#[test]
fn which_environment_is_production_is_configuration() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let recorded = |production_line: &str| {
        let fake = github();
        let fly = Fly::new("ok", previous_release());
        let (dir, path) = config(&app, OPEN);
        let text = std::fs::read_to_string(&path).expect("config");
        let text = text.replace(
            &format!("    app: {APP}\n"),
            &format!("    app: {APP}\n{production_line}"),
        );
        std::fs::write(&path, text).expect("config");
        let out = deploy(&fake, &path, &fly, &deploy_args());
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        drop(dir);
        deployments(&fake)[0]["production_environment"].clone()
    };
    // The environment named `production` is production by default; the config says otherwise.
    assert_eq!(recorded(""), json!(true));
    assert_eq!(
        recorded("    production_environment: false\n"),
        json!(false)
    );
}

/// `shipgate deploy` started in the background (as the runner runs a step), with the fakes.
fn spawn_deploy(fake: &FakeGitHub, config: &Path, fly: &Fly) -> std::process::Child {
    spawn_deploy_with(fake, config, fly, &[])
}

/// [`spawn_deploy`] with more environment variables.
pub(crate) fn spawn_deploy_with(
    fake: &FakeGitHub,
    config: &Path,
    fly: &Fly,
    envs: &[(&str, &str)],
) -> std::process::Child {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("shipgate"));
    #[allow(clippy::disallowed_methods)] // scrubbing the ambient environment is the point
    for (name, _) in std::env::vars() {
        if [
            "GITHUB_",
            "RUNNER_",
            "ACTIONS_",
            "INPUT_",
            "FLY_",
            "SHIPGATE_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(&name);
        }
    }
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--config")
        .arg(config)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("GITHUB_REPOSITORY", REPO)
        .env("SHIPGATE_FLY", fly.dir.path().join("flyctl"))
        .env("FAKE_FLY_STATE", fly.dir.path().join("state.json"))
        .env("FLY_API_TOKEN", FLY_TOKEN)
        .envs(envs.iter().copied())
        .args(["--format", "json"])
        .args(deploy_args())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("shipgate starts")
}

/// Waits (up to a generous limit) until `ready` holds, then sends SIGTERM to `child`.
pub(crate) fn terminate_when(child: &std::process::Child, ready: impl Fn() -> bool) {
    let limit = std::time::Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(std::time::Instant::now() < limit, "never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
}

pub(crate) fn finished(child: std::process::Child) -> Run {
    let output = child.wait_with_output().expect("shipgate ends");
    let out = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!out.stdout.contains("deploysecret") && !out.stderr.contains("deploysecret"));
    assert!(!out.stdout.contains(GH_TOKEN) && !out.stderr.contains(GH_TOKEN));
    out
}

#[test]
fn sigterm_during_fly_deploy_stops_fly_records_the_state_and_dispatches_the_rollback() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("hang", previous_release());
    let pid_file = fly.dir.path().join("pids");
    fly.set("pid_file", json!(pid_file));
    let (_dir, path) = config(&app, OPEN);
    with_rollback_workflow(&path, true);
    let child = spawn_deploy(&fake, &path, &fly);
    terminate_when(&child, || pid_file.exists());
    let out = finished(child);
    assert_eq!(out.code, 6, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    assert_eq!(decision["outcome"], "cancelled");
    let summary = decision["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("CANCELLED: shipgate received SIGTERM during fly deploy"),
        "{summary}"
    );
    assert_eq!(decision["report"]["incident"]["rollback_triggered"], true);
    // fly and what it started were stopped with their group (the kernel is given time to reap
    // them: a killed process is not gone the instant shipgate exits); nothing was redeployed.
    let pids = std::fs::read_to_string(&pid_file).expect("the fake wrote its pids");
    for pid in pids.split_whitespace() {
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "))
        };
        let limit = std::time::Instant::now() + Duration::from_secs(30);
        while alive() && std::time::Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "process {pid} still runs");
    }
    assert_eq!(fly.deploys().len(), 1);
    // One dispatch of the rollback workflow; the Deployment is not left in progress.
    assert_eq!(fake.repo(REPO, |repo| repo.dispatches.len()), 1);
    assert_eq!(deployment_states(&fake), ["in_progress", "error"]);
    let error = sent_json(&fake, "error");
    assert!(
        error["description"]
            .as_str()
            .is_some_and(|d| d.contains("SIGTERM")),
        "{error}"
    );
}

#[test]
fn sigterm_before_fly_starts_changes_nothing() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    // A required check still running: the deploy waits for it.
    fake.add_check_runs(REPO, SHA, [check_run(101, "lint", "in_progress", None)]);
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let waiting = std::fs::read_to_string(&path)
        .expect("config")
        .replace("required: [build]", "required: [build, lint]")
        .replace("wait: 0s", "wait: 10m");
    std::fs::write(&path, waiting).expect("config");
    let child = spawn_deploy(&fake, &path, &fly);
    terminate_when(&child, || fake.count("GET", "/check-runs") >= 1);
    let out = finished(child);
    assert_eq!(out.code, 6, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("cancelled by SIGTERM before fly started: nothing was deployed"),
        "{}",
        out.stderr
    );
    assert!(fly.deploys().is_empty());
    assert!(deployments(&fake).is_empty());
}

#[test]
fn a_deployment_status_write_that_fails_once_is_looked_up_and_sent_again() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    fake.fail_next_method("POST", "/statuses", Fault::Status(502), 1);
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // The 502 was not applied: read back, not there, sent again; the record ends `success`.
    assert_eq!(deployment_states(&fake), ["in_progress", "success"]);
    assert_eq!(fake.count("POST", "/statuses"), 3);
    assert!(fake.count("GET", "/statuses") >= 1);
    assert!(!out.stderr.contains("could not write the deployment status"));
}

#[test]
fn rollback_to_a_version_that_does_not_exist_is_bad_input() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", two_releases());
    let (_dir, path) = config(&app, OPEN);
    let out = rollback(&fake, &path, &fly, &["--to", "v99"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("error: no release v99 with an image"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: list them with `fly releases"),
        "{}",
        out.stderr
    );
    assert!(fly.deploys().is_empty());
    assert!(deployments(&fake).is_empty());
}

#[test]
fn a_server_that_refuses_return_run_details_gets_the_dispatch_once_more_without_it() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    fake.update(|state| state.dispatch_rejects_run_details = true);
    let fly = Fly::new("fail", previous_release());
    fly.then(2, "ok");
    let (_dir, path) = config(&app, OPEN);
    with_rollback_workflow(&path, true);
    let out = deploy(&fake, &path, &fly, &deploy_args());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    // One dispatch reached the workflow; the refused first attempt dispatched nothing.
    assert_eq!(fake.repo(REPO, |repo| repo.dispatches.len()), 1);
    assert_eq!(fake.count("POST", "/dispatches"), 2);
    let incident = &decision(&out)["report"]["incident"];
    assert_eq!(incident["rollback_triggered"], true);
    assert!(incident["rollback_run_url"].is_string(), "{incident}");
}
