//! Benchmark: shipgate's own overhead across a whole `deploy`, with the fake GitHub, the fake
//! flyctl and a health app on loopback.
//!
//! - overhead = the deploy's wall time minus the time fly itself ran (every fly process logs its
//!   start and end through `FAKE_FLY_TIMES`). The health gate is set to one round with no delay,
//!   so there is no health wait to subtract: the probes count as shipgate's own time.
//! - verdict to rollback = from the failed `fly deploy` exiting to the rollback's `fly deploy`
//!   starting (the deployment status write and the workflow dispatch happen in between), and
//!   shipgate's own figure (`rollback_started_after_ms`: verdict to the rollback's first action).
//! - peak memory = the shipgate process's VmHWM.
//!
//! Run: `cargo bench --bench deploy` (targets: overhead < 500 ms, verdict to rollback < 1 s,
//! peak memory < 30 MB).

mod common;
#[path = "../tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::fake_github::*;
use support::health_app::{Behaviour, HealthApp};

const REPO: &str = "hotdash-dev/hotdash";
const SHA: &str = "3e7a91c4b2d5f60718293a4b5c6d7e8f90a1b2c3";
const RUNS: usize = 10;

struct Measured {
    code: i32,
    wall: Duration,
    fly: Duration,
    /// The failed deploy's end to the rollback deploy's start, from fly's own log.
    verdict_to_rollback: Option<Duration>,
    decision: Value,
    peak_kib: u64,
}

/// `(start_ns, end_ns, command)` of every fly run.
fn fly_times(path: &Path) -> Vec<(u128, u128, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            Some((
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
                parts.next().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn run_once(fake: &FakeGitHub, app: &HealthApp, dir: &Path, behaviour: &str) -> Measured {
    let state = dir.join("state.json");
    let times = dir.join("times");
    let _ = std::fs::remove_file(&times);
    std::fs::write(
        &state,
        json!({"behaviour": behaviour, "version": 1, "releases": [{
            "ID": "rel_1", "Version": 1, "Stable": true, "Status": "complete",
            "CreatedAt": "2026-08-12T16:01:00Z", "ImageRef": "registry.fly.io/hotdash-production:deployment-OLD",
        }]})
        .to_string(),
    )
    .expect("fly state");
    let config = dir.join("shipgate.yml");
    std::fs::write(
        &config,
        format!(
            "version: 1
checks: {{ required: [build], from_branch_rules: false, wait: 0s }}
environments:
  production:
    app: hotdash-production
    fly_config: fly.toml
    url: {url}
    windows: false
    health:
      initial_delay: 0s
      consecutive_successes: 1
      failure_limit: 0
      machines: true
      endpoints:
        - path: /health
          status: [200]
          json: {{ \"/status\": \"healthy\" }}
    rollback:
      workflow: rollback-production.yml
      direct: true
",
            url = app.url()
        ),
    )
    .expect("config");
    let fly = support::fake_flyctl();
    let finished = common::run_measured(
        Command::new(env!("CARGO_BIN_EXE_shipgate"))
            .arg("--config")
            .arg(&config)
            .args([
                "--repo",
                REPO,
                "deploy",
                "--environment",
                "production",
                "--ref",
                "main",
                "--reason",
                "benchmark deploy",
                "--format",
                "json",
            ])
            .env_clear()
            .env("PATH", path_var())
            .env("GITHUB_API_URL", fake.url())
            .env("GITHUB_TOKEN", "ghs_bench")
            .env("FLY_API_TOKEN", "FlyV1 fm2_benchtoken")
            .env("SHIPGATE_FLY", &fly)
            .env("FAKE_FLY_STATE", &state)
            .env("FAKE_FLY_TIMES", &times),
    );
    let runs = fly_times(&times);
    let fly: u128 = runs.iter().map(|(start, end, _)| end - start).sum();
    let deploys: Vec<_> = runs.iter().filter(|(_, _, c)| c == "deploy").collect();
    let verdict_to_rollback = match deploys.as_slice() {
        [failed, rollback, ..] => Some(Duration::from_nanos(
            u64::try_from(rollback.0.saturating_sub(failed.1)).unwrap_or(u64::MAX),
        )),
        _ => None,
    };
    Measured {
        code: finished.status.code().unwrap_or(-1),
        wall: finished.wall,
        fly: Duration::from_nanos(u64::try_from(fly).unwrap_or(u64::MAX)),
        verdict_to_rollback,
        decision: serde_json::from_str(&finished.stdout).unwrap_or(Value::Null),
        peak_kib: finished.peak_kib,
    }
}

#[allow(clippy::disallowed_methods)] // the child's search path, not configuration
fn path_var() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

fn main() {
    let fake = FakeGitHub::start();
    fake.set_ref(REPO, "main", SHA);
    fake.add_check_runs(
        REPO,
        SHA,
        [check_run(100, "build", "completed", Some("success"))],
    );
    fake.set_dispatch_returns_run_details(true);
    let app = HealthApp::start();
    app.set("/health", Behaviour::Healthy);
    let dir = std::env::temp_dir().join(format!("shipgate-bench-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    for (name, behaviour, expected) in [
        ("healthy deploy", "ok", 0),
        // `fail_once`: the deploy fails, the rollback's redeploy succeeds.
        ("failed deploy, rolled back", "fail_once", 3),
    ] {
        let runs: Vec<Measured> = (0..RUNS)
            .map(|_| run_once(&fake, &app, &dir, behaviour))
            .collect();
        for run in &runs {
            assert_eq!(run.code, expected, "{name}: {}", run.decision);
        }
        let overhead: Vec<f64> = runs.iter().map(|r| ms(r.wall) - ms(r.fly)).collect();
        let wall: Vec<f64> = runs.iter().map(|r| ms(r.wall)).collect();
        let fly: Vec<f64> = runs.iter().map(|r| ms(r.fly)).collect();
        let peak: Vec<f64> = runs.iter().map(|r| r.peak_kib as f64 / 1024.0).collect();
        println!("{name} ({RUNS} runs, exit {expected}):");
        println!(
            "  wall {:.0} ms median; fly itself {:.0} ms; shipgate's overhead {:.0} ms median, {:.0} ms max (target < 500 ms)",
            median(wall),
            median(fly),
            median(overhead.clone()),
            max(&overhead)
        );
        if expected == 3 {
            let external: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.verdict_to_rollback.map(ms))
                .collect();
            let internal: Vec<f64> = runs
                .iter()
                .filter_map(|r| {
                    r.decision["report"]["incident"]["rollback_started_after_ms"].as_f64()
                })
                .collect();
            println!(
                "  failed fly exit -> rollback fly start {:.0} ms median, {:.0} ms max (status write + dispatch + spawn; target < 1 s)",
                median(external.clone()),
                max(&external)
            );
            println!(
                "  verdict -> rollback's first action (shipgate's own clock) {:.0} ms max",
                max(&internal)
            );
        }
        println!(
            "  peak memory (VmHWM) {:.1} MiB median, {:.1} MiB max (target < 30 MB)",
            median(peak.clone()),
            max(&peak)
        );
    }
    println!("  GitHub requests served: {}", fake.requests().len());
    let _ = std::fs::remove_dir_all(&dir);
}
