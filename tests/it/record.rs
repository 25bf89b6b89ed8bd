//! The deploy record (`--record DIR`) and `report --from-json`: the real binary against the fake
//! GitHub, the fake flyctl and a local health app, as in `deploy.rs`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::*;
use crate::deploy::*;
use crate::support::fake_github::FakeGitHub;
use crate::support::health_app::{Behaviour, HealthApp};

const ACTOR: &str = "octocat";

fn deploy_recording(fake: &FakeGitHub, config: &Path, fly: &Fly, record: &Path) -> Run {
    let mut args = deploy_args();
    let record = record.to_str().expect("utf-8 path");
    args.extend(["--record", record]);
    deploy_with(fake, config, fly, &args, &[("GITHUB_ACTOR", ACTOR)])
}

/// The files in `dir`, by name.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The record's stem as the run names it: the date of its `evaluated_at`, the environment, the
/// commit's first 7 characters.
fn expected_stem(decision: &Value, what: &str) -> String {
    let date = decision["evaluated_at"]
        .as_str()
        .and_then(|at| at.get(..10))
        .expect("evaluated_at");
    format!("{date}-production-{what}")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_no_secret(text: &str) {
    for secret in [
        FLY_TOKEN,
        "fm2_lJPECAAAAAAAAdeploysecretTOKEN",
        "fm2_lJPEdeploysecondTOKEN",
        "deploysecret",
        GH_TOKEN,
    ] {
        assert!(!text.contains(secret), "a secret in the record:\n{text}");
    }
}

fn report(args: &[&str]) -> Run {
    let mut command = shipgate();
    command.arg("report").args(args);
    run(&mut command)
}

#[test]
fn a_healthy_deploy_writes_the_record_as_json_and_markdown() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let records = tempfile::tempdir().expect("temp dir");
    // Created if missing.
    let dir = records.path().join("deploy-records");
    let out = deploy_recording(&fake, &path, &fly, &dir);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let decision = decision(&out);
    let stem = expected_stem(&decision, &SHA[..7]);
    assert_eq!(files(&dir), [format!("{stem}.json"), format!("{stem}.md")]);
    assert!(
        out.stderr.contains("deploy record written"),
        "{}",
        out.stderr
    );

    // The JSON is the Decision exactly as --format json prints it.
    let json = read(dir.join(format!("{stem}.json")));
    assert_eq!(json, out.stdout);
    let saved: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(saved["schema"], "shipgate.decision/v1");
    assert_eq!(saved["command"], "deploy");
    assert_eq!(saved["outcome"], "deployed");
    assert_eq!(
        saved["subject"],
        json!({"repository": REPO, "environment": "production", "app": APP, "ref": "main", "sha": SHA})
    );
    let report = &saved["report"];
    assert_eq!(report["actor"], ACTOR);
    assert_eq!(report["reason"], "ship the new dashboard");
    assert_eq!(
        report["previous"],
        json!({"version": 1, "image": OLD_IMAGE})
    );
    assert_eq!(report["deployed"]["version"], 2);
    let steps = report["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 5);
    assert!(steps.iter().all(|s| s["duration_ms"].is_u64()), "{steps:?}");
    let gates: Vec<&str> = saved["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .map(|v| v["gate"].as_str().unwrap_or_default())
        .collect();
    assert!(
        gates.contains(&"required-checks") && gates.contains(&"health"),
        "{gates:?}"
    );

    // The Markdown is the same Decision drawn as --format markdown.
    let markdown = read(dir.join(format!("{stem}.md")));
    assert!(
        markdown.starts_with("### shipgate deploy · `production`: **deployed**"),
        "{markdown}"
    );
    for field in [
        "by: octocat",
        "why: ship the new dashboard",
        "| `required-checks` | ✅ pass |",
        "| `health` | ✅ pass |",
        "previous release: v1",
        "deployed release: v2",
        "| fly deploy |",
        "schema shipgate.decision/v1",
    ] {
        assert!(markdown.contains(field), "{field} missing:\n{markdown}");
    }
    assert_no_secret(&json);
    assert_no_secret(&markdown);
}

#[test]
fn a_rolled_back_deploy_records_the_incident() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail", previous_release());
    fly.then(2, "ok");
    let (_dir, path) = config(&app, OPEN);
    let records = tempfile::tempdir().expect("temp dir");
    let mut args = deploy_args();
    let dir = records.path().to_str().expect("utf-8").to_owned();
    args.extend(["--record", &dir]);
    // fly prints the tokens it was given: masked before they reach the record.
    let prints = format!("token={FLY_TOKEN} github={GH_TOKEN}");
    let out = deploy_with(
        &fake,
        &path,
        &fly,
        &args,
        &[("GITHUB_ACTOR", ACTOR), ("FAKE_FLY_PRINT", prints.as_str())],
    );
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let stem = expected_stem(&decision(&out), &SHA[..7]);
    let json = read(records.path().join(format!("{stem}.json")));
    let markdown = read(records.path().join(format!("{stem}.md")));
    let saved: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(saved["outcome"], "rolled_back");
    let incident = &saved["report"]["incident"];
    assert_eq!(incident["rollback_triggered"], true);
    assert_eq!(incident["recovered"], true);
    assert_eq!(incident["to"], json!({"version": 1, "image": OLD_IMAGE}));
    assert!(incident["time_to_recover_ms"].is_u64(), "{incident}");
    assert!(markdown.contains("**Incident**"), "{markdown}");
    assert!(
        markdown.contains("verified healthy on the release rolled back to"),
        "{markdown}"
    );
    assert!(markdown.contains("**rolled_back**"), "{markdown}");
    assert_no_secret(&json);
    assert_no_secret(&markdown);
}

#[test]
fn a_blocked_deploy_writes_a_record_too() {
    let app = HealthApp::start();
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, CLOSED);
    let records = tempfile::tempdir().expect("temp dir");
    let out = deploy_recording(&fake, &path, &fly, records.path());
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(fly.calls().is_empty(), "{:?}", fly.calls());
    let stem = expected_stem(&decision(&out), &SHA[..7]);
    let saved: Value =
        serde_json::from_str(&read(records.path().join(format!("{stem}.json")))).expect("JSON");
    assert_eq!(saved["outcome"], "blocked");
    assert_eq!(saved["report"]["reason"], "ship the new dashboard");
    let markdown = read(records.path().join(format!("{stem}.md")));
    assert!(
        markdown.contains("| `deploy-window` | ❌ fail |"),
        "{markdown}"
    );
}

#[test]
fn a_rollback_is_recorded_under_the_release_it_returned_to() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", two_releases());
    let (_dir, path) = config(&app, OPEN);
    let records = tempfile::tempdir().expect("temp dir");
    let dir = records.path().to_str().expect("utf-8");
    let out = rollback(&fake, &path, &fly, &["--record", dir]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let stem = expected_stem(&decision(&out), "rollback-v1");
    assert_eq!(
        files(records.path()),
        [format!("{stem}.json"), format!("{stem}.md")]
    );
    let markdown = read(records.path().join(format!("{stem}.md")));
    assert!(
        markdown.contains("why: INC-7 checkout broken"),
        "{markdown}"
    );
    assert!(markdown.contains("**Incident**"), "{markdown}");
}

#[test]
fn a_record_dir_that_cannot_be_written_only_warns() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let records = tempfile::tempdir().expect("temp dir");
    // Under a file: no directory can be made there (whoever runs the test, root included).
    let file = records.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let out = deploy_recording(&fake, &path, &fly, &file.join("records"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(decision(&out)["outcome"], "deployed");
    assert_eq!(fly.deploys().len(), 1);
    assert!(
        out.stderr
            .contains("warning: the deploy record was not written")
            && out.stderr.contains("the run's outcome stands"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_record_path_that_is_a_file_is_exit_2_before_anything_changes() {
    let app = HealthApp::start();
    let fake = github();
    let fly = Fly::new("ok", previous_release());
    let (_dir, path) = config(&app, OPEN);
    let records = tempfile::tempdir().expect("temp dir");
    let file = records.path().join("records.md");
    std::fs::write(&file, "notes").expect("write");
    let out = deploy_recording(&fake, &path, &fly, &file);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("is a file, not a directory"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint: give --record"), "{}", out.stderr);
    assert!(fly.calls().is_empty(), "{:?}", fly.calls());
    assert!(deployments(&fake).is_empty());
    assert_eq!(read(file), "notes");
}

#[test]
fn report_from_json_renders_the_record_again() {
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let fake = github();
    let fly = Fly::new("fail", previous_release());
    fly.then(2, "ok");
    let (_dir, path) = config(&app, OPEN);
    let records = tempfile::tempdir().expect("temp dir");
    let out = deploy_recording(&fake, &path, &fly, records.path());
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let stem = expected_stem(&decision(&out), &SHA[..7]);
    let json_path = records.path().join(format!("{stem}.json"));
    let json_file = json_path.to_str().expect("utf-8");

    let markdown = report(&["--from-json", json_file, "--format", "markdown"]);
    assert_eq!(markdown.code, 0, "{}", markdown.stderr);
    assert_eq!(
        markdown.stdout,
        read(records.path().join(format!("{stem}.md")))
    );
    // JSON back to JSON is the same file: nothing lost on the way in.
    let json = report(&["--from-json", json_file, "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_eq!(json.stdout, read(json_path.clone()));
    let text = report(&["--from-json", json_file]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("incident:"), "{}", text.stdout);
    assert!(
        text.stdout.contains("why          ship the new dashboard"),
        "{}",
        text.stdout
    );
}

#[test]
fn report_refuses_a_file_that_is_not_a_v1_decision() {
    let dir = tempfile::tempdir().expect("temp dir");
    let other = dir.path().join("v2.json");
    std::fs::write(
        &other,
        json!({"schema": "shipgate.decision/v2", "command": "deploy"}).to_string(),
    )
    .expect("write");
    let out = report(&["--from-json", other.to_str().expect("utf-8")]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("its `schema` is \"shipgate.decision/v2\", not `shipgate.decision/v1`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: this shipgate reads `shipgate.decision/v1`"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    let markdown = dir.path().join("record.md");
    std::fs::write(&markdown, "### shipgate deploy").expect("write");
    let out = report(&["--from-json", markdown.to_str().expect("utf-8")]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not JSON"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("hint: give the record's .json, not its .md"),
        "{}",
        out.stderr
    );

    let missing = report(&["--from-json", "/nonexistent/record.json"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("cannot read /nonexistent/record.json"),
        "{}",
        missing.stderr
    );

    let nothing = report(&[]);
    assert_eq!(nothing.code, 2, "{}", nothing.stderr);
    assert!(
        nothing.stderr.contains("hint: pass --from-json FILE"),
        "{}",
        nothing.stderr
    );
}
