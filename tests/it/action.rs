//! `shipgate action`: the binary run as the GitHub runner runs a container action's entrypoint:
//! `INPUT_*` (hyphens kept), the `GITHUB_*` context, an event file, `GITHUB_OUTPUT` and
//! `GITHUB_STEP_SUMMARY` files. Outputs are read back with the runner's own parsing rules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::common::*;
use crate::deploy::{self, Fly, FLY_TOKEN, GH_TOKEN, OLD_IMAGE, REPO, SHA};
use crate::support::health_app::{Behaviour, HealthApp};
use crate::support::runner::{input_env, parse_file_commands};

/// A runner-like step: the file-command files and the event in a temp dir.
struct Step {
    dir: tempfile::TempDir,
    inputs: Vec<(String, String)>,
    env: Vec<(String, String)>,
}

impl Step {
    fn new(inputs: &[(&str, &str)]) -> Step {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in ["output", "summary"] {
            std::fs::write(dir.path().join(file), "").expect("file");
        }
        Step {
            dir,
            inputs: inputs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            env: Vec::new(),
        }
    }

    fn event(mut self, name: &str, payload: &Value) -> Step {
        let path = self.dir.path().join("event.json");
        std::fs::write(&path, payload.to_string()).expect("event");
        self.env.push(("GITHUB_EVENT_NAME".into(), name.into()));
        self.env
            .push(("GITHUB_EVENT_PATH".into(), path.display().to_string()));
        self
    }

    fn env(mut self, name: &str, value: impl Into<String>) -> Step {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self) -> Run {
        let mut command = shipgate();
        command
            .arg("action")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary"))
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_ACTOR", "octocat");
        let pairs: Vec<(&str, &str)> = self
            .inputs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for (name, value) in input_env(&pairs) {
            command.env(name, value);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let out = run(&mut command);
        for secret in [GH_TOKEN, FLY_TOKEN, "deploysecret"] {
            // Only the mask commands themselves carry it (the runner hides it from then on).
            let leaked = |text: &str| {
                text.lines()
                    .any(|l| !l.starts_with("::add-mask::") && l.contains(secret))
            };
            assert!(
                !leaked(&out.stdout) && !leaked(&out.stderr),
                "{secret} leaked"
            );
            let files = std::fs::read_to_string(self.path("output")).unwrap_or_default()
                + &std::fs::read_to_string(self.path("summary")).unwrap_or_default();
            assert!(!files.contains(secret), "{secret} in a file command");
        }
        out
    }

    fn outputs(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.path("output")).expect("GITHUB_OUTPUT");
        parse_file_commands(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.path("summary")).expect("summary")
    }
}

/// The `::error` line of a run (the first one).
fn error_line(out: &Run) -> &str {
    out.stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("no ::error in:\n{}", out.stdout))
}

fn event(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("events/{name}.json"))).expect("event");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn bad_inputs_exit_2_with_an_error_naming_the_input_and_the_fix() {
    type Inputs<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Inputs, &str, &str)] = &[
        (&[], "shipgate%3A command", "input `command` is missing or empty"),
        (&[("command", " ")], "shipgate%3A command", "set `command:` to one of plan"),
        (&[("command", "deploi")], "shipgate%3A command", "did you mean `deploy`"),
        (
            &[
                ("command", "deploy"),
                ("environment", "production"),
                ("reason", "ship it"),
                ("emergency", "yes-please"),
            ],
            "shipgate%3A emergency",
            "input `emergency` is `yes-please`, not a boolean; set `emergency: 'true'` or `emergency: 'false'`",
        ),
        (
            &[("command", "deploy"), ("environment", "production")],
            "shipgate%3A reason",
            "input `reason` is missing or empty; `command: deploy` needs it",
        ),
    ];
    for (inputs, title, text) in cases {
        let step = Step::new(inputs).env("GITHUB_SHA", SHA);
        let out = step.run();
        assert_eq!(out.code, 2, "{inputs:?}\n{}", out.stdout);
        let line = error_line(&out);
        assert!(
            line.starts_with(&format!("::error title={title}::")),
            "{line}"
        );
        assert!(line.contains(text), "{text:?} not in {line}");
        let outputs = step.outputs();
        assert_eq!(outputs["outcome"], "invalid");
        assert_eq!(outputs["exit-code"], "2");
    }
}

#[test]
fn a_missing_event_file_or_an_unwritable_output_file_is_bad_input() {
    let step =
        Step::new(&[("command", "window")]).env("GITHUB_EVENT_PATH", "/nonexistent/event.json");
    let out = step.run();
    assert_eq!(out.code, 2);
    assert!(error_line(&out).contains("cannot read the event file /nonexistent/event.json"));

    let step = Step::new(&[("command", "window")]);
    std::fs::remove_file(step.path("output")).expect("rm");
    std::fs::create_dir(step.path("output")).expect("a directory in its place");
    let out = step.run();
    assert_eq!(out.code, 2);
    let line = error_line(&out);
    assert!(
        line.starts_with("::error title=shipgate%3A GITHUB_OUTPUT::cannot write the step outputs"),
        "{line}"
    );

    let mut command = shipgate();
    let out = run(command.arg("action").env("INPUT_COMMAND", "window"));
    assert_eq!(out.code, 2);
    assert!(error_line(&out).contains("GITHUB_OUTPUT is not set"));
}

#[test]
fn secrets_are_masked_before_anything_else_is_printed() {
    let step = Step::new(&[
        ("command", "window"),
        ("config", "examples/shipgate.yml"),
        ("github-token", GH_TOKEN),
        ("fly-api-token", FLY_TOKEN),
    ]);
    let out = step.run();
    let first: Vec<&str> = out.stdout.lines().take(4).collect();
    assert_eq!(
        first,
        [
            format!("::add-mask::{GH_TOKEN}"),
            format!("::add-mask::{FLY_TOKEN}"),
            "::add-mask::fm2_lJPECAAAAAAAAdeploysecretTOKEN".to_owned(),
            "::add-mask::fm2_lJPEdeploysecondTOKEN".to_owned(),
        ]
    );
}

#[test]
fn a_bad_config_is_annotated_at_its_file_and_line() {
    let (_dir, path) = temp_config(
        "version: 1\nenvironments:\n  production:\n    app: demo\n    strategy: sideways\n",
    );
    let step = Step::new(&[
        ("command", "window"),
        ("config", &path.display().to_string()),
    ]);
    let out = step.run();
    assert_eq!(out.code, 2, "{}", out.stdout);
    let line = error_line(&out);
    assert!(
        line.starts_with(&format!(
            "::error file={},line=5,col=15,title=shipgate config::",
            path.display().to_string().replace(':', "%3A")
        )),
        "{line}"
    );
    assert_eq!(step.outputs()["outcome"], "invalid");
}

#[test]
fn the_window_command_writes_every_output_and_the_summary() {
    let step = Step::new(&[
        ("command", "window"),
        ("config", "examples/shipgate.yml"),
        ("environment", "staging"),
        ("to", "v3"),
    ])
    .event("push", &event("push"));
    let out = step.run();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out
        .stdout
        .contains("::warning title=shipgate::input `to` is not used by `command: window`"));
    let outputs = step.outputs();
    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
    let mut expected = shipgate::action::OUTPUTS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(outputs["outcome"], "go");
    assert_eq!(outputs["rollback-triggered"], "false");
    let decision: Value = serde_json::from_str(&outputs["decision"]).expect("JSON");
    assert_eq!(decision["schema"], "shipgate.decision/v1");
    assert!(step
        .summary()
        .starts_with("### shipgate window · `staging`: **go**"));
    // The report is printed with workflow commands suspended, and they are resumed after it.
    let stop = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("::stop-commands::"))
        .expect("stop-commands");
    assert!(out.stdout.contains(&format!("\n::{stop}::\n")));
}

#[test]
fn a_pull_request_event_gates_the_head_sha_not_the_merge_commit() {
    let event = event("pull_request.opened");
    let head = event["pull_request"]["head"]["sha"]
        .as_str()
        .expect("head sha")
        .to_owned();
    let fake = deploy::github();
    fake.add_check_runs(
        REPO,
        &head,
        [crate::support::fake_github::check_run(
            7,
            "build",
            "completed",
            Some("success"),
        )],
    );
    let (_dir, path) = temp_config("version: 1\nchecks: { required: [build], from_branch_rules: false, wait: 0s }\nenvironments:\n  production: { app: demo }\n");
    let step = Step::new(&[
        ("command", "checks"),
        ("config", &path.display().to_string()),
        ("github-token", GH_TOKEN),
    ])
    .event("pull_request", &event)
    .env("GITHUB_SHA", "0000000000000000000000000000000000000001")
    .env("GITHUB_API_URL", fake.url());
    let out = step.run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(step.outputs()["sha"], head);
}

#[test]
fn a_deploy_that_rolls_back_reports_it_in_the_outputs() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = deploy::github();
    let fly = Fly::new("fail_once", deploy::previous_release());
    let (_dir, path) = deploy::config(&app, deploy::OPEN);
    let event = event("workflow_dispatch");
    let step = Step::new(&[
        ("command", "deploy"),
        ("environment", "production"),
        ("reason", "ship the new dashboard"),
        ("config", &path.display().to_string()),
        ("github-token", GH_TOKEN),
        ("fly-api-token", FLY_TOKEN),
    ])
    .event("workflow_dispatch", &event)
    .env("GITHUB_SHA", SHA)
    .env("GITHUB_API_URL", fake.url())
    .env(
        "SHIPGATE_FLY",
        fly.dir.path().join("flyctl").display().to_string(),
    )
    .env(
        "FAKE_FLY_STATE",
        fly.dir.path().join("state.json").display().to_string(),
    );
    let out = step.run();
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let outputs = step.outputs();
    assert_eq!(outputs["outcome"], "rolled_back");
    assert_eq!(outputs["exit-code"], "3");
    assert_eq!(outputs["sha"], SHA);
    assert_eq!(outputs["previous-version"], "1");
    assert_eq!(outputs["previous-image"], OLD_IMAGE);
    assert_eq!(outputs["rollback-triggered"], "true");
    assert_eq!(outputs["rollback-run-url"], "");
    // What runs now: the rollback's release, on the previous image.
    assert_eq!(outputs["deployed-version"], "3");
    assert_eq!(outputs["deployed-image"], OLD_IMAGE);
    assert!(outputs["deployment-id"].parse::<u64>().is_ok());
    assert_eq!(fly.deploys().len(), 2);
    // fly's output is in a log group, with workflow commands in it suspended.
    let group = out
        .stderr
        .split("::group::")
        .nth(1)
        .and_then(|rest| rest.split("::endgroup::").next())
        .unwrap_or_else(|| panic!("no log group in:\n{}", out.stderr));
    let token = group
        .lines()
        .find_map(|l| l.strip_prefix("::stop-commands::"))
        .expect("stop-commands in the group");
    assert!(token.len() >= 16);
    assert!(
        group.trim_end().ends_with(&format!("::{token}::")),
        "{group}"
    );
    assert!(group.contains("Updating existing machines"), "{group}");
    assert!(step.summary().contains("> **Incident**"));
}

/// `action.yml`, the README's usage block and the code's inputs must not drift apart.
#[test]
fn action_yml_the_readme_and_the_code_agree_on_inputs_and_outputs() {
    // serde_yaml_ng's own Value keeps the file's order.
    let yml: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("action.yml")).expect("action.yml"),
    )
    .expect("YAML");
    let declared: Vec<(String, String)> = yml["inputs"]
        .as_mapping()
        .expect("inputs")
        .iter()
        .map(|(name, spec)| {
            (
                name.as_str().unwrap_or_default().to_owned(),
                spec["default"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let code: Vec<(String, String)> = shipgate::action::INPUTS
        .iter()
        .map(|i| (i.name.to_owned(), i.default.to_owned()))
        .collect();
    assert_eq!(declared, code, "action.yml inputs vs action::INPUTS");
    assert_eq!(
        yml["inputs"]["command"]["required"].as_bool(),
        Some(true),
        "command is required"
    );
    let outputs: Vec<&str> = yml["outputs"]
        .as_mapping()
        .expect("outputs")
        .keys()
        .filter_map(serde_yaml_ng::Value::as_str)
        .collect();
    assert_eq!(outputs, shipgate::action::OUTPUTS);

    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let block = readme
        .split("### Action usage")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block after `### Action usage`");
    let with = block.split("with:\n").nth(1).expect("with:");
    let readme_inputs: Vec<String> = with
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let (name, _) = line.split_once(':')?;
            (!name.is_empty() && !name.starts_with('#')).then(|| name.to_owned())
        })
        .collect();
    let names: Vec<String> = code.into_iter().map(|(name, _)| name).collect();
    assert_eq!(readme_inputs, names, "README usage block vs action::INPUTS");
}
