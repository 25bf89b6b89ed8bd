//! The action image, run the way the GitHub Actions runner runs a container action
//! (`.ci/container-run`: the runner's mounts, `INPUT_*` and `GITHUB_*` variables, a real webhook
//! payload at `GITHUB_EVENT_PATH`), against the fake GitHub, the fake flyctl the test image has on
//! PATH as `flyctl`, and the health app. It reads back what the runner would: the exit code,
//! `GITHUB_OUTPUT` (parsed with the runner's rules), the step summary and the log.
//!
//! Needs the image `.ci/container` builds, and root (rootful podman):
//! `bash .ci/container cargo test --locked --features container --test container`.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use support::fake_github::*;
use support::health_app::{Behaviour, HealthApp};
use support::runner::*;

const GH_TOKEN: &str = "ghs_containerTestToken0123456789abcdefXYZ";
const FLY_TOKEN: &str = "FlyV1 fm2_lJPECAAAAAAAAcontainerSECRET,fm2_lJPEcontainerSECOND";
/// Pieces of the tokens no log may show, whole or split (the Fly token is comma-separated).
const SECRET_FRAGMENTS: [&str; 3] = ["containerTestToken", "containerSECRET", "containerSECOND"];
const OLD_IMAGE: &str = "registry.fly.io/octo-repo-production:deployment-OLD";
/// Every output action.yml declares (the integration tests hold action.yml to this list).
const OUTPUTS: &[&str] = shipgate::action::OUTPUTS;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn event(name: &str) -> Value {
    let path = root().join("tests/fixtures/events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("event JSON")
}

fn str_at<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
}

/// The runner's directories for one step (`DIR/workspace`, `DIR/workflow`, ...), the event
/// written where the runner writes it.
struct Step {
    dir: tempfile::TempDir,
}

impl Step {
    fn new(event: &Value) -> Step {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["workspace/.github", "workflow"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        std::fs::write(
            dir.path().join("workflow/event.json"),
            serde_json::to_string_pretty(event).expect("event"),
        )
        .expect("event.json");
        Step { dir }
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path)).unwrap_or_default()
    }

    /// `bash .ci/container-run DIR -e NAME ...` with the values in podman's environment, as the
    /// runner passes them.
    fn run(&self, env: &[(String, String)]) -> Ran {
        #[allow(clippy::disallowed_methods)] // the image .ci/container built for this run
        let image = std::env::var("SHIPGATE_IMAGE").expect(
            "SHIPGATE_IMAGE is unset: run through `bash .ci/container cargo test --locked \
             --features container --test container`, which builds the image",
        );
        let started = Instant::now();
        let output = Command::new("bash")
            .arg(root().join(".ci/container-run"))
            .arg(self.dir.path())
            .args(env_options(env))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("SHIPGATE_IMAGE", image)
            .output()
            .expect("bash .ci/container-run runs");
        let elapsed = started.elapsed();
        let output_file = self.read("file_commands/set_output");
        let ran = Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            outputs: parse_file_commands(&output_file)
                .unwrap_or_else(|e| panic!("GITHUB_OUTPUT does not parse: {e}\n{output_file}")),
            output_file,
            summary: self.read("file_commands/step_summary"),
            elapsed,
        };
        eprintln!(
            "container run: exit {} in {:.2}s",
            ran.code,
            elapsed.as_secs_f64()
        );
        ran
    }
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    output_file: String,
    outputs: BTreeMap<String, String>,
    summary: String,
    elapsed: Duration,
}

impl Ran {
    fn context(&self) -> String {
        format!(
            "exit {} after {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- GITHUB_OUTPUT\n{}",
            self.code, self.elapsed, self.stdout, self.stderr, self.output_file
        )
    }

    fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output {name}\n{}", self.context()))
    }

    fn decision(&self) -> Value {
        serde_json::from_str(self.output("decision"))
            .unwrap_or_else(|e| panic!("the decision output is not JSON: {e}\n{}", self.context()))
    }

    /// Every output action.yml declares was written, in the heredoc form with a
    /// `ghadelimiter_` delimiter, and nothing else.
    fn assert_outputs_complete(&self) {
        let names: Vec<&str> = self.outputs.keys().map(String::as_str).collect();
        let mut expected = OUTPUTS.to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected, "{}", self.context());
        for name in OUTPUTS {
            let header = self
                .output_file
                .lines()
                .find(|line| line.starts_with(&format!("{name}<<")))
                .unwrap_or_else(|| panic!("{name} is not in heredoc form\n{}", self.context()));
            let delimiter = &header[name.len() + 2..];
            assert!(
                delimiter.len() > "ghadelimiter_".len() && delimiter.starts_with("ghadelimiter_"),
                "{header}"
            );
        }
    }

    /// The tokens appear nowhere, except in the `::add-mask::` lines, which come first on stdout
    /// (at least one for each whole secret given; parts of a secret may be masked too), so the
    /// runner masks them before anything else is printed. `fragments` are distinctive pieces of
    /// the secrets, which must not leak either.
    fn assert_secrets_kept(&self, secrets: &[&str], fragments: &[&str]) {
        let masks: Vec<&str> = self
            .stdout
            .lines()
            .take_while(|line| line.starts_with("::add-mask::"))
            .collect();
        for secret in secrets {
            assert!(
                masks.contains(&format!("::add-mask::{secret}").as_str()),
                "stdout must start with a mask of {secret:?}\n{}",
                self.context()
            );
        }
        let rest: Vec<&str> = self.stdout.lines().skip(masks.len()).collect();
        for leak in secrets.iter().chain(fragments) {
            assert!(
                !rest.iter().any(|line| line.contains(leak)),
                "{leak:?} on stdout after the masks"
            );
            assert!(!self.stderr.contains(leak), "{leak:?} on stderr");
            assert!(
                !self.output_file.contains(leak),
                "{leak:?} in GITHUB_OUTPUT"
            );
            assert!(!self.summary.contains(leak), "{leak:?} in the step summary");
        }
    }
}

/// A config the health app serves as healthy: checks `build` required, no window, fly-deploy
/// rollback.
fn config(app: &str, health: &HealthApp) -> String {
    format!(
        "version: 1
checks:
  required: [build]
  from_branch_rules: false
  wait: 0s
  interval: 1s
environments:
  production:
    app: {app}
    fly_config: fly.toml
    strategy: rolling
    url: {url}
    windows: false
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
    )
}

fn action_yml() -> String {
    std::fs::read_to_string(root().join("action.yml")).expect("action.yml")
}

#[test]
fn readiness_on_a_pull_request_event_gates_the_head_commit() {
    let event = event("pull_request.opened.json");
    let repo = str_at(&event, "/repository/full_name");
    let head = str_at(&event, "/pull_request/head/sha");
    let number = event["pull_request"]["number"].as_u64().expect("number");
    let (head_ref, base_ref) = (
        str_at(&event, "/pull_request/head/ref"),
        str_at(&event, "/pull_request/base/ref"),
    );
    // GITHUB_SHA on a pull_request event: the merge commit, which is not what is gated.
    let merge_sha = "9c1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

    let fake = FakeGitHub::start();
    fake.require_token(Some(GH_TOKEN));
    fake.set_ref(repo, head_ref, head);
    fake.add_check_runs(
        repo,
        head,
        [check_run(100, "build", "completed", Some("success"))],
    );
    fake.repo(repo, |r| {
        r.add_pull(pull_request(repo, number, head, head_ref, base_ref));
    });
    let health = HealthApp::start();
    health.set("/health", Behaviour::Healthy);

    let step = Step::new(&event);
    std::fs::write(
        step.workspace().join(".github/shipgate.yml"),
        config("hello-world-production", &health),
    )
    .expect("config");
    let mut env = action_inputs(
        &action_yml(),
        &[
            ("command", "readiness"),
            ("environment", "production"),
            ("comment", "true"),
            ("fly-api-token", FLY_TOKEN),
        ],
        GH_TOKEN,
    )
    .expect("inputs");
    env.extend(
        RunContext::new(
            "pull_request",
            repo,
            merge_sha,
            &format!("refs/pull/{number}/merge"),
            fake.url(),
        )
        .env(),
    );
    let ran = step.run(&env);

    assert_eq!(ran.code, 0, "{}", ran.context());
    ran.assert_outputs_complete();
    assert_eq!(ran.output("outcome"), "ready");
    assert_eq!(ran.output("exit-code"), "0");
    assert_eq!(ran.output("sha"), head, "the PR head, not GITHUB_SHA");
    assert_eq!(ran.output("rollback-triggered"), "false");
    let decision = ran.decision();
    assert_eq!(decision["schema"], "shipgate.decision/v1");
    assert_eq!(decision["command"], "readiness");
    assert_eq!(decision["outcome"], "ready");
    assert_eq!(decision["subject"]["sha"], head);
    // The job summary is the Markdown report.
    assert!(
        ran.summary
            .contains("### shipgate readiness · `production`: **ready**"),
        "{}",
        ran.summary
    );
    assert!(ran.summary.contains("| gate | status | summary |"));
    // The sticky comment went to the PR the event names, with the step's token.
    let comments = fake.repo(repo, |r| r.comments_on(number));
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0]["body"]
            .as_str()
            .is_some_and(|body| body.contains("readiness")),
        "{comments:?}"
    );
    assert!(fake.requests().iter().all(|r| !r.path.contains(merge_sha)));
    ran.assert_secrets_kept(&[GH_TOKEN, FLY_TOKEN], &SECRET_FRAGMENTS);
}

#[test]
fn a_deploy_that_fails_once_is_rolled_back_with_exit_3() {
    let event = event("workflow_dispatch.json");
    let repo = str_at(&event, "/repository/full_name");
    let git_ref = str_at(&event, "/ref");
    let sha = "5b7e3f9a1c2d4e6f8091a2b3c4d5e6f708192a3b";
    let app = "octo-repo-production";

    let fake = FakeGitHub::start();
    fake.require_token(Some(GH_TOKEN));
    fake.set_ref(repo, git_ref.trim_start_matches("refs/heads/"), sha);
    fake.add_check_runs(
        repo,
        sha,
        [check_run(100, "build", "completed", Some("success"))],
    );
    let health = HealthApp::start();
    health.set("/health", Behaviour::Healthy);

    let step = Step::new(&event);
    std::fs::write(
        step.workspace().join(".github/shipgate.yml"),
        config(app, &health),
    )
    .expect("config");
    // The fake flyctl keeps its state in the workspace, which the container sees.
    let state = step.workspace().join("fly-state.json");
    std::fs::write(
        &state,
        json!({
            "behaviour": "fail_once",
            "version": 1,
            "releases": [{
                "ID": "rel_1", "Version": 1, "Stable": true, "Status": "complete",
                "Description": "Deploy image", "CreatedAt": "2026-08-12T16:01:00Z",
                "ImageRef": OLD_IMAGE,
            }],
        })
        .to_string(),
    )
    .expect("fly state");
    let mut env = action_inputs(
        &action_yml(),
        &[
            ("command", "deploy"),
            ("environment", "production"),
            ("reason", "ship the new dashboard"),
            ("fly-api-token", FLY_TOKEN),
        ],
        GH_TOKEN,
    )
    .expect("inputs");
    env.extend(RunContext::new("workflow_dispatch", repo, sha, git_ref, fake.url()).env());
    env.push((
        "FAKE_FLY_STATE".to_owned(),
        "/github/workspace/fly-state.json".to_owned(),
    ));
    let ran = step.run(&env);

    assert_eq!(ran.code, 3, "{}", ran.context());
    ran.assert_outputs_complete();
    assert_eq!(ran.output("outcome"), "rolled_back");
    assert_eq!(ran.output("exit-code"), "3");
    assert_eq!(ran.output("sha"), sha);
    assert_eq!(ran.output("rollback-triggered"), "true");
    assert_eq!(ran.output("previous-version"), "1");
    assert_eq!(ran.output("previous-image"), OLD_IMAGE);
    // fly ran twice: the deploy (failed, v2) and the rollback to the old image (v3).
    let fly: Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("fly state"))
        .expect("fly state JSON");
    assert_eq!(fly["releases"][0]["ImageRef"], OLD_IMAGE, "{fly}");
    assert_eq!(fly["releases"][1]["Status"], "failed", "{fly}");
    // What runs now: the rollback's release (from fly's FLY_EMIT_RELEASE_JSON line).
    assert_eq!(ran.output("deployed-image"), OLD_IMAGE);
    assert_eq!(
        ran.output("deployed-version"),
        fly["releases"][0]["Version"].to_string()
    );
    // The deploy's record, then the automatic rollback's (task `deploy:rollback`).
    let deployments = fake.repo(repo, |r| r.deployments.clone());
    assert_eq!(deployments.len(), 2, "{deployments:?}");
    assert_eq!(deployments[0]["sha"], sha);
    assert_eq!(deployments[1]["task"], "deploy:rollback");
    assert_eq!(
        ran.output("deployment-id"),
        deployments[0]["id"].to_string()
    );
    assert_eq!(ran.output("rollback-run-url"), "", "a direct rollback");
    let decision = ran.decision();
    assert_eq!(decision["schema"], "shipgate.decision/v1");
    assert_eq!(decision["outcome"], "rolled_back");
    assert_eq!(decision["report"]["incident"]["rollback_triggered"], true);
    assert_eq!(decision["report"]["incident"]["recovered"], true);
    assert!(
        ran.summary
            .contains("### shipgate deploy · `production`: **rolled_back**"),
        "{}",
        ran.summary
    );
    assert!(ran.summary.contains("**Incident**"), "{}", ran.summary);
    ran.assert_secrets_kept(&[GH_TOKEN, FLY_TOKEN], &SECRET_FRAGMENTS);
}

/// The fixtures the scenarios rely on are what they claim to be.
#[test]
fn the_events_are_the_webhook_payloads_the_scenarios_need() {
    let pull = event("pull_request.opened.json");
    assert_eq!(pull["action"], "opened");
    assert_ne!(
        str_at(&pull, "/pull_request/head/sha"),
        str_at(&pull, "/pull_request/base/sha")
    );
    let dispatch = event("workflow_dispatch.json");
    assert!(str_at(&dispatch, "/ref").starts_with("refs/heads/"));
    assert!(dispatch.get("pull_request").is_none());
    let push = event("push.json");
    assert_eq!(str_at(&push, "/after").len(), 40);
    assert!(Path::new(&root().join(".ci/container-run")).exists());
}
