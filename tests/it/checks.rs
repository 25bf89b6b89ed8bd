//! `shipgate checks --from-file`: the required-checks gate over saved GitHub answers
//! (tests/fixtures/checks/*.json), run through the real binary.

use serde_json::Value;

use crate::common::*;

/// `shipgate --config examples/shipgate.yml checks --from-file tests/fixtures/checks/NAME.json ...`
fn checks(name: &str, extra: &[&str]) -> Run {
    checks_with(&example_config(), name, extra)
}

fn checks_with(config: &std::path::Path, name: &str, extra: &[&str]) -> Run {
    run(with_config(config)
        .arg("checks")
        .arg("--from-file")
        .arg(fixture(&format!("checks/{name}.json")))
        .args(extra))
}

/// The same, with `--format json`, parsed.
fn decision(name: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let out = checks(name, &args);
    (out.code, parse(&out))
}

fn parse(out: &Run) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
            out.stdout, out.stderr
        )
    })
}

fn verdict(decision: &Value) -> &Value {
    let verdicts = decision["verdicts"].as_array().expect("verdicts");
    assert_eq!(verdicts.len(), 1, "checks evaluates one gate");
    assert_eq!(verdicts[0]["gate"], "required-checks");
    &verdicts[0]
}

fn evidence<'a>(decision: &'a Value, kind: &str) -> Vec<&'a Value> {
    verdict(decision)["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Every required check as (name, state), in the order shown.
fn check_states(decision: &Value) -> Vec<(String, String)> {
    evidence(decision, "check")
        .into_iter()
        .map(|e| {
            (
                e["name"].as_str().expect("name").to_owned(),
                e["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

fn check<'a>(decision: &'a Value, name: &str) -> &'a Value {
    evidence(decision, "check")
        .into_iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {decision:#}"))
}

fn required_source<'a>(decision: &'a Value, source: &str) -> &'a Value {
    evidence(decision, "required_source")
        .into_iter()
        .find(|e| e["source"] == source)
        .unwrap_or_else(|| panic!("no required_source {source:?} in {decision:#}"))
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn assert_outcome(code: i32, decision: &Value, expected: (i32, &str, &str)) {
    let (exit, outcome, status) = expected;
    assert_eq!(code, exit, "{decision:#}");
    assert_eq!(decision["schema"], "shipgate.decision/v1");
    assert_eq!(decision["command"], "checks");
    assert_eq!(decision["exit_code"], exit);
    assert_eq!(decision["outcome"], outcome);
    assert_eq!(verdict(decision)["status"], status, "{decision:#}");
}

const GO: (i32, &str, &str) = (0, "go", "pass");
const BLOCKED_FAIL: (i32, &str, &str) = (1, "blocked", "fail");
const BLOCKED_PENDING: (i32, &str, &str) = (1, "blocked", "pending");

// ----- outcomes of the saved answers -------------------------------------------------------

#[test]
fn all_green_goes() {
    let (code, d) = decision("all-green", &[]);
    assert_outcome(code, &d, GO);
    assert_eq!(
        d["subject"]["sha"],
        "9c1d2e4f7a8b3c5d6e0f1a2b4c6d8e0f2a4b6c8d"
    );
    assert_eq!(verdict(&d)["summary"], "5 of 5 required checks pass");
    assert_eq!(
        check_states(&d),
        pairs(&[
            ("AI Config", "passing"),
            ("Danger", "passing"),
            ("Docs Policy", "passing"),
            ("Gitleaks", "passing"),
            ("Health Check", "passing"),
        ])
    );
    // Gitleaks is also required by a ruleset, pinned to GitHub Actions.
    let gitleaks = check(&d, "Gitleaks");
    assert_eq!(gitleaks["app_id"], 15368);
    assert_eq!(
        gitleaks["required_by"],
        serde_json::json!(["config", "ruleset"])
    );
    assert_eq!(gitleaks["sources"][0]["kind"], "check_run");
    assert_eq!(gitleaks["sources"][0]["result"], "success");
    assert_eq!(gitleaks["sources"][0]["app"], "github-actions");
    assert_eq!(
        gitleaks["sources"][0]["url"],
        "https://github.com/hotdash-dev/hotdash/actions/runs/19732214075/job/56234119807"
    );
    // Protection requires the gate's own check, which is in progress: it is excluded, not awaited.
    assert_eq!(required_source(&d, "branch_protection")["state"], "read");
    assert_eq!(
        required_source(&d, "branch_protection")["names"],
        serde_json::json!(["shipgate"])
    );
    let excluded = evidence(&d, "excluded");
    assert_eq!(excluded.len(), 1, "{d:#}");
    assert_eq!(excluded[0]["name"], "shipgate");
    // The job running shipgate (own_check_run_ids) is in progress but blocks nothing.
    assert!(evidence(&d, "note").is_empty(), "{d:#}");
}

#[test]
fn all_green_for_an_environment_names_it() {
    let (code, d) = decision(
        "all-green",
        &["--environment", "production", "--ref", "main"],
    );
    assert_outcome(code, &d, GO);
    assert_eq!(d["subject"]["environment"], "production");
    assert_eq!(d["subject"]["app"], "hotdash-production");
    assert_eq!(d["subject"]["ref"], "main");
    assert_eq!(check_states(&d).len(), 5);
}

#[test]
fn all_green_as_text() {
    let out = checks("all-green", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("shipgate checks: go"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("5 of 5 required checks pass"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("9c1d2e4f7a8b3c5d6e0f1a2b4c6d8e0f2a4b6c8d"),
        "{}",
        out.stdout
    );
}

#[test]
fn quiet_prints_nothing_but_keeps_the_exit_code() {
    let out = checks("failing-and-missing", &["--quiet"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
}

#[test]
fn one_failing_and_one_missing_are_told_apart() {
    let (code, d) = decision("failing-and-missing", &["--environment", "production"]);
    assert_outcome(code, &d, BLOCKED_FAIL);
    assert_eq!(d["summary"], "blocked by required-checks");
    assert_eq!(
        verdict(&d)["summary"],
        "failing: Gitleaks; missing: Health Check"
    );
    assert_eq!(
        check_states(&d),
        pairs(&[
            ("AI Config", "passing"),
            ("Danger", "passing"),
            ("Docs Policy", "passing"),
            ("Gitleaks", "failing"),
            ("Health Check", "missing"),
        ])
    );
    assert_eq!(check(&d, "Gitleaks")["sources"][0]["result"], "failure");
    assert_eq!(
        check(&d, "Health Check")["sources"],
        serde_json::json!([]),
        "nothing reported it"
    );
    // An unrequired failing job is mentioned, and does not count.
    let notes: Vec<&str> = evidence(&d, "note")
        .iter()
        .filter_map(|n| n["text"].as_str())
        .collect();
    assert_eq!(notes, ["not required, but failing: Lint"]);
}

#[test]
fn one_failing_and_one_missing_as_text() {
    let out = checks("failing-and-missing", &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("shipgate checks: blocked"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("FAIL"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("failing: Gitleaks; missing: Health Check"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_rerun_that_passes_supersedes_the_failed_attempt() {
    let (code, d) = decision("rerun-passes", &[]);
    assert_outcome(code, &d, GO);
    let danger = check(&d, "Danger");
    assert_eq!(danger["state"], "passing");
    let sources = danger["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 1, "only the latest attempt counts");
    assert_eq!(sources[0]["result"], "success");
    assert!(
        sources[0]["url"]
            .as_str()
            .is_some_and(|url| url.ends_with("/job/56242311904")),
        "the re-run's job: {danger:#}"
    );
    assert_eq!(d["evaluated_at"], "2026-11-18T17:06:51Z");
}

#[test]
fn a_failing_status_fails_a_check_whose_run_passed() {
    let (code, d) = decision("run-and-status-disagree", &[]);
    assert_outcome(code, &d, BLOCKED_FAIL);
    assert_eq!(verdict(&d)["summary"], "failing: Health Check");
    let health = check(&d, "Health Check");
    assert_eq!(health["state"], "failing");
    let sources: Vec<(&str, &str, &str)> = health["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or_default(),
                s["result"].as_str().unwrap_or_default(),
                s["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("check_run", "success", "passing"),
            ("status", "failure", "failing"),
        ]
    );
    assert_eq!(
        health["sources"][1]["url"],
        "https://uptime.hotdash.dev/checks/health/8812"
    );
}

#[test]
fn pending_checks_block_as_pending() {
    let (code, d) = decision("pending", &[]);
    assert_outcome(code, &d, BLOCKED_PENDING);
    assert_eq!(
        check_states(&d),
        pairs(&[
            ("AI Config", "pending"),
            ("Danger", "pending"),
            ("Docs Policy", "passing"),
            ("Gitleaks", "passing"),
            ("Health Check", "pending"),
        ])
    );
    let summary = verdict(&d)["summary"].as_str().expect("summary");
    assert!(summary.starts_with("still pending 3 of 5"), "{summary}");
    assert_eq!(check(&d, "AI Config")["sources"][0]["result"], "queued");
    assert_eq!(check(&d, "Danger")["sources"][0]["result"], "in_progress");
    assert_eq!(check(&d, "Health Check")["sources"][0]["result"], "waiting");
}

#[test]
fn a_ruleset_pinned_check_is_not_satisfied_by_another_app() {
    let (code, d) = decision("impostor-app", &[]);
    assert_outcome(code, &d, BLOCKED_FAIL);
    let gitleaks = check(&d, "Gitleaks");
    assert_eq!(gitleaks["state"], "missing", "{gitleaks:#}");
    assert_eq!(gitleaks["app_id"], 15368);
    assert_eq!(
        gitleaks["required_by"],
        serde_json::json!(["config", "ruleset"])
    );
    assert_eq!(gitleaks["sources"], serde_json::json!([]));
    assert_eq!(
        verdict(&d)["summary"],
        "missing: Gitleaks (never reported on this commit)"
    );
    assert_eq!(
        required_source(&d, "ruleset")["names"],
        serde_json::json!(["Gitleaks"])
    );
}

#[test]
fn without_branch_rules_the_pin_does_not_apply() {
    let (_dir, config) = temp_config(
        "version: 1\n\
         checks:\n  required: [Docs Policy, Danger, Gitleaks, AI Config, Health Check]\n  from_branch_rules: false\n\
         environments:\n  production:\n    app: hotdash-production\n",
    );
    let out = checks_with(&config, "impostor-app", &["--format", "json"]);
    let d = parse(&out);
    assert_outcome(out.code, &d, GO);
    let gitleaks = check(&d, "Gitleaks");
    assert_eq!(gitleaks["required_by"], serde_json::json!(["config"]));
    assert!(gitleaks.get("app_id").is_none(), "{gitleaks:#}");
    assert_eq!(gitleaks["sources"][0]["app"], "quick-green-ci");
    let sources: Vec<&Value> = evidence(&d, "required_source");
    assert_eq!(sources.len(), 1, "only the config is asked: {d:#}");
    assert_eq!(sources[0]["source"], "config");
}

#[test]
fn check_runs_are_read_from_every_page() {
    let (code, d) = decision("two-pages", &[]);
    assert_outcome(code, &d, GO);
    assert_eq!(verdict(&d)["summary"], "6 of 6 required checks pass");
    // Both are on the second page.
    assert_eq!(check(&d, "Health Check")["state"], "passing");
    assert_eq!(check(&d, "test (ubuntu-latest, 22)")["state"], "passing");
    assert_eq!(
        check(&d, "test (ubuntu-latest, 22)")["required_by"],
        serde_json::json!(["ruleset"])
    );
}

#[test]
fn unknown_enum_values_never_crash_and_never_pass() {
    let (code, d) = decision("unknown-enums", &[]);
    assert_outcome(code, &d, BLOCKED_FAIL);
    let docs = check(&d, "Docs Policy");
    assert_eq!(docs["state"], "failing");
    assert_eq!(docs["sources"][0]["result"], "quarantined");
    let ai = check(&d, "AI Config");
    assert_eq!(ai["state"], "pending");
    assert_eq!(ai["sources"][0]["result"], "deferred");
    let danger = check(&d, "Danger");
    assert_eq!(danger["state"], "failing");
    assert_eq!(danger["sources"][1]["kind"], "status");
    assert_eq!(danger["sources"][1]["result"], "expired");
    // Unknown rule types are skipped, not errors: the rules were read, and require nothing.
    assert_eq!(required_source(&d, "ruleset")["state"], "read");
    assert_eq!(
        required_source(&d, "ruleset")["names"],
        serde_json::json!([])
    );
}

#[test]
fn protection_that_cannot_be_read_is_unknown_not_none() {
    let (code, d) = decision("protection-unknown", &[]);
    // The configured checks all pass; the unreadable protection is shown, not hidden.
    assert_outcome(code, &d, GO);
    let protection = required_source(&d, "branch_protection");
    assert_eq!(protection["state"], "unknown", "{d:#}");
    assert!(
        protection["reason"]
            .as_str()
            .is_some_and(|r| r.contains("protected")),
        "{protection:#}"
    );
    assert_eq!(required_source(&d, "ruleset")["state"], "not_checked");

    let out = checks("protection-unknown", &[]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("required by branch protection: unknown"),
        "{}",
        out.stdout
    );
}

#[test]
fn nothing_required_and_protection_unknown_refuses_to_pass() {
    let (_dir, config) = temp_config(
        "version: 1\n\
         checks:\n  required: []\n  from_branch_rules: true\n\
         environments:\n  production:\n    app: hotdash-production\n",
    );
    let out = checks_with(&config, "protection-unknown", &["--format", "json"]);
    let d = parse(&out);
    assert_outcome(out.code, &d, BLOCKED_FAIL);
    assert!(check_states(&d).is_empty());
    assert_eq!(
        verdict(&d)["summary"],
        "no required checks could be determined: the branch rules were not readable and `checks.required` is empty"
    );
}

#[test]
fn ignored_checks_are_left_out() {
    let config_text = |ignore: &str| {
        format!(
            "version: 1\n\
             checks:\n  required: [Docs Policy, Danger, Gitleaks, AI Config, Health Check]\n  ignore: {ignore}\n\
             environments:\n  production:\n    app: hotdash-production\n"
        )
    };
    // Ignoring the missing one leaves the failing one.
    let (_dir, config) = temp_config(&config_text("[Health*]"));
    let out = checks_with(&config, "failing-and-missing", &["--format", "json"]);
    let d = parse(&out);
    assert_outcome(out.code, &d, BLOCKED_FAIL);
    assert_eq!(verdict(&d)["summary"], "failing: Gitleaks");
    let excluded = evidence(&d, "excluded");
    assert_eq!(excluded.len(), 1);
    assert_eq!(excluded[0]["name"], "Health Check");
    assert_eq!(excluded[0]["reason"], "matches ignore `Health*`");

    // Ignoring both lets it through.
    let (_dir, config) = temp_config(&config_text("[Gitleaks, Health*]"));
    let out = checks_with(&config, "failing-and-missing", &["--format", "json"]);
    let d = parse(&out);
    assert_outcome(out.code, &d, GO);
    assert_eq!(verdict(&d)["summary"], "3 of 3 required checks pass");
}

// ----- bad input -------------------------------------------------------------------------

/// Exit 2, nothing on stdout, an `error:` line containing `needle` and a `hint:` line.
fn assert_invalid(out: &Run, needle: &str) {
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stdout, "", "no decision is printed");
    let error = out
        .stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error: line in\n{}", out.stderr));
    assert!(error.contains(needle), "{needle:?} not in {error:?}");
    assert!(
        out.stderr.lines().any(|line| line.starts_with("hint: ")),
        "no hint: line in\n{}",
        out.stderr
    );
}

/// Writes `text` as a saved-answers file and runs `checks --from-file` on it.
fn checks_text(text: &str) -> (tempfile::TempDir, std::path::PathBuf, Run) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("answers.json");
    std::fs::write(&path, text).expect("write answers");
    let out = run(with_config(&example_config())
        .arg("checks")
        .arg("--from-file")
        .arg(&path)
        .args(["--format", "json"]));
    (dir, path, out)
}

fn fixture_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("checks/{name}.json"))).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

#[test]
fn a_missing_file_is_invalid_input() {
    let out = checks("no-such-answers", &[]);
    assert_invalid(&out, "cannot read");
    assert_invalid(&out, "no-such-answers.json");
}

#[test]
fn a_file_that_is_not_json_is_invalid_input() {
    let (_dir, path, out) = checks_text("check_runs:\n  - name: Gitleaks\n");
    assert_invalid(&out, &format!("{}:1:", path.display()));
}

#[test]
fn an_unknown_top_level_key_is_invalid_input() {
    let mut answers = fixture_json("all-green");
    let runs = answers["check_runs"].take();
    answers
        .as_object_mut()
        .expect("object")
        .remove("check_runs");
    answers["check_run"] = runs;
    let (_dir, _path, out) = checks_text(&answers.to_string());
    assert_invalid(&out, "unknown field `check_run`");
}

#[test]
fn a_check_run_without_a_name_is_invalid_input() {
    let mut answers = fixture_json("pending");
    answers["check_runs"]["check_runs"][1]
        .as_object_mut()
        .expect("check run")
        .remove("name");
    let (_dir, path, out) = checks_text(&serde_json::to_string_pretty(&answers).expect("json"));
    // What is wrong, and where: `path:line:column: missing field `name``.
    assert_invalid(&out, &format!("{}:", path.display()));
    assert_invalid(&out, "missing field `name`");
    assert!(
        !out.stderr.contains("untagged enum"),
        "the real error, not serde's untagged-enum message:\n{}",
        out.stderr
    );
}

#[test]
fn an_unknown_environment_is_invalid_input() {
    let out = checks("all-green", &["--environment", "prod"]);
    assert_invalid(&out, "unknown environment `prod`");
}

#[test]
fn every_renderer_draws_the_same_failing_decision() {
    let fixture = fixture("checks/failing-and-missing.json");
    for format in ["text", "markdown", "json"] {
        let mut command = with_config(&example_config());
        command
            .args(["checks", "--from-file"])
            .arg(&fixture)
            .args(["--format", format]);
        let out = run(&mut command);
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        insta::assert_snapshot!(format!("checks_failing_and_missing_{format}"), out.stdout);
    }
}
