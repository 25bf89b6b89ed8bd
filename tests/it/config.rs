//! `shipgate config validate | schema | explain`, and every kind of bad config.

use crate::common::*;

const GOOD: &str = "version: 1
checks:
  required: [ci]
windows:
  timezone: America/Los_Angeles
  allow:
    - days: mon-fri
      hours: \"09:00-17:00\"
environments:
  staging:
    app: demo-staging
  production:
    app: demo
    requires: [staging]
";

fn validate(text: &str) -> Run {
    let (_dir, path) = temp_config(text);
    run(with_config(&path).args(["config", "validate"]))
}

/// Replaces the first occurrence of `from` in the good config.
fn good_with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

#[test]
fn the_example_is_valid() {
    let out = run(with_config(&example_config()).args(["config", "validate"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .ends_with("valid (2 environments: production, staging)\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_good_config_is_valid() {
    let out = validate(GOOD);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// Each bad config: what to change in the good one, the location, the message, and the hint.
#[test]
fn every_bad_config_is_located_named_and_hinted() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("version: 1", "version: 2", "1:10", "version: unsupported version 2", "set `version: 1`"),
        ("checks:", "chekcs:", "2:1", "unknown field `chekcs`", "did you mean `checks`?"),
        ("      hours:", "      hourz:", "8:7", "windows.allow[0]: unknown field `hourz`", "did you mean `hours`?"),
        ("  required: [ci]", "  required: ci", "3:13", "checks.required: invalid type: string \"ci\", expected a list", "write a list here"),
        ("America/Los_Angeles", "America/Los_Angles", "5:13", "windows.timezone: unknown time zone `America/Los_Angles`", "did you mean `America/Los_Angeles`?"),
        ("\"09:00-17:00\"", "\"17:00-09:00\"", "8:14", "windows.allow[0].hours: `17:00-09:00` ends before it starts", "split it into two rules"),
        ("\"09:00-17:00\"", "\"9am-5pm\"", "8:14", "windows.allow[0].hours: `9am` is not HH:MM", "24-hour clock"),
        ("\"09:00-17:00\"", "\"09:00-24:30\"", "8:14", "`24:30` is not a time of day", "`24:00` is allowed as an end"),
        ("mon-fri", "mon-fry", "7:13", "windows.allow[0].days: `mon-fry` is not a day range", "mon tue wed thu fri sat sun"),
        ("    requires: [staging]", "    requires: [stagin]", "14:16", "environments.production.requires[0]: unknown environment `stagin`", "did you mean `staging`?"),
        ("    requires: [staging]", "    requires: [production]", "14:16", "`production` requires itself", "remove it"),
        ("    app: demo\n", "    app: Demo_App\n", "13:10", "environments.production.app: `Demo_App` is not a Fly app name", "lowercase letters"),
        ("    app: demo\n", "    apps: demo\n", "13:5", "unknown field `apps`", "did you mean `app`?"),
        ("    app: demo-staging\n", "    fly_config: fly.toml\n", "11:5", "environments.staging: missing field `app`", "add `app:` to this block"),
        ("  required: [ci]", "  required: []\n  from_branch_rules: false", "3:3", "checks: no checks would be required", "set `from_branch_rules: true`"),
        ("  required: [ci]", "  required: [ci]\n  wait: 20", "4:9", "checks.wait: bad duration: `20` has no unit", "`90s`, `5m`, `1h30m`"),
        ("  required: [ci]", "  required: [ci]\n  wait: 5min", "4:9", "checks.wait: bad duration: `min` is not a unit", "`90s`, `5m`, `1h30m`"),
        ("  required: [ci]", "  required: [ci]\n  ignore: [\"[oops\"]", "4:12", "checks.ignore[0]: bad glob `[oops`", "escape a literal `[`"),
        ("    requires: [staging]", "    requires: [staging]\n    strategy: rollng", "15:15", "unknown strategy `rollng`", "did you mean `rolling`?"),
        ("    requires: [staging]", "    requires: [staging]\n    url: ftp://example.com", "15:10", "`ftp://example.com` is not an http(s) URL", "https://my-app.fly.dev"),
        ("    requires: [staging]", "    requires: [staging]\n    deploy_timeout: 0", "15:21", "environments.production.deploy_timeout: must be more than 0", "`15m`"),
        ("  staging:\n    app: demo-staging", "  staging:\n    app: demo-staging\n    requires: [production]", "15:15", "`requires` forms a cycle: production -> staging -> production", "remove one"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  deny:\n    - cron: \"0 18 * *\"\n      duration: 14h\n", "10:13", "windows.deny[0].cron: `0 18 * *` is not a 5-field cron expression", "minute hour day-of-month month day-of-week"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  deny:\n    - cron: \"61 18 * * thu\"\n      duration: 14h\n", "10:13", "windows.deny[0].cron: bad cron expression `61 18 * * thu`", "e.g. `0 18 * * thu`"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  deny:\n    - cron: \"0 0 31 2 *\"\n      duration: 1h\n", "10:13", "`0 0 31 2 *` never fires", "day-of-month"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  deny:\n    - cron: \"0 18 * * thu\"\n", "10:7", "windows.deny[0]: a cron deny rule needs both `cron` and `duration`", "`duration: 14h`"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  deny:\n    - { from: 2026-02-30, to: 2026-03-02 }\n", "10:15", "windows.deny[0].from: `2026-02-30` is not a date", "YYYY-MM-DD"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  deny:\n    - { from: 2026-12-02, to: 2026-12-01 }\n", "10:31", "windows.deny[0].to: `to` (2026-12-01) is not after `from` (2026-12-02)", "swap them"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  deny:\n    - { days: fri, cron: \"0 18 * * thu\", duration: 1h }\n", "10:7", "windows.deny[0]: deny rule mixes forms", "a deny rule is one of"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  holidays: [us-federl]\n", "9:14", "windows.holidays[0]: unknown holiday calendar `us-federl`", "did you mean `us-federal`?"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  extra_holidays: [2026-13-01]\n", "9:20", "windows.extra_holidays[0]: `2026-13-01` is not a date", "YYYY-MM-DD"),
        ("    app: demo\n", "    app: demo\n    url: https://demo.fly.dev\n    health:\n      endpoints:\n        - path: health\n          status: [700]\n", "17:17", "environments.production.health.endpoints[0].path: `health` is not a path on the app", "starting with `/`"),
        ("    app: demo\n", "    app: demo\n    url: https://demo.fly.dev\n    health:\n      endpoints:\n        - path: /health\n          fallback: { path: /, when: [404, 503] }\n", "18:44", "environments.production.health.endpoints[0].fallback.when[1]: 503 means the app answered badly, not that it has no such endpoint", "must not hide a failing endpoint"),
        ("    app: demo\n", "    app: demo\n    url: https://demo.fly.dev\n    health:\n      endpoints:\n        - path: /health\n          status: [200, 404]\n          fallback: { path: /, when: [404] }\n", "19:39", "fallback.when[0]: 404 is also in the endpoint's `status`", "remove 404 from one of the two lists"),
        ("    app: demo\n", "    app: demo\n    url: https://demo.fly.dev\n    health:\n      endpoints:\n        - path: /health\n          fallback: { path: /, when: [] }\n", "18:38", "fallback.when: no status codes listed: the fallback would never be probed", "or remove `fallback`"),
        ("    app: demo\n", "    app: demo\n    url: https://demo.fly.dev\n    health:\n      endpoints:\n        - path: /version\n          json: { \"/commit\": \"${SHA}\" }\n", "18:30", "environments.production.health.endpoints[0].json./commit: `${SHA}` is not a placeholder", "did you mean `${sha}`?"),
        ("    app: demo\n", "    app: demo\n    url: https://demo.fly.dev\n    health:\n      endpoints:\n        - path: /version\n          json: { \"/build\": { \"tag\": \"v${version}-${commit}\" } }\n", "18:29", "`${commit}` is not a placeholder", "the placeholders are `${sha}` (the deployed commit), `${version}` (the Fly release version) and `${image}` (the deployed image)"),
        ("    app: demo\n", "    app: demo\n    rollback:\n      direct: false\n", "15:7", "environments.production.rollback: no rollback path", "`workflow: rollback-production.yml`"),
        ("    app: demo\n", "    app: demo\n    rollback:\n      recovery_target: 0s\n", "15:24", "environments.production.rollback.recovery_target: must be more than 0", "`5m`"),
        ("    app: demo\n", "    app: demo\n    notify:\n      webhook: true\n      events: [succeeded, deployed]\n", "16:27", "environments.production.notify.events[1]: unknown event `deployed`", "use one of: `started`, `succeeded`"),
        ("    app: demo\n", "    app: demo\n    notify:\n      email: { to: [oncall@, ops@example.com], from: deploys@example.com, events: [rolled_back] }\n", "15:21", "environments.production.notify.email.to[0]: `oncall@` is not an email address", "`name@example.com`"),
        ("    app: demo\n", "    app: demo\n    notify:\n      email: { to: [], from: deploys@example.com }\n", "15:20", "environments.production.notify.email.to: no recipients", "list at least one address"),
        ("    app: demo\n", "    app: demo\n    notify:\n      slack: { url_env: \"https://hooks.slack.com/T0/B0/x\" }\n", "15:25", "environments.production.notify.slack.url_env: `https://hooks.slack.com/T0/B0/x` is not an environment variable name", "never the value itself"),
        ("    app: demo\n", "    app: demo\n    notify:\n      discord: { events: [] }\n", "15:26", "environments.production.notify.discord.events: no events", "or remove the channel"),
        ("    app: demo\n", "    app: demo\n    url: http://demo.fly.dev\n    health:\n      tls_min_days: 30\n      endpoints: [{ path: /health }]\n", "16:21", "environments.production.health.tls_min_days: `tls_min_days` needs an https `url`", "or remove `tls_min_days`"),
        ("    app: demo\n", "    app: demo\n    windows: {timezone: Mars/Olympus}\n", "14:25", "environments.production.windows.timezone: unknown time zone `Mars/Olympus`", "IANA name"),
        ("    requires: [staging]", "    requires: [staging]\n    url: https://admin:hunter2@demo.fly.dev", "15:10", "environments.production.url: the URL carries credentials", "remove `user:password@`"),
        ("    requires: [staging]", "    requires: [staging]\n    url: https://demo.fly.dev/?x=1#top", "15:10", "has a query or fragment", "write the base URL only"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  extra_holidays: [26-12-24]\n", "9:20", "windows.extra_holidays[0]: `26-12-24` is not a date", "YYYY-MM-DD"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  deny:\n    - { cron: \"0 0 * * *\", duration: 100000000d }\n", "10:38", "windows.deny[0].duration: longer than 31d", "use a date range"),
        ("  production:\n", "  staging:\n    app: other\n  production:\n", "10:3", "environments: duplicate key `staging`", "each key may appear once"),
        ("    app: demo\n", "    app: demo\n    health: { machines: false }\n", "14:13", "environments.production.health: the health gate would check nothing", "set `machines: true`"),
        ("    app: demo\n", "    app: demo\n    health: { endpoints: [{ path: /health }] }\n", "14:26", "health endpoints are configured but the environment has no `url`", "add `url: https://<app>.fly.dev`"),
        ("    app: demo\n", "    app: demo\n    watch:\n      duration: 15m\n      rules:\n        - {name: errors, prometheus: 'sum(errors_total)', max: 5}\n", "17:64", "environments.production.watch.rules[0].max: `5` has no unit", "`1%` for a ratio, `2s` or `250ms` for a latency"),
        ("    app: demo\n", "    app: demo\n    watch:\n      duration: 15m\n      rules:\n        - {error_rate: {max: 1%}, p95: {max: 2s}}\n", "17:11", "the rule names 2 metrics: error_rate, p95", "one metric per rule"),
        ("    app: demo\n", "    app: demo\n    watch:\n      duration: 15m\n      rules:\n        - error_rate: {max: 2s}\n", "17:29", "watch.rules[0].error_rate.max: `2s` is not a percentage", "e.g. `1%`"),
        ("    app: demo\n", "    app: demo\n    watch:\n      duration: 15m\n      rules:\n        - {name: panics, logs: 'panic(', max: 0}\n", "17:32", "watch.rules[0].logs: bad regex", "regular expression"),
        ("    app: demo\n", "    app: demo\n    watch:\n      duration: 15m\n      rules: []\n", "16:14", "watch.rules: the watch has no rules", "`- error_rate: {max: 1%}`"),
        ("    app: demo\n", "    app: demo\n    watch:\n      duration: 15m\n      rules:\n        - {name: errors, prometheus: 'sum(errors_total{service=\"${service}\"})', max: 1/s}\n", "17:38", "unknown variable `${service}` in the query", "`app`, `version`, `interval`"),
        ("    app: demo\n", "    app: demo\n    watch:\n      duration: 15m\n      source: scrape\n      rules:\n        - error_rate: {max: 1%}\n", "18:9", "`scrape` rules read the app's metrics endpoint, but the environment has no `url`", "or use `source: prometheus`"),
        ("    app: demo\n", "    app: demo\n    watch:\n      duration: 30s\n      interval: 1m\n      rules:\n        - p95: {max: 2s}\n", "15:17", "the watch (30s) is shorter than one interval (1m)", "`duration: 15m`"),
        ("    app: demo\n", "    app: demo\n    steps:\n      before_deploy:\n        - {name: migrate, run: [psql, \"${env.DATABASE_URL}\"]}\n", "16:39", "steps.before_deploy[0].run[1]: unknown variable `${env.DATABASE_URL}`", "allowed in `env:` values only"),
        ("  required: [ci]", "  required: [ci]\n  interval: 1ms", "4:13", "checks.interval: the poll interval must be at least 1s", "`15s`"),
        ("  required: [ci]", "  required: [ci]\n  <<: {wait: 1m}", "4:3", "unknown field `<<`", "merge keys"),
        ("    requires: [staging]", "    requires: [staging]\n    approval:\n      required: true\n      reviewers_from: codeowners", "17:23", "environments.production.approval.reviewers_from: unknown reviewers source `codeowners`", "the GitHub Environment's required reviewers; use one of: `environment`"),
        ("    requires: [staging]", "    requires: [staging]\n    approval:\n      requird: true", "16:7", "environments.production.approval: unknown field `requird`", "did you mean `required`?"),
        ("    requires: [staging]", "    requires: [staging]\n    approval: true", "15:15", "environments.production.approval: invalid type: boolean `true`, expected a block of keys", "write a block of keys here"),
        ("      hours: \"09:00-17:00\"\n", "      hours: \"09:00-17:00\"\n  emergency:\n    requires_approval: \"yes\"\n", "10:24", "windows.emergency.requires_approval: invalid type: string \"yes\", expected a boolean", "write a boolean here"),
        ("  required: [ci]", "  required: [ci]\nwindows: false", "4:10", "windows: invalid type: boolean `false`, expected a block of keys", "write a block of keys here"),
        ("  required: [ci]", "  required: [ci\nwindows2: x", "4:9", "did not find expected ',' or ']'", "check the YAML syntax here"),
    ];
    let mut wrong = Vec::new();
    for (from, to, location, message, hint) in cases {
        let out = validate(&good_with(from, to));
        let first = out.stderr.lines().next().unwrap_or_default();
        let hint_line = out.stderr.lines().nth(1).unwrap_or_default();
        let ok = out.code == 2
            && first.contains(&format!("shipgate.yml:{location}: "))
            && first.contains(message)
            && hint_line.starts_with("  hint: ")
            && hint_line.contains(hint)
            && out
                .stderr
                .lines()
                .last()
                .unwrap_or_default()
                .starts_with("error: ")
            && out.stdout.is_empty();
        if !ok {
            wrong.push(format!(
                "{to:?}\n  wanted {location} {message:?} / {hint:?}\n  got exit {}: {}",
                out.code, out.stderr
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = good_with(
        "    app: demo\n",
        "    app: demo\n    strategy: rollng\n    deploy_timeout: 5 min\n",
    )
    .replace("\"09:00-17:00\"", "\"17:00-09:00\"");
    let out = validate(&text);
    assert_eq!(out.code, 2);
    let located: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("shipgate.yml:"))
        .collect();
    assert_eq!(located.len(), 3, "{}", out.stderr);
    assert!(out.stderr.ends_with("has 3 problems\n"), "{}", out.stderr);
}

#[test]
fn a_missing_config_names_the_fix() {
    let dir = tempfile::tempdir().expect("dir");
    let out = run(shipgate()
        .current_dir(dir.path())
        .args(["config", "validate"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("error: no config file at .github/shipgate.yml"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: or point to it with --config PATH"),
        "{}",
        out.stderr
    );

    let out = run(shipgate().args(["--config", "nope/shipgate.yml", "config", "validate"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("error: cannot read nope/shipgate.yml"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_config_path_comes_from_the_environment_too() {
    let out = run(shipgate()
        .env("SHIPGATE_CONFIG", example_config())
        .args(["config", "validate"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn environment_blocks_override_top_level_fields_they_set() {
    let text = good_with(
        "    requires: [staging]",
        "    requires: [staging]\n    windows:\n      runway: 1h\n    checks:\n      wait: 5m",
    );
    let (_dir, path) = temp_config(&text);
    let out =
        run(with_config(&path).args(["config", "explain", "--at", "2026-11-24T10:00:00-08:00"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let production = out
        .stdout
        .split("environment `production`")
        .nth(1)
        .expect("production section");
    assert!(
        production.contains("runway: refuse when the window closes or a deny starts within 1h"),
        "{production}"
    );
    assert!(
        production.contains("allowed: mon-fri 09:00-17:00"),
        "inherits allow: {production}"
    );
    assert!(
        production.contains("wait up to 5m for pending checks, polling every 15s"),
        "{production}"
    );
    assert!(
        production.contains("required checks: ci"),
        "inherits required: {production}"
    );
}

#[test]
fn the_schema_describes_the_file() {
    let out = run(shipgate().args(["config", "schema"]));
    assert_eq!(out.code, 0);
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(schema["title"], "shipgate configuration");
    assert_eq!(
        schema["required"],
        serde_json::json!(["version", "environments"])
    );
    assert_eq!(schema["additionalProperties"], false);
    let windows = &schema["$defs"]["RawWindows"]["properties"];
    assert!(
        windows["timezone"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("IANA"),
        "{windows}"
    );
    assert!(schema["$defs"]["RawEnvironment"]["required"]
        .as_array()
        .is_some_and(|r| r.contains(&"app".into())));
}

#[test]
fn explain_tells_the_windows_in_local_time_and_utc() {
    let out = run(with_config(&example_config()).args([
        "config",
        "explain",
        "--at",
        "2026-11-23T00:00:00-08:00",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("explain_example", out.stdout);
}

#[test]
fn a_byte_order_mark_is_not_a_document() {
    let out = validate(&format!("\u{feff}{GOOD}"));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_file_that_is_not_utf8_says_so() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("shipgate.yml");
    std::fs::write(&path, b"version: 1\n\xff\xfe\n").expect("write");
    let out = run(with_config(&path).args(["config", "validate"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.ends_with("hint: save the file as UTF-8\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn explain_lists_only_openings_long_enough_for_the_runway() {
    let text = good_with("  allow:", "  runway: 9h\n  allow:");
    let (_dir, path) = temp_config(&text);
    let out =
        run(with_config(&path).args(["config", "explain", "--at", "2026-11-23T00:00:00-08:00"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("openings in the next 7 days:\n      none\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn explain_as_markdown_draws_the_week_of_openings_as_a_gantt() {
    // The example: business hours 09:00-17:00 PT on weekdays, a 30m runway, Thanksgiving week's
    // freeze from Thursday on.
    let out = run(with_config(&example_config()).args([
        "config",
        "explain",
        "--format",
        "markdown",
        "--at",
        "2026-11-23T00:00:00-08:00",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let chart = out
        .stdout
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("no mermaid chart:\n{}", out.stdout));
    assert!(chart.starts_with("gantt\n"), "{chart}");
    assert!(
        chart.contains("    dateFormat YYYY-MM-DD HH:mm:ss\n"),
        "{chart}"
    );
    let days: Vec<&str> = chart
        .lines()
        .filter_map(|line| line.strip_prefix("    section "))
        .collect();
    assert_eq!(days, ["Mon 11-23", "Tue 11-24", "Wed 11-25"], "{chart}");
    assert!(
        chart.contains(
            "    deploys start 09#58;00-16#58;30 :t1, 2026-11-23 09:00:00, 2026-11-23 16:30:00\n"
        ) && chart.contains(
            "    runway to 17#58;00 :crit, t2, 2026-11-23 16:30:00, 2026-11-23 17:00:00\n"
        ),
        "{chart}"
    );
}

#[test]
fn a_config_from_a_pull_request_is_bounded_in_size_depth_and_durations() {
    // Size: read no further than 1 MiB.
    let huge = format!("{GOOD}# {}\n", "x".repeat(2 * 1024 * 1024));
    let out = validate(&huge);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("at most 1048576 (1 MiB) are read"),
        "{}",
        out.stderr
    );
    // Depth: runaway flow nesting is refused before the YAML parser sees it.
    let deep = good_with(
        "required: [ci]",
        &format!("required: {}ci{}", "[".repeat(100_000), "]".repeat(100_000)),
    );
    let out = validate(&deep);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("levels deep; at most 32 are read"),
        "{}",
        out.stderr
    );
    // Durations: a day at most, the limit named.
    let long = good_with(
        "    app: demo\n",
        "    app: demo\n    deploy_timeout: 48h\n",
    );
    let out = validate(&long);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("deploy_timeout: `48h` is longer than the limit of 1d"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: use at most `24h`"),
        "{}",
        out.stderr
    );
    // A legitimate config with its deepest block and flow nesting stays valid.
    let out = run(with_config(&example_config()).args(["config", "validate"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// A checkout with `.github/shipgate.yml` naming `strategy` and a `fly.toml` beside it, for
/// commands run from that directory (fly.toml is read as `fly deploy --config` reads it).
fn app_checkout(strategy: &str, fly_toml: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join(".github")).expect("mkdir");
    std::fs::write(
        dir.path().join(".github/shipgate.yml"),
        format!(
            "version: 1\nenvironments:\n  production:\n    app: demo\n    fly_config: fly.toml\n    strategy: {strategy}\n"
        ),
    )
    .expect("write config");
    if let Some(text) = fly_toml {
        std::fs::write(dir.path().join("fly.toml"), text).expect("write fly.toml");
    }
    dir
}

const WITH_MOUNTS: &str = "app = 'demo'\n\n[[mounts]]\nsource = 'data'\ndestination = '/data'\n\n[http_service]\ninternal_port = 8080\n";
const WITH_CHECKS: &str = "app = 'demo'\n\n[http_service]\ninternal_port = 8080\n\n[[http_service.checks]]\npath = '/health'\ninterval = '15s'\n";

#[test]
fn a_strategy_flyctl_refuses_for_the_fly_toml_is_invalid() {
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "canary",
            WITH_MOUNTS,
            &[
                "environment `production`",
                "strategy `canary`",
                "volume mounts",
                "fly.toml",
            ],
            "hint: use `strategy: rolling` or `immediate`",
        ),
        (
            "bluegreen",
            "app = 'demo'\n\n[http_service]\ninternal_port = 8080\n",
            &[
                "environment `production`",
                "strategy `bluegreen`",
                "at least one health check",
                "fly.toml",
            ],
            "hint: add a [[http_service.checks]]",
        ),
        (
            "bluegreen",
            WITH_MOUNTS,
            &["strategy `bluegreen`", "at least one health check"],
            "hint: add a [[http_service.checks]]",
        ),
    ];
    for (strategy, fly_toml, messages, hint) in cases {
        let dir = app_checkout(strategy, Some(fly_toml));
        for args in [
            &["config", "validate"][..],
            &["plan", "--environment", "production", "--offline"][..],
        ] {
            let out = run(shipgate().current_dir(dir.path()).args(args));
            assert_eq!(out.code, 2, "{strategy} {args:?}: {}", out.stderr);
            for message in *messages {
                assert!(out.stderr.contains(message), "{message}: {}", out.stderr);
            }
            assert!(out.stderr.contains(hint), "{hint}: {}", out.stderr);
        }
    }
}

#[test]
fn a_strategy_flyctl_accepts_for_the_fly_toml_is_valid() {
    let cases = [
        ("canary", Some(WITH_CHECKS)),
        ("bluegreen", Some(WITH_CHECKS)),
        ("rolling", Some(WITH_MOUNTS)),
        ("immediate", Some(WITH_MOUNTS)),
        // Validated outside the app's checkout: nothing to hold the strategy against.
        ("canary", None),
        ("bluegreen", None),
    ];
    for (strategy, fly_toml) in cases {
        let dir = app_checkout(strategy, fly_toml);
        let out = run(shipgate()
            .current_dir(dir.path())
            .args(["config", "validate"]));
        assert_eq!(out.code, 0, "{strategy} {fly_toml:?}: {}", out.stderr);
        assert!(
            out.stdout.contains("valid (1 environment: production)"),
            "{}",
            out.stdout
        );
        let out = run(shipgate().current_dir(dir.path()).args([
            "plan",
            "--environment",
            "production",
            "--offline",
        ]));
        assert_eq!(out.code, 0, "{strategy} {fly_toml:?}: {}", out.stderr);
        assert!(
            out.stdout.contains(&format!("--strategy {strategy}")),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn a_fly_toml_that_does_not_parse_is_named_with_its_location() {
    let dir = app_checkout(
        "rolling",
        Some("app = 'demo'\n[http_service\ninternal_port = 8080\n"),
    );
    for args in [
        &["config", "validate"][..],
        &["plan", "--environment", "production", "--offline"][..],
        &[
            "deploy",
            "--environment",
            "production",
            "--ref",
            "main",
            "--reason",
            "r",
        ][..],
    ] {
        let out = run(shipgate().current_dir(dir.path()).args(args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("error: environment `production`: cannot parse fly.toml: TOML parse error at line 2, column"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn deploy_refuses_the_strategy_before_anything_changes() {
    let dir = app_checkout("canary", Some(WITH_MOUNTS));
    // No fly, no GitHub: the refusal comes first, before a repository or flyctl is needed.
    let out = run(shipgate().current_dir(dir.path()).args([
        "deploy",
        "--environment",
        "production",
        "--ref",
        "main",
        "--reason",
        "ship it",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("strategy `canary`"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("hint: use `strategy: rolling` or `immediate`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_watch_longer_than_a_hosted_job_is_valid_with_a_warning() {
    let out = validate(&good_with(
        "    app: demo\n",
        "    app: demo\n    watch:\n      duration: 7h\n      rules:\n        - p95: {max: 2s}\n",
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("environments.production.watch.duration is 7h")
            && out
                .stderr
                .contains("longer than a GitHub-hosted job may run (6h)"),
        "{}",
        out.stderr
    );
}

/// An unknown key hides nothing: a mistyped value, a bad duration and a bad time zone after
/// it are reported in the same run, in file order.
#[test]
fn an_unknown_key_hides_no_other_problem() {
    let text = "version: 1
checks:
  required: [ci]
  wiat: 5m
windows:
  timezone: America/Los_Angles
environments:
  production:
    app: demo
    deploy_timeout: 5 min
    approval: true
";
    let out = validate(text);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let located: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("shipgate.yml:"))
        .collect();
    let expected = [
        ("4:3", "checks: unknown field `wiat`"),
        (
            "6:13",
            "windows.timezone: unknown time zone `America/Los_Angles`",
        ),
        (
            "10:21",
            "environments.production.deploy_timeout: bad duration",
        ),
        (
            "11:15",
            "environments.production.approval: invalid type: boolean `true`",
        ),
    ];
    assert_eq!(located.len(), expected.len(), "{}", out.stderr);
    for (line, (location, message)) in located.iter().zip(expected) {
        assert!(
            line.contains(&format!("shipgate.yml:{location}: {message}")),
            "wanted {location} {message}\n{}",
            out.stderr
        );
    }
    assert!(out.stderr.ends_with("has 4 problems\n"), "{}", out.stderr);
}

#[test]
fn unknown_keys_and_mistyped_values_anywhere_are_all_reported() {
    let text = "version: 1
checks:
  required: ci
environments:
  production:
    app: demo
    aap: demo
    health: { machines: \"yes\", endpoints: [] }
    windows:
      timezone: UTC
      allow: [{ days: mon-fri, houres: \"09:00-17:00\" }]
";
    let out = validate(text);
    assert_eq!(out.code, 2, "{}", out.stderr);
    for (location, message) in [
        ("3:13", "checks.required: invalid type"),
        ("7:5", "environments.production: unknown field `aap`"),
        (
            "8:25",
            "environments.production.health.machines: invalid type",
        ),
        (
            "11:32",
            "environments.production.windows.allow[0]: unknown field `houres`",
        ),
    ] {
        assert!(
            out.stderr
                .contains(&format!("shipgate.yml:{location}: {message}")),
            "wanted {location} {message}\n{}",
            out.stderr
        );
    }
    // The health block lost a mistyped value: what validation would say of the rest of it is
    // the removal's doing, not the file's.
    assert!(
        !out.stderr.contains("would check nothing"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.ends_with("has 4 problems\n"), "{}", out.stderr);
}

#[test]
fn legacy_and_fixed_offset_zones_are_refused_with_the_city_zone() {
    for (zone, location_hint) in [
        ("EST", "write `America/New_York`"),
        ("PST8PDT", "write `America/Los_Angeles`"),
        ("Etc/GMT+5", "UTC-05:00 all year"),
        ("Eastern", "write `America/New_York`"),
        ("PST", "write `America/Los_Angeles`"),
    ] {
        let out = validate(&good_with("America/Los_Angeles", zone));
        assert_eq!(out.code, 2, "{zone}: {}", out.stderr);
        assert!(
            out.stderr.contains("shipgate.yml:5:13: windows.timezone: "),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(location_hint), "{zone}: {}", out.stderr);
        assert!(!out.stderr.contains("US/"), "{zone}: {}", out.stderr);
    }
}

#[test]
fn a_backward_link_is_valid_with_a_warning_naming_the_current_zone() {
    for (zone, canonical) in [
        ("US/Eastern", "America/New_York"),
        ("Asia/Calcutta", "Asia/Kolkata"),
    ] {
        let out = validate(&good_with("America/Los_Angeles", zone));
        assert_eq!(out.code, 0, "{zone}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "shipgate.yml:5:13: windows.timezone: `{zone}` is an old name kept for compatibility: it is `{canonical}`; write `{canonical}`"
            )),
            "{zone}: {}",
            out.stderr
        );
    }
}

const TUESDAY_10_PT: &str = "2026-11-24T10:00:00-08:00";

fn explain(text: &str, at: &str) -> Run {
    let (_dir, path) = temp_config(text);
    run(with_config(&path).args(["config", "explain", "--at", at]))
}

#[test]
fn defaults_wait_for_ci_and_derive_the_runway_from_the_deploy() {
    let out = explain(GOOD, "2026-11-23T00:00:00-08:00");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("wait up to 20m for pending checks"),
        "{}",
        out.stdout
    );
    // deploy_timeout 15m + the health deadline (default 5m).
    assert!(
        out.stdout.contains(
            "runway: refuse when the window closes or a deny starts within 20m (derived: deploy_timeout 15m + health deadline 5m)"
        ),
        "{}",
        out.stdout
    );
    let watched = good_with(
        "    app: demo\n",
        "    app: demo\n    deploy_timeout: 10m\n    health: { deadline: 3m }\n    watch:\n      duration: 30m\n      rules:\n        - p95: {max: 2s}\n",
    );
    let out = explain(&watched, "2026-11-23T00:00:00-08:00");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "within 43m (derived: deploy_timeout 10m + health deadline 3m + watch duration 30m)"
        ),
        "{}",
        out.stdout
    );
    let set = explain(
        &good_with("  allow:", "  runway: 0s\n  allow:"),
        "2026-11-23T00:00:00-08:00",
    );
    assert!(
        set.stdout.contains("runway: none (set by `runway`)"),
        "{}",
        set.stdout
    );
}

#[test]
fn the_strategy_is_passed_only_when_the_config_sets_one() {
    let plan = |text: &str| {
        let (_dir, path) = temp_config(text);
        run(with_config(&path).args([
            "plan",
            "-e",
            "staging",
            "--offline",
            "--at",
            TUESDAY_10_PT,
            "--format",
            "json",
        ]))
    };
    let out = plan(GOOD);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let command = decision["plan"]["deploy_command"]
        .as_array()
        .expect("argv")
        .clone();
    assert!(!command.iter().any(|a| a == "--strategy"), "{command:?}");
    assert!(
        decision["plan"]["strategy"]
            .as_str()
            .unwrap_or_default()
            .contains("fly.toml's [deploy] strategy"),
        "{}",
        out.stdout
    );
    let out = plan(&good_with(
        "    app: demo-staging\n",
        "    app: demo-staging\n    strategy: canary\n",
    ));
    let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let command: Vec<&str> = decision["plan"]["deploy_command"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let at = command
        .iter()
        .position(|a| *a == "--strategy")
        .expect("--strategy");
    assert_eq!(command[at + 1], "canary");
}

#[test]
fn deploy_args_are_appended_to_the_fly_command_as_written() {
    let text = good_with(
        "    app: demo-staging\n",
        "    app: demo-staging\n    deploy:\n      args: [--build-arg, \"GREETING=hello world\", --wait-timeout, 10m, \"--build-secret=NPM_TOKEN=npm\"]\n",
    );
    let (_dir, path) = temp_config(&text);
    let out = run(with_config(&path).args([
        "plan",
        "-e",
        "staging",
        "--offline",
        "--at",
        TUESDAY_10_PT,
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let decision: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let command: Vec<&str> = decision["plan"]["deploy_command"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(
        command[command.len() - 5..],
        [
            "--build-arg",
            "GREETING=hello world",
            "--wait-timeout",
            "10m",
            "--build-secret=NPM_TOKEN=npm"
        ]
    );
    let text_plan =
        run(with_config(&path).args(["plan", "-e", "staging", "--offline", "--at", TUESDAY_10_PT]));
    assert!(
        text_plan
            .stdout
            .contains("--yes --build-arg 'GREETING=hello world' --wait-timeout 10m"),
        "{}",
        text_plan.stdout
    );
}

#[test]
fn deploy_args_refuse_the_flags_shipgate_owns() {
    for (arg, flag, owner) in [
        ("--app", "--app", "environments.<name>.app"),
        ("--app=other", "--app", "environments.<name>.app"),
        ("-a", "--app", "environments.<name>.app"),
        ("-aother", "--app", "environments.<name>.app"),
        ("-c", "--config", "fly_config"),
        ("--config=fly.prod.toml", "--config", "fly_config"),
        ("--image", "--image", "deploy --image"),
        ("-i", "--image", "deploy --image"),
        (
            "--strategy=canary",
            "--strategy",
            "environments.<name>.strategy",
        ),
        ("--access-token", "--access-token", "FLY_API_TOKEN"),
        ("--detach", "--detach", "before the machines are healthy"),
    ] {
        let text = good_with(
            "    app: demo-staging\n",
            &format!(
                "    app: demo-staging\n    deploy:\n      args: [--build-arg, A=1, \"{arg}\"]\n"
            ),
        );
        let out = validate(&text);
        assert_eq!(out.code, 2, "{arg}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "shipgate.yml:13:32: environments.staging.deploy.args[2]: `{arg}` is a flag shipgate owns: `{flag}` is"
            )) && out.stderr.contains(owner),
            "{arg}: {}",
            out.stderr
        );
    }
    let many = format!("[{}]", vec!["--no-cache"; 65].join(", "));
    let out = validate(&good_with(
        "    app: demo-staging\n",
        &format!("    app: demo-staging\n    deploy:\n      args: {many}\n"),
    ));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("65 arguments; at most 64"),
        "{}",
        out.stderr
    );
}

#[test]
fn floating_days_close_every_year_and_explain_shows_the_coming_dates() {
    let text = good_with(
        "      hours: \"09:00-17:00\"\n",
        "      hours: \"09:00-17:00\"\n  deny:\n    - { name: Peak, from: black-friday, to: cyber-monday }\n  extra_holidays: [thanksgiving, easter-2, 2026-12-24]\n",
    );
    let out = explain(&text, "2026-11-01T00:00:00-08:00");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        "denied: every year from black-friday to cyber-monday (whole local days, inclusive; next 2026-11-27 to 2026-11-30) [Peak]",
        "closed every year: thanksgiving (next 2026-11-26), easter-2 (next 2027-03-26)",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.stdout);
    }
    // After this year's Cyber Monday, the coming one is next year's.
    let out = explain(&text, "2026-12-05T00:00:00-08:00");
    assert!(
        out.stdout.contains("next 2027-11-26 to 2027-11-29"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_bad_floating_day_lists_the_known_names() {
    for (value, message, hint) in [
        (
            "blackfriday",
            "`blackfriday` is not a known day",
            "did you mean `black-friday`?",
        ),
        (
            "thanksgiving+40",
            "an offset of 40 days; at most 31",
            "`thanksgiving+1`",
        ),
        ("4th thr nov", "`thr` is not a weekday", "`4th thu nov`"),
    ] {
        let out = validate(&good_with(
            "      hours: \"09:00-17:00\"\n",
            &format!("      hours: \"09:00-17:00\"\n  extra_holidays: [\"{value}\"]\n"),
        ));
        assert_eq!(out.code, 2, "{value}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "shipgate.yml:9:20: windows.extra_holidays[0]: {message}"
            )),
            "{value}: {}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("`thanksgiving`, `black-friday`, `cyber-monday`, `easter`"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(hint), "{value}: {}", out.stderr);
    }
    let out = validate(&good_with(
        "      hours: \"09:00-17:00\"\n",
        "      hours: \"09:00-17:00\"\n  deny:\n    - { from: black-friday, to: 2026-11-30 }\n",
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("a range between a day that moves every year and a fixed date"),
        "{}",
        out.stderr
    );
}

/// Without `strategy:` no `--strategy` is passed, so fly.toml's `[deploy] strategy` is the one
/// flyctl uses: it is held against the same fly.toml, and a rollback still passes `immediate`.
#[test]
fn without_a_configured_strategy_the_fly_toml_strategy_is_checked() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join(".github")).expect("mkdir");
    std::fs::write(
        dir.path().join(".github/shipgate.yml"),
        "version: 1\nenvironments:\n  production:\n    app: demo\n",
    )
    .expect("write config");
    let fly_toml = format!("{WITH_MOUNTS}\n[deploy]\nstrategy = 'canary'\n");
    std::fs::write(dir.path().join("fly.toml"), fly_toml).expect("write fly.toml");
    let out = run(shipgate()
        .current_dir(dir.path())
        .args(["config", "validate"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("strategy `canary`, from fly.toml's [deploy] strategy cannot deploy an app with volume mounts"),
        "{}",
        out.stderr
    );
    std::fs::write(dir.path().join("fly.toml"), WITH_MOUNTS).expect("write fly.toml");
    let out = run(shipgate().current_dir(dir.path()).args([
        "plan",
        "--environment",
        "production",
        "--offline",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("--config fly.toml --remote-only --yes (timeout 15m; strategy from fly.toml's [deploy] strategy"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--strategy immediate --remote-only --yes --image PREVIOUS_IMAGE"),
        "{}",
        out.stdout
    );
}
