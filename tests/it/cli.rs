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
            "next opening: 2026-12-01T09:00:00-08:00 America/Los_Angeles (2026-12-01 17:00:00 UTC)"
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
fn at_without_an_offset_is_read_in_the_config_time_zone_and_echoed() {
    // The example's production windows are in America/Los_Angeles: PST in November, PDT in July.
    for (local, exact) in [
        ("2026-11-27T10:00", BLACK_FRIDAY_10_PT),
        ("2026-11-24T10:00:00", TUESDAY_10_PT),
        ("2026-07-07T10:00", "2026-07-07T10:00:00-07:00"),
    ] {
        let read = plan(local, &["--format", "json"]);
        let given = plan(exact, &["--format", "json"]);
        assert_eq!(read.code, given.code, "{local}: {}", read.stderr);
        assert_eq!(read.stdout, given.stdout, "{local}");
        assert!(
            read.stderr
                .contains(&format!("read in America/Los_Angeles: {exact}")),
            "{local}: {}",
            read.stderr
        );
    }
    // Without windows there is no time zone to read it in: the offset is asked for.
    let (_dir, path) = temp_config(
        "version: 1\nenvironments:\n  production:\n    app: demo\n    windows: false\n    health: { machines: true }\n",
    );
    let out = run(with_config(&path).args([
        "plan",
        "-e",
        "production",
        "--offline",
        "--at",
        "2026-11-27T10:00",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--at 2026-11-27T10:00:00 has no offset, and environment `production` has no deploy windows")
            && out.stderr.contains("hint: write the offset"),
        "{}",
        out.stderr
    );
}

#[test]
fn plan_json_gives_health_and_rollback_as_data_and_says_what_was_not_checked() {
    let out = plan(TUESDAY_10_PT, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let plan = &decision["plan"];
    assert_eq!(plan["checked"]["all"], false);
    let not_checked: Vec<&str> = plan["checked"]["not_checked"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|n| n["gate"].as_str())
        .collect();
    assert_eq!(not_checked, ["required-checks", "staging"]);
    let health = &plan["health_gate"];
    assert_eq!(health["consecutive_successes"], 3);
    assert_eq!(health["deadline_seconds"], 300);
    assert_eq!(health["machines"], true);
    assert_eq!(
        health["endpoints"][0]["url"],
        "https://hotdash-production.fly.dev/health"
    );
    let rollback = &plan["rollback_path"];
    assert_eq!(rollback["workflow"]["file"], "rollback-production.yml");
    assert_eq!(rollback["max_consecutive"], 3);
    let direct: Vec<&str> = rollback["direct_command"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        direct.ends_with(&["--image", "PREVIOUS_IMAGE"]) && direct.contains(&"immediate"),
        "{direct:?}"
    );
    // The new fields read back: `report --from-json` draws the same JSON.
    let read = shipgate::decision::Decision::from_json(&out.stdout).expect("reads back");
    assert_eq!(shipgate::render::json::render(&read), out.stdout);
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
        (&["plan", "-e", "production", "--at", "tomorrow"], "`tomorrow` is not a time; write RFC 3339 with an offset (2026-11-27T10:00:00-08:00"),
        (&["plan", "-e", "production", "--at", "2026-11-27T25:00"], "or a local time (2026-11-27T10:00) read in the config's time zone"),
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

#[test]
fn the_license_matches_cargo_toml_and_the_readme_cites_only_the_repository() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("\nlicense = \"MIT\"\n"),
        "Cargo.toml's license changed"
    );
    let license = std::fs::read_to_string(root().join("LICENSE")).expect("a LICENSE file");
    assert!(
        license.starts_with("MIT License\n\nCopyright (c) ")
            && license.contains("the shipgate authors")
            && license.contains("THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND"),
        "{license}"
    );
    // Documents outside the repository are not cited: no SPEC, no shared reference files.
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    for outside in ["SPEC", "reference/", "../shared", "STYLE.md"] {
        assert!(!readme.contains(outside), "README.md cites {outside}");
    }
}
