//! `shipgate report metrics`: the DORA measures over a fake GitHub's Deployments history, the
//! request count (one page of Deployments read, older pages never asked; a second run with the
//! cache is all 304s), the three formats, targets met and missed, and bad input.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::common::*;
use crate::support::fake_github::*;

const REPO: &str = "hotdash-dev/hotdash";
const TOKEN: &str = "ghs_testtoken0123456789";
/// The end of the period measured (`--at`); the period is the 28 days before it.
const AT: &str = "2026-05-01T00:00:00Z";

const CONFIG: &str = "version: 1
checks:
  required: [ci]
environments:
  production:
    app: demo
    delivery_targets:
      success_rate: 80%
      change_failure_rate: 5%
      time_to_restore: 30m
      lead_time: 2h
      deploys_per_week: 3
";

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(AT)
        .expect("time")
        .with_timezone(&Utc)
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn sha(n: u64) -> String {
    format!("{n:0>40x}")
}

/// 4 weeks: 12 deploys, 3 a week (days 1, 3 and 5 at 10:00); deploys 4 and 9 fail and are
/// rolled back (restored after 20 and 30 minutes). 9 of the 10 deployed commits have a merged
/// pull request: 5 merged 1h before their deploy, 4 merged 3h before; the 10th has none. Before
/// the period, 230 older deploys (3 pages of 100 in all), which are never read.
fn history(fake: &FakeGitHub) {
    let start = at() - Duration::days(28);
    fake.repo(REPO, |repo| {
        for old in 1..=230u64 {
            let created = start - Duration::hours(old as i64);
            // Older means a lower id: GitHub lists newest first.
            repo.add_deployment(deployment(
                231 - old,
                &sha(900 + old),
                "production",
                "deploy",
                &iso(created),
            ));
        }
        let mut status_id = 50_000;
        let mut next_status = || {
            status_id += 1;
            status_id
        };
        let mut lead_hours = [1, 1, 1, 1, 1, 3, 3, 3, 3].into_iter();
        for i in 0..12u64 {
            let week = (i / 3) as i64;
            let day = [1, 3, 5][(i % 3) as usize];
            let created = start + Duration::days(week * 7 + day) + Duration::hours(10);
            let id = 1000 + i * 10;
            let commit = sha(i + 1);
            repo.add_deployment(deployment(
                id,
                &commit,
                "production",
                "deploy",
                &iso(created),
            ));
            repo.add_deployment_status(
                id,
                deployment_status(next_status(), "in_progress", &iso(created)),
            );
            let finished = created + Duration::minutes(10);
            if i == 3 || i == 8 {
                repo.add_deployment_status(
                    id,
                    deployment_status(next_status(), "failure", &iso(finished)),
                );
                let rollback = id + 1;
                let back = created + Duration::minutes(12);
                repo.add_deployment(deployment(
                    rollback,
                    &sha(i),
                    "production",
                    "deploy:rollback",
                    &iso(back),
                ));
                repo.add_deployment_status(
                    rollback,
                    deployment_status(next_status(), "in_progress", &iso(back)),
                );
                let healthy = finished + Duration::minutes(if i == 3 { 20 } else { 30 });
                repo.add_deployment_status(
                    rollback,
                    deployment_status(next_status(), "success", &iso(healthy)),
                );
            } else {
                repo.add_deployment_status(
                    id,
                    deployment_status(next_status(), "success", &iso(finished)),
                );
                if let Some(hours) = lead_hours.next() {
                    let merged = finished - Duration::hours(hours);
                    repo.add_pull(merged_pull_request(REPO, 100 + i, &commit, &iso(merged)));
                }
            }
        }
    });
}

fn metrics(fake: &FakeGitHub, config: &std::path::Path, extra: &[&str]) -> Run {
    run(with_config(config)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", REPO)
        .args([
            "report",
            "metrics",
            "--environment",
            "production",
            "--since",
            "28d",
            "--at",
            AT,
        ])
        .args(extra))
}

fn measure<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["measures"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["id"] == id))
        .unwrap_or_else(|| panic!("no measure {id} in {json}"))
}

#[test]
fn a_month_of_deploys_gives_the_four_measures_against_the_targets() {
    let fake = FakeGitHub::start();
    history(&fake);
    let (_dir, config) = temp_config(CONFIG);
    let out = metrics(&fake, &config, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let json: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(json["schema"], "shipgate.metrics/v1");
    assert_eq!(json["environment"], "production");
    assert_eq!(json["since"], "2026-04-03T00:00:00Z");
    let counts = &json["counts"];
    assert_eq!(
        [
            &counts["deploys"],
            &counts["succeeded"],
            &counts["failed"],
            &counts["rolled_back"],
            &counts["change_failures"],
            &counts["rollbacks"]
        ],
        [12, 10, 2, 2, 2, 2]
    );
    assert_eq!(json["deploys_per_week"], 2.5);
    let weeks: Vec<u64> = json["weeks"]
        .as_array()
        .expect("weeks")
        .iter()
        .map(|w| w["deploys"].as_u64().expect("n"))
        .collect();
    assert_eq!(weeks, [3, 2, 2, 3]);
    assert_eq!(json["lead_time"]["median"], 3600);
    assert_eq!(json["lead_time"]["p90"], 3 * 3600);
    assert_eq!(json["lead_time"]["changes"], 9);
    assert_eq!(json["lead_time"]["without_merged_pr"], 1);
    assert_eq!(json["time_to_restore"]["median"], 25 * 60);
    assert_eq!(json["time_to_restore"]["max"], 30 * 60);
    let rate = json["success_rate"].as_f64().expect("rate");
    assert!((rate - 10.0 / 12.0).abs() < 1e-9, "{rate}");
    let cfr = json["change_failure_rate"].as_f64().expect("cfr");
    assert!((cfr - 2.0 / 12.0).abs() < 1e-9, "{cfr}");
    for (id, status) in [
        ("deployment_frequency", "missed"),
        ("lead_time", "met"),
        ("change_failure_rate", "missed"),
        ("time_to_restore", "met"),
        ("success_rate", "met"),
    ] {
        assert_eq!(measure(&json, id)["status"], status, "{id}");
    }
    // One page of Deployments (its oldest is before the period: pages 2 and 3 never asked), 14
    // statuses lists (12 deploys, 2 rollbacks), 10 deployed commits' pull requests.
    assert_eq!(fake.count("GET", "/deployments"), 1 + 14);
    let list_pages: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/deployments"))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(list_pages, ["environment=production&per_page=100"]);
    assert_eq!(fake.count("GET", "/pulls"), 10);
    assert_eq!(json["requests"], 25);
    assert_eq!(json["not_modified"], 0);
}

#[test]
fn a_second_run_with_the_cache_is_all_304s_and_sees_what_changed() {
    let fake = FakeGitHub::start();
    history(&fake);
    let (dir, config) = temp_config(CONFIG);
    let cache = dir.path().join("etags.json");
    let cache = cache.to_str().expect("utf-8 path");
    let first = metrics(&fake, &config, &["--format", "json", "--cache", cache]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let rate_limit_after_first = fake.rate_limit_remaining();
    let second = metrics(&fake, &config, &["--format", "json", "--cache", cache]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let (a, b): (Value, Value) = (
        serde_json::from_str(&first.stdout).expect("JSON"),
        serde_json::from_str(&second.stdout).expect("JSON"),
    );
    assert_eq!(b["requests"], 25);
    assert_eq!(b["not_modified"], 25);
    assert_eq!(
        fake.rate_limit_remaining(),
        rate_limit_after_first,
        "304s cost no rate limit"
    );
    assert_eq!(
        a["measures"], b["measures"],
        "the same answer from the saved pages"
    );
    // A new successful deploy: the list page and its statuses are read again, the rest are 304s.
    fake.repo(REPO, |repo| {
        let created = iso(at() - Duration::hours(2));
        repo.add_deployment(deployment(2000, &sha(77), "production", "deploy", &created));
        repo.add_deployment_status(2000, deployment_status(60_000, "success", &created));
    });
    let third = metrics(&fake, &config, &["--format", "json", "--cache", cache]);
    let c: Value = serde_json::from_str(&third.stdout).expect("JSON");
    assert_eq!(c["counts"]["succeeded"], 11);
    assert_eq!(c["requests"], 27);
    assert_eq!(c["not_modified"], 24);
    assert_eq!(c["lead_time"]["without_merged_pr"], 2);
}

#[test]
fn text_and_markdown_show_each_measure_met_or_missed() {
    let fake = FakeGitHub::start();
    history(&fake);
    let (_dir, config) = temp_config(CONFIG);
    let text = metrics(&fake, &config, &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    for line in [
        "Delivery metrics for production (2026-04-03 00:00:00 UTC to 2026-05-01 00:00:00 UTC)",
        "12 deploys: 10 succeeded, 2 failed, 2 rolled back, 0 unfinished; 2 rollback records",
        "2.5/week  target ≥ 3/week: MISSED",
        "1h (p90 3h)  target ≤ 2h: met",
        "16.7%  target ≤ 5%: MISSED",
        "25m (max 30m)  target ≤ 30m: met",
        "83.3%  target ≥ 80%: met",
        "Deploys per week: █▆▆█  3 2 2 3",
        "note: lead time: 9 changes measured; left out: 1 with no merged pull request, 0 deployed before the merge",
        "GitHub requests: 25 (0 answered 304 Not Modified)",
    ] {
        assert!(text.stdout.contains(line), "{line:?} in\n{}", text.stdout);
    }
    let md = metrics(&fake, &config, &["--format", "markdown"]);
    assert_eq!(md.code, 0, "{}", md.stderr);
    for part in [
        "## Delivery metrics: production",
        "| Deployment frequency | 2.5/week | ≥ 3/week | ❌ missed |",
        "| Time to restore (median) | 25m (max 30m) | ≤ 30m | ✅ met |",
        "```mermaid\nxychart-beta\n",
        "    x-axis [\"Apr 03\", \"Apr 10\", \"Apr 17\", \"Apr 24\"]",
        "    bar [3, 2, 2, 3]",
        "GitHub requests: 25",
    ] {
        assert!(md.stdout.contains(part), "{part:?} in\n{}", md.stdout);
    }
}

#[test]
fn bad_input_is_exit_2_and_github_down_is_exit_5() {
    let fake = FakeGitHub::start();
    history(&fake);
    let (_dir, config) = temp_config(CONFIG);
    let out = run(with_config(&config)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_REPOSITORY", REPO)
        .args(["report", "metrics", "--environment", "prodution"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown environment `prodution`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `production`?"),
        "{}",
        out.stderr
    );
    for (since, says) in [
        ("30", "has no unit"),
        ("0d", "longer than 0"),
        ("400d", "longer than a year"),
        ("3x", "not a unit"),
    ] {
        let out = run(with_config(&config)
            .env("GITHUB_API_URL", fake.url())
            .env("GITHUB_REPOSITORY", REPO)
            .args(["report", "metrics", "-e", "production", "--since", since]));
        assert_eq!(out.code, 2, "{since}: {}", out.stderr);
        assert!(
            out.stderr.contains(says) && out.stderr.contains("--since"),
            "{since}: {}",
            out.stderr
        );
    }
    let out = run(with_config(&config).args(["report"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("report metrics"), "{}", out.stderr);
    assert_eq!(
        fake.count("*", "/"),
        0,
        "nothing asked of GitHub on bad input"
    );

    fake.fail_next("/deployments", Fault::Status(503), 10);
    let out = metrics(&fake, &config, &[]);
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("error: GitHub answered 503"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_targets_are_located_and_hinted() {
    let cases = [
        (
            "success_rate: 80%",
            "success_rate: 80",
            "8:21",
            "`80` is not a percentage: it has no `%`",
            "e.g. `95%`",
        ),
        (
            "success_rate: 80%",
            "success_rate: 180%",
            "8:21",
            "`180%` is not between 0% and 100%",
            "between 0% and 100%",
        ),
        (
            "time_to_restore: 30m",
            "time_to_restore: 30",
            "10:24",
            "delivery_targets.time_to_restore: bad duration: `30` has no unit",
            "`30m`",
        ),
        (
            "lead_time: 2h",
            "lead_time: 0s",
            "11:18",
            "lead_time: must be more than 0",
            "`2h`",
        ),
        (
            "deploys_per_week: 3",
            "deploys_per_week: weekly",
            "12:25",
            "`weekly` is not a positive number of deploys",
            "e.g. `1`",
        ),
        (
            "deploys_per_week: 3",
            "deploy_per_week: 3",
            "12:7",
            "unknown field `deploy_per_week`",
            "did you mean `deploys_per_week`?",
        ),
    ];
    for (from, to, location, message, hint) in cases {
        let (_dir, path) = temp_config(&CONFIG.replacen(from, to, 1));
        let out = run(with_config(&path).args(["config", "validate"]));
        assert_eq!(out.code, 2, "{to}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("shipgate.yml:{location}: ")),
            "{to}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(message), "{to}: {}", out.stderr);
        assert!(out.stderr.contains(hint), "{to}: {}", out.stderr);
    }
}

/// The README's figure: `cargo test --test it delivery::figure_1000 -- --ignored --nocapture`.
/// Prints requests and wall time; asserts only the request counts.
#[test]
#[ignore = "a benchmark figure, run by hand"]
fn figure_1000_deployments() {
    let fake = FakeGitHub::start();
    let start = at() - Duration::days(30);
    fake.repo(REPO, |repo| {
        for i in 0..1000u64 {
            let created = start + Duration::minutes(40 * i as i64 + 10);
            let commit = sha(i + 1);
            let id = 10_000 + i;
            repo.add_deployment(deployment(
                id,
                &commit,
                "production",
                "deploy",
                &iso(created),
            ));
            let state = if i % 25 == 0 { "failure" } else { "success" };
            repo.add_deployment_status(
                id,
                deployment_status(100_000 + 2 * i, "in_progress", &iso(created)),
            );
            repo.add_deployment_status(
                id,
                deployment_status(100_001 + 2 * i, state, &iso(created + Duration::minutes(5))),
            );
            repo.add_pull(merged_pull_request(
                REPO,
                1 + i,
                &commit,
                &iso(created - Duration::hours(1)),
            ));
        }
    });
    let (dir, config) = temp_config(CONFIG);
    let cache = dir.path().join("etags.json");
    let cache = cache.to_str().expect("utf-8 path");
    for run_number in 1..=2 {
        let started = std::time::Instant::now();
        let out = run(with_config(&config)
            .env("GITHUB_API_URL", fake.url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", REPO)
            .args([
                "report",
                "metrics",
                "-e",
                "production",
                "--since",
                "30d",
                "--at",
                AT,
            ])
            .args(["--format", "json", "--cache", cache]));
        let elapsed = started.elapsed();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let json: Value = serde_json::from_str(&out.stdout).expect("JSON");
        println!(
            "run {run_number}: {} deployments, {} requests ({} 304), {:.2}s",
            json["counts"]["deploys"],
            json["requests"],
            json["not_modified"],
            elapsed.as_secs_f64()
        );
        // 10 pages of Deployments, 1,000 statuses lists, 960 commits' pull requests (40 deploys
        // failed). On the second run every answer is a 304, and the full last page of
        // Deployments is read again in full: a 304 there could hide a page added after it.
        let (requests, not_modified) = if run_number == 1 {
            (1970, 0)
        } else {
            (1971, 1970)
        };
        assert_eq!(
            (json["requests"].as_u64(), json["not_modified"].as_u64()),
            (Some(requests), Some(not_modified))
        );
    }
}
