//! `shipgate window`: the deploy-window gate alone, and the emergency override.

use crate::common::*;

const BLACK_FRIDAY_10_PT: &str = "2026-11-27T10:00:00-08:00";
const REASON: &str = "INC-142: checkout returns 500, hotfix a1b2c3d";

fn window(args: &[&str]) -> Run {
    run(with_config(&example_config()).arg("window").args(args))
}

fn json(out: &Run) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[test]
fn a_closed_window_blocks_and_names_the_rule_and_next_opening() {
    let out = window(&["--at", BLACK_FRIDAY_10_PT, "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let decision = json(&out);
    assert_eq!(decision["outcome"], "blocked");
    let evidence = &decision["verdicts"][0]["evidence"][0];
    assert_eq!(evidence["kind"], "window");
    assert_eq!(evidence["open"], false);
    assert_eq!(evidence["rule"], "Black Friday / Cyber Monday");
    assert_eq!(evidence["rule_kind"], "deny");
    assert_eq!(
        evidence["next_opening"]["local"],
        "2026-12-01T09:00:00-08:00"
    );
    assert_eq!(evidence["next_opening"]["utc"], "2026-12-01T17:00:00Z");
    assert_eq!(evidence["next_opening"]["timezone"], "America/Los_Angeles");
}

#[test]
fn an_environment_without_windows_is_skipped() {
    let out = window(&["-e", "staging", "--at", BLACK_FRIDAY_10_PT]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("skipped      deploy-window  no deploy windows apply to this environment"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_emergency_override_passes_and_is_shown_everywhere() {
    let mut command = with_config(&example_config());
    command.env("GITHUB_ACTOR", "octocat").args([
        "window",
        "-e",
        "production",
        "--at",
        BLACK_FRIDAY_10_PT,
        "--emergency",
        "--reason",
        REASON,
    ]);
    let text = run(&mut command);
    assert_eq!(text.code, 0, "{}", text.stderr);
    insta::assert_snapshot!("window_override_text", text.stdout);

    let out = run(command.args(["--format", "json"]));
    let decision = json(&out);
    assert_eq!(decision["outcome"], "go");
    assert_eq!(
        decision["summary"],
        "go only by EMERGENCY OVERRIDE of deploy-window"
    );
    assert_eq!(
        decision["verdicts"][0]["override"],
        serde_json::json!({"actor": "octocat", "reason": REASON, "overrode": "fail"})
    );

    let mut command = with_config(&example_config());
    command.env("GITHUB_ACTOR", "octocat").args([
        "window",
        "--at",
        BLACK_FRIDAY_10_PT,
        "--emergency",
        "--reason",
        REASON,
        "--format",
        "markdown",
    ]);
    let markdown = run(&mut command);
    insta::assert_snapshot!("window_override_markdown", markdown.stdout);
}

#[test]
fn a_short_reason_is_bad_input() {
    let out = window(&[
        "--at",
        BLACK_FRIDAY_10_PT,
        "--emergency",
        "--reason",
        "hotfix",
    ]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: the emergency reason is 6 characters; this config requires at least 15\nhint: say what is broken and link the incident, e.g. --reason \"INC-142: checkout 500s, hotfix a1b2c3\"\n"
    );
}

#[test]
fn only_listed_actors_may_override() {
    let text = std::fs::read_to_string(root().join("examples/shipgate.yml"))
        .expect("example")
        .replace("actors: []", "actors: [octocat]");
    let (_dir, path) = temp_config(&text);
    let as_actor = |actor: &str| {
        let mut command = with_config(&path);
        command.env("GITHUB_ACTOR", actor).args([
            "window",
            "--at",
            BLACK_FRIDAY_10_PT,
            "--emergency",
            "--reason",
            REASON,
        ]);
        run(&mut command)
    };
    let refused = as_actor("mallory");
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stdout
            .contains("emergency override refused: `mallory` may not override; allowed: octocat"),
        "{}",
        refused.stdout
    );
    assert_eq!(as_actor("octocat").code, 0);
    assert_eq!(
        as_actor("OctoCat").code,
        0,
        "GitHub logins are case-insensitive"
    );
}

#[test]
fn without_an_environment_the_only_one_or_the_top_level_block_applies() {
    let only_env_windows = "version: 1\nchecks: { required: [ci] }\nenvironments:\n  production:\n    app: demo\n    windows: { allow: [{ days: mon-fri }] }\n  staging: { app: demo-staging }\n";
    let (_dir, path) = temp_config(only_env_windows);
    let out = run(with_config(&path).args(["window", "--at", "2026-11-28T10:00:00Z"]));
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(
        out.stderr,
        "error: there is no top-level `windows` block, and environments have their own\nhint: name one: --environment production\n"
    );
    let single = only_env_windows.replace("  staging: { app: demo-staging }\n", "");
    let (_dir, path) = temp_config(&single);
    let out = run(with_config(&path).args(["window", "--at", "2026-11-28T10:00:00Z"]));
    assert_eq!(
        out.code, 1,
        "a Saturday, for the only environment: {}",
        out.stdout
    );
}

/// A freeze written with floating days closes the same days every year: it never expires.
#[test]
fn a_floating_freeze_closes_every_year() {
    let text = "version: 1
windows:
  timezone: America/New_York
  deny:
    - { name: Peak, from: black-friday, to: cyber-monday }
  extra_holidays: [4th thu nov]
environments:
  production:
    app: demo
";
    let (_dir, path) = temp_config(text);
    let at = |when: &str| {
        let out = run(with_config(&path).args(["window", "--at", when, "--format", "json"]));
        let decision: serde_json::Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
        (out.code, decision["verdicts"][0]["evidence"][0].clone())
    };
    // Thanksgiving, Black Friday and Cyber Monday, 2026 and 2031; the days around them open.
    for (when, closed_by) in [
        (
            "2026-11-26T12:00:00-05:00",
            Some("4th thu nov (every year)"),
        ),
        ("2026-11-27T12:00:00-05:00", Some("Peak")),
        ("2026-11-30T23:00:00-05:00", Some("Peak")),
        ("2026-12-01T12:00:00-05:00", None),
        ("2026-11-25T08:00:00-05:00", None),
        ("2031-11-28T12:00:00-05:00", Some("Peak")),
        ("2031-12-01T12:00:00-05:00", Some("Peak")),
        ("2031-12-02T12:00:00-05:00", None),
    ] {
        let (code, evidence) = at(when);
        match closed_by {
            Some(rule) => {
                assert_eq!(code, 1, "{when}: {evidence}");
                assert_eq!(evidence["rule"], rule, "{when}");
            }
            None => assert_eq!(code, 0, "{when}: {evidence}"),
        }
        // No `runway:` in the config: the time a deploy takes, and where that came from.
        assert_eq!(
            evidence["runway"], "20m (derived: deploy_timeout 15m + health deadline 5m)",
            "{when}"
        );
    }
}
