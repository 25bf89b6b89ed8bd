//! Benchmark: a gate over 1,000 check runs and 300 commit statuses against the fake GitHub with
//! 20 ms of latency per request. Prints the requests made (and how many were free 304s) against
//! the pagination floor, the wall time, and the shipgate process's peak memory, next to what
//! re-fetching everything on every poll would have cost. Then fail fast at the GitHub layer: how
//! many requests `gather::check_runs_until` makes when a required check fails on page 3 of 10.
//!
//! Run: `cargo bench --bench github_gate`

mod common;
#[path = "../tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::process::Command;
use std::time::Duration;

use shipgate::github::client::{Client, RetryPolicy};
use shipgate::github::gather::{self, Repo};
use shipgate::secret::Secret;
use support::fake_github::*;

const REPO: &str = "hotdash-dev/hotdash";
const SHA: &str = "3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3";

fn main() {
    let fake = FakeGitHub::start();
    fake.set_latency(Duration::from_millis(20));
    fake.set_ref(REPO, "main", SHA);
    fake.add_check_runs(REPO, SHA, bulk_check_runs(10_000, 1000));
    fake.add_check_runs(
        REPO,
        SHA,
        [check_run(20_000, "slow-check", "in_progress", None)],
    );
    fake.add_statuses(
        REPO,
        SHA,
        (0..300).map(|i| commit_status(30_000 + i, &format!("ci/status-{i:03}"), "success")),
    );
    fake.repo(REPO, |repo| {
        repo.set_rules(
            "main",
            vec![required_status_checks_rule(
                REPO,
                7,
                &[
                    ("slow-check", None),
                    ("check 0500", None),
                    ("ci/status-150", None),
                ],
                true,
            )],
        );
    });
    let pages_per_poll = 11 + 3; // ceil(1001/100) check-run pages + ceil(300/100) status pages
    let fixed_reads = 3; // the ref, the branch, its rules
    let polls_before_done = 4;
    fake.on_poll("/check-runs", (polls_before_done - 1) * 11 + 1, |state| {
        state
            .repo(REPO)
            .set_check_run(20_000, "completed", Some("success"));
    });

    let dir = std::env::temp_dir().join(format!("shipgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("shipgate.yml");
    std::fs::write(&config, "version: 1\nchecks: { from_branch_rules: true, wait: 2m, interval: 1s }\nenvironments:\n  production: { app: demo }\n").expect("config");

    let finished = common::run_measured(
        Command::new(env!("CARGO_BIN_EXE_shipgate"))
            .arg("--config")
            .arg(&config)
            .args([
                "--repo", REPO, "checks", "--ref", "main", "--format", "json",
            ])
            .env("GITHUB_API_URL", fake.url())
            .env("GITHUB_TOKEN", "ghs_bench")
            .env_remove("GITHUB_REPOSITORY"),
    );
    let (status, wall, peak) = (finished.status, finished.wall, finished.peak_kib);
    let decision: serde_json::Value =
        serde_json::from_str(&finished.stdout).unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);

    let requests = fake.requests();
    let lists: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/check-runs") || r.path.ends_with("/status"))
        .collect();
    let not_modified = lists.iter().filter(|r| r.status == 304).count();
    let fixed = requests.len() - lists.len();
    let polls = lists.len() / pages_per_poll as usize;
    let naive = polls * pages_per_poll as usize + fixed;
    println!(
        "shipgate checks: exit {}: {}",
        status.code().unwrap_or(-1),
        decision["summary"].as_str().unwrap_or("no decision")
    );
    println!("  polls: {polls} (the required check completes on poll {polls_before_done})");
    let floor = polls * pages_per_poll as usize + fixed_reads;
    println!("  requests: {} = {} list pages over {polls} polls + {fixed} read once (ref, branch, rules)", requests.len(), lists.len());
    println!(
        "  pagination floor: {floor} = {pages_per_poll} per poll (11 check-run pages + 3 status pages) x {polls} + {fixed_reads}; {}",
        if requests.len() == floor { "at the floor" } else { "ABOVE the floor" }
    );
    println!(
        "  answered 304 Not Modified (free): {not_modified}; counted against the rate limit: {}",
        requests.len() - not_modified
    );
    println!(
        "  re-fetching everything each poll: {naive} requests, all counted against the rate limit"
    );
    // Each poll starts with page 1 of the check runs: the period is the time between them.
    let poll_starts: Vec<std::time::Instant> = requests
        .iter()
        .filter(|r| {
            r.path.ends_with("/check-runs") && !r.query.split('&').any(|kv| kv.starts_with("page="))
        })
        .map(|r| r.received)
        .collect();
    let periods: Vec<String> = poll_starts
        .windows(2)
        .map(|pair| format!("{} ms", (pair[1] - pair[0]).as_millis()))
        .collect();
    println!(
        "  poll period (page 1 to page 1, interval 1 s): {}",
        periods.join(", ")
    );
    println!(
        "  wall time: {:.2} s (20 ms latency per request, 1 s poll interval)",
        wall.as_secs_f64()
    );
    println!("  peak memory (VmHWM): {:.1} MiB", peak as f64 / 1024.0);
    assert!(
        status.success(),
        "the gate should pass once the slow check completes"
    );
    assert_eq!(requests.len(), floor, "requests above the pagination floor");

    fail_fast();
}

/// `gather::check_runs_until` over 1,000 check runs (10 pages, 20 ms latency), a required check
/// failing on page 3: the requests it makes, how many went out after the deciding page, and the
/// same read without a stop predicate.
fn fail_fast() {
    const DECIDING_PAGE: u32 = 3;
    let fake = FakeGitHub::start();
    fake.set_latency(Duration::from_millis(20));
    fake.set_ref(REPO, "main", SHA);
    // Newest first: page 3 holds ids 10799..=10700.
    fake.add_check_runs(REPO, SHA, bulk_check_runs(10_000, 1000));
    fake.repo(REPO, |repo| {
        repo.set_check_run(10_750, "completed", Some("failure"));
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let repo = Repo::parse(REPO).expect("owner/name");
    let token = Secret::new("ghs_bench").expect("a token");
    let client =
        || Client::new(fake.url(), Some(&token), RetryPolicy::default()).expect("a client");
    let started = std::time::Instant::now();
    let (stopped, requests) = runtime.block_on(async {
        let client = client();
        let read = gather::check_runs_until(&client, &repo, SHA, |runs| {
            runs.iter().any(|r| {
                r.conclusion
                    .as_ref()
                    .is_some_and(|c| c.as_str() == "failure")
            })
        })
        .await
        .expect("check runs read");
        (read, client.stats().requests)
    });
    let wall = started.elapsed();
    let started = std::time::Instant::now();
    let (all, all_requests) = runtime.block_on(async {
        let client = client();
        let (runs, _) = gather::check_runs(&client, &repo, SHA)
            .await
            .expect("check runs read");
        (runs, client.stats().requests)
    });
    let all_wall = started.elapsed();
    assert!(stopped.stopped);
    let after = requests.saturating_sub(DECIDING_PAGE);
    println!("fail fast (gather::check_runs_until, 1,000 check runs, a required one failing on page {DECIDING_PAGE} of 10, 20 ms latency):");
    println!(
        "  stopped after page {DECIDING_PAGE}: {requests} requests ({after} issued after the deciding page), {} runs read, {:.0} ms",
        stopped.runs.len(),
        wall.as_secs_f64() * 1000.0
    );
    println!(
        "  every page (gather::check_runs): {all_requests} requests, {} runs read, {:.0} ms",
        all.len(),
        all_wall.as_secs_f64() * 1000.0
    );
    assert!(after <= 1, "at most one request after the deciding page");
}
