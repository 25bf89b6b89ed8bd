//! The command line as a user meets it: help, flags, exit codes, and `plan` on the example.

use crate::common::*;

const TUESDAY_10_PT: &str = "2026-11-24T10:00:00-08:00";
const BLACK_FRIDAY_10_PT: &str = "2026-11-27T10:00:00-08:00";

fn plan(at: &str, extra: &[&str]) -> Run {
    let mut command = with_config(&example_config());
    command
        .args([
            "plan",
            "--environment",
            "production",
            "--offline",
            "--at",
            at,
        ])
        .args(extra);
    run(&mut command)
}

#[test]
fn help_is_stable() {
    for args in [
        &["--help"][..],
        &["plan", "--help"],
        &["checks", "--help"],
        &["window", "--help"],
        &["config", "--help"],
        &["serve", "--help"],
    ] {
        let out = run(shipgate().args(args));
        assert_eq!(out.code, 0, "{args:?}");
        insta::assert_snapshot!(
            format!(
                "help_{}",
                args.join("_").trim_start_matches("--").replace("--", "")
            ),
            out.stdout
        );
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = run(shipgate().arg("--version"));
    assert_eq!(
        out.stdout,
        format!("shipgate {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn plan_on_the_example_in_business_hours_is_go() {
    let out = plan(TUESDAY_10_PT, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("plan_text_go", out.stdout);
}

#[test]
fn plan_renders_json_and_markdown_from_the_same_decision() {
    let json = plan(TUESDAY_10_PT, &["--format", "json"]);
    assert_eq!(json.code, 0);
    let decision: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(decision["schema"], "shipgate.decision/v1");
    assert_eq!(decision["outcome"], "go");
    assert_eq!(decision["exit_code"], 0);
    let gates: Vec<&str> = decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .map(|v| v["gate"].as_str().unwrap_or_default())
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
    let statuses: Vec<&str> = decision["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .map(|v| v["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        statuses,
        [
            "not_checked",
            "pass",
            "not_checked",
            "skipped",
            "skipped",
            "skipped"
        ]
    );
    assert_eq!(
        decision["plan"]["deploy_command"],
        serde_json::json!([
            "flyctl",
            "deploy",
            "--app",
            "hotdash-production",
            "--config",
            "fly.toml",
            "--strategy",
            "rolling",
            "--remote-only",
            "--yes"
        ])
    );
    insta::assert_snapshot!("plan_json_go", json.stdout);

    let markdown = plan(TUESDAY_10_PT, &["--format", "markdown"]);
    assert_eq!(markdown.code, 0);
    insta::assert_snapshot!("plan_markdown_go", markdown.stdout);
}

#[test]
fn plan_on_black_friday_is_blocked_and_says_when_it_opens() {
    let out = plan(BLACK_FRIDAY_10_PT, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(
            "shipgate plan: blocked by deploy-window; not checked: required-checks, staging\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "next opening: 2026-12-01T09:00:00-08:00 America/Los_Angeles (2026-12-01 17:00 UTC)"
        ),
        "{}",
        out.stdout
    );
    // A blocked plan still shows what deploy would do.
    assert!(out.stdout.contains("what deploy would do:"));
}

#[test]
fn plan_uses_the_fly_binary_deploy_would_use() {
    let mut command = with_config(&example_config());
    command.env("SHIPGATE_FLY", "/opt/fly/bin/fly").args([
        "plan",
        "-e",
        "staging",
        "--offline",
        "--format",
        "json",
    ]);
    let out = run(&mut command);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(decision["plan"]["deploy_command"][0], "/opt/fly/bin/fly");
    assert_eq!(
        decision["verdicts"][1]["status"], "skipped",
        "staging has windows: false"
    );
}

#[test]
fn plan_says_why_github_was_not_asked() {
    let mut command = with_config(&example_config());
    command.args(["plan", "-e", "production", "--at", TUESDAY_10_PT]);
    let out = run(&mut command);
    assert!(
        out.stdout
            .contains("not checked (no GITHUB_TOKEN or GH_TOKEN)"),
        "{}",
        out.stdout
    );
}

#[test]
fn quiet_prints_nothing_and_keeps_the_exit_code() {
    let out = plan(BLACK_FRIDAY_10_PT, &["-q"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (1, "", "")
    );
}

#[test]
fn bad_flags_exit_2_with_a_message_that_names_the_fix() {
    let cases: &[(&[&str], &str)] = &[
        (&["plan", "--environment", "prod", "--offline"], "error: unknown environment `prod`\nhint: use one defined under `environments`: `production`, `staging` (did you mean `production`?)"),
        (&["plan", "--offline"], "the following required arguments were not provided"),
        (&["plan", "-e", "production", "--at", "tomorrow"], "write an RFC 3339 time with an offset, e.g. 2026-11-27T10:00:00-08:00"),
        (&["plan", "-e", "production", "--at", "2026-11-27T10:00:00"], "write an RFC 3339 time with an offset"),
        (&["plan", "-e", "production", "--offlline"], "unexpected argument '--offlline'"),
        (&["--repo", "not a repo", "plan", "-e", "production"], "write the repository as OWNER/NAME"),
        (&["--format", "yaml", "plan", "-e", "production"], "invalid value 'yaml' for '--format <FORMAT>'"),
        (&["window", "--emergency"], "the following required arguments were not provided:\n  --reason <TEXT>"),
        (&["window", "--reason", "because it is on fire"], "the following required arguments were not provided:\n  --emergency"),
        (&["deploy-everything"], "unrecognized subcommand 'deploy-everything'"),
        (&["-q", "-v", "config", "validate"], "cannot be used with"),
    ];
    for (args, expected) in cases {
        let out = run(with_config(&example_config()).args(*args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(expected),
            "{args:?}: expected {expected:?} in\n{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
